//! `nimscale simulate`: load, run with a progress bar, write the run
//! directory atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use nimscale_core::sim::config::Recording;
use nimscale_core::time::SimDuration;
use nimscale_output::simulate::{
    RunInfo, decisions_jsonl, human_summary, summary_json, timeseries_csv,
};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files, Scenario};

/// Files named by a scenario, relative to the scenario's folder.
pub struct RelativeFiles {
    /// The scenario's folder.
    pub base: PathBuf,
}

impl Files for RelativeFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        let p = self.base.join(path);
        let name = p.display().to_string();
        std::fs::read(&p)
            .map(|b| (name.clone(), b))
            .map_err(|e| format!("cannot read {name}: {e}"))
    }
}

/// The built-in catalog plus `catalogs`; `Ok(Err(text))` is a user error.
pub fn catalog(catalogs: &[PathBuf]) -> anyhow::Result<Result<Catalog, String>> {
    let mut cat = Catalog::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in catalogs {
        let n = f.display().to_string();
        let t = std::fs::read_to_string(f).with_context(|| format!("reading {n}"))?;
        if let Err(e) = cat.extend(&t, &n) {
            return Ok(Err(e.to_string()));
        }
    }
    Ok(Ok(cat))
}

/// Loads a scenario file with the built-in catalog plus `catalogs`.
/// `Ok(Err(text))` is a user error to print with exit code 2.
pub fn load(path: &Path, catalogs: &[PathBuf]) -> anyhow::Result<Result<Scenario, String>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let cat = match catalog(catalogs)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let files = RelativeFiles {
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    Ok(scenario::load(&text, &name, &files, &cat).map_err(|e| e.to_string()))
}

/// Writes `files` into `dir` as one step: a sibling temporary directory is
/// filled, then renamed into place. An existing `dir` is kept unless
/// `force`; with `force` it is replaced only after the new run is complete.
pub fn write_run<N: AsRef<str>, C: AsRef<[u8]>>(
    dir: &Path,
    files: &[(N, C)],
    force: bool,
) -> anyhow::Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let leaf = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let tmp = parent.join(format!(".{leaf}.nimscale-tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    for (name, content) in files {
        let path = tmp.join(name.as_ref());
        std::fs::write(&path, content.as_ref())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if dir.exists() {
        if !force {
            let _ = std::fs::remove_dir_all(&tmp);
            anyhow::bail!("{} exists (use --force to replace it)", dir.display());
        }
        let old = parent.join(format!(".{leaf}.nimscale-old-{}", std::process::id()));
        std::fs::rename(dir, &old).with_context(|| format!("moving {} aside", dir.display()))?;
        std::fs::rename(&tmp, dir).with_context(|| format!("writing {}", dir.display()))?;
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    } else {
        std::fs::rename(&tmp, dir).with_context(|| format!("writing {}", dir.display()))?;
    }
    Ok(())
}

/// The run information printed in every output.
pub fn info(sc: &Scenario, file: &Path, seed: u64) -> RunInfo {
    let ns = &sc.admitted.nimservice.metadata;
    RunInfo {
        scenario: sc.name.clone(),
        file: file.display().to_string(),
        description: sc.description.clone(),
        seed,
        nimservice: format!(
            "{}/{}",
            ns.namespace.as_deref().unwrap_or("default"),
            ns.name.as_deref().unwrap_or_default()
        ),
        gpu: sc.resolved.deployment.gpu.name.clone(),
        model: sc.resolved.deployment.model.name.clone(),
        gpus_per_pod: sc.resolved.deployment.tp,
        metrics_source: match &sc.prometheus {
            None => "direct (exact pod values; no scrape or query lag)".into(),
            Some(p) => format!(
                "prometheus {} (scrape every {} s, lookback {} s; prometheus-adapter relist every {} s, {} discovery; metrics-server resolution {} s)",
                match p.eval.version {
                    nimscale_core::metrics::promql::PromVersion::V2 => "2.x",
                    nimscale_core::metrics::promql::PromVersion::V3 => "3.x",
                },
                p.scrape.interval_ms as f64 / 1000.0,
                p.eval.lookback_ms as f64 / 1000.0,
                p.relist.as_secs_f64(),
                if p.warm_discovery { "warm" } else { "cold" },
                p.metrics_server.resolution.as_secs_f64()
            ),
        },
        warnings: sc.warnings.clone(),
    }
}

/// `simulate`'s options.
pub struct Options {
    pub out: Option<PathBuf>,
    pub force: bool,
    pub seed: Option<u64>,
    pub metrics_out: Option<PathBuf>,
    pub metrics_epoch: i64,
}

pub fn run(path: &Path, opts: Options, catalogs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let Options {
        out,
        force,
        seed,
        metrics_out,
        metrics_epoch,
    } = opts;
    let mut sc = match load(path, catalogs)? {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(m) = &metrics_out {
        let Some(p) = sc.prometheus.as_mut() else {
            eprintln!(
                "error: --metrics-out needs the Prometheus path (the scenario sets metrics.source: direct)"
            );
            return Ok(ExitCode::from(2));
        };
        p.export_series = true;
        if m.exists() && !force {
            eprintln!("error: {} exists; use --force to replace it", m.display());
            return Ok(ExitCode::from(2));
        }
    }
    let dir = out.unwrap_or_else(|| Path::new("reports").join(&sc.name));
    if dir.exists() && !force {
        eprintln!(
            "error: {} exists (an earlier run); use --out DIR or --force to replace it",
            dir.display()
        );
        return Ok(ExitCode::from(2));
    }
    let seed = seed.unwrap_or(sc.seed);
    let mut sim = sc.simulation(
        seed,
        Recording {
            timeseries: true,
            decisions: true,
        },
    );
    let started = Instant::now();
    let end = sim.end();
    let total = end.as_micros().max(1);
    let step = SimDuration::from_micros((total / 200).max(1_000_000));
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut next = nimscale_core::time::SimTime::ZERO;
    while next < end {
        next = (next + step).min(end);
        sim.run_until(next);
        if bar.is_none() && started.elapsed() > Duration::from_secs(1) {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(100),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {percent:>3}% (ETA {eta})",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_message(format!("simulating {}", sc.name));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position((next.as_micros() * 100 / total) as u64);
        }
    }
    let res = sim.finish();
    let wall = started.elapsed();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let info = info(&sc, path, seed);
    let summary = summary_json(&info, &res);
    let files = [
        ("timeseries.csv", timeseries_csv(&res)),
        ("decisions.jsonl", decisions_jsonl(&res)),
        (
            "summary.json",
            serde_json::to_string_pretty(&summary).context("encoding summary.json")? + "\n",
        ),
    ];
    if let Err(e) = write_run(&dir, &files, force) {
        eprintln!("error: {e:#}");
        return Ok(ExitCode::from(2));
    }
    if let (Some(m), Some(db)) = (&metrics_out, &res.series) {
        let text = nimscale_output::openmetrics::render(
            db,
            &res.columns,
            &res.syncs,
            metrics_epoch.saturating_mul(1000),
        );
        let tmp = m.with_extension("nimscale-tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, m).with_context(|| format!("writing {}", m.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", human_summary(&info, &res))?;
    writeln!(
        stdout,
        "wrote {} ({} simulated requests in {:.2} s wall)",
        dir.display(),
        res.summary.requests.arrived,
        wall.as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}
