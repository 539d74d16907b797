//! Restarts in every state (the log written so far loaded into a fresh
//! shard), expiry, and the admin views.

use super::tests::{tps, Harness, COORDINATOR_EPOCH, EXPIRATION_MS, T0};
use super::*;

/// The restarted shard holds what the live one held, except the fields
/// Kafka keeps only in memory.
fn assert_same_after_restart(h: &Harness, id: &str) -> (TxnCoordinatorShard, Vec<MarkerWork>) {
    let (fresh, work) = h.restarted();
    let live = h.shard.get(id).unwrap();
    let loaded = fresh.get(id).unwrap();
    let expected = TxnMetadata {
        last_producer_epoch: NO_PRODUCER_EPOCH,
        previous_producer_id: loaded.previous_producer_id,
        ..live.clone()
    };
    assert_eq!(*loaded, expected);
    (fresh, work)
}

#[test]
fn restart_in_empty_and_ongoing_needs_no_markers() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    let (_, work) = assert_same_after_restart(&h, "tx");
    assert!(work.is_empty());
    h.add("tx", p, &[("t", 0), ("u", 2)], T0 + 1).unwrap();
    let (fresh, work) = assert_same_after_restart(&h, "tx");
    assert!(work.is_empty());
    assert_eq!(fresh.get("tx").unwrap().partitions.len(), 2);
    // An ongoing txn still times out after the restart.
    let timed_out = fresh.abort_timed_out(T0 + 1 + 10_001);
    assert_eq!(timed_out.markers.len(), 1);
}

#[test]
fn restart_in_prepare_commit_resends_the_markers_and_completes() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0), ("u", 2)], T0).unwrap();
    let (_, before) = h.end("tx", p, true, T0 + 1);
    let (mut fresh, work) = assert_same_after_restart(&h, "tx");
    assert_eq!(work.len(), 1);
    assert!(work[0].commit);
    assert_eq!(work[0].partitions, before[0].partitions);
    assert_eq!(
        work[0].coordinator_epoch,
        COORDINATOR_EPOCH + 1,
        "the new leader's epoch"
    );
    let done = fresh.markers_written("tx", p.producer_id, 0, true, T0 + 2);
    fresh.apply(&done.writes);
    assert_eq!(fresh.get("tx").unwrap().state, TxnState::CompleteCommit);
}

#[test]
fn restart_in_prepare_abort_resends_abort_markers() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    assert_eq!(h.end("tx", p, false, T0 + 1).0, Ok(()));
    let (_, work) = assert_same_after_restart(&h, "tx");
    assert_eq!(work.len(), 1);
    assert!(!work[0].commit);
    assert_eq!(work[0].partitions, tps(&[("t", 0)]));
}

#[test]
fn restart_after_a_timeout_fence_keeps_the_bumped_epoch() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    h.run(h.shard.abort_timed_out(T0 + 20_000));
    let (fresh, work) = assert_same_after_restart(&h, "tx");
    assert_eq!(work[0].producer_epoch, 1);
    let r = fresh.add_partitions("tx", p.producer_id, 0, &tps(&[("t", 0)]), T0);
    assert_eq!(r.response, Err(TxnError::ProducerFenced));
}

#[test]
fn restart_in_complete_states_needs_no_markers() {
    for commit in [true, false] {
        let mut h = Harness::new();
        let p = h.init("tx", T0).unwrap();
        h.add("tx", p, &[("t", 0)], T0).unwrap();
        let (_, work) = h.end("tx", p, commit, T0 + 1);
        h.complete(&work[0], T0 + 2).unwrap();
        let (fresh, work) = assert_same_after_restart(&h, "tx");
        assert!(work.is_empty());
        let want = if commit {
            "CompleteCommit"
        } else {
            "CompleteAbort"
        };
        assert_eq!(fresh.get("tx").unwrap().state.name(), want);
        assert!(fresh.get("tx").unwrap().partitions.is_empty());
    }
}

#[test]
fn a_stored_epoch_fence_is_aborted_without_a_second_bump() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    // Kafka never writes this state; a log that holds it must not hang.
    let mut value = h.shard.get("tx").unwrap().to_value();
    value.transaction_status = TxnState::PrepareEpochFence.id();
    value.producer_epoch = 1;
    let record = txn_record("tx", &value).unwrap();
    h.log.push(record);
    let (fresh, work) = h.restarted();
    assert!(work.is_empty());
    assert_eq!(fresh.get("tx").unwrap().state, TxnState::PrepareEpochFence);
    let end = fresh.end_txn("tx", p.producer_id, 1, true, T0);
    assert_eq!(end.response, Err(TxnError::ConcurrentTransactions));
    let abort = fresh.abort_timed_out(T0 + 1);
    assert_eq!(abort.markers.len(), 1);
    assert_eq!(
        (abort.markers[0].producer_epoch, abort.markers[0].commit),
        (1, false)
    );
}

#[test]
fn idle_ids_expire_with_a_tombstone() {
    let mut h = Harness::new();
    let p = h.init("idle", T0).unwrap();
    let q = h.init("busy", T0).unwrap();
    h.add("busy", q, &[("t", 0)], T0).unwrap();
    assert!(h
        .shard
        .expire_transactional_ids(T0 + EXPIRATION_MS - 1)
        .writes
        .is_empty());
    let r = h.shard.expire_transactional_ids(T0 + EXPIRATION_MS);
    assert_eq!(r.writes.len(), 1, "an ongoing txn never expires");
    assert_eq!(r.writes[0].record.value, None);
    assert_eq!(r.writes[0].record.key, encode_key("idle").unwrap());
    h.run(r);
    assert!(h.shard.get("idle").is_none());
    let (fresh, _) = h.restarted();
    assert!(fresh.get("idle").is_none());
    assert!(fresh.get("busy").is_some());
    // The id starts over with a new producer id.
    let again = h.init("idle", T0 + EXPIRATION_MS + 1).unwrap();
    assert_ne!(again.producer_id, p.producer_id);
    let described = h.shard.describe(&["gone", ""]);
    assert_eq!(described[0].1, Err(TxnError::TransactionalIdNotFound));
    assert_eq!(described[1].1, Err(TxnError::InvalidRequest));
}

#[test]
fn list_filters_by_state_producer_and_duration() {
    let mut h = Harness::new();
    let a = h.init("a", T0).unwrap();
    h.init("b", T0).unwrap();
    h.add("a", a, &[("t", 0)], T0).unwrap();
    let names = |l: Listing| -> Vec<String> {
        l.transactions
            .into_iter()
            .map(|t| t.transactional_id)
            .collect()
    };
    assert_eq!(names(h.shard.list(&ListFilter::default(), T0)), ["a", "b"]);
    let ongoing = ListFilter {
        states: vec!["Ongoing".into(), "Bogus".into()],
        ..ListFilter::default()
    };
    let listing = h.shard.list(&ongoing, T0);
    assert_eq!(listing.unknown_state_filters, ["Bogus"]);
    assert_eq!(listing.transactions[0].state, "Ongoing");
    assert_eq!(names(listing), ["a"]);
    let by_pid = ListFilter {
        producer_ids: vec![a.producer_id],
        ..ListFilter::default()
    };
    assert_eq!(names(h.shard.list(&by_pid, T0)), ["a"]);
    let long_running = ListFilter {
        states: vec!["Ongoing".into()],
        min_duration_ms: Some(500),
        ..ListFilter::default()
    };
    assert!(names(h.shard.list(&long_running, T0 + 500)).is_empty());
    assert_eq!(names(h.shard.list(&long_running, T0 + 501)), ["a"]);
}

#[test]
fn unknown_key_versions_are_skipped_on_load() {
    let mut shard = TxnCoordinatorShard::new(0, 0, TxnConfig::default());
    let work = shard.load([(&[0u8, 9, 1][..], Some(&[1u8][..]))]).unwrap();
    assert!(work.is_empty());
    assert!(shard.transactions().next().is_none());
    assert!(shard
        .replay(&encode_key("x").unwrap(), Some(&[0, 0, 1]))
        .is_err());
}
