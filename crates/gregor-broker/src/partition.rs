//! One partition this broker leads: its log and its high watermark.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use gregor_log::{
    AppendError, AppendInfo, AppendOptions, AppendOrigin, Log, LogConfig, LogError, ReadError,
    ReadResult, VerificationGuard,
};
use gregor_protocol::batch::split_batches;
use gregor_protocol::kafka_protocol::indexmap::IndexMap;
use gregor_protocol::kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use gregor_protocol::record_keys::keyless_record_indexes;
use tokio::sync::watch;
use tracing::warn;
use uuid::Uuid;

/// A partition's log plus the offsets readers may see. Owned by the
/// `ReplicaManager`, shared by connection tasks as `Arc<Partition>`.
///
/// The log sits behind a mutex: appends are short synchronous writes to the
/// page cache, and serializing them is what keeps offsets dense. `None`
/// means the partition was deleted or closed while a request still held it.
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    leader_epoch: AtomicI32,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    compacted: AtomicBool,
    log: Mutex<Option<Log>>,
    /// High watermark; waiters (delayed fetches) subscribe to changes. On a
    /// single replica every append is committed at once, so it equals the
    /// log end offset.
    high_watermark: watch::Sender<i64>,
}

/// What a fetch of one partition found.
pub struct PartitionSlices {
    pub slices: Vec<gregor_log::FileSlice>,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// For read_committed reads: the aborted transactions in range.
    pub aborted: Option<Vec<gregor_log::AbortedTxn>>,
}

/// Why a partition refused a request.
#[derive(Debug)]
pub enum PartitionError {
    Append(AppendError),
    Read(ReadError),
    Log(LogError),
    /// The partition went away (topic deleted) while the request was in flight.
    Gone,
    /// A compacted topic refused records without a key; their indexes in the batch.
    KeylessRecords(Vec<i32>),
}

impl Partition {
    pub fn new(
        topic: String,
        index: i32,
        topic_id: Uuid,
        leader_epoch: i32,
        compacted: bool,
        log: Log,
    ) -> Partition {
        let (high_watermark, _) = watch::channel(log.log_end_offset());
        Partition {
            topic,
            index,
            topic_id,
            leader_epoch: AtomicI32::new(leader_epoch),
            compacted: AtomicBool::new(compacted),
            log: Mutex::new(Some(log)),
            high_watermark,
        }
    }

    pub fn name(&self) -> String {
        format!("{}-{}", self.topic, self.index)
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Relaxed)
    }

    /// A new leader epoch from the metadata image (a leader election):
    /// batches appended from now on carry it.
    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Relaxed);
    }

    pub fn high_watermark(&self) -> i64 {
        *self.high_watermark.borrow()
    }

    /// A receiver that wakes when the high watermark moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Runs `f` on the log, if the partition still has one.
    pub fn with_log<T>(&self, f: impl FnOnce(&mut Log) -> T) -> Result<T, PartitionError> {
        let mut guard = self.log.lock().expect("partition log lock");
        guard.as_mut().map(f).ok_or(PartitionError::Gone)
    }

    /// [`Partition::with_log`] for appends: the fsync of any segment the
    /// append rolled runs afterwards on the blocking pool, off the lock, and
    /// moves the log's recovery point when done. A failed fsync takes the
    /// log offline (see `Log::flush_done`).
    fn with_log_flushing<T>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Log) -> T,
    ) -> Result<T, PartitionError> {
        let (out, job) = self.with_log(|log| {
            let out = f(log);
            (out, log.take_flush_job())
        })?;
        if let Some(job) = job {
            let partition = self.clone();
            let flush = move || {
                let outcome = job.run();
                match partition.with_log(|log| log.flush_done(&job, outcome)) {
                    Ok(Err(e)) => {
                        warn!(partition = %partition.name(), error = %e, "flush of rolled segments failed")
                    }
                    Ok(Ok(())) | Err(PartitionError::Gone) => {}
                    Err(other) => {
                        warn!(partition = %partition.name(), error = ?other, "flush of rolled segments failed")
                    }
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(flush)),
                Err(_) => flush(),
            }
        }
        Ok(out)
    }

    /// Applies a changed topic config to the live log.
    pub fn reconfigure(&self, config: LogConfig, compacted: bool) {
        self.compacted.store(compacted, Ordering::Relaxed);
        let _ = self.with_log(|log| {
            if *log.config() != config {
                log.set_config(config);
            }
        });
    }

    pub fn append(
        self: &Arc<Self>,
        records: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_verified(records, VerificationGuard::SENTINEL, now_ms)
    }

    /// KIP-890: registers that a transactional producer's partition is being
    /// verified with its coordinator; the guard goes with the append once the
    /// coordinator confirms. [`VerificationGuard::SENTINEL`] means the
    /// producer's transaction is already ongoing here.
    pub fn start_verification(
        &self,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<VerificationGuard, PartitionError> {
        self.with_log(|log| log.start_verification(producer_id, producer_epoch))
    }

    /// A client append carrying the guard of a verified transaction (see
    /// [`Partition::start_verification`]).
    pub fn append_verified(
        self: &Arc<Self>,
        records: &[u8],
        guard: VerificationGuard,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        if self.compacted.load(Ordering::Relaxed) {
            check_keys(records)?;
        }
        let epoch = self.leader_epoch();
        let options = AppendOptions {
            origin: AppendOrigin::Client,
            verification_guard: guard,
        };
        let info = self
            .with_log_flushing(|log| log.append_with(records, epoch, now_ms, options))?
            .map_err(PartitionError::Append)?;
        if !info.duplicate {
            self.high_watermark.send_replace(info.last_offset + 1);
        }
        Ok(info)
    }

    /// Appends records the broker writes itself (group coordinator state in
    /// `__consumer_offsets`) as one uncompressed batch stamped `now_ms`,
    /// without a producer id, as Kafka's coordinators write them. The log
    /// skips the checks meant for client batches (`AppendOrigin::Coordinator`)
    /// and applies its own flush policy.
    pub fn append_coordinator_records(
        self: &Arc<Self>,
        records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_coordinator_batch(records, None, now_ms)
    }

    /// [`Partition::append_coordinator_records`] inside a producer's
    /// transaction: offsets a transactional producer commits
    /// (TxnOffsetCommit) are written in a transactional batch of its id and
    /// epoch, and count only once its commit marker follows.
    pub fn append_transactional_records(
        self: &Arc<Self>,
        records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
        producer_id: i64,
        producer_epoch: i16,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.append_coordinator_batch(records, Some((producer_id, producer_epoch)), now_ms)
    }

    fn append_coordinator_batch(
        self: &Arc<Self>,
        records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
        producer: Option<(i64, i16)>,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        let batch = encode_coordinator_batch(records, producer, now_ms)?;
        let epoch = self.leader_epoch();
        let info = self
            .with_log_flushing(|log| {
                log.append_from(&batch, epoch, now_ms, AppendOrigin::Coordinator)
            })?
            .map_err(PartitionError::Append)?;
        self.high_watermark.send_replace(info.last_offset + 1);
        Ok(info)
    }

    /// Writes a COMMIT or ABORT marker of `producer_id`'s transaction (the
    /// transaction coordinator's WriteTxnMarkers).
    pub fn append_marker(
        self: &Arc<Self>,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        commit: bool,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        let epoch = self.leader_epoch();
        let info = self
            .with_log_flushing(|log| {
                log.append_marker(
                    producer_id,
                    producer_epoch,
                    coordinator_epoch,
                    commit,
                    epoch,
                    now_ms,
                )
            })?
            .map_err(PartitionError::Append)?;
        self.high_watermark.send_replace(info.last_offset + 1);
        Ok(info)
    }

    /// Reads committed data (below the high watermark) from `offset`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadResult, PartitionError> {
        let hw = self.high_watermark();
        self.with_log(|log| log.read(offset, max_bytes, hw, min_one_batch))?
            .map_err(PartitionError::Read)
    }

    /// [`Partition::read`] as file slices, for the fetch path, with the
    /// high watermark the read was bounded by.
    ///
    /// `read_committed` reads stop at the last stable offset, and come with
    /// the transactions aborted in the range they may read, so the consumer
    /// can drop those records (Kafka's `FetchIsolation.TXN_COMMITTED`).
    pub fn read_slices(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        read_committed: bool,
    ) -> Result<PartitionSlices, PartitionError> {
        let hw = self.high_watermark();
        let (read, lso, aborted) = self
            .with_log(|log| {
                let lso = log.last_stable_offset_at(hw);
                let bound = if read_committed { lso } else { hw };
                let read = log.read_slices(offset, max_bytes, bound, min_one_batch)?;
                let aborted = read_committed.then(|| log.aborted_transactions(offset, lso));
                Ok((read, lso, aborted))
            })?
            .map_err(PartitionError::Read)?;
        Ok(PartitionSlices {
            slices: read.slices,
            high_watermark: hw,
            last_stable_offset: lso,
            log_start_offset: read.log_start_offset,
            aborted,
        })
    }

    /// The last stable offset: below it every transaction is decided.
    pub fn last_stable_offset(&self) -> Result<i64, PartitionError> {
        let hw = self.high_watermark();
        self.with_log(|log| log.last_stable_offset_at(hw))
    }

    pub fn log_start_offset(&self) -> Result<i64, PartitionError> {
        self.with_log(|log| log.log_start_offset())
    }

    /// Takes the log out, for closing or deleting it. Later requests see `Gone`.
    pub fn take_log(&self) -> Option<Log> {
        self.log.lock().expect("partition log lock").take()
    }
}

/// Encodes key/value pairs as one v2 batch. The encoder starts a new batch
/// whenever `offset - sequence` changes between records, so sequences run
/// one behind the offsets: one batch, and a base sequence of -1 (none), as
/// in a batch without a producer id.
/// One uncompressed batch of coordinator records; inside `producer`'s
/// transaction if given (base sequence 0, as Kafka's coordinators write).
fn encode_coordinator_batch(
    records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    producer: Option<(i64, i16)>,
    now_ms: i64,
) -> Result<BytesMut, PartitionError> {
    let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if producer.is_some() {
                i as i32
            } else {
                i as i32 - 1
            },
            timestamp: now_ms,
            key,
            value,
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).map_err(|e| {
        PartitionError::Append(AppendError::InvalidRecord(format!(
            "coordinator records do not encode: {e}"
        )))
    })?;
    Ok(buf)
}

/// Kafka refuses a batch holding keyless records for a compacted topic,
/// naming each such record. Batches that fail to parse are left for the
/// log's validation to reject with the precise error.
fn check_keys(records: &[u8]) -> Result<(), PartitionError> {
    for item in split_batches(records) {
        let Ok((_, range)) = item else { return Ok(()) };
        match keyless_record_indexes(&records[range]) {
            Ok(keyless) if !keyless.is_empty() => {
                return Err(PartitionError::KeylessRecords(keyless))
            }
            _ => {}
        }
    }
    Ok(())
}
