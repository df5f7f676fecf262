//! Sweep results for people and tools: `results.csv` (one row per run),
//! `summary.csv` (one row per point: mean and 95 % confidence half-width of
//! every metric), `pareto.csv` (cost vs SLO attainment, the winner marked),
//! the side-by-side table of `compare`, and the Indexed Job of `--emit-job`.
//!
//! Numbers are written with Rust's shortest round-trip formatting, so a
//! `results.csv` read back (by `merge`) gives exactly the values written and
//! everything derived from it is byte-identical.

use std::fmt::Write as _;

use crate::csv_text::{self, CsvOut};

// The shapes are plain data the runner fills: they live in core.
pub use nimscale_core::sweep::{
    Outcome, Plan, PointSeries, PointSummary, RunRow, Stat, bucket_series,
};

/// `series.csv`: every point's series, in point order.
pub fn series_csv(series: &[PointSeries]) -> String {
    let mut out = CsvOut::default();
    out.record([
        "point",
        "t_s",
        "arrivals_per_s",
        "replicas_desired",
        "replicas_ready",
        "gpus",
    ]);
    for s in series {
        for r in &s.rows {
            out.record(std::iter::once(s.point.to_string()).chain(r.iter().map(|v| num(*v))));
        }
    }
    out.finish()
}

/// Reads `series.csv` back (the file name is for errors).
pub fn parse_series(text: &str, file: &str) -> Result<Vec<PointSeries>, String> {
    let mut out: Vec<PointSeries> = Vec::new();
    for rec in csv_text::reader(text).records() {
        let cells = rec.map_err(|e| format!("{file}: {e}"))?;
        // Counting lines is linear in the file: only for a problem.
        let line = || csv_text::line_of(text, &cells);
        if cells.len() != 6 {
            return Err(format!(
                "{file}:{}: {} fields, expected 6",
                line(),
                cells.len()
            ));
        }
        let point: usize = cells[0]
            .parse()
            .map_err(|_| format!("{file}:{}: point: {:?} is not an index", line(), &cells[0]))?;
        let mut row = [0.0; 5];
        for (k, c) in cells.iter().skip(1).enumerate() {
            row[k] = c.parse().map_err(|_| {
                format!("{file}:{}: column {}: {c:?} is not a number", line(), k + 2)
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

/// `results.csv`: one row per run.
pub fn results_csv(plan: &Plan, rows: &[RunRow]) -> String {
    let mut out = CsvOut::default();
    let head = ["point", "trace", "seed"].map(String::from);
    out.record(
        head.into_iter()
            .chain(plan.axes.iter().cloned())
            .chain(plan.metrics())
            .chain(["diagnostics".to_string()]),
    );
    for r in rows {
        let ids = [r.point.to_string(), r.trace.to_string(), r.seed.to_string()];
        let labels = plan.points.get(r.point).into_iter().flatten().cloned();
        out.record(
            ids.into_iter()
                .chain(labels)
                .chain(r.values.iter().map(|v| num(*v)))
                .chain([r.diagnostics.join(" ")]),
        );
    }
    out.finish()
}

/// Reads `results.csv` back (for `merge` and `report`); every bad line
/// named, as `file:line: problem`.
pub fn parse_results(text: &str, file: &str, plan: &Plan) -> Result<Vec<RunRow>, String> {
    // At most this many problems are listed (finding a line is a count
    // from the start of the file).
    const SHOWN: usize = 20;
    let mut reader = csv_text::reader(text);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(format!("{file}: {e}")),
    };
    // Metrics are found by name, so a results.csv written before a metric
    // was added still reads (the new metric is NaN: not measured).
    let first = 3 + plan.axes.len();
    let columns: Vec<Option<usize>> = (plan.metrics().iter())
        .map(|m| {
            header
                .iter()
                .skip(first)
                .position(|h| h == m)
                .map(|i| first + i)
        })
        .collect();
    let diagnostics = header
        .iter()
        .skip(first)
        .position(|h| h == "diagnostics")
        .map(|i| first + i);
    if columns.first().is_none_or(Option::is_none) {
        return Err(format!(
            "{file}:1: the header has no slo_attainment column after the {} axis column(s)",
            plan.axes.len()
        ));
    }
    let mut rows = Vec::new();
    let mut errs = Vec::new();
    let mut more = 0usize;
    for rec in reader.records() {
        let problem = match rec {
            Err(e) => format!("{file}: {e}"),
            Ok(fields) => match run_row(&fields, plan, header.len(), &columns, diagnostics) {
                Ok(row) => {
                    rows.push(row);
                    continue;
                }
                Err(_) if errs.len() >= SHOWN => String::new(),
                Err(m) => format!("{file}:{}: {m}", csv_text::line_of(text, &fields)),
            },
        };
        if errs.len() < SHOWN {
            errs.push(problem);
        } else {
            more += 1;
        }
    }
    if more > 0 {
        errs.push(format!("{file}: {more} more problems not shown"));
    }
    match errs.len() {
        0 => Ok(rows),
        1 => Err(errs.remove(0)),
        n => Err(format!("{n} problems:\n{}", errs.join("\n"))),
    }
}

/// One `results.csv` record as a run's row: `columns` gives each metric's
/// field (`None`: not in this file).
fn run_row(
    fields: &csv::StringRecord,
    plan: &Plan,
    want: usize,
    columns: &[Option<usize>],
    diagnostics: Option<usize>,
) -> Result<RunRow, String> {
    if fields.len() != want {
        return Err(format!("{} fields, the header has {want}", fields.len()));
    }
    let (Ok(point), Ok(trace), Ok(seed)) = (
        fields[0].parse::<usize>(),
        fields[1].parse::<usize>(),
        fields[2].parse::<u64>(),
    ) else {
        return Err("point, trace and seed must be non-negative integers".into());
    };
    if point >= plan.points.len() {
        return Err(format!("point {point} is not in the sweep"));
    }
    let values: Result<Vec<f64>, _> = (columns.iter())
        .map(|c| c.map_or(Ok(f64::NAN), |i| fields[i].parse::<f64>()))
        .collect();
    let values = values.map_err(|_| "a metric value is not a number".to_string())?;
    let diagnostics = diagnostics
        .map(|i| fields[i].split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    Ok(RunRow {
        point,
        trace,
        seed,
        values,
        diagnostics,
    })
}

/// `summary.csv`: one row per point with mean and CI of every metric.
pub fn summary_csv(plan: &Plan, o: &Outcome) -> String {
    let mut out = CsvOut::default();
    let stats = plan
        .metrics()
        .into_iter()
        .flat_map(|m| [format!("{m}_mean"), format!("{m}_ci95")]);
    let flags = ["runs", "eligible", "pareto", "winner"].map(String::from);
    out.record(
        std::iter::once("point".to_string())
            .chain(plan.axes.iter().cloned())
            .chain(flags)
            .chain(stats),
    );
    for p in &o.points {
        let flags = [
            p.runs.to_string(),
            p.eligible.to_string(),
            p.pareto.to_string(),
            (o.winner == Some(p.point)).to_string(),
        ];
        out.record(
            std::iter::once(p.point.to_string())
                .chain(plan.points[p.point].iter().cloned())
                .chain(flags)
                .chain(p.stats.iter().flat_map(|s| [num(s.mean), num(s.ci95)])),
        );
    }
    out.finish()
}

/// `pareto.csv`: the front of (objective, attainment), cheapest first.
pub fn pareto_csv(plan: &Plan, o: &Outcome) -> String {
    let obj = plan.objective_index();
    let obj_name = &plan.metrics()[obj];
    let mut out = CsvOut::default();
    let tail = [
        format!("{obj_name}_mean"),
        format!("{obj_name}_ci95"),
        "slo_attainment_mean".into(),
        "slo_attainment_ci95".into(),
        "eligible".into(),
        "winner".into(),
    ];
    out.record(
        std::iter::once("point".to_string())
            .chain(plan.axes.iter().cloned())
            .chain(tail),
    );
    let mut front: Vec<&PointSummary> = o.points.iter().filter(|p| p.pareto).collect();
    front.sort_by(|a, b| {
        a.stats[obj]
            .mean
            .total_cmp(&b.stats[obj].mean)
            .then(a.point.cmp(&b.point))
    });
    for p in front {
        let tail = [
            num(p.stats[obj].mean),
            num(p.stats[obj].ci95),
            num(p.stats[0].mean),
            num(p.stats[0].ci95),
            p.eligible.to_string(),
            (o.winner == Some(p.point)).to_string(),
        ];
        out.record(
            std::iter::once(p.point.to_string())
                .chain(plan.points[p.point].iter().cloned())
                .chain(tail),
        );
    }
    out.finish()
}

/// `baseline.json`: the fewest fixed pods (no autoscaler) that meet the
/// SLO attainment threshold on the sweep's arrivals, and every count tried.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineFile {
    /// The count (`None`: not even the largest tried meets the threshold).
    pub replicas: Option<i32>,
    /// The objective's name (`gpu_hours` or `cost`).
    pub objective: String,
    /// Each count tried, fewest first.
    pub tried: Vec<BaselineTry>,
}

/// One fixed count's figures (means over the runs).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineTry {
    /// Pods.
    pub replicas: i32,
    /// Mean SLO attainment.
    pub slo_attainment: Option<f64>,
    /// Mean of the objective.
    pub objective: Option<f64>,
}

impl BaselineFile {
    /// The line `sweep` and `compare` print, with the winner's saving.
    pub fn line(&self, plan: &Plan, o: &Outcome) -> String {
        let obj = plan.objective_index();
        let Some(n) = self.replicas else {
            let most = self.tried.iter().map(|t| t.replicas).max().unwrap_or(0);
            return format!(
                "baseline: no fixed count up to {most} pods reaches SLO attainment {}",
                plan.threshold
            );
        };
        let at = self.tried.iter().find(|t| t.replicas == n);
        let fixed = at.and_then(|t| t.objective).unwrap_or(f64::NAN);
        let mut line = format!(
            "baseline: {n} fixed pods (no autoscaler) reach SLO attainment {:.4} for {} {:.3}",
            at.and_then(|t| t.slo_attainment).unwrap_or(f64::NAN),
            self.objective,
            fixed
        );
        if let Some(w) = o
            .winner
            .and_then(|w| o.points.iter().find(|p| p.point == w))
        {
            let won = w.stats[obj].mean;
            let _ = write!(
                line,
                "; the winner's {} {:.3} is {:.1} % {}",
                self.objective,
                won,
                100.0 * ((won - fixed) / fixed).abs(),
                if won <= fixed {
                    "less"
                } else {
                    "MORE: autoscaling costs more than the fixed deployment here"
                }
            );
        }
        line
    }
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

/// The side-by-side table `compare` (and `sweep`) prints: one row per
/// point, best first as the report ranks them, axes under short labels
/// (A1, A2, … with a legend below) so that 30 points stay readable in a
/// terminal; mean ± 95 % CI for attainment and the objective, means for the
/// rest.
pub fn compare_table(plan: &Plan, o: &Outcome) -> String {
    let metrics = plan.metrics();
    let col = |name: &str| metrics.iter().position(|m| m == name);
    let obj = plan.objective_index();
    // (header, metric column, decimals, with the CI)
    let mut figures: Vec<(&str, usize, usize, bool)> = vec![("SLO att.", 0, 4, true)];
    let objective_header = if metrics[obj] == "cost" {
        "cost"
    } else {
        "GPU-h"
    };
    figures.push((objective_header, obj, 2, true));
    for (h, m, d) in [
        ("TTFT p95 s", "ttft_p95_s", 3),
        ("e2e p95 s", "e2e_p95_s", 3),
        ("GPU-h", "gpu_hours", 2),
        ("peak GPUs", "peak_gpus", 1),
        ("ups", "scale_ups", 1),
        ("downs", "scale_downs", 1),
        ("flaps", "flaps", 1),
        ("failed", "failed_requests", 0),
        ("metric err", "metric_error_syncs", 0),
        ("at max s", "time_at_max_s", 0),
        ("degen.", "degenerate", 2),
    ] {
        if let Some(i) = col(m).filter(|i| *i != obj) {
            figures.push((h, i, d, false));
        }
    }
    let short = |v: &str| {
        if v.chars().count() > 24 {
            v.chars().take(23).collect::<String>() + "…"
        } else {
            v.to_string()
        }
    };
    let mut header = vec!["#".to_string()];
    header.extend((1..=plan.axes.len()).map(|i| format!("A{i}")));
    header.extend(figures.iter().map(|f| f.0.to_string()));
    header.push("eligible".into());
    let mut table: Vec<Vec<String>> = vec![header];
    for p in crate::report::sweep::ranked(plan, o) {
        let mark = if o.winner == Some(p.point) { "*" } else { "" };
        let mut r = vec![format!("{}{mark}", p.point)];
        r.extend(plan.points[p.point].iter().map(|v| short(v)));
        for &(_, i, d, ci) in &figures {
            let st = p.stats[i];
            r.push(if ci {
                cell(st, d)
            } else if st.mean.is_nan() {
                "-".into()
            } else {
                format!("{:.d$}", st.mean)
            });
        }
        r.push(if p.eligible { "yes" } else { "no" }.into());
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
            let numeric = c == 0 || c > plan.axes.len();
            match (c, numeric) {
                (0, _) => {
                    let _ = write!(out, "{}{v}", " ".repeat(pad));
                }
                (_, true) => {
                    let _ = write!(out, "  {}{v}", " ".repeat(pad));
                }
                (_, false) => {
                    let _ = write!(out, "  {v}{}", " ".repeat(pad));
                }
            }
        }
        out.push('\n');
        if k == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    for (i, a) in plan.axes.iter().enumerate() {
        let _ = writeln!(out, "A{} = {a}", i + 1);
    }
    out.push_str(&diagnostics_lines(o));
    let _ = writeln!(
        out,
        "best first; * winner; mean over {} run(s) per point (± 95 % confidence half-width for attainment and {}); eligible: attainment ≥ {}{}",
        plan.seeds.len() * plan.traces.len().max(1),
        objective_header,
        plan.threshold,
        if plan.allow_degenerate {
            ""
        } else {
            " and not degenerate"
        }
    );
    out
}

/// One line per point whose runs had diagnostics:
/// `point 3: pinned-at-max (3/3 runs), never-scaled (3/3)`.
pub fn diagnostics_lines(o: &Outcome) -> String {
    let mut out = String::new();
    for p in o.points.iter().filter(|p| !p.diagnostics.is_empty()) {
        let list: Vec<String> = (p.diagnostics.iter())
            .enumerate()
            .map(|(k, (c, n))| {
                if k == 0 {
                    format!("{c} ({n}/{} runs)", p.runs)
                } else {
                    format!("{c} ({n}/{})", p.runs)
                }
            })
            .collect();
        let _ = writeln!(out, "point {}: {}", p.point, list.join(", "));
    }
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
    input_claim: Option<&str>,
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
    // The shards write to the results claim; the sweep and its files come
    // from the image's /work, or from an input claim mounted there.
    let mut mounts = vec![serde_json::json!({"name": "results", "mountPath": "/results"})];
    let mut volumes =
        vec![serde_json::json!({"name": "results", "persistentVolumeClaim": {"claimName": claim}})];
    if let Some(input) = input_claim {
        mounts.push(serde_json::json!({"name": "input", "mountPath": "/work", "readOnly": true}));
        volumes.push(serde_json::json!({
            "name": "input",
            "persistentVolumeClaim": {"claimName": input, "readOnly": true}
        }));
    }
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
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
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

    #[test]
    fn results_read_back_whatever_the_labels_hold() {
        // An explicit behavior axis value is a JSON label with commas and
        // quotes; a string axis may hold a line break. The line-based
        // reader split such a row in two.
        let plan = Plan {
            name: "s".into(),
            axes: vec!["behavior".into(), "note".into()],
            points: vec![vec![
                r#"{"scaleUp":{"policies":[{"type":"Pods","value":4}]}}"#.into(),
                "two\nlines, \"quoted\"".into(),
            ]],
            seeds: vec![1],
            traces: Vec::new(),
            slos: vec!["ttft, p95".into()],
            minimize: "gpuHours".into(),
            threshold: 0.95,
            allow_degenerate: false,
            presets: Default::default(),
        };
        let n = plan.metrics().len();
        let rows = vec![RunRow {
            point: 0,
            trace: 0,
            seed: 1,
            values: (0..n).map(|i| i as f64 + 0.5).collect(),
            diagnostics: vec!["pinned-at-max".into(), "never-scaled".into()],
        }];
        let text = results_csv(&plan, &rows);
        assert_eq!(parse_results(&text, "results.csv", &plan), Ok(rows));
        let e =
            parse_results(&text.replace("\n0,0,1,", "\n0,0,"), "results.csv", &plan).unwrap_err();
        assert!(e.contains("fields, the header has"), "{e}");
        // An older file without the newer metrics still reads: NaN there.
        let header_end = text.find('\n').unwrap();
        let old = text[..header_end].replace(",degenerate,diagnostics", "")
            + &text[header_end..].replace(
                &format!(",{},pinned-at-max never-scaled\n", n as f64 - 0.5),
                "\n",
            );
        let back = parse_results(&old, "results.csv", &plan).unwrap();
        assert!(back[0].values.last().unwrap().is_nan());
        assert!(back[0].diagnostics.is_empty());
    }
}
