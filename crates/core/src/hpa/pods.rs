//! What the HPA knows about pods: phase, readiness, start time, requests; how
//! it groups them (`groupPods`) and sums their requests (`calculateRequests`).

use std::collections::{BTreeMap, BTreeSet};

use crate::time::{SimDuration, SimTime};

/// Go's zero `time.Time` (0001-01-01T00:00:00Z), which upstream uses for
/// "no timestamp" and which compares as an ordinary, very old instant.
pub const GO_ZERO_TIME: SimTime = SimTime::from_secs(-62_135_596_800);

/// `status.phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    /// Not yet scheduled or still pulling/starting.
    Pending,
    /// Containers running.
    Running,
    /// Terminated successfully.
    Succeeded,
    /// Terminated with failure.
    Failed,
    /// State unknown.
    Unknown,
}

/// Status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

impl ConditionStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// The pod's `Ready` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyCondition {
    /// Status.
    pub status: ConditionStatus,
    /// `lastTransitionTime`.
    pub last_transition: SimTime,
}

/// Requests of one container, in milli-units per resource name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Container name.
    pub name: String,
    /// `resources.requests` as milli-values; `None` when the container has no
    /// requests at all.
    pub requests: Option<BTreeMap<String, i64>>,
    /// For init containers: `restartPolicy: Always` (a sidecar). Ignored for
    /// regular containers.
    pub restart_always: bool,
}

/// A pod as the HPA controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// `metadata.name`.
    pub name: String,
    /// `status.phase`.
    pub phase: PodPhase,
    /// The `Ready` condition, if present.
    pub ready: Option<ReadyCondition>,
    /// `status.startTime`, if set.
    pub start_time: Option<SimTime>,
    /// `metadata.deletionTimestamp` is set.
    pub deleted: bool,
    /// Regular containers.
    pub containers: Vec<ContainerInfo>,
    /// Init containers (only `restart_always` ones count towards requests).
    pub init_containers: Vec<ContainerInfo>,
    /// Pod-level `spec.resources.requests` (PodLevelResources), milli-values.
    pub pod_requests: Option<BTreeMap<String, i64>>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
}

impl PodInfo {
    /// A Running pod, Ready since `since` (also its start time), with one
    /// container `nim` requesting `requests` (milli-values; none when empty).
    pub fn running_ready(name: String, requests: BTreeMap<String, i64>, since: SimTime) -> Self {
        PodInfo {
            name,
            phase: PodPhase::Running,
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: since,
            }),
            start_time: Some(since),
            deleted: false,
            containers: vec![ContainerInfo {
                name: "nim".to_string(),
                requests: (!requests.is_empty()).then_some(requests),
                restart_always: false,
            }],
            init_containers: Vec::new(),
            pod_requests: None,
            labels: BTreeMap::new(),
        }
    }

    /// Phase Running and Ready condition True (`podutil.IsPodReady`).
    pub fn is_running_and_ready(&self) -> bool {
        self.phase == PodPhase::Running
            && self
                .ready
                .is_some_and(|r| r.status == ConditionStatus::True)
    }
}

/// One pod's metric sample as returned by a metrics API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    /// Value in milli-units.
    pub value_m: i64,
    /// Sample timestamp.
    pub timestamp: SimTime,
    /// Sample window.
    pub window: SimDuration,
}

/// A per-pod metric list as returned by the resource or custom metrics API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMetricsList {
    /// Timestamp reported for the whole list.
    pub timestamp: SimTime,
    /// `(pod name, sample)`; a later entry for the same pod replaces an earlier one.
    pub items: Vec<(String, PodMetric)>,
}

/// The metric map the calculator works on (`PodMetricsInfo`).
pub type PodMetrics = BTreeMap<String, PodMetric>;

impl PodMetricsList {
    /// The items as a map, later duplicates winning (Go map insertion).
    pub fn to_map(&self) -> PodMetrics {
        self.items.iter().cloned().collect()
    }
}

/// The outcome of `groupPods`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodGroups {
    /// Pods counted as ready with a usable sample.
    pub ready_count: i32,
    /// Pending pods, and (CPU only) pods whose sample cannot be trusted yet.
    pub unready: BTreeSet<String>,
    /// Pods with no sample.
    pub missing: BTreeSet<String>,
    /// Deleted or failed pods.
    pub ignored: BTreeSet<String>,
}

/// Durations for the CPU readiness rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadinessRules {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`.
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay`.
    pub initial_readiness_delay: SimDuration,
}

/// `groupPods`: classifies each pod (hpa-algorithm §7.2). The CPU readiness
/// rules apply only when `resource == "cpu"`.
pub fn group_pods(
    pods: &[PodInfo],
    metrics: &PodMetrics,
    resource: &str,
    rules: ReadinessRules,
    now: SimTime,
) -> PodGroups {
    let mut g = PodGroups::default();
    for pod in pods {
        if pod.deleted || pod.phase == PodPhase::Failed {
            g.ignored.insert(pod.name.clone());
            continue;
        }
        if pod.phase == PodPhase::Pending {
            g.unready.insert(pod.name.clone());
            continue;
        }
        let Some(metric) = metrics.get(&pod.name) else {
            g.missing.insert(pod.name.clone());
            continue;
        };
        if resource == "cpu" {
            let unready = match (pod.ready, pod.start_time) {
                (Some(cond), Some(start)) => {
                    if start + rules.cpu_initialization_period > now {
                        cond.status == ConditionStatus::False
                            || metric.timestamp < cond.last_transition + metric.window
                    } else {
                        cond.status == ConditionStatus::False
                            && start + rules.initial_readiness_delay > cond.last_transition
                    }
                }
                _ => true,
            };
            if unready {
                g.unready.insert(pod.name.clone());
                continue;
            }
        }
        g.ready_count += 1;
    }
    g
}

/// `calculateRequests`: each pod's request for `resource` in milli-units, or
/// upstream's error text.
pub fn calculate_requests(
    pods: &[PodInfo],
    container: &str,
    resource: &str,
    pod_level_resources: bool,
) -> Result<BTreeMap<String, i64>, String> {
    let mut out = BTreeMap::new();
    for pod in pods {
        let pod_level_set = pod
            .pod_requests
            .as_ref()
            .is_some_and(|r| r.contains_key("cpu") || r.contains_key("memory"));
        let request = if container.is_empty() && pod_level_resources && pod_level_set {
            pod_level_request(pod, resource)?
        } else {
            container_requests(pod, container, resource)?
        };
        out.insert(pod.name.clone(), request);
    }
    Ok(out)
}

/// `resourcehelpers.PodRequests` with pod-level resources set: the pod-level
/// value where given, else the regular containers' aggregate (as the
/// conformance oracle computes it: init containers, sidecars and pod overhead
/// do not enter this fallback).
fn pod_level_request(pod: &PodInfo, resource: &str) -> Result<i64, String> {
    if let Some(v) = pod.pod_requests.as_ref().and_then(|r| r.get(resource)) {
        return Ok(*v);
    }
    let found: Vec<i64> = pod
        .containers
        .iter()
        .filter_map(|c| c.requests.as_ref().and_then(|r| r.get(resource)).copied())
        .collect();
    if found.is_empty() {
        return Err(format!(
            "missing pod-level request for {resource} in Pod {}",
            pod.name
        ));
    }
    Ok(found.iter().fold(0i64, |a, v| a.wrapping_add(*v)))
}

fn container_requests(pod: &PodInfo, container: &str, resource: &str) -> Result<i64, String> {
    let sidecars = pod.init_containers.iter().filter(|c| c.restart_always);
    let mut request: i64 = 0;
    let mut found = false;
    for c in pod.containers.iter().chain(sidecars) {
        if !container.is_empty() && c.name != container {
            continue;
        }
        found = true;
        match c.requests.as_ref().and_then(|r| r.get(resource)) {
            Some(v) => request = request.wrapping_add(*v),
            None => {
                return Err(format!(
                    "missing request for {resource} in container {} of Pod {}",
                    c.name, pod.name
                ));
            }
        }
    }
    if !container.is_empty() && !found {
        return Err(format!(
            "container {container} not found in Pod {}",
            pod.name
        ));
    }
    Ok(request)
}
