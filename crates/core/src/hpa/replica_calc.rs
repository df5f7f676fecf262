//! Per-metric replica proposals (`replica_calculator.go` and
//! `metrics/utilization.go`), hpa-algorithm §7.
//!
//! Every function returns a [`Proposal`] that carries, like upstream, the
//! numbers computed so far alongside an error. Arithmetic follows Go exactly:
//! `i64` sums wrap, integer division truncates, ratios are `f64`, and a
//! float→int conversion saturates (NaN → 0), which is the newer upstream
//! behaviour (PR #141397) the project targets.

use super::pods::{
    PodGroups, PodInfo, PodMetric, PodMetrics, PodMetricsList, ReadinessRules, calculate_requests,
    group_pods,
};
use crate::time::{SimDuration, SimTime};

/// Per-direction tolerances (`Tolerances`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Tolerated relative drop before scaling down.
    pub scale_down: f64,
    /// Tolerated relative rise before scaling up.
    pub scale_up: f64,
}

impl Tolerances {
    /// The same tolerance both ways.
    pub fn symmetric(t: f64) -> Self {
        Tolerances {
            scale_down: t,
            scale_up: t,
        }
    }
    /// `isWithin`: inclusive on both ends.
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// What a calculator needs besides the metric: clock, readiness rules,
/// feature gates, tolerances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CalcContext {
    /// The controller clock.
    pub now: SimTime,
    /// CPU readiness rules.
    pub readiness: ReadinessRules,
    /// The PodLevelResources feature gate.
    pub pod_level_resources: bool,
    /// Tolerances for this HPA.
    pub tolerances: Tolerances,
}

/// A per-metric result, with upstream's "values alongside an error" shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Proposal {
    /// Proposed replica count.
    pub replicas: i32,
    /// The usage reported in status (average value, total, or per-pod value), milli.
    pub usage_m: i64,
    /// Utilization percent (Resource Utilization targets only).
    pub utilization: i32,
    /// The metric timestamp (`None` = Go's zero time).
    pub timestamp: Option<SimTime>,
    /// Upstream's error text, if the computation failed.
    pub error: Option<String>,
}

impl Proposal {
    fn err(msg: String) -> Self {
        Proposal {
            error: Some(msg),
            ..Proposal::default()
        }
    }
}

/// `int32(math.Ceil(x))` with saturation.
pub fn ceil_i32(x: f64) -> i32 {
    x.ceil() as i32
}

/// `GetResourceUtilizationRatio`: `(ratio, utilization %, raw average)`.
fn utilization_ratio(
    metrics: &PodMetrics,
    requests: &std::collections::BTreeMap<String, i64>,
    target: i32,
) -> Result<(f64, i32, i64), String> {
    let mut metrics_total: i64 = 0;
    let mut requests_total: i64 = 0;
    let mut n: i64 = 0;
    for (pod, m) in metrics {
        let Some(r) = requests.get(pod) else { continue };
        metrics_total = metrics_total.wrapping_add(m.value_m);
        requests_total = requests_total.wrapping_add(*r);
        n += 1;
    }
    if requests_total == 0 {
        return Err("no metrics returned matched known pods".to_string());
    }
    let util = (metrics_total.wrapping_mul(100).wrapping_div(requests_total)) as i32;
    Ok((
        f64::from(util) / f64::from(target),
        util,
        metrics_total.wrapping_div(n),
    ))
}

/// `GetMetricUsageRatio`: `(ratio, average)` over every entry.
fn usage_ratio(metrics: &PodMetrics, target: i64) -> (f64, i64) {
    let total = metrics
        .values()
        .fold(0i64, |a, m| a.wrapping_add(m.value_m));
    let avg = total.wrapping_div(metrics.len() as i64);
    (avg as f64 / target as f64, avg)
}

fn zero_metric() -> PodMetric {
    PodMetric {
        value_m: 0,
        timestamp: super::pods::GO_ZERO_TIME,
        window: SimDuration::ZERO,
    }
}

fn with_value(v: i64) -> PodMetric {
    PodMetric {
        value_m: v,
        ..zero_metric()
    }
}

fn fetch(list: Result<&PodMetricsList, &str>, api: &str) -> Result<(PodMetrics, SimTime), String> {
    match list {
        Err(e) => Err(e.to_string()),
        Ok(l) if l.items.is_empty() => Err(format!("no metrics returned from {api} metrics API")),
        Ok(l) => Ok((l.to_map(), l.timestamp)),
    }
}

fn drop_metrics(metrics: &mut PodMetrics, g: &PodGroups) {
    for p in g.ignored.iter().chain(g.unready.iter()) {
        metrics.remove(p);
    }
}

/// `GetResourceReplicas`: Resource/ContainerResource with a Utilization target.
pub fn resource_utilization(
    cx: &CalcContext,
    current: i32,
    target_utilization: i32,
    resource: &str,
    container: &str,
    pods: &[PodInfo],
    metrics: Result<&PodMetricsList, &str>,
) -> Proposal {
    let (mut metrics, timestamp) = match fetch(metrics, "resource") {
        Ok(x) => x,
        Err(e) => {
            return Proposal::err(format!(
                "unable to get metrics for resource {resource}: {e}"
            ));
        }
    };
    if pods.is_empty() {
        return Proposal::err(
            "no pods returned by selector while calculating replica count".to_string(),
        );
    }
    let g = group_pods(pods, &metrics, resource, cx.readiness, cx.now);
    drop_metrics(&mut metrics, &g);
    if metrics.is_empty() {
        return Proposal::err(
            "did not receive metrics for targeted pods (pods might be unready)".to_string(),
        );
    }
    let requests = match calculate_requests(pods, container, resource, cx.pod_level_resources) {
        Ok(r) => r,
        Err(e) => return Proposal::err(e),
    };
    let (ratio, util, raw) = match utilization_ratio(&metrics, &requests, target_utilization) {
        Ok(x) => x,
        Err(e) => return Proposal::err(e),
    };
    let done = |replicas| Proposal {
        replicas,
        usage_m: raw,
        utilization: util,
        timestamp: Some(timestamp),
        error: None,
    };
    let up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !up_with_unready && g.missing.is_empty() {
        if cx.tolerances.is_within(ratio) {
            return done(current);
        }
        return done(ceil_i32(ratio * f64::from(g.ready_count)));
    }
    if !g.missing.is_empty() {
        if ratio < 1.0 {
            let fallback = i64::from(target_utilization.max(100));
            for p in &g.missing {
                let r = requests.get(p).copied().unwrap_or(0);
                metrics.insert(p.clone(), with_value(r.wrapping_mul(fallback) / 100));
            }
        } else if ratio > 1.0 {
            for p in &g.missing {
                metrics.insert(p.clone(), zero_metric());
            }
        }
    }
    if up_with_unready {
        for p in &g.unready {
            metrics.insert(p.clone(), zero_metric());
        }
    }
    let new_ratio = match utilization_ratio(&metrics, &requests, target_utilization) {
        Ok((r, _, _)) => r,
        Err(e) => {
            return Proposal {
                utilization: util,
                usage_m: raw,
                error: Some(e),
                ..Proposal::default()
            };
        }
    };
    done(rebalanced(cx, current, ratio, new_ratio, metrics.len()))
}

/// The common tail after missing/unready pods were filled in.
fn rebalanced(cx: &CalcContext, current: i32, ratio: f64, new_ratio: f64, n: usize) -> i32 {
    if cx.tolerances.is_within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return current;
    }
    let new_replicas = ceil_i32(new_ratio * n as f64);
    if (new_ratio < 1.0 && new_replicas > current) || (new_ratio > 1.0 && new_replicas < current) {
        return current;
    }
    new_replicas
}

/// `calcPlainMetricReplicas`: average-value targets over per-pod samples.
fn plain_metric(
    cx: &CalcContext,
    mut metrics: PodMetrics,
    current: i32,
    target: i64,
    pods: &[PodInfo],
    resource: &str,
) -> Result<(i32, i64), String> {
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".to_string());
    }
    let g = group_pods(pods, &metrics, resource, cx.readiness, cx.now);
    drop_metrics(&mut metrics, &g);
    if metrics.is_empty() {
        return Err(
            "did not receive metrics for targeted pods (pods might be unready)".to_string(),
        );
    }
    let (ratio, usage) = usage_ratio(&metrics, target);
    let up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !up_with_unready && g.missing.is_empty() {
        if cx.tolerances.is_within(ratio) {
            return Ok((current, usage));
        }
        return Ok((ceil_i32(ratio * f64::from(g.ready_count)), usage));
    }
    if !g.missing.is_empty() {
        if ratio < 1.0 {
            for p in &g.missing {
                metrics.insert(p.clone(), with_value(target));
            }
        } else if ratio > 1.0 {
            for p in &g.missing {
                metrics.insert(p.clone(), zero_metric());
            }
        }
    }
    if up_with_unready {
        for p in &g.unready {
            metrics.insert(p.clone(), zero_metric());
        }
    }
    let (new_ratio, _) = usage_ratio(&metrics, target);
    Ok((
        rebalanced(cx, current, ratio, new_ratio, metrics.len()),
        usage,
    ))
}

/// Upstream returns the fetched timestamp alongside a calculation error.
fn plain_result(r: Result<(i32, i64), String>, timestamp: SimTime) -> Proposal {
    match r {
        Ok((replicas, usage)) => Proposal {
            replicas,
            usage_m: usage,
            utilization: 0,
            timestamp: Some(timestamp),
            error: None,
        },
        Err(e) => Proposal {
            timestamp: Some(timestamp),
            ..Proposal::err(e)
        },
    }
}

/// `GetRawResourceReplicas`: Resource/ContainerResource with an AverageValue target.
pub fn resource_average_value(
    cx: &CalcContext,
    current: i32,
    target_m: i64,
    resource: &str,
    pods: &[PodInfo],
    metrics: Result<&PodMetricsList, &str>,
) -> Proposal {
    let (metrics, timestamp) = match fetch(metrics, "resource") {
        Ok(x) => x,
        Err(e) => {
            return Proposal::err(format!(
                "unable to get metrics for resource {resource}: {e}"
            ));
        }
    };
    plain_result(
        plain_metric(cx, metrics, current, target_m, pods, resource),
        timestamp,
    )
}

/// `GetMetricReplicas`: a Pods metric (AverageValue), no CPU readiness rules.
pub fn pods_metric(
    cx: &CalcContext,
    current: i32,
    target_m: i64,
    metric_name: &str,
    pods: &[PodInfo],
    metrics: Result<&PodMetricsList, &str>,
) -> Proposal {
    let (metrics, timestamp) = match fetch(metrics, "custom") {
        Ok(x) => x,
        Err(e) => return Proposal::err(format!("unable to get metric {metric_name}: {e}")),
    };
    plain_result(
        plain_metric(cx, metrics, current, target_m, pods, ""),
        timestamp,
    )
}

/// `getUsageRatioReplicaCount` (Object Value and External Value).
fn usage_ratio_replicas(
    cx: &CalcContext,
    current: i32,
    ratio: f64,
    pods: &[PodInfo],
) -> Result<i32, String> {
    if current == 0 {
        return Ok(ceil_i32(ratio));
    }
    if cx.tolerances.is_within(ratio) {
        return Ok(current);
    }
    if pods.is_empty() {
        return Err("unable to calculate ready pods: no pods returned by selector while calculating replica count".to_string());
    }
    let ready = pods.iter().filter(|p| p.is_running_and_ready()).count();
    Ok(ceil_i32(ratio * ready as f64))
}

/// Where an Object metric was fetched from, for error messages.
#[derive(Clone, Copy, Debug)]
pub struct ObjectContext<'a> {
    /// HPA namespace.
    pub namespace: &'a str,
    /// Described object's kind.
    pub kind: &'a str,
    /// Described object's name.
    pub name: &'a str,
}

fn object_fetch_error(metric_name: &str, obj: ObjectContext<'_>, e: &str) -> String {
    // Upstream's format string puts the arguments in this (odd) order.
    format!(
        "unable to get metric {metric_name}: {} on {} {}/{e}",
        obj.kind, obj.namespace, obj.name
    )
}

/// `GetObjectMetricReplicas`: Object metric with a Value target.
pub fn object_value(
    cx: &CalcContext,
    current: i32,
    target_m: i64,
    metric_name: &str,
    obj: ObjectContext<'_>,
    pods: &[PodInfo],
    value: Result<(i64, SimTime), &str>,
) -> Proposal {
    let usage = match value {
        Ok((v, _)) => v,
        Err(e) => return Proposal::err(object_fetch_error(metric_name, obj, e)),
    };
    let ratio = usage as f64 / target_m as f64;
    match usage_ratio_replicas(cx, current, ratio, pods) {
        Ok(replicas) => Proposal {
            replicas,
            usage_m: usage,
            utilization: 0,
            timestamp: None,
            error: None,
        },
        Err(e) => Proposal {
            usage_m: usage,
            ..Proposal::err(e)
        },
    }
}

/// `GetObjectPerPodMetricReplicas`: Object metric with an AverageValue target;
/// uses the *status* replica count.
pub fn object_average(
    cx: &CalcContext,
    status_replicas: i32,
    target_m: i64,
    metric_name: &str,
    obj: ObjectContext<'_>,
    value: Result<(i64, SimTime), &str>,
) -> Proposal {
    let (usage, ts) = match value {
        Ok(x) => x,
        Err(e) => return Proposal::err(object_fetch_error(metric_name, obj, e)),
    };
    per_pod(cx, status_replicas, target_m, usage, ts)
}

fn per_pod(
    cx: &CalcContext,
    status_replicas: i32,
    target_m: i64,
    usage: i64,
    ts: SimTime,
) -> Proposal {
    let mut replicas = status_replicas;
    let ratio = usage as f64 / (target_m as f64 * f64::from(status_replicas));
    if !cx.tolerances.is_within(ratio) {
        replicas = ceil_i32(usage as f64 / target_m as f64);
    }
    Proposal {
        replicas,
        usage_m: (usage as f64 / f64::from(status_replicas)).ceil() as i64,
        utilization: 0,
        timestamp: Some(ts),
        error: None,
    }
}

fn external_fetch(
    namespace: &str,
    metric_name: &str,
    selector: &str,
    values: Result<(&[i64], SimTime), &str>,
) -> Result<(Vec<i64>, SimTime), String> {
    let wrap = |e: &str| {
        format!("unable to get external metric {namespace}/{metric_name}/{selector}: {e}")
    };
    match values {
        Err(e) => Err(wrap(e)),
        Ok(([], _)) => Err(wrap("no metrics returned from external metrics API")),
        Ok((v, t)) => Ok((v.to_vec(), t)),
    }
}

/// `GetExternalMetricReplicas`: External metric with a Value target.
// The arguments mirror upstream's signature one for one.
/// `selector` is the Go rendering of the metric selector (see
/// [`super::selector::go_format_label_selector`]).
#[allow(clippy::too_many_arguments)]
pub fn external_value(
    cx: &CalcContext,
    current: i32,
    target_m: i64,
    metric_name: &str,
    namespace: &str,
    selector: &str,
    pods: &[PodInfo],
    values: Result<(&[i64], SimTime), &str>,
) -> Proposal {
    let (values, _) = match external_fetch(namespace, metric_name, selector, values) {
        Ok(x) => x,
        Err(e) => return Proposal::err(e),
    };
    let mut usage: i64 = 0;
    for v in values {
        if v > 0 && usage > i64::MAX - v {
            usage = i64::MAX;
            break;
        }
        usage = usage.wrapping_add(v);
    }
    let ratio = usage as f64 / target_m as f64;
    match usage_ratio_replicas(cx, current, ratio, pods) {
        Ok(replicas) => Proposal {
            replicas,
            usage_m: usage,
            utilization: 0,
            timestamp: None,
            error: None,
        },
        Err(e) => Proposal {
            usage_m: usage,
            ..Proposal::err(e)
        },
    }
}

/// `GetExternalPerPodMetricReplicas`: External metric with an AverageValue
/// target; uses the *status* replica count.
pub fn external_average(
    cx: &CalcContext,
    status_replicas: i32,
    target_m: i64,
    metric_name: &str,
    namespace: &str,
    selector: &str,
    values: Result<(&[i64], SimTime), &str>,
) -> Proposal {
    let (values, ts) = match external_fetch(namespace, metric_name, selector, values) {
        Ok(x) => x,
        Err(e) => return Proposal::err(e),
    };
    let mut usage: i64 = 0;
    for v in values {
        usage = usage.wrapping_add(v);
        if usage < 0 {
            usage = i64::MAX;
            break;
        }
    }
    let mut p = per_pod(cx, status_replicas, target_m, usage, ts);
    if usage as f64 >= 9_223_372_036_854_775_808.0 {
        p.usage_m = i64::MAX;
    }
    p
}
