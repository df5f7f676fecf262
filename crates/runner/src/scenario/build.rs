//! From the checked raw shapes to a `Scenario`: the NIMService, the model
//! and engine, the HPA (or scheduled scaling), the cluster, the metric path,
//! traffic and objectives.

use super::*;

/// Engine start-up median by weight size (our synthesis of gpu-model.md
/// §5.1: 60–90 s for 8B, 120–240 s for 70B): 45 s plus 1 s per GiB of
/// weights.
pub(super) fn default_engine_start(weight_bytes: f64) -> Dist {
    Dist::lognormal(45.0 + weight_bytes / (1024.0 * 1024.0 * 1024.0), 0.2)
}

#[allow(clippy::too_many_lines)]
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
