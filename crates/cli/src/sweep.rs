//! `sweep`, `compare` and `merge`: run a sweep on a thread pool with a
//! progress bar (Ctrl-C stops it and keeps what finished), and write its
//! files atomically, never over an earlier run without `--force`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use nimscale_output::sweep::{self as out, Outcome, Plan, PointSeries, RunRow};
use nimscale_runner::sweep::{self, Sweep, presets, stats};

use crate::simulate::{RelativeFiles, catalog};
use crate::{errln, fail, outdir};

/// The options `sweep` and `compare` share: how points are judged and
/// reported, and the inputs' bounds.
#[derive(clap::Args)]
pub struct Judging {
    /// Let a point whose runs are degenerate (its HPA never read its
    /// metric, sat at maxReplicas, or its metric never fell to its target)
    /// win; by default such points are not eligible.
    #[arg(long)]
    pub allow_degenerate: bool,
    /// Exit with status 4 when a point has a degenerate run (its HPA never
    /// read its metric, sat at maxReplicas, or its metric never fell to its
    /// target); the outputs are written all the same.
    #[arg(long)]
    pub strict: bool,
    /// Print the outcome as JSON (points best first with every metric's
    /// mean and 95 % CI, diagnostics, the winner, the baseline) instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// Extra GPU/model catalog files.
    #[arg(long)]
    pub catalog: Vec<PathBuf>,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

#[derive(clap::Args)]
pub struct SweepCmd {
    /// A sweep file (name, scenario, seeds, axes or combinations,
    /// traces, objective).
    pub sweep: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier nimscale output at the output path (a directory
    /// nimscale did not write is never replaced).
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard I of N (0 ≤ I < N): every N-th point from I.
    /// Writes results.csv and shard.json; `nimscale merge` combines them.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print a Kubernetes Indexed Job running the sweep in N shards
    /// (one per completion index, results to a volume) and exit.
    #[arg(long, value_name = "N")]
    pub emit_job: Option<usize>,
    /// Container image for --emit-job: the repository's Dockerfile builds
    /// one holding nimscale and the shipped scenarios and traces in /work.
    #[arg(long, default_value = "nimscale:0.1.0")]
    pub image: String,
    /// PersistentVolumeClaim the shards write to (--emit-job), mounted at
    /// /results.
    #[arg(long, default_value = "nimscale-results")]
    pub claim: String,
    /// PersistentVolumeClaim holding the sweep and the files it names,
    /// mounted read-only at /work, the Job's working directory (--emit-job;
    /// default: the files the image holds).
    #[arg(long)]
    pub input_claim: Option<String>,
    #[command(flatten)]
    pub judging: Judging,
}

#[derive(clap::Args)]
pub struct CompareCmd {
    /// A scenario file.
    pub scenario: PathBuf,
    /// A preset (repeat).
    #[arg(long = "preset")]
    pub presets: Vec<String>,
    /// A trace file to replay instead of the scenario's traffic (repeat).
    #[arg(long = "trace")]
    pub traces: Vec<PathBuf>,
    /// Seeds per preset and trace (1 to 1000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub seeds: u32,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also write the sweep files here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier nimscale output at --out (never anything else).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub judging: Judging,
}

mod merge;
mod outcome;
pub mod plan;

pub use merge::{MergeCmd, run_merge};
use outcome::{conclude, derived, outcome_json, report, winner_lines, winner_text, with_baseline};

static CANCEL: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<()> = OnceLock::new();

/// Whether Ctrl-C was pressed since [`install_ctrlc`].
pub fn cancelled() -> bool {
    CANCEL.load(Ordering::SeqCst)
}

/// Installs the Ctrl-C handler once: without one Ctrl-C ends the process
/// at once; with it, the command stops at its next check, keeps what
/// finished and exits 130.
pub fn install_ctrlc() {
    HANDLER.get_or_init(|| {
        // Without a handler Ctrl-C ends the process; with it, runs not yet
        // started are skipped and the finished ones are written.
        let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst));
    });
}

/// Loads a sweep; a problem is printed and gives `None` (exit code 2),
/// warnings are printed.
fn load_text(
    text: &str,
    name: &str,
    base: &Path,
    catalogs: &[PathBuf],
    limits: &nimscale_runner::limits::Limits,
) -> anyhow::Result<Option<Sweep>> {
    let loaded = match catalog(catalogs)? {
        Ok(cat) => {
            let files = RelativeFiles {
                base: base.to_path_buf(),
            };
            sweep::load(text, name, &files, &cat).map_err(|e| e.to_string())
        }
        Err(e) => Err(e),
    };
    match loaded {
        Ok(sw) => {
            for w in &sw.warnings {
                errln!("warning: {w}");
            }
            for (p, scenarios) in sw.scenarios.iter().enumerate() {
                for sc in scenarios {
                    if let Err(e) = sc.check_limits(limits, false) {
                        errln!("error: {name}: point {p}: {e}");
                        return Ok(None);
                    }
                }
            }
            Ok(Some(sw))
        }
        Err(e) => {
            errln!("error: {e}");
            Ok(None)
        }
    }
}

/// What a sweep's runs gave: rows in (point, trace, seed) order, each
/// point's series over time, and whether every run finished.
struct Executed {
    rows: Vec<RunRow>,
    series: Vec<PointSeries>,
    complete: bool,
    /// The fixed-replicas baseline, when asked for.
    baseline: Option<sweep::baseline::Baseline>,
}

/// A progress bar on stderr over `runs` simulation runs.
fn runs_bar(runs: usize, message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(runs as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} runs (ETA {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// Runs the points given on `threads` threads, and the fixed-replicas
/// baseline beside them on the same threads when `baseline` (it needs
/// nothing from the points, so the two share the pool's work).
fn execute(
    sw: &Sweep,
    points: &[usize],
    threads: Option<usize>,
    baseline: bool,
) -> anyhow::Result<Executed> {
    install_ctrlc();
    let jobs = sweep::jobs(sw, points);
    let bar = runs_bar(jobs.len(), format!("sweep {}", sw.plan.name));
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n.max(1));
    }
    let pool = builder.build().context("starting the thread pool")?;
    let progress = |done: usize| bar.set_position(done as u64);
    let (results, baseline) = pool.install(|| {
        rayon::join(
            || sweep::run_keeping(sw, &jobs, &CANCEL, &progress, true),
            || {
                baseline
                    .then(|| sweep::baseline::baseline(sw, &CANCEL))
                    .flatten()
            },
        )
    });
    bar.finish_and_clear();
    let complete = results.iter().all(Option::is_some);
    let (mut rows, series): (Vec<RunRow>, Vec<Option<PointSeries>>) =
        results.into_iter().flatten().unzip();
    let mut series: Vec<PointSeries> = series.into_iter().flatten().collect();
    if !complete {
        // Keep only points whose runs all finished: a point's statistics
        // over a partial set of seeds would not be comparable.
        let want = sw.plan.seeds.len();
        let mut count: BTreeMap<usize, usize> = BTreeMap::new();
        for r in &rows {
            *count.entry(r.point).or_default() += 1;
        }
        rows.retain(|r| count[&r.point] == want * sw.scenarios[r.point].len());
        series.retain(|s| rows.iter().any(|r| r.point == s.point));
    }
    Ok(Executed {
        rows,
        series,
        complete,
        baseline: baseline.filter(|_| complete),
    })
}

/// What `sweep` is asked to do.
pub struct SweepArgs {
    pub file: PathBuf,
    pub out: Option<PathBuf>,
    pub force: bool,
    pub threads: Option<usize>,
    pub shard: Option<String>,
    pub emit_job: Option<usize>,
    pub image: String,
    pub claim: String,
    pub input_claim: Option<String>,
    pub catalogs: Vec<PathBuf>,
    pub allow_degenerate: bool,
    pub strict: bool,
    pub json: bool,
    pub limits: nimscale_runner::limits::Limits,
}

impl From<SweepCmd> for SweepArgs {
    fn from(c: SweepCmd) -> SweepArgs {
        let j = c.judging;
        SweepArgs {
            file: c.sweep,
            out: c.out,
            force: c.force,
            threads: c.threads,
            shard: c.shard,
            emit_job: c.emit_job,
            image: c.image,
            claim: c.claim,
            input_claim: c.input_claim,
            catalogs: j.catalog,
            allow_degenerate: j.allow_degenerate,
            strict: j.strict,
            json: j.json,
            limits: j.limits.limits(),
        }
    }
}

pub fn run_sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let name = a.file.display().to_string();
    let text = fail::read_input(&a.file)?;
    let base = a.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let Some(mut sw) = load_text(&text, &name, &base, &a.catalogs, &a.limits)? else {
        return Ok(ExitCode::from(2));
    };
    sw.plan.allow_degenerate |= a.allow_degenerate;
    if let Some(n) = a.emit_job {
        if n == 0 {
            errln!("error: --emit-job needs at least 1 shard");
            return Ok(ExitCode::from(2));
        }
        if n > sweep::MAX_SHARDS {
            errln!(
                "error: --emit-job {n}: at most {} shards",
                sweep::MAX_SHARDS
            );
            return Ok(ExitCode::from(2));
        }
        let job = out::job_manifest(
            &sw.plan.name,
            &name,
            n,
            &a.image,
            &a.claim,
            a.input_claim.as_deref(),
        );
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{}", nimscale_output::k8s::yaml::to_yaml(&job))?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let shard = match a.shard.as_deref().map(sweep::parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let default_dir = match shard {
        Some((i, _)) => Path::new("reports").join(format!("{}-shard-{i}", sw.plan.name)),
        None => Path::new("reports").join(&sw.plan.name),
    };
    let dir = a.out.unwrap_or(default_dir);
    let kind = if shard.is_some() {
        "sweep-shard"
    } else {
        "sweep"
    };
    outdir::check(&dir, a.force, kind)?;
    let total = sw.plan.points.len();
    let points: Vec<usize> = match shard {
        Some((i, n)) => sweep::shard_points(total, i, n),
        None => (0..total).collect(),
    };
    let Executed {
        rows,
        series,
        complete,
        baseline: fixed,
    } = execute(&sw, &points, a.threads, shard.is_none())?;
    if let Some((i, n)) = shard {
        // A shard writes its runs and, for merge, the plan and the
        // documents (NIMService, NIMCaches) of each of its eligible points:
        // the winner is one of them, and merge renders its winner.yaml.
        let o = stats::outcome(&sw.plan, &rows);
        let documents: serde_json::Map<String, serde_json::Value> = o
            .points
            .iter()
            .filter(|p| p.eligible)
            .map(|p| {
                let d = &sw.documents[p.point];
                (
                    p.point.to_string(),
                    serde_json::to_value(d).unwrap_or_default(),
                )
            })
            .collect();
        let meta = serde_json::json!({
            "shard": i,
            "of": n,
            "complete": complete,
            "plan": sw.plan,
            "documents": documents,
            "adapterConfigMap": sw.adapter_config_map,
        });
        let files = [
            ("results.csv", out::results_csv(&sw.plan, &rows)),
            ("series.csv", out::series_csv(&series)),
            ("shard.json", serde_json::to_string_pretty(&meta)? + "\n"),
        ];
        outdir::write_dir(&dir, &files, a.force, kind)?;
        writeln!(
            std::io::stdout().lock(),
            "shard {i}/{n}: {} of {} points, {} runs; wrote {}",
            points.len(),
            total,
            rows.len(),
            dir.display()
        )?;
        return interrupted(complete, &dir);
    }
    let (o, mut files) = derived(&sw.plan, &rows, &series, |o, p| {
        Some(winner_text(&sw, o, p))
    });
    let baseline = with_baseline(&sw, &o, fixed.as_ref(), &mut files);
    let ending = outcome::Ending {
        dir: Some(&dir),
        force: a.force,
        kind,
        json: a.json,
        strict: a.strict,
    };
    conclude(&sw.plan, &o, &files, baseline, complete, &ending)
}

/// Exit 130 when Ctrl-C cut a run short (after its finished part was
/// written), success otherwise.
fn interrupted(complete: bool, dir: &Path) -> anyhow::Result<ExitCode> {
    if complete {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow::Error::new(fail::Interrupted(format!(
            "Ctrl-C: only the points whose runs all finished were written to {}",
            dir.display()
        ))))
    }
}

fn trace_block(path: &Path) -> anyhow::Result<serde_json::Value> {
    let p = path
        .canonicalize()
        .map_err(|e| fail::user(format!("--trace {}: {e}", path.display())))?;
    let name = p.display().to_string();
    let format = if name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") {
        "mooncake"
    } else {
        let head = fail::read_input(&p)?;
        if head.starts_with("TIMESTAMP") {
            "azure"
        } else {
            "csv"
        }
    };
    Ok(serde_json::json!({"trace": {"file": name, "format": format}}))
}

/// What `compare` is asked to do.
pub struct CompareArgs {
    pub scenario: PathBuf,
    pub presets: Vec<String>,
    pub traces: Vec<PathBuf>,
    pub seeds: u32,
    pub threads: Option<usize>,
    pub out: Option<PathBuf>,
    pub force: bool,
    pub catalogs: Vec<PathBuf>,
    pub allow_degenerate: bool,
    pub strict: bool,
    pub json: bool,
    pub limits: nimscale_runner::limits::Limits,
}

impl From<CompareCmd> for CompareArgs {
    fn from(c: CompareCmd) -> CompareArgs {
        let j = c.judging;
        CompareArgs {
            scenario: c.scenario,
            presets: c.presets,
            traces: c.traces,
            seeds: c.seeds,
            threads: c.threads,
            out: c.out,
            force: c.force,
            catalogs: j.catalog,
            allow_degenerate: j.allow_degenerate,
            strict: j.strict,
            json: j.json,
            limits: j.limits.limits(),
        }
    }
}

/// The sweep a compare runs: its presets as `behavior`/`metric` axes over
/// the scenario, named after the scenario's file.
fn compare_sweep(
    a: &CompareArgs,
    behaviors: Vec<String>,
    metrics: Vec<String>,
    hpas: Vec<String>,
) -> anyhow::Result<serde_json::Value> {
    let file_name = a
        .scenario
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The sweep's name must be a safe path component: other characters of
    // the file name become '-'.
    let stem: String = file_name
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let mut axes = serde_json::Map::new();
    if !behaviors.is_empty() {
        axes.insert("behavior".into(), serde_json::json!(behaviors));
    }
    if !hpas.is_empty() {
        axes.insert("hpa".into(), serde_json::json!(hpas));
    }
    if !metrics.is_empty() {
        axes.insert("metric".into(), serde_json::json!(metrics));
    }
    let mut doc = serde_json::json!({
        "name": format!("compare-{stem}"),
        "scenario": file_name,
        "seeds": a.seeds,
        "axes": axes,
        "objective": {"allowDegenerate": a.allow_degenerate},
    });
    if !a.traces.is_empty() {
        let blocks: anyhow::Result<Vec<serde_json::Value>> =
            a.traces.iter().map(|t| trace_block(t)).collect();
        doc["traces"] = serde_json::Value::Array(blocks?);
    }
    Ok(doc)
}

pub fn run_compare(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let (mut behaviors, mut metrics, mut hpas) = (Vec::new(), Vec::new(), Vec::new());
    for p in &a.presets {
        match presets::preset(p, "x") {
            Some(presets::Preset::Behavior(_)) => behaviors.push(p.clone()),
            Some(presets::Preset::Metrics(_)) => metrics.push(p.clone()),
            Some(presets::Preset::Hpa(_)) => hpas.push(p.clone()),
            None => {
                errln!(
                    "error: --preset {p}: unknown; the presets are {}",
                    presets::NAMES.join(", ")
                );
                return Ok(ExitCode::from(2));
            }
        }
    }
    if a.presets.is_empty() {
        errln!(
            "error: give at least one --preset ({})",
            presets::NAMES.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let mixed = !behaviors.is_empty() || !metrics.is_empty();
    if !hpas.is_empty() && mixed {
        errln!(
            "error: --preset {}: a whole-HPA preset sets the behavior and metrics too; compare it with other whole-HPA presets only",
            hpas[0]
        );
        return Ok(ExitCode::from(2));
    }
    let doc = compare_sweep(&a, behaviors, metrics, hpas)?;
    let text = nimscale_output::k8s::yaml::to_yaml(&doc);
    let base = a
        .scenario
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let Some(sw) = load_text(
        &text,
        &format!("compare of {}", a.scenario.display()),
        &base,
        &a.catalogs,
        &a.limits,
    )?
    else {
        return Ok(ExitCode::from(2));
    };
    if let Some(dir) = &a.out {
        outdir::check(dir, a.force, "compare")?;
    }
    let points: Vec<usize> = (0..sw.plan.points.len()).collect();
    let Executed {
        rows,
        series,
        complete,
        baseline: fixed,
    } = execute(&sw, &points, a.threads, true)?;
    let (o, mut files) = derived(&sw.plan, &rows, &series, |o, p| {
        Some(winner_text(&sw, o, p))
    });
    let baseline = with_baseline(&sw, &o, fixed.as_ref(), &mut files);
    let ending = outcome::Ending {
        dir: a.out.as_deref(),
        force: a.force,
        kind: "compare",
        json: a.json,
        strict: a.strict,
    };
    conclude(&sw.plan, &o, &files, baseline, complete, &ending)
}

/// `nimscale presets`: each preset's YAML and source (`<service>` stands
/// for the NIMService's name in Object metrics).
pub fn run_presets(names: &[String]) -> anyhow::Result<ExitCode> {
    let all: Vec<String> = presets::NAMES.iter().map(|n| n.to_string()).collect();
    let names = if names.is_empty() { &all[..] } else { names };
    let mut stdout = std::io::stdout().lock();
    for n in names {
        let (Some(p), Some(src)) = (presets::preset(n, "<service>"), presets::source(n)) else {
            errln!(
                "error: {n}: unknown preset (known: {})",
                presets::NAMES.join(", ")
            );
            return Ok(ExitCode::from(2));
        };
        let (key, value) = match p {
            presets::Preset::Behavior(b) => ("behavior", b.unwrap_or(serde_json::Value::Null)),
            presets::Preset::Metrics(m) => ("metrics", m),
            presets::Preset::Hpa(h) => ("", h),
        };
        let (doc, what) = if key.is_empty() {
            (value, "spec.scale.hpa".to_string())
        } else {
            (
                serde_json::json!({ key: value }),
                format!("spec.scale.hpa.{key}"),
            )
        };
        writeln!(stdout, "# {n}: {what}, from {src}")?;
        write!(stdout, "{}", nimscale_output::k8s::yaml::to_yaml(&doc))?;
        writeln!(stdout)?;
    }
    Ok(ExitCode::SUCCESS)
}
