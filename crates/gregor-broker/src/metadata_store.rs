//! The durable metadata log and the image replayed from it.
//!
//! Metadata records are appended, one batch per change, to an ordinary
//! partition log `__cluster_metadata-0` in the first log directory, and
//! fsynced before the change is applied to the image and answered. At start
//! the whole log is replayed. A single node is a cluster of one: replicating
//! this log is what a multi-node quorum will add.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bytes::BytesMut;
use gregor_log::{AppendOrigin, Log, LogConfig};
use gregor_metadata::{MetadataImage, MetadataRecord};
use gregor_protocol::kafka_protocol::indexmap::IndexMap;
use gregor_protocol::kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::error::BrokerError;
use crate::time::now_ms;

/// Directory name of the metadata log inside the first log directory.
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";
/// Bytes read per step while replaying the metadata log.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// Owns the metadata log; hands out the current image. Shared by all
/// connection tasks through `Broker`; writers serialize on the log mutex.
pub struct MetadataStore {
    /// `None` once closed at shutdown; later commits fail instead of writing.
    log: Mutex<Option<Log>>,
    image: RwLock<Arc<MetadataImage>>,
}

impl MetadataStore {
    pub fn open(log_dir: &Path, clean_shutdown: bool) -> Result<MetadataStore, BrokerError> {
        let dir = log_dir.join(METADATA_LOG_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| BrokerError::LogDir {
            dir: dir.display().to_string(),
            source,
        })?;
        let config = LogConfig {
            segment_bytes: 64 << 20,
            ..LogConfig::default()
        };
        let log = Log::open(&dir, config, clean_shutdown, now_ms()).map_err(|source| {
            BrokerError::Log {
                partition: METADATA_LOG_DIR.into(),
                source,
            }
        })?;
        let image = replay(&log)?;
        Ok(MetadataStore {
            log: Mutex::new(Some(log)),
            image: RwLock::new(Arc::new(image)),
        })
    }

    /// The current image. Cheap: a clone of an `Arc`.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().expect("metadata image lock").clone()
    }

    /// Appends `records` as one durable batch, then applies them, and
    /// returns the new image. `decide` sees the image under the write lock,
    /// so check-then-write decisions (does the topic exist?) cannot race.
    pub fn commit<T, E>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), E>,
    ) -> Result<Result<(Arc<MetadataImage>, T), E>, BrokerError> {
        let mut guard = self.log.lock().expect("metadata log lock");
        let log = guard
            .as_mut()
            .ok_or_else(|| BrokerError::Metadata("the metadata log is closed".into()))?;
        let current = self.image();
        let (records, out) = match decide(&current) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        if records.is_empty() {
            return Ok(Ok((current, out)));
        }
        let batch = encode_batch(&records)?;
        // The broker itself writes here, not a client: Kafka's client-only
        // checks (base offset 0 per batch) do not apply.
        log.append_from(&batch, 0, now_ms(), AppendOrigin::Coordinator)
            .map_err(|e| BrokerError::Metadata(format!("append: {e}")))?;
        log.flush()
            .map_err(|e| BrokerError::Metadata(format!("fsync: {e}")))?;
        let mut next = (*current).clone();
        records.iter().for_each(|r| next.apply(r));
        let next = Arc::new(next);
        *self.image.write().expect("metadata image lock") = next.clone();
        Ok(Ok((next, out)))
    }

    /// Closes the metadata log (flush, trim indexes). Idempotent.
    pub fn close(&self) -> Result<(), BrokerError> {
        match self.log.lock().expect("metadata log lock").take() {
            Some(log) => log
                .close()
                .map_err(|e| BrokerError::Metadata(format!("close: {e}"))),
            None => Ok(()),
        }
    }
}

fn encode_batch(records: &[MetadataRecord]) -> Result<BytesMut, BrokerError> {
    let now = now_ms();
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: now,
            key: None,
            value: Some(r.encode().into()),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options)
        .map_err(|e| BrokerError::Metadata(format!("encode: {e}")))?;
    Ok(buf)
}

fn replay(log: &Log) -> Result<MetadataImage, BrokerError> {
    use gregor_protocol::kafka_protocol::records::RecordBatchDecoder;
    let mut image = MetadataImage::default();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let read = log
            .read(offset, REPLAY_READ_BYTES, end, true)
            .map_err(|e| BrokerError::Metadata(format!("read at {offset}: {e}")))?;
        if read.records.is_empty() {
            break;
        }
        for chunk in read.records {
            let mut buf = chunk.clone();
            let sets = RecordBatchDecoder::decode_all(&mut buf)
                .map_err(|e| BrokerError::Metadata(format!("decode at {offset}: {e}")))?;
            for record in sets.iter().flat_map(|s| s.records.iter()) {
                if record.offset < offset {
                    continue;
                }
                let value = record.value.as_deref().unwrap_or_default();
                let decoded = MetadataRecord::decode(value)
                    .map_err(|e| BrokerError::Metadata(e.to_string()))?;
                image.apply(&decoded);
                offset = record.offset + 1;
            }
        }
    }
    Ok(image)
}
