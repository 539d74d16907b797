//! `gregor consume`: kafka-console-consumer. Without `--group` it assigns
//! the topic's partitions directly (no group coordinator involved); with
//! `--group` it subscribes and commits like any group member. Records are
//! printed by `formatter`; the count goes to stderr at the end.

use std::io::{ErrorKind, Write};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientConfig, Message, Offset, Timestamp, TopicPartitionList};
use tokio::time::Instant;

use super::client::{CliContext, Connection, TopicInfo};
use super::config::{client_config, ClientRole, ConnectionArgs, UserProperties};
use super::errors::{CliError, Subject};
use super::formatter::{RecordFormat, RecordTimestamp, RecordView, FORMATTER_KEYS};

#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to read.
    #[arg(long)]
    pub topic: String,
    /// Start at the earliest offset (with --group: only when the group has
    /// no committed offset).
    #[arg(long = "from-beginning")]
    pub from_beginning: bool,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Where to start: an offset, `earliest` or `latest` (default: latest).
    #[arg(long, value_parser = parse_start_offset, conflicts_with = "from_beginning")]
    pub offset: Option<StartOffset>,
    /// Exit after printing this many records.
    #[arg(long = "max-messages", value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit when no record arrives for this many milliseconds.
    #[arg(long = "timeout-ms", value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Consume as a member of this consumer group (subscribe and commit).
    #[arg(long, conflicts_with_all = ["partition", "offset"])]
    pub group: Option<String>,
    /// Whether to read records of transactions that are still open or aborted.
    #[arg(long = "isolation-level", value_parser = ["read_committed", "read_uncommitted"])]
    pub isolation_level: Option<String>,
    /// Print each record's key (print.key=true).
    #[arg(long = "print-key")]
    pub print_key: bool,
    /// Print each record's headers (print.headers=true).
    #[arg(long = "print-headers")]
    pub print_headers: bool,
    /// Print each record's timestamp (print.timestamp=true).
    #[arg(long = "print-timestamp")]
    pub print_timestamp: bool,
    /// Print each record's offset (print.offset=true).
    #[arg(long = "print-offset")]
    pub print_offset: bool,
    /// Print each record's partition (print.partition=true).
    #[arg(long = "print-partition")]
    pub print_partition: bool,
}

/// Where an assigned partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    Earliest,
    Latest,
    At(i64),
}

/// Parses `--offset` as kafka-console-consumer does.
pub fn parse_start_offset(s: &str) -> Result<StartOffset, String> {
    match s {
        "earliest" => Ok(StartOffset::Earliest),
        "latest" => Ok(StartOffset::Latest),
        _ => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(StartOffset::At(n)),
            _ => Err(format!(
                "'{s}' is not an offset: use a non-negative number, 'earliest' or 'latest'"
            )),
        },
    }
}

/// How a consume run ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// --max-messages reached, --timeout-ms elapsed, or output closed.
    Done,
    /// Interrupted by Ctrl-C.
    Interrupted,
}

/// Consumer errors printed before further ones are suppressed.
const REPORTED_WARNINGS_MAX: u32 = 10;

impl ConsumeArgs {
    fn start(&self) -> Offset {
        match (self.from_beginning, self.offset) {
            (true, _) | (_, Some(StartOffset::Earliest)) => Offset::Beginning,
            (_, Some(StartOffset::At(n))) => Offset::Offset(n),
            _ => Offset::End,
        }
    }

    fn record_format(&self, formatter_props: &[(String, String)]) -> RecordFormat {
        let mut format = RecordFormat::default();
        for (key, value) in formatter_props {
            format.apply(key, value);
        }
        let flags = [
            ("print.key", self.print_key),
            ("print.headers", self.print_headers),
            ("print.timestamp", self.print_timestamp),
            ("print.offset", self.print_offset),
            ("print.partition", self.print_partition),
        ];
        for (key, on) in flags {
            if on {
                format.apply(key, "true");
            }
        }
        format
    }
}

pub async fn run(args: ConsumeArgs, out: &mut dyn Write) -> Result<Ended, CliError> {
    let mut props = args.conn.user_properties()?;
    let formatter_props = props.take_tool_properties(|k| FORMATTER_KEYS.contains(&k));
    let format = args.record_format(&formatter_props);
    let config = consumer_config(&args, &props)?;
    let debug = config.get("debug").is_some();
    let consumer: StreamConsumer<CliContext> =
        config
            .create_with_context(CliContext::new(debug))
            .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?;
    let conn = Connection::new(&args.conn);
    let topic = conn.existing_topic(consumer.client(), &args.topic)?;
    start_reading(&consumer, &args, &topic)?;
    let mut session = Session {
        topic: &args.topic,
        group: args.group.as_deref(),
        assignment_check: args.group.as_ref().map(|_| conn.timeout),
        format,
        out,
        processed: 0,
        warnings: 0,
    };
    let idle_timeout = args.timeout_ms.map(Duration::from_millis);
    let ended = session
        .consume(&consumer, args.max_messages, idle_timeout)
        .await;
    eprintln!("Processed a total of {} messages", session.processed);
    ended
}

fn consumer_config(args: &ConsumeArgs, props: &UserProperties) -> Result<ClientConfig, CliError> {
    let user_set = |key: &str| props.file.iter().chain(&props.flags).any(|(k, _)| k == key);
    let reset_unset = !user_set("auto.offset.reset");
    let mut config = client_config(&args.conn, ClientRole::Consumer, props)?;
    if let Some(level) = &args.isolation_level {
        config.set("isolation.level", level);
    }
    match &args.group {
        Some(group) => {
            config.set("group.id", group);
            if reset_unset {
                let reset = if args.from_beginning {
                    "earliest"
                } else {
                    "latest"
                };
                config.set("auto.offset.reset", reset);
            }
        }
        None => {
            // librdkafka's assign() needs a group id even though an assigned
            // consumer never joins the group; like kafka-console-consumer,
            // use a throwaway one. Nothing is committed to it, and no
            // JoinGroup is sent, so brokers without group support work.
            config.set("group.id", throwaway_group_id());
            config.set("enable.auto.commit", "false");
            config.set("enable.auto.offset.store", "false");
            if reset_unset {
                // An explicit --offset past either end falls back the way
                // kafka-console-consumer does: to the end.
                config.set("auto.offset.reset", "latest");
            }
        }
    }
    Ok(config)
}

/// Subscribes (with --group) or assigns the requested partitions at the
/// requested start.
fn start_reading(
    consumer: &StreamConsumer<CliContext>,
    args: &ConsumeArgs,
    topic: &TopicInfo,
) -> Result<(), CliError> {
    if args.group.is_some() {
        return consumer
            .subscribe(&[&args.topic])
            .map_err(|e| CliError::from_kafka(&e, Subject::Topic(&args.topic)));
    }
    let ids: Vec<i32> = match args.partition {
        Some(p) if topic.partitions.iter().any(|info| info.id == p) => vec![p],
        Some(p) => {
            return Err(CliError::broker(
                RDKafkaErrorCode::UnknownTopicOrPartition,
                Subject::Partition(&args.topic, p),
            ))
        }
        None => topic.partitions.iter().map(|info| info.id).collect(),
    };
    let mut assignment = TopicPartitionList::with_capacity(ids.len());
    for id in ids {
        assignment
            .add_partition_offset(&args.topic, id, args.start())
            .map_err(|e| CliError::from_kafka(&e, Subject::Partition(&args.topic, id)))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| CliError::from_kafka(&e, Subject::Topic(&args.topic)))
}

/// One run's output and counters.
struct Session<'a> {
    topic: &'a str,
    group: Option<&'a str>,
    /// In group mode: when to check that partitions were assigned.
    assignment_check: Option<Duration>,
    format: RecordFormat,
    out: &'a mut dyn Write,
    processed: u64,
    warnings: u32,
}

/// What to do after one receive.
enum Step {
    Continue,
    Stop(Result<Ended, CliError>),
}

impl Session<'_> {
    async fn consume(
        &mut self,
        consumer: &StreamConsumer<CliContext>,
        max_messages: Option<u64>,
        idle_timeout: Option<Duration>,
    ) -> Result<Ended, CliError> {
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut assignment_check = self.assignment_check.map(|after| Instant::now() + after);
        let mut idle_since = Instant::now();
        loop {
            if max_messages.is_some_and(|max| self.processed >= max) {
                return Ok(Ended::Done);
            }
            let check = async {
                match assignment_check {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let idle_deadline = idle_timeout.map(|t| idle_since + t);
            let received = tokio::select! {
                _ = &mut ctrl_c => return Ok(Ended::Interrupted),
                () = check => {
                    assignment_check = None;
                    self.warn_if_unassigned(consumer);
                    continue;
                }
                received = receive(consumer, idle_deadline) => received,
            };
            let step = match received {
                None => Step::Stop(Ok(Ended::Done)),
                Some(Ok(message)) => {
                    idle_since = Instant::now();
                    self.print(&message)
                }
                Some(Err(err)) => self.consumer_error(&err),
            };
            if let Step::Stop(result) = step {
                return result;
            }
        }
    }

    /// A group member that still has no partitions after the request timeout
    /// is most likely talking to a broker without group support, where
    /// librdkafka waits silently for a coordinator forever.
    fn warn_if_unassigned(&self, consumer: &StreamConsumer<CliContext>) {
        let unassigned = consumer.assignment().map_or(true, |a| a.count() == 0);
        if let (true, Some(group)) = (unassigned, self.group) {
            eprintln!(
                "WARNING: group '{group}' has no partitions assigned yet; if the broker does not \
                 support consumer groups (FindCoordinator, JoinGroup), consume without --group \
                 to read partitions directly. Still waiting."
            );
        }
    }

    fn print(&mut self, message: &BorrowedMessage<'_>) -> Step {
        let headers = message
            .headers()
            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default();
        let view = RecordView {
            timestamp: match message.timestamp() {
                Timestamp::CreateTime(ts) => RecordTimestamp::CreateTime(ts),
                Timestamp::LogAppendTime(ts) => RecordTimestamp::LogAppendTime(ts),
                Timestamp::NotAvailable => RecordTimestamp::None,
            },
            partition: message.partition(),
            offset: message.offset(),
            headers,
            key: message.key(),
            value: message.payload(),
        };
        let written = self
            .format
            .write(self.out, &view)
            .and_then(|()| self.out.flush());
        match written {
            Ok(()) => {
                self.processed += 1;
                Step::Continue
            }
            // The reader went away (`| head`): a normal way to stop.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => Step::Stop(Ok(Ended::Done)),
            Err(e) => Step::Stop(Err(CliError::io("could not write to standard output", e))),
        }
    }

    /// Stops on errors that will not go away; reports the rest and goes on,
    /// since librdkafka retries them itself.
    fn consumer_error(&mut self, err: &KafkaError) -> Step {
        let (code, fatal) = match err {
            KafkaError::MessageConsumptionFatal(code) => (Some(*code), true),
            other => {
                let code = other.rdkafka_error_code();
                (code, code.is_some_and(is_fatal_consume_error))
            }
        };
        let subject = match (code, self.group) {
            (Some(RDKafkaErrorCode::GroupAuthorizationFailed), Some(group)) => {
                Subject::Group(group)
            }
            _ => Subject::Topic(self.topic),
        };
        let cause = match code {
            Some(code) => CliError::broker(code, subject),
            None => CliError::from_kafka(err, subject),
        };
        if fatal {
            return Step::Stop(Err(cause));
        }
        self.warnings += 1;
        if self.warnings <= REPORTED_WARNINGS_MAX {
            eprintln!("WARNING: {cause}");
        }
        Step::Continue
    }
}

/// The next message or consumer error, or `None` once `idle_deadline`
/// passes. Dropping this future loses nothing: a message is taken off the
/// queue only when it is returned.
async fn receive<'c>(
    consumer: &'c StreamConsumer<CliContext>,
    idle_deadline: Option<Instant>,
) -> Option<Result<BorrowedMessage<'c>, KafkaError>> {
    match idle_deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .ok(),
        None => Some(consumer.recv().await),
    }
}

/// `gregor-console-consumer-<pid>-<nanos>`: unique enough that two
/// consumers never share it.
fn throwaway_group_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("gregor-console-consumer-{}-{nanos}", std::process::id())
}

/// Consumer errors that retrying cannot fix.
fn is_fatal_consume_error(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as E;
    matches!(
        code,
        E::UnknownTopicOrPartition
            | E::UnknownTopic
            | E::UnknownPartition
            | E::TopicAuthorizationFailed
            | E::GroupAuthorizationFailed
            | E::OffsetOutOfRange
            | E::SaslAuthenticationFailed
            | E::Authentication
            | E::InvalidGroupId
            | E::Fatal
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ConsumeArgs,
    }

    fn args(argv: &[&str]) -> Result<ConsumeArgs, clap::Error> {
        let mut full = vec!["consume"];
        full.extend_from_slice(argv);
        Wrapper::try_parse_from(full).map(|w| w.args)
    }

    #[test]
    fn offsets_parse_like_kafka() {
        assert_eq!(parse_start_offset("earliest"), Ok(StartOffset::Earliest));
        assert_eq!(parse_start_offset("latest"), Ok(StartOffset::Latest));
        assert_eq!(parse_start_offset("42"), Ok(StartOffset::At(42)));
        assert!(parse_start_offset("-1").is_err());
        assert!(parse_start_offset("soon").is_err());
    }

    #[test]
    fn start_position() {
        assert_eq!(args(&["--topic", "t"]).unwrap().start(), Offset::End);
        assert_eq!(
            args(&["--topic", "t", "--from-beginning"]).unwrap().start(),
            Offset::Beginning
        );
        assert_eq!(
            args(&["--topic", "t", "--partition", "0", "--offset", "7"])
                .unwrap()
                .start(),
            Offset::Offset(7)
        );
    }

    #[test]
    fn contradictory_flags_are_rejected() {
        assert!(args(&["--topic", "t", "--from-beginning", "--offset", "3"]).is_err());
        assert!(args(&["--topic", "t", "--group", "g", "--partition", "0"]).is_err());
    }

    #[test]
    fn print_flags_and_properties_combine() {
        let a = args(&["--topic", "t", "--print-key", "--print-offset"]).unwrap();
        let props = vec![("key.separator".to_string(), ":".to_string())];
        let f = a.record_format(&props);
        assert!(f.print_key && f.print_offset && f.print_value);
        assert!(!f.print_headers);
        assert_eq!(f.key_separator, b":");
    }
}
