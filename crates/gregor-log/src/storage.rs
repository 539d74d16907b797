//! The disk seam: a directory of named positional files. The log is
//! written against these two traits only, so the same code and the same
//! conformance suite run on real files ([`FileStorage`]) and in memory
//! ([`MemStorage`]).
//!
//! [`FileStorage`]: crate::FileStorage
//! [`MemStorage`]: crate::MemStorage

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// One file of a partition directory: positional reads, appends at the
/// end, truncation and fsync. Owned by one segment or index; reads may run
/// concurrently with each other but the `Log` mutex serializes writes.
pub trait SegmentFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `pos`; fewer only at end of file.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `data` at the current end of the file.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Writes `parts`, in order, at the current end of the file; one
    /// syscall where the storage can (`pwritev`).
    fn append_vectored(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        parts.iter().try_for_each(|p| self.append(p))
    }
    /// Current length in bytes, including unsynced appends.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Cuts the file to `len` bytes (never grows it).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&self) -> io::Result<()>;
    /// A handle on the same file that outlives the log's lock: the fsync
    /// of a rolled segment runs on another thread, and fetch responses send
    /// slices of segment files to the socket from it.
    fn shared(&self) -> Arc<dyn SharedFile>;

    /// Reads exactly `buf.len()` bytes at `pos`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut pos: u64, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(pos, buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "read past end of file",
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// What [`SegmentFile::shared`] hands out: positional reads and fsync,
/// safe to use while the log appends to the same file.
pub trait SharedFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `pos`; fewer only at end of file.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Makes everything written so far durable.
    fn sync(&self) -> io::Result<()>;
    /// The OS file descriptor, for `sendfile`; `None` for files that are
    /// not OS files (the in-memory storage).
    fn raw_fd(&self) -> Option<RawFd>;
}

/// A read-only view of a whole file as it was when mapped, holding no file
/// descriptor (a memory map for files on disk). The log only maps files it
/// no longer writes through any other handle (sealed index files).
pub trait MappedFile: Send + Sync {
    fn bytes(&self) -> &[u8];
}

/// A partition directory. Names are plain file names, never paths.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Opens an existing file for reading and appending.
    fn open(&self, name: &str) -> io::Result<Box<dyn SegmentFile>>;
    /// Maps an existing file read-only; the view keeps no descriptor open,
    /// so thousands of sealed index files cost no open files.
    fn map(&self, name: &str) -> io::Result<Arc<dyn MappedFile>>;
    /// Creates a file, truncating any existing one.
    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentFile>>;
    /// Names of all files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Makes creations, renames and removals durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// Removes the directory and everything in it.
    fn remove_all(&self) -> io::Result<()>;
}

/// Suffix of a small file being replaced; leftovers are removed at open.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Replaces `name` with `data` so that a crash leaves the old or the new
/// content, never a mix: write a temp file, fsync, rename, fsync the dir.
pub fn write_atomically(storage: &dyn Storage, name: &str, data: &[u8]) -> io::Result<()> {
    let temp = format!("{name}{TEMP_SUFFIX}");
    let mut file = storage.create(&temp)?;
    file.append(data)?;
    file.sync()?;
    drop(file);
    storage.rename(&temp, name)?;
    storage.sync_dir()
}

/// Reads a whole small file, refusing one larger than `max_bytes`.
pub fn read_small_file(storage: &dyn Storage, name: &str, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = storage.open(name)?;
    if file.len() > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{name} is {} bytes, more than the {max_bytes} allowed",
                file.len()
            ),
        ));
    }
    let mut data = vec![0u8; file.len() as usize];
    file.read_exact_at(0, &mut data)?;
    Ok(data)
}
