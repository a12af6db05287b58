//! [`Histogram`]: a latency recorder in microseconds with log-spaced buckets.
//!
//! Values below 256 µs each have their own bucket (exact); above, every power
//! of two is cut into 128 equal buckets, so a percentile is reported within
//! 1/128 (< 0.8 %) of the true value. Minimum, maximum, count and sum are
//! kept exactly. Recording is an index computation and an increment; one
//! histogram per connection, merged at the end, so nothing is shared while
//! the load runs.

use std::time::Duration;

/// Values below this have a bucket each.
const LINEAR: u64 = 256;
/// Buckets per power of two above [`LINEAR`].
const PER_OCTAVE: u64 = 128;
/// log2 of [`PER_OCTAVE`].
const OCTAVE_BITS: u32 = 7;
/// Enough buckets for every `u64`.
const BUCKETS: usize = (LINEAR + (64 - 8) * PER_OCTAVE) as usize;

/// Latencies in microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// The bucket holding `value`.
fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros(); // ≥ 8
    let shift = exponent - OCTAVE_BITS;
    let sub = (value >> shift) - PER_OCTAVE; // 0..128
    (LINEAR + u64::from(exponent - 8) * PER_OCTAVE + sub) as usize
}

/// The largest value that lands in bucket `index`.
fn upper_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let k = index - LINEAR;
    let exponent = 8 + k / PER_OCTAVE;
    let shift = exponent - u64::from(OCTAVE_BITS);
    let sub = k % PER_OCTAVE + PER_OCTAVE;
    // u128: the top bucket's end is 2^64.
    let end = u128::from(sub + 1) << shift;
    u64::try_from(end - 1).unwrap_or(u64::MAX)
}

impl Histogram {
    /// Records one latency in microseconds.
    pub fn record_micros(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.count += 1;
        self.sum += u128::from(micros);
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    /// Records one latency (saturating at `u64::MAX` µs).
    pub fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds `other`'s values to these.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value (0 when empty).
    pub fn min(&self) -> u64 {
        if self.count == 0 { 0 } else { self.min }
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The arithmetic mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The nearest-rank percentile `p` (0–100): the smallest recorded value
    /// with at least `p` % of the values at or below it, as the top of its
    /// bucket, clamped to the exact minimum and maximum (so `percentile(100)`
    /// is the maximum). 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * self.count as f64).ceil() as u64;
        let rank = rank.clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return upper_bound(i).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact_with_nearest_rank() {
        let mut h = Histogram::default();
        for v in (1..=100).rev() {
            h.record_micros(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.min(), 1);
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(90.0), 90);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
        assert_eq!(h.max(), 100);
        assert_eq!(h.mean(), 50.5);
    }

    #[test]
    fn one_value_is_every_percentile() {
        let mut h = Histogram::default();
        h.record_micros(123_456);
        for p in [0.0, 50.0, 99.0, 100.0] {
            assert_eq!(h.percentile(p), 123_456, "p{p}");
        }
    }

    #[test]
    fn empty_is_zero() {
        let h = Histogram::default();
        assert_eq!((h.min(), h.max(), h.percentile(50.0)), (0, 0, 0));
        assert_eq!(h.mean(), 0.0);
    }

    #[test]
    fn large_values_are_within_one_bucket_and_max_is_exact() {
        let mut h = Histogram::default();
        // 1 ms .. 1000 ms in 1 ms steps: p50 is 500 ms, p99 990 ms.
        for ms in 1..=1000u64 {
            h.record_micros(ms * 1000);
        }
        let within = |got: u64, want: u64| {
            assert!(got >= want, "{got} < {want}");
            assert!((got - want) * 128 <= want, "{got} too far above {want}");
        };
        within(h.percentile(50.0), 500_000);
        within(h.percentile(90.0), 900_000);
        within(h.percentile(99.0), 990_000);
        assert_eq!(h.percentile(100.0), 1_000_000);
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(h.min(), 1000);
    }

    #[test]
    fn buckets_tile_the_range() {
        // Every bucket starts right after the previous one ends.
        for i in 1..BUCKETS - 1 {
            assert_eq!(index(upper_bound(i - 1) + 1), i, "bucket {i}");
            assert_eq!(index(upper_bound(i)), i, "bucket {i}");
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(upper_bound(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn merging_is_recording_everything_in_one() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        let mut all = Histogram::default();
        for v in [5u64, 700, 90_000, 3] {
            a.record_micros(v);
            all.record_micros(v);
        }
        for v in [1u64, 250_000, 42] {
            b.record_micros(v);
            all.record_micros(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.min(), 1);
        assert_eq!(a.max(), 250_000);
    }
}
