//! The cluster of a scenario (`cluster:`): the GPU node pool and the
//! initial replicas, the cluster autoscaler, pod start-up, the pods'
//! template and the Service front end.

use super::build::NsFacts;
use super::defaults as d;
use super::*;

/// `cluster.nodePool` and `cluster.initialReplicas`: the GPU nodes, sized
/// by default for the initial pods and for `maxReplicas`.
pub(super) fn node_pool(
    cx: &mut Ctx<'_>,
    cl: Option<&RawCluster>,
    ns: &NimService,
    hpa: Option<&Hpa>,
    tp: u32,
) -> (NodePool, i32) {
    let np = cl.and_then(|c| c.node_pool.as_ref());
    let min_replicas = hpa.map(|h| h.spec.min_replicas);
    let max_replicas = hpa.map(|h| h.spec.max_replicas);
    let gpus_per_node = np.and_then(|n| n.gpus_per_node).unwrap_or(d::GPUS_PER_NODE);
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
    let min_nodes = np.and_then(|n| n.min_nodes).unwrap_or(d::MIN_NODES);
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
    let price_per_gpu_hour = np.and_then(|n| n.price_per_gpu_hour);
    let price_per_node_hour = np.and_then(|n| n.price_per_node_hour);
    for (v, f) in [
        (price_per_gpu_hour, "cluster.nodePool.pricePerGpuHour"),
        (price_per_node_hour, "cluster.nodePool.pricePerNodeHour"),
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
        price_per_gpu_hour,
        price_per_node_hour,
    };
    (pool, initial_replicas)
}

/// `cluster.autoscaler`: the cluster autoscaler's flags.
pub(super) fn cluster_autoscaler(
    cx: &mut Ctx<'_>,
    ca: Option<&RawAutoscaler>,
) -> ClusterAutoscaler {
    let autoscaler = ClusterAutoscaler {
        enabled: ca.and_then(|c| c.enabled).unwrap_or(d::CA_ENABLED),
        scan_interval: cx.dur(
            ca.and_then(|c| c.scan_interval.as_ref()),
            "cluster.autoscaler.scanInterval",
            d::CA_SCAN_INTERVAL,
        ),
        provisioning: cx.time_dist(
            ca.and_then(|c| c.provisioning.as_ref()),
            "cluster.autoscaler.provisioning",
            d::CA_PROVISIONING,
        ),
        max_node_provision_time: cx.dur(
            ca.and_then(|c| c.max_node_provision_time.as_ref()),
            "cluster.autoscaler.maxNodeProvisionTime",
            d::CA_MAX_NODE_PROVISION_TIME,
        ),
        scale_down_unneeded_time: cx.dur(
            ca.and_then(|c| c.scale_down_unneeded_time.as_ref()),
            "cluster.autoscaler.scaleDownUnneededTime",
            d::CA_SCALE_DOWN_UNNEEDED_TIME,
        ),
        scale_down_delay_after_add: cx.dur(
            ca.and_then(|c| c.scale_down_delay_after_add.as_ref()),
            "cluster.autoscaler.scaleDownDelayAfterAdd",
            d::CA_SCALE_DOWN_DELAY_AFTER_ADD,
        ),
        max_empty_bulk_delete: ca
            .and_then(|c| c.max_empty_bulk_delete)
            .unwrap_or(d::CA_MAX_EMPTY_BULK_DELETE),
    };
    if autoscaler.enabled && autoscaler.scan_interval < SimDuration::from_secs(1) {
        cx.err("cluster.autoscaler.scanInterval", "must be at least 1s");
    }
    autoscaler
}

/// `cluster.startup`: scheduling, image pull, loading the weights (from
/// the NIMService's cache volume or a download) and the engine's start,
/// with the NIMService's probes.
pub(super) fn startup(
    cx: &mut Ctx<'_>,
    cl: Option<&RawCluster>,
    ns: &NimService,
    resolved: Option<&Resolved>,
) -> Startup {
    let su = cl.and_then(|c| c.startup.as_ref());
    let weights = resolved.map_or(d::UNRESOLVED_WEIGHT_BYTES, |r| {
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
    let cold_read_bps = bw(
        su.and_then(|s| s.cold_read_bandwidth.as_ref()),
        "cluster.startup.coldReadBandwidth",
        d::COLD_READ_BPS,
    );
    let warm_read_bps = bw(
        su.and_then(|s| s.warm_read_bandwidth.as_ref()),
        "cluster.startup.warmReadBandwidth",
        d::WARM_READ_BPS,
    );
    let download_bps = bw(
        su.and_then(|s| s.download_bandwidth.as_ref()),
        "cluster.startup.downloadBandwidth",
        d::DOWNLOAD_BPS,
    );
    Startup {
        scheduling: cx.time_dist(
            su.and_then(|s| s.scheduling.as_ref()),
            "cluster.startup.scheduling",
            d::STARTUP_SCHEDULING,
        ),
        image_pull: cx.time_dist(
            su.and_then(|s| s.image_pull.as_ref()),
            "cluster.startup.imagePull",
            d::STARTUP_IMAGE_PULL,
        ),
        engine_start: cx.time_dist(
            su.and_then(|s| s.engine_start.as_ref()),
            "cluster.startup.engineStart",
            d::engine_start(weights),
        ),
        model_bytes: weights,
        source,
        cold_read_bps,
        warm_read_bps,
        download_bps,
        startup_probe: probe_of(ns.spec.startup_probe.as_ref(), Probe::nim_startup()),
        readiness_probe: probe_of(ns.spec.readiness_probe.as_ref(), Probe::nim_readiness()),
        max_backoff: d::MAX_BACKOFF,
        load_noise_sigma: d::LOAD_NOISE_SIGMA,
    }
}

/// The pods the NIMService's Deployment makes: `app=<name>`, the requests,
/// the GPUs and the termination grace period.
pub(super) fn pod_template(
    cx: &mut Ctx<'_>,
    cl: Option<&RawCluster>,
    facts: NsFacts,
    tp: u32,
) -> PodTemplate {
    let ns_name = facts.name;
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), ns_name.clone());
    PodTemplate {
        name: ns_name.clone(),
        namespace: facts.namespace,
        labels,
        selector: format!("app={ns_name}"),
        container: ns_name,
        requests: facts.requests,
        gpus: tp,
        grace: cx.dur(
            cl.and_then(|c| c.termination_grace_period.as_ref()),
            "cluster.terminationGracePeriod",
            d::TERMINATION_GRACE,
        ),
    }
}

/// `cluster.loadBalancer` and `cluster.frontQueue`: the Service front end.
pub(super) fn front_end(cx: &mut Ctx<'_>, cl: Option<&RawCluster>) -> (Balancer, FrontQueue) {
    let balancer = match cl.and_then(|c| c.load_balancer) {
        Some(RawBalancer::RoundRobin) => Balancer::RoundRobin,
        Some(RawBalancer::LeastOutstanding) => Balancer::LeastOutstanding,
        _ => Balancer::Random,
    };
    let fq = cl.and_then(|c| c.front_queue.as_ref());
    let front_queue = FrontQueue {
        capacity: fq
            .and_then(|f| f.capacity)
            .unwrap_or(d::FRONT_QUEUE_CAPACITY) as usize,
        timeout: cx.dur(
            fq.and_then(|f| f.timeout.as_ref()),
            "cluster.frontQueue.timeout",
            d::FRONT_QUEUE_TIMEOUT,
        ),
    };
    (balancer, front_queue)
}
