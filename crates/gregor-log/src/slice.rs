//! [`FileSlice`]: a byte range of a segment file, handed out by
//! [`Log::read_slices`] so a fetch response can send stored batches to the
//! socket straight from the page cache (`sendfile`) instead of copying them
//! through user space. Segment files only ever grow while a slice can see
//! them (appends land past its end), so the bytes a slice names stay what
//! they were when the log produced it; a segment deleted meanwhile stays
//! readable through the open handle, as in Kafka.
//!
//! [`Log::read_slices`]: crate::Log::read_slices

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::storage::SharedFile;

/// `len` bytes of a file from `position`.
#[derive(Clone)]
pub struct FileSlice {
    file: Arc<dyn SharedFile>,
    position: u64,
    len: usize,
}

impl FileSlice {
    pub(crate) fn new(file: Arc<dyn SharedFile>, position: u64, len: usize) -> FileSlice {
        FileSlice {
            file,
            position,
            len,
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The OS file descriptor to `sendfile` from; `None` for in-memory files.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.file.raw_fd()
    }

    /// Copies the bytes into memory (for callers that decode them, and
    /// connections that cannot send from a file).
    pub fn read(&self) -> io::Result<Bytes> {
        let mut buf = BytesMut::zeroed(self.len);
        let mut done = 0usize;
        while done < self.len {
            match self
                .file
                .read_at(self.position + done as u64, &mut buf[done..])
            {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "segment file ends before {} bytes at {}",
                            self.len, self.position
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(buf.freeze())
    }
}

impl fmt::Debug for FileSlice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSlice")
            .field("fd", &self.file.raw_fd())
            .field("position", &self.position)
            .field("len", &self.len)
            .finish()
    }
}
