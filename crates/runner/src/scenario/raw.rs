//! The scenario file as written: serde shapes with their JSON Schema
//! (`nimscale schema`). Field documentation here *is* the schema's
//! documentation. Values with units stay text until `build` converts them,
//! so that every unit error can be reported with its position.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::Value;

mod clients;
mod traffic;
pub use clients::{RawBackoff, RawClients, RawClosedLoop};
pub use traffic::{
    RawBurstState, RawImages, RawPattern, RawStep, RawTrace, RawTraceFormat, RawTraffic,
};

/// A duration: Go/Prometheus syntax (`500ms`, `15s`, `2m`, `1h30m`) or a
/// number of seconds.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Dur {
    /// Seconds.
    Seconds(f64),
    /// Text with units.
    Text(String),
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `500ms`, `15s`, `2m`, `1h30m`, or a number of seconds.",
            "type": ["string", "number"]
        })
    }
}

/// A nimscale scenario: a NIMService, the GPU and model, the cluster, the
/// metrics path, the traffic and the objectives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "nimscale scenario")]
pub struct RawScenario {
    /// Run name (default: the file name without extension); `simulate`
    /// writes to `reports/<name>/`.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every random stream (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulated time.
    pub duration: Dur,
    /// The NIMService (`apps.nvidia.com/v1alpha1`), inline, or
    /// `{file: path}` naming the user's YAML (which may also hold NIMCache
    /// objects), relative to the scenario file.
    pub nimservice: Value,
    /// The GPU and model, from the catalog.
    pub model: RawModel,
    /// Nodes, start-up, load balancing, controller flags.
    #[serde(default)]
    pub cluster: Option<RawCluster>,
    /// How the HPA reads its metrics.
    #[serde(default)]
    pub metrics: Option<RawMetrics>,
    /// Requests.
    pub traffic: RawTraffic,
    /// Service-level objectives.
    #[serde(default)]
    pub slos: Vec<RawSlo>,
    /// An autoscaler other than the NIMService's HPA.
    #[serde(default)]
    pub autoscaler: Option<RawScaling>,
    /// How results are judged.
    #[serde(default)]
    pub evaluation: Option<RawEvaluation>,
}

/// An autoscaler other than the NIMService's HPA (which must then be off:
/// `spec.scale.enabled: false`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScaling {
    /// Scheduled scaling: at every controller sync the replica count of
    /// the step in force is written, as a CronJob running `kubectl scale`
    /// or KEDA's cron scaler would.
    pub schedule: RawSchedule,
}

/// Steps of a schedule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSchedule {
    /// The steps repeat with this period (`24h` for a daily schedule);
    /// without it they run once from time zero.
    #[serde(default)]
    pub period: Option<Dur>,
    /// From `at` (within the period; strictly increasing), `replicas`.
    pub steps: Vec<RawScheduleStep>,
}

/// One step of a schedule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScheduleStep {
    /// When the step starts (`8h`: 08:00 in a daily schedule).
    pub at: Dur,
    /// Replicas from then on.
    pub replicas: u32,
}

/// GPU and model.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawModel {
    /// GPU catalog key (`h100-sxm`, `a100-80gb`, `l40s`, ...).
    pub gpu: String,
    /// Model catalog key (`llama-3.1-8b-instruct`, `cosmos-reason1-7b`, ...).
    pub name: String,
    /// Weight precision: `bf16` (default), `fp8`, or `mxfp4` (MoE expert
    /// weights in MXFP4, the rest BF16, as gpt-oss ships).
    #[serde(default)]
    pub precision: Option<String>,
    /// KV-cache type: `auto` (default, as weights) or `fp8`.
    #[serde(default)]
    pub kv_cache_dtype: Option<String>,
    /// GPUs per pod (default: the NIMService's `nvidia.com/gpu` limit).
    #[serde(default)]
    pub tensor_parallel: Option<u32>,
    /// MoE layers expert-parallel across the pod's GPUs (vLLM's
    /// `--enable-expert-parallel`; default false: every expert sharded).
    #[serde(default)]
    pub expert_parallel: Option<bool>,
    /// Metric names: `nim` (NIM 1.x, default) or `vllm` (`vllm:` prefix).
    #[serde(default)]
    pub dialect: Option<RawDialect>,
    /// vLLM engine settings.
    #[serde(default)]
    pub engine: Option<RawEngine>,
    /// CPU and memory model of a pod (for Resource-metric HPAs).
    #[serde(default)]
    pub usage: Option<RawUsage>,
    /// A Hugging Face `config.json` giving the model's shape (`{file:
    /// config.json}`); `name` then names this model, not a catalog entry.
    #[serde(default)]
    pub config: Option<RawFileRef>,
}

/// Metric naming dialect.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawDialect {
    /// NIM 1.x names (`gpu_cache_usage_perc`).
    Nim,
    /// vLLM names (`vllm:kv_cache_usage_perc`).
    Vllm,
}

/// vLLM engine flags.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEngine {
    /// `--max-num-seqs`.
    #[serde(default)]
    pub max_num_seqs: Option<u32>,
    /// `--max-num-batched-tokens`.
    #[serde(default)]
    pub max_num_batched_tokens: Option<u32>,
    /// `--gpu-memory-utilization` (0.9).
    #[serde(default)]
    pub gpu_memory_utilization: Option<f64>,
    /// `--max-model-len`.
    #[serde(default)]
    pub max_model_len: Option<u32>,
    /// `--block-size` (16).
    #[serde(default)]
    pub block_size: Option<u32>,
    /// Prefix caching (on).
    #[serde(default)]
    pub prefix_caching: Option<bool>,
    /// Chunked prefill (on, vLLM V1's default); off prefills each prompt
    /// whole in a step whose budget it fits, as TensorRT-LLM (NIM's
    /// TensorRT-LLM profiles) schedules context by default.
    #[serde(default)]
    pub chunked_prefill: Option<bool>,
    /// A NIM profile's concurrent-request cap.
    #[serde(default)]
    pub request_cap: Option<u32>,
    /// Network and routing time before the pod's front end (3ms).
    #[serde(default)]
    pub frontend_delay: Option<Dur>,
    /// The serving front end's (API server's) work; the catalog's figures
    /// for the model by default.
    #[serde(default)]
    pub front_end: Option<RawFrontEnd>,
}

/// The API server's CPU work, each field a duration (`58us`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFrontEnd {
    /// Per request: HTTP, request set-up.
    #[serde(default)]
    pub per_request: Option<Dur>,
    /// Per prompt token: tokenisation.
    #[serde(default)]
    pub per_prompt_token: Option<Dur>,
    /// Per output token: detokenisation and one streamed chunk.
    #[serde(default)]
    pub per_output_token: Option<Dur>,
}

/// CPU and memory of a pod.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUsage {
    /// Cores of an idle pod (0.15).
    #[serde(default)]
    pub idle_cores: Option<f64>,
    /// Extra cores while the GPU works (1.0).
    #[serde(default)]
    pub busy_cores: Option<f64>,
    /// Core-seconds per prompt or generated token beyond the front end's
    /// own work, which is counted from `model.engine.frontEnd` (0).
    #[serde(default)]
    pub core_seconds_per_token: Option<f64>,
    /// Working set of an idle pod, a Kubernetes quantity (`6Gi`).
    #[serde(default)]
    pub base_memory: Option<String>,
    /// Working set per request in the engine (`2Mi`).
    #[serde(default)]
    pub memory_per_request: Option<String>,
}

/// A distribution of durations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum RawTimeDist {
    /// Always this long.
    Fixed(Dur),
    /// Uniform between two durations.
    Uniform {
        /// Lower bound.
        min: Dur,
        /// Upper bound.
        max: Dur,
    },
    /// Log-normal around a median.
    Lognormal {
        /// Median.
        median: Dur,
        /// Log-space standard deviation (0.3 ≈ ±35 %).
        sigma: f64,
        /// Lower clamp.
        #[serde(default)]
        min: Option<Dur>,
        /// Upper clamp.
        #[serde(default)]
        max: Option<Dur>,
    },
    /// Exponential with a mean.
    Exponential {
        /// Mean.
        mean: Dur,
    },
}

/// A distribution of token counts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum RawTokenDist {
    /// Always this many.
    Fixed(u32),
    /// Uniform between two counts.
    Uniform {
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
    /// Log-normal around a median.
    Lognormal {
        /// Median.
        median: f64,
        /// Log-space standard deviation.
        sigma: f64,
        /// Lower clamp.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clamp.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Exponential with a mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
}

/// The cluster around the NIMService.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCluster {
    /// The GPU node pool.
    #[serde(default)]
    pub node_pool: Option<RawNodePool>,
    /// The cluster autoscaler.
    #[serde(default)]
    pub autoscaler: Option<RawAutoscaler>,
    /// Pod start-up stages.
    #[serde(default)]
    pub startup: Option<RawStartup>,
    /// `terminationGracePeriodSeconds` of the pods (30s).
    #[serde(default)]
    pub termination_grace_period: Option<Dur>,
    /// How the Service spreads requests: `random` (kube-proxy, default),
    /// `round-robin` or `least-outstanding`.
    #[serde(default)]
    pub load_balancer: Option<RawBalancer>,
    /// Where requests wait while no pod is ready.
    #[serde(default)]
    pub front_queue: Option<RawFrontQueue>,
    /// kube-controller-manager HPA flags.
    #[serde(default)]
    pub controller: Option<RawController>,
    /// Replicas at the start (default: `minReplicas`, or `spec.replicas`).
    #[serde(default)]
    pub initial_replicas: Option<i32>,
    /// Initial pods are Ready at time zero (default true); false starts
    /// them cold.
    #[serde(default)]
    pub warm_start: Option<bool>,
}

/// Load-balancing policy.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawBalancer {
    /// kube-proxy's random choice.
    Random,
    /// Round robin.
    RoundRobin,
    /// Fewest requests in flight.
    LeastOutstanding,
}

/// The GPU node pool.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNodePool {
    /// GPUs per node (8).
    #[serde(default)]
    pub gpus_per_node: Option<u32>,
    /// Nodes at the start (default: enough for the initial pods).
    #[serde(default)]
    pub initial_nodes: Option<u32>,
    /// Fewest nodes (0).
    #[serde(default)]
    pub min_nodes: Option<u32>,
    /// Most nodes (default: enough for `maxReplicas`).
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// `spread` (kube-scheduler's LeastAllocated, default) or `pack`.
    #[serde(default)]
    pub placement: Option<RawPlacement>,
    /// Price of one GPU-hour.
    #[serde(default)]
    pub price_per_gpu_hour: Option<f64>,
    /// Price of one node-hour (takes precedence for cost).
    #[serde(default)]
    pub price_per_node_hour: Option<f64>,
}

/// Scheduler placement.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawPlacement {
    /// Most free GPUs first.
    Spread,
    /// Fewest free GPUs that fit.
    Pack,
}

/// Cluster autoscaler flags.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAutoscaler {
    /// Adds and removes nodes (true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `--scan-interval` (10s).
    #[serde(default)]
    pub scan_interval: Option<Dur>,
    /// Time from the decision to GPUs allocatable on the new node
    /// (default log-normal, median 5m, sigma 0.3).
    #[serde(default)]
    pub provisioning: Option<RawTimeDist>,
    /// `--max-node-provision-time` (15m).
    #[serde(default)]
    pub max_node_provision_time: Option<Dur>,
    /// `--scale-down-unneeded-time` (10m).
    #[serde(default)]
    pub scale_down_unneeded_time: Option<Dur>,
    /// `--scale-down-delay-after-add` (10m).
    #[serde(default)]
    pub scale_down_delay_after_add: Option<Dur>,
    /// `--max-empty-bulk-delete` (10).
    #[serde(default)]
    pub max_empty_bulk_delete: Option<u32>,
}

/// Pod start-up.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStartup {
    /// Scheduling and kubelet admission (log-normal, median 1s, sigma 0.3).
    #[serde(default)]
    pub scheduling: Option<RawTimeDist>,
    /// Image pull on a node without the image (log-normal, median 6m, sigma
    /// 0.3).
    #[serde(default)]
    pub image_pull: Option<RawTimeDist>,
    /// Engine start after weights are local (default from the model size:
    /// log-normal, median 45s plus 1s per GiB of weights, sigma 0.2).
    #[serde(default)]
    pub engine_start: Option<RawTimeDist>,
    /// `auto` (from the NIMService's storage, default), `pvc` or `download`.
    #[serde(default)]
    pub model_source: Option<RawModelSource>,
    /// First read of the model volume on a node (`1GB/s`).
    #[serde(default)]
    pub cold_read_bandwidth: Option<String>,
    /// Later reads on that node (`4GB/s`).
    #[serde(default)]
    pub warm_read_bandwidth: Option<String>,
    /// Download without a cache volume (`250MB/s`).
    #[serde(default)]
    pub download_bandwidth: Option<String>,
}

/// Model source.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawModelSource {
    /// From the NIMService's storage.
    Auto,
    /// A cache volume.
    Pvc,
    /// Downloaded at every start.
    Download,
}

/// The front queue.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFrontQueue {
    /// Requests that may wait (0: fail at once, as kube-proxy does; 1000).
    #[serde(default)]
    pub capacity: Option<u32>,
    /// A waiting request fails after this long (1m).
    #[serde(default)]
    pub timeout: Option<Dur>,
}

/// kube-controller-manager HPA settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawController {
    /// `--horizontal-pod-autoscaler-sync-period` (15s).
    #[serde(default)]
    pub sync_period: Option<Dur>,
    /// First reconcile after the start (0s).
    #[serde(default)]
    pub first_sync: Option<Dur>,
    /// Reconcile duration; the next sync starts a period after it ends (0s).
    #[serde(default)]
    pub reconcile_latency: Option<Dur>,
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5m).
    #[serde(default)]
    pub downscale_stabilization: Option<Dur>,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5m).
    #[serde(default)]
    pub cpu_initialization_period: Option<Dur>,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30s).
    #[serde(default)]
    pub initial_readiness_delay: Option<Dur>,
    /// Feature gate HPAScaleToZero (false).
    #[serde(default)]
    pub scale_to_zero: Option<bool>,
}

/// The metric path.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawMetrics {
    /// `prometheus` (default): the HPA reads what Prometheus scraped, through
    /// prometheus-adapter rules and metrics-server; `direct`: exact pod
    /// values with no scrape or query lag (a reference to compare against).
    #[serde(default)]
    pub source: Option<RawMetricSource>,
    /// Window of rates, fractions and quantiles on the direct path (1m).
    #[serde(default)]
    pub window: Option<Dur>,
    /// metrics-server `--metric-resolution` for CPU and memory (15s).
    #[serde(default)]
    pub resolution: Option<Dur>,
    /// Kubelet (cAdvisor) housekeeping period (10s).
    #[serde(default)]
    pub housekeeping: Option<Dur>,
    /// Prometheus.
    #[serde(default)]
    pub prometheus: Option<RawPrometheus>,
    /// prometheus-adapter.
    #[serde(default)]
    pub adapter: Option<RawAdapter>,
}

/// Metric source.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawMetricSource {
    /// Prometheus scrapes, PromQL, prometheus-adapter, metrics-server.
    Prometheus,
    /// Exact pod values.
    Direct,
}

/// Prometheus settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPrometheus {
    /// Major version whose PromQL rules apply: 3 (default; left-open range
    /// windows) or 2 (closed windows, as Debian's 2.42).
    #[serde(default)]
    pub version: Option<u8>,
    /// Scrape interval; default: the NIMService's
    /// `spec.metrics.serviceMonitor.interval`, else Prometheus' own 1m.
    #[serde(default)]
    pub scrape_interval: Option<Dur>,
    /// `--query.lookback-delta` (5m).
    #[serde(default)]
    pub lookback_delta: Option<Dur>,
    /// Keep every scraped series, not only those an adapter rule can read
    /// (false; more memory, same HPA behaviour).
    #[serde(default)]
    pub keep_all_series: Option<bool>,
}

/// prometheus-adapter settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAdapter {
    /// The adapter's ConfigMap (`data."config.yaml"`) or a bare adapter
    /// config, read unchanged; default: the rules `nimscale export` writes.
    #[serde(default)]
    pub config_map: Option<RawFileRef>,
    /// `--metrics-relist-interval` (1m, the Helm chart's value; the binary's
    /// default is 10m).
    #[serde(default)]
    pub relist_interval: Option<Dur>,
    /// `warm` (default): the adapter already knows the NIM's metric names at
    /// time zero; `cold`: a metric is served only after a relist saw it.
    #[serde(default)]
    pub discovery: Option<RawDiscovery>,
}

/// A file named by path, relative to the scenario.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFileRef {
    /// Path relative to the scenario file.
    pub file: String,
}

/// Adapter discovery at time zero.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawDiscovery {
    /// Already relisted before the run.
    Warm,
    /// First relist at time zero.
    Cold,
}

/// An objective: `percentile` of `metric` at most `threshold`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSlo {
    /// Name (default `<metric>-p<percentile>`).
    #[serde(default)]
    pub name: Option<String>,
    /// `ttft`, `e2e` or `itl`.
    pub metric: RawSloMetric,
    /// Percentile, 0–100 (e.g. 95).
    pub percentile: f64,
    /// Latency bound.
    pub threshold: Dur,
}

/// SLO metrics.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawSloMetric {
    /// Time to first token.
    Ttft,
    /// End to end.
    E2e,
    /// Mean inter-token latency of a request.
    Itl,
}

/// Judging settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawEvaluation {
    /// Windows in which SLO percentiles are also judged (1m).
    #[serde(default)]
    pub slo_window: Option<Dur>,
    /// Scale direction reversals within this long count as flaps (10m).
    #[serde(default)]
    pub flap_window: Option<Dur>,
}
