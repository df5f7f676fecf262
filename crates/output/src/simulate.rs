//! What `nimscale simulate` writes: `timeseries.csv`, `decisions.jsonl`,
//! `summary.json`, and the short summary on stdout.

use std::fmt::Write as _;

use crate::csv_text::CsvOut;

use nimscale_core::sim::record::{MetricColumn, SecondRow, SimResult, SyncRecord};
use nimscale_core::time::SimTime;
use serde_json::{Value, json};

/// Who ran what, for the headers of every output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file as given.
    pub file: String,
    /// Description.
    pub description: String,
    /// Seed.
    pub seed: u64,
    /// NIMService `namespace/name`.
    pub nimservice: String,
    /// GPU catalog key.
    pub gpu: String,
    /// Model catalog key.
    pub model: String,
    /// GPUs per pod.
    pub gpus_per_pod: u32,
    /// How the HPA read metrics.
    pub metrics_source: String,
    /// Scenario warnings.
    pub warnings: Vec<String>,
    /// What scales the Deployment, as the summary names it (`HPA` when
    /// empty).
    pub autoscaler: String,
}

/// A number for CSV: empty for NaN, integers without a fraction, others
/// with at most 6 decimals (deterministic, locale-free).
pub fn num(v: f64) -> String {
    let mut s = String::new();
    push_num(&mut s, v);
    s
}

/// [`num`], appended to `out` (no allocation).
pub fn push_num(out: &mut String, v: f64) {
    if v.is_nan() {
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let start = out.len();
        let _ = write!(out, "{v:.6}");
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
        if &out[start..] == "-0" {
            out.truncate(start);
            out.push('0');
        }
    }
}

pub(crate) fn jnum(v: f64) -> Value {
    if v.is_finite() {
        let r = (v * 1e6).round() / 1e6;
        serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
    } else {
        Value::Null
    }
}

pub(crate) fn t(s: SimTime) -> Value {
    jnum(s.as_secs_f64())
}

pub(crate) fn opt_t(s: Option<SimTime>) -> Value {
    s.map_or(Value::Null, t)
}

/// The per-second series as CSV.
pub fn timeseries_csv(res: &SimResult) -> String {
    let mut out = timeseries_header(&res.columns, false);
    timeseries_rows(&res.columns, &res.rows, None, &mut out);
    out
}

/// The fixed columns of `timeseries.csv`, before two per HPA metric
/// (`<metric>_seen`, `<metric>_target`).
pub const TIMESERIES_COLUMNS: [&str; 28] = [
    "t_s",
    "arrivals",
    "completed",
    "failed",
    "in_flight",
    "queued",
    "front_queue",
    "replicas_desired",
    "replicas_current",
    "replicas_ready",
    "replicas_starting",
    "replicas_terminating",
    "gpus",
    "nodes",
    "nodes_provisioning",
    "kv_usage_mean",
    "kv_usage_max",
    "kv_usage_min",
    "kv_usage_median",
    "queue_pod_min",
    "queue_pod_median",
    "queue_pod_max",
    "ttft_p50_s",
    "ttft_p95_s",
    "e2e_p50_s",
    "e2e_p95_s",
    "itl_p50_s",
    "itl_p95_s",
];

/// A metric column's name as `timeseries.csv` heads it: letters, digits
/// and `_` only (`resource:cpu` → `resource_cpu`), so that pandas, SQL and
/// spreadsheet tools take it as an identifier. `decisions.jsonl` keeps the
/// original (`metric`).
pub fn column_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `timeseries.csv`'s header line (with a last `unix_s` column when
/// `unix`).
pub fn timeseries_header(columns: &[MetricColumn], unix: bool) -> String {
    let mut out = CsvOut::default();
    let metrics = columns.iter().flat_map(|c| {
        let stem = column_stem(&c.name);
        [format!("{stem}_seen"), format!("{stem}_target")]
    });
    out.record(
        TIMESERIES_COLUMNS
            .map(String::from)
            .into_iter()
            .chain(metrics)
            .chain(unix.then(|| "unix_s".to_string())),
    );
    out.finish()
}

/// `timeseries.csv`'s lines for `rows`, appended to `out` (so a run can be
/// written as it goes). Every field is a number (`num`'s digits, `.`, `-`,
/// `inf`) or empty, which CSV never quotes, so the rows are written
/// directly: this is the one CSV written once per simulated second.
/// With `epoch` (Unix seconds of time zero, `simulate --start`), a last
/// column `unix_s` gives each row's absolute time.
pub fn timeseries_rows(
    columns: &[MetricColumn],
    rows: &[SecondRow],
    epoch: Option<i64>,
    out: &mut String,
) {
    for r in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.t,
            r.arrivals,
            r.completed,
            r.failed,
            r.in_flight,
            r.queued,
            r.front_queue,
            r.desired,
            r.current,
            r.ready,
            r.starting,
            r.terminating,
            r.gpus,
            r.nodes,
            r.nodes_provisioning,
        );
        for v in [
            r.kv_mean,
            r.kv_max,
            r.kv_min,
            r.kv_median,
            r.queue_min,
            r.queue_median,
            r.queue_max,
            r.ttft_p50,
            r.ttft_p95,
            r.e2e_p50,
            r.e2e_p95,
            r.itl_p50,
            r.itl_p95,
        ] {
            out.push(',');
            push_num(out, v);
        }
        for (c, v) in columns.iter().zip(&r.metrics) {
            out.push(',');
            if let Some(v) = v {
                push_num(out, *v);
            }
            out.push(',');
            push_num(out, c.target);
        }
        if let Some(e) = epoch {
            let _ = write!(out, ",{}", e.saturating_add(r.t));
        }
        out.push('\n');
    }
}

/// One JSON object per HPA sync.
pub fn decisions_jsonl(res: &SimResult) -> String {
    let mut out = String::new();
    decisions_lines(&res.columns, &res.syncs, &mut out);
    out
}

/// `decisions.jsonl`'s lines for `syncs`, appended to `out`.
pub fn decisions_lines(columns: &[MetricColumn], syncs: &[SyncRecord], out: &mut String) {
    for s in syncs {
        let s = match s {
            SyncRecord::Hpa(h) => h,
            SyncRecord::Simple(x) => {
                // The fields every line has (the report reads these), and
                // which autoscaler wrote it.
                let line = json!({
                    "t_s": t(x.now),
                    "autoscaler": x.autoscaler,
                    "currentReplicas": x.current,
                    "desiredReplicas": x.desired,
                    "rescale": x.desired != x.current,
                    "rescaleReason": x.reason,
                    "metrics": [],
                });
                out.push_str(&line.to_string());
                out.push('\n');
                continue;
            }
        };
        let d = &s.decision;
        let metrics: Vec<Value> = d
            .metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let col = columns.get(i);
                json!({
                    "metric": col.map(|c| c.name.clone()),
                    "name": m.name,
                    "value": s.seen.get(i).copied().flatten().map_or(Value::Null, jnum),
                    "target": col.map_or(Value::Null, |c| jnum(c.target)),
                    "targetType": col.map(|c| c.target_type),
                    "sampledAt": opt_t(m.timestamp),
                    "dataAsOf": opt_t(s.data_as_of.get(i).copied().flatten()),
                    "proposal": m.replicas,
                    "error": m.error,
                })
            })
            .collect();
        let mut o = crate::explain::decision_core(d);
        o.insert("metrics".into(), Value::Array(metrics));
        out.push_str(&Value::Object(o).to_string());
        out.push('\n');
    }
}

/// `summary.json`.
pub fn summary_json(info: &RunInfo, res: &SimResult) -> Value {
    crate::summary::Summary::of(info, res).to_json()
}

fn fmt_s(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.is_infinite() {
        // A percentile that falls on failed requests (recorded as +∞).
        "∞ (failed requests)".into()
    } else if v < 1.0 {
        format!("{:.0} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
}

/// The few lines `simulate` prints.
pub fn human_summary(info: &RunInfo, res: &SimResult) -> String {
    let s = &res.summary;
    let rq = &s.requests;
    let mut o = String::new();
    // What the figures cannot be trusted without comes first.
    for d in &s.diagnostics {
        let _ = writeln!(o, "{} {}: {}", d.severity.as_str(), d.code, d.message);
    }
    let _ = writeln!(
        o,
        "{}: {} on {} × {} per pod, {:.0} s simulated, seed {}",
        info.scenario, info.model, info.gpus_per_pod, info.gpu, s.duration_s, info.seed
    );
    let _ = writeln!(
        o,
        "requests: {} arrived, {} completed, {} failed{}, {} unfinished{}",
        rq.arrived,
        rq.completed,
        rq.failed(),
        failure_causes(rq),
        rq.unfinished,
        if rq.retries > 0 {
            format!(", {} retries", rq.retries)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        o,
        "latency p50/p95: TTFT {} / {}, e2e {} / {}, ITL {} / {}",
        fmt_s(s.ttft.p50),
        fmt_s(s.ttft.p95),
        fmt_s(s.e2e.p50),
        fmt_s(s.e2e.p95),
        fmt_s(s.itl.p50),
        fmt_s(s.itl.p95)
    );
    if rq.completed == 0 {
        let why = if rq.arrived == 0 {
            "no request arrived (check the traffic: its rate, or a trace's skip past its end)"
                .to_string()
        } else if rq.refused_by_engine > 0 {
            format!(
                "{} were refused by the engine (longer than its context?)",
                rq.refused_by_engine
            )
        } else {
            "none finished within the run (startup, front-end delay or queueing longer than the run?)"
                .to_string()
        };
        let _ = writeln!(
            o,
            "warning: no request completed: {why}; latency and SLO figures are undefined"
        );
    }
    for r in &s.slos {
        if r.requests == 0 {
            let _ = writeln!(
                o,
                "SLO {}: no request finished or failed, so attainment is undefined (not met)",
                r.slo.name
            );
            continue;
        }
        let _ = writeln!(
            o,
            "SLO {}: p{} = {} vs {} → {} ({:.1} % of requests within, {}/{} windows met)",
            r.slo.name,
            r.slo.percentile,
            fmt_s(r.overall),
            fmt_s(r.slo.threshold),
            if r.met { "met" } else { "MISSED" },
            r.attainment * 100.0,
            r.windows_met,
            r.windows
        );
    }
    let cost = s.cost.map_or(String::new(), |c| format!(", cost {c:.2}"));
    let _ = writeln!(
        o,
        "capacity: {:.2} GPU-hours, {:.2} node-hours{cost}; pods {}..{} desired, {:.2} ready on average, peak {} GPUs on {} nodes",
        s.gpu_hours,
        s.node_hours,
        s.min_desired,
        s.max_desired,
        s.mean_ready,
        s.peak_gpus,
        s.peak_nodes
    );
    let _ = writeln!(
        o,
        "{}: {} syncs, {} scale-ups, {} scale-downs, {} flaps",
        if info.autoscaler.is_empty() {
            "HPA"
        } else {
            &info.autoscaler
        },
        s.syncs,
        s.scale_ups,
        s.scale_downs,
        s.flaps
    );
    for c in &s.load_changes {
        let _ = writeln!(
            o,
            "load change at {:.0} s: {} → {} pods, first write after {}, settled after {}",
            c.at.as_secs_f64(),
            c.ready_before,
            c.desired_after,
            c.first_rescale_s
                .map_or("–".into(), |v| format!("{v:.0} s")),
            c.settled_s.map_or("never".into(), |v| format!("{v:.0} s"))
        );
    }
    for w in &info.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    o
}

/// The failures by cause, `" (3 no endpoint, 2 client timeout)"`, or
/// nothing when none failed.
fn failure_causes(rq: &nimscale_core::sim::record::RequestCounts) -> String {
    let parts: Vec<String> = [
        (rq.rejected_no_endpoint, "no endpoint"),
        (rq.front_queue_timeout, "front-queue timeout"),
        (rq.aborted_on_drain, "aborted on drain"),
        (rq.refused_by_engine, "refused"),
        (rq.client_timeout, "client timeout"),
        (rq.abandoned, "abandoned"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}
