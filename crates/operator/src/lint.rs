//! Warnings for specs the operator accepts but that behave differently from
//! what their authors usually expect. Each has a stable code and a short
//! explanation.

use crate::adapter::AdapterRules;
use crate::types::NimServiceSpec;

/// One lint finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    /// Stable identifier (`min-replicas-below-2`, …).
    pub code: &'static str,
    /// The field concerned.
    pub field: String,
    /// What is wrong and why it matters.
    pub message: String,
}

/// Settings the lint needs beyond the spec.
#[derive(Clone, Debug)]
pub struct LintContext {
    /// The HPA controller's sync period, seconds (`--horizontal-pod-autoscaler-sync-period`).
    pub hpa_sync_s: u32,
    /// Prometheus' global scrape interval used when the ServiceMonitor sets none, seconds.
    pub prometheus_default_scrape_s: u32,
    /// Whether the spec is meant for production (enables the replica-count advice).
    pub production: bool,
}

impl Default for LintContext {
    fn default() -> Self {
        LintContext {
            hpa_sync_s: 15,
            prometheus_default_scrape_s: 60,
            production: true,
        }
    }
}

/// A Prometheus duration (`30s`, `1m`, `1h30m`, `500ms`) in seconds.
pub fn prometheus_duration_s(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (unit, len) = ["ms", "y", "w", "d", "h", "m", "s"]
            .iter()
            .find(|u| rest.starts_with(**u))
            .map(|u| (*u, u.len()))?;
        total += value
            * match unit {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                "d" => 86400.0,
                "w" => 604_800.0,
                _ => 31_536_000.0,
            };
        rest = &rest[len..];
    }
    Some(total)
}

/// The scrape interval Prometheus will use for the NIMService's pods, seconds.
pub fn scrape_interval_s(spec: &NimServiceSpec, ctx: &LintContext) -> f64 {
    spec.metrics
        .as_ref()
        .and_then(|m| m.service_monitor.as_ref())
        .and_then(|s| s.interval.as_deref())
        .and_then(prometheus_duration_s)
        .unwrap_or(f64::from(ctx.prometheus_default_scrape_s))
}

/// Every range window `[W]` in a PromQL text, in seconds.
fn range_windows(query: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut rest = query;
    while let Some(i) = rest.find('[') {
        let after = &rest[i + 1..];
        if let Some(j) = after.find(']') {
            let w = &after[..j];
            if let Some(s) = prometheus_duration_s(w) {
                out.push((w.to_string(), s));
            }
            rest = &after[j..];
        } else {
            break;
        }
    }
    out
}

/// Lints a NIMService spec together with the adapter rules that serve its metrics.
pub fn lint(spec: &NimServiceSpec, rules: &AdapterRules, ctx: &LintContext) -> Vec<Lint> {
    let mut out = Vec::new();
    let mut add = |code, field: &str, message: String| {
        out.push(Lint {
            code,
            field: field.into(),
            message,
        })
    };
    let scrape = scrape_interval_s(spec, ctx);
    let hpa = spec
        .scale
        .as_ref()
        .filter(|s| s.enabled == Some(true))
        .and_then(|s| s.hpa.as_ref());
    if let Some(hpa) = hpa {
        let min = hpa.min_replicas.unwrap_or(1);
        if ctx.production && min < 2 {
            add(
                "min-replicas-below-2",
                "spec.scale.hpa.minReplicas",
                format!(
                    "minReplicas is {min}: one pod restart, node drain or rolling update (maxSurge 0) leaves no \
                     serving pod, and a new NIM pod takes minutes to become ready; use at least 2 in production"
                ),
            );
        }
        if hpa.behavior.is_none() {
            add(
                "no-behavior",
                "spec.scale.hpa.behavior",
                "no behavior: the HPA takes its legacy path (scale-up capped at max(2 x current, 4) per sync, \
                 scale-down stabilised by the controller's 5-minute flag); set behavior to choose the rates"
                    .into(),
            );
        }
        let mut custom = false;
        for (i, m) in hpa.metrics.iter().enumerate() {
            custom |= lint_metric(spec, i, m, &mut add);
        }
        if custom && !spec.metrics_enabled() {
            add(
                "custom-metric-without-servicemonitor",
                "spec.metrics.enabled",
                "the HPA uses custom metrics but metrics are off: no ServiceMonitor is created, so Prometheus \
                 may not scrape the NIM and the adapter has nothing to serve"
                    .into(),
            );
        }
        if custom && scrape > f64::from(ctx.hpa_sync_s) {
            add(
                "scrape-slower-than-hpa-sync",
                "spec.metrics.serviceMonitor.interval",
                format!(
                    "Prometheus scrapes every {scrape} s (the ServiceMonitor's interval, or Prometheus' default) \
                     but the HPA syncs every {} s: most syncs see the same stale sample, and reactions lag by up \
                     to a whole scrape interval",
                    ctx.hpa_sync_s
                ),
            );
        }
    }
    lint_rules(rules, scrape, &mut add);
    out
}

/// One HPA metric's lints; whether it is a custom metric (served by the
/// adapter).
fn lint_metric(
    spec: &NimServiceSpec,
    i: usize,
    m: &k8s_openapi::api::autoscaling::v2::MetricSpec,
    add: &mut dyn FnMut(&'static str, &str, String),
) -> bool {
    let field = format!("spec.scale.hpa.metrics[{i}]");
    let (name, target) = match m.type_.as_str() {
        "Object" => (
            m.object.as_ref().map(|o| o.metric.name.clone()),
            m.object.as_ref().map(|o| o.target.clone()),
        ),
        "Pods" => (
            m.pods.as_ref().map(|o| o.metric.name.clone()),
            m.pods.as_ref().map(|o| o.target.clone()),
        ),
        "External" => (
            m.external.as_ref().map(|o| o.metric.name.clone()),
            m.external.as_ref().map(|o| o.target.clone()),
        ),
        "Resource" => {
            if let Some(r) = &m.resource
                && r.target.type_ == "Utilization"
            {
                let requested = spec
                    .resources
                    .as_ref()
                    .and_then(|x| x.requests.as_ref())
                    .is_some_and(|q| q.contains_key(&r.name));
                if !requested {
                    add(
                        "utilization-without-request",
                        &field,
                        format!(
                            "{} Utilization is a percentage of the pod's {} request, and the spec requests \
                             none: the HPA reports FailedGetResourceMetric (missing request) and never scales",
                            r.name, r.name
                        ),
                    );
                }
            }
            (None, None)
        }
        _ => (None, None),
    };
    let (Some(name), Some(target)) = (name, target) else {
        return false;
    };
    let plain = name.strip_prefix("vllm_").unwrap_or(&name);
    if plain == "gpu_cache_usage_perc" || plain == "kv_cache_usage_perc" {
        let value = target.value.as_ref().or(target.average_value.as_ref());
        if let Some(q) = value
            && nimscale_core::quantity::Quantity::parse(&q.0).is_ok_and(|q| q.approx_f64() > 1.0)
        {
            add(
                "kv-cache-target-as-percent",
                &field,
                format!(
                    "{name} is a fraction 0..1 despite its name; a target of {} can never be reached, so \
                     the HPA never scales up (write 0.5 for half the KV cache)",
                    q.0
                ),
            );
        }
    }
    if m.type_ == "Object" && target.type_ == "Value" {
        add(
            "object-value-scales-by-ready-pods",
            &field,
            format!(
                "an Object metric with a Value target sets desired = ceil(ready pods x {name} / target): \
                 the metric must be an average over pods (as avg KV usage is); if it is a total (queue \
                 length, request rate), the HPA over-scales; use an AverageValue target for totals"
            ),
        );
    }
    true
}

/// The adapter rules' lints: range windows shorter than two scrapes.
fn lint_rules(rules: &AdapterRules, scrape: f64, add: &mut dyn FnMut(&'static str, &str, String)) {
    for rule in rules.rules.iter().chain(&rules.external_rules) {
        let q = rule
            .get("metricsQuery")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let name = rule
            .pointer("/name/as")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        for (w, secs) in range_windows(q) {
            if secs < 2.0 * scrape {
                add(
                    "range-window-too-short",
                    "adapter rule",
                    format!(
                        "the adapter rule for {name} uses [{w}] with a {scrape} s scrape interval: a window shorter \
                         than two scrapes often holds fewer than two samples, and increase()/rate() then return \
                         nothing, so the HPA sees no metric"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(prometheus_duration_s("30s"), Some(30.0));
        assert_eq!(prometheus_duration_s("1m30s"), Some(90.0));
        assert_eq!(prometheus_duration_s("500ms"), Some(0.5));
        assert_eq!(prometheus_duration_s("1x"), None);
        assert_eq!(range_windows("rate(a[1m]) + increase(b[30s])").len(), 2);
    }
}
