//! Client quotas end to end: quotas set with `gregor quotas alter`, read
//! back with `gregor quotas describe`, kept across a restart, and enforced
//! on real librdkafka clients (a producer and a consumer over their byte
//! rates are held to them); plus `gregor dump-log` on a segment the broker
//! wrote.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

const CLI_TIMEOUT_S: u32 = 60;
/// Short quota windows (3 samples of 1 s) so the measured rate settles
/// within a test's seconds rather than Kafka's default 11.
const QUOTA_WINDOW_NUM: &str = "3";
/// How long the client runs before measuring starts (the first window
/// admits a burst, as in Kafka) and how long it is measured for.
const WARM_UP: Duration = Duration::from_secs(3);
const MEASURED: Duration = Duration::from_secs(6);
const RECORD_BYTES: usize = 1000;

fn cli(bootstrap: &str, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .args(["-k", "5", &CLI_TIMEOUT_S.to_string()])
        .arg(gregor_bin())
        .args(args)
        .args(["--bootstrap-server", bootstrap])
        .stdin(Stdio::null())
        .output()
        .expect("run gregor");
    assert_ne!(out.status.code(), Some(124), "gregor {args:?} timed out");
    out
}

fn cli_ok(bootstrap: &str, args: &[&str]) -> String {
    let out = cli(bootstrap, args);
    assert!(
        out.status.success(),
        "gregor {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn quota_broker() -> gregor_testkit::BrokerProcess {
    start_broker_with(BrokerOptions::default().with_override("quota.window.num", QUOTA_WINDOW_NUM))
}

#[test]
fn quotas_alter_describe_validate_and_survive_restart() {
    let mut broker = quota_broker();
    let b = broker.bootstrap();
    let out = cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--add-config",
            "producer_byte_rate=1024,consumer_byte_rate=2048",
        ],
    );
    assert_eq!(
        out,
        "Completed updating config for user-principal 'alice'.\n"
    );
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--entity-type",
            "clients",
            "--entity-default",
            "--add-config",
            "request_percentage=12.5",
        ],
    );
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--user",
            "alice",
            "--client",
            "app",
            "--add-config",
            "producer_byte_rate=4096",
        ],
    );
    let alice = cli_ok(
        &b,
        &[
            "quotas",
            "describe",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
        ],
    );
    assert_eq!(alice, "Quota configs for user-principal 'alice' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0\n");
    let defaults = cli_ok(
        &b,
        &[
            "quotas",
            "describe",
            "--entity-type",
            "clients",
            "--entity-default",
        ],
    );
    assert_eq!(
        defaults,
        "Quota configs for the default client-id are request_percentage=12.5\n"
    );
    let mut all: Vec<String> = cli_ok(&b, &["quotas", "describe"])
        .lines()
        .map(String::from)
        .collect();
    all.sort();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all[2],
        "Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=4096.0"
    );

    // Kafka's validation, with its messages.
    let bad = cli(
        &b,
        &[
            "quotas",
            "alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--add-config",
            "producer_byte_rate=1.5",
        ],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("INVALID_REQUEST: Configuration producer_byte_rate must be a Long value"),
        "{err}"
    );
    let bad = cli(
        &b,
        &[
            "quotas",
            "alter",
            "--ip",
            "10.0.0.1",
            "--add-config",
            "producer_byte_rate=10",
        ],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("INVALID_REQUEST: Invalid configuration key producer_byte_rate"),
        "{err}"
    );
    // validate-only changes nothing.
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--user",
            "bob",
            "--add-config",
            "producer_byte_rate=10",
            "--validate-only",
        ],
    );
    assert_eq!(cli_ok(&b, &["quotas", "describe", "--user", "bob"]), "");

    // Removing a key, then a restart: the metadata log keeps the rest.
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--delete-config",
            "consumer_byte_rate",
        ],
    );
    broker.terminate().expect("stop broker");
    broker.restart().expect("restart broker");
    let b = broker.bootstrap();
    let alice = cli_ok(&b, &["quotas", "describe", "--user", "alice"]);
    assert_eq!(
        alice,
        "Quota configs for user-principal 'alice' are producer_byte_rate=1024.0\n"
    );
    let defaults = cli_ok(&b, &["quotas", "describe", "--client-defaults"]);
    assert_eq!(
        defaults,
        "Quota configs for the default client-id are request_percentage=12.5\n"
    );
}

/// Counts acknowledged payload bytes with the time each ack arrived.
struct DeliveryLog {
    acks: Arc<Mutex<Vec<(Instant, usize)>>>,
}

impl ClientContext for DeliveryLog {}

impl ProducerContext for DeliveryLog {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = result {
            let bytes = m.payload().map_or(0, <[u8]>::len);
            self.acks.lock().unwrap().push((Instant::now(), bytes));
        }
    }
}

/// Bytes per second acknowledged in [start + WARM_UP, start + WARM_UP + MEASURED).
fn measured_rate(acks: &[(Instant, usize)], start: Instant) -> f64 {
    let (from, to) = (start + WARM_UP, start + WARM_UP + MEASURED);
    let bytes: usize = acks
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, b)| b)
        .sum();
    bytes as f64 / MEASURED.as_secs_f64()
}

#[test]
fn producer_over_its_byte_rate_is_throttled_to_it() {
    let broker = quota_broker();
    let b = broker.bootstrap();
    create_topic(&b, "throttled", 1);
    let quota = 100_000.0;
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "slow-producer",
            "--add-config",
            "producer_byte_rate=100000",
        ],
    );
    let acks = Arc::new(Mutex::new(Vec::new()));
    let producer: ThreadedProducer<DeliveryLog> = base_config(&b)
        .set("client.id", "slow-producer")
        .set("linger.ms", "5")
        // The Java client's batch size: small requests, so each throttle
        // decision covers a small amount of data.
        .set("batch.size", "16384")
        .set("queue.buffering.max.kbytes", "1024")
        .set("message.timeout.ms", "60000")
        .create_with_context(DeliveryLog { acks: acks.clone() })
        .expect("producer");
    let payload = vec![b'x'; RECORD_BYTES];
    let start = Instant::now();
    while start.elapsed() < WARM_UP + MEASURED {
        match producer.send(BaseRecord::to("throttled").payload(&payload).key("k")) {
            Ok(()) => {}
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err((e, _)) => panic!("produce: {e}"),
        }
    }
    let rate = measured_rate(&acks.lock().unwrap(), start);
    producer.purge(rdkafka::producer::PurgeConfig::default().queue());
    eprintln!("producer quota {quota} B/s, measured {rate:.0} B/s over {MEASURED:?}");
    assert!(
        (rate - quota).abs() / quota <= 0.2,
        "measured {rate:.0} B/s against a quota of {quota} B/s"
    );

    // An unthrottled client on the same broker is far faster.
    let fast: ThreadedProducer<DeliveryLog> = base_config(&b)
        .set("client.id", "fast-producer")
        .set("linger.ms", "5")
        .create_with_context(DeliveryLog {
            acks: Arc::new(Mutex::new(Vec::new())),
        })
        .expect("producer");
    let t = Instant::now();
    for _ in 0..2000 {
        fast.send(BaseRecord::to("throttled").payload(&payload).key("k"))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    fast.flush(Duration::from_secs(30)).expect("flush");
    let fast_rate = 2000.0 * RECORD_BYTES as f64 / t.elapsed().as_secs_f64();
    assert!(
        fast_rate > 3.0 * quota,
        "unthrottled client managed only {fast_rate:.0} B/s"
    );
}

#[test]
fn consumer_over_its_byte_rate_is_throttled_to_it() {
    let broker = quota_broker();
    let b = broker.bootstrap();
    create_topic(&b, "to-read", 1);
    // Small batches: a throttled fetch is answered empty, so one stored
    // batch larger than the quota window's bytes could never be delivered.
    let producer = base_config(&b)
        .set("linger.ms", "5")
        .set("batch.size", "16384")
        .create::<ThreadedProducer<rdkafka::producer::DefaultProducerContext>>()
        .expect("producer");
    let payload = vec![b'y'; RECORD_BYTES];
    for _ in 0..4000 {
        loop {
            match producer.send(BaseRecord::<(), _>::to("to-read").payload(&payload)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let quota = 200_000.0;
    cli_ok(
        &b,
        &[
            "quotas",
            "alter",
            "--client",
            "slow-consumer",
            "--add-config",
            "consumer_byte_rate=200000",
        ],
    );
    let consumer: BaseConsumer = base_config(&b)
        .set("client.id", "slow-consumer")
        // Modest fetches, as a tuned consumer would make: a throttled
        // fetch is answered empty, so large ones waste whole pauses.
        .set("fetch.max.bytes", "32768")
        .set("message.max.bytes", "32768")
        .set("max.partition.fetch.bytes", "32768")
        .set("group.id", "quota-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("to-read", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut received = Vec::new();
    let start = Instant::now();
    while start.elapsed() < WARM_UP + MEASURED {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.expect("consume");
            received.push((Instant::now(), m.payload().map_or(0, <[u8]>::len)));
        }
    }
    let rate = measured_rate(&received, start);
    eprintln!("consumer quota {quota} B/s, measured {rate:.0} B/s over {MEASURED:?}");
    assert!(
        (rate - quota).abs() / quota <= 0.2,
        "measured {rate:.0} B/s against a quota of {quota} B/s"
    );
}

#[test]
fn dump_log_prints_a_written_segment_and_spots_corruption() {
    let mut broker = start_broker();
    let b = broker.bootstrap();
    create_topic(&b, "dumped", 1);
    let producer = future_producer(&b, &[("linger.ms", "0")]);
    for i in 0..3 {
        let value = format!("value-{i}");
        let key = format!("key-{i}");
        block_on(
            producer.send(
                rdkafka::producer::FutureRecord::to("dumped")
                    .key(&key)
                    .payload(&value),
                Duration::from_secs(10),
            ),
        )
        .expect("deliver");
    }
    drop(producer);
    broker.terminate().expect("stop broker");
    let segment = broker
        .data_dir()
        .join("dumped-0")
        .join("00000000000000000000.log");
    let seg = segment.to_str().unwrap();
    let out = Command::new(gregor_bin())
        .args(["dump-log", "--files", seg, "--print-data-log"])
        .output()
        .expect("dump-log");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let batches: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("baseOffset:"))
        .collect();
    assert_eq!(batches.len(), 3, "{text}");
    for (i, line) in batches.iter().enumerate() {
        assert!(
            line.starts_with(&format!("baseOffset: {i} lastOffset: {i} count: 1 ")),
            "{line}"
        );
        assert!(line.ends_with("isvalid: true"), "{line}");
    }
    let records: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| offset:"))
        .collect();
    assert_eq!(records.len(), 3, "{text}");
    assert!(
        records[2].starts_with("| offset: 2 CreateTime: ")
            && records[2].ends_with("key: key-2 payload: value-2"),
        "{}",
        records[2]
    );

    let index = broker
        .data_dir()
        .join("dumped-0")
        .join("00000000000000000000.index");
    let out = Command::new(gregor_bin())
        .args(["dump-log", "--files", index.to_str().unwrap()])
        .output()
        .expect("dump-log");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Flip one byte of the last record's payload: that batch's CRC fails.
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x55;
    bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
    std::fs::write(&segment, &bytes).unwrap();
    let out = Command::new(gregor_bin())
        .args(["dump-log", "--files", seg])
        .output()
        .expect("dump-log");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let valid: Vec<bool> = text
        .lines()
        .filter(|l| l.starts_with("baseOffset:"))
        .map(|l| l.ends_with("isvalid: true"))
        .collect();
    assert_eq!(valid, vec![true, true, false], "{text}");
    assert!(
        text.contains("Found 5 invalid bytes at the end of 00000000000000000000.log"),
        "{text}"
    );
}
