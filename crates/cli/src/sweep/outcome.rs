//! What a finished sweep, compare or merge says: the winner's lines and
//! file, the derived files, the fixed-replicas baseline, the table or the
//! `--json` outcome, and the `--strict` status.

use super::*;

pub(super) fn winner_lines(plan: &Plan, o: &Outcome, p: usize) -> Vec<String> {
    let s = o.points.iter().find(|x| x.point == p);
    let metrics = plan.metrics();
    let obj = plan.objective_index();
    let mut lines = vec![format!(
        "sweep {}: point {p} ({}) of {}",
        plan.name,
        plan.axes
            .iter()
            .zip(&plan.points[p])
            .map(|(a, v)| format!("{a}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        plan.points.len()
    )];
    if let Some(s) = s {
        lines.push(format!(
            "SLO attainment {:.4} ± {:.4} (threshold {}), {} {:.3} ± {:.3} over {} run(s)",
            s.stats[0].mean,
            s.stats[0].ci95,
            plan.threshold,
            metrics[obj],
            s.stats[obj].mean,
            s.stats[obj].ci95,
            s.runs
        ));
    }
    lines
}

pub(super) fn winner_text(sw: &Sweep, o: &Outcome, p: usize) -> String {
    sweep::winner_yaml(
        &sw.plan,
        &winner_lines(&sw.plan, o, p),
        &sw.documents[p],
        sw.adapter_config_map.as_deref(),
    )
}

pub(super) fn derived(
    plan: &Plan,
    rows: &[RunRow],
    series: &[PointSeries],
    winner: impl Fn(&Outcome, usize) -> Option<String>,
) -> (Outcome, Vec<(&'static str, String)>) {
    let o = stats::outcome(plan, rows);
    let plan_json = serde_json::to_string_pretty(plan).unwrap_or_default() + "\n";
    let mut files = vec![
        ("plan.json", plan_json),
        ("results.csv", out::results_csv(plan, rows)),
        ("summary.csv", out::summary_csv(plan, &o)),
        ("pareto.csv", out::pareto_csv(plan, &o)),
    ];
    if !series.is_empty() {
        files.push(("series.csv", out::series_csv(series)));
    }
    if let Some(w) = o.winner.and_then(|p| winner(&o, p)) {
        files.push(("winner.yaml", w));
    }
    (o, files)
}

/// The fixed-replicas baseline of a finished run, as `baseline.json`.
pub(super) fn baseline_file(sw: &sweep::Sweep, b: &sweep::baseline::Baseline) -> out::BaselineFile {
    let obj = sw.plan.objective_index();
    let num = |v: f64| (!v.is_nan()).then_some(v);
    out::BaselineFile {
        replicas: b.replicas,
        objective: sw.plan.metrics()[obj].clone(),
        tried: (b.tried.iter())
            .map(|(n, stats)| out::BaselineTry {
                replicas: *n,
                slo_attainment: num(stats[0].mean),
                objective: num(stats[obj].mean),
            })
            .collect(),
    }
}

/// The `baseline.json` text among a run's files, if it has one.
pub(super) fn baseline_text<'a>(files: &'a [(&'static str, String)]) -> Option<&'a str> {
    files
        .iter()
        .find(|(n, _)| *n == "baseline.json")
        .map(|(_, t)| t.as_str())
}

/// Adds `baseline.json` to the files of a complete run; returns the line to
/// print after the table.
pub(super) fn with_baseline(
    sw: &sweep::Sweep,
    o: &Outcome,
    baseline: Option<&sweep::baseline::Baseline>,
    files: &mut Vec<(&'static str, String)>,
) -> Option<String> {
    let b = baseline_file(sw, baseline?);
    let text = serde_json::to_string_pretty(&b).unwrap_or_default() + "\n";
    files.push(("baseline.json", text));
    Some(b.line(&sw.plan, o))
}

/// The outcome as `--json` prints it.
pub(super) fn outcome_json(
    plan: &Plan,
    o: &Outcome,
    baseline: Option<&str>,
    dir: Option<&Path>,
    complete: bool,
) -> serde_json::Value {
    use serde_json::json;
    let num = |v: f64| {
        if v.is_finite() {
            json!(v)
        } else {
            serde_json::Value::Null
        }
    };
    let metrics = plan.metrics();
    let points: Vec<serde_json::Value> = nimscale_output::report::sweep::ranked(plan, o)
        .iter()
        .map(|p| {
            let axes: serde_json::Map<String, serde_json::Value> = (plan.axes.iter())
                .zip(&plan.points[p.point])
                .map(|(a, v)| (a.clone(), json!(v)))
                .collect();
            let stats: serde_json::Map<String, serde_json::Value> = (metrics.iter())
                .zip(&p.stats)
                .map(|(m, st)| {
                    (
                        m.clone(),
                        json!({"mean": num(st.mean), "ci95": num(st.ci95)}),
                    )
                })
                .collect();
            let diagnostics: Vec<serde_json::Value> = (p.diagnostics.iter())
                .map(|(c, n)| json!({"code": c, "runs": n}))
                .collect();
            json!({
                "point": p.point,
                "axes": axes,
                "runs": p.runs,
                "eligible": p.eligible,
                "pareto": p.pareto,
                "winner": o.winner == Some(p.point),
                "stats": stats,
                "diagnostics": diagnostics,
            })
        })
        .collect();
    json!({
        "sweep": plan.name,
        "objective": metrics[plan.objective_index()],
        "threshold": plan.threshold,
        "points": points,
        "winner": o.winner,
        "winnerSummary": o.winner.map(|p| winner_lines(plan, o, p)),
        "baseline": baseline.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()),
        "complete": complete,
        "outDir": dir.map(|d| d.display().to_string()),
    })
}

pub(super) fn report(plan: &Plan, o: &Outcome, dir: &Path, complete: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", out::compare_table(plan, o))?;
    match o.winner {
        Some(p) => writeln!(stdout, "winner: {}", winner_lines(plan, o, p).join("; "))?,
        None => writeln!(
            stdout,
            "no point reaches SLO attainment {} (no winner.yaml)",
            plan.threshold
        )?,
    }
    if !complete {
        writeln!(
            stdout,
            "interrupted: only points whose runs all finished were kept"
        )?;
    }
    writeln!(stdout, "wrote {}", dir.display())?;
    Ok(())
}

/// `--strict`: status 4 when a point has a degenerate run.
pub(super) fn strict_status(strict: bool, plan: &Plan, o: &Outcome) -> Option<ExitCode> {
    let d = plan.metrics().iter().position(|m| m == "degenerate")?;
    let bad: Vec<usize> = (o.points.iter())
        .filter(|p| p.stats[d].mean > 0.0)
        .map(|p| p.point)
        .collect();
    if !strict || bad.is_empty() {
        return None;
    }
    errln!(
        "error: --strict: point(s) {bad:?} have degenerate runs (see the report or each run's diagnostics)"
    );
    Some(ExitCode::from(4))
}

/// How a finished sweep or compare ends: where its files go (`dir`, none
/// for a compare without `--out`) and how it reports.
pub(super) struct Ending<'a> {
    pub dir: Option<&'a Path>,
    pub force: bool,
    pub kind: &'static str,
    pub json: bool,
    pub strict: bool,
}

/// Writes the files (when there is a directory), prints the outcome (the
/// table with the winner and baseline lines, or `--json`) and gives the
/// exit status (`--strict`, then Ctrl-C).
pub(super) fn conclude(
    plan: &Plan,
    o: &Outcome,
    files: &[(&'static str, String)],
    baseline: Option<String>,
    complete: bool,
    e: &Ending<'_>,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = e.dir {
        outdir::write_dir(dir, files, e.force, e.kind)?;
    }
    if e.json {
        let doc = outcome_json(plan, o, baseline_text(files), e.dir, complete);
        writeln!(std::io::stdout().lock(), "{doc}")?;
    } else if let Some(dir) = e.dir {
        report(plan, o, dir, complete)?;
        if let Some(line) = &baseline {
            writeln!(std::io::stdout().lock(), "{line}")?;
        }
    } else {
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{}", out::compare_table(plan, o))?;
        if let Some(p) = o.winner {
            writeln!(stdout, "winner: {}", winner_lines(plan, o, p).join("; "))?;
        }
        if let Some(line) = &baseline {
            writeln!(stdout, "{line}")?;
        }
    }
    if let Some(code) = strict_status(e.strict, plan, o) {
        return Ok(code);
    }
    match e.dir {
        Some(dir) => interrupted(complete, dir),
        None if complete => Ok(ExitCode::SUCCESS),
        None => Err(anyhow::Error::new(fail::Interrupted(
            "Ctrl-C: the table holds only the points whose runs all finished".into(),
        ))),
    }
}
