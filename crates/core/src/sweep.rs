//! A sweep's plain data: what it ran and how points are judged (`Plan`),
//! one row per run, per-point statistics and the outcome, and each point's
//! series over time. The runner fills them; `nimscale-output` writes them.

use serde::{Deserialize, Serialize};

use crate::series::{Agg, aggregate, bucket_len};

/// What a sweep ran and how its points are judged: everything needed to
/// derive the summary files from `results.csv` alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Sweep name.
    pub name: String,
    /// Axis names (columns).
    pub axes: Vec<String>,
    /// Each point's axis values, as written.
    pub points: Vec<Vec<String>>,
    /// Seeds run per point and trace.
    pub seeds: Vec<u64>,
    /// Traffic variants (traces) per point.
    pub traces: Vec<String>,
    /// The SLO names (one attainment column each).
    pub slos: Vec<String>,
    /// `gpuHours` or `cost`.
    pub minimize: String,
    /// Mean SLO attainment a point needs to be eligible.
    pub threshold: f64,
    /// Whether a point with a degenerate run (its HPA never read its metric,
    /// or it sat at maxReplicas, or its metric never fell to its target)
    /// may win; by default it is excluded and listed with the reason.
    #[serde(default)]
    pub allow_degenerate: bool,
    /// Each preset an axis names, as the YAML it puts in
    /// `spec.scale.hpa` (what a point labelled with the name ran).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub presets: std::collections::BTreeMap<String, String>,
}

/// The diagnostics that make a run degenerate: its figures are those of a
/// configuration that did not autoscale.
pub const DEGENERATE: [&str; 3] = [
    "hpa-metric-never-available",
    "pinned-at-max",
    "never-below-target",
];

impl Plan {
    /// The metric columns of a run, in order.
    pub fn metrics(&self) -> Vec<String> {
        let mut m = vec!["slo_attainment".to_string()];
        m.extend(self.slos.iter().map(|s| format!("slo:{s}")));
        m.extend(
            [
                "ttft_p95_s",
                "e2e_p95_s",
                "itl_p95_s",
                "gpu_hours",
                "node_hours",
                "cost",
                "scale_ups",
                "scale_downs",
                "flaps",
                "time_to_scale_s",
                "failed_requests",
                "completed_requests",
                "metric_error_syncs",
                "peak_gpus",
                "peak_nodes",
                "time_at_max_s",
                "timed_out_requests",
                "degenerate",
            ]
            .map(String::from),
        );
        m
    }

    /// Index of the objective's metric.
    pub fn objective_index(&self) -> usize {
        let name = if self.minimize == "cost" {
            "cost"
        } else {
            "gpu_hours"
        };
        self.metrics().iter().position(|m| m == name).unwrap_or(0)
    }
}

/// One run: a point under one trace and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Point index.
    pub point: usize,
    /// Trace index.
    pub trace: usize,
    /// Seed.
    pub seed: u64,
    /// Values in [`Plan::metrics`] order.
    pub values: Vec<f64>,
    /// The run's diagnostic codes (`sim::diagnose`), in their order.
    pub diagnostics: Vec<String>,
}

/// Mean and 95 % confidence half-width over runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Mean (NaN-valued runs left out).
    pub mean: f64,
    /// Student-t 95 % half-width (NaN with fewer than two values).
    pub ci95: f64,
    /// Values used.
    pub n: usize,
}

/// One point's aggregates.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSummary {
    /// Point index.
    pub point: usize,
    /// Runs aggregated.
    pub runs: usize,
    /// Per metric, in [`Plan::metrics`] order.
    pub stats: Vec<Stat>,
    /// Mean attainment at or above the threshold.
    pub eligible: bool,
    /// On the Pareto front of (objective, attainment).
    pub pareto: bool,
    /// Each diagnostic code of the point's runs with how many runs had it,
    /// in order of first appearance.
    pub diagnostics: Vec<(String, usize)>,
}

/// The outcome of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Per point, in point order (points with no finished run left out).
    pub points: Vec<PointSummary>,
    /// The winning point, if any is eligible.
    pub winner: Option<usize>,
}

/// One point's run over time (its first trace and first seed), in at most
/// [`crate::series::MAX_POINTS`] buckets: the picture behind its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct PointSeries {
    /// Point index.
    pub point: usize,
    /// Per bucket: end time (s), mean arrivals per second, and the most
    /// replicas desired, replicas ready and GPUs held in it.
    pub rows: Vec<[f64; 5]>,
}

/// Buckets a run's per-second rows `(t, arrivals, desired, ready, gpus)`.
pub fn bucket_series(point: usize, seconds: &[[f64; 5]]) -> PointSeries {
    let k = bucket_len(seconds.len());
    let col = |i: usize, a: Agg| {
        let v: Vec<f64> = seconds.iter().map(|r| r[i]).collect();
        aggregate(&v, k, a)
    };
    let cols = [
        col(0, Agg::Last),
        col(1, Agg::Mean),
        col(2, Agg::Max),
        col(3, Agg::Max),
        col(4, Agg::Max),
    ];
    let rows = (0..cols[0].len())
        .map(|j| [cols[0][j], cols[1][j], cols[2][j], cols[3][j], cols[4][j]])
        .collect();
    PointSeries { point, rows }
}
