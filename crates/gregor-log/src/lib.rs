//! One partition's log in Kafka's on-disk format.
//!
//! Owns: segments `<20-digit base offset>.log` holding the producers'
//! batches verbatim (only base offset and partition leader epoch rewritten,
//! plus the timestamp fields under LogAppendTime), the sparse `.index` and
//! `.timeindex` beside each, the append path (validation, idempotent
//! producer checks, offset assignment, roll, flush policy), the partition
//! side of transactions (ongoing ones hold the last stable offset, markers
//! end them, aborts go to a lazily created `<base>.txnindex`; see
//! `producer_state.rs`, `txn_marker.rs`, `txn_index.rs`), reads by offset
//! and by timestamp, DeleteRecords, retention (`retention.rs`), compaction
//! (`cleaner.rs`, `compact_batch.rs`), recovery of a torn tail or of a
//! cleaner swap cut short by a crash, and producer-state snapshots.
//!
//! Must not: know about the network, tokio, topics or replication. All
//! I/O is synchronous and goes through the [`Storage`] seam, so the same
//! code runs on disk ([`FileStorage`]) and in memory ([`MemStorage`]).
//!
//! Files in a partition directory besides Kafka's own:
//! `gregor-log.checkpoint` (log start offset and recovery point, see
//! `checkpoint.rs`), `gregor-cleaner.checkpoint` (the cleaner's first
//! dirty offset and pending tombstone horizon, see `cleaner.rs`), Kafka's
//! own `leader-epoch-checkpoint` (see `leader_epoch.rs`) and
//! `<offset>.snapshot` in Gregor's producer-snapshot format (see
//! `snapshot.rs`).

mod checkpoint;
mod cleaner;
mod compact_batch;
mod config;
mod error;
mod file_storage;
mod index;
mod leader_epoch;
mod log;
mod log_open;
mod log_read;
mod log_txn;
mod mem_storage;
mod producer_state;
mod retention;
mod scanner;
mod segment;
mod slice;
mod snapshot;
mod storage;
mod txn_index;
mod txn_marker;

pub use cleaner::{CleanStats, CleanTask, CleanedLog, Dirtiness};
pub use config::{LogConfig, TimestampType, SEGMENT_BYTES_MAX};
pub use error::{AppendError, LogError, ReadError};
pub use file_storage::FileStorage;
pub use leader_epoch::{EpochEntry, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use log::{AppendInfo, AppendOptions, FlushJob, Log, ReadResult, SlicedRead};
pub use mem_storage::MemStorage;
pub use producer_state::{
    AppendOrigin, BatchMetadata, ProducerState, VerificationGuard, NO_COORDINATOR_EPOCH,
    PRODUCER_BATCHES_RETAINED,
};
pub use retention::DeletedSegments;
pub use slice::FileSlice;
pub use storage::{MappedFile, SegmentFile, SharedFile, Storage};
pub use txn_index::AbortedTxn;
