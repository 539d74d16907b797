//! `gregor transactions list|describe|describe-producers|abort`: what
//! kafka-transactions.sh shows and does. `list` asks every broker
//! (ListTransactions); `describe` finds the transaction coordinator
//! (FindCoordinator, key type transaction) and asks it
//! (DescribeTransactions); `describe-producers` asks the partition leader
//! (DescribeProducers); `abort` ends a hanging transaction by writing an
//! ABORT marker to the partition leader (WriteTxnMarkers), for the producer
//! whose open transaction starts at `--start-offset`, or for an explicit
//! producer id, epoch and coordinator epoch. librdkafka has none of these
//! APIs, so the requests go through `wire.rs`.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::describe_producers_response::ProducerState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiVersionsRequest, BrokerId, DescribeProducersRequest, DescribeTransactionsRequest,
    FindCoordinatorRequest, ListTransactionsRequest, MetadataRequest, MetadataResponse, ProducerId,
    TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};

use super::config::ConnectionArgs;
use super::errors::CliError;
use super::groups::common::print_table;
use super::wire::{error_name, WireClient};

/// Flexible Metadata with topic names (Kafka 2.4+).
const METADATA_VERSION: i16 = 9;
/// The batched form with `coordinator_keys` (KIP-699, Kafka 3.0+).
const FIND_COORDINATOR_VERSION: i16 = 4;
/// v0 of the KIP-664 APIs is what every broker that has them serves.
const LIST_TRANSACTIONS_VERSION: i16 = 0;
const DESCRIBE_TRANSACTIONS_VERSION: i16 = 0;
const DESCRIBE_PRODUCERS_VERSION: i16 = 0;
/// The only version Kafka 4 serves.
const WRITE_TXN_MARKERS_VERSION: i16 = 1;
const COORDINATOR_KEY_TYPE_TRANSACTION: i8 = 1;
const ERROR_TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
const ERROR_COORDINATOR_NOT_AVAILABLE: i16 = 15;

#[derive(clap::Subcommand, Debug)]
pub enum TransactionsCommand {
    /// List the transactional ids every broker coordinates.
    List(ListArgs),
    /// Show one transactional id's state at its coordinator.
    Describe(DescribeArgs),
    /// Show the active producers of a partition and their open transactions.
    DescribeProducers(PartitionArgs),
    /// Abort a hanging transaction on one partition (writes an ABORT marker).
    Abort(AbortArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
}

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The transactional id to describe.
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: String,
}

#[derive(clap::Args, Debug)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// The partition.
    #[arg(long, value_name = "PARTITION")]
    pub partition: i32,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["start_offset", "producer_id"])))]
pub struct AbortArgs {
    #[command(flatten)]
    pub target: PartitionArgs,
    /// The offset at which the hanging transaction starts (its producer is
    /// found with DescribeProducers).
    #[arg(long = "start-offset", value_name = "OFFSET")]
    pub start_offset: Option<i64>,
    /// The producer id of the transaction (instead of --start-offset).
    #[arg(long = "producer-id", value_name = "ID", requires_all = ["producer_epoch", "coordinator_epoch"])]
    pub producer_id: Option<i64>,
    /// The producer epoch of the transaction.
    #[arg(
        long = "producer-epoch",
        value_name = "EPOCH",
        requires = "producer_id"
    )]
    pub producer_epoch: Option<i16>,
    /// The coordinator epoch of the transaction.
    #[arg(
        long = "coordinator-epoch",
        value_name = "EPOCH",
        requires = "producer_id"
    )]
    pub coordinator_epoch: Option<i32>,
}

pub fn run(cmd: TransactionsCommand, out: &mut impl Write) -> Result<(), CliError> {
    match cmd {
        TransactionsCommand::List(args) => list(args, out),
        TransactionsCommand::Describe(args) => describe(args, out),
        TransactionsCommand::DescribeProducers(args) => describe_producers(args, out),
        TransactionsCommand::Abort(args) => abort(args, out),
    }
}

fn list(args: ListArgs, out: &mut impl Write) -> Result<(), CliError> {
    let timeout = args.conn.request_timeout();
    let md = metadata(&args.conn, None)?;
    let mut rows = Vec::new();
    for broker in &md.brokers {
        let mut client = WireClient::connect(&address(&broker.host, broker.port), timeout)?;
        let resp = call_supported(
            &mut client,
            &ListTransactionsRequest::default(),
            LIST_TRANSACTIONS_VERSION,
            "ListTransactions",
        )?;
        if resp.error_code != 0 {
            return Err(broker_error(
                resp.error_code,
                None,
                &format!("listing the transactions of broker {}", broker.node_id.0),
            ));
        }
        for t in resp.transaction_states {
            rows.push(vec![
                t.transactional_id.to_string(),
                broker.node_id.0.to_string(),
                t.producer_id.0.to_string(),
                t.transaction_state.to_string(),
            ]);
        }
    }
    rows.sort();
    print_table(
        out,
        &[
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState",
        ],
        &rows,
    )
    .map_err(write_error)
}

fn describe(args: DescribeArgs, out: &mut impl Write) -> Result<(), CliError> {
    let id = &args.transactional_id;
    let timeout = args.conn.request_timeout();
    let (coordinator_id, coordinator) = find_coordinator(&args.conn, id)?;
    let mut client = WireClient::connect(&coordinator, timeout)?;
    let request = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.clone()))]);
    let resp = call_supported(
        &mut client,
        &request,
        DESCRIBE_TRANSACTIONS_VERSION,
        "DescribeTransactions",
    )?;
    let state = resp
        .transaction_states
        .into_iter()
        .find(|s| s.transactional_id.as_str() == id.as_str())
        .ok_or_else(|| {
            CliError::Client(format!("the coordinator's answer does not mention '{id}'"))
        })?;
    if state.error_code != 0 {
        return Err(broker_error(
            state.error_code,
            None,
            &format!("describing transactional id '{id}'"),
        ));
    }
    let start = state.transaction_start_time_ms;
    let (start_text, duration) = if start >= 0 {
        (start.to_string(), (now_ms() - start).max(0).to_string())
    } else {
        ("None".to_string(), "None".to_string())
    };
    let mut partitions: Vec<String> = state
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| format!("{}-{p}", t.topic.0))
        })
        .collect();
    partitions.sort();
    let row = vec![
        coordinator_id.to_string(),
        state.transactional_id.to_string(),
        state.producer_id.0.to_string(),
        state.producer_epoch.to_string(),
        state.transaction_state.to_string(),
        state.transaction_timeout_ms.to_string(),
        start_text,
        duration,
        partitions.join(","),
    ];
    print_table(
        out,
        &[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        &[row],
    )
    .map_err(write_error)
}

fn describe_producers(args: PartitionArgs, out: &mut impl Write) -> Result<(), CliError> {
    let producers = producers_of(&args)?;
    let none_if_negative = |v: i64| {
        if v < 0 {
            "None".to_string()
        } else {
            v.to_string()
        }
    };
    let rows: Vec<Vec<String>> = producers
        .iter()
        .map(|p| {
            vec![
                p.producer_id.0.to_string(),
                p.producer_epoch.to_string(),
                none_if_negative(i64::from(p.coordinator_epoch)),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                none_if_negative(p.current_txn_start_offset),
            ]
        })
        .collect();
    print_table(
        out,
        &[
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ],
        &rows,
    )
    .map_err(write_error)
}

fn abort(args: AbortArgs, out: &mut impl Write) -> Result<(), CliError> {
    let target = &args.target;
    let tp = format!("{}-{}", target.topic, target.partition);
    let (producer_id, producer_epoch, coordinator_epoch) = match (
        args.start_offset,
        args.producer_id,
    ) {
        (Some(start), _) => producer_at(target, start)?,
        (None, Some(id)) => (
            id,
            args.producer_epoch.unwrap_or_default(),
            args.coordinator_epoch.unwrap_or_default(),
        ),
        (None, None) => return Err(CliError::Usage(
            "give --start-offset, or --producer-id with --producer-epoch and --coordinator-epoch"
                .into(),
        )),
    };
    let (_, leader) = leader_of(&target.conn, &target.topic, target.partition)?;
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(producer_epoch)
        .with_transaction_result(false)
        .with_coordinator_epoch(coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(TopicName(StrBytes::from_string(target.topic.clone())))
            .with_partition_indexes(vec![target.partition])]);
    let request = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let mut client = WireClient::connect(&leader, target.conn.request_timeout())?;
    let resp = call_supported(
        &mut client,
        &request,
        WRITE_TXN_MARKERS_VERSION,
        "WriteTxnMarkers",
    )?;
    let results: Vec<_> = resp
        .markers
        .iter()
        .flat_map(|m| m.topics.iter())
        .flat_map(|t| t.partitions.iter())
        .collect();
    if results.is_empty() {
        return Err(CliError::Client(format!(
            "the leader of {tp} did not answer for the partition"
        )));
    }
    if let Some(failed) = results.iter().find(|r| r.error_code != 0) {
        return Err(broker_error(
            failed.error_code,
            None,
            &format!("aborting the transaction of producer {producer_id} on {tp}"),
        ));
    }
    writeln!(
        out,
        "Aborted the transaction of producer {producer_id} (epoch {producer_epoch}, coordinator epoch {coordinator_epoch}) on {tp}."
    )
    .map_err(write_error)
}

/// (producer id, producer epoch, coordinator epoch) of the producer whose
/// open transaction on the partition starts at `start`, as
/// kafka-transactions.sh finds it.
fn producer_at(target: &PartitionArgs, start: i64) -> Result<(i64, i16, i32), CliError> {
    let producers = producers_of(target)?;
    let Some(p) = producers
        .iter()
        .find(|p| p.current_txn_start_offset == start)
    else {
        let open: Vec<String> = producers
            .iter()
            .filter(|p| p.current_txn_start_offset >= 0)
            .map(|p| p.current_txn_start_offset.to_string())
            .collect();
        return Err(CliError::Usage(format!(
            "could not find any open transaction starting at offset {start} on partition {}-{} (open transactions start at: {})",
            target.topic,
            target.partition,
            if open.is_empty() { "none".to_string() } else { open.join(", ") }
        )));
    };
    let epoch = i16::try_from(p.producer_epoch).map_err(|_| {
        CliError::Client(format!(
            "producer epoch {} is out of range",
            p.producer_epoch
        ))
    })?;
    // As kafka-transactions.sh: a producer without a known coordinator
    // epoch (no marker written yet) is aborted with coordinator epoch 0.
    Ok((p.producer_id.0, epoch, p.coordinator_epoch.max(0)))
}

/// The partition's active producers, from its leader.
fn producers_of(args: &PartitionArgs) -> Result<Vec<ProducerState>, CliError> {
    let tp = format!("{}-{}", args.topic, args.partition);
    let (_, leader) = leader_of(&args.conn, &args.topic, args.partition)?;
    let mut client = WireClient::connect(&leader, args.conn.request_timeout())?;
    let request = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(TopicName(StrBytes::from_string(args.topic.clone())))
        .with_partition_indexes(vec![args.partition])]);
    let resp = call_supported(
        &mut client,
        &request,
        DESCRIBE_PRODUCERS_VERSION,
        "DescribeProducers",
    )?;
    let partition = resp
        .topics
        .into_iter()
        .filter(|t| t.name.0.as_str() == args.topic)
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == args.partition)
        .ok_or_else(|| {
            CliError::Client(format!(
                "the leader of {tp} did not answer for the partition"
            ))
        })?;
    if partition.error_code != 0 {
        return Err(broker_error(
            partition.error_code,
            partition.error_message.as_deref(),
            &format!("describing the producers of {tp}"),
        ));
    }
    Ok(partition.active_producers)
}

/// Sends `req` after checking with ApiVersions that the broker serves it at
/// `version`: a broker without the API closes the connection instead of
/// answering, which would otherwise surface as a bare I/O error.
fn call_supported<R: Request>(
    client: &mut WireClient,
    req: &R,
    version: i16,
    name: &str,
) -> Result<R::Response, CliError> {
    let versions = client.call(&ApiVersionsRequest::default(), 0)?;
    match versions.api_keys.iter().find(|k| k.api_key == R::KEY) {
        Some(k) if (k.min_version..=k.max_version).contains(&version) => client.call(req, version),
        Some(k) => Err(CliError::Client(format!(
            "the broker serves {name} versions {}..={}, not version {version}",
            k.min_version, k.max_version
        ))),
        None => Err(CliError::Client(format!(
            "the broker does not support {name} (API key {}): it has no transaction support",
            R::KEY
        ))),
    }
}

/// Metadata for `topic` (or only the brokers), from the bootstrap servers.
fn metadata(conn: &ConnectionArgs, topic: Option<&str>) -> Result<MetadataResponse, CliError> {
    let topics = topic.map(|t| {
        vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(t.to_string()))))]
    });
    // `None` asks for every topic; an empty list for none.
    let request = MetadataRequest::default()
        .with_topics(Some(topics.unwrap_or_default()))
        .with_allow_auto_topic_creation(false);
    let mut client = WireClient::connect(&conn.bootstrap_server, conn.request_timeout())?;
    client.call(&request, METADATA_VERSION)
}

/// The leader of a partition: (broker id, "host:port").
fn leader_of(
    conn: &ConnectionArgs,
    topic: &str,
    partition: i32,
) -> Result<(i32, String), CliError> {
    let md = metadata(conn, Some(topic))?;
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
        .ok_or_else(|| CliError::Client(format!("no metadata for topic '{topic}'")))?;
    if t.error_code != 0 {
        return Err(broker_error(
            t.error_code,
            None,
            &format!("looking up topic '{topic}'"),
        ));
    }
    let p = t
        .partitions
        .iter()
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "topic '{topic}' has no partition {partition} (it has {})",
                t.partitions.len()
            ))
        })?;
    if p.leader_id.0 < 0 {
        return Err(broker_error(
            p.error_code,
            None,
            &format!("partition {topic}-{partition} has no leader"),
        ));
    }
    Ok((p.leader_id.0, broker_address(&md, p.leader_id)?))
}

/// The transaction coordinator of `id`: (broker id, "host:port").
fn find_coordinator(conn: &ConnectionArgs, id: &str) -> Result<(i32, String), CliError> {
    let request = FindCoordinatorRequest::default()
        .with_key_type(COORDINATOR_KEY_TYPE_TRANSACTION)
        .with_coordinator_keys(vec![StrBytes::from_string(id.to_string())]);
    let mut client = WireClient::connect(&conn.bootstrap_server, conn.request_timeout())?;
    let resp = client.call(&request, FIND_COORDINATOR_VERSION)?;
    let c = resp
        .coordinators
        .into_iter()
        .find(|c| c.key.as_str() == id)
        .ok_or_else(|| CliError::Client(format!("FindCoordinator did not answer for '{id}'")))?;
    if c.error_code != 0 {
        return Err(broker_error(
            c.error_code,
            c.error_message.as_deref(),
            &format!("finding the transaction coordinator of '{id}'"),
        ));
    }
    Ok((c.node_id.0, address(&c.host, c.port)))
}

fn broker_address(md: &MetadataResponse, id: BrokerId) -> Result<String, CliError> {
    md.brokers
        .iter()
        .find(|b| b.node_id == id)
        .map(|b| address(&b.host, b.port))
        .ok_or_else(|| CliError::Client(format!("broker {} is not in the metadata", id.0)))
}

fn address(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// "TRANSACTIONAL_ID_NOT_FOUND while describing ...: <why>".
fn broker_error(code: i16, message: Option<&str>, context: &str) -> CliError {
    let why = match (message.filter(|m| !m.trim().is_empty()), code) {
        (Some(m), _) => m.to_string(),
        (None, ERROR_TRANSACTIONAL_ID_NOT_FOUND) => {
            "the coordinator has no state for this transactional id".into()
        }
        (None, ERROR_COORDINATOR_NOT_AVAILABLE) => {
            "the transaction coordinator is not available (is __transaction_state online?)".into()
        }
        (None, _) => "the broker gave no message".into(),
    };
    CliError::Client(format!("{} while {context}: {why}", error_name(code)))
}

fn write_error(e: std::io::Error) -> CliError {
    CliError::io("could not write to stdout", e)
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_kafka_code() {
        let e = broker_error(105, None, "describing transactional id 'x'");
        assert_eq!(
            e.to_string(),
            "TRANSACTIONAL_ID_NOT_FOUND while describing transactional id 'x': the coordinator has no state for this transactional id"
        );
        let e = broker_error(15, Some("loading"), "listing");
        assert_eq!(
            e.to_string(),
            "COORDINATOR_NOT_AVAILABLE while listing: loading"
        );
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(address("::1", 9092), "[::1]:9092");
        assert_eq!(address("localhost", 9092), "localhost:9092");
    }
}
