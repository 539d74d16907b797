//! A windowed rate, as Kafka's metrics `Rate` over a `SampledStat`
//! measures it: `quota.window.num` samples of `quota.window.size.seconds`
//! each; the rate is the samples' total over the time they span, and that
//! span is never taken as shorter than `num - 1` whole windows, so a burst
//! right after a quiet period is not measured over a tiny interval.

/// One sample: the values recorded since `start_ms`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: i64,
    value: f64,
}

/// Owned by one quota sensor; not shared between threads without a lock.
#[derive(Debug, Clone)]
pub struct WindowedRate {
    samples: Vec<Sample>,
    current: usize,
    samples_max: usize,
    window_ms: i64,
}

impl WindowedRate {
    pub fn new(samples_max: usize, window_ms: i64, now_ms: i64) -> WindowedRate {
        assert!(
            samples_max >= 1 && window_ms >= 1,
            "quota windows must not be empty"
        );
        WindowedRate {
            samples: vec![Sample {
                start_ms: now_ms,
                value: 0.0,
            }],
            current: 0,
            samples_max,
            window_ms,
        }
    }

    /// Adds `value` to the current sample, starting the next sample when
    /// the current one's window has passed (a negative value takes back an
    /// earlier recording).
    pub fn record(&mut self, value: f64, now_ms: i64) {
        if now_ms >= self.samples[self.current].start_ms + self.window_ms {
            self.current = (self.current + 1) % self.samples_max;
            let fresh = Sample {
                start_ms: now_ms,
                value: 0.0,
            };
            match self.samples.get_mut(self.current) {
                Some(sample) => *sample = fresh,
                None => self.samples.push(fresh),
            }
        }
        self.samples[self.current].value += value;
    }

    /// The rate per second at `now_ms`. Samples older than the whole
    /// window (`samples_max` windows) are dropped first.
    pub fn measure(&mut self, now_ms: i64) -> f64 {
        let expire_ms = self.window_ms * self.samples_max as i64;
        for sample in &mut self.samples {
            if now_ms - sample.start_ms >= expire_ms {
                *sample = Sample {
                    start_ms: now_ms,
                    value: 0.0,
                };
            }
        }
        let total: f64 = self.samples.iter().map(|s| s.value).sum();
        total * 1000.0 / self.window_size_ms(now_ms) as f64
    }

    /// The span the rate is measured over, in milliseconds.
    pub fn window_size_ms(&self, now_ms: i64) -> i64 {
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let mut elapsed = now_ms - oldest;
        let full_windows = elapsed / self.window_ms;
        let min_full_windows = self.samples_max as i64 - 1;
        if full_windows < min_full_windows {
            elapsed += (min_full_windows - full_windows) * self.window_ms;
        }
        elapsed.max(1)
    }
}

/// Kafka's `QuotaUtils.throttleTime`: how long the client must stay quiet
/// for `observed` to fall back to `bound` over the measuring window.
pub fn throttle_time_ms(observed: f64, bound: f64, window_size_ms: i64) -> i64 {
    let difference = observed - bound;
    (difference / bound * window_size_ms as f64).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_measured_over_at_least_num_minus_one_windows() {
        let mut rate = WindowedRate::new(11, 1000, 0);
        rate.record(1000.0, 0);
        // 1000 bytes in the first instant count over 10 s, not over 0 s.
        assert_eq!(rate.window_size_ms(0), 10_000);
        assert!((rate.measure(0) - 100.0).abs() < 1e-9);
        // After 15 s of elapsed time the real span is used.
        for t in 1..=15 {
            rate.record(1000.0, t * 1000);
        }
        // Samples older than 11 s were dropped: 11 samples of 1000 remain,
        // oldest starting at 5 s.
        let r = rate.measure(15_000);
        assert_eq!(rate.window_size_ms(15_000), 10_000);
        assert!((r - 1100.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn old_samples_expire() {
        let mut rate = WindowedRate::new(3, 1000, 0);
        rate.record(3000.0, 0);
        assert!(rate.measure(500) > 0.0);
        assert_eq!(rate.measure(3000), 0.0);
    }

    #[test]
    fn unrecording_takes_bytes_back() {
        let mut rate = WindowedRate::new(2, 1000, 0);
        rate.record(500.0, 10);
        rate.record(-500.0, 20);
        assert_eq!(rate.measure(30), 0.0);
    }

    #[test]
    fn throttle_time_matches_kafka() {
        // Kafka's own example: twice the quota over a 3-sample window of
        // 1 s (measured over 2 s) needs a 2 s pause.
        assert_eq!(throttle_time_ms(100.0, 50.0, 2000), 2000);
        assert_eq!(throttle_time_ms(50.0, 50.0, 2000), 0);
        assert!(throttle_time_ms(40.0, 50.0, 2000) < 0);
    }

    #[test]
    fn a_client_that_honours_throttling_gets_its_quota() {
        // A client sending 1000-byte requests back to back (1 ms each) and
        // pausing whenever told to, for 60 simulated seconds.
        let bound = 10_000.0;
        let mut rate = WindowedRate::new(11, 1000, 0);
        let (mut now, mut sent) = (0i64, 0.0);
        while now < 60_000 {
            rate.record(1000.0, now);
            sent += 1000.0;
            let observed = rate.measure(now);
            now += throttle_time_ms(observed, bound, rate.window_size_ms(now)).max(1);
        }
        let achieved = sent * 1000.0 / now as f64;
        assert!(
            (achieved - bound).abs() / bound < 0.2,
            "achieved {achieved} B/s"
        );
    }
}
