//! One partition this broker leads: its log and its high watermark.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use gregor_log::{
    AppendError, AppendInfo, AppendOrigin, Log, LogConfig, LogError, ReadError, ReadResult,
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
    pub log_start_offset: i64,
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
        if self.compacted.load(Ordering::Relaxed) {
            check_keys(records)?;
        }
        let epoch = self.leader_epoch();
        let info = self
            .with_log_flushing(|log| log.append(records, epoch, now_ms))?
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
        let batch = encode_coordinator_batch(records, now_ms)?;
        let epoch = self.leader_epoch();
        let info = self
            .with_log_flushing(|log| {
                log.append_from(&batch, epoch, now_ms, AppendOrigin::Coordinator)
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
    pub fn read_slices(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<PartitionSlices, PartitionError> {
        let hw = self.high_watermark();
        let read = self
            .with_log(|log| log.read_slices(offset, max_bytes, hw, min_one_batch))?
            .map_err(PartitionError::Read)?;
        Ok(PartitionSlices {
            slices: read.slices,
            high_watermark: hw,
            log_start_offset: read.log_start_offset,
        })
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
fn encode_coordinator_batch(
    records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    now_ms: i64,
) -> Result<BytesMut, PartitionError> {
    let records: Vec<Record> = records
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
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
