//! The report of one `simulate` run: load and capacity with start-up stages
//! shaded, each HPA metric against its target with the scale decisions
//! marked, latency against the SLOs, KV-cache usage and queue depth per pod,
//! and the tables behind them.

use super::chart::{self, Band, Chart, GREY, Kind, Line, Marker, PALETTE, Rule, TimeChart};
use super::data::{Run, Startup, Sync};
use super::{Agg, Block, Report, Section, Table};

/// How the per-second rows are grouped for drawing.
struct Grid {
    /// Seconds per bucket.
    k: usize,
    /// Rows.
    n: usize,
    /// Simulated seconds at the end of each bucket.
    t: Vec<f64>,
    /// The same in the axis unit.
    x: Vec<f64>,
    /// Seconds per axis unit.
    unit: f64,
    /// Axis title.
    x_label: String,
}

impl Grid {
    fn new(ts: &[f64], duration: f64) -> Grid {
        let n = ts.len();
        let k = super::bucket_len(n);
        let (unit, x_label) = super::time_axis(duration);
        let t: Vec<f64> = (0..n.div_ceil(k))
            .map(|j| ts[((j + 1) * k).min(n) - 1])
            .collect();
        let x = t.iter().map(|v| v / unit).collect();
        Grid {
            k,
            n,
            t,
            x,
            unit,
            x_label: x_label.into(),
        }
    }

    fn agg(&self, v: &[f64], a: Agg) -> Vec<f64> {
        if v.len() != self.n {
            // A column this run does not have: nothing to draw.
            return vec![f64::NAN; self.t.len()];
        }
        super::aggregate(v, self.k, a)
    }

    /// A time chart on this grid (the fields a chart sets come first).
    fn axis(&self) -> TimeChart {
        TimeChart {
            x: self.x.clone(),
            x_label: self.x_label.clone(),
            ..TimeChart::default()
        }
    }

    fn how(&self, a: &str) -> String {
        if self.k == 1 {
            "One point per simulated second".into()
        } else {
            format!("One point per {} simulated seconds ({a} over each)", self.k)
        }
    }
}

fn line(label: &str, color: chart::RGBColor, values: Vec<f64>) -> Line {
    Line {
        label: label.into(),
        color,
        values,
        dashed: false,
        step: false,
        right: false,
        width: 2,
    }
}

/// Start-up stages, in order: (name, colour).
const STAGES: [(&str, chart::RGBColor); 5] = [
    ("waiting for a GPU node", chart::RGBColor(214, 39, 40)),
    ("image pull, container start", chart::RGBColor(255, 127, 14)),
    ("model load", chart::RGBColor(188, 189, 34)),
    ("engine warm-up", chart::RGBColor(148, 103, 189)),
    ("probes until ready", chart::RGBColor(23, 190, 207)),
];

/// When each of a pod's [`STAGES`] ended, seconds after its creation.
fn stage_ends(p: &Startup) -> [Option<f64>; 5] {
    [
        p.scheduled_after_s,
        p.container_started_after_s,
        p.model_loaded_after_s,
        p.server_up_after_s,
        p.ready_after_s,
    ]
}

/// A pod's stage intervals in absolute seconds (`end` for a stage still
/// running when the pod was deleted or the run ended).
fn stage_spans(p: &Startup, end: f64) -> Vec<(usize, f64, f64)> {
    let c = p.created_s;
    let stop = p.deleted_s.unwrap_or(end);
    let mut out = Vec::new();
    let mut from = c;
    for (i, m) in stage_ends(p).iter().enumerate() {
        match m {
            Some(after) => {
                let to = (c + after).min(stop);
                if to > from {
                    out.push((i, from, to));
                }
                from = to;
            }
            None => {
                if stop > from {
                    out.push((i, from, stop));
                }
                break;
            }
        }
    }
    out
}

fn stage_bands(run: &Run, g: &Grid) -> Vec<Band> {
    let end = run.summary.duration;
    let spans: Vec<(usize, f64, f64)> = run
        .summary
        .pod_startups
        .iter()
        .flat_map(|p| stage_spans(p, end))
        .collect();
    let mut counts = vec![vec![0.0; g.t.len()]; STAGES.len()];
    for (j, &t) in g.t.iter().enumerate() {
        for &(s, a, b) in &spans {
            if a < t && t <= b {
                counts[s][j] += 1.0;
            }
        }
    }
    let mut below = vec![0.0; g.t.len()];
    let mut bands = Vec::new();
    for (s, (name, color)) in STAGES.iter().enumerate() {
        if counts[s].iter().all(|c| *c == 0.0) {
            continue;
        }
        let hi: Vec<f64> = below.iter().zip(&counts[s]).map(|(b, c)| b + c).collect();
        bands.push(Band {
            label: format!("starting: {name}"),
            color: *color,
            opacity: 0.3,
            lo: below.clone(),
            hi: hi.clone(),
        });
        below = hi;
    }
    bands
}

fn col<'a>(run: &'a Run, name: &str) -> &'a [f64] {
    run.series.get(name).unwrap_or(&[])
}

fn load_chart(run: &Run, g: &Grid) -> Chart {
    let mut desired = line(
        "replicas desired (HPA)",
        PALETTE[1],
        g.agg(col(run, "replicas_desired"), Agg::Max),
    );
    desired.dashed = true;
    desired.step = true;
    let mut ready = line(
        "replicas ready",
        PALETTE[0],
        g.agg(col(run, "replicas_ready"), Agg::Max),
    );
    ready.step = true;
    ready.width = 3;
    let mut gpus = line("GPUs in use", PALETTE[4], g.agg(col(run, "gpus"), Agg::Max));
    gpus.step = true;
    let mut load = line(
        "arrivals/s (right axis)",
        GREY,
        g.agg(col(run, "arrivals"), Agg::Mean),
    );
    load.right = true;
    load.width = 1;
    Chart {
        id: "load".into(),
        title: "Load, replicas and GPUs".into(),
        caption: format!(
            "Requests arriving per second (grey, right axis) and the pods that serve them: the HPA's desired count, ready pods and GPUs held. Shaded: pods starting, by start-up stage. {}; pod counts are the most over each bucket, arrivals the mean.",
            g.how("max")
        ),
        kind: Kind::Time(TimeChart {
            y_label: "pods / GPUs".into(),
            y2_label: Some("requests/s".into()),
            from_zero: true,
            bands: stage_bands(run, g),
            lines: vec![load, gpus, ready, desired],
            ..g.axis()
        }),
    }
}

/// The syncs that wrote a new replica count, numbered from 1.
fn rescales(run: &Run) -> Vec<(usize, &Sync)> {
    run.syncs
        .iter()
        .filter(|s| s.rescale)
        .enumerate()
        .map(|(i, s)| (i + 1, s))
        .collect()
}

fn metric_charts(run: &Run, g: &Grid) -> Vec<Chart> {
    let mut out = Vec::new();
    let names: Vec<String> = run
        .series
        .names
        .iter()
        .filter_map(|n| n.strip_suffix("_seen"))
        .filter(|n| run.series.get(&format!("{n}_target")).is_some())
        .map(str::to_string)
        .collect();
    let marks = rescales(run);
    for (mi, stem) in names.iter().enumerate() {
        let seen = col(run, &format!("{stem}_seen"));
        let target = col(run, &format!("{stem}_target"));
        // The metric's own name (`resource:cpu`), as the decisions give it;
        // the column heads its identifier-safe stem (older files: the name).
        let name = &(run.syncs.iter())
            .flat_map(|s| s.metrics.iter())
            .filter_map(|m| m.metric.as_deref())
            .find(|m| crate::simulate::column_stem(m) == *stem || m == stem)
            .map_or_else(|| stem.clone(), str::to_string);
        let mut seen_line = line("value the HPA saw", PALETTE[0], g.agg(seen, Agg::Last));
        seen_line.step = true;
        let first = target.iter().copied().find(|v| v.is_finite());
        let constant = first.is_some_and(|f| target.iter().all(|v| !v.is_finite() || *v == f));
        let mut lines = vec![seen_line];
        let mut rules = Vec::new();
        match first {
            Some(f) if constant => rules.push(Rule {
                label: format!("target {}", chart::fmt_tick(f)),
                color: PALETTE[3],
                y: f,
            }),
            Some(_) => {
                let mut l = line("target", PALETTE[3], g.agg(target, Agg::Last));
                l.dashed = true;
                lines.push(l);
            }
            None => {}
        }
        let markers: Vec<Marker> = marks
            .iter()
            .filter_map(|(k, s)| {
                let v = s
                    .metrics
                    .iter()
                    .find(|m| m.metric.as_deref() == Some(name.as_str()))
                    .or_else(|| s.metrics.get(mi))
                    .and_then(|m| m.value)?;
                Some(Marker {
                    x: s.t / g.unit,
                    y: v,
                    up: s.desired_replicas > s.current_replicas,
                    text: format!("#{k} → {}", s.desired_replicas),
                })
            })
            .collect();
        let errors = run
            .syncs
            .iter()
            .filter(|s| {
                s.metrics
                    .iter()
                    .any(|m| m.metric.as_deref() == Some(name.as_str()) && m.error.is_some())
            })
            .count();
        let err_text = if errors > 0 {
            format!(" {errors} syncs could not read this metric (see the decisions table).")
        } else {
            String::new()
        };
        out.push(Chart {
            id: format!("hpa-metric-{}", mi + 1),
            title: format!("HPA metric {name} vs its target"),
            caption: format!(
                "The metric as the HPA last received it (natural units, after the scrape, query and adapter path) against its target; ▲/▼ mark each sync that wrote a new replica count, numbered as in the scale decisions table.{err_text} {}.",
                g.how("last value")
            ),
            kind: Kind::Time(TimeChart {
                y_label: if name.len() <= 28 {
                    name.clone()
                } else {
                    "metric value".into()
                },
                from_zero: true,
                lines,
                rules,
                markers,
                marker_color: Some(PALETTE[2]),
                marker_label: "scale decision (#n → replicas)".into(),
                ..g.axis()
            }),
        });
    }
    out
}

fn latency_charts(run: &Run, g: &Grid) -> Vec<Chart> {
    let kinds = [
        ("ttft", "Time to first token", "ttft"),
        ("itl", "Inter-token latency", "itl"),
        ("e2e", "End-to-end latency", "e2e"),
    ];
    kinds
        .iter()
        .map(|(key, title, slo_metric)| {
            let p50 = line(
                "p50 of the requests finished",
                PALETTE[0],
                g.agg(col(run, &format!("{key}_p50_s")), Agg::Mean),
            );
            let p95 = line(
                "p95 of the requests finished",
                PALETTE[1],
                g.agg(col(run, &format!("{key}_p95_s")), Agg::Max),
            );
            let rules: Vec<Rule> = run
                .summary
                .slos
                .iter()
                .filter(|s| s.metric == *slo_metric)
                .map(|s| Rule {
                    label: format!(
                        "SLO {}: p{} ≤ {}",
                        s.name,
                        chart::fmt_tick(s.percentile),
                        chart::fmt_secs(s.threshold)
                    ),
                    color: PALETTE[3],
                    y: s.threshold,
                })
                .collect();
            Chart {
                id: format!("latency-{key}"),
                title: format!("{title} vs SLO"),
                caption: format!(
                    "Percentiles of the requests that finished in each simulated second (log scale), against the SLO thresholds; the SLOs themselves are judged over all requests (table below). {}.",
                    g.how("p95: the worst second, p50: the mean")
                ),
                kind: Kind::Time(TimeChart {
                    y_label: format!("{title} (log)"),
                    log: true,
                    lines: vec![p50, p95],
                    rules,
                    ..g.axis()
                }),
            }
        })
        .collect()
}

fn band_chart(run: &Run, g: &Grid, spec: BandSpec<'_>) -> Chart {
    let scale = |v: Vec<f64>| v.into_iter().map(|x| x * spec.scale).collect::<Vec<_>>();
    let lo = scale(g.agg(col(run, spec.min), Agg::Min));
    let hi = scale(g.agg(col(run, spec.max), Agg::Max));
    let med = scale(g.agg(col(run, spec.median), Agg::Mean));
    let mut lines = vec![line("median pod", PALETTE[0], med)];
    if let Some((label, c)) = spec.extra {
        let v = scale(g.agg(col(run, c), Agg::Max));
        if v.iter().any(|x| *x > 0.0) {
            let mut l = line(label, PALETTE[3], v);
            l.dashed = true;
            lines.push(l);
        }
    }
    Chart {
        id: spec.id.into(),
        title: spec.title.into(),
        caption: format!(
            "{} The band spans the least and the most loaded serving pod, the line is the median pod. {}.",
            spec.what,
            g.how("min, mean of the median and max")
        ),
        kind: Kind::Time(TimeChart {
            y_label: spec.y_label.into(),
            from_zero: true,
            bands: vec![Band {
                label: "min–max over pods".into(),
                color: PALETTE[0],
                opacity: 0.25,
                lo,
                hi,
            }],
            lines,
            ..g.axis()
        }),
    }
}

struct BandSpec<'a> {
    id: &'a str,
    title: &'a str,
    what: &'a str,
    y_label: &'a str,
    min: &'a str,
    median: &'a str,
    max: &'a str,
    scale: f64,
    extra: Option<(&'a str, &'a str)>,
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|x| x.is_finite()).map_or("–".into(), f)
}

fn secs(v: Option<f64>) -> String {
    opt(v, chart::fmt_secs)
}

fn pct(v: Option<f64>) -> String {
    opt(v, |x| format!("{:.2} %", x * 100.0))
}

fn dur(v: Option<f64>) -> String {
    opt(v, |x| format!("{x:.0} s"))
}

fn table(header: &[&str], numeric: &[bool], rows: Vec<Vec<String>>) -> Block {
    Block::Table(Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        numeric: numeric.to_vec(),
    })
}

fn kv(rows: &[(&str, String)]) -> Block {
    table(
        &["", "value"],
        &[false, true],
        rows.iter()
            .map(|(k, v)| vec![k.to_string(), v.clone()])
            .collect(),
    )
}

/// Pod start-up rows shown at most; the rest are summarised.
pub const MAX_POD_ROWS: usize = 40;

fn startup_table(run: &Run) -> Vec<Block> {
    let pods = &run.summary.pod_startups;
    if pods.is_empty() {
        return vec![Block::Text("No pod was created.".into())];
    }
    // How long stage `i` took, if it finished.
    let stage = |p: &Startup, i: usize| -> Option<f64> {
        let ends = stage_ends(p);
        let start = if i == 0 { Some(0.0) } else { ends[i - 1] };
        Some(ends[i]? - start?)
    };
    let mut rows = Vec::new();
    for p in pods.iter().take(MAX_POD_ROWS) {
        let mut r = vec![p.pod.clone(), format!("{:.0} s", p.created_s)];
        r.extend((0..5).map(|i| dur(stage(p, i))));
        r.push(dur(p.ready_after_s));
        r.push(opt(p.deleted_s, |x| format!("{x:.0} s")));
        r.push(if p.pulled_image { "pulled" } else { "cached" }.into());
        r.push(p.requests_dispatched.to_string());
        rows.push(r);
    }
    let mut blocks = vec![table(
        &[
            "pod",
            "created",
            "GPU node",
            "image, start",
            "model load",
            "warm-up",
            "probes",
            "ready after",
            "deleted",
            "image",
            "requests",
        ],
        &[
            false, true, true, true, true, true, true, true, true, false, true,
        ],
        rows,
    )];
    if pods.len() > MAX_POD_ROWS {
        blocks.push(Block::Text(format!(
            "… and {} more pods (all are in summary.json).",
            pods.len() - MAX_POD_ROWS
        )));
    }
    let ready: Vec<f64> = pods.iter().filter_map(|p| p.ready_after_s).collect();
    if !ready.is_empty() {
        let mean = ready.iter().sum::<f64>() / ready.len() as f64;
        let max = ready.iter().copied().fold(f64::MIN, f64::max);
        blocks.push(Block::Text(format!(
            "{} of {} pods became ready, after {:.0} s on average and {:.0} s at most.",
            ready.len(),
            pods.len(),
            mean,
            max
        )));
    }
    blocks
}

fn decisions_table(run: &Run) -> Vec<Block> {
    let marks = rescales(run);
    if run.syncs.is_empty() {
        return vec![Block::Text(
            "No HPA ran: the NIMService does not autoscale.".into(),
        )];
    }
    if marks.is_empty() {
        return vec![Block::Text(
            "The HPA never changed the replica count.".into(),
        )];
    }
    let rows = marks
        .iter()
        .map(|(k, s)| {
            let metrics = s
                .metrics
                .iter()
                .map(|m| {
                    let name = m.metric.clone().unwrap_or_default();
                    match (m.value, m.target, &m.error) {
                        (_, _, Some(e)) => format!("{name}: {e}"),
                        (Some(v), Some(t), None) => format!(
                            "{name} = {} (target {}) → {}",
                            chart::fmt_tick(v),
                            chart::fmt_tick(t),
                            m.proposal.map_or("–".into(), |p| p.to_string())
                        ),
                        _ => name,
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                format!("#{k}"),
                format!("{:.0} s", s.t),
                format!("{} → {}", s.current_replicas, s.desired_replicas),
                s.rescale_reason.clone().unwrap_or_default(),
                metrics,
            ]
        })
        .collect();
    vec![table(
        &[
            "#",
            "time",
            "replicas",
            "reason",
            "metrics (value, target → proposal)",
        ],
        &[false, true, false, false, false],
        rows,
    )]
}

/// The report of a run.
pub fn report(run: &Run) -> Report {
    let s = &run.summary;
    let g = Grid::new(col(run, "t_s"), s.duration);
    let mut sections = vec![
        service_levels(s),
        capacity(s),
        Section {
            heading: "Load and replicas".into(),
            blocks: vec![Block::Chart(load_chart(run, &g))],
        },
        Section {
            heading: "What the HPA saw and did".into(),
            blocks: metric_charts(run, &g)
                .into_iter()
                .map(Block::Chart)
                .chain(scaling(s))
                .collect(),
        },
        Section {
            heading: "Scale decisions".into(),
            blocks: decisions_table(run),
        },
        users_felt(run, &g),
        inside_pods(run, &g),
        Section {
            heading: "Pod start-ups".into(),
            blocks: startup_table(run),
        },
    ];
    if !s.diagnostics.is_empty() {
        // A banner above the figures: what they cannot be read without.
        let items = (s.diagnostics.iter())
            .map(|d| format!("{} {}: {}", d.severity.to_uppercase(), d.code, d.message))
            .collect();
        sections.insert(
            0,
            Section {
                heading: "Diagnostics: read these before the figures".into(),
                blocks: vec![Block::List(items)],
            },
        );
    }
    if !s.warnings.is_empty() {
        sections.push(Section {
            heading: "Warnings".into(),
            blocks: vec![Block::List(s.warnings.clone())],
        });
    }
    Report {
        title: format!("nimscale report: {}", s.scenario),
        facts: facts(s),
        sections,
    }
}

mod sections;

use sections::{capacity, facts, inside_pods, scaling, service_levels, users_felt};

#[cfg(test)]
mod tests;
