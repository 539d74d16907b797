//! `gregor perf consume`: kafka-consumer-perf-test. Joins a consumer group
//! (a fresh `perf-consumer-N` one unless `--group` is given), reads the
//! topic from the earliest offset until `--messages` records arrived or
//! none arrived for `--timeout-ms`, and prints Kafka's summary columns.
//! `rebalance.time.ms` is the time from subscribing to the first partition
//! assignment; the `fetch.*` columns exclude it.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext, Message};

use super::{mb_per_sec, per_sec, BYTES_PER_MB};
use crate::cli::client::{Connection, ErrorWatch, Watched};
use crate::cli::config::{client_config, ClientRole, ConnectionArgs};
use crate::cli::errors::{CliError, Subject};

#[derive(clap::Args, Debug)]
pub struct PerfConsumeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to read.
    #[arg(long)]
    pub topic: String,
    /// How many records to read.
    #[arg(long, value_name = "N")]
    pub messages: u64,
    /// The consumer group (default: a new perf-consumer-N group).
    #[arg(long)]
    pub group: Option<String>,
    /// Stop when no record arrives for this many milliseconds.
    #[arg(
        long = "timeout-ms",
        alias = "timeout",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub timeout_ms: u64,
    /// Do not print the column names.
    #[arg(long = "hide-header")]
    pub hide_header: bool,
}

/// How long one poll waits; bounds how late the idle timeout is noticed.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Consumer errors printed before further ones are only counted.
const REPORTED_ERRORS_MAX: u32 = 10;

const HEADER: &str = "start.time, end.time, data.consumed.in.MB, MB.sec, \
                      data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, \
                      fetch.MB.sec, fetch.nMsg.sec";

/// Remembers when partitions were first assigned; written by librdkafka's
/// rebalance callback on the polling (this command's) thread.
struct PerfConsumerContext {
    watch: ErrorWatch,
    assigned_at: Mutex<Option<Instant>>,
}

impl ClientContext for PerfConsumerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.watch.log_message(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.watch.record_error(&error, reason);
    }
}

impl ConsumerContext for PerfConsumerContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(_) = rebalance {
            if let Ok(mut at) = self.assigned_at.lock() {
                at.get_or_insert_with(Instant::now);
            }
        }
    }
}

impl Watched for PerfConsumerContext {
    fn watch(&self) -> &ErrorWatch {
        &self.watch
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
struct Totals {
    start_wall: SystemTime,
    end_wall: SystemTime,
    elapsed: Duration,
    rebalance: Duration,
    messages: u64,
    bytes: u64,
}

impl Totals {
    /// Kafka's data row: `%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f`.
    fn row(&self) -> String {
        let fetch = self.elapsed.saturating_sub(self.rebalance);
        format!(
            "{}, {}, {:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
            kafka_time(self.start_wall),
            kafka_time(self.end_wall),
            self.bytes as f64 / BYTES_PER_MB,
            mb_per_sec(self.bytes, self.elapsed),
            self.messages,
            per_sec(self.messages as f64, self.elapsed),
            self.rebalance.as_millis(),
            fetch.as_millis(),
            mb_per_sec(self.bytes, fetch),
            per_sec(self.messages as f64, fetch),
        )
    }
}

/// Kafka's default `--date-format`, `yyyy-MM-dd HH:mm:ss:SSS`, local time.
fn kafka_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(t)
        .format("%Y-%m-%d %H:%M:%S:%3f")
        .to_string()
}

pub fn run(args: PerfConsumeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let config = consumer_config(&args)?;
    let context = PerfConsumerContext {
        watch: ErrorWatch::new(config.get("debug").is_some()),
        assigned_at: Mutex::new(None),
    };
    let consumer: BaseConsumer<PerfConsumerContext> = config
        .create_with_context(context)
        .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?;
    Connection::new(&args.conn).existing_topic(consumer.client(), &args.topic)?;
    let start_wall = SystemTime::now();
    let start = Instant::now();
    consumer
        .subscribe(&[&args.topic])
        .map_err(|e| CliError::from_kafka(&e, Subject::Topic(&args.topic)))?;
    let (messages, bytes, last_record) = read(&consumer, &args)?;
    // Like Kafka's tool, the run ends with the last record, not with the
    // idle timeout that noticed there were no more.
    let end = last_record.unwrap_or_else(Instant::now);
    let assigned_at = consumer
        .context()
        .assigned_at
        .lock()
        .ok()
        .and_then(|at| *at);
    let totals = Totals {
        start_wall,
        end_wall: start_wall + (end - start),
        elapsed: end - start,
        rebalance: assigned_at.map_or(Duration::ZERO, |at| at.saturating_duration_since(start)),
        messages,
        bytes,
    };
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        if !args.hide_header {
            writeln!(out, "{HEADER}")?;
        }
        writeln!(out, "{}", totals.row())?;
        out.flush()
    };
    write(out).map_err(|e| CliError::io("could not write the summary", e))
}

fn consumer_config(args: &PerfConsumeArgs) -> Result<ClientConfig, CliError> {
    let props = args.conn.user_properties()?;
    let user_set = |key: &str| props.file.iter().chain(&props.flags).any(|(k, _)| k == key);
    let mut config = client_config(&args.conn, ClientRole::Consumer, &props)?;
    if !user_set("client.id") {
        config.set("client.id", "gregor-consumer-perf");
    }
    if !user_set("auto.offset.reset") {
        config.set("auto.offset.reset", "earliest");
    }
    // Kafka's tool picks a random perf-consumer-N group; the process id and
    // clock make one unique enough without a random number generator.
    let group = args.group.clone().unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("perf-consumer-{}", (std::process::id() ^ nanos) % 100_000)
    });
    config.set("group.id", group);
    Ok(config)
}

/// Polls until `--messages` records arrived or none for `--timeout-ms`.
/// Returns the record count, their value and key bytes, and when the last
/// one arrived.
fn read(
    consumer: &BaseConsumer<PerfConsumerContext>,
    args: &PerfConsumeArgs,
) -> Result<(u64, u64, Option<Instant>), CliError> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let (mut messages, mut bytes, mut errors) = (0u64, 0u64, 0u32);
    let mut last_record = None;
    let mut idle_since = Instant::now();
    while messages < args.messages {
        if idle_since.elapsed() >= timeout {
            eprintln!(
                "WARNING: Exiting before consuming the expected number of messages: timeout \
                 ({} ms) exceeded. You can use the --timeout-ms option to increase the timeout.",
                args.timeout_ms
            );
            break;
        }
        match consumer.poll(POLL_INTERVAL) {
            None => {}
            Some(Ok(m)) => {
                let now = Instant::now();
                messages += 1;
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
                last_record = Some(now);
                idle_since = now;
            }
            Some(Err(err)) => {
                errors += 1;
                if errors <= REPORTED_ERRORS_MAX {
                    let cause = CliError::from_kafka(&err, Subject::Topic(&args.topic));
                    eprintln!("WARNING: consumer error: {cause}");
                }
            }
        }
    }
    Ok((messages, bytes, last_record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn row_has_kafkas_columns() {
        let start_wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let totals = Totals {
            start_wall,
            end_wall: start_wall + Duration::from_secs(4),
            elapsed: Duration::from_secs(4),
            rebalance: Duration::from_secs(2),
            messages: 1000,
            bytes: 4 * 1024 * 1024,
        };
        let row = totals.row();
        let cols: Vec<&str> = row.split(", ").collect();
        assert_eq!(cols.len(), HEADER.split(", ").count());
        assert_eq!(
            &cols[2..],
            &["4.0000", "1.0000", "1000", "250.0000", "2000", "2000", "2.0000", "500.0000"]
        );
        assert_eq!(cols[0].len(), "2023-11-14 22:13:20:000".len());
    }
}
