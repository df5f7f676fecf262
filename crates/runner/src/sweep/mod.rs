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

pub mod baseline;
mod file;
pub mod presets;
pub mod stats;

pub use file::{MAX_POINTS, RawSweep, load, schema, schema_text};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;
use serde_json::Value;

use nimscale_core::sim::config::Recording;
use nimscale_core::sweep::{Plan, PointSeries, RunRow, bucket_series};

use crate::scenario::Scenario;

/// A loaded sweep: its plan, and the scenario of every (point, trace).
pub struct Sweep {
    /// What is run and how it is judged.
    pub plan: Plan,
    /// `scenarios[point][trace]`.
    pub scenarios: Vec<Vec<Scenario>>,
    /// The NIMService document (and NIMCache documents) of every point:
    /// what `winner.yaml` carries.
    pub documents: Vec<PointDocs>,
    /// Warnings from loading the base scenario.
    pub warnings: Vec<String>,
    /// The base scenario's description.
    pub description: String,
    /// The user's prometheus-adapter ConfigMap (`metrics.adapter.configMap`)
    /// as written, when the scenario names one: the winner carries it.
    pub adapter_config_map: Option<String>,
}

/// What a point deploys: its NIMService (and the NIMCaches of the same
/// file) as JSON, and, when the NIMService came from the user's file, that
/// file with only the point's fields changed (comments, key order and
/// quoting kept).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointDocs {
    /// The NIMService object.
    pub nimservice: Value,
    /// NIMCache objects of the same file.
    #[serde(default)]
    pub nimcaches: Vec<Value>,
    /// The user's file, edited (`None`: inline NIMService, or an edit this
    /// file's YAML could not take faithfully; see `file_note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_text: Option<String>,
    /// The user's file name, as the scenario names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Why the user's file could not be edited in place (the objects are
    /// then re-emitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_note: Option<String>,
    /// NIMCaches the NIMService reads that the user keeps elsewhere: named,
    /// not re-emitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_nimcaches: Vec<String>,
}

impl PointDocs {
    /// What a point deploys, from its documents (`ns_index` is the
    /// NIMService's), and the user's NIMService file (`ns_file` as named,
    /// `ns_text` as written) edited in place when there is one.
    pub fn of(
        docs: &[Value],
        ns_index: usize,
        ns_file: Option<&str>,
        ns_text: Option<&str>,
    ) -> PointDocs {
        let ns = docs[ns_index].clone();
        let nimcaches: Vec<Value> = (docs.iter().enumerate())
            .filter(|(i, d)| {
                *i != ns_index && d.get("kind").and_then(Value::as_str) == Some("NIMCache")
            })
            .map(|(_, d)| d.clone())
            .collect();
        let cache_names: Vec<&str> = (nimcaches.iter())
            .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        let external_nimcaches = (ns.pointer("/spec/storage/nimCache/name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && !cache_names.contains(n))
            .map(|n| vec![n.to_string()])
            .unwrap_or_default();
        let (file_text, file_note) = match ns_text {
            Some(text) => match nimscale_operator::patch::patch_document(text, ns_index, &ns) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        PointDocs {
            nimservice: ns,
            nimcaches,
            file_text,
            file_name: ns_file.map(str::to_string),
            file_note,
            external_nimcaches,
        }
    }
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
        f64::from(s.peak_gpus),
        f64::from(s.peak_nodes),
        s.seconds_at_max,
        (s.requests.front_queue_timeout + s.requests.client_timeout) as f64,
        f64::from(u8::from((s.diagnostics.iter()).any(|d| {
            nimscale_core::sweep::DEGENERATE.contains(&d.code.as_str())
        }))),
    ]);
    debug_assert_eq!(values.len(), plan.metrics().len());
    let mut diagnostics: Vec<String> = Vec::new();
    for d in &s.diagnostics {
        if !diagnostics.contains(&d.code) {
            diagnostics.push(d.code.clone());
        }
    }
    RunRow {
        point,
        trace,
        seed,
        values,
        diagnostics,
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
/// `nimcaches:`, or `nimserviceFile:` with the user's own file edited), so
/// `nimscale export winner.yaml` writes the bundle.
pub fn winner_yaml(
    sweep_plan: &Plan,
    outcome_line: &[String],
    docs: &PointDocs,
    adapter_config_map: Option<&str>,
) -> String {
    let mut m = serde_json::Map::new();
    if let Some(a) = adapter_config_map {
        m.insert("adapterConfigMap".into(), Value::String(a.to_string()));
    }
    if !docs.external_nimcaches.is_empty() {
        m.insert(
            "externalNimCaches".into(),
            Value::Array(
                (docs.external_nimcaches.iter())
                    .map(|n| Value::String(n.clone()))
                    .collect(),
            ),
        );
    }
    m.insert(
        "summary".into(),
        Value::Array(
            outcome_line
                .iter()
                .map(|l| Value::String(l.clone()))
                .collect(),
        ),
    );
    match &docs.file_text {
        Some(t) => {
            m.insert("nimserviceFile".into(), Value::String(t.clone()));
        }
        None => {
            if !docs.nimcaches.is_empty() {
                m.insert("nimcaches".into(), Value::Array(docs.nimcaches.clone()));
            }
            m.insert("nimservice".into(), docs.nimservice.clone());
        }
    }
    let mut text = format!(
        "# The winner of sweep {}: the NIMService to deploy.\n#   nimscale export winner.yaml --out bundle/\n",
        sweep_plan.name
    );
    if let (Some(f), true) = (&docs.file_name, docs.file_text.is_some()) {
        text.push_str(&format!(
            "# nimserviceFile is your {f} with only the swept fields changed.\n"
        ));
    }
    if let Some(n) = &docs.file_note {
        text.push_str(&format!(
            "# Your NIMService file could not be edited in place ({n}): its objects\n# are written out instead, without its comments.\n"
        ));
    }
    for c in &docs.external_nimcaches {
        text.push_str(&format!(
            "# NIMCache {c} is read by the NIMService and kept in your own files: not re-emitted.\n"
        ));
    }
    text.push_str(&nimscale_operator::yaml::to_yaml(&Value::Object(m)));
    text
}
