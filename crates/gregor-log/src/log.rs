//! [`Log`]: one partition's log. This file holds the type, the append path
//! and maintenance (roll, flush, delete-records, close); `log_open.rs`
//! holds opening and recovery, `log_read.rs` reads and timestamp lookups,
//! `log_txn.rs` transaction markers, the last stable offset and KIP-890
//! verification.

use std::sync::Arc;

use gregor_protocol::batch::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, split_batches,
    validate_batch, BatchHeader, BATCH_HEADER_BYTES, NO_TIMESTAMP,
};
use tracing::{debug, warn};

use crate::checkpoint::Checkpoint;
use crate::config::{LogConfig, TimestampType};
use crate::error::{AppendError, LogError};
use crate::leader_epoch::{EpochEntry, LeaderEpochCache};
use crate::log_txn::pending_after;
use crate::producer_state::{
    AppendOrigin, BatchMetadata, Pending, ProducerState, ProducerStateManager, SequenceCheck,
    VerificationGuard,
};
use crate::segment::{file_name, parse_file_name, Segment, SegmentWriteError};
use crate::slice::FileSlice;
use crate::snapshot::{self, SNAPSHOT_SUFFIX};
use crate::storage::{write_atomically, SharedFile, Storage};
use crate::txn_marker::{self, TxnMarker};

/// Producer snapshots kept on disk; older ones are deleted. Two lets
/// recovery fall back one roll if the newest lies past a truncated tail.
const SNAPSHOTS_RETAINED: usize = 2;

/// What an append did, for the produce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The time stamped on the batches under LogAppendTime, else -1. For a
    /// duplicate, the original batch's timestamp, as Kafka reports it.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    /// The batch was a retry of one already in the log; nothing was
    /// written and the offsets are the original ones.
    pub duplicate: bool,
    pub max_timestamp: i64,
    pub record_count: usize,
}

/// How an append is made, beyond its bytes. The default is a client's
/// append that is *not* verified for KIP-890: a transactional batch that
/// would start a transaction in this partition is then refused
/// (INVALID_TXN_STATE), which is Kafka's behaviour with
/// `transaction.partition.verification.enable=true`. Refusing is the safe
/// default: an unverified batch may belong to a transaction the
/// coordinator has already aborted, which nothing would ever end. The
/// broker passes the guard it got from [`Log::start_verification`] once
/// the coordinator confirmed the partition is in the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendOptions {
    pub origin: AppendOrigin,
    pub verification_guard: VerificationGuard,
}

/// Whole stored batches, in offset order, as they lie on disk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadResult {
    /// Contiguous runs of batches (one per segment touched); concatenated
    /// they form a valid `records` field.
    pub records: Vec<bytes::Bytes>,
    pub bytes: usize,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// [`ReadResult`] before the bytes are read: where the batches lie.
#[derive(Debug, Clone, Default)]
pub struct SlicedRead {
    /// Contiguous runs of batches (one per segment touched), in order.
    pub slices: Vec<FileSlice>,
    pub bytes: usize,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// One partition's log: segments, indexes, checkpoint and producer state
/// in one directory. Owned by the broker's `Partition` behind a mutex; all
/// I/O is synchronous (page cache), so callers keep it off async threads
/// or accept short blocking.
pub struct Log {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) config: LogConfig,
    /// Sorted by base offset, never empty; the last one is active.
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start_offset: i64,
    /// Everything below this offset has been fsynced.
    pub(crate) recovery_point: i64,
    pub(crate) checkpointed: Option<Checkpoint>,
    pub(crate) producers: ProducerStateManager,
    /// First offset of each leader epoch, for OffsetForLeaderEpoch.
    pub(crate) epochs: LeaderEpochCache,
    pub(crate) unflushed_messages: u64,
    pub(crate) last_flush_ms: i64,
    pub(crate) last_seen_ms: i64,
    /// Rolled segments whose fsync has not been handed out yet.
    pub(crate) pending_flush: Option<FlushJob>,
    /// Set when a failed write could not be undone; the log then refuses
    /// everything (Kafka takes the log directory offline).
    pub(crate) failure: Option<String>,
    /// The cleaner's checkpoint: the offset below which the log is clean.
    pub(crate) cleaned_upto: Option<i64>,
    /// Latest delete horizon of a cleaned batch still holding tombstones;
    /// once passed, the cleaner runs again to drop them. Kept in the
    /// cleaner checkpoint beside `cleaned_upto`.
    pub(crate) delete_horizon: i64,
}

// The broker shares partitions (and so logs) across tokio tasks.
const _: fn() = || {
    fn shared_across_tasks<T: Send + Sync>() {}
    shared_across_tasks::<Log>();
};

/// The fsync of rolled segments, run off the log's lock. See
/// [`Log::take_flush_job`].
#[derive(Default)]
pub struct FlushJob {
    files: Vec<Arc<dyn SharedFile>>,
    /// Everything below this offset is durable once the job has run.
    upto: i64,
}

impl FlushJob {
    /// Fsyncs the rolled segments' log and index files.
    pub fn run(&self) -> std::io::Result<()> {
        self.files.iter().try_for_each(|f| f.sync())
    }

    pub fn upto(&self) -> i64 {
        self.upto
    }
}

impl std::fmt::Debug for FlushJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushJob")
            .field("files", &self.files.len())
            .field("upto", &self.upto)
            .finish()
    }
}

/// A batch ready to be written: its rewritten header, then the rest of the
/// producer's bytes as they arrived.
pub(crate) struct PlacedBatch<'a> {
    /// The header as stored (offsets assigned), parsed.
    pub header: BatchHeader,
    /// The first [`BATCH_HEADER_BYTES`] of the batch, rewritten; under
    /// LogAppendTime the whole batch.
    pub head: Vec<u8>,
    pub rest: &'a [u8],
}

impl PlacedBatch<'_> {
    pub fn len(&self) -> usize {
        self.head.len() + self.rest.len()
    }
}

/// Totals of a validated append.
struct Validated {
    records: u64,
}

impl Log {
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The next offset to assign.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of all segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.iter().map(Segment::base_offset).collect()
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Takes a changed topic config at run time, as Kafka does after
    /// IncrementalAlterConfigs: size and index limits apply from the next
    /// roll, batch limits and timestamp type from the next append.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Producer state, by producer id (for DescribeProducers): epoch, last
    /// sequence, ongoing transaction's first offset, coordinator epoch.
    pub fn producer_states(&self) -> Vec<ProducerState> {
        self.producers.states()
    }

    /// The leader-epoch cache's entries, oldest first.
    pub fn leader_epochs(&self) -> Vec<EpochEntry> {
        self.epochs.entries().to_vec()
    }

    /// Where `epoch` ends in this log, as Kafka's `UnifiedLog.endOffsetForEpoch`
    /// answers OffsetForLeaderEpoch: `(epoch found, end offset)`, or `None`
    /// when the cache knows nothing that answers it.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let (found, offset) = self.epochs.end_offset_for(epoch, self.log_end_offset());
        (offset != crate::leader_epoch::UNDEFINED_EPOCH_OFFSET).then_some((found, offset))
    }

    /// Forgets producers idle for `expiration_ms` (the broker's
    /// `producer.id.expiration.ms` timer). Returns how many were removed.
    pub fn remove_expired_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.remove_expired(now_ms, expiration_ms)
    }

    pub(crate) fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    pub(crate) fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Index of the segment that would hold `offset` (the first one for
    /// offsets below it).
    pub(crate) fn segment_index(&self, offset: i64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1)
    }

    pub(crate) fn check_healthy(&self) -> Result<(), LogError> {
        match &self.failure {
            Some(reason) => Err(LogError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    /// Appends a produce request's `records` from a client. See [`Log::append_from`].
    pub fn append(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        self.append_from(records, leader_epoch, now_ms, AppendOrigin::Client)
    }

    /// [`Log::append_with`] without a verification guard.
    pub fn append_from(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, AppendError> {
        let options = AppendOptions {
            origin,
            verification_guard: VerificationGuard::SENTINEL,
        };
        self.append_with(records, leader_epoch, now_ms, options)
    }

    /// Validates every batch in `records`, checks idempotent-producer
    /// sequences, assigns offsets and the leader epoch (and LogAppendTime
    /// if configured), then writes the batches with one vectored write,
    /// rolling first if needed. All-or-nothing across batches. The
    /// producer's bytes are not copied: only each batch's 61-byte header is
    /// rewritten, in a copy written in front of the untouched rest (under
    /// LogAppendTime, which changes the CRC, the whole batch is copied).
    ///
    /// Transactions (Kafka's producer-state rules): a transactional batch
    /// starts its producer's transaction here unless one is ongoing (and
    /// needs `options.verification_guard` then); a marker (control batch,
    /// coordinator origin only) ends it, bumps the producer epoch if newer,
    /// and for an abort adds an entry to the active segment's transaction
    /// index.
    pub fn append_with(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
        options: AppendOptions,
    ) -> Result<AppendInfo, AppendError> {
        let origin = options.origin;
        self.check_healthy()?;
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        let validated = self.validate(records, origin)?;
        let markers = match self.check_producers(records, options)? {
            Ok(markers) => markers,
            Err(original) => return Ok(self.duplicate_info(original)),
        };
        let append_time =
            (self.config.message_timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        let (base_offset, last_offset, max_timestamp, placed) =
            self.assign_offsets(records, leader_epoch, append_time)?;
        if self.active().should_roll(
            &self.config,
            records.len() as u64,
            max_timestamp,
            last_offset,
            now_ms,
        ) {
            self.roll(now_ms)?;
        }
        self.write(&placed)?;
        let mut epochs_changed = false;
        let mut aborted = Vec::new();
        for (batch, marker) in placed.iter().zip(markers) {
            if let Some(completed) = self.producers.update(&batch.header, marker) {
                aborted.extend(completed.aborted.then_some(completed));
            }
            epochs_changed |= self.epochs.assign(
                batch.header.partition_leader_epoch,
                batch.header.base_offset,
            );
        }
        if epochs_changed {
            self.write_leader_epochs()?;
        }
        self.index_aborts(&aborted)?;
        self.unflushed_messages = self.unflushed_messages.saturating_add(validated.records);
        if self.unflushed_messages >= self.config.flush_interval_messages {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time_ms: append_time.unwrap_or(NO_TIMESTAMP),
            log_start_offset: self.log_start_offset,
            duplicate: false,
            max_timestamp,
            record_count: validated.records as usize,
        })
    }

    /// Kafka's `analyzeAndValidateRecords` plus the checks of
    /// `LogValidator.validateBatch`, in Kafka's order.
    fn validate(&self, records: &[u8], origin: AppendOrigin) -> Result<Validated, AppendError> {
        if records.is_empty() {
            return Err(AppendError::InvalidRecord(
                "the append holds no record batches".into(),
            ));
        }
        let mut total = Validated { records: 0 };
        for item in split_batches(records) {
            let (header, range) = item?;
            if origin == AppendOrigin::Client && header.base_offset != 0 {
                return Err(AppendError::InvalidRecord(format!(
                    "the base offset of a produced batch must be 0, not {}",
                    header.base_offset
                )));
            }
            let size = header.total_bytes();
            if size > self.config.max_message_bytes {
                return Err(AppendError::MessageTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                });
            }
            validate_batch(&records[range])?;
            check_batch_fields(&header, origin)?;
            total.records += header.records_count as u64;
        }
        let max = self.config.segment_bytes_effective();
        if records.len() as u64 > max {
            return Err(AppendError::RecordListTooLarge {
                size: records.len(),
                max,
            });
        }
        Ok(total)
    }

    /// Runs the producer checks over every batch; a duplicate anywhere
    /// makes the whole append a duplicate (`Ok(Err(original))`), as in
    /// Kafka. Otherwise returns each batch's transaction marker, if it is
    /// a control batch of a producer.
    #[allow(clippy::type_complexity)]
    fn check_producers(
        &self,
        records: &[u8],
        options: AppendOptions,
    ) -> Result<Result<Vec<Option<TxnMarker>>, BatchMetadata>, AppendError> {
        let mut pending: Vec<Pending> = Vec::new();
        let mut markers = Vec::with_capacity(1);
        for (header, range) in split_batches(records).flatten() {
            let marker = if header.is_control() && header.has_producer_id() {
                txn_marker::decode(&records[range], &header).map_err(AppendError::InvalidRecord)?
            } else {
                None
            };
            let check = self.producers.check(
                &header,
                options.origin,
                marker,
                options.verification_guard,
                &pending,
            )?;
            if let SequenceCheck::Duplicate(original) = check {
                return Ok(Err(original));
            }
            if header.has_producer_id() {
                let before = pending
                    .iter()
                    .rev()
                    .find(|p| p.producer_id == header.producer_id)
                    .copied();
                pending.push(pending_after(&header, marker, before, &self.producers));
            }
            markers.push(marker);
        }
        Ok(Ok(markers))
    }

    fn duplicate_info(&self, original: BatchMetadata) -> AppendInfo {
        debug!(
            first = original.first_offset,
            last = original.last_offset,
            "duplicate produce of a cached batch"
        );
        AppendInfo {
            base_offset: original.first_offset,
            last_offset: original.last_offset,
            log_append_time_ms: original.timestamp,
            log_start_offset: self.log_start_offset,
            duplicate: true,
            max_timestamp: original.timestamp,
            record_count: original
                .last_offset
                .saturating_sub(original.first_offset)
                .saturating_add(1)
                .max(0) as usize,
        }
    }

    /// Places the validated batches: base offsets, leader epoch and
    /// (optionally) LogAppendTime go into a copy of each header. Returns
    /// first and last offset, the largest timestamp as stored, and the
    /// batches to write.
    fn assign_offsets<'a>(
        &self,
        records: &'a [u8],
        leader_epoch: i32,
        append_time: Option<i64>,
    ) -> Result<(i64, i64, i64, Vec<PlacedBatch<'a>>), AppendError> {
        let first = self.log_end_offset();
        let (mut next, mut max_timestamp, mut pos) = (first, NO_TIMESTAMP, 0usize);
        let mut placed = Vec::with_capacity(1);
        while pos < records.len() {
            let header = BatchHeader::parse(&records[pos..])?;
            let batch = &records[pos..pos + header.total_bytes()];
            let split = if append_time.is_some() {
                batch.len()
            } else {
                BATCH_HEADER_BYTES
            };
            let (head, rest) = batch.split_at(split);
            let mut head = head.to_vec();
            set_base_offset(&mut head, next);
            set_partition_leader_epoch(&mut head, leader_epoch);
            if let Some(now) = append_time {
                set_log_append_time(&mut head, now);
            }
            placed.push(PlacedBatch {
                header: BatchHeader::parse(&head)?,
                head,
                rest,
            });
            max_timestamp = max_timestamp.max(append_time.unwrap_or(header.max_timestamp));
            next += i64::from(header.last_offset_delta) + 1;
            pos += header.total_bytes();
        }
        Ok((first, next - 1, max_timestamp, placed))
    }

    fn write(&mut self, batches: &[PlacedBatch<'_>]) -> Result<(), LogError> {
        let base = self.active().base_offset();
        match self.active_mut().append(batches) {
            Ok(()) => Ok(()),
            Err(SegmentWriteError { error, undone }) => {
                if !undone {
                    warn!(segment = base, %error, "append failed and could not be undone; log goes offline");
                    self.failure = Some(format!("append to segment {base}: {error}"));
                }
                Err(LogError::Io {
                    context: format!("append to segment {base}"),
                    source: error,
                })
            }
        }
    }

    /// Starts a new active segment at the log end offset. The old one is
    /// sealed, and a producer snapshot is taken so unclean recovery replays
    /// only the new segment once the old one is durable. Its fsync is not
    /// done here, inside the append that rolled (a full segment is up to
    /// 1 GiB of dirty pages): like Kafka, which schedules that flush right
    /// after the roll, the log hands it out as a [`FlushJob`] for the
    /// caller to run off its lock; [`Log::flush_done`] then moves the
    /// recovery point past the old segment.
    pub(crate) fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        let new_base = self.log_end_offset();
        let old_base = self.active().base_offset();
        let context = format!("roll segment {old_base} to {new_base}");
        self.active_mut()
            .seal()
            .map_err(LogError::io(context.clone()))?;
        let files = self
            .active()
            .shared_files()
            .map_err(LogError::io(context.clone()))?;
        let segment = Segment::create(&self.storage, new_base, &self.config, now_ms)
            .map_err(LogError::io(context))?;
        self.segments.push(segment);
        let txn_file = self.segments[self.segments.len() - 2].txn_index().shared();
        let job = self.pending_flush.get_or_insert_with(FlushJob::default);
        job.files.extend(files);
        job.files.extend(txn_file);
        job.upto = new_base;
        self.write_snapshot(new_base)?;
        debug!(old_base, new_base, "rolled segment");
        Ok(())
    }

    /// The fsync of segments rolled since the last call, if any. The
    /// caller runs it ([`FlushJob::run`]) without holding the log and
    /// reports back with [`Log::flush_done`]. A job nobody takes only
    /// delays the recovery point: the next [`Log::flush`] or [`Log::close`]
    /// covers those segments too.
    pub fn take_flush_job(&mut self) -> Option<FlushJob> {
        self.pending_flush.take()
    }

    /// Records the outcome of a [`FlushJob`]: on success the recovery point
    /// moves to the job's end; a failed fsync takes the log offline, since
    /// the kernel may have dropped the dirty pages it could not write.
    pub fn flush_done(
        &mut self,
        job: &FlushJob,
        outcome: std::io::Result<()>,
    ) -> Result<(), LogError> {
        if let Err(e) = outcome {
            return Err(self.fail(&format!("fsync segments below {}", job.upto), e));
        }
        if self.failure.is_some() || job.upto <= self.recovery_point {
            return Ok(());
        }
        self.recovery_point = job.upto;
        self.write_checkpoint()
    }

    /// Rolls if the active segment is due by `segment.ms` or full, without
    /// an append. Kafka itself only rolls on the next append; this is for
    /// callers that want idle segments closed (e.g. before retention).
    pub fn roll_if_due(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.check_healthy()?;
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        let last_offset = self.log_end_offset() - 1;
        if self
            .active()
            .should_roll(&self.config, 0, now_ms, last_offset, now_ms)
        {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// An fsync failure loses data silently if retried (the kernel drops
    /// the dirty pages), so it takes the log offline.
    pub(crate) fn fail(&mut self, context: &str, error: std::io::Error) -> LogError {
        warn!(context, %error, "fsync failed; log goes offline");
        self.failure = Some(format!("{context}: {error}"));
        LogError::Io {
            context: context.to_string(),
            source: error,
        }
    }

    /// Fsyncs every segment holding data above the recovery point.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.check_healthy()?;
        let leo = self.log_end_offset();
        let from = self.segment_index(self.recovery_point);
        // Everything below the recovery point is durable: with nothing
        // appended since, only index entries held in memory may be missing
        // from disk. This keeps closing thousands of idle logs cheap.
        let idle = self.recovery_point == leo;
        for i in from..self.segments.len() {
            let base = self.segments[i].base_offset();
            let segment = &mut self.segments[i];
            let done = if idle {
                segment.flush_indexes()
            } else {
                segment.flush()
            };
            if let Err(e) = done {
                return Err(self.fail(&format!("fsync segment {base}"), e));
            }
        }
        self.recovery_point = leo;
        self.unflushed_messages = 0;
        self.last_flush_ms = self.last_seen_ms;
        // Recovery rescans the whole segment holding the checkpointed
        // recovery point, so the file only needs rewriting once that
        // segment is no longer the active one.
        let stale = self.checkpointed.is_none_or(|c| {
            self.segment_index(c.recovery_point) + 1 < self.segments.len()
                || c.log_start_offset != self.log_start_offset
        });
        if stale {
            self.write_checkpoint()?;
        }
        Ok(())
    }

    /// Flushes if `flush.ms` has passed since the last flush and anything
    /// is unflushed. The broker calls this on a timer.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
        if self.unflushed_messages > 0
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_interval_ms
        {
            self.flush()?;
            self.last_flush_ms = now_ms;
        }
        Ok(())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (durably)
    /// and deletes segments wholly below it. Returns the new log start
    /// offset; an offset at or below the current one changes nothing.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        self.check_healthy()?;
        let log_end_offset = self.log_end_offset();
        if offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_end_offset,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = offset;
        self.write_checkpoint()?;
        if offset == log_end_offset && self.active().size() > 0 {
            // Everything goes: roll so the old active segment can be deleted.
            self.roll(self.last_seen_ms)?;
        }
        self.delete_segments_below_start()?;
        Ok(offset)
    }

    pub(crate) fn delete_segments_below_start(&mut self) -> Result<(), LogError> {
        self.truncate_epochs_below_start()?;
        while self.segments.len() > 1 && self.segments[1].base_offset() <= self.log_start_offset {
            let segment = self.segments.remove(0);
            debug!(
                base = segment.base_offset(),
                "deleting segment below the log start offset"
            );
            segment
                .delete_files(&*self.storage)
                .map_err(LogError::io(format!(
                    "delete segment {}",
                    segment.base_offset()
                )))?;
        }
        Ok(())
    }

    pub(crate) fn write_checkpoint(&mut self) -> Result<(), LogError> {
        let checkpoint = Checkpoint {
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
        };
        checkpoint
            .write(&*self.storage)
            .map_err(LogError::io("write log checkpoint"))?;
        self.checkpointed = Some(checkpoint);
        Ok(())
    }

    /// The log start offset moved up (DeleteRecords, retention): the
    /// leader-epoch cache forgets what lies below it, as Kafka's
    /// `truncateFromStart`.
    pub(crate) fn truncate_epochs_below_start(&mut self) -> Result<(), LogError> {
        if self.epochs.truncate_from_start(self.log_start_offset) {
            self.write_leader_epochs()?;
        }
        Ok(())
    }

    /// Replaces `leader-epoch-checkpoint`. A failure takes the log offline,
    /// as Kafka does: the batches are written, and an epoch cache that
    /// does not match them would answer OffsetForLeaderEpoch wrongly.
    pub(crate) fn write_leader_epochs(&mut self) -> Result<(), LogError> {
        match self.epochs.write(&*self.storage) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail("write leader-epoch checkpoint", e)),
        }
    }

    /// Writes the producer state as of `offset` and prunes old snapshots.
    fn write_snapshot(&self, offset: i64) -> Result<(), LogError> {
        let name = file_name(offset, SNAPSHOT_SUFFIX);
        let bytes = snapshot::encode(offset, &self.producers.states());
        write_atomically(&*self.storage, &name, &bytes)
            .map_err(LogError::io(format!("write {name}")))?;
        let names = self
            .storage
            .list()
            .map_err(LogError::io("list log directory"))?;
        let mut offsets: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_file_name(n, SNAPSHOT_SUFFIX))
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        for old in offsets.into_iter().skip(SNAPSHOTS_RETAINED) {
            let old_name = file_name(old, SNAPSHOT_SUFFIX);
            self.storage
                .remove(&old_name)
                .map_err(LogError::io(format!("remove {old_name}")))?;
        }
        Ok(())
    }

    /// Clean shutdown: seals and fsyncs the active segment, writes the
    /// producer snapshot at the log end offset and the checkpoint, so the
    /// next open with `clean_shutdown` skips recovery. Index files on disk
    /// then hold exactly their valid entries, as Kafka leaves them.
    pub fn close(mut self) -> Result<(), LogError> {
        self.check_healthy()?;
        let base = self.active().base_offset();
        self.active_mut()
            .seal()
            .map_err(LogError::io(format!("seal segment {base}")))?;
        self.flush()?;
        let leo = self.log_end_offset();
        // A log nothing was appended to since its last snapshot (an idle
        // partition opened cleanly) already has both files as they would be
        // written; rewriting them costs four fsyncs per partition.
        let snapshot = file_name(leo, SNAPSHOT_SUFFIX);
        if self.storage.map(&snapshot).is_err() {
            self.write_snapshot(leo)?;
        }
        let current = Checkpoint {
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
        };
        if self.checkpointed != Some(current) {
            self.write_checkpoint()?;
        }
        Ok(())
    }

    /// Removes the whole partition directory (topic deletion).
    pub fn delete(self) -> Result<(), LogError> {
        self.storage
            .remove_all()
            .map_err(LogError::io("remove log directory"))
    }
}

/// Per-batch rules of Kafka's `LogValidator.validateBatch` that the batch
/// module does not know: these depend on who is appending.
fn check_batch_fields(h: &BatchHeader, origin: AppendOrigin) -> Result<(), AppendError> {
    if h.records_count == 0 {
        return Err(AppendError::InvalidRecord(
            "a produced batch must hold at least one record".into(),
        ));
    }
    if origin == AppendOrigin::Client && h.is_control() {
        return Err(AppendError::InvalidRecord(
            "clients may not write control batches".into(),
        ));
    }
    if h.has_producer_id() && !h.is_control() && h.base_sequence < 0 {
        return Err(AppendError::InvalidRecord(format!(
            "batch of producer {} has invalid base sequence {}",
            h.producer_id, h.base_sequence
        )));
    }
    Ok(())
}
