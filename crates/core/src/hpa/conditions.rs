//! Status conditions and events, with the controller's exact reasons and
//! messages (hpa-algorithm §11, §12).

use super::pods::ConditionStatus;
use crate::time::SimTime;

/// HPA condition types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// Whether the controller can read and update the scale.
    AbleToScale,
    /// Whether metrics allow computing a replica count.
    ScalingActive,
    /// Whether min/max or rate limits bounded the result.
    ScalingLimited,
    /// HPAScaleToZero bookkeeping.
    ScaledToZero,
}

impl ConditionType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::AbleToScale => "AbleToScale",
            ConditionType::ScalingActive => "ScalingActive",
            ConditionType::ScalingLimited => "ScalingLimited",
            ConditionType::ScaledToZero => "ScaledToZero",
        }
    }
}

/// One status condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Type.
    pub type_: ConditionType,
    /// Status.
    pub status: ConditionStatus,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Changes only when the status flips.
    pub last_transition: SimTime,
}

/// `setConditionInList`: replaces the condition of that type in place, or appends.
pub fn set_condition(
    list: &mut Vec<Condition>,
    type_: ConditionType,
    status: ConditionStatus,
    reason: &str,
    message: String,
    now: SimTime,
) {
    match list.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition = now;
            }
            c.status = status;
            c.reason = reason.to_string();
            c.message = message;
        }
        None => list.push(Condition {
            type_,
            status,
            reason: reason.to_string(),
            message,
            last_transition: now,
        }),
    }
}

/// Reasons of the `AbleToScale` condition set by stabilization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StabilizeReason {
    /// Stabilized value equals the proposal.
    ReadyForNewScale,
    /// A scale-up was held back by the up window.
    ScaleUpStabilized,
    /// A scale-down was held back by the down window.
    ScaleDownStabilized,
}

impl StabilizeReason {
    /// The reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            StabilizeReason::ReadyForNewScale => "ReadyForNewScale",
            StabilizeReason::ScaleUpStabilized => "ScaleUpStabilized",
            StabilizeReason::ScaleDownStabilized => "ScaleDownStabilized",
        }
    }
    /// The controller's message.
    pub fn message(self) -> &'static str {
        match self {
            StabilizeReason::ReadyForNewScale => "recommended size matches current size",
            StabilizeReason::ScaleUpStabilized => {
                "recent recommendations were lower than current one, applying the lowest recent recommendation"
            }
            StabilizeReason::ScaleDownStabilized => {
                "recent recommendations were higher than current one, applying the highest recent recommendation"
            }
        }
    }
}

/// Reasons of the `ScalingLimited` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitReason {
    /// Not bounded.
    DesiredWithinRange,
    /// Bounded by the scale-up rate.
    ScaleUpLimit,
    /// Bounded by the scale-down rate.
    ScaleDownLimit,
    /// Bounded by `maxReplicas`.
    TooManyReplicas,
    /// Bounded by `minReplicas`.
    TooFewReplicas,
}

impl LimitReason {
    /// The reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::DesiredWithinRange => "DesiredWithinRange",
            LimitReason::ScaleUpLimit => "ScaleUpLimit",
            LimitReason::ScaleDownLimit => "ScaleDownLimit",
            LimitReason::TooManyReplicas => "TooManyReplicas",
            LimitReason::TooFewReplicas => "TooFewReplicas",
        }
    }
    /// The controller's message.
    pub fn message(self) -> &'static str {
        match self {
            LimitReason::DesiredWithinRange => "the desired count is within the acceptable range",
            LimitReason::ScaleUpLimit => {
                "the desired replica count is increasing faster than the maximum scale rate"
            }
            LimitReason::ScaleDownLimit => {
                "the desired replica count is decreasing faster than the maximum scale rate"
            }
            LimitReason::TooManyReplicas => {
                "the desired replica count is more than the maximum replica count"
            }
            LimitReason::TooFewReplicas => {
                "the desired replica count is less than the minimum replica count"
            }
        }
    }
}

/// Event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// A Kubernetes event the controller emits (source `horizontal-pod-autoscaler`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// Reason, e.g. `SuccessfulRescale`.
    pub reason: String,
    /// Message.
    pub message: String,
}
