//! Compaction (Kafka's `LogCleaner`/`Cleaner` for one log), in three
//! steps so the partition's lock is held only for the first and the last:
//!
//! 1. [`Log::plan_clean`] (under the lock) decides whether the log is due
//!    (dirty ratio over `min.cleanable.dirty.ratio`, a dirty record older
//!    than `max.compaction.lag.ms`, or tombstones whose delete horizon has
//!    passed) and captures handles on the sealed segments below the first
//!    uncleanable offset (the active segment and anything younger than
//!    `min.compaction.lag.ms` are never cleaned).
//! 2. [`CleanTask::run`] (no lock) maps each key of the dirty part to its
//!    last offset, then rewrites every cleanable segment, in groups that fit
//!    one segment, into `<base>.log.cleaned` files keeping per key only the
//!    latest record ([`compact_batch`](crate::compact_batch)), and fsyncs them.
//! 3. [`Log::swap_cleaned`] (under the lock) renames the `.cleaned` files to
//!    `.swap` (the commit point), unlinks the old segments, renames the
//!    `.swap` files to their final names and records the new first dirty
//!    offset in `gregor-cleaner.checkpoint`. A crash anywhere leaves either
//!    `.cleaned` files (deleted at open) or `.swap` files (the swap is
//!    completed at open, see `log_open.rs`). Fetches holding slices of an
//!    old segment keep reading it through their open handles.
//!
//! Transactions: the cleaner never reads past the last stable offset
//! (Kafka's bound too). As in Kafka, the data of aborted transactions
//! never enters the offset map (an aborted update must not make a key's
//! committed value look superseded) and is removed from the cleaned
//! segments; a producer's last batch stays, emptied, so its state survives
//! a rebuild. A transaction marker goes as Kafka's
//! `CleanedTransactionMetadata` decides: once a clean finds none of its
//! transaction's data batches left before it, the marker is stamped with a
//! delete horizon (`delete.retention.ms` on), and a clean after that
//! horizon removes it. A cleaned segment's transaction index is its
//! sources' indexes without the entries of removed abort markers, written
//! as a `.txnindex.cleaned` file and swapped in with the others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use gregor_protocol::batch::{BatchHeader, BATCH_HEADER_BYTES, NO_TIMESTAMP};
use tracing::{debug, info, warn};

use crate::compact_batch::{self, Filtered, RecordView};
use crate::config::LogConfig;
use crate::error::LogError;
use crate::log::{Log, PlacedBatch};
use crate::segment::{file_name, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use crate::storage::{read_small_file, write_atomically, SharedFile, Storage};
use crate::txn_index::{AbortedTxn, TXN_INDEX_SUFFIX};

/// Per partition: the offset below which the log has been cleaned.
pub(crate) const CLEANER_CHECKPOINT_FILE: &str = "gregor-cleaner.checkpoint";
const CLEANER_CHECKPOINT_MAX_BYTES: u64 = 128;
pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";
pub(crate) const SWAP_SUFFIX: &str = ".swap";
/// Memory per offset-map entry besides the key bytes (Kafka counts 24
/// bytes per entry for its hash and offset; a Rust map entry costs more).
const MAP_ENTRY_OVERHEAD_BYTES: u64 = 64;
/// Read-ahead of the cleaner's walk over a segment.
const READ_BLOCK_BYTES: usize = 1 << 20;

/// How dirty a compacted log is (Kafka's `LogToClean`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dirtiness {
    pub first_dirty_offset: i64,
    pub first_uncleanable_offset: i64,
    pub clean_bytes: u64,
    pub cleanable_bytes: u64,
    /// `cleanable / (clean + cleanable)`.
    pub ratio: f64,
    /// A dirty record is older than `max.compaction.lag.ms`.
    pub compaction_overdue: bool,
    /// A cleaned batch holds tombstones whose delete horizon has passed.
    pub tombstones_due: bool,
}

impl Dirtiness {
    /// Kafka's choice in `grabFilthiestCompactedLog`, plus tombstones due.
    pub fn should_clean(&self, min_ratio: f64) -> bool {
        (self.cleanable_bytes > 0 && (self.compaction_overdue || self.ratio > min_ratio))
            || (self.tombstones_due && self.clean_bytes + self.cleanable_bytes > 0)
    }
}

/// One sealed segment as the cleaner reads it, off the log's lock.
struct Source {
    base_offset: i64,
    size: u64,
    file: Arc<dyn SharedFile>,
    /// The segment's transaction index, carried into the cleaned segment.
    aborted: Vec<AbortedTxn>,
}

/// A clean decided under the log's lock, to be run without it. Owned by
/// the broker's cleaner thread.
pub struct CleanTask {
    storage: Arc<dyn Storage>,
    config: LogConfig,
    now_ms: i64,
    log_start_offset: i64,
    first_dirty_offset: i64,
    first_uncleanable_offset: i64,
    sources: Vec<Source>,
    /// Producer id → last offset of its last batch in the log: that batch
    /// is kept (empty if need be) so producer state survives a rebuild.
    producer_last_offsets: HashMap<i64, i64>,
    /// The aborted transactions overlapping the cleanable part.
    aborted: AbortedRanges,
}

/// What a clean has seen of transactions so far, in offset order (Kafka's
/// `CleanedTransactionMetadata`): producers whose committed or aborted
/// transaction still has data batches in the log, and the markers removed.
#[derive(Debug, Default)]
struct MarkerTracker {
    committed_with_data: HashSet<i64>,
    aborted_with_data: HashSet<i64>,
    removed_markers: HashSet<i64>,
}

/// Control record types (Kafka's `ControlRecordType`).
const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

impl MarkerTracker {
    fn on_data_batch(&mut self, header: &BatchHeader, aborted: bool) {
        if header.is_transactional() {
            if aborted {
                self.aborted_with_data.insert(header.producer_id);
            } else {
                self.committed_with_data.insert(header.producer_id);
            }
        }
    }

    /// Whether the marker may go (after its delete horizon): no batch of
    /// its transaction was met in this clean. An emptied control batch
    /// may always go.
    fn marker_removable(&mut self, header: &BatchHeader, records: &[RecordView]) -> bool {
        let Some(first) = records.first() else {
            return true;
        };
        let kind = first
            .key
            .as_ref()
            .filter(|k| k.len() >= 4)
            .map(|k| i16::from_be_bytes([k[2], k[3]]));
        match kind {
            Some(CONTROL_ABORT) => !self.aborted_with_data.remove(&header.producer_id),
            Some(CONTROL_COMMIT) => !self.committed_with_data.remove(&header.producer_id),
            _ => false,
        }
    }
}

/// Aborted transactions by producer: (first offset, marker offset).
#[derive(Debug, Default)]
struct AbortedRanges(HashMap<i64, Vec<(i64, i64)>>);

impl AbortedRanges {
    fn new(aborted: &[AbortedTxn]) -> AbortedRanges {
        let mut by_producer: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for a in aborted {
            by_producer
                .entry(a.producer_id)
                .or_default()
                .push((a.first_offset, a.last_offset));
        }
        AbortedRanges(by_producer)
    }

    /// Whether a data batch belongs to an aborted transaction.
    fn contains(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.0.get(&header.producer_id).is_some_and(|ranges| {
                ranges.iter().any(|&(first, marker)| {
                    first <= header.base_offset && header.base_offset < marker
                })
            })
    }
}

/// Cleaned segments on disk as `.cleaned` files, ready to swap in.
pub struct CleanedLog {
    storage: Arc<dyn Storage>,
    groups: Vec<CleanedGroup>,
    /// The new first dirty offset.
    end_offset: i64,
    /// Latest delete horizon of any batch still holding tombstones.
    delete_horizon: i64,
    pub stats: CleanStats,
}

struct CleanedGroup {
    sources: Vec<i64>,
    segment: Segment,
}

/// What a clean did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_kept: u64,
    pub segments_read: usize,
    pub segments_written: usize,
}

impl Log {
    /// The offset below which the log has been cleaned (the log start
    /// offset if never, or if the checkpoint lies outside the log).
    pub fn first_dirty_offset(&self) -> i64 {
        match self.cleaned_upto {
            Some(o) if o >= self.log_start_offset && o <= self.log_end_offset() => o,
            _ => self.log_start_offset,
        }
    }

    /// How dirty the log is; `None` unless `cleanup.policy` has `compact`.
    pub fn dirtiness(&self, now_ms: i64) -> Option<Dirtiness> {
        if !self.config.cleanup_compact {
            return None;
        }
        let first_dirty = self.first_dirty_offset();
        let active_base = self.active().base_offset();
        let sealed = &self.segments[..self.segments.len() - 1];
        // Kafka's `cleanableOffsets`: nothing at or past the last stable
        // offset, where transactions are still undecided.
        let mut first_uncleanable = self
            .first_unstable_offset()
            .map_or(active_base, |f| f.min(active_base));
        if self.config.min_compaction_lag_ms > 0 {
            let young = sealed.iter().find(|s| {
                s.next_offset() > first_dirty
                    && s.largest_timestamp()
                        > now_ms.saturating_sub(self.config.min_compaction_lag_ms)
            });
            if let Some(s) = young {
                first_uncleanable = first_uncleanable.min(s.base_offset());
            }
        }
        let first_uncleanable = first_uncleanable.max(first_dirty);
        let (mut clean_bytes, mut cleanable_bytes) = (0u64, 0u64);
        let mut earliest_dirty_timestamp = i64::MAX;
        for s in sealed {
            if s.next_offset() <= first_dirty {
                clean_bytes += s.size();
            } else {
                if s.base_offset() < first_uncleanable {
                    cleanable_bytes += s.size();
                }
                if let Some(t) = s.first_batch_timestamp() {
                    earliest_dirty_timestamp = earliest_dirty_timestamp.min(t);
                }
            }
        }
        let total = clean_bytes + cleanable_bytes;
        let ratio = if total == 0 {
            0.0
        } else {
            cleanable_bytes as f64 / total as f64
        };
        let compaction_overdue = earliest_dirty_timestamp != i64::MAX
            && now_ms.saturating_sub(earliest_dirty_timestamp) > self.config.max_compaction_lag_ms;
        let tombstones_due = self.delete_horizon != NO_TIMESTAMP && self.delete_horizon <= now_ms;
        Some(Dirtiness {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: first_uncleanable,
            clean_bytes,
            cleanable_bytes,
            ratio,
            compaction_overdue,
            tombstones_due,
        })
    }

    /// Decides whether the log is due for cleaning and, if so, captures
    /// what the clean needs. Cheap: no segment is read.
    pub fn plan_clean(&self, now_ms: i64) -> Option<CleanTask> {
        self.check_healthy().ok()?;
        let d = self.dirtiness(now_ms)?;
        if !d.should_clean(self.config.min_cleanable_dirty_ratio) {
            return None;
        }
        let sources: Vec<Source> = self
            .segments
            .iter()
            .take_while(|s| s.base_offset() < d.first_uncleanable_offset)
            .take(self.segments.len() - 1)
            .map(|s| Source {
                base_offset: s.base_offset(),
                size: s.size(),
                file: s.log_file(),
                aborted: s.txn_index().entries().to_vec(),
            })
            .collect();
        if sources.is_empty() {
            return None;
        }
        let producer_last_offsets = self
            .producers
            .states()
            .iter()
            .filter_map(|p| p.batches.back().map(|b| (p.producer_id, b.last_offset)))
            .collect();
        // Markers of transactions with data in the cleanable part may lie
        // beyond it (in the active segment): ask the whole log.
        let aborted = AbortedRanges::new(
            &self.aborted_transactions(self.log_start_offset, d.first_uncleanable_offset),
        );
        Some(CleanTask {
            storage: self.storage.clone(),
            config: self.config.clone(),
            now_ms,
            log_start_offset: self.log_start_offset,
            first_dirty_offset: d.first_dirty_offset,
            first_uncleanable_offset: d.first_uncleanable_offset,
            sources,
            producer_last_offsets,
            aborted,
        })
    }

    /// Swaps cleaned segments in. Returns `false` (and removes the cleaned
    /// files) if the log changed meanwhile so that the clean no longer
    /// applies (retention or DeleteRecords removed a source segment). A
    /// failure after the commit point takes the log offline; reopening it
    /// completes the swap.
    pub fn swap_cleaned(&mut self, cleaned: CleanedLog) -> Result<bool, LogError> {
        self.check_healthy()?;
        let active_base = self.active().base_offset();
        let still_there = cleaned
            .groups
            .iter()
            .flat_map(|g| &g.sources)
            .all(|b| *b != active_base && self.segments.iter().any(|s| s.base_offset() == *b));
        if !still_there {
            info!("log changed during cleaning; dropping the cleaned segments");
            cleaned.discard();
            return Ok(false);
        }
        let storage = cleaned.storage.clone();
        let mut renamed = Vec::new();
        for g in &cleaned.groups {
            let txn = g.segment.txn_index().has_file().then_some(TXN_INDEX_SUFFIX);
            let suffixes = [
                Some(INDEX_SUFFIX),
                Some(TIME_INDEX_SUFFIX),
                txn,
                Some(LOG_SUFFIX),
            ];
            for suffix in suffixes.into_iter().flatten() {
                let name = file_name(g.segment.base_offset(), suffix);
                let from = format!("{name}{CLEANED_SUFFIX}");
                let to = format!("{name}{SWAP_SUFFIX}");
                if let Err(e) = storage.rename(&from, &to) {
                    return Err(self.fail_swap(&format!("rename {from}"), e));
                }
                renamed.push((to, name));
            }
        }
        if let Err(e) = storage.sync_dir() {
            return Err(self.fail_swap("sync log directory", e));
        }
        for g in &cleaned.groups {
            for &base in &g.sources {
                let Some(i) = self.segments.iter().position(|s| s.base_offset() == base) else {
                    continue;
                };
                if let Err(e) = self.segments[i].delete_files(&*storage) {
                    return Err(self.fail_swap(&format!("delete cleaned segment {base}"), e));
                }
                self.segments.remove(i);
            }
        }
        for (from, to) in &renamed {
            if let Err(e) = storage.rename(from, to) {
                return Err(self.fail_swap(&format!("rename {from}"), e));
            }
        }
        if let Err(e) = storage.sync_dir() {
            return Err(self.fail_swap("sync log directory", e));
        }
        for g in cleaned.groups {
            let at = self
                .segments
                .partition_point(|s| s.base_offset() < g.segment.base_offset());
            let mut segment = g.segment;
            segment.renamed_to_final();
            self.segments.insert(at, segment);
        }
        self.cleaned_upto = Some(cleaned.end_offset);
        self.delete_horizon = cleaned.delete_horizon;
        CleanerCheckpoint {
            first_dirty_offset: cleaned.end_offset,
            delete_horizon: cleaned.delete_horizon,
        }
        .write(&*self.storage)
        .map_err(LogError::io("write cleaner checkpoint"))?;
        info!(
            first_dirty_offset = cleaned.end_offset,
            read = cleaned.stats.bytes_read,
            written = cleaned.stats.bytes_written,
            records_kept = cleaned.stats.records_kept,
            records_read = cleaned.stats.records_read,
            "log cleaned"
        );
        Ok(true)
    }

    fn fail_swap(&mut self, context: &str, error: std::io::Error) -> LogError {
        warn!(context, %error, "swap of cleaned segments failed; log goes offline until reopened");
        self.failure = Some(format!("{context}: {error}"));
        LogError::Io {
            context: context.to_string(),
            source: error,
        }
    }
}

impl CleanedLog {
    /// Removes the cleaned files without swapping them in.
    pub fn discard(self) {
        for g in &self.groups {
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                let name = format!(
                    "{}{CLEANED_SUFFIX}",
                    file_name(g.segment.base_offset(), suffix)
                );
                if let Err(e) = self.storage.remove(&name) {
                    warn!(file = %name, error = %e, "could not remove cleaned file");
                }
            }
        }
    }

    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }
}

impl CleanTask {
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    /// Builds the offset map and writes the cleaned segments. Runs without
    /// the log's lock; `map_memory_bytes` bounds the key→offset map (the
    /// broker's `log.cleaner.dedupe.buffer.size`): a dirty part with more
    /// keys is cleaned in several passes.
    pub fn run(self, map_memory_bytes: u64) -> Result<CleanedLog, LogError> {
        let mut stats = CleanStats::default();
        let (map, end_offset) = self.build_offset_map(map_memory_bytes, &mut stats)?;
        let cleanable: Vec<&Source> = self
            .sources
            .iter()
            .take_while(|s| s.base_offset < end_offset)
            .collect();
        let mut groups = Vec::new();
        let mut delete_horizon = NO_TIMESTAMP;
        let mut markers = MarkerTracker::default();
        let horizon = self.now_ms.saturating_add(self.config.delete_retention_ms);
        for group in self.group_by_size(&cleanable) {
            let base = group[0].base_offset;
            let context = format!("write cleaned segment {base}");
            let mut segment =
                Segment::create_cleaned(&self.storage, base, &self.config, self.now_ms)
                    .map_err(LogError::io(&context))?;
            for source in &group {
                stats.segments_read += 1;
                self.clean_segment(
                    source,
                    &map,
                    end_offset,
                    horizon,
                    &mut segment,
                    &mut stats,
                    &mut delete_horizon,
                    &mut markers,
                )?;
            }
            let kept_entries = group
                .iter()
                .flat_map(|s| &s.aborted)
                .filter(|e| !markers.removed_markers.contains(&e.last_offset));
            for entry in kept_entries {
                segment
                    .txn_index_mut()
                    .append(&*self.storage, *entry)
                    .map_err(LogError::io(&context))?;
            }
            segment.seal().map_err(LogError::io(&context))?;
            segment.flush().map_err(LogError::io(&context))?;
            stats.bytes_written += segment.size();
            stats.segments_written += 1;
            groups.push(CleanedGroup {
                sources: group.iter().map(|s| s.base_offset).collect(),
                segment,
            });
        }
        Ok(CleanedLog {
            storage: self.storage,
            groups,
            end_offset,
            delete_horizon,
            stats,
        })
    }

    /// Key → last offset over the dirty part, up to the first uncleanable
    /// offset or until the map is full. Returns the map and the offset it
    /// covers up to (the next first dirty offset).
    fn build_offset_map(
        &self,
        map_memory_bytes: u64,
        stats: &mut CleanStats,
    ) -> Result<(HashMap<Bytes, i64>, i64), LogError> {
        let mut map: HashMap<Bytes, i64> = HashMap::new();
        let mut memory = 0u64;
        let mut end = self.first_dirty_offset;
        for source in &self.sources {
            let mut reader = SourceReader::new(source);
            while let Some((header, bytes)) = reader.next()? {
                if header.last_offset() < self.first_dirty_offset {
                    continue;
                }
                if header.base_offset >= self.first_uncleanable_offset {
                    return Ok((map, end));
                }
                if memory >= map_memory_bytes && end > self.first_dirty_offset {
                    debug!(end, "offset map full; cleaning in part");
                    return Ok((map, end));
                }
                if !header.is_control() && !self.aborted.contains(&header) {
                    let records = compact_batch::records(&bytes, &header)
                        .map_err(|e| LogError::Corrupt(e.to_string()))?;
                    for r in records
                        .into_iter()
                        .filter(|r| r.offset >= self.first_dirty_offset)
                    {
                        let Some(key) = r.key else { continue };
                        match map.get_mut(&key[..]) {
                            Some(offset) => *offset = r.offset,
                            None => {
                                // A copy, so the map does not pin the
                                // whole decompressed batch the key lies in.
                                memory += key.len() as u64 + MAP_ENTRY_OVERHEAD_BYTES;
                                map.insert(Bytes::copy_from_slice(&key), r.offset);
                            }
                        }
                    }
                }
                stats.bytes_read += bytes.len() as u64;
                end = header.next_offset();
            }
        }
        Ok((map, end.min(self.first_uncleanable_offset)))
    }

    /// Kafka's `groupSegmentsBySize`: consecutive segments whose total size
    /// fits `segment.bytes`, whose offsets fit 32-bit relative offsets and
    /// whose index entries fit the index limit become one segment.
    fn group_by_size<'a>(&self, sources: &[&'a Source]) -> Vec<Vec<&'a Source>> {
        let max_bytes = self.config.segment_bytes_effective();
        let max_index_entries = self.config.segment_index_bytes / 12;
        let interval = self.config.index_interval_bytes.max(1);
        let mut groups: Vec<Vec<&Source>> = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            let next_base = sources
                .get(i + 1)
                .map_or(self.first_uncleanable_offset, |n| n.base_offset);
            let fits = groups.last().is_some_and(|g: &Vec<&Source>| {
                let size: u64 = g.iter().map(|x| x.size).sum::<u64>() + s.size;
                size <= max_bytes
                    && size / interval < max_index_entries
                    && next_base.saturating_sub(g[0].base_offset) <= i64::from(i32::MAX)
            });
            if fits {
                groups.last_mut().expect("checked").push(s);
            } else {
                groups.push(vec![s]);
            }
        }
        groups
    }

    /// Copies what survives of one source segment into `out`.
    #[allow(clippy::too_many_arguments)]
    fn clean_segment(
        &self,
        source: &Source,
        map: &HashMap<Bytes, i64>,
        end_offset: i64,
        horizon: i64,
        out: &mut Segment,
        stats: &mut CleanStats,
        delete_horizon: &mut i64,
        markers: &mut MarkerTracker,
    ) -> Result<(), LogError> {
        let mut reader = SourceReader::new(source);
        let out_base = out.base_offset();
        let context = || format!("write cleaned segment {out_base}");
        while let Some((header, bytes)) = reader.next()? {
            if header.next_offset() <= self.log_start_offset {
                continue;
            }
            let last_of_producer = header.has_producer_id()
                && self.producer_last_offsets.get(&header.producer_id)
                    == Some(&header.last_offset());
            let records = compact_batch::records(&bytes, &header)
                .map_err(|e| LogError::Corrupt(e.to_string()))?;
            if header.is_control() {
                let written = if !markers.marker_removable(&header, &records) {
                    bytes
                } else {
                    match compact_batch::delete_horizon(&header) {
                        Some(h) if h <= self.now_ms => {
                            markers.removed_markers.insert(header.base_offset);
                            if !last_of_producer {
                                continue;
                            }
                            compact_batch::empty_batch(&bytes)
                        }
                        Some(h) => {
                            *delete_horizon = (*delete_horizon).max(h);
                            bytes
                        }
                        None => {
                            *delete_horizon = (*delete_horizon).max(horizon);
                            compact_batch::stamped(&bytes, &header, &records, horizon)
                                .map_err(LogError::Corrupt)?
                        }
                    }
                };
                let new_header = BatchHeader::parse(&written)
                    .map_err(|e| LogError::Corrupt(format!("cleaned batch does not parse: {e}")))?;
                append(out, &written, new_header).map_err(LogError::io(context()))?;
                continue;
            }
            stats.records_read += records.len() as u64;
            let aborted = self.aborted.contains(&header);
            markers.on_data_batch(&header, aborted);
            let filtered = if aborted {
                // Aborted data goes, whatever its keys.
                Filtered::Dropped
            } else {
                let batch_horizon = compact_batch::delete_horizon(&header);
                let keep =
                    |r: &RecordView| keep_record(r, map, end_offset, batch_horizon, self.now_ms);
                compact_batch::filter(&bytes, &header, &records, keep, horizon)
                    .map_err(LogError::Corrupt)?
            };
            let written = match filtered {
                Filtered::Unchanged => bytes,
                Filtered::Rewritten(new) => new,
                Filtered::Dropped => {
                    if !last_of_producer {
                        continue;
                    }
                    compact_batch::empty_batch(&bytes)
                }
            };
            let new_header = BatchHeader::parse(&written)
                .map_err(|e| LogError::Corrupt(format!("cleaned batch does not parse: {e}")))?;
            stats.records_kept += new_header.records_count.max(0) as u64;
            if let Some(h) = compact_batch::delete_horizon(&new_header) {
                let still_has_tombstones = compact_batch::records(&written, &new_header)
                    .map(|rs| rs.iter().any(|r| r.tombstone))
                    .unwrap_or(false);
                if still_has_tombstones {
                    *delete_horizon = (*delete_horizon).max(h);
                }
            }
            append(out, &written, new_header).map_err(LogError::io(context()))?;
        }
        Ok(())
    }
}

/// Kafka's `shouldRetainRecord`: records past the mapped part stay; keyless
/// records go; a record stays if it is its key's latest, and a tombstone
/// only until its batch's delete horizon.
fn keep_record(
    r: &RecordView,
    map: &HashMap<Bytes, i64>,
    end_offset: i64,
    batch_horizon: Option<i64>,
    now_ms: i64,
) -> bool {
    if r.offset >= end_offset {
        return true;
    }
    let Some(key) = &r.key else { return false };
    let latest = map.get(key).is_none_or(|&o| r.offset >= o);
    let keep_value = !r.tombstone || batch_horizon.is_none_or(|h| now_ms < h);
    latest && keep_value
}

fn append(out: &mut Segment, bytes: &[u8], header: BatchHeader) -> std::io::Result<()> {
    let placed = PlacedBatch {
        header,
        head: bytes.to_vec(),
        rest: &[],
    };
    out.append(std::slice::from_ref(&placed))
        .map_err(|e| e.error)
}

/// Sequential reader of a sealed segment through a shared handle.
struct SourceReader<'a> {
    source: &'a Source,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> SourceReader<'a> {
    fn new(source: &'a Source) -> SourceReader<'a> {
        SourceReader {
            source,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    fn window(&mut self, pos: u64, len: usize) -> Result<&[u8], LogError> {
        let buffered_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || pos + len as u64 > buffered_end {
            let want = (len.max(READ_BLOCK_BYTES) as u64).min(self.source.size - pos) as usize;
            self.buf.resize(want, 0);
            read_exact(&*self.source.file, pos, &mut self.buf).map_err(LogError::io(format!(
                "read segment {} for cleaning",
                self.source.base_offset
            )))?;
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from..from + len])
    }

    fn next(&mut self) -> Result<Option<(BatchHeader, Vec<u8>)>, LogError> {
        let remaining = self.source.size.saturating_sub(self.pos);
        if remaining == 0 {
            return Ok(None);
        }
        let (base, pos) = (self.source.base_offset, self.pos);
        let corrupt = move |e: String| LogError::Corrupt(format!("segment {base} at {pos}: {e}"));
        if remaining < BATCH_HEADER_BYTES as u64 {
            return Err(corrupt("torn batch header".into()));
        }
        let header = BatchHeader::parse(self.window(self.pos, BATCH_HEADER_BYTES)?)
            .map_err(|e| corrupt(e.to_string()))?;
        let total = header.total_bytes();
        if total as u64 > remaining {
            return Err(corrupt("torn batch".into()));
        }
        let bytes = self.window(self.pos, total)?.to_vec();
        self.pos += total as u64;
        Ok(Some((header, bytes)))
    }
}

fn read_exact(file: &dyn SharedFile, mut pos: u64, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(pos, buf) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "segment shorter than when cleaning started",
                ))
            }
            Ok(n) => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What the cleaner remembers across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CleanerCheckpoint {
    /// The offset below which the log is clean.
    pub first_dirty_offset: i64,
    /// Latest delete horizon of a batch still holding tombstones, or -1.
    pub delete_horizon: i64,
}

impl CleanerCheckpoint {
    /// `1 <first dirty offset> <delete horizon> <crc32c of the text before, 8 hex digits>`.
    fn encode(&self) -> String {
        let body = format!("1 {} {}", self.first_dirty_offset, self.delete_horizon);
        let crc = crc32c::crc32c(body.as_bytes());
        format!("{body} {crc:08x}\n")
    }

    fn decode(text: &str) -> Option<CleanerCheckpoint> {
        let (body, crc) = text.strip_suffix('\n')?.rsplit_once(' ')?;
        if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
            return None;
        }
        let mut fields = body.strip_prefix("1 ")?.split(' ');
        let first_dirty_offset = fields.next()?.parse().ok()?;
        let delete_horizon = fields.next()?.parse().ok()?;
        fields.next().is_none().then_some(CleanerCheckpoint {
            first_dirty_offset,
            delete_horizon,
        })
    }

    /// The stored checkpoint; `None` if missing or unreadable (the cleaner
    /// then starts from the log start, which only costs work).
    pub fn read(storage: &dyn Storage) -> Option<CleanerCheckpoint> {
        let bytes = read_small_file(
            storage,
            CLEANER_CHECKPOINT_FILE,
            CLEANER_CHECKPOINT_MAX_BYTES,
        )
        .ok()?;
        let parsed = std::str::from_utf8(&bytes)
            .ok()
            .and_then(CleanerCheckpoint::decode);
        if parsed.is_none() {
            warn!("ignoring corrupt cleaner checkpoint");
        }
        parsed
    }

    fn write(&self, storage: &dyn Storage) -> std::io::Result<()> {
        write_atomically(storage, CLEANER_CHECKPOINT_FILE, self.encode().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaner_checkpoint_text_is_pinned_and_checked() {
        let c = CleanerCheckpoint {
            first_dirty_offset: 1200,
            delete_horizon: -1,
        };
        let text = c.encode();
        let crc = crc32c::crc32c(b"1 1200 -1");
        assert_eq!(text, format!("1 1200 -1 {crc:08x}\n"));
        assert_eq!(CleanerCheckpoint::decode(&text), Some(c));
        assert_eq!(
            CleanerCheckpoint::decode(&text.replace("1200", "1201")),
            None
        );
        assert_eq!(CleanerCheckpoint::decode(""), None);
    }
}
