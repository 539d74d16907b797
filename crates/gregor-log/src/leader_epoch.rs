//! The leader-epoch cache (Kafka's `LeaderEpochFileCache`): for each leader
//! epoch that wrote to this log, the offset of its first batch. It answers
//! OffsetForLeaderEpoch, which consumers use after a leader change to learn
//! whether the log they read was truncated.
//!
//! Kept in `leader-epoch-checkpoint` in Kafka's own text format, replaced
//! atomically whenever an entry is added or removed:
//!
//! ```text
//! 0                  (format version)
//! 2                  (entry count)
//! 0 0                (epoch, start offset)
//! 3 1042
//! ```

use std::io;

use tracing::warn;

use crate::storage::{read_small_file, write_atomically, Storage};

pub(crate) const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
/// Bound on the file read at open: an entry is at most ~32 bytes, and a
/// partition sees one per leader change.
const LEADER_EPOCH_FILE_MAX_BYTES: u64 = 64 << 20;
const VERSION: &str = "0";

/// Kafka's "no epoch" (`UNDEFINED_EPOCH`) and "no offset" (`UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// Entries strictly increasing in both epoch and start offset. Owned by the
/// `Log`; changed only under its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaderEpochCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset` (Kafka's `assign`): a
    /// new epoch, or an earlier start for the latest one. Entries that would
    /// break monotonicity (an epoch as large, or a start as late) are
    /// dropped first. Negative values are not epochs and are ignored.
    /// Returns whether anything changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|l| l.epoch != epoch || start_offset < l.start_offset);
        if !needed {
            return false;
        }
        while self
            .entries
            .last()
            .is_some_and(|l| l.epoch >= epoch || l.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        true
    }

    /// Forgets epochs that start at or after `end_offset`: the log was cut
    /// there (Kafka's `truncateFromEnd`).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        while self
            .entries
            .last()
            .is_some_and(|l| l.start_offset >= end_offset)
        {
            self.entries.pop();
        }
        self.entries.len() != before
    }

    /// The log now starts at `start_offset` (Kafka's `truncateFromStart`):
    /// epochs starting at or below it collapse into one entry, the latest of
    /// them, moved up to start there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self
            .entries
            .partition_point(|e| e.start_offset <= start_offset);
        if below == 0 {
            return false;
        }
        let kept = EpochEntry {
            epoch: self.entries[below - 1].epoch,
            start_offset,
        };
        let changed = below > 1 || self.entries[0] != kept;
        self.entries.drain(..below - 1);
        self.entries[0] = kept;
        changed
    }

    /// Kafka's `endOffsetFor`: the epoch found and the offset where it
    /// ends. The latest epoch ends at the log end offset; an older one at
    /// the start of the next larger epoch (reported with the largest known
    /// epoch not above the requested one); an epoch below every known one
    /// ends where the first known epoch starts. Unknown or undefined:
    /// `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)`.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let Some(next) = self.entries.get(higher) else {
            return undefined;
        };
        match higher.checked_sub(1).map(|i| self.entries[i]) {
            Some(floor) => (floor.epoch, next.start_offset),
            None => (requested, next.start_offset),
        }
    }

    pub fn encode(&self) -> String {
        let mut text = format!("{VERSION}\n{}\n", self.entries.len());
        for e in &self.entries {
            text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        text
    }

    pub fn decode(text: &str) -> Option<LeaderEpochCache> {
        let mut lines = text.lines();
        if lines.next()? != VERSION {
            return None;
        }
        let count: usize = lines.next()?.parse().ok()?;
        let mut cache = LeaderEpochCache::default();
        for _ in 0..count {
            let (epoch, offset) = lines.next()?.split_once(' ')?;
            let entry = EpochEntry {
                epoch: epoch.parse().ok()?,
                start_offset: offset.parse().ok()?,
            };
            let monotonic = cache
                .entries
                .last()
                .is_none_or(|l| l.epoch < entry.epoch && l.start_offset < entry.start_offset);
            if !monotonic || entry.epoch < 0 || entry.start_offset < 0 {
                return None;
            }
            cache.entries.push(entry);
        }
        lines.next().is_none().then_some(cache)
    }

    /// The stored cache; `None` if there is no file or it is unreadable, in
    /// which case the log rebuilds it from the batches' epochs.
    pub fn read(storage: &dyn Storage) -> io::Result<Option<LeaderEpochCache>> {
        let bytes = match read_small_file(storage, LEADER_EPOCH_FILE, LEADER_EPOCH_FILE_MAX_BYTES) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                warn!(error = %e, "ignoring oversized leader-epoch checkpoint");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let parsed = std::str::from_utf8(&bytes)
            .ok()
            .and_then(LeaderEpochCache::decode);
        if parsed.is_none() {
            warn!("ignoring corrupt leader-epoch checkpoint");
        }
        Ok(parsed)
    }

    pub fn write(&self, storage: &dyn Storage) -> io::Result<()> {
        write_atomically(storage, LEADER_EPOCH_FILE, self.encode().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut c = LeaderEpochCache::default();
        for &(e, o) in entries {
            assert!(c.assign(e, o));
        }
        c
    }

    fn pairs(c: &LeaderEpochCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn assign_keeps_entries_monotonic() {
        let mut c = cache(&[(0, 0), (2, 10)]);
        assert!(!c.assign(2, 15), "same epoch, later start: nothing new");
        assert!(!c.assign(-1, 20), "no epoch");
        assert!(c.assign(2, 5), "an earlier start for the latest epoch");
        assert_eq!(pairs(&c), [(0, 0), (2, 5)]);
        assert!(c.assign(1, 7), "a smaller epoch drops the larger ones");
        assert_eq!(pairs(&c), [(0, 0), (1, 7)]);
        assert!(c.assign(5, 7), "same start drops the entry it replaces");
        assert_eq!(pairs(&c), [(0, 0), (5, 7)]);
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let c = cache(&[(1, 0), (3, 10), (6, 25)]);
        assert_eq!(c.end_offset_for(6, 40), (6, 40), "latest: log end");
        assert_eq!(c.end_offset_for(3, 40), (3, 25));
        assert_eq!(c.end_offset_for(4, 40), (3, 25), "gap: the epoch below");
        assert_eq!(c.end_offset_for(0, 40), (0, 0), "below all: first start");
        assert_eq!(c.end_offset_for(7, 40), (-1, -1), "above all: unknown");
        assert_eq!(c.end_offset_for(-1, 40), (-1, -1));
        assert_eq!(LeaderEpochCache::default().end_offset_for(0, 5), (-1, -1));
    }

    #[test]
    fn truncation_from_either_end() {
        let mut c = cache(&[(1, 0), (3, 10), (6, 25)]);
        assert!(!c.truncate_from_end(30));
        assert!(c.truncate_from_end(25));
        assert_eq!(pairs(&c), [(1, 0), (3, 10)]);
        assert!(c.truncate_from_start(12));
        assert_eq!(pairs(&c), [(3, 12)]);
        assert!(!c.truncate_from_start(12));
        assert!(!c.truncate_from_start(5));
        let mut d = cache(&[(1, 0), (3, 10)]);
        assert!(d.truncate_from_start(10));
        assert_eq!(pairs(&d), [(3, 10)]);
    }

    #[test]
    fn file_format_is_kafkas() {
        let c = cache(&[(0, 0), (3, 1042)]);
        let text = c.encode();
        assert_eq!(text, "0\n2\n0 0\n3 1042\n");
        assert_eq!(LeaderEpochCache::decode(&text), Some(c));
        assert_eq!(LeaderEpochCache::decode("0\n0\n"), Some(cache(&[])));
        assert_eq!(LeaderEpochCache::decode("0\n2\n0 0\n"), None, "short");
        assert_eq!(LeaderEpochCache::decode("0\n2\n3 0\n1 5\n"), None, "order");
        assert_eq!(LeaderEpochCache::decode("1\n0\n"), None, "version");
    }
}
