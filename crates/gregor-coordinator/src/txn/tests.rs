//! The transaction state machine driven as the broker will drive it: every
//! result's records go to a log, then are applied.

use super::*;

pub(super) const T0: i64 = 1_700_000_000_000;
pub(super) const TIMEOUT_MS: i32 = 10_000;
pub(super) const COORDINATOR_EPOCH: i32 = 3;
pub(super) const EXPIRATION_MS: i64 = 1_000_000;

/// A shard plus the `__transaction_state` log the caller wrote for it.
pub(super) struct Harness {
    pub shard: TxnCoordinatorShard,
    pub log: Vec<CoordinatorRecord>,
    pub next_pid: i64,
    pub allocations: u32,
}

impl Harness {
    pub fn new() -> Harness {
        let config = TxnConfig {
            transaction_max_timeout_ms: 60_000,
            transactional_id_expiration_ms: EXPIRATION_MS,
        };
        Harness {
            shard: TxnCoordinatorShard::new(7, COORDINATOR_EPOCH, config),
            log: Vec::new(),
            next_pid: 1000,
            allocations: 0,
        }
    }

    /// Writes a result's records, applies them, returns the answer and work.
    pub fn run<R>(&mut self, r: TxnResult<R>) -> (R, Vec<MarkerWork>) {
        self.log.extend(r.records());
        self.shard.apply(&r.writes);
        (r.response, r.markers)
    }

    pub fn init_expecting(
        &mut self,
        id: &str,
        expected: (i64, i16),
        now: i64,
    ) -> (Result<ProducerIdAndEpoch, TxnError>, Vec<MarkerWork>) {
        let (pid, allocations) = (&mut self.next_pid, &mut self.allocations);
        let mut alloc = || {
            *pid += 1;
            *allocations += 1;
            Ok(*pid)
        };
        let r = self
            .shard
            .init_producer_id(id, TIMEOUT_MS, expected.0, expected.1, now, &mut alloc);
        self.run(r)
    }

    pub fn init(&mut self, id: &str, now: i64) -> Result<ProducerIdAndEpoch, TxnError> {
        self.init_expecting(id, (-1, -1), now).0
    }

    pub fn add(
        &mut self,
        id: &str,
        p: ProducerIdAndEpoch,
        tps: &[(&str, i32)],
        now: i64,
    ) -> Result<(), TxnError> {
        let tps: Vec<TopicPartition> = tps
            .iter()
            .map(|(t, n)| TopicPartition::new(*t, *n))
            .collect();
        let r = self
            .shard
            .add_partitions(id, p.producer_id, p.producer_epoch, &tps, now);
        self.run(r).0
    }

    pub fn end(
        &mut self,
        id: &str,
        p: ProducerIdAndEpoch,
        commit: bool,
        now: i64,
    ) -> (Result<(), TxnError>, Vec<MarkerWork>) {
        let r = self
            .shard
            .end_txn(id, p.producer_id, p.producer_epoch, commit, now);
        self.run(r)
    }

    pub fn complete(&mut self, work: &MarkerWork, now: i64) -> Result<(), TxnError> {
        let r = self.shard.markers_written(
            &work.transactional_id,
            work.producer_id,
            work.producer_epoch,
            work.commit,
            now,
        );
        self.run(r).0
    }

    pub fn state(&self, id: &str) -> TxnState {
        self.shard.get(id).expect("known id").state
    }

    /// A fresh shard that loaded the log written so far.
    pub fn restarted(&self) -> (TxnCoordinatorShard, Vec<MarkerWork>) {
        let mut fresh = TxnCoordinatorShard::new(7, COORDINATOR_EPOCH + 1, self.shard.config);
        let work = fresh
            .load(
                self.log
                    .iter()
                    .map(|r| (r.key.as_ref(), r.value.as_deref())),
            )
            .expect("own log loads");
        (fresh, work)
    }
}

pub(super) fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter()
        .map(|(t, p)| TopicPartition::new(*t, *p))
        .collect()
}

#[test]
fn partition_for_is_kafkas_hash() {
    assert_eq!(partition_for("hello", 50), 22);
    assert_eq!(partition_for("my-txn", 50), 45); // a negative Java hash
    assert_eq!(
        partition_for("txn-1", DEFAULT_TRANSACTION_STATE_PARTITIONS),
        10
    );
    assert_eq!(TRANSACTION_STATE_TOPIC, "__transaction_state");
}

#[test]
fn begin_is_init_then_add_partitions() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    assert_eq!(
        p,
        ProducerIdAndEpoch {
            producer_id: 1001,
            producer_epoch: 0
        }
    );
    assert_eq!(h.log.len(), 1);
    assert_eq!(h.state("tx"), TxnState::Empty);

    h.add("tx", p, &[("t", 0), ("t", 1)], T0 + 5).unwrap();
    assert_eq!(h.log.len(), 2);
    let m = h.shard.get("tx").unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(m.txn_start_timestamp_ms, T0 + 5);
    let d = h.shard.describe(&["tx"]).remove(0).1.unwrap();
    assert_eq!(
        (d.state, d.topics),
        ("Ongoing", vec![("t".to_string(), vec![0, 1])])
    );
}

#[test]
fn adding_known_partitions_writes_nothing() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0 + 1).unwrap();
    h.add("tx", p, &[("t", 0)], T0 + 2).unwrap();
    assert_eq!(
        h.log.len(),
        2,
        "a partition already in the txn needs no record"
    );
    h.add("tx", p, &[("t", 0), ("u", 3)], T0 + 3).unwrap();
    assert_eq!(h.log.len(), 3);
    let m = h.shard.get("tx").unwrap();
    assert_eq!(m.partitions.len(), 2);
    assert_eq!(m.txn_start_timestamp_ms, T0 + 1, "the txn keeps its start");
}

#[test]
fn add_offsets_adds_the_groups_offsets_partition() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    let r = h
        .shard
        .add_offsets("tx", p.producer_id, p.producer_epoch, "hello", 50, T0);
    assert_eq!(h.run(r).0, Ok(()));
    let m = h.shard.get("tx").unwrap();
    assert!(m
        .partitions
        .contains(&TopicPartition::new(crate::OFFSETS_TOPIC, 22)));
}

#[test]
fn commit_writes_prepare_then_markers_then_complete() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0), ("u", 1)], T0).unwrap();
    let (answer, work) = h.end("tx", p, true, T0 + 1);
    assert_eq!(answer, Ok(()));
    assert_eq!(h.state("tx"), TxnState::PrepareCommit);
    assert_eq!(
        work,
        vec![MarkerWork {
            transactional_id: "tx".into(),
            producer_id: p.producer_id,
            producer_epoch: 0,
            coordinator_epoch: COORDINATOR_EPOCH,
            commit: true,
            partitions: tps(&[("t", 0), ("u", 1)]),
        }]
    );
    h.complete(&work[0], T0 + 2).unwrap();
    let m = h.shard.get("tx").unwrap();
    assert_eq!(m.state, TxnState::CompleteCommit);
    assert!(m.partitions.is_empty());
    assert_eq!(h.log.len(), 4);
    // The next transaction starts afresh.
    h.add("tx", p, &[("v", 0)], T0 + 10).unwrap();
    assert_eq!(h.shard.get("tx").unwrap().txn_start_timestamp_ms, T0 + 10);
}

#[test]
fn abort_writes_prepare_abort_and_abort_markers() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let (answer, work) = h.end("tx", p, false, T0 + 1);
    assert_eq!(answer, Ok(()));
    assert_eq!(h.state("tx"), TxnState::PrepareAbort);
    assert!(!work[0].commit);
    h.complete(&work[0], T0 + 2).unwrap();
    assert_eq!(h.state("tx"), TxnState::CompleteAbort);
}

#[test]
fn end_txn_retries_follow_kafka() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    assert_eq!(
        h.end("tx", p, false, T0).0,
        Err(TxnError::InvalidTxnState),
        "nothing to abort"
    );
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let (_, work) = h.end("tx", p, true, T0);
    // While the markers are written, a retry waits; the opposite is wrong.
    assert_eq!(
        h.end("tx", p, true, T0).0,
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(h.end("tx", p, false, T0).0, Err(TxnError::InvalidTxnState));
    assert_eq!(
        h.add("tx", p, &[("t", 1)], T0),
        Err(TxnError::ConcurrentTransactions)
    );
    h.complete(&work[0], T0).unwrap();
    let before = h.log.len();
    assert_eq!(
        h.end("tx", p, true, T0).0,
        Ok(()),
        "a retry after completion succeeds"
    );
    assert_eq!(h.end("tx", p, false, T0).0, Err(TxnError::InvalidTxnState));
    assert_eq!(h.complete(&work[0], T0), Err(TxnError::InvalidTxnState));
    assert_eq!(h.log.len(), before, "retries write nothing");
}

#[test]
fn timed_out_transactions_are_aborted_with_an_epoch_bump() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let deadline = T0 + i64::from(TIMEOUT_MS);
    assert!(h.shard.abort_timed_out(deadline).writes.is_empty());
    let (_, work) = h.run(h.shard.abort_timed_out(deadline + 1));
    assert_eq!(h.state("tx"), TxnState::PrepareAbort);
    assert_eq!(h.shard.get("tx").unwrap().producer_epoch, 1);
    assert_eq!((work[0].producer_epoch, work[0].commit), (1, false));
    // The producer that let it time out is fenced everywhere.
    assert_eq!(
        h.end("tx", p, true, deadline + 2).0,
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        h.add("tx", p, &[("t", 0)], deadline + 2),
        Err(TxnError::ProducerFenced)
    );
    h.complete(&work[0], deadline + 3).unwrap();
    assert_eq!(h.state("tx"), TxnState::CompleteAbort);
    let (old, _) = h.init_expecting("tx", (p.producer_id, 0), deadline + 4);
    assert_eq!(old, Err(TxnError::ProducerFenced));
    let fresh = h.init("tx", deadline + 5).unwrap();
    assert_eq!(fresh.producer_epoch, 2);
}

#[test]
fn zombies_are_fenced() {
    let mut h = Harness::new();
    let zombie = h.init("tx", T0).unwrap();
    let current = h.init("tx", T0 + 1).unwrap();
    assert_eq!(
        current,
        ProducerIdAndEpoch {
            producer_epoch: 1,
            ..zombie
        }
    );
    assert_eq!(
        h.add("tx", zombie, &[("t", 0)], T0),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        h.end("tx", zombie, true, T0).0,
        Err(TxnError::ProducerFenced)
    );
    let wrong_pid = ProducerIdAndEpoch {
        producer_id: 42,
        ..current
    };
    assert_eq!(
        h.add("tx", wrong_pid, &[("t", 0)], T0),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        h.add("other", current, &[("t", 0)], T0),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        h.add("", current, &[("t", 0)], T0),
        Err(TxnError::InvalidRequest)
    );
    h.add("tx", current, &[("t", 0)], T0).unwrap();
}

#[test]
fn init_during_an_ongoing_txn_aborts_it_first() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let (answer, work) = h.init_expecting("tx", (-1, -1), T0 + 1);
    assert_eq!(answer, Err(TxnError::ConcurrentTransactions));
    assert_eq!(h.state("tx"), TxnState::PrepareAbort);
    assert_eq!((work[0].producer_epoch, work[0].commit), (1, false));
    assert_eq!(work[0].partitions, tps(&[("t", 0)]));
    // The client retries while the markers are written, then succeeds.
    let before = h.log.len();
    assert_eq!(h.init("tx", T0 + 2), Err(TxnError::ConcurrentTransactions));
    assert_eq!(h.log.len(), before);
    h.complete(&work[0], T0 + 3).unwrap();
    let again = h.init("tx", T0 + 4).unwrap();
    assert_eq!(
        again,
        ProducerIdAndEpoch {
            producer_id: p.producer_id,
            producer_epoch: 2
        }
    );
    assert_eq!(h.allocations, 1);
}

#[test]
fn exhausted_epochs_move_to_a_new_producer_id() {
    let mut h = Harness::new();
    let old_epoch = i16::MAX - 1;
    let value = TxnMetadata {
        producer_epoch: old_epoch,
        ..TxnMetadata::fresh("tx", 77, TIMEOUT_MS, T0)
    }
    .to_value();
    let record = txn_record("tx", &value).unwrap();
    h.shard
        .replay(&record.key, record.value.as_deref())
        .unwrap();
    h.log.push(record);

    let (rotated, _) = h.init_expecting("tx", (77, old_epoch), T0 + 1);
    assert_eq!(
        rotated,
        Ok(ProducerIdAndEpoch {
            producer_id: 1001,
            producer_epoch: 0
        })
    );
    // The producer missed the answer and retries with its old id and epoch.
    let (retry, _) = h.init_expecting("tx", (77, old_epoch), T0 + 2);
    assert_eq!(retry, rotated);
    assert_eq!(h.allocations, 1);
}

#[test]
fn kip_360_retries_and_fencing_by_expected_epoch() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    let (bumped, _) = h.init_expecting("tx", (p.producer_id, 0), T0 + 1);
    assert_eq!(bumped.unwrap().producer_epoch, 1);
    let (retry, _) = h.init_expecting("tx", (p.producer_id, 0), T0 + 2);
    assert_eq!(
        retry.unwrap().producer_epoch,
        1,
        "a retry is not bumped again"
    );
    let (stale, _) = h.init_expecting("tx", (p.producer_id, 5), T0 + 3);
    assert_eq!(stale, Err(TxnError::ProducerFenced));
    let (foreign, _) = h.init_expecting("tx", (9999, 1), T0 + 3);
    assert_eq!(foreign, Err(TxnError::ProducerFenced));
}

#[test]
fn invalid_timeouts_are_refused_before_anything_else() {
    let mut h = Harness::new();
    for timeout in [0, -5, 60_001] {
        let mut alloc = || -> Result<i64, TxnError> { panic!("no id for a refused request") };
        let r = h
            .shard
            .init_producer_id("tx", timeout, -1, -1, T0, &mut alloc);
        assert_eq!(r.response, Err(TxnError::InvalidTransactionTimeout));
        assert!(r.writes.is_empty());
    }
    let mut failing = || Err(TxnError::ProducerIdAllocation(14));
    let r = h
        .shard
        .init_producer_id("tx", 1000, -1, -1, T0, &mut failing);
    assert_eq!(r.response.map_err(TxnError::code), Err(14));
    assert_eq!(h.init("", T0), Err(TxnError::InvalidRequest));
}

#[test]
fn verify_only_checks_membership_without_writing() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let asked = tps(&[("t", 0), ("t", 1)]);
    let v = h
        .shard
        .verify_partitions("tx", p.producer_id, p.producer_epoch, &asked);
    assert_eq!(v[0], (asked[0].clone(), Ok(())));
    assert_eq!(
        v[1],
        (asked[1].clone(), Err(TxnError::TransactionAbortable))
    );
    let fenced = h.shard.verify_partitions("tx", p.producer_id, 7, &asked);
    assert!(fenced
        .iter()
        .all(|(_, r)| *r == Err(TxnError::ProducerFenced)));
    let unknown = h.shard.verify_partitions("nope", p.producer_id, 0, &asked);
    assert!(unknown
        .iter()
        .all(|(_, r)| *r == Err(TxnError::InvalidProducerIdMapping)));
    assert_eq!(h.end("tx", p, true, T0).0, Ok(()));
    let preparing = h.shard.verify_partitions("tx", p.producer_id, 0, &asked);
    assert!(preparing
        .iter()
        .all(|(_, r)| *r == Err(TxnError::ConcurrentTransactions)));
}
