//! Latency per operation type: an HDR histogram of nanoseconds (3
//! significant digits, so a percentile is within 0.1 % of the true sample)
//! beside an exact count, sum and maximum.
//!
//! A percentile is read as the histogram's bucket bound, which may lie a
//! little above the largest sample in that bucket; it is capped at the
//! exact maximum so `p50 ≤ p99 ≤ p999 ≤ max` always holds.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies of one operation type.
pub struct Latency {
    hist: Histogram<u64>,
    count: u64,
    sum_ns: u128,
    max_ns: u64,
}

/// What the report shows of a [`Latency`], in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Requests measured.
    pub count: u64,
    /// Exact mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Exact maximum.
    pub max: f64,
}

/// Quantiles [`Latency::cdf`] reports: every hundredth, then every
/// thousandth above 0.99, then 0.9999 and 1, so a CDF plot shows the tail.
fn cdf_quantiles() -> impl Iterator<Item = f64> {
    (0..=99u32)
        .map(|i| f64::from(i) / 100.0)
        .chain((991..=999u32).map(|i| f64::from(i) / 1000.0))
        .chain([0.9999, 1.0])
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            // Auto-resizing: any u64 of nanoseconds is recordable.
            hist: Histogram::new(3).expect("3 significant digits is in range"),
            count: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }
}

impl Latency {
    /// Records one request that took `ns`.
    pub fn record(&mut self, ns: u64) {
        // Auto-resize makes this infallible; a failure would only lose the
        // percentile contribution, never the exact count, sum and max.
        let _ = self.hist.record(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// The distribution in µs: `(quantile, µs)` pairs at 0, 0.01, …, 0.99,
    /// 0.991, …, 0.999, 0.9999 and 1, each value capped at the exact maximum as in [`summary`]
    /// (empty when nothing was recorded).
    ///
    /// [`summary`]: Latency::summary
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        if self.count == 0 {
            return Vec::new();
        }
        cdf_quantiles()
            .map(|q| {
                let ns = self.hist.value_at_quantile(q).min(self.max_ns);
                (q, ns as f64 / 1000.0)
            })
            .collect()
    }

    /// The summary in µs (all zero when nothing was recorded).
    pub fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        let q = |quantile: f64| us(self.hist.value_at_quantile(quantile).min(self.max_ns));
        LatencySummary {
            count: self.count,
            mean: self.sum_ns as f64 / self.count as f64 / 1000.0,
            p50: q(0.5),
            p99: q(0.99),
            p999: q(0.999),
            max: us(self.max_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ordered_and_capped() {
        let mut l = Latency::default();
        for ns in 1..=10_000u64 {
            l.record(ns * 1001);
        }
        let s = l.summary();
        assert_eq!(s.count, 10_000);
        assert!(s.p50 <= s.p99 && s.p99 <= s.p999 && s.p999 <= s.max);
        assert_eq!(s.max, 10_010.0);
        assert!((s.p50 - 5005.0).abs() / 5005.0 < 0.002, "{s:?}");
        assert!((s.mean - 5000.5 * 1.001).abs() < 1e-6, "{s:?}");
        let mut one = Latency::default();
        one.record(1_000_001);
        let s = one.summary();
        assert_eq!((s.p50, s.p999, s.max), (1000.001, 1000.001, 1000.001));
        assert_eq!(Latency::default().summary(), LatencySummary::default());
        assert!(Latency::default().cdf().is_empty());
    }

    #[test]
    fn the_cdf_rises_to_the_maximum() {
        let mut l = Latency::default();
        for ns in 1..=10_000u64 {
            l.record(ns * 1001);
        }
        let c = l.cdf();
        assert_eq!(c.len(), 111);
        assert_eq!(c.first().unwrap().0, 0.0);
        assert_eq!(*c.last().unwrap(), (1.0, 10_010.0));
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        let median = c.iter().find(|p| p.0 == 0.5).unwrap().1;
        assert_eq!(median, l.summary().p50);
    }
}
