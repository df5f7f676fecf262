//! Everything a cluster simulation is configured with. The runner builds it
//! from a scenario file; every field has the upstream default noted.

use std::collections::BTreeMap;

use super::autoscaler::Autoscaler;
use super::dist::Dist;
use crate::engine::{Dialect, EngineConfig};
use crate::hpa::controller::ControllerConfig;
use crate::time::{SimDuration, SimTime};

/// A kubelet probe's schedule (`initialDelaySeconds`, `periodSeconds`,
/// `failureThreshold`; success threshold 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Probe configured at all.
    pub enabled: bool,
    /// First probe this long after the container starts.
    pub initial_delay: SimDuration,
    /// Then every period.
    pub period: SimDuration,
    /// Consecutive failures that give up (restart for a startup probe).
    pub failure_threshold: u32,
}

impl Probe {
    /// The NIM Operator's default startup probe (30 s, every 10 s, 120 failures).
    pub fn nim_startup() -> Probe {
        Probe {
            enabled: true,
            initial_delay: SimDuration::from_secs(30),
            period: SimDuration::from_secs(10),
            failure_threshold: 120,
        }
    }

    /// The NIM Operator's default readiness probe (15 s, every 10 s, 3 failures).
    pub fn nim_readiness() -> Probe {
        Probe {
            enabled: true,
            initial_delay: SimDuration::from_secs(15),
            period: SimDuration::from_secs(10),
            failure_threshold: 3,
        }
    }
}

/// Where a starting pod gets its model weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelSource {
    /// A NIMCache or PVC: the first read on a node is cold, later reads on
    /// that node are warm (page cache / local copy).
    Pvc,
    /// Downloaded from NGC or Hugging Face at every start (no cache volume).
    Download,
}

/// Start-up stage durations.
#[derive(Clone, Debug, PartialEq)]
pub struct Startup {
    /// Scheduler + binding + kubelet admission.
    pub scheduling: Dist,
    /// Image pull on a node that does not have the image.
    pub image_pull: Dist,
    /// Engine start after weights are local: imports, weight load to GPU,
    /// compilation, CUDA graphs, KV allocation, warm-up.
    pub engine_start: Dist,
    /// Model weight bytes (the whole pod).
    pub model_bytes: f64,
    /// Where weights come from.
    pub source: ModelSource,
    /// First read of the cache volume on a node, bytes/s.
    pub cold_read_bps: f64,
    /// Later reads on the same node, bytes/s.
    pub warm_read_bps: f64,
    /// Download bandwidth without a cache, bytes/s.
    pub download_bps: f64,
    /// Startup probe.
    pub startup_probe: Probe,
    /// Readiness probe.
    pub readiness_probe: Probe,
    /// Longest CrashLoopBackOff delay (kubelet: 5 min).
    pub max_backoff: SimDuration,
    /// Log-normal spread of weight-loading times around bytes/bandwidth
    /// (0.1; 0 makes them exact).
    pub load_noise_sigma: f64,
}

/// Where the scheduler puts a pod among nodes that fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The node with the most free GPUs (kube-scheduler's default
    /// `LeastAllocated` scoring).
    Spread,
    /// The node with the fewest free GPUs that fits (`MostAllocated`, bin
    /// packing; lets the cluster autoscaler empty nodes).
    Pack,
}

/// The GPU node pool.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePool {
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// Nodes at the start (ready, image and model cached where pods run).
    pub initial_nodes: u32,
    /// The autoscaler never goes below this.
    pub min_nodes: u32,
    /// Nor above this.
    pub max_nodes: u32,
    /// Scheduling policy.
    pub placement: Placement,
    /// Price of one GPU-hour, if known.
    pub price_per_gpu_hour: Option<f64>,
    /// Price of one node-hour (billed from creation), if known.
    pub price_per_node_hour: Option<f64>,
}

/// The cluster autoscaler (or Karpenter with `scan_interval` 0).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterAutoscaler {
    /// Adds and removes nodes at all.
    pub enabled: bool,
    /// `--scan-interval` (10 s).
    pub scan_interval: SimDuration,
    /// VM boot, join, GPU driver and device plugin until GPUs are allocatable.
    pub provisioning: Dist,
    /// `--max-node-provision-time` (15 min): a node not ready by then is given up.
    pub max_node_provision_time: SimDuration,
    /// `--scale-down-unneeded-time` (10 min).
    pub scale_down_unneeded_time: SimDuration,
    /// `--scale-down-delay-after-add` (10 min).
    pub scale_down_delay_after_add: SimDuration,
    /// `--max-empty-bulk-delete` (10).
    pub max_empty_bulk_delete: u32,
}

/// How the Service spreads requests over ready pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balancer {
    /// kube-proxy (iptables/nftables): a uniformly random endpoint.
    Random,
    /// IPVS `rr` or a round-robin gateway.
    RoundRobin,
    /// A gateway that picks the endpoint with the fewest requests in flight.
    LeastOutstanding,
}

/// Where requests wait when no pod is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontQueue {
    /// Requests that can wait (0: fail at once, as kube-proxy does).
    pub capacity: usize,
    /// A waiting request fails after this long.
    pub timeout: SimDuration,
}

/// What clients do when a request is slow or fails (genai-perf/AIPerf
/// and the OpenAI SDKs have each of these). Without it a request waits
/// for its answer however long it takes and a failure is final.
#[derive(Clone, Debug, PartialEq)]
pub struct Clients {
    /// An attempt is cancelled this long after it was sent (the HTTP
    /// client's timeout); the engine aborts it. `None`: no timeout.
    pub timeout: Option<SimDuration>,
    /// How long a user waits for the first token before giving up (no
    /// retry), drawn once per request. `None`: users wait.
    pub patience: Option<Dist>,
    /// Further attempts after a timeout or a failure that is not the
    /// request's fault (no endpoint, front-queue timeout, connection
    /// reset by a draining pod); a refused request is not retried.
    pub retries: u32,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Closed loop: a fixed number of clients, each sending its next
    /// request when the previous one ends (the traffic's rates are not
    /// used; its token lengths or trace rows are).
    pub closed_loop: Option<ClosedLoop>,
}

/// Exponential backoff with jitter: attempt `n` (1 for the first retry)
/// waits `min(max, initial · multiplier^(n−1)) · (1 − jitter · u)`, `u`
/// uniform in [0, 1) (openai-python: 0.5 s, ×2, 8 s, 0.25).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// First wait.
    pub initial: SimDuration,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Longest wait.
    pub max: SimDuration,
    /// Share of the wait removed at random (0: none, 1: full jitter).
    pub jitter: f64,
}

impl Backoff {
    /// The wait before retry `n` (≥ 1), `u` uniform in [0, 1).
    pub fn delay(&self, n: u32, u: f64) -> SimDuration {
        let base = self.initial.as_secs_f64() * self.multiplier.powi(n.saturating_sub(1) as i32);
        let d = base.min(self.max.as_secs_f64()) * (1.0 - self.jitter * u);
        super::dist::secs(d.max(0.0))
    }
}

/// A closed-loop load: `concurrency` clients, each waiting `think` after a
/// request ends (success or final failure) before sending the next.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoop {
    /// Clients, all sending at time zero.
    pub concurrency: u32,
    /// Think time between a request's end and the client's next.
    pub think: Dist,
}

/// The HPA controller's schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Controller {
    /// kube-controller-manager flags and gates.
    pub config: ControllerConfig,
    /// First reconcile (the HPA is created at time zero: enqueued at once).
    pub first_sync: SimDuration,
    /// How long a reconcile takes; the next starts a sync period after it
    /// ends.
    pub reconcile_latency: SimDuration,
}

/// The pods the Deployment creates.
#[derive(Clone, Debug, PartialEq)]
pub struct PodTemplate {
    /// Deployment (and NIMService) name; pods are `<name>-<n>`.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Pod labels (the Deployment's selector matches them).
    pub labels: BTreeMap<String, String>,
    /// The scale subresource's selector string.
    pub selector: String,
    /// The main container's name.
    pub container: String,
    /// Container requests in milli-units (`cpu`, `memory`, ...).
    pub requests: BTreeMap<String, i64>,
    /// GPUs per pod.
    pub gpus: u32,
    /// `terminationGracePeriodSeconds` (30 s).
    pub grace: SimDuration,
}

/// A latency an SLO is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SloMetric {
    /// Time to first token.
    Ttft,
    /// End to end.
    E2e,
    /// Mean inter-token latency of a request.
    Itl,
}

impl SloMetric {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::E2e => "e2e",
            SloMetric::Itl => "itl",
        }
    }
}

/// A service-level objective: `percentile` of `metric` ≤ `threshold`.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// Name for reports.
    pub name: String,
    /// Which latency.
    pub metric: SloMetric,
    /// Percentile, 0–100.
    pub percentile: f64,
    /// Seconds.
    pub threshold: f64,
}

/// The idealised metric reader used until the Prometheus path is modelled:
/// exact pod values, windowed quantities over whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectMetrics {
    /// Window of rates, fractions and quantiles (the adapter rule's range).
    pub window: SimDuration,
    /// CPU rate window (metrics-server `--metric-resolution`).
    pub resolution: SimDuration,
    /// Metric naming dialect.
    pub dialect: Dialect,
}

/// What to keep besides the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recording {
    /// One row per simulated second.
    pub timeseries: bool,
    /// One record per HPA sync.
    pub decisions: bool,
}

/// A whole simulation.
#[derive(Clone, Debug)]
pub struct SimConfig<M> {
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated time.
    pub duration: SimDuration,
    /// One pod's engine.
    pub engine: EngineConfig,
    /// Its step-time model.
    pub model: M,
    /// HTTP and tokenisation before the scheduler sees a request.
    pub frontend_delay: SimDuration,
    /// Pods.
    pub template: PodTemplate,
    /// Start-up stages.
    pub startup: Startup,
    /// Nodes.
    pub pool: NodePool,
    /// Cluster autoscaler.
    pub autoscaler: ClusterAutoscaler,
    /// Load balancing.
    pub balancer: Balancer,
    /// Requests waiting for a first ready pod.
    pub front_queue: FrontQueue,
    /// Client behaviour (`None`: clients wait forever and never retry).
    pub clients: Option<Clients>,
    /// What scales the Deployment, or `None` for a fixed replica count.
    pub scaling: Option<Autoscaler>,
    /// Controller schedule.
    pub controller: Controller,
    /// Replicas at time zero.
    pub initial_replicas: i32,
    /// Initial pods are Ready at time zero (else they start cold).
    pub warm_start: bool,
    /// Metric reader.
    pub metrics: DirectMetrics,
    /// The Prometheus path (scrapes, PromQL, prometheus-adapter,
    /// metrics-server); `None`: the HPA reads exact pod values.
    pub prometheus: Option<crate::metrics::path::PromConfig>,
    /// Objectives.
    pub slos: Vec<Slo>,
    /// Window over which SLO percentiles are also judged (1 min).
    pub slo_window: SimDuration,
    /// Instants where the offered load changes (for time-to-scale).
    pub load_changes: Vec<SimTime>,
    /// A reversal of scale direction within this long is a flap.
    pub flap_window: SimDuration,
    /// What to record.
    pub recording: Recording,
}
