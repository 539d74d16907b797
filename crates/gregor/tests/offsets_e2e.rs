//! Committed offsets for standalone consumers (assign() with a group.id, no
//! group membership), through librdkafka: commits are stored with their
//! metadata, a new consumer of the same group resumes at them, another
//! group sees none, and they survive kill -9 of the broker.

mod common;

use std::time::Duration;

use common::*;
use gregor_testkit::BrokerProcess;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "offsets-e2e";
const GROUP: &str = "offsets-e2e-group";
const RECORDS_P0: usize = 20;
const RECORDS_P1: usize = 10;

/// A consumer of `group` that commits only when told to.
fn group_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    base_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer")
}

fn assign(consumer: &BaseConsumer, parts: &[(i32, Offset)]) {
    let mut tpl = TopicPartitionList::new();
    for (p, offset) in parts {
        tpl.add_partition_offset(TOPIC, *p, *offset).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
}

/// (offset, metadata) committed for each partition of `TOPIC`, as the broker reports them.
fn committed(consumer: &BaseConsumer, partitions: &[i32]) -> Vec<(Offset, String)> {
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition(TOPIC, *p);
    }
    let got = consumer
        .committed_offsets(tpl, CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("OffsetFetch: {e}"));
    partitions
        .iter()
        .map(|p| {
            let e = got.find_partition(TOPIC, *p).expect("partition in answer");
            e.error()
                .unwrap_or_else(|err| panic!("partition {p}: {err}"));
            (e.offset(), e.metadata().to_string())
        })
        .collect()
}

fn produce(bootstrap: &str) {
    create_topic(bootstrap, TOPIC, 2);
    let p = future_producer(bootstrap, &[]);
    for (partition, n) in [(0, RECORDS_P0), (1, RECORDS_P1)] {
        for i in 0..n {
            let v = format!("p{partition}-{i}");
            let rec = FutureRecord::to(TOPIC)
                .partition(partition)
                .key("k")
                .payload(&v);
            block_on(p.send(rec, CLIENT_TIMEOUT)).unwrap_or_else(|(e, _)| panic!("produce: {e}"));
        }
    }
}

fn assert_resumes_at_commit(broker: &BrokerProcess) {
    let c = group_consumer(&broker.bootstrap(), GROUP);
    assign(&c, &[(0, Offset::Stored)]);
    let got = consume_n(&c, 1, CLIENT_TIMEOUT);
    assert_eq!(got[0].offset(), 7, "resumed at the committed offset");
    assert_eq!(got[0].payload(), Some(&b"p0-7"[..]));
}

#[test]
fn committed_offsets_resume_consumers_and_survive_kill9() {
    let mut broker = start_broker();
    let bs = broker.bootstrap();
    produce(&bs);

    // An assigned consumer reads and commits explicitly, with metadata.
    let first = group_consumer(&bs, GROUP);
    assign(&first, &[(0, Offset::Beginning), (1, Offset::Beginning)]);
    let got = consume_n(&first, RECORDS_P0 + RECORDS_P1, CLIENT_TIMEOUT);
    assert_eq!(got.len(), RECORDS_P0 + RECORDS_P1);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Offset(7))
        .unwrap();
    tpl.find_partition(TOPIC, 0)
        .unwrap()
        .set_metadata("checkpoint-7");
    first.commit(&tpl, CommitMode::Sync).expect("commit p0");
    // The stored-offset path: store_offset + commit_consumer_state.
    first.store_offset(TOPIC, 1, 2).expect("store_offset");
    first
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit_consumer_state");
    let want = vec![
        (Offset::Offset(7), "checkpoint-7".to_string()),
        (Offset::Offset(3), String::new()),
    ];
    assert_eq!(committed(&first, &[0, 1]), want);
    drop(first);

    // A new consumer of the group starts where the group left off; another
    // group has nothing committed.
    assert_resumes_at_commit(&broker);
    let stranger = group_consumer(&bs, "offsets-e2e-other-group");
    assert_eq!(
        committed(&stranger, &[0, 1]),
        vec![
            (Offset::Invalid, String::new()),
            (Offset::Invalid, String::new())
        ]
    );
    drop(stranger);

    // The commits were acknowledged after they reached __consumer_offsets;
    // SIGKILL must not lose them.
    broker.kill9().expect("SIGKILL");
    broker.restart().expect("restart after SIGKILL");
    let after = group_consumer(&broker.bootstrap(), GROUP);
    assert_eq!(committed(&after, &[0, 1]), want);
    drop(after);
    assert_resumes_at_commit(&broker);
}

#[test]
fn a_later_commit_replaces_an_earlier_one_across_restarts() {
    let mut broker = start_broker();
    let bs = broker.bootstrap();
    produce(&bs);
    let c = group_consumer(&bs, GROUP);
    for offset in [3, 12, 5] {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(TOPIC, 0, Offset::Offset(offset))
            .unwrap();
        c.commit(&tpl, CommitMode::Sync).expect("commit");
    }
    drop(c);
    broker.terminate().expect("SIGTERM");
    broker.restart().expect("restart after SIGTERM");
    broker.kill9().expect("SIGKILL");
    broker.restart().expect("restart after SIGKILL");
    let c = group_consumer(&broker.bootstrap(), GROUP);
    assert_eq!(
        committed(&c, &[0]),
        vec![(Offset::Offset(5), String::new())],
        "the last commit wins, also when a rewind"
    );
    // Wait briefly for nothing else: the broker answered, the test is done.
    let _ = c.poll(Duration::from_millis(0));
}
