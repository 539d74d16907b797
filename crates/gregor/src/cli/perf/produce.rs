//! `gregor perf produce`: kafka-producer-perf-test. Sends `--num-records`
//! generated records of `--record-size` bytes, at most `--throughput` per
//! second, and measures each record's latency from the moment it is handed
//! to librdkafka to its delivery report (so batching delay counts, as in
//! Kafka's tool). Prints a progress line every `--print-interval-ms` and a
//! summary with percentiles at the end, in Kafka's format.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};

use super::histogram::Histogram;
use super::{mb_per_sec, per_sec, Throttle};
use crate::cli::client::{Connection, ErrorWatch, Watched};
use crate::cli::config::{client_config, ClientRole, ConnectionArgs};
use crate::cli::errors::{CliError, Subject};

#[derive(clap::Args, Debug)]
pub struct PerfProduceArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to write to; it must exist (or be auto-created).
    #[arg(long)]
    pub topic: String,
    /// How many records to send.
    #[arg(long = "num-records", value_name = "N")]
    pub num_records: u64,
    /// Size of each record's value in bytes (no key).
    #[arg(long = "record-size", value_name = "BYTES")]
    pub record_size: usize,
    /// Records per second to aim for; -1 for as fast as possible.
    #[arg(long, value_name = "PER_SEC", allow_hyphen_values = true, default_value_t = -1.0)]
    pub throughput: f64,
    /// Acknowledgement required from the broker: all (= -1), 1 or 0.
    #[arg(long, allow_hyphen_values = true, value_parser = ["all", "-1", "1", "0"])]
    pub acks: Option<String>,
    /// Compress record batches.
    #[arg(long = "compression-type",
          value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression_type: Option<String>,
    /// Producer properties KEY=VALUE (same as --property).
    #[arg(long = "producer-props", value_name = "KEY=VALUE", num_args = 1..,
          value_parser = crate::cli::config::parse_key_value)]
    pub producer_props: Vec<(String, String)>,
    /// How often to print a progress line, in milliseconds.
    #[arg(long = "print-interval-ms", value_name = "MS", default_value_t = 5000)]
    pub print_interval_ms: u64,
}

/// Largest record the tool generates; brokers reject far smaller ones by
/// default, and the payload is held in memory once.
const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;
/// How long to let librdkafka drain its queue when the queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);
/// How long each poll waits while waiting for the last deliveries.
const DRAIN_POLL: Duration = Duration::from_millis(50);
/// How long to wait for the last deliveries beyond message.timeout.ms.
const FLUSH_GRACE: Duration = Duration::from_secs(5);
/// Kafka's delivery.timeout.ms, the CLI's message.timeout.ms default.
const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 120_000;

/// Totals for the whole run and for the current progress window; updated
/// by the delivery callback on this command's thread.
#[derive(Debug)]
struct Stats {
    start: Instant,
    record_size: usize,
    all: Histogram,
    window: Histogram,
    window_start: Instant,
    failed: u64,
    first_failure: Option<String>,
}

impl Stats {
    fn new(record_size: usize, now: Instant) -> Stats {
        Stats {
            start: now,
            record_size,
            all: Histogram::new(),
            window: Histogram::new(),
            window_start: now,
            failed: 0,
            first_failure: None,
        }
    }

    fn record(&mut self, latency_us: u64) {
        self.all.record(latency_us);
        self.window.record(latency_us);
    }

    /// Kafka's progress line for the window, then starts a new window.
    fn window_line(&mut self, now: Instant) -> String {
        let elapsed = now - self.window_start;
        let n = self.window.count();
        let line = format!(
            "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, \
             {:.1} ms max latency.",
            per_sec(n as f64, elapsed),
            mb_per_sec(n * self.record_size as u64, elapsed),
            self.window.mean_us() / 1000.0,
            self.window.max_us() as f64 / 1000.0,
        );
        self.window = Histogram::new();
        self.window_start = now;
        line
    }

    /// Kafka's final line, with percentiles to the microsecond.
    fn summary_line(&self, end: Instant) -> String {
        let elapsed = end - self.start;
        let n = self.all.count();
        let ms = |q: f64| self.all.percentile_us(q) as f64 / 1000.0;
        format!(
            "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, \
             {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, \
             {:.2} ms 99.9th.",
            per_sec(n as f64, elapsed),
            mb_per_sec(n * self.record_size as u64, elapsed),
            self.all.mean_us() / 1000.0,
            self.all.max_us() as f64 / 1000.0,
            ms(0.50),
            ms(0.95),
            ms(0.99),
            ms(0.999),
        )
    }
}

struct PerfContext {
    watch: ErrorWatch,
    topic: String,
    stats: Mutex<Stats>,
}

impl ClientContext for PerfContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.log_message(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.record_error(&error, reason);
    }
}

impl Watched for PerfContext {
    fn watch(&self) -> &ErrorWatch {
        &self.watch
    }
}

impl ProducerContext for PerfContext {
    /// Microseconds from the start of the run to when the record was sent.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at_us: usize) {
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        match result {
            Ok(_) => {
                let now_us = stats.start.elapsed().as_micros() as u64;
                stats.record(now_us.saturating_sub(sent_at_us as u64));
            }
            Err((err, _)) => {
                stats.failed += 1;
                if stats.first_failure.is_none() {
                    let cause = CliError::from_kafka(err, Subject::Topic(&self.topic));
                    stats.first_failure = Some(cause.to_string());
                }
            }
        }
    }
}

pub fn run(args: PerfProduceArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if args.record_size > RECORD_BYTES_MAX {
        return Err(CliError::Usage(format!(
            "--record-size {} is larger than {RECORD_BYTES_MAX} bytes",
            args.record_size
        )));
    }
    let (config, message_timeout) = producer_config(&args)?;
    let context = PerfContext {
        watch: ErrorWatch::new(config.get("debug").is_some()),
        topic: args.topic.clone(),
        stats: Mutex::new(Stats::new(args.record_size, Instant::now())),
    };
    let producer: BaseProducer<PerfContext> = config
        .create_with_context(context)
        .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?;
    Connection::new(&args.conn).existing_topic(producer.client(), &args.topic)?;
    let mut run = Run {
        producer: &producer,
        out,
        interval: Duration::from_millis(args.print_interval_ms.max(1)),
        last_print: Instant::now(),
    };
    // The clock starts once the topic is known, as Kafka's starts at the
    // first send.
    run.restart_clock();
    let payload = payload(args.record_size);
    run.send_all(
        &args.topic,
        &payload,
        args.num_records,
        Throttle::new(args.throughput),
    )?;
    run.drain(message_timeout + FLUSH_GRACE)?;
    let end = Instant::now();
    let (summary, delivered, failed, first) = {
        let stats = run.stats()?;
        let first = stats.first_failure.clone().unwrap_or_default();
        (
            stats.summary_line(end),
            stats.all.count(),
            stats.failed,
            first,
        )
    };
    writeln!(run.out, "{summary}").map_err(|e| CliError::io("could not write the summary", e))?;
    match failed {
        0 => Ok(()),
        failed => Err(CliError::Delivery {
            failed,
            total: failed + delivered,
            first,
        }),
    }
}

/// The producer's configuration and its per-record delivery timeout; flags
/// win over `--producer-props`, which win over `--property`.
fn producer_config(args: &PerfProduceArgs) -> Result<(ClientConfig, Duration), CliError> {
    let mut props = args.conn.user_properties()?;
    props.flags.extend(args.producer_props.iter().cloned());
    let mut config = client_config(&args.conn, ClientRole::Producer, &props)?;
    if !props.flags.iter().any(|(k, _)| k == "client.id") {
        config.set("client.id", "gregor-producer-perf");
    }
    if let Some(acks) = &args.acks {
        config.set("acks", acks);
    }
    if let Some(codec) = &args.compression_type {
        config.set("compression.type", codec);
    }
    let message_timeout_ms = config
        .get("message.timeout.ms")
        .or_else(|| config.get("delivery.timeout.ms"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_MESSAGE_TIMEOUT_MS);
    Ok((config, Duration::from_millis(message_timeout_ms)))
}

/// Pseudo-random uppercase letters, as Kafka's tool generates; every record
/// carries the same payload. A fixed xorshift sequence is random enough to
/// keep compression honest and needs no dependency.
fn payload(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'A' + (state % 26) as u8
        })
        .collect()
}

/// One run's producer and progress output.
struct Run<'a> {
    producer: &'a BaseProducer<PerfContext>,
    out: &'a mut dyn Write,
    interval: Duration,
    last_print: Instant,
}

impl Run<'_> {
    fn stats(&self) -> Result<std::sync::MutexGuard<'_, Stats>, CliError> {
        self.producer
            .context()
            .stats
            .lock()
            .map_err(|_| CliError::Client("perf statistics lock poisoned".into()))
    }

    fn restart_clock(&mut self) {
        let now = Instant::now();
        if let Ok(mut stats) = self.stats() {
            *stats = Stats::new(stats.record_size, now);
        }
        self.last_print = now;
    }

    fn start(&self) -> Result<Instant, CliError> {
        Ok(self.stats()?.start)
    }

    fn send_all(
        &mut self,
        topic: &str,
        payload: &[u8],
        count: u64,
        throttle: Throttle,
    ) -> Result<(), CliError> {
        let start = self.start()?;
        for sent in 0..count {
            if let Some(wait) = throttle.delay(sent, start.elapsed()) {
                // Deliveries keep arriving while the sender waits.
                self.producer.poll(wait);
            }
            let sent_at_us = start.elapsed().as_micros() as usize;
            let mut record: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(topic, sent_at_us).payload(payload);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        self.producer.poll(QUEUE_FULL_BACKOFF);
                    }
                    Err((err, _)) => return Err(CliError::from_kafka(&err, Subject::Topic(topic))),
                }
            }
            self.producer.poll(Duration::ZERO);
            self.maybe_print()?;
        }
        Ok(())
    }

    /// Waits until every record sent has a delivery report.
    fn drain(&mut self, timeout: Duration) -> Result<(), CliError> {
        let deadline = Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(CliError::Client(format!(
                    "{} records were still unacknowledged after {}",
                    self.producer.in_flight_count(),
                    crate::cli::errors::format_duration(timeout)
                )));
            }
            self.producer.poll(DRAIN_POLL);
            self.maybe_print()?;
        }
        // Reports already counted; this only empties librdkafka's queues.
        let _ = self.producer.flush(DRAIN_POLL);
        Ok(())
    }

    fn maybe_print(&mut self) -> Result<(), CliError> {
        let now = Instant::now();
        if now - self.last_print < self.interval {
            return Ok(());
        }
        self.last_print = now;
        let line = self.stats()?.window_line(now);
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|e| CliError::io("could not write a progress line", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: PerfProduceArgs,
    }

    fn args(argv: &[&str]) -> PerfProduceArgs {
        let mut full = vec!["perf-produce"];
        full.extend_from_slice(argv);
        Wrapper::parse_from(full).args
    }

    #[test]
    fn flags_parse_like_kafka_producer_perf_test() {
        let a = args(&[
            "--topic",
            "t",
            "--num-records",
            "10",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--acks",
            "all",
            "--producer-props",
            "linger.ms=5",
            "batch.size=65536",
        ]);
        assert_eq!(a.throughput, -1.0);
        assert_eq!(a.producer_props.len(), 2);
        let (config, timeout) = producer_config(&a).unwrap();
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("linger.ms"), Some("5"));
        assert_eq!(config.get("client.id"), Some("gregor-producer-perf"));
        assert_eq!(timeout, Duration::from_millis(DEFAULT_MESSAGE_TIMEOUT_MS));
    }

    #[test]
    fn payload_has_the_requested_size() {
        let p = payload(1024);
        assert_eq!(p.len(), 1024);
        assert!(p.iter().all(u8::is_ascii_uppercase));
    }

    #[test]
    fn lines_follow_kafkas_format() {
        let t0 = Instant::now();
        let mut stats = Stats::new(1024, t0);
        for us in [1_000, 2_000, 3_000, 4_000] {
            stats.record(us);
        }
        let line = stats.window_line(t0 + Duration::from_secs(2));
        assert_eq!(
            line,
            "4 records sent, 2.0 records/sec (0.00 MB/sec), 2.5 ms avg latency, \
             4.0 ms max latency."
        );
        let summary = stats.summary_line(t0 + Duration::from_secs(4));
        assert_eq!(
            summary,
            "4 records sent, 1.0 records/sec (0.00 MB/sec), 2.50 ms avg latency, \
             4.00 ms max latency, 2.01 ms 50th, 4.00 ms 95th, 4.00 ms 99th, 4.00 ms 99.9th."
        );
    }
}
