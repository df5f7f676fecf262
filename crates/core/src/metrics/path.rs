//! The Prometheus path as one piece: its settings, its state inside a
//! simulation, and [`PromView`], the `MetricsClient` the HPA reads through
//! (custom and external metrics from prometheus-adapter over the scraped
//! TSDB, Resource metrics from metrics-server).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::adapter::{AdapterConfig, Registry, Request, custom_milli, external_milli, singular};
use super::promql::EvalOptions;
use super::scrape::ScrapeConfig;
use super::server::{MetricsServerConfig, Usage};
use super::tsdb::Tsdb;
use crate::hpa::controller::MetricsClient;
use crate::hpa::pods::{PodMetric, PodMetricsList};
use crate::hpa::spec::{MetricId, ObjectRef};
use crate::time::{SimDuration, SimTime};

/// How the HPA's metrics reach it through Prometheus.
#[derive(Clone, Debug)]
pub struct PromConfig {
    /// Scraping of the pods (the ServiceMonitor).
    pub scrape: ScrapeConfig,
    /// Prometheus version rules and lookback.
    pub eval: EvalOptions,
    /// The adapter's rules.
    pub adapter: AdapterConfig,
    /// `--metrics-relist-interval`.
    pub relist: SimDuration,
    /// Whether the adapter already knows the NIM's series at time zero (it
    /// has been running against earlier pods); otherwise a metric is served
    /// only after a relist that saw it.
    pub warm_discovery: bool,
    /// metrics-server.
    pub metrics_server: MetricsServerConfig,
    /// Store every scraped series, not only those a rule can read.
    pub keep_all_series: bool,
    /// Keep every sample of the run (no truncation) and hand the store
    /// back in the result, for an OpenMetrics export.
    pub export_series: bool,
    /// With `export_series`: the GPU's name for the `modelName` label of
    /// the DCGM-exporter series the export adds.
    pub export_gpu_model: String,
}

impl PromConfig {
    /// How long samples must be kept: the longest query window plus the
    /// lookback delta, the relist window and two scrapes.
    pub fn retention_ms(&self) -> i64 {
        self.adapter.max_range_ms().max(self.eval.lookback_ms)
            + self.eval.lookback_ms
            + self.relist.as_micros() / 1000
            + 2 * self.scrape.interval_ms
    }
}

/// The path's state during a run.
#[derive(Clone, Debug, Default)]
pub struct PromState {
    /// Prometheus' head block.
    pub db: Tsdb,
    /// The adapter's discovered metrics.
    pub registry: Registry,
}

/// One pod as the HPA's metric sources see it at a sync.
#[derive(Clone, Debug)]
pub struct PodView {
    /// Pod name.
    pub name: String,
    /// What metrics-server serves for it.
    pub usage: Option<Usage>,
}

/// The metrics APIs at one sync, backed by the Prometheus path.
pub struct PromView<'a> {
    /// Config.
    pub cfg: &'a PromConfig,
    /// State.
    pub state: &'a PromState,
    /// Sync time.
    pub now: SimTime,
    /// Pods matching the scale target's selector (the adapter lists them).
    pub pods: &'a [PodView],
    /// The HPA's namespace.
    pub namespace: &'a str,
    /// Newest sample each metric's query read (ms), by metric name.
    pub reads: Mutex<BTreeMap<String, i64>>,
}

impl PromView<'_> {
    fn req(&self) -> Request<'_> {
        Request {
            db: &self.state.db,
            now_ms: self.now.as_micros().div_euclid(1000),
            opts: self.cfg.eval,
            namespace: self.namespace,
        }
    }

    fn note(&self, metric: &str, newest: Option<i64>) {
        if let (Some(t), Ok(mut m)) = (newest, self.reads.lock()) {
            m.insert(metric.to_owned(), t);
        }
    }

    /// The newest sample time a metric's last query read.
    pub fn data_as_of(&self, metric: &str) -> Option<SimTime> {
        self.reads
            .lock()
            .ok()
            .and_then(|m| m.get(metric).copied())
            .map(SimTime::from_millis)
    }
}

impl MetricsClient for PromView<'_> {
    fn resource(&self, resource: &str, _container: &str) -> Result<PodMetricsList, String> {
        let items = self
            .pods
            .iter()
            .filter_map(|p| {
                let u = p.usage?;
                let v = match resource {
                    "cpu" => u.cpu_m,
                    "memory" => u.memory_m,
                    _ => return None,
                };
                Some((
                    p.name.clone(),
                    PodMetric {
                        value_m: v,
                        timestamp: u.timestamp,
                        window: u.window,
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
        let names: Vec<&str> = self.pods.iter().map(|p| p.name.as_str()).collect();
        let (values, reads) = self
            .cfg
            .adapter
            .custom_multi(
                &self.state.registry,
                &self.req(),
                &metric.name,
                "pod",
                &names,
                metric.selector.as_ref(),
            )
            .map_err(|e| e.0)?;
        self.note(&metric.name, reads.newest_ms);
        Ok(PodMetricsList {
            timestamp: self.now,
            items: values
                .into_iter()
                .map(|(n, v)| {
                    (
                        n,
                        PodMetric {
                            value_m: custom_milli(v),
                            timestamp: self.now,
                            window: SimDuration::from_secs(60),
                        },
                    )
                })
                .collect(),
        })
    }

    fn object(&self, metric: &MetricId, object: &ObjectRef) -> Result<(i64, SimTime), String> {
        let (v, reads) = self
            .cfg
            .adapter
            .custom_single(
                &self.state.registry,
                &self.req(),
                &metric.name,
                &singular(&object.kind),
                &object.name,
                metric.selector.as_ref(),
            )
            .map_err(|e| e.0)?;
        self.note(&metric.name, reads.newest_ms);
        Ok((custom_milli(v), self.now))
    }

    fn external(&self, metric: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        let (v, reads) = self
            .cfg
            .adapter
            .external(
                &self.state.registry,
                &self.req(),
                &metric.name,
                metric.selector.as_ref(),
            )
            .map_err(|e| e.0)?;
        self.note(&metric.name, reads.newest_ms);
        Ok((v.into_iter().map(external_milli).collect(), self.now))
    }
}
