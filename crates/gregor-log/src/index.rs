//! Kafka's sparse segment indexes: fixed-size big-endian entries sorted by
//! key, searched by binary search over positional reads.
//!
//! * `.index`: 8-byte entries, relative offset (i32) then physical position
//!   (i32) of the batch whose *last* offset is that offset.
//! * `.timeindex`: 12-byte entries, timestamp (i64) then relative offset
//!   (i32): the largest timestamp seen so far in the segment and the last
//!   offset of the batch that carried it.
//!
//! Files are not preallocated: on disk they always hold exactly the valid
//! entries, so a cleanly closed directory is what Kafka itself would leave.
//! Entries are not cached in memory; lookups read ~log2(n) entries from the
//! page cache, which keeps memory flat however many segments a log has.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use crate::storage::SegmentFile;

/// One fixed-size index entry.
pub(crate) trait IndexEntry: Copy + fmt::Debug + PartialEq {
    const BYTES: usize;
    fn decode(bytes: &[u8]) -> Self;
    fn encode(&self, out: &mut [u8]);
    /// What entries are sorted and searched by.
    fn key(&self) -> i64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

pub(crate) const OFFSET_ENTRY_BYTES: usize = 8;
pub(crate) const TIME_ENTRY_BYTES: usize = 12;

fn be_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(b)
}

impl IndexEntry for OffsetEntry {
    const BYTES: usize = OFFSET_ENTRY_BYTES;

    fn decode(bytes: &[u8]) -> OffsetEntry {
        OffsetEntry {
            relative_offset: be_u32(&bytes[0..4]),
            position: be_u32(&bytes[4..8]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }

    fn key(&self) -> i64 {
        i64::from(self.relative_offset)
    }
}

impl IndexEntry for TimeEntry {
    const BYTES: usize = TIME_ENTRY_BYTES;

    fn decode(bytes: &[u8]) -> TimeEntry {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&bytes[0..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: be_u32(&bytes[8..12]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }

    fn key(&self) -> i64 {
        self.timestamp
    }
}

/// Largest entry encoded at once when appending many (rebuilds).
const ENCODE_CHUNK_ENTRIES: usize = 4096;

/// An index file of `E` entries. Owned by its segment.
pub(crate) struct IndexFile<E: IndexEntry> {
    file: Box<dyn SegmentFile>,
    entries: u64,
    max_entries: u64,
    last: Option<E>,
    _entry: PhantomData<E>,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Wraps an open file. A length that is not a whole number of entries
    /// is reported by [`IndexFile::check`], not here.
    pub fn new(file: Box<dyn SegmentFile>, max_index_bytes: u64) -> io::Result<IndexFile<E>> {
        let entries = file.len() / E::BYTES as u64;
        let mut index = IndexFile {
            file,
            entries,
            max_entries: max_index_bytes / E::BYTES as u64,
            last: None,
            _entry: PhantomData,
        };
        if entries > 0 {
            index.last = Some(index.entry(entries - 1)?);
        }
        Ok(index)
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn last(&self) -> Option<E> {
        self.last
    }

    /// Full by `segment.index.bytes`: the segment must roll.
    pub fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    pub fn entry(&self, n: u64) -> io::Result<E> {
        let mut buf = [0u8; 16];
        let bytes = &mut buf[..E::BYTES];
        self.file.read_exact_at(n * E::BYTES as u64, bytes)?;
        Ok(E::decode(bytes))
    }

    /// The last entry whose key is `<= key`, if any.
    pub fn floor(&self, key: i64) -> io::Result<Option<E>> {
        self.floor_by(key, E::key)
    }

    /// The last entry whose `by` is `<= target`; `by` must grow with the
    /// entries as the key does (an offset entry's position does).
    pub fn floor_by(&self, target: i64, by: impl Fn(&E) -> i64) -> io::Result<Option<E>> {
        let (mut lo, mut hi) = (0u64, self.entries);
        let mut found = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let entry = self.entry(mid)?;
            if by(&entry) <= target {
                found = Some(entry);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(found)
    }

    pub fn append(&mut self, entry: E) -> io::Result<()> {
        let mut buf = [0u8; 16];
        entry.encode(&mut buf[..E::BYTES]);
        self.file.append(&buf[..E::BYTES])?;
        self.entries += 1;
        self.last = Some(entry);
        Ok(())
    }

    /// Appends many entries with few writes (index rebuilds).
    pub fn append_all(&mut self, entries: &[E]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(E::BYTES * entries.len().min(ENCODE_CHUNK_ENTRIES));
        for chunk in entries.chunks(ENCODE_CHUNK_ENTRIES) {
            buf.clear();
            buf.resize(E::BYTES * chunk.len(), 0);
            for (entry, out) in chunk.iter().zip(buf.chunks_mut(E::BYTES)) {
                entry.encode(out);
            }
            self.file.append(&buf)?;
            self.entries += chunk.len() as u64;
            self.last = chunk.last().copied();
        }
        Ok(())
    }

    /// Keeps the first `entries` entries.
    pub fn truncate_entries(&mut self, entries: u64) -> io::Result<()> {
        self.file.truncate(entries * E::BYTES as u64)?;
        self.entries = entries.min(self.entries);
        self.last = if self.entries == 0 {
            None
        } else {
            Some(self.entry(self.entries - 1)?)
        };
        Ok(())
    }

    pub fn shared(&self) -> std::sync::Arc<dyn crate::storage::SharedFile> {
        self.file.shared()
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync()
    }

    /// Checks the file holds whole entries sorted by key, and hands each
    /// entry to `valid` (segment-specific bounds). `full` reads every entry;
    /// otherwise only the first and last, as Kafka's sanity check does.
    pub fn check(
        &self,
        full: bool,
        mut valid: impl FnMut(&E) -> bool,
    ) -> io::Result<Result<(), String>> {
        // (Not `is_multiple_of`: the workspace's rust-version is 1.85.)
        if self.entries * E::BYTES as u64 != self.file.len() {
            return Ok(Err(format!(
                "length {} is not a multiple of {}",
                self.file.len(),
                E::BYTES
            )));
        }
        let picks: Vec<u64> = match (full, self.entries) {
            (_, 0) => Vec::new(),
            (true, n) => (0..n).collect(),
            (false, n) => vec![0, n - 1],
        };
        let mut previous: Option<E> = None;
        for n in picks {
            let entry = self.entry(n)?;
            if !valid(&entry) {
                return Ok(Err(format!("entry {n} {entry:?} is out of bounds")));
            }
            if let Some(p) = previous {
                if p.key() > entry.key() {
                    return Ok(Err(format!(
                        "entry {n} {entry:?} is below its predecessor {p:?}"
                    )));
                }
            }
            previous = Some(entry);
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;
    use crate::MemStorage;

    fn index(entries: &[OffsetEntry]) -> IndexFile<OffsetEntry> {
        let storage = MemStorage::new();
        let mut index =
            IndexFile::new(storage.create("x.index").expect("create"), 80).expect("new");
        index.append_all(entries).expect("append");
        index
    }

    #[test]
    fn floor_finds_the_last_entry_not_above_the_key() {
        let entries: Vec<OffsetEntry> = (0..10)
            .map(|i| OffsetEntry {
                relative_offset: i * 10,
                position: i * 100,
            })
            .collect();
        let index = index(&entries);
        assert_eq!(index.floor(-1).expect("floor"), None);
        assert_eq!(index.floor(0).expect("floor"), Some(entries[0]));
        assert_eq!(index.floor(55).expect("floor"), Some(entries[5]));
        assert_eq!(index.floor(90).expect("floor"), Some(entries[9]));
        assert_eq!(index.floor(1_000).expect("floor"), Some(entries[9]));
        assert!(index.is_full());
        assert_eq!(index.check(true, |_| true).expect("io"), Ok(()));
    }

    #[test]
    fn entries_use_kafka_byte_layout() {
        let mut out = [0u8; 12];
        OffsetEntry {
            relative_offset: 0x0102_0304,
            position: 0x0a0b_0c0d,
        }
        .encode(&mut out[..8]);
        assert_eq!(out[..8], [1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
        TimeEntry {
            timestamp: 0x0102_0304_0506_0708,
            relative_offset: 9,
        }
        .encode(&mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9]);
    }

    #[test]
    fn check_catches_torn_and_unsorted_files() {
        let mut index = index(&[
            OffsetEntry {
                relative_offset: 5,
                position: 0,
            },
            OffsetEntry {
                relative_offset: 3,
                position: 10,
            },
        ]);
        assert!(index.check(true, |_| true).expect("io").is_err());
        index.truncate_entries(1).expect("truncate");
        assert_eq!(index.check(true, |_| true).expect("io"), Ok(()));
        index.file.append(&[1, 2, 3]).expect("append");
        assert!(index.check(false, |_| true).expect("io").is_err());
    }
}
