//! `gregor groups` (kafka-consumer-groups.sh) run as a subprocess against a
//! real broker: a group consumes part of a topic and commits, then the CLI
//! describes its lag, refuses to reset or delete it while a member is
//! active, and once it is empty resets, deletes offsets and deletes it.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

const TOPIC: &str = "groups-cli";
const GROUP: &str = "groups-cli-group";
const PARTITIONS: i32 = 3;
/// Records produced to partition p: `BASE_RECORDS + p`.
const BASE_RECORDS: i64 = 10;
/// Each CLI invocation must finish within this.
const CLI_TIMEOUT_S: u32 = 60;
/// How long the group may take to become Stable, or Empty after a leave.
const GROUP_DEADLINE: Duration = Duration::from_secs(60);

fn run(bootstrap: &str, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "5", &CLI_TIMEOUT_S.to_string()])
        .arg(gregor_bin())
        .arg("groups")
        .args(args)
        .args(["--bootstrap-server", bootstrap])
        .stdin(Stdio::null())
        .output()
        .expect("run gregor");
    assert_ne!(
        out.status.code(),
        Some(124),
        "gregor groups {args:?} timed out"
    );
    out
}

fn ok(bootstrap: &str, args: &[&str]) -> String {
    let out = run(bootstrap, args);
    assert!(
        out.status.success(),
        "gregor groups {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

fn fails(bootstrap: &str, args: &[&str]) -> String {
    let out = run(bootstrap, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "gregor groups {args:?} should fail"
    );
    String::from_utf8(out.stderr).expect("utf8 stderr")
}

/// One row of `describe`'s offsets table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    current: String,
    log_end: String,
    lag: String,
    consumer_id: String,
}

/// `describe --group GROUP` as partition → row; checks the header.
fn describe(bootstrap: &str) -> BTreeMap<i32, Row> {
    let out = ok(bootstrap, &["describe", "--group", GROUP]);
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            assert_eq!((c.len(), c[0], c[1]), (9, GROUP, TOPIC), "row {l}");
            let row = Row {
                current: c[3].into(),
                log_end: c[4].into(),
                lag: c[5].into(),
                consumer_id: c[6].into(),
            };
            (c[2].parse().expect("partition"), row)
        })
        .collect()
}

/// `list --state` as group → state.
fn listed_states(bootstrap: &str) -> BTreeMap<String, String> {
    ok(bootstrap, &["list", "--state"])
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut c = l.split_whitespace();
            Some((c.next()?.to_string(), c.next()?.to_string()))
        })
        .collect()
}

fn wait_for_state(bootstrap: &str, state: &str) {
    let deadline = Instant::now() + GROUP_DEADLINE;
    loop {
        let states = listed_states(bootstrap);
        if states.get(GROUP).map(String::as_str) == Some(state) {
            return;
        }
        assert!(Instant::now() < deadline, "group never {state}: {states:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn log_end(p: i32) -> i64 {
    BASE_RECORDS + i64::from(p)
}

/// Subscribes one member and polls until it holds every partition.
fn member(bootstrap: &str) -> BaseConsumer {
    let c: BaseConsumer = base_config(bootstrap)
        .set("group.id", GROUP)
        .set("client.id", "groups-cli-member")
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    c.subscribe(&[TOPIC]).expect("subscribe");
    let deadline = Instant::now() + GROUP_DEADLINE;
    while c.assignment().map(|a| a.count()).unwrap_or(0) < PARTITIONS as usize {
        c.poll(Duration::from_millis(100));
        assert!(Instant::now() < deadline, "member got no assignment");
    }
    c
}

#[test]
fn describe_reset_and_delete_a_group() {
    let broker = start_broker_with(BrokerOptions {
        overrides: vec![("group.initial.rebalance.delay.ms".into(), "0".into())],
        ..BrokerOptions::default()
    });
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS);
    let producer = future_producer(&bs, &[]);
    for p in 0..PARTITIONS {
        for i in 0..log_end(p) {
            let value = format!("r{i}");
            let rec = FutureRecord::<(), _>::to(TOPIC)
                .partition(p)
                .payload(&value);
            block_on(producer.send(rec, CLIENT_TIMEOUT)).expect("produce");
        }
    }

    // A member commits part of each partition as the group's member.
    let consumer = member(&bs);
    let committed: BTreeMap<i32, i64> =
        (0..PARTITIONS).map(|p| (p, 3 + 2 * i64::from(p))).collect();
    let mut tpl = TopicPartitionList::new();
    for (p, o) in &committed {
        tpl.add_partition_offset(TOPIC, *p, Offset::Offset(*o))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    wait_for_state(&bs, "Stable");

    let active = describe(&bs);
    assert_eq!(active.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
    for (p, row) in &active {
        let want_lag = log_end(*p) - committed[p];
        assert_eq!(row.current, committed[p].to_string(), "partition {p}");
        assert_eq!(row.log_end, log_end(*p).to_string(), "partition {p}");
        assert_eq!(row.lag, want_lag.to_string(), "partition {p}");
        assert!(row.consumer_id.starts_with("groups-cli-member-"), "{row:?}");
    }
    let members = ok(
        &bs,
        &["describe", "--group", GROUP, "--members", "--verbose"],
    );
    assert!(members.contains(&format!("{TOPIC}(0,1,2)")), "{members}");

    // An active group can be neither reset nor deleted.
    let err = fails(&bs, &["delete", "--group", GROUP]);
    assert!(err.contains("NON_EMPTY_GROUP"), "{err}");
    let reset = [
        "reset-offsets",
        "--group",
        GROUP,
        "--topic",
        TOPIC,
        "--to-earliest",
    ];
    let err = fails(&bs, &[&reset[..], &["--execute"]].concat());
    assert!(
        err.contains(&format!(
            "Assignments can only be reset if the group '{GROUP}' is inactive, but the current \
             state is Stable."
        )),
        "{err}"
    );

    // Offsets of a topic the live member subscribes to are kept.
    let t0 = format!("{TOPIC}:0");
    let err = fails(&bs, &["delete-offsets", "--group", GROUP, "--topic", &t0]);
    assert!(err.contains("GROUP_SUBSCRIBED_TO_TOPIC"), "{err}");
    assert_eq!(describe(&bs)[&0].current, committed[&0].to_string());

    consumer.unsubscribe();
    drop(consumer);
    wait_for_state(&bs, "Empty");
    let empty = describe(&bs);
    for (p, row) in &empty {
        assert_eq!(row.lag, (log_end(*p) - committed[p]).to_string());
        assert_eq!(row.consumer_id, "-");
    }

    // A dry run prints the plan and changes nothing.
    let plan = ok(&bs, &[&reset[..], &["--dry-run"]].concat());
    let planned: Vec<Vec<&str>> = plan
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(planned[0], ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]);
    assert_eq!(planned.len(), 1 + PARTITIONS as usize);
    assert!(planned[1..].iter().all(|r| r[3] == "0"), "{plan}");
    assert_eq!(describe(&bs), empty);
    let future = ["--to-datetime", "2999-01-01T00:00:00.000", "--dry-run"];
    let reset_all = ["reset-offsets", "--group", GROUP, "--all-topics"];
    let plan = ok(&bs, &[&reset_all[..], &future[..]].concat());
    let ends: Vec<String> = plan
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().nth(3).unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (0..PARTITIONS).map(|p| log_end(p).to_string()).collect();
    assert_eq!(ends, want, "{plan}");

    ok(&bs, &[&reset[..], &["--execute"]].concat());
    for (p, row) in describe(&bs) {
        assert_eq!(
            (row.current.as_str(), row.lag.clone()),
            ("0", log_end(p).to_string())
        );
    }
    let shift = [
        "reset-offsets",
        "--group",
        GROUP,
        "--topic",
        &format!("{TOPIC}:1"),
    ];
    ok(
        &bs,
        &[&shift[..], &["--shift-by", "4", "--execute"]].concat(),
    );
    assert_eq!(describe(&bs)[&1].current, "4");

    // Deleting one partition's offset, then the group.
    let deleted = ok(
        &bs,
        &[
            "delete-offsets",
            "--group",
            GROUP,
            "--topic",
            &format!("{TOPIC}:0"),
        ],
    );
    assert!(deleted.contains("Successful"), "{deleted}");
    assert_eq!(
        describe(&bs).keys().copied().collect::<Vec<_>>(),
        vec![1, 2]
    );
    let out = ok(&bs, &["delete", "--group", GROUP]);
    assert!(out.contains("was successful"), "{out}");
    assert!(!listed_states(&bs).contains_key(GROUP));
    let plain = ok(&bs, &["list"]);
    assert!(!plain.lines().any(|l| l == GROUP), "{plain}");
    let err = fails(&bs, &["delete", "--group", GROUP]);
    assert!(err.contains("GROUP_ID_NOT_FOUND"), "{err}");
}
