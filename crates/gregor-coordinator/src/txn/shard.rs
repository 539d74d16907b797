//! The transactional ids of one `__transaction_state` partition: the state,
//! the replay/apply path that alone changes it, loading, and the
//! coordinator's own periodic work (timeouts and expiry). The client
//! operations are in `ops.rs`, the admin queries in `query.rs`.

use std::collections::BTreeMap;

use tracing::{debug, warn};

use super::metadata::{TxnMetadata, TxnState};
use super::record::{txn_record, txn_tombstone, TransactionLogValue, TxnKey};
use super::{MarkerWork, TxnConfig, TxnResult, TxnWrite};
use crate::error::CoordinatorError;
use crate::shard::Replayed;

/// The transactions coordinated by one `__transaction_state` partition.
/// Owned by the broker (one per partition it leads, each behind its own
/// lock); every method is synchronous and does no I/O.
#[derive(Debug, Clone)]
pub struct TxnCoordinatorShard {
    partition: i32,
    coordinator_epoch: i32,
    pub(crate) config: TxnConfig,
    pub(crate) txns: BTreeMap<String, TxnMetadata>,
}

impl TxnCoordinatorShard {
    /// An empty shard for `partition`, led at `coordinator_epoch` (the
    /// partition's leader epoch), which every marker it asks for carries.
    pub fn new(partition: i32, coordinator_epoch: i32, config: TxnConfig) -> TxnCoordinatorShard {
        TxnCoordinatorShard {
            partition,
            coordinator_epoch,
            config,
            txns: BTreeMap::new(),
        }
    }

    /// The `__transaction_state` partition this shard's records go to.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    pub fn get(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    pub fn transactions(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }

    /// Applies one stored record: the load path, and (through
    /// [`Self::apply`]) the path after a write. The last value of a key
    /// wins; a tombstone removes the id.
    pub fn replay(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<Replayed, CoordinatorError> {
        let id = match TxnKey::decode(key)? {
            TxnKey::Transaction { transactional_id } => transactional_id,
            TxnKey::Unknown(version) => {
                debug!(
                    partition = self.partition,
                    key_version = version,
                    "ignoring unknown __transaction_state key version"
                );
                return Ok(Replayed::Ignored(version));
            }
        };
        match value {
            Some(v) => {
                let metadata = TxnMetadata::from_value(&id, &TransactionLogValue::decode(v)?)?;
                self.txns.insert(id, metadata);
            }
            None => {
                self.txns.remove(&id);
            }
        }
        Ok(Replayed::Applied)
    }

    /// Applies writes this shard produced, once they are in the log.
    pub fn apply(&mut self, writes: &[TxnWrite]) {
        for w in writes {
            let replayed = self.replay(&w.record.key, w.record.value.as_deref());
            // The shard encoded these itself: failing to read them back is a
            // bug, and going on would let memory and log disagree.
            assert!(
                matches!(replayed, Ok(Replayed::Applied)),
                "transaction record of its own does not replay: {replayed:?}"
            );
            let Some(target) = &w.target else { continue };
            let stored = self
                .txns
                .get_mut(&w.transactional_id)
                .expect("a replayed value leaves its transactional id in place");
            // Only the memory-only fields may differ from what was stored.
            let memory_only = TxnMetadata {
                last_producer_epoch: stored.last_producer_epoch,
                previous_producer_id: stored.previous_producer_id,
                ..target.clone()
            };
            assert_eq!(*stored, memory_only, "record and target state disagree");
            *stored = target.clone();
        }
    }

    /// Replays a partition's records in log order and returns the marker
    /// work that completes every transaction left preparing.
    pub fn load<'a, I>(&mut self, records: I) -> Result<Vec<MarkerWork>, CoordinatorError>
    where
        I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    {
        for (key, value) in records {
            self.replay(key, value)?;
        }
        Ok(self.pending_markers())
    }

    /// Marker work for every transaction in `PrepareCommit`/`PrepareAbort`,
    /// as Kafka resends it after loading a partition.
    pub fn pending_markers(&self) -> Vec<MarkerWork> {
        self.txns
            .values()
            .filter(|m| m.state.is_prepare())
            .map(|m| self.marker_work(m))
            .collect()
    }

    pub(crate) fn marker_work(&self, m: &TxnMetadata) -> MarkerWork {
        MarkerWork {
            transactional_id: m.transactional_id.clone(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: self.coordinator_epoch,
            commit: m.state == TxnState::PrepareCommit,
            partitions: m.partitions.iter().cloned().collect(),
        }
    }

    /// The write that moves an id to `target`.
    pub(crate) fn write(&self, target: TxnMetadata) -> TxnWrite {
        // Ids are checked for length on the way in; the rest are numbers.
        let record = txn_record(&target.transactional_id, &target.to_value())
            .expect("a checked transactional id encodes");
        TxnWrite {
            transactional_id: target.transactional_id.clone(),
            record,
            target: Some(target),
        }
    }

    /// Aborts every `Ongoing` transaction older than its timeout, as
    /// Kafka's coordinator does: the epoch is bumped first, so the producer
    /// that let it time out is fenced (its next request gets
    /// `PRODUCER_FENCED`) and must call InitProducerId again. A stored
    /// `PrepareEpochFence` (a fence whose abort never got written) is
    /// aborted too, without a second bump.
    pub fn abort_timed_out(&self, now_ms: i64) -> TxnResult<()> {
        let mut result = TxnResult::answer(());
        for m in self.txns.values() {
            let due = match m.state {
                TxnState::Ongoing => {
                    m.txn_start_timestamp_ms
                        .saturating_add(i64::from(m.txn_timeout_ms))
                        < now_ms
                }
                TxnState::PrepareEpochFence => true,
                _ => false,
            };
            if !due {
                continue;
            }
            let Some(target) = m.to_fenced_abort(now_ms) else {
                warn!(
                    transactional_id = %m.transactional_id,
                    "cannot abort a timed-out transaction at the last producer epoch"
                );
                continue;
            };
            result.markers.push(self.marker_work(&target));
            result.writes.push(self.write(target));
        }
        result
    }

    /// Tombstones for every id idle for `transactional.id.expiration.ms`
    /// in a state that allows it (`Empty`, `CompleteCommit`,
    /// `CompleteAbort`). Kafka moves the id to `Dead` while the tombstone
    /// is written; here the shard lock covers that window.
    pub fn expire_transactional_ids(&self, now_ms: i64) -> TxnResult<()> {
        let horizon = now_ms.saturating_sub(self.config.transactional_id_expiration_ms);
        let writes = self
            .txns
            .values()
            .filter(|m| m.state.expiration_allowed() && m.txn_last_update_timestamp_ms <= horizon)
            .map(|m| TxnWrite {
                transactional_id: m.transactional_id.clone(),
                record: txn_tombstone(&m.transactional_id).expect("a stored id encodes"),
                target: None,
            })
            .collect();
        TxnResult {
            writes,
            response: (),
            markers: Vec::new(),
        }
    }
}
