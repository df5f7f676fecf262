//! The fixed-replicas baseline of a sweep or compare: the fewest pods that,
//! held constant with no autoscaler, meet the SLO attainment threshold on
//! the same arrivals (every trace and seed the points ran). A winner that
//! does not beat it has not earned its autoscaling.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use nimscale_core::sim::config::Recording;
use nimscale_core::sweep::Stat;

use super::stats::mean_ci;
use super::{Sweep, row_of};
use crate::scenario::Scenario;

/// The baseline found, with every count tried.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// The fewest fixed pods that meet the threshold (`None`: not even
    /// the largest count tried does).
    pub replicas: Option<i32>,
    /// Each count tried, with the mean and CI of every plan metric over
    /// its runs (in [`nimscale_core::sweep::Plan::metrics`] order).
    pub tried: Vec<(i32, Vec<Stat>)>,
}

/// `s` with no autoscaler and `n` pods Ready at time zero on enough nodes.
fn fixed(s: &Scenario, n: i32) -> Scenario {
    let mut s = s.clone();
    s.hpa = None;
    s.schedule = None;
    s.initial_replicas = n;
    s.warm_start = true;
    let per_node = (s.pool.gpus_per_node / s.template.gpus.max(1)).max(1);
    let nodes = (n.max(0) as u32).div_ceil(per_node);
    s.pool.initial_nodes = s.pool.initial_nodes.max(nodes);
    s.pool.max_nodes = s.pool.max_nodes.max(nodes);
    s
}

/// The largest replica count any point may reach.
fn upper(sweep: &Sweep) -> i32 {
    (sweep.scenarios.iter().flatten())
        .map(|s| {
            s.hpa
                .as_ref()
                .map_or(s.initial_replicas, |h| h.spec.max_replicas)
                .max(s.initial_replicas)
        })
        .max()
        .unwrap_or(1)
        .max(1)
}

/// Runs `n` fixed pods under every trace and seed of the sweep (the first
/// point's scenarios, whose traffic every point shares).
fn try_count(sweep: &Sweep, n: i32, cancel: &AtomicBool) -> Option<Vec<Stat>> {
    let base = sweep.scenarios.first()?;
    let jobs: Vec<(usize, u64)> = (0..base.len())
        .flat_map(|t| sweep.plan.seeds.iter().map(move |&s| (t, s)))
        .collect();
    let rows: Vec<Option<Vec<f64>>> = jobs
        .par_iter()
        .map(|&(t, seed)| {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            let rec = Recording {
                timeseries: false,
                decisions: false,
            };
            let res = fixed(&base[t], n).simulation(seed, rec).finish();
            Some(row_of(&sweep.plan, 0, t, seed, &res.summary).values)
        })
        .collect();
    let rows: Vec<Vec<f64>> = rows.into_iter().collect::<Option<_>>()?;
    let metrics = sweep.plan.metrics().len();
    Some(
        (0..metrics)
            .map(|m| mean_ci(&rows.iter().map(|r| r[m]).collect::<Vec<_>>()))
            .collect(),
    )
}

/// The baseline, by bisection over 1 to the largest `maxReplicas` of the
/// points (attainment grows with pods); `None` when cancelled.
pub fn baseline(sweep: &Sweep, cancel: &AtomicBool) -> Option<Baseline> {
    let threshold = sweep.plan.threshold;
    let mut tried: Vec<(i32, Vec<Stat>)> = Vec::new();
    let meets = |stats: &[Stat]| stats.first().is_some_and(|s| s.mean >= threshold);
    let (mut lo, mut hi) = (1, upper(sweep));
    let top = try_count(sweep, hi, cancel)?;
    let top_meets = meets(&top);
    tried.push((hi, top));
    if !top_meets {
        return Some(Baseline {
            replicas: None,
            tried,
        });
    }
    // Invariant: `hi` meets the threshold; counts below `lo` do not.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let stats = try_count(sweep, mid, cancel)?;
        let ok = meets(&stats);
        tried.push((mid, stats));
        if ok {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    tried.sort_by_key(|(n, _)| *n);
    Some(Baseline {
        replicas: Some(hi),
        tried,
    })
}
