//! `nimscale merge`: shard directories combined into exactly the files one
//! unsharded run writes.

use super::*;

#[derive(clap::Args)]
pub struct MergeCmd {
    /// Shard directories (each with results.csv and shard.json).
    pub dirs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an earlier nimscale output at the output path (a directory
    /// nimscale did not write is never replaced).
    #[arg(long)]
    pub force: bool,
    /// Print the outcome as JSON, as `sweep --json` does.
    #[arg(long)]
    pub json: bool,
}

/// One shard directory as `merge` reads it.
struct ShardDir {
    shard: usize,
    of: usize,
    complete: bool,
    plan: Plan,
    rows: Vec<RunRow>,
    series: Vec<PointSeries>,
    docs: BTreeMap<usize, sweep::PointDocs>,
    /// The user's adapter ConfigMap the shard simulated, as written.
    adapter: Option<String>,
}

/// Reads and checks one shard directory; every problem is a user error
/// naming the file (and line where there is one).
fn read_shard(d: &Path) -> anyhow::Result<ShardDir> {
    let meta_path = d.join("shard.json");
    let shown = meta_path.display().to_string();
    let meta: serde_json::Value = serde_json::from_str(&fail::read_input(&meta_path)?)
        .map_err(|e| fail::user(format!("{shown}:{}: not a shard.json: {e}", e.line())))?;
    let plan: Plan = serde_json::from_value(meta["plan"].clone())
        .map_err(|e| fail::user(format!("{shown}: plan: {e}")))?;
    let field = |k: &str| {
        meta[k].as_u64().ok_or_else(|| {
            fail::user(format!(
                "{shown}: {k}: expected a whole number, found {}",
                meta[k]
            ))
        })
    };
    let (shard, of) = (field("shard")?, field("of")?);
    if of == 0 || of > sweep::MAX_SHARDS as u64 || shard >= of {
        return Err(fail::user(format!(
            "{shown}: shard {shard} of {of}: need 0 ≤ shard < of ≤ {}",
            sweep::MAX_SHARDS
        )));
    }
    let (shard, of) = (shard as usize, of as usize);
    let complete = meta["complete"]
        .as_bool()
        .ok_or_else(|| fail::user(format!("{shown}: complete: expected true or false")))?;
    let rpath = d.join("results.csv");
    let rname = rpath.display().to_string();
    let rows = out::parse_results(&fail::read_input(&rpath)?, &rname, &plan)
        .map_err(|e| fail::user(e.to_string()))?;
    let mine = sweep::shard_points(plan.points.len(), shard, of);
    if let Some(r) = rows.iter().find(|r| mine.binary_search(&r.point).is_err()) {
        return Err(fail::user(format!(
            "{rname}: a row of point {} is not shard {shard} of {of}'s (it runs points {})",
            r.point,
            if mine.is_empty() {
                "none".to_string()
            } else {
                format!("{:?}", mine)
            }
        )));
    }
    let spath = d.join("series.csv");
    let series = if spath.is_file() {
        out::parse_series(&fail::read_input(&spath)?, &spath.display().to_string())
            .map_err(fail::user)?
    } else {
        Vec::new()
    };
    let mut docs = BTreeMap::new();
    if let Some(m) = meta["documents"].as_object() {
        for (k, v) in m {
            let point: usize = k
                .parse()
                .ok()
                .filter(|p| mine.binary_search(p).is_ok())
                .ok_or_else(|| {
                    fail::user(format!(
                        "{shown}: documents: \"{k}\" is not a point of this shard"
                    ))
                })?;
            let d: sweep::PointDocs = serde_json::from_value(v.clone())
                .map_err(|e| fail::user(format!("{shown}: documents: \"{k}\": {e}")))?;
            docs.insert(point, d);
        }
    }
    let adapter = meta["adapterConfigMap"].as_str().map(str::to_string);
    Ok(ShardDir {
        adapter,
        shard,
        of,
        complete,
        plan,
        rows,
        series,
        docs,
    })
}

/// Combines shard directories into exactly the files one run writes.
pub fn run_merge(
    dirs: &[PathBuf],
    out_dir: &Path,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    outdir::check(out_dir, force, "merge")?;
    let mut first: Option<(Plan, usize)> = None;
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    let mut series: Vec<PointSeries> = Vec::new();
    let mut docs = BTreeMap::new();
    let mut adapter: Option<String> = None;
    let mut complete = true;
    for d in dirs {
        let sd = read_shard(d)?;
        match &first {
            None => first = Some((sd.plan.clone(), sd.of)),
            Some((q, of)) if *q != sd.plan || *of != sd.of => {
                return Err(fail::user(format!(
                    "{} is a shard of another sweep or split (plans or shard counts differ)",
                    d.display()
                )));
            }
            Some(_) => {}
        }
        if !seen.insert(sd.shard) {
            return Err(fail::user(format!(
                "shard {}/{} given twice ({})",
                sd.shard,
                sd.of,
                d.display()
            )));
        }
        complete &= sd.complete;
        rows.extend(sd.rows);
        series.extend(sd.series);
        docs.extend(sd.docs);
        adapter = adapter.or(sd.adapter);
    }
    let Some((plan, of)) = first else {
        return Err(fail::user("no shard directories given"));
    };
    if seen.len() != of {
        let missing: Vec<String> = (0..of)
            .filter(|i| !seen.contains(i))
            .take(20)
            .map(|i| i.to_string())
            .collect();
        return Err(fail::user(format!(
            "{} of {of} shards are missing (first missing: {})",
            of - seen.len(),
            missing.join(", ")
        )));
    }
    let seed_pos = |s: u64| {
        plan.seeds
            .iter()
            .position(|x| *x == s)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| (r.point, r.trace, seed_pos(r.seed)));
    if let Some(w) = rows
        .windows(2)
        .find(|w| (w[0].point, w[0].trace, w[0].seed) == (w[1].point, w[1].trace, w[1].seed))
    {
        return Err(fail::user(format!(
            "the run of point {}, trace {}, seed {} appears twice in the shards' results.csv",
            w[0].point, w[0].trace, w[0].seed
        )));
    }
    if complete {
        let expected = plan.points.len() * plan.traces.len().max(1) * plan.seeds.len();
        if rows.len() != expected {
            return Err(fail::user(format!(
                "the shards say they are complete but hold {} runs where the sweep has {expected}",
                rows.len()
            )));
        }
    }
    series.sort_by_key(|s| s.point);
    let (o, files) = derived(&plan, &rows, &series, |o, p| {
        docs.get(&p)
            .map(|d| sweep::winner_yaml(&plan, &winner_lines(&plan, o, p), d, adapter.as_deref()))
    });
    outdir::write_dir(out_dir, &files, force, "merge")?;
    if json {
        let doc = super::outcome_json(&plan, &o, None, Some(out_dir), complete);
        writeln!(std::io::stdout().lock(), "{doc}")?;
    } else {
        report(&plan, &o, out_dir, complete)?;
    }
    Ok(ExitCode::SUCCESS)
}
