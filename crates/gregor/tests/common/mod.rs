//! Helpers shared by the end-to-end tests: start the real `gregor` binary,
//! create topics with the admin API, read a partition back with an assigned
//! (group-less) consumer. Every wait here has a deadline.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gregor_testkit::{BrokerOptions, BrokerProcess};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// Per-operation deadline for client calls in tests.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn gregor_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gregor"))
}

pub fn start_broker() -> BrokerProcess {
    start_broker_with(BrokerOptions::default())
}

pub fn start_broker_with(opts: BrokerOptions) -> BrokerProcess {
    BrokerProcess::start(&gregor_bin(), opts).unwrap_or_else(|e| panic!("broker start: {e}"))
}

/// Runs a future to completion on a fresh current-thread runtime; rdkafka's
/// futures are woken from librdkafka's own threads, so this is enough.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

pub fn base_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "10000");
    c
}

/// Creates `topic` with `partitions` partitions (replication factor 1) and
/// panics with the broker's error code if that fails.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        base_config(bootstrap).create().expect("admin client");
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(CLIENT_TIMEOUT));
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let res = block_on(admin.create_topics([&new], &opts)).expect("CreateTopics request");
    for r in res {
        if let Err((name, code)) = r {
            panic!("CreateTopics {name}: {code:?}");
        }
    }
}

pub fn future_producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut c = base_config(bootstrap);
    c.set("message.timeout.ms", "30000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

/// A consumer assigned to one partition at `offset`. librdkafka's assign()
/// wants a group.id, but with manual assignment and no commits the group is
/// never joined and no offsets are stored, so no group coordinator is needed.
pub fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> BaseConsumer {
    assigned_consumer_with(bootstrap, topic, partition, offset, &[])
}

/// [`assigned_consumer`] with extra client settings.
pub fn assigned_consumer_with(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    extra: &[(&str, &str)],
) -> BaseConsumer {
    let mut config = base_config(bootstrap);
    config
        .set("group.id", "gregor-e2e-assign-only")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "error")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    consumer
}

/// Polls until `n` messages arrived or `timeout` passed. Consumer errors are
/// collected and reported if the count is not reached.
pub fn consume_n(consumer: &BaseConsumer, n: usize, timeout: Duration) -> Vec<OwnedMessage> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(n);
    let mut errors = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(m.detach()),
            Some(Err(e)) => errors.push(e.to_string()),
            None => {}
        }
    }
    assert_eq!(
        out.len(),
        n,
        "consumed {} of {n} messages within {timeout:?}; consumer errors: {errors:?}",
        out.len()
    );
    out
}

/// Polls for `window` and returns whatever else arrives (expected: nothing).
pub fn consume_extra(consumer: &BaseConsumer, window: Duration) -> Vec<OwnedMessage> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(m.detach());
        }
    }
    out
}

/// Log start and high watermark of a partition.
pub fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let c: BaseConsumer = base_config(bootstrap).create().expect("consumer");
    c.fetch_watermarks(topic, partition, CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("ListOffsets {topic}/{partition}: {e}"))
}

pub type HeaderList = Vec<(String, Option<Vec<u8>>)>;

pub fn headers_of(m: &OwnedMessage) -> HeaderList {
    match m.headers() {
        None => Vec::new(),
        Some(h) => h
            .iter()
            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
            .collect(),
    }
}

/// Produces three records and reads them back on new connections: the
/// "clients still work" check used after fault and garbage tests.
pub fn assert_produce_consume_works(bootstrap: &str, topic: &str) {
    create_topic(bootstrap, topic, 1);
    let p = future_producer(bootstrap, &[("enable.idempotence", "true")]);
    let (_, end) = watermarks(bootstrap, topic, 0);
    for i in 0..3 {
        let v = format!("alive-{i}");
        let rec = FutureRecord::to(topic).partition(0).key("k").payload(&v);
        block_on(p.send(rec, CLIENT_TIMEOUT))
            .unwrap_or_else(|(e, _)| panic!("produce after fault to {topic}: {e}"));
    }
    let c = assigned_consumer(bootstrap, topic, 0, end);
    let got = consume_n(&c, 3, CLIENT_TIMEOUT);
    let vals: Vec<_> = got
        .iter()
        .map(|m| m.payload().map(<[u8]>::to_vec))
        .collect();
    let want: Vec<_> = (0..3)
        .map(|i| Some(format!("alive-{i}").into_bytes()))
        .collect();
    assert_eq!(vals, want, "records read back after fault");
}

/// The partitions of `topic` each consumer holds now.
pub fn assignments(
    consumers: &[&BaseConsumer],
    topic: &str,
) -> Vec<std::collections::BTreeSet<i32>> {
    consumers
        .iter()
        .map(|c| {
            c.assignment()
                .expect("assignment")
                .elements()
                .iter()
                .filter(|e| e.topic() == topic)
                .map(|e| e.partition())
                .collect()
        })
        .collect()
}

/// How long a group rebalance may take in these tests.
pub const REBALANCE_DEADLINE: Duration = Duration::from_secs(60);

/// Polls every consumer (which drives its group protocol) until each holds
/// `per_member` partitions of `topic` and together they hold each of its
/// `partitions` exactly once. Returns the records consumed meanwhile.
pub fn poll_until_balanced(
    consumers: &[&BaseConsumer],
    topic: &str,
    partitions: usize,
    per_member: usize,
) -> usize {
    let deadline = std::time::Instant::now() + REBALANCE_DEADLINE;
    let mut consumed = 0;
    loop {
        for c in consumers {
            if let Some(Ok(_)) = c.poll(Duration::from_millis(50)) {
                consumed += 1;
            }
        }
        let held = assignments(consumers, topic);
        let all: std::collections::BTreeSet<i32> = held.iter().flatten().copied().collect();
        let total: usize = held.iter().map(|h| h.len()).sum();
        if held.iter().all(|h| h.len() == per_member)
            && total == all.len()
            && all.len() == partitions
        {
            return consumed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no balanced assignment of {per_member} each within {REBALANCE_DEADLINE:?}: {held:?}"
        );
    }
}
