//! Creating librdkafka clients for the CLI and asking the cluster for
//! metadata, with errors that distinguish "no broker answered" from "the
//! broker said no".

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::ClientContext;

use super::config::{client_config, ClientRole, ConnectionArgs};
use super::errors::{error_code, is_unreachable, CliError, Subject};
use super::native;

/// Remembers the last connection-level error librdkafka reported (such as
/// "Connect to ipv4#127.0.0.1:9092 failed: Connection refused"), so a
/// timeout can say why. Written on librdkafka's threads, read on the
/// command's thread.
#[derive(Debug, Default)]
pub struct ErrorWatch {
    last: Mutex<Option<String>>,
    /// Whether the user asked for librdkafka's `debug` logs.
    debug: bool,
}

impl ErrorWatch {
    pub fn new(debug: bool) -> ErrorWatch {
        ErrorWatch {
            last: Mutex::new(None),
            debug,
        }
    }

    /// From the error callback, which only runs when someone polls the
    /// client's main queue (a producer does; a blocking metadata request
    /// does not, which is why `Connection` also drains the queue itself).
    pub fn record_error(&self, error: &KafkaError, reason: &str) {
        // "1/1 brokers are down" follows the connect error that explains it;
        // keep the explanation.
        let is_summary = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if !(is_summary && self.last().is_some()) {
            self.remember(reason);
        }
    }

    pub fn debug(&self) -> bool {
        self.debug
    }

    pub fn last(&self) -> Option<String> {
        self.last.lock().ok().and_then(|last| last.clone())
    }

    fn remember(&self, reason: &str) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(reason.to_string());
        }
    }

    /// From the log callback, which (like the error callback) runs when the
    /// client's queue is polled. Other logs are shown only with
    /// `-X debug=...`.
    pub fn log_message(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if fac == "FAIL" || fac == "ERROR" {
            self.remember(native::strip_thread_prefix(message));
        }
        if self.debug {
            eprintln!("rdkafka {level:?} {fac}: {message}");
        }
    }
}

/// A client context that exposes its `ErrorWatch`.
pub trait Watched: ClientContext {
    fn watch(&self) -> &ErrorWatch;
}

/// The context for admin and consumer clients.
#[derive(Debug, Default)]
pub struct CliContext {
    pub watch: ErrorWatch,
}

impl CliContext {
    pub fn new(debug: bool) -> CliContext {
        CliContext {
            watch: ErrorWatch::new(debug),
        }
    }
}

impl ClientContext for CliContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.log_message(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.record_error(&error, reason);
    }
}

impl ConsumerContext for CliContext {}

impl Watched for CliContext {
    fn watch(&self) -> &ErrorWatch {
        &self.watch
    }
}

/// Where the CLI connects and how long it waits; turns client errors into
/// `CliError`s that name the bootstrap server when nothing answered.
#[derive(Debug, Clone)]
pub struct Connection {
    pub bootstrap: String,
    pub timeout: Duration,
}

/// How often to re-ask for metadata while a new topic has no leader yet.
const METADATA_RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// One partition as metadata describes it, owned so it outlives `Metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub id: i32,
    /// -1 when the partition has no leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// One topic as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Sorted by partition id.
    pub partitions: Vec<PartitionInfo>,
}

impl Connection {
    pub fn new(conn: &ConnectionArgs) -> Connection {
        Connection {
            bootstrap: conn.bootstrap_server.clone(),
            timeout: conn.request_timeout(),
        }
    }

    /// Maps an error from the connectivity check (the first metadata
    /// request), blaming reachability when no broker answered. Later
    /// requests map their errors with `CliError::from_kafka`: by then a
    /// broker has answered, so a timeout is the broker's, not the network's.
    pub fn error<C: Watched>(
        &self,
        client: &Client<C>,
        err: &KafkaError,
        subject: Subject<'_>,
    ) -> CliError {
        match error_code(err) {
            Some(code) if is_unreachable(code) => self.unreachable(client),
            _ => CliError::from_kafka(err, subject),
        }
    }

    fn unreachable<C: Watched>(&self, client: &Client<C>) -> CliError {
        // Without a recorded failure (a broker that accepts connections but
        // never answers) the timeout says it all.
        let detail =
            native::pending_connection_error(client).or_else(|| client.context().watch().last());
        CliError::Unreachable {
            bootstrap: self.bootstrap.clone(),
            timeout: self.timeout,
            detail,
        }
    }

    /// Cluster metadata for one topic or all of them. Doubles as the
    /// connectivity check every command starts with.
    pub fn metadata<C: Watched>(
        &self,
        client: &Client<C>,
        topic: Option<&str>,
    ) -> Result<Metadata, CliError> {
        let subject = topic.map_or(Subject::Cluster, Subject::Topic);
        client
            .fetch_metadata(topic, self.timeout)
            .map_err(|e| self.error(client, &e, subject))
    }

    /// All topics in the cluster, sorted by name.
    pub fn all_topics<C: Watched>(&self, client: &Client<C>) -> Result<Vec<TopicInfo>, CliError> {
        let metadata = self.metadata(client, None)?;
        let mut topics: Vec<TopicInfo> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| topic_info(t.name(), t.partitions()))
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// One topic that must exist. Waits (within the request timeout) while
    /// the topic has no leader yet, as right after it was auto-created.
    pub fn existing_topic<C: Watched>(
        &self,
        client: &Client<C>,
        topic: &str,
    ) -> Result<TopicInfo, CliError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let metadata = self.metadata(client, Some(topic))?;
            let found = metadata.topics().iter().find(|t| t.name() == topic);
            let error = found.and_then(|t| t.error()).map(RDKafkaErrorCode::from);
            match (found, error) {
                (Some(t), None) if !t.partitions().is_empty() => {
                    return Ok(topic_info(t.name(), t.partitions()));
                }
                (None, _) => {
                    return Err(CliError::broker(
                        RDKafkaErrorCode::UnknownTopicOrPartition,
                        Subject::Topic(topic),
                    ));
                }
                (Some(_), Some(code)) if !is_transient(code) => {
                    return Err(CliError::broker(code, Subject::Topic(topic)));
                }
                (Some(_), error) => {
                    if Instant::now() >= deadline {
                        let code = error.unwrap_or(RDKafkaErrorCode::LeaderNotAvailable);
                        return Err(CliError::broker(code, Subject::Topic(topic)));
                    }
                    std::thread::sleep(METADATA_RETRY_INTERVAL);
                }
            }
        }
    }
}

/// An admin client with the connection it was made for; lives for one
/// command on the command's thread.
pub struct Admin {
    pub client: AdminClient<CliContext>,
    pub conn: Connection,
}

impl Admin {
    pub fn connect(args: &ConnectionArgs) -> Result<Admin, CliError> {
        let props = args.user_properties()?;
        let config = client_config(args, ClientRole::Admin, &props)?;
        let debug = config.get("debug").is_some();
        let client = config
            .create_with_context(CliContext::new(debug))
            .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?;
        Ok(Admin {
            client,
            conn: Connection::new(args),
        })
    }

    pub fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.conn.timeout))
            .operation_timeout(Some(self.conn.timeout))
    }

    /// Checks that a broker answers before an admin request, so a dead
    /// bootstrap server is reported as such rather than as a timed-out
    /// operation.
    pub fn check_reachable(&self) -> Result<(), CliError> {
        self.conn.metadata(self.client.inner(), None).map(|_| ())
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        // Nothing polls an admin client's log queue; show what it holds
        // when the user asked for librdkafka's debug logs.
        if self.client.inner().context().watch.debug() {
            native::print_pending_logs(self.client.inner());
        }
    }
}

/// Topic-level metadata errors that go away by themselves.
fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::LeaderNotAvailable | RDKafkaErrorCode::NotLeaderForPartition
    )
}

pub fn topic_info(name: &str, partitions: &[rdkafka::metadata::MetadataPartition]) -> TopicInfo {
    let mut partitions: Vec<PartitionInfo> = partitions
        .iter()
        .map(|p| PartitionInfo {
            id: p.id(),
            leader: p.leader(),
            replicas: p.replicas().to_vec(),
            isr: p.isr().to_vec(),
        })
        .collect();
    partitions.sort_by_key(|p| p.id);
    TopicInfo {
        name: name.to_string(),
        partitions,
    }
}

/// Kafka's internal topics, which `--exclude-internal` hides.
pub fn is_internal_topic(name: &str) -> bool {
    matches!(
        name,
        "__consumer_offsets" | "__transaction_state" | "__share_group_state"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_remembered_from_logs() {
        let watch = ErrorWatch::new(false);
        watch.log_message(RDKafkaLogLevel::Debug, "BROKER", "noise");
        assert_eq!(watch.last(), None);
        watch.log_message(
            RDKafkaLogLevel::Error,
            "FAIL",
            "[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 \
             failed: Connection refused (after 0ms in state CONNECT)",
        );
        let last = watch.last().unwrap();
        assert!(
            last.starts_with("127.0.0.1:1/bootstrap: Connect to"),
            "{last}"
        );
    }

    #[test]
    fn all_brokers_down_does_not_hide_the_cause() {
        let watch = ErrorWatch::new(false);
        watch.record_error(
            &KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            "Connect failed: Connection refused",
        );
        watch.record_error(
            &KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(
            watch.last().as_deref(),
            Some("Connect failed: Connection refused")
        );
    }
}
