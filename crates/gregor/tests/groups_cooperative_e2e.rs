//! A consumer group with the cooperative-sticky assignor loses a member to
//! kill -9: the dead member sends no LeaveGroup, so the coordinator must
//! notice through the session timeout and hand its partitions to the
//! survivors, who keep the partitions they already had (cooperative
//! rebalancing never revokes what stays put).

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};

const TOPIC: &str = "coop-e2e";
const GROUP: &str = "coop-e2e-group";
const PARTITIONS: usize = 6;
/// Session timeout of every member: the broker's minimum by default.
const SESSION_TIMEOUT_MS: &str = "6000";
/// Joins, a session expiry and a rebalance must fit in this.
const REBALANCE_DEADLINE: Duration = Duration::from_secs(60);

fn member(bootstrap: &str, client_id: &str) -> BaseConsumer {
    let c: BaseConsumer = base_config(bootstrap)
        .set("client.id", client_id)
        .set("group.id", GROUP)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", SESSION_TIMEOUT_MS)
        .set("heartbeat.interval.ms", "500")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    c.subscribe(&[TOPIC]).expect("subscribe");
    c
}

/// A third member in its own process, so that it can be killed outright.
fn member_process(bootstrap: &str) -> Child {
    Command::new(gregor_bin())
        .args([
            "consume",
            "--bootstrap-server",
            bootstrap,
            "--topic",
            TOPIC,
            "--group",
            GROUP,
        ])
        .args([
            "--property",
            "partition.assignment.strategy=cooperative-sticky",
        ])
        .args([
            "--property",
            &format!("session.timeout.ms={SESSION_TIMEOUT_MS}"),
        ])
        .args(["--property", "heartbeat.interval.ms=500"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gregor consume")
}

fn held(c: &BaseConsumer) -> BTreeSet<i32> {
    c.assignment()
        .expect("assignment")
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// Polls both in-process members until `done` holds for their assignments.
fn poll_until(
    a: &BaseConsumer,
    b: &BaseConsumer,
    what: &str,
    done: impl Fn(&BTreeSet<i32>, &BTreeSet<i32>) -> bool,
) {
    let deadline = Instant::now() + REBALANCE_DEADLINE;
    loop {
        for c in [a, b] {
            let _ = c.poll(Duration::from_millis(50));
        }
        let (ha, hb) = (held(a), held(b));
        if done(&ha, &hb) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not reached within {REBALANCE_DEADLINE:?}: a={ha:?} b={hb:?}"
        );
    }
}

#[test]
fn cooperative_group_rebalances_after_a_member_is_killed() {
    let broker = start_broker_with(BrokerOptions {
        overrides: vec![("group.initial.rebalance.delay.ms".into(), "0".into())],
        ..BrokerOptions::default()
    });
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS as i32);

    let a = member(&bs, "coop-a");
    let b = member(&bs, "coop-b");
    let mut third = member_process(&bs);
    // Three members: two partitions each, so the two here hold four
    // distinct partitions and the process the other two.
    poll_until(&a, &b, "a 2/2/2 split", |ha, hb| {
        ha.len() == 2 && hb.len() == 2 && ha.is_disjoint(hb)
    });
    let (before_a, before_b) = (held(&a), held(&b));

    third.kill().expect("kill -9 the third member");
    let _ = third.wait();

    poll_until(&a, &b, "a 3/3 split", |ha, hb| {
        ha.len() == 3 && hb.len() == 3 && ha.is_disjoint(hb)
    });
    let (after_a, after_b) = (held(&a), held(&b));
    let all: BTreeSet<i32> = after_a.union(&after_b).copied().collect();
    assert_eq!(
        all.len(),
        PARTITIONS,
        "every partition owned once: a={after_a:?} b={after_b:?}"
    );
    assert!(
        before_a.is_subset(&after_a),
        "a lost partitions it kept: {before_a:?} -> {after_a:?}"
    );
    assert!(
        before_b.is_subset(&after_b),
        "b lost partitions it kept: {before_b:?} -> {after_b:?}"
    );
}
