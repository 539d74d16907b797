//! Retention and compaction through the real broker and librdkafka: old
//! segments disappear within the retention check interval and consumers
//! below the new log start are reset by their policy; a compacted topic
//! keeps exactly the latest value of every live key, drops tombstones after
//! `delete.retention.ms`, and shrinks on disk.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    assigned_consumer_with, base_config, block_on, future_producer, start_broker_with, watermarks,
    CLIENT_TIMEOUT,
};
use gregor_testkit::BrokerOptions;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

/// `segment.bytes` at Kafka 4's minimum.
const SEGMENT_BYTES: &str = "1048576";

fn create_topic_with(bootstrap: &str, topic: &str, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> =
        base_config(bootstrap).create().expect("admin client");
    let opts = AdminOptions::new().request_timeout(Some(CLIENT_TIMEOUT));
    let mut new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    for r in block_on(admin.create_topics([&new], &opts)).expect("CreateTopics") {
        r.unwrap_or_else(|(name, code)| panic!("CreateTopics {name}: {code:?}"));
    }
}

/// Sizes of the partition's `.log` files.
fn segment_sizes(data_dir: &Path, topic: &str) -> Vec<u64> {
    let dir = data_dir.join(format!("{topic}-0"));
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .expect("partition dir")
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".log")
                .then(|| (name, e.metadata().map(|m| m.len()).unwrap_or(0)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, s)| s).collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn produce_all(producer: &FutureProducer, topic: &str, records: &[(String, Option<Vec<u8>>)]) {
    block_on(async {
        let mut pending = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut record = FutureRecord::to(topic).key(key.as_bytes()).partition(0);
            if let Some(v) = value {
                record = record.payload(v);
            }
            pending.push(producer.send_result(record).expect("queue"));
        }
        for p in pending {
            p.await.expect("delivery").expect("produce");
        }
    });
}

#[test]
fn retention_deletes_old_segments_and_consumers_are_reset_by_policy() {
    let broker = start_broker_with(
        BrokerOptions::default().with_override("log.retention.check.interval.ms", "500"),
    );
    let bootstrap = broker.bootstrap();
    let topic = "retained";
    create_topic_with(
        &bootstrap,
        topic,
        &[
            ("segment.bytes", SEGMENT_BYTES),
            ("retention.bytes", "2097152"),
            ("retention.ms", "3600000"),
        ],
    );
    let producer = future_producer(&bootstrap, &[("linger.ms", "5")]);
    let records: Vec<(String, Option<Vec<u8>>)> = (0..6_000)
        .map(|i| (format!("k{i}"), Some(vec![b'x'; 1_000])))
        .collect();
    produce_all(&producer, topic, &records);
    let (_, high) = watermarks(&bootstrap, topic, 0);
    assert_eq!(high, 6_000);
    // Within a few check intervals the log is cut to about retention.bytes.
    let mut low = 0;
    wait_for(
        "retention to move the log start",
        Duration::from_secs(10),
        || {
            low = watermarks(&bootstrap, topic, 0).0;
            low > 0
        },
    );
    let sizes = segment_sizes(&broker.data_dir(), topic);
    let total: u64 = sizes.iter().sum();
    assert!(
        total >= 2_097_152 && total - sizes[0] < 2_097_152,
        "on disk after retention: {sizes:?}"
    );
    assert!(sizes.len() <= 4, "{sizes:?}");

    // auto.offset.reset=earliest: a consumer at 0 starts at the new start.
    let consumer = assigned_consumer_with(
        &bootstrap,
        topic,
        0,
        0,
        &[("auto.offset.reset", "earliest")],
    );
    let first = poll_one(&consumer).expect("a message after the reset");
    assert_eq!(first, low, "reset to the log start offset");

    // auto.offset.reset=error: the consumer is told instead.
    let consumer =
        assigned_consumer_with(&bootstrap, topic, 0, 0, &[("auto.offset.reset", "error")]);
    let err = poll_one(&consumer).expect_err("offset out of range");
    assert!(
        err.contains("out of range") || err.contains("OffsetOutOfRange") || err.contains("reset"),
        "{err}"
    );
}

/// The offset of the first message, or the first consumer error.
fn poll_one(consumer: &BaseConsumer) -> Result<i64, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => return Ok(m.offset()),
            Some(Err(e)) => return Err(e.to_string()),
            None => {}
        }
    }
    panic!("no message and no error within 20 s");
}

#[test]
fn compaction_keeps_the_latest_value_of_every_live_key() {
    let broker =
        start_broker_with(BrokerOptions::default().with_override("log.cleaner.backoff.ms", "200"));
    let bootstrap = broker.bootstrap();
    let topic = "compacted";
    create_topic_with(
        &bootstrap,
        topic,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", SEGMENT_BYTES),
            ("segment.ms", "1000"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "2000"),
        ],
    );
    const KEYS: usize = 1_000;
    const ROUNDS: usize = 100;
    let mut records = Vec::with_capacity(KEYS * ROUNDS);
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for round in 0..ROUNDS {
        for k in 0..KEYS {
            let key = format!("key-{k:04}");
            let tombstone = round == ROUNDS - 1 && k % 10 == 0;
            let value = (!tombstone).then(|| format!("value-{k}-{round}-{}", "p".repeat(40)));
            match &value {
                Some(v) => expected.insert(key.clone(), v.clone().into_bytes()),
                None => expected.remove(&key),
            };
            records.push((key, value.map(String::into_bytes)));
        }
    }
    let producer = future_producer(
        &bootstrap,
        &[("linger.ms", "5"), ("compression.type", "lz4")],
    );
    produce_all(&producer, topic, &records);
    let bytes_written: u64 = segment_sizes(&broker.data_dir(), topic).iter().sum();
    // A later record rolls the active segment (segment.ms), so every one of
    // the 100,000 records lies in a segment the cleaner may rewrite.
    std::thread::sleep(Duration::from_millis(1_100));
    produce_all(
        &producer,
        topic,
        &[("marker".to_string(), Some(b"end".to_vec()))],
    );
    expected.insert("marker".into(), b"end".to_vec());

    let deadline = Duration::from_secs(30);
    let mut last = (0usize, 0usize);
    wait_for("compaction and tombstone removal", deadline, || {
        let got = read_from_start(&bootstrap, topic, KEYS * ROUNDS + 1);
        let tombstones = got.iter().filter(|(_, v)| v.is_none()).count();
        last = (got.len(), tombstones);
        got.len() == expected.len() && tombstones == 0
    });
    let got = read_from_start(&bootstrap, topic, KEYS * ROUNDS + 1);
    let as_map: BTreeMap<String, Vec<u8>> = got
        .into_iter()
        .map(|(k, v)| (k, v.expect("no tombstones left")))
        .collect();
    assert_eq!(
        as_map, expected,
        "exactly the latest value of every live key"
    );
    let bytes_after: u64 = segment_sizes(&broker.data_dir(), topic).iter().sum();
    assert!(
        bytes_after * 10 < bytes_written,
        "segments shrink: {bytes_written} bytes before, {bytes_after} after"
    );
    let (low, high) = watermarks(&bootstrap, topic, 0);
    assert_eq!(
        (low, high),
        (0, (KEYS * ROUNDS + 1) as i64),
        "offsets are kept"
    );
}

/// Every record from offset 0 up to the high watermark: (key, value).
fn read_from_start(bootstrap: &str, topic: &str, end: usize) -> Vec<(String, Option<Vec<u8>>)> {
    let consumer = assigned_consumer_with(bootstrap, topic, 0, 0, &[]);
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().expect("key").to_vec()).expect("utf8");
                out.push((key, m.payload().map(<[u8]>::to_vec)));
                if m.offset() as usize + 1 >= end {
                    return out;
                }
            }
            Some(Err(e)) => panic!("consume: {e}"),
            None => {}
        }
    }
    panic!(
        "did not reach offset {end} within 20 s ({} records)",
        out.len()
    );
}

#[test]
fn consumer_offsets_are_compacted_by_the_same_cleaner() {
    use rdkafka::consumer::{CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let mut broker = start_broker_with(
        BrokerOptions::default()
            .with_override("offsets.topic.num.partitions", "1")
            .with_override("offsets.topic.segment.bytes", SEGMENT_BYTES)
            .with_override("log.cleaner.min.cleanable.ratio", "0.01")
            .with_override("log.cleaner.backoff.ms", "200"),
    );
    let bootstrap = broker.bootstrap();
    create_topic_with(&bootstrap, "tracked", &[]);
    let consumer: BaseConsumer = base_config(&bootstrap)
        .set("group.id", "compacted-offsets")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = "m".repeat(400);
    const COMMITS: i64 = 4_000;
    for i in 1..=COMMITS {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("tracked", 0, Offset::Offset(i))
            .expect("tpl");
        tpl.find_partition("tracked", 0)
            .expect("partition")
            .set_metadata(&metadata);
        consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    }
    let offsets_dir_topic = "__consumer_offsets";
    // 4,000 commits of ~500 bytes fill more than one 1 MiB segment; once
    // rolled, the cleaner keeps one record for the group's one partition.
    wait_for(
        "__consumer_offsets to be cleaned",
        Duration::from_secs(20),
        || {
            let sizes = segment_sizes(&broker.data_dir(), offsets_dir_topic);
            sizes.len() >= 2 && sizes[0] < 10_000
        },
    );
    let committed = |consumer: &BaseConsumer| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("tracked", 0);
        let got = consumer
            .committed_offsets(tpl, CLIENT_TIMEOUT)
            .expect("OffsetFetch");
        let e = got.find_partition("tracked", 0).expect("partition");
        (e.offset(), e.metadata().to_string())
    };
    assert_eq!(
        committed(&consumer),
        (Offset::Offset(COMMITS), metadata.clone())
    );
    drop(consumer);
    // The group's state is rebuilt from the compacted log after a restart.
    broker.restart().expect("restart");
    let consumer: BaseConsumer = base_config(&broker.bootstrap())
        .set("group.id", "compacted-offsets")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    assert_eq!(committed(&consumer), (Offset::Offset(COMMITS), metadata));
}

/// IncrementalAlterConfigs v0 setting one topic config, sent on a raw
/// connection (the rdkafka crate only wraps the older AlterConfigs).
/// Returns the resource's error code.
fn set_topic_config(bootstrap: &str, topic: &str, key: &str, value: &str) -> i16 {
    use gregor_testkit::{request_frame, RawConn, ReadOutcome};
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as i16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // one resource
    body.push(2); // TOPIC
    string(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes()); // one config
    string(&mut body, key);
    body.push(0); // SET
    string(&mut body, value);
    body.push(0); // validate_only = false
    let mut conn = RawConn::connect(bootstrap, CLIENT_TIMEOUT).expect("connect");
    conn.send(&request_frame(44, 0, 7, Some("e2e"), false, &body))
        .expect("send");
    let ReadOutcome::Frame(frame) = conn.read_frame(CLIENT_TIMEOUT).expect("read") else {
        panic!("no IncrementalAlterConfigs response");
    };
    // correlation id, throttle time, response count, then the error code.
    assert_eq!(i32::from_be_bytes(frame[0..4].try_into().unwrap()), 7);
    assert_eq!(i32::from_be_bytes(frame[8..12].try_into().unwrap()), 1);
    i16::from_be_bytes(frame[12..14].try_into().unwrap())
}

#[test]
fn a_retention_change_at_run_time_takes_effect_without_restart() {
    let broker = start_broker_with(
        BrokerOptions::default().with_override("log.retention.check.interval.ms", "300"),
    );
    let bootstrap = broker.bootstrap();
    let topic = "altered";
    create_topic_with(&bootstrap, topic, &[("segment.bytes", SEGMENT_BYTES)]);
    let producer = future_producer(&bootstrap, &[("linger.ms", "5")]);
    let records: Vec<(String, Option<Vec<u8>>)> = (0..4_000)
        .map(|i| (format!("k{i}"), Some(vec![b'y'; 1_000])))
        .collect();
    produce_all(&producer, topic, &records);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(watermarks(&bootstrap, topic, 0).0, 0, "no limit yet");
    let segments = segment_sizes(&broker.data_dir(), topic).len();
    assert!(segments >= 4, "{segments} segments");
    assert_eq!(
        set_topic_config(&bootstrap, topic, "retention.bytes", "1048576"),
        0
    );
    wait_for(
        "the new retention.bytes to apply",
        Duration::from_secs(10),
        || watermarks(&bootstrap, topic, 0).0 > 0,
    );
    let sizes = segment_sizes(&broker.data_dir(), topic);
    assert!(sizes.len() <= 2, "{sizes:?}");
}
