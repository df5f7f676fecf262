//! Sweeps: the capacity planner. A sweep file names a base scenario, axes
//! (any field path of the scenario, including inside the NIMService, and the
//! `behavior` / `metric` presets), traces and seeds; every point of the
//! Cartesian product (or of an explicit list of combinations) is a scenario
//! built from the base with those values set, loaded and checked exactly as
//! `simulate` loads one. Runs are (point, trace, seed) triples; every point
//! sees the same seeds, hence the same arrivals (common random numbers).
//!
//! ```yaml
//! name: vlm-max-x-target
//! scenario: cosmos-vlm-spike.yaml        # relative to the sweep file
//! seeds: 3                               # the scenario's seed, +1, +2
//! axes:                                  # Cartesian product, in this order
//!   nimservice.spec.scale.hpa.maxReplicas: [4, 6]
//!   behavior: [vlm-guide, aggressive]    # presets (see `presets`)
//! objective: {minimize: cost, sloAttainment: 0.95}
//! ```
//!
//! `combinations:` (a list of maps from axis to value) replaces `axes:`;
//! `traces:` (a list of `traffic:` blocks) runs every point under each.
//! Files the scenario names (its NIMService file, adapter ConfigMap,
//! traces, also those in `traces:`) are read relative to the scenario file,
//! as `simulate` reads them.

pub mod presets;
pub mod stats;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use serde_json::Value;

use nimscale_core::sim::config::Recording;
use nimscale_core::sweep::{Plan, PointSeries, RunRow, bucket_series};
use nimscale_operator::node::{Node, NodeValue, PathSeg, Pos, parse_documents};

use crate::catalog::Catalog;
use crate::error::{LoadError, LoadErrors};
use crate::scenario::{self, Files, Scenario};

use presets::Preset;

/// A loaded sweep: its plan, and the scenario of every (point, trace).
pub struct Sweep {
    /// What is run and how it is judged.
    pub plan: Plan,
    /// `scenarios[point][trace]`.
    pub scenarios: Vec<Vec<Scenario>>,
    /// The NIMService document (and NIMCache documents) of every point, as
    /// JSON: what `winner.yaml` carries.
    pub documents: Vec<(Value, Vec<Value>)>,
    /// Warnings from loading the base scenario.
    pub warnings: Vec<String>,
    /// The base scenario's description.
    pub description: String,
}

struct Cx<'a> {
    file: &'a str,
    errs: Vec<LoadError>,
}

impl Cx<'_> {
    fn err(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.errs.push(LoadError {
            file: self.file.to_owned(),
            line: (pos.line > 0).then_some(pos.line as usize),
            column: (pos.column > 0).then_some(pos.column as usize),
            field: (!field.is_empty()).then(|| field.to_owned()),
            message: message.into(),
        });
    }
}

/// A field path into JSON data: keys and indices.
fn parse_path(path: &str) -> Result<Vec<PathSeg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!("empty segment in field path {path:?}"));
        }
        if !key.is_empty() {
            out.push(PathSeg::Key(key.to_owned()));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let n = idx
                .strip_suffix(']')
                .and_then(|d| d.parse::<usize>().ok())
                .ok_or_else(|| format!("bad index [{idx} in field path {path:?}"))?;
            out.push(PathSeg::Index(n));
        }
    }
    Ok(out)
}

/// Sets `value` at `path`, creating missing mappings; `None` removes it.
fn set_path(root: &mut Value, path: &[PathSeg], value: Option<Value>) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty field path".into());
    };
    let mut node = root;
    for seg in parents {
        node = match seg {
            PathSeg::Key(k) => {
                if node.is_null() {
                    *node = Value::Object(serde_json::Map::new());
                }
                let Value::Object(m) = node else {
                    return Err(format!("{k}: the parent is not a mapping"));
                };
                m.entry(k.clone()).or_insert(Value::Null)
            }
            PathSeg::Index(i) => {
                let Value::Array(a) = node else {
                    return Err(format!("[{i}]: the parent is not a list"));
                };
                let len = a.len();
                a.get_mut(*i)
                    .ok_or_else(|| format!("[{i}]: the list has {len} item(s)"))?
            }
        };
    }
    match (last, node) {
        (PathSeg::Key(k), node) => {
            if node.is_null() {
                *node = Value::Object(serde_json::Map::new());
            }
            let Value::Object(m) = node else {
                return Err(format!("{k}: the parent is not a mapping"));
            };
            match value {
                Some(v) => {
                    m.insert(k.clone(), v);
                }
                None => {
                    m.remove(k);
                }
            }
        }
        (PathSeg::Index(i), Value::Array(a)) => {
            let len = a.len();
            let slot = a
                .get_mut(*i)
                .ok_or_else(|| format!("[{i}]: the list has {len} item(s)"))?;
            match value {
                Some(v) => *slot = v,
                None => {
                    a.remove(*i);
                }
            }
        }
        (PathSeg::Index(i), _) => return Err(format!("[{i}]: the parent is not a list")),
    }
    Ok(())
}

/// How a value reads in tables and CSV files.
fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Serves the base scenario's files, except the NIMService file, which is
/// served as rewritten for the point.
struct Overlay<'a> {
    base: &'a dyn Files,
    path: Option<String>,
    text: String,
}

impl Files for Overlay<'_> {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        if self.path.as_deref() == Some(path) {
            return Ok((
                format!("{path} (as set by the sweep)"),
                self.text.clone().into_bytes(),
            ));
        }
        self.base.read(path)
    }
}

/// The files a scenario names, relative to the scenario's own folder (the
/// sweep names the scenario relative to the sweep file).
struct Prefixed<'a> {
    base: &'a dyn Files,
    prefix: String,
}

impl Files for Prefixed<'_> {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        if path.starts_with('/') || self.prefix.is_empty() {
            self.base.read(path)
        } else {
            self.base.read(&format!("{}{path}", self.prefix))
        }
    }
}

fn map_entries(n: &Node) -> Option<&[(nimscale_operator::node::Key, Node)]> {
    match &n.value {
        NodeValue::Map(e) => Some(e),
        _ => None,
    }
}

/// Reads a sweep file; the base scenario and every file it names come
/// through `files` (paths relative to the sweep file). Every problem of the
/// sweep file, and of every point's scenario, is reported at once.
pub fn load(
    text: &str,
    file: &str,
    files: &dyn Files,
    catalog: &Catalog,
) -> Result<Sweep, LoadErrors> {
    let root = &scenario::one_document(text, file, "sweep")?;
    let mut cx = Cx {
        file,
        errs: Vec::new(),
    };
    let Some(entries) = map_entries(root) else {
        cx.err(
            root.pos,
            "",
            "a sweep file is a mapping (name, scenario, seeds, axes, ...)",
        );
        return Err(LoadErrors(cx.errs));
    };
    const KEYS: [&str; 8] = [
        "name",
        "description",
        "scenario",
        "seeds",
        "axes",
        "combinations",
        "traces",
        "objective",
    ];
    for (k, _) in entries {
        if !KEYS.contains(&k.name.as_str()) {
            cx.err(
                k.pos,
                &k.name,
                format!("unknown field, expected one of {}", KEYS.join(", ")),
            );
        }
    }
    let name = match root.get("name") {
        Some(n) => match n.as_str() {
            Some(s) => {
                if let Err(e) = crate::scenario::check_output_name(s) {
                    cx.err(n.pos, "name", e);
                }
                s.to_owned()
            }
            None => {
                cx.err(n.pos, "name", "must be a string");
                String::new()
            }
        },
        None => {
            let name = crate::scenario::default_name(file);
            if let Err(e) = crate::scenario::check_output_name(&name) {
                cx.err(root.pos, "name", format!("from the file name: {e}"));
            }
            name
        }
    };
    // --- the base scenario ------------------------------------------------
    let Some(scen_node) = root.get("scenario") else {
        cx.err(root.pos, "scenario", "required: the base scenario file");
        return Err(LoadErrors(cx.errs));
    };
    let Some(scen_path) = scen_node.as_str() else {
        cx.err(scen_node.pos, "scenario", "must be a file path");
        return Err(LoadErrors(cx.errs));
    };
    let (scen_name, scen_bytes) = match files.read(scen_path) {
        Ok(x) => x,
        Err(e) => {
            cx.err(scen_node.pos, "scenario", e);
            return Err(LoadErrors(cx.errs));
        }
    };
    let scen_text = String::from_utf8_lossy(&scen_bytes).into_owned();
    let prefixed = Prefixed {
        base: files,
        prefix: match scen_path.rfind('/') {
            Some(i) => scen_path[..=i].to_owned(),
            None => String::new(),
        },
    };
    let files: &dyn Files = &prefixed;
    let base_scenario = scenario::load(&scen_text, &scen_name, files, catalog)?;
    let base_root = match parse_documents(&scen_text) {
        Ok(d) if d.len() == 1 => d[0].to_json(),
        _ => Value::Null,
    };
    // The NIMService documents: inline, or the user's file.
    let ns_file = base_root
        .get("nimservice")
        .and_then(|n| n.get("file"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ns_docs: Vec<Value> = match &ns_file {
        Some(p) => match files.read(p) {
            Ok((_, b)) => match parse_documents(&String::from_utf8_lossy(&b)) {
                Ok(d) => d.iter().map(Node::to_json).collect(),
                Err(e) => {
                    cx.err(scen_node.pos, "scenario", format!("{p}: {}", e.message));
                    return Err(LoadErrors(cx.errs));
                }
            },
            Err(e) => {
                cx.err(scen_node.pos, "scenario", e);
                return Err(LoadErrors(cx.errs));
            }
        },
        None => vec![base_root.get("nimservice").cloned().unwrap_or(Value::Null)],
    };
    let ns_index = ns_docs
        .iter()
        .position(|d| d.get("kind").and_then(Value::as_str) == Some("NIMService"))
        .unwrap_or(0);
    let service = base_scenario.template.name.clone();
    // --- seeds, traces, objective ------------------------------------------
    let base_seed = base_scenario.seed;
    let seeds: Vec<u64> = match root.get("seeds").map(|n| (n, &n.value)) {
        None => vec![base_seed],
        Some((_, NodeValue::Int(k))) if *k >= 1 && *k <= 1000 => {
            (0..*k as u64).map(|i| base_seed.wrapping_add(i)).collect()
        }
        Some((_, NodeValue::Seq(items))) if !items.is_empty() => items
            .iter()
            .filter_map(|i| match i.value {
                NodeValue::Int(s) if s >= 0 => Some(s as u64),
                _ => {
                    cx.err(i.pos, "seeds", "each seed is a non-negative integer");
                    None
                }
            })
            .collect(),
        Some((n, _)) => {
            cx.err(
                n.pos,
                "seeds",
                "a count from 1 to 1000 or a non-empty list of seeds",
            );
            vec![base_seed]
        }
    };
    let traces: Vec<(String, Value)> = match root.get("traces") {
        None => Vec::new(),
        Some(Node {
            value: NodeValue::Seq(items),
            ..
        }) if !items.is_empty() => items
            .iter()
            .map(|t| {
                let v = t.to_json();
                let l = v
                    .get("trace")
                    .and_then(|x| x.get("file"))
                    .and_then(Value::as_str)
                    .map_or_else(|| label(&v), str::to_owned);
                (l, v)
            })
            .collect(),
        Some(n) => {
            cx.err(
                n.pos,
                "traces",
                "a non-empty list of traffic blocks ({trace: {...}} or {pattern: {...}})",
            );
            Vec::new()
        }
    };
    let priced = base_scenario.pool.price_per_gpu_hour.is_some();
    let mut minimize = if priced { "cost" } else { "gpuHours" }.to_string();
    let mut threshold = 0.95;
    if let Some(o) = root.get("objective") {
        for (k, v) in map_entries(o).unwrap_or_default() {
            match (k.name.as_str(), &v.value) {
                ("minimize", NodeValue::Str(s)) if s == "cost" || s == "gpuHours" => {
                    if s == "cost" && !priced {
                        cx.err(
                            v.pos,
                            "objective.minimize",
                            "cost needs cluster.nodePool.pricePerGpuHour in the base scenario",
                        );
                    }
                    minimize = s.clone();
                }
                ("sloAttainment", NodeValue::Float(f)) if (0.0..=1.0).contains(f) => threshold = *f,
                ("sloAttainment", NodeValue::Int(i)) if (0..=1).contains(i) => {
                    threshold = *i as f64
                }
                (k2, _) => cx.err(
                    v.pos,
                    &format!("objective.{k2}"),
                    "expected minimize: gpuHours|cost and sloAttainment: a fraction in [0, 1]",
                ),
            }
        }
    }
    // --- points --------------------------------------------------------------
    let mut axes: Vec<(String, Pos)> = Vec::new();
    let mut combos: Vec<Vec<(usize, Node)>> = Vec::new();
    match (root.get("axes"), root.get("combinations")) {
        (Some(a), None) => {
            let mut lists: Vec<Vec<Node>> = Vec::new();
            for (k, v) in map_entries(a).unwrap_or_default() {
                match &v.value {
                    NodeValue::Seq(items) if !items.is_empty() => {
                        axes.push((k.name.clone(), k.pos));
                        lists.push(items.clone());
                    }
                    _ => cx.err(
                        v.pos,
                        &format!("axes.{}", k.name),
                        "a non-empty list of values",
                    ),
                }
            }
            if lists.is_empty() {
                cx.err(a.pos, "axes", "at least one axis with a list of values");
            } else {
                let total: usize = lists.iter().map(Vec::len).product();
                if total > 100_000 {
                    cx.err(a.pos, "axes", format!("{total} points; at most 100000"));
                } else {
                    for mut n in 0..total {
                        let mut c = Vec::new();
                        for (i, l) in lists.iter().enumerate().rev() {
                            c.push((i, l[n % l.len()].clone()));
                            n /= l.len();
                        }
                        c.reverse();
                        combos.push(c);
                    }
                }
            }
        }
        (None, Some(c)) => {
            let NodeValue::Seq(items) = &c.value else {
                cx.err(
                    c.pos,
                    "combinations",
                    "a list of mappings from axis to value",
                );
                return Err(LoadErrors(cx.errs));
            };
            for (j, item) in items.iter().enumerate() {
                let Some(es) = map_entries(item) else {
                    cx.err(
                        item.pos,
                        &format!("combinations[{j}]"),
                        "a mapping from axis to value",
                    );
                    continue;
                };
                let mut combo = Vec::new();
                for (k, v) in es {
                    let i = match axes.iter().position(|(a, _)| *a == k.name) {
                        Some(i) => i,
                        None => {
                            axes.push((k.name.clone(), k.pos));
                            axes.len() - 1
                        }
                    };
                    combo.push((i, v.clone()));
                }
                combos.push(combo);
            }
        }
        (Some(a), Some(_)) => cx.err(a.pos, "axes", "give axes or combinations, not both"),
        (None, None) => cx.err(root.pos, "axes", "required: axes (or combinations)"),
    }
    // Axis paths are checked once.
    let mut paths: Vec<Option<Vec<PathSeg>>> = Vec::new();
    for (a, pos) in &axes {
        if a == "seed" {
            cx.err(
                *pos,
                "axes.seed",
                "seeds are set by `seeds:` (every point runs the same seeds, so it sees the same arrivals)",
            );
            paths.push(None);
            continue;
        }
        if a == "behavior" || a == "metric" {
            paths.push(None);
            continue;
        }
        match parse_path(a) {
            Ok(p) => paths.push(Some(p)),
            Err(e) => {
                cx.err(*pos, &format!("axes.{a}"), e);
                paths.push(None);
            }
        }
    }
    if !cx.errs.is_empty() {
        return Err(LoadErrors(cx.errs));
    }
    let mut plan_points = Vec::new();
    let mut scenarios = Vec::new();
    let mut documents = Vec::new();
    for (pi, combo) in combos.iter().enumerate() {
        let mut scen = base_root.clone();
        let mut docs = ns_docs.clone();
        let mut labels = vec![String::new(); axes.len()];
        let mut ok = true;
        for (ai, node) in combo {
            let (axis, _) = &axes[*ai];
            let v = node.to_json();
            labels[*ai] = label(&v);
            let field = format!("axes.{axis}");
            let hpa = |k: &str| {
                vec![
                    PathSeg::Key("spec".into()),
                    PathSeg::Key("scale".into()),
                    PathSeg::Key("hpa".into()),
                    PathSeg::Key(k.into()),
                ]
            };
            let result = if axis == "behavior" || axis == "metric" {
                let preset = v.as_str().and_then(|n| presets::preset(n, &service));
                match (axis.as_str(), preset) {
                    ("behavior", Some(Preset::Behavior(b))) => {
                        set_path(&mut docs[ns_index], &hpa("behavior"), b)
                    }
                    ("metric", Some(Preset::Metrics(m))) => {
                        set_path(&mut docs[ns_index], &hpa("metrics"), Some(m))
                    }
                    ("behavior", None) if v.is_object() => {
                        set_path(&mut docs[ns_index], &hpa("behavior"), Some(v.clone()))
                    }
                    ("metric", None) if v.is_array() => {
                        set_path(&mut docs[ns_index], &hpa("metrics"), Some(v.clone()))
                    }
                    _ => Err(format!(
                        "{} is not a {axis} preset ({}) or an explicit {}",
                        labels[*ai],
                        presets::NAMES.join(", "),
                        if axis == "behavior" {
                            "behavior mapping"
                        } else {
                            "list of metrics"
                        }
                    )),
                }
            } else {
                match &paths[*ai] {
                    Some(p) if matches!(p.first(), Some(PathSeg::Key(k)) if k == "nimservice") => {
                        set_path(&mut docs[ns_index], &p[1..], Some(v.clone()))
                    }
                    Some(p) => set_path(&mut scen, p, Some(v.clone())),
                    None => Ok(()),
                }
            };
            if let Err(e) = result {
                cx.err(node.pos, &field, e);
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        let what = format!(
            "point {pi} ({})",
            axes.iter()
                .zip(&labels)
                .map(|((a, _), l)| format!("{a}={l}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ns_text = nimscale_operator::yaml::to_yaml_stream(&docs);
        if ns_file.is_none()
            && let Value::Object(m) = &mut scen
        {
            m.insert("nimservice".into(), docs[0].clone());
        }
        let overlay = Overlay {
            base: files,
            path: ns_file.clone(),
            text: ns_text,
        };
        let variants: Vec<Option<&Value>> = if traces.is_empty() {
            vec![None]
        } else {
            traces.iter().map(|(_, t)| Some(t)).collect()
        };
        let mut per_trace = Vec::new();
        for t in variants {
            let mut s = scen.clone();
            if let (Some(t), Value::Object(m)) = (t, &mut s) {
                m.insert("traffic".into(), t.clone());
            }
            let text = nimscale_operator::yaml::to_yaml(&s);
            match scenario::load(&text, &format!("{scen_name} ({what})"), &overlay, catalog) {
                Ok(sc) => {
                    if sc
                        .slos
                        .iter()
                        .map(|s| &s.name)
                        .ne(base_scenario.slos.iter().map(|s| &s.name))
                    {
                        cx.errs.push(LoadError {
                            file: file.into(),
                            line: None,
                            column: None,
                            field: None,
                            message: format!("{what}: the axes must not change the SLO list"),
                        });
                    }
                    per_trace.push(sc);
                }
                Err(e) => {
                    for mut x in e.0 {
                        x.message = format!("{what}: {}", x.message);
                        cx.errs.push(x);
                    }
                }
            }
        }
        plan_points.push(labels);
        scenarios.push(per_trace);
        let ns = docs[ns_index].clone();
        let caches = docs
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                *i != ns_index && d.get("kind").and_then(Value::as_str) == Some("NIMCache")
            })
            .map(|(_, d)| d.clone())
            .collect();
        documents.push((ns, caches));
    }
    if !cx.errs.is_empty() {
        return Err(LoadErrors(cx.errs));
    }
    Ok(Sweep {
        plan: Plan {
            name,
            axes: axes.into_iter().map(|(a, _)| a).collect(),
            points: plan_points,
            seeds,
            traces: traces.into_iter().map(|(l, _)| l).collect(),
            slos: base_scenario.slos.iter().map(|s| s.name.clone()).collect(),
            minimize,
            threshold,
        },
        scenarios,
        documents,
        warnings: base_scenario.warnings.clone(),
        description: base_scenario.description.clone(),
    })
}

/// One run's row from a simulation summary.
pub fn row_of(
    plan: &Plan,
    point: usize,
    trace: usize,
    seed: u64,
    s: &nimscale_core::sim::record::Summary,
) -> RunRow {
    let attain: Vec<f64> = s.slos.iter().map(|r| r.attainment).collect();
    let overall = attain.iter().copied().fold(f64::NAN, f64::min);
    let settled: Vec<f64> = s.load_changes.iter().filter_map(|c| c.settled_s).collect();
    let tts = if settled.is_empty() {
        f64::NAN
    } else {
        settled.iter().sum::<f64>() / settled.len() as f64
    };
    let mut values = vec![overall];
    values.extend(attain);
    values.extend([
        s.ttft.p95,
        s.e2e.p95,
        s.itl.p95,
        s.gpu_hours,
        s.node_hours,
        s.cost.unwrap_or(f64::NAN),
        f64::from(s.scale_ups),
        f64::from(s.scale_downs),
        f64::from(s.flaps),
        tts,
        s.requests.failed() as f64,
        s.requests.completed as f64,
        f64::from(s.syncs_with_metric_errors),
    ]);
    debug_assert_eq!(values.len(), plan.metrics().len());
    RunRow {
        point,
        trace,
        seed,
        values,
    }
}

/// The runs of the points in `points`, in (point, trace, seed) order.
pub fn jobs(sweep: &Sweep, points: &[usize]) -> Vec<(usize, usize, u64)> {
    let mut out = Vec::new();
    for &p in points {
        for t in 0..sweep.scenarios[p].len() {
            for &s in &sweep.plan.seeds {
                out.push((p, t, s));
            }
        }
    }
    out
}

/// Runs `jobs` on the current rayon pool. Results come back in input order
/// (`None` for runs skipped after `cancel` was set); `progress` is called
/// after each finished run with the number finished so far.
pub fn run(
    sweep: &Sweep,
    jobs: &[(usize, usize, u64)],
    cancel: &AtomicBool,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Option<RunRow>> {
    run_keeping(sweep, jobs, cancel, progress, false)
        .into_iter()
        .map(|r| r.map(|(row, _)| row))
        .collect()
}

/// [`run`], and with `series` the over-time picture of each point's
/// first-trace, first-seed run (recording does not change a run).
pub fn run_keeping(
    sweep: &Sweep,
    jobs: &[(usize, usize, u64)],
    cancel: &AtomicBool,
    progress: &(dyn Fn(usize) + Sync),
    series: bool,
) -> Vec<Option<(RunRow, Option<PointSeries>)>> {
    let done = AtomicUsize::new(0);
    let first_seed = sweep.plan.seeds.first().copied();
    jobs.par_iter()
        .map(|&(p, t, seed)| {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let keep = series && t == 0 && Some(seed) == first_seed;
            let rec = Recording {
                timeseries: keep,
                decisions: false,
            };
            let res = sweep.scenarios[p][t].simulation(seed, rec).finish();
            let row = row_of(&sweep.plan, p, t, seed, &res.summary);
            let picture = keep.then(|| {
                let seconds: Vec<[f64; 5]> = res
                    .rows
                    .iter()
                    .map(|r| {
                        [
                            r.t as f64,
                            f64::from(r.arrivals),
                            f64::from(r.desired),
                            f64::from(r.ready),
                            f64::from(r.gpus),
                        ]
                    })
                    .collect();
                bucket_series(p, &seconds)
            });
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            Some((row, picture))
        })
        .collect()
}

/// The points shard `i` of `n` runs: every `n`-th point from `i`.
pub fn shard_points(total: usize, i: usize, n: usize) -> Vec<usize> {
    (0..total).filter(|p| p % n == i).collect()
}

/// Most shards a sweep may be split into (`--shard`, `--emit-job`, and a
/// `shard.json`'s `of`): far more than any cluster runs at once, and few
/// enough that `merge` can list what is missing.
pub const MAX_SHARDS: usize = 10_000;

/// Parses `I/N` (0 ≤ I < N ≤ [`MAX_SHARDS`]).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("--shard {s:?}: expected I/N, for example 0/4"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: I is not a number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: N is not a number"))?,
    );
    if n == 0 || i >= n || n > MAX_SHARDS {
        return Err(format!("--shard {s:?}: need 0 ≤ I < N ≤ {MAX_SHARDS}"));
    }
    Ok((i, n))
}

/// `winner.yaml`: the export-input shape (`summary:`, `nimservice:`,
/// `nimcaches:`), so `nimscale export winner.yaml` writes the bundle.
pub fn winner_yaml(
    sweep_plan: &Plan,
    outcome_line: &[String],
    ns: &Value,
    caches: &[Value],
) -> String {
    let mut m = serde_json::Map::new();
    m.insert(
        "summary".into(),
        Value::Array(
            outcome_line
                .iter()
                .map(|l| Value::String(l.clone()))
                .collect(),
        ),
    );
    if !caches.is_empty() {
        m.insert("nimcaches".into(), Value::Array(caches.to_vec()));
    }
    m.insert("nimservice".into(), ns.clone());
    let mut text = format!(
        "# The winner of sweep {}: the NIMService to deploy.\n#   nimscale export winner.yaml --out bundle/\n",
        sweep_plan.name
    );
    text.push_str(&nimscale_operator::yaml::to_yaml(&Value::Object(m)));
    text
}

/// Reads `results.csv` back (for `merge`); every bad line named.
pub fn parse_results(text: &str, file: &str, plan: &Plan) -> Result<Vec<RunRow>, LoadErrors> {
    let n_metrics = plan.metrics().len();
    let mut rows = Vec::new();
    let mut errs = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let fields = split_csv(line);
        let bad = |m: String| LoadError {
            file: file.into(),
            line: Some(i + 1),
            column: None,
            field: None,
            message: m,
        };
        let want = 3 + plan.axes.len() + n_metrics;
        if fields.len() != want {
            errs.push(bad(format!("{} fields, expected {want}", fields.len())));
            continue;
        }
        let (Ok(point), Ok(trace), Ok(seed)) = (
            fields[0].parse::<usize>(),
            fields[1].parse::<usize>(),
            fields[2].parse::<u64>(),
        ) else {
            errs.push(bad(
                "point, trace and seed must be non-negative integers".into()
            ));
            continue;
        };
        if point >= plan.points.len() {
            errs.push(bad(format!("point {point} is not in the sweep")));
            continue;
        }
        let values: Result<Vec<f64>, _> = fields[3 + plan.axes.len()..]
            .iter()
            .map(|f| f.parse::<f64>())
            .collect();
        match values {
            Ok(values) => rows.push(RunRow {
                point,
                trace,
                seed,
                values,
            }),
            Err(_) => errs.push(bad("a metric value is not a number".into())),
        }
    }
    if errs.is_empty() {
        Ok(rows)
    } else {
        Err(LoadErrors(errs))
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}
