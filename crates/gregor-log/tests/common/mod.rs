//! Shared test helpers: the two storage backends behind one trait, batch
//! builders on the kafka-protocol encoder, and readers of results.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use gregor_log::{FileStorage, Log, LogConfig, MemStorage, ReadResult, Storage};
use gregor_protocol::batch::{split_batches, BatchHeader};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub const T0: i64 = 1_700_000_000_000;

/// A partition directory the conformance suite can open, crash and reopen.
pub trait Backend {
    fn fresh() -> Self;
    /// The same directory every call.
    fn storage(&self) -> Arc<dyn Storage>;
    /// Whether the storage is real files (fsync costs real time).
    fn is_file(&self) -> bool;
}

pub struct Mem(pub MemStorage);

impl Backend for Mem {
    fn fresh() -> Mem {
        Mem(MemStorage::new())
    }
    fn storage(&self) -> Arc<dyn Storage> {
        Arc::new(self.0.clone())
    }
    fn is_file(&self) -> bool {
        false
    }
}

pub struct Disk(pub tempfile::TempDir);

impl Backend for Disk {
    fn fresh() -> Disk {
        Disk(tempfile::tempdir().expect("tempdir"))
    }
    fn storage(&self) -> Arc<dyn Storage> {
        Arc::new(FileStorage::open(&self.0.path().join("topic-0")).expect("file storage"))
    }
    fn is_file(&self) -> bool {
        true
    }
}

pub fn open<B: Backend>(backend: &B, config: &LogConfig, clean: bool, now_ms: i64) -> Log {
    Log::open_with_storage(backend.storage(), config.clone(), clean, now_ms).expect("open log")
}

/// What one test batch holds.
#[derive(Debug, Clone)]
pub struct Spec {
    pub records: usize,
    /// Timestamp of the first record; record i gets `timestamp + i * step`.
    pub timestamp: i64,
    pub step: i64,
    pub compression: Compression,
    /// (producer id, epoch, base sequence); None for a plain producer.
    pub producer: Option<(i64, i16, i32)>,
    pub value_bytes: usize,
    pub tag: u32,
    /// Part of a transaction (attributes bit 4).
    pub transactional: bool,
}

impl Spec {
    pub fn plain(records: usize, timestamp: i64) -> Spec {
        Spec {
            records,
            timestamp,
            step: 1,
            compression: Compression::None,
            producer: None,
            value_bytes: 8,
            tag: 0,
            transactional: false,
        }
    }
    pub fn idempotent(producer_id: i64, epoch: i16, sequence: i32, records: usize) -> Spec {
        Spec {
            producer: Some((producer_id, epoch, sequence)),
            ..Spec::plain(records, T0)
        }
    }
    /// A transactional producer's batch.
    pub fn transactional(producer_id: i64, epoch: i16, sequence: i32, records: usize) -> Spec {
        Spec {
            transactional: true,
            ..Spec::idempotent(producer_id, epoch, sequence, records)
        }
    }
    pub fn compressed(mut self, compression: Compression) -> Spec {
        self.compression = compression;
        self
    }
    pub fn tagged(mut self, tag: u32) -> Spec {
        self.tag = tag;
        self
    }
    pub fn sized(mut self, value_bytes: usize) -> Spec {
        self.value_bytes = value_bytes;
        self
    }
}

/// Value of record `i` of a batch tagged `tag`: recognizable and sized.
pub fn value(tag: u32, i: usize, len: usize) -> Bytes {
    let mut v = format!("{tag}:{i}:").into_bytes();
    v.resize(len.max(v.len()), b'x');
    Bytes::from(v)
}

/// Encodes one batch, base offset 0, as a producer would send it.
pub fn encode(spec: &Spec) -> BytesMut {
    let (pid, epoch, seq) = spec.producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = (0..spec.records)
        .map(|i| Record {
            transactional: spec.transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder keeps records in one batch while offset - sequence
            // is constant; -1 + i yields base sequence -1 for plain batches.
            sequence: seq.wrapping_add(i as i32),
            timestamp: spec.timestamp + spec.step * i as i64,
            key: None,
            value: Some(value(spec.tag, i, spec.value_bytes)),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: spec.compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode batch");
    assert_eq!(
        split_batches(&buf).count(),
        1,
        "spec must encode as one batch"
    );
    buf
}

pub fn plain(records: usize, timestamp: i64) -> BytesMut {
    encode(&Spec::plain(records, timestamp))
}

/// Headers of the batches in a read result, in order.
pub fn headers(result: &ReadResult) -> Vec<BatchHeader> {
    let mut out = Vec::new();
    for chunk in &result.records {
        for item in split_batches(chunk) {
            out.push(item.expect("read returns whole batches").0);
        }
    }
    out
}

/// (base offset, last offset) of each batch in a read result.
pub fn ranges(result: &ReadResult) -> Vec<(i64, i64)> {
    headers(result)
        .iter()
        .map(|h| (h.base_offset, h.last_offset()))
        .collect()
}

/// Every record of a read result: (offset, timestamp, value).
pub fn records(result: &ReadResult) -> Vec<(i64, i64, Bytes)> {
    let mut out = Vec::new();
    for chunk in &result.records {
        let mut buf = chunk.clone();
        for set in RecordBatchDecoder::decode_all(&mut buf).expect("decode read result") {
            for r in set.records {
                out.push((r.offset, r.timestamp, r.value.unwrap_or_default()));
            }
        }
    }
    out
}

/// Reads everything from the log start.
pub fn read_all(log: &Log) -> ReadResult {
    let end = log.log_end_offset();
    log.read(log.log_start_offset(), usize::MAX / 2, end, true)
        .expect("read all")
}

/// Names of files in the storage with this suffix, sorted.
pub fn files_with(storage: &dyn Storage, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = storage
        .list()
        .expect("list")
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

pub fn file_len(storage: &dyn Storage, name: &str) -> u64 {
    storage.open(name).expect("open file").len()
}

/// Runs each listed generic test against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod mem {
            $( #[test] fn $name() { super::$name::<$crate::common::Mem>(); } )*
        }
        mod disk {
            $( #[test] fn $name() { super::$name::<$crate::common::Disk>(); } )*
        }
    };
}
