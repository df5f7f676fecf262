//! `apps.nvidia.com/v1alpha1` `NIMService` and `NIMCache`, with the CRD's
//! field names, embedding the Kubernetes types (`k8s-openapi`) for the parts
//! that are Kubernetes types in the operator's Go API (env, resources,
//! tolerations, affinity, probes, HPA metrics and behaviour, ingress spec).
//!
//! These are read only after admission has checked the document against the
//! CRD schema, so they accept every field without `deny_unknown_fields`
//! (strictness lives in [`crate::schema`], which knows line and column).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscalerBehavior, MetricSpec};
use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, PodAffinity, Probe, ResourceRequirements, Toleration,
};
use k8s_openapi::api::networking::v1::IngressSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// String maps (labels, annotations, node selectors).
pub type StringMap = BTreeMap<String, String>;

/// A `NIMService` as stored (after CRD defaulting).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NimService {
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default)]
    pub spec: NimServiceSpec,
}

/// `NIMServiceSpec`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NimServiceSpec {
    #[serde(default)]
    pub image: Image,
    #[serde(default)]
    pub auth_secret: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub resources: Option<ResourceRequirements>,
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub scale: Option<Scale>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub multi_node: Option<MultiNode>,
    #[serde(default)]
    pub expose: Option<Expose>,
    #[serde(default)]
    pub labels: StringMap,
    #[serde(default)]
    pub annotations: StringMap,
    #[serde(default)]
    pub node_selector: StringMap,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub affinity: Option<Affinity>,
    #[serde(default)]
    pub pod_affinity: Option<PodAffinity>,
    #[serde(default)]
    pub scheduler_name: Option<String>,
    #[serde(default)]
    pub priority_class_name: Option<String>,
    #[serde(default)]
    pub runtime_class_name: Option<String>,
    #[serde(default, rename = "userID")]
    pub user_id: Option<i64>,
    #[serde(default, rename = "groupID")]
    pub group_id: Option<i64>,
    #[serde(default)]
    pub liveness_probe: Option<ProbeSpec>,
    #[serde(default)]
    pub readiness_probe: Option<ProbeSpec>,
    #[serde(default)]
    pub startup_probe: Option<ProbeSpec>,
    #[serde(default)]
    pub proxy: Option<Proxy>,
    #[serde(default)]
    pub init_containers: Vec<Value>,
    #[serde(default)]
    pub sidecar_containers: Vec<Value>,
    #[serde(default)]
    pub inference_platform: Option<String>,
    #[serde(default)]
    pub dra_resources: Vec<Value>,
}

/// `spec.image`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Image {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub pull_policy: Option<String>,
    #[serde(default)]
    pub pull_secrets: Vec<String>,
}

/// `spec.scale`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Scale {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub hpa: Option<HpaSpec>,
    #[serde(default)]
    pub annotations: StringMap,
}

/// `spec.scale.hpa`: an `autoscaling/v2` spec without `scaleTargetRef`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct HpaSpec {
    #[serde(default)]
    pub min_replicas: Option<i32>,
    #[serde(default)]
    pub max_replicas: i32,
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    #[serde(default)]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// `spec.metrics`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Metrics {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub service_monitor: Option<ServiceMonitorSpec>,
}

/// `spec.metrics.serviceMonitor`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ServiceMonitorSpec {
    #[serde(default)]
    pub additional_labels: StringMap,
    #[serde(default)]
    pub annotations: StringMap,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub scrape_timeout: Option<String>,
}

/// `spec.storage`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Storage {
    #[serde(default)]
    pub nim_cache: Option<NimCacheVolume>,
    #[serde(default)]
    pub pvc: Option<PvcSpec>,
    #[serde(default)]
    pub empty_dir: Option<EmptyDirSpec>,
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default)]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub shared_memory_size_limit: Option<Quantity>,
}

/// `spec.storage.nimCache`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NimCacheVolume {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub profile: String,
}

/// A PVC description (`spec.storage.pvc`, also in NIMCache).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct PvcSpec {
    #[serde(default)]
    pub create: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub volume_access_mode: Option<String>,
    #[serde(default)]
    pub sub_path: Option<String>,
    #[serde(default)]
    pub annotations: StringMap,
}

/// `spec.storage.emptyDir`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct EmptyDirSpec {
    #[serde(default)]
    pub size_limit: Option<Quantity>,
}

/// `spec.multiNode`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MultiNode {
    #[serde(default)]
    pub backend_type: Option<String>,
    #[serde(default)]
    pub parallelism: Option<Parallelism>,
    #[serde(default)]
    pub mpi: Option<Mpi>,
    #[serde(default)]
    pub ray: Option<Value>,
    #[serde(default)]
    pub compute_domain: Option<Value>,
}

/// `spec.multiNode.parallelism`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Parallelism {
    #[serde(default)]
    pub pipeline: Option<i32>,
    #[serde(default)]
    pub tensor: Option<i32>,
}

/// `spec.multiNode.mpi`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Mpi {
    #[serde(default)]
    pub mpi_start_timeout: Option<i64>,
}

/// `spec.expose`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Expose {
    #[serde(default)]
    pub service: Option<ExposeService>,
    #[serde(default)]
    pub ingress: Option<DeprecatedIngress>,
    #[serde(default)]
    pub router: Option<Router>,
}

/// `spec.expose.service`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ExposeService {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
    #[serde(default)]
    pub grpc_port: Option<i32>,
    #[serde(default)]
    pub metrics_port: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: StringMap,
    #[serde(default)]
    pub annotations: StringMap,
}

/// The deprecated `spec.expose.ingress`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct DeprecatedIngress {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub spec: Option<IngressSpec>,
}

/// `spec.expose.router`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Router {
    #[serde(default)]
    pub host_domain_name: Option<String>,
    #[serde(default)]
    pub annotations: StringMap,
    #[serde(default)]
    pub ingress: Option<RouterIngress>,
    #[serde(default)]
    pub gateway: Option<Value>,
    #[serde(default)]
    pub epp_config: Option<Value>,
}

/// `spec.expose.router.ingress`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RouterIngress {
    #[serde(default)]
    pub ingress_class: Option<String>,
    #[serde(default)]
    pub tls_secret_name: Option<String>,
}

/// A probe override (`spec.livenessProbe` etc.).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ProbeSpec {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub probe: Option<Probe>,
}

/// `spec.proxy`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Proxy {
    #[serde(default)]
    pub cert_config_map: Option<String>,
    #[serde(default)]
    pub http_proxy: Option<String>,
    #[serde(default)]
    pub https_proxy: Option<String>,
    #[serde(default)]
    pub no_proxy: Option<String>,
}

/// A `NIMCache` as it exists in the cluster (spec and the status the NIMCache
/// controller wrote).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NimCache {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Value,
    #[serde(default)]
    pub status: NimCacheStatus,
}

/// `NIMCache.status` fields the NIMService reconcile reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NimCacheStatus {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub pvc: Option<String>,
    #[serde(default)]
    pub profiles: Vec<NimCacheProfile>,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub conditions: Vec<Value>,
}

/// One cached profile.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NimCacheProfile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub config: StringMap,
}

impl NimServiceSpec {
    /// Whether autoscaling is on (`scale.enabled: true`).
    pub fn autoscaling(&self) -> bool {
        self.scale.as_ref().and_then(|s| s.enabled).unwrap_or(false)
    }

    /// Whether metrics (the ServiceMonitor) are on.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics
            .as_ref()
            .and_then(|m| m.enabled)
            .unwrap_or(false)
    }

    /// The pipeline-parallel degree when multi-node is set.
    pub fn pipeline(&self) -> Option<i32> {
        self.multi_node
            .as_ref()
            .map(|m| m.parallelism.as_ref().and_then(|p| p.pipeline).unwrap_or(1))
    }

    /// The main API port, when `expose.service` exists (the CRD default fills it).
    pub fn api_port(&self) -> Option<i32> {
        self.expose.as_ref()?.service.as_ref()?.port
    }
}
