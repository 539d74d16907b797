//! Sequential walk over the batches of one segment file, reading ahead in
//! blocks so that walking many small batches costs few reads.

use std::io;

use gregor_protocol::batch::{validate_stored_batch, BatchError, BatchHeader, BATCH_HEADER_BYTES};

use crate::storage::SegmentFile;

/// Read-ahead for header-only walks (index lookups, producer-state replay).
pub(crate) const HEADER_SCAN_BLOCK_BYTES: usize = 16 << 10;
/// Read-ahead for the fetch path's walk to its end boundary, which the
/// offset index has already brought within about one index interval.
pub(crate) const SLICE_SCAN_BLOCK_BYTES: usize = 4 << 10;
/// Read-ahead for validating walks (recovery), which read every byte.
pub(crate) const RECOVERY_SCAN_BLOCK_BYTES: usize = 1 << 20;

/// What the walk found at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scanned {
    /// A batch starting at `position`; the walk moved past it.
    Batch { position: u64, header: BatchHeader },
    /// Clean end of file.
    End,
    /// The bytes at `position` are not a whole (valid) batch: a torn or
    /// corrupt tail. The walk does not move.
    Invalid { position: u64, error: BatchError },
}

/// Borrowing walker over a segment's log file, from a known batch boundary.
pub(crate) struct BatchScanner<'a> {
    file: &'a dyn SegmentFile,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    block_bytes: usize,
}

impl<'a> BatchScanner<'a> {
    pub fn new(file: &'a dyn SegmentFile, start: u64, block_bytes: usize) -> BatchScanner<'a> {
        BatchScanner {
            file,
            pos: start,
            end: file.len(),
            buf: Vec::new(),
            buf_start: 0,
            block_bytes,
        }
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes `[pos, pos + len)`, which the caller knows lie before `end`.
    fn window(&mut self, pos: u64, len: usize) -> io::Result<&[u8]> {
        let buffered_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || pos + len as u64 > buffered_end {
            let want = (len.max(self.block_bytes) as u64).min(self.end - pos) as usize;
            self.buf.resize(want, 0);
            self.file.read_exact_at(pos, &mut self.buf)?;
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from..from + len])
    }

    /// Frames the next batch from its header only.
    pub fn next_header(&mut self) -> io::Result<Scanned> {
        self.next(false)
    }

    /// Frames the next batch and validates all of it (CRC, records).
    pub fn next_validated(&mut self) -> io::Result<Scanned> {
        self.next(true)
    }

    fn next(&mut self, validate: bool) -> io::Result<Scanned> {
        let position = self.pos;
        if position >= self.end {
            return Ok(Scanned::End);
        }
        let available = self.end - position;
        let head_len = available.min(BATCH_HEADER_BYTES as u64) as usize;
        let header = match BatchHeader::parse(self.window(position, head_len)?) {
            Ok(h) => h,
            Err(error) => return Ok(Scanned::Invalid { position, error }),
        };
        let total = header.total_bytes();
        if total as u64 > available {
            let error = BatchError::TruncatedBatch {
                declared: total,
                available: available as usize,
            };
            return Ok(Scanned::Invalid { position, error });
        }
        if validate {
            if let Err(error) = validate_stored_batch(self.window(position, total)?) {
                return Ok(Scanned::Invalid { position, error });
            }
        }
        self.pos = position + total as u64;
        Ok(Scanned::Batch { position, header })
    }

    /// The bytes of a batch this walk already framed.
    pub fn batch_bytes(&mut self, position: u64, header: &BatchHeader) -> io::Result<&[u8]> {
        self.window(position, header.total_bytes())
    }
}
