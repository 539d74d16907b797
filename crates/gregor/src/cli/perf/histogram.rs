//! A fixed-size latency histogram in microseconds, for `gregor perf`.
//!
//! Log-linear buckets in the style of HdrHistogram: values below
//! `SUB_BUCKETS` are exact, larger ones fall into one of `SUB_BUCKETS / 2`
//! buckets per power of two, so any reported percentile is within 1/64
//! (about 1.6%) of the recorded value. Memory is fixed (`BUCKETS` counters)
//! however many values are recorded, unlike Kafka's producer-perf-test,
//! which keeps a sample of raw latencies.

/// Exact buckets below this value; also the number of buckets per power of
/// two is half of it.
const SUB_BUCKETS: u64 = 128;
const HALF: u64 = SUB_BUCKETS / 2;
/// log2(HALF): a value needs shifting once it has more significant bits
/// than the sub-bucket index holds.
const HALF_BITS: u32 = HALF.trailing_zeros();
/// Enough buckets for any u64 value: the largest shift is 63 - HALF_BITS.
const BUCKETS: usize = (HALF * (63 - HALF_BITS as u64) + SUB_BUCKETS) as usize;

const _: () = assert!(SUB_BUCKETS.is_power_of_two() && SUB_BUCKETS >= 4);

/// Latencies recorded by one perf run; lives on the thread that polls the
/// producer.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum_us: u128,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }

    pub fn record(&mut self, value_us: u64) {
        let index = bucket_index(value_us);
        assert!(
            index < BUCKETS,
            "bucket {index} out of range for {value_us}"
        );
        self.counts[index] += 1;
        self.count += 1;
        self.sum_us += u128::from(value_us);
        self.max_us = self.max_us.max(value_us);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// Mean in microseconds; 0 when empty.
    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.count as f64
        }
    }

    /// The value at quantile `q` (0.0..=1.0): the smallest recorded value
    /// such that at least `q` of all values are at or below it, reported as
    /// the middle of its bucket (never above the maximum). 0 when empty.
    pub fn percentile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, width) = bucket_range(index);
                return (low + width / 2).min(self.max_us);
            }
        }
        self.max_us
    }
}

/// Which bucket holds `v`.
fn bucket_index(v: u64) -> usize {
    let shift = shift_for(v);
    (HALF * u64::from(shift) + (v >> shift)) as usize
}

fn shift_for(v: u64) -> u32 {
    let bits = 64 - v.leading_zeros();
    bits.saturating_sub(HALF_BITS + 1)
}

/// The lowest value in bucket `index` and how many values it covers.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return (index, 1);
    }
    let shift = (index - HALF) / HALF;
    let mantissa = index - HALF * shift;
    (mantissa << shift, 1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_their_values() {
        let mut previous_end = 0u64;
        for index in 0..BUCKETS - 1 {
            let (low, width) = bucket_range(index);
            assert_eq!(low, previous_end, "gap before bucket {index}");
            assert_eq!(bucket_index(low), index);
            assert_eq!(bucket_index(low + width - 1), index);
            previous_end = low + width;
        }
        assert!(bucket_index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.percentile_us(0.5), 50);
        assert_eq!(h.percentile_us(0.99), 99);
        assert_eq!(h.percentile_us(1.0), 100);
        assert_eq!(h.max_us(), 100);
        assert!((h.mean_us() - 50.5).abs() < 1e-9);
    }

    #[test]
    fn large_values_are_within_two_percent() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for (q, want) in [(0.5, 500_000.0), (0.95, 950_000.0), (0.999, 999_000.0)] {
            let got = h.percentile_us(q) as f64;
            assert!((got - want).abs() / want < 0.02, "p{q}: {got} vs {want}");
        }
    }

    #[test]
    fn tail_percentiles_see_outliers() {
        let mut h = Histogram::new();
        for _ in 0..990 {
            h.record(1_000);
        }
        for _ in 0..10 {
            h.record(200_000);
        }
        assert!(h.percentile_us(0.5) < 1_020);
        assert!(h.percentile_us(0.99) < 1_020);
        assert!(h.percentile_us(0.999) > 195_000);
        assert_eq!(h.max_us(), 200_000);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.percentile_us(0.99), 0);
        assert_eq!(h.mean_us(), 0.0);
        assert_eq!(h.count(), 0);
    }
}
