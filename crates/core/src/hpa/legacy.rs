//! Normalization without `spec.behavior` (hpa-algorithm §9.1): a scale-down
//! stabilization window with a non-strict boundary, and a fixed scale-up
//! limit of `max(2 × current, 4)` per reconcile.

use super::conditions::LimitReason;
use super::history::Recommendation;
use crate::time::{SimDuration, SimTime};

/// `stabilizeRecommendation`: the max of `desired` and every recommendation
/// not older than the window (an entry exactly at the cut still counts);
/// records `desired`.
pub fn stabilize(
    now: SimTime,
    window: SimDuration,
    recs: &mut Vec<Recommendation>,
    desired: i32,
) -> i32 {
    let cut = now - window;
    let mut max = desired;
    let mut old = None;
    for (i, r) in recs.iter().enumerate() {
        if r.timestamp < cut {
            old = Some(i);
        } else if r.replicas > max {
            max = r.replicas;
        }
    }
    let entry = Recommendation {
        replicas: desired,
        timestamp: now,
    };
    match old {
        Some(i) => recs[i] = entry,
        None => recs.push(entry),
    }
    max
}

/// `calculateScaleUpLimit`: `int32(max(2 × current, 4))`.
pub fn scale_up_limit(current: i32) -> i32 {
    (2.0 * f64::from(current)).max(4.0) as i32
}

/// `convertDesiredReplicasWithRules`.
pub fn convert(current: i32, desired: i32, min: i32, max: i32) -> (i32, LimitReason) {
    let limit = scale_up_limit(current);
    let (cap, reason) = if max > limit {
        (limit, LimitReason::ScaleUpLimit)
    } else {
        (max, LimitReason::TooManyReplicas)
    };
    if desired < min {
        (min, LimitReason::TooFewReplicas)
    } else if desired > cap {
        (cap, reason)
    } else {
        (desired, LimitReason::DesiredWithinRange)
    }
}
