//! prometheus-adapter rules for the custom and external metrics a NIMService's
//! HPA uses. The operator creates none; without them the HPA reports
//! `FailedGetObjectMetric` / `FailedGetPodsMetric` and never scales.
//!
//! Recipes, keyed by the HPA's metric name (series names per dialect, from
//! the NIM metric catalogue):
//! - a NIM gauge by its own name (`gpu_cache_usage_perc`,
//!   `num_requests_running`, `num_requests_waiting`, and the `vllm:` names
//!   with `:` written as `_`): the gauge, averaged (usage) or summed (counts);
//! - `<histogram>_over_<X>s_fraction`: the fraction of requests slower than
//!   `X` seconds over the window, from `increase()` of the bucket at `le="X"`
//!   and of `_count` (the VLM guide's `e2e_request_latency_seconds_over_1s_fraction`);
//! - `<histogram>_p<NN>`: `histogram_quantile(0.NN, rate(_bucket[W]))`;
//! - `<counter>_per_second`: `rate(<counter>_total[W])`.

use serde_json::{Value, json};

use nimscale_core::engine::metrics::Dialect;
use nimscale_core::engine::names::{Meaning, interpret};

use crate::types::NimServiceSpec;

/// Where the adapter runs and how its queries are written.
#[derive(Clone, Debug)]
pub struct AdapterSettings {
    /// Metric naming dialect of the NIM.
    pub dialect: Dialect,
    /// Namespace of prometheus-adapter.
    pub namespace: String,
    /// Name of its ConfigMap (the Helm chart's default release name).
    pub config_map: String,
    /// Range window for `increase`/`rate`, in seconds.
    pub window_s: u32,
}

impl Default for AdapterSettings {
    fn default() -> Self {
        AdapterSettings {
            dialect: Dialect::Nim1,
            namespace: "monitoring".into(),
            config_map: "prometheus-adapter".into(),
            window_s: 60,
        }
    }
}

/// Adapter rules for one NIMService.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdapterRules {
    /// `rules` (custom metrics: Object and Pods).
    pub rules: Vec<Value>,
    /// `externalRules`.
    pub external_rules: Vec<Value>,
    /// Metrics with no built-in recipe, and other remarks.
    pub notes: Vec<String>,
}

fn window(s: u32) -> String {
    if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn series(dialect: Dialect, base: &str) -> String {
    match dialect {
        Dialect::Nim1 => base.to_string(),
        Dialect::Vllm => format!("vllm:{base}"),
    }
}

/// The `le` label as the Python client writes it (`1.0`, `0.025`).
fn le(b: f64) -> String {
    if b.fract() == 0.0 {
        format!("{b:.1}")
    } else {
        format!("{b}")
    }
}

fn custom_rule(series_name: &str, as_name: &str, metrics_query: &str) -> Value {
    json!({
        "seriesQuery": format!("{series_name}{{namespace!=\"\",pod!=\"\"}}"),
        "resources": {"overrides": {
            "namespace": {"resource": "namespace"},
            "pod": {"resource": "pod"},
            "service": {"resource": "service"},
        }},
        "name": {"matches": format!("^{}$", regex_escape(series_name)), "as": as_name},
        "metricsQuery": metrics_query,
    })
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if ".+*?()[]{}|^$\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The metricsQuery and source series for an HPA metric name, if nimscale
/// knows a recipe (the names are interpreted by the core, which simulates
/// the same quantities).
pub fn recipe(name: &str, settings: &AdapterSettings) -> Option<(String, String)> {
    let d = settings.dialect;
    let w = window(settings.window_s);
    Some(match interpret(name, d)? {
        Meaning::Gauge { gauge, agg } => (
            series(d, gauge.base(d)),
            format!(
                "{}(<<.Series>>{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)",
                agg.as_str()
            ),
        ),
        Meaning::OverFraction { hist, bound } => {
            let s = series(d, hist.base(d));
            let count =
                format!("sum(increase({s}_count{{<<.LabelMatchers>>}}[{w}])) by (<<.GroupBy>>)");
            let under = format!(
                "sum(increase({s}_bucket{{le=\"{}\",<<.LabelMatchers>>}}[{w}])) by (<<.GroupBy>>)",
                le(bound)
            );
            (
                format!("{s}_count"),
                format!("({count} - {under}) / {count}"),
            )
        }
        Meaning::Quantile { hist, q } => {
            let s = series(d, hist.base(d));
            let q = (q * 100.0).round() as u32;
            (
                format!("{s}_bucket"),
                format!(
                    "histogram_quantile(0.{q:02}, sum(rate({s}_bucket{{<<.LabelMatchers>>}}[{w}])) by (le, <<.GroupBy>>))"
                ),
            )
        }
        Meaning::Rate { counter } => {
            let s = format!("{}_total", series(d, counter.base()));
            (
                s.clone(),
                format!("sum(rate({s}{{<<.LabelMatchers>>}}[{w}])) by (<<.GroupBy>>)"),
            )
        }
    })
}

/// The rules serving every Object, Pods and External metric of the spec's HPA.
pub fn rules_for(spec: &NimServiceSpec, settings: &AdapterSettings) -> AdapterRules {
    let mut out = AdapterRules::default();
    let Some(hpa) = spec
        .scale
        .as_ref()
        .filter(|s| s.enabled == Some(true))
        .and_then(|s| s.hpa.as_ref())
    else {
        return out;
    };
    for m in &hpa.metrics {
        let (name, external) = match m.type_.as_str() {
            "Object" => (m.object.as_ref().map(|o| o.metric.name.clone()), false),
            "Pods" => (m.pods.as_ref().map(|p| p.metric.name.clone()), false),
            "External" => (m.external.as_ref().map(|e| e.metric.name.clone()), true),
            _ => (None, false),
        };
        let Some(name) = name else { continue };
        match recipe(&name, settings) {
            Some((src, query)) => {
                let mut rule = custom_rule(&src, &name, &query);
                if external {
                    rule["seriesQuery"] = json!(format!("{src}{{namespace!=\"\"}}"));
                    rule["resources"] = json!({"overrides": {"namespace": {"resource": "namespace"}}});
                    if !out.external_rules.contains(&rule) {
                        out.external_rules.push(rule);
                    }
                } else if !out.rules.contains(&rule) {
                    out.rules.push(rule);
                }
            }
            None => out.notes.push(format!(
                "metric {name:?}: nimscale has no built-in adapter recipe; write its rule yourself (see the \
                 recipes in `nimscale export --help`)"
            )),
        }
    }
    out
}

/// The ConfigMap that prometheus-adapter reads (`config.yaml`), to merge into
/// the adapter's existing configuration.
pub fn config_map(rules: &AdapterRules, settings: &AdapterSettings) -> Value {
    let mut config = serde_json::Map::new();
    if !rules.rules.is_empty() {
        config.insert("rules".into(), json!(rules.rules));
    }
    if !rules.external_rules.is_empty() {
        config.insert("externalRules".into(), json!(rules.external_rules));
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": settings.config_map,
            "namespace": settings.namespace,
            "labels": {"app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/managed-by": "nimscale"},
        },
        "data": {"config.yaml": crate::yaml::to_yaml(&Value::Object(config))},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vlm_guide_latency_fraction() {
        let (src, q) = recipe(
            "e2e_request_latency_seconds_over_1s_fraction",
            &AdapterSettings::default(),
        )
        .expect("recipe");
        assert_eq!(src, "e2e_request_latency_seconds_count");
        assert_eq!(
            q,
            "(sum(increase(e2e_request_latency_seconds_count{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>) - \
             sum(increase(e2e_request_latency_seconds_bucket{le=\"1.0\",<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)) / \
             sum(increase(e2e_request_latency_seconds_count{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)"
        );
        assert!(
            recipe(
                "e2e_request_latency_seconds_over_3s_fraction",
                &AdapterSettings::default()
            )
            .is_none(),
            "3 s is no bucket bound"
        );
    }

    #[test]
    fn gauges_quantiles_rates_and_dialects() {
        let s = AdapterSettings::default();
        assert_eq!(
            recipe("gpu_cache_usage_perc", &s).map(|r| r.0),
            Some("gpu_cache_usage_perc".into())
        );
        let v = AdapterSettings {
            dialect: Dialect::Vllm,
            window_s: 120,
            ..Default::default()
        };
        assert_eq!(
            recipe("gpu_cache_usage_perc", &v).map(|r| r.0),
            Some("vllm:kv_cache_usage_perc".into())
        );
        let (_, q) = recipe("e2e_request_latency_seconds_p90", &v).expect("p90");
        assert!(
            q.starts_with(
                "histogram_quantile(0.90, sum(rate(vllm:e2e_request_latency_seconds_bucket{"
            ),
            "{q}"
        );
        assert!(q.contains("[2m]"));
        assert!(recipe("request_success_per_second", &s).is_some());
        assert!(recipe("my_metric", &s).is_none());
    }
}
