//! Prometheus' range and quantile functions over float samples, one for one
//! with `promql/functions.go` and `promql/quantile.go`: `extrapolatedRate`
//! (promql-increase.md §2), `instantValue`, the `*_over_time` family with
//! Kahan–Neumaier summation, `histogram_quantile` and Go's float parsing.

use std::collections::BTreeMap;

use super::ast::Func;
use super::eval::{PromVersion, Sample};
use crate::metrics::labels::{Labels, NAME};

/// Go's `time.Duration.Seconds()` for a whole number of milliseconds.
pub(crate) fn duration_secs(ms: i64) -> f64 {
    let ns = ms as i128 * 1_000_000;
    let sec = ns / 1_000_000_000;
    let nsec = ns % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

/// Kahan–Neumaier step as Prometheus' `kahanSumInc`.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Prometheus' `extrapolatedRate` for float samples (promql-increase.md §2).
pub fn extrapolated_rate(
    p: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
    version: PromVersion,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (t0, v0) = p[0];
    let (tn, vn) = p[p.len() - 1];
    let mut result = vn - v0;
    if is_counter {
        match version {
            PromVersion::V2 => {
                let mut last = 0.0;
                for &(_, v) in p {
                    if v < last {
                        result += last;
                    }
                    last = v;
                }
            }
            PromVersion::V3 => {
                let mut prev = v0;
                for &(_, v) in &p[1..] {
                    if v < prev {
                        result += prev;
                    }
                    prev = v;
                }
            }
        }
    }
    let mut d_start = (t0 - range_start) as f64 / 1000.0;
    let mut d_end = (range_end - tn) as f64 / 1000.0;
    let sampled = (tn - t0) as f64 / 1000.0;
    let avg = sampled / (p.len() - 1) as f64;
    let threshold = avg * 1.1;
    match version {
        PromVersion::V2 => {
            if is_counter && result > 0.0 && v0 >= 0.0 {
                let d_zero = sampled * (v0 / result);
                if d_zero < d_start {
                    d_start = d_zero;
                }
            }
            let mut ext = sampled;
            ext += if d_start < threshold {
                d_start
            } else {
                avg / 2.0
            };
            ext += if d_end < threshold { d_end } else { avg / 2.0 };
            // The factor is divided by the range before it multiplies the
            // change (checked bit for bit against promtool 2.42).
            let mut factor = ext / sampled;
            if is_rate {
                factor /= duration_secs(range_ms);
            }
            Some(result * factor)
        }
        PromVersion::V3 => {
            if d_start >= threshold {
                d_start = avg / 2.0;
            }
            if is_counter && result > 0.0 && v0 >= 0.0 {
                let d_zero = sampled * (v0 / result);
                if d_zero < d_start {
                    d_start = d_zero;
                }
            }
            if d_end >= threshold {
                d_end = avg / 2.0;
            }
            let mut factor = (sampled + d_start + d_end) / sampled;
            if is_rate {
                factor /= duration_secs(range_ms);
            }
            Some(result * factor)
        }
    }
}

/// `irate`: the last two samples, a decrease read as a reset.
pub(crate) fn instant_rate(p: &[(i64, f64)]) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (t1, v1) = p[p.len() - 1];
    let (t0, v0) = p[p.len() - 2];
    let d = if v1 < v0 { v1 } else { v1 - v0 };
    let dt = t1 - t0;
    if dt == 0 {
        return None;
    }
    Some(d / (dt as f64 / 1000.0))
}

pub(crate) fn over_time(f: Func, p: &[(i64, f64)], v3: bool) -> f64 {
    match f {
        Func::CountOverTime => p.len() as f64,
        Func::MaxOverTime => p.iter().fold(
            p[0].1,
            |m, (_, v)| {
                if *v > m || m.is_nan() { *v } else { m }
            },
        ),
        Func::MinOverTime => p.iter().fold(
            p[0].1,
            |m, (_, v)| {
                if *v < m || m.is_nan() { *v } else { m }
            },
        ),
        Func::SumOverTime => {
            let (mut sum, mut c) = (0.0, 0.0);
            for (_, v) in p {
                (sum, c) = kahan_inc(*v, sum, c);
            }
            if sum.is_infinite() { sum } else { sum + c }
        }
        _ if v3 => {
            let (mut sum, mut count, mut mean, mut c) = (p[0].1, 1.0, 0.0, 0.0);
            let mut incremental = false;
            for (i, (_, v)) in p[1..].iter().enumerate() {
                count = (i + 2) as f64;
                if !incremental {
                    let (ns, nc) = kahan_inc(*v, sum, c);
                    if !ns.is_infinite() {
                        (sum, c) = (ns, nc);
                        continue;
                    }
                    incremental = true;
                    mean = sum / (count - 1.0);
                    c /= count - 1.0;
                }
                let q = (count - 1.0) / count;
                (mean, c) = kahan_inc(v / count, q * mean, q * c);
            }
            if incremental {
                mean + c
            } else {
                sum / count + c / count
            }
        }
        _ => {
            let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
            for (_, v) in p {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (*v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                (mean, c) = kahan_inc(v / count - mean / count, mean, c);
            }
            if mean.is_infinite() { mean } else { mean + c }
        }
    }
}

/// Parses a float as Go's `strconv.ParseFloat` does for the values
/// Prometheus meets in `le` labels.
pub fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity") {
        return Some(if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body == "nan" && body.len() == lower.len() {
        return Some(f64::NAN);
    }
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse().ok()
}

/// `histogram_quantile` over classic buckets (`le` labels).
pub(crate) fn histogram_quantile(q: f64, v: Vec<Sample>, version: PromVersion) -> Vec<Sample> {
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    let mut index: BTreeMap<Labels, usize> = BTreeMap::new();
    for s in v {
        let Some(ub) = parse_go_float(s.labels.get("le")) else {
            continue;
        };
        let key = s.labels.without(&[NAME, "le"]);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((ub, s.value));
    }
    groups
        .into_iter()
        .map(|(labels, b)| Sample {
            labels,
            value: bucket_quantile(q, b, version),
        })
        .collect()
}

/// `bucketQuantile`: sort, require `+Inf`, merge equal bounds, force
/// monotonic counts, interpolate linearly inside the bucket.
pub fn bucket_quantile(q: f64, mut b: Vec<(f64, f64)>, version: PromVersion) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if !b.last().is_some_and(|x| x.0 == f64::INFINITY) {
        return f64::NAN;
    }
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(b.len());
    for (ub, c) in b {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    let mut b = merged;
    match version {
        PromVersion::V2 => {
            let mut max = f64::NEG_INFINITY;
            for x in b.iter_mut() {
                if x.1 > max {
                    max = x.1;
                } else if x.1 < max {
                    x.1 = max;
                }
            }
        }
        PromVersion::V3 => {
            let mut prev = b[0].1;
            for x in b.iter_mut().skip(1) {
                let curr = x.1;
                if curr == prev {
                    continue;
                }
                if almost_equal(prev, curr, 1e-12) || curr < prev {
                    x.1 = prev;
                    continue;
                }
                prev = curr;
            }
        }
    }
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = b.len() - 1;
    let idx = (0..n).find(|i| b[*i].1 >= rank).unwrap_or(n);
    if idx == n {
        return b[n - 1].0;
    }
    if idx == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let end = b[idx].0;
    let mut count = b[idx].1;
    let mut start = 0.0;
    if idx > 0 {
        start = b[idx - 1].0;
        count -= b[idx - 1].1;
        rank -= b[idx - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Prometheus' `almost.Equal`.
pub(crate) fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    if a == b {
        return true;
    }
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || (a.abs() + b.abs()) < min_normal {
        return diff < eps * min_normal;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < eps
}
