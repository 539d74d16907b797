//! Opening a [`Log`]: loading segments, recovering a torn tail after an
//! unclean shutdown, rebuilding damaged indexes, restoring the log start
//! offset and the producer state.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use tracing::{info, warn};

use crate::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use crate::cleaner::{CleanerCheckpoint, SWAP_SUFFIX};
use crate::config::LogConfig;
use crate::error::LogError;
use crate::file_storage::FileStorage;
use crate::leader_epoch::{LeaderEpochCache, LEADER_EPOCH_FILE};
use crate::log::Log;
use crate::producer_state::ProducerStateManager;
use crate::scanner::Scanned;
use crate::scanner::{BatchScanner, HEADER_SCAN_BLOCK_BYTES};
use crate::segment::{
    file_name, parse_file_name, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use crate::snapshot::{self, SNAPSHOT_MAX_BYTES, SNAPSHOT_SUFFIX};
use crate::storage::{read_small_file, Storage, TEMP_SUFFIX};
use crate::txn_index::TXN_INDEX_SUFFIX;
use crate::txn_marker;

/// Suffixes of files Kafka (or an interrupted Gregor) may leave mid-way
/// through a delete, clean or swap; none of them is live data for us.
const LEFTOVER_SUFFIXES: [&str; 4] = [TEMP_SUFFIX, ".deleted", ".cleaned", ".swap"];

impl Log {
    /// Opens (creating if needed) the log in directory `dir` on disk.
    /// `clean_shutdown` is the broker's word that the last `close` finished;
    /// if false, everything after the last recovery point is validated and
    /// a torn tail cut off.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        clean_shutdown: bool,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        let storage = FileStorage::open(dir).map_err(LogError::io(format!(
            "open log directory {}",
            dir.display()
        )))?;
        Log::open_with_storage(Arc::new(storage), config, clean_shutdown, now_ms)
    }

    /// Opens the log kept in `storage` (any backend).
    pub fn open_with_storage(
        storage: Arc<dyn Storage>,
        config: LogConfig,
        clean_shutdown: bool,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        let names = storage.list().map_err(LogError::io("list log directory"))?;
        let names = if names.iter().any(|n| n.ends_with(SWAP_SUFFIX)) {
            complete_swaps(&*storage, &names)?;
            storage.list().map_err(LogError::io("list log directory"))?
        } else {
            names
        };
        remove_leftovers(&*storage, &names)?;
        let checkpoint =
            Checkpoint::read(&*storage).map_err(LogError::io(format!("read {CHECKPOINT_FILE}")))?;
        let mut bases: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, LOG_SUFFIX))
            .collect();
        bases.sort_unstable();
        let cleaner = CleanerCheckpoint::read(&*storage);
        let mut log = Log {
            storage,
            config,
            // Exactly as many as there are: a Vec's first push reserves
            // four, and with one segment per partition the three spare
            // ones were a third of an idle broker's heap.
            segments: Vec::with_capacity(bases.len().max(1)),
            log_start_offset: 0,
            recovery_point: 0,
            checkpointed: None,
            producers: ProducerStateManager::default(),
            epochs: LeaderEpochCache::default(),
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            last_seen_ms: now_ms,
            pending_flush: None,
            failure: None,
            cleaned_upto: cleaner.map(|c| c.first_dirty_offset),
            delete_horizon: cleaner
                .map_or(gregor_protocol::batch::NO_TIMESTAMP, |c| c.delete_horizon),
        };
        log.load_segments(&bases, checkpoint, clean_shutdown, now_ms)?;
        log.settle_log_start(checkpoint, now_ms)?;
        log.recovery_point = log.log_end_offset();
        let stored_epochs = LeaderEpochCache::read(&*log.storage)
            .map_err(LogError::io(format!("read {LEADER_EPOCH_FILE}")))?;
        log.load_producer_state(&names, stored_epochs.clone())?;
        // Like the checkpoint below: rewritten only when it changed.
        if stored_epochs.as_ref() != Some(&log.epochs) {
            log.write_leader_epochs()?;
        }
        let current = Checkpoint {
            log_start_offset: log.log_start_offset,
            recovery_point: log.recovery_point,
        };
        if checkpoint == Some(current) {
            // A clean shutdown left exactly this behind; writing it again
            // costs two fsyncs per partition on every start.
            log.checkpointed = checkpoint;
        } else {
            log.write_checkpoint()?;
        }
        info!(
            log_start_offset = log.log_start_offset,
            log_end_offset = log.log_end_offset(),
            segments = log.segments.len(),
            producers = log.producers.len(),
            clean_shutdown,
            "log opened"
        );
        Ok(log)
    }

    /// Opens every segment; recovers those after the recovery point (after
    /// an unclean shutdown) and any whose indexes are missing or damaged.
    /// A segment that loses bytes to recovery ends the log: later segments
    /// are deleted, as Kafka does.
    fn load_segments(
        &mut self,
        bases: &[i64],
        checkpoint: Option<Checkpoint>,
        clean_shutdown: bool,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let recover_from = if clean_shutdown {
            bases.len()
        } else {
            let recovery_point = checkpoint.map_or(i64::MIN, |c| c.recovery_point);
            bases
                .partition_point(|&b| b <= recovery_point)
                .saturating_sub(1)
        };
        for (i, &base) in bases.iter().enumerate() {
            let context = format!("open segment {base}");
            let (mut segment, missing) = Segment::open(&self.storage, base, &self.config, now_ms)
                .map_err(LogError::io(&context))?;
            let is_last = i + 1 == bases.len();
            let reason = match missing {
                _ if i >= recover_from => Some("unclean shutdown".to_string()),
                Some(missing) => Some(missing),
                None => match segment
                    .check_indexes(is_last)
                    .map_err(LogError::io(&context))?
                {
                    Some(problem) => Some(problem),
                    None => segment.load().map_err(LogError::io(&context))?,
                },
            };
            let mut truncated = 0;
            if let Some(reason) = reason {
                info!(segment = base, %reason, "recovering segment");
                truncated = segment
                    .recover()
                    .map_err(LogError::io(format!("recover segment {base}")))?;
                // A segment that was and is empty has nothing to make
                // durable; skipping its three fsyncs matters when thousands
                // of idle partitions come back from a kill -9.
                if truncated > 0 || segment.size() > 0 {
                    segment
                        .flush()
                        .map_err(LogError::io(format!("fsync recovered segment {base}")))?;
                }
            }
            if let Some(previous) = self.segments.last() {
                if previous.next_offset() > base {
                    return Err(LogError::Corrupt(format!(
                        "segment {} runs to offset {}, past the next segment's base {base}",
                        previous.base_offset(),
                        previous.next_offset()
                    )));
                }
            }
            self.segments.push(segment);
            if truncated > 0 {
                warn!(
                    segment = base,
                    truncated, "recovery cut a torn or corrupt tail"
                );
                self.delete_segment_files(&bases[i + 1..])?;
                break;
            }
        }
        Ok(())
    }

    fn delete_segment_files(&self, bases: &[i64]) -> Result<(), LogError> {
        for &base in bases {
            warn!(segment = base, "deleting segment after a truncated one");
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                let name = file_name(base, suffix);
                self.storage
                    .remove(&name)
                    .map_err(LogError::io(format!("remove {name}")))?;
            }
        }
        Ok(())
    }

    /// Sets the log start offset from the checkpoint and the first segment,
    /// creating an empty segment when there is none, and deletes segments
    /// wholly below the start (a DeleteRecords cut short by a crash).
    fn settle_log_start(
        &mut self,
        checkpoint: Option<Checkpoint>,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let checkpointed_start = checkpoint.map_or(0, |c| c.log_start_offset.max(0));
        if self.segments.is_empty() {
            let segment = Segment::create(&self.storage, checkpointed_start, &self.config, now_ms)
                .map_err(LogError::io("create first segment"))?;
            self.segments.push(segment);
        }
        self.log_start_offset = checkpointed_start.max(self.segments[0].base_offset());
        if self.log_start_offset > self.log_end_offset() {
            // Recovery lost data below a DeleteRecords point: nothing of the
            // old log is readable, so start an empty one at the start offset.
            warn!(
                log_start_offset = self.log_start_offset,
                log_end_offset = self.log_end_offset(),
                "log end fell below the log start offset; starting empty"
            );
            for segment in std::mem::take(&mut self.segments) {
                segment
                    .delete_files(&*self.storage)
                    .map_err(LogError::io("delete segment"))?;
            }
            let segment =
                Segment::create(&self.storage, self.log_start_offset, &self.config, now_ms)
                    .map_err(LogError::io("create segment"))?;
            self.segments.push(segment);
        }
        self.delete_segments_below_start()
    }

    /// Restores producer state from the newest valid snapshot at or below
    /// the log end offset, then replays the batches after it. Snapshots
    /// past the end (left by a truncated tail) or damaged are deleted.
    ///
    /// Recovered segments get their transaction index back from the same
    /// replay, which must then start at or below the first of them (as
    /// Kafka's `truncateAndReload` before `LogSegment.recover`): a newer
    /// snapshot is passed over, and with none old enough the state is
    /// rebuilt from the start of the log.
    ///
    /// The leader-epoch cache comes back the same way: the stored one, cut
    /// to the recovered log, completed from the same replay (the active
    /// segment is always replayed after an unclean shutdown, and it holds
    /// any batch whose epoch entry a crash kept from being written); with
    /// no usable file, rebuilt from every batch.
    fn load_producer_state(
        &mut self,
        names: &[String],
        stored_epochs: Option<LeaderEpochCache>,
    ) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        let replay_limit = self
            .segments
            .iter()
            .find(|s| s.txn_index().rebuilding())
            .map_or(leo, |s| s.base_offset());
        let mut offsets: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, SNAPSHOT_SUFFIX))
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        let mut loaded = None;
        for offset in offsets {
            let name = file_name(offset, SNAPSHOT_SUFFIX);
            let parsed = if offset > leo {
                Err(format!("it is past the log end offset {leo}"))
            } else if loaded.is_some() || offset > replay_limit {
                continue;
            } else {
                read_small_file(&*self.storage, &name, SNAPSHOT_MAX_BYTES)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| snapshot::decode(&bytes, offset))
            };
            match parsed {
                Ok(states) => loaded = Some((offset, states)),
                Err(reason) => {
                    warn!(snapshot = %name, %reason, "discarding producer snapshot");
                    self.storage
                        .remove(&name)
                        .map_err(LogError::io(format!("remove {name}")))?;
                }
            }
        }
        let (from, states) = loaded.unwrap_or((i64::MIN, Vec::new()));
        self.producers = ProducerStateManager::from_states(states);
        let epochs_from = match stored_epochs {
            Some(mut epochs) => {
                epochs.truncate_from_end(leo);
                epochs.truncate_from_start(self.log_start_offset);
                self.epochs = epochs;
                from
            }
            None => i64::MIN,
        };
        self.replay_batches(from, epochs_from)?;
        // The first segment may begin below the log start offset.
        self.epochs.truncate_from_start(self.log_start_offset);
        Ok(())
    }

    /// Feeds every batch starting at or after `from` to the producer state,
    /// and those at or after `epochs_from` to the leader-epoch cache.
    fn replay_batches(&mut self, from: i64, epochs_from: i64) -> Result<(), LogError> {
        let first_offset = from.min(epochs_from);
        let first = self.segment_index(first_offset);
        for i in first..self.segments.len() {
            let segment = &self.segments[i];
            let context = format!(
                "replay producer state from segment {}",
                segment.base_offset()
            );
            let start = if i == first {
                match segment
                    .find_batch(first_offset)
                    .map_err(LogError::io(&context))?
                {
                    Some((position, _)) => position,
                    None => continue,
                }
            } else {
                0
            };
            let rebuilding = segment.txn_index().rebuilding();
            let mut aborted = Vec::new();
            let mut scanner = segment.scanner(start);
            while let Scanned::Batch { header, position } =
                scanner.next_header().map_err(LogError::io(&context))?
            {
                if header.base_offset >= from {
                    let marker = if header.is_control() && header.has_producer_id() {
                        let bytes = scanner
                            .batch_bytes(position, &header)
                            .map_err(LogError::io(&context))?;
                        // Appends check markers; one that does not parse
                        // now (a cleaned, emptied batch) ends nothing.
                        txn_marker::decode(bytes, &header).ok().flatten()
                    } else {
                        None
                    };
                    let completed = self.producers.update(&header, marker);
                    if let Some(c) = completed.filter(|c| c.aborted && rebuilding) {
                        aborted.push(c.entry);
                    }
                }
                // Kafka's recovery assigns only epochs newer than the
                // latest known, so replaying batches the cache already
                // covers cannot drop its later entries.
                let epoch = header.partition_leader_epoch;
                if header.base_offset >= epochs_from
                    && self.epochs.latest_epoch().is_none_or(|l| epoch > l)
                {
                    self.epochs.assign(epoch, header.base_offset);
                }
            }
            if rebuilding {
                let storage = self.storage.clone();
                let base = self.segments[i].base_offset();
                let txn_index = self.segments[i].txn_index_mut();
                let io =
                    || LogError::io(format!("rebuild the transaction index of segment {base}"));
                for entry in aborted {
                    txn_index.append(&*storage, entry).map_err(io())?;
                }
                txn_index.sync().map_err(io())?;
                txn_index.rebuilt();
            }
        }
        Ok(())
    }
}

/// Completes swaps of cleaned segments cut short by a crash. A
/// `<base>.log.swap` file is a whole, fsynced cleaned segment that replaces
/// every segment whose base offset lies in `[base, its next offset)`: those
/// are deleted and the swap files take their final names. (Segments of the
/// same group past that range hold only offsets the cleaned segment does
/// not, so keeping them leaves a consistent, merely less compacted, log.)
/// `.cleaned` files are not yet committed and are removed with the other
/// leftovers.
fn complete_swaps(storage: &dyn Storage, names: &[String]) -> Result<(), LogError> {
    let log_swap = format!("{LOG_SUFFIX}{SWAP_SUFFIX}");
    let mut bases: Vec<i64> = names
        .iter()
        .filter_map(|n| parse_file_name(n.strip_suffix(SWAP_SUFFIX)?, LOG_SUFFIX))
        .collect();
    bases.sort_unstable();
    let live: Vec<i64> = names
        .iter()
        .filter_map(|n| parse_file_name(n, LOG_SUFFIX))
        .collect();
    for base in bases {
        let swap_name = format!("{}{SWAP_SUFFIX}", file_name(base, LOG_SUFFIX));
        debug_assert!(swap_name.ends_with(&log_swap));
        let file = storage
            .open(&swap_name)
            .map_err(LogError::io(format!("open {swap_name}")))?;
        let mut next_offset = base;
        let mut scanner = BatchScanner::new(&*file, 0, HEADER_SCAN_BLOCK_BYTES);
        while let Scanned::Batch { header, .. } = scanner
            .next_header()
            .map_err(LogError::io(format!("read {swap_name}")))?
        {
            next_offset = header.next_offset();
        }
        drop(file);
        for &old in live
            .iter()
            .filter(|&&b| b >= base && b < next_offset.max(base + 1))
        {
            info!(
                segment = old,
                swap = base,
                "completing swap: deleting replaced segment"
            );
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                let name = file_name(old, suffix);
                storage
                    .remove(&name)
                    .map_err(LogError::io(format!("remove {name}")))?;
            }
        }
        for suffix in [
            INDEX_SUFFIX,
            TIME_INDEX_SUFFIX,
            TXN_INDEX_SUFFIX,
            LOG_SUFFIX,
        ] {
            let to = file_name(base, suffix);
            let from = format!("{to}{SWAP_SUFFIX}");
            if names.contains(&from) {
                storage
                    .rename(&from, &to)
                    .map_err(LogError::io(format!("rename {from}")))?;
            }
        }
        info!(segment = base, "completed the swap of a cleaned segment");
    }
    storage
        .sync_dir()
        .map_err(LogError::io("sync log directory"))
}

/// Removes temp files, Kafka's in-flight leftovers and index files whose
/// log file is gone.
fn remove_leftovers(storage: &dyn Storage, names: &[String]) -> Result<(), LogError> {
    let logs: HashSet<i64> = names
        .iter()
        .filter_map(|n| parse_file_name(n, LOG_SUFFIX))
        .collect();
    for name in names {
        let leftover = LEFTOVER_SUFFIXES.iter().any(|s| name.ends_with(s));
        let orphan = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]
            .iter()
            .any(|suffix| parse_file_name(name, suffix).is_some_and(|base| !logs.contains(&base)));
        if leftover || orphan {
            warn!(file = %name, "removing leftover file");
            storage
                .remove(name)
                .map_err(LogError::io(format!("remove {name}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn a_clean_open_leaves_an_up_to_date_checkpoint_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CHECKPOINT_FILE);
        let inode = || std::fs::metadata(&path).map(|m| m.ino());
        Log::open(dir.path(), LogConfig::default(), true, 0)
            .unwrap()
            .close()
            .unwrap();
        let closed = inode().unwrap();
        let log = Log::open(dir.path(), LogConfig::default(), true, 0).unwrap();
        assert_eq!(inode().unwrap(), closed, "rewritten although unchanged");
        drop(log);
        std::fs::remove_file(&path).unwrap();
        Log::open(dir.path(), LogConfig::default(), false, 0).unwrap();
        assert!(inode().is_ok(), "a missing checkpoint is written at open");
    }
}
