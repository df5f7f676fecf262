//! The sweep file: its serde shape and JSON Schema (checked with lines and
//! fields before it is read, as scenarios are), and loading it into a
//! [`Sweep`]: the base scenario, and every point's scenario built from it
//! with the axis values set and loaded exactly as `simulate` loads one.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use nimscale_core::sweep::Plan;
use nimscale_operator::node::{FieldPath, Node, NodeValue, PathSeg, Pos, parse_documents};

use super::Sweep;
use super::presets::{self, Preset};
use crate::catalog::Catalog;
use crate::error::{LoadError, LoadErrors};
use crate::scenario::raw::RawTraffic;
use crate::scenario::{self, Files, Scenario};

/// Most points a sweep may have.
pub const MAX_POINTS: usize = 100_000;

/// A sweep file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "nimscale sweep")]
pub struct RawSweep {
    /// Output name (default: the file name without extension); `sweep`
    /// writes to `reports/<name>/`.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The base scenario file, relative to the sweep file. Files it names
    /// are read relative to it, as `simulate` reads them.
    pub scenario: String,
    /// A count from 1 to 1000 (the scenario's seed and the next ones) or a
    /// list of seeds; every point runs the same seeds, so it sees the same
    /// arrivals (default: the scenario's seed).
    #[serde(default)]
    pub seeds: Option<RawSeeds>,
    /// Axis to values, run as a Cartesian product in file order. An axis
    /// is a scenario field path (`duration`,
    /// `nimservice.spec.scale.hpa.maxReplicas`, `...metrics[0].pods.target`),
    /// or `behavior` / `metric`: a preset name or an explicit
    /// `spec.scale.hpa.behavior` / `metrics` value.
    #[serde(default)]
    pub axes: Option<BTreeMap<String, AxisValues>>,
    /// Explicit points instead of `axes`: each a mapping from axis to value.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub combinations: Option<Vec<BTreeMap<String, Value>>>,
    /// Traffic blocks (as the scenario's `traffic:`); every point runs
    /// under each.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawTraffic>>", length(min = 1))]
    pub traces: Option<Vec<Value>>,
    /// What the winner minimises, and the SLO attainment it must reach.
    #[serde(default)]
    pub objective: Option<RawObjective>,
}

/// One axis's values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AxisValues(#[schemars(length(min = 1))] pub Vec<Value>);

/// `seeds:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawSeeds {
    /// The base scenario's seed and the next ones.
    Count(#[schemars(range(min = 1, max = 1000))] u32),
    /// These seeds.
    List(#[schemars(length(min = 1))] Vec<u64>),
}

/// `objective:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawObjective {
    /// `cost` (default when the base scenario has
    /// `cluster.nodePool.pricePerGpuHour`) or `gpuHours`.
    #[serde(default)]
    pub minimize: Option<RawMinimize>,
    /// The fraction of SLO windows a point must meet to win (0.95).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub slo_attainment: Option<f64>,
    /// Let a point whose runs are degenerate win (false: it is excluded
    /// and listed with the reason: its HPA never read its metric, sat at
    /// maxReplicas, or its metric never fell to its target).
    #[serde(default)]
    pub allow_degenerate: Option<bool>,
}

/// What the winner minimises.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RawMinimize {
    /// Money, from the node pool's prices.
    Cost,
    /// GPU-hours.
    GpuHours,
}

/// The sweep file's JSON Schema (draft 2020-12).
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(RawSweep)).unwrap_or(Value::Null)
}

/// [`schema`] as pretty JSON with a final newline (what
/// `nimscale schema --sweep` prints and `scenarios/sweep.schema.json`
/// holds).
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

struct Cx<'a> {
    file: &'a str,
    root: &'a Node,
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

    /// Where the value at `path` was written (its parent's position if it
    /// is missing).
    fn pos(&self, path: &[PathSeg]) -> Pos {
        self.root
            .at(path)
            .map_or_else(|| self.root.locate(path), |n| n.pos)
    }

    fn finish(&mut self) -> Result<(), LoadErrors> {
        if self.errs.is_empty() {
            Ok(())
        } else {
            Err(LoadErrors(std::mem::take(&mut self.errs)))
        }
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

/// The keys of the mapping at `path`, in file order (the JSON the serde
/// shape is read from keeps them sorted), with their positions.
fn keys_in_order(root: &Node, path: &[PathSeg]) -> Vec<(String, Pos)> {
    match root.at(path).map(|n| &n.value) {
        Some(NodeValue::Map(entries)) => entries
            .iter()
            .map(|(k, _)| (k.name.clone(), k.pos))
            .collect(),
        _ => Vec::new(),
    }
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

/// The base scenario: loaded, as JSON to set axis values in, and its
/// NIMService documents (inline, or the user's file).
struct Base<'a> {
    scenario: Scenario,
    /// The scenario's file name, as shown in messages.
    name: String,
    json: Value,
    files: Prefixed<'a>,
    ns_file: Option<String>,
    /// The user's NIMService file as written (with `ns_file`).
    ns_text: Option<String>,
    ns_docs: Vec<Value>,
    /// Which of `ns_docs` is the NIMService.
    ns_index: usize,
}

impl Base<'_> {
    /// The user's adapter ConfigMap as written (the scenario loaded it,
    /// so it reads).
    fn adapter_text(&self) -> Result<Option<String>, LoadErrors> {
        let file = (self.json.pointer("/metrics/adapter/configMap/file")).and_then(Value::as_str);
        let Some(f) = file else { return Ok(None) };
        let (_, bytes) = self.files.read(f).map_err(|e| {
            LoadErrors(vec![LoadError {
                file: self.name.clone(),
                line: None,
                column: None,
                field: Some("metrics.adapter.configMap.file".into()),
                message: e,
            }])
        })?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

impl<'a> Base<'a> {
    fn read(
        cx: &mut Cx<'_>,
        path: &str,
        files: &'a dyn Files,
        catalog: &Catalog,
    ) -> Result<Base<'a>, LoadErrors> {
        let pos = cx.pos(&[key("scenario")]);
        let (name, bytes) = files.read(path).map_err(|e| {
            cx.err(pos, "scenario", e);
            LoadErrors(std::mem::take(&mut cx.errs))
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let files = Prefixed {
            base: files,
            prefix: match path.rfind('/') {
                Some(i) => path[..=i].to_owned(),
                None => String::new(),
            },
        };
        let scenario = scenario::load(&text, &name, &files, catalog)?;
        let json = match parse_documents(&text) {
            Ok(d) if d.len() == 1 => d[0].to_json(),
            _ => Value::Null,
        };
        let ns_file = json
            .get("nimservice")
            .and_then(|n| n.get("file"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (ns_docs, ns_text): (Vec<Value>, Option<String>) = match &ns_file {
            Some(p) => {
                let read = files.read(p).and_then(|(_, b)| {
                    let t = String::from_utf8_lossy(&b).into_owned();
                    parse_documents(&t)
                        .map(|d| (d.iter().map(Node::to_json).collect(), Some(t)))
                        .map_err(|e| format!("{p}: {}", e.message))
                });
                read.map_err(|e| {
                    cx.err(pos, "scenario", e);
                    LoadErrors(std::mem::take(&mut cx.errs))
                })?
            }
            None => (
                vec![json.get("nimservice").cloned().unwrap_or(Value::Null)],
                None,
            ),
        };
        let ns_index = ns_docs
            .iter()
            .position(|d| d.get("kind").and_then(Value::as_str) == Some("NIMService"))
            .unwrap_or(0);
        Ok(Base {
            scenario,
            name,
            json,
            files,
            ns_file,
            ns_text,
            ns_docs,
            ns_index,
        })
    }
}

/// An axis: its name as written, where, and its parsed field path (`None`
/// for the presets and for a refused path).
struct Axis {
    name: String,
    path: Option<Vec<PathSeg>>,
}

/// A point: for each axis it sets, the axis index, the value and where the
/// value was written.
type Combo = Vec<(usize, Value, Pos)>;

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
    let raw: RawSweep = scenario::read_checked(root, file, &schema())?;
    let mut cx = Cx {
        file,
        root,
        errs: Vec::new(),
    };
    let name = sweep_name(&mut cx, raw.name.as_deref());
    let base = Base::read(&mut cx, &raw.scenario, files, catalog)?;
    let seeds = match &raw.seeds {
        None => vec![base.scenario.seed],
        Some(RawSeeds::Count(k)) => (0..u64::from(*k))
            .map(|i| base.scenario.seed.wrapping_add(i))
            .collect(),
        Some(RawSeeds::List(l)) => l.clone(),
    };
    let traces: Vec<(String, Value)> = (raw.traces.iter().flatten().cloned())
        .map(|v| {
            let l = v
                .get("trace")
                .and_then(|x| x.get("file"))
                .and_then(Value::as_str)
                .map_or_else(|| label(&v), str::to_owned);
            (l, v)
        })
        .collect();
    let priced = base.scenario.pool.price_per_gpu_hour.is_some();
    let objective = raw.objective.as_ref();
    let minimize = match objective.and_then(|o| o.minimize) {
        Some(RawMinimize::Cost) if !priced => {
            let pos = cx.pos(&[key("objective"), key("minimize")]);
            let msg = "cost needs cluster.nodePool.pricePerGpuHour in the base scenario";
            cx.err(pos, "objective.minimize", msg);
            "cost"
        }
        Some(RawMinimize::Cost) => "cost",
        Some(RawMinimize::GpuHours) => "gpuHours",
        None if priced => "cost",
        None => "gpuHours",
    };
    let threshold = objective.and_then(|o| o.slo_attainment).unwrap_or(0.95);
    let (axes, combos) = points(&mut cx, &raw);
    cx.finish()?;
    let presets = expanded_presets(&axes, &combos, &base.scenario.template.name);
    let mut built = Built::default();
    for (pi, combo) in combos.iter().enumerate() {
        point(
            &mut cx, &base, &axes, &traces, pi, combo, catalog, &mut built,
        );
    }
    cx.finish()?;
    Ok(Sweep {
        plan: Plan {
            name,
            axes: axes.into_iter().map(|a| a.name).collect(),
            points: built.labels,
            seeds,
            traces: traces.into_iter().map(|(l, _)| l).collect(),
            slos: base.scenario.slos.iter().map(|s| s.name.clone()).collect(),
            minimize: minimize.to_string(),
            threshold,
            allow_degenerate: objective.and_then(|o| o.allow_degenerate).unwrap_or(false),
            presets,
        },
        scenarios: built.scenarios,
        documents: built.documents,
        warnings: base.scenario.warnings.clone(),
        description: base.scenario.description.clone(),
        adapter_config_map: base.adapter_text()?,
    })
}

/// `name:`, else the file name; either must make a safe folder name.
fn sweep_name(cx: &mut Cx<'_>, name: Option<&str>) -> String {
    match name {
        Some(s) => {
            if let Err(e) = scenario::check_output_name(s) {
                let pos = cx.pos(&[key("name")]);
                cx.err(pos, "name", e);
            }
            s.to_owned()
        }
        None => {
            let name = scenario::default_name(cx.file);
            if let Err(e) = scenario::check_output_name(&name) {
                let pos = cx.root.pos;
                cx.err(pos, "name", format!("from the file name: {e}"));
            }
            name
        }
    }
}

/// The axes (in file order) and the points: the Cartesian product of
/// `axes:`, or the `combinations:` as listed.
fn points(cx: &mut Cx<'_>, raw: &RawSweep) -> (Vec<Axis>, Vec<Combo>) {
    let mut axes: Vec<(String, Pos)> = Vec::new();
    let mut combos: Vec<Combo> = Vec::new();
    match (&raw.axes, &raw.combinations) {
        (Some(a), None) => {
            let mut lists: Vec<(usize, &[Value])> = Vec::new();
            for (name, pos) in keys_in_order(cx.root, &[key("axes")]) {
                lists.push((axes.len(), &a[&name].0));
                axes.push((name, pos));
            }
            let total = lists
                .iter()
                .try_fold(1usize, |n, (_, l)| n.checked_mul(l.len()));
            match total {
                _ if lists.is_empty() => {
                    let pos = cx.pos(&[key("axes")]);
                    cx.err(pos, "axes", "at least one axis with a list of values");
                }
                Some(total) if total <= MAX_POINTS => {
                    for mut n in 0..total {
                        let mut c = Vec::new();
                        for (i, l) in lists.iter().rev() {
                            let k = n % l.len();
                            let path = [key("axes"), key(&axes[*i].0), PathSeg::Index(k)];
                            c.push((*i, l[k].clone(), cx.pos(&path)));
                            n /= l.len();
                        }
                        c.reverse();
                        combos.push(c);
                    }
                }
                _ => {
                    let pos = cx.pos(&[key("axes")]);
                    let total = lists.iter().map(|(_, l)| l.len() as f64).product::<f64>();
                    cx.err(pos, "axes", format!("{total} points; at most {MAX_POINTS}"));
                }
            }
        }
        (None, Some(list)) => {
            for (j, item) in list.iter().enumerate() {
                let mut combo = Vec::new();
                let at = [key("combinations"), PathSeg::Index(j)];
                for (name, pos) in keys_in_order(cx.root, &at) {
                    let i = match axes.iter().position(|(a, _)| *a == name) {
                        Some(i) => i,
                        None => {
                            axes.push((name.clone(), pos));
                            axes.len() - 1
                        }
                    };
                    let vpos = cx.pos(&[at[0].clone(), at[1].clone(), key(&name)]);
                    combo.push((i, item[&name].clone(), vpos));
                }
                combos.push(combo);
            }
        }
        (Some(_), Some(_)) => {
            let pos = cx.pos(&[key("axes")]);
            cx.err(pos, "axes", "give axes or combinations, not both");
        }
        (None, None) => {
            let pos = cx.root.pos;
            cx.err(pos, "axes", "required: axes (or combinations)");
        }
    }
    let axes = axes
        .into_iter()
        .map(|(name, pos)| {
            let path = axis_path(cx, &name, pos);
            Axis { name, path }
        })
        .collect();
    (axes, combos)
}

/// Every preset name the `behavior` and `metric` axes use, expanded to the
/// YAML it puts in `spec.scale.hpa` (for `plan.json`).
fn expanded_presets(
    axes: &[Axis],
    combos: &[Combo],
    service: &str,
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for combo in combos {
        for (ai, v, _) in combo {
            let name = axes[*ai].name.as_str();
            let preset_axis = matches!(name, "behavior" | "metric" | "hpa");
            let (true, Some(n)) = (preset_axis, v.as_str()) else {
                continue;
            };
            let value = match presets::preset(n, service) {
                Some(Preset::Behavior(b)) => serde_json::json!({"behavior": b}),
                Some(Preset::Metrics(m)) => serde_json::json!({"metrics": m}),
                Some(Preset::Hpa(h)) => h,
                None => continue,
            };
            out.insert(n.to_string(), nimscale_operator::yaml::to_yaml(&value));
        }
    }
    out
}

/// An axis's field path, checked once: `seed` is refused (seeds are the
/// sweep's own), the presets have none.
fn axis_path(cx: &mut Cx<'_>, name: &str, pos: Pos) -> Option<Vec<PathSeg>> {
    match name {
        "seed" => {
            let msg = "seeds are set by `seeds:` (every point runs the same seeds, so it sees the same arrivals)";
            cx.err(pos, "axes.seed", msg);
            None
        }
        "behavior" | "metric" | "hpa" => None,
        _ => FieldPath::parse_user(name)
            .map(|p| p.0)
            .map_err(|e| cx.err(pos, &format!("axes.{name}"), e))
            .ok(),
    }
}

/// What the points add up to.
#[derive(Default)]
struct Built {
    labels: Vec<Vec<String>>,
    scenarios: Vec<Vec<Scenario>>,
    documents: Vec<super::PointDocs>,
}

/// One point: the base with its axis values set, loaded under every trace.
#[allow(clippy::too_many_arguments)]
fn point(
    cx: &mut Cx<'_>,
    base: &Base<'_>,
    axes: &[Axis],
    traces: &[(String, Value)],
    pi: usize,
    combo: &Combo,
    catalog: &Catalog,
    built: &mut Built,
) {
    let mut scen = base.json.clone();
    let mut docs = base.ns_docs.clone();
    let mut labels = vec![String::new(); axes.len()];
    let mut ok = true;
    for (ai, v, pos) in combo {
        let axis = &axes[*ai];
        labels[*ai] = label(v);
        let result = set_axis(base, axis, v, &mut scen, &mut docs);
        if let Err(e) = result {
            cx.err(*pos, &format!("axes.{}", axis.name), e);
            ok = false;
        }
    }
    if !ok {
        return;
    }
    // A scrape interval the scenario sets (itself or through an axis)
    // overrides the ServiceMonitor's in the simulation: the NIMService the
    // winner carries says it too, so that the deployment scrapes as
    // simulated.
    if let Some(i) = scen.pointer("/metrics/prometheus/scrapeInterval") {
        let text = match i {
            Value::String(t) => t.clone(),
            other => format!("{}s", label(other)),
        };
        let path = [
            key("spec"),
            key("metrics"),
            key("serviceMonitor"),
            key("interval"),
        ];
        // The path exists or is created: it cannot fail on a mapping.
        let _ = set_path(&mut docs[base.ns_index], &path, Some(Value::String(text)));
    }
    let what = format!(
        "point {pi} ({})",
        axes.iter()
            .zip(&labels)
            .map(|(a, l)| format!("{}={l}", a.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ns_text = nimscale_operator::yaml::to_yaml_stream(&docs);
    if base.ns_file.is_none()
        && let Value::Object(m) = &mut scen
    {
        m.insert("nimservice".into(), docs[0].clone());
    }
    let overlay = Overlay {
        base: &base.files,
        path: base.ns_file.clone(),
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
        let name = format!("{} ({what})", base.name);
        match scenario::load(&text, &name, &overlay, catalog) {
            Ok(sc) => {
                let base_slos = base.scenario.slos.iter().map(|s| &s.name);
                if sc.slos.iter().map(|s| &s.name).ne(base_slos) {
                    cx.errs.push(LoadError {
                        file: cx.file.into(),
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
    built.labels.push(labels);
    built.scenarios.push(per_trace);
    built.documents.push(super::PointDocs::of(
        &docs,
        base.ns_index,
        base.ns_file.as_deref(),
        base.ns_text.as_deref(),
    ));
}

/// Sets one axis's value: a preset or explicit value in the NIMService's
/// HPA, a `nimservice.` path in its document, any other path in the
/// scenario.
fn set_axis(
    base: &Base<'_>,
    axis: &Axis,
    v: &Value,
    scen: &mut Value,
    docs: &mut [Value],
) -> Result<(), String> {
    let ns = &mut docs[base.ns_index];
    let hpa = |k: &str| [key("spec"), key("scale"), key("hpa"), key(k)];
    let name = axis.name.as_str();
    if name == "hpa" {
        let hpa_path = [key("spec"), key("scale"), key("hpa")];
        return match v
            .as_str()
            .and_then(|n| presets::preset(n, &base.scenario.template.name))
        {
            Some(Preset::Hpa(h)) => set_path(ns, &hpa_path, Some(h)),
            None if v.is_object() => set_path(ns, &hpa_path, Some(v.clone())),
            _ => Err(format!(
                "{} is not an hpa preset (nim-operator-conservative, nim-operator-aggressive) or an explicit spec.scale.hpa mapping",
                label(v)
            )),
        };
    }
    if name == "behavior" || name == "metric" {
        let preset = v
            .as_str()
            .and_then(|n| presets::preset(n, &base.scenario.template.name));
        return match (name, preset) {
            ("behavior", Some(Preset::Behavior(b))) => set_path(ns, &hpa("behavior"), b),
            ("metric", Some(Preset::Metrics(m))) => set_path(ns, &hpa("metrics"), Some(m)),
            ("behavior", None) if v.is_object() => set_path(ns, &hpa("behavior"), Some(v.clone())),
            ("metric", None) if v.is_array() => set_path(ns, &hpa("metrics"), Some(v.clone())),
            _ => Err(format!(
                "{} is not a {name} preset ({}) or an explicit {}",
                label(v),
                presets::NAMES.join(", "),
                if name == "behavior" {
                    "behavior mapping"
                } else {
                    "list of metrics"
                }
            )),
        };
    }
    match &axis.path {
        Some(p) if matches!(p.first(), Some(PathSeg::Key(k)) if k == "nimservice") => {
            set_path(ns, &p[1..], Some(v.clone()))
        }
        Some(p) => set_path(scen, p, Some(v.clone())),
        None => Ok(()),
    }
}
