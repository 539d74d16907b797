//! An idempotent producer (enable.idempotence=true: acks=all, sequence
//! numbers, up to 5 in-flight requests) writes 10,000 records; each must be in
//! the log exactly once, in send order.

mod common;

use common::*;
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;

const RECORDS: usize = 10_000;

#[test]
fn idempotent_producer_10k_in_order_exactly_once() {
    let broker = start_broker();
    let bs = broker.bootstrap();
    let topic = "idem-10k";
    create_topic(&bs, topic, 1);
    let p = future_producer(
        &bs,
        &[
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("batch.num.messages", "500"),
            ("max.in.flight.requests.per.connection", "5"),
        ],
    );
    let values: Vec<String> = (0..RECORDS).map(|i| format!("idem-{i:05}")).collect();
    let futures: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let key = (i % 13).to_string();
            p.send_result(FutureRecord::to(topic).partition(0).key(&key).payload(v))
                .unwrap_or_else(|(e, _)| panic!("enqueue {i}: {e}"))
        })
        .collect();
    let offsets: Vec<i64> = block_on(async {
        let mut out = Vec::with_capacity(RECORDS);
        for (i, f) in futures.into_iter().enumerate() {
            match f.await.expect("delivery future dropped") {
                Ok(d) => out.push(d.offset),
                Err((e, _)) => panic!("record {i} not delivered: {e}"),
            }
        }
        out
    });
    let dense: Vec<i64> = (0..RECORDS as i64).collect();
    assert!(
        offsets == dense,
        "delivery offsets not 0..{RECORDS} in send order"
    );

    let c = assigned_consumer(&bs, topic, 0, 0);
    let got = consume_n(&c, RECORDS, CLIENT_TIMEOUT * 2);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.offset(), i as i64, "offset at position {i}");
        assert_eq!(
            m.payload(),
            Some(values[i].as_bytes()),
            "value at offset {i}"
        );
    }
    assert_eq!(
        watermarks(&bs, topic, 0),
        (0, RECORDS as i64),
        "log end offset"
    );
    let extra = consume_extra(&c, std::time::Duration::from_millis(500));
    assert!(extra.is_empty(), "{} records beyond {RECORDS}", extra.len());
}
