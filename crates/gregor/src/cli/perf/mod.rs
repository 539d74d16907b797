//! `gregor perf produce | consume`: load generators with the output of
//! Kafka's kafka-producer-perf-test and kafka-consumer-perf-test, so
//! numbers from either can be compared line by line.
//!
//! Like the rest of the CLI these are plain librdkafka clients; they know
//! nothing of the broker's internals. Latencies go into a fixed-size
//! `histogram::Histogram`; the send rate is held by `Throttle`.

mod consume;
mod histogram;
mod produce;

use std::io::Write;
use std::time::Duration;

pub use consume::PerfConsumeArgs;
pub use produce::PerfProduceArgs;

use super::errors::CliError;

#[derive(clap::Subcommand, Debug)]
pub enum PerfCommand {
    /// Send generated records as fast as allowed and report throughput and
    /// latency (like kafka-producer-perf-test.sh).
    Produce(PerfProduceArgs),
    /// Read records and report throughput (like kafka-consumer-perf-test.sh).
    Consume(PerfConsumeArgs),
}

pub fn run(cmd: PerfCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        PerfCommand::Produce(args) => produce::run(args, out),
        PerfCommand::Consume(args) => consume::run(args, out),
    }
}

/// Kafka's perf tools count megabytes as 2^20 bytes.
const BYTES_PER_MB: f64 = 1024.0 * 1024.0;

/// Holds a sender to `per_second` records per second on average, as Kafka's
/// ThroughputThrottler does: after `sent` records, the sender should have
/// spent at least `sent / per_second` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    /// None: unlimited.
    per_second: Option<f64>,
}

impl Throttle {
    /// `per_second` <= 0 (Kafka uses -1) means unlimited.
    pub fn new(per_second: f64) -> Throttle {
        Throttle {
            per_second: (per_second > 0.0).then_some(per_second),
        }
    }

    /// How long to wait before sending the next record, given how many were
    /// sent and how long it has been since the first.
    pub fn delay(&self, sent: u64, elapsed: Duration) -> Option<Duration> {
        let rate = self.per_second?;
        let due = Duration::from_secs_f64(sent as f64 / rate);
        due.checked_sub(elapsed).filter(|d| !d.is_zero())
    }
}

/// Bytes per second as MB/s, 0 for an empty interval.
fn mb_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    per_sec(bytes as f64 / BYTES_PER_MB, elapsed)
}

fn per_sec(amount: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        amount / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_throttle_never_waits() {
        let t = Throttle::new(-1.0);
        assert_eq!(t.delay(1_000_000, Duration::ZERO), None);
        assert_eq!(Throttle::new(0.0).delay(5, Duration::ZERO), None);
    }

    #[test]
    fn throttle_waits_until_the_rate_allows_the_next_record() {
        let t = Throttle::new(1000.0);
        // 500 records at 1000/s are due at 0.5 s.
        assert_eq!(
            t.delay(500, Duration::from_millis(200)),
            Some(Duration::from_millis(300))
        );
        // Behind schedule: no wait.
        assert_eq!(t.delay(500, Duration::from_millis(600)), None);
        assert_eq!(t.delay(500, Duration::from_millis(500)), None);
    }

    #[test]
    fn throttle_holds_the_average_rate() {
        let t = Throttle::new(20_000.0);
        let mut clock = Duration::ZERO;
        for sent in 0..100_000u64 {
            if let Some(d) = t.delay(sent, clock) {
                clock += d;
            }
        }
        let rate = 100_000.0 / clock.as_secs_f64();
        assert!((rate - 20_000.0).abs() < 10.0, "{rate}");
    }

    #[test]
    fn rates_of_an_empty_interval_are_zero() {
        assert_eq!(mb_per_sec(1 << 20, Duration::ZERO), 0.0);
        assert_eq!(mb_per_sec(1 << 20, Duration::from_secs(2)), 0.5);
    }
}
