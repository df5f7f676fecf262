//! Every default a scenario file leaves to nimscale, in one place: the
//! builder reads these constants, and a test checks that the schema's
//! documentation (`raw.rs`, what `nimscale schema` prints and editors show)
//! states each one, so that the two cannot drift apart.
//!
//! Defaults that belong to a component rather than to the file (the HPA
//! controller's flags, the engine's vLLM settings, the NIM probes) stay
//! with the component: `ControllerConfig::default()`,
//! `EngineProfile::default()`, `Probe::nim_startup()`.

use nimscale_core::sim::config::Backoff;
use nimscale_core::sim::dist::Dist;
use nimscale_core::time::SimDuration;

/// `seed`.
pub const SEED: u64 = 1;

/// `cluster.nodePool.gpusPerNode`: an 8-GPU HGX node.
pub const GPUS_PER_NODE: u32 = 8;
/// `cluster.nodePool.minNodes`.
pub const MIN_NODES: u32 = 0;
/// `cluster.warmStart`: initial pods are Ready at time zero.
pub const WARM_START: bool = true;
/// `cluster.terminationGracePeriod`: Kubernetes' own default.
pub const TERMINATION_GRACE: SimDuration = SimDuration::from_secs(30);

/// `cluster.autoscaler.enabled`.
pub const CA_ENABLED: bool = true;
/// `cluster.autoscaler.scanInterval`: the cluster autoscaler's
/// `--scan-interval`.
pub const CA_SCAN_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// `cluster.autoscaler.provisioning`: a cloud GPU node's time to
/// allocatable GPUs (gpu-model.md §5.1: 3–8 minutes).
pub const CA_PROVISIONING: Dist = Dist::lognormal(300.0, 0.3);
/// `cluster.autoscaler.maxNodeProvisionTime`.
pub const CA_MAX_NODE_PROVISION_TIME: SimDuration = SimDuration::from_secs(900);
/// `cluster.autoscaler.scaleDownUnneededTime`.
pub const CA_SCALE_DOWN_UNNEEDED_TIME: SimDuration = SimDuration::from_secs(600);
/// `cluster.autoscaler.scaleDownDelayAfterAdd`.
pub const CA_SCALE_DOWN_DELAY_AFTER_ADD: SimDuration = SimDuration::from_secs(600);
/// `cluster.autoscaler.maxEmptyBulkDelete`.
pub const CA_MAX_EMPTY_BULK_DELETE: u32 = 10;

/// `cluster.startup.scheduling`: scheduling and kubelet admission.
pub const STARTUP_SCHEDULING: Dist = Dist::lognormal(1.0, 0.3);
/// `cluster.startup.imagePull`: a NIM image (tens of GB) on a node without
/// it.
pub const STARTUP_IMAGE_PULL: Dist = Dist::lognormal(360.0, 0.3);
/// `cluster.startup.coldReadBandwidth`, bytes per second (`1GB/s`).
pub const COLD_READ_BPS: f64 = 1e9;
/// `cluster.startup.warmReadBandwidth`, bytes per second (`4GB/s`).
pub const WARM_READ_BPS: f64 = 4e9;
/// `cluster.startup.downloadBandwidth`, bytes per second (`250MB/s`).
pub const DOWNLOAD_BPS: f64 = 250e6;
/// The kubelet's CrashLoopBackOff ceiling (not a scenario field).
pub const MAX_BACKOFF: SimDuration = SimDuration::from_secs(300);
/// The spread of weight-loading times around the bandwidth model (not a
/// scenario field).
pub const LOAD_NOISE_SIGMA: f64 = 0.1;
/// Weights assumed when the model did not resolve (only so that loading can
/// go on and report every other error).
pub const UNRESOLVED_WEIGHT_BYTES: f64 = 16e9;

/// `cluster.startup.engineStart`: the engine's start-up median by weight
/// size (our synthesis of gpu-model.md §5.1: 60–90 s for 8B, 120–240 s
/// for 70B): 45 s plus 1 s per GiB of weights, log-normal with sigma 0.2.
pub fn engine_start(weight_bytes: f64) -> Dist {
    Dist::lognormal(45.0 + weight_bytes / (1024.0 * 1024.0 * 1024.0), 0.2)
}

/// `cluster.frontQueue.capacity`.
pub const FRONT_QUEUE_CAPACITY: u32 = 1000;
/// `cluster.frontQueue.timeout`.
pub const FRONT_QUEUE_TIMEOUT: SimDuration = SimDuration::from_secs(60);

/// `traffic.clients.retries`.
pub const CLIENT_RETRIES: u32 = 0;
/// `traffic.clients.backoff`: openai-python's `INITIAL_RETRY_DELAY`,
/// doubling, `MAX_RETRY_DELAY` and its `1 - 0.25 * random()` jitter.
pub const BACKOFF: Backoff = Backoff {
    initial: SimDuration::from_millis(500),
    multiplier: 2.0,
    max: SimDuration::from_secs(8),
    jitter: 0.25,
};
/// `traffic.closedLoop.think`.
pub const THINK: Dist = Dist::Fixed(0.0);

/// `cluster.controller.firstSync`.
pub const FIRST_SYNC: SimDuration = SimDuration::ZERO;
/// `cluster.controller.reconcileLatency`.
pub const RECONCILE_LATENCY: SimDuration = SimDuration::ZERO;

/// `metrics.window`: rates, fractions and quantiles on the direct path.
pub const METRICS_WINDOW: SimDuration = SimDuration::from_secs(60);
/// `metrics.resolution`: metrics-server's `--metric-resolution`.
pub const METRICS_RESOLUTION: SimDuration = SimDuration::from_secs(15);
/// `metrics.housekeeping`: the kubelet's cAdvisor housekeeping period.
pub const HOUSEKEEPING: SimDuration = SimDuration::from_secs(10);
/// `metrics.prometheus.scrapeInterval` when neither the scenario nor the
/// NIMService's ServiceMonitor sets one: Prometheus' own default.
pub const SCRAPE_INTERVAL: SimDuration = SimDuration::from_secs(60);
/// `metrics.prometheus.lookbackDelta`: Prometheus' `--query.lookback-delta`.
pub const LOOKBACK_DELTA: SimDuration = SimDuration::from_secs(300);
/// `metrics.adapter.relistInterval`: prometheus-adapter's
/// `--metrics-relist-interval`.
pub const RELIST_INTERVAL: SimDuration = SimDuration::from_secs(60);
/// The NIM's HTTP port when the NIMService's `expose.service.port` is unset.
pub const NIM_PORT: i32 = 8000;

/// `evaluation.sloWindow`.
pub const SLO_WINDOW: SimDuration = SimDuration::from_secs(60);
/// `evaluation.flapWindow`.
pub const FLAP_WINDOW: SimDuration = SimDuration::from_secs(600);

/// `traffic.prompt`: prompt tokens of a pattern's requests.
pub const PROMPT_TOKENS: Dist = Dist::LogNormal {
    median: 1000.0,
    sigma: 0.6,
    min: 1.0,
    max: 8000.0,
};
/// `traffic.output`: output tokens of a pattern's requests.
pub const OUTPUT_TOKENS: Dist = Dist::LogNormal {
    median: 200.0,
    sigma: 0.6,
    min: 1.0,
    max: 2000.0,
};

/// The `period` of a `diurnal` traffic pattern: a day.
pub const DIURNAL_PERIOD: SimDuration = SimDuration::from_secs(86_400);
