//! Instant-query evaluation over a [`Tsdb`], following Prometheus'
//! `promql/engine.go` and `functions.go`: selection windows, staleness,
//! `extrapolatedRate`, aggregation order and float arithmetic.
//!
//! Two versions differ (promql-increase.md): 3.x selects `(T−r, T]` and
//! clamps a counter's extrapolation to zero *after* the half-interval rule,
//! sums with Kahan–Neumaier compensation; 2.x (as in Debian's 2.42) selects
//! `[T−r, T]`, clamps *before* the half-interval rule, and sums plainly.

use std::collections::BTreeMap;
use std::fmt;

use super::ast::{AggOp, BinOp, Expr, Func, Selector, VectorMatching};
use crate::metrics::labels::{Labels, NAME};
use crate::metrics::tsdb::{Tsdb, is_stale};

/// Which Prometheus release's rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PromVersion {
    /// 2.x (2.50 and older: closed windows, zero clamp first, plain sums).
    V2,
    /// 3.x (left-open windows; the current default).
    #[default]
    V3,
}

/// Evaluation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// Version rules.
    pub version: PromVersion,
    /// `--query.lookback-delta` in milliseconds (5 m).
    pub lookback_ms: i64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            version: PromVersion::V3,
            lookback_ms: 300_000,
        }
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Labels.
    pub labels: Labels,
    /// Value.
    pub value: f64,
}

/// A query result.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Sample>),
}

/// An evaluation error (Prometheus' wording where it has one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

/// What an evaluation read, besides its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// Timestamp (ms) of the newest sample any selector used.
    pub newest_ms: Option<i64>,
}

struct Ctx<'a> {
    db: &'a Tsdb,
    t: i64,
    opts: EvalOptions,
    reads: Reads,
}

/// Evaluates `expr` as an instant query at `t_ms`.
pub fn eval_instant(
    db: &Tsdb,
    expr: &Expr,
    t_ms: i64,
    opts: EvalOptions,
) -> Result<(Value, Reads), EvalError> {
    let mut cx = Ctx {
        db,
        t: t_ms,
        opts,
        reads: Reads::default(),
    };
    let v = cx.eval(expr)?;
    Ok((v, cx.reads))
}

struct Range {
    labels: Labels,
    points: Vec<(i64, f64)>,
}

/// Go's `time.Duration.Seconds()` for a whole number of milliseconds.
fn duration_secs(ms: i64) -> f64 {
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

impl Ctx<'_> {
    fn note(&mut self, t: i64) {
        self.reads.newest_ms = Some(self.reads.newest_ms.map_or(t, |n| n.max(t)));
    }

    fn matching_series(&self, sel: &Selector) -> Vec<u32> {
        self.db
            .candidates(sel.name.as_deref())
            .into_iter()
            .filter(|id| {
                self.db.get(*id).is_some_and(|s| {
                    sel.matchers
                        .iter()
                        .all(|m| m.matches(s.labels.get(&m.name)))
                })
            })
            .collect()
    }

    fn select_vector(&mut self, sel: &Selector) -> Vec<Sample> {
        let ref_t = self.t.saturating_sub(sel.offset_ms);
        let min_t = ref_t.saturating_sub(self.opts.lookback_ms);
        let mut out = Vec::new();
        for id in self.matching_series(sel) {
            let Some(s) = self.db.get(id) else { continue };
            let samples = s.samples();
            let idx = samples.partition_point(|(t, _)| *t <= ref_t);
            if idx == 0 {
                continue;
            }
            let (t, v) = samples[idx - 1];
            let inside = match self.opts.version {
                PromVersion::V3 => t > min_t,
                PromVersion::V2 => t >= min_t,
            };
            if !inside || is_stale(v) {
                continue;
            }
            self.note(t);
            out.push(Sample {
                labels: s.labels.clone(),
                value: v,
            });
        }
        out
    }

    fn select_matrix(&mut self, sel: &Selector, range: i64) -> Vec<Range> {
        let ref_t = self.t.saturating_sub(sel.offset_ms);
        let min_t = ref_t.saturating_sub(range);
        let mut out = Vec::new();
        for id in self.matching_series(sel) {
            let Some(s) = self.db.get(id) else { continue };
            let samples = s.samples();
            let lo = match self.opts.version {
                PromVersion::V3 => samples.partition_point(|(t, _)| *t <= min_t),
                PromVersion::V2 => samples.partition_point(|(t, _)| *t < min_t),
            };
            let hi = samples.partition_point(|(t, _)| *t <= ref_t);
            let points: Vec<(i64, f64)> = samples
                .range(lo..hi.max(lo))
                .filter(|(_, v)| !is_stale(*v))
                .copied()
                .collect();
            if let Some((t, _)) = points.last() {
                self.note(*t);
                out.push(Range {
                    labels: s.labels.clone(),
                    points,
                });
            }
        }
        out
    }

    fn scalar(&mut self, e: &Expr) -> Result<f64, EvalError> {
        match self.eval(e)? {
            Value::Scalar(s) => Ok(s),
            Value::Vector(_) => Err(EvalError("expected a scalar".into())),
        }
    }

    fn vector(&mut self, e: &Expr) -> Result<Vec<Sample>, EvalError> {
        match self.eval(e)? {
            Value::Vector(v) => Ok(v),
            Value::Scalar(_) => Err(EvalError("expected an instant vector".into())),
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        Ok(match e {
            Expr::Number(n) => Value::Scalar(*n),
            Expr::Paren(e) => self.eval(e)?,
            Expr::Vector(sel) => Value::Vector(self.select_vector(sel)),
            Expr::Matrix(..) => {
                return Err(EvalError(
                    "a range vector cannot be the result of an instant query here".into(),
                ));
            }
            Expr::Neg(e) => match self.eval(e)? {
                Value::Scalar(s) => Value::Scalar(-s),
                Value::Vector(v) => Value::Vector(
                    v.into_iter()
                        .map(|s| Sample {
                            labels: s.labels.without_name(),
                            value: -s.value,
                        })
                        .collect(),
                ),
            },
            Expr::Call(f, args) => self.call(*f, args)?,
            Expr::Aggregate {
                op,
                without,
                grouping,
                expr,
            } => {
                let v = self.vector(expr)?;
                Value::Vector(self.aggregate(*op, *without, grouping, v))
            }
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                binary(*op, l, r, *return_bool, matching.as_ref())?
            }
        })
    }

    fn aggregate(
        &self,
        op: AggOp,
        without: bool,
        grouping: &[String],
        v: Vec<Sample>,
    ) -> Vec<Sample> {
        struct Group {
            labels: Labels,
            value: f64,
            c: f64,
            mean: f64,
            count: f64,
        }
        let names: Vec<&str> = grouping.iter().map(String::as_str).collect();
        let mut order: Vec<Group> = Vec::new();
        let mut index: BTreeMap<Labels, usize> = BTreeMap::new();
        let v3 = self.opts.version == PromVersion::V3;
        for s in v {
            let key = if without {
                let mut drop = names.clone();
                drop.push(NAME);
                s.labels.without(&drop)
            } else {
                s.labels.keep(&names)
            };
            let f = s.value;
            let Some(&i) = index.get(&key) else {
                index.insert(key.clone(), order.len());
                order.push(Group {
                    labels: key,
                    value: f,
                    c: 0.0,
                    mean: f,
                    count: 1.0,
                });
                continue;
            };
            let g = &mut order[i];
            g.count += 1.0;
            match op {
                AggOp::Sum if v3 => (g.value, g.c) = kahan_inc(f, g.value, g.c),
                AggOp::Sum => g.value += f,
                AggOp::Avg if v3 => (g.value, g.c) = kahan_inc(f, g.value, g.c),
                AggOp::Avg => {
                    if g.mean.is_infinite() {
                        if f.is_infinite() && (g.mean > 0.0) == (f > 0.0) {
                            continue;
                        }
                        if !f.is_infinite() && !f.is_nan() {
                            continue;
                        }
                    }
                    g.mean += f / g.count - g.mean / g.count;
                }
                AggOp::Max => {
                    if g.value < f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggOp::Min => {
                    if g.value > f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggOp::Count => {}
            }
        }
        order
            .into_iter()
            .map(|g| Sample {
                value: match op {
                    AggOp::Sum if v3 => g.value + g.c,
                    AggOp::Avg if v3 => g.value / g.count + g.c / g.count,
                    AggOp::Avg => g.mean,
                    AggOp::Count => g.count,
                    _ => g.value,
                },
                labels: g.labels,
            })
            .collect()
    }

    fn call(&mut self, f: Func, args: &[Expr]) -> Result<Value, EvalError> {
        let range_arg = |args: &[Expr]| match args.first() {
            Some(Expr::Matrix(sel, r)) => Some((sel.clone(), *r)),
            _ => None,
        };
        match f {
            Func::Rate | Func::Increase | Func::Delta | Func::Irate => {
                let Some((sel, range)) = range_arg(args) else {
                    return Err(EvalError(format!("{f:?} needs a range vector selector")));
                };
                let ranges = self.select_matrix(&sel, range);
                let mut out = Vec::new();
                for r in ranges {
                    let v = match f {
                        Func::Irate => instant_rate(&r.points),
                        _ => extrapolated_rate(
                            &r.points,
                            self.t.saturating_sub(sel.offset_ms).saturating_sub(range),
                            self.t.saturating_sub(sel.offset_ms),
                            range,
                            f != Func::Delta,
                            f == Func::Rate,
                            self.opts.version,
                        ),
                    };
                    if let Some(v) = v {
                        out.push(Sample {
                            labels: r.labels.without_name(),
                            value: v,
                        });
                    }
                }
                Ok(Value::Vector(out))
            }
            Func::AvgOverTime
            | Func::MaxOverTime
            | Func::MinOverTime
            | Func::SumOverTime
            | Func::CountOverTime => {
                let Some((sel, range)) = range_arg(args) else {
                    return Err(EvalError(format!("{f:?} needs a range vector selector")));
                };
                let v3 = self.opts.version == PromVersion::V3;
                let out = self
                    .select_matrix(&sel, range)
                    .into_iter()
                    .map(|r| Sample {
                        labels: r.labels.without_name(),
                        value: over_time(f, &r.points, v3),
                    })
                    .collect();
                Ok(Value::Vector(out))
            }
            Func::HistogramQuantile => {
                let q = self.scalar(&args[0])?;
                let v = self.vector(&args[1])?;
                Ok(Value::Vector(histogram_quantile(q, v, self.opts.version)))
            }
            Func::ClampMin | Func::ClampMax | Func::Clamp => {
                let v = self.vector(&args[0])?;
                let a = self.scalar(&args[1])?;
                let (lo, hi) = match f {
                    Func::ClampMin => (a, f64::INFINITY),
                    Func::ClampMax => (f64::NEG_INFINITY, a),
                    _ => (a, self.scalar(&args[2])?),
                };
                if f == Func::Clamp && hi < lo {
                    return Ok(Value::Vector(Vec::new()));
                }
                Ok(Value::Vector(map_values(v, |x| {
                    // Go: math.Max(min, math.Min(max, v)).
                    go_max(lo, go_min(hi, x))
                })))
            }
            Func::Abs => Ok(Value::Vector(map_values(self.vector(&args[0])?, f64::abs))),
            Func::Ceil => Ok(Value::Vector(map_values(self.vector(&args[0])?, f64::ceil))),
            Func::Floor => Ok(Value::Vector(map_values(
                self.vector(&args[0])?,
                f64::floor,
            ))),
            Func::Sqrt => Ok(Value::Vector(map_values(self.vector(&args[0])?, f64::sqrt))),
            Func::Exp => Ok(Value::Vector(map_values(self.vector(&args[0])?, f64::exp))),
            Func::Ln => Ok(Value::Vector(map_values(self.vector(&args[0])?, f64::ln))),
            Func::Vector => {
                let s = self.scalar(&args[0])?;
                Ok(Value::Vector(vec![Sample {
                    labels: Labels::default(),
                    value: s,
                }]))
            }
            Func::Scalar => {
                let v = self.vector(&args[0])?;
                Ok(Value::Scalar(if v.len() == 1 {
                    v[0].value
                } else {
                    f64::NAN
                }))
            }
            Func::Time => Ok(Value::Scalar(self.t as f64 / 1000.0)),
        }
    }
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn map_values(v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .map(|s| Sample {
            labels: s.labels.without_name(),
            value: f(s.value),
        })
        .collect()
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
fn instant_rate(p: &[(i64, f64)]) -> Option<f64> {
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

fn over_time(f: Func, p: &[(i64, f64)], v3: bool) -> f64 {
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
fn histogram_quantile(q: f64, v: Vec<Sample>, version: PromVersion) -> Vec<Sample> {
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
fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
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

fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Gtr => (l, l > r),
        BinOp::Lss => (l, l < r),
        BinOp::Gte => (l, l >= r),
        BinOp::Lte => (l, l <= r),
    }
}

fn signature(l: &Labels, m: Option<&VectorMatching>) -> Labels {
    match m {
        Some(VectorMatching { on: true, labels }) => {
            let names: Vec<&str> = labels.iter().map(String::as_str).collect();
            l.keep(&names)
        }
        Some(VectorMatching { on: false, labels }) => {
            let mut names: Vec<&str> = labels.iter().map(String::as_str).collect();
            names.push(NAME);
            l.without(&names)
        }
        None => l.without_name(),
    }
}

fn binary(
    op: BinOp,
    l: Value,
    r: Value,
    return_bool: bool,
    matching: Option<&VectorMatching>,
) -> Result<Value, EvalError> {
    let drop_name = !op.is_comparison() || return_bool;
    let finish = |labels: &Labels, v: f64, keep: bool| -> Option<Sample> {
        let (v, keep) = if return_bool {
            (if keep { 1.0 } else { 0.0 }, true)
        } else {
            (v, keep)
        };
        keep.then(|| Sample {
            labels: if drop_name {
                labels.without_name()
            } else {
                labels.clone()
            },
            value: v,
        })
    };
    Ok(match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => {
            let (v, keep) = elem(op, a, b);
            Value::Scalar(if return_bool {
                if keep { 1.0 } else { 0.0 }
            } else {
                v
            })
        }
        (Value::Vector(v), Value::Scalar(s)) => Value::Vector(
            v.iter()
                .filter_map(|x| {
                    let (val, keep) = elem(op, x.value, s);
                    finish(&x.labels, val, keep)
                })
                .collect(),
        ),
        (Value::Scalar(s), Value::Vector(v)) => Value::Vector(
            v.iter()
                .filter_map(|x| {
                    let (mut val, keep) = elem(op, s, x.value);
                    if op.is_comparison() {
                        val = x.value;
                    }
                    finish(&x.labels, val, keep)
                })
                .collect(),
        ),
        (Value::Vector(lv), Value::Vector(rv)) => {
            let mut right: BTreeMap<Labels, &Sample> = BTreeMap::new();
            for s in &rv {
                let sig = signature(&s.labels, matching);
                if right.insert(sig.clone(), s).is_some() {
                    return Err(EvalError(format!(
                        "found duplicate series for the match group {sig} on the right hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side"
                    )));
                }
            }
            let mut matched: BTreeMap<Labels, ()> = BTreeMap::new();
            let mut out: Vec<Sample> = Vec::new();
            let mut seen: BTreeMap<Labels, ()> = BTreeMap::new();
            for ls in &lv {
                let sig = signature(&ls.labels, matching);
                let Some(rs) = right.get(&sig) else { continue };
                let (val, keep) = elem(op, ls.value, rs.value);
                if matched.insert(sig.clone(), ()).is_some() {
                    return Err(EvalError(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                let mut labels = ls.labels.clone();
                if let Some(m) = matching {
                    let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
                    labels = if m.on {
                        labels.keep(&names)
                    } else {
                        labels.without(&names)
                    };
                }
                if let Some(s) = finish(&labels, val, keep) {
                    if seen.insert(s.labels.clone(), ()).is_some() {
                        return Err(EvalError(
                            "vector cannot contain metrics with the same labelset".into(),
                        ));
                    }
                    out.push(s);
                }
            }
            Value::Vector(out)
        }
    })
}

#[cfg(test)]
mod tests;
