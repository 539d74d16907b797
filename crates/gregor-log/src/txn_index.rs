//! A segment's transaction index, `<base>.txnindex`: one entry per
//! transaction aborted by a marker that landed in the segment, in Kafka's
//! on-disk format (`AbortedTxn`), so `read_committed` fetches can tell the
//! consumer which producers' data to drop.
//!
//! ```text
//!  0  version i16 = 0
//!  2  producer_id i64
//! 10  first_offset i64        first offset of the aborted transaction
//! 18  last_offset i64         offset of the abort marker
//! 26  last_stable_offset i64  the partition's LSO right after the abort
//! ```
//!
//! Entries are appended in marker order, so `last_offset` grows. The file
//! is created lazily, with the segment's first abort: most segments never
//! see one, and an idle partition should not hold an extra open file. The
//! entries are also kept in memory (34 bytes each), since a fetch consults
//! them on every `read_committed` read. Owned by its `Segment`.

use std::io;

use crate::segment::file_name;
use crate::storage::{SegmentFile, SharedFile, Storage};

pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// Bytes of one on-disk entry.
pub(crate) const ABORTED_TXN_BYTES: usize = 2 + 8 + 8 + 8 + 8;
const ENTRY_VERSION: i16 = 0;
/// Largest index read at open: about 30 million aborts in one segment.
const TXN_INDEX_MAX_BYTES: u64 = 1 << 30;

const _: () = assert!(ABORTED_TXN_BYTES == 34);

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// The transaction's first offset in this partition.
    pub first_offset: i64,
    /// The offset of its abort marker.
    pub last_offset: i64,
    /// The partition's last stable offset once the abort was written: the
    /// first offset of the oldest other ongoing transaction, else the
    /// marker's offset + 1. A search may stop at an entry whose LSO reaches
    /// its upper bound, since no later entry can start below it.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub(crate) fn encode(&self) -> [u8; ABORTED_TXN_BYTES] {
        let mut out = [0u8; ABORTED_TXN_BYTES];
        out[0..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<AbortedTxn, String> {
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i64::from_be_bytes(b)
        };
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != ENTRY_VERSION {
            return Err(format!("unknown aborted-transaction version {version}"));
        }
        Ok(AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// The transaction index of one segment.
pub(crate) struct TxnIndex {
    /// The file's name, with the cleaner's suffix while it is a `.cleaned` file.
    name: String,
    /// `None` until the first abort (or when the file does not exist).
    file: Option<Box<dyn SegmentFile>>,
    entries: Vec<AbortedTxn>,
    /// Reset by recovery and not yet rebuilt by the producer-state replay.
    rebuilding: bool,
}

impl TxnIndex {
    /// The index of a new segment: empty, no file.
    pub fn absent(base_offset: i64, suffix: &str) -> TxnIndex {
        TxnIndex {
            name: format!("{}{suffix}", file_name(base_offset, TXN_INDEX_SUFFIX)),
            file: None,
            entries: Vec::new(),
            rebuilding: false,
        }
    }

    /// Loads the index of an existing segment, if it has one. `Err(reason)`
    /// (with the index left empty) when the file is damaged: the caller
    /// recovers the segment, which rebuilds it.
    pub fn open(
        storage: &dyn Storage,
        base_offset: i64,
    ) -> io::Result<(TxnIndex, Result<(), String>)> {
        let mut index = TxnIndex::absent(base_offset, "");
        let file = match storage.open(&index.name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((index, Ok(()))),
            other => other?,
        };
        let len = file.len();
        if len > TXN_INDEX_MAX_BYTES {
            let reason = format!("{} is {len} bytes, over the limit", index.name);
            index.file = Some(file);
            return Ok((index, Err(reason)));
        }
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(0, &mut bytes)?;
        index.file = Some(file);
        match decode_all(&bytes) {
            Ok(entries) => {
                index.entries = entries;
                Ok((index, Ok(())))
            }
            Err(reason) => {
                let reason = format!("{}: {reason}", index.name);
                Ok((index, Err(reason)))
            }
        }
    }

    pub fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Appends an entry, creating the file on the first one.
    pub fn append(&mut self, storage: &dyn Storage, entry: AbortedTxn) -> io::Result<()> {
        assert!(
            self.entries
                .last()
                .is_none_or(|e| e.last_offset < entry.last_offset),
            "transaction index entries must follow marker order"
        );
        if self.file.is_none() {
            self.file = Some(storage.create(&self.name)?);
        }
        let file = self.file.as_mut().expect("created above");
        file.append(&entry.encode())?;
        self.entries.push(entry);
        Ok(())
    }

    /// Drops every entry (recovery rebuilds them by replaying the segment).
    pub fn reset(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.rebuilding = true;
        match self.file.as_mut() {
            Some(file) => file.truncate(0),
            None => Ok(()),
        }
    }

    /// Whether recovery reset the index, so the replay must refill it.
    pub fn rebuilding(&self) -> bool {
        self.rebuilding
    }

    pub fn rebuilt(&mut self) {
        self.rebuilding = false;
    }

    /// The cleaner's `.cleaned` index took its final name.
    pub fn renamed(&mut self, base_offset: i64) {
        self.name = file_name(base_offset, TXN_INDEX_SUFFIX);
    }

    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    pub fn shared(&self) -> Option<std::sync::Arc<dyn SharedFile>> {
        self.file.as_ref().map(|f| f.shared())
    }

    pub fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(file) => file.sync(),
            None => Ok(()),
        }
    }

    /// Kafka's `TransactionIndex.collectAbortedTxns`: entries overlapping
    /// `[fetch_offset, upper_bound_offset)`, and whether the search is
    /// complete (an entry's LSO reached the bound, so later segments cannot
    /// hold more).
    pub fn collect(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> bool {
        for entry in &self.entries {
            if entry.last_offset >= fetch_offset && entry.first_offset < upper_bound_offset {
                out.push(*entry);
            }
            if entry.last_stable_offset >= upper_bound_offset {
                return true;
            }
        }
        false
    }
}

fn decode_all(bytes: &[u8]) -> Result<Vec<AbortedTxn>, String> {
    if !bytes.len().is_multiple_of(ABORTED_TXN_BYTES) {
        return Err(format!(
            "length {} is not a multiple of {ABORTED_TXN_BYTES}",
            bytes.len()
        ));
    }
    let mut entries: Vec<AbortedTxn> = Vec::with_capacity(bytes.len() / ABORTED_TXN_BYTES);
    for chunk in bytes.chunks_exact(ABORTED_TXN_BYTES) {
        let entry = AbortedTxn::decode(chunk)?;
        let ordered = entry.first_offset <= entry.last_offset
            && entries
                .last()
                .is_none_or(|e| e.last_offset < entry.last_offset);
        if !ordered {
            return Err(format!("entry {entry:?} is out of order"));
        }
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem_storage::MemStorage;

    fn entry(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entry_bytes_are_kafkas_aborted_txn() {
        let bytes = entry(0x0102, 5, 9, 10).encode();
        let mut expected = vec![0, 0];
        expected.extend_from_slice(&0x0102i64.to_be_bytes());
        expected.extend_from_slice(&5i64.to_be_bytes());
        expected.extend_from_slice(&9i64.to_be_bytes());
        expected.extend_from_slice(&10i64.to_be_bytes());
        assert_eq!(bytes.to_vec(), expected);
        assert_eq!(AbortedTxn::decode(&bytes), Ok(entry(0x0102, 5, 9, 10)));
    }

    #[test]
    fn file_is_created_lazily_and_reloads() {
        let storage = MemStorage::new();
        let mut index = TxnIndex::absent(100, "");
        assert!(!index.has_file());
        assert!(storage.list().unwrap().is_empty());
        index.append(&storage, entry(1, 100, 105, 106)).unwrap();
        index.append(&storage, entry(2, 101, 110, 111)).unwrap();
        let (loaded, ok) = TxnIndex::open(&storage, 100).unwrap();
        assert_eq!(ok, Ok(()));
        assert_eq!(loaded.entries(), index.entries());
        let (missing, ok) = TxnIndex::open(&storage, 200).unwrap();
        assert!(ok.is_ok() && !missing.has_file() && missing.entries().is_empty());
        let mut file = storage.open("00000000000000000100.txnindex").unwrap();
        file.truncate(40).unwrap();
        assert!(TxnIndex::open(&storage, 100).unwrap().1.is_err());
    }

    #[test]
    fn collect_follows_kafkas_bounds_and_stops_at_the_lso() {
        let mut index = TxnIndex::absent(0, "");
        let storage = MemStorage::new();
        index.append(&storage, entry(1, 0, 5, 6)).unwrap();
        index.append(&storage, entry(2, 3, 20, 21)).unwrap();
        index.append(&storage, entry(3, 25, 30, 31)).unwrap();
        let search = |from, to| {
            let mut out = Vec::new();
            let complete = index.collect(from, to, &mut out);
            (
                out.iter().map(|e| e.producer_id).collect::<Vec<_>>(),
                complete,
            )
        };
        assert_eq!(search(0, 3), (vec![1], true));
        assert_eq!(search(6, 25), (vec![2], true));
        assert_eq!(search(21, 40), (vec![3], false));
        assert_eq!(search(31, 40), (vec![], false));
    }
}
