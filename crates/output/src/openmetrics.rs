//! A run's series as OpenMetrics text with timestamps, the format
//! `promtool tsdb create-blocks-from openmetrics` loads into a real
//! Prometheus (and `nimscale promql` reads): every pod series as Prometheus
//! scraped it, and what the HPA received at each sync as
//! `nimscale_hpa_metric_value{metric="…"}`.
//!
//! Each metric name is one family of type `unknown` (OpenMetrics requires a
//! family's samples to be contiguous and typed names to carry the type's
//! suffixes; `unknown` keeps the scraped names exactly). Staleness markers
//! are internal to Prometheus and are not written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use nimscale_core::metrics::labels::{Labels, NAME, escape};
use nimscale_core::metrics::tsdb::{Tsdb, is_stale};
use nimscale_core::sim::record::{MetricColumn, SyncRecord};

fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn timestamp(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// A series' labels and its samples `(t_ms, value)`.
type Points = (Labels, Vec<(i64, f64)>);

fn series_text(l: &Labels) -> String {
    let mut s = l.name().to_owned();
    let rest: Vec<String> = l
        .pairs()
        .iter()
        .filter(|(n, _)| n != NAME)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if !rest.is_empty() {
        let _ = write!(s, "{{{}}}", rest.join(","));
    }
    s
}

/// OpenMetrics text of `db` plus what the HPA received at each sync
/// (`columns`, `syncs` of the run), with timestamps offset by `epoch_ms`
/// (the wall-clock instant the simulation's time zero stands for), and the
/// kube-state-metrics series of `kube`.
pub fn render(
    db: &Tsdb,
    columns: &[MetricColumn],
    syncs: &[SyncRecord],
    kube: &Kube,
    epoch_ms: i64,
) -> String {
    let mut families: BTreeMap<String, Vec<Points>> = BTreeMap::new();
    kube.add(&mut families);
    for s in db.iter() {
        let points: Vec<(i64, f64)> = s
            .samples()
            .iter()
            .filter(|(_, v)| !is_stale(*v))
            .copied()
            .collect();
        if !points.is_empty() {
            families
                .entry(s.labels.name().to_owned())
                .or_default()
                .push((s.labels.clone(), points));
        }
    }
    for (i, col) in columns.iter().enumerate() {
        let points: Vec<(i64, f64)> = syncs
            .iter()
            .filter_map(|s| {
                let v = s.seen().get(i).copied().flatten()?;
                Some((s.now().as_micros().div_euclid(1000), v))
            })
            .collect();
        if !points.is_empty() {
            let l = Labels::from_pairs([
                (NAME, "nimscale_hpa_metric_value"),
                ("metric", col.name.as_str()),
                ("target_type", col.target_type),
            ]);
            families
                .entry("nimscale_hpa_metric_value".into())
                .or_default()
                .push((l, points));
        }
    }
    // First, a family naming the writer: `simulate --metrics-out --force`
    // replaces only a file that starts with it.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP nimscale_run_info Written by nimscale {} (simulate --metrics-out).",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("# TYPE nimscale_run_info unknown\n");
    let _ = writeln!(out, "nimscale_run_info 1 {}", timestamp(epoch_ms));
    for (name, mut series) in families {
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let _ = writeln!(out, "# TYPE {name} unknown");
        for (l, points) in series {
            let head = series_text(&l);
            for (t, v) in points {
                let _ = writeln!(out, "{head} {} {}", value(v), timestamp(t + epoch_ms));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// One sample of the Deployment: `(t seconds, spec replicas, pods, ready
/// pods)`.
pub type KubePoint = (i64, i32, i32, i32);

/// The Deployment and HPA state kube-state-metrics would export, sampled
/// every [`Kube::STEP_S`] seconds of the run (its default scrape cadence).
#[derive(Clone, Debug, Default)]
pub struct Kube {
    /// Namespace.
    pub namespace: String,
    /// The Deployment (and NIMService) name; the HPA has the same name.
    pub deployment: String,
    /// `(minReplicas, maxReplicas)` when an HPA scales it.
    pub hpa: Option<(i32, i32)>,
    /// The samples.
    pub points: Vec<KubePoint>,
}

impl Kube {
    /// Seconds between samples.
    pub const STEP_S: i64 = 15;

    fn add(&self, families: &mut BTreeMap<String, Vec<Points>>) {
        if self.points.is_empty() {
            return;
        }
        let series = |name: &str, key: &str, f: &dyn Fn(&KubePoint) -> f64| {
            let l = Labels::from_pairs([
                (NAME, name),
                ("namespace", self.namespace.as_str()),
                (key, self.deployment.as_str()),
            ]);
            let points: Vec<(i64, f64)> = self.points.iter().map(|p| (p.0 * 1000, f(p))).collect();
            (l, points)
        };
        let mut put = |name: &str, key: &str, f: &dyn Fn(&KubePoint) -> f64| {
            families
                .entry(name.into())
                .or_default()
                .push(series(name, key, f));
        };
        put("kube_deployment_spec_replicas", "deployment", &|p| {
            f64::from(p.1)
        });
        put("kube_deployment_status_replicas", "deployment", &|p| {
            f64::from(p.2)
        });
        put(
            "kube_deployment_status_replicas_ready",
            "deployment",
            &|p| f64::from(p.3),
        );
        if let Some((min, max)) = self.hpa {
            let hpa = "horizontalpodautoscaler";
            put(
                "kube_horizontalpodautoscaler_status_desired_replicas",
                hpa,
                &|p| f64::from(p.1),
            );
            put(
                "kube_horizontalpodautoscaler_status_current_replicas",
                hpa,
                &|p| f64::from(p.2),
            );
            put(
                "kube_horizontalpodautoscaler_spec_min_replicas",
                hpa,
                &|_| f64::from(min),
            );
            put(
                "kube_horizontalpodautoscaler_spec_max_replicas",
                hpa,
                &|_| f64::from(max),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_contiguous_and_stale_markers_dropped() {
        let mut db = Tsdb::new();
        let a = Labels::from_pairs([(NAME, "x_total"), ("pod", "b")]);
        let b = Labels::from_pairs([(NAME, "x_total"), ("pod", "a\"q")]);
        db.append_labels(&a, 1000, 1.0);
        db.append_labels(&b, 1500, 2.0);
        db.append_labels(&a, 2000, nimscale_core::metrics::tsdb::stale_nan());
        let text = render(&db, &[], &[], &Kube::default(), 1_700_000_000_000);
        assert_eq!(
            text,
            "# HELP nimscale_run_info Written by nimscale 0.1.0 (simulate --metrics-out).\n# TYPE nimscale_run_info unknown\nnimscale_run_info 1 1700000000.000\n# TYPE x_total unknown\nx_total{pod=\"a\\\"q\"} 2 1700000001.500\nx_total{pod=\"b\"} 1 1700000001.000\n# EOF\n"
        );
    }
}
