//! The partition side of transactions, run against both storage backends:
//! ongoing transactions hold the last stable offset, markers end them,
//! aborts land in the segments' transaction indexes, and all of it
//! survives restarts, rolls and retention.

mod common;

use bytes::{Bytes, BytesMut};
use common::{encode, files_with, open, Backend, Spec, T0};
use gregor_log::{
    AbortedTxn, AppendError, AppendInfo, AppendOptions, AppendOrigin, Log, LogConfig,
    VerificationGuard,
};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

both_backends!(
    an_ongoing_transaction_holds_the_lso_until_its_commit,
    an_abort_is_indexed_and_found_for_overlapping_ranges_only,
    interleaved_transactions_of_two_producers,
    the_lso_holds_across_segment_rolls,
    a_kill_mid_transaction_reopens_to_the_same_state,
    a_kill_after_commit_and_abort_rebuilds_the_transaction_index,
    a_clean_restart_keeps_ongoing_transactions,
    clients_may_not_write_control_batches,
    markers_from_old_epochs_are_fenced_and_new_ones_bump_the_epoch,
    a_transaction_must_be_verified_before_it_starts,
    a_marker_retires_a_pending_verification,
    data_outside_the_transaction_is_refused_while_it_is_ongoing,
    retention_removes_the_transaction_index,
    the_cleaner_carries_the_transaction_index_and_stops_at_the_lso,
    the_cleaner_removes_aborted_data_and_keeps_what_it_overwrote,
    markers_go_once_their_data_is_gone_and_the_horizon_passed,
);

const PID: i64 = 1000;
const OTHER: i64 = 2000;

fn config() -> LogConfig {
    LogConfig::default()
}

fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

/// Small segments, compacted, cleaned whenever anything is dirty.
fn compacted() -> LogConfig {
    LogConfig {
        cleanup_delete: false,
        cleanup_compact: true,
        min_cleanable_dirty_ratio: 0.0,
        ..small_segments()
    }
}

/// Appends a transactional batch the way the broker will: verification
/// first (a no-op once the transaction is ongoing), then the append with
/// the guard it got.
fn txn_batch(log: &mut Log, pid: i64, epoch: i16, seq: i32, records: usize) -> AppendInfo {
    txn_append(
        log,
        pid,
        epoch,
        &encode(&Spec::transactional(pid, epoch, seq, records)),
    )
}

/// [`txn_batch`] for a batch already encoded.
fn txn_append(log: &mut Log, pid: i64, epoch: i16, batch: &[u8]) -> AppendInfo {
    let guard = log.start_verification(pid, epoch);
    let options = AppendOptions {
        origin: AppendOrigin::Client,
        verification_guard: guard,
    };
    log.append_with(batch, 0, T0, options)
        .expect("transactional append")
}

fn marker(log: &mut Log, pid: i64, epoch: i16, commit: bool) -> AppendInfo {
    log.append_marker(pid, epoch, 0, commit, 0, T0)
        .expect("marker append")
}

fn plain(log: &mut Log, records: usize) -> AppendInfo {
    log.append(&common::plain(records, T0), 0, T0)
        .expect("plain append")
}

fn aborted(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

/// What a `read_committed` consumer is told: (producer id, first offset).
fn aborted_list(log: &Log, from: i64, to: i64) -> Vec<(i64, i64)> {
    log.aborted_transactions(from, to)
        .iter()
        .map(|a| (a.producer_id, a.first_offset))
        .collect()
}

fn an_ongoing_transaction_holds_the_lso_until_its_commit<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    plain(&mut log, 2);
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), 2);
    let first = txn_batch(&mut log, PID, 0, 0, 3);
    assert_eq!(first.base_offset, 2);
    plain(&mut log, 1);
    txn_batch(&mut log, PID, 0, 3, 1);
    assert_eq!(log.log_end_offset(), 7);
    assert_eq!(log.first_unstable_offset(), Some(2));
    assert_eq!(log.last_stable_offset(), 2, "the transaction holds the LSO");
    assert_eq!(
        log.last_stable_offset_at(1),
        1,
        "never past the high watermark"
    );
    let state = &log.producer_states()[0];
    assert_eq!(
        (state.current_txn_first_offset, state.coordinator_epoch),
        (Some(2), -1)
    );
    let commit = marker(&mut log, PID, 0, true);
    assert_eq!((commit.base_offset, commit.last_offset), (7, 7));
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.last_stable_offset(), 8);
    assert!(
        log.aborted_transactions(0, 8).is_empty(),
        "a commit is not indexed"
    );
    let state = &log.producer_states()[0];
    assert_eq!(
        (state.current_txn_first_offset, state.coordinator_epoch),
        (None, 0)
    );
    assert!(files_with(&*backend.storage(), ".txnindex").is_empty());
    // The marker is stored as Kafka's control batch, read back verbatim.
    let read = log.read(7, 1 << 20, 8, true).expect("read marker");
    let mut buf = read.records[0].clone();
    let sets = RecordBatchDecoder::decode_all(&mut buf).expect("decode marker");
    let record = &sets[0].records[0];
    assert!(record.control && record.transactional);
    assert_eq!((record.producer_id, record.producer_epoch), (PID, 0));
    assert_eq!(record.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
    assert_eq!(record.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 0][..]));
}

fn an_abort_is_indexed_and_found_for_overlapping_ranges_only<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    plain(&mut log, 2); // 0-1
    txn_batch(&mut log, PID, 0, 0, 3); // 2-4
    plain(&mut log, 2); // 5-6
    marker(&mut log, PID, 0, false); // 7
    plain(&mut log, 2); // 8-9
    assert_eq!(log.last_stable_offset(), 10);
    assert_eq!(log.aborted_transactions(0, 10), vec![aborted(PID, 2, 7, 8)]);
    assert_eq!(
        aborted_list(&log, 0, 2),
        vec![],
        "ends before the transaction"
    );
    assert_eq!(aborted_list(&log, 0, 3), vec![(PID, 2)]);
    assert_eq!(aborted_list(&log, 5, 6), vec![(PID, 2)], "inside it");
    assert_eq!(aborted_list(&log, 7, 10), vec![(PID, 2)], "from its marker");
    assert_eq!(aborted_list(&log, 8, 10), vec![], "after its marker");
    // Kafka's AbortedTxn bytes in `<base>.txnindex`.
    let storage = backend.storage();
    assert_eq!(
        files_with(&*storage, ".txnindex"),
        vec!["00000000000000000000.txnindex".to_string()]
    );
    let file = storage.open("00000000000000000000.txnindex").unwrap();
    let mut bytes = vec![0u8; file.len() as usize];
    file.read_exact_at(0, &mut bytes).unwrap();
    let mut expected = vec![0u8, 0];
    for v in [PID, 2, 7, 8] {
        expected.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(bytes, expected);
}

fn interleaved_transactions_of_two_producers<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    txn_batch(&mut log, PID, 0, 0, 2); // 0-1
    txn_batch(&mut log, OTHER, 5, 0, 2); // 2-3
    txn_batch(&mut log, PID, 0, 2, 1); // 4
    assert_eq!(log.last_stable_offset(), 0);
    // The first producer's abort: the other's transaction still holds the LSO.
    marker(&mut log, PID, 0, false); // 5
    assert_eq!(log.last_stable_offset(), 2);
    txn_batch(&mut log, OTHER, 5, 2, 1); // 6
    marker(&mut log, OTHER, 5, false); // 7
    assert_eq!(log.last_stable_offset(), 8);
    assert_eq!(
        log.aborted_transactions(0, 8),
        vec![aborted(PID, 0, 5, 2), aborted(OTHER, 2, 7, 8)]
    );
    assert_eq!(
        aborted_list(&log, 0, 2),
        vec![(PID, 0)],
        "stops at the LSO bound"
    );
    assert_eq!(aborted_list(&log, 6, 8), vec![(OTHER, 2)]);
    // A new transaction of the first producer starts after both.
    txn_batch(&mut log, PID, 0, 3, 1); // 8
    assert_eq!(log.last_stable_offset(), 8);
    marker(&mut log, PID, 0, true); // 9
    assert_eq!(log.last_stable_offset(), 10);
    assert_eq!(log.aborted_transactions(0, 10).len(), 2);
}

fn the_lso_holds_across_segment_rolls<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &small_segments(), true, T0);
    plain(&mut log, 1);
    let start = txn_batch(&mut log, PID, 0, 0, 1).base_offset;
    let mut seq = 1;
    while log.segment_count() < 4 {
        plain(&mut log, 2);
        txn_batch(&mut log, PID, 0, seq, 1);
        seq += 1;
    }
    assert_eq!(log.last_stable_offset(), start);
    let abort = marker(&mut log, PID, 0, false).base_offset;
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    let expected = vec![aborted(PID, start, abort, abort + 1)];
    assert_eq!(log.aborted_transactions(0, log.log_end_offset()), expected);
    // A fetch in any earlier segment finds the abort in a later one.
    assert_eq!(log.aborted_transactions(start + 3, abort), expected);
    // Only the segment holding the marker has an index; a new segment
    // starts without one.
    let before = log.segment_count();
    while log.segment_count() == before {
        plain(&mut log, 2);
    }
    let storage = backend.storage();
    let base = log.segment_base_offsets()[before - 1];
    assert_eq!(
        files_with(&*storage, ".txnindex"),
        vec![format!("{base:020}.txnindex")]
    );
    assert_eq!(
        log.aborted_transactions(log.log_end_offset(), i64::MAX),
        vec![]
    );
}

fn a_kill_mid_transaction_reopens_to_the_same_state<B: Backend>() {
    let backend = B::fresh();
    let cfg = small_segments();
    let mut log = open(&backend, &cfg, true, T0);
    plain(&mut log, 1);
    txn_batch(&mut log, OTHER, 0, 0, 1);
    marker(&mut log, OTHER, 0, false);
    let start = txn_batch(&mut log, PID, 3, 0, 2).base_offset;
    for seq in 0..6 {
        plain(&mut log, 2);
        txn_batch(&mut log, PID, 3, 2 + seq, 1);
    }
    assert!(log.segment_count() > 2);
    // Durable up to here: recovery replays only the active segment, from
    // the snapshot taken when it rolled in, which must carry the
    // transaction begun segments earlier.
    log.flush().unwrap();
    plain(&mut log, 1);
    let states = log.producer_states();
    let aborts = log.aborted_transactions(0, i64::MAX);
    drop(log); // killed: no close, no final snapshot
    let mut log = open(&backend, &cfg, false, T0);
    assert_eq!(log.last_stable_offset(), start);
    assert_eq!(log.producer_states(), states);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    // The transaction continues without a new verification, then aborts.
    assert_eq!(log.start_verification(PID, 3), VerificationGuard::SENTINEL);
    txn_batch(&mut log, PID, 3, 8, 1);
    let abort = marker(&mut log, PID, 3, false).base_offset;
    assert_eq!(log.last_stable_offset(), abort + 1);
    assert_eq!(
        log.aborted_transactions(0, i64::MAX).last(),
        Some(&aborted(PID, start, abort, abort + 1))
    );
}

fn a_kill_after_commit_and_abort_rebuilds_the_transaction_index<B: Backend>() {
    let backend = B::fresh();
    let cfg = config();
    let mut log = open(&backend, &cfg, true, T0);
    txn_batch(&mut log, PID, 0, 0, 2);
    txn_batch(&mut log, OTHER, 0, 0, 2);
    marker(&mut log, PID, 0, false);
    marker(&mut log, OTHER, 0, true);
    txn_batch(&mut log, PID, 0, 2, 1);
    marker(&mut log, PID, 0, false);
    plain(&mut log, 1);
    let lso = log.last_stable_offset();
    let aborts = log.aborted_transactions(0, i64::MAX);
    assert_eq!(aborts.len(), 2);
    let states = log.producer_states();
    drop(log);
    // Lose the index: recovery of the (active) segment rebuilds it.
    let storage = backend.storage();
    storage.remove("00000000000000000000.txnindex").unwrap();
    let log = open(&backend, &cfg, false, T0);
    assert_eq!(log.last_stable_offset(), lso);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    assert_eq!(log.producer_states(), states);
    assert_eq!(files_with(&*storage, ".txnindex").len(), 1);
    drop(log);
    // A damaged index is rebuilt even after a clean shutdown.
    let mut file = storage.open("00000000000000000000.txnindex").unwrap();
    file.append(&[1, 2, 3]).unwrap();
    drop(file);
    let log = open(&backend, &cfg, true, T0);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    log.close().unwrap();
    let log = open(&backend, &cfg, true, T0);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
}

fn a_clean_restart_keeps_ongoing_transactions<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    plain(&mut log, 1);
    txn_batch(&mut log, PID, 2, 0, 2);
    log.append_marker(OTHER, 0, 4, true, 0, T0).unwrap();
    let states = log.producer_states();
    log.close().unwrap();
    let mut log = open(&backend, &config(), true, T0);
    assert_eq!(log.producer_states(), states);
    assert_eq!(log.last_stable_offset(), 1);
    let other = log.producer_states()[1].clone();
    assert_eq!((other.producer_id, other.coordinator_epoch), (OTHER, 4));
    assert!(matches!(
        log.append_marker(OTHER, 0, 3, true, 0, T0),
        Err(AppendError::TransactionCoordinatorFenced { .. })
    ));
    marker(&mut log, PID, 2, true);
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
}

/// A commit marker as a client might send it in a produce request.
fn client_marker_batch() -> BytesMut {
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: PID,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: T0,
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &[record], &options).expect("encode marker");
    buf
}

fn clients_may_not_write_control_batches<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    txn_batch(&mut log, PID, 0, 0, 1);
    let batch = client_marker_batch();
    assert!(matches!(
        log.append(&batch, 0, T0),
        Err(AppendError::InvalidRecord(_))
    ));
    assert_eq!((log.log_end_offset(), log.last_stable_offset()), (1, 0));
    // The same bytes from the coordinator end the transaction.
    log.append_from(&batch, 0, T0, AppendOrigin::Coordinator)
        .expect("coordinator marker");
    assert_eq!(log.last_stable_offset(), 2);
}

fn markers_from_old_epochs_are_fenced_and_new_ones_bump_the_epoch<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    txn_batch(&mut log, PID, 2, 0, 1);
    assert!(matches!(
        log.append_marker(PID, 1, 0, false, 0, T0),
        Err(AppendError::InvalidProducerEpoch {
            current_epoch: 2,
            ..
        })
    ));
    assert_eq!((log.log_end_offset(), log.last_stable_offset()), (1, 0));
    log.append_marker(PID, 2, 5, false, 0, T0).unwrap();
    assert!(matches!(
        log.append_marker(PID, 2, 4, false, 0, T0),
        Err(AppendError::TransactionCoordinatorFenced {
            coordinator_epoch: 4,
            current_coordinator_epoch: 5,
            ..
        })
    ));
    // An abort from a coordinator that bumped the epoch (a timed-out
    // transaction) fences the producer's old epoch.
    txn_batch(&mut log, PID, 2, 1, 1);
    let bumped = log.append_marker(PID, 3, 5, false, 0, T0).unwrap();
    assert_eq!(log.producer_states()[0].producer_epoch, 3);
    assert_eq!(
        log.aborted_transactions(0, i64::MAX)
            .last()
            .unwrap()
            .last_offset,
        bumped.base_offset
    );
    let guard = log.start_verification(PID, 2);
    let stale = log.append_with(
        &encode(&Spec::transactional(PID, 2, 2, 1)),
        0,
        T0,
        AppendOptions {
            origin: AppendOrigin::Client,
            verification_guard: guard,
        },
    );
    assert!(matches!(
        stale,
        Err(AppendError::InvalidProducerEpoch { .. })
    ));
    txn_batch(&mut log, PID, 3, 0, 1);
}

fn a_transaction_must_be_verified_before_it_starts<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    let batch = encode(&Spec::transactional(PID, 0, 0, 2));
    let refused = log.append(&batch, 0, T0);
    assert!(
        matches!(refused, Err(AppendError::InvalidTxnState(_))),
        "{refused:?}"
    );
    let with = |guard| AppendOptions {
        origin: AppendOrigin::Client,
        verification_guard: guard,
    };
    let guard = log.start_verification(PID, 0);
    assert!(!guard.is_sentinel());
    assert_eq!(
        log.start_verification(PID, 0),
        guard,
        "same guard until used"
    );
    let other_guard = log.start_verification(OTHER, 0);
    assert!(matches!(
        log.append_with(&batch, 0, T0, with(other_guard)),
        Err(AppendError::InvalidTxnState(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
    log.append_with(&batch, 0, T0, with(guard))
        .expect("verified");
    // Ongoing: later batches need no guard.
    assert_eq!(log.start_verification(PID, 0), VerificationGuard::SENTINEL);
    log.append(&encode(&Spec::transactional(PID, 0, 2, 1)), 0, T0)
        .expect("ongoing transaction");
    marker(&mut log, PID, 0, true);
    // Used guards do not open the next transaction.
    let next = encode(&Spec::transactional(PID, 0, 3, 1));
    assert!(matches!(
        log.append_with(&next, 0, T0, with(guard)),
        Err(AppendError::InvalidTxnState(_))
    ));
    let fresh = log.start_verification(PID, 0);
    assert_ne!(fresh, guard);
    log.append_with(&next, 0, T0, with(fresh))
        .expect("new transaction");
    assert_eq!(log.last_stable_offset(), 4);
}

fn a_marker_retires_a_pending_verification<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    txn_batch(&mut log, PID, 0, 0, 1);
    marker(&mut log, PID, 0, true);
    // Verification starts, but the coordinator aborts the transaction
    // before the "verified" answer is used: the stale guard must not open
    // a transaction nobody would end.
    let guard = log.start_verification(PID, 0);
    marker(&mut log, PID, 0, false);
    let late = log.append_with(
        &encode(&Spec::transactional(PID, 0, 1, 1)),
        0,
        T0,
        AppendOptions {
            origin: AppendOrigin::Client,
            verification_guard: guard,
        },
    );
    assert!(
        matches!(late, Err(AppendError::InvalidTxnState(_))),
        "{late:?}"
    );
    assert_eq!(log.first_unstable_offset(), None);
    assert!(
        log.aborted_transactions(0, i64::MAX).is_empty(),
        "an empty abort is not indexed"
    );
}

fn data_outside_the_transaction_is_refused_while_it_is_ongoing<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    txn_batch(&mut log, PID, 0, 0, 1);
    let idempotent = log.append(&encode(&Spec::idempotent(PID, 0, 1, 1)), 0, T0);
    assert!(
        matches!(idempotent, Err(AppendError::InvalidTxnState(_))),
        "{idempotent:?}"
    );
    marker(&mut log, PID, 0, true);
    log.append(&encode(&Spec::idempotent(PID, 0, 1, 1)), 0, T0)
        .expect("idempotent again after the commit");
}

fn retention_removes_the_transaction_index<B: Backend>() {
    let backend = B::fresh();
    let cfg = LogConfig {
        retention_bytes: 500,
        ..small_segments()
    };
    let mut log = open(&backend, &cfg, true, T0);
    txn_batch(&mut log, PID, 0, 0, 1);
    marker(&mut log, PID, 0, false);
    let storage = backend.storage();
    assert_eq!(files_with(&*storage, ".txnindex").len(), 1);
    while log.segment_count() < 5 {
        plain(&mut log, 2);
    }
    let deleted = log.delete_old_segments(T0).expect("retention");
    assert!(deleted.base_offsets().contains(&0));
    deleted.delete_files().expect("delete files");
    assert!(files_with(&*storage, ".txnindex").is_empty());
    assert!(log
        .aborted_transactions(log.log_start_offset(), i64::MAX)
        .is_empty());
}

fn the_cleaner_carries_the_transaction_index_and_stops_at_the_lso<B: Backend>() {
    let backend = B::fresh();
    let cfg = compacted();
    let mut log = open(&backend, &cfg, true, T0);
    for round in 0..4 {
        txn_batch(&mut log, PID, 0, round, 1);
        plain(&mut log, 2);
        marker(&mut log, PID, 0, round % 2 == 0);
    }
    let unstable = txn_batch(&mut log, OTHER, 0, 0, 1).base_offset;
    while log.segment_count() < 8 {
        plain(&mut log, 2);
    }
    let aborts = log.aborted_transactions(0, i64::MAX);
    assert_eq!(aborts.len(), 2);
    let dirtiness = log.dirtiness(T0).expect("compacted");
    assert!(
        dirtiness.first_uncleanable_offset <= unstable,
        "{dirtiness:?}"
    );
    // Cleaned segments may be larger, so several sources become one.
    log.set_config(LogConfig {
        segment_bytes: 1 << 20,
        ..cfg.clone()
    });
    let before = log.segment_count();
    let task = log.plan_clean(T0).expect("due");
    let cleaned = task.run(64 << 20).expect("clean");
    assert!(log.swap_cleaned(cleaned).expect("swap"));
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    assert_eq!(log.last_stable_offset(), unstable);
    assert!(log.segment_count() < before, "the clean merged segments");
    let storage = backend.storage();
    let names = files_with(&*storage, ".txnindex");
    let live: Vec<String> = log
        .segment_base_offsets()
        .iter()
        .map(|b| format!("{b:020}.txnindex"))
        .collect();
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| live.contains(n)),
        "{names:?} vs {live:?}"
    );
    assert!(files_with(&*storage, ".cleaned").is_empty());
    drop(log);
    let log = open(&backend, &cfg, true, T0);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    drop(log);
    let log = open(&backend, &cfg, false, T0);
    assert_eq!(log.aborted_transactions(0, i64::MAX), aborts);
    assert_eq!(log.last_stable_offset(), unstable);
}

/// One record per (key, value), as one batch: transactional for `producer`
/// (id, epoch, base sequence), else plain.
fn keyed(producer: Option<(i64, i16, i32)>, records: &[(&str, &str)]) -> BytesMut {
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: seq.wrapping_add(i as i32),
            timestamp: T0 + i as i64,
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
    buf
}

/// One keyed record in a transaction of `PID` (epoch 0), then its marker.
fn keyed_txn(log: &mut Log, seq: i32, kv: (&str, &str), commit: bool) {
    txn_append(log, PID, 0, &keyed(Some((PID, 0, seq)), &[kv]));
    marker(log, PID, 0, commit);
}

/// Every data record from the log start: (key, value).
fn key_values(log: &Log) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in common::read_all(log).records {
        let mut buf = chunk.clone();
        for set in RecordBatchDecoder::decode_all(&mut buf).expect("decode") {
            for r in set.records.into_iter().filter(|r| !r.control) {
                let s =
                    |b: Option<Bytes>| String::from_utf8(b.unwrap_or_default().to_vec()).unwrap();
                out.push((s(r.key), s(r.value)));
            }
        }
    }
    out
}

fn the_cleaner_removes_aborted_data_and_keeps_what_it_overwrote<B: Backend>() {
    let backend = B::fresh();
    let cfg = compacted();
    let mut log = open(&backend, &cfg, true, T0);
    log.append(&keyed(None, &[("k", "committed")]), 0, T0)
        .expect("plain append");
    // An aborted transaction writes k again; a committed one writes j.
    keyed_txn(&mut log, 0, ("k", "aborted"), false);
    keyed_txn(&mut log, 1, ("j", "committed"), true);
    let mut filler = 0;
    while log.segment_count() < 6 {
        let key = format!("f{filler}");
        log.append(&keyed(None, &[(key.as_str(), "x")]), 0, T0)
            .expect("filler");
        filler += 1;
    }
    let aborts = log.aborted_transactions(0, i64::MAX);
    assert_eq!(aborts.len(), 1);
    let task = log.plan_clean(T0).expect("due");
    let cleaned = task.run(64 << 20).expect("clean");
    assert!(log.swap_cleaned(cleaned).expect("swap"));
    let seen = key_values(&log);
    let has = |k: &str, v: &str| seen.iter().any(|(a, b)| a == k && b == v);
    assert!(
        has("k", "committed"),
        "the aborted update must not supersede it: {seen:?}"
    );
    assert!(!has("k", "aborted"), "aborted data is removed: {seen:?}");
    assert!(has("j", "committed"), "{seen:?}");
    // The producer's state (its last sequence) survives a rebuild.
    drop(log);
    let mut log = open(&backend, &cfg, false, T0);
    // (Recovery may drop the index entry: the data it named is gone.)
    assert_eq!(key_values(&log), seen);
    // The producer's next sequence is accepted after the clean.
    txn_append(
        &mut log,
        PID,
        0,
        &keyed(Some((PID, 0, 2)), &[("k", "next")]),
    );
}

fn markers_go_once_their_data_is_gone_and_the_horizon_passed<B: Backend>() {
    const RETENTION_MS: i64 = 1_000;
    let backend = B::fresh();
    let cfg = LogConfig {
        delete_retention_ms: RETENTION_MS,
        ..compacted()
    };
    let mut log = open(&backend, &cfg, true, T0);
    log.append(&keyed(None, &[("k", "committed")]), 0, T0)
        .expect("plain append");
    keyed_txn(&mut log, 0, ("k", "aborted"), false);
    keyed_txn(&mut log, 1, ("j", "b"), true);
    // Supersedes b; as the producer's last batch it keeps its marker.
    keyed_txn(&mut log, 2, ("j", "c"), true);
    let mut filler = 0;
    let mut fill = |log: &mut Log, segments: usize| {
        let target = log.segment_count() + segments;
        while log.segment_count() < target {
            let key = format!("f{filler}");
            log.append(&keyed(None, &[(key.as_str(), "x")]), 0, T0)
                .expect("filler");
            filler += 1;
        }
    };
    let markers = |log: &Log| {
        common::headers(&common::read_all(log))
            .iter()
            .filter(|h| h.is_control() && h.records_count > 0)
            .count()
    };
    let clean = |log: &mut Log, now: i64| {
        let task = log.plan_clean(now).expect("due");
        let cleaned = task.run(64 << 20).expect("clean");
        assert!(log.swap_cleaned(cleaned).expect("swap"));
    };
    fill(&mut log, 4);
    assert_eq!(markers(&log), 3);
    // First clean: the data goes, but it was still there, so every marker stays.
    clean(&mut log, T0);
    assert_eq!(markers(&log), 3);
    // Second clean: two markers have no data left; they are stamped.
    fill(&mut log, 2);
    clean(&mut log, T0);
    assert_eq!(markers(&log), 3);
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
    // After the horizon they go, with the abort's index entry.
    fill(&mut log, 2);
    clean(&mut log, T0 + 2 * RETENTION_MS);
    assert_eq!(markers(&log), 1, "only the last transaction's marker stays");
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    let seen = key_values(&log);
    let has = |k: &str, v: &str| seen.iter().any(|(a, b)| a == k && b == v);
    assert!(has("k", "committed") && has("j", "c"), "{seen:?}");
    assert!(!has("k", "aborted") && !has("j", "b"), "{seen:?}");
    // A rebuild from the log agrees, and nothing is left open.
    drop(log);
    let log = open(&backend, &cfg, false, T0);
    assert_eq!(key_values(&log), seen);
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
}
