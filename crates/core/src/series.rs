//! One bucketing rule for long per-second series: at most [`MAX_POINTS`]
//! buckets of whole seconds, each summarised by an [`Agg`]. Used by the
//! report's lines and by the sweep's per-point series.

/// Points per line at most: longer runs are drawn in buckets of whole
/// seconds, each summarised as its caption says.
pub const MAX_POINTS: usize = 720;

/// Seconds per bucket for `n` per-second rows.
pub fn bucket_len(n: usize) -> usize {
    n.div_ceil(MAX_POINTS).max(1)
}

/// How a bucket is summarised (NaN values are skipped, except by `Last`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    /// Mean.
    Mean,
    /// Largest.
    Max,
    /// Smallest.
    Min,
    /// The bucket's last value.
    Last,
}

/// `v` in buckets of `k` values.
pub fn aggregate(v: &[f64], k: usize, a: Agg) -> Vec<f64> {
    v.chunks(k.max(1))
        .map(|s| {
            let fin = s.iter().copied().filter(|x| x.is_finite());
            match a {
                Agg::Last => s.last().copied().unwrap_or(f64::NAN),
                Agg::Max => fin.reduce(f64::max).unwrap_or(f64::NAN),
                Agg::Min => fin.reduce(f64::min).unwrap_or(f64::NAN),
                Agg::Mean => {
                    let (sum, c) = fin.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
                    if c == 0 { f64::NAN } else { sum / c as f64 }
                }
            }
        })
        .collect()
}
