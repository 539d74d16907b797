use super::*;

fn ongoing() -> TransactionLogValue {
    TransactionLogValue {
        producer_id: 1000,
        previous_producer_id: NO_PRODUCER_ID,
        next_producer_id: NO_PRODUCER_ID,
        producer_epoch: 3,
        transaction_timeout_ms: 60_000,
        transaction_status: 1,
        transaction_partitions: Some(vec![TxnLogPartitions {
            topic: "t".into(),
            partition_ids: vec![0, 2],
        }]),
        transaction_last_update_timestamp_ms: 0x0102_0304_0506,
        transaction_start_timestamp_ms: 0x0102_0304_0000,
        client_transaction_version: 0,
    }
}

#[test]
fn key_bytes_are_pinned() {
    let bytes = encode_key("tx").unwrap();
    assert_eq!(bytes.as_ref(), &[0, 0, 0, 2, b't', b'x'][..]);
    assert_eq!(
        TxnKey::decode(&bytes).unwrap(),
        TxnKey::Transaction {
            transactional_id: "tx".into()
        }
    );
    assert_eq!(TxnKey::decode(&[0, 7, 1]).unwrap(), TxnKey::Unknown(7));
}

/// Built field by field from `TransactionLogValue.json` at version 0.
#[test]
fn value_version_0_bytes_are_pinned() {
    let v = ongoing();
    let mut want = vec![0, 0]; // version
    want.extend_from_slice(&1000i64.to_be_bytes()); // ProducerId
    want.extend_from_slice(&3i16.to_be_bytes()); // ProducerEpoch
    want.extend_from_slice(&60_000i32.to_be_bytes()); // TransactionTimeoutMs
    want.push(1); // TransactionStatus: Ongoing
    want.extend_from_slice(&1i32.to_be_bytes()); // one PartitionsSchema
    want.extend_from_slice(&[0, 1, b't']); // Topic
    want.extend_from_slice(&2i32.to_be_bytes()); // two PartitionIds
    want.extend_from_slice(&0i32.to_be_bytes());
    want.extend_from_slice(&2i32.to_be_bytes());
    want.extend_from_slice(&0x0102_0304_0506i64.to_be_bytes()); // LastUpdate
    want.extend_from_slice(&0x0102_0304_0000i64.to_be_bytes()); // Start
    let bytes = v.encode().unwrap();
    assert_eq!(bytes.as_ref(), &want[..]);
    assert_eq!(TransactionLogValue::decode(&bytes).unwrap(), v);
}

/// An `Empty` transaction stores a null partition array.
#[test]
fn empty_transaction_stores_null_partitions() {
    let v = TransactionLogValue {
        transaction_status: 0,
        transaction_partitions: None,
        transaction_start_timestamp_ms: -1,
        ..ongoing()
    };
    let bytes = v.encode().unwrap();
    assert_eq!(&bytes[17..21], &(-1i32).to_be_bytes());
    assert_eq!(TransactionLogValue::decode(&bytes).unwrap(), v);
}

/// Built by hand from the JSON at version 1: compact arrays and strings,
/// tagged fields after the struct in tag order.
#[test]
fn value_version_1_bytes_are_pinned() {
    let v = TransactionLogValue {
        previous_producer_id: 999,
        client_transaction_version: 2,
        ..ongoing()
    };
    assert_eq!(v.version(), 1);
    let mut want = vec![0, 1];
    want.extend_from_slice(&1000i64.to_be_bytes());
    want.extend_from_slice(&3i16.to_be_bytes());
    want.extend_from_slice(&60_000i32.to_be_bytes());
    want.push(1);
    want.push(2); // compact array of one
    want.extend_from_slice(&[2, b't']); // compact string "t"
    want.push(3); // compact array of two
    want.extend_from_slice(&0i32.to_be_bytes());
    want.extend_from_slice(&2i32.to_be_bytes());
    want.push(0); // PartitionsSchema's tagged fields
    want.extend_from_slice(&0x0102_0304_0506i64.to_be_bytes());
    want.extend_from_slice(&0x0102_0304_0000i64.to_be_bytes());
    want.push(2); // two tagged fields
    want.extend_from_slice(&[0, 8]); // tag 0 PreviousProducerId, 8 bytes
    want.extend_from_slice(&999i64.to_be_bytes());
    want.extend_from_slice(&[2, 2]); // tag 2 ClientTransactionVersion, 2 bytes
    want.extend_from_slice(&2i16.to_be_bytes());
    let bytes = v.encode().unwrap();
    assert_eq!(bytes.as_ref(), &want[..]);
    assert_eq!(TransactionLogValue::decode(&bytes).unwrap(), v);
}

#[test]
fn version_1_without_tags_reads_like_version_0() {
    let v = ongoing();
    let v1 = v.encode_version(1).unwrap();
    assert_eq!(TransactionLogValue::decode(&v1).unwrap(), v);
    let null_parts = TransactionLogValue {
        transaction_partitions: None,
        ..ongoing()
    };
    let bytes = null_parts.encode_version(1).unwrap();
    assert_eq!(TransactionLogValue::decode(&bytes).unwrap(), null_parts);
}

#[test]
fn unknown_tagged_fields_are_skipped() {
    let mut bytes = ongoing().encode_version(1).unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] = 1; // one tagged field …
    bytes.extend_from_slice(&[9, 3, 1, 2, 3]); // … tag 9, 3 bytes
    assert_eq!(TransactionLogValue::decode(&bytes).unwrap(), ongoing());
}

#[test]
fn version_0_refuses_tagged_fields() {
    let v = TransactionLogValue {
        next_producer_id: 5,
        ..ongoing()
    };
    assert!(v.encode_version(0).is_err());
    assert!(ongoing().encode_version(2).is_err());
}

#[test]
fn damaged_values_are_errors_not_panics() {
    for version in [0, 1] {
        let good = ongoing().encode_version(version).unwrap();
        for cut in 0..good.len() {
            assert!(
                TransactionLogValue::decode(&good[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut long = good.to_vec();
        long.push(0);
        assert!(TransactionLogValue::decode(&long).is_err());
    }
    assert!(TransactionLogValue::decode(&[0, 2]).is_err());
    let mut huge = ongoing().encode().unwrap().to_vec();
    huge[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(TransactionLogValue::decode(&huge).is_err());
}

#[test]
fn records_and_tombstones_share_the_key() {
    let r = txn_record("a", &ongoing()).unwrap();
    let t = txn_tombstone("a").unwrap();
    assert_eq!(r.key, t.key);
    assert!(t.value.is_none());
    assert!(encode_key(&"x".repeat(STRING_BYTES_MAX + 1)).is_err());
}
