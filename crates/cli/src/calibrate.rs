//! `nimscale calibrate`: fits the catalog parameters a user's own benchmark
//! files determine and writes them as a catalog file for `--catalog`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use nimscale_runner::calibrate::{self, Measured, Params};

use crate::engine::{DeploymentArgs, ProfileArgs, resolve_engine};
use crate::{errln, fail, outdir};

#[derive(clap::Args)]
pub struct CalibrateCmd {
    /// Benchmark files: AIPerf/genai-perf profile_export JSON or CSV, vLLM
    /// benchmark_serving result JSON (one operating point each).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub dep: DeploymentArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Concurrency of files that do not state it (CSV summaries outside
    /// genai-perf's `…-concurrencyN/` directories).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Where to write the calibrated catalog (a new file; an existing one
    /// only with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing file at --out.
    #[arg(long)]
    pub force: bool,
    /// Coordinate-descent rounds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub rounds: u32,
}

fn table(points: &[Measured], errs: &[[f64; 3]]) -> String {
    let mut s = format!(
        "{:<40} {:>6} {:>6} {:>6} {:>9} {:>9} {:>9}\n",
        "file", "c", "isl", "osl", "TTFT err", "ITL err", "tput err"
    );
    for (m, e) in points.iter().zip(errs) {
        let name: String = m
            .file
            .chars()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        s += &format!(
            "{name:<40} {:>6} {:>6} {:>6} {:>+8.1}% {:>+8.1}% {:>+8.1}%\n",
            m.concurrency,
            m.isl,
            m.osl,
            e[0] * 100.0,
            e[1] * 100.0,
            e[2] * 100.0
        );
    }
    let all: Vec<f64> = errs
        .iter()
        .flat_map(|e| e.iter().map(|x| x.abs()))
        .collect();
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let max = all.iter().copied().fold(0.0, f64::max);
    s += &format!(
        "mean |error| {:.1} %, max {:.1} % (errors beyond 30 % count as outliers: they do not steer the fit)\n",
        mean * 100.0,
        max * 100.0
    );
    s
}

pub fn run_calibrate(cmd: CalibrateCmd) -> anyhow::Result<ExitCode> {
    let base = match resolve_engine(&cmd.dep, cmd.profile.profile())? {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(e) = calibrate::catalog_shape(&base.deployment.model) {
        errln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let mut points = Vec::new();
    let mut bad = false;
    for f in &cmd.files {
        let name = f.display().to_string();
        let text = fail::read_input(f)?;
        match calibrate::read(&text, &name, cmd.concurrency) {
            Ok(m) => points.push(m),
            Err(e) => {
                errln!("error: {e}");
                bad = true;
            }
        }
    }
    if bad {
        return Ok(ExitCode::from(2));
    }
    points.sort_by_key(|m| (m.concurrency, m.isl, m.osl));
    outdir::check_file(&cmd.out, cmd.force, outdir::CALIBRATED_CATALOG)?;
    let mut stdout = std::io::stdout().lock();
    let before = calibrate::errors(&base, &points);
    writeln!(
        stdout,
        "with the catalog's parameters ({:?}):",
        Params::of(&base)
    )?;
    write!(stdout, "{}", table(&points, &before))?;
    let p = calibrate::fit(&base, &points, cmd.rounds as usize);
    let after = calibrate::errors(&p.apply(&base), &points);
    writeln!(stdout, "fitted ({p:?}):")?;
    write!(stdout, "{}", table(&points, &after))?;
    let header = vec![format!(
        "Calibrated by nimscale {} for {} on {} ({}, TP {}) from:",
        env!("CARGO_PKG_VERSION"),
        cmd.dep.model_key(),
        cmd.dep.gpu_key(),
        cmd.dep.precision_key(),
        cmd.dep.tp_value()
    )]
    .into_iter()
    .chain(
        points
            .iter()
            .map(|m| format!("  {} (concurrency {})", m.file, m.concurrency)),
    )
    .chain([
        "Fitted: stepOverheadMs, stepOverheadPerSeqUs, frontEnd.outputTokenUs and".to_string(),
        "frontEnd.requestUs, and the GPU's efficiency at this precision (cmpBf16 or".to_string(),
        "cmpFp8); everything else is the catalog's.".to_string(),
        "Use with --catalog FILE.".to_string(),
    ])
    .collect::<Vec<_>>();
    let text = calibrate::catalog_yaml(&base, &p, &header).map_err(anyhow::Error::msg)?;
    outdir::write_file(
        &cmd.out,
        text.as_bytes(),
        cmd.force,
        outdir::CALIBRATED_CATALOG,
    )?;
    writeln!(stdout, "wrote {}", cmd.out.display())?;
    Ok(ExitCode::SUCCESS)
}
