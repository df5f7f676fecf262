//! From the checked raw shapes to a `Scenario`, one concern at a time: the
//! NIMService, the model and engine, the HPA controller and the HPA (or
//! scheduled scaling), the cluster, pods and their start-up, the Service
//! front end, the metric path, traffic and objectives. Every default is a
//! named constant in [`super::defaults`].

use super::cluster::{cluster_autoscaler, front_end, node_pool, pod_template, startup};
use super::defaults as d;
use super::prometheus::{check_served, preflight};
use super::*;

/// Where the NIMService came from, so that its errors point into its own
/// file (the user's, read unchanged) at its own line.
pub(super) struct NsSource<'a> {
    admitted: &'a Admitted,
    file: &'a str,
    prefix: &'a str,
}

impl NsSource<'_> {
    pub(super) fn err(&self, cx: &mut Ctx<'_>, path: &str, message: String) {
        let pos = self.admitted.source.locate(&FieldPath::parse(path).0);
        cx.errs.push(LoadError {
            file: self.file.to_string(),
            line: (pos.line > 0).then_some(pos.line as usize),
            column: (pos.column > 0).then_some(pos.column as usize),
            field: Some(format!("{}{path}", self.prefix)),
            message,
        });
    }
}

/// What the rest of the scenario reads from the NIMService.
pub(super) struct NsFacts {
    pub(super) name: String,
    pub(super) namespace: String,
    /// `nvidia.com/gpu` from the limits, else the requests.
    gpus: Option<u32>,
    /// The other resource requests, in milli-units.
    pub(super) requests: BTreeMap<String, i64>,
    /// `NIM_MODEL_PROFILE`.
    profile_env: Option<String>,
}

impl NsFacts {
    fn of(ns: &NimService) -> NsFacts {
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
        let mut requests = BTreeMap::new();
        for (k, v) in resources.requests.iter().flatten() {
            if k == "nvidia.com/gpu" {
                continue;
            }
            if let Some(m) = quantity_milli(&v.0) {
                requests.insert(k.clone(), m);
            }
        }
        NsFacts {
            name: ns.metadata.name.clone().unwrap_or_default(),
            namespace: ns
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            gpus: gpu_q
                .and_then(|q| quantity_milli(&q.0))
                .map(|m| (m / 1000) as u32),
            requests,
            profile_env: ns
                .spec
                .env
                .iter()
                .find(|e| e.name == "NIM_MODEL_PROFILE")
                .and_then(|e| e.value.clone()),
        }
    }
}

pub(super) fn build(
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
    let ns_ok = admitted.0.stored != Value::Null;
    let (admitted, ns_file, ns_prefix) = admitted;
    let src = NsSource {
        admitted: &admitted,
        file: &ns_file,
        prefix: &ns_prefix,
    };
    let ns = &admitted.nimservice;
    for w in &admitted.warnings {
        cx.warnings
            .push(format!("{ns_file}: NIMService admission warning: {w}"));
    }
    if ns.spec.multi_node.is_some() {
        let msg = "multi-node NIMServices (LeaderWorkerSet) are not simulated yet";
        src.err(cx, "spec.multiNode", msg.into());
    }
    let facts = NsFacts::of(ns);
    let with_config;
    let catalog = match model_config(raw, cx, files, catalog) {
        Some(c) => {
            with_config = c;
            &with_config
        }
        None => catalog,
    };
    let model = model(raw, cx, &facts, ns_ok, catalog);
    let controller = controller(raw, cx);
    let direct = raw.metrics.as_ref().and_then(|m| m.source) == Some(RawMetricSource::Direct);
    let hpa = hpa(cx, &src, &facts, &controller, model.dialect, direct);
    let cl = raw.cluster.as_ref();
    let (pool, initial_replicas) = node_pool(cx, cl, ns, hpa.as_ref(), model.tp);
    let autoscaler = cluster_autoscaler(cx, cl.and_then(|c| c.autoscaler.as_ref()));
    let startup = startup(cx, cl, ns, model.resolved.as_ref());
    let template = pod_template(cx, cl, facts, model.tp);
    let (balancer, front_queue) = front_end(cx, cl);
    let metrics = direct_metrics(cx, raw.metrics.as_ref(), model.dialect);
    let prometheus = prometheus_path(raw, cx, files, &ns.spec, &template, &metrics);
    let serving = match (&hpa, &prometheus, &model.resolved) {
        (Some(h), Some(pc), Some(r)) => check_served(cx, &src, raw, h, pc, r, model.dialect),
        _ => Vec::new(),
    };
    let preflight = preflight(&ns.spec, prometheus.as_ref(), serving, &controller);
    let spec = model.resolved.as_ref().map(|r| &r.deployment.model);
    let (traffic, load_changes) = traffic(raw, cx, files, spec)?;
    let clients = clients(raw, cx);
    let (slos, slo_window, flap_window) = objectives(raw, cx);
    let warnings = std::mem::take(&mut cx.warnings);
    Some(Scenario {
        name,
        description: raw.description.clone().unwrap_or_default(),
        seed: raw.seed.unwrap_or(d::SEED),
        duration,
        resolved: model.resolved?,
        dialect: model.dialect,
        frontend_delay: model.frontend_delay,
        usage: model.usage,
        schedule: schedule(cx, raw.autoscaler.as_ref(), hpa.is_some()),
        hpa,
        template,
        startup,
        pool,
        autoscaler,
        balancer,
        front_queue,
        clients,
        controller,
        initial_replicas,
        warm_start: cl.and_then(|c| c.warm_start).unwrap_or(d::WARM_START),
        metrics,
        prometheus,
        slos,
        slo_window,
        flap_window,
        traffic,
        load_changes,
        warnings,
        preflight,
        admitted,
    })
}

/// The model and its engine, resolved against the catalog.
struct Model {
    tp: u32,
    dialect: Dialect,
    frontend_delay: SimDuration,
    usage: UsageModel,
    /// `None` when the GPU or model is unknown or does not fit (the error
    /// is in `cx`).
    resolved: Option<Resolved>,
}

/// `model.config`: the catalog with the model its `config.json` describes
/// added under `model.name` (`None`: no config given, or it could not be
/// read; the error is in `cx`).
fn model_config(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    files: &dyn Files,
    catalog: &Catalog,
) -> Option<Catalog> {
    let f = raw.model.config.as_ref()?;
    let (name, bytes) = match files.read(&f.file) {
        Ok(x) => x,
        Err(e) => {
            cx.err("model.config.file", e);
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    match crate::hf::model_from_config(&text, &name, &raw.model.name, catalog) {
        Ok((spec, warnings)) => {
            cx.warnings.extend(warnings);
            let mut c = catalog.clone();
            c.models.insert(spec.name.clone(), spec);
            Some(c)
        }
        Err(e) => {
            cx.errs.extend(e.0);
            None
        }
    }
}

fn model(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    facts: &NsFacts,
    ns_ok: bool,
    catalog: &Catalog,
) -> Model {
    let m = &raw.model;
    let precision = match (&m.precision, &facts.profile_env) {
        (Some(p), _) => parse_precision(p).unwrap_or_else(|e| {
            cx.err("model.precision", e);
            Precision::Bf16
        }),
        (None, Some(p)) if p.to_lowercase().contains("fp8") => Precision::Fp8,
        _ => Precision::Bf16,
    };
    let kv_dtype = match m.kv_cache_dtype.as_deref().map(parse_kv_dtype) {
        None => KvDtype::Bf16,
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            cx.err("model.kvCacheDtype", e);
            KvDtype::Bf16
        }
    };
    let tp = tensor_parallel(cx, m.tensor_parallel, facts, ns_ok);
    let mut profile = engine_profile(cx, m.engine.as_ref());
    let frontend_delay = cx.dur(
        m.engine.as_ref().and_then(|e| e.frontend_delay.as_ref()),
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
        expert_parallel: m.expert_parallel.unwrap_or(false),
        profile,
    };
    let mut resolved = resolve(catalog, &opts)
        .map_err(|e| {
            let field = match e {
                ResolveError::UnknownGpu(_) => "model.gpu",
                ResolveError::UnknownModel(_) | ResolveError::Capacity(_) => "model.name",
            };
            cx.err(field, e.message());
        })
        .ok();
    if let (Some(f), Some(r)) = (
        m.engine.as_ref().and_then(|e| e.front_end.as_ref()),
        &mut resolved,
    ) {
        let fe = &mut r.deployment.model.frontend;
        for (d, field, slot) in [
            (&f.per_request, "perRequest", &mut fe.request_ns),
            (
                &f.per_prompt_token,
                "perPromptToken",
                &mut fe.prompt_token_ns,
            ),
            (
                &f.per_output_token,
                "perOutputToken",
                &mut fe.output_token_ns,
            ),
        ] {
            if d.is_some() {
                let path = format!("model.engine.frontEnd.{field}");
                let was = SimDuration::from_micros(*slot / 1000);
                *slot = cx.dur(d.as_ref(), &path, was).as_micros() * 1000;
            }
        }
    }
    Model {
        tp,
        dialect: match m.dialect {
            Some(RawDialect::Vllm) => Dialect::Vllm,
            _ => Dialect::Nim1,
        },
        frontend_delay,
        usage: usage(cx, m.usage.as_ref()),
        resolved,
    }
}

/// GPUs per pod: `model.tensorParallel`, else the NIMService's
/// `nvidia.com/gpu`; they must agree, and `NIM_MODEL_PROFILE`'s `-tpN` is
/// checked against the result.
fn tensor_parallel(cx: &mut Ctx<'_>, tp: Option<u32>, facts: &NsFacts, ns_ok: bool) -> u32 {
    let tp = match (tp, facts.gpus) {
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
    if let Some(p) = &facts.profile_env
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
    tp
}

/// `model.engine`: vLLM's settings over [`EngineProfile::default`].
fn engine_profile(cx: &mut Ctx<'_>, e: Option<&RawEngine>) -> EngineProfile {
    let mut profile = EngineProfile::default();
    let Some(e) = e else { return profile };
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
    if let Some(c) = e.chunked_prefill {
        profile.chunked_prefill = c;
    }
    profile.request_cap = e.request_cap;
    profile
}

/// `model.usage`: the CPU and memory model over [`UsageModel::default`].
fn usage(cx: &mut Ctx<'_>, u: Option<&RawUsage>) -> UsageModel {
    let mut usage = UsageModel::default();
    let Some(u) = u else { return usage };
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
    usage
}

/// `cluster.controller`: kube-controller-manager's HPA flags over
/// [`ControllerConfig::default`], and the sync schedule.
fn controller(raw: &RawScenario, cx: &mut Ctx<'_>) -> Controller {
    let cc = raw.cluster.as_ref().and_then(|c| c.controller.as_ref());
    let defaults = ControllerConfig::default();
    let config = ControllerConfig {
        sync_period: cx.period(
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
        scale_to_zero: cc
            .and_then(|c| c.scale_to_zero)
            .unwrap_or(defaults.scale_to_zero),
        ..defaults
    };
    Controller {
        first_sync: cx.dur(
            cc.and_then(|c| c.first_sync.as_ref()),
            "cluster.controller.firstSync",
            d::FIRST_SYNC,
        ),
        reconcile_latency: cx.dur(
            cc.and_then(|c| c.reconcile_latency.as_ref()),
            "cluster.controller.reconcileLatency",
            d::RECONCILE_LATENCY,
        ),
        config,
    }
}

/// The NIMService's `spec.scale.hpa`, validated as the API server does,
/// then checked against what the metric path can serve.
fn hpa(
    cx: &mut Ctx<'_>,
    src: &NsSource<'_>,
    facts: &NsFacts,
    controller: &Controller,
    dialect: Dialect,
    direct: bool,
) -> Option<Hpa> {
    if !src.admitted.nimservice.spec.autoscaling() {
        return None;
    }
    let hpa_json = src
        .admitted
        .stored
        .pointer("/spec/scale/hpa")
        .cloned()
        .unwrap_or(Value::Null);
    let api = serde_json::from_value::<HorizontalPodAutoscalerSpec>(hpa_json)
        .map_err(|e| {
            src.err(
                cx,
                "spec.scale.hpa",
                format!("cannot read the HPA spec: {e}"),
            )
        })
        .ok()?;
    let options = ValidationOptions {
        scale_to_zero: controller.config.scale_to_zero,
        require_scale_target_ref: false,
    };
    let spec = validate_spec(&api, "spec.scale.hpa", options)
        .map_err(|fe| {
            for e in fe {
                let body = e.to_string();
                let msg = body
                    .strip_prefix(&format!("{}: ", e.path))
                    .unwrap_or(&body)
                    .to_string();
                src.err(cx, &e.path, msg);
            }
        })
        .ok()?;
    let hpa = Hpa {
        namespace: facts.namespace.clone(),
        name: facts.name.clone(),
        spec,
    };
    check_hpa_metrics(cx, src, facts, &hpa, dialect, direct);
    Some(hpa)
}

/// Each metric of a valid HPA spec has a Service to be served on, a request
/// to divide by (for utilization) and, on the direct path, a recipe. (On the
/// Prometheus path the adapter's rules are the recipe: `check_served`.)
fn check_hpa_metrics(
    cx: &mut Ctx<'_>,
    src: &NsSource<'_>,
    facts: &NsFacts,
    h: &Hpa,
    dialect: Dialect,
    direct: bool,
) {
    let ns_name = &facts.name;
    let unknown = if direct {
        unknown_metrics(&h.spec, dialect)
    } else {
        Vec::new()
    };
    for name in unknown {
        let idx = h.spec.metrics.iter().position(|m| match m {
            MetricSpec::Pods { metric, .. }
            | MetricSpec::Object { metric, .. }
            | MetricSpec::External { metric, .. } => metric.name == name,
            _ => false,
        });
        src.err(
            cx,
            &format!("spec.scale.hpa.metrics[{}]", idx.unwrap_or(0)),
            format!(
                "metrics.source: direct has no recipe for the metric {name:?}: use a NIM gauge (gpu_cache_usage_perc, num_requests_running, num_requests_waiting), <histogram>_over_<X>s_fraction, <histogram>_p<NN> or <counter>_per_second, or the Prometheus path, where the adapter's rules serve any name"
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
            if described_object.kind != "Service" || &described_object.name != ns_name {
                src.err(
                    cx,
                    &format!("spec.scale.hpa.metrics[{i}].object.describedObject"),
                    format!(
                        "the adapter serves these metrics on the NIMService's Service ({ns_name}); {} {} would have no series",
                        described_object.kind, described_object.name
                    ),
                );
            }
            if target.type_ == TargetType::Utilization {
                src.err(
                    cx,
                    &format!("spec.scale.hpa.metrics[{i}].object.target.type"),
                    "an Object metric target must be Value or AverageValue".into(),
                );
            }
        }
        if let MetricSpec::Resource { name, target } = m
            && target.average_utilization.is_some()
            && !facts.requests.contains_key(name)
        {
            cx.warnings.push(format!(
                "the HPA scales on {name} utilization but the NIMService requests no {name}: the HPA will report FailedGetResourceMetric (missing request for {name})"
            ));
        }
    }
}

/// `metrics.window` and `metrics.resolution`: the direct path's settings
/// (the Prometheus path reads them too).
fn direct_metrics(cx: &mut Ctx<'_>, mr: Option<&RawMetrics>, dialect: Dialect) -> DirectMetrics {
    DirectMetrics {
        window: cx.period(
            mr.and_then(|m| m.window.as_ref()),
            "metrics.window",
            d::METRICS_WINDOW,
        ),
        resolution: cx.dur(
            mr.and_then(|m| m.resolution.as_ref()),
            "metrics.resolution",
            d::METRICS_RESOLUTION,
        ),
        dialect,
    }
}

/// `slos` and `evaluation`: what the run is judged by.
fn objectives(raw: &RawScenario, cx: &mut Ctx<'_>) -> (Vec<Slo>, SimDuration, SimDuration) {
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
    let slo_window = cx.period(
        ev.and_then(|e| e.slo_window.as_ref()),
        "evaluation.sloWindow",
        d::SLO_WINDOW,
    );
    let flap_window = cx.dur(
        ev.and_then(|e| e.flap_window.as_ref()),
        "evaluation.flapWindow",
        d::FLAP_WINDOW,
    );
    (slos, slo_window, flap_window)
}

/// Reads `autoscaler.schedule`: steps in strictly increasing order, within
/// the period, and only when the NIMService's HPA is off.
pub(super) fn schedule(cx: &mut Ctx<'_>, raw: Option<&RawScaling>, hpa: bool) -> Option<Schedule> {
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
