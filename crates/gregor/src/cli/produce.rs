//! `gregor produce`: kafka-console-producer. Reads stdin, one record per
//! line (see `line_reader` for the line format), waits until every record
//! is acknowledged, and prints nothing on success. Any record that cannot
//! be delivered is reported on stderr and makes the command exit 1.

use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Message};
use tokio::sync::oneshot;

use super::client::{Connection, ErrorWatch, Watched};
use super::config::{client_config, ClientRole, ConnectionArgs, UserProperties};
use super::errors::{CliError, Subject};
use super::line_reader::{LineFormat, LineRecord, READER_KEYS};

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to write to.
    #[arg(long)]
    pub topic: String,
    /// Write every record to this partition (default: by key, as Kafka's
    /// partitioner does; keyless records are spread).
    #[arg(long)]
    pub partition: Option<i32>,
    /// Split each line into key and value at the first SEP
    /// (parse.key=true, key.separator=SEP).
    #[arg(long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Read headers before the key and value (parse.headers=true).
    #[arg(long = "parse-headers")]
    pub parse_headers: bool,
    /// Separates the headers from the rest of the line (default: tab).
    #[arg(long = "headers-delimiter", value_name = "SEP")]
    pub headers_delimiter: Option<String>,
    /// Separates one header from the next (default: ,).
    #[arg(long = "headers-separator", value_name = "SEP")]
    pub headers_separator: Option<String>,
    /// Separates a header's key from its value (default: :).
    #[arg(long = "headers-key-separator", value_name = "SEP")]
    pub headers_key_separator: Option<String>,
    /// A key, value or header value equal to this is sent as null.
    #[arg(long = "null-marker", value_name = "TEXT")]
    pub null_marker: Option<String>,
    /// Acknowledgement required from the broker: all (= -1), 1 or 0.
    #[arg(long, alias = "request-required-acks", allow_hyphen_values = true,
          value_parser = ["all", "-1", "1", "0"])]
    pub acks: Option<String>,
    /// Compress record batches.
    #[arg(long = "compression-type", alias = "compression-codec",
          value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression_type: Option<String>,
    /// How long to wait to fill a batch before sending it, in milliseconds.
    #[arg(long = "linger-ms", value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// The largest batch to send per partition, in bytes.
    #[arg(long = "batch-size", value_name = "BYTES")]
    pub batch_size: Option<u64>,
    /// Wait for each record's acknowledgement before reading the next line.
    #[arg(long)]
    pub sync: bool,
}

/// Longest input line accepted; a line is one record, and no broker accepts
/// records anywhere near this size by default.
const LINE_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Delivery failures printed one by one; beyond this only the count is
/// reported, so a dead partition does not flood the terminal.
const REPORTED_FAILURES_MAX: u64 = 10;
/// How long to let librdkafka drain its queue when the queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(100);
/// Kafka's delivery.timeout.ms, which the CLI sets as message.timeout.ms
/// unless the user overrides it.
const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 120_000;
/// Extra time to wait at the end beyond the per-record delivery timeout.
const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// Counts deliveries; lives on the producer, called on the thread that
/// polls it (this command's thread).
struct ProduceContext {
    watch: ErrorWatch,
    topic: String,
    report: Mutex<DeliveryReport>,
}

#[derive(Debug, Default)]
struct DeliveryReport {
    delivered: u64,
    failed: u64,
    first_failure: Option<String>,
}

impl ProduceContext {
    fn fail(&self, what: String) {
        let Ok(mut report) = self.report.lock() else {
            return;
        };
        report.failed += 1;
        if report.failed <= REPORTED_FAILURES_MAX {
            eprintln!("Error: {what}");
        } else if report.failed == REPORTED_FAILURES_MAX + 1 {
            eprintln!("Error: more records failed; only the count is reported from here on");
        }
        report.first_failure.get_or_insert(what);
    }
}

impl ClientContext for ProduceContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.log_message(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.record_error(&error, reason);
    }
}

impl ProducerContext for ProduceContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                if let Ok(mut report) = self.report.lock() {
                    report.delivered += 1;
                }
            }
            Err((err, message)) => {
                let subject = match message.partition() {
                    p if p >= 0 => Subject::Partition(&self.topic, p),
                    _ => Subject::Topic(&self.topic),
                };
                let cause = CliError::from_kafka(err, subject);
                self.fail(format!(
                    "could not deliver a record to topic '{}' (key: {}, value: {}): {cause}",
                    self.topic,
                    describe_size(message.key()),
                    describe_size(message.payload()),
                ));
            }
        }
    }
}

impl Watched for ProduceContext {
    fn watch(&self) -> &ErrorWatch {
        &self.watch
    }
}

/// "null" or "5 bytes", as Kafka's error callback describes records.
fn describe_size(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".to_string(),
        Some(b) => format!("{} bytes", b.len()),
    }
}

/// The line format from `--property` reader keys, then the simple flags.
fn line_format(
    args: &ProduceArgs,
    reader_props: &[(String, String)],
) -> Result<LineFormat, CliError> {
    let mut format = LineFormat::default();
    for (key, value) in reader_props {
        format.apply(key, value);
    }
    if let Some(sep) = &args.key_separator {
        format.apply("parse.key", "true");
        format.apply("key.separator", sep);
    }
    let header_flags = [
        ("headers.delimiter", &args.headers_delimiter),
        ("headers.separator", &args.headers_separator),
        ("headers.key.separator", &args.headers_key_separator),
    ];
    if args.parse_headers || header_flags.iter().any(|(_, v)| v.is_some()) {
        format.apply("parse.headers", "true");
    }
    for (key, value) in header_flags {
        if let Some(value) = value {
            format.apply(key, value);
        }
    }
    if let Some(marker) = &args.null_marker {
        format.apply("null.marker", marker);
    }
    format.validate().map_err(CliError::Usage)?;
    Ok(format)
}

pub fn run(args: ProduceArgs, input: impl BufRead) -> Result<(), CliError> {
    let mut props = args.conn.user_properties()?;
    let reader_props = props.take_tool_properties(|k| READER_KEYS.contains(&k));
    let format = line_format(&args, &reader_props)?;
    let (config, message_timeout) = producer_config(&args, &props)?;
    let context = ProduceContext {
        watch: ErrorWatch::new(config.get("debug").is_some()),
        topic: args.topic.clone(),
        report: Mutex::new(DeliveryReport::default()),
    };
    let producer: Arc<BaseProducer<ProduceContext>> = Arc::new(
        config
            .create_with_context(context)
            .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?,
    );
    let conn = Connection::new(&args.conn);
    let topic = conn.existing_topic(producer.client(), &args.topic)?;
    if let Some(p) = args.partition {
        if !topic.partitions.iter().any(|info| info.id == p) {
            return Err(CliError::broker(
                RDKafkaErrorCode::UnknownTopicOrPartition,
                Subject::Partition(&args.topic, p),
            ));
        }
    }
    let flush_timeout = message_timeout + FLUSH_GRACE;
    let _interrupt_watch = flush_on_interrupt(Arc::clone(&producer));
    let sender = Sender {
        producer: &producer,
        topic: &args.topic,
        partition: args.partition,
        sync: args.sync.then_some(flush_timeout),
    };
    let read_result = read_and_send(&sender, &format, input);
    // Records already handed to librdkafka are waited for even when the
    // input was bad, so the report covers everything that was sent.
    let delivered = finish(&producer, flush_timeout);
    read_result.and(delivered)
}

/// The producer's configuration and its per-record delivery timeout.
/// Explicit flags win over properties, as in kafka-console-producer.
fn producer_config(
    args: &ProduceArgs,
    props: &UserProperties,
) -> Result<(ClientConfig, Duration), CliError> {
    let mut config = client_config(&args.conn, ClientRole::Producer, props)?;
    let flags = [
        ("acks", args.acks.clone()),
        ("compression.type", args.compression_type.clone()),
        ("linger.ms", args.linger_ms.map(|v| v.to_string())),
        ("batch.size", args.batch_size.map(|v| v.to_string())),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            config.set(key, value);
        }
    }
    let message_timeout_ms = config
        .get("message.timeout.ms")
        .or_else(|| config.get("delivery.timeout.ms"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_MESSAGE_TIMEOUT_MS);
    Ok((config, Duration::from_millis(message_timeout_ms)))
}

/// Waits for every record sent to be acknowledged or to fail, and reports.
fn finish(
    producer: &BaseProducer<ProduceContext>,
    flush_timeout: Duration,
) -> Result<(), CliError> {
    let flushed = producer.flush(flush_timeout);
    if let Err(e) = flushed {
        let pending = producer.in_flight_count();
        return Err(CliError::Client(format!(
            "{pending} records were still unacknowledged after {} ({e})",
            super::errors::format_duration(flush_timeout)
        )));
    }
    let report = producer
        .context()
        .report
        .lock()
        .map(|r| (r.delivered, r.failed, r.first_failure.clone()))
        .unwrap_or_default();
    match report {
        (_, 0, _) => Ok(()),
        (delivered, failed, first) => Err(CliError::Delivery {
            failed,
            total: delivered + failed,
            first: first.unwrap_or_default(),
        }),
    }
}

/// How long Ctrl-C waits for records already sent before exiting; short,
/// because a second Ctrl-C cannot cut it off.
const INTERRUPT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Exit status after Ctrl-C, as a shell reports for SIGINT.
const EXIT_INTERRUPTED: i32 = 130;

/// On Ctrl-C, waits (briefly) for the records already handed to librdkafka,
/// as kafka-console-producer's shutdown hook closes its producer, then exits
/// with status 130. The watcher thread ends when the returned sender is
/// dropped, releasing its reference to the producer.
fn flush_on_interrupt(producer: Arc<BaseProducer<ProduceContext>>) -> Option<oneshot::Sender<()>> {
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let watcher = move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let interrupted = runtime.block_on(async {
            tokio::select! {
                signal = tokio::signal::ctrl_c() => signal.is_ok(),
                _ = done_rx => false,
            }
        });
        if interrupted {
            let _ = producer.flush(INTERRUPT_FLUSH_TIMEOUT);
            std::process::exit(EXIT_INTERRUPTED);
        }
    };
    std::thread::Builder::new()
        .name("produce-interrupt".into())
        .spawn(watcher)
        .ok()
        .map(|_| done_tx)
}

/// Where records go.
struct Sender<'p> {
    producer: &'p BaseProducer<ProduceContext>,
    topic: &'p str,
    partition: Option<i32>,
    /// Flush after every record, waiting up to this long.
    sync: Option<Duration>,
}

/// Reads lines until end of input, sending each as a record. Stops at the
/// first line that does not parse, as kafka-console-producer does.
fn read_and_send(
    sender: &Sender<'_>,
    format: &LineFormat,
    mut input: impl BufRead,
) -> Result<(), CliError> {
    let mut buf = Vec::new();
    let mut line_number = 0u64;
    loop {
        buf.clear();
        let n = (&mut input)
            .take(LINE_BYTES_MAX + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| CliError::io("could not read standard input", e))?;
        if n == 0 {
            return Ok(());
        }
        line_number += 1;
        if buf.len() as u64 > LINE_BYTES_MAX {
            return Err(CliError::Input(format!(
                "line {line_number} is longer than {LINE_BYTES_MAX} bytes"
            )));
        }
        let line = String::from_utf8_lossy(strip_line_end(&buf));
        let record = format.parse(&line, line_number).map_err(CliError::Input)?;
        sender.send(record);
    }
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Sender<'_> {
    /// Hands one record to librdkafka, waiting while its queue is full.
    /// A record librdkafka refuses outright counts as a failed delivery.
    fn send(&self, record: LineRecord) {
        let headers = (!record.headers.is_empty()).then(|| {
            record.headers.iter().fold(
                OwnedHeaders::new_with_capacity(record.headers.len()),
                |h, (k, v)| {
                    h.insert(Header {
                        key: k.as_str(),
                        value: v.as_deref(),
                    })
                },
            )
        });
        let mut base: BaseRecord<'_, str, str> = BaseRecord::to(self.topic);
        base.partition = self.partition;
        base.key = record.key.as_deref();
        base.payload = record.value.as_deref();
        base.headers = headers;
        loop {
            match self.producer.send(base) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    base = back;
                    self.producer.poll(QUEUE_FULL_BACKOFF);
                }
                Err((err, back)) => {
                    let cause = CliError::from_kafka(&err, Subject::Topic(self.topic));
                    self.producer.context().fail(format!(
                        "could not send a record to topic '{}' (key: {}, value: {}): {cause}",
                        self.topic,
                        describe_size(back.key.map(str::as_bytes)),
                        describe_size(back.payload.map(str::as_bytes)),
                    ));
                    return;
                }
            }
        }
        match self.sync {
            Some(timeout) => {
                let _ = self.producer.flush(timeout);
            }
            None => self.producer.poll(Duration::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ProduceArgs,
    }

    fn args(argv: &[&str]) -> ProduceArgs {
        let mut full = vec!["produce"];
        full.extend_from_slice(argv);
        Wrapper::parse_from(full).args
    }

    #[test]
    fn key_separator_flag_means_parse_key() {
        let a = args(&["--topic", "t", "--key-separator", ":"]);
        let f = line_format(&a, &[]).unwrap();
        assert!(f.parse_key);
        assert_eq!(f.key_separator, ":");
    }

    #[test]
    fn properties_then_flags() {
        let a = args(&["--topic", "t", "--headers-separator", ";"]);
        let props = vec![
            ("parse.key".to_string(), "true".to_string()),
            ("key.separator".to_string(), "=".to_string()),
        ];
        let f = line_format(&a, &props).unwrap();
        assert!(f.parse_key && f.parse_headers);
        assert_eq!(f.key_separator, "=");
        assert_eq!(f.headers_separator, ";");
    }

    #[test]
    fn acks_accepts_minus_one() {
        assert_eq!(
            args(&["--topic", "t", "--acks", "-1"]).acks.as_deref(),
            Some("-1")
        );
    }

    #[test]
    fn line_ends_are_stripped() {
        assert_eq!(strip_line_end(b"a\r\n"), b"a");
        assert_eq!(strip_line_end(b"a\n"), b"a");
        assert_eq!(strip_line_end(b"a"), b"a");
    }

    #[test]
    fn sizes_are_described_like_kafka() {
        assert_eq!(describe_size(None), "null");
        assert_eq!(describe_size(Some(b"abc")), "3 bytes");
    }
}
