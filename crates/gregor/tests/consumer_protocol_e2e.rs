//! KIP-848 consumer groups through librdkafka with `group.protocol=consumer`:
//! three consumers split a 6-partition topic two partitions each (the
//! broker's `uniform` assignor), commit as members of their epoch, and
//! when one closes the other two converge on three partitions each; and a
//! Stable group survives `kill -9` of the broker with its epochs, members
//! and committed offsets.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::{request_frame, BrokerOptions, RawConn, ReadOutcome};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;

const TOPIC: &str = "kip848-e2e";
const GROUP: &str = "kip848-e2e-group";
const PARTITIONS: i32 = 6;

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

fn options() -> BrokerOptions {
    BrokerOptions {
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
    }
}

#[test]
fn consumer_protocol_members_share_partitions_and_take_over_on_close() {
    let broker = start_broker_with(options());
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS);

    let a = member(&bs, "member-a");
    let b = member(&bs, "member-b");
    let c = member(&bs, "member-c");
    poll_until_balanced(&[&a, &b, &c], TOPIC, PARTITIONS as usize, 2);

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
    let mut again = poll_until_balanced(&[&a, &b], TOPIC, PARTITIONS as usize, 3);
    again += [&a, &b]
        .iter()
        .map(|c| consume_extra(c, Duration::from_secs(1)).len())
        .sum::<usize>();
    assert_eq!(again, 0, "records consumed again after the reassignment");
}

/// A consumer group as ConsumerGroupDescribe v0 shows it: state, group
/// epoch, assignment epoch and (member id, member epoch) by member id.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    state: String,
    group_epoch: i32,
    assignment_epoch: i32,
    members: Vec<(String, i32)>,
}

/// Reads the parts of a flexible response this test needs.
struct Flex<'a>(&'a [u8]);

impl Flex<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn varint(&mut self) -> usize {
        let mut v = 0usize;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)[0];
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    }
    fn string(&mut self) -> Option<String> {
        match self.varint() {
            0 => None,
            n => Some(String::from_utf8(self.take(n - 1).to_vec()).unwrap()),
        }
    }
    fn count(&mut self) -> usize {
        self.varint().saturating_sub(1)
    }
    fn tags(&mut self) {
        for _ in 0..self.varint() {
            self.varint();
            let n = self.varint();
            self.take(n);
        }
    }
    fn assignment(&mut self) {
        for _ in 0..self.count() {
            self.take(16);
            self.string();
            let n = self.count();
            self.take(4 * n);
            self.tags();
        }
        self.tags();
    }
}

fn describe(bootstrap: &str) -> Described {
    let mut conn = RawConn::connect(bootstrap, CLIENT_TIMEOUT).expect("connect");
    let mut body = vec![2, GROUP.len() as u8 + 1];
    body.extend_from_slice(GROUP.as_bytes());
    body.extend_from_slice(&[0, 0]); // no authorized operations; no tags
    conn.send(&request_frame(69, 0, 7, Some("e2e"), true, &body))
        .expect("send describe");
    let ReadOutcome::Frame(frame) = conn.read_frame(CLIENT_TIMEOUT).expect("read") else {
        panic!("no ConsumerGroupDescribe response");
    };
    let mut r = Flex(&frame);
    assert_eq!(r.i32(), 7, "correlation id");
    r.tags();
    r.i32(); // throttle
    assert_eq!(r.count(), 1);
    let error = i16::from_be_bytes(r.take(2).try_into().unwrap());
    let message = r.string();
    assert_eq!(error, 0, "describe: {message:?}");
    assert_eq!(r.string().as_deref(), Some(GROUP));
    let state = r.string().unwrap();
    let group_epoch = r.i32();
    let assignment_epoch = r.i32();
    r.string(); // assignor
    let mut members = Vec::new();
    for _ in 0..r.count() {
        let id = r.string().unwrap();
        r.string(); // instance
        r.string(); // rack
        members.push((id, r.i32()));
        r.string(); // client id
        r.string(); // client host
        for _ in 0..r.count() {
            r.string();
        }
        r.string(); // regex
        r.assignment();
        r.assignment();
        r.tags();
    }
    members.sort();
    Described {
        state,
        group_epoch,
        assignment_epoch,
        members,
    }
}

#[test]
fn a_stable_consumer_group_survives_kill9_with_its_epochs_and_offsets() {
    let mut broker = start_broker_with(options());
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, PARTITIONS);
    let a = member(&bs, "member-a");
    let b = member(&bs, "member-b");
    let c = member(&bs, "member-c");
    poll_until_balanced(&[&a, &b, &c], TOPIC, PARTITIONS as usize, 2);
    // One member leaves, so a group rebuilt from scratch by rejoining
    // members would have a different group epoch than this one.
    drop(c);
    poll_until_balanced(&[&a, &b], TOPIC, PARTITIONS as usize, 3);

    let p = future_producer(&bs, &[]);
    let produce = |p: &rdkafka::producer::FutureProducer| {
        for partition in 0..PARTITIONS {
            let rec = FutureRecord::to(TOPIC)
                .partition(partition)
                .key("k")
                .payload("v");
            block_on(p.send(rec, CLIENT_TIMEOUT)).unwrap_or_else(|(e, _)| panic!("produce: {e}"));
        }
    };
    produce(&p);
    drop(p);
    let mut consumed = 0;
    let deadline = Instant::now() + REBALANCE_DEADLINE;
    while consumed < PARTITIONS as usize {
        for c in [&a, &b] {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                consumed += 1;
            }
        }
        assert!(Instant::now() < deadline, "consumed {consumed}");
    }
    for c in [&a, &b] {
        c.commit_consumer_state(CommitMode::Sync)
            .expect("member commit");
    }
    let before = describe(&bs);
    assert_eq!(before.state, "Stable", "{before:?}");
    assert_eq!(before.members.len(), 2);
    let held = assignments(&[&a, &b], TOPIC);

    broker.kill9().expect("SIGKILL");
    broker.restart().expect("restart after SIGKILL");
    let bs = broker.bootstrap();
    // The members find the coordinator again and heartbeat on with the
    // epochs they had: the loaded group accepts them, nothing rebalances.
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        for c in [&a, &b] {
            c.poll(Duration::from_millis(50));
        }
    }
    let after = describe(&bs);
    assert_eq!(after, before, "group restored as it was");
    assert_eq!(assignments(&[&a, &b], TOPIC), held);

    // Consuming goes on from the committed offsets: only the new records.
    produce(&future_producer(&bs, &[]));
    let mut again = 0;
    let deadline = Instant::now() + REBALANCE_DEADLINE;
    while again < PARTITIONS as usize {
        for c in [&a, &b] {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                again += 1;
            }
        }
        assert!(Instant::now() < deadline, "consumed {again} after restart");
    }
    again += [&a, &b]
        .iter()
        .map(|c| consume_extra(c, Duration::from_secs(1)).len())
        .sum::<usize>();
    assert_eq!(again, PARTITIONS as usize, "records consumed twice");
    assert_eq!(describe(&bs), before);
}
