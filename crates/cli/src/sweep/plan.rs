//! `nimscale plan`: races the candidates of `nimscale_runner::plan` over
//! seeds, re-checks the pick on held-out seeds, and writes a sweep's files
//! plus `recommendation.json`, with the recommendation card on stdout.

use std::time::Instant;

use nimscale_runner::plan::{self as search, Candidate, Space, Standing};
use serde_json::{Value, json};

use super::*;

mod card;
use card::Card;

#[derive(clap::Args)]
pub struct PlanCmd {
    /// The scenario: its NIMService, traffic, SLOs and cluster.
    pub scenario: PathBuf,
    /// Output directory (default: reports/plan-<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an earlier nimscale output at the output path.
    #[arg(long)]
    pub force: bool,
    /// Seeds the race may use (every finalist runs them all).
    #[arg(long, default_value_t = 3)]
    pub seeds: u32,
    /// Seeds the pick is re-checked on, none of them raced.
    #[arg(long, default_value_t = 3)]
    pub held_out: u32,
    /// The most simulation runs the race may spend (the first round is
    /// thinned evenly when the space is larger).
    #[arg(long, default_value_t = 3000)]
    pub budget_runs: usize,
    /// Pin a dimension: gpu=h200, minReplicas=2, maxReplicas=6,
    /// behavior=conservative|current, metric=kv-cache-0.7|current,
    /// scrapeInterval=30s.
    #[arg(long = "fix", value_name = "KEY=VALUE")]
    pub fix: Vec<String>,
    /// A GPU's price per GPU-hour (gpu=USD), which puts it in the search.
    #[arg(long = "price", value_name = "GPU=PRICE")]
    pub price: Vec<String>,
    /// A file restricting the space: any of gpus (map of GPU to price),
    /// minReplicas, maxReplicas, targetScales, metrics, behaviors,
    /// scrapeIntervals (lists).
    #[arg(long)]
    pub space: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Evaluate every candidate on every seed (the exhaustive grid the
    /// race is measured against) instead of racing.
    #[arg(long, hide = true)]
    pub exhaustive: bool,
    #[command(flatten)]
    pub judging: Judging,
}

/// Each candidate's runs so far, by seed order.
type Tallies = Vec<Vec<RunRow>>;

fn standing(plan: &Plan, rows: &[&RunRow]) -> Standing {
    let obj = plan.objective_index();
    let deg = plan.metrics().iter().position(|m| m == "degenerate");
    let mean = |i: usize| {
        let v: Vec<f64> = (rows.iter())
            .map(|r| r.values[i])
            .filter(|v| v.is_finite())
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Standing {
        attainment: mean(0),
        cost: mean(obj),
        degenerate: deg.is_some_and(|d| rows.iter().any(|r| r.values[d] > 0.0)),
        runs: rows.len(),
    }
}

/// A sweep of `combos` over the scenario `file_name`, as a sweep file
/// would say it.
fn sweep_doc(file_name: &str, name: &str, seeds: &[u64], combos: &[Candidate]) -> Value {
    json!({
        "name": name,
        "scenario": file_name,
        "seeds": seeds,
        "combinations": combos,
    })
}

/// Loads a generated sweep quietly (`Err`: the loader's message).
fn try_load(
    doc: &Value,
    base: &Path,
    catalogs: &[PathBuf],
) -> anyhow::Result<Result<Sweep, String>> {
    let text = serde_json::to_string(doc)?;
    Ok(match catalog(catalogs)? {
        Ok(cat) => {
            let files = RelativeFiles {
                base: base.to_path_buf(),
            };
            sweep::load(&text, "plan", &files, &cat).map_err(|e| e.to_string())
        }
        Err(e) => Err(e),
    })
}

/// `--fix`, `--price` and `--space` applied to the default space.
fn restrict(space: &mut Space, cmd: &PlanCmd) -> Result<(), String> {
    for p in &cmd.price {
        let (g, v) = p
            .split_once('=')
            .ok_or(format!("--price {p}: give GPU=PRICE"))?;
        let v: f64 = v
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or(format!(
                "--price {p}: the price must be a non-negative number"
            ))?;
        match space.gpus.iter_mut().find(|(n, _)| n == g) {
            Some(e) => e.1 = v,
            None => space.gpus.push((g.to_string(), v)),
        }
    }
    if let Some(f) = &cmd.space {
        let text = fail::read_input(f).map_err(|e| e.to_string())?;
        let doc: Value = nimscale_runner::yaml::from_str(&text, &f.display().to_string())
            .map_err(|e| format!("--space {}: {e}", f.display()))?;
        apply_space_file(space, &doc).map_err(|e| format!("--space {}: {e}", f.display()))?;
    }
    for fx in &cmd.fix {
        let (k, v) = fx
            .split_once('=')
            .ok_or(format!("--fix {fx}: give KEY=VALUE"))?;
        let int = || -> Result<i32, String> {
            v.parse()
                .ok()
                .filter(|n: &i32| *n >= 1)
                .ok_or(format!("--fix {fx}: a whole number of replicas ≥ 1"))
        };
        match k {
            "gpu" => {
                let price = space.gpus.iter().find(|(n, _)| n == v).map(|g| g.1);
                let price = price.ok_or(format!(
                    "--fix {fx}: no price for {v} (give --price {v}=USD)"
                ))?;
                space.gpus = vec![(v.to_string(), price)];
            }
            "minReplicas" => space.min_replicas = vec![int()?],
            "maxReplicas" => space.max_replicas = vec![int()?],
            "behavior" if v == "current" => space.behaviors = vec![None],
            "behavior" => space.behaviors = vec![Some(v.to_string())],
            "metric" if v == "current" => {
                space.metric_presets.clear();
                space.target_scales = vec![1.0];
            }
            "metric" if search::is_metric_preset(v) => {
                space.metric_presets = vec![v.to_string()];
                space.target_scales.clear();
            }
            "scrapeInterval" => space.scrape_intervals = vec![Some(v.to_string())],
            _ => {
                return Err(format!(
                    "--fix {fx}: give gpu, minReplicas, maxReplicas, behavior, metric (a metric preset or current) or scrapeInterval"
                ));
            }
        }
    }
    Ok(())
}

fn apply_space_file(space: &mut Space, doc: &Value) -> Result<(), String> {
    let Value::Object(m) = doc else {
        return Err("a map of dimensions".into());
    };
    let ints = |v: &Value, k: &str| -> Result<Vec<i32>, String> {
        (v.as_array().ok_or(format!("{k}: a list"))?.iter())
            .map(|x| {
                x.as_i64()
                    .filter(|n| (1..=1000).contains(n))
                    .map(|n| n as i32)
                    .ok_or(format!("{k}: whole numbers 1..1000"))
            })
            .collect()
    };
    let strs = |v: &Value, k: &str| -> Result<Vec<String>, String> {
        (v.as_array().ok_or(format!("{k}: a list"))?.iter())
            .map(|x| x.as_str().map(str::to_string).ok_or(format!("{k}: names")))
            .collect()
    };
    for (k, v) in m {
        match k.as_str() {
            "gpus" => {
                let g = v.as_object().ok_or("gpus: a map of GPU to price")?;
                space.gpus = (g.iter())
                    .map(|(n, p)| {
                        p.as_f64()
                            .filter(|p| p.is_finite() && *p >= 0.0)
                            .map(|p| (n.clone(), p))
                            .ok_or(format!("gpus.{n}: a price"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "minReplicas" => space.min_replicas = ints(v, k)?,
            "maxReplicas" => space.max_replicas = ints(v, k)?,
            "targetScales" => {
                space.target_scales = (v.as_array().ok_or("targetScales: a list")?.iter())
                    .map(|x| {
                        x.as_f64()
                            .filter(|s| *s > 0.0 && *s <= 100.0)
                            .ok_or("targetScales: numbers in (0, 100]".to_string())
                    })
                    .collect::<Result<_, _>>()?;
            }
            "metrics" => {
                let names = strs(v, k)?;
                if let Some(bad) = names.iter().find(|n| !search::is_metric_preset(n)) {
                    return Err(format!("metrics: {bad} is not a metric preset"));
                }
                space.metric_presets = names;
            }
            "behaviors" => {
                space.behaviors = strs(v, k)?
                    .into_iter()
                    .map(|b| (b != "current").then_some(b))
                    .collect();
            }
            "scrapeIntervals" => {
                space.scrape_intervals = strs(v, k)?.into_iter().map(Some).collect();
            }
            _ => {
                return Err(format!(
                    "{k}: not a dimension (gpus, minReplicas, maxReplicas, targetScales, metrics, behaviors, scrapeIntervals)"
                ));
            }
        }
    }
    Ok(())
}

/// Runs `jobs` on `pool`, with a progress bar.
fn race_round(
    sw: &Sweep,
    pool: &rayon::ThreadPool,
    jobs: &[(usize, usize, u64)],
    label: &str,
) -> Vec<RunRow> {
    let bar = runs_bar(jobs.len(), label.to_string());
    let progress = |done: usize| bar.set_position(done as u64);
    let rows = pool.install(|| sweep::run(sw, jobs, &CANCEL, &progress));
    bar.finish_and_clear();
    rows.into_iter().flatten().collect()
}

/// Every candidate's standing over its runs.
fn standings(plan: &Plan, tallies: &[Vec<RunRow>], which: &[usize]) -> Vec<(usize, Standing)> {
    which
        .iter()
        .map(|&i| {
            let rows: Vec<&RunRow> = tallies[i].iter().collect();
            (i, standing(plan, &rows))
        })
        .collect()
}

/// Keeps the space's GPUs the model fits on, with the tensor-parallel
/// degree (and GPU limit) each needs beyond the scenario's.
fn fit_gpus(
    space: &mut Space,
    sc: &nimscale_runner::scenario::Scenario,
    limits: &Value,
    catalogs: &[PathBuf],
) -> anyhow::Result<Result<(), String>> {
    let cat = match catalog(catalogs)? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut fitting = Vec::new();
    for (g, p) in std::mem::take(&mut space.gpus) {
        match search::min_tp(&cat, &g, &sc.resolved) {
            Some(tp) if tp > sc.template.gpus => {
                space
                    .gpu_extras
                    .insert(g.clone(), search::tp_extras(tp, limits));
                fitting.push((g, p));
            }
            Some(_) => fitting.push((g, p)),
            None => errln!(
                "warning: {} does not fit on {g} even with 8 GPUs per pod; left out",
                sc.resolved.deployment.model.name
            ),
        }
    }
    space.gpus = fitting;
    if space.gpus.is_empty() {
        return Ok(Err("no GPU in the space fits the model".into()));
    }
    Ok(Ok(()))
}

/// A plan ready to race: the candidates as a loaded sweep, and the seeds.
struct Setup {
    sw: Sweep,
    race_seeds: Vec<u64>,
    held_seeds: Vec<u64>,
    /// Candidates in the space (before thinning and de-duplication).
    space: usize,
    duration_h: f64,
    dir: PathBuf,
}

/// Loads the scenario, builds the space (`--fix`, `--price`, `--space`
/// applied) and loads its candidates as one sweep. `Err`: the exit status
/// after the message was printed.
fn prepare(cmd: &PlanCmd) -> anyhow::Result<Result<Setup, ExitCode>> {
    let j = &cmd.judging;
    let refuse = |msg: String| {
        errln!("error: {msg}");
        Ok(Err(ExitCode::from(2)))
    };
    let sc = match crate::simulate::load(&cmd.scenario, &j.catalog)? {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    if let Err(e) = sc.check_limits(&j.limits.limits(), false) {
        return refuse(format!("{}: {e}", cmd.scenario.display()));
    }
    let Some(hpa) = &sc.hpa else {
        return refuse(format!(
            "{}: the NIMService has no spec.scale.hpa to plan (enable scaling with an HPA)",
            cmd.scenario.display()
        ));
    };
    let current = (hpa.spec.min_replicas, hpa.spec.max_replicas);
    let file_name = (cmd.scenario.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = (cmd.scenario.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let s0 = sc.seed;
    let race_seeds: Vec<u64> = (0..u64::from(cmd.seeds.max(1))).map(|k| s0 + k).collect();
    let held_seeds: Vec<u64> = (0..u64::from(cmd.held_out))
        .map(|k| s0 + 1000 + k)
        .collect();
    let name = format!("plan-{}", sc.name);
    // The current configuration alone first: its NIMService gives the
    // metric to vary.
    let cur = search::current_candidate(current);
    let doc = sweep_doc(&file_name, &name, &race_seeds, std::slice::from_ref(&cur));
    let sw1 = match try_load(&doc, &base, &j.catalog)? {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    let hpa_json = (sw1.documents[0].nimservice)
        .pointer("/spec/scale/hpa")
        .cloned()
        .unwrap_or(Value::Null);
    let own = search::own_target(&hpa_json);
    // NIM-native metric presets the user's adapter rules can serve.
    let mut servable = Vec::new();
    for p in search::NATIVE_METRICS {
        let mut c = cur.clone();
        c.insert("metric".into(), json!(p));
        let doc = sweep_doc(&file_name, &name, &race_seeds, &[c]);
        if try_load(&doc, &base, &j.catalog)?.is_ok() {
            servable.push(p.to_string());
        }
    }
    let gpu = sc.resolved.deployment.gpu.name.clone();
    let price = sc.pool.price_per_gpu_hour.unwrap_or(0.0);
    let per_pod = sc.template.gpus.max(1);
    let capacity = (sc.pool.max_nodes * sc.pool.gpus_per_node / per_pod) as i32;
    let mut space = search::default_space((&gpu, price), &[], capacity, &servable);
    if let Err(e) = restrict(&mut space, cmd) {
        return refuse(e);
    }
    if space.gpus.len() > 1 && sc.pool.price_per_gpu_hour.is_none() {
        return refuse(format!(
            "{}: comparing GPU types needs the scenario's price per GPU-hour (cluster.nodePool.pricePerGpuHour) beside --price",
            cmd.scenario.display()
        ));
    }
    let limits = (sw1.documents[0].nimservice)
        .pointer("/spec/resources/limits")
        .cloned()
        .unwrap_or(Value::Null);
    if let Err(e) = fit_gpus(&mut space, &sc, &limits, &j.catalog)? {
        return refuse(e);
    }
    let mut combos = search::candidates(&space, own.as_ref(), current);
    let space_size = combos.len();
    // The first round runs each candidate once: thin it evenly to half the
    // budget (the current configuration stays).
    let first_cap = (cmd.budget_runs / 2).max(1);
    if !cmd.exhaustive && combos.len() > first_cap {
        let step = combos.len() as f64 / first_cap as f64;
        let keep: Vec<usize> = (0..first_cap).map(|k| (k as f64 * step) as usize).collect();
        combos = keep.into_iter().map(|i| combos[i].clone()).collect();
    }
    let doc = sweep_doc(&file_name, &name, &race_seeds, &combos);
    let mut sw = match try_load(&doc, &base, &j.catalog)? {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    sw.plan.allow_degenerate = false;
    let dir = (cmd.out.clone()).unwrap_or_else(|| Path::new("reports").join(&name));
    Ok(Ok(Setup {
        sw,
        race_seeds,
        held_seeds,
        space: space_size,
        duration_h: sc.duration.as_secs_f64() / 3600.0,
        dir,
    }))
}

/// What the race gave.
struct Raced {
    tallies: Tallies,
    /// Distinct candidates (those deploying the same objects run once).
    unique: usize,
    /// Finalists, best first.
    ranked: Vec<usize>,
    rounds: Vec<Value>,
    spent: usize,
}

/// Races the candidates over the racing seeds (every candidate in the
/// first round with `exhaustive`, and in every round).
fn race(
    st: &Setup,
    pool: &rayon::ThreadPool,
    exhaustive: bool,
    budget: usize,
) -> anyhow::Result<Raced> {
    let sw = &st.sw;
    let n = sw.plan.points.len();
    let threshold = sw.plan.threshold;
    let mut tallies: Tallies = vec![Vec::new(); n];
    // Candidates that deploy the same objects (a metric preset equal to the
    // scenario's own metric at one of its targets) run once.
    let mut seen = std::collections::BTreeSet::new();
    let mut alive: Vec<usize> = (0..n)
        .filter(|&p| {
            let gpu = (sw.plan.axes.iter())
                .position(|a| a == "model.gpu")
                .map(|i| sw.plan.points[p][i].clone());
            seen.insert((gpu, sw.documents[p].nimservice.to_string()))
        })
        .collect();
    let unique = alive.len();
    let mut rounds = Vec::new();
    let mut spent = 0usize;
    for (k, &seed) in st.race_seeds.iter().enumerate() {
        let mut run_now = alive.clone();
        if !run_now.contains(&0) {
            run_now.insert(0, 0);
        }
        let jobs: Vec<(usize, usize, u64)> = (run_now.iter())
            .flat_map(|&p| (0..sw.scenarios[p].len()).map(move |t| (p, t, seed)))
            .collect();
        if !exhaustive && spent + jobs.len() > budget && k > 0 {
            break;
        }
        let label = format!(
            "plan round {}: {} candidates, seed {seed}",
            k + 1,
            run_now.len()
        );
        for r in race_round(sw, pool, &jobs, &label) {
            tallies[r.point].push(r);
        }
        spent += jobs.len();
        if cancelled() {
            return Err(anyhow::Error::new(fail::Interrupted(
                "plan stopped by Ctrl-C; nothing was written".into(),
            )));
        }
        let now = standings(&sw.plan, &tallies, &alive);
        let rejected = search::dominated(&now, threshold).len();
        let before = alive.len();
        if !exhaustive && k + 1 < st.race_seeds.len() {
            alive = search::survivors(&now, threshold, 3);
        }
        rounds.push(json!({
            "seed": seed,
            "candidates": before,
            "runs": jobs.len(),
            "dominatedRejected": if exhaustive { 0 } else { rejected },
            "kept": alive.len(),
        }));
    }
    // Finalists: the candidates that ran every seed the race got to.
    let seeds_run = tallies[alive.first().copied().unwrap_or(0)].len();
    let finalists: Vec<usize> = (alive.iter().copied())
        .filter(|&i| tallies[i].len() == seeds_run)
        .collect();
    let ranked = search::rank(&standings(&sw.plan, &tallies, &finalists), threshold);
    Ok(Raced {
        tallies,
        unique,
        ranked,
        rounds,
        spent,
    })
}

/// The held-out re-check: the best eligible finalists in order until one
/// holds the threshold there (at most three), and the current spec.
fn recheck(
    st: &Setup,
    pool: &rayon::ThreadPool,
    r: &mut Raced,
) -> (Option<usize>, BTreeMap<usize, Standing>, usize) {
    let sw = &st.sw;
    let threshold = sw.plan.threshold;
    let mut held: BTreeMap<usize, Standing> = BTreeMap::new();
    let mut checks = 0;
    let mut run = |p: usize, held: &mut BTreeMap<usize, Standing>| {
        let jobs: Vec<(usize, usize, u64)> = (st.held_seeds.iter())
            .flat_map(|&s| (0..sw.scenarios[p].len()).map(move |t| (p, t, s)))
            .collect();
        r.spent += jobs.len();
        let rows = race_round(sw, pool, &jobs, &format!("held-out seeds, candidate {p}"));
        let refs: Vec<&RunRow> = rows.iter().collect();
        held.insert(p, standing(&sw.plan, &refs));
    };
    let mut pick = None;
    for &p in r.ranked.iter().take(3) {
        let s = standing(&sw.plan, &r.tallies[p].iter().collect::<Vec<_>>());
        if !s.eligible(threshold) {
            break;
        }
        checks += 1;
        if st.held_seeds.is_empty() {
            pick = Some(p);
            break;
        }
        run(p, &mut held);
        if held[&p].attainment >= threshold {
            pick = Some(p);
            break;
        }
    }
    if !st.held_seeds.is_empty() && !held.contains_key(&0) {
        run(0, &mut held);
    }
    (pick, held, checks)
}

pub fn run_plan(cmd: PlanCmd) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let st = match prepare(&cmd)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    outdir::check(&st.dir, cmd.force, "plan")?;
    install_ctrlc();
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cmd.threads {
        builder = builder.num_threads(n.max(1));
    }
    let pool = builder.build().context("starting the thread pool")?;
    let mut raced = race(&st, &pool, cmd.exhaustive, cmd.budget_runs)?;
    let (pick, held, checks) = recheck(&st, &pool, &mut raced);
    let sw = &st.sw;
    let baseline = pool.install(|| sweep::baseline::baseline(sw, &CANCEL));
    let all_rows: Vec<RunRow> = (raced.tallies.iter())
        .flat_map(|t| t.iter().cloned())
        .collect();
    let mut o = stats::outcome(&sw.plan, &all_rows);
    o.winner = pick;
    // The sweep's files, judged by the race's pick (not by the cheapest
    // mean over unequal numbers of seeds).
    let mut files = vec![
        ("plan.json", serde_json::to_string_pretty(&sw.plan)? + "\n"),
        ("results.csv", out::results_csv(&sw.plan, &all_rows)),
        ("summary.csv", out::summary_csv(&sw.plan, &o)),
        ("pareto.csv", out::pareto_csv(&sw.plan, &o)),
    ];
    if let Some(p) = pick {
        files.push(("winner.yaml", winner_text(sw, &o, p)));
    }
    let baseline_line = with_baseline(sw, &o, baseline.as_ref(), &mut files);
    let card = Card {
        sw,
        o: &o,
        tallies: &raced.tallies,
        held: &held,
        pick,
        ranked: &raced.ranked,
        duration_h: st.duration_h,
    };
    let rec = json!({
        "scenario": cmd.scenario.display().to_string(),
        "space": st.space,
        "explored": raced.unique,
        "runs": raced.spent,
        "simulatedHours": raced.spent as f64 * st.duration_h,
        "wallSeconds": started.elapsed().as_secs_f64(),
        "threshold": sw.plan.threshold,
        "objective": sw.plan.minimize,
        "racingSeeds": st.race_seeds,
        "heldOutSeeds": st.held_seeds,
        "rounds": raced.rounds,
        "heldOutChecks": checks,
        "winner": pick.map(|p| card.entry(p)),
        "current": card.entry(0),
        "baseline": baseline_line,
        "runnersUp": (raced.ranked.iter()).filter(|&&p| Some(p) != pick).take(3).map(|&p| card.entry(p)).collect::<Vec<_>>(),
        "finalists": (raced.ranked.iter()).map(|&p| card.entry(p)).collect::<Vec<_>>(),
        "pareto": (o.points.iter()).filter(|p| p.pareto).map(|p| card.entry(p.point)).collect::<Vec<_>>(),
    });
    files.push((
        "recommendation.json",
        serde_json::to_string_pretty(&rec)? + "\n",
    ));
    outdir::write_dir(&st.dir, &files, cmd.force, "plan")?;
    let mut stdout = std::io::stdout().lock();
    if cmd.judging.json {
        writeln!(stdout, "{rec}")?;
    } else {
        write!(stdout, "{}", card.text(&rec))?;
        writeln!(stdout, "wrote {}", st.dir.display())?;
    }
    Ok(if pick.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(5)
    })
}
