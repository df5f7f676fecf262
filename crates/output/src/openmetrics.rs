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
use nimscale_core::sim::record::{MetricColumn, StartupRecord, SyncRecord};
use nimscale_core::time::SimTime;

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
    kube.add_pods(&mut families, epoch_ms);
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
    /// Every pod of the run, for the pod series.
    pub pods: Vec<StartupRecord>,
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

impl Kube {
    /// kube-state-metrics' pod series, sampled at the Deployment's
    /// instants while each pod exists (from creation until it is gone from
    /// the API): its phase (`Pending` until the container starts, then
    /// `Running`), its Ready condition, restarts, and the lifecycle
    /// timestamps as Unix seconds (`epoch_ms` is time zero).
    fn add_pods(&self, families: &mut BTreeMap<String, Vec<Points>>, epoch_ms: i64) {
        let unix = |t: SimTime| (t.as_micros().div_euclid(1000) + epoch_ms) as f64 / 1000.0;
        let container = format!("{}-ctr", self.deployment);
        for r in &self.pods {
            let uid = format!("nimscale-{}", r.pod);
            let alive = |t: i64| {
                let t = SimTime::from_secs(t);
                r.created <= t && r.gone.is_none_or(|g| t < g)
            };
            let times: Vec<i64> = (self.points.iter().map(|p| p.0))
                .filter(|&t| alive(t))
                .collect();
            if times.is_empty() {
                continue;
            }
            let at = |t: i64, s: Option<SimTime>| s.is_some_and(|s| s <= SimTime::from_secs(t));
            let mut put = |name: &str, extra: &[(&str, &str)], f: &dyn Fn(i64) -> Option<f64>| {
                let mut pairs = vec![
                    (NAME, name),
                    ("namespace", self.namespace.as_str()),
                    ("pod", r.pod.as_str()),
                    ("uid", uid.as_str()),
                ];
                pairs.extend_from_slice(extra);
                let points: Vec<(i64, f64)> = (times.iter())
                    .filter_map(|&t| Some((t * 1000, f(t)?)))
                    .collect();
                if !points.is_empty() {
                    let l = Labels::from_pairs(pairs);
                    families.entry(name.into()).or_default().push((l, points));
                }
            };
            put("kube_pod_created", &[], &|_| Some(unix(r.created)));
            // The kubelet sets status.startTime when it takes the pod on.
            put("kube_pod_start_time", &[], &|t| {
                r.scheduled.filter(|_| at(t, r.scheduled)).map(unix)
            });
            put("kube_pod_status_scheduled_time", &[], &|t| {
                r.scheduled.filter(|_| at(t, r.scheduled)).map(unix)
            });
            put("kube_pod_status_ready_time", &[], &|t| {
                r.ready.filter(|_| at(t, r.ready)).map(unix)
            });
            put("kube_pod_deletion_timestamp", &[], &|t| {
                r.deleted.filter(|_| at(t, r.deleted)).map(unix)
            });
            let running = |t: i64| at(t, r.container_started);
            for phase in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
                put("kube_pod_status_phase", &[("phase", phase)], &|t| {
                    let now = if running(t) { "Running" } else { "Pending" };
                    Some(f64::from(u8::from(now == phase)))
                });
            }
            let ready = |t: i64| at(t, r.ready) && !at(t, r.deleted);
            for (cond, want) in [("true", true), ("false", false)] {
                put("kube_pod_status_ready", &[("condition", cond)], &|t| {
                    Some(f64::from(u8::from(ready(t) == want)))
                });
            }
            put(
                "kube_pod_status_ready",
                &[("condition", "unknown")],
                &|_| Some(0.0),
            );
            put(
                "kube_pod_container_status_restarts_total",
                &[("container", container.as_str())],
                &|t| {
                    let n = (r.restarted.iter())
                        .filter(|&&x| x <= SimTime::from_secs(t))
                        .count();
                    running(t).then_some(n as f64)
                },
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

    /// A pod's phase, Ready condition, restarts and lifecycle timestamps at
    /// kube-state-metrics' instants, from its creation until it is gone.
    #[test]
    fn pod_series_follow_the_lifecycle() {
        let s = SimTime::from_secs;
        let mut r = StartupRecord::new("svc-3".into(), s(10));
        r.scheduled = Some(s(12));
        r.container_started = Some(s(40));
        r.restarted = vec![s(70)];
        r.restarts = 1;
        r.ready = Some(s(100));
        r.deleted = Some(s(200));
        r.gone = Some(s(230));
        let kube = Kube {
            namespace: "ns".into(),
            deployment: "svc".into(),
            hpa: None,
            points: (0..=20).map(|i| (i * 15, 1, 1, 1)).collect(),
            pods: vec![r],
        };
        let text = render(&Tsdb::new(), &[], &[], &kube, 1_000_000);
        let at = |series: &str, t: i64| {
            let stamp = format!(" {}", timestamp(t * 1000 + 1_000_000));
            text.lines()
                .find(|l| l.starts_with(series) && l.ends_with(&stamp))
                .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        };
        let phase = |p: &str| {
            format!(
                r#"kube_pod_status_phase{{namespace="ns",phase="{p}",pod="svc-3",uid="nimscale-svc-3"}}"#
            )
        };
        let ready = r#"kube_pod_status_ready{condition="true",namespace="ns",pod="svc-3""#;
        let restarts = "kube_pod_container_status_restarts_total{container=\"svc-ctr\"";
        // Not yet created at 0 s; gone after 230 s.
        assert_eq!(at(&phase("Pending"), 0), None);
        assert_eq!(at(&phase("Pending"), 240), None);
        assert_eq!(at(&phase("Pending"), 30).as_deref(), Some("1"));
        assert_eq!(at(&phase("Running"), 30).as_deref(), Some("0"));
        assert_eq!(at(&phase("Running"), 45).as_deref(), Some("1"));
        assert_eq!(at(ready, 90).as_deref(), Some("0"));
        assert_eq!(at(ready, 105).as_deref(), Some("1"));
        assert_eq!(at(ready, 210).as_deref(), Some("0"));
        assert_eq!(at(restarts, 60).as_deref(), Some("0"));
        assert_eq!(at(restarts, 75).as_deref(), Some("1"));
        assert_eq!(at(restarts, 30), None);
        assert_eq!(at("kube_pod_created{", 15).as_deref(), Some("1010"));
        assert_eq!(at("kube_pod_status_ready_time{", 90), None);
        assert_eq!(
            at("kube_pod_status_ready_time{", 105).as_deref(),
            Some("1100")
        );
        assert_eq!(
            at("kube_pod_deletion_timestamp{", 225).as_deref(),
            Some("1200")
        );
    }
}
