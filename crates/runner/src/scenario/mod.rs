//! Scenario files: a NIMService (inline or the user's own file, read
//! unchanged), the GPU and model, the cluster, the metric path, traffic and
//! SLOs. Loading checks the structure against the JSON Schema, admits the
//! NIMService as the API server and the operator's webhook would, resolves
//! the model against the catalog, reads traces, and reports every problem at
//! once with file, line and field.

pub mod adapter;
pub mod check;
pub mod defaults;
pub mod raw;
pub mod traces;

mod build;
mod cluster;
mod load_traffic;
mod prometheus;

use build::build;
use load_traffic::{clients, traffic};
use prometheus::prometheus_path;

use std::collections::BTreeMap;
use std::sync::Arc;

use nimscale_core::engine::{
    Dialect, EngineProfile, KvDtype, ModelSpec, Precision, Roofline, UsageModel,
};
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
    Balancer, Clients, ClosedLoop, ClusterAutoscaler, Controller, DirectMetrics, FrontQueue,
    ModelSource, NodePool, Placement, PodTemplate, Probe, Recording, SimConfig, Slo, SloMetric,
    Startup,
};
use nimscale_core::sim::direct::unknown_metrics;
use nimscale_core::sim::dist::{Dist, secs};
use nimscale_core::sim::record::{Diagnostic, Severity};
use nimscale_core::sim::traffic::{
    BurstState, Generator, Images, Pattern, Replay, ReplayOptions, Source, TraceRow, spread_ticks,
};
use nimscale_core::sim::world::Simulation;
use nimscale_core::time::{SimDuration, SimTime};
use nimscale_operator::admission::{self, Admitted, Refusal};
use nimscale_operator::node::{FieldPath, Node, NodeValue, parse_documents};
use nimscale_operator::types::NimService;
use serde_json::Value;

use crate::catalog::{Catalog, parse_kv_dtype, parse_precision};
use crate::engine::{EngineOptions, ResolveError, Resolved, resolve};
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
        /// Images on (a share of) the requests.
        images: Option<Images>,
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
    /// Client timeouts, patience, retries, closed loop.
    pub clients: Option<Clients>,
    /// Controller schedule.
    pub controller: Controller,
    /// Replicas at time zero.
    pub initial_replicas: i32,
    /// The export lints that apply to this run, found before it starts.
    pub preflight: Vec<nimscale_operator::lint::Lint>,
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
            clients: self.clients.clone(),
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
                images,
            } => {
                let g = Generator::new(pattern.clone(), prompt.clone(), output.clone(), seed);
                Source::Generator(match images {
                    Some(i) => g.with_images(*i, seed),
                    None => g,
                })
            }
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

/// The largest log-normal sigma a distribution may have.
pub const MAX_SIGMA: f64 = 5.0;

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

struct Ctx<'a> {
    file: &'a str,
    root: &'a Node,
    errs: Vec<LoadError>,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.root.locate(&FieldPath::parse(path).0);
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

    /// A period nimscale acts on every so often: [`Ctx::dur`], and at least
    /// 1s.
    fn period(&mut self, d: Option<&Dur>, path: &str, default: SimDuration) -> SimDuration {
        let v = self.dur(d, path, default);
        if v < SimDuration::from_secs(1) {
            self.err(path, "must be at least 1s");
        }
        v
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

    /// A log-normal's sigma: 0 to [`MAX_SIGMA`]. Beyond, draws overflow
    /// to +∞ (a sigma of 2^31 did) and no real stage time or token count
    /// spreads that far.
    fn sigma(&mut self, v: f64, path: &str) {
        if !(v.is_finite() && (0.0..=MAX_SIGMA).contains(&v)) {
            self.err(
                path,
                format!(
                    "must be between 0 and {MAX_SIGMA}, found {v} (sigma {MAX_SIGMA} already puts the 99th percentile 10^5 times above the median)"
                ),
            );
        }
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
                self.sigma(*sigma, &format!("{p}.sigma"));
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
                self.sigma(*sigma, &format!("{path}.lognormal.sigma"));
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

/// A YAML tree as the serde shape `T`, after checking it against `T`'s
/// JSON Schema, so that every structural problem is reported at once with
/// its line and field (serde alone stops at the first, without a line).
pub(crate) fn read_checked<T: serde::de::DeserializeOwned>(
    root: &Node,
    file: &str,
    schema: &Value,
) -> Result<T, LoadErrors> {
    let problems = check::check(root, schema);
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
    serde_json::from_value(root.to_json()).map_err(|e| {
        LoadErrors(vec![LoadError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: e.to_string(),
        }])
    })
}

/// Loads and validates a scenario; every problem is reported at once.
pub fn load(
    text: &str,
    file: &str,
    files: &dyn Files,
    catalog: &Catalog,
) -> Result<Scenario, LoadErrors> {
    let root = &one_document(text, file, "scenario")?;
    let raw: RawScenario = read_checked(root, file, &schema())?;
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

impl Scenario {
    /// A run's findings with this scenario's pre-flight lints: errors
    /// first, then the lints (found before the run), then the run's
    /// warnings.
    pub fn diagnostics(&self, run: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let (errors, warnings): (Vec<_>, Vec<_>) =
            run.into_iter().partition(|d| d.severity == Severity::Error);
        let lints = self.preflight.iter().map(|l| Diagnostic {
            code: l.code.to_string(),
            severity: Severity::Warning,
            message: format!("{}: {}", l.field, l.message),
        });
        errors.into_iter().chain(lints).chain(warnings).collect()
    }
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
