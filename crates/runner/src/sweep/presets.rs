//! Built-in presets for `spec.scale.hpa`, taken from the seeds and
//! Kubernetes' defaults. A behaviour preset replaces `behavior`; a metric
//! preset replaces `metrics`; a configuration preset (the `hpa` axis)
//! replaces the whole `spec.scale.hpa`.
//!
//! | preset | what it is |
//! |---|---|
//! | `conservative` | stabilization 180 s up / 600 s down; up 1 pod per 120 s; down 1 pod per 180 s |
//! | `aggressive` | stabilization 30 s up / 60 s down; up 100 % per 30 s; down 50 % per 60 s |
//! | `vlm-guide` | the cosmos-reason1-7b guide: up 3 pods per 15 s, no window; down 50 % per 120 s after 180 s, selectPolicy Min |
//! | `k8s-default` | Kubernetes' defaults written out: up max(100 %, 4 pods) per 15 s, no window; down 100 % per 15 s after 300 s |
//! | `none` | no `behavior` (the legacy path) |
//! | `cpu70` | Resource cpu, Utilization 70 % |
//! | `memory80` | Resource memory, Utilization 80 % |
//! | `kv-cache-0.7`, `kv-cache-0.75`, `kv-cache-0.8` | Object `gpu_cache_usage_perc` on the Service, Value |
//! | `latency-fraction-400m` | Object `e2e_request_latency_seconds_over_1s_fraction` on the Service, Value 400m |
//! | `request-rate-per-pod` | Pods `request_success_per_second`, AverageValue 5 |
//! | `queue-depth` | External `num_requests_waiting`, AverageValue 4 (per pod) |
//! | `nim-operator-conservative` | the whole HPA: min 2, max 8, KV-cache 0.8, the `conservative` behaviour |
//! | `nim-operator-aggressive` | the whole HPA: min 1, max 20, CPU 60 %, the `aggressive` behaviour |

use serde_json::{Value, json};

/// What a preset replaces.
#[derive(Clone, Debug, PartialEq)]
pub enum Preset {
    /// `spec.scale.hpa.behavior` (`None`: removed).
    Behavior(Option<Value>),
    /// `spec.scale.hpa.metrics`.
    Metrics(Value),
    /// The whole `spec.scale.hpa`.
    Hpa(Value),
}

/// Every preset name, for messages and documentation.
pub const NAMES: [&str; 15] = [
    "conservative",
    "aggressive",
    "vlm-guide",
    "k8s-default",
    "none",
    "cpu70",
    "memory80",
    "kv-cache-0.7",
    "kv-cache-0.75",
    "kv-cache-0.8",
    "latency-fraction-400m",
    "request-rate-per-pod",
    "queue-depth",
    "nim-operator-conservative",
    "nim-operator-aggressive",
];

/// Where a preset's values come from (`None`: not a preset).
pub fn source(name: &str) -> Option<&'static str> {
    Some(match name {
        "conservative" => "the behavior of scenarios/llama3-8b-kv-cache-conservative.yaml",
        "aggressive" => "the behavior of scenarios/llama3-8b-kv-cache-aggressive.yaml",
        "vlm-guide" => {
            "the behavior of the cosmos-reason1-7b VLM guide (scenarios/nimservice/cosmos-reason1-7b-latency.yaml)"
        }
        "k8s-default" => {
            "the autoscaling/v2 API's defaults (pkg/apis/autoscaling/v2/defaults.go), written out"
        }
        "none" => {
            "the HPA controller's legacy path, taken when behavior is absent (hpa-algorithm §9.1)"
        }
        "cpu70" => "the metric of scenarios/llama3-8b-cpu70.yaml",
        "memory80" => "the metric of scenarios/llama3-8b-memory80.yaml",
        "kv-cache-0.7" | "kv-cache-0.75" | "kv-cache-0.8" => {
            "the metric of scenarios/llama3-8b-kv-cache-*.yaml (gpu_cache_usage_perc, a fraction 0..1, on the Service) at this target"
        }
        "latency-fraction-400m" => {
            "the metric of the cosmos-reason1-7b VLM guide (scenarios/nimservice/cosmos-reason1-7b-latency.yaml)"
        }
        "request-rate-per-pod" => {
            "nimscale's: the NIM's successful requests per second per pod (the rule export writes)"
        }
        "queue-depth" => "nimscale's: the NIM's waiting requests as an External metric, per pod",
        "nim-operator-conservative" => {
            "the NIM Operator scaling page's conservative configuration (minReplicas 2, maxReplicas 8, KV-cache target 0.8); ASSUMED: its behaviour values could not be checked here, so the behaviour is nimscale's `conservative`"
        }
        "nim-operator-aggressive" => {
            "the NIM Operator scaling page's aggressive configuration (CPU 60 %, maxReplicas 20); ASSUMED: minReplicas 1 and the behaviour (nimscale's `aggressive`) could not be checked here"
        }
        _ => return None,
    })
}

fn policies(kind: &str, value: u32, period: u32) -> Value {
    json!([{"type": kind, "value": value, "periodSeconds": period}])
}

fn object(metric: &str, value: &str, service: &str) -> Value {
    json!([{
        "type": "Object",
        "object": {
            "metric": {"name": metric},
            "describedObject": {"apiVersion": "v1", "kind": "Service", "name": service},
            "target": {"type": "Value", "value": value},
        }
    }])
}

/// The preset named `name`; `service` is the NIMService's Service (the
/// described object of Object metrics).
pub fn preset(name: &str, service: &str) -> Option<Preset> {
    Some(match name {
        "conservative" => Preset::Behavior(Some(json!({
            "scaleUp": {"stabilizationWindowSeconds": 180, "policies": policies("Pods", 1, 120)},
            "scaleDown": {"stabilizationWindowSeconds": 600, "policies": policies("Pods", 1, 180)},
        }))),
        "aggressive" => Preset::Behavior(Some(json!({
            "scaleUp": {"stabilizationWindowSeconds": 30, "policies": policies("Percent", 100, 30)},
            "scaleDown": {"stabilizationWindowSeconds": 60, "policies": policies("Percent", 50, 60)},
        }))),
        "vlm-guide" => Preset::Behavior(Some(json!({
            "scaleUp": {"stabilizationWindowSeconds": 0, "policies": policies("Pods", 3, 15)},
            "scaleDown": {
                "stabilizationWindowSeconds": 180,
                "selectPolicy": "Min",
                "policies": policies("Percent", 50, 120),
            },
        }))),
        "k8s-default" => Preset::Behavior(Some(json!({
            "scaleUp": {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                ],
            },
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "selectPolicy": "Max",
                "policies": policies("Percent", 100, 15),
            },
        }))),
        "none" => Preset::Behavior(None),
        "cpu70" => Preset::Metrics(json!([{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }])),
        "memory80" => Preset::Metrics(json!([{
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
        }])),
        "kv-cache-0.7" => Preset::Metrics(object("gpu_cache_usage_perc", "700m", service)),
        "kv-cache-0.75" => Preset::Metrics(object("gpu_cache_usage_perc", "750m", service)),
        "kv-cache-0.8" => Preset::Metrics(object("gpu_cache_usage_perc", "800m", service)),
        "latency-fraction-400m" => Preset::Metrics(object(
            "e2e_request_latency_seconds_over_1s_fraction",
            "400m",
            service,
        )),
        "request-rate-per-pod" => Preset::Metrics(json!([{
            "type": "Pods",
            "pods": {
                "metric": {"name": "request_success_per_second"},
                "target": {"type": "AverageValue", "averageValue": "5"},
            },
        }])),
        "queue-depth" => Preset::Metrics(json!([{
            "type": "External",
            "external": {
                "metric": {"name": "num_requests_waiting"},
                "target": {"type": "AverageValue", "averageValue": "4"},
            },
        }])),
        "nim-operator-conservative" => Preset::Hpa(json!({
            "minReplicas": 2,
            "maxReplicas": 8,
            "metrics": object("gpu_cache_usage_perc", "800m", service),
            "behavior": behavior("conservative"),
        })),
        "nim-operator-aggressive" => Preset::Hpa(json!({
            "minReplicas": 1,
            "maxReplicas": 20,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
            }],
            "behavior": behavior("aggressive"),
        })),
        _ => return None,
    })
}

/// A behaviour preset's value.
fn behavior(name: &str) -> Value {
    match preset(name, "") {
        Some(Preset::Behavior(Some(b))) => b,
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_has_values_and_a_source() {
        for n in NAMES {
            assert!(preset(n, "svc").is_some(), "{n}");
            assert!(source(n).is_some(), "{n}");
        }
        assert!(source("bogus").is_none());
    }

    #[test]
    fn every_name_is_a_preset() {
        for n in NAMES {
            assert!(preset(n, "svc").is_some(), "{n}");
        }
        assert!(preset("fast", "svc").is_none());
        let Some(Preset::Metrics(m)) = preset("kv-cache-0.75", "llm") else {
            panic!()
        };
        assert_eq!(m[0]["object"]["describedObject"]["name"], "llm");
    }
}
