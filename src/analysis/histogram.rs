//! A mergeable histogram of durations with bounded memory.
//!
//! Input: durations in microseconds; output: count, min, max, and quantiles with a
//! relative error below 1/64 (log-linear buckets, as HdrHistogram does). Two
//! histograms merge exactly by adding buckets, so per-file statistics combine.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sub-buckets per power of two: quantiles are within 1/64 (1.6 %) of the truth.
const SUB_BUCKETS: u64 = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub count: u64,
    pub min_us: Option<u64>,
    pub max_us: Option<u64>,
    /// Bucket index → count; at most ~64 × 64 entries.
    buckets: BTreeMap<u32, u64>,
}

fn bucket_of(v: u64) -> u32 {
    if v < SUB_BUCKETS {
        return v as u32;
    }
    let exp = 63 - v.leading_zeros() as u64; // v in [2^exp, 2^(exp+1))
    let shift = exp - 6; // 2^6 = SUB_BUCKETS
    let sub = (v >> shift) - SUB_BUCKETS;
    ((exp - 5) * SUB_BUCKETS + sub) as u32
}

/// Smallest value that falls in `bucket`.
fn bucket_floor(bucket: u32) -> u64 {
    let b = u64::from(bucket);
    if b < SUB_BUCKETS {
        return b;
    }
    let exp = b / SUB_BUCKETS + 5;
    let sub = b % SUB_BUCKETS;
    (SUB_BUCKETS + sub) << (exp - 6)
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = Some(self.max_us.map_or(us, |m| m.max(us)));
        *self.buckets.entry(bucket_of(us)).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.count += other.count;
        self.min_us = match (self.min_us, other.min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_us = match (self.max_us, other.max_us) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_insert(0) += n;
        }
    }

    /// Samples at or above each of `edges` (ascending, in µs) and below the next:
    /// `counts[i]` covers `[edges[i], edges[i+1])`, the last one is open-ended; samples
    /// below `edges[0]` go to the first. Exact up to the bucket resolution (1/64).
    pub fn binned(&self, edges: &[u64]) -> Vec<u64> {
        let mut counts = vec![0; edges.len()];
        for (b, n) in &self.buckets {
            let floor = bucket_floor(*b);
            let i = edges.iter().rposition(|e| floor >= *e).unwrap_or(0);
            if let Some(c) = counts.get_mut(i) {
                *c += n;
            }
        }
        counts
    }

    /// The value at quantile `q` (0..=1): the floor of the bucket holding the
    /// ⌈q·count⌉-th smallest sample, clamped to [min, max].
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let v = bucket_floor(*b);
                return Some(v.clamp(self.min_us.unwrap_or(v), self.max_us.unwrap_or(v)));
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 40, u64::MAX / 2]) {
            let b = bucket_of(v);
            assert!(b >= last);
            last = b;
            let floor = bucket_floor(b);
            assert!(floor <= v, "{v}");
            assert!((v - floor) as f64 <= v as f64 / 64.0 + 1.0, "{v} {floor}");
        }
    }

    #[test]
    fn quantiles_and_merge() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        let mut all = Histogram::default();
        for v in 1..=100u64 {
            if v % 2 == 0 {
                a.record(v * 1000)
            } else {
                b.record(v * 1000)
            }
            all.record(v * 1000);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(all.min_us, Some(1000));
        assert_eq!(all.max_us, Some(100_000));
        let median = all.quantile(0.5).unwrap();
        assert!((49_000..=50_000).contains(&median), "{median}");
        let p95 = all.quantile(0.95).unwrap();
        assert!((94_000..=95_000).contains(&p95), "{p95}");
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
