//! KIP-848 consumer groups through librdkafka with `group.protocol=consumer`:
//! three consumers split a 6-partition topic two partitions each (the
//! broker's `uniform` assignor), commit as members of their epoch, and
//! when one closes the other two converge on three partitions each.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;

const TOPIC: &str = "kip848-e2e";
const GROUP: &str = "kip848-e2e-group";
const PARTITIONS: i32 = 6;
/// How long a reassignment may take (heartbeats every 200 ms).
const REBALANCE_DEADLINE: Duration = Duration::from_secs(60);

fn member(bootstrap: &str, client_id: &str) -> BaseConsumer {
    let c: BaseConsumer = base_config(bootstrap)
        .set("client.id", client_id)
        .set("group.id", GROUP)
        .set("group.protocol", "consumer")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer");
    c.subscribe(&[TOPIC]).expect("subscribe");
    c
}

fn assignments(consumers: &[&BaseConsumer]) -> Vec<BTreeSet<i32>> {
    consumers
        .iter()
        .map(|c| {
            c.assignment()
                .expect("assignment")
                .elements()
                .iter()
                .filter(|e| e.topic() == TOPIC)
                .map(|e| e.partition())
                .collect()
        })
        .collect()
}

/// Polls every consumer until each holds `per_member` partitions and
/// together they hold each partition exactly once.
fn poll_until_balanced(consumers: &[&BaseConsumer], per_member: usize) -> usize {
    let deadline = Instant::now() + REBALANCE_DEADLINE;
    let mut consumed = 0;
    loop {
        for c in consumers {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                consumed += 1;
            }
        }
        let held = assignments(consumers);
        let all: BTreeSet<i32> = held.iter().flatten().copied().collect();
        let total: usize = held.iter().map(BTreeSet::len).sum();
        if held.iter().all(|h| h.len() == per_member)
            && total == all.len()
            && all.len() == PARTITIONS as usize
        {
            return consumed;
        }
        assert!(
            Instant::now() < deadline,
            "no balanced assignment of {per_member} each within {REBALANCE_DEADLINE:?}: {held:?}"
        );
    }
}

#[test]
fn consumer_protocol_members_share_partitions_and_take_over_on_close() {
    let broker = start_broker_with(BrokerOptions {
        overrides: vec![
            ("group.initial.rebalance.delay.ms".into(), "0".into()),
            (
                "group.consumer.min.heartbeat.interval.ms".into(),
                "100".into(),
            ),
            ("group.consumer.heartbeat.interval.ms".into(), "200".into()),
            (
                "group.consumer.min.session.timeout.ms".into(),
                "6000".into(),
            ),
            ("group.consumer.session.timeout.ms".into(), "6000".into()),
        ],
        ..BrokerOptions::default()
    });
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS);

    let a = member(&bs, "member-a");
    let b = member(&bs, "member-b");
    let c = member(&bs, "member-c");
    poll_until_balanced(&[&a, &b, &c], 2);

    // ListGroups shows a consumer-type group.
    let listed = a
        .fetch_group_list(Some(GROUP), CLIENT_TIMEOUT)
        .expect("describe group");
    let g = &listed.groups()[0];
    assert_eq!((g.name(), g.protocol_type()), (GROUP, "consumer"));
    assert_eq!(g.members().len(), 3);

    let p = future_producer(&bs, &[]);
    for partition in 0..PARTITIONS {
        let rec = FutureRecord::to(TOPIC)
            .partition(partition)
            .key("k")
            .payload("v");
        block_on(p.send(rec, CLIENT_TIMEOUT)).unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
    let mut consumed = 0;
    let deadline = Instant::now() + REBALANCE_DEADLINE;
    while consumed < PARTITIONS as usize {
        for c in [&a, &b, &c] {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                consumed += 1;
            }
        }
        assert!(
            Instant::now() < deadline,
            "consumed {consumed} of {PARTITIONS}"
        );
    }
    // Commits carry the member id and epoch; the broker checks both.
    for c in [&a, &b, &c] {
        c.commit_consumer_state(CommitMode::Sync)
            .expect("member commit");
    }

    // Closing sends a leave heartbeat (epoch -1): the others take over
    // its partitions after the group's next epoch.
    drop(c);
    let mut again = poll_until_balanced(&[&a, &b], 3);
    again += [&a, &b]
        .iter()
        .map(|c| consume_extra(c, Duration::from_secs(1)).len())
        .sum::<usize>();
    assert_eq!(again, 0, "records consumed again after the reassignment");
}
