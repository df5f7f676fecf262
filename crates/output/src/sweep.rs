//! Sweep results for people and tools: `results.csv` (one row per run),
//! `summary.csv` (one row per point: mean and 95 % confidence half-width of
//! every metric), `pareto.csv` (cost vs SLO attainment, the winner marked),
//! the side-by-side table of `compare`, and the Indexed Job of `--emit-job`.
//!
//! Numbers are written with Rust's shortest round-trip formatting, so a
//! `results.csv` read back (by `merge`) gives exactly the values written and
//! everything derived from it is byte-identical.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::report::{self, Agg};

/// What a sweep ran and how its points are judged: everything needed to
/// derive the summary files from `results.csv` alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Sweep name.
    pub name: String,
    /// Axis names (columns).
    pub axes: Vec<String>,
    /// Each point's axis values, as written.
    pub points: Vec<Vec<String>>,
    /// Seeds run per point and trace.
    pub seeds: Vec<u64>,
    /// Traffic variants (traces) per point.
    pub traces: Vec<String>,
    /// The SLO names (one attainment column each).
    pub slos: Vec<String>,
    /// `gpuHours` or `cost`.
    pub minimize: String,
    /// Mean SLO attainment a point needs to be eligible.
    pub threshold: f64,
}

impl Plan {
    /// The metric columns of a run, in order.
    pub fn metrics(&self) -> Vec<String> {
        let mut m = vec!["slo_attainment".to_string()];
        m.extend(self.slos.iter().map(|s| format!("slo:{s}")));
        m.extend(
            [
                "ttft_p95_s",
                "e2e_p95_s",
                "itl_p95_s",
                "gpu_hours",
                "node_hours",
                "cost",
                "scale_ups",
                "scale_downs",
                "flaps",
                "time_to_scale_s",
                "failed_requests",
                "completed_requests",
                "metric_error_syncs",
            ]
            .map(String::from),
        );
        m
    }

    /// Index of the objective's metric.
    pub fn objective_index(&self) -> usize {
        let name = if self.minimize == "cost" {
            "cost"
        } else {
            "gpu_hours"
        };
        self.metrics().iter().position(|m| m == name).unwrap_or(0)
    }
}

/// One run: a point under one trace and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Point index.
    pub point: usize,
    /// Trace index.
    pub trace: usize,
    /// Seed.
    pub seed: u64,
    /// Values in [`Plan::metrics`] order.
    pub values: Vec<f64>,
}

/// Mean and 95 % confidence half-width over runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Mean (NaN-valued runs left out).
    pub mean: f64,
    /// Student-t 95 % half-width (NaN with fewer than two values).
    pub ci95: f64,
    /// Values used.
    pub n: usize,
}

/// One point's aggregates.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSummary {
    /// Point index.
    pub point: usize,
    /// Runs aggregated.
    pub runs: usize,
    /// Per metric, in [`Plan::metrics`] order.
    pub stats: Vec<Stat>,
    /// Mean attainment at or above the threshold.
    pub eligible: bool,
    /// On the Pareto front of (objective, attainment).
    pub pareto: bool,
}

/// The outcome of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Per point, in point order (points with no finished run left out).
    pub points: Vec<PointSummary>,
    /// The winning point, if any is eligible.
    pub winner: Option<usize>,
}

/// One point's run over time (its first trace and first seed), in at most
/// [`report::MAX_POINTS`] buckets: the picture behind its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSeries {
    /// Point index.
    pub point: usize,
    /// Per bucket: end time (s), mean arrivals per second, and the most
    /// replicas desired, replicas ready and GPUs held in it.
    pub rows: Vec<[f64; 5]>,
}

/// Buckets a run's per-second rows `(t, arrivals, desired, ready, gpus)`.
pub fn bucket_series(point: usize, seconds: &[[f64; 5]]) -> PointSeries {
    let k = report::bucket_len(seconds.len());
    let col = |i: usize, a: Agg| {
        let v: Vec<f64> = seconds.iter().map(|r| r[i]).collect();
        report::aggregate(&v, k, a)
    };
    let cols = [
        col(0, Agg::Last),
        col(1, Agg::Mean),
        col(2, Agg::Max),
        col(3, Agg::Max),
        col(4, Agg::Max),
    ];
    let rows = (0..cols[0].len())
        .map(|j| [cols[0][j], cols[1][j], cols[2][j], cols[3][j], cols[4][j]])
        .collect();
    PointSeries { point, rows }
}

/// `series.csv`: every point's series, in point order.
pub fn series_csv(series: &[PointSeries]) -> String {
    let mut out = String::from("point,t_s,arrivals_per_s,replicas_desired,replicas_ready,gpus\n");
    for s in series {
        for r in &s.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                s.point,
                num(r[0]),
                num(r[1]),
                num(r[2]),
                num(r[3]),
                num(r[4])
            );
        }
    }
    out
}

/// Reads `series.csv` back (the file name is for errors).
pub fn parse_series(text: &str, file: &str) -> Result<Vec<PointSeries>, String> {
    let mut out: Vec<PointSeries> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != 6 {
            return Err(format!(
                "{file}:{}: {} fields, expected 6",
                i + 1,
                cells.len()
            ));
        }
        let point: usize = cells[0]
            .parse()
            .map_err(|_| format!("{file}:{}: point: {:?} is not an index", i + 1, cells[0]))?;
        let mut row = [0.0; 5];
        for (k, c) in cells[1..].iter().enumerate() {
            row[k] = c.parse().map_err(|_| {
                format!("{file}:{}: column {}: {c:?} is not a number", i + 1, k + 2)
            })?;
        }
        match out.last_mut() {
            Some(s) if s.point == point => s.rows.push(row),
            _ => out.push(PointSeries {
                point,
                rows: vec![row],
            }),
        }
    }
    Ok(out)
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `results.csv`: one row per run.
pub fn results_csv(plan: &Plan, rows: &[RunRow]) -> String {
    let mut out = String::from("point,trace,seed");
    for a in &plan.axes {
        let _ = write!(out, ",{}", csv_field(a));
    }
    for m in plan.metrics() {
        let _ = write!(out, ",{}", csv_field(&m));
    }
    out.push('\n');
    for r in rows {
        let _ = write!(out, "{},{},{}", r.point, r.trace, r.seed);
        for v in plan.points.get(r.point).into_iter().flatten() {
            let _ = write!(out, ",{}", csv_field(v));
        }
        for v in &r.values {
            let _ = write!(out, ",{}", num(*v));
        }
        out.push('\n');
    }
    out
}

/// `summary.csv`: one row per point with mean and CI of every metric.
pub fn summary_csv(plan: &Plan, o: &Outcome) -> String {
    let mut out = String::from("point");
    for a in &plan.axes {
        let _ = write!(out, ",{}", csv_field(a));
    }
    out.push_str(",runs,eligible,pareto,winner");
    for m in plan.metrics() {
        let _ = write!(out, ",{m}_mean,{m}_ci95");
    }
    out.push('\n');
    for p in &o.points {
        let _ = write!(out, "{}", p.point);
        for v in &plan.points[p.point] {
            let _ = write!(out, ",{}", csv_field(v));
        }
        let _ = write!(
            out,
            ",{},{},{},{}",
            p.runs,
            p.eligible,
            p.pareto,
            o.winner == Some(p.point)
        );
        for s in &p.stats {
            let _ = write!(out, ",{},{}", num(s.mean), num(s.ci95));
        }
        out.push('\n');
    }
    out
}

/// `pareto.csv`: the front of (objective, attainment), cheapest first.
pub fn pareto_csv(plan: &Plan, o: &Outcome) -> String {
    let obj = plan.objective_index();
    let obj_name = &plan.metrics()[obj];
    let mut out = String::from("point");
    for a in &plan.axes {
        let _ = write!(out, ",{}", csv_field(a));
    }
    let _ = writeln!(
        out,
        ",{obj_name}_mean,{obj_name}_ci95,slo_attainment_mean,slo_attainment_ci95,eligible,winner"
    );
    let mut front: Vec<&PointSummary> = o.points.iter().filter(|p| p.pareto).collect();
    front.sort_by(|a, b| {
        a.stats[obj]
            .mean
            .total_cmp(&b.stats[obj].mean)
            .then(a.point.cmp(&b.point))
    });
    for p in front {
        let _ = write!(out, "{}", p.point);
        for v in &plan.points[p.point] {
            let _ = write!(out, ",{}", csv_field(v));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{},{},{}",
            num(p.stats[obj].mean),
            num(p.stats[obj].ci95),
            num(p.stats[0].mean),
            num(p.stats[0].ci95),
            p.eligible,
            o.winner == Some(p.point)
        );
    }
    out
}

/// `mean ± ci` with `digits` decimals (`-` without a value).
pub fn cell(s: Stat, digits: usize) -> String {
    if s.mean.is_nan() {
        "-".into()
    } else if s.ci95.is_nan() {
        format!("{:.*}", digits, s.mean)
    } else {
        format!("{:.*} ± {:.*}", digits, s.mean, digits, s.ci95)
    }
}

/// The side-by-side table `compare` prints (one column per point).
pub fn compare_table(plan: &Plan, o: &Outcome) -> String {
    let metrics = plan.metrics();
    let col = |name: &str| metrics.iter().position(|m| m == name).unwrap_or(0);
    let rows: Vec<(&str, usize, usize)> = vec![
        ("SLO attainment (all SLOs)", 0, 4),
        ("TTFT p95 (s)", col("ttft_p95_s"), 3),
        ("e2e p95 (s)", col("e2e_p95_s"), 3),
        ("GPU-hours", col("gpu_hours"), 2),
        ("cost", col("cost"), 2),
        ("scale-ups", col("scale_ups"), 1),
        ("scale-downs", col("scale_downs"), 1),
        ("flaps", col("flaps"), 1),
        ("time to scale (s)", col("time_to_scale_s"), 0),
        ("failed requests", col("failed_requests"), 0),
        ("syncs with metric errors", col("metric_error_syncs"), 0),
    ];
    let mut header = vec![String::new()];
    header.extend(o.points.iter().map(|p| {
        let label = plan.points[p.point].join(", ");
        if o.winner == Some(p.point) {
            format!("{label} (winner)")
        } else {
            label
        }
    }));
    let mut table: Vec<Vec<String>> = vec![header];
    for (name, i, d) in rows {
        let mut r = vec![name.to_string()];
        r.extend(o.points.iter().map(|p| cell(p.stats[i], d)));
        table.push(r);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (k, r) in table.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            let pad = widths[c] - v.chars().count();
            if c == 0 {
                let _ = write!(out, "{v}{}", " ".repeat(pad));
            } else {
                let _ = write!(out, "  {}{v}", " ".repeat(pad));
            }
        }
        out.push('\n');
        if k == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "mean ± 95 % confidence half-width over {} run(s) per column; eligible: attainment ≥ {}",
        plan.seeds.len() * plan.traces.len().max(1),
        plan.threshold
    );
    out
}

/// An Indexed Job running a sweep in `shards` pieces, one per completion
/// index, each writing its shard under `/results/shard-<index>`.
pub fn job_manifest(
    name: &str,
    sweep_path: &str,
    shards: usize,
    image: &str,
    claim: &str,
) -> serde_json::Value {
    let stem = name.strip_prefix("sweep-").unwrap_or(name);
    let job_name: String = format!("nimscale-sweep-{stem}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(52)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name, "labels": {"app.kubernetes.io/managed-by": "nimscale"}},
        "spec": {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": shards,
            "backoffLimitPerIndex": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "sweep",
                        "image": image,
                        "workingDir": "/work",
                        "command": ["sh", "-c", format!(
                            "nimscale sweep {sweep_path} --shard \"$JOB_COMPLETION_INDEX/{shards}\" --out \"/results/shard-$JOB_COMPLETION_INDEX\" --force"
                        )],
                        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                        "volumeMounts": [{"name": "results", "mountPath": "/results"}],
                    }],
                    "volumes": [{"name": "results", "persistentVolumeClaim": {"claimName": claim}}],
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_buckets_and_reads_back() {
        let seconds: Vec<[f64; 5]> = (1..=1500)
            .map(|t| {
                let t = f64::from(t);
                [t, t % 3.0, (t / 100.0).floor(), 1.0, 2.0]
            })
            .collect();
        let s = bucket_series(4, &seconds);
        // 1500 s in buckets of 3 s: 500 rows.
        assert_eq!(s.rows.len(), 500);
        assert_eq!(s.rows[0], [3.0, 1.0, 0.0, 1.0, 2.0]);
        assert_eq!(s.rows[33], [102.0, 1.0, 1.0, 1.0, 2.0]);
        let text = series_csv(&[s.clone(), bucket_series(7, &seconds[..10])]);
        let back = parse_series(&text, "series.csv").unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], s);
        assert_eq!(back[1].rows.len(), 10);
        let e = parse_series("h\n1,2,x,4,5,6\n", "series.csv").unwrap_err();
        assert_eq!(e, "series.csv:2: column 3: \"x\" is not a number");
    }
}
