//! The transaction coordinator's runtime: one
//! [`TxnCoordinatorShard`] per `__transaction_state` partition, each behind
//! its own lock, driven as the shard's module docs prescribe: write the
//! records, apply them, answer; write the markers of a decided transaction
//! into every partition it touched, then record it complete.
//!
//! Markers are written in the request that decided the transaction (a
//! single node leads every partition, so they are local appends), so an
//! EndTxn answer means the outcome is already visible. A marker that
//! cannot be written leaves the transaction in PrepareCommit/PrepareAbort;
//! the periodic tick retries it, as it completes transactions loaded in a
//! prepare state at start and aborts those past their timeout.
//!
//! Lock order: a transaction shard, then a group shard (markers into
//! `__consumer_offsets` complete pending offset commits), then a partition
//! log. Group handlers never take a transaction shard.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gregor_coordinator::txn::{
    partition_for, MarkerWork, TopicPartition, TxnConfig, TxnCoordinatorShard, TxnResult,
    TRANSACTION_STATE_TOPIC,
};
use gregor_coordinator::OFFSETS_TOPIC;
use gregor_metadata::MetadataImage;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::{info, warn};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::coordinator_log::{self, Entry};
use crate::partition::{Partition, PartitionError};
use crate::replica_manager::ReplicaManager;
use crate::time::now_ms;

/// The shards of every `__transaction_state` partition.
pub struct TxnCoordinator {
    shards: Vec<Mutex<TxnCoordinatorShard>>,
    /// When `transactional.id.expiration.ms` is next enforced.
    next_expiry_ms: AtomicI64,
    expiry_interval_ms: i64,
}

/// Why a transaction coordinator operation did not complete.
#[derive(Debug)]
pub enum TxnOpError {
    /// This broker does not host the id's `__transaction_state` partition.
    NotCoordinator,
    /// Appending the operation's records failed; nothing was applied.
    Write(PartitionError),
}

impl TxnOpError {
    /// What the client is told (Kafka: a failed coordinator append is
    /// retriable, COORDINATOR_NOT_AVAILABLE).
    pub fn code(&self) -> ResponseError {
        match self {
            TxnOpError::NotCoordinator => ResponseError::NotCoordinator,
            TxnOpError::Write(_) => ResponseError::CoordinatorNotAvailable,
        }
    }
}

impl TxnCoordinator {
    /// Builds the shards (as many as `__transaction_state` has partitions,
    /// or `transaction.state.log.num.partitions` before it exists) and
    /// replays every hosted partition into its shard.
    pub fn load(
        config: &BrokerConfig,
        image: &MetadataImage,
        replicas: &ReplicaManager,
    ) -> TxnCoordinator {
        let partitions = image
            .topic(TRANSACTION_STATE_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
            .unwrap_or(config.transaction_state_log_num_partitions.max(1));
        let txn_config = TxnConfig {
            transaction_max_timeout_ms: config.transaction_max_timeout_ms,
            transactional_id_expiration_ms: i64::from(config.transactional_id_expiration_ms),
        };
        let shards = (0..partitions)
            .map(|index| {
                let partition = replicas.get(TRANSACTION_STATE_TOPIC, index);
                let epoch = partition.as_ref().map_or(0, |p| p.leader_epoch());
                let mut shard = TxnCoordinatorShard::new(index, epoch, txn_config);
                if let Some(partition) = partition {
                    load_shard(&partition, &mut shard);
                }
                Mutex::new(shard)
            })
            .collect();
        let expiry_interval_ms = config
            .value("transaction.remove.expired.transaction.cleanup.interval.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(3_600_000);
        TxnCoordinator {
            shards,
            next_expiry_ms: AtomicI64::new(now_ms().saturating_add(expiry_interval_ms)),
            expiry_interval_ms,
        }
    }

    pub fn partitions(&self) -> i32 {
        self.shards.len() as i32
    }

    /// The `__transaction_state` partition that coordinates `id`.
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        partition_for(transactional_id, self.partitions())
    }

    pub fn shard(&self, partition: i32) -> MutexGuard<'_, TxnCoordinatorShard> {
        let shard = usize::try_from(partition)
            .ok()
            .and_then(|p| self.shards.get(p))
            .unwrap_or_else(|| panic!("no transaction shard for partition {partition}"));
        shard.lock().expect("transaction shard lock")
    }
}

fn load_shard(partition: &Partition, shard: &mut TxnCoordinatorShard) {
    let loaded = coordinator_log::replay(partition, |entry| match entry {
        Entry::Record {
            key, value, offset, ..
        } => match shard.replay(key, value) {
            Ok(gregor_coordinator::Replayed::Applied) => true,
            Ok(gregor_coordinator::Replayed::Ignored(_)) => false,
            Err(e) => {
                warn!(partition = %partition.name(), offset, error = %e, "skipping unreadable transaction record");
                false
            }
        },
        Entry::Marker { .. } => false,
    });
    if loaded.records > 0 {
        info!(partition = %partition.name(), transactions = shard.transactions().count(), records = loaded.records, skipped = loaded.skipped, "loaded transaction state");
    }
}

impl Broker {
    /// Runs one transaction coordinator operation for `transactional_id`
    /// under its shard's lock: writes and applies its records, then writes
    /// the markers of any transaction it decided and records those
    /// complete. Synchronous file I/O: call from a blocking context.
    pub fn txn_write<R>(
        &self,
        transactional_id: &str,
        op: impl FnOnce(&TxnCoordinatorShard, i64) -> TxnResult<R>,
    ) -> Result<R, TxnOpError> {
        let (partition, mut shard) = self.txn_shard(transactional_id)?;
        let result = op(&shard, now_ms());
        self.commit_txn_result(&partition, &mut shard, result)
    }

    /// A read of `transactional_id`'s shard under its lock.
    pub fn txn_read<R>(
        &self,
        transactional_id: &str,
        read: impl FnOnce(&TxnCoordinatorShard) -> R,
    ) -> Result<R, TxnOpError> {
        let (_, shard) = self.txn_shard(transactional_id)?;
        Ok(read(&shard))
    }

    fn txn_shard(
        &self,
        transactional_id: &str,
    ) -> Result<(Arc<Partition>, MutexGuard<'_, TxnCoordinatorShard>), TxnOpError> {
        let index = self.txns.partition_for(transactional_id);
        let partition = self
            .replicas
            .get(TRANSACTION_STATE_TOPIC, index)
            .ok_or(TxnOpError::NotCoordinator)?;
        Ok((partition, self.txns.shard(index)))
    }

    fn commit_txn_result<R>(
        &self,
        partition: &Arc<Partition>,
        shard: &mut TxnCoordinatorShard,
        result: TxnResult<R>,
    ) -> Result<R, TxnOpError> {
        if !result.writes.is_empty() {
            let records = result.records();
            let pairs = records
                .iter()
                .map(|r| (Some(r.key.clone()), r.value.clone()));
            partition
                .append_coordinator_records(pairs, now_ms())
                .map_err(TxnOpError::Write)?;
            shard.apply(&result.writes);
        }
        for work in result.markers {
            self.complete_transaction(partition, shard, work);
        }
        Ok(result.response)
    }

    /// Writes `work`'s markers and records the transaction complete. On a
    /// failure the transaction stays prepared; the tick retries it.
    fn complete_transaction(
        &self,
        partition: &Arc<Partition>,
        shard: &mut TxnCoordinatorShard,
        work: MarkerWork,
    ) {
        for tp in &work.partitions {
            if let Err(e) = self.write_marker(&work, tp) {
                warn!(transactional_id = %work.transactional_id, topic = %tp.topic, partition = tp.partition, error = ?e, "could not write a transaction marker; will retry");
                return;
            }
        }
        let done = shard.markers_written(
            &work.transactional_id,
            work.producer_id,
            work.producer_epoch,
            work.commit,
            now_ms(),
        );
        if let Err(e) = self.commit_txn_result(partition, shard, done) {
            warn!(transactional_id = %work.transactional_id, error = ?e, "could not record a completed transaction; will retry");
        }
    }

    /// Writes one COMMIT/ABORT marker into `tp`. A partition that no longer
    /// exists needs none. Markers into `__consumer_offsets` also settle the
    /// offsets the transaction committed there.
    fn write_marker(&self, work: &MarkerWork, tp: &TopicPartition) -> Result<(), PartitionError> {
        let Some(partition) = self.replicas.get(&tp.topic, tp.partition) else {
            return Ok(());
        };
        let write = || {
            partition.append_marker(
                work.producer_id,
                work.producer_epoch,
                work.coordinator_epoch,
                work.commit,
                now_ms(),
            )
        };
        let written = if tp.topic == OFFSETS_TOPIC && tp.partition < self.groups.partitions() {
            let mut groups = self.groups.shard(tp.partition);
            let written = write();
            if written.is_ok() {
                groups.complete_transaction(work.producer_id, work.commit);
            }
            written
        } else {
            write()
        };
        match written {
            Ok(_) | Err(PartitionError::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The transaction coordinator's timers: completes transactions whose
    /// markers are still to be written (loaded in a prepare state, or a
    /// marker write failed), aborts those past their timeout, and every
    /// `transaction.remove.expired.transaction.cleanup.interval.ms` expires
    /// idle transactional ids. Blocking I/O.
    pub fn tick_transactions(&self) {
        let now = now_ms();
        let expire = now >= self.txns.next_expiry_ms.load(Ordering::Relaxed);
        if expire {
            self.txns.next_expiry_ms.store(
                now.saturating_add(self.txns.expiry_interval_ms),
                Ordering::Relaxed,
            );
        }
        for index in 0..self.txns.partitions() {
            let Some(partition) = self.replicas.get(TRANSACTION_STATE_TOPIC, index) else {
                continue;
            };
            let mut shard = self.txns.shard(index);
            for work in shard.pending_markers() {
                self.complete_transaction(&partition, &mut shard, work);
            }
            let timed_out = shard.abort_timed_out(now);
            if !timed_out.writes.is_empty() {
                info!(
                    partition = index,
                    transactions = timed_out.writes.len(),
                    "aborting transactions past their timeout"
                );
            }
            if let Err(e) = self.commit_txn_result(&partition, &mut shard, timed_out) {
                warn!(partition = index, error = ?e, "could not abort timed-out transactions");
            }
            if expire {
                let expired = shard.expire_transactional_ids(now);
                if let Err(e) = self.commit_txn_result(&partition, &mut shard, expired) {
                    warn!(partition = index, error = ?e, "could not expire transactional ids");
                }
            }
        }
    }
}
