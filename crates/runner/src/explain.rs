//! `nimscale hpa explain`: a sequence of HPA inputs (spec, pods, metric
//! values, times) in YAML or JSON, replayed through the exact controller.
//!
//! ```yaml
//! controller: {tolerance: 0.1, downscaleStabilization: 5m}   # optional flags
//! hpa:                         # a whole HorizontalPodAutoscaler …
//!   apiVersion: autoscaling/v2
//!   kind: HorizontalPodAutoscaler
//!   metadata: {name: llama, namespace: nim}
//!   spec: {maxReplicas: 8, metrics: [...], behavior: {...}}
//! # … or `hpaSpec:` with a NIMService's `spec.scale.hpa` block
//! podRequests: {cpu: "8"}       # requests of generated pods
//! steps:
//!   - time: 0                  # seconds, or "15s", "2m"
//!     replicas: 2              # scale spec.replicas (later steps: the previous decision)
//!     pods: 2                  # a count of ready pods, or a list of pods
//!     metrics:
//!       resource: {cpu: [3500m, 4100m]}       # per pod: list, map or one value
//!       pods: {num_requests_running: 12}
//!       object: {gpu_cache_usage_perc: 0.82}
//!       external: {queue_depth: [30, 12]}
//! ```

use std::collections::BTreeMap;

use nimscale_core::hpa::api::{HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec};
use nimscale_core::hpa::conditions::StabilizeReason;
use nimscale_core::hpa::controller::{
    ControllerConfig, Decision, Hpa, HpaState, MetricsClient, PodLister, ScaleInfo, reconcile,
};
use nimscale_core::hpa::pods::ReadyCondition;
use nimscale_core::hpa::selector::Selector;
use nimscale_core::hpa::spec::{HpaSpec, MetricId, ObjectRef};
use nimscale_core::hpa::validation::{ValidationOptions, validate_spec};
use nimscale_core::hpa::{
    ConditionStatus, ContainerInfo, PodInfo, PodMetric, PodMetricsList, PodPhase,
};
use nimscale_core::quantity::Quantity;
use nimscale_core::time::{SimDuration, SimTime};
use serde::Deserialize;

use crate::error::{LoadError, LoadErrors};
use crate::yaml;

/// A duration written as seconds (`15`) or with units (`"15s"`, `"5m"`, `"1m30s"`, `"250ms"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub SimDuration);

/// Parses `15`, `"15s"`, `"5m"`, `"1h2m3s"`, `"250ms"`, `"-1h"`.
pub fn parse_duration(s: &str) -> Result<SimDuration, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if let Ok(secs) = body.parse::<f64>() {
        let us = (secs * 1e6).round() as i64;
        return Ok(SimDuration::from_micros(if neg { -us } else { us }));
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    if chars.is_empty() {
        return Err("empty duration".to_string());
    }
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            i += 1;
            continue;
        }
        let mut unit = String::new();
        while i < chars.len() && chars[i].is_ascii_alphabetic() {
            unit.push(chars[i]);
            i += 1;
        }
        let v: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected a number before {unit:?}"))?;
        let scale = match unit.as_str() {
            "us" | "µs" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" => 60e6,
            "h" => 3600e6,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?} (use ms, s, m or h)"
                ));
            }
        };
        total += (v * scale).round() as i64;
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("invalid duration {s:?}: missing unit after {num}"));
    }
    Ok(SimDuration::from_micros(if neg { -total } else { total }))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration: seconds (15) or a string such as \"15s\" or \"5m\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Ok(Duration(SimDuration::from_secs(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(SimDuration::from_secs(v as i64)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
                Ok(Duration(SimDuration::from_micros((v * 1e6).round() as i64)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).map(Duration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// kube-controller-manager flags, all optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawController {
    tolerance: Option<f64>,
    downscale_stabilization: Option<Duration>,
    cpu_initialization_period: Option<Duration>,
    initial_readiness_delay: Option<Duration>,
    pod_level_resources: Option<bool>,
    configurable_tolerance: Option<bool>,
    scale_to_zero: Option<bool>,
}

/// Per-pod values: one for all pods, a list in pod order, or a map by pod name.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PerPod {
    /// The same value for every pod.
    One(Quantity),
    /// Values in pod order.
    List(Vec<Quantity>),
    /// Values by pod name.
    Map(BTreeMap<String, Quantity>),
}

/// One value or a list (External metrics may return several series).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One series.
    One(Quantity),
    /// Several series, summed by the controller.
    Many(Vec<Quantity>),
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawMetrics {
    #[serde(default)]
    resource: BTreeMap<String, PerPod>,
    #[serde(default)]
    container_resource: BTreeMap<String, BTreeMap<String, PerPod>>,
    #[serde(default)]
    pods: BTreeMap<String, PerPod>,
    #[serde(default)]
    object: BTreeMap<String, Quantity>,
    #[serde(default)]
    external: BTreeMap<String, OneOrMany>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPod {
    name: String,
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    ready: Option<ReadyValue>,
    #[serde(default)]
    ready_since: Option<Duration>,
    #[serde(default)]
    start_time: Option<Duration>,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    requests: Option<BTreeMap<String, Quantity>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum ReadyValue {
    Bool(bool),
    Text(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum RawPods {
    Count(u32),
    List(Vec<RawPod>),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawStep {
    time: Duration,
    #[serde(default)]
    replicas: Option<i32>,
    #[serde(default)]
    status_replicas: Option<i32>,
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    pods: Option<RawPods>,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawExplain {
    #[serde(default)]
    controller: RawController,
    #[serde(default)]
    hpa: Option<HorizontalPodAutoscaler>,
    #[serde(default)]
    hpa_spec: Option<HorizontalPodAutoscalerSpec>,
    #[serde(default)]
    pod_requests: BTreeMap<String, Quantity>,
    steps: Vec<RawStep>,
}

/// Metric values of one step.
#[derive(Clone, Debug, Default)]
pub struct StepMetrics {
    resource: BTreeMap<(String, String), PodMetricsList>,
    pods: BTreeMap<String, PodMetricsList>,
    object: BTreeMap<String, i64>,
    external: BTreeMap<String, Vec<i64>>,
    now: SimTime,
}

/// One reconcile to replay.
#[derive(Clone, Debug)]
pub struct Step {
    /// When it runs.
    pub now: SimTime,
    /// `spec.replicas`, or `None` to follow the previous decision.
    pub replicas: Option<i32>,
    /// `status.replicas`, or `None` for the number of non-deleted pods.
    pub status_replicas: Option<i32>,
    /// The scale's selector.
    pub selector: String,
    /// Pods, or `None` to generate `replicas` ready pods.
    pub pods: Option<Vec<PodInfo>>,
    metrics: StepMetricsSource,
}

#[derive(Clone, Debug)]
struct StepMetricsSource(RawMetrics);

/// A validated explain input.
#[derive(Clone, Debug)]
pub struct ExplainInput {
    /// Controller flags.
    pub config: ControllerConfig,
    /// The HPA.
    pub hpa: Hpa,
    /// Requests of generated pods (milli-values).
    pub pod_requests: BTreeMap<String, i64>,
    /// Steps in time order.
    pub steps: Vec<Step>,
}

const LONG_AGO: SimTime = SimTime::from_secs(-3600);

/// The explain file's errors, each with the line its field is on.
struct Errs<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<LoadError>,
}

impl Errs<'_> {
    fn push(&mut self, field: &str, message: String) {
        self.list.push(LoadError {
            file: self.file.to_string(),
            line: yaml::line_of(self.text, field),
            column: None,
            field: Some(field.to_string()),
            message,
        });
    }
}

/// Parses and validates an explain file; reports every problem at once.
pub fn parse(text: &str, file: &str) -> Result<ExplainInput, LoadErrors> {
    let raw: RawExplain = yaml::from_str(text, file)?;
    let mut errs = Errs {
        file,
        text,
        list: Vec::new(),
    };
    let config = controller_config(&raw.controller, &mut errs);
    let opts = ValidationOptions {
        scale_to_zero: config.scale_to_zero,
        require_scale_target_ref: false,
    };
    let Some((name, namespace, spec)) = hpa_of(&raw, opts, &mut errs) else {
        return Err(LoadErrors(errs.list));
    };
    let steps = steps(&raw, &name, &mut errs);
    if !errs.list.is_empty() {
        return Err(LoadErrors(errs.list));
    }
    let Some(spec) = spec else {
        return Err(LoadErrors(errs.list));
    };
    Ok(ExplainInput {
        config,
        hpa: Hpa {
            namespace,
            name,
            spec,
        },
        pod_requests: raw
            .pod_requests
            .iter()
            .map(|(k, q)| (k.clone(), q.milli_value()))
            .collect(),
        steps,
    })
}

/// `controller:`: kube-controller-manager's flags over
/// [`ControllerConfig::default`].
fn controller_config(c: &RawController, errs: &mut Errs<'_>) -> ControllerConfig {
    let d = ControllerConfig::default();
    let config = ControllerConfig {
        sync_period: d.sync_period,
        tolerance: c.tolerance.unwrap_or(d.tolerance),
        downscale_stabilization: c
            .downscale_stabilization
            .map_or(d.downscale_stabilization, |x| x.0),
        cpu_initialization_period: c
            .cpu_initialization_period
            .map_or(d.cpu_initialization_period, |x| x.0),
        initial_readiness_delay: c
            .initial_readiness_delay
            .map_or(d.initial_readiness_delay, |x| x.0),
        pod_level_resources: c.pod_level_resources.unwrap_or(d.pod_level_resources),
        configurable_tolerance: c.configurable_tolerance.unwrap_or(d.configurable_tolerance),
        scale_to_zero: c.scale_to_zero.unwrap_or(d.scale_to_zero),
    };
    if config.tolerance < 0.0 || !config.tolerance.is_finite() {
        let msg = "must be a non-negative number".into();
        errs.push("controller.tolerance", msg);
    }
    config
}

/// The HPA's name, namespace and validated spec (`None` when it is
/// refused, with the API server's messages in `errs`); `None` altogether
/// when the file gives neither `hpa` nor `hpaSpec`, or both.
fn hpa_of(
    raw: &RawExplain,
    opts: ValidationOptions,
    errs: &mut Errs<'_>,
) -> Option<(String, String, Option<HpaSpec>)> {
    let (name, namespace, spec, spec_path) = match (&raw.hpa, &raw.hpa_spec) {
        (Some(h), None) => {
            if let Some(k) = h
                .kind
                .as_deref()
                .filter(|k| *k != "HorizontalPodAutoscaler")
            {
                errs.push(
                    "hpa.kind",
                    format!("expected HorizontalPodAutoscaler, found {k:?}"),
                );
            }
            if let Some(v) = h.api_version.as_deref().filter(|v| *v != "autoscaling/v2") {
                errs.push(
                    "hpa.apiVersion",
                    format!("expected autoscaling/v2, found {v:?}"),
                );
            }
            (
                h.metadata.name.clone().unwrap_or_else(|| "hpa".to_string()),
                h.metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".to_string()),
                validate_spec(&h.spec, "hpa.spec", opts),
                "hpa.spec",
            )
        }
        (None, Some(s)) => (
            "hpa".to_string(),
            "default".to_string(),
            validate_spec(s, "hpaSpec", opts),
            "hpaSpec",
        ),
        _ => {
            errs.push("hpa", "give exactly one of `hpa` (a HorizontalPodAutoscaler) or `hpaSpec` (a NIMService spec.scale.hpa block)".into());
            return None;
        }
    };
    let spec = match spec {
        Ok(s) if s.max_replicas > MAX_PODS => {
            errs.push(
                &format!("{spec_path}.maxReplicas"),
                format!(
                    "{}: hpa explain generates a pod per replica and takes at most {MAX_PODS}",
                    s.max_replicas
                ),
            );
            None
        }
        Ok(s) => Some(s),
        Err(fe) => {
            for e in fe {
                let body = e.to_string();
                let message = body
                    .strip_prefix(&format!("{}: ", e.path))
                    .unwrap_or(&body)
                    .to_string();
                errs.push(&e.path, message);
            }
            None
        }
    };
    Some((name, namespace, spec))
}

/// `steps:`: strictly increasing times, replicas from the first, pods
/// generated or listed, each bounded by [`MAX_PODS`].
fn steps(raw: &RawExplain, name: &str, errs: &mut Errs<'_>) -> Vec<Step> {
    if raw.steps.is_empty() {
        errs.push("steps", "at least one step is required".into());
    }
    let mut steps = Vec::new();
    let mut last = None;
    for (i, s) in raw.steps.iter().enumerate() {
        let f = |k: &str| format!("steps[{i}].{k}");
        let now = SimTime::ZERO + s.time.0;
        if let Some(prev) = last
            && now <= prev
        {
            errs.push(&f("time"), "times must increase from step to step".into());
        }
        last = Some(now);
        if i == 0 && s.replicas.is_none() {
            let msg = "the first step must give the target's replicas".into();
            errs.push(&f("replicas"), msg);
        }
        if let Some(r) = s.replicas.filter(|r| *r < 0) {
            errs.push(&f("replicas"), format!("must be >= 0, found {r}"));
        }
        for (v, k) in [
            (s.replicas, "replicas"),
            (s.status_replicas, "statusReplicas"),
        ] {
            if let Some(r) = v.filter(|r| *r > MAX_PODS) {
                let msg = format!("{r}: at most {MAX_PODS} (a pod is generated per replica)");
                errs.push(&f(k), msg);
            }
        }
        if let Some(RawPods::Count(n)) = &s.pods
            && *n > MAX_PODS as u32
        {
            errs.push(&f("pods"), format!("{n} pods: at most {MAX_PODS}"));
            continue;
        }
        let pods = match &s.pods {
            None => None,
            Some(RawPods::Count(n)) => Some(generated(*n as i32, &raw.pod_requests, name)),
            Some(RawPods::List(list)) => {
                let mut out = Vec::new();
                for (j, p) in list.iter().enumerate() {
                    match pod(p) {
                        Ok(p) => out.push(p),
                        Err(m) => errs.push(&format!("steps[{i}].pods[{j}]"), m),
                    }
                }
                Some(out)
            }
        };
        steps.push(Step {
            now,
            replicas: s.replicas,
            status_replicas: s.status_replicas,
            selector: s.selector.clone().unwrap_or_else(|| format!("app={name}")),
            pods,
            metrics: StepMetricsSource(s.metrics.clone()),
        });
    }
    steps
}

/// Most pods (and replicas) one step may have: each is generated and
/// walked by the replica calculator, so 10^8 would take minutes and
/// gigabytes for a replay meant to explain a handful of decisions.
pub const MAX_PODS: i32 = 100_000;

fn generated(n: i32, requests: &BTreeMap<String, Quantity>, name: &str) -> Vec<PodInfo> {
    let req: BTreeMap<String, i64> = requests
        .iter()
        .map(|(k, q)| (k.clone(), q.milli_value()))
        .collect();
    (0..n.max(0))
        .map(|i| PodInfo::running_ready(format!("{name}-{i}"), req.clone(), LONG_AGO))
        .collect()
}

fn pod(p: &RawPod) -> Result<PodInfo, String> {
    let phase = match p.phase.as_deref().unwrap_or("Running") {
        "Running" => PodPhase::Running,
        "Pending" => PodPhase::Pending,
        "Succeeded" => PodPhase::Succeeded,
        "Failed" => PodPhase::Failed,
        "Unknown" => PodPhase::Unknown,
        other => {
            return Err(format!(
                "phase {other:?} is not one of Pending, Running, Succeeded, Failed, Unknown"
            ));
        }
    };
    let status = match &p.ready {
        None | Some(ReadyValue::Bool(true)) => Some(ConditionStatus::True),
        Some(ReadyValue::Bool(false)) => Some(ConditionStatus::False),
        Some(ReadyValue::Text(t)) => match t.as_str() {
            "True" => Some(ConditionStatus::True),
            "False" => Some(ConditionStatus::False),
            "Unknown" => Some(ConditionStatus::Unknown),
            "None" | "none" => None,
            other => {
                return Err(format!(
                    "ready {other:?} is not true, false, \"Unknown\" or \"None\""
                ));
            }
        },
    };
    let since = p.ready_since.map_or(LONG_AGO, |d| SimTime::ZERO + d.0);
    let ready = if phase == PodPhase::Pending && p.ready.is_none() {
        None
    } else {
        status.map(|s| ReadyCondition {
            status: s,
            last_transition: since,
        })
    };
    Ok(PodInfo {
        name: p.name.clone(),
        phase,
        ready,
        start_time: if phase == PodPhase::Pending {
            None
        } else {
            Some(p.start_time.map_or(LONG_AGO, |d| SimTime::ZERO + d.0))
        },
        deleted: p.deleted,
        containers: vec![ContainerInfo {
            name: "nim".to_string(),
            requests: p.requests.as_ref().map(|r| {
                r.iter()
                    .map(|(k, q)| (k.clone(), q.milli_value()))
                    .collect()
            }),
            restart_always: false,
        }],
        init_containers: Vec::new(),
        pod_requests: None,
        labels: p.labels.clone(),
    })
}

fn per_pod(v: &PerPod, pods: &[PodInfo], now: SimTime, window: SimDuration) -> PodMetricsList {
    let sample = |q: &Quantity| PodMetric {
        value_m: q.milli_value(),
        timestamp: now,
        window,
    };
    let live = pods.iter().filter(|p| p.phase != PodPhase::Pending);
    let items = match v {
        PerPod::One(q) => live.map(|p| (p.name.clone(), sample(q))).collect(),
        PerPod::List(l) => live
            .zip(l)
            .map(|(p, q)| (p.name.clone(), sample(q)))
            .collect(),
        PerPod::Map(m) => m.iter().map(|(n, q)| (n.clone(), sample(q))).collect(),
    };
    PodMetricsList {
        timestamp: now,
        items,
    }
}

fn step_metrics(src: &RawMetrics, pods: &[PodInfo], now: SimTime) -> StepMetrics {
    let mut m = StepMetrics {
        now,
        ..StepMetrics::default()
    };
    // metrics-server reports a 15 s window; custom metrics default to 60 s.
    for (name, v) in &src.resource {
        m.resource.insert(
            (name.clone(), String::new()),
            per_pod(v, pods, now, SimDuration::from_secs(15)),
        );
    }
    for (container, by_res) in &src.container_resource {
        for (name, v) in by_res {
            m.resource.insert(
                (name.clone(), container.clone()),
                per_pod(v, pods, now, SimDuration::from_secs(15)),
            );
        }
    }
    for (name, v) in &src.pods {
        m.pods.insert(
            name.clone(),
            per_pod(v, pods, now, SimDuration::from_secs(60)),
        );
    }
    for (name, q) in &src.object {
        m.object.insert(name.clone(), q.milli_value());
    }
    for (name, v) in &src.external {
        let vals = match v {
            OneOrMany::One(q) => vec![q.milli_value()],
            OneOrMany::Many(l) => l.iter().map(Quantity::milli_value).collect(),
        };
        m.external.insert(name.clone(), vals);
    }
    m
}

struct StepWorld<'a> {
    pods: &'a [PodInfo],
    metrics: &'a StepMetrics,
}

impl PodLister for StepWorld<'_> {
    fn list(&self, selector: &Selector) -> Vec<PodInfo> {
        self.pods
            .iter()
            .filter(|p| p.labels.is_empty() || selector.matches(&p.labels))
            .cloned()
            .collect()
    }
}

const NOT_FOUND: &str = "the server could not find the requested resource";

impl MetricsClient for StepWorld<'_> {
    fn resource(&self, resource: &str, container: &str) -> Result<PodMetricsList, String> {
        self.metrics
            .resource
            .get(&(resource.to_string(), container.to_string()))
            .cloned()
            .ok_or_else(|| NOT_FOUND.to_string())
    }
    fn pods(&self, metric: &MetricId) -> Result<PodMetricsList, String> {
        self.metrics
            .pods
            .get(&metric.name)
            .cloned()
            .ok_or_else(|| NOT_FOUND.to_string())
    }
    fn object(&self, metric: &MetricId, _: &ObjectRef) -> Result<(i64, SimTime), String> {
        self.metrics
            .object
            .get(&metric.name)
            .map(|v| (*v, self.metrics.now))
            .ok_or_else(|| NOT_FOUND.to_string())
    }
    fn external(&self, metric: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        self.metrics
            .external
            .get(&metric.name)
            .map(|v| (v.clone(), self.metrics.now))
            .ok_or_else(|| NOT_FOUND.to_string())
    }
}

/// What holds a scale-down back: the newest of the recommendations in the
/// scale-down stabilization window that are at least the stabilized count
/// (upstream keeps the window's highest recommendation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The count it holds the HPA at.
    pub replicas: i32,
    /// The recommendation that holds it: its count and when it was made.
    pub by: (i32, SimTime),
    /// When the last such recommendation leaves the window (from then on a
    /// sync may go lower).
    pub until: SimTime,
    /// The window.
    pub window: SimDuration,
}

/// Why `d` did not scale down as far as its metrics proposed, if it did
/// not (`ScaleDownStabilized`), from the recommendations `state` holds.
pub fn held(d: &Decision, state: &HpaState, cfg: &ControllerConfig) -> Option<Held> {
    let n = d.normalization.as_ref()?;
    if n.stabilize_reason != StabilizeReason::ScaleDownStabilized {
        return None;
    }
    let window = match &d.effective_behavior {
        Some(b) => SimDuration::from_secs(i64::from(
            b.scale_down
                .stabilization_window_seconds
                .unwrap_or(300)
                .max(0),
        )),
        None => cfg.downscale_stabilization,
    };
    let cutoff = d.now - window;
    let recs = state.history.recommendations.as_ref()?;
    let holding = recs
        .iter()
        .filter(|r| r.timestamp > cutoff && r.replicas >= n.stabilized)
        .max_by_key(|r| (r.timestamp, r.replicas))?;
    Some(Held {
        replicas: n.stabilized,
        by: (holding.replicas, holding.timestamp),
        until: holding.timestamp + window,
        window,
    })
}

/// Replays every step through the controller, carrying its state.
pub fn run(input: &ExplainInput) -> Vec<Decision> {
    run_explained(input).into_iter().map(|(d, _)| d).collect()
}

/// [`run`], with what held each scale-down back.
pub fn run_explained(input: &ExplainInput) -> Vec<(Decision, Option<Held>)> {
    let mut state = HpaState::default();
    let mut replicas = 0;
    let mut out = Vec::new();
    for s in &input.steps {
        let current = s.replicas.unwrap_or(replicas);
        let pods = s.pods.clone().unwrap_or_else(|| {
            let req = input
                .pod_requests
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Quantity::from_milli(
                            *v,
                            nimscale_core::quantity::QuantityFormat::DecimalSI,
                        ),
                    )
                })
                .collect();
            generated(current, &req, &input.hpa.name)
        });
        let scale = ScaleInfo {
            spec_replicas: current,
            status_replicas: s
                .status_replicas
                .unwrap_or_else(|| pods.iter().filter(|p| !p.deleted).count() as i32),
            selector: s.selector.clone(),
        };
        let metrics = step_metrics(&s.metrics.0, &pods, s.now);
        let world = StepWorld {
            pods: &pods,
            metrics: &metrics,
        };
        let d = reconcile(
            &input.config,
            &input.hpa,
            &mut state,
            &scale,
            &world,
            &world,
            s.now,
        );
        replicas = d.desired_replicas;
        let h = held(&d, &state, &input.config);
        out.push((d, h));
    }
    out
}

#[cfg(test)]
mod tests;
