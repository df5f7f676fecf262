//! Scenario files: a NIMService (inline or the user's own file, read
//! unchanged), the GPU and model, the cluster, the metric path, traffic and
//! SLOs. Loading checks the structure against the JSON Schema, admits the
//! NIMService as the API server and the operator's webhook would, resolves
//! the model against the catalog, reads traces, and reports every problem at
//! once with file, line and field.

pub mod adapter;
pub mod check;
pub mod raw;
pub mod traces;

use std::collections::BTreeMap;
use std::sync::Arc;

use nimscale_core::engine::{Dialect, EngineProfile, KvDtype, Precision, Roofline, UsageModel};
use nimscale_core::hpa::api::HorizontalPodAutoscalerSpec;
use nimscale_core::hpa::controller::{ControllerConfig, Hpa};
use nimscale_core::hpa::spec::{MetricSpec, TargetType};
use nimscale_core::hpa::validation::{ValidationOptions, validate_spec};
use nimscale_core::metrics::path::PromConfig;
use nimscale_core::metrics::promql::{self, EvalOptions, PromVersion};
use nimscale_core::metrics::scrape::ScrapeConfig;
use nimscale_core::metrics::server::MetricsServerConfig;
use nimscale_core::quantity::Quantity;
use nimscale_core::sim::autoscaler::{Autoscaler, Schedule};
use nimscale_core::sim::config::{
    Balancer, ClusterAutoscaler, Controller, DirectMetrics, FrontQueue, ModelSource, NodePool,
    Placement, PodTemplate, Probe, Recording, SimConfig, Slo, SloMetric, Startup,
};
use nimscale_core::sim::direct::unknown_metrics;
use nimscale_core::sim::dist::{Dist, secs};
use nimscale_core::sim::traffic::{
    BurstState, Generator, Pattern, Replay, ReplayOptions, Source, TraceRow, spread_ticks,
};
use nimscale_core::sim::world::Simulation;
use nimscale_core::time::{SimDuration, SimTime};
use nimscale_operator::admission::{self, Admitted, Refusal};
use nimscale_operator::node::{FieldPath, Node, NodeValue, PathSeg, parse_documents};
use nimscale_operator::types::NimService;
use serde_json::Value;

use crate::catalog::{Catalog, parse_kv_dtype, parse_precision};
use crate::engine::{EngineOptions, Resolved, resolve};
use crate::error::{LoadError, LoadErrors};
use raw::*;

/// Reads files a scenario names (the NIMService, traces), relative to the
/// scenario. The CLI implements it; the runner never opens files itself.
pub trait Files {
    /// The bytes of `path`, and the name to show in messages.
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String>;
}

/// The scenario JSON Schema (draft 2020-12).
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(RawScenario)).unwrap_or(Value::Null)
}

/// [`schema`] as pretty JSON with a final newline (what `nimscale schema`
/// prints and `scenarios/scenario.schema.json` holds).
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Where requests come from.
#[derive(Clone, Debug)]
pub enum Traffic {
    /// A rate pattern with token-length distributions.
    Pattern {
        /// The rate.
        pattern: Pattern,
        /// Prompt tokens.
        prompt: Dist,
        /// Output tokens.
        output: Dist,
    },
    /// A trace.
    Trace {
        /// Rows.
        rows: Arc<[TraceRow]>,
        /// Replay settings.
        opts: ReplayOptions,
        /// The file, as named.
        file: String,
    },
}

/// A loaded, validated scenario: everything needed to build a simulation
/// for any seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Run name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Seed.
    pub seed: u64,
    /// Simulated time.
    pub duration: SimDuration,
    /// The admitted NIMService (and any NIMCache objects).
    pub admitted: Admitted,
    /// GPU, model and capacity.
    pub resolved: Resolved,
    /// Metric dialect.
    pub dialect: Dialect,
    /// HTTP and tokenisation delay.
    pub frontend_delay: SimDuration,
    /// CPU and memory model.
    pub usage: UsageModel,
    /// The HPA (`None`: fixed replicas, or `schedule`).
    pub hpa: Option<Hpa>,
    /// Scheduled scaling (`autoscaler.schedule`), when the HPA is off.
    pub schedule: Option<Schedule>,
    /// Pods.
    pub template: PodTemplate,
    /// Start-up.
    pub startup: Startup,
    /// Nodes.
    pub pool: NodePool,
    /// Cluster autoscaler.
    pub autoscaler: ClusterAutoscaler,
    /// Load balancing.
    pub balancer: Balancer,
    /// Front queue.
    pub front_queue: FrontQueue,
    /// Controller schedule.
    pub controller: Controller,
    /// Replicas at time zero.
    pub initial_replicas: i32,
    /// Initial pods Ready at time zero.
    pub warm_start: bool,
    /// Metric reader (the direct path's settings; dialect for both).
    pub metrics: DirectMetrics,
    /// The Prometheus path (`None`: `metrics.source: direct`).
    pub prometheus: Option<PromConfig>,
    /// SLOs.
    pub slos: Vec<Slo>,
    /// SLO window.
    pub slo_window: SimDuration,
    /// Flap window.
    pub flap_window: SimDuration,
    /// Traffic.
    pub traffic: Traffic,
    /// Instants where the offered load changes.
    pub load_changes: Vec<SimTime>,
    /// Things the user should know that do not stop the run.
    pub warnings: Vec<String>,
}

impl Scenario {
    /// The simulation configuration for `seed`.
    pub fn sim_config(&self, seed: u64, recording: Recording) -> SimConfig<Roofline> {
        let mut engine = self.resolved.config(self.dialect, true);
        engine.usage = self.usage.clone();
        SimConfig {
            seed,
            duration: self.duration,
            engine,
            model: Roofline::new(&self.resolved.deployment),
            frontend_delay: self.frontend_delay,
            template: self.template.clone(),
            startup: self.startup.clone(),
            pool: self.pool.clone(),
            autoscaler: self.autoscaler.clone(),
            balancer: self.balancer,
            front_queue: self.front_queue,
            scaling: self
                .hpa
                .clone()
                .map(Autoscaler::Hpa)
                .or_else(|| self.schedule.clone().map(Autoscaler::Schedule)),
            controller: self.controller.clone(),
            initial_replicas: self.initial_replicas,
            warm_start: self.warm_start,
            metrics: self.metrics,
            prometheus: self.prometheus.clone(),
            slos: self.slos.clone(),
            slo_window: self.slo_window,
            load_changes: self.load_changes.clone(),
            flap_window: self.flap_window,
            recording,
        }
    }

    /// The arrivals for `seed`.
    pub fn source(&self, seed: u64) -> Source {
        match &self.traffic {
            Traffic::Pattern {
                pattern,
                prompt,
                output,
            } => Source::Generator(Generator::new(
                pattern.clone(),
                prompt.clone(),
                output.clone(),
                seed,
            )),
            Traffic::Trace { rows, opts, .. } => {
                Source::Replay(Replay::new(rows.clone(), opts.clone(), seed))
            }
        }
    }

    /// A simulation ready to run.
    pub fn simulation(&self, seed: u64, recording: Recording) -> Simulation<Roofline> {
        Simulation::new(self.sim_config(seed, recording), self.source(seed))
    }
}

/// Parses `1h30m`, `15s`, `500ms`, `2.5m`, `1d`.
pub fn parse_duration(s: &str) -> Result<SimDuration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0.0f64;
    let mut rest = t;
    let too_long = || {
        format!(
            "{s:?} is longer than {MAX_DURATION_DAYS} days, the longest duration nimscale reads"
        )
    };
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "cannot read {s:?} as a duration (e.g. 500ms, 15s, 2m, 1h30m)"
            ));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("cannot read {s:?} as a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "" => {
                return Err(format!(
                    "{s:?} has no unit; write e.g. {n}s (a bare number is read as seconds only without quotes)"
                ));
            }
            u => {
                return Err(format!("unknown unit {u:?} in {s:?}; use ms, s, m, h or d"));
            }
        };
        total += n * scale;
    }
    if total.is_nan() || total > MAX_DURATION_DAYS * 86_400.0 {
        return Err(too_long());
    }
    Ok(secs(total))
}

/// The longest duration any field takes (ten years); the simulated horizon
/// has its own, lower limit (`limits::Limits::max_duration`).
pub const MAX_DURATION_DAYS: f64 = 3650.0;

/// Parses `1GB/s`, `250MB/s`, `2GiB/s` into bytes per second.
pub fn parse_bandwidth(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let Some(body) = t.strip_suffix("/s") else {
        return Err(format!(
            "{s:?} is not a bandwidth; write e.g. 1GB/s or 250MB/s"
        ));
    };
    let body = body.trim();
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let n: f64 = body[..split]
        .parse()
        .map_err(|_| format!("cannot read {s:?} as a bandwidth"))?;
    let scale = match body[split..].trim() {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => {
            return Err(format!(
                "unknown unit {u:?} in {s:?}; use B, KB, MB, GB, KiB, MiB or GiB per second"
            ));
        }
    };
    if n <= 0.0 {
        return Err(format!("{s:?} must be positive"));
    }
    Ok(n * scale)
}

/// A field path with indices (`spec.scale.hpa.metrics[0].object`).
fn field_path(s: &str) -> FieldPath {
    let mut out = Vec::new();
    for part in s.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            out.push(PathSeg::Key(key.to_string()));
        }
        for i in rest.split('[').filter(|x| !x.is_empty()) {
            if let Ok(n) = i.trim_end_matches(']').parse() {
                out.push(PathSeg::Index(n));
            }
        }
    }
    FieldPath(out)
}

struct Ctx<'a> {
    file: &'a str,
    root: &'a Node,
    errs: Vec<LoadError>,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.root.locate(&field_path(path).0);
        self.errs.push(LoadError {
            file: self.file.to_string(),
            line: (pos.line > 0).then_some(pos.line as usize),
            column: (pos.column > 0).then_some(pos.column as usize),
            field: Some(path.to_string()),
            message: message.into(),
        });
    }

    fn dur(&mut self, d: Option<&Dur>, path: &str, default: SimDuration) -> SimDuration {
        match d {
            None => default,
            Some(Dur::Seconds(s)) if s.is_finite() && *s > MAX_DURATION_DAYS * 86_400.0 => {
                self.err(
                    path,
                    format!(
                        "{s:e} s is longer than {MAX_DURATION_DAYS} days, the longest duration nimscale reads"
                    ),
                );
                default
            }
            Some(Dur::Seconds(s)) if s.is_finite() && *s >= 0.0 => secs(*s),
            Some(Dur::Seconds(s)) => {
                self.err(path, format!("{s} is not a non-negative number of seconds"));
                default
            }
            Some(Dur::Text(t)) => match parse_duration(t) {
                Ok(d) => d,
                Err(e) => {
                    self.err(path, e);
                    default
                }
            },
        }
    }

    fn secs_of(&mut self, d: &Dur, path: &str) -> f64 {
        self.dur(Some(d), path, SimDuration::ZERO).as_secs_f64()
    }

    fn positive(&mut self, v: f64, path: &str) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            self.err(path, format!("must be a positive number, found {v}"));
        }
        v
    }

    fn rate(&mut self, v: f64, path: &str) -> f64 {
        if !(v.is_finite() && v >= 0.0) {
            self.err(
                path,
                format!("a rate must be ≥ 0 requests per second, found {v}"),
            );
            return 0.0;
        }
        v
    }

    fn time_dist(&mut self, d: Option<&RawTimeDist>, path: &str, default: Dist) -> Dist {
        let Some(d) = d else { return default };
        match d {
            RawTimeDist::Fixed(v) => Dist::Fixed(self.secs_of(v, &format!("{path}.fixed"))),
            RawTimeDist::Uniform { min, max } => {
                let (a, b) = (
                    self.secs_of(min, &format!("{path}.uniform.min")),
                    self.secs_of(max, &format!("{path}.uniform.max")),
                );
                if a > b {
                    self.err(&format!("{path}.uniform"), "min is greater than max");
                }
                Dist::Uniform { min: a, max: b }
            }
            RawTimeDist::Lognormal {
                median,
                sigma,
                min,
                max,
            } => {
                let p = format!("{path}.lognormal");
                let m = self.secs_of(median, &format!("{p}.median"));
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    self.err(&format!("{p}.sigma"), "must be ≥ 0");
                }
                let lo = min
                    .as_ref()
                    .map_or(0.0, |v| self.secs_of(v, &format!("{p}.min")));
                let hi = max
                    .as_ref()
                    .map_or(f64::INFINITY, |v| self.secs_of(v, &format!("{p}.max")));
                if lo > hi {
                    self.err(&p, "min is greater than max");
                }
                Dist::LogNormal {
                    median: m,
                    sigma: *sigma,
                    min: lo,
                    max: hi,
                }
            }
            RawTimeDist::Exponential { mean } => Dist::Exponential {
                mean: self.secs_of(mean, &format!("{path}.exponential.mean")),
            },
        }
    }

    fn token_dist(&mut self, d: Option<&RawTokenDist>, path: &str, default: Dist) -> Dist {
        let Some(d) = d else { return default };
        match d {
            RawTokenDist::Fixed(v) => {
                if *v == 0 {
                    self.err(&format!("{path}.fixed"), "must be at least 1 token");
                }
                Dist::Fixed(f64::from(*v))
            }
            RawTokenDist::Uniform { min, max } => {
                if min > max {
                    self.err(&format!("{path}.uniform"), "min is greater than max");
                }
                Dist::Uniform {
                    min: f64::from(*min),
                    max: f64::from(*max),
                }
            }
            RawTokenDist::Lognormal {
                median,
                sigma,
                min,
                max,
            } => {
                self.positive(*median, &format!("{path}.lognormal.median"));
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    self.err(&format!("{path}.lognormal.sigma"), "must be ≥ 0");
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    self.err(
                        &format!("{path}.lognormal"),
                        format!("min ({lo}) is greater than max ({hi})"),
                    );
                }
                Dist::LogNormal {
                    median: *median,
                    sigma: *sigma,
                    min: min.map_or(1.0, f64::from),
                    max: max.map_or(f64::INFINITY, f64::from),
                }
            }
            RawTokenDist::Exponential { mean } => Dist::Exponential {
                mean: self.positive(*mean, &format!("{path}.exponential.mean")),
            },
        }
    }
}

/// Converts an admission refusal into load errors in `file`, with field
/// paths prefixed by `prefix`.
fn refusal_errors(r: &Refusal, file: &str, prefix: &str) -> Vec<LoadError> {
    let mut out: Vec<LoadError> = r
        .problems
        .iter()
        .map(|p| LoadError {
            file: file.to_string(),
            line: (p.pos.line > 0).then_some(p.pos.line as usize),
            column: (p.pos.column > 0).then_some(p.pos.column as usize),
            field: Some(if p.field.is_empty() {
                prefix.trim_end_matches('.').to_string()
            } else {
                format!("{prefix}{}", p.field)
            }),
            message: p.text.clone(),
        })
        .collect();
    if out.is_empty() {
        out.push(LoadError {
            file: file.to_string(),
            line: None,
            column: None,
            field: Some(prefix.trim_end_matches('.').to_string()),
            message: r.message.clone(),
        });
    }
    out
}

/// The NIMService, admitted, with the file its positions refer to.
fn nimservice(
    node: &Node,
    file: &str,
    files: &dyn Files,
) -> Result<(Admitted, String, String), Vec<LoadError>> {
    let by_file = match &node.value {
        NodeValue::Map(entries) if entries.len() == 1 && entries[0].0.name == "file" => {
            Some(entries[0].1.as_str().unwrap_or_default().to_string())
        }
        _ => None,
    };
    if let Some(path) = by_file {
        let (name, bytes) = files.read(&path).map_err(|e| {
            let pos = node.pos;
            vec![LoadError {
                file: file.to_string(),
                line: Some(pos.line as usize),
                column: Some(pos.column as usize),
                field: Some("nimservice.file".into()),
                message: e,
            }]
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let admitted = admission::admit(&text).map_err(|r| refusal_errors(&r, &name, ""))?;
        return Ok((admitted, name, String::new()));
    }
    let docs = vec![node.clone()];
    let admitted =
        admission::admit_documents(docs).map_err(|r| refusal_errors(&r, file, "nimservice."))?;
    Ok((admitted, file.to_string(), "nimservice.".to_string()))
}

fn probe_of(spec: Option<&nimscale_operator::types::ProbeSpec>, default: Probe) -> Probe {
    let Some(s) = spec else { return default };
    if s.enabled == Some(false) {
        return Probe {
            enabled: false,
            ..default
        };
    }
    match &s.probe {
        None => default,
        Some(p) => Probe {
            enabled: true,
            initial_delay: SimDuration::from_secs(i64::from(p.initial_delay_seconds.unwrap_or(0))),
            period: SimDuration::from_secs(i64::from(p.period_seconds.unwrap_or(10).max(1))),
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
        },
    }
}

fn quantity_milli(q: &str) -> Option<i64> {
    Quantity::parse(q).ok().map(|q| q.milli_value())
}

/// The one YAML document of `text` (a `what`: "scenario", "sweep"), with
/// positions; a syntax error or another number of documents is an error.
pub(crate) fn one_document(text: &str, file: &str, what: &str) -> Result<Node, LoadErrors> {
    let mut docs = parse_documents(text).map_err(|e| {
        LoadErrors(vec![LoadError {
            file: file.into(),
            line: Some(e.pos.line as usize),
            column: Some(e.pos.column as usize),
            field: None,
            message: e.message,
        }])
    })?;
    if docs.len() != 1 {
        return Err(LoadErrors(vec![LoadError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: format!("a {what} is one YAML document, found {}", docs.len()),
        }]));
    }
    Ok(docs.remove(0))
}

/// Loads and validates a scenario; every problem is reported at once.
pub fn load(
    text: &str,
    file: &str,
    files: &dyn Files,
    catalog: &Catalog,
) -> Result<Scenario, LoadErrors> {
    let root = &one_document(text, file, "scenario")?;
    let problems = check::check(root, &schema());
    if !problems.is_empty() {
        return Err(LoadErrors(
            problems
                .into_iter()
                .map(|p| LoadError {
                    file: file.into(),
                    line: Some(p.pos.line as usize),
                    column: Some(p.pos.column as usize),
                    field: (!p.field.is_empty()).then_some(p.field),
                    message: p.message,
                })
                .collect(),
        ));
    }
    let raw: RawScenario = serde_json::from_value(root.to_json()).map_err(|e| {
        LoadErrors(vec![LoadError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: e.to_string(),
        }])
    })?;
    let mut cx = Ctx {
        file,
        root,
        errs: Vec::new(),
        warnings: Vec::new(),
    };
    let ns_node = root.get("nimservice").cloned().unwrap_or(Node {
        pos: root.pos,
        value: NodeValue::Null,
    });
    // A refused NIMService does not stop the other checks: they run on an
    // empty one, and only its own findings are skipped.
    let admitted = match nimservice(&ns_node, file, files) {
        Ok(a) => a,
        Err(e) => {
            cx.errs.extend(e);
            (
                Admitted {
                    stored: Value::Null,
                    nimservice: NimService::default(),
                    caches: Vec::new(),
                    warnings: Vec::new(),
                    source: ns_node.clone(),
                },
                file.to_string(),
                "nimservice.".to_string(),
            )
        }
    };
    let built = build(&raw, &mut cx, admitted, files, catalog);
    if !cx.errs.is_empty() {
        cx.errs
            .sort_by_key(|e| (e.file != file, e.file.clone(), e.line, e.column));
        return Err(LoadErrors(cx.errs));
    }
    built.ok_or_else(|| LoadErrors(Vec::new()))
}

/// The Prometheus path of a scenario: scrape interval (scenario, else the
/// NIMService's ServiceMonitor, else Prometheus' 1m), version, the adapter's
/// rules (the user's ConfigMap, else those `export` writes) and
/// metrics-server.
fn prometheus_path(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    files: &dyn Files,
    spec: &nimscale_operator::types::NimServiceSpec,
    template: &PodTemplate,
    metrics: &DirectMetrics,
) -> Option<PromConfig> {
    let mr = raw.metrics.as_ref();
    if mr.and_then(|m| m.source) == Some(RawMetricSource::Direct) {
        return None;
    }
    let pr = mr.and_then(|m| m.prometheus.as_ref());
    let ad = mr.and_then(|m| m.adapter.as_ref());
    let sm_interval = spec
        .metrics
        .as_ref()
        .and_then(|m| m.service_monitor.as_ref())
        .and_then(|s| s.interval.clone());
    let interval = match (pr.and_then(|p| p.scrape_interval.as_ref()), sm_interval) {
        (Some(d), _) => cx.dur(
            Some(d),
            "metrics.prometheus.scrapeInterval",
            SimDuration::from_secs(60),
        ),
        (None, Some(text)) => match promql::parse_duration_ms(&text) {
            Some(ms) if ms > 0 => SimDuration::from_millis(ms),
            _ => {
                cx.warnings.push(format!(
                    "spec.metrics.serviceMonitor.interval {text:?} is not a Prometheus duration; scraping every 1m"
                ));
                SimDuration::from_secs(60)
            }
        },
        (None, None) => {
            cx.warnings.push(
                "no scrape interval in the NIMService's ServiceMonitor or the scenario: Prometheus' own default, 1m, applies".into(),
            );
            SimDuration::from_secs(60)
        }
    };
    if interval < SimDuration::from_secs(1) {
        cx.err("metrics.prometheus.scrapeInterval", "must be at least 1s");
    }
    let version = match pr.and_then(|p| p.version) {
        None | Some(3) => PromVersion::V3,
        Some(2) => PromVersion::V2,
        Some(v) => {
            cx.err(
                "metrics.prometheus.version",
                format!("must be 2 or 3, found {v}"),
            );
            PromVersion::V3
        }
    };
    let lookback = cx.dur(
        pr.and_then(|p| p.lookback_delta.as_ref()),
        "metrics.prometheus.lookbackDelta",
        SimDuration::from_secs(300),
    );
    if lookback < SimDuration::from_secs(1) {
        cx.err("metrics.prometheus.lookbackDelta", "must be at least 1s");
    }
    let relist = cx.dur(
        ad.and_then(|a| a.relist_interval.as_ref()),
        "metrics.adapter.relistInterval",
        SimDuration::from_secs(60),
    );
    if relist < SimDuration::from_secs(1) {
        cx.err("metrics.adapter.relistInterval", "must be at least 1s");
    }
    let housekeeping = cx.dur(
        mr.and_then(|m| m.housekeeping.as_ref()),
        "metrics.housekeeping",
        SimDuration::from_secs(10),
    );
    if housekeeping < SimDuration::from_secs(1) {
        cx.err("metrics.housekeeping", "must be at least 1s");
    }
    let loaded = match ad.and_then(|a| a.config_map.as_ref()) {
        Some(f) => match files.read(&f.file) {
            Ok((name, bytes)) => {
                adapter::load(&String::from_utf8_lossy(&bytes), &name).map_err(|e| {
                    cx.errs.extend(e.0);
                })
            }
            Err(e) => {
                cx.err("metrics.adapter.configMap.file", e);
                Err(())
            }
        },
        None => {
            let settings = nimscale_operator::adapter::AdapterSettings {
                dialect: metrics.dialect,
                window_s: (metrics.window.as_micros() / 1_000_000).max(1) as u32,
                ..Default::default()
            };
            let rules = nimscale_operator::adapter::rules_for(spec, &settings);
            adapter::generated(&rules).map_err(|e| cx.errs.extend(e.0))
        }
    };
    let loaded = loaded.ok()?;
    cx.warnings.extend(loaded.warnings);
    Some(PromConfig {
        scrape: ScrapeConfig {
            interval_ms: interval.as_micros() / 1000,
            namespace: template.namespace.clone(),
            service: template.name.clone(),
            endpoint: "api".into(),
            container: template.container.clone(),
            port: spec
                .expose
                .as_ref()
                .and_then(|e| e.service.as_ref())
                .and_then(|s| s.port)
                .unwrap_or(8000)
                .clamp(1, 65535) as u16,
        },
        eval: EvalOptions {
            version,
            lookback_ms: lookback.as_micros() / 1000,
        },
        adapter: loaded.config,
        relist,
        warm_discovery: ad.and_then(|a| a.discovery) != Some(RawDiscovery::Cold),
        metrics_server: MetricsServerConfig {
            resolution: metrics.resolution,
            housekeeping,
        },
        keep_all_series: pr.and_then(|p| p.keep_all_series).unwrap_or(false),
        export_series: false,
    })
}

/// Reads `autoscaler.schedule`: steps in strictly increasing order, within
/// the period, and only when the NIMService's HPA is off.
fn schedule(cx: &mut Ctx<'_>, raw: Option<&RawScaling>, hpa: bool) -> Option<Schedule> {
    let s = &raw?.schedule;
    if hpa {
        cx.err(
            "autoscaler",
            "the NIMService enables its HPA (spec.scale.enabled); a scenario scales with one autoscaler: set spec.scale.enabled: false, or remove autoscaler",
        );
    }
    let period = s
        .period
        .as_ref()
        .map(|p| cx.dur(Some(p), "autoscaler.schedule.period", SimDuration::ZERO));
    if period.is_some_and(|p| p <= SimDuration::ZERO) {
        cx.err("autoscaler.schedule.period", "must be longer than 0s");
    }
    if s.steps.is_empty() {
        cx.err("autoscaler.schedule.steps", "at least one step is required");
    }
    let mut steps = Vec::new();
    for (i, st) in s.steps.iter().enumerate() {
        let path = format!("autoscaler.schedule.steps[{i}]");
        let at = cx.dur(Some(&st.at), &format!("{path}.at"), SimDuration::ZERO);
        if steps.last().is_some_and(|(prev, _)| at <= *prev) {
            cx.err(
                &format!("{path}.at"),
                "steps must start in strictly increasing order",
            );
        }
        if period.is_some_and(|p| at >= p) {
            cx.err(&format!("{path}.at"), "must be within the period");
        }
        let replicas = i32::try_from(st.replicas).unwrap_or(i32::MAX);
        steps.push((at, replicas));
    }
    Some(Schedule { steps, period })
}

/// Checks a name that becomes an output folder (`reports/<name>`): 1 to
/// 128 letters, digits, '-', '_' and '.', starting with a letter or digit,
/// so that it is one path component that stays inside the output root
/// (no `/`, no `..`, not absolute, not hidden).
pub fn check_output_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    if name.is_empty()
        || name.len() > 128
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.chars().all(ok_char)
    {
        return Err(format!(
            "{name:?}: use 1 to 128 letters, digits, '-', '_' and '.', starting with a letter or digit (it names the output folder under reports/)"
        ));
    }
    Ok(())
}

pub(crate) fn default_name(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .or_else(|| base.strip_suffix(".json"))
        .unwrap_or(base)
        .to_string()
}

/// Engine start-up median by weight size (our synthesis of gpu-model.md
/// §5.1: 60–90 s for 8B, 120–240 s for 70B): 45 s plus 1 s per GiB of
/// weights.
fn default_engine_start(weight_bytes: f64) -> Dist {
    Dist::lognormal(45.0 + weight_bytes / (1024.0 * 1024.0 * 1024.0), 0.2)
}

#[allow(clippy::too_many_lines)]
fn build(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    admitted: (Admitted, String, String),
    files: &dyn Files,
    catalog: &Catalog,
) -> Option<Scenario> {
    let duration = cx.dur(Some(&raw.duration), "duration", SimDuration::ZERO);
    if duration <= SimDuration::ZERO && cx.errs.is_empty() {
        cx.err("duration", "must be longer than 0s");
    }
    let name = raw.name.clone().unwrap_or_else(|| default_name(cx.file));
    if let Err(e) = check_output_name(&name) {
        cx.err("name", e);
    }

    // --- the NIMService -------------------------------------------------
    let ns_ok = admitted.0.stored != Value::Null;
    let (admitted, ns_file, ns_prefix) = admitted;
    let ns: &NimService = &admitted.nimservice;
    let ns_err = |cx: &mut Ctx<'_>, path: &str, msg: String| {
        let pos = admitted.source.locate(&field_path(path).0);
        cx.errs.push(LoadError {
            file: ns_file.clone(),
            line: (pos.line > 0).then_some(pos.line as usize),
            column: (pos.column > 0).then_some(pos.column as usize),
            field: Some(format!("{ns_prefix}{path}")),
            message: msg,
        });
    };
    for w in &admitted.warnings {
        cx.warnings
            .push(format!("{ns_file}: NIMService admission warning: {w}"));
    }
    if ns.spec.multi_node.is_some() {
        ns_err(
            cx,
            "spec.multiNode",
            "multi-node NIMServices (LeaderWorkerSet) are not simulated yet".into(),
        );
    }
    let ns_name = ns.metadata.name.clone().unwrap_or_default();
    let namespace = ns
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let resources = ns.spec.resources.clone().unwrap_or_default();
    let gpu_q = resources
        .limits
        .as_ref()
        .and_then(|l| l.get("nvidia.com/gpu"))
        .or_else(|| {
            resources
                .requests
                .as_ref()
                .and_then(|r| r.get("nvidia.com/gpu"))
        });
    let ns_gpus = gpu_q
        .and_then(|q| quantity_milli(&q.0))
        .map(|m| (m / 1000) as u32);
    let mut requests = BTreeMap::new();
    for (k, v) in resources.requests.iter().flatten() {
        if k == "nvidia.com/gpu" {
            continue;
        }
        if let Some(m) = quantity_milli(&v.0) {
            requests.insert(k.clone(), m);
        }
    }
    let profile_env = ns
        .spec
        .env
        .iter()
        .find(|e| e.name == "NIM_MODEL_PROFILE")
        .and_then(|e| e.value.clone());

    // --- the model ------------------------------------------------------
    let m = &raw.model;
    let mut precision = None;
    if let Some(p) = &m.precision {
        match parse_precision(p) {
            Ok(p) => precision = Some(p),
            Err(e) => cx.err("model.precision", e),
        }
    } else if let Some(p) = &profile_env {
        let lower = p.to_lowercase();
        if lower.contains("fp8") {
            precision = Some(Precision::Fp8);
        } else if lower.contains("bf16") {
            precision = Some(Precision::Bf16);
        }
    }
    let precision = precision.unwrap_or(Precision::Bf16);
    let kv_dtype = match m.kv_cache_dtype.as_deref().map(parse_kv_dtype) {
        None => KvDtype::Bf16,
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            cx.err("model.kvCacheDtype", e);
            KvDtype::Bf16
        }
    };
    let tp = match (m.tensor_parallel, ns_gpus) {
        (Some(t), Some(g)) if t != g => {
            cx.err(
                "model.tensorParallel",
                format!(
                    "{t} GPUs per pod, but the NIMService's resources ask for nvidia.com/gpu: {g}; make them agree"
                ),
            );
            t
        }
        (Some(t), _) => t,
        (None, Some(g)) if g > 0 => g,
        (None, _) if !ns_ok => 1,
        (None, _) => {
            cx.warnings
                .push("the NIMService requests no nvidia.com/gpu; simulating 1 GPU per pod".into());
            1
        }
    };
    if let Some(p) = &profile_env
        && let Some(i) = p.find("-tp")
        && let Some(n) = p[i + 3..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse::<u32>().ok())
        && n != tp
    {
        cx.warnings.push(format!(
            "NIM_MODEL_PROFILE {p:?} names tp{n}, but pods get {tp} GPUs"
        ));
    }
    let e = raw.model.engine.as_ref();
    let mut profile = EngineProfile::default();
    if let Some(e) = e {
        for (v, field) in [
            (e.max_num_seqs, "maxNumSeqs"),
            (e.max_num_batched_tokens, "maxNumBatchedTokens"),
            (e.max_model_len, "maxModelLen"),
            (e.block_size, "blockSize"),
            (e.request_cap, "requestCap"),
        ] {
            if v == Some(0) {
                cx.err(
                    &format!("model.engine.{field}"),
                    "must be at least 1 (0 would serve nothing)",
                );
            }
        }
        profile.max_num_seqs = e.max_num_seqs;
        profile.max_num_batched_tokens = e.max_num_batched_tokens;
        if let Some(u) = e.gpu_memory_utilization {
            if !(u > 0.0 && u <= 1.0) {
                cx.err("model.engine.gpuMemoryUtilization", "must be in (0, 1]");
            }
            profile.gpu_memory_utilization = u;
        }
        profile.max_model_len = e.max_model_len;
        if let Some(b) = e.block_size {
            profile.block_size = b;
        }
        if let Some(p) = e.prefix_caching {
            profile.enable_prefix_caching = p;
        }
        profile.request_cap = e.request_cap;
    }
    let frontend_delay = cx.dur(
        e.and_then(|e| e.frontend_delay.as_ref()),
        "model.engine.frontendDelay",
        profile.frontend_delay,
    );
    profile.frontend_delay = frontend_delay;
    let opts = EngineOptions {
        gpu: m.gpu.clone(),
        model: m.name.clone(),
        precision,
        kv_dtype,
        tp,
        profile,
    };
    let resolved = match resolve(catalog, &opts) {
        Ok(r) => Some(r),
        Err(msg) => {
            let field = if msg.contains("GPU") && !catalog.gpus.contains_key(&m.gpu) {
                "model.gpu"
            } else {
                "model.name"
            };
            cx.err(field, msg);
            None
        }
    };
    let dialect = match m.dialect {
        Some(RawDialect::Vllm) => Dialect::Vllm,
        _ => Dialect::Nim1,
    };
    let mut usage = UsageModel::default();
    if let Some(u) = &m.usage {
        if let Some(v) = u.idle_cores {
            usage.idle_cores = v;
        }
        if let Some(v) = u.busy_cores {
            usage.busy_cores = v;
        }
        if let Some(v) = u.core_seconds_per_token {
            usage.core_secs_per_token = v;
        }
        for (q, field, slot) in [
            (
                &u.base_memory,
                "model.usage.baseMemory",
                &mut usage.base_memory_bytes,
            ),
            (
                &u.memory_per_request,
                "model.usage.memoryPerRequest",
                &mut usage.memory_per_request_bytes,
            ),
        ] {
            if let Some(q) = q {
                match Quantity::parse(q) {
                    Ok(q) => *slot = q.approx_f64(),
                    Err(e) => cx.err(field, format!("{q:?} is not a quantity: {e}")),
                }
            }
        }
    }

    // --- the HPA --------------------------------------------------------
    let controller_raw = raw.cluster.as_ref().and_then(|c| c.controller.as_ref());
    let defaults = ControllerConfig::default();
    let cc = controller_raw;
    let config = ControllerConfig {
        sync_period: cx.dur(
            cc.and_then(|c| c.sync_period.as_ref()),
            "cluster.controller.syncPeriod",
            defaults.sync_period,
        ),
        tolerance: cc.and_then(|c| c.tolerance).unwrap_or(defaults.tolerance),
        downscale_stabilization: cx.dur(
            cc.and_then(|c| c.downscale_stabilization.as_ref()),
            "cluster.controller.downscaleStabilization",
            defaults.downscale_stabilization,
        ),
        cpu_initialization_period: cx.dur(
            cc.and_then(|c| c.cpu_initialization_period.as_ref()),
            "cluster.controller.cpuInitializationPeriod",
            defaults.cpu_initialization_period,
        ),
        initial_readiness_delay: cx.dur(
            cc.and_then(|c| c.initial_readiness_delay.as_ref()),
            "cluster.controller.initialReadinessDelay",
            defaults.initial_readiness_delay,
        ),
        scale_to_zero: cc.and_then(|c| c.scale_to_zero).unwrap_or(false),
        ..defaults
    };
    if config.sync_period < SimDuration::from_secs(1) {
        cx.err("cluster.controller.syncPeriod", "must be at least 1s");
    }
    let controller = Controller {
        first_sync: cx.dur(
            cc.and_then(|c| c.first_sync.as_ref()),
            "cluster.controller.firstSync",
            SimDuration::ZERO,
        ),
        reconcile_latency: cx.dur(
            cc.and_then(|c| c.reconcile_latency.as_ref()),
            "cluster.controller.reconcileLatency",
            SimDuration::ZERO,
        ),
        config,
    };
    let hpa = if ns.spec.autoscaling() {
        let hpa_json = admitted
            .stored
            .pointer("/spec/scale/hpa")
            .cloned()
            .unwrap_or(Value::Null);
        match serde_json::from_value::<HorizontalPodAutoscalerSpec>(hpa_json) {
            Err(e) => {
                ns_err(
                    cx,
                    "spec.scale.hpa",
                    format!("cannot read the HPA spec: {e}"),
                );
                None
            }
            Ok(api) => match validate_spec(
                &api,
                "spec.scale.hpa",
                ValidationOptions {
                    scale_to_zero: controller.config.scale_to_zero,
                    require_scale_target_ref: false,
                },
            ) {
                Ok(spec) => Some(Hpa {
                    namespace: namespace.clone(),
                    name: ns_name.clone(),
                    spec,
                }),
                Err(fe) => {
                    for e in fe {
                        let body = e.to_string();
                        let msg = body
                            .strip_prefix(&format!("{}: ", e.path))
                            .unwrap_or(&body)
                            .to_string();
                        ns_err(cx, &e.path, msg);
                    }
                    None
                }
            },
        }
    } else {
        None
    };
    if let Some(h) = &hpa {
        for name in unknown_metrics(&h.spec, dialect) {
            let idx = h.spec.metrics.iter().position(|m| match m {
                MetricSpec::Pods { metric, .. }
                | MetricSpec::Object { metric, .. }
                | MetricSpec::External { metric, .. } => metric.name == name,
                _ => false,
            });
            ns_err(
                cx,
                &format!("spec.scale.hpa.metrics[{}]", idx.unwrap_or(0)),
                format!(
                    "nimscale has no recipe for the metric {name:?}: use a NIM gauge (gpu_cache_usage_perc, num_requests_running, num_requests_waiting), <histogram>_over_<X>s_fraction, <histogram>_p<NN> or <counter>_per_second"
                ),
            );
        }
        for (i, m) in h.spec.metrics.iter().enumerate() {
            if let MetricSpec::Object {
                described_object,
                target,
                ..
            } = m
            {
                if described_object.kind != "Service" || described_object.name != ns_name {
                    ns_err(
                        cx,
                        &format!("spec.scale.hpa.metrics[{i}].object.describedObject"),
                        format!(
                            "the adapter serves these metrics on the NIMService's Service ({ns_name}); {} {} would have no series",
                            described_object.kind, described_object.name
                        ),
                    );
                }
                if target.type_ == TargetType::Utilization {
                    ns_err(
                        cx,
                        &format!("spec.scale.hpa.metrics[{i}].object.target.type"),
                        "an Object metric target must be Value or AverageValue".into(),
                    );
                }
            }
            if let MetricSpec::Resource { name, target } = m
                && target.average_utilization.is_some()
                && !requests.contains_key(name)
            {
                cx.warnings.push(format!(
                    "the HPA scales on {name} utilization but the NIMService requests no {name}: the HPA will report FailedGetResourceMetric (missing request for {name})"
                ));
            }
        }
    }
    let min_replicas = hpa.as_ref().map(|h| h.spec.min_replicas);
    let max_replicas = hpa.as_ref().map(|h| h.spec.max_replicas);

    // --- the cluster ----------------------------------------------------
    let cl = raw.cluster.as_ref();
    let np = cl.and_then(|c| c.node_pool.as_ref());
    let gpus_per_node = np.and_then(|n| n.gpus_per_node).unwrap_or(8);
    if gpus_per_node == 0 {
        cx.err("cluster.nodePool.gpusPerNode", "must be at least 1");
    }
    if tp > gpus_per_node {
        cx.err(
            "cluster.nodePool.gpusPerNode",
            format!("a pod needs {tp} GPUs but a node has {gpus_per_node}: no pod could ever be scheduled"),
        );
    }
    let pods_per_node = (gpus_per_node / tp.max(1)).max(1);
    let initial_replicas = cl
        .and_then(|c| c.initial_replicas)
        .unwrap_or_else(|| min_replicas.unwrap_or_else(|| ns.spec.replicas.unwrap_or(1)));
    if initial_replicas < 0 {
        cx.err("cluster.initialReplicas", "must be ≥ 0");
    }
    if let (Some(lo), Some(hi)) = (min_replicas, max_replicas)
        && (initial_replicas < lo || initial_replicas > hi)
        && cl.and_then(|c| c.initial_replicas).is_some()
    {
        cx.warnings.push(format!(
            "initialReplicas {initial_replicas} is outside [{lo}, {hi}]; the HPA will correct it at its first sync"
        ));
    }
    let peak = max_replicas
        .unwrap_or(initial_replicas)
        .max(initial_replicas);
    let max_nodes_default = (peak.max(1) as u32).div_ceil(pods_per_node);
    let max_nodes = np.and_then(|n| n.max_nodes).unwrap_or(max_nodes_default);
    let needed_now = (initial_replicas.max(0) as u32).div_ceil(pods_per_node);
    let initial_nodes = np.and_then(|n| n.initial_nodes).unwrap_or(needed_now);
    let min_nodes = np.and_then(|n| n.min_nodes).unwrap_or(0);
    if min_nodes > max_nodes {
        cx.err(
            "cluster.nodePool.minNodes",
            format!("{min_nodes} is more than maxNodes {max_nodes}"),
        );
    }
    if initial_nodes > max_nodes || needed_now > max_nodes {
        cx.err(
            "cluster.nodePool.maxNodes",
            format!(
                "{max_nodes} nodes cannot hold the {initial_replicas} initial pods ({pods_per_node} per node)"
            ),
        );
    }
    if let Some(hi) = max_replicas
        && (hi as u32).div_ceil(pods_per_node) > max_nodes
    {
        cx.warnings.push(format!(
            "maxReplicas {hi} needs {} nodes but the pool stops at {max_nodes}: pods beyond that stay Pending",
            (hi as u32).div_ceil(pods_per_node)
        ));
    }
    for (v, f) in [
        (
            np.and_then(|n| n.price_per_gpu_hour),
            "cluster.nodePool.pricePerGpuHour",
        ),
        (
            np.and_then(|n| n.price_per_node_hour),
            "cluster.nodePool.pricePerNodeHour",
        ),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            cx.err(f, "must be a price ≥ 0");
        }
    }
    let pool = NodePool {
        gpus_per_node,
        initial_nodes,
        min_nodes,
        max_nodes,
        placement: match np.and_then(|n| n.placement) {
            Some(RawPlacement::Pack) => Placement::Pack,
            _ => Placement::Spread,
        },
        price_per_gpu_hour: np.and_then(|n| n.price_per_gpu_hour),
        price_per_node_hour: np.and_then(|n| n.price_per_node_hour),
    };
    let ca = cl.and_then(|c| c.autoscaler.as_ref());
    let autoscaler = ClusterAutoscaler {
        enabled: ca.and_then(|c| c.enabled).unwrap_or(true),
        scan_interval: cx.dur(
            ca.and_then(|c| c.scan_interval.as_ref()),
            "cluster.autoscaler.scanInterval",
            SimDuration::from_secs(10),
        ),
        provisioning: cx.time_dist(
            ca.and_then(|c| c.provisioning.as_ref()),
            "cluster.autoscaler.provisioning",
            Dist::lognormal(300.0, 0.3),
        ),
        max_node_provision_time: cx.dur(
            ca.and_then(|c| c.max_node_provision_time.as_ref()),
            "cluster.autoscaler.maxNodeProvisionTime",
            SimDuration::from_secs(900),
        ),
        scale_down_unneeded_time: cx.dur(
            ca.and_then(|c| c.scale_down_unneeded_time.as_ref()),
            "cluster.autoscaler.scaleDownUnneededTime",
            SimDuration::from_secs(600),
        ),
        scale_down_delay_after_add: cx.dur(
            ca.and_then(|c| c.scale_down_delay_after_add.as_ref()),
            "cluster.autoscaler.scaleDownDelayAfterAdd",
            SimDuration::from_secs(600),
        ),
        max_empty_bulk_delete: ca.and_then(|c| c.max_empty_bulk_delete).unwrap_or(10),
    };
    if autoscaler.enabled && autoscaler.scan_interval < SimDuration::from_secs(1) {
        cx.err("cluster.autoscaler.scanInterval", "must be at least 1s");
    }
    let su = cl.and_then(|c| c.startup.as_ref());
    let weights = resolved.as_ref().map_or(16e9, |r| {
        r.deployment.weight_bytes_per_gpu() * f64::from(r.deployment.tp)
    });
    let storage = &ns.spec.storage;
    let has_volume =
        storage.nim_cache.is_some() || storage.pvc.is_some() || storage.host_path.is_some();
    let source = match su.and_then(|s| s.model_source) {
        Some(RawModelSource::Pvc) => ModelSource::Pvc,
        Some(RawModelSource::Download) => ModelSource::Download,
        _ if has_volume => ModelSource::Pvc,
        _ => ModelSource::Download,
    };
    let mut bw = |v: Option<&String>, path: &str, default: f64| -> f64 {
        match v.map(|s| parse_bandwidth(s)) {
            None => default,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                cx.err(path, e);
                default
            }
        }
    };
    let cold = bw(
        su.and_then(|s| s.cold_read_bandwidth.as_ref()),
        "cluster.startup.coldReadBandwidth",
        1e9,
    );
    let warm = bw(
        su.and_then(|s| s.warm_read_bandwidth.as_ref()),
        "cluster.startup.warmReadBandwidth",
        4e9,
    );
    let down = bw(
        su.and_then(|s| s.download_bandwidth.as_ref()),
        "cluster.startup.downloadBandwidth",
        250e6,
    );
    let startup = Startup {
        scheduling: cx.time_dist(
            su.and_then(|s| s.scheduling.as_ref()),
            "cluster.startup.scheduling",
            Dist::lognormal(1.0, 0.3),
        ),
        image_pull: cx.time_dist(
            su.and_then(|s| s.image_pull.as_ref()),
            "cluster.startup.imagePull",
            Dist::lognormal(360.0, 0.3),
        ),
        engine_start: cx.time_dist(
            su.and_then(|s| s.engine_start.as_ref()),
            "cluster.startup.engineStart",
            default_engine_start(weights),
        ),
        model_bytes: weights,
        source,
        cold_read_bps: cold,
        warm_read_bps: warm,
        download_bps: down,
        startup_probe: probe_of(ns.spec.startup_probe.as_ref(), Probe::nim_startup()),
        readiness_probe: probe_of(ns.spec.readiness_probe.as_ref(), Probe::nim_readiness()),
        max_backoff: SimDuration::from_secs(300),
        load_noise_sigma: 0.1,
    };
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), ns_name.clone());
    let template = PodTemplate {
        name: ns_name.clone(),
        namespace,
        labels,
        selector: format!("app={ns_name}"),
        container: ns_name.clone(),
        requests,
        gpus: tp,
        grace: cx.dur(
            cl.and_then(|c| c.termination_grace_period.as_ref()),
            "cluster.terminationGracePeriod",
            SimDuration::from_secs(30),
        ),
    };
    let balancer = match cl.and_then(|c| c.load_balancer) {
        Some(RawBalancer::RoundRobin) => Balancer::RoundRobin,
        Some(RawBalancer::LeastOutstanding) => Balancer::LeastOutstanding,
        _ => Balancer::Random,
    };
    let fq = cl.and_then(|c| c.front_queue.as_ref());
    let front_queue = FrontQueue {
        capacity: fq.and_then(|f| f.capacity).unwrap_or(1000) as usize,
        timeout: cx.dur(
            fq.and_then(|f| f.timeout.as_ref()),
            "cluster.frontQueue.timeout",
            SimDuration::from_secs(60),
        ),
    };
    let mr = raw.metrics.as_ref();
    let metrics = DirectMetrics {
        window: cx.dur(
            mr.and_then(|m| m.window.as_ref()),
            "metrics.window",
            SimDuration::from_secs(60),
        ),
        resolution: cx.dur(
            mr.and_then(|m| m.resolution.as_ref()),
            "metrics.resolution",
            SimDuration::from_secs(15),
        ),
        dialect,
    };
    if metrics.window < SimDuration::from_secs(1) {
        cx.err("metrics.window", "must be at least 1s");
    }
    let prometheus = prometheus_path(
        raw,
        cx,
        files,
        &admitted.nimservice.spec,
        &template,
        &metrics,
    );

    // --- traffic --------------------------------------------------------
    let (traffic, load_changes) = traffic(raw, cx, files)?;

    // --- objectives -----------------------------------------------------
    let mut slos = Vec::new();
    for (i, s) in raw.slos.iter().enumerate() {
        let p = format!("slos[{i}]");
        if s.percentile > 0.0 && s.percentile <= 1.0 {
            // 0.95 would silently be p0.95, nearly the fastest request.
            cx.err(
                &format!("{p}.percentile"),
                format!(
                    "{} is on the 0–100 scale, so it means p{}; write {} for the {}th percentile",
                    s.percentile,
                    s.percentile,
                    s.percentile * 100.0,
                    s.percentile * 100.0
                ),
            );
        } else if !(s.percentile > 0.0 && s.percentile <= 100.0) {
            cx.err(&format!("{p}.percentile"), "must be in (0, 100]");
        }
        let metric = match s.metric {
            RawSloMetric::Ttft => SloMetric::Ttft,
            RawSloMetric::E2e => SloMetric::E2e,
            RawSloMetric::Itl => SloMetric::Itl,
        };
        let threshold = cx.secs_of(&s.threshold, &format!("{p}.threshold"));
        slos.push(Slo {
            name: s
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-p{}", metric.as_str(), s.percentile)),
            metric,
            percentile: s.percentile,
            threshold,
        });
    }
    let ev = raw.evaluation.as_ref();
    let slo_window = cx.dur(
        ev.and_then(|e| e.slo_window.as_ref()),
        "evaluation.sloWindow",
        SimDuration::from_secs(60),
    );
    if slo_window < SimDuration::from_secs(1) {
        cx.err("evaluation.sloWindow", "must be at least 1s");
    }
    let flap_window = cx.dur(
        ev.and_then(|e| e.flap_window.as_ref()),
        "evaluation.flapWindow",
        SimDuration::from_secs(600),
    );
    let warnings = std::mem::take(&mut cx.warnings);
    Some(Scenario {
        name,
        description: raw.description.clone().unwrap_or_default(),
        seed: raw.seed.unwrap_or(1),
        duration,
        resolved: resolved?,
        dialect,
        frontend_delay,
        usage,
        schedule: schedule(cx, raw.autoscaler.as_ref(), hpa.is_some()),
        hpa,
        template,
        startup,
        pool,
        autoscaler,
        balancer,
        front_queue,
        controller,
        initial_replicas,
        warm_start: cl.and_then(|c| c.warm_start).unwrap_or(true),
        metrics,
        prometheus,
        slos,
        slo_window,
        flap_window,
        traffic,
        load_changes,
        warnings,
        admitted,
    })
}

fn at(s: f64) -> SimTime {
    SimTime::ZERO + secs(s)
}

fn traffic(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    files: &dyn Files,
) -> Option<(Traffic, Vec<SimTime>)> {
    let t = &raw.traffic;
    match (&t.pattern, &t.trace) {
        (Some(_), Some(_)) | (None, None) => {
            cx.err("traffic", "give exactly one of `pattern` or `trace`");
            None
        }
        (Some(p), None) => {
            let prompt = cx.token_dist(
                t.prompt.as_ref(),
                "traffic.prompt",
                Dist::LogNormal {
                    median: 1000.0,
                    sigma: 0.6,
                    min: 1.0,
                    max: 8000.0,
                },
            );
            let output = cx.token_dist(
                t.output.as_ref(),
                "traffic.output",
                Dist::LogNormal {
                    median: 200.0,
                    sigma: 0.6,
                    min: 1.0,
                    max: 2000.0,
                },
            );
            let path = "traffic.pattern";
            let (pattern, changes) = match p {
                RawPattern::Constant { rate } => (
                    Pattern::Piecewise(vec![(0.0, cx.rate(*rate, &format!("{path}.rate")))]),
                    vec![],
                ),
                RawPattern::Ramp {
                    from,
                    to,
                    start,
                    end,
                } => {
                    let (a, b) = (
                        cx.rate(*from, &format!("{path}.from")),
                        cx.rate(*to, &format!("{path}.to")),
                    );
                    let (s, e) = (
                        cx.secs_of(start, &format!("{path}.start")),
                        cx.secs_of(end, &format!("{path}.end")),
                    );
                    if e < s {
                        cx.err(&format!("{path}.end"), "the ramp ends before it starts");
                    }
                    (Pattern::Piecewise(vec![(s, a), (e, b)]), vec![at(s)])
                }
                RawPattern::Step { steps } => {
                    let mut knots = Vec::new();
                    let mut changes = Vec::new();
                    let mut last = f64::NEG_INFINITY;
                    for (i, st) in steps.iter().enumerate() {
                        let s = cx.secs_of(&st.at, &format!("{path}.steps[{i}].at"));
                        let r = cx.rate(st.rate, &format!("{path}.steps[{i}].rate"));
                        if s < last {
                            cx.err(
                                &format!("{path}.steps[{i}].at"),
                                "steps must be in time order",
                            );
                        }
                        last = s;
                        if let Some(&(_, prev)) = knots.last() {
                            knots.push((s, prev));
                            changes.push(at(s));
                        }
                        knots.push((s, r));
                    }
                    if knots.is_empty() {
                        cx.err(&format!("{path}.steps"), "needs at least one step");
                    }
                    (Pattern::Piecewise(knots), changes)
                }
                RawPattern::Spike {
                    base,
                    peak,
                    at: start,
                    duration,
                    ramp_up,
                } => {
                    let (b, pk) = (
                        cx.rate(*base, &format!("{path}.base")),
                        cx.rate(*peak, &format!("{path}.peak")),
                    );
                    let s = cx.secs_of(start, &format!("{path}.at"));
                    let d = cx.secs_of(duration, &format!("{path}.duration"));
                    let r = ramp_up
                        .as_ref()
                        .map_or(0.0, |r| cx.secs_of(r, &format!("{path}.rampUp")));
                    if r > d {
                        cx.err(&format!("{path}.rampUp"), "longer than the spike");
                    }
                    (
                        Pattern::Piecewise(vec![(s, b), (s + r, pk), (s + d, pk), (s + d, b)]),
                        vec![at(s), at(s + d)],
                    )
                }
                RawPattern::Decrease {
                    from,
                    to,
                    at: start,
                    over,
                } => {
                    let (a, b) = (
                        cx.rate(*from, &format!("{path}.from")),
                        cx.rate(*to, &format!("{path}.to")),
                    );
                    let s = cx.secs_of(start, &format!("{path}.at"));
                    let o = over
                        .as_ref()
                        .map_or(0.0, |o| cx.secs_of(o, &format!("{path}.over")));
                    if b > a {
                        cx.warnings.push("traffic.pattern: a `decrease` whose `to` is above `from` is an increase".into());
                    }
                    (Pattern::Piecewise(vec![(s, a), (s + o, b)]), vec![at(s)])
                }
                RawPattern::Diurnal {
                    mean,
                    amplitude,
                    period,
                    phase,
                } => {
                    let m = cx.rate(*mean, &format!("{path}.mean"));
                    let per = cx.dur(
                        period.as_ref(),
                        &format!("{path}.period"),
                        SimDuration::from_secs(86_400),
                    );
                    if per <= SimDuration::ZERO {
                        cx.err(&format!("{path}.period"), "must be longer than 0s");
                    }
                    let ph = cx.dur(phase.as_ref(), &format!("{path}.phase"), SimDuration::ZERO);
                    (
                        Pattern::Diurnal {
                            mean: m,
                            amplitude: *amplitude,
                            period: per.as_secs_f64(),
                            phase: ph.as_secs_f64(),
                        },
                        vec![],
                    )
                }
                RawPattern::Bursty { states } => {
                    if states.is_empty() {
                        cx.err(&format!("{path}.states"), "needs at least one state");
                    }
                    let s = states
                        .iter()
                        .enumerate()
                        .map(|(i, s)| BurstState {
                            rate: cx.rate(s.rate, &format!("{path}.states[{i}].rate")),
                            mean_dwell: {
                                let d = cx.secs_of(
                                    &s.mean_duration,
                                    &format!("{path}.states[{i}].meanDuration"),
                                );
                                if d <= 0.0 {
                                    cx.err(
                                        &format!("{path}.states[{i}].meanDuration"),
                                        "must be longer than 0s",
                                    );
                                }
                                d.max(1e-3)
                            },
                        })
                        .collect();
                    (Pattern::Bursty(s), vec![])
                }
            };
            Some((
                Traffic::Pattern {
                    pattern,
                    prompt,
                    output,
                },
                changes,
            ))
        }
        (None, Some(tr)) => {
            if t.prompt.is_some() || t.output.is_some() {
                cx.warnings.push(
                    "traffic.prompt and traffic.output are ignored with a trace (the trace gives token counts)".into(),
                );
            }
            let p = "traffic.trace";
            let time_scale = tr.time_scale.unwrap_or(1.0);
            cx.positive(time_scale, &format!("{p}.timeScale"));
            let mult = tr.rate_multiplier.unwrap_or(1.0);
            cx.positive(mult, &format!("{p}.rateMultiplier"));
            let skip = cx.dur(tr.skip.as_ref(), &format!("{p}.skip"), SimDuration::ZERO);
            let (name, bytes) = match files.read(&tr.file) {
                Ok(x) => x,
                Err(e) => {
                    cx.err(&format!("{p}.file"), e);
                    return None;
                }
            };
            let parsed = match traces::parse(&bytes, &name, tr.format) {
                Ok(t) => t,
                Err(e) => {
                    cx.errs.extend(e.0);
                    return None;
                }
            };
            if parsed.reordered {
                cx.warnings.push(format!(
                    "{name}: rows were not in time order; replayed sorted"
                ));
            }
            let mut rows = parsed.rows;
            if tr.spread_ticks.unwrap_or(false) {
                spread_ticks(&mut rows);
            }
            let zero = rows
                .iter()
                .filter(|r| r.prompt == 0 || r.output == 0)
                .count();
            if zero > 0 {
                cx.warnings.push(format!(
                    "{name}: {zero} requests have 0 prompt or output tokens; the engine refuses them (counted as failed)"
                ));
            }
            Some((
                Traffic::Trace {
                    rows: rows.into(),
                    opts: ReplayOptions {
                        time_scale,
                        rate_multiplier: mult,
                        repeat: tr.repeat.unwrap_or(false),
                        skip_s: skip.as_secs_f64(),
                    },
                    file: tr.file.clone(),
                },
                vec![],
            ))
        }
    }
}
