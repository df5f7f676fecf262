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
use crate::time::{SimDuration, SimTime};

/// What scales the Deployment, synced every controller sync period.
#[derive(Clone, Debug, PartialEq)]
pub enum Autoscaler {
    /// The Kubernetes HorizontalPodAutoscaler, bit for bit.
    Hpa(Hpa),
    /// Scheduled scaling: the replica count of the step in force (what a
    /// CronJob running `kubectl scale`, or KEDA's cron scaler, does).
    Schedule(Schedule),
}

/// A replica count by time of day (or of any period).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Steps `(offset, replicas)`, strictly increasing offsets.
    pub steps: Vec<(SimDuration, i32)>,
    /// The steps repeat with this period (offsets are within it); `None`:
    /// once, from time zero.
    pub period: Option<SimDuration>,
}

impl Schedule {
    /// The most replicas any step asks for.
    pub fn max_replicas(&self) -> i32 {
        self.steps.iter().map(|s| s.1).max().unwrap_or(0)
    }

    /// The step in force at `now`, by index: the last one at or before
    /// `now` (within the period); before the first step of a periodic
    /// schedule, the last step of the previous period; `None` before the
    /// first step of a one-off schedule.
    pub fn step_at(&self, now: SimTime) -> Option<usize> {
        let t = match self.period {
            Some(p) if p > SimDuration::ZERO => {
                SimDuration::from_micros(now.as_micros().rem_euclid(p.as_micros()))
            }
            _ => now.since(SimTime::ZERO),
        };
        match self.steps.iter().rposition(|(at, _)| *at <= t) {
            Some(i) => Some(i),
            None if self.period.is_some() => self.steps.len().checked_sub(1),
            None => None,
        }
    }
}

impl Autoscaler {
    /// The HPA, when this is one.
    pub fn hpa(&self) -> Option<&Hpa> {
        match self {
            Autoscaler::Hpa(h) => Some(h),
            Autoscaler::Schedule(_) => None,
        }
    }

    /// Its name in outputs (`decisions.jsonl`'s `autoscaler`).
    pub fn name(&self) -> &'static str {
        match self {
            Autoscaler::Hpa(_) => "hpa",
            Autoscaler::Schedule(_) => "schedule",
        }
    }

    /// The most replicas it can ask for.
    pub fn max_replicas(&self) -> i32 {
        match self {
            Autoscaler::Hpa(h) => h.spec.max_replicas,
            Autoscaler::Schedule(s) => s.max_replicas(),
        }
    }

    /// For an autoscaler other than the HPA: the replica count it wants at
    /// `now` with `current` replicas written, and why. `None` for the HPA
    /// (it is reconciled by the world's HPA glue).
    pub fn decide(&self, now: SimTime, current: i32) -> Option<(i32, String)> {
        match self {
            Autoscaler::Hpa(_) => None,
            Autoscaler::Schedule(s) => {
                let Some(i) = s.step_at(now) else {
                    return Some((current, "before the schedule's first step".into()));
                };
                let (at, replicas) = s.steps[i];
                Some((
                    replicas,
                    format!(
                        "schedule step {i} (at {} s): {replicas} replicas",
                        at.as_secs_f64()
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn a_schedule_gives_the_step_in_force() {
        let day = Schedule {
            steps: vec![
                (SimDuration::from_secs(8 * 3600), 6),
                (SimDuration::from_secs(20 * 3600), 2),
            ],
            period: Some(SimDuration::from_secs(86_400)),
        };
        let a = Autoscaler::Schedule(day.clone());
        // Before 08:00 the previous day's last step (20:00) holds.
        assert_eq!(a.decide(at(3600), 4).map(|d| d.0), Some(2));
        assert_eq!(a.decide(at(8 * 3600), 2).map(|d| d.0), Some(6));
        assert_eq!(a.decide(at(19 * 3600), 6).map(|d| d.0), Some(6));
        assert_eq!(a.decide(at(86_400 + 9 * 3600), 2).map(|d| d.0), Some(6));
        assert_eq!(a.max_replicas(), 6);
        // A one-off schedule leaves the replicas alone before its first step.
        let once = Autoscaler::Schedule(Schedule {
            period: None,
            ..day
        });
        assert_eq!(once.decide(at(3600), 4).map(|d| d.0), Some(4));
        assert_eq!(once.decide(at(30 * 3600), 6).map(|d| d.0), Some(2));
    }
}
