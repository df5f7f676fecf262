//! `nimscale simulate`: load, run with a progress bar, write the run
//! directory atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::{errln, fail, outdir};
use nimscale_core::sim::config::Recording;
use nimscale_core::sim::record::{SecondRow, SyncRecord};
use nimscale_core::time::SimDuration;
use nimscale_output::simulate::{
    RunInfo, decisions_lines, human_summary, summary_json, timeseries_header, timeseries_rows,
};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files, Scenario};

#[derive(clap::Args)]
pub struct SimulateCmd {
    /// A scenario file (see `nimscale schema`).
    pub scenario: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier nimscale output at the output path (a directory
    /// nimscale did not write is never replaced).
    #[arg(long)]
    pub force: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Extra GPU/model catalog files.
    #[arg(long)]
    pub catalog: Vec<PathBuf>,
    /// Also write every series Prometheus stored (and what the HPA
    /// received) as OpenMetrics text with timestamps, for
    /// `promtool tsdb create-blocks-from openmetrics` or `nimscale promql`.
    #[arg(long)]
    pub metrics_out: Option<PathBuf>,
    /// Unix time (seconds) the simulation's time zero stands for in
    /// --metrics-out (default 2026-01-01T00:00:00Z).
    #[arg(long, default_value_t = 1_767_225_600, conflicts_with = "start")]
    pub metrics_epoch: i64,
    /// The wall-clock instant (RFC 3339, e.g. 2026-03-02T08:00:00Z) the
    /// simulation's time zero stands for: --metrics-out's timestamps, and a
    /// `unix_s` column in timeseries.csv.
    #[arg(long)]
    pub start: Option<String>,
    /// Exit with status 4 when the run has an error-severity diagnostic
    /// (its outputs are written all the same).
    #[arg(long)]
    pub strict: bool,
    /// Print the run's summary as JSON (`summary.json`'s object with
    /// `outDir` added) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

/// Files named by a scenario, relative to the scenario's folder.
pub struct RelativeFiles {
    /// The scenario's folder.
    pub base: PathBuf,
}

impl Files for RelativeFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        let p = self.base.join(path);
        fail::read_bytes(&p).map(|b| (p.display().to_string(), b))
    }
}

/// The built-in catalog plus `catalogs`; `Ok(Err(text))` is a user error.
pub fn catalog(catalogs: &[PathBuf]) -> anyhow::Result<Result<Catalog, String>> {
    let mut cat = Catalog::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in catalogs {
        let n = f.display().to_string();
        let t = fail::read_input(f)?;
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
    let text = fail::read_input(path)?;
    let cat = match catalog(catalogs)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let files = RelativeFiles {
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    Ok(scenario::load(&text, &name, &files, &cat).map_err(|e| e.to_string()))
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
        autoscaler: match (&sc.hpa, &sc.schedule) {
            (Some(_), _) => "HPA",
            (None, Some(_)) => "scheduled scaling",
            (None, None) => "fixed replicas (no autoscaler)",
        }
        .into(),
    }
}

/// What `simulate` prints: `summary.json`'s object with `outDir` (`json`),
/// or the human summary and where it wrote.
fn print_outcome(
    json: bool,
    summary: serde_json::Value,
    info: &RunInfo,
    res: &nimscale_core::sim::record::SimResult,
    dir: &Path,
    wall: Duration,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        let mut doc = summary;
        if let serde_json::Value::Object(m) = &mut doc {
            m.insert(
                "outDir".into(),
                serde_json::json!(dir.display().to_string()),
            );
        }
        writeln!(stdout, "{doc}")?;
    } else {
        write!(stdout, "{}", human_summary(info, res))?;
        writeln!(
            stdout,
            "wrote {} ({} simulated requests in {:.2} s wall)",
            dir.display(),
            res.summary.requests.arrived,
            wall.as_secs_f64()
        )?;
    }
    Ok(())
}

/// `--metrics-out`'s text: the scraped series, what the HPA received and
/// the kube-state-metrics series, dated from `epoch` (Unix seconds).
fn metrics_text(
    sc: &nimscale_runner::scenario::Scenario,
    res: &nimscale_core::sim::record::SimResult,
    db: &nimscale_core::metrics::tsdb::Tsdb,
    syncs: &[SyncRecord],
    kube_points: Vec<nimscale_output::openmetrics::KubePoint>,
    epoch: i64,
) -> String {
    let kube = nimscale_output::openmetrics::Kube {
        namespace: sc.template.namespace.clone(),
        deployment: sc.template.name.clone(),
        hpa: (sc.hpa.as_ref()).map(|h| (h.spec.min_replicas, h.spec.max_replicas)),
        points: kube_points,
        pods: res.summary.startups.clone(),
    };
    nimscale_output::openmetrics::render(db, &res.columns, syncs, &kube, epoch.saturating_mul(1000))
}

/// `simulate`'s options.
pub struct Options {
    pub out: Option<PathBuf>,
    pub force: bool,
    pub seed: Option<u64>,
    pub metrics_out: Option<PathBuf>,
    pub metrics_epoch: i64,
    pub start: Option<String>,
    pub strict: bool,
    pub json: bool,
    pub limits: nimscale_runner::limits::Limits,
}

fn create(dir: &Path, name: &str) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let p = dir.join(name);
    let f = std::fs::File::create_new(&p).with_context(|| format!("creating {}", p.display()))?;
    Ok(std::io::BufWriter::new(f))
}

/// Where a run's rows and decisions go as it runs.
struct Sink {
    columns: Vec<nimscale_core::sim::record::MetricColumn>,
    timeseries: std::io::BufWriter<std::fs::File>,
    decisions: std::io::BufWriter<std::fs::File>,
    text: String,
    /// `--start` as Unix seconds: `timeseries.csv`'s `unix_s` column.
    epoch: Option<i64>,
    /// The syncs, kept only for `--metrics-out` (which needs them all).
    kept_syncs: Option<Vec<SyncRecord>>,
    /// With `--metrics-out`: the Deployment's state every 15 s (spec,
    /// pods, ready) for the kube-state-metrics series.
    kept_kube: Option<Vec<nimscale_output::openmetrics::KubePoint>>,
}

impl Sink {
    fn put(&mut self, rows: Vec<SecondRow>, syncs: Vec<SyncRecord>) -> anyhow::Result<()> {
        self.text.clear();
        timeseries_rows(&self.columns, &rows, self.epoch, &mut self.text);
        self.timeseries.write_all(self.text.as_bytes())?;
        self.text.clear();
        decisions_lines(&self.columns, &syncs, &mut self.text);
        self.decisions.write_all(self.text.as_bytes())?;
        if let Some(k) = &mut self.kept_syncs {
            k.extend(syncs);
        }
        if let Some(k) = &mut self.kept_kube {
            let step = nimscale_output::openmetrics::Kube::STEP_S;
            k.extend(
                (rows.iter())
                    .filter(|r| r.t % step == 0)
                    .map(|r| (r.t, r.desired, r.current, r.ready)),
            );
        }
        Ok(())
    }

    /// Flushes both files to disk; gives back the kept syncs and
    /// Deployment states.
    fn finish(
        self,
    ) -> anyhow::Result<(
        Vec<SyncRecord>,
        Vec<nimscale_output::openmetrics::KubePoint>,
    )> {
        for w in [self.timeseries, self.decisions] {
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        Ok((
            self.kept_syncs.unwrap_or_default(),
            self.kept_kube.unwrap_or_default(),
        ))
    }
}

/// Runs `sim` to its end in chunks, writing rows and decisions to `sink`
/// after each, with a progress bar on stderr after a second of wall time.
/// `Some(t)`: Ctrl-C stopped it at `t`.
fn drive(
    sim: &mut nimscale_core::sim::world::Simulation<nimscale_core::engine::Roofline>,
    sink: &mut Sink,
    name: &str,
) -> anyhow::Result<Option<nimscale_core::time::SimTime>> {
    let started = Instant::now();
    let end = sim.end();
    let total = end.as_micros().max(1);
    let step = SimDuration::from_micros((total / 200).max(1_000_000)).min(CHUNK);
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut next = nimscale_core::time::SimTime::ZERO;
    let mut stopped = None;
    while next < end {
        next = (next + step).min(end);
        sim.run_until(next);
        sink.put(sim.take_rows(), sim.take_syncs())?;
        if crate::sweep::cancelled() {
            stopped = Some(next);
            break;
        }
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
            b.set_message(format!("simulating {name}"));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position((next.as_micros() * 100 / total) as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(stopped)
}

/// Simulated time between two looks at the clock, the progress bar and
/// Ctrl-C, and between two flushes of rows and decisions to their files:
/// what is held in memory is at most this much of the run.
const CHUNK: SimDuration = SimDuration::from_secs(600);

pub fn run(path: &Path, opts: Options, catalogs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let Options {
        out,
        force,
        seed,
        metrics_out,
        metrics_epoch,
        start,
        strict,
        json,
        limits,
    } = opts;
    let start = match start.as_deref().map(|s| (s, crate::promql::rfc3339(s))) {
        None => None,
        Some((_, Some(t))) if t.fract() == 0.0 && t.abs() < 1e12 => Some(t as i64),
        Some((s, _)) => {
            errln!(
                "error: --start {s:?}: give an RFC 3339 instant in whole seconds, like 2026-03-02T08:00:00Z"
            );
            return Ok(ExitCode::from(2));
        }
    };
    let metrics_epoch = start.unwrap_or(metrics_epoch);
    let mut sc = match load(path, catalogs)? {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(m) = &metrics_out {
        let Some(p) = sc.prometheus.as_mut() else {
            errln!(
                "error: --metrics-out needs the Prometheus path (the scenario sets metrics.source: direct)"
            );
            return Ok(ExitCode::from(2));
        };
        p.export_series = true;
        p.export_gpu_model = sc.resolved.deployment.gpu.name.clone();
        outdir::check_file(m, force, outdir::OPENMETRICS)?;
    }
    if let Err(e) = sc.check_limits(&limits, metrics_out.is_some()) {
        errln!("error: {}: {e}", path.display());
        return Ok(ExitCode::from(2));
    }
    let dir = out.unwrap_or_else(|| Path::new("reports").join(&sc.name));
    let staging = outdir::Staging::create(&dir, force, "simulate")?;
    crate::sweep::install_ctrlc();
    let seed = seed.unwrap_or(sc.seed);
    let mut sim = sc.simulation(
        seed,
        Recording {
            timeseries: true,
            decisions: true,
        },
    );
    let mut sink = Sink {
        columns: sim.columns().to_vec(),
        timeseries: create(staging.path(), "timeseries.csv")?,
        decisions: create(staging.path(), "decisions.jsonl")?,
        text: String::new(),
        epoch: start,
        kept_syncs: metrics_out.as_ref().map(|_| Vec::new()),
        kept_kube: metrics_out.as_ref().map(|_| Vec::new()),
    };
    sink.timeseries
        .write_all(timeseries_header(&sink.columns, start.is_some()).as_bytes())?;
    let started = Instant::now();
    let end = sim.end();
    if let Some(stopped) = drive(&mut sim, &mut sink, &sc.name)? {
        drop(staging);
        return Err(anyhow::Error::new(fail::Interrupted(format!(
            "simulate stopped at {:.0} s of {:.0} s simulated; nothing was written to {}",
            stopped.as_secs_f64(),
            end.as_secs_f64(),
            dir.display()
        ))));
    }
    let mut res = sim.finish();
    res.summary.diagnostics = sc.diagnostics(std::mem::take(&mut res.summary.diagnostics));
    // The last chunk ends at the run's end, so `finish` has nothing left
    // to record; whatever it holds is written all the same.
    let (rows, syncs) = (
        std::mem::take(&mut res.rows),
        std::mem::take(&mut res.syncs),
    );
    sink.put(rows, syncs)?;
    let (kept_syncs, kept_kube) = sink.finish()?;
    let wall = started.elapsed();
    let info = info(&sc, path, seed);
    let summary = summary_json(&info, &res);
    staging.write(
        "summary.json",
        (serde_json::to_string_pretty(&summary).context("encoding summary.json")? + "\n")
            .as_bytes(),
    )?;
    staging.commit()?;
    if let (Some(m), Some(db)) = (&metrics_out, &res.series) {
        let text = metrics_text(&sc, &res, db, &kept_syncs, kept_kube, metrics_epoch);
        outdir::write_file(m, text.as_bytes(), force, outdir::OPENMETRICS)?;
    }
    print_outcome(json, summary, &info, &res, &dir, wall)?;
    if strict
        && (res.summary.diagnostics.iter())
            .any(|d| d.severity == nimscale_core::sim::record::Severity::Error)
    {
        errln!("error: --strict: the run has error diagnostics (listed first above)");
        return Ok(ExitCode::from(4));
    }
    Ok(ExitCode::SUCCESS)
}
