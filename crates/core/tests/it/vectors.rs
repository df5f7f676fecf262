//! Reading HPA conformance vectors (schema: `tests/data/hpa/SCHEMA.md`) into
//! core values, and writing core results in the vectors' output shape.

use std::collections::BTreeMap;

use nimscale_core::hpa::history::{Recommendation, ScaleEvent};
use nimscale_core::hpa::spec::{
    Behavior, EffectiveBehavior, EffectiveRules, MetricId, MetricSpec, MetricTarget, ObjectRef,
    PolicyType, ScalingPolicy, ScalingRules, SelectPolicy, TargetType,
};
use nimscale_core::hpa::{
    ConditionStatus, ContainerInfo, PodInfo, PodMetric, PodMetricsList, PodPhase,
};
use nimscale_core::quantity::Quantity;
use nimscale_core::time::{SimDuration, SimTime};
use serde_json::{Value, json};

pub fn i(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("expected integer, got {v}"))
}
pub fn i32_(v: &Value) -> i32 {
    i(v) as i32
}
pub fn t(v: &Value) -> SimTime {
    SimTime::from_secs(i(v))
}
pub fn secs(v: &Value) -> SimDuration {
    SimDuration::from_secs(i(v))
}
pub fn tout(t: SimTime) -> Value {
    json!(t.as_secs_floor())
}
pub fn topt(t: Option<SimTime>) -> Value {
    tout(t.unwrap_or(nimscale_core::hpa::pods::GO_ZERO_TIME))
}
pub fn q(v: &Value) -> Quantity {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected quantity string, got {v}"));
    Quantity::parse(s).unwrap_or_else(|e| panic!("bad quantity {s}: {e}"))
}
pub fn milli(v: &Value) -> i64 {
    q(v).milli_value()
}

pub fn rules(v: &Value) -> Option<ScalingRules> {
    if v.is_null() {
        return None;
    }
    Some(ScalingRules {
        stabilization_window_seconds: v["stabilization_window_s"].as_i64().map(|x| x as i32),
        select_policy: v["select_policy"].as_str().map(|s| match s {
            "Max" => SelectPolicy::Max,
            "Min" => SelectPolicy::Min,
            "Disabled" => SelectPolicy::Disabled,
            other => panic!("select policy {other}"),
        }),
        policies: v["policies"].as_array().map(|ps| {
            ps.iter()
                .map(|p| ScalingPolicy {
                    type_: match p["type"].as_str() {
                        Some("Pods") => PolicyType::Pods,
                        Some("Percent") => PolicyType::Percent,
                        other => panic!("policy type {other:?}"),
                    },
                    value: i32_(&p["value"]),
                    period_seconds: i32_(&p["period_s"]),
                })
                .collect()
        }),
        tolerance: if v["tolerance"].is_null() {
            None
        } else {
            Some(q(&v["tolerance"]))
        },
    })
}

pub fn behavior(v: &Value) -> Option<Behavior> {
    if v.is_null() {
        return None;
    }
    Some(Behavior {
        scale_up: rules(&v["scale_up"]),
        scale_down: rules(&v["scale_down"]),
    })
}

pub fn effective_rules_json(r: &EffectiveRules) -> Value {
    json!({
        "policies": r.policies.iter().map(|p| json!({
            "period_s": p.period_seconds, "type": p.type_.as_str(), "value": p.value
        })).collect::<Vec<_>>(),
        "select_policy": r.select_policy.as_str(),
        "stabilization_window_s": r.stabilization_window_seconds,
        "tolerance": r.tolerance.as_ref().map(Quantity::canonical),
    })
}

pub fn effective_json(b: Option<&EffectiveBehavior>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => json!({
            "scale_up": effective_rules_json(&b.scale_up),
            "scale_down": effective_rules_json(&b.scale_down),
        }),
    }
}

pub fn recs(v: &Value) -> Option<Vec<Recommendation>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|r| Recommendation {
                replicas: i32_(&r["replicas"]),
                timestamp: t(&r["t"]),
            })
            .collect()
    })
}
pub fn recs_json(r: &[Recommendation]) -> Value {
    Value::Array(
        r.iter()
            .map(|r| json!({"replicas": r.replicas, "t": r.timestamp.as_secs_floor()}))
            .collect(),
    )
}
pub fn events(v: &Value) -> Vec<ScaleEvent> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| ScaleEvent {
                    change: i32_(&e["change"]),
                    timestamp: t(&e["t"]),
                    outdated: e["outdated"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default()
}
pub fn events_json(e: &[ScaleEvent]) -> Value {
    Value::Array(
        e.iter()
            .map(|e| json!({"change": e.change, "t": e.timestamp.as_secs_floor(), "outdated": e.outdated}))
            .collect(),
    )
}

fn requests(v: &Value) -> Option<BTreeMap<String, i64>> {
    v.as_object()
        .map(|m| m.iter().map(|(k, q)| (k.clone(), milli(q))).collect())
}

fn container(v: &Value) -> ContainerInfo {
    ContainerInfo {
        name: v["name"].as_str().unwrap_or_default().to_string(),
        requests: requests(&v["requests"]),
        restart_always: v["restart_policy_always"].as_bool().unwrap_or(false),
    }
}

pub fn pod(v: &Value) -> PodInfo {
    let phase = match v["phase"].as_str() {
        Some("Running") => PodPhase::Running,
        Some("Pending") => PodPhase::Pending,
        Some("Failed") => PodPhase::Failed,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Unknown") => PodPhase::Unknown,
        other => panic!("phase {other:?}"),
    };
    let ready = v["ready"]
        .as_str()
        .map(|s| nimscale_core::hpa::pods::ReadyCondition {
            status: match s {
                "True" => ConditionStatus::True,
                "False" => ConditionStatus::False,
                _ => ConditionStatus::Unknown,
            },
            last_transition: t(&v["ready_transition_t"]),
        });
    PodInfo {
        name: v["name"].as_str().unwrap_or_default().to_string(),
        phase,
        ready,
        start_time: v["start_t"].as_i64().map(SimTime::from_secs),
        deleted: v["deleted"].as_bool().unwrap_or(false),
        containers: v["containers"]
            .as_array()
            .map(|a| a.iter().map(container).collect())
            .unwrap_or_default(),
        init_containers: v["init_containers"]
            .as_array()
            .map(|a| a.iter().map(container).collect())
            .unwrap_or_default(),
        pod_requests: requests(&v["pod_requests"]),
        labels: v["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn pods(v: &Value) -> Vec<PodInfo> {
    v.as_array()
        .map(|a| a.iter().map(pod).collect())
        .unwrap_or_default()
}

/// A pod-metrics fetch: `Err` when the vector says the fetch failed.
pub fn pod_metrics(v: &Value) -> Result<PodMetricsList, String> {
    if let Some(e) = v["error"].as_str() {
        return Err(e.to_string());
    }
    let items = v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|it| {
                    (
                        it["pod"].as_str().unwrap_or_default().to_string(),
                        PodMetric {
                            value_m: i(&it["value_m"]),
                            timestamp: t(&it["t"]),
                            window: secs(&it["window_s"]),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PodMetricsList {
        timestamp: if v["t"].is_null() {
            SimTime::ZERO
        } else {
            t(&v["t"])
        },
        items,
    })
}

pub fn metric_spec(v: &Value) -> MetricSpec {
    let target = || {
        let tv = &v["target"];
        MetricTarget {
            type_: match tv["type"].as_str().unwrap_or_default() {
                "Utilization" => TargetType::Utilization,
                "Value" => TargetType::Value,
                "AverageValue" => TargetType::AverageValue,
                other => TargetType::Other(other.to_string()),
            },
            value_m: (!tv["value"].is_null()).then(|| milli(&tv["value"])),
            average_value_m: (!tv["average_value"].is_null()).then(|| milli(&tv["average_value"])),
            average_utilization: tv["average_utilization"].as_i64().map(|x| x as i32),
        }
    };
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let id = || MetricId {
        name: s("metric"),
        selector: None,
    };
    match v["type"].as_str().unwrap_or_default() {
        "Resource" => MetricSpec::Resource {
            name: s("name"),
            target: target(),
        },
        "ContainerResource" => MetricSpec::ContainerResource {
            name: s("name"),
            container: s("container"),
            target: target(),
        },
        "Pods" => MetricSpec::Pods {
            metric: id(),
            target: target(),
        },
        "Object" => MetricSpec::Object {
            metric: id(),
            described_object: ObjectRef {
                api_version: "v1".to_string(),
                kind: "Service".to_string(),
                name: "svc".to_string(),
            },
            target: target(),
        },
        "External" => MetricSpec::External {
            metric: id(),
            target: target(),
        },
        other => MetricSpec::Unknown {
            type_name: other.to_string(),
        },
    }
}

/// Numbers equal as integers when both are integers, else bit-identical as
/// `f64`; everything else structurally.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(p), Some(q)) = (x.as_i64(), y.as_i64()) {
                p == q
            } else if let (Some(p), Some(q)) = (x.as_u64(), y.as_u64()) {
                p == q
            } else {
                match (x.as_f64(), y.as_f64()) {
                    (Some(p), Some(q)) => p.to_bits() == q.to_bits() || (p == 0.0 && q == 0.0),
                    _ => false,
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}
