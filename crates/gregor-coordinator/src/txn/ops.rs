//! The client-facing operations of the transaction coordinator:
//! InitProducerId, AddPartitionsToTxn (and its verify-only form),
//! AddOffsetsToTxn, EndTxn, and the completion of markers. Each one reads
//! the shard and returns a [`TxnResult`]; none changes it.

use super::metadata::{epoch_exhausted, TopicPartition, TxnMetadata, TxnState};
use super::record::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
use super::shard::TxnCoordinatorShard;
use super::{ProducerIdAndEpoch, TxnError, TxnResult};
use crate::OFFSETS_TOPIC;

/// The longest transactional id a `string` in the record key can hold.
const TRANSACTIONAL_ID_BYTES_MAX: usize = i16::MAX as usize;

fn check_id(transactional_id: &str) -> Result<(), TxnError> {
    if transactional_id.is_empty() || transactional_id.len() > TRANSACTIONAL_ID_BYTES_MAX {
        Err(TxnError::InvalidRequest)
    } else {
        Ok(())
    }
}

impl TxnCoordinatorShard {
    /// InitProducerId for a transactional id. `expected_producer_id` and
    /// `expected_producer_epoch` are the request's fields (KIP-360), -1
    /// when the producer has none. `alloc_producer_id` is called when a new
    /// producer id is needed (a new id, or an exhausted epoch).
    ///
    /// If a transaction is `Ongoing`, it is aborted first: the result holds
    /// the fencing `PrepareAbort` write and its marker work, and answers
    /// `CONCURRENT_TRANSACTIONS`; the client retries and gets the next
    /// epoch once the abort completed.
    pub fn init_producer_id(
        &self,
        transactional_id: &str,
        txn_timeout_ms: i32,
        expected_producer_id: i64,
        expected_producer_epoch: i16,
        now_ms: i64,
        alloc_producer_id: &mut dyn FnMut() -> Result<i64, TxnError>,
    ) -> TxnResult<Result<ProducerIdAndEpoch, TxnError>> {
        if let Err(e) = check_id(transactional_id) {
            return TxnResult::answer(Err(e));
        }
        if txn_timeout_ms <= 0 || txn_timeout_ms > self.config.transaction_max_timeout_ms {
            return TxnResult::answer(Err(TxnError::InvalidTransactionTimeout));
        }
        let expected = (expected_producer_id != NO_PRODUCER_ID).then_some(ProducerIdAndEpoch {
            producer_id: expected_producer_id,
            producer_epoch: expected_producer_epoch,
        });
        let created;
        let current = match self.txns.get(transactional_id) {
            Some(m) => m,
            None => match alloc_producer_id() {
                Ok(pid) => {
                    created = TxnMetadata::fresh(transactional_id, pid, txn_timeout_ms, now_ms);
                    &created
                }
                Err(e) => return TxnResult::answer(Err(e)),
            },
        };
        match self.init_target(current, txn_timeout_ms, expected, now_ms, alloc_producer_id) {
            Err(e) => TxnResult::answer(Err(e)),
            Ok(target) if target.state == TxnState::PrepareAbort => TxnResult {
                markers: vec![self.marker_work(&target)],
                writes: vec![self.write(target)],
                response: Err(TxnError::ConcurrentTransactions),
            },
            Ok(target) => TxnResult {
                response: Ok(ProducerIdAndEpoch {
                    producer_id: target.producer_id,
                    producer_epoch: target.producer_epoch,
                }),
                writes: vec![self.write(target)],
                markers: Vec::new(),
            },
        }
    }

    /// Kafka's `prepareInitProducerIdTransit`: the state InitProducerId
    /// leads to, or why it is refused.
    fn init_target(
        &self,
        m: &TxnMetadata,
        timeout_ms: i32,
        expected: Option<ProducerIdAndEpoch>,
        now_ms: i64,
        alloc_producer_id: &mut dyn FnMut() -> Result<i64, TxnError>,
    ) -> Result<TxnMetadata, TxnError> {
        // The expected producer id must be the current one, or the one
        // before a rotation whose answer the producer may have missed; a
        // just-created id (no epoch yet) accepts any.
        let valid_pid = |e: &ProducerIdAndEpoch| {
            m.producer_epoch == NO_PRODUCER_EPOCH
                || e.producer_id == m.producer_id
                || (e.producer_id == m.previous_producer_id && epoch_exhausted(e.producer_epoch))
        };
        if !expected.iter().all(valid_pid) {
            return Err(TxnError::ProducerFenced);
        }
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                Err(TxnError::ConcurrentTransactions)
            }
            TxnState::Ongoing | TxnState::PrepareEpochFence => m
                .to_fenced_abort(now_ms)
                .ok_or(TxnError::ConcurrentTransactions),
            TxnState::Dead => Err(TxnError::ConcurrentTransactions),
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let epoch = m.producer_epoch;
                if epoch_exhausted(epoch) && expected.iter().all(|e| e.producer_epoch == epoch) {
                    let pid = alloc_producer_id()?;
                    let last = if expected.is_some() {
                        epoch
                    } else {
                        NO_PRODUCER_EPOCH
                    };
                    return Ok(m.to_new_producer(pid, last, timeout_ms, now_ms));
                }
                let bumped = epoch + 1;
                let (next, last) = match expected {
                    None => (bumped, NO_PRODUCER_EPOCH),
                    // The producer continues after an error and nobody
                    // else took over: bump, remembering the epoch it had.
                    Some(e) if epoch == NO_PRODUCER_EPOCH || e.producer_epoch == epoch => {
                        (bumped, epoch)
                    }
                    // A retry of an InitProducerId that succeeded.
                    Some(e) if e.producer_epoch == m.last_producer_epoch => {
                        (epoch, m.last_producer_epoch)
                    }
                    Some(_) => return Err(TxnError::ProducerFenced),
                };
                Ok(m.to_epoch(next, last, timeout_ms, now_ms))
            }
        }
    }

    /// The checks AddPartitionsToTxn, AddOffsetsToTxn and verification share.
    fn current(&self, id: &str, pid: i64, epoch: i16) -> Result<&TxnMetadata, TxnError> {
        check_id(id)?;
        let m = self
            .txns
            .get(id)
            .filter(|m| m.producer_id == pid)
            .ok_or(TxnError::InvalidProducerIdMapping)?;
        if m.producer_epoch != epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(m)
    }

    /// AddPartitionsToTxn (v0-v3, and v4+ without `verify_only`). Starts a
    /// transaction if none is ongoing; partitions already in it need no
    /// record.
    pub fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
        now_ms: i64,
    ) -> TxnResult<Result<(), TxnError>> {
        let m = match self.current(transactional_id, producer_id, producer_epoch) {
            Ok(m) => m,
            Err(e) => return TxnResult::answer(Err(e)),
        };
        match m.state {
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::PrepareEpochFence
            | TxnState::Dead => TxnResult::answer(Err(TxnError::ConcurrentTransactions)),
            TxnState::Ongoing if partitions.iter().all(|p| m.partitions.contains(p)) => {
                TxnResult::answer(Ok(()))
            }
            _ => TxnResult {
                writes: vec![self.write(m.to_ongoing(partitions, now_ms))],
                response: Ok(()),
                markers: Vec::new(),
            },
        }
    }

    /// AddOffsetsToTxn: adds the `__consumer_offsets` partition that
    /// coordinates `group_id` (of `offsets_partitions`), with the rules of
    /// [`Self::add_partitions`].
    pub fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        offsets_partitions: i32,
        now_ms: i64,
    ) -> TxnResult<Result<(), TxnError>> {
        let partition = crate::partition_for(group_id, offsets_partitions);
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        self.add_partitions(transactional_id, producer_id, producer_epoch, &[tp], now_ms)
    }

    /// AddPartitionsToTxn v4+ with `verify_only` (KIP-890 part 1), asked by
    /// a partition leader before it appends a transactional batch. Per
    /// partition: `Ok` if it is in the ongoing transaction of this producer
    /// id and epoch, else `TRANSACTION_ABORTABLE` (Kafka's produce path
    /// shows older clients `INVALID_TXN_STATE`). A refusal of the whole
    /// request is repeated for every partition, as Kafka answers it.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
    ) -> Vec<(TopicPartition, Result<(), TxnError>)> {
        let checked = self
            .current(transactional_id, producer_id, producer_epoch)
            .and_then(|m| match m.state.is_prepare() {
                true => Err(TxnError::ConcurrentTransactions),
                false => Ok(m),
            });
        partitions
            .iter()
            .map(|p| {
                let answer = checked.and_then(|m| match m.partitions.contains(p) {
                    true => Ok(()),
                    false => Err(TxnError::TransactionAbortable),
                });
                (p.clone(), answer)
            })
            .collect()
    }

    /// EndTxn. From `Ongoing`, writes `PrepareCommit`/`PrepareAbort` and
    /// returns the markers to write. A retry after the transaction
    /// completed the same way succeeds without a record; a retry while its
    /// markers are still being written gets `CONCURRENT_TRANSACTIONS`; the
    /// opposite outcome, or ending with no transaction, is
    /// `INVALID_TXN_STATE`.
    pub fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> TxnResult<Result<(), TxnError>> {
        let m = match self.current(transactional_id, producer_id, producer_epoch) {
            Ok(m) => m,
            Err(e) => return TxnResult::answer(Err(e)),
        };
        use TxnState::*;
        let answer = match (m.state, commit) {
            (Ongoing, _) => {
                let target = m.to_prepare(commit, now_ms);
                return TxnResult {
                    markers: vec![self.marker_work(&target)],
                    writes: vec![self.write(target)],
                    response: Ok(()),
                };
            }
            (CompleteCommit, true) | (CompleteAbort, false) => Ok(()),
            (PrepareCommit, true) | (PrepareAbort, false) => Err(TxnError::ConcurrentTransactions),
            // A fence waits for `abort_timed_out` to write its abort.
            (PrepareEpochFence, _) => Err(TxnError::ConcurrentTransactions),
            _ => Err(TxnError::InvalidTxnState),
        };
        TxnResult::answer(answer)
    }

    /// Reports that every marker of a [`super::MarkerWork`] is durable:
    /// writes `CompleteCommit`/`CompleteAbort` and clears the partitions.
    /// Refused without a record if the transaction moved on meanwhile
    /// (another producer fenced it, or the work was already reported).
    pub fn markers_written(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> TxnResult<Result<(), TxnError>> {
        let m = match self.current(transactional_id, producer_id, producer_epoch) {
            Ok(m) => m,
            Err(e) => return TxnResult::answer(Err(e)),
        };
        let expected = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if m.state != expected {
            return TxnResult::answer(Err(TxnError::InvalidTxnState));
        }
        TxnResult {
            writes: vec![self.write(m.to_complete(now_ms))],
            response: Ok(()),
            markers: Vec::new(),
        }
    }
}
