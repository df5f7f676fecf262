//! What a simulation hands back: the per-second series, the HPA's decisions
//! and the summary. Plain values; `nimscale-output` writes them as CSV/JSON.

use super::config::Slo;
use crate::hpa::controller::Decision;
use crate::time::SimTime;

/// One HPA metric column of the time series.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricColumn {
    /// Display name (`object:e2e_request_latency_seconds_over_1s_fraction`).
    pub name: String,
    /// Target in natural units (percent for utilization).
    pub target: f64,
    /// `Utilization`, `Value` or `AverageValue`.
    pub target_type: &'static str,
}

/// One simulated second, `(t − 1, t]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondRow {
    /// End of the second.
    pub t: i64,
    /// Requests sent by clients.
    pub arrivals: u32,
    /// Requests finished successfully.
    pub completed: u32,
    /// Requests that failed.
    pub failed: u32,
    /// Requests in pods (running or waiting) or on the way to them.
    pub in_flight: u32,
    /// Requests waiting: engine queues plus the front queue.
    pub queued: u32,
    /// Requests in the front queue (no ready pod).
    pub front_queue: u32,
    /// The Deployment's `spec.replicas` (the HPA's last write).
    pub desired: i32,
    /// Pods that exist and are not terminating.
    pub current: i32,
    /// Ready pods (in the Service's endpoints).
    pub ready: i32,
    /// Pods not yet ready (pending, pulling, loading, warming up).
    pub starting: i32,
    /// Pods draining.
    pub terminating: i32,
    /// GPUs held by pods.
    pub gpus: u32,
    /// Ready nodes.
    pub nodes: u32,
    /// Nodes being provisioned.
    pub nodes_provisioning: u32,
    /// Mean KV-cache usage over serving pods (NaN: none).
    pub kv_mean: f64,
    /// Largest KV-cache usage.
    pub kv_max: f64,
    /// Smallest KV-cache usage over serving pods (NaN: none).
    pub kv_min: f64,
    /// Median (nearest rank) KV-cache usage over serving pods.
    pub kv_median: f64,
    /// Fewest requests waiting in one serving pod's engine (NaN: none).
    pub queue_min: f64,
    /// Median (nearest rank) of the per-pod waiting counts.
    pub queue_median: f64,
    /// Most requests waiting in one pod's engine.
    pub queue_max: f64,
    /// TTFT percentiles of requests finished in this second (NaN: none).
    pub ttft_p50: f64,
    /// 95th percentile TTFT.
    pub ttft_p95: f64,
    /// End-to-end median.
    pub e2e_p50: f64,
    /// End-to-end 95th percentile.
    pub e2e_p95: f64,
    /// Mean inter-token latency, median over requests.
    pub itl_p50: f64,
    /// Its 95th percentile.
    pub itl_p95: f64,
    /// Each HPA metric as the HPA last saw it (natural units).
    pub metrics: Vec<Option<f64>>,
}

/// One autoscaler sync: the HPA's with every step of its decision, or a
/// simpler autoscaler's (see `sim::autoscaler`).
#[derive(Clone, Debug, PartialEq)]
pub enum SyncRecord {
    /// An HPA sync.
    Hpa(Box<HpaSync>),
    /// A sync of an autoscaler that decides from time alone.
    Simple(SimpleSync),
}

impl SyncRecord {
    /// When it ran.
    pub fn now(&self) -> SimTime {
        match self {
            SyncRecord::Hpa(h) => h.decision.now,
            SyncRecord::Simple(s) => s.now,
        }
    }

    /// Each HPA metric's value as received (empty for other autoscalers).
    pub fn seen(&self) -> &[Option<f64>] {
        match self {
            SyncRecord::Hpa(h) => &h.seen,
            SyncRecord::Simple(_) => &[],
        }
    }

    /// The HPA sync, when this is one.
    pub fn hpa(&self) -> Option<&HpaSync> {
        match self {
            SyncRecord::Hpa(h) => Some(h),
            SyncRecord::Simple(_) => None,
        }
    }
}

/// A sync of an autoscaler other than the HPA.
#[derive(Clone, Debug, PartialEq)]
pub struct SimpleSync {
    /// When it ran.
    pub now: SimTime,
    /// Which autoscaler (`Autoscaler::name`).
    pub autoscaler: &'static str,
    /// Replicas written before.
    pub current: i32,
    /// Replicas it wants.
    pub desired: i32,
    /// Why.
    pub reason: String,
}

/// One HPA sync.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSync {
    /// What the controller decided, with every intermediate step.
    pub decision: Decision,
    /// Each metric's value as received, natural units, spec order.
    pub seen: Vec<Option<f64>>,
    /// For metrics read through Prometheus: the newest scraped sample the
    /// adapter's query used (spec order; empty on the direct path).
    pub data_as_of: Vec<Option<SimTime>>,
}

/// Latency percentiles over the run (seconds; NaN when no request).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyStats {
    /// Requests measured.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// How an SLO fared.
#[derive(Clone, Debug, PartialEq)]
pub struct SloResult {
    /// The objective.
    pub slo: Slo,
    /// Requests judged (successful ones plus failures, which miss).
    pub requests: u64,
    /// Requests at or under the threshold.
    pub within: u64,
    /// `within / requests` (NaN: none).
    pub attainment: f64,
    /// The whole run's percentile (failures count as infinitely slow).
    pub overall: f64,
    /// Whether the whole run's percentile meets the threshold.
    pub met: bool,
    /// Windows with at least one request.
    pub windows: u64,
    /// Windows whose percentile met the threshold.
    pub windows_met: u64,
}

/// What happened after one change of offered load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadChange {
    /// When the load changed.
    pub at: SimTime,
    /// Ready pods then.
    pub ready_before: i32,
    /// `spec.replicas` when the next change (or the end) came.
    pub desired_after: i32,
    /// Seconds to the HPA's first write after the change.
    pub first_rescale_s: Option<f64>,
    /// Seconds until ready pods equalled `desired_after` for good
    /// (`None`: never within the segment).
    pub settled_s: Option<f64>,
}

/// One pod's start-up, stage by stage (`None`: not reached).
#[derive(Clone, Debug, PartialEq)]
pub struct StartupRecord {
    /// Pod name.
    pub pod: String,
    /// Created by the ReplicaSet.
    pub created: SimTime,
    /// Bound to a node.
    pub scheduled: Option<SimTime>,
    /// Container started (image present).
    pub container_started: Option<SimTime>,
    /// Weights loaded.
    pub model_loaded: Option<SimTime>,
    /// Server answered ready.
    pub server_up: Option<SimTime>,
    /// Startup probe passed.
    pub startup_passed: Option<SimTime>,
    /// Pod Ready, in endpoints.
    pub ready: Option<SimTime>,
    /// Deletion requested.
    pub deleted: Option<SimTime>,
    /// Gone from the API (drained or killed at the grace period's end).
    pub gone: Option<SimTime>,
    /// The node it was bound to (index in creation order).
    pub node: Option<u32>,
    /// Container restarts (startup probe gave up).
    pub restarts: u32,
    /// When each restart happened.
    pub restarted: Vec<SimTime>,
    /// The node had to be provisioned for it.
    pub waited_for_node: bool,
    /// The image was pulled for it (not cached on the node).
    pub pulled_image: bool,
    /// Requests the load balancer sent to it.
    pub dispatched: u64,
}

impl StartupRecord {
    /// A pod created at `created`, no stage reached yet.
    pub fn new(pod: String, created: SimTime) -> Self {
        StartupRecord {
            pod,
            created,
            scheduled: None,
            container_started: None,
            model_loaded: None,
            server_up: None,
            startup_passed: None,
            ready: None,
            deleted: None,
            gone: None,
            node: None,
            restarts: 0,
            restarted: Vec::new(),
            waited_for_node: false,
            pulled_image: false,
            dispatched: 0,
        }
    }
}

/// Requests by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Sent.
    pub arrived: u64,
    /// Finished successfully.
    pub completed: u64,
    /// Failed: front queue full (or no queue) with no ready pod.
    pub rejected_no_endpoint: u64,
    /// Failed: waited in the front queue past its timeout.
    pub front_queue_timeout: u64,
    /// Failed: aborted when a draining pod's grace period ran out.
    pub aborted_on_drain: u64,
    /// Failed: the engine refused it (prompt too long for the context).
    pub refused_by_engine: u64,
    /// Failed: the client's timeout ran out on its last attempt.
    pub client_timeout: u64,
    /// Failed: the user gave up waiting for the first token.
    pub abandoned: u64,
    /// Attempts after the first (retries), whatever became of them.
    pub retries: u64,
    /// Still in flight when the run ended.
    pub unfinished: u64,
}

impl RequestCounts {
    /// All failures.
    pub fn failed(&self) -> u64 {
        self.rejected_no_endpoint
            + self.front_queue_timeout
            + self.aborted_on_drain
            + self.refused_by_engine
            + self.client_timeout
            + self.abandoned
    }
}

/// The run in numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Simulated seconds.
    pub duration_s: f64,
    /// Requests by outcome.
    pub requests: RequestCounts,
    /// Time to first token.
    pub ttft: LatencyStats,
    /// End to end.
    pub e2e: LatencyStats,
    /// Mean inter-token latency per request.
    pub itl: LatencyStats,
    /// Per SLO.
    pub slos: Vec<SloResult>,
    /// GPU-hours held by pods.
    pub gpu_hours: f64,
    /// Node-hours (from creation, provisioning included).
    pub node_hours: f64,
    /// Cost, when a price was given (node price first, else GPU price).
    pub cost: Option<f64>,
    /// Ready pods, time-weighted mean.
    pub mean_ready: f64,
    /// Most pods desired.
    pub max_desired: i32,
    /// Fewest pods desired.
    pub min_desired: i32,
    /// Most GPUs held at once.
    pub peak_gpus: u32,
    /// Most nodes at once.
    pub peak_nodes: u32,
    /// HPA writes that added replicas.
    pub scale_ups: u32,
    /// HPA writes that removed replicas.
    pub scale_downs: u32,
    /// Direction reversals within the flap window.
    pub flaps: u32,
    /// HPA syncs.
    pub syncs: u32,
    /// Syncs whose metrics could not all be computed.
    pub syncs_with_metric_errors: u32,
    /// Per load change.
    pub load_changes: Vec<LoadChange>,
    /// Nodes added by the cluster autoscaler.
    pub nodes_added: u32,
    /// Nodes removed.
    pub nodes_removed: u32,
    /// Node provisionings given up.
    pub nodes_failed: u32,
    /// Container restarts.
    pub restarts: u32,
    /// Every pod's start-up.
    pub startups: Vec<StartupRecord>,
    /// How the HPA read each of its metrics (spec order).
    pub metric_reads: Vec<MetricReads>,
    /// The HPA's `maxReplicas` (none without an HPA).
    pub max_replicas: Option<i32>,
    /// Simulated seconds during which desired replicas were `maxReplicas`.
    pub seconds_at_max: f64,
    /// What the run says about the configuration (`diagnose`).
    pub diagnostics: Vec<Diagnostic>,
}

/// How the HPA read one metric over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricReads {
    /// The column name (`object:…`, `pods:…`, `resource:cpu`, …).
    pub name: String,
    /// Syncs that asked for it.
    pub syncs: u32,
    /// Syncs that received a value.
    pub available: u32,
    /// Why the first sync without a value had none.
    pub first_error: Option<String>,
    /// The lowest value received (natural units; NaN: none).
    pub min_seen: f64,
    /// The highest value received (natural units; NaN: none).
    pub max_seen: f64,
    /// Its target (natural units; NaN: none).
    pub target: f64,
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The answer cannot be acted on (`--strict` fails the run).
    Error,
    /// The answer holds, with a caveat the user should read.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A finding about a run or its configuration, with a stable code.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable identifier (`hpa-metric-never-available`, …).
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// What happened, with the figures, and what to do.
    pub message: String,
}

/// Everything a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SimResult {
    /// HPA metric columns (spec order).
    pub columns: Vec<MetricColumn>,
    /// One row per second (when recorded).
    pub rows: Vec<SecondRow>,
    /// One record per sync (when recorded).
    pub syncs: Vec<SyncRecord>,
    /// The summary.
    pub summary: Summary,
    /// Every series Prometheus stored, when the run was asked to keep them
    /// (`PromConfig::export_series`).
    pub series: Option<crate::metrics::tsdb::Tsdb>,
}
