//! What scales the Deployment: the seam for autoscalers.
//!
//! An [`Autoscaler`] is a closed enum. The HPA is special: it reads pods
//! and metrics through `hpa::reconcile` (its glue is in
//! `world/autoscaler.rs`). Every other autoscaler decides from the time
//! and the current replica count through [`Autoscaler::decide`], and its
//! syncs are recorded as a [`SyncRecord::Simple`](super::record::SyncRecord)
//! that `decisions.jsonl` and the report already read: adding one touches
//! this file and the scenario loader, nothing in the world's event
//! handling.

use crate::hpa::controller::Hpa;
use crate::time::SimTime;

/// What scales the Deployment, synced every controller sync period.
#[derive(Clone, Debug, PartialEq)]
pub enum Autoscaler {
    /// The Kubernetes HorizontalPodAutoscaler, bit for bit.
    Hpa(Hpa),
}

impl Autoscaler {
    /// The HPA, when this is one.
    pub fn hpa(&self) -> Option<&Hpa> {
        match self {
            Autoscaler::Hpa(h) => Some(h),
        }
    }

    /// Its name in outputs (`decisions.jsonl`'s `autoscaler`).
    pub fn name(&self) -> &'static str {
        match self {
            Autoscaler::Hpa(_) => "hpa",
        }
    }

    /// The most replicas it can ask for.
    pub fn max_replicas(&self) -> i32 {
        match self {
            Autoscaler::Hpa(h) => h.spec.max_replicas,
        }
    }

    /// For an autoscaler other than the HPA: the replica count it wants at
    /// `now` with `current` replicas written, and why. `None` for the HPA
    /// (it is reconciled by the world's HPA glue).
    pub fn decide(&self, now: SimTime, current: i32) -> Option<(i32, String)> {
        let _ = (now, current);
        match self {
            Autoscaler::Hpa(_) => None,
        }
    }
}
