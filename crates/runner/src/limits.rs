//! Work limits: what a run may cost, estimated before it starts.
//!
//! A scenario can ask for any amount of work (`rate: 1e9`, `duration:
//! 3650d`, `minReplicas: 1000000`, a repeated trace whose rows share one
//! instant). Before a run starts its work is estimated from the traffic's
//! rate integral, the horizon and the most pods the spec allows, and
//! anything over a limit is refused with the estimate and the flag that
//! raises it. The defaults fit what one machine does in minutes:
//!
//! | limit | default | why |
//! |---|---:|---|
//! | requests | 500 M | about 8 minutes at the design speed of 1 M simulated requests per wall-second |
//! | horizon | 31 days | `timeseries.csv` has a row per second: 2.7 M rows, about 1 GB |
//! | pods | 10,000 | per-pod state, scrapes and the load balancer's scans grow with pods; no NIMService runs near this |
//! | `--metrics-out` samples | 200 M | the export keeps every scraped sample in memory (about 24 bytes each) until it is written |

use nimscale_core::time::SimDuration;

use crate::scenario::Scenario;

/// The limits in force (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Most requests a run may be expected to send.
    pub max_requests: f64,
    /// Longest simulated horizon.
    pub max_duration: SimDuration,
    /// Most pods a run may hold.
    pub max_pods: u64,
    /// Most samples `--metrics-out` may have to keep.
    pub max_export_samples: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_requests: 500e6,
            max_duration: SimDuration::from_secs(31 * 86_400),
            max_pods: 10_000,
            max_export_samples: 200e6,
        }
    }
}

/// A run's work, estimated before it starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Requests expected.
    pub requests: f64,
    /// Simulated seconds.
    pub seconds: f64,
    /// Most pods the spec allows.
    pub pods: u64,
    /// Samples Prometheus scrapes over the run at the most pods.
    pub samples: f64,
}

/// Series a NIM pod exposes, rounded up (the vLLM and NIM families with
/// their histogram buckets; see `engine::names`).
const SERIES_PER_POD: f64 = 400.0;

impl Scenario {
    /// The run's work (see [`Estimate`]).
    pub fn estimate(&self) -> Estimate {
        let seconds = self.duration.as_secs_f64();
        let requests = match self.clients.as_ref().and_then(|c| c.closed_loop.as_ref()) {
            // A client sends at most one request per round trip, and a round
            // trip takes at least the front end's delay, its think time and
            // one engine step (10 ms is an optimistic step).
            Some(cl) => {
                let trip = self.frontend_delay.as_secs_f64() + cl.think.median().max(0.0) + 0.01;
                f64::from(cl.concurrency) * seconds / trip
            }
            None => self.source(self.seed).expected_requests(seconds),
        };
        let pods = match (&self.hpa, &self.schedule) {
            (Some(h), _) => i64::from(h.spec.max_replicas.max(h.spec.min_replicas)),
            (None, Some(s)) => i64::from(s.max_replicas()),
            (None, None) => i64::from(self.initial_replicas),
        }
        .max(i64::from(self.initial_replicas))
        .max(0) as u64;
        let samples = match &self.prometheus {
            Some(p) if p.scrape.interval_ms > 0 => {
                seconds * 1000.0 / p.scrape.interval_ms as f64 * pods as f64 * SERIES_PER_POD
            }
            _ => 0.0,
        };
        Estimate {
            requests,
            seconds,
            pods,
            samples,
        }
    }

    /// Refuses a run whose estimate exceeds `limits`; the message says the
    /// estimate and the flag that raises the limit.
    pub fn check_limits(&self, limits: &Limits, export: bool) -> Result<(), String> {
        let e = self.estimate();
        let mut problems = Vec::new();
        if e.seconds > limits.max_duration.as_secs_f64() {
            problems.push(format!(
                "duration: {} exceeds the limit of {} (raise it with --max-duration)",
                human_seconds(e.seconds),
                human_seconds(limits.max_duration.as_secs_f64())
            ));
        }
        if e.requests.is_nan() || e.requests > limits.max_requests {
            problems.push(format!(
                "traffic: an estimated {} requests over {}, over the limit of {} (raise it with --max-requests)",
                human_count(e.requests),
                human_seconds(e.seconds),
                human_count(limits.max_requests)
            ));
        }
        if e.pods > limits.max_pods {
            problems.push(format!(
                "nimservice: {} pods (its replicas or the HPA's min/maxReplicas), over the limit of {} (raise it with --max-pods)",
                e.pods, limits.max_pods
            ));
        }
        if export && (e.samples.is_nan() || e.samples > limits.max_export_samples) {
            problems.push(format!(
                "--metrics-out would keep an estimated {} scraped samples in memory, over the limit of {} (shorten the run or scrape less often)",
                human_count(e.samples),
                human_count(limits.max_export_samples)
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// `1.5 G`, `320 M`, `12 k`, `inf`.
pub fn human_count(v: f64) -> String {
    if !v.is_finite() {
        return "unbounded (infinitely many)".into();
    }
    let (d, u) = if v >= 1e12 {
        (1e12, " T")
    } else if v >= 1e9 {
        (1e9, " G")
    } else if v >= 1e6 {
        (1e6, " M")
    } else if v >= 1e3 {
        (1e3, " k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    if x >= 1000.0 {
        format!("{v:.3e}")
    } else {
        format!("{}{u}", trim(x))
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// `31 d`, `2.5 h`, `90 s`.
pub fn human_seconds(s: f64) -> String {
    if !s.is_finite() {
        "unbounded".into()
    } else if s >= 86_400.0 {
        format!("{} d", trim(s / 86_400.0))
    } else if s >= 3600.0 {
        format!("{} h", trim(s / 3600.0))
    } else {
        format!("{} s", trim(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(human_count(5e8), "500 M");
        assert_eq!(human_count(3.6e12), "3.6 T");
        assert_eq!(human_count(f64::INFINITY), "unbounded (infinitely many)");
        assert_eq!(human_count(1e300), "1.000e300");
        assert_eq!(human_seconds(31.0 * 86_400.0), "31 d");
        assert_eq!(human_seconds(5400.0), "1.5 h");
    }
}
