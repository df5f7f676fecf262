//! One reconcile of one HPA (`reconcileAutoscaler`, hpa-algorithm §5 and §8),
//! as a pure function of the spec, the controller's remembered state, the
//! scale subresource, the pods, the metrics and `now`.

use super::behavior;
use super::conditions::{Condition, ConditionType, Event, EventType, set_condition};
use super::history::{HpaHistory, Recommendation};
pub use super::normalize::{NormalizationTrace, normalize_behavior, normalize_legacy};
use super::pods::{ConditionStatus, PodInfo, PodMetricsList, ReadinessRules};
use super::replica_calc::{self, CalcContext, ObjectContext, Proposal, Tolerances};
use super::selector::{Selector, go_format_label_selector, parse_selector};
use super::spec::{EffectiveBehavior, HpaSpec, MetricId, MetricSpec, ObjectRef, TargetType};
use crate::time::{SimDuration, SimTime};

/// kube-controller-manager settings and feature gates that change decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerConfig {
    /// `--horizontal-pod-autoscaler-sync-period` (15 s).
    pub sync_period: SimDuration,
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
    pub downscale_stabilization: SimDuration,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: SimDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: SimDuration,
    /// Feature gate PodLevelResources (on).
    pub pod_level_resources: bool,
    /// Feature gate HPAConfigurableTolerance (on since 1.35).
    pub configurable_tolerance: bool,
    /// Feature gate HPAScaleToZero (alpha, off; announced on by default in 1.37).
    pub scale_to_zero: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            sync_period: SimDuration::from_secs(15),
            tolerance: 0.1,
            downscale_stabilization: SimDuration::from_secs(300),
            cpu_initialization_period: SimDuration::from_secs(300),
            initial_readiness_delay: SimDuration::from_secs(30),
            pod_level_resources: true,
            configurable_tolerance: true,
            scale_to_zero: false,
        }
    }
}

/// The HPA object: identity plus validated spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Hpa {
    /// Namespace (appears in some error messages).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Validated spec.
    pub spec: HpaSpec,
}

/// What the scale subresource reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleInfo {
    /// `spec.replicas` ("current").
    pub spec_replicas: i32,
    /// `status.replicas` (pods that exist).
    pub status_replicas: i32,
    /// `status.selector`.
    pub selector: String,
}

/// The pod informer: pods in the HPA's namespace matching a selector.
pub trait PodLister {
    /// Pods matching `selector`, in a stable order.
    fn list(&self, selector: &Selector) -> Vec<PodInfo>;
}

/// The metrics APIs. An `Ok` with no items is reported as the REST client
/// reports an empty answer (`no metrics returned from … metrics API`).
pub trait MetricsClient {
    /// `metrics.k8s.io` per-pod usage of `resource`; summed over containers when
    /// `container` is empty, else that container's.
    fn resource(&self, resource: &str, container: &str) -> Result<PodMetricsList, String>;
    /// `custom.metrics.k8s.io` per-pod values of a Pods metric.
    fn pods(&self, metric: &MetricId) -> Result<PodMetricsList, String>;
    /// `custom.metrics.k8s.io` value of an Object metric.
    fn object(&self, metric: &MetricId, object: &ObjectRef) -> Result<(i64, SimTime), String>;
    /// `external.metrics.k8s.io` values (summed by the controller).
    fn external(&self, metric: &MetricId) -> Result<(Vec<i64>, SimTime), String>;
}

/// One entry of `status.currentMetrics`; a failed metric has `type_ == ""`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricStatus {
    /// `Resource`, `Pods`, … or empty.
    pub type_: &'static str,
    /// `current.value` (milli).
    pub value_m: Option<i64>,
    /// `current.averageValue` (milli).
    pub average_value_m: Option<i64>,
    /// `current.averageUtilization`.
    pub average_utilization: Option<i32>,
}

/// What one metric proposed, for decision traces.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricOutcome {
    /// Display name (`"pods metric qps"`), empty on failure.
    pub name: String,
    /// Proposed replicas (0 on failure).
    pub replicas: i32,
    /// Timestamp of the sample used, if any.
    pub timestamp: Option<SimTime>,
    /// The error text as the controller wraps it, on failure.
    pub error: Option<String>,
}

/// Per-HPA state the controller keeps between reconciles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HpaState {
    /// Recommendation and scale-event histories.
    pub history: HpaHistory,
    /// `status.conditions`.
    pub conditions: Vec<Condition>,
    /// `status.currentReplicas`.
    pub current_replicas: i32,
    /// `status.desiredReplicas`.
    pub desired_replicas: i32,
    /// `status.lastScaleTime`.
    pub last_scale_time: Option<SimTime>,
    /// `status.currentMetrics`.
    pub current_metrics: Vec<MetricStatus>,
}

/// The outcome of one reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// When it ran.
    pub now: SimTime,
    /// `spec.replicas` read from the scale.
    pub current_replicas: i32,
    /// The replica count after the decision (equals current when nothing changes).
    pub desired_replicas: i32,
    /// Whether the scale was written.
    pub rescale: bool,
    /// The reason in the `SuccessfulRescale` event (computed before normalization).
    pub rescale_reason: String,
    /// Whether metrics were read at all.
    pub metrics_computed: bool,
    /// The max over metrics; -1 when metric failures stopped the decision.
    pub metric_desired_replicas: i32,
    /// The metric behind that max.
    pub metric_name: String,
    /// Error returned by the reconcile (fatal or only logged).
    pub error: Option<String>,
    /// Metric failures stopped the decision.
    pub failed: bool,
    /// `status.currentMetrics`, per spec.
    pub metric_statuses: Vec<MetricStatus>,
    /// Per-metric proposals.
    pub metrics: Vec<MetricOutcome>,
    /// Normalization steps, when normalization ran.
    pub normalization: Option<NormalizationTrace>,
    /// Tolerances used.
    pub tolerances: Tolerances,
    /// Behavior after defaulting (scale-down window filled when normalization ran).
    pub effective_behavior: Option<EffectiveBehavior>,
    /// Status conditions after the reconcile.
    pub conditions: Vec<Condition>,
    /// Events emitted.
    pub events: Vec<Event>,
}

/// `tolerancesForHpa`.
pub fn tolerances_for(cfg: &ControllerConfig, spec: &HpaSpec) -> Tolerances {
    let mut t = Tolerances::symmetric(cfg.tolerance);
    if let (Some(b), true) = (&spec.behavior, cfg.configurable_tolerance) {
        if let Some(q) = b.scale_down.as_ref().and_then(|r| r.tolerance.as_ref()) {
            t.scale_down = q.approx_f64();
        }
        if let Some(q) = b.scale_up.as_ref().and_then(|r| r.tolerance.as_ref()) {
            t.scale_up = q.approx_f64();
        }
    }
    t
}

struct Run<'a> {
    cfg: &'a ControllerConfig,
    hpa: &'a Hpa,
    now: SimTime,
    conditions: &'a mut Vec<Condition>,
    events: Vec<Event>,
}

impl Run<'_> {
    fn cond(&mut self, t: ConditionType, s: ConditionStatus, reason: &str, msg: String) {
        set_condition(self.conditions, t, s, reason, msg, self.now);
    }
    fn event(&mut self, t: EventType, reason: &str, msg: String) {
        self.events.push(Event {
            type_: t,
            reason: reason.to_string(),
            message: msg,
        });
    }
}

/// A per-metric failure: the wrapped error and the condition it would set.
struct MetricFailure {
    error: String,
    reason: &'static str,
    inner: String,
}

fn status(type_: &'static str) -> MetricStatus {
    MetricStatus {
        type_,
        ..MetricStatus::default()
    }
}

/// Runs one reconcile. `state` carries the histories and status between calls.
pub fn reconcile(
    cfg: &ControllerConfig,
    hpa: &Hpa,
    state: &mut HpaState,
    scale: &ScaleInfo,
    pods: &dyn PodLister,
    metrics: &dyn MetricsClient,
    now: SimTime,
) -> Decision {
    let spec = &hpa.spec;
    let tolerances = tolerances_for(cfg, spec);
    let current = scale.spec_replicas;
    if state.history.recommendations.is_none() {
        state.history.recommendations = Some(vec![Recommendation {
            replicas: current,
            timestamp: now,
        }]);
    }
    let mut d = Decision {
        now,
        current_replicas: current,
        desired_replicas: current,
        rescale: false,
        rescale_reason: String::new(),
        metrics_computed: false,
        metric_desired_replicas: 0,
        metric_name: String::new(),
        error: None,
        failed: false,
        metric_statuses: Vec::new(),
        metrics: Vec::new(),
        normalization: None,
        tolerances,
        effective_behavior: spec.behavior.as_ref().map(|b| b.effective()),
        conditions: Vec::new(),
        events: Vec::new(),
    };
    let mut run = Run {
        cfg,
        hpa,
        now,
        conditions: &mut state.conditions,
        events: Vec::new(),
    };
    let (min, max) = (spec.min_replicas, spec.max_replicas);
    let stz = cfg.scale_to_zero;
    let obj_ext = spec
        .metrics
        .iter()
        .any(|m| matches!(m, MetricSpec::Object { .. } | MetricSpec::External { .. }));
    let stz_cond = stz
        && run
            .conditions
            .iter()
            .any(|c| c.type_ == ConditionType::ScaledToZero && c.status == ConditionStatus::True);
    // (min != 0 and ScaledToZero) or (ScaledToZero and an Object/External metric)
    let from_zero = current == 0 && stz_cond && (min != 0 || obj_ext);
    let mut desired = 0;
    let mut rescale = true;
    if current == 0 && !from_zero {
        rescale = false;
        run.cond(
            ConditionType::ScalingActive,
            ConditionStatus::False,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".to_string(),
        );
        if !stz {
            run.conditions
                .retain(|c| c.type_ != ConditionType::ScaledToZero);
        }
    } else if current > max && !from_zero {
        d.rescale_reason = "Current number of replicas above Spec.MaxReplicas".to_string();
        desired = max;
    } else if current < min && !from_zero {
        d.rescale_reason = "Current number of replicas below Spec.MinReplicas".to_string();
        desired = min;
    } else {
        d.metrics_computed = true;
        let all = compute_all(&mut run, scale, pods, metrics, tolerances, &mut d);
        match all {
            Err(e) => {
                d.failed = true;
                d.metric_desired_replicas = -1;
                run.event(
                    EventType::Warning,
                    "FailedComputeMetricsReplicas",
                    e.clone(),
                );
                d.error = Some(format!(
                    "failed to compute desired number of replicas based on listed metrics: {e}"
                ));
                state.current_replicas = current;
                state.current_metrics = d.metric_statuses.clone();
                d.events = run.events;
                d.conditions = state.conditions.clone();
                return d;
            }
            Ok((proposal, name, err)) => {
                d.error = err;
                d.metric_desired_replicas = proposal;
                d.metric_name = name.clone();
                let mut rescale_metric = String::new();
                if proposal > desired {
                    desired = proposal;
                    rescale_metric = name;
                }
                if desired > current {
                    d.rescale_reason = format!("{rescale_metric} above target");
                }
                if desired < current {
                    d.rescale_reason = "All metrics below target".to_string();
                }
                let trace = match &spec.behavior {
                    None => {
                        let recs = state.history.recommendations.get_or_insert_with(Vec::new);
                        normalize_legacy(cfg, spec, recs, now, current, desired)
                    }
                    Some(b) => {
                        let (t, eff) = normalize_behavior(
                            cfg,
                            spec,
                            b,
                            &mut state.history,
                            now,
                            current,
                            desired,
                        );
                        d.effective_behavior = Some(eff);
                        t
                    }
                };
                normalization_conditions(&mut run, &trace);
                desired = trace.limited;
                d.normalization = Some(trace);
                if from_zero && min != 0 && desired < min {
                    desired = min;
                    if d.rescale_reason.is_empty() {
                        d.rescale_reason =
                            "Current number of replicas below Spec.MinReplicas".to_string();
                    }
                }
                rescale = desired != current;
            }
        }
    }
    if rescale {
        run.cond(
            ConditionType::AbleToScale,
            ConditionStatus::True,
            "SucceededRescale",
            format!("the HPA controller was able to update the target scale to {desired}"),
        );
        run.event(
            EventType::Normal,
            "SuccessfulRescale",
            format!("New size: {desired}; reason: {}", d.rescale_reason),
        );
        let eff = spec.behavior.as_ref().map(|b| b.effective());
        behavior::store_scale_event(
            now,
            eff.as_ref(),
            &mut state.history.scale_up_events,
            &mut state.history.scale_down_events,
            current,
            desired,
        );
        state.last_scale_time = Some(now);
        if stz {
            let (status, reason, msg) = if current > 0 && desired == 0 && min == 0 && obj_ext {
                (
                    ConditionStatus::True,
                    "ScaledToZero",
                    "the HPA controller scaled the workload to zero",
                )
            } else {
                (
                    ConditionStatus::False,
                    "NotScaledToZero",
                    "the HPA controller did not scale the workload to zero",
                )
            };
            run.cond(ConditionType::ScaledToZero, status, reason, msg.to_string());
        }
    } else {
        desired = current;
    }
    d.rescale = rescale;
    d.desired_replicas = desired;
    state.current_replicas = current;
    state.desired_replicas = desired;
    state.current_metrics = d.metric_statuses.clone();
    d.events = run.events;
    d.conditions = state.conditions.clone();
    d
}

fn normalization_conditions(run: &mut Run<'_>, t: &NormalizationTrace) {
    let sr = t.stabilize_reason;
    run.cond(
        ConditionType::AbleToScale,
        ConditionStatus::True,
        sr.as_str(),
        sr.message().to_string(),
    );
    let lr = t.limit_reason;
    run.cond(
        ConditionType::ScalingLimited,
        t.limited_status(),
        lr.as_str(),
        lr.message().to_string(),
    );
}

/// `computeReplicasForMetrics`: Ok((max proposal, its metric, logged error))
/// or Err(fatal error) after setting the condition.
fn compute_all(
    run: &mut Run<'_>,
    scale: &ScaleInfo,
    lister: &dyn PodLister,
    metrics: &dyn MetricsClient,
    tolerances: Tolerances,
    d: &mut Decision,
) -> Result<(i32, String, Option<String>), String> {
    if scale.selector.is_empty() {
        let msg = "selector is required".to_string();
        run.event(EventType::Warning, "SelectorRequired", msg.clone());
        run.cond(
            ConditionType::ScalingActive,
            ConditionStatus::False,
            "InvalidSelector",
            "the HPA target's scale is missing a selector".to_string(),
        );
        return Err(msg);
    }
    let selector = match parse_selector(&scale.selector) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "couldn't convert selector into a corresponding internal selector object: {e}"
            );
            run.event(EventType::Warning, "InvalidSelector", msg.clone());
            run.cond(
                ConditionType::ScalingActive,
                ConditionStatus::False,
                "InvalidSelector",
                msg.clone(),
            );
            return Err(msg);
        }
    };
    let pods = lister.list(&selector);
    let cx = CalcContext {
        now: run.now,
        readiness: ReadinessRules {
            cpu_initialization_period: run.cfg.cpu_initialization_period,
            initial_readiness_delay: run.cfg.initial_readiness_delay,
        },
        pod_level_resources: run.cfg.pod_level_resources,
        tolerances,
    };
    let n = run.hpa.spec.metrics.len();
    let mut replicas = 0;
    let mut metric = String::new();
    let mut invalid = 0;
    let mut first: Option<MetricFailure> = None;
    d.metric_statuses = vec![MetricStatus::default(); n];
    for i in 0..n {
        match compute_one(run, i, scale, &pods, metrics, &cx) {
            Err(f) => {
                run.event(EventType::Warning, f.reason, f.inner.clone());
                d.metrics.push(MetricOutcome {
                    name: String::new(),
                    replicas: 0,
                    timestamp: None,
                    error: Some(f.error.clone()),
                });
                if first.is_none() {
                    first = Some(f);
                }
                invalid += 1;
            }
            Ok((p, st)) => {
                let name = run.hpa.spec.metric_display_name(i);
                d.metric_statuses[i] = st;
                d.metrics.push(MetricOutcome {
                    name: name.clone(),
                    replicas: p.replicas,
                    timestamp: p.timestamp,
                    error: None,
                });
                if replicas == 0 || p.replicas > replicas {
                    replicas = p.replicas;
                    metric = name;
                }
            }
        }
    }
    let err = first.as_ref().map(|f| {
        format!(
            "invalid metrics ({invalid} invalid out of {n}), first error is: {}",
            f.error
        )
    });
    if invalid >= n || (invalid > 0 && replicas < scale.spec_replicas) {
        if let Some(f) = &first {
            run.cond(
                ConditionType::ScalingActive,
                ConditionStatus::False,
                f.reason,
                format!(
                    "the HPA was unable to compute the replica count: {}",
                    f.inner
                ),
            );
        }
        return Err(err.unwrap_or_default());
    }
    run.cond(
        ConditionType::ScalingActive,
        ConditionStatus::True,
        "ValidMetricFound",
        format!("the HPA was able to successfully calculate a replica count from {metric}"),
    );
    Ok((replicas, metric, err))
}

fn fail(reason: &'static str, inner: String, error: String) -> MetricFailure {
    MetricFailure {
        error,
        reason,
        inner,
    }
}

/// `computeReplicasForMetric` for spec entry `i`.
fn compute_one(
    run: &Run<'_>,
    i: usize,
    scale: &ScaleInfo,
    pods: &[PodInfo],
    client: &dyn MetricsClient,
    cx: &CalcContext,
) -> Result<(Proposal, MetricStatus), MetricFailure> {
    let spec = &run.hpa.spec.metrics[i];
    let current = scale.spec_replicas;
    match spec {
        MetricSpec::Resource { name, target }
        | MetricSpec::ContainerResource { name, target, .. } => {
            let (container, type_, reason) = match spec {
                MetricSpec::ContainerResource { container, .. } => (
                    container.as_str(),
                    "ContainerResource",
                    "FailedGetContainerResourceMetric",
                ),
                _ => ("", "Resource", "FailedGetResourceMetric"),
            };
            let wrap = |inner: String| {
                let outer = if container.is_empty() {
                    format!("failed to get {name} resource metric value: {inner}")
                } else {
                    format!("failed to get {container} container metric value: {inner}")
                };
                fail(reason, inner, outer)
            };
            let fetched = client.resource(name, container);
            let fetched = fetched.as_ref().map_err(String::as_str);
            if let Some(t) = target.average_value_m {
                let p = replica_calc::resource_average_value(cx, current, t, name, pods, fetched);
                if let Some(e) = &p.error {
                    return Err(wrap(format!("failed to get {name} usage: {e}")));
                }
                let mut st = status(type_);
                st.average_value_m = Some(p.usage_m);
                return Ok((p, st));
            }
            let Some(util) = target.average_utilization else {
                return Err(wrap(
                    "invalid resource metric source: neither an average utilization target nor an average value (usage) target was set"
                        .to_string(),
                ));
            };
            let p = replica_calc::resource_utilization(
                cx, current, util, name, container, pods, fetched,
            );
            if let Some(e) = &p.error {
                return Err(wrap(format!("failed to get {name} utilization: {e}")));
            }
            let mut st = status(type_);
            st.average_value_m = Some(p.usage_m);
            st.average_utilization = Some(p.utilization);
            Ok((p, st))
        }
        MetricSpec::Pods { metric, target } => {
            let fetched = client.pods(metric);
            let t = target.average_value_m.unwrap_or(0);
            let p = replica_calc::pods_metric(
                cx,
                current,
                t,
                &metric.name,
                pods,
                fetched.as_ref().map_err(String::as_str),
            );
            if let Some(e) = &p.error {
                return Err(fail(
                    "FailedGetPodsMetric",
                    e.clone(),
                    format!("failed to get pods metric value: {e}"),
                ));
            }
            let mut st = status("Pods");
            st.average_value_m = Some(p.usage_m);
            Ok((p, st))
        }
        MetricSpec::Object {
            metric,
            described_object,
            target,
        } => {
            let reason = "FailedGetObjectMetric";
            let wrap = |inner: String, outer: String| {
                fail(
                    reason,
                    inner,
                    format!("failed to get object metric value: {outer}"),
                )
            };
            let obj = ObjectContext {
                namespace: &run.hpa.namespace,
                kind: &described_object.kind,
                name: &described_object.name,
            };
            match (&target.type_, target.value_m, target.average_value_m) {
                (TargetType::Value, Some(v), _) => {
                    let fetched = client.object(metric, described_object);
                    let p = replica_calc::object_value(
                        cx,
                        current,
                        v,
                        &metric.name,
                        obj,
                        pods,
                        fetched.as_ref().map(|x| *x).map_err(String::as_str),
                    );
                    if let Some(e) = &p.error {
                        return Err(wrap(e.clone(), e.clone()));
                    }
                    let mut st = status("Object");
                    st.value_m = Some(p.usage_m);
                    Ok((p, st))
                }
                (TargetType::AverageValue, _, Some(v)) => {
                    let fetched = client.object(metric, described_object);
                    let p = replica_calc::object_average(
                        cx,
                        scale.status_replicas,
                        v,
                        &metric.name,
                        obj,
                        fetched.as_ref().map(|x| *x).map_err(String::as_str),
                    );
                    if let Some(e) = &p.error {
                        let outer = format!("failed to get {} object metric: {e}", metric.name);
                        return Err(wrap(e.clone(), outer));
                    }
                    let mut st = status("Object");
                    st.average_value_m = Some(p.usage_m);
                    Ok((p, st))
                }
                _ => {
                    let e = "invalid object metric source: neither a value target nor an average value target was set".to_string();
                    Err(wrap(e.clone(), e))
                }
            }
        }
        MetricSpec::External { metric, target } => {
            let reason = "FailedGetExternalMetric";
            let name = &metric.name;
            let wrap = |inner: String, outer: String| {
                fail(
                    reason,
                    inner,
                    format!("failed to get {name} external metric value: {outer}"),
                )
            };
            let sel = go_format_label_selector(metric.selector.as_ref());
            let ns = run.hpa.namespace.as_str();
            if let Some(v) = target.average_value_m {
                let fetched = client.external(metric);
                let fetched = fetched.as_ref().map(|(x, t)| (x.as_slice(), *t));
                let p = replica_calc::external_average(
                    cx,
                    scale.status_replicas,
                    v,
                    name,
                    ns,
                    &sel,
                    fetched.map_err(String::as_str),
                );
                if let Some(e) = &p.error {
                    let outer = format!("failed to get {name} external metric: {e}");
                    return Err(wrap(e.clone(), outer));
                }
                let mut st = status("External");
                st.average_value_m = Some(p.usage_m);
                return Ok((p, st));
            }
            if let Some(v) = target.value_m {
                let fetched = client.external(metric);
                let fetched = fetched.as_ref().map(|(x, t)| (x.as_slice(), *t));
                let p = replica_calc::external_value(
                    cx,
                    current,
                    v,
                    name,
                    ns,
                    &sel,
                    pods,
                    fetched.map_err(String::as_str),
                );
                if let Some(e) = &p.error {
                    let outer = format!("failed to get external metric {name}: {e}");
                    return Err(wrap(e.clone(), outer));
                }
                let mut st = status("External");
                st.value_m = Some(p.usage_m);
                return Ok((p, st));
            }
            let e = "invalid external metric source: neither a value target nor an average value target was set".to_string();
            Err(wrap(e.clone(), e))
        }
        MetricSpec::Unknown { type_name } => {
            let e = format!("unknown metric source type {type_name:?}");
            Err(fail("InvalidMetricSourceType", e.clone(), e))
        }
    }
}
