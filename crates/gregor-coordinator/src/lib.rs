//! The group and transaction coordinators as sans-I/O state machines,
//! persisted to `__consumer_offsets` and `__transaction_state`.
//!
//! Owns: which `__consumer_offsets` partition coordinates a group
//! ([`partition_for`]), the groups of each partition ([`GroupCoordinatorShard`]),
//! offset commits and fetches with Kafka's validation rules, offset
//! retention as a function of a clock the caller passes in, and the exact
//! bytes of the records Kafka keeps in `__consumer_offsets` ([`records`]).
//! An event goes in (a decoded request and the time); out come the records
//! to append and the response. State changes only by replaying records,
//! after the caller wrote them, or at start from the log.
//!
//! Must not: do I/O, spawn threads or tasks, read the clock, or know about
//! sockets and logs. Classic group membership (JoinGroup/SyncGroup/
//! Heartbeat/LeaveGroup, [`classic`]) changes in memory as events arrive
//! and writes its records without replaying them, as Kafka does; KIP-848
//! consumer groups ([`consumer`]) keep their state in memory only.
//! Offsets committed inside a transaction (TxnOffsetCommit) stay pending
//! until the transaction's marker reaches the partition (`txn_offsets.rs`).
//!
//! The transaction coordinator ([`txn`]) follows the same shape for
//! `__transaction_state`: InitProducerId, AddPartitionsToTxn (and its
//! verify-only form), AddOffsetsToTxn, EndTxn, timeouts and expiry go in;
//! records, responses and the transaction markers the caller must write
//! come out ([`txn::TxnCoordinatorShard`]; its module docs say what the
//! caller does, in order).

pub mod classic;
pub mod consumer;
mod coordinator;
mod delete;
pub mod error;
pub mod group;
mod reader;
pub mod records;
mod shard;
pub mod txn;
mod txn_offsets;

pub use coordinator::{java_string_hash, partition_for, GroupCoordinator};
pub use delete::{decode_subscription_topics, subscribed_topics};
pub use error::CoordinatorError;
pub use group::{Group, OffsetAndMetadata};
pub use records::CoordinatorRecord;
pub use shard::{CoordinatorConfig, CoordinatorResult, GroupCoordinatorShard, Replayed};

/// The internal topic that stores committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[cfg(test)]
mod shard_tests;
