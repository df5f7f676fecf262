//! Normalization with `spec.behavior` (hpa-algorithm §9.2): stabilization
//! windows, Pods/Percent policies over scale-event history, selectPolicy.

use super::conditions::{LimitReason, StabilizeReason};
use super::history::{Recommendation, ScaleEvent};
use super::spec::{EffectiveBehavior, EffectiveRules, PolicyType, SelectPolicy};
use crate::time::{SimDuration, SimTime};

fn cutoff(now: SimTime, seconds: i32) -> SimTime {
    now - SimDuration::from_secs(i64::from(seconds))
}

/// `getReplicasChangePerPeriod`: the sum of changes strictly younger than the period.
pub fn replicas_change_per_period(now: SimTime, period_seconds: i32, events: &[ScaleEvent]) -> i32 {
    let cut = cutoff(now, period_seconds);
    events
        .iter()
        .filter(|e| e.timestamp > cut)
        .fold(0i32, |a, e| a.wrapping_add(e.change))
}

fn period_start(
    now: SimTime,
    current: i32,
    period: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
) -> i32 {
    current
        .wrapping_sub(replicas_change_per_period(now, period, up))
        .wrapping_add(replicas_change_per_period(now, period, down))
}

/// `calculateScaleUpLimitWithScalingRules`.
pub fn scale_up_limit(
    now: SimTime,
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    rules: &EffectiveRules,
) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MAX, std::cmp::min),
        SelectPolicy::Max => (i32::MIN, std::cmp::max),
    };
    for p in &rules.policies {
        let start = period_start(now, current, p.period_seconds, up, down);
        let proposed = match p.type_ {
            PolicyType::Pods => start.wrapping_add(p.value),
            PolicyType::Percent => {
                (f64::from(start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
            }
        };
        result = pick(result, proposed);
    }
    result
}

/// `calculateScaleDownLimitWithBehaviors`.
pub fn scale_down_limit(
    now: SimTime,
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    rules: &EffectiveRules,
) -> i32 {
    let (mut result, pick): (i32, fn(i32, i32) -> i32) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MIN, std::cmp::max),
        SelectPolicy::Max => (i32::MAX, std::cmp::min),
    };
    for p in &rules.policies {
        let start = period_start(now, current, p.period_seconds, up, down);
        let proposed = match p.type_ {
            PolicyType::Pods => start.wrapping_sub(p.value),
            PolicyType::Percent => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
        };
        result = pick(result, proposed);
    }
    result
}

/// `stabilizeRecommendationWithBehaviors`: returns the stabilized count and the
/// reason upstream computes (chosen by direction, whether or not anything changed);
/// records the raw `desired` in `recs`.
pub fn stabilize(
    now: SimTime,
    up_window_seconds: i32,
    down_window_seconds: i32,
    recs: &mut Vec<Recommendation>,
    current: i32,
    desired: i32,
) -> (i32, StabilizeReason) {
    let up_cut = cutoff(now, up_window_seconds);
    let down_cut = cutoff(now, down_window_seconds);
    let mut up_rec = desired;
    let mut down_rec = desired;
    let mut old = None;
    for (i, r) in recs.iter().enumerate() {
        if r.timestamp > up_cut {
            up_rec = up_rec.min(r.replicas);
        }
        if r.timestamp > down_cut {
            down_rec = down_rec.max(r.replicas);
        }
        if r.timestamp < up_cut && r.timestamp < down_cut {
            old = Some(i);
        }
    }
    let mut rec = current;
    if rec < up_rec {
        rec = up_rec;
    }
    if rec > down_rec {
        rec = down_rec;
    }
    let entry = Recommendation {
        replicas: desired,
        timestamp: now,
    };
    match old {
        Some(i) => recs[i] = entry,
        None => recs.push(entry),
    }
    let reason = if desired >= current {
        StabilizeReason::ScaleUpStabilized
    } else {
        StabilizeReason::ScaleDownStabilized
    };
    (rec, reason)
}

/// Inputs of the rate-limiting step.
#[derive(Clone, Copy, Debug)]
pub struct RateArgs<'a> {
    /// Controller clock.
    pub now: SimTime,
    /// Effective scale-up rules.
    pub up_rules: &'a EffectiveRules,
    /// Effective scale-down rules.
    pub down_rules: &'a EffectiveRules,
    /// Scale-up events.
    pub up_events: &'a [ScaleEvent],
    /// Scale-down events.
    pub down_events: &'a [ScaleEvent],
    /// `minReplicas`.
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Current (spec) replicas.
    pub current: i32,
}

/// `convertDesiredReplicasWithBehaviorRate`.
pub fn convert_with_rate(a: &RateArgs<'_>, desired: i32) -> (i32, LimitReason) {
    if desired > a.current {
        let mut limit = scale_up_limit(a.now, a.current, a.up_events, a.down_events, a.up_rules);
        if limit < a.current {
            limit = a.current;
        }
        let (cap, reason) = if a.max_replicas > limit {
            (limit, LimitReason::ScaleUpLimit)
        } else {
            (a.max_replicas, LimitReason::TooManyReplicas)
        };
        if desired > cap {
            return (cap, reason);
        }
    } else if desired < a.current {
        let mut limit =
            scale_down_limit(a.now, a.current, a.up_events, a.down_events, a.down_rules);
        if limit > a.current {
            limit = a.current;
        }
        let (floor, reason) = if a.min_replicas < limit {
            (limit, LimitReason::ScaleDownLimit)
        } else {
            (a.min_replicas, LimitReason::TooFewReplicas)
        };
        if desired < floor {
            return (floor, reason);
        }
    }
    (desired, LimitReason::DesiredWithinRange)
}

fn longest_period(rules: &EffectiveRules) -> i32 {
    rules
        .policies
        .iter()
        .map(|p| p.period_seconds)
        .fold(0, i32::max)
}

fn store(list: &mut Vec<ScaleEvent>, now: SimTime, period: i32, change: i32) {
    let cut = cutoff(now, period);
    for e in list.iter_mut() {
        if e.timestamp < cut {
            e.outdated = true;
        }
    }
    let event = ScaleEvent {
        change,
        timestamp: now,
        outdated: false,
    };
    match list.iter().rposition(|e| e.outdated) {
        Some(i) => list[i] = event,
        None => list.push(event),
    }
}

/// `storeScaleEvent`: records a successful write (behavior path only).
pub fn store_scale_event(
    now: SimTime,
    behavior: Option<&EffectiveBehavior>,
    up: &mut Vec<ScaleEvent>,
    down: &mut Vec<ScaleEvent>,
    prev: i32,
    new: i32,
) {
    let Some(b) = behavior else { return };
    if new > prev {
        store(up, now, longest_period(&b.scale_up), new.wrapping_sub(prev));
    } else {
        store(
            down,
            now,
            longest_period(&b.scale_down),
            prev.wrapping_sub(new),
        );
    }
}
