//! metrics-server for Resource metrics: the kubelet refreshes a container's
//! cumulative CPU and working set every housekeeping period (cAdvisor,
//! 10 s); metrics-server scrapes every kubelet every `--metric-resolution`
//! (15 s in its shipped manifests) and serves CPU as the rate between the
//! last two points it holds, memory as the last working set.

use crate::time::{SimDuration, SimTime};

/// Settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsServerConfig {
    /// `--metric-resolution`.
    pub resolution: SimDuration,
    /// Kubelet (cAdvisor) housekeeping period.
    pub housekeeping: SimDuration,
}

impl Default for MetricsServerConfig {
    fn default() -> Self {
        MetricsServerConfig {
            resolution: SimDuration::from_secs(15),
            housekeeping: SimDuration::from_secs(10),
        }
    }
}

/// One kubelet stats point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// When the kubelet took it.
    pub t: SimTime,
    /// Cumulative CPU, nanoseconds.
    pub cpu_ns: u64,
    /// Working set, bytes.
    pub memory: u64,
}

/// What metrics-server serves for one pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// CPU in milli-cores (`MilliValue` of a nano-core quantity: rounded up).
    pub cpu_m: i64,
    /// Memory in milli-bytes.
    pub memory_m: i64,
    /// The newer point's time.
    pub timestamp: SimTime,
    /// Between the two points used.
    pub window: SimDuration,
}

/// A pod's container as the kubelet and metrics-server see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodStats {
    start: Option<SimTime>,
    latest: Option<Point>,
    held: Vec<Point>,
}

/// The shortest age of a container metrics-server serves from one point.
const FRESH_MIN: SimDuration = SimDuration::from_secs(10);

impl PodStats {
    /// The container (re)started at `t`.
    pub fn container_started(&mut self, t: SimTime) {
        self.start = Some(t);
        self.latest = None;
    }

    /// Kubelet housekeeping: the cumulative values as of `t`.
    pub fn housekeep(&mut self, t: SimTime, cpu_seconds: f64, memory_bytes: f64) {
        self.latest = Some(Point {
            t,
            cpu_ns: (cpu_seconds.max(0.0) * 1e9) as u64,
            memory: memory_bytes.max(0.0) as u64,
        });
    }

    /// A metrics-server scrape of the kubelet.
    pub fn scrape(&mut self) {
        if let Some(p) = self.latest
            && self.held.last().is_none_or(|l| l.t < p.t)
        {
            self.held.push(p);
            if self.held.len() > 2 {
                self.held.remove(0);
            }
        }
    }

    /// What the resource metrics API returns for the pod, if anything.
    pub fn usage(&self, resolution: SimDuration) -> Option<Usage> {
        let last = *self.held.last()?;
        let start = self.start?;
        let prev = match self.held.len() {
            2 if self.held[0].t >= start && self.held[0].cpu_ns <= last.cpu_ns => self.held[0],
            _ => {
                // A fresh (or restarted) container: its start counts as a
                // zero point when it is old enough but younger than the
                // resolution.
                let age = last.t.since(start);
                if age < FRESH_MIN || age >= resolution {
                    return None;
                }
                Point {
                    t: start,
                    cpu_ns: 0,
                    memory: 0,
                }
            }
        };
        let window = last.t.since(prev.t);
        if window <= SimDuration::ZERO {
            return None;
        }
        let nanocores = ((last.cpu_ns - prev.cpu_ns) as f64 / window.as_secs_f64()) as u64;
        Some(Usage {
            cpu_m: nanocores.div_ceil(1_000_000) as i64,
            memory_m: (last.memory as i64).saturating_mul(1000),
            timestamp: last.t,
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_between_the_last_two_points_and_the_fresh_container_rule() {
        let res = SimDuration::from_secs(15);
        let mut p = PodStats::default();
        p.container_started(SimTime::ZERO);
        p.housekeep(SimTime::from_secs(5), 1.0, 100.0);
        p.scrape();
        assert_eq!(p.usage(res), None, "5 s old: too young for one point");
        p.housekeep(SimTime::from_secs(12), 2.4, 100.0);
        p.scrape();
        let u = p.usage(res).unwrap();
        // 1.4 s of CPU over 7 s = 200 millicores.
        assert_eq!(
            (u.cpu_m, u.window, u.timestamp),
            (200, SimDuration::from_secs(7), SimTime::from_secs(12))
        );
        p.scrape();
        assert_eq!(
            p.usage(res).unwrap().window,
            SimDuration::from_secs(7),
            "no new kubelet point"
        );
        let mut q = PodStats::default();
        q.container_started(SimTime::ZERO);
        q.housekeep(SimTime::from_secs(11), 1.1, 5.0);
        q.scrape();
        let u = q.usage(res).unwrap();
        assert_eq!((u.cpu_m, u.memory_m), (100, 5000));
    }
}
