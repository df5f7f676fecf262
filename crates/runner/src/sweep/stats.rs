//! Aggregation of sweep runs: mean and Student-t 95 % confidence half-width
//! per point and metric, the Pareto front of (objective, SLO attainment),
//! and the winner. Everything is reduced sequentially in input order (R9),
//! so the result does not depend on how many threads ran the runs.

use nimscale_core::sweep::{Outcome, Plan, PointSummary, RunRow, Stat};

/// Two-sided 95 % Student-t quantiles for 1–30 degrees of freedom.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The 95 % quantile for `df` degrees of freedom (table values; 2.021,
/// 2.000, 1.980 up to 40, 60, 120; 1.960 beyond).
pub fn t95(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T95[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Mean and 95 % half-width of the values that are not NaN.
pub fn mean_ci(values: &[f64]) -> Stat {
    let xs: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = xs.len();
    if n == 0 {
        return Stat {
            mean: f64::NAN,
            ci95: f64::NAN,
            n,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ci95 = if n < 2 {
        f64::NAN
    } else {
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        t95(n - 1) * (var / n as f64).sqrt()
    };
    Stat { mean, ci95, n }
}

/// Aggregates runs (sorted by point, trace, seed) into per-point
/// summaries, the Pareto front and the winner: the eligible point with the
/// lowest objective mean; ties go to the higher attainment, then to the
/// lower point index.
pub fn outcome(plan: &Plan, rows: &[RunRow]) -> Outcome {
    let n_metrics = plan.metrics().len();
    let obj = plan.objective_index();
    let mut points = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let p = rows[i].point;
        let j = rows[i..]
            .iter()
            .position(|r| r.point != p)
            .map_or(rows.len(), |k| i + k);
        let group = &rows[i..j];
        let stats: Vec<Stat> = (0..n_metrics)
            .map(|m| {
                let v: Vec<f64> = group
                    .iter()
                    .map(|r| r.values.get(m).copied().unwrap_or(f64::NAN))
                    .collect();
                mean_ci(&v)
            })
            .collect();
        // A point any of whose runs is degenerate (mean of the 0/1 column
        // above 0) is not a configuration to deploy, unless allowed.
        let degenerate = plan
            .metrics()
            .iter()
            .position(|m| m == "degenerate")
            .is_some_and(|d| stats[d].mean > 0.0);
        let eligible = stats[0].mean >= plan.threshold && (plan.allow_degenerate || !degenerate);
        let mut diagnostics: Vec<(String, usize)> = Vec::new();
        for code in group.iter().flat_map(|r| &r.diagnostics) {
            match diagnostics.iter_mut().find(|(c, _)| c == code) {
                Some((_, n)) => *n += 1,
                None => diagnostics.push((code.clone(), 1)),
            }
        }
        points.push(PointSummary {
            point: p,
            runs: group.len(),
            stats,
            eligible,
            pareto: false,
            diagnostics,
        });
        i = j;
    }
    let key = |s: &PointSummary| (s.stats[obj].mean, s.stats[0].mean);
    let dominated = |a: (f64, f64), b: (f64, f64)| {
        // b dominates a: no more costly, no less attained, better in one.
        b.0 <= a.0 && b.1 >= a.1 && (b.0 < a.0 || b.1 > a.1)
    };
    let keys: Vec<(f64, f64)> = points.iter().map(key).collect();
    for (k, p) in points.iter_mut().enumerate() {
        let a = keys[k];
        p.pareto = !a.0.is_nan() && !a.1.is_nan() && !keys.iter().any(|b| dominated(a, *b));
    }
    let winner = points
        .iter()
        .filter(|p| p.eligible && !p.stats[obj].mean.is_nan())
        .min_by(|a, b| {
            a.stats[obj]
                .mean
                .total_cmp(&b.stats[obj].mean)
                .then(b.stats[0].mean.total_cmp(&a.stats[0].mean))
                .then(a.point.cmp(&b.point))
        })
        .map(|p| p.point);
    Outcome { points, winner }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_of_a_known_sample() {
        // 1..5: mean 3, s = √2.5, t(4) = 2.776 → 2.776·√(2.5/5) = 1.96292...
        let s = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.mean, 3.0);
        assert!((s.ci95 - 2.776 * 0.5f64.sqrt()).abs() < 1e-12, "{}", s.ci95);
        assert_eq!(s.n, 5);
        let one = mean_ci(&[7.0, f64::NAN]);
        assert_eq!((one.mean, one.n), (7.0, 1));
        assert!(one.ci95.is_nan());
        assert_eq!(t95(100), 1.98);
    }

    fn plan(points: usize) -> Plan {
        Plan {
            name: "t".into(),
            axes: vec!["x".into()],
            points: (0..points).map(|i| vec![i.to_string()]).collect(),
            seeds: vec![1],
            traces: vec![],
            slos: vec![],
            minimize: "gpuHours".into(),
            allow_degenerate: false,
            presets: Default::default(),
            threshold: 0.9,
        }
    }

    fn row(point: usize, attain: f64, gpu: f64) -> RunRow {
        let mut values = vec![f64::NAN; plan(1).metrics().len()];
        values[0] = attain;
        values[plan(1).objective_index()] = gpu;
        RunRow {
            point,
            trace: 0,
            seed: 1,
            values,
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn winner_ties_go_to_attainment_then_index_and_pareto_front() {
        let rows = vec![
            row(0, 0.95, 10.0),
            row(1, 0.97, 10.0),
            row(2, 0.97, 10.0),
            row(3, 0.80, 5.0),
            row(4, 0.96, 12.0),
            row(5, 0.99, 20.0),
        ];
        let o = outcome(&plan(6), &rows);
        assert_eq!(
            o.winner,
            Some(1),
            "same cost: higher attainment, then lower index"
        );
        let front: Vec<usize> = o
            .points
            .iter()
            .filter(|p| p.pareto)
            .map(|p| p.point)
            .collect();
        assert_eq!(front, vec![1, 2, 3, 5]);
        assert!(!o.points[3].eligible);
        let none = outcome(&plan(1), &[row(0, 0.5, 1.0)]);
        assert_eq!(none.winner, None);
    }
}
