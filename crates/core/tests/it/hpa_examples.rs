//! The 13 worked examples of `hpa-algorithm.md` §16, through the public API.
//! Common assumptions: tolerance 0.1, 300 s downscale window, reconciles every
//! 15 s, pods Running and Ready for longer than 5 minutes.

use nimscale_core::hpa::controller::{
    ControllerConfig, Decision, Hpa, HpaState, MetricsClient, PodLister, ScaleInfo, reconcile,
};
use nimscale_core::hpa::pods::ReadyCondition;
use nimscale_core::hpa::replica_calc::{self as rc, CalcContext, Tolerances};
use nimscale_core::hpa::selector::Selector;
use nimscale_core::hpa::spec::{
    Behavior, HpaSpec, MetricId, MetricSpec, MetricTarget, ObjectRef, PolicyType, ScalingPolicy,
    ScalingRules,
};
use nimscale_core::hpa::{
    ConditionStatus, ConditionType, PodInfo, PodMetric, PodMetricsList, PodPhase,
    pods::ReadinessRules,
};
use nimscale_core::quantity::Quantity;
use nimscale_core::time::{SimDuration, SimTime};

const START: SimTime = SimTime::from_secs(-3600);

fn pod(name: &str, cpu_request_m: i64) -> PodInfo {
    PodInfo::running_ready(
        name.to_string(),
        [("cpu".to_string(), cpu_request_m)].into(),
        START,
    )
}

fn pending(name: &str, cpu_request_m: i64) -> PodInfo {
    PodInfo {
        phase: PodPhase::Pending,
        ready: None,
        start_time: None,
        ..pod(name, cpu_request_m)
    }
}

fn samples(now: SimTime, values: &[(&str, i64)]) -> PodMetricsList {
    PodMetricsList {
        timestamp: now,
        items: values
            .iter()
            .map(|(p, v)| {
                (
                    p.to_string(),
                    PodMetric {
                        value_m: *v,
                        timestamp: now,
                        window: SimDuration::from_secs(15),
                    },
                )
            })
            .collect(),
    }
}

#[derive(Default)]
struct World {
    pods: Vec<PodInfo>,
    cpu: Option<PodMetricsList>,
    pods_metric: Option<Result<PodMetricsList, String>>,
    external: Vec<i64>,
    object: i64,
}

impl PodLister for World {
    fn list(&self, _: &Selector) -> Vec<PodInfo> {
        self.pods.clone()
    }
}

impl MetricsClient for World {
    fn resource(&self, _: &str, _: &str) -> Result<PodMetricsList, String> {
        self.cpu.clone().ok_or_else(|| "no cpu".to_string())
    }
    fn pods(&self, _: &MetricId) -> Result<PodMetricsList, String> {
        self.pods_metric
            .clone()
            .unwrap_or_else(|| Err("no pods metric".to_string()))
    }
    fn object(&self, _: &MetricId, _: &ObjectRef) -> Result<(i64, SimTime), String> {
        Ok((self.object, SimTime::ZERO))
    }
    fn external(&self, _: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        Ok((self.external.clone(), SimTime::ZERO))
    }
}

fn hpa(min: i32, max: i32, metrics: Vec<MetricSpec>, behavior: Option<Behavior>) -> Hpa {
    Hpa {
        namespace: "default".to_string(),
        name: "nim".to_string(),
        spec: HpaSpec {
            min_replicas: min,
            max_replicas: max,
            metrics,
            behavior,
        },
    }
}

fn cpu(percent: i32) -> MetricSpec {
    MetricSpec::Resource {
        name: "cpu".to_string(),
        target: MetricTarget::utilization(percent),
    }
}

fn scale(n: i32) -> ScaleInfo {
    ScaleInfo {
        spec_replicas: n,
        status_replicas: n,
        selector: "app=nim".to_string(),
    }
}

fn cx(now: SimTime) -> CalcContext {
    CalcContext {
        now,
        readiness: ReadinessRules {
            cpu_initialization_period: SimDuration::from_secs(300),
            initial_readiness_delay: SimDuration::from_secs(30),
        },
        pod_level_resources: true,
        tolerances: Tolerances::symmetric(0.1),
    }
}

fn cond(d: &Decision, t: ConditionType) -> (&str, &str) {
    let c = d
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition set");
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn example_01_cpu_utilization_legacy_scale_up() {
    let now = SimTime::ZERO;
    let w = World {
        pods: (0..4).map(|i| pod(&format!("p{i}"), 500)).collect(),
        cpu: Some(samples(
            now,
            &[("p0", 450), ("p1", 500), ("p2", 480), ("p3", 370)],
        )),
        ..World::default()
    };
    let h = hpa(1, 10, vec![cpu(60)], None);
    let mut st = HpaState::default();
    let d = reconcile(
        &ControllerConfig::default(),
        &h,
        &mut st,
        &scale(4),
        &w,
        &w,
        now,
    );
    assert_eq!(d.desired_replicas, 6);
    assert!(d.rescale);
    assert_eq!(
        cond(&d, ConditionType::ScalingLimited),
        ("False", "DesiredWithinRange")
    );
    assert_eq!(
        d.events[0].message,
        "New size: 6; reason: cpu resource utilization (percentage of request) above target"
    );
    assert_eq!(d.metric_statuses[0].average_utilization, Some(90));
    assert_eq!(d.metric_statuses[0].average_value_m, Some(450));
}

#[test]
fn example_02_integer_truncation_and_inclusive_tolerance() {
    let now = SimTime::ZERO;
    let pods: Vec<PodInfo> = (0..3).map(|i| pod(&format!("p{i}"), 1000)).collect();
    for (sum, util, want) in [(2299, 76, 3), (2310, 77, 3), (2340, 78, 4)] {
        let m = samples(now, &[("p0", sum - 2000), ("p1", 1000), ("p2", 1000)]);
        let p = rc::resource_utilization(&cx(now), 3, 70, "cpu", "", &pods, Ok(&m));
        assert_eq!((p.utilization, p.replicas), (util, want), "sum {sum}");
    }
}

#[test]
fn example_03_missing_metrics_damp_a_scale_down() {
    let now = SimTime::ZERO;
    let pods: Vec<PodInfo> = ["a", "b", "c", "d"].iter().map(|n| pod(n, 1000)).collect();
    let m = samples(now, &[("a", 200), ("b", 200), ("c", 200)]);
    let p = rc::resource_utilization(&cx(now), 4, 50, "cpu", "", &pods, Ok(&m));
    assert_eq!(p.utilization, 20);
    assert_eq!(p.replicas, 4, "D counted at 100 % keeps the count at 4");
}

#[test]
fn example_04_pending_pods_on_a_scale_up() {
    let now = SimTime::ZERO;
    let mut pods: Vec<PodInfo> = (0..4).map(|i| pod(&format!("p{i}"), 1000)).collect();
    pods.push(pending("p4", 1000));
    pods.push(pending("p5", 1000));
    for (u, want) in [(900, 6), (1000, 6), (1100, 8)] {
        let m = samples(now, &[("p0", u), ("p1", u), ("p2", u), ("p3", u)]);
        let p = rc::resource_utilization(&cx(now), 6, 60, "cpu", "", &pods, Ok(&m));
        assert_eq!(p.replicas, want, "usage {u}");
    }
}

#[test]
fn example_05_pods_metric_through_the_adapter() {
    let now = SimTime::ZERO;
    let pods: Vec<PodInfo> = ["a", "b", "c"].iter().map(|n| pod(n, 1000)).collect();
    // The adapter converts 12.5, 15.2, 9.9 with int64(v*1000).
    let m = samples(now, &[("a", 12_500), ("b", 15_200), ("c", 9_900)]);
    let p = rc::pods_metric(&cx(now), 3, 10_000, "qps", &pods, Ok(&m));
    assert_eq!((p.usage_m, p.replicas), (12_533, 4));
}

#[test]
fn example_06_external_average_value_vs_value() {
    let now = SimTime::ZERO;
    let c = cx(now);
    let p = rc::external_average(&c, 4, 5_000, "queue", "ns", "nil", Ok((&[30_000][..], now)));
    assert_eq!((p.replicas, p.usage_m), (6, 7_500));
    let mut pods: Vec<PodInfo> = (0..4).map(|i| pod(&format!("p{i}"), 1000)).collect();
    pods[3].ready = Some(ReadyCondition {
        status: ConditionStatus::False,
        last_transition: START,
    });
    let p = rc::external_value(
        &c,
        4,
        20_000,
        "queue",
        "ns",
        "nil",
        &pods,
        Ok((&[30_000][..], now)),
    );
    assert_eq!(p.replicas, 5, "ceil(1.5 × 3 ready)");
    let p = rc::external_average(&c, 4, 5_000, "queue", "ns", "nil", Ok((&[21_000][..], now)));
    assert_eq!(
        p.replicas, 4,
        "within tolerance → status replicas, below spec 5"
    );
}

#[test]
fn example_07_one_failing_metric_forbids_scale_down_only() {
    let now = SimTime::ZERO;
    let pods_metric = MetricSpec::Pods {
        metric: MetricId {
            name: "qps".to_string(),
            selector: None,
        },
        target: MetricTarget::average_value(10_000),
    };
    let h = hpa(1, 10, vec![cpu(50), pods_metric], None);
    let pods: Vec<PodInfo> = (0..5).map(|i| pod(&format!("p{i}"), 1000)).collect();
    let names: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    let run = |usage: i64| {
        let vals: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), usage)).collect();
        let w = World {
            pods: pods.clone(),
            cpu: Some(samples(now, &vals)),
            pods_metric: Some(Ok(PodMetricsList::default())),
            ..World::default()
        };
        let mut st = HpaState::default();
        reconcile(
            &ControllerConfig::default(),
            &h,
            &mut st,
            &scale(5),
            &w,
            &w,
            now,
        )
    };
    // 300m on 1000m at 50 % → ratio 0.6 → CPU proposes 3 < 5: no scaling.
    let d = run(300);
    assert!(d.failed && !d.rescale);
    assert_eq!(d.desired_replicas, 5);
    assert_eq!(
        cond(&d, ConditionType::ScalingActive),
        ("False", "FailedGetPodsMetric")
    );
    let c = d
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::ScalingActive)
        .expect("set");
    assert_eq!(
        c.message,
        "the HPA was unable to compute the replica count: unable to get metric qps: no metrics returned from custom metrics API"
    );
    let ev = d
        .events
        .iter()
        .find(|e| e.reason == "FailedComputeMetricsReplicas")
        .expect("event");
    assert_eq!(
        ev.message,
        "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric value: unable to get metric qps: no metrics returned from custom metrics API"
    );
    // 700m → ratio 1.4 → CPU proposes 7: scale up despite the failing metric.
    let d = run(700);
    assert_eq!(d.desired_replicas, 7);
    assert_eq!(
        cond(&d, ConditionType::ScalingActive),
        ("True", "ValidMetricFound")
    );
}

fn fixed_proposal_hpa(
    min: i32,
    max: i32,
    object_value_m: i64,
    behavior: Option<Behavior>,
) -> (Hpa, World) {
    // An Object Value metric with target 1 and every pod ready: the proposal
    // is ceil(value × ready pods), so we choose the value to fix the proposal.
    let m = MetricSpec::Object {
        metric: MetricId {
            name: "load".to_string(),
            selector: None,
        },
        described_object: ObjectRef::default(),
        target: MetricTarget::value(1_000),
    };
    let w = World {
        object: object_value_m,
        ..World::default()
    };
    (hpa(min, max, vec![m], behavior), w)
}

/// Drives reconciles every 15 s with the proposal fixed at `proposal`
/// (via an Object Value metric on `current` ready pods).
fn drive(
    h: &Hpa,
    cfg: &ControllerConfig,
    st: &mut HpaState,
    current: &mut i32,
    now: SimTime,
    proposal: i32,
) -> Decision {
    let pods: Vec<PodInfo> = (0..*current).map(|i| pod(&format!("p{i}"), 1000)).collect();
    let w = World {
        pods,
        object: i64::from(proposal) * 1000 / i64::from((*current).max(1)),
        ..World::default()
    };
    let d = reconcile(cfg, h, st, &scale(*current), &w, &w, now);
    *current = d.desired_replicas;
    d
}

#[test]
fn example_08_behavior_scale_up_limits_over_time() {
    let cfg = ControllerConfig::default();
    let (h, _) = fixed_proposal_hpa(1, 50, 0, Some(Behavior::default()));
    let mut st = HpaState::default();
    let mut cur = 10;
    // Proposal 60 = ratio 6 on 10 pods, 3 on 20, 1.5 on 40.
    let mut results = Vec::new();
    for t in [0, 15, 30] {
        let d = drive(&h, &cfg, &mut st, &mut cur, SimTime::from_secs(t), 60);
        results.push((
            d.desired_replicas,
            cond(&d, ConditionType::ScalingLimited).1.to_string(),
        ));
    }
    assert_eq!(
        results,
        vec![
            (20, "ScaleUpLimit".to_string()),
            (40, "ScaleUpLimit".to_string()),
            (50, "TooManyReplicas".to_string())
        ]
    );
    // (b) a single Pods 4 / 60 s policy.
    let b = Behavior {
        scale_up: Some(ScalingRules {
            policies: Some(vec![ScalingPolicy {
                type_: PolicyType::Pods,
                value: 4,
                period_seconds: 60,
            }]),
            ..ScalingRules::default()
        }),
        scale_down: None,
    };
    let (h, _) = fixed_proposal_hpa(1, 50, 0, Some(b));
    let mut st = HpaState::default();
    let mut cur = 10;
    let mut seen = Vec::new();
    for t in (0..=120).step_by(15) {
        drive(&h, &cfg, &mut st, &mut cur, SimTime::from_secs(t), 60);
        seen.push(cur);
    }
    assert_eq!(seen, vec![14, 14, 14, 14, 18, 18, 18, 18, 22]);
}

#[test]
fn example_09_behavior_scale_down_with_stabilization_and_two_policies() {
    let cfg = ControllerConfig::default();
    let b = Behavior {
        scale_up: None,
        scale_down: Some(ScalingRules {
            stabilization_window_seconds: Some(300),
            policies: Some(vec![
                ScalingPolicy {
                    type_: PolicyType::Pods,
                    value: 4,
                    period_seconds: 60,
                },
                ScalingPolicy {
                    type_: PolicyType::Percent,
                    value: 10,
                    period_seconds: 60,
                },
            ]),
            ..ScalingRules::default()
        }),
    };
    let (h, _) = fixed_proposal_hpa(1, 100, 0, Some(b));
    let mut st = HpaState::default();
    let mut cur = 80;
    drive(&h, &cfg, &mut st, &mut cur, SimTime::ZERO, 80);
    let mut changes = Vec::new();
    for t in (15..=840).step_by(15) {
        let before = cur;
        let d = drive(&h, &cfg, &mut st, &mut cur, SimTime::from_secs(t), 10);
        if t < 300 {
            assert_eq!(
                cond(&d, ConditionType::AbleToScale).1,
                "ScaleDownStabilized",
                "t={t}"
            );
        }
        if cur != before {
            changes.push((t, cur));
        }
    }
    assert_eq!(
        changes,
        vec![
            (300, 72),
            (360, 64),
            (420, 57),
            (480, 51),
            (540, 45),
            (600, 40),
            (660, 36),
            (720, 32),
            (780, 28),
            (840, 24)
        ]
    );
}

#[test]
fn example_10_first_scale_down_legacy_vs_behavior_boundary() {
    let cfg = ControllerConfig::default();
    for (behavior, expect_t) in [(None, 315), (Some(Behavior::default()), 300)] {
        let (h, _) = fixed_proposal_hpa(2, 20, 0, behavior);
        let mut st = HpaState::default();
        let mut cur = 10;
        let mut first = None;
        for t in (0..=330).step_by(15) {
            drive(&h, &cfg, &mut st, &mut cur, SimTime::from_secs(t), 4);
            if cur == 4 && first.is_none() {
                first = Some(t);
            }
        }
        assert_eq!(first, Some(expect_t));
    }
}

#[test]
fn example_11_floating_point_outcomes() {
    use nimscale_core::hpa::behavior::{scale_down_limit, scale_up_limit};
    use nimscale_core::hpa::spec::{EffectiveRules, SelectPolicy};
    let rules = |t, v| EffectiveRules {
        stabilization_window_seconds: Some(0),
        select_policy: SelectPolicy::Max,
        policies: vec![ScalingPolicy {
            type_: t,
            value: v,
            period_seconds: 60,
        }],
        tolerance: None,
    };
    let now = SimTime::ZERO;
    assert_eq!(
        scale_up_limit(now, 25, &[], &[], &rules(PolicyType::Percent, 12)),
        29
    );
    assert_eq!(
        scale_down_limit(now, 5, &[], &[], &rules(PolicyType::Percent, 80)),
        0
    );
    // The 0 is then floored by minReplicas 1 with TooFewReplicas.
    let (h, _) = fixed_proposal_hpa(
        1,
        10,
        0,
        Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window_seconds: Some(0),
                policies: Some(rules(PolicyType::Percent, 80).policies),
                ..ScalingRules::default()
            }),
        }),
    );
    let mut st = HpaState::default();
    let mut cur = 5;
    let d = drive(&h, &ControllerConfig::default(), &mut st, &mut cur, now, 0);
    assert_eq!(d.desired_replicas, 1);
    assert_eq!(
        cond(&d, ConditionType::ScalingLimited),
        ("True", "TooFewReplicas")
    );
    // Tolerance "0.41": util 59 vs target 100 stays within [0.59, …].
    let tol = Quantity::parse("0.41").expect("quantity").approx_f64();
    let t = Tolerances {
        scale_down: tol,
        scale_up: 0.1,
    };
    assert!(t.is_within(59.0 / 100.0));
    assert!(
        !Tolerances {
            scale_down: "0.41".parse::<f64>().expect("f64"),
            scale_up: 0.1
        }
        .is_within(59.0 / 100.0)
    );
}

#[test]
fn example_12_asymmetric_configurable_tolerance() {
    let t = Tolerances {
        scale_down: Quantity::parse("0.2").expect("q").approx_f64(),
        scale_up: Quantity::parse("0.02").expect("q").approx_f64(),
    };
    let now = SimTime::ZERO;
    let c = CalcContext {
        tolerances: t,
        ..cx(now)
    };
    let pods: Vec<PodInfo> = (0..10).map(|i| pod(&format!("p{i}"), 1000)).collect();
    for (util, want) in [(52, 11), (51, 10), (40, 10), (39, 8)] {
        let vals: Vec<(String, i64)> = (0..10).map(|i| (format!("p{i}"), util * 10)).collect();
        let refs: Vec<(&str, i64)> = vals.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let p = rc::resource_utilization(&c, 10, 50, "cpu", "", &pods, Ok(&samples(now, &refs)));
        assert_eq!(p.replicas, want, "util {util}");
    }
}

#[test]
fn example_13_target_at_zero_replicas() {
    // (a) Gate off: the HPA does nothing while the target is at zero.
    let (h, w) = fixed_proposal_hpa(1, 10, 5_000, None);
    let mut st = HpaState::default();
    let d = reconcile(
        &ControllerConfig::default(),
        &h,
        &mut st,
        &scale(0),
        &w,
        &w,
        SimTime::ZERO,
    );
    assert_eq!((d.desired_replicas, d.rescale), (0, false));
    assert_eq!(
        cond(&d, ConditionType::ScalingActive),
        ("False", "ScalingDisabled")
    );
    // (b) Gate on, minReplicas 0, External AverageValue 5, default behavior.
    let cfg = ControllerConfig {
        scale_to_zero: true,
        ..ControllerConfig::default()
    };
    let ext = MetricSpec::External {
        metric: MetricId {
            name: "queue".to_string(),
            selector: None,
        },
        target: MetricTarget::average_value(5_000),
    };
    let h = hpa(0, 10, vec![ext], Some(Behavior::default()));
    let mut st = HpaState::default();
    let pods: Vec<PodInfo> = (0..3).map(|i| pod(&format!("p{i}"), 1000)).collect();
    let mut w = World {
        pods,
        external: vec![0],
        ..World::default()
    };
    let mut cur = 3;
    let mut wrote_zero_at = None;
    for t in (0..=300).step_by(15) {
        let d = reconcile(
            &cfg,
            &h,
            &mut st,
            &scale(cur),
            &w,
            &w,
            SimTime::from_secs(t),
        );
        cur = d.desired_replicas;
        if cur == 0 && wrote_zero_at.is_none() {
            wrote_zero_at = Some(t);
            assert_eq!(
                cond(&d, ConditionType::ScaledToZero),
                ("True", "ScaledToZero")
            );
        }
    }
    assert_eq!(wrote_zero_at, Some(300), "after the 300 s window");
    w.pods.clear();
    w.external = vec![12_000];
    let d = reconcile(
        &cfg,
        &h,
        &mut st,
        &scale(0),
        &w,
        &w,
        SimTime::from_secs(315),
    );
    assert_eq!(d.desired_replicas, 3, "ceil(12/5) = 3, within Pods 0+4");
    assert_eq!(
        cond(&d, ConditionType::ScaledToZero),
        ("False", "NotScaledToZero")
    );
}
