//! Fetch responses are written from the segment files with `sendfile`
//! (record sets of 16 KiB and more) or copied (smaller ones). librdkafka
//! must read back every record, byte for byte, whichever way a response
//! was cut: several segments per response, limits smaller than a batch,
//! starting in the middle of a batch, and tiny tail fetches.

mod common;

use std::time::Duration;

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;

const RECORDS: usize = 6_000;
const VALUE_BYTES: usize = 1_000;

fn value(i: usize) -> Vec<u8> {
    let mut v = format!("record-{i:06}-").into_bytes();
    v.resize(VALUE_BYTES, b'a' + (i % 26) as u8);
    v
}

fn check(messages: &[rdkafka::message::OwnedMessage], first: usize) {
    for (n, m) in messages.iter().enumerate() {
        let i = first + n;
        assert_eq!(m.offset(), i as i64, "offsets are dense");
        assert!(m.payload() == Some(&value(i)[..]), "value of record {i}");
    }
}

#[test]
fn consumers_read_every_byte_of_multi_segment_fetches() {
    // 1 MiB segments: about six of them, so large fetches span two.
    let broker = start_broker_with(BrokerOptions {
        overrides: vec![("log.segment.bytes".into(), "1048576".into())],
        ..BrokerOptions::default()
    });
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "zc", 1);
    let producer = future_producer(
        &bootstrap,
        &[
            ("linger.ms", "20"),
            ("batch.size", "200000"),
            ("compression.type", "none"),
        ],
    );
    block_on(async {
        let sends: Vec<_> = (0..RECORDS)
            .map(|i| {
                let v = value(i);
                let key = i.to_string();
                producer
                    .send_result(FutureRecord::to("zc").partition(0).key(&key).payload(&v))
                    .unwrap_or_else(|(e, _)| panic!("enqueue record {i}: {e}"))
            })
            .collect();
        for s in sends {
            s.await.expect("delivery").expect("acked");
        }
    });
    assert_eq!(watermarks(&bootstrap, "zc", 0), (0, RECORDS as i64));

    // Large partition limit: responses cross segment boundaries.
    let big = assigned_consumer_with(
        &bootstrap,
        "zc",
        0,
        0,
        &[("max.partition.fetch.bytes", "3000000")],
    );
    check(&consume_n(&big, RECORDS, Duration::from_secs(30)), 0);

    // A limit smaller than a batch: one whole batch per response anyway.
    let small = assigned_consumer_with(
        &bootstrap,
        "zc",
        0,
        0,
        &[("max.partition.fetch.bytes", "5000")],
    );
    check(&consume_n(&small, RECORDS, Duration::from_secs(60)), 0);

    // From the middle of a batch: the batch comes whole, the client skips
    // the records before the fetch offset.
    let middle = assigned_consumer_with(&bootstrap, "zc", 0, 2_501, &[]);
    check(
        &consume_n(&middle, RECORDS - 2_501, Duration::from_secs(30)),
        2_501,
    );

    // Tail: single small records (copied, not sent from the file) arrive
    // as they are produced.
    block_on(async {
        for i in RECORDS..RECORDS + 3 {
            let v = value(i);
            producer
                .send(
                    FutureRecord::<(), _>::to("zc").partition(0).payload(&v),
                    Timeout::Never,
                )
                .await
                .expect("acked");
        }
    });
    check(&consume_n(&middle, 3, Duration::from_secs(10)), RECORDS);
    assert!(consume_extra(&middle, Duration::from_millis(500)).is_empty());
}
