//! Classic consumer groups through librdkafka's subscribe(): three
//! consumers of one group split a 6-partition topic two partitions each,
//! commit as members of the generation, and when one leaves the other two
//! rebalance to three partitions each. DescribeGroups/ListGroups show the
//! group as Kafka's tools would see it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;

const TOPIC: &str = "groups-e2e";
const GROUP: &str = "groups-e2e-group";
const PARTITIONS: i32 = 6;

fn member(bootstrap: &str, client_id: &str) -> BaseConsumer {
    let c: BaseConsumer = base_config(bootstrap)
        .set("client.id", client_id)
        .set("group.id", GROUP)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("consumer");
    c.subscribe(&[TOPIC]).expect("subscribe");
    c
}

#[test]
fn subscribers_share_partitions_and_rebalance_when_one_leaves() {
    let broker = start_broker_with(BrokerOptions {
        overrides: vec![("group.initial.rebalance.delay.ms".into(), "0".into())],
        ..BrokerOptions::default()
    });
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS);

    let a = member(&bs, "member-a");
    let b = member(&bs, "member-b");
    let c = member(&bs, "member-c");
    poll_until_balanced(&[&a, &b, &c], TOPIC, PARTITIONS as usize, 2);

    // The group as DescribeGroups shows it.
    let groups = a
        .fetch_group_list(Some(GROUP), CLIENT_TIMEOUT)
        .expect("describe group");
    let g = &groups.groups()[0];
    assert_eq!(
        (g.name(), g.state(), g.protocol_type()),
        (GROUP, "Stable", "consumer")
    );
    assert_eq!(g.protocol(), "range");
    let mut clients: Vec<&str> = g.members().iter().map(|m| m.client_id()).collect();
    clients.sort_unstable();
    assert_eq!(clients, ["member-a", "member-b", "member-c"]);
    assert!(g.members().iter().all(|m| m.client_host() == "/127.0.0.1"));
    assert!(g
        .members()
        .iter()
        .all(|m| m.assignment().is_some_and(|a| !a.is_empty())));

    // One record per partition, read by its partition's owner; every
    // member then commits in its generation.
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
    for c in [&a, &b, &c] {
        c.commit_consumer_state(CommitMode::Sync)
            .expect("member commit");
    }

    // One member leaves (close sends LeaveGroup): the others take over.
    drop(c);
    let mut again = poll_until_balanced(&[&a, &b], TOPIC, PARTITIONS as usize, 3);
    let listed = a
        .fetch_group_list(None, CLIENT_TIMEOUT)
        .expect("list groups");
    let ours = listed
        .groups()
        .iter()
        .find(|g| g.name() == GROUP)
        .expect("group listed");
    assert_eq!(ours.members().len(), 2);

    // The departed member's partitions resume after its commits: nothing
    // is read twice.
    again += [&a, &b]
        .iter()
        .map(|c| consume_extra(c, Duration::from_secs(1)).len())
        .sum::<usize>();
    assert_eq!(again, 0, "records consumed again after the rebalance");
}
