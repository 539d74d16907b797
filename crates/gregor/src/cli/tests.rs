//! The commands end to end, from parsed flags to printed output, against
//! librdkafka's built-in mock cluster. The mock speaks Metadata, Produce,
//! Fetch and ListOffsets but no admin APIs, so topic creation and
//! deletion are left to tests against a real broker.

use clap::Parser;
use rdkafka::mocking::MockCluster;

use super::errors::CliError;
use super::{consume, offsets, produce, topics, ClientCommand};

#[derive(clap::Parser)]
struct TestCli {
    #[command(subcommand)]
    cmd: ClientCommand,
}

fn parse(args: &[&str]) -> ClientCommand {
    TestCli::parse_from(std::iter::once("gregor").chain(args.iter().copied())).cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn produce(args: &[&str], input: &str) -> Result<(), CliError> {
    let ClientCommand::Produce(args) = parse(args) else {
        panic!("not a produce command")
    };
    produce::run(args, input.as_bytes())
}

fn consume(args: &[&str]) -> (Result<consume::Ended, CliError>, String) {
    let ClientCommand::Consume(args) = parse(args) else {
        panic!("not a consume command")
    };
    let mut out = Vec::new();
    let result = runtime().block_on(consume::run(args, &mut out));
    (result, String::from_utf8(out).expect("utf-8 output"))
}

fn offsets(args: &[&str]) -> (Result<(), CliError>, String) {
    let ClientCommand::Offsets(args) = parse(args) else {
        panic!("not an offsets command")
    };
    let mut out = Vec::new();
    let result = offsets::run(args, &mut out);
    (result, String::from_utf8(out).expect("utf-8 output"))
}

fn topics(args: &[&str]) -> (Result<(), CliError>, String) {
    let ClientCommand::Topics(cmd) = parse(args) else {
        panic!("not a topics command")
    };
    let mut out = Vec::new();
    let result = runtime().block_on(topics::run(cmd, &mut out));
    (result, String::from_utf8(out).expect("utf-8 output"))
}

fn cluster_with_topic(
    topic: &str,
    partitions: i32,
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic(topic, partitions, 1)
        .expect("mock topic");
    let bootstrap = cluster.bootstrap_servers();
    (cluster, bootstrap)
}

#[test]
fn produced_lines_come_back_formatted_like_kafka() {
    let (_cluster, bs) = cluster_with_topic("orders", 2);
    let input = "h1:v1,h2:NULL\tk1:hello\n\t:empty key\nNULL\tk3:NULL\n";
    produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "orders",
            "--partition",
            "0",
            "--parse-headers",
            "--key-separator",
            ":",
            "--null-marker",
            "NULL",
        ],
        input,
    )
    .expect("produce");
    let (result, out) = consume(&[
        "consume",
        "--bootstrap-server",
        &bs,
        "--topic",
        "orders",
        "--from-beginning",
        "--max-messages",
        "3",
        "--timeout-ms",
        "10000",
        "--print-partition",
        "--print-offset",
        "--print-headers",
        "--print-key",
    ]);
    assert_eq!(result.expect("consume"), consume::Ended::Done);
    assert_eq!(
        out,
        "Partition:0\tOffset:0\th1:v1,h2:null\tk1\thello\n\
         Partition:0\tOffset:1\tNO_HEADERS\t\tempty key\n\
         Partition:0\tOffset:2\tNO_HEADERS\tk3\tnull\n"
    );
}

#[test]
fn consume_from_an_offset_of_one_partition_and_stop_when_idle() {
    let (_cluster, bs) = cluster_with_topic("events", 1);
    produce(
        &["produce", "--bootstrap-server", &bs, "--topic", "events"],
        "a\nb\nc\n",
    )
    .expect("produce");
    let (result, out) = consume(&[
        "consume",
        "--bootstrap-server",
        &bs,
        "--topic",
        "events",
        "--partition",
        "0",
        "--offset",
        "1",
        "--timeout-ms",
        "1500",
        "-X",
        "print.offset=true",
    ]);
    assert_eq!(result.expect("consume"), consume::Ended::Done);
    assert_eq!(out, "Offset:1\tb\nOffset:2\tc\n");
}

#[test]
fn offsets_print_topic_partition_offset() {
    let (_cluster, bs) = cluster_with_topic("orders", 2);
    produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "orders",
            "--partition",
            "1",
        ],
        "x\ny\n",
    )
    .expect("produce");
    let (result, out) = offsets(&["offsets", "--bootstrap-server", &bs, "--topic", "orders"]);
    result.expect("latest offsets");
    assert_eq!(out, "orders:0:0\norders:1:2\n");
    let (result, out) = offsets(&[
        "offsets",
        "--bootstrap-server",
        &bs,
        "--topic",
        "orders",
        "--time",
        "-2",
        "--partitions",
        "1",
    ]);
    result.expect("earliest offsets");
    assert_eq!(out, "orders:1:0\n");
}

#[test]
fn topics_list_and_describe_read_metadata() {
    let (_cluster, bs) = cluster_with_topic("orders", 2);
    let (result, out) = topics(&["topics", "list", "--bootstrap-server", &bs]);
    result.expect("list");
    assert_eq!(out, "orders\n");
    // The mock has no DescribeConfigs, so configs time out (a warning) and
    // the description goes on without them.
    let (result, out) = topics(&[
        "topics",
        "describe",
        "--bootstrap-server",
        &bs,
        "--topic",
        "orders",
        "--request-timeout-ms",
        "1000",
    ]);
    result.expect("describe");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("Topic: orders\t"), "{out}");
    assert!(
        lines[0].ends_with("\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: "),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1"
    );
}

#[test]
fn a_missing_topic_is_reported_by_name() {
    let (_cluster, bs) = cluster_with_topic("orders", 1);
    let (result, _) = consume(&["consume", "--bootstrap-server", &bs, "--topic", "nope"]);
    assert_eq!(
        result.expect_err("missing topic").to_string(),
        "UNKNOWN_TOPIC_OR_PARTITION: Topic 'nope' does not exist."
    );
    let (result, _) = topics(&[
        "topics",
        "describe",
        "--bootstrap-server",
        &bs,
        "--topic",
        "nope",
    ]);
    assert_eq!(
        result.expect_err("missing topic").to_string(),
        "UNKNOWN_TOPIC_OR_PARTITION: Topic 'nope' does not exist."
    );
    let (result, out) = topics(&[
        "topics",
        "describe",
        "--bootstrap-server",
        &bs,
        "--topic",
        "nope",
        "--if-exists",
    ]);
    result.expect("--if-exists");
    assert_eq!(out, "");
}

#[test]
fn a_missing_partition_is_reported_before_reading_input() {
    let (_cluster, bs) = cluster_with_topic("orders", 1);
    let err = produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "orders",
            "--partition",
            "3",
        ],
        "a\n",
    )
    .expect_err("partition 3 does not exist");
    assert_eq!(
        err.to_string(),
        "UNKNOWN_TOPIC_OR_PARTITION: Partition 3 of topic 'orders' does not exist."
    );
}

#[test]
fn a_bad_line_stops_produce_with_its_line_number() {
    let (_cluster, bs) = cluster_with_topic("orders", 1);
    let err = produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "orders",
            "--key-separator",
            ":",
        ],
        "k:v\nno separator here\n",
    )
    .expect_err("line 2 has no key");
    assert_eq!(
        err.to_string(),
        "No key separator found on line number 2: 'no separator here'"
    );
}

/// A port nothing listens on: connecting is refused at once.
fn dead_bootstrap() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr.to_string()
}

#[test]
fn an_unreachable_broker_fails_within_the_timeout() {
    let bs = dead_bootstrap();
    let started = std::time::Instant::now();
    let (result, _) = topics(&[
        "topics",
        "list",
        "--bootstrap-server",
        &bs,
        "--request-timeout-ms",
        "1000",
    ]);
    let message = result.expect_err("nothing listens there").to_string();
    assert!(
        message.starts_with(&format!(
            "could not reach the bootstrap server {bs} within 1 second"
        )),
        "{message}"
    );
    let err = produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "t",
            "--request-timeout-ms",
            "1000",
        ],
        "a\n",
    )
    .expect_err("nothing listens there");
    assert!(matches!(err, CliError::Unreachable { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn consuming_without_a_group_needs_no_group_apis() {
    use rdkafka::types::RDKafkaApiKey;
    let (cluster, bs) = cluster_with_topic("plain", 1);
    for api in [
        RDKafkaApiKey::FindCoordinator,
        RDKafkaApiKey::JoinGroup,
        RDKafkaApiKey::OffsetFetch,
        RDKafkaApiKey::OffsetCommit,
    ] {
        cluster
            .apiversion(api, None, None)
            .expect("disable group API");
    }
    produce(
        &["produce", "--bootstrap-server", &bs, "--topic", "plain"],
        "one\ntwo\n",
    )
    .expect("produce");
    let (result, out) = consume(&[
        "consume",
        "--bootstrap-server",
        &bs,
        "--topic",
        "plain",
        "--from-beginning",
        "--max-messages",
        "2",
        "--timeout-ms",
        "10000",
    ]);
    assert_eq!(result.expect("consume"), consume::Ended::Done);
    assert_eq!(out, "one\ntwo\n");
}

#[test]
fn a_refused_record_fails_produce_with_the_broker_error() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let (cluster, bs) = cluster_with_topic("locked", 1);
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 4],
    );
    let err = produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "locked",
            "--linger-ms",
            "0",
        ],
        "secret\n",
    )
    .expect_err("the broker refuses the write");
    let message = err.to_string();
    assert!(
        message.starts_with("1 of 1 records were not delivered; the first failure: could not deliver a record to topic 'locked' (key: null, value: 6 bytes): TOPIC_AUTHORIZATION_FAILED: "),
        "{message}"
    );
}

#[test]
fn a_group_member_reads_from_the_beginning() {
    let (_cluster, bs) = cluster_with_topic("grouped", 2);
    produce(
        &[
            "produce",
            "--bootstrap-server",
            &bs,
            "--topic",
            "grouped",
            "--partition",
            "1",
        ],
        "g1\ng2\n",
    )
    .expect("produce");
    let (result, out) = consume(&[
        "consume",
        "--bootstrap-server",
        &bs,
        "--topic",
        "grouped",
        "--group",
        "readers",
        "--from-beginning",
        "--max-messages",
        "2",
        "--timeout-ms",
        "20000",
        "--print-partition",
    ]);
    assert_eq!(result.expect("consume"), consume::Ended::Done);
    assert_eq!(out, "Partition:1\tg1\nPartition:1\tg2\n");
}
