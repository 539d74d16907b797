//! `gregor transactions` end to end, as an operator uses kafka-transactions.sh:
//! an open transaction of librdkafka's transactional producer shows up in
//! `list`, `describe` and `describe-producers`; an unknown transactional id
//! is refused with Kafka's error name; and `abort --start-offset` ends a
//! hanging transaction (its producer never comes back) so that the last
//! stable offset reaches the high watermark and read_committed consumers
//! move on; so does `abort` with an explicit producer id, producer epoch and
//! coordinator epoch.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gregor_testkit::BrokerOptions;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const CLI_TIMEOUT_S: u32 = 60;
const TOPIC: &str = "txn-cli";

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

/// The table's data rows, split into columns.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The column named `name` of `row`, by the header of `table`.
fn column<'a>(table: &str, row: &'a [String], name: &str) -> &'a str {
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    &row[i]
}

fn txn_broker() -> gregor_testkit::BrokerProcess {
    start_broker_with(
        BrokerOptions::default()
            .with_override("transaction.state.log.replication.factor", "1")
            .with_override("transaction.state.log.min.isr", "1")
            .with_override("transaction.state.log.num.partitions", "4"),
    )
}

fn txn_producer(
    bootstrap: &str,
    id: &str,
    timeout_ms: &str,
) -> ThreadedProducer<DefaultProducerContext> {
    let p: ThreadedProducer<DefaultProducerContext> = base_config(bootstrap)
        .set("transactional.id", id)
        .set("transaction.timeout.ms", timeout_ms)
        .set("linger.ms", "0")
        .create()
        .expect("transactional producer");
    p.init_transactions(CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("init_transactions {id}: {e}"));
    p.begin_transaction().expect("begin_transaction");
    p
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, values: &[&str]) {
    for v in values {
        p.send(BaseRecord::to(TOPIC).partition(0).key("k").payload(*v))
            .unwrap_or_else(|(e, _)| panic!("produce {v}: {e}"));
    }
    p.flush(CLIENT_TIMEOUT).expect("flush");
}

/// The end offset of partition 0 a consumer with `isolation` sees: the last
/// stable offset for read_committed, the high watermark for
/// read_uncommitted (librdkafka's ListOffsets carries the consumer's
/// isolation level, and read_committed is its default).
fn end_offset(bootstrap: &str, isolation: &str) -> i64 {
    let c = assigned_consumer_with(bootstrap, TOPIC, 0, 0, &[("isolation.level", isolation)]);
    c.fetch_watermarks(TOPIC, 0, CLIENT_TIMEOUT)
        .unwrap_or_else(|e| panic!("ListOffsets {isolation}: {e}"))
        .1
}

/// (last stable offset, high watermark) of partition 0.
fn lso_and_hw(bootstrap: &str) -> (i64, i64) {
    (
        end_offset(bootstrap, "read_committed"),
        end_offset(bootstrap, "read_uncommitted"),
    )
}

#[test]
fn transactions_list_describe_and_abort_a_hanging_transaction() {
    let broker = txn_broker();
    let b = broker.bootstrap();
    create_topic(&b, TOPIC, 1);

    // An open transaction: records at offsets 0..=2.
    let open = txn_producer(&b, "cli-open", "60000");
    send(&open, &["o0", "o1", "o2"]);

    let list = cli_ok(&b, &["transactions", "list"]);
    let row = rows(&list)
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some("cli-open"))
        .unwrap_or_else(|| panic!("cli-open not listed:\n{list}"));
    assert_eq!(column(&list, &row, "TransactionState"), "Ongoing", "{list}");
    column(&list, &row, "Coordinator")
        .parse::<i32>()
        .unwrap_or_else(|_| panic!("coordinator is not a broker id:\n{list}"));
    let producer_id = column(&list, &row, "ProducerId").to_string();

    let described = cli_ok(
        &b,
        &["transactions", "describe", "--transactional-id", "cli-open"],
    );
    let d = rows(&described).pop().expect("a described row");
    assert_eq!(column(&described, &d, "TransactionalId"), "cli-open");
    assert_eq!(column(&described, &d, "ProducerId"), producer_id);
    assert_eq!(column(&described, &d, "ProducerEpoch"), "0");
    assert_eq!(column(&described, &d, "TransactionState"), "Ongoing");
    assert_eq!(column(&described, &d, "TransactionTimeoutMs"), "60000");
    assert_ne!(
        column(&described, &d, "CurrentTransactionStartTimeMs"),
        "None"
    );
    assert_eq!(column(&described, &d, "TopicPartitions"), "txn-cli-0");

    let producers = cli_ok(
        &b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
    );
    let p = rows(&producers)
        .into_iter()
        .find(|r| r.first() == Some(&producer_id))
        .unwrap_or_else(|| panic!("producer {producer_id} not shown:\n{producers}"));
    assert_eq!(
        column(&producers, &p, "CurrentTransactionStartOffset"),
        "0",
        "{producers}"
    );
    assert_eq!(column(&producers, &p, "LastSequence"), "2", "{producers}");

    let unknown = cli(
        &b,
        &[
            "transactions",
            "describe",
            "--transactional-id",
            "no-such-id",
        ],
    );
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success(),
        "describe of an unknown id succeeded"
    );
    assert!(
        stderr.contains("TRANSACTIONAL_ID_NOT_FOUND"),
        "stderr: {stderr}"
    );

    open.commit_transaction(CLIENT_TIMEOUT)
        .expect("commit_transaction");
    let (_, committed_end) = lso_and_hw(&b);
    assert_eq!(committed_end, 4, "3 records and a commit marker");

    // A transaction whose producer never returns: a timeout far beyond the
    // test, so only the operator's abort can end it.
    let hanging = txn_producer(&b, "cli-hanging", "900000");
    send(&hanging, &["h0", "h1"]);
    drop_without_ending(hanging);
    let (lso, hw) = lso_and_hw(&b);
    assert_eq!(
        (lso, hw),
        (4, 6),
        "the hanging transaction holds back the LSO"
    );

    let wrong = cli(
        &b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--start-offset",
            "5",
        ],
    );
    assert!(!wrong.status.success(), "abort at a wrong offset succeeded");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("could not find any open transaction"),
        "stderr: {}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    let aborted = cli_ok(
        &b,
        &[
            "transactions",
            "abort",
            "--topic",
            TOPIC,
            "--partition",
            "0",
            "--start-offset",
            "4",
        ],
    );
    assert!(aborted.starts_with("Aborted the transaction"), "{aborted}");

    assert_eq!(
        wait_lso_reaches_hw(&b),
        (7, 7),
        "the abort marker ends the transaction"
    );

    let reader: BaseConsumer =
        assigned_consumer_with(&b, TOPIC, 0, 0, &[("isolation.level", "read_committed")]);
    let got: Vec<String> = consume_n(&reader, 3, CLIENT_TIMEOUT)
        .iter()
        .map(|m| String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(got, ["o0", "o1", "o2"]);
    let after = cli_ok(
        &b,
        &[
            "transactions",
            "describe-producers",
            "--topic",
            TOPIC,
            "--partition",
            "0",
        ],
    );
    for r in rows(&after) {
        assert_eq!(
            column(&after, &r, "CurrentTransactionStartOffset"),
            "None",
            "{after}"
        );
    }
}

#[test]
fn transactions_abort_with_an_explicit_producer() {
    let broker = txn_broker();
    let b = broker.bootstrap();
    create_topic(&b, TOPIC, 1);
    let hanging = txn_producer(&b, "cli-explicit", "900000");
    send(&hanging, &["e0"]);
    drop_without_ending(hanging);
    assert_eq!(lso_and_hw(&b), (0, 1));

    let partition = ["--topic", TOPIC, "--partition", "0"];
    let producers = cli_ok(
        &b,
        &[&["transactions", "describe-producers"], &partition[..]].concat(),
    );
    let p = rows(&producers)
        .into_iter()
        .find(|r| column(&producers, r, "CurrentTransactionStartOffset") == "0")
        .unwrap_or_else(|| panic!("no open transaction at offset 0:\n{producers}"));
    let producer_id = column(&producers, &p, "ProducerId").to_string();
    let producer_epoch = column(&producers, &p, "ProducerEpoch").to_string();

    // The explicit form needs all three of id, epoch and coordinator epoch.
    let incomplete = cli(
        &b,
        &[
            &["transactions", "abort"],
            &partition[..],
            &["--producer-id", &producer_id],
        ]
        .concat(),
    );
    assert!(
        !incomplete.status.success(),
        "abort without epochs succeeded"
    );

    let aborted = cli_ok(
        &b,
        &[
            &["transactions", "abort"],
            &partition[..],
            &[
                "--producer-id",
                &producer_id,
                "--producer-epoch",
                &producer_epoch,
                "--coordinator-epoch",
                "0",
            ],
        ]
        .concat(),
    );
    assert!(aborted.starts_with("Aborted the transaction"), "{aborted}");
    assert_eq!(wait_lso_reaches_hw(&b), (2, 2), "record and abort marker");
    let reader = assigned_consumer_with(&b, TOPIC, 0, 0, &[("isolation.level", "read_committed")]);
    assert!(
        consume_extra(&reader, Duration::from_secs(2)).is_empty(),
        "an aborted record was delivered to a read_committed consumer"
    );
}

/// Polls until the last stable offset reaches the high watermark (or the
/// client timeout passes) and returns both.
fn wait_lso_reaches_hw(bootstrap: &str) -> (i64, i64) {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    loop {
        let (lso, hw) = lso_and_hw(bootstrap);
        if lso == hw || Instant::now() > deadline {
            return (lso, hw);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Leaves the producer's transaction open, as a producer process that was
/// killed would: librdkafka's handle is leaked, so no EndTxn is ever sent
/// (destroying it could let librdkafka end the transaction).
fn drop_without_ending(p: ThreadedProducer<DefaultProducerContext>) {
    std::mem::forget(p);
}
