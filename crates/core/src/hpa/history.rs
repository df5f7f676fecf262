//! The controller's per-HPA in-memory histories (hpa-algorithm §9): raw
//! recommendations for stabilization, and scale events for rate limits.

use crate::time::SimTime;

/// One stored raw recommendation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// Proposed replicas (before stabilization).
    pub replicas: i32,
    /// When it was recorded.
    pub timestamp: SimTime,
}

/// One stored scale event (behavior path only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleEvent {
    /// Absolute change in replicas.
    pub change: i32,
    /// When the scale write happened.
    pub timestamp: SimTime,
    /// Older than the longest policy period at some write; reusable slot.
    pub outdated: bool,
}

/// Everything the controller remembers about one HPA between reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HpaHistory {
    /// `None` until the first reconcile records the current replica count
    /// (`Some(vec![])` is a distinct state that suppresses that).
    pub recommendations: Option<Vec<Recommendation>>,
    /// Scale-up events.
    pub scale_up_events: Vec<ScaleEvent>,
    /// Scale-down events.
    pub scale_down_events: Vec<ScaleEvent>,
}
