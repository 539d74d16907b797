//! Epoch edge cases (exhaustion, fencing, KIP-360) and the exact values
//! each step stores.

use super::tests::{tps, Harness, T0, TIMEOUT_MS};
use super::*;

/// Fencing at the last usable epoch spends the spare one; the client's
/// retry then gets a new producer id.
#[test]
fn a_fence_at_the_last_epoch_leads_to_a_new_producer_id() {
    let mut h = Harness::new();
    let last = i16::MAX - 1;
    let value = TxnMetadata {
        producer_epoch: last,
        state: TxnState::Ongoing,
        txn_start_timestamp_ms: T0,
        partitions: tps(&[("t", 0)]).into_iter().collect(),
        ..TxnMetadata::fresh("tx", 77, TIMEOUT_MS, T0)
    }
    .to_value();
    let record = txn_record("tx", &value).unwrap();
    h.shard
        .replay(&record.key, record.value.as_deref())
        .unwrap();
    h.log.push(record);

    let (answer, work) = h.init_expecting("tx", (-1, -1), T0 + 1);
    assert_eq!(answer, Err(TxnError::ConcurrentTransactions));
    assert_eq!(work[0].producer_epoch, i16::MAX);
    h.complete(&work[0], T0 + 2).unwrap();
    let p = h.init("tx", T0 + 3).unwrap();
    assert_eq!(
        p,
        ProducerIdAndEpoch {
            producer_id: 1001,
            producer_epoch: 0
        }
    );
    assert_eq!(h.shard.get("tx").unwrap().previous_producer_id, 77);
}

/// As in Kafka, the fence forgets the last epoch: the fenced producer
/// cannot pass for a retry of an InitProducerId.
#[test]
fn a_fenced_producer_cannot_reinit_with_its_old_epoch() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("t", 0)], T0).unwrap();
    let (_, work) = h.init_expecting("tx", (p.producer_id, 0), T0 + 1);
    h.complete(&work[0], T0 + 2).unwrap();
    let (retry, _) = h.init_expecting("tx", (p.producer_id, 0), T0 + 3);
    assert_eq!(retry, Err(TxnError::ProducerFenced));
}

/// What each step stores, as Kafka stores it: `Empty` with null
/// partitions, `Ongoing`/`Prepare*` with them grouped by topic, `Complete*`
/// with an empty list, all at value version 0.
#[test]
fn each_step_stores_kafkas_value() {
    let mut h = Harness::new();
    let p = h.init("tx", T0).unwrap();
    h.add("tx", p, &[("u", 1), ("t", 2), ("t", 0)], T0 + 1)
        .unwrap();
    let (_, work) = h.end("tx", p, true, T0 + 2);
    h.complete(&work[0], T0 + 3).unwrap();
    let values: Vec<TransactionLogValue> = h
        .log
        .iter()
        .map(|r| {
            let bytes = r.value.as_ref().unwrap();
            assert_eq!(&bytes[..2], &[0, 0], "value version 0");
            TransactionLogValue::decode(bytes).unwrap()
        })
        .collect();
    let states: Vec<i8> = values.iter().map(|v| v.transaction_status).collect();
    assert_eq!(states, [0, 1, 2, 4]);
    assert_eq!(values[0].transaction_partitions, None);
    assert_eq!(values[0].transaction_start_timestamp_ms, -1);
    let grouped = Some(vec![
        TxnLogPartitions {
            topic: "t".into(),
            partition_ids: vec![0, 2],
        },
        TxnLogPartitions {
            topic: "u".into(),
            partition_ids: vec![1],
        },
    ]);
    assert_eq!(values[1].transaction_partitions, grouped);
    assert_eq!(values[2].transaction_partitions, grouped);
    assert_eq!(values[3].transaction_partitions, Some(vec![]));
    assert_eq!(values[3].transaction_start_timestamp_ms, T0 + 1);
    assert_eq!(values[3].transaction_last_update_timestamp_ms, T0 + 3);
    assert!(h.log.iter().all(|r| r.key == encode_key("tx").unwrap()));
}
