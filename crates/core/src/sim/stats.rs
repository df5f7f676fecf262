//! Streaming statistics: log-bucketed latency histograms (bounded memory,
//! ≤ 0.5 % relative error on percentiles) and time integrals.

use crate::time::SimTime;

/// Sub-buckets per doubling: bucket width is 2^(1/128) ≈ 0.54 %.
const PER_OCTAVE: f64 = 128.0;
/// Smallest resolved value, seconds (1 µs); anything below lands in bucket 0.
const FLOOR: f64 = 1e-6;
/// Buckets up to 2^40 µs (≈ 12.7 days).
const BUCKETS: usize = 40 * 128 + 1;

/// How close to a bucket edge (in buckets) [`LogHistogram::index`]'s
/// estimate must come before the edge table is consulted: ten times the
/// estimate's worst error.
const NEAR_EDGE: f64 = 1.0 / 256.0;

/// `log2(FLOOR)`.
const LOG2_FLOOR: f64 = -19.931_568_569_324_174;

/// The bucket definition: `⌈128·log2(v / FLOOR)⌉`, clamped.
fn reference_index(v: f64) -> usize {
    if v <= FLOOR {
        return 0;
    }
    let i = ((v / FLOOR).log2() * PER_OCTAVE).ceil();
    (i as usize).min(BUCKETS - 1)
}

/// Lookup tables for [`LogHistogram::index`].
struct Tables {
    /// `edges[i]`: the largest value whose bucket is at most `i`.
    edges: Vec<f64>,
    /// For the mantissa's top 8 bits `k`: the bucket's centre
    /// `c = 1 + (k + ½)/256`, `log2 c` and `1/(c·ln 2)`, the slope there, so
    /// that `log2 c + (m − c)/(c·ln 2)` is the mantissa's logarithm to within
    /// 3e-6 (a 400th of a bucket).
    log2_mantissa: [[f64; 3]; 256],
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::LazyLock<Tables> = std::sync::LazyLock::new(|| {
        let edges = (0..BUCKETS - 1)
            .map(|i| {
                // Start at the exact edge and walk to the last value the
                // definition still puts in bucket `i` (a few ulps at most).
                let mut v = LogHistogram::upper(i);
                while reference_index(v) > i {
                    v = v.next_down();
                }
                while reference_index(v.next_up()) <= i {
                    v = v.next_up();
                }
                v
            })
            .chain(std::iter::once(f64::INFINITY))
            .collect();
        let mut log2_mantissa = [[0.0; 3]; 256];
        for (k, l) in log2_mantissa.iter_mut().enumerate() {
            let c = 1.0 + (k as f64 + 0.5) / 256.0;
            *l = [c, c.log2(), 1.0 / (c * std::f64::consts::LN_2)];
        }
        Tables {
            edges,
            log2_mantissa,
        }
    });
    &TABLES
}

/// A value's bucket in every [`LogHistogram`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket(usize);

impl Bucket {
    /// The bucket that holds `v`.
    pub fn of(v: f64) -> Bucket {
        Bucket(LogHistogram::index(v))
    }
}

/// A histogram of positive values (seconds) on a logarithmic grid.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHistogram {
    counts: Vec<u64>,
    total: u64,
    sum: f64,
    max: f64,
}

impl Default for LogHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LogHistogram {
    /// Empty.
    pub fn new() -> LogHistogram {
        LogHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0.0,
            max: 0.0,
        }
    }

    /// The bucket of `v`: `⌈128·log2(v / FLOOR)⌉` as computed in floating
    /// point (the definition, [`reference_index`]), found without a logarithm
    /// and, for all but about 1 % of values, without a memory access: the
    /// exponent plus the mantissa's tabulated logarithm and tangent give
    /// `y = 128·log2(v / FLOOR)` to within 4e-4, so unless `y` is within
    /// [`NEAR_EDGE`] of a whole number its ceiling is the bucket. Near an
    /// edge the table of bucket edges decides (a step when the guess was
    /// off). The edge table is 40 KiB; reading it on every call cost a cache
    /// miss a good part of the time.
    fn index(v: f64) -> usize {
        if v <= FLOOR || v.is_nan() {
            return 0; // NaN too, as the definition gives
        }
        let t = tables();
        let bits = v.to_bits();
        let exp = (bits >> 52) as i64 - 1023;
        let [c, log2_c, slope] = t.log2_mantissa[((bits >> 44) & 0xFF) as usize];
        let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
        let log2 = exp as f64 + log2_c + (m - c) * slope;
        let y = (log2 - LOG2_FLOOR) * PER_OCTAVE;
        // Signed: `i64 → f64` is one instruction, `usize → f64` several.
        let floor = y as i64;
        let frac = y - floor as f64;
        if frac > NEAR_EDGE && frac < 1.0 - NEAR_EDGE && (0..BUCKETS as i64 - 2).contains(&floor) {
            return floor as usize + 1;
        }
        let mut i = (floor.max(0) as usize + 1).min(BUCKETS - 1);
        while i < BUCKETS - 1 && v > t.edges[i] {
            i += 1;
        }
        while i > 0 && v <= t.edges[i - 1] {
            i -= 1;
        }
        i
    }

    fn upper(i: usize) -> f64 {
        FLOOR * (i as f64 / PER_OCTAVE).exp2()
    }

    /// Adds one value.
    pub fn record(&mut self, v: f64) {
        self.record_in(Bucket::of(v), v);
    }

    /// Adds one value whose bucket is known (one value recorded in several
    /// histograms is bucketed once).
    pub fn record_in(&mut self, b: Bucket, v: f64) {
        debug_assert_eq!(b, Bucket::of(v));
        self.counts[b.0] += 1;
        self.total += 1;
        self.sum += v;
        self.max = self.max.max(v);
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &LogHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            f64::NAN
        } else {
            self.sum / self.total as f64
        }
    }

    /// Largest value recorded (0 when empty).
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The `p`-th percentile (0–100), nearest rank, reported as the bucket's
    /// upper bound (never above the maximum); NaN when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.total == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // The last bucket is open-ended (failed requests are
                // recorded as +∞ there): its bound is the largest value,
                // never the bucket's finite edge.
                if i == BUCKETS - 1 {
                    return self.max;
                }
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }

    /// Values at or below `v` (bucket resolution: a value in the bucket
    /// that holds `v` counts as at or below it).
    pub fn count_at_most(&self, v: f64) -> u64 {
        self.counts[..=Self::index(v)].iter().sum()
    }

    /// Empties it (keeps the allocation).
    pub fn clear(&mut self) {
        if self.total > 0 {
            self.counts.iter_mut().for_each(|c| *c = 0);
        }
        self.total = 0;
        self.sum = 0.0;
        self.max = 0.0;
    }
}

/// The time integral of a piecewise-constant quantity (GPUs in use, nodes),
/// exact to the microsecond.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Integral {
    last: i64,
    value: f64,
    acc_us: f64,
}

impl Integral {
    /// Changes the value at `now`.
    pub fn set(&mut self, now: SimTime, value: f64) {
        self.advance(now);
        self.value = value;
    }

    /// Accumulates up to `now`.
    pub fn advance(&mut self, now: SimTime) {
        let t = now.as_micros();
        if t > self.last {
            self.acc_us += self.value * (t - self.last) as f64;
            self.last = t;
        }
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Value × hours up to the last advance.
    pub fn hours(&self) -> f64 {
        self.acc_us / 3.6e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_half_a_percent() {
        let mut h = LogHistogram::new();
        for i in 1..=1000 {
            h.record(f64::from(i) * 0.01);
        }
        for (p, want) in [(50.0, 5.0), (95.0, 9.5), (99.0, 9.9), (100.0, 10.0)] {
            let got = h.percentile(p);
            assert!(got >= want && got <= want * 1.0055, "p{p}: {got}");
        }
        assert_eq!(h.count_at_most(2.0), 200);
        let mut g = LogHistogram::new();
        g.merge(&h);
        assert_eq!(g.count(), 1000);
        h.clear();
        assert!(h.percentile(50.0).is_nan());
    }

    #[test]
    fn the_fast_index_is_the_definition() {
        let mut r = crate::rng::Stream::named(5, "buckets");
        // Around every edge, a few ulps either side.
        for i in 0..BUCKETS {
            let mut v = FLOOR * (i as f64 / PER_OCTAVE).exp2();
            for _ in 0..4 {
                v = v.next_down();
            }
            for _ in 0..9 {
                assert_eq!(LogHistogram::index(v), reference_index(v), "{v:e}");
                v = v.next_up();
            }
        }
        // Near every edge, on both sides of the estimate's cut-off
        // (`NEAR_EDGE`, in buckets).
        for i in 1..BUCKETS {
            for d in [5e-4, 2e-3, 3.8e-3, 4e-3, 4.5e-3, 1e-2, 0.3] {
                for y in [i as f64 - d, i as f64 + d] {
                    let v = FLOOR * (y / PER_OCTAVE).exp2();
                    assert_eq!(LogHistogram::index(v), reference_index(v), "{v:e}");
                }
            }
        }
        // Random values over the whole range and beyond.
        for _ in 0..1_000_000 {
            let v = (r.uniform() * 70.0 - 30.0).exp2();
            assert_eq!(LogHistogram::index(v), reference_index(v), "{v:e}");
        }
        for v in [0.0, -1.0, FLOOR, f64::INFINITY, f64::NAN, f64::MIN_POSITIVE] {
            assert_eq!(LogHistogram::index(v), reference_index(v), "{v:e}");
        }
    }

    #[test]
    fn integral_is_exact() {
        let mut i = Integral::default();
        i.set(SimTime::ZERO, 2.0);
        i.set(SimTime::from_secs(1800), 4.0);
        i.advance(SimTime::from_secs(3600));
        assert!((i.hours() - 3.0).abs() < 1e-12);
    }
}
