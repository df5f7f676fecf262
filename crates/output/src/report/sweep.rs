//! The report of a `sweep` or `compare`: the Pareto front of cost against
//! SLO attainment with the winner marked, the points side by side on the
//! same axes for each key figure, and the ranked table with confidence
//! intervals.

use super::chart::{
    self, Chart, Dot, DotChart, GREY, Kind, Line, PALETTE, Rule, Scatter, ScatterPoint, TimeChart,
};
use super::{Block, Report, Section, Table};
use crate::sweep::{Outcome, Plan, PointSeries, PointSummary};

/// An axis name short enough for a chart: the last two parts of a field
/// path (`…hpa.maxReplicas`, `target.value`).
pub fn short_axis(axis: &str) -> String {
    let parts: Vec<&str> = axis.split('.').collect();
    parts[parts.len().saturating_sub(2)..].join(".")
}

/// A point's label: `#i axis=value, …` with short axis names.
pub fn point_label(plan: &Plan, p: usize) -> String {
    let axes = plan
        .axes
        .iter()
        .map(|a| short_axis(a))
        .zip(plan.points.get(p).into_iter().flatten())
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    if axes.is_empty() {
        format!("#{p}")
    } else {
        format!("#{p} {axes}")
    }
}

/// Points best first: the winner, the other eligible points by objective
/// (then attainment), then the rest by attainment.
pub fn ranked<'a>(plan: &Plan, o: &'a Outcome) -> Vec<&'a PointSummary> {
    let obj = plan.objective_index();
    let mut v: Vec<&PointSummary> = o.points.iter().collect();
    v.sort_by(|a, b| {
        let wa = o.winner == Some(a.point);
        let wb = o.winner == Some(b.point);
        wb.cmp(&wa)
            .then(b.eligible.cmp(&a.eligible))
            .then_with(|| {
                if a.eligible {
                    a.stats[obj].mean.total_cmp(&b.stats[obj].mean)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then(b.stats[0].mean.total_cmp(&a.stats[0].mean))
            .then(a.stats[obj].mean.total_cmp(&b.stats[obj].mean))
            .then(a.point.cmp(&b.point))
    });
    v
}

/// The figures compared side by side: (metric column, title, digits).
const FIGURES: [(&str, &str, usize); 7] = [
    ("slo_attainment", "SLO attainment (all SLOs)", 4),
    ("gpu_hours", "GPU-hours", 2),
    ("cost", "cost", 2),
    ("ttft_p95_s", "TTFT p95 (s)", 3),
    ("e2e_p95_s", "end-to-end p95 (s)", 3),
    ("flaps", "flaps", 1),
    ("time_to_scale_s", "time to scale (s)", 0),
];

/// Points drawn over time at most (the best-ranked ones).
pub const OVERLAY_POINTS: usize = 8;

/// Ready replicas over time of the best-ranked points on one chart, with
/// the load they share.
fn overlay(plan: &Plan, o: &Outcome, series: &[PointSeries]) -> Option<Chart> {
    let order = ranked(plan, o);
    let picked: Vec<&PointSeries> = order
        .iter()
        .filter_map(|p| series.iter().find(|s| s.point == p.point))
        .take(OVERLAY_POINTS)
        .collect();
    let first = picked.first()?;
    let n = first.rows.len();
    let end = first.rows.last().map_or(0.0, |r| r[0]);
    let (unit, x_label) = super::time_axis(end);
    let col = |s: &PointSeries, k: usize| -> Vec<f64> {
        let mut v: Vec<f64> = s.rows.iter().map(|r| r[k]).collect();
        v.resize(n, f64::NAN);
        v
    };
    let mut lines = vec![Line {
        label: format!("arrivals/s of #{} (right axis)", first.point),
        color: GREY,
        values: col(first, 1),
        dashed: false,
        step: false,
        right: true,
        width: 1,
    }];
    for (i, s) in picked.iter().enumerate() {
        let winner = o.winner == Some(s.point);
        lines.push(Line {
            label: if winner {
                format!("{} (winner)", point_label(plan, s.point))
            } else {
                point_label(plan, s.point)
            },
            color: if winner {
                PALETTE[3]
            } else {
                // Red is the winner's.
                [0, 1, 2, 4, 5, 6, 8, 9].map(|k| PALETTE[k])[i % 8]
            },
            values: col(s, 3),
            dashed: false,
            step: true,
            right: false,
            width: if winner { 3 } else { 2 },
        });
    }
    Some(Chart {
        id: "over-time".into(),
        title: "Ready replicas over time".into(),
        caption: format!(
            "Each point's run with the first trace and the first seed (the same arrivals for every point), up to {OVERLAY_POINTS} best-ranked points; the most ready pods in each bucket of {} s.",
            if n > 1 {
                format!("{:.0}", first.rows[1][0] - first.rows[0][0])
            } else {
                "1".into()
            }
        ),
        kind: Kind::Time(TimeChart {
            x: first.rows.iter().map(|r| r[0] / unit).collect(),
            x_label: x_label.into(),
            y_label: "ready pods".into(),
            y2_label: Some("requests/s".into()),
            from_zero: true,
            lines,
            ..TimeChart::default()
        }),
    })
}

/// The report of a sweep; `series` (from `series.csv`, may be empty) adds
/// the points' runs over time.
pub fn report(
    plan: &Plan,
    o: &Outcome,
    series: &[PointSeries],
    baseline: Option<&crate::sweep::BaselineFile>,
) -> Report {
    let order = ranked(plan, o);
    Report {
        title: format!("nimscale sweep report: {}", plan.name),
        facts: facts(plan, o),
        sections: vec![
            Section {
                heading: "Cost against service level".into(),
                blocks: vec![Block::Chart(pareto_chart(plan, o))],
            },
            Section {
                heading: "Ranking".into(),
                blocks: ranking(plan, o, &order),
            },
        ]
        .into_iter()
        .chain(baseline.map(|b| Section {
            heading: "Fixed-replicas baseline".into(),
            blocks: baseline_blocks(plan, o, b),
        }))
        .chain([Section {
            heading: "Side by side".into(),
            blocks: side_by_side(plan, o, &order),
        }])
        .chain(overlay(plan, o, series).map(|c| Section {
            heading: "Over time".into(),
            blocks: vec![Block::Chart(c)],
        }))
        .collect(),
    }
}

/// The baseline's line and the counts tried.
fn baseline_blocks(plan: &Plan, o: &Outcome, b: &crate::sweep::BaselineFile) -> Vec<Block> {
    let fmt = |v: Option<f64>, d: usize| v.map_or("-".into(), |v| format!("{v:.d$}"));
    let rows = (b.tried.iter())
        .map(|t| {
            vec![
                t.replicas.to_string(),
                fmt(t.slo_attainment, 4),
                fmt(t.objective, 3),
                if Some(t.replicas) == b.replicas {
                    "baseline"
                } else {
                    ""
                }
                .into(),
            ]
        })
        .collect();
    vec![
        Block::Text(format!(
            "{}. The same arrivals (every trace and seed) served by a constant number of Ready pods with no autoscaler; counts found by bisection.",
            b.line(plan, o)
        )),
        Block::Table(Table {
            header: vec![
                "fixed pods".into(),
                "SLO attainment (mean)".into(),
                format!("{} (mean)", b.objective),
                String::new(),
            ],
            rows,
            numeric: vec![true, true, true, false],
        }),
    ]
}

/// Runs per point: traces × seeds.
fn runs_per_point(plan: &Plan) -> usize {
    plan.seeds.len() * plan.traces.len().max(1)
}

/// What was swept and how it was judged.
fn facts(plan: &Plan, o: &Outcome) -> Vec<(String, String)> {
    let obj_name = &plan.metrics()[plan.objective_index()];
    let runs_per_point = runs_per_point(plan);
    let mut facts = vec![
        ("sweep".to_string(), plan.name.clone()),
        (
            "points".into(),
            format!("{} ({} with results)", plan.points.len(), o.points.len()),
        ),
        (
            "runs per point".into(),
            format!(
                "{runs_per_point} ({} trace(s) × {} seed(s))",
                plan.traces.len().max(1),
                plan.seeds.len()
            ),
        ),
        (
            "judged by".into(),
            format!(
                "lowest mean {obj_name} among points with mean SLO attainment ≥ {}",
                plan.threshold
            ),
        ),
    ];
    if !plan.slos.is_empty() {
        facts.push(("SLOs".into(), plan.slos.join(", ")));
    }
    facts.push((
        "winner".into(),
        o.winner
            .map_or("none: no point reaches the threshold".into(), |w| {
                point_label(plan, w)
            }),
    ));
    facts
}

/// The objective against SLO attainment, with the Pareto front.
fn pareto_chart(plan: &Plan, o: &Outcome) -> Chart {
    let obj = plan.objective_index();
    let obj_name = &plan.metrics()[obj];
    Chart {
        id: "pareto".into(),
        title: format!("{obj_name} vs SLO attainment"),
        caption: "Each point's mean over its runs with 95 % confidence intervals (grey whiskers). The line joins the Pareto front (no other point is both cheaper and better); the winner is the cheapest point at or above the attainment threshold (dashed). Points are numbered as in the table.".to_string(),
        kind: Kind::Scatter(Scatter {
            x_label: format!("{obj_name} (mean)"),
            y_label: "SLO attainment (mean)".into(),
            threshold: Some(plan.threshold),
            points: o
                .points
                .iter()
                .map(|p| ScatterPoint {
                    label: format!("#{}", p.point),
                    x: (p.stats[obj].mean, p.stats[obj].ci95),
                    y: (p.stats[0].mean, p.stats[0].ci95),
                    front: p.pareto,
                    eligible: p.eligible,
                    winner: o.winner == Some(p.point),
                })
                .collect(),
        }),
    }
}

/// One dot chart per figure, best-ranked point first.
fn side_by_side(plan: &Plan, o: &Outcome, order: &[&PointSummary]) -> Vec<Block> {
    let metrics = plan.metrics();
    let idx = |name: &str| metrics.iter().position(|m| m == name);
    let runs_per_point = runs_per_point(plan);
    FIGURES
        .iter()
        .filter_map(|(m, title, _)| {
            let i = idx(m)?;
            if order.iter().all(|p| p.stats[i].mean.is_nan()) {
                return None;
            }
            let rule = (i == 0).then(|| Rule {
                label: format!("threshold {}", chart::fmt_tick(plan.threshold)),
                color: PALETTE[2],
                y: plan.threshold,
            });
            Some(Block::Chart(Chart {
                id: format!("compare-{}", m.replace('_', "-")),
                title: title.to_string(),
                caption: format!(
                    "{title} per point, best-ranked first: mean with 95 % confidence interval over {runs_per_point} run(s); the winner in red."
                ),
                kind: Kind::Dots(DotChart {
                    x_label: (*title).to_string(),
                    dots: order
                        .iter()
                        .map(|p| Dot {
                            label: point_label(plan, p.point),
                            mean: p.stats[i].mean,
                            ci: p.stats[i].ci95,
                            highlight: o.winner == Some(p.point),
                        })
                        .collect(),
                    rule,
                }),
            }))
        })
        .collect()
}

/// The ranking table, and the points left out for want of runs.
fn ranking(plan: &Plan, o: &Outcome, order: &[&PointSummary]) -> Vec<Block> {
    let metrics = plan.metrics();
    let idx = |name: &str| metrics.iter().position(|m| m == name);
    let mut header: Vec<String> = vec!["rank".into(), "point".into()];
    // Short axis labels, with a legend: full field paths as headers push
    // the key columns off a 1280-px window.
    header.extend((1..=plan.axes.len()).map(|i| format!("A{i}")));
    header.extend(["runs".into(), "eligible".into(), "Pareto".into()]);
    let mut shown: Vec<(usize, usize)> = Vec::new();
    for (m, title, d) in FIGURES {
        if let Some(i) = idx(m) {
            header.push(title.to_string());
            shown.push((i, d));
        }
    }
    for s in &plan.slos {
        if let Some(i) = idx(&format!("slo:{s}")) {
            header.push(format!("SLO {s}"));
            shown.push((i, 4));
        }
    }
    for (m, title) in [
        ("scale_ups", "scale-ups"),
        ("scale_downs", "scale-downs"),
        ("failed_requests", "failed requests"),
    ] {
        if let Some(i) = idx(m) {
            header.push(title.to_string());
            shown.push((i, 1));
        }
    }
    let n_axes = plan.axes.len();
    let mut numeric = vec![true, false];
    numeric.extend(std::iter::repeat_n(false, n_axes));
    numeric.extend([true, false, false]);
    numeric.extend(std::iter::repeat_n(true, shown.len()));
    let rows = order
        .iter()
        .enumerate()
        .map(|(r, p)| {
            let mut row = vec![
                (r + 1).to_string(),
                if o.winner == Some(p.point) {
                    format!("#{} (winner)", p.point)
                } else {
                    format!("#{}", p.point)
                },
            ];
            row.extend(plan.points[p.point].iter().cloned());
            row.push(p.runs.to_string());
            row.push(if p.eligible { "yes" } else { "no" }.into());
            row.push(if p.pareto { "front" } else { "" }.into());
            row.extend(
                shown
                    .iter()
                    .map(|(i, d)| crate::sweep::cell(p.stats[*i], *d)),
            );
            row
        })
        .collect();
    let incomplete: Vec<String> = (0..plan.points.len())
        .filter(|p| !o.points.iter().any(|s| s.point == *p))
        .map(|p| point_label(plan, p))
        .collect();
    let legend = (plan.axes.iter().enumerate())
        .map(|(i, a)| format!("A{} = {a}", i + 1))
        .collect::<Vec<_>>()
        .join("; ");
    let mut ranking = vec![
        Block::Text(format!("Axes: {legend}.")),
        Block::Text(format!(
            "Mean ± 95 % confidence half-width (Student t) over each point's runs; eligible: mean SLO attainment ≥ {}.",
            plan.threshold
        )),
        Block::Table(Table {
            header,
            rows,
            numeric,
        }),
    ];
    if !incomplete.is_empty() {
        ranking.push(Block::Text(
            "Points without finished runs (left out above):".into(),
        ));
        ranking.push(Block::List(incomplete));
    }
    if let Some(d) = idx("degenerate") {
        let degenerate: Vec<String> = (order.iter())
            .filter(|p| p.stats[d].mean > 0.0)
            .map(|p| {
                format!(
                    "{}: {:.0} % of its runs",
                    point_label(plan, p.point),
                    100.0 * p.stats[d].mean
                )
            })
            .collect();
        if !degenerate.is_empty() {
            ranking.push(Block::Text(format!(
                "Degenerate points ({}): in these runs the HPA never read its metric, sat at maxReplicas for half the run or more, or its metric never fell to its target, so the figures are those of a configuration that did not autoscale (each run's summary.json says which).",
                if plan.allow_degenerate {
                    "allowed to win by --allow-degenerate"
                } else {
                    "not eligible; --allow-degenerate lets them win"
                }
            )));
            ranking.push(Block::List(degenerate));
        }
    }
    ranking.extend(diagnosed(plan, order));
    ranking
}

/// The points' diagnostic codes with their run counts, if any point has
/// one.
fn diagnosed(plan: &Plan, order: &[&PointSummary]) -> Vec<Block> {
    let lines: Vec<String> = (order.iter())
        .filter(|p| !p.diagnostics.is_empty())
        .map(|p| {
            let list: Vec<String> = (p.diagnostics.iter())
                .map(|(c, n)| format!("{c} ({n}/{} runs)", p.runs))
                .collect();
            format!("{}: {}", point_label(plan, p.point), list.join(", "))
        })
        .collect();
    if lines.is_empty() {
        return Vec::new();
    }
    vec![
        Block::Text(
            "Diagnostics of the points' runs (the codes are explained in the README):".into(),
        ),
        Block::List(lines),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Stat;

    fn st(mean: f64) -> Stat {
        Stat {
            mean,
            ci95: 0.1,
            n: 2,
        }
    }

    #[test]
    fn ranking_puts_the_winner_first_then_eligible_by_cost() {
        let plan = Plan {
            name: "s".into(),
            axes: vec!["a".into()],
            points: vec![vec!["x".into()], vec!["y".into()], vec!["z".into()]],
            seeds: vec![1, 2],
            traces: vec![],
            slos: vec![],
            minimize: "gpuHours".into(),
            threshold: 0.9,
            allow_degenerate: false,
            presets: Default::default(),
        };
        let n = plan.metrics().len();
        let obj = plan.objective_index();
        let mk = |point, att: f64, cost: f64, eligible| {
            let mut stats = vec![st(f64::NAN); n];
            stats[0] = st(att);
            stats[obj] = st(cost);
            PointSummary {
                point,
                runs: 2,
                stats,
                eligible,
                pareto: false,
                diagnostics: Vec::new(),
            }
        };
        let o = Outcome {
            points: vec![
                mk(0, 0.5, 1.0, false),
                mk(1, 0.95, 3.0, true),
                mk(2, 0.99, 2.0, true),
            ],
            winner: Some(2),
        };
        let r: Vec<usize> = ranked(&plan, &o).iter().map(|p| p.point).collect();
        assert_eq!(r, vec![2, 1, 0]);
        let rep = report(&plan, &o, &[], None);
        assert_eq!(rep.charts().count(), 3, "pareto, attainment, GPU-hours");
        assert_eq!(point_label(&plan, 1), "#1 a=y");
        assert_eq!(
            short_axis("nimservice.spec.scale.hpa.maxReplicas"),
            "hpa.maxReplicas"
        );
        assert_eq!(short_axis("behavior"), "behavior");
    }
}
