//! `report`: read a `simulate` or `sweep`/`compare`/`merge` output
//! directory and write its report (HTML, Markdown with PNG charts, or the
//! PNG charts alone) into a new directory, atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nimscale_output::report::{self, Format, Report, data};
use nimscale_output::sweep::Plan;
use nimscale_runner::sweep::stats;

use crate::{errln, fail, outdir};

#[derive(clap::Args)]
pub struct ReportCmd {
    /// The output directory of `simulate`, `sweep`, `compare` or `merge`.
    pub dir: PathBuf,
    /// Formats, comma-separated: html, md, png.
    #[arg(long, default_value = "html", value_delimiter = ',')]
    pub format: Vec<String>,
    /// Output directory (default DIR/report).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier nimscale report at the output path (never
    /// anything else).
    #[arg(long)]
    pub force: bool,
    /// Print the files written and the chart count as JSON.
    #[arg(long)]
    pub json: bool,
}

fn read(dir: &Path, name: &str) -> anyhow::Result<(String, String)> {
    let path = dir.join(name);
    let shown = path.display().to_string();
    let text = fail::read_input(&path)?;
    Ok((shown, text))
}

/// What the directory holds, as a report; `Err(text)` for a problem in it
/// (exit 2).
fn load(dir: &Path) -> anyhow::Result<Result<Report, String>> {
    if dir.join("summary.json").is_file() {
        let (sn, st) = read(dir, "summary.json")?;
        let (tn, tt) = read(dir, "timeseries.csv")?;
        let (dn, dt) = read(dir, "decisions.jsonl")?;
        let files = data::RunFiles {
            summary: (&sn, &st),
            timeseries: (&tn, &tt),
            decisions: (&dn, &dt),
        };
        return Ok(data::parse_run(&files)
            .map(|run| report::run::report(&run))
            .map_err(|e| e.to_string()));
    }
    let plan_file = ["plan.json", "shard.json"]
        .into_iter()
        .find(|f| dir.join(f).is_file());
    let Some(plan_file) = plan_file else {
        return Ok(Err(format!(
            "{}: neither a simulate output (summary.json) nor a sweep output (plan.json and results.csv)",
            dir.display()
        )));
    };
    let (pn, pt) = read(dir, plan_file)?;
    let value: serde_json::Value = match serde_json::from_str(&pt) {
        Ok(v) => v,
        Err(e) => return Ok(Err(format!("{pn}:{}: {e}", e.line()))),
    };
    let plan_value = if plan_file == "shard.json" {
        value["plan"].clone()
    } else {
        value
    };
    let plan: Plan = match serde_json::from_value(plan_value) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("{pn}: {e}"))),
    };
    let (rn, rt) = read(dir, "results.csv")?;
    let rows = match nimscale_output::sweep::parse_results(&rt, &rn, &plan) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let o = stats::outcome(&plan, &rows);
    let series = if dir.join("series.csv").is_file() {
        let (sn, st) = read(dir, "series.csv")?;
        match nimscale_output::sweep::parse_series(&st, &sn) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        }
    } else {
        Vec::new()
    };
    let baseline = if dir.join("baseline.json").is_file() {
        let (bn, bt) = read(dir, "baseline.json")?;
        match serde_json::from_str::<nimscale_output::sweep::BaselineFile>(&bt) {
            Ok(b) => Some(b),
            Err(e) => return Ok(Err(format!("{bn}: {e}"))),
        }
    } else {
        None
    };
    // A `plan` output: its pick is the winner (the race's, not the
    // cheapest mean over unequal seed counts), and its card comes first.
    let rec = if dir.join("recommendation.json").is_file() {
        let (rn, rt) = read(dir, "recommendation.json")?;
        match serde_json::from_str::<serde_json::Value>(&rt) {
            Ok(v) => Some(v),
            Err(e) => return Ok(Err(format!("{rn}:{}: {e}", e.line()))),
        }
    } else {
        None
    };
    let mut o = o;
    if let Some(r) = &rec {
        o.winner = r["winner"]["point"].as_u64().map(|p| p as usize);
    }
    let mut rep = report::sweep::report(&plan, &o, &series, baseline.as_ref());
    if let Some(r) = &rec {
        rep.title = format!("nimscale plan report: {}", plan.name);
        rep.sections.insert(0, report::plan::section(r));
    }
    Ok(Ok(rep))
}

/// What `report` is asked to do.
pub struct ReportArgs {
    pub dir: PathBuf,
    pub formats: Vec<String>,
    pub out: Option<PathBuf>,
    pub force: bool,
    pub json: bool,
}

pub fn run_report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let mut formats = Vec::new();
    for f in &a.formats {
        match Format::parse(f) {
            Some(x) if !formats.contains(&x) => formats.push(x),
            Some(_) => {}
            None => {
                errln!("error: --format {f:?}: expected html, md or png");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let rep = match load(&a.dir)? {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let files = match report::render(&rep, &formats) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: drawing the report: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let out = a.out.unwrap_or_else(|| a.dir.join("report"));
    outdir::write_dir(&out, &files, a.force, "report")?;
    // Written, not `println!`ed: a closed pipe (`nimscale report … | head`)
    // is an I/O error that `main` takes as success, not a panic.
    let mut stdout = std::io::stdout().lock();
    let charts = rep.charts().count();
    if a.json {
        let paths: Vec<String> = (files.iter())
            .map(|(n, _)| out.join(n).display().to_string())
            .collect();
        let doc = serde_json::json!({"outDir": out.display().to_string(), "charts": charts, "files": paths});
        writeln!(stdout, "{doc}")?;
        return Ok(ExitCode::SUCCESS);
    }
    for (name, _) in files.iter().filter(|(n, _)| !n.ends_with(".png")) {
        writeln!(
            stdout,
            "wrote {} ({charts} charts)",
            out.join(name).display()
        )?;
    }
    let pngs = files.iter().filter(|(n, _)| n.ends_with(".png")).count();
    if pngs > 0 {
        writeln!(stdout, "wrote {pngs} PNG charts in {}", out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
