//! `summary.json`: one type that `simulate` writes and `report` reads, so
//! the two cannot disagree. Floats are rounded to 6 decimals; a figure that
//! is not a number is written as `null` (and read as `None`).

use nimscale_core::sim::record::{LatencyStats, SimResult, StartupRecord};
use nimscale_core::time::SimTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::simulate::RunInfo;

/// Request counts of `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Requests {
    pub arrived: u64,
    pub completed: u64,
    pub failed: u64,
    pub rejected_no_endpoint: u64,
    pub front_queue_timeout: u64,
    pub aborted_on_drain: u64,
    pub refused_by_engine: u64,
    /// The client's timeout ran out on the last attempt.
    #[serde(default)]
    pub client_timeout: u64,
    /// The user left before the first token.
    #[serde(default)]
    pub abandoned: u64,
    /// Attempts after the first.
    #[serde(default)]
    pub retries: u64,
    pub unfinished: u64,
}

/// Latency percentiles (seconds; `None` when no request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Latency {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// TTFT, end-to-end and inter-token latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Latencies {
    pub ttft: Latency,
    pub e2e: Latency,
    pub itl: Latency,
}

/// One SLO's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Slo {
    pub name: String,
    /// `ttft`, `e2e` or `itl`.
    pub metric: String,
    pub percentile: f64,
    #[serde(rename = "threshold_s")]
    pub threshold: f64,
    pub requests: u64,
    pub within: u64,
    pub attainment: Option<f64>,
    #[serde(rename = "overall_s")]
    pub overall: Option<f64>,
    pub met: bool,
    pub windows: u64,
    pub windows_met: u64,
}

/// Replica figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Replicas {
    pub mean_ready: Option<f64>,
    pub min_desired: i64,
    pub max_desired: i64,
}

/// A load change and how the HPA followed it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LoadChange {
    #[serde(rename = "at_s")]
    pub at: f64,
    pub ready_before: i64,
    pub desired_after: i64,
    #[serde(rename = "firstRescale_s")]
    pub first_rescale: Option<f64>,
    #[serde(rename = "settled_s")]
    pub settled: Option<f64>,
}

/// Node figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Nodes {
    pub added: u64,
    pub removed: u64,
    pub provisioning_failed: u64,
}

/// One pod's start-up, stage by stage (seconds after creation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Startup {
    pub pod: String,
    pub created_s: f64,
    pub scheduled_after_s: Option<f64>,
    pub container_started_after_s: Option<f64>,
    pub model_loaded_after_s: Option<f64>,
    pub server_up_after_s: Option<f64>,
    pub startup_probe_passed_after_s: Option<f64>,
    pub ready_after_s: Option<f64>,
    pub deleted_s: Option<f64>,
    pub restarts: u64,
    pub waited_for_node: bool,
    pub pulled_image: bool,
    pub requests_dispatched: u64,
}

/// `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Summary {
    pub scenario: String,
    pub file: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    pub nimservice: String,
    pub gpu: String,
    pub model: String,
    pub gpus_per_pod: u32,
    pub metrics_source: String,
    #[serde(rename = "duration_s")]
    pub duration: f64,
    pub requests: Requests,
    #[serde(rename = "latency_s")]
    pub latency: Latencies,
    pub slos: Vec<Slo>,
    pub gpu_hours: Option<f64>,
    pub node_hours: Option<f64>,
    pub cost: Option<f64>,
    pub replicas: Replicas,
    pub peak_gpus: u64,
    pub peak_nodes: u64,
    pub scale_ups: u64,
    pub scale_downs: u64,
    pub flaps: u64,
    pub hpa_syncs: u64,
    pub hpa_syncs_with_metric_errors: u64,
    pub load_changes: Vec<LoadChange>,
    pub nodes: Nodes,
    pub container_restarts: u64,
    pub pod_startups: Vec<Startup>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Findings with stable codes, errors first (`nimscale simulate` prints
    /// them before the figures).
    #[serde(default)]
    pub diagnostics: Vec<DiagnosticEntry>,
}

/// One finding of `diagnostics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticEntry {
    /// Stable identifier (`hpa-metric-never-available`, …).
    pub code: String,
    /// `error` or `warning`.
    pub severity: String,
    /// What happened and what to do.
    pub message: String,
}

/// `v` rounded to 6 decimals (as every figure in `summary.json`);
/// infinities and NaN unchanged (they are written as `null`).
fn round6(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1e6).round() / 1e6
    } else {
        v
    }
}

/// [`round6`], or `None` when `v` is not finite.
fn num(v: f64) -> Option<f64> {
    v.is_finite().then(|| round6(v))
}

fn secs(t: SimTime) -> f64 {
    round6(t.as_secs_f64())
}

impl Latency {
    fn of(l: &LatencyStats) -> Latency {
        Latency {
            count: l.count,
            mean: num(l.mean),
            p50: num(l.p50),
            p90: num(l.p90),
            p95: num(l.p95),
            p99: num(l.p99),
            max: num(l.max),
        }
    }
}

impl Startup {
    fn of(r: &StartupRecord) -> Startup {
        let since = |x: Option<SimTime>| x.and_then(|x| num(x.since(r.created).as_secs_f64()));
        Startup {
            pod: r.pod.clone(),
            created_s: secs(r.created),
            scheduled_after_s: since(r.scheduled),
            container_started_after_s: since(r.container_started),
            model_loaded_after_s: since(r.model_loaded),
            server_up_after_s: since(r.server_up),
            startup_probe_passed_after_s: since(r.startup_passed),
            ready_after_s: since(r.ready),
            deleted_s: r.deleted.and_then(|d| num(d.as_secs_f64())),
            restarts: u64::from(r.restarts),
            waited_for_node: r.waited_for_node,
            pulled_image: r.pulled_image,
            requests_dispatched: r.dispatched,
        }
    }
}

impl Summary {
    /// The summary of a run.
    pub fn of(info: &RunInfo, res: &SimResult) -> Summary {
        let s = &res.summary;
        let rq = &s.requests;
        Summary {
            scenario: info.scenario.clone(),
            file: info.file.clone(),
            description: info.description.clone(),
            seed: info.seed,
            nimservice: info.nimservice.clone(),
            gpu: info.gpu.clone(),
            model: info.model.clone(),
            gpus_per_pod: info.gpus_per_pod,
            metrics_source: info.metrics_source.clone(),
            duration: round6(s.duration_s),
            requests: Requests {
                arrived: rq.arrived,
                completed: rq.completed,
                failed: rq.failed(),
                rejected_no_endpoint: rq.rejected_no_endpoint,
                front_queue_timeout: rq.front_queue_timeout,
                aborted_on_drain: rq.aborted_on_drain,
                refused_by_engine: rq.refused_by_engine,
                client_timeout: rq.client_timeout,
                abandoned: rq.abandoned,
                retries: rq.retries,
                unfinished: rq.unfinished,
            },
            latency: Latencies {
                ttft: Latency::of(&s.ttft),
                e2e: Latency::of(&s.e2e),
                itl: Latency::of(&s.itl),
            },
            slos: (s.slos.iter())
                .map(|r| Slo {
                    name: r.slo.name.clone(),
                    metric: r.slo.metric.as_str().to_string(),
                    percentile: round6(r.slo.percentile),
                    threshold: round6(r.slo.threshold),
                    requests: r.requests,
                    within: r.within,
                    attainment: num(r.attainment),
                    overall: num(r.overall),
                    met: r.met,
                    windows: r.windows,
                    windows_met: r.windows_met,
                })
                .collect(),
            gpu_hours: num(s.gpu_hours),
            node_hours: num(s.node_hours),
            cost: s.cost.and_then(num),
            replicas: Replicas {
                mean_ready: num(s.mean_ready),
                min_desired: i64::from(s.min_desired),
                max_desired: i64::from(s.max_desired),
            },
            peak_gpus: u64::from(s.peak_gpus),
            peak_nodes: u64::from(s.peak_nodes),
            scale_ups: u64::from(s.scale_ups),
            scale_downs: u64::from(s.scale_downs),
            flaps: u64::from(s.flaps),
            hpa_syncs: u64::from(s.syncs),
            hpa_syncs_with_metric_errors: u64::from(s.syncs_with_metric_errors),
            load_changes: (s.load_changes.iter())
                .map(|c| LoadChange {
                    at: secs(c.at),
                    ready_before: i64::from(c.ready_before),
                    desired_after: i64::from(c.desired_after),
                    first_rescale: c.first_rescale_s.and_then(num),
                    settled: c.settled_s.and_then(num),
                })
                .collect(),
            nodes: Nodes {
                added: u64::from(s.nodes_added),
                removed: u64::from(s.nodes_removed),
                provisioning_failed: u64::from(s.nodes_failed),
            },
            container_restarts: u64::from(s.restarts),
            pod_startups: s.startups.iter().map(Startup::of).collect(),
            warnings: info.warnings.clone(),
            diagnostics: (s.diagnostics.iter())
                .map(|d| DiagnosticEntry {
                    code: d.code.clone(),
                    severity: d.severity.as_str().to_string(),
                    message: d.message.clone(),
                })
                .collect(),
        }
    }

    /// As JSON (keys sorted, as `summary.json` has them).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_the_same() {
        let s = Summary {
            scenario: "s".into(),
            duration: 600.0,
            latency: Latencies {
                ttft: Latency {
                    count: 3,
                    mean: Some(0.25),
                    p99: Some(1.5),
                    ..Latency::default()
                },
                ..Latencies::default()
            },
            slos: vec![Slo {
                name: "ttft-p95".into(),
                metric: "ttft".into(),
                percentile: 95.0,
                threshold: 0.5,
                attainment: None,
                ..Slo::default()
            }],
            load_changes: vec![LoadChange {
                at: 120.0,
                first_rescale: Some(15.0),
                ..LoadChange::default()
            }],
            pod_startups: vec![Startup {
                pod: "p-0".into(),
                ready_after_s: Some(301.5),
                ..Startup::default()
            }],
            warnings: vec!["w".into()],
            ..Summary::default()
        };
        let text = serde_json::to_string_pretty(&s.to_json()).unwrap();
        // The file's own names, as the report and other tools read them.
        for key in [
            "\"latency_s\"",
            "\"threshold_s\"",
            "\"firstRescale_s\"",
            "\"podStartups\"",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
        let back: Summary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_string_pretty(&back.to_json()).unwrap(), text);
    }

    #[test]
    fn figures_that_are_not_numbers_are_null() {
        assert_eq!(num(f64::NAN), None);
        assert_eq!(num(f64::INFINITY), None);
        assert_eq!(num(0.123_456_789), Some(0.123_457));
    }
}
