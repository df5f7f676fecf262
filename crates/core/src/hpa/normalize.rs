//! Normalising a proposal into the replicas the HPA writes, as
//! `normalizeDesiredReplicas` (no behavior: the legacy path) and
//! `normalizeDesiredReplicasWithBehaviors` do in upstream's horizontal.go,
//! without the conditions (the controller sets those from the trace).

use super::conditions::{LimitReason, StabilizeReason};
use super::controller::ControllerConfig;
use super::history::{HpaHistory, Recommendation};
use super::pods::ConditionStatus;
use super::spec::{EffectiveBehavior, HpaSpec};
use super::{behavior, legacy};
use crate::time::SimTime;

/// The normalization steps of a decision.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizationTrace {
    /// The raw proposal (max over metrics).
    pub proposal: i32,
    /// After stabilization.
    pub stabilized: i32,
    /// After rate limits and min/max.
    pub limited: i32,
    /// Why stabilization changed (or not) the proposal.
    pub stabilize_reason: StabilizeReason,
    /// Which bound applied.
    pub limit_reason: LimitReason,
}

/// The legacy normalization (`normalizeDesiredReplicas`) without conditions:
/// stabilizes over `recs` (recording `desired`) and applies
/// `max(2 × current, 4)` and min/max.
pub fn normalize_legacy(
    cfg: &ControllerConfig,
    spec: &HpaSpec,
    recs: &mut Vec<Recommendation>,
    now: SimTime,
    current: i32,
    desired: i32,
) -> NormalizationTrace {
    let stabilized = legacy::stabilize(now, cfg.downscale_stabilization, recs, desired);
    let stabilize_reason = if stabilized != desired {
        StabilizeReason::ScaleDownStabilized
    } else {
        StabilizeReason::ReadyForNewScale
    };
    let (limited, limit_reason) =
        legacy::convert(current, stabilized, spec.min_replicas, spec.max_replicas);
    NormalizationTrace {
        proposal: desired,
        stabilized,
        limited,
        stabilize_reason,
        limit_reason,
    }
}

/// The behavior normalization (`normalizeDesiredReplicasWithBehaviors`)
/// without conditions. Returns the trace and the effective behavior (API
/// defaults applied, an unset scale-down window filled from the controller
/// flag, as `maybeInitScaleDownStabilizationWindow` does).
pub fn normalize_behavior(
    cfg: &ControllerConfig,
    spec: &HpaSpec,
    behavior: &super::spec::Behavior,
    history: &mut HpaHistory,
    now: SimTime,
    current: i32,
    desired: i32,
) -> (NormalizationTrace, EffectiveBehavior) {
    let mut eff = behavior.effective();
    if eff.scale_down.stabilization_window_seconds.is_none() {
        eff.scale_down.stabilization_window_seconds =
            Some(cfg.downscale_stabilization.as_secs() as i32);
    }
    let up_w = eff.scale_up.stabilization_window_seconds.unwrap_or(0);
    let down_w = eff.scale_down.stabilization_window_seconds.unwrap_or(0);
    let recs = history.recommendations.get_or_insert_with(Vec::new);
    let (stabilized, reason) = behavior::stabilize(now, up_w, down_w, recs, current, desired);
    let stabilize_reason = if stabilized != desired {
        reason
    } else {
        StabilizeReason::ReadyForNewScale
    };
    let args = behavior::RateArgs {
        now,
        up_rules: &eff.scale_up,
        down_rules: &eff.scale_down,
        up_events: &history.scale_up_events,
        down_events: &history.scale_down_events,
        min_replicas: spec.min_replicas,
        max_replicas: spec.max_replicas,
        current,
    };
    let (limited, limit_reason) = behavior::convert_with_rate(&args, stabilized);
    let trace = NormalizationTrace {
        proposal: desired,
        stabilized,
        limited,
        stabilize_reason,
        limit_reason,
    };
    (trace, eff)
}

impl NormalizationTrace {
    /// `ScalingLimited` is True when the bound changed the stabilized value.
    pub fn limited_status(&self) -> ConditionStatus {
        if self.limited == self.stabilized {
            ConditionStatus::False
        } else {
            ConditionStatus::True
        }
    }
}
