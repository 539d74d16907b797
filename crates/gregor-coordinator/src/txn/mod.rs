//! The transaction coordinator as a sans-I/O state machine, persisted to
//! `__transaction_state` (Kafka's transaction versions 0 and 1, i.e.
//! KIP-98 with KIP-360 and the verification half of KIP-890).
//!
//! # What the caller does
//!
//! The broker owns one [`TxnCoordinatorShard`] per `__transaction_state`
//! partition it leads ([`partition_for`] maps a transactional id to its
//! partition), behind a lock it holds from calling an operation until the
//! operation's records are written and applied. Every operation
//! (`init_producer_id`, `add_partitions`, `add_offsets`, `end_txn`,
//! `markers_written`, `abort_timed_out`, `expire_transactional_ids`)
//! returns a [`TxnResult`] and changes nothing by itself:
//!
//! 1. Append `result.records()` to the shard's `__transaction_state`
//!    partition (acks=all, uncompressed, as Kafka does), if there are any.
//! 2. If the append succeeded, call [`TxnCoordinatorShard::apply`] with
//!    `result.writes`, then send `result.response`. If it failed, apply
//!    nothing and answer with the append's error instead (Kafka sends
//!    `NOT_COORDINATOR` for a lost leadership, `COORDINATOR_NOT_AVAILABLE`
//!    for a failed write); the state is as before and the client retries.
//! 3. For every [`MarkerWork`] in `result.markers` (only after step 2
//!    succeeded): write a COMMIT or ABORT control batch with the given
//!    producer id, epoch and coordinator epoch to each listed partition
//!    (WriteTxnMarkers), retrying until each is durable; then call
//!    [`TxnCoordinatorShard::markers_written`] and go through steps 1-2
//!    with its result. Until then the transactional id answers
//!    `CONCURRENT_TRANSACTIONS`.
//!
//! At start (or on becoming leader of a partition) build a shard with the
//! partition's leader epoch as coordinator epoch, feed it every record of
//! the partition with [`TxnCoordinatorShard::load`] (or `replay` one by one
//! and then `pending_markers`), and do step 3 for the marker work it
//! returns: a transaction that was preparing when the broker stopped is
//! completed, never left hanging. Then call `abort_timed_out` every
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms` (Kafka:
//! 10 s) and `expire_transactional_ids` every
//! `transaction.remove.expired.transaction.cleanup.interval.ms` (Kafka:
//! 1 h). Time is always passed in as `now_ms`.
//!
//! InitProducerId without a transactional id never reaches this module: it
//! is a producer id from the allocator and epoch 0.
//!
//! # Left out (see the module docs of each file)
//!
//! Transaction version 2 (KIP-890 part 2: an epoch bump on every EndTxn,
//! implicit AddPartitions), KIP-939 two-phase commit, per-partition marker
//! completion (`removePartition`) and TxnOffsetCommit (which belongs to the
//! group coordinator).

mod error;
mod metadata;
mod ops;
mod query;
mod record;
mod shard;

pub use error::{TxnApi, TxnError};
pub use metadata::{epoch_exhausted, TopicPartition, TxnMetadata, TxnState};
pub use query::{ListFilter, ListedTxn, Listing, TxnDescription};
pub use record::{
    encode_key, txn_record, txn_tombstone, TransactionLogValue, TxnKey, TxnLogPartitions,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TXN_KEY_VERSION, TXN_VALUE_VERSION_MAX,
};
pub use shard::TxnCoordinatorShard;

use crate::coordinator::java_string_hash;
use crate::records::CoordinatorRecord;

/// The internal topic that stores transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";
/// `transaction.state.log.num.partitions`'s default.
pub const DEFAULT_TRANSACTION_STATE_PARTITIONS: i32 = 50;
/// `__transaction_state` is compacted: the last value of a key is its state.
pub const TRANSACTION_STATE_CLEANUP_POLICY: &str = "compact";

/// Kafka's `Utils.abs(transactionalId.hashCode) % partitions`.
///
/// Panics if `partitions` is not positive: a broken config invariant.
pub fn partition_for(transactional_id: &str, partitions: i32) -> i32 {
    assert!(
        partitions > 0,
        "__transaction_state needs partitions, got {partitions}"
    );
    let hash = java_string_hash(transactional_id);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions
}

/// The transaction coordinator's broker configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the longest timeout a producer may ask.
    pub transaction_max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`: how long an idle id is kept.
    pub transactional_id_expiration_ms: i64,
}

impl Default for TxnConfig {
    /// Kafka's defaults: 15 minutes and 7 days.
    fn default() -> Self {
        TxnConfig {
            transaction_max_timeout_ms: 900_000,
            transactional_id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
        }
    }
}

/// A producer id and epoch, as InitProducerId returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    pub producer_id: i64,
    pub producer_epoch: i16,
}

/// Markers the caller must write, then report with
/// [`TxnCoordinatorShard::markers_written`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerWork {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The leader epoch of the `__transaction_state` partition, carried by
    /// every marker so a stale coordinator's markers can be told apart.
    pub coordinator_epoch: i32,
    /// COMMIT markers if true, ABORT markers if false.
    pub commit: bool,
    pub partitions: Vec<TopicPartition>,
}

/// One record to append, with the state it leads to once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnWrite {
    pub transactional_id: String,
    pub record: CoordinatorRecord,
    /// The metadata after the write; `None` for a tombstone. Kept because
    /// two fields Kafka holds only in memory (the last epoch and the
    /// previous producer id, for KIP-360 retries) are not in the record.
    pub(crate) target: Option<TxnMetadata>,
}

/// What an operation produced. See the module docs for the order in which
/// the caller writes, applies, answers and writes markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult<R> {
    pub writes: Vec<TxnWrite>,
    /// The answer to send once `writes` are durable and applied (at once
    /// if there are none).
    pub response: R,
    /// Marker work to start once `writes` are durable and applied.
    pub markers: Vec<MarkerWork>,
}

impl<R> TxnResult<R> {
    pub(crate) fn answer(response: R) -> TxnResult<R> {
        TxnResult {
            writes: Vec::new(),
            response,
            markers: Vec::new(),
        }
    }

    /// The records to append, in order.
    pub fn records(&self) -> Vec<CoordinatorRecord> {
        self.writes.iter().map(|w| w.record.clone()).collect()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_epochs;
#[cfg(test)]
mod tests_restart;
