//! The one place where the CLI turns client and broker errors into text a
//! person can act on: Kafka's error name (as `kafka-topics.sh` and friends
//! print it) followed by a sentence that says what went wrong and, where it
//! helps, what to do about it.
//!
//! Names are keyed on the wire error code that `RDKafkaErrorCode` carries, so
//! they are Kafka's names (`NOT_LEADER_OR_FOLLOWER`), not librdkafka's older
//! spellings (`NOT_LEADER_FOR_PARTITION`).

use std::fmt;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What an error is about, so the sentence can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// Nothing in particular (a cluster-wide request).
    Cluster,
    Topic(&'a str),
    Partition(&'a str, i32),
    Group(&'a str),
}

/// Every way a CLI command can fail; each prints as one `Error: ...` line and
/// exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The broker (or librdkafka on its behalf) answered with an error code.
    #[error("{}", broker_text(*code, message))]
    Broker {
        code: RDKafkaErrorCode,
        message: String,
    },
    /// No broker answered within the request timeout.
    #[error(
        "could not reach the bootstrap server {bootstrap} within {}{}",
        format_duration(*timeout),
        detail.as_deref().map(|d| format!(" (last error: {d})")).unwrap_or_default()
    )]
    Unreachable {
        bootstrap: String,
        timeout: Duration,
        detail: Option<String>,
    },
    /// Some records produced were not acknowledged.
    #[error("{failed} of {total} records were not delivered; the first failure: {first}")]
    Delivery {
        failed: u64,
        total: u64,
        first: String,
    },
    /// The command line contradicts itself or names something impossible.
    #[error("{0}")]
    Usage(String),
    /// A line of input (stdin, a properties file) could not be parsed.
    #[error("{0}")]
    Input(String),
    /// Reading or writing a local file or stream failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// librdkafka refused the client configuration or failed locally.
    #[error("{0}")]
    Client(String),
}

impl CliError {
    /// A broker error code with the sentence that explains it for `subject`.
    pub fn broker(code: RDKafkaErrorCode, subject: Subject<'_>) -> CliError {
        CliError::Broker {
            code,
            message: sentence(code, subject),
        }
    }

    /// Like `broker`, followed by the broker's own error message when it
    /// adds something (Kafka's brokers explain many refusals in it).
    pub fn broker_with_message(
        code: RDKafkaErrorCode,
        subject: Subject<'_>,
        broker_message: &str,
    ) -> CliError {
        let mut message = sentence(code, subject);
        let extra = broker_message.trim();
        if !extra.is_empty() && extra != message && !is_default_message(code, extra) {
            message.push_str(" Broker message: ");
            message.push_str(extra);
        }
        CliError::Broker { code, message }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    /// Converts a client error that is not about reachability (those are
    /// handled by `client::Connection`, which knows the bootstrap server).
    pub fn from_kafka(err: &KafkaError, subject: Subject<'_>) -> CliError {
        match err {
            KafkaError::ClientConfig(_, description, key, value) => CliError::Client(format!(
                "invalid client property {key}={value}: {description}"
            )),
            KafkaError::ClientCreation(reason) => {
                CliError::Client(format!("could not create the Kafka client: {reason}"))
            }
            _ => match error_code(err) {
                Some(code) => CliError::broker(code, subject),
                None => CliError::Client(err.to_string()),
            },
        }
    }
}

/// Whether `message` is just Kafka's stock description of `code` (what a
/// broker sends when it has nothing specific to say), which would only
/// repeat the sentence less clearly.
fn is_default_message(code: RDKafkaErrorCode, message: &str) -> bool {
    let default = match code as i32 {
        -1 => "The server experienced an unexpected error when processing the request.",
        3 => "This server does not host this topic-partition.",
        17 => "The request attempted to perform an operation on an invalid topic.",
        29 => "Topic authorization failed.",
        36 => "Topic with this name already exists.",
        37 => "Number of partitions is below 1.",
        38 => "Replication factor is below 1 or larger than the number of available brokers.",
        40 => "Configuration is invalid.",
        41 => "This is not the correct controller for this cluster.",
        44 => "Request parameters do not satisfy the configured policy.",
        73 => "Topic deletion is disabled.",
        _ => return false,
    };
    message == default
}

/// The error code inside a client error. Unlike
/// `KafkaError::rdkafka_error_code`, this includes failed admin operations.
pub fn error_code(err: &KafkaError) -> Option<RDKafkaErrorCode> {
    match err {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

fn broker_text(code: RDKafkaErrorCode, message: &str) -> String {
    match kafka_error_name(code) {
        Some(name) => format!("{name}: {message}"),
        None => message.to_string(),
    }
}

/// Whether an error code means "no broker answered", as opposed to a broker
/// that answered with a refusal.
pub fn is_unreachable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::MessageTimedOut
    )
}

/// "10 seconds", "1 second", "2.5 seconds", "250 ms".
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms == 1000 {
        "1 second".to_string()
    } else if d.subsec_millis() == 0 {
        format!("{} seconds", d.as_secs())
    } else {
        format!("{} seconds", ms as f64 / 1000.0)
    }
}

/// Kafka's name for an error (`Errors.java`), or `None` for errors that only
/// exist inside the client (librdkafka's local codes), which are explained by
/// their sentence alone. A missing topic or partition detected locally gets
/// the broker's name, since to a person it is the same condition.
pub fn kafka_error_name(code: RDKafkaErrorCode) -> Option<&'static str> {
    if matches!(
        code,
        RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownPartition
    ) {
        return Some("UNKNOWN_TOPIC_OR_PARTITION");
    }
    let name = match code as i32 {
        -1 => "UNKNOWN_SERVER_ERROR",
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        4 => "INVALID_FETCH_SIZE",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        8 => "BROKER_NOT_AVAILABLE",
        9 => "REPLICA_NOT_AVAILABLE",
        10 => "MESSAGE_TOO_LARGE",
        11 => "STALE_CONTROLLER_EPOCH",
        12 => "OFFSET_METADATA_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21 => "INVALID_REQUIRED_ACKS",
        22 => "ILLEGAL_GENERATION",
        23 => "INCONSISTENT_GROUP_PROTOCOL",
        24 => "INVALID_GROUP_ID",
        25 => "UNKNOWN_MEMBER_ID",
        26 => "INVALID_SESSION_TIMEOUT",
        27 => "REBALANCE_IN_PROGRESS",
        28 => "INVALID_COMMIT_OFFSET_SIZE",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        32 => "INVALID_TIMESTAMP",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        35 => "UNSUPPORTED_VERSION",
        36 => "TOPIC_ALREADY_EXISTS",
        37 => "INVALID_PARTITIONS",
        38 => "INVALID_REPLICATION_FACTOR",
        39 => "INVALID_REPLICA_ASSIGNMENT",
        40 => "INVALID_CONFIG",
        41 => "NOT_CONTROLLER",
        42 => "INVALID_REQUEST",
        43 => "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        44 => "POLICY_VIOLATION",
        45 => "OUT_OF_ORDER_SEQUENCE_NUMBER",
        46 => "DUPLICATE_SEQUENCE_NUMBER",
        47 => "INVALID_PRODUCER_EPOCH",
        48 => "INVALID_TXN_STATE",
        49 => "INVALID_PRODUCER_ID_MAPPING",
        50 => "INVALID_TRANSACTION_TIMEOUT",
        51 => "CONCURRENT_TRANSACTIONS",
        52 => "TRANSACTION_COORDINATOR_FENCED",
        53 => "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        54 => "SECURITY_DISABLED",
        55 => "OPERATION_NOT_ATTEMPTED",
        56 => "KAFKA_STORAGE_ERROR",
        57 => "LOG_DIR_NOT_FOUND",
        58 => "SASL_AUTHENTICATION_FAILED",
        59 => "UNKNOWN_PRODUCER_ID",
        60 => "REASSIGNMENT_IN_PROGRESS",
        61 => "DELEGATION_TOKEN_AUTH_DISABLED",
        62 => "DELEGATION_TOKEN_NOT_FOUND",
        63 => "DELEGATION_TOKEN_OWNER_MISMATCH",
        64 => "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
        65 => "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
        66 => "DELEGATION_TOKEN_EXPIRED",
        67 => "INVALID_PRINCIPAL_TYPE",
        68 => "NON_EMPTY_GROUP",
        69 => "GROUP_ID_NOT_FOUND",
        70 => "FETCH_SESSION_ID_NOT_FOUND",
        71 => "INVALID_FETCH_SESSION_EPOCH",
        72 => "LISTENER_NOT_FOUND",
        73 => "TOPIC_DELETION_DISABLED",
        74 => "FENCED_LEADER_EPOCH",
        75 => "UNKNOWN_LEADER_EPOCH",
        76 => "UNSUPPORTED_COMPRESSION_TYPE",
        77 => "STALE_BROKER_EPOCH",
        78 => "OFFSET_NOT_AVAILABLE",
        79 => "MEMBER_ID_REQUIRED",
        80 => "PREFERRED_LEADER_NOT_AVAILABLE",
        81 => "GROUP_MAX_SIZE_REACHED",
        82 => "FENCED_INSTANCE_ID",
        83 => "ELIGIBLE_LEADERS_NOT_AVAILABLE",
        84 => "ELECTION_NOT_NEEDED",
        85 => "NO_REASSIGNMENT_IN_PROGRESS",
        86 => "GROUP_SUBSCRIBED_TO_TOPIC",
        87 => "INVALID_RECORD",
        88 => "UNSTABLE_OFFSET_COMMIT",
        89 => "THROTTLING_QUOTA_EXCEEDED",
        90 => "PRODUCER_FENCED",
        91 => "RESOURCE_NOT_FOUND",
        92 => "DUPLICATE_RESOURCE",
        93 => "UNACCEPTABLE_CREDENTIAL",
        94 => "INCONSISTENT_VOTER_SET",
        95 => "INVALID_UPDATE_VERSION",
        96 => "FEATURE_UPDATE_FAILED",
        97 => "PRINCIPAL_DESERIALIZATION_FAILURE",
        100 => "UNKNOWN_TOPIC_ID",
        110 => "FENCED_MEMBER_EPOCH",
        111 => "UNRELEASED_INSTANCE_ID",
        112 => "UNSUPPORTED_ASSIGNOR",
        113 => "STALE_MEMBER_EPOCH",
        117 => "UNKNOWN_SUBSCRIPTION_ID",
        118 => "TELEMETRY_TOO_LARGE",
        129 => "REBOOTSTRAP_REQUIRED",
        _ => return None,
    };
    Some(name)
}

/// Renders the subject for the middle of a sentence: "topic 'orders'".
struct Named<'a>(Subject<'a>);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Subject::Cluster => write!(f, "the cluster"),
            Subject::Topic(t) => write!(f, "topic '{t}'"),
            Subject::Partition(t, p) => write!(f, "partition {p} of topic '{t}'"),
            Subject::Group(g) => write!(f, "group '{g}'"),
        }
    }
}

/// One sentence, ending in a period, that says what `code` means for
/// `subject`. Codes without a hand-written sentence fall back to
/// librdkafka's description.
pub fn sentence(code: RDKafkaErrorCode, subject: Subject<'_>) -> String {
    use RDKafkaErrorCode as E;
    let it = Named(subject);
    let topic = match subject {
        Subject::Topic(t) | Subject::Partition(t, _) => Some(t),
        _ => None,
    };
    match code {
        E::TopicAlreadyExists => match topic {
            Some(t) => format!("Topic '{t}' already exists."),
            None => "The topic already exists.".to_string(),
        },
        E::UnknownTopicOrPartition | E::UnknownTopic | E::UnknownPartition => match subject {
            Subject::Topic(t) => format!("Topic '{t}' does not exist."),
            Subject::Partition(t, p) => format!("Partition {p} of topic '{t}' does not exist."),
            _ => "The topic or partition does not exist.".to_string(),
        },
        E::InvalidTopic => match topic {
            Some(t) => format!(
                "'{t}' is not a valid topic name: use 1 to 249 characters from \
                 [a-zA-Z0-9._-], other than '.' and '..'."
            ),
            None => "The topic name is not valid.".to_string(),
        },
        E::InvalidPartitions => format!(
            "The partition count requested for {it} is not valid: a topic needs at least \
             one partition, and partitions can only be added, never removed."
        ),
        E::InvalidReplicationFactor => format!(
            "The replication factor requested for {it} is not valid: it must be at least 1 \
             and at most the number of live brokers."
        ),
        E::InvalidReplicaAssignment => format!(
            "The replica assignment for {it} is not valid: every partition needs the same \
             number of distinct, live broker ids."
        ),
        E::InvalidConfig => format!("A configuration value given for {it} is not valid."),
        E::PolicyViolation => format!(
            "The broker's topic policy rejected the request for {it} \
             (create.topic.policy.class.name / alter.config.policy.class.name)."
        ),
        E::TopicDeletionDisabled => {
            "Topic deletion is disabled on the broker (delete.topic.enable=false).".to_string()
        }
        E::TopicAuthorizationFailed => format!("Not authorized to access {it}."),
        E::GroupAuthorizationFailed => format!("Not authorized to access {it}."),
        E::ClusterAuthorizationFailed => {
            "Not authorized to perform this cluster-level operation.".to_string()
        }
        E::UnsupportedVersion => {
            "The broker does not support this request (or this version of it).".to_string()
        }
        E::NotController => {
            "The broker that received the request is not the active controller; try again."
                .to_string()
        }
        E::ReassignmentInProgress => format!(
            "A partition reassignment is in progress for {it}; try again once it completes."
        ),
        E::ThrottlingQuotaExceeded => {
            "The request exceeded the controller mutation quota; try again later.".to_string()
        }
        E::LeaderNotAvailable => format!(
            "There is no leader for {it} right now (for example during an election); try again."
        ),
        E::NotLeaderForPartition => format!(
            "The broker is no longer the leader or a follower for {it}; the client's \
             metadata was stale."
        ),
        E::RequestTimedOut => "The broker did not finish the request in time.".to_string(),
        E::NotEnoughReplicas | E::NotEnoughReplicasAfterAppend => format!(
            "Fewer replicas of {it} are in sync than min.insync.replicas requires, so the \
             write was not acknowledged."
        ),
        E::MessageSizeTooLarge => format!(
            "The record is larger than {it} accepts (max.message.bytes on the topic, \
             message.max.bytes on the client)."
        ),
        E::InvalidRequiredAcks => "acks must be one of all, -1, 0 or 1.".to_string(),
        E::InvalidTimestamp => format!(
            "The record timestamp is outside the range {it} accepts \
             (message.timestamp.before.max.ms / message.timestamp.after.max.ms)."
        ),
        E::InvalidRecord => format!("The broker rejected a record for {it} as invalid."),
        E::InvalidMessage => "A record batch failed the broker's CRC or format checks.".to_string(),
        E::UnsupportedCompressionType => {
            format!("The broker does not accept this compression type for {it}.")
        }
        E::OffsetOutOfRange => {
            format!("The requested offset is outside the range of offsets held by {it}.")
        }
        E::KafkaStorageError => {
            format!("The broker could not read or write the log of {it} on disk.")
        }
        E::GroupIdNotFound => format!("{} does not exist.", capitalize(&it.to_string())),
        E::NonEmptyGroup => format!("{} still has active members.", capitalize(&it.to_string())),
        E::GroupSubscribedToTopic => {
            format!("An active member of the group is subscribed to {it}, so its offsets are kept.")
        }
        E::InvalidGroupId => "The consumer group id is not valid.".to_string(),
        E::SaslAuthenticationFailed | E::Authentication => {
            "Authentication failed: check security.protocol, sasl.mechanism and the \
             credentials."
                .to_string()
        }
        E::UnsupportedSASLMechanism => {
            "The broker does not support the configured sasl.mechanism.".to_string()
        }
        E::MessageTimedOut => {
            "The record was not acknowledged within message.timeout.ms; the broker may be \
             down or the partition may have no leader."
                .to_string()
        }
        E::Unknown => {
            "The broker failed with an unexpected error; its log may say more.".to_string()
        }
        E::Resolve => "The bootstrap server's host name could not be resolved.".to_string(),
        E::OperationTimedOut | E::TimedOutQueue => {
            "The broker did not answer within the request timeout.".to_string()
        }
        E::BrokerTransportFailure | E::AllBrokersDown => {
            "The connection to the broker failed.".to_string()
        }
        other => fallback_sentence(other),
    }
}

/// librdkafka's description ("Broker: Invalid request") without its prefix,
/// as a sentence.
fn fallback_sentence(code: RDKafkaErrorCode) -> String {
    let text = code.to_string();
    let text = text
        .strip_prefix("Broker: ")
        .or_else(|| text.strip_prefix("Local: "))
        .unwrap_or(&text);
    let mut s = capitalize(text);
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_already_exists_reads_like_kafka() {
        let err = CliError::broker(
            RDKafkaErrorCode::TopicAlreadyExists,
            Subject::Topic("orders"),
        );
        assert_eq!(
            err.to_string(),
            "TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."
        );
    }

    #[test]
    fn unknown_partition_names_the_partition() {
        let err = CliError::broker(
            RDKafkaErrorCode::UnknownTopicOrPartition,
            Subject::Partition("orders", 7),
        );
        assert_eq!(
            err.to_string(),
            "UNKNOWN_TOPIC_OR_PARTITION: Partition 7 of topic 'orders' does not exist."
        );
    }

    #[test]
    fn local_unknown_topic_uses_the_broker_name() {
        let err = CliError::broker(RDKafkaErrorCode::UnknownTopic, Subject::Topic("t"));
        assert_eq!(
            err.to_string(),
            "UNKNOWN_TOPIC_OR_PARTITION: Topic 't' does not exist."
        );
    }

    #[test]
    fn kafka_names_not_librdkafka_names() {
        assert_eq!(
            kafka_error_name(RDKafkaErrorCode::NotLeaderForPartition),
            Some("NOT_LEADER_OR_FOLLOWER")
        );
        assert_eq!(
            kafka_error_name(RDKafkaErrorCode::InvalidPartitions),
            Some("INVALID_PARTITIONS")
        );
        assert_eq!(
            kafka_error_name(RDKafkaErrorCode::PolicyViolation),
            Some("POLICY_VIOLATION")
        );
        assert_eq!(kafka_error_name(RDKafkaErrorCode::MessageTimedOut), None);
    }

    #[test]
    fn policy_violation_and_invalid_partitions_name_the_topic() {
        let err = CliError::broker(RDKafkaErrorCode::PolicyViolation, Subject::Topic("t"));
        assert!(err.to_string().starts_with("POLICY_VIOLATION: "));
        assert!(err.to_string().contains("topic 't'"));
        let err = CliError::broker(RDKafkaErrorCode::InvalidPartitions, Subject::Topic("t"));
        assert!(err.to_string().starts_with("INVALID_PARTITIONS: "));
    }

    #[test]
    fn unreachable_says_where_and_how_long() {
        let err = CliError::Unreachable {
            bootstrap: "localhost:9092".into(),
            timeout: Duration::from_secs(10),
            detail: Some("Connection refused".into()),
        };
        assert_eq!(
            err.to_string(),
            "could not reach the bootstrap server localhost:9092 within 10 seconds \
             (last error: Connection refused)"
        );
    }

    #[test]
    fn fallback_uses_librdkafka_description_as_a_sentence() {
        let s = sentence(RDKafkaErrorCode::InvalidRequest, Subject::Cluster);
        assert!(s.ends_with('.'), "{s}");
        assert!(!s.starts_with("Broker: "), "{s}");
        let err = CliError::broker(RDKafkaErrorCode::InvalidRequest, Subject::Cluster);
        assert!(err.to_string().starts_with("INVALID_REQUEST: "));
    }

    #[test]
    fn failed_admin_operations_keep_their_code() {
        let err = KafkaError::AdminOp(RDKafkaErrorCode::PolicyViolation);
        assert_eq!(error_code(&err), Some(RDKafkaErrorCode::PolicyViolation));
        let err = CliError::from_kafka(&err, Subject::Topic("t"));
        assert!(err.to_string().starts_with("POLICY_VIOLATION: "), "{err}");
    }

    #[test]
    fn broker_messages_are_added_when_they_say_more() {
        let err = CliError::broker_with_message(
            RDKafkaErrorCode::InvalidReplicationFactor,
            Subject::Topic("t"),
            "Replication factor: 3 larger than available brokers: 1.",
        );
        assert!(
            err.to_string().ends_with(
                " Broker message: Replication factor: 3 larger than available brokers: 1."
            ),
            "{err}"
        );
        let err = CliError::broker_with_message(
            RDKafkaErrorCode::TopicAlreadyExists,
            Subject::Topic("orders"),
            "Topic 'orders' already exists.",
        );
        assert_eq!(
            err.to_string(),
            "TOPIC_ALREADY_EXISTS: Topic 'orders' already exists."
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5 seconds");
        assert_eq!(format_duration(Duration::from_secs(30)), "30 seconds");
    }

    #[test]
    fn unreachable_codes() {
        assert!(is_unreachable(RDKafkaErrorCode::BrokerTransportFailure));
        assert!(is_unreachable(RDKafkaErrorCode::OperationTimedOut));
        assert!(!is_unreachable(RDKafkaErrorCode::TopicAlreadyExists));
    }
}
