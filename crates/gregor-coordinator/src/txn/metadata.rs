//! One transactional id's state ([`TxnMetadata`]), the states a transaction
//! goes through ([`TxnState`]) with Kafka's valid transitions, and the
//! conversion to and from the stored `TransactionLogValue`.
//!
//! Transitions are pure: each `to_*` method returns the target metadata
//! and leaves `self` alone. The shard installs the target only once its
//! record is written (see [`super::TxnWrite`]).

use std::collections::BTreeSet;

use super::record::{TransactionLogValue, TxnLogPartitions, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
use crate::error::CoordinatorError;

/// A transaction's state, with Kafka's ids (stored as `TransactionStatus`)
/// and names (shown by DescribeTransactions/ListTransactions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    /// No transaction: after InitProducerId.
    Empty,
    /// Partitions were added; data may be in flight.
    Ongoing,
    /// EndTxn(commit) is durable; commit markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a timeout or a fencing InitProducerId is durable;
    /// abort markers are being written.
    PrepareAbort,
    /// Every commit marker is written.
    CompleteCommit,
    /// Every abort marker is written.
    CompleteAbort,
    /// Being expired. Kafka never stores it (a tombstone follows instead)
    /// and neither does this crate.
    Dead,
    /// Kafka's in-memory step between fencing a producer and writing
    /// `PrepareAbort`. This crate writes the two as one `PrepareAbort`
    /// record, so it only appears if a log holds it (see the shard).
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The id stored as `TransactionStatus`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Kafka's name, as the admin APIs show it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The states from which Kafka allows a transition into `self`.
    pub fn valid_previous(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether an idle transactional id in this state may expire.
    pub fn expiration_allowed(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// Markers are being written: other operations must wait.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// A partition in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// Kafka's epoch exhaustion rule: at `i16::MAX - 1` the next InitProducerId
/// moves to a new producer id, keeping one epoch for fencing.
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// One transactional id's state. Owned by its [`super::TxnCoordinatorShard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    /// The producer id before the last rotation (KIP-360 retries). Stored
    /// only in version 1 values; otherwise known only in memory.
    pub previous_producer_id: i64,
    /// Transaction version 2 only; kept as read.
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last InitProducerId that gave an expected
    /// epoch, so its retry can be recognised (KIP-360). In memory only, as
    /// in Kafka: after a restart it is [`NO_PRODUCER_EPOCH`].
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    /// When the current transaction began; -1 when there is none.
    pub txn_start_timestamp_ms: i64,
    pub txn_last_update_timestamp_ms: i64,
    /// Kept from the stored value; this crate implements version 0/1.
    pub client_transaction_version: i16,
}

impl TxnMetadata {
    /// A new transactional id before its first InitProducerId completes.
    pub(crate) fn fresh(id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            transactional_id: id.to_string(),
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_timestamp_ms: -1,
            txn_last_update_timestamp_ms: now_ms,
            client_transaction_version: 0,
        }
    }

    /// The stored form. `Empty` stores no partitions, as in Kafka.
    pub fn to_value(&self) -> TransactionLogValue {
        let partitions = (self.state != TxnState::Empty).then(|| {
            let mut topics: Vec<TxnLogPartitions> = Vec::new();
            for tp in &self.partitions {
                match topics.last_mut() {
                    Some(t) if t.topic == tp.topic => t.partition_ids.push(tp.partition),
                    _ => topics.push(TxnLogPartitions {
                        topic: tp.topic.clone(),
                        partition_ids: vec![tp.partition],
                    }),
                }
            }
            topics
        });
        TransactionLogValue {
            producer_id: self.producer_id,
            // Kafka writes these only at transaction version 2.
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            transaction_timeout_ms: self.txn_timeout_ms,
            transaction_status: self.state.id(),
            transaction_partitions: partitions,
            transaction_last_update_timestamp_ms: self.txn_last_update_timestamp_ms,
            transaction_start_timestamp_ms: self.txn_start_timestamp_ms,
            client_transaction_version: self.client_transaction_version,
        }
    }

    /// Rebuilds the metadata from a stored value (the load path).
    pub fn from_value(id: &str, v: &TransactionLogValue) -> Result<TxnMetadata, CoordinatorError> {
        let state = TxnState::from_id(v.transaction_status).ok_or_else(|| {
            CoordinatorError::BadRecord(format!(
                "transaction log value of {id:?} has unknown state {}",
                v.transaction_status
            ))
        })?;
        let mut partitions = BTreeSet::new();
        if state != TxnState::Empty {
            for t in v.transaction_partitions.iter().flatten() {
                for p in &t.partition_ids {
                    partitions.insert(TopicPartition::new(t.topic.clone(), *p));
                }
            }
        }
        Ok(TxnMetadata {
            transactional_id: id.to_string(),
            producer_id: v.producer_id,
            previous_producer_id: v.previous_producer_id,
            next_producer_id: v.next_producer_id,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: v.transaction_timeout_ms,
            state,
            partitions,
            txn_start_timestamp_ms: v.transaction_start_timestamp_ms,
            txn_last_update_timestamp_ms: v.transaction_last_update_timestamp_ms,
            client_transaction_version: v.client_transaction_version,
        })
    }

    /// The target of a transition, with Kafka's check that `to` may follow
    /// the current state. Callers only ask for valid transitions, so a
    /// failure is a bug in this module.
    fn transit(&self, to: TxnState, now_ms: i64) -> TxnMetadata {
        assert!(
            to.valid_previous().contains(&self.state),
            "transactional id {:?}: no transition from {:?} to {to:?}",
            self.transactional_id,
            self.state
        );
        TxnMetadata {
            state: to,
            txn_last_update_timestamp_ms: now_ms,
            ..self.clone()
        }
    }

    /// InitProducerId on the same producer id: `Empty` with a new epoch.
    pub(crate) fn to_epoch(&self, epoch: i16, last: i16, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            previous_producer_id: self.producer_id,
            producer_epoch: epoch,
            last_producer_epoch: last,
            txn_timeout_ms: timeout_ms,
            partitions: BTreeSet::new(),
            txn_start_timestamp_ms: -1,
            ..self.transit(TxnState::Empty, now_ms)
        }
    }

    /// InitProducerId with an exhausted epoch: `Empty` on a new producer id.
    pub(crate) fn to_new_producer(&self, pid: i64, last: i16, timeout_ms: i32, now: i64) -> Self {
        TxnMetadata {
            producer_id: pid,
            previous_producer_id: self.producer_id,
            producer_epoch: 0,
            last_producer_epoch: last,
            txn_timeout_ms: timeout_ms,
            partitions: BTreeSet::new(),
            txn_start_timestamp_ms: -1,
            ..self.transit(TxnState::Empty, now)
        }
    }

    /// AddPartitionsToTxn/AddOffsetsToTxn: `Ongoing` with more partitions;
    /// a new transaction starts its clock now.
    pub(crate) fn to_ongoing(&self, added: &[TopicPartition], now_ms: i64) -> TxnMetadata {
        let starts = matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        );
        let mut next = self.transit(TxnState::Ongoing, now_ms);
        if starts {
            next.txn_start_timestamp_ms = now_ms;
        }
        next.partitions.extend(added.iter().cloned());
        next
    }

    /// EndTxn (or the coordinator's own abort): `PrepareCommit`/`PrepareAbort`.
    pub(crate) fn to_prepare(&self, commit: bool, now_ms: i64) -> TxnMetadata {
        let to = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        self.transit(to, now_ms)
    }

    /// Fencing the current producer and aborting its transaction, as one
    /// step: Kafka's `PrepareEpochFence` (epoch + 1) followed by
    /// `PrepareAbort`, with the last epoch forgotten so the fenced producer
    /// cannot pass for a retry. From a stored `PrepareEpochFence` the epoch
    /// was already bumped and is not bumped again. `None` when the epoch
    /// cannot grow.
    pub(crate) fn to_fenced_abort(&self, now_ms: i64) -> Option<TxnMetadata> {
        let epoch = match self.state {
            TxnState::PrepareEpochFence => self.producer_epoch,
            _ => self.producer_epoch.checked_add(1)?,
        };
        Some(TxnMetadata {
            producer_epoch: epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            ..self.transit(TxnState::PrepareAbort, now_ms)
        })
    }

    /// Markers written: `CompleteCommit`/`CompleteAbort`, no partitions.
    pub(crate) fn to_complete(&self, now_ms: i64) -> TxnMetadata {
        let to = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            _ => TxnState::CompleteAbort,
        };
        TxnMetadata {
            partitions: BTreeSet::new(),
            ..self.transit(to, now_ms)
        }
    }
}
