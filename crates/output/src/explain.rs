//! Text rendering of HPA decisions for `nimscale hpa explain`.

use std::fmt::Write;

use nimscale_core::hpa::controller::{ControllerConfig, Decision, Hpa, MetricStatus};
use serde_json::{Map, Value, json};

use crate::simulate::{jnum, opt_t, t};
use nimscale_core::hpa::spec::{MetricSpec, SelectPolicy};

/// One line describing the controller flags in force.
pub fn render_config(c: &ControllerConfig) -> String {
    format!(
        "controller: sync every {}s, tolerance {}, downscale stabilization {}s, cpu initialization {}s, initial readiness delay {}s{}",
        c.sync_period.as_secs(),
        c.tolerance,
        c.downscale_stabilization.as_secs(),
        c.cpu_initialization_period.as_secs(),
        c.initial_readiness_delay.as_secs(),
        if c.scale_to_zero {
            ", HPAScaleToZero on"
        } else {
            ""
        }
    )
}

fn milli(v: i64) -> String {
    if v % 1000 == 0 {
        format!("{}", v / 1000)
    } else {
        format!("{v}m")
    }
}

fn target_text(m: &MetricSpec) -> String {
    let t = match m {
        MetricSpec::Resource { target, .. }
        | MetricSpec::ContainerResource { target, .. }
        | MetricSpec::Pods { target, .. }
        | MetricSpec::Object { target, .. }
        | MetricSpec::External { target, .. } => target,
        MetricSpec::Unknown { .. } => return String::new(),
    };
    if let Some(v) = t.average_value_m {
        format!("target average {}", milli(v))
    } else if let Some(u) = t.average_utilization {
        format!("target {u}% of request")
    } else if let Some(v) = t.value_m {
        format!("target value {}", milli(v))
    } else {
        String::new()
    }
}

fn status_text(s: &MetricStatus) -> String {
    let mut parts = Vec::new();
    if let Some(u) = s.average_utilization {
        parts.push(format!("{u}% of request"));
    }
    if let Some(v) = s.average_value_m {
        parts.push(format!("average {}", milli(v)));
    }
    if let Some(v) = s.value_m {
        parts.push(format!("value {}", milli(v)));
    }
    parts.join(", ")
}

/// A short description of the HPA: bounds, path and behavior.
pub fn render_hpa(h: &Hpa) -> String {
    let s = &h.spec;
    let mut out = format!(
        "hpa {}/{}: replicas {}..{}, {} metric(s), ",
        h.namespace,
        h.name,
        s.min_replicas,
        s.max_replicas,
        s.metrics.len()
    );
    match &s.behavior {
        None => out.push_str("no behavior (legacy path: scale-up ≤ max(2×current, 4) per sync, downscale window from the controller flag)"),
        Some(b) => {
            let e = b.effective();
            let pol = |r: &nimscale_core::hpa::spec::EffectiveRules| {
                if r.select_policy == SelectPolicy::Disabled {
                    return "disabled".to_string();
                }
                let ps: Vec<String> = r
                    .policies
                    .iter()
                    .map(|p| format!("{} {}/{}s", p.type_.as_str(), p.value, p.period_seconds))
                    .collect();
                format!("{} of [{}]", r.select_policy.as_str(), ps.join(", "))
            };
            let win = |w: Option<i32>| w.map_or("controller default".to_string(), |w| format!("{w}s"));
            let _ = write!(
                out,
                "behavior: up window {} {}; down window {} {}",
                win(e.scale_up.stabilization_window_seconds),
                pol(&e.scale_up),
                win(e.scale_down.stabilization_window_seconds),
                pol(&e.scale_down)
            );
        }
    }
    out
}

/// The decision of one sync, with every reason.
pub fn render_decision(d: &Decision, h: &Hpa) -> String {
    let mut o = String::new();
    let verdict = if d.rescale {
        if d.desired_replicas > d.current_replicas {
            "scale up"
        } else {
            "scale down"
        }
    } else if d.failed {
        "no change (metrics failed)"
    } else {
        "no change"
    };
    let _ = writeln!(
        o,
        "t={}  replicas {} -> {}  ({verdict})",
        d.now, d.current_replicas, d.desired_replicas
    );
    for (i, m) in d.metrics.iter().enumerate() {
        let spec = &h.spec.metrics[i];
        let name = if m.name.is_empty() {
            h.spec.metric_display_name(i)
        } else {
            m.name.clone()
        };
        match &m.error {
            Some(e) => {
                let _ = writeln!(o, "  metric {}: FAILED: {e}", i + 1);
            }
            None => {
                let st = d
                    .metric_statuses
                    .get(i)
                    .map(status_text)
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  metric {}: {name}: {st} ({}) -> proposes {}",
                    i + 1,
                    target_text(spec),
                    m.replicas
                );
            }
        }
    }
    if d.metrics_computed && !d.failed {
        let _ = writeln!(
            o,
            "  proposal {} from {} (tolerance -{} / +{})",
            d.metric_desired_replicas,
            if d.metric_name.is_empty() {
                "no metric"
            } else {
                &d.metric_name
            },
            d.tolerances.scale_down,
            d.tolerances.scale_up
        );
    }
    if let Some(n) = &d.normalization {
        let _ = writeln!(
            o,
            "  stabilization: {} -> {} ({}: {})",
            n.proposal,
            n.stabilized,
            n.stabilize_reason.as_str(),
            n.stabilize_reason.message()
        );
        let _ = writeln!(
            o,
            "  limits: {} -> {} ({}: {})",
            n.stabilized,
            n.limited,
            n.limit_reason.as_str(),
            n.limit_reason.message()
        );
    }
    if !d.rescale_reason.is_empty() && d.rescale {
        let _ = writeln!(o, "  reason: {}", d.rescale_reason);
    }
    if let Some(e) = &d.error {
        let _ = writeln!(o, "  error: {e}");
    }
    for c in &d.conditions {
        let _ = writeln!(
            o,
            "  condition {}={} {}: {}",
            c.type_.as_str(),
            c.status.as_str(),
            c.reason,
            c.message
        );
    }
    for e in &d.events {
        let _ = writeln!(
            o,
            "  event {} {}: {}",
            e.type_.as_str(),
            e.reason,
            e.message
        );
    }
    o
}

/// A decision's fields as `decisions.jsonl` and `hpa explain --json` write
/// them (everything but the per-metric list, which each adds in its own
/// terms): time, replicas, the rescale and its reason, normalization,
/// conditions, events, error.
pub fn decision_core(d: &Decision) -> Map<String, Value> {
    let norm = d.normalization.as_ref().map(|n| {
        json!({
            "proposal": n.proposal,
            "stabilized": n.stabilized,
            "limited": n.limited,
            "stabilizeReason": n.stabilize_reason.as_str(),
            "limitReason": n.limit_reason.as_str(),
        })
    });
    let conditions: Vec<Value> = (d.conditions.iter())
        .map(|c| {
            json!({
                "type": c.type_.as_str(),
                "status": c.status.as_str(),
                "reason": c.reason,
                "message": c.message,
            })
        })
        .collect();
    let events: Vec<Value> = (d.events.iter())
        .map(|e| json!({"type": e.type_.as_str(), "reason": e.reason, "message": e.message}))
        .collect();
    let mut o = Map::new();
    o.insert("t_s".into(), t(d.now));
    o.insert("currentReplicas".into(), json!(d.current_replicas));
    o.insert("desiredReplicas".into(), json!(d.desired_replicas));
    o.insert("rescale".into(), json!(d.rescale));
    o.insert("rescaleReason".into(), json!(d.rescale_reason));
    o.insert(
        "metricDesiredReplicas".into(),
        json!(d.metric_desired_replicas),
    );
    o.insert("metricName".into(), json!(d.metric_name));
    o.insert("normalization".into(), norm.unwrap_or(Value::Null));
    o.insert("conditions".into(), Value::Array(conditions));
    o.insert("events".into(), Value::Array(events));
    o.insert("error".into(), json!(d.error));
    o
}

/// What held a scale-down back, as `hpa explain` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldBack {
    /// The count the HPA was held at.
    pub replicas: i32,
    /// The holding recommendation's count and time.
    pub by: (i32, nimscale_core::time::SimTime),
    /// When it leaves the stabilization window.
    pub until: nimscale_core::time::SimTime,
    /// The window.
    pub window: nimscale_core::time::SimDuration,
}

/// The line `hpa explain` prints for a held scale-down.
pub fn render_held(h: &HeldBack) -> String {
    format!(
        "  held: scale-down stopped at {} by the recommendation of {} made at t={}; it leaves the {}s stabilization window at t={}, the first sync from then may go lower\n",
        h.replicas,
        h.by.0,
        h.by.1,
        h.window.as_secs_f64(),
        h.until
    )
}

/// One `hpa explain --json` line: the decision, each metric's outcome and
/// status, and what held a scale-down back.
pub fn explain_json(d: &Decision, held: Option<&HeldBack>) -> Value {
    let mut o = decision_core(d);
    let metrics: Vec<Value> = (d.metrics.iter())
        .enumerate()
        .map(|(i, m)| {
            let status = d.metric_statuses.get(i);
            json!({
                "name": m.name,
                "proposal": m.replicas,
                "sampledAt": opt_t(m.timestamp),
                "error": m.error,
                "averageUtilization": status.and_then(|s| s.average_utilization),
                "averageValue": status.and_then(|s| s.average_value_m).map(|v| jnum(v as f64 / 1000.0)),
                "value": status.and_then(|s| s.value_m).map(|v| jnum(v as f64 / 1000.0)),
            })
        })
        .collect();
    o.insert("metrics".into(), Value::Array(metrics));
    o.insert(
        "heldBack".into(),
        held.map_or(Value::Null, |h| {
            json!({
                "replicas": h.replicas,
                "byRecommendation": h.by.0,
                "recommendedAt_s": t(h.by.1),
                "until_s": t(h.until),
                "window_s": jnum(h.window.as_secs_f64()),
            })
        }),
    );
    Value::Object(o)
}
