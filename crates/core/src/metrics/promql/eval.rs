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
use super::functions::{
    extrapolated_rate, go_max, go_min, histogram_quantile, instant_rate, kahan_inc, over_time,
};
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

fn map_values(v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .map(|s| Sample {
            labels: s.labels.without_name(),
            value: f(s.value),
        })
        .collect()
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
