//! Property tests of HPA invariants over random inputs:
//! replicas within min/max; no change inside the tolerance band; the
//! stabilization window never lets a scale-down go below what the window
//! allows; rate limits never exceeded.

use std::collections::BTreeMap;

use nimscale_core::hpa::controller::{self, ControllerConfig, HpaState};
use nimscale_core::hpa::history::{HpaHistory, Recommendation};
use nimscale_core::hpa::pods::ReadinessRules;
use nimscale_core::hpa::replica_calc::{self as rc, CalcContext, Tolerances};
use nimscale_core::hpa::spec::{Behavior, HpaSpec, PolicyType, ScalingPolicy, ScalingRules};
use nimscale_core::hpa::{PodInfo, PodMetric, PodMetricsList};
use nimscale_core::time::{SimDuration, SimTime};
use proptest::prelude::*;

fn spec(min: i32, max: i32, behavior: Option<Behavior>) -> HpaSpec {
    HpaSpec {
        min_replicas: min,
        max_replicas: max,
        metrics: Vec::new(),
        behavior,
    }
}

fn arb_rules() -> impl Strategy<Value = Option<ScalingRules>> {
    proptest::option::of(
        (
            proptest::option::of(0..600i32),
            proptest::collection::vec((any::<bool>(), 1..200i32, 1..600i32), 1..3),
        )
            .prop_map(|(w, ps)| ScalingRules {
                stabilization_window_seconds: w,
                select_policy: None,
                policies: Some(
                    ps.into_iter()
                        .map(|(pods, value, period)| ScalingPolicy {
                            type_: if pods {
                                PolicyType::Pods
                            } else {
                                PolicyType::Percent
                            },
                            value,
                            period_seconds: period,
                        })
                        .collect(),
                ),
                tolerance: None,
            }),
    )
}

fn arb_behavior() -> impl Strategy<Value = Option<Behavior>> {
    proptest::option::of((arb_rules(), arb_rules()).prop_map(|(u, d)| Behavior {
        scale_up: u,
        scale_down: d,
    }))
}

fn pod(name: String, request_m: i64) -> PodInfo {
    PodInfo::running_ready(
        name,
        BTreeMap::from([("cpu".to_string(), request_m)]),
        SimTime::from_secs(-3600),
    )
}

/// Runs normalization steps every 15 s with random proposals; returns
/// `(time, current, proposal, result)` per step.
fn run_steps(spec: &HpaSpec, current0: i32, proposals: &[i32]) -> Vec<(SimTime, i32, i32, i32)> {
    let cfg = ControllerConfig::default();
    let mut h = HpaHistory {
        recommendations: Some(vec![Recommendation {
            replicas: current0,
            timestamp: SimTime::ZERO,
        }]),
        ..HpaHistory::default()
    };
    let mut cur = current0;
    let mut out = Vec::new();
    for (k, &p) in proposals.iter().enumerate() {
        let now = SimTime::from_secs(15 * k as i64);
        let new = match &spec.behavior {
            Some(b) => {
                controller::normalize_behavior(&cfg, spec, b, &mut h, now, cur, p)
                    .0
                    .limited
            }
            None => {
                let r = h.recommendations.get_or_insert_with(Vec::new);
                controller::normalize_legacy(&cfg, spec, r, now, cur, p).limited
            }
        };
        if new != cur {
            let eff = spec.behavior.as_ref().map(Behavior::effective);
            nimscale_core::hpa::behavior::store_scale_event(
                now,
                eff.as_ref(),
                &mut h.scale_up_events,
                &mut h.scale_down_events,
                cur,
                new,
            );
        }
        out.push((now, cur, p, new));
        cur = new;
    }
    out
}

proptest! {
    #[test]
    fn replicas_stay_within_min_and_max(
        min in 1..20i32, span in 0..40i32, behavior in arb_behavior(),
        start in 0..60i32, proposals in proptest::collection::vec(0..200i32, 1..40),
    ) {
        let max = min + span;
        let s = spec(min, max, behavior);
        let current0 = start.clamp(min, max);
        for (t, cur, _, new) in run_steps(&s, current0, &proposals) {
            prop_assert!(new >= min && new <= max, "t={t} current={cur} → {new} outside [{min}, {max}]");
        }
    }

    #[test]
    fn no_change_inside_the_tolerance_band(
        n in 1..20usize, target in 10..100i32, tol_pct in 0..30u32, bump in -1000..1000i64,
    ) {
        let tol = f64::from(tol_pct) / 100.0;
        let pods: Vec<PodInfo> = (0..n).map(|i| pod(format!("p{i}"), 1000)).collect();
        // Every pod at the same usage; utilization = usage / 10 (integer percent).
        let usage = (i64::from(target) * 10 + bump).max(0);
        let list = PodMetricsList {
            timestamp: SimTime::ZERO,
            items: (0..n).map(|i| (format!("p{i}"), PodMetric {
                value_m: usage, timestamp: SimTime::ZERO, window: SimDuration::from_secs(15) })).collect(),
        };
        let cx = CalcContext {
            now: SimTime::ZERO,
            readiness: ReadinessRules {
                cpu_initialization_period: SimDuration::from_secs(300),
                initial_readiness_delay: SimDuration::from_secs(30),
            },
            pod_level_resources: true,
            tolerances: Tolerances::symmetric(tol),
        };
        let current = n as i32;
        let p = rc::resource_utilization(&cx, current, target, "cpu", "", &pods, Ok(&list));
        let ratio = f64::from(p.utilization) / f64::from(target);
        if cx.tolerances.is_within(ratio) {
            prop_assert_eq!(p.replicas, current);
        } else if ratio > 1.0 {
            prop_assert!(p.replicas >= current);
        } else {
            prop_assert!(p.replicas <= current);
        }
    }

    #[test]
    fn stabilization_never_scales_down_faster_than_its_window(
        window in 0..600i32, min in 1..5i32, start in 5..60i32,
        proposals in proptest::collection::vec(0..80i32, 1..60),
    ) {
        let b = Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window_seconds: Some(window),
                ..ScalingRules::default()
            }),
        };
        let s = spec(min, 100, Some(b));
        let steps = run_steps(&s, start, &proposals);
        // Every raw proposal (and the initial recommendation) inside the window.
        let mut recs: Vec<(SimTime, i32)> = vec![(SimTime::ZERO, start)];
        for &(t, cur, p, new) in &steps {
            recs.push((t, p));
            if new < cur {
                let cut = t - SimDuration::from_secs(i64::from(window));
                let floor = recs.iter().filter(|(rt, _)| *rt > cut).map(|(_, r)| *r).max().unwrap_or(p);
                prop_assert!(new >= floor.min(cur).max(min),
                    "t={t}: scaled {cur} → {new} below the window's highest recommendation {floor}");
            }
        }
    }

    #[test]
    fn pods_rate_limit_is_never_exceeded_on_the_way_up(
        value in 1..10i32, period in 15..300i32, start in 1..10i32,
        steps in proptest::collection::vec(0..4i32, 1..60),
    ) {
        let b = Behavior {
            scale_up: Some(ScalingRules {
                policies: Some(vec![ScalingPolicy { type_: PolicyType::Pods, value, period_seconds: period }]),
                ..ScalingRules::default()
            }),
            scale_down: None,
        };
        let s = spec(1, 10_000, Some(b));
        // Monotonically rising proposals: only scale-up events exist.
        let mut p = start;
        let proposals: Vec<i32> = steps.iter().map(|d| { p += d * 7; p }).collect();
        let run = run_steps(&s, start, &proposals);
        for &(t, _, _, new) in &run {
            let cut = t - SimDuration::from_secs(i64::from(period));
            // Replicas at the last step at or before the cut (or the start).
            let base = run.iter().filter(|(rt, ..)| *rt <= cut).map(|r| r.3).next_back().unwrap_or(start);
            prop_assert!(new - base <= value, "t={t}: grew {base} → {new} within {period}s (limit {value})");
        }
    }
}

#[test]
fn reconcile_state_is_send() {
    fn is_send<T: Send>() {}
    is_send::<HpaState>();
    is_send::<HpaSpec>();
}
