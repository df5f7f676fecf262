//! The idealised metric reader: what the HPA would receive if every metrics
//! API answered with the pods' exact values.
//!
//! Gauges are the value the engine published after its last step; windowed
//! quantities (fractions, quantiles, rates) are exact differences of the
//! engine's cumulative counters over the window, taken at whole seconds, with
//! a zero baseline for a pod that started inside the window. CPU is the rate
//! of the cumulative CPU counter over the metrics-server resolution, memory
//! the current working set. Values are converted as prometheus-adapter does:
//! `int64(v × 1000)` milli-units, NaN served as 0 for custom metrics.
//!
//! This is the reference against which the Prometheus path (scrape
//! intervals, `increase()` extrapolation, adapter rules) can be compared: the
//! HPA with perfect, instantaneous metrics.

use std::collections::VecDeque;

use crate::engine::names::{Aggregation, Meaning, histogram_quantile, interpret};
use crate::engine::{Dialect, EngineMetrics, Gauges};
use crate::hpa::controller::MetricsClient;
use crate::hpa::pods::{PodMetric, PodMetricsList};
use crate::hpa::spec::{HpaSpec, MetricId, MetricSpec, ObjectRef};
use crate::time::{SimDuration, SimTime};

/// One tracked windowed metric: its name, meaning and slice of a snapshot.
#[derive(Clone, Debug)]
struct Track {
    name: String,
    meaning: Meaning,
    offset: usize,
    len: usize,
}

/// Which cumulative values the HPA's metrics need, and where they sit in a
/// snapshot.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    tracks: Vec<Track>,
    width: usize,
    dialect: Option<Dialect>,
}

/// Names of the HPA's custom and external metrics nimscale cannot serve.
pub fn unknown_metrics(spec: &HpaSpec, dialect: Dialect) -> Vec<String> {
    metric_names(spec)
        .into_iter()
        .filter(|n| interpret(n, dialect).is_none())
        .collect()
}

fn metric_names(spec: &HpaSpec) -> Vec<String> {
    let mut out = Vec::new();
    for m in &spec.metrics {
        match m {
            MetricSpec::Pods { metric, .. }
            | MetricSpec::Object { metric, .. }
            | MetricSpec::External { metric, .. } => out.push(metric.name.clone()),
            _ => {}
        }
    }
    out
}

impl Layout {
    /// The layout for an HPA spec.
    pub fn for_spec(spec: Option<&HpaSpec>, dialect: Dialect) -> Layout {
        let mut l = Layout {
            dialect: Some(dialect),
            ..Layout::default()
        };
        for name in spec.map(metric_names).unwrap_or_default() {
            if l.tracks.iter().any(|t| t.name == name) {
                continue;
            }
            let Some(meaning) = interpret(&name, dialect) else {
                continue;
            };
            let len = match meaning {
                Meaning::Gauge { .. } => continue,
                Meaning::OverFraction { .. } => 2,
                Meaning::Quantile { hist, .. } => hist.bounds(dialect).len() + 1,
                Meaning::Rate { .. } => 1,
            };
            l.tracks.push(Track {
                name,
                meaning,
                offset: l.width,
                len,
            });
        }
        l
    }

    /// Values per snapshot.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Writes the tracked cumulative values of `m` into `out`.
    pub fn capture(&self, m: &EngineMetrics, out: &mut Vec<f64>) {
        out.clear();
        let dialect = self.dialect.unwrap_or(Dialect::Nim1);
        for t in &self.tracks {
            match t.meaning {
                Meaning::OverFraction { hist, bound } => {
                    let cum = hist.cumulative(m);
                    let i = hist
                        .bounds(dialect)
                        .iter()
                        .position(|b| *b == bound)
                        .unwrap_or(0);
                    out.push(cum.last().copied().unwrap_or(0) as f64);
                    out.push(cum.get(i).copied().unwrap_or(0) as f64);
                }
                Meaning::Quantile { hist, .. } => {
                    out.extend(hist.cumulative(m).iter().map(|c| *c as f64));
                }
                Meaning::Rate { counter } => out.push(counter.read(m)),
                Meaning::Gauge { .. } => {}
            }
        }
    }
}

/// A snapshot of one pod's cumulative values.
#[derive(Clone, Debug)]
struct Snap {
    t: SimTime,
    cpu: f64,
    values: Vec<f64>,
}

/// One pod's recent snapshots (a bounded ring).
#[derive(Clone, Debug, Default)]
pub struct PodHistory {
    ring: VecDeque<Snap>,
    started: Option<SimTime>,
}

impl PodHistory {
    /// The server (and its counters) started at `t`.
    pub fn start(&mut self, t: SimTime) {
        self.ring.clear();
        self.started = Some(t);
    }

    /// Records a snapshot, dropping those older than `keep`.
    pub fn push(&mut self, t: SimTime, cpu: f64, values: &[f64], keep: SimDuration) {
        let mut snap =
            if self.ring.len() > 1 && self.ring.get(1).is_some_and(|s| t.since(s.t) > keep) {
                self.ring.pop_front()
            } else {
                None
            }
            .unwrap_or(Snap {
                t,
                cpu,
                values: Vec::new(),
            });
        snap.t = t;
        snap.cpu = cpu;
        snap.values.clear();
        snap.values.extend_from_slice(values);
        self.ring.push_back(snap);
    }

    /// The newest snapshot at or before `t`.
    fn at_or_before(&self, t: SimTime) -> Option<&Snap> {
        self.ring.iter().rev().find(|s| s.t <= t)
    }
}

/// One pod as the metrics APIs see it at a sync.
#[derive(Clone, Debug)]
pub struct PodSample {
    /// Pod name.
    pub name: String,
    /// Published gauges.
    pub gauges: Gauges,
    /// Tracked values now.
    pub now_values: Vec<f64>,
    /// Tracked values at the window start (zeros if the pod started later).
    pub base_values: Vec<f64>,
    /// Seconds covered by the window for this pod.
    pub window_s: f64,
    /// CPU millicores over the resolution, and the window used.
    pub cpu: Option<(f64, SimDuration)>,
    /// Working-set bytes.
    pub memory: f64,
}

impl PodSample {
    /// Builds a pod's sample from its history and current state.
    pub fn build(
        name: String,
        gauges: Gauges,
        now_values: Vec<f64>,
        (cpu_now, memory): (f64, f64),
        hist: &PodHistory,
        now: SimTime,
        cfg: &super::config::DirectMetrics,
    ) -> PodSample {
        let start = hist.started.unwrap_or(now);
        let from = now.saturating_sub(cfg.window);
        let (base_values, window_s) = match hist.at_or_before(from) {
            Some(s) if s.t >= start && from >= start => {
                (s.values.clone(), now.since(s.t).as_secs_f64())
            }
            _ => (vec![0.0; now_values.len()], now.since(start).as_secs_f64()),
        };
        let cpu_from = now.saturating_sub(cfg.resolution);
        let cpu = hist
            .at_or_before(cpu_from)
            .or_else(|| hist.ring.front())
            .filter(|s| s.t < now)
            .map(|s| {
                let w = now.since(s.t);
                ((cpu_now - s.cpu) / w.as_secs_f64() * 1000.0, w)
            });
        PodSample {
            name,
            gauges,
            now_values,
            base_values,
            window_s: window_s.max(0.0),
            cpu,
            memory,
        }
    }

    fn delta(&self, t: &Track) -> Vec<f64> {
        (t.offset..t.offset + t.len)
            .map(|i| {
                let d = self.now_values.get(i).copied().unwrap_or(0.0)
                    - self.base_values.get(i).copied().unwrap_or(0.0);
                d.max(0.0)
            })
            .collect()
    }
}

/// The metrics APIs at one instant, over the pods whose servers are up.
pub struct DirectView<'a> {
    /// Sample time.
    pub now: SimTime,
    /// Pods.
    pub pods: &'a [PodSample],
    /// Layout of the tracked values.
    pub layout: &'a Layout,
    /// Settings.
    pub cfg: super::config::DirectMetrics,
    /// The Service the pods are behind.
    pub service: &'a str,
}

/// prometheus-adapter's conversion: `int64(v × 1000)`, NaN → 0 for custom
/// metrics.
fn to_milli(v: f64) -> i64 {
    if v.is_nan() { 0 } else { (v * 1000.0) as i64 }
}

impl DirectView<'_> {
    fn value(&self, name: &str, pods: &[&PodSample]) -> Result<f64, String> {
        let meaning = interpret(name, self.cfg.dialect).ok_or_else(|| {
            format!("the server could not find the requested resource (get {name})")
        })?;
        if pods.is_empty() {
            return Err(format!(
                "the server could not find the metric {name} for services {}",
                self.service
            ));
        }
        match meaning {
            Meaning::Gauge { gauge, agg } => {
                let s: f64 = pods.iter().map(|p| gauge.read(&p.gauges)).sum();
                Ok(match agg {
                    Aggregation::Sum => s,
                    Aggregation::Avg => s / pods.len() as f64,
                })
            }
            _ => {
                let track = self
                    .layout
                    .tracks
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| format!("metric {name} is not tracked"))?;
                let mut sum = vec![0.0; track.len];
                for p in pods {
                    for (a, d) in sum.iter_mut().zip(p.delta(track)) {
                        *a += d;
                    }
                }
                Ok(match meaning {
                    Meaning::OverFraction { .. } => (sum[0] - sum[1]) / sum[0],
                    Meaning::Quantile { hist, q } => {
                        histogram_quantile(q, hist.bounds(self.cfg.dialect), &sum)
                    }
                    Meaning::Rate { .. } => sum[0] / self.cfg.window.as_secs_f64(),
                    Meaning::Gauge { .. } => f64::NAN,
                })
            }
        }
    }
}

impl MetricsClient for DirectView<'_> {
    fn resource(&self, resource: &str, _container: &str) -> Result<PodMetricsList, String> {
        let items: Vec<(String, PodMetric)> = self
            .pods
            .iter()
            .filter_map(|p| {
                let (v, window) = match resource {
                    "cpu" => {
                        let (m, w) = p.cpu?;
                        (m as i64, w)
                    }
                    "memory" => ((p.memory * 1000.0) as i64, self.cfg.resolution),
                    _ => return None,
                };
                Some((
                    p.name.clone(),
                    PodMetric {
                        value_m: v,
                        timestamp: self.now,
                        window,
                    },
                ))
            })
            .collect();
        Ok(PodMetricsList {
            timestamp: self.now,
            items,
        })
    }

    fn pods(&self, metric: &MetricId) -> Result<PodMetricsList, String> {
        let mut items = Vec::new();
        for p in self.pods {
            let v = self.value(&metric.name, &[p])?;
            items.push((
                p.name.clone(),
                PodMetric {
                    value_m: to_milli(v),
                    timestamp: self.now,
                    window: SimDuration::from_secs(60),
                },
            ));
        }
        Ok(PodMetricsList {
            timestamp: self.now,
            items,
        })
    }

    fn object(&self, metric: &MetricId, object: &ObjectRef) -> Result<(i64, SimTime), String> {
        if object.kind != "Service" || object.name != self.service {
            return Err(format!(
                "the server could not find the metric {} for {} {}",
                metric.name,
                object.kind.to_lowercase(),
                object.name
            ));
        }
        let pods: Vec<&PodSample> = self.pods.iter().collect();
        Ok((to_milli(self.value(&metric.name, &pods)?), self.now))
    }

    fn external(&self, metric: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        let pods: Vec<&PodSample> = self.pods.iter().collect();
        let v = self.value(&metric.name, &pods)?;
        // External metrics: NaN is not special-cased by the adapter.
        let m = if v.is_nan() {
            i64::MIN
        } else {
            (v * 1000.0) as i64
        };
        Ok((vec![m], self.now))
    }
}
