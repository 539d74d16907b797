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
//! No index keeps a file open. Sealed indexes are read through a memory map
//! (lookups touch ~log2(n) entries in the page cache, and memory stays flat
//! however many segments a log has); the active segment's index is kept in
//! memory and written out when the segment rolls, flushes or closes.

use std::fmt;
use std::io;
use std::marker::PhantomData;

use std::sync::Arc;

use crate::storage::{MappedFile, Storage};

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

/// Where an index's entries live between writes.
enum Body {
    /// The file as last written, read through a map that holds no file
    /// descriptor: sealed segments, and every segment after an open until
    /// its first change.
    Mapped(Arc<dyn MappedFile>),
    /// Entries in memory: the active segment's index once it changes. The
    /// file is brought up to date by [`IndexFile::persist`] (roll, flush,
    /// close); after a crash the active segment's indexes are rebuilt from
    /// the log anyway, so nothing is lost by keeping them here.
    Live(Vec<u8>),
}

/// An index file of `E` entries. Owned by its segment. It keeps no file
/// open: a broker with thousands of partitions would otherwise hold two
/// descriptors per segment for files that are read a few entries at a time
/// and written once per `index.interval.bytes`.
pub(crate) struct IndexFile<E: IndexEntry> {
    storage: Arc<dyn Storage>,
    name: String,
    body: Body,
    /// Length of the file on disk.
    file_len: u64,
    /// How many leading bytes of `body` the file holds already.
    persisted: u64,
    /// Whether the file's content has been fsynced since it last changed.
    synced: bool,
    max_entries: u64,
    last: Option<E>,
    _entry: PhantomData<E>,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates `name` empty (so the directory looks as Kafka leaves it) and
    /// starts an in-memory index over it.
    pub fn create(
        storage: Arc<dyn Storage>,
        name: String,
        max_index_bytes: u64,
    ) -> io::Result<IndexFile<E>> {
        drop(storage.create(&name)?);
        Ok(IndexFile {
            storage,
            name,
            body: Body::Live(Vec::new()),
            file_len: 0,
            persisted: 0,
            synced: false,
            max_entries: max_index_bytes / E::BYTES as u64,
            last: None,
            _entry: PhantomData,
        })
    }

    /// Maps an existing file. A length that is not a whole number of
    /// entries is reported by [`IndexFile::check`], not here.
    pub fn open(
        storage: Arc<dyn Storage>,
        name: String,
        max_index_bytes: u64,
    ) -> io::Result<IndexFile<E>> {
        let map = storage.map(&name)?;
        let file_len = map.bytes().len() as u64;
        let mut index = IndexFile {
            storage,
            name,
            body: Body::Mapped(map),
            file_len,
            persisted: file_len,
            synced: true,
            max_entries: max_index_bytes / E::BYTES as u64,
            last: None,
            _entry: PhantomData,
        };
        let entries = index.entries();
        if entries > 0 {
            index.last = Some(index.entry(entries - 1)?);
        }
        Ok(index)
    }

    fn bytes(&self) -> &[u8] {
        match &self.body {
            Body::Mapped(map) => map.bytes(),
            Body::Live(bytes) => bytes,
        }
    }

    /// The entries in memory, copied out of the map on the first change.
    fn live(&mut self) -> &mut Vec<u8> {
        if let Body::Mapped(map) = &self.body {
            self.body = Body::Live(map.bytes().to_vec());
        }
        self.synced = false;
        match &mut self.body {
            Body::Live(bytes) => bytes,
            Body::Mapped(_) => unreachable!("converted above"),
        }
    }

    /// The segment's files were renamed (a cleaned segment swapped in).
    pub fn renamed(&mut self, name: String) {
        self.name = name;
    }

    pub fn entries(&self) -> u64 {
        self.bytes().len() as u64 / E::BYTES as u64
    }

    pub fn last(&self) -> Option<E> {
        self.last
    }

    /// Full by `segment.index.bytes`: the segment must roll.
    pub fn is_full(&self) -> bool {
        self.entries() >= self.max_entries
    }

    pub fn entry(&self, n: u64) -> io::Result<E> {
        let at = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(E::BYTES))
            .filter(|&at| at + E::BYTES <= self.bytes().len())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: no entry {n}", self.name),
                )
            })?;
        Ok(E::decode(&self.bytes()[at..at + E::BYTES]))
    }

    /// The last entry whose key is `<= key`, if any.
    pub fn floor(&self, key: i64) -> io::Result<Option<E>> {
        self.floor_by(key, E::key)
    }

    /// The last entry whose `by` is `<= target`; `by` must grow with the
    /// entries as the key does (an offset entry's position does).
    pub fn floor_by(&self, target: i64, by: impl Fn(&E) -> i64) -> io::Result<Option<E>> {
        let (mut lo, mut hi) = (0u64, self.entries());
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
        let bytes = self.live();
        let at = bytes.len();
        bytes.resize(at + E::BYTES, 0);
        entry.encode(&mut bytes[at..]);
        self.last = Some(entry);
        Ok(())
    }

    /// Appends many entries (index rebuilds).
    pub fn append_all(&mut self, entries: &[E]) -> io::Result<()> {
        let bytes = self.live();
        let at = bytes.len();
        bytes.resize(at + E::BYTES * entries.len(), 0);
        for (entry, out) in entries.iter().zip(bytes[at..].chunks_mut(E::BYTES)) {
            entry.encode(out);
        }
        if let Some(last) = entries.last() {
            self.last = Some(*last);
        }
        Ok(())
    }

    /// Keeps the first `entries` entries.
    pub fn truncate_entries(&mut self, entries: u64) -> io::Result<()> {
        if entries >= self.entries() {
            return Ok(());
        }
        let len = entries * E::BYTES as u64;
        self.live().truncate(len as usize);
        self.persisted = self.persisted.min(len);
        self.last = if entries == 0 {
            None
        } else {
            Some(self.entry(entries - 1)?)
        };
        Ok(())
    }

    /// Brings the file up to date with the entries in memory: cuts what
    /// was truncated, writes what was appended, fsyncs if `sync`. Opens the
    /// file only for the duration of the call.
    pub fn persist(&mut self, sync: bool) -> io::Result<()> {
        let len = self.bytes().len() as u64;
        if self.persisted == len && self.file_len == len && (self.synced || !sync) {
            return Ok(());
        }
        let mut file = match self.storage.open(&self.name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.storage.create(&self.name)?,
            other => other?,
        };
        let keep = self.persisted.min(file.len());
        if file.len() > keep {
            file.truncate(keep)?;
        }
        if let Body::Live(bytes) = &self.body {
            file.append(&bytes[keep as usize..])?;
        }
        self.persisted = len;
        self.file_len = len;
        if sync {
            file.sync()?;
            self.synced = true;
        }
        Ok(())
    }

    /// Writes the file out and switches to a map of it: the segment will
    /// not change again unless truncated, and the map keeps no descriptor.
    pub fn seal(&mut self) -> io::Result<()> {
        self.persist(false)?;
        if matches!(self.body, Body::Live(_)) {
            let synced = self.synced;
            self.body = Body::Mapped(self.storage.map(&self.name)?);
            self.synced = synced;
        }
        Ok(())
    }

    /// A handle for an fsync off the log's lock, after [`IndexFile::seal`].
    /// Opens the file: the handle holds a descriptor until dropped.
    pub fn shared(&self) -> io::Result<std::sync::Arc<dyn crate::storage::SharedFile>> {
        Ok(self.storage.open(&self.name)?.shared())
    }

    /// Writes and fsyncs whatever the file lacks.
    pub fn sync(&mut self) -> io::Result<()> {
        self.persist(true)
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
        let len = self.bytes().len() as u64;
        if self.entries() * E::BYTES as u64 != len {
            return Ok(Err(format!(
                "length {len} is not a multiple of {}",
                E::BYTES
            )));
        }
        let picks: Vec<u64> = match (full, self.entries()) {
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

    fn index_in(storage: &MemStorage, entries: &[OffsetEntry]) -> IndexFile<OffsetEntry> {
        let mut index =
            IndexFile::create(Arc::new(storage.clone()), "x.index".into(), 80).expect("create");
        index.append_all(entries).expect("append");
        index
    }

    fn index(entries: &[OffsetEntry]) -> IndexFile<OffsetEntry> {
        index_in(&MemStorage::new(), entries)
    }

    fn file_bytes(storage: &MemStorage, name: &str) -> Vec<u8> {
        storage.map(name).expect("map").bytes().to_vec()
    }

    fn entry(i: u32) -> OffsetEntry {
        OffsetEntry {
            relative_offset: i * 10,
            position: i * 100,
        }
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
        index.persist(true).expect("persist");
        let storage = index.storage.clone();
        storage
            .open("x.index")
            .expect("open")
            .append(&[1, 2, 3])
            .expect("append");
        let torn = IndexFile::<OffsetEntry>::open(storage, "x.index".into(), 80).expect("open");
        assert!(torn.check(false, |_| true).expect("io").is_err());
    }

    #[test]
    fn the_file_catches_up_only_when_persisted() {
        let storage = MemStorage::new();
        let mut index = index_in(&storage, &[entry(0), entry(1)]);
        assert_eq!(file_bytes(&storage, "x.index"), Vec::<u8>::new());
        index.persist(false).expect("persist");
        assert_eq!(file_bytes(&storage, "x.index").len(), 16);
        index.append(entry(2)).expect("append");
        index.persist(true).expect("persist");
        let reopened =
            IndexFile::<OffsetEntry>::open(Arc::new(storage.clone()), "x.index".into(), 80)
                .expect("open");
        assert_eq!(reopened.entries(), 3);
        assert_eq!(reopened.last(), Some(entry(2)));
        assert_eq!(reopened.entry(1).expect("entry"), entry(1));
        assert!(reopened.entry(3).is_err());
    }

    #[test]
    fn a_sealed_index_truncated_later_cuts_its_file() {
        let storage = MemStorage::new();
        let mut index = index_in(&storage, &[entry(0), entry(1), entry(2)]);
        index.seal().expect("seal");
        assert!(matches!(index.body, Body::Mapped(_)));
        assert_eq!(index.floor(15).expect("floor"), Some(entry(1)));
        index.truncate_entries(1).expect("truncate");
        index.append(entry(4)).expect("append");
        index.persist(true).expect("persist");
        let mut expected = vec![0u8; 16];
        entry(0).encode(&mut expected[..8]);
        entry(4).encode(&mut expected[8..]);
        assert_eq!(file_bytes(&storage, "x.index"), expected);
    }
}
