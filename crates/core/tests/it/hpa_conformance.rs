//! The judge: every HPA conformance vector computed by Kubernetes' own code.
//!
//! `hpa_conformance` runs the bundled copies (`tests/data/hpa/*.json.gz`), or,
//! when `NIMSCALE_HPA_VECTORS=DIR` is set, every `*.json` file in `DIR`, and
//! prints `<file>: N passed, M failed` per file. For `overflow.json` the
//! expected output is `output_saturating` (ARCHITECTURE.md explains why).

use std::io::Read;

use nimscale_core::hpa::api::LabelSelector;
use nimscale_core::hpa::controller::{
    self, ControllerConfig, Hpa, HpaState, MetricsClient, PodLister, ScaleInfo,
};
use nimscale_core::hpa::history::HpaHistory;
use nimscale_core::hpa::pods::{ReadinessRules, calculate_requests, group_pods};
use nimscale_core::hpa::replica_calc::{self as rc, CalcContext, ObjectContext, Tolerances};
use nimscale_core::hpa::selector::{Selector, go_format_label_selector};
use nimscale_core::hpa::spec::{
    HpaSpec, MetricId, ObjectRef, ScalingRules, default_scale_down_rules, default_scale_up_rules,
};
use nimscale_core::hpa::{PodInfo, PodMetricsList, behavior, legacy};
use nimscale_core::time::{SimDuration, SimTime};
use serde_json::{Value, json};

use super::vectors::*;

const BUNDLED: [(&str, &[u8]); 8] = [
    (
        "behavior.json",
        include_bytes!("../data/hpa/behavior.json.gz"),
    ),
    ("legacy.json", include_bytes!("../data/hpa/legacy.json.gz")),
    (
        "replicas_resource.json",
        include_bytes!("../data/hpa/replicas_resource.json.gz"),
    ),
    (
        "replicas_metric.json",
        include_bytes!("../data/hpa/replicas_metric.json.gz"),
    ),
    (
        "multi_metric.json",
        include_bytes!("../data/hpa/multi_metric.json.gz"),
    ),
    (
        "multi_metric_sequences.json",
        include_bytes!("../data/hpa/multi_metric_sequences.json.gz"),
    ),
    (
        "overflow.json",
        include_bytes!("../data/hpa/overflow.json.gz"),
    ),
    (
        "quantities.json",
        include_bytes!("../data/hpa/quantities.json.gz"),
    ),
];

/// The oracle's fixed names (ORIGIN.md): HPA namespace, described object,
/// metric name and external selector of the replica-calculator vectors.
const NAMESPACE: &str = "oracle";

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .expect("bundled vectors are gzip");
    s
}

#[test]
fn hpa_conformance() {
    let files: Vec<(String, String)> = match std::env::var_os("NIMSCALE_HPA_VECTORS") {
        Some(dir) => {
            let mut paths: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.to_string_lossy()))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            paths
                .into_iter()
                .map(|p| {
                    let name = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    let text = std::fs::read_to_string(&p)
                        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
                    (name, text)
                })
                .collect()
        }
        None => BUNDLED
            .iter()
            .map(|(n, b)| (n.to_string(), gunzip(b)))
            .collect(),
    };
    assert!(!files.is_empty(), "no vector files found");
    let mut total_failed = 0;
    let mut total = 0;
    for (name, text) in &files {
        let vectors: Vec<Value> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (mut passed, mut failed) = (0, 0);
        for v in &vectors {
            let expected = v.get("output_saturating").unwrap_or(&v["output"]);
            let got = run_vector(v);
            match compare(expected, &got) {
                Ok(()) => passed += 1,
                Err(diff) => {
                    failed += 1;
                    if failed <= 200 {
                        println!("  FAIL {name} {} ({}): {diff}", v["name"], v["kind"]);
                    }
                }
            }
        }
        println!("{name}: {passed} passed, {failed} failed");
        total += passed + failed;
        total_failed += failed;
    }
    println!(
        "hpa vectors: {} passed, {total_failed} failed",
        total - total_failed
    );
    assert_eq!(
        total_failed, 0,
        "{total_failed} of {total} HPA conformance vectors failed"
    );
}

/// Every expected field (except informational `diagnostics`) must match.
fn compare(expected: &Value, got: &Value) -> Result<(), String> {
    let Some(exp) = expected.as_object() else {
        return if same(expected, got) {
            Ok(())
        } else {
            Err(format!("want {expected}, got {got}"))
        };
    };
    for (k, want) in exp {
        if k == "diagnostics" {
            continue;
        }
        let have = got.get(k).unwrap_or(&Value::Null);
        if k == "steps" {
            let (w, h) = (want.as_array(), have.as_array());
            match (w, h) {
                (Some(w), Some(h)) if w.len() == h.len() => {
                    for (n, (a, b)) in w.iter().zip(h).enumerate() {
                        compare(a, b).map_err(|e| format!("step {n}: {e}"))?;
                    }
                    continue;
                }
                _ => return Err(format!("steps: want {want}, got {have}")),
            }
        }
        if !same(want, have) {
            return Err(format!("{k}: want {want}, got {have}"));
        }
    }
    Ok(())
}

fn tolerances(v: &Value) -> Tolerances {
    Tolerances {
        scale_down: v["scale_down"].as_f64().unwrap_or(0.1),
        scale_up: v["scale_up"].as_f64().unwrap_or(0.1),
    }
}

fn calc_context(inp: &Value) -> CalcContext {
    CalcContext {
        now: t(&inp["now"]),
        readiness: ReadinessRules {
            cpu_initialization_period: secs(&inp["cpu_initialization_period_s"]),
            initial_readiness_delay: secs(&inp["initial_readiness_delay_s"]),
        },
        pod_level_resources: inp["pod_level_resources_enabled"].as_bool().unwrap_or(true),
        tolerances: tolerances(&inp["tolerances"]),
    }
}

fn proposal_json(p: &rc::Proposal, usage_key: &str) -> Value {
    let mut o = json!({
        "error": p.error,
        "replicas": p.replicas,
        "timestamp": topt(p.timestamp),
    });
    o[usage_key] = json!(p.usage_m);
    o
}

fn run_vector(v: &Value) -> Value {
    let inp = &v["input"];
    match v["kind"].as_str().unwrap_or_default() {
        "quantity" => {
            let q = q(&inp["quantity"]);
            json!({"approx_float64": q.approx_f64(), "canonical": q.canonical(), "milli_value": q.milli_value()})
        }
        "scale_up_limit" | "scale_down_limit" => {
            let up = v["kind"] == "scale_up_limit";
            let defaults = if up {
                default_scale_up_rules()
            } else {
                default_scale_down_rules()
            };
            let r = ScalingRules::over(rules(&inp["rules"]).as_ref(), defaults);
            let (ue, de) = (
                events(&inp["scale_up_events"]),
                events(&inp["scale_down_events"]),
            );
            let f = if up {
                behavior::scale_up_limit
            } else {
                behavior::scale_down_limit
            };
            json!({"limit": f(t(&inp["now"]), i32_(&inp["current_replicas"]), &ue, &de, &r)})
        }
        "behavior_rate" => {
            let up = ScalingRules::over(
                rules(&inp["scale_up_rules"]).as_ref(),
                default_scale_up_rules(),
            );
            let down = ScalingRules::over(
                rules(&inp["scale_down_rules"]).as_ref(),
                default_scale_down_rules(),
            );
            let (ue, de) = (
                events(&inp["scale_up_events"]),
                events(&inp["scale_down_events"]),
            );
            let args = behavior::RateArgs {
                now: t(&inp["now"]),
                up_rules: &up,
                down_rules: &down,
                up_events: &ue,
                down_events: &de,
                min_replicas: i32_(&inp["min_replicas"]),
                max_replicas: i32_(&inp["max_replicas"]),
                current: i32_(&inp["current_replicas"]),
            };
            let (r, reason) = behavior::convert_with_rate(&args, i32_(&inp["desired_replicas"]));
            json!({"replicas": r, "reason": reason.as_str()})
        }
        "store_scale_event" => {
            let b = behavior(&inp["behavior"]).map(|b| b.effective());
            let (mut ue, mut de) = (
                events(&inp["scale_up_events"]),
                events(&inp["scale_down_events"]),
            );
            behavior::store_scale_event(
                t(&inp["now"]),
                b.as_ref(),
                &mut ue,
                &mut de,
                i32_(&inp["prev_replicas"]),
                i32_(&inp["new_replicas"]),
            );
            json!({"scale_up_events_after": events_json(&ue), "scale_down_events_after": events_json(&de)})
        }
        "replicas_change_per_period" => json!({"change": behavior::replicas_change_per_period(
            t(&inp["now"]), i32_(&inp["period_s"]), &events(&inp["events"]))}),
        "behavior_stabilize" => {
            let mut r = recs(&inp["recommendations"]).unwrap_or_default();
            let (n, reason) = behavior::stabilize(
                t(&inp["now"]),
                i32_(&inp["scale_up_stabilization_window_s"]),
                i32_(&inp["scale_down_stabilization_window_s"]),
                &mut r,
                i32_(&inp["current_replicas"]),
                i32_(&inp["desired_replicas"]),
            );
            json!({"replicas": n, "reason": reason.as_str(), "recommendations_after": recs_json(&r)})
        }
        "behavior_normalize" => {
            let (spec, cfg, mut h) = norm_setup(inp);
            let mut out = normalize_step(&spec, &cfg, &mut h, &inp["now"], inp);
            if let Some(b) = &spec.behavior {
                let mut eff = b.effective();
                if eff.scale_down.stabilization_window_seconds.is_none() {
                    eff.scale_down.stabilization_window_seconds =
                        Some(i32_(&inp["downscale_stabilization_s"]));
                }
                out["effective_behavior"] = effective_json(Some(&eff));
            }
            out
        }
        "behavior_sequence" | "legacy_sequence" => {
            let (spec, cfg, mut h) = norm_setup(inp);
            let steps: Vec<Value> = inp["steps"]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .map(|s| normalize_step(&spec, &cfg, &mut h, &s["now"], s))
                .collect();
            json!({"steps": steps})
        }
        "legacy_stabilize" => {
            let mut r = recs(&inp["recommendations"]).unwrap_or_default();
            let n = legacy::stabilize(
                t(&inp["now"]),
                secs(&inp["downscale_stabilization_s"]),
                &mut r,
                i32_(&inp["desired_replicas"]),
            );
            json!({"replicas": n, "recommendations_after": recs_json(&r)})
        }
        "legacy_scale_up_limit" => {
            json!({"limit": legacy::scale_up_limit(i32_(&inp["current_replicas"]))})
        }
        "legacy_convert" => {
            let (r, reason) = legacy::convert(
                i32_(&inp["current_replicas"]),
                i32_(&inp["desired_replicas"]),
                i32_(&inp["min_replicas"]),
                i32_(&inp["max_replicas"]),
            );
            json!({"replicas": r, "reason": reason.as_str()})
        }
        "legacy_normalize" => {
            let (spec, cfg, mut h) = norm_setup(inp);
            normalize_step(&spec, &cfg, &mut h, &inp["now"], inp)
        }
        "group_pods" => {
            let m = pod_metrics(&json!({"items": inp["metrics"], "t": 0})).unwrap_or_default();
            let g = group_pods(
                &pods(&inp["pods"]),
                &m.to_map(),
                inp["resource"].as_str().unwrap_or_default(),
                ReadinessRules {
                    cpu_initialization_period: secs(&inp["cpu_initialization_period_s"]),
                    initial_readiness_delay: secs(&inp["initial_readiness_delay_s"]),
                },
                t(&inp["now"]),
            );
            json!({"ready_count": g.ready_count, "unready": g.unready, "missing": g.missing, "ignored": g.ignored})
        }
        "calculate_requests" => match calculate_requests(
            &pods(&inp["pods"]),
            inp["container"].as_str().unwrap_or_default(),
            inp["resource"].as_str().unwrap_or_default(),
            inp["pod_level_resources_enabled"].as_bool().unwrap_or(true),
        ) {
            Ok(r) => json!({"error": null, "requests_m": r}),
            Err(e) => json!({"error": e, "requests_m": null}),
        },
        "resource_utilization" => {
            let m = pod_metrics(&inp["metrics"]);
            let p = rc::resource_utilization(
                &calc_context(inp),
                i32_(&inp["current_replicas"]),
                i32_(&inp["target_utilization"]),
                inp["resource"].as_str().unwrap_or_default(),
                inp["container"].as_str().unwrap_or_default(),
                &pods(&inp["pods"]),
                m.as_ref().map_err(String::as_str),
            );
            let mut o = proposal_json(&p, "raw_value_m");
            o["utilization"] = json!(p.utilization);
            o
        }
        "resource_average_value" => {
            let m = pod_metrics(&inp["metrics"]);
            let p = rc::resource_average_value(
                &calc_context(inp),
                i32_(&inp["current_replicas"]),
                i(&inp["target_average_value_m"]),
                inp["resource"].as_str().unwrap_or_default(),
                &pods(&inp["pods"]),
                m.as_ref().map_err(String::as_str),
            );
            proposal_json(&p, "usage_m")
        }
        "pods_metric" => {
            let m = pod_metrics(&inp["pod_metrics"]);
            let p = rc::pods_metric(
                &calc_context(inp),
                i32_(&inp["replicas"]),
                i(&inp["target_m"]),
                "m",
                &pods(&inp["pods"]),
                m.as_ref().map_err(String::as_str),
            );
            proposal_json(&p, "usage_m")
        }
        "object_value" | "object_average" => {
            let om = &inp["object_metric"];
            let value = match om["error"].as_str() {
                Some(e) => Err(e),
                None => Ok((i(&om["value_m"]), t(&om["t"]))),
            };
            let obj = ObjectContext {
                namespace: NAMESPACE,
                kind: "Service",
                name: "svc",
            };
            let cx = calc_context(inp);
            let p = if v["kind"] == "object_value" {
                rc::object_value(
                    &cx,
                    i32_(&inp["replicas"]),
                    i(&inp["target_m"]),
                    "m",
                    obj,
                    &pods(&inp["pods"]),
                    value,
                )
            } else {
                rc::object_average(
                    &cx,
                    i32_(&inp["replicas"]),
                    i(&inp["target_m"]),
                    "m",
                    obj,
                    value,
                )
            };
            proposal_json(&p, "usage_m")
        }
        "external_value" | "external_average" => {
            let em = &inp["external_metric"];
            let vals: Vec<i64> = em["values_m"]
                .as_array()
                .map(|a| a.iter().map(i).collect())
                .unwrap_or_default();
            let value = match em["error"].as_str() {
                Some(e) => Err(e),
                None => Ok((vals.as_slice(), t(&em["t"]))),
            };
            let sel = LabelSelector {
                match_labels: Some([("k".to_string(), "v".to_string())].into()),
                match_expressions: None,
            };
            let sel = go_format_label_selector(Some(&sel));
            let cx = calc_context(inp);
            let p = if v["kind"] == "external_value" {
                rc::external_value(
                    &cx,
                    i32_(&inp["replicas"]),
                    i(&inp["target_m"]),
                    "m",
                    NAMESPACE,
                    &sel,
                    &pods(&inp["pods"]),
                    value,
                )
            } else {
                rc::external_average(
                    &cx,
                    i32_(&inp["replicas"]),
                    i(&inp["target_m"]),
                    "m",
                    NAMESPACE,
                    &sel,
                    value,
                )
            };
            proposal_json(&p, "usage_m")
        }
        "reconcile" => {
            let (cfg, hpa, mut state) = reconcile_setup(inp);
            reconcile_step(&cfg, &hpa, &mut state, inp)
        }
        "reconcile_sequence" => {
            let (cfg, hpa, mut state) = reconcile_setup(inp);
            let steps: Vec<Value> = inp["steps"]
                .as_array()
                .unwrap_or(&Vec::new())
                .iter()
                .map(|s| reconcile_step(&cfg, &hpa, &mut state, s))
                .collect();
            json!({"steps": steps})
        }
        other => json!({"unknown kind": other}),
    }
}

fn norm_setup(inp: &Value) -> (HpaSpec, ControllerConfig, HpaHistory) {
    let spec = HpaSpec {
        min_replicas: i32_(&inp["min_replicas"]),
        max_replicas: i32_(&inp["max_replicas"]),
        metrics: Vec::new(),
        behavior: behavior(&inp["behavior"]),
    };
    let cfg = ControllerConfig {
        downscale_stabilization: secs(&inp["downscale_stabilization_s"]),
        ..ControllerConfig::default()
    };
    let h = HpaHistory {
        recommendations: Some(recs(&inp["recommendations"]).unwrap_or_default()),
        scale_up_events: events(&inp["scale_up_events"]),
        scale_down_events: events(&inp["scale_down_events"]),
    };
    (spec, cfg, h)
}

/// One `behavior_normalize` / `legacy_normalize` step (SCHEMA §4.2, §5).
fn normalize_step(
    spec: &HpaSpec,
    cfg: &ControllerConfig,
    h: &mut HpaHistory,
    now: &Value,
    s: &Value,
) -> Value {
    let now = t(now);
    let current = i32_(&s["current_replicas"]);
    let desired = i32_(&s["desired_replicas"]);
    let trace = match &spec.behavior {
        Some(b) => controller::normalize_behavior(cfg, spec, b, h, now, current, desired).0,
        None => {
            let r = h.recommendations.get_or_insert_with(Vec::new);
            controller::normalize_legacy(cfg, spec, r, now, current, desired)
        }
    };
    let rescale = trace.limited != current;
    if rescale {
        let eff = spec.behavior.as_ref().map(|b| b.effective());
        behavior::store_scale_event(
            now,
            eff.as_ref(),
            &mut h.scale_up_events,
            &mut h.scale_down_events,
            current,
            trace.limited,
        );
    }
    json!({
        "desired_replicas": trace.limited,
        "stabilized_replicas": trace.stabilized,
        "rescale": rescale,
        "able_to_scale": {"status": "True", "reason": trace.stabilize_reason.as_str()},
        "scaling_limited": {"status": trace.limited_status().as_str(), "reason": trace.limit_reason.as_str()},
        "recommendations_after": recs_json(h.recommendations.as_deref().unwrap_or_default()),
        "scale_up_events_after": events_json(&h.scale_up_events),
        "scale_down_events_after": events_json(&h.scale_down_events),
    })
}

fn reconcile_setup(inp: &Value) -> (ControllerConfig, Hpa, HpaState) {
    let c = &inp["config"];
    let cfg = ControllerConfig {
        sync_period: SimDuration::from_secs(15),
        tolerance: c["tolerance"].as_f64().unwrap_or(0.1),
        downscale_stabilization: secs(&c["downscale_stabilization_s"]),
        cpu_initialization_period: secs(&c["cpu_initialization_period_s"]),
        initial_readiness_delay: secs(&c["initial_readiness_delay_s"]),
        pod_level_resources: c["pod_level_resources_enabled"].as_bool().unwrap_or(true),
        configurable_tolerance: c["configurable_tolerance_enabled"]
            .as_bool()
            .unwrap_or(true),
        // The vectors treat HPAScaleToZero as disabled (ORIGIN.md).
        scale_to_zero: false,
    };
    let h = &inp["hpa"];
    let spec = HpaSpec {
        min_replicas: h["min_replicas"].as_i64().map(|x| x as i32).unwrap_or(1),
        max_replicas: i32_(&h["max_replicas"]),
        metrics: h["metrics"]
            .as_array()
            .map(|a| a.iter().map(metric_spec).collect())
            .unwrap_or_default(),
        behavior: behavior(&h["behavior"]),
    };
    let st = &inp["state"];
    let state = HpaState {
        history: HpaHistory {
            recommendations: recs(&st["recommendations"]),
            scale_up_events: events(&st["scale_up_events"]),
            scale_down_events: events(&st["scale_down_events"]),
        },
        ..HpaState::default()
    };
    let hpa = Hpa {
        namespace: NAMESPACE.to_string(),
        name: "oracle".to_string(),
        spec,
    };
    (cfg, hpa, state)
}

struct VectorPods(Vec<PodInfo>);
impl PodLister for VectorPods {
    fn list(&self, selector: &Selector) -> Vec<PodInfo> {
        // Pods without labels match the scale selector (SCHEMA §2.6).
        self.0
            .iter()
            .filter(|p| p.labels.is_empty() || selector.matches(&p.labels))
            .cloned()
            .collect()
    }
}

struct VectorMetrics<'a>(&'a Value);
const MISSING: &str = "the server could not find the requested resource";
impl MetricsClient for VectorMetrics<'_> {
    fn resource(&self, resource: &str, container: &str) -> Result<PodMetricsList, String> {
        let key = if container.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{container}")
        };
        match self.0["resource"].get(&key) {
            Some(v) => pod_metrics(v),
            None => Err(MISSING.to_string()),
        }
    }
    fn pods(&self, metric: &MetricId) -> Result<PodMetricsList, String> {
        match self.0["pods"].get(&metric.name) {
            Some(v) => pod_metrics(v),
            None => Err(MISSING.to_string()),
        }
    }
    fn object(&self, metric: &MetricId, _: &ObjectRef) -> Result<(i64, SimTime), String> {
        match self.0["object"].get(&metric.name) {
            Some(v) => match v["error"].as_str() {
                Some(e) => Err(e.to_string()),
                None => Ok((i(&v["value_m"]), t(&v["t"]))),
            },
            None => Err(MISSING.to_string()),
        }
    }
    fn external(&self, metric: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        match self.0["external"].get(&metric.name) {
            Some(v) => match v["error"].as_str() {
                Some(e) => Err(e.to_string()),
                None => Ok((
                    v["values_m"]
                        .as_array()
                        .map(|a| a.iter().map(i).collect())
                        .unwrap_or_default(),
                    t(&v["t"]),
                )),
            },
            None => Err(MISSING.to_string()),
        }
    }
}

fn reconcile_step(cfg: &ControllerConfig, hpa: &Hpa, state: &mut HpaState, s: &Value) -> Value {
    let sc = &s["scale"];
    let scale = ScaleInfo {
        spec_replicas: i32_(&sc["spec_replicas"]),
        status_replicas: i32_(&sc["status_replicas"]),
        selector: sc["selector"].as_str().unwrap_or_default().to_string(),
    };
    let d = controller::reconcile(
        cfg,
        hpa,
        state,
        &scale,
        &VectorPods(pods(&s["pods"])),
        &VectorMetrics(&s["metrics"]),
        t(&s["now"]),
    );
    let statuses: Vec<Value> = d
        .metric_statuses
        .iter()
        .map(|m| {
            let mut o = json!({"type": m.type_});
            if let Some(x) = m.value_m {
                o["value_m"] = json!(x);
            }
            if let Some(x) = m.average_value_m {
                o["average_value_m"] = json!(x);
            }
            if let Some(x) = m.average_utilization {
                o["average_utilization"] = json!(x);
            }
            o
        })
        .collect();
    json!({
        "desired_replicas": d.desired_replicas,
        "rescale": d.rescale,
        "rescale_reason": d.rescale_reason,
        "metrics_computed": d.metrics_computed,
        "metric_desired_replicas": d.metric_desired_replicas,
        "metric_name": d.metric_name,
        "error": d.error,
        "failed": d.failed,
        "conditions": d.conditions.iter().map(|c| json!({
            "type": c.type_.as_str(), "status": c.status.as_str(), "reason": c.reason
        })).collect::<Vec<_>>(),
        "metric_statuses": statuses,
        "tolerances": {"scale_down": d.tolerances.scale_down, "scale_up": d.tolerances.scale_up},
        "effective_behavior": effective_json(d.effective_behavior.as_ref()),
        "recommendations_after": recs_json(state.history.recommendations.as_deref().unwrap_or_default()),
        "scale_up_events_after": events_json(&state.history.scale_up_events),
        "scale_down_events_after": events_json(&state.history.scale_down_events),
    })
}
