//! The run report's facts and sections, one function each: what was run,
//! service levels, capacity and cost, scaling activity, what users felt
//! and what happened inside the pods (the charts they hold are drawn by
//! the builders in `run.rs`).

use super::super::data::{Latency, Summary};
use super::*;

/// What was run.
pub(super) fn facts(s: &Summary) -> Vec<(String, String)> {
    let mut facts = vec![
        (
            "scenario".to_string(),
            format!("{} ({})", s.scenario, s.file),
        ),
        ("NIMService".into(), s.nimservice.clone()),
        (
            "model and GPU".into(),
            format!("{} on {} × {} per pod", s.model, s.gpus_per_pod, s.gpu),
        ),
        (
            "simulated".into(),
            format!("{:.0} s, seed {}", s.duration, s.seed),
        ),
        ("HPA metrics read through".into(), s.metrics_source.clone()),
    ];
    if !s.description.is_empty() {
        facts.insert(1, ("description".into(), s.description.clone()));
    }
    facts
}

/// Each SLO, measured, and the verdict.
pub(super) fn service_levels(s: &Summary) -> Section {
    let slo_rows = s
        .slos
        .iter()
        .map(|o| {
            vec![
                o.name.clone(),
                format!("p{} {}", chart::fmt_tick(o.percentile), o.metric),
                chart::fmt_secs(o.threshold),
                secs(o.overall),
                pct(o.attainment),
                format!("{}/{}", o.windows_met, o.windows),
                if o.met { "met" } else { "MISSED" }.into(),
            ]
        })
        .collect();
    let verdict = if s.slos.is_empty() {
        "No SLO was set.".to_string()
    } else {
        let missed: Vec<&str> = s
            .slos
            .iter()
            .filter(|o| !o.met)
            .map(|o| o.name.as_str())
            .collect();
        if missed.is_empty() {
            format!(
                "Every SLO was met with {:.2} GPU-hours.",
                s.gpu_hours.unwrap_or(f64::NAN)
            )
        } else {
            format!("Missed: {}.", missed.join(", "))
        }
    };
    Section {
        heading: "Service levels".into(),
        blocks: vec![
            Block::Text(verdict),
            table(
                &[
                    "SLO",
                    "objective",
                    "threshold",
                    "measured",
                    "requests within",
                    "windows met",
                    "verdict",
                ],
                &[false, false, true, true, true, true, false],
                slo_rows,
            ),
        ],
    }
}

/// GPU-hours, node-hours, cost, pods and nodes.
pub(super) fn capacity(s: &Summary) -> Section {
    Section {
        heading: "Capacity and cost".into(),
        blocks: vec![kv(&[
            ("GPU-hours", opt(s.gpu_hours, |x| format!("{x:.2}"))),
            ("node-hours", opt(s.node_hours, |x| format!("{x:.2}"))),
            ("cost", opt(s.cost, |x| format!("{x:.2}"))),
            (
                "ready pods on average",
                opt(s.replicas.mean_ready, |x| format!("{x:.2}")),
            ),
            (
                "desired pods",
                format!("{} to {}", s.replicas.min_desired, s.replicas.max_desired),
            ),
            ("peak GPUs", s.peak_gpus.to_string()),
            ("peak nodes", s.peak_nodes.to_string()),
            (
                "nodes added / removed / failed to provision",
                format!(
                    "{} / {} / {}",
                    s.nodes.added, s.nodes.removed, s.nodes.provisioning_failed
                ),
            ),
        ])],
    }
}

/// Syncs, scale events, flaps, restarts, and the time to scale after each
/// load change.
pub(super) fn scaling(s: &Summary) -> Vec<Block> {
    let load_rows = s
        .load_changes
        .iter()
        .map(|c| {
            vec![
                format!("{:.0} s", c.at),
                c.ready_before.to_string(),
                c.desired_after.to_string(),
                dur(c.first_rescale),
                c.settled.map_or("never".into(), |v| format!("{v:.0} s")),
            ]
        })
        .collect::<Vec<_>>();
    let mut scaling = vec![kv(&[
        ("HPA syncs", s.hpa_syncs.to_string()),
        ("scale-ups", s.scale_ups.to_string()),
        ("scale-downs", s.scale_downs.to_string()),
        (
            "flaps (direction reversed within 5 min)",
            s.flaps.to_string(),
        ),
        (
            "syncs with a metric error",
            s.hpa_syncs_with_metric_errors.to_string(),
        ),
        ("container restarts", s.container_restarts.to_string()),
    ])];
    if !load_rows.is_empty() {
        scaling.push(Block::Text(
            "Time to scale after each load change: the first replica write and the time until ready pods reached the new count.".into(),
        ));
        scaling.push(table(
            &[
                "load change at",
                "ready before",
                "desired after",
                "first write after",
                "settled after",
            ],
            &[true, true, true, true, true],
            load_rows,
        ));
    }
    scaling
}

/// Latency charts and percentiles, and what became of the requests.
pub(super) fn users_felt(run: &Run, g: &Grid) -> Section {
    let s = &run.summary;
    let lat = |name: &str, l: &Latency| {
        vec![
            name.to_string(),
            l.count.to_string(),
            secs(l.mean),
            secs(l.p50),
            secs(l.p90),
            secs(l.p95),
            secs(l.p99),
            secs(l.max),
        ]
    };
    let rq = &s.requests;
    Section {
        heading: "What users felt".into(),
        blocks: latency_charts(run, g)
            .into_iter()
            .map(Block::Chart)
            .chain([
                table(
                    &[
                        "latency", "requests", "mean", "p50", "p90", "p95", "p99", "max",
                    ],
                    &[false, true, true, true, true, true, true, true],
                    vec![
                        lat("time to first token", &s.latency.ttft),
                        lat("inter-token", &s.latency.itl),
                        lat("end to end", &s.latency.e2e),
                    ],
                ),
                kv(&request_rows(rq)),
            ])
            .collect(),
    }
}

/// KV-cache usage and queue depth per pod.
pub(super) fn inside_pods(run: &Run, g: &Grid) -> Section {
    Section {
        heading: "Inside the pods".into(),
        blocks: vec![
            Block::Chart(band_chart(
                run,
                g,
                BandSpec {
                    id: "kv-cache",
                    title: "KV-cache usage per pod",
                    what: "The share of each serving pod's KV-cache blocks in use.",
                    y_label: "KV-cache usage (%)",
                    min: "kv_usage_min",
                    median: "kv_usage_median",
                    max: "kv_usage_max",
                    scale: 100.0,
                    extra: None,
                },
            )),
            Block::Chart(band_chart(
                run,
                g,
                BandSpec {
                    id: "queue",
                    title: "Queue depth per pod",
                    what: "Requests waiting in each serving pod's engine (not yet scheduled into the batch); dashed: requests held in the front queue while no pod was ready.",
                    y_label: "requests waiting",
                    min: "queue_pod_min",
                    median: "queue_pod_median",
                    max: "queue_pod_max",
                    scale: 1.0,
                    extra: Some(("front queue (no ready pod)", "front_queue")),
                },
            )),
        ],
    }
}

/// The request counts; the client model's rows (timeouts, abandonment,
/// retries) only when they happened.
fn request_rows(rq: &crate::summary::Requests) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("arrived", rq.arrived.to_string()),
        ("completed", rq.completed.to_string()),
        ("failed", rq.failed.to_string()),
        ("  no ready endpoint", rq.rejected_no_endpoint.to_string()),
        ("  front-queue timeout", rq.front_queue_timeout.to_string()),
        ("  aborted on drain", rq.aborted_on_drain.to_string()),
        ("  refused by the engine", rq.refused_by_engine.to_string()),
    ];
    for (n, what) in [
        (rq.client_timeout, "  client timeout"),
        (rq.abandoned, "  abandoned (no first token)"),
        (rq.retries, "retries"),
    ] {
        if n > 0 {
            rows.push((what, n.to_string()));
        }
    }
    rows.push(("unfinished at the end", rq.unfinished.to_string()));
    rows
}
