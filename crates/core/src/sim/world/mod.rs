//! The cluster simulation: one event loop over the traffic, the Service's
//! load balancer, the pods and their engines, the ReplicaSet, the nodes and
//! the cluster autoscaler, and the HPA controller.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::autoscaler::Autoscaler;
use super::config::{Balancer, ModelSource, Placement, SimConfig, SloMetric};
use super::direct::{DirectView, Layout, PodHistory, PodSample};
use super::dist::secs;
use super::queue::{Classified, EventQueue};
use super::record::{
    HpaSync, LatencyStats, LoadChange, MetricColumn, MetricReads, RequestCounts, SecondRow,
    SimResult, SimpleSync, SloResult, StartupRecord, Summary, SyncRecord,
};
use super::stats::{Bucket, Integral, LogHistogram};
use super::traffic::{Arrival, Source};
use crate::engine::{Engine, FinishReason, RequestOutcome, RequestSpec, Sample, StepTimeModel};
use crate::hpa::controller::{
    Decision, HpaState, MetricStatus, MetricsClient, PodLister, ScaleInfo, reconcile,
};
use crate::hpa::pods::{ConditionStatus, ContainerInfo, PodInfo, PodPhase, ReadyCondition};
use crate::hpa::selector::Selector;
use crate::hpa::spec::{MetricSpec, MetricTarget};
use crate::metrics::path::{PodView, PromConfig, PromState, PromView};
use crate::metrics::scrape::Target;
use crate::metrics::server::PodStats;
use crate::rng::Stream;
use crate::time::{SimDuration, SimTime};

mod autoscaler;
mod clients;
mod metrics;
mod nodes;
mod pods;
mod recorder;
mod service;

use clients::{Cause, ClientState, Place};
use pods::Pods;
use recorder::{Recorder, stats};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    NodeUp(u32),
    NodeGiveUp(u32),
    Stage(u32, u32),
    StartupProbe(u32, u32),
    ReadyTick(u32, u32),
    Wake(u32, SimTime),
    Deliver,
    Drain(u32, u32),
    Arrival,
    FrontTimeout,
    /// A closed-loop client sends its next request.
    ClientSend(u32),
    /// A request's next attempt (after backoff), by its last attempt's id.
    Retry(u64),
    /// An attempt's client timeout.
    ClientTimeout(u64),
    /// A user's patience for the first token runs out (by attempt id).
    Patience(u64),
    Scrape(u32),
    Housekeep(u32),
    MetricsServer,
    Relist,
    Sync,
    Scan,
    Tick,
}

impl Classified for Ev {
    fn class(&self) -> u8 {
        match self {
            Ev::NodeUp(_) | Ev::NodeGiveUp(_) => 0,
            Ev::Stage(..) => 1,
            Ev::StartupProbe(..) => 2,
            Ev::ReadyTick(..) => 3,
            Ev::Wake(..) => 4,
            Ev::Deliver => 5,
            Ev::Drain(..) => 6,
            Ev::Arrival | Ev::ClientSend(_) | Ev::Retry(_) => 7,
            Ev::FrontTimeout | Ev::ClientTimeout(_) | Ev::Patience(_) => 8,
            Ev::Scrape(_) | Ev::Housekeep(_) | Ev::MetricsServer | Ev::Relist => 9,
            Ev::Sync => 10,
            Ev::Scan => 11,
            Ev::Tick => 12,
        }
    }
}

/// The event queue's side slots: the next arrival, the next delivery (one
/// of each is pending at a time).
const SIDE_ARRIVAL: usize = 0;
const SIDE_DELIVER: usize = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Not bound to a node (no GPU free).
    Pending,
    /// Scheduler and kubelet admission.
    Binding,
    /// Waiting for the image.
    Pulling,
    /// Weights to local memory.
    Loading,
    /// Engine start-up and warm-up.
    Warming,
    /// Server up (Ready once the probes say so).
    Serving,
    /// CrashLoopBackOff after a failed startup probe.
    Backoff,
    /// Deleted.
    Gone,
}

struct Pod<M: StepTimeModel> {
    /// Creation number (the `N` of the name `<template>-N`).
    id: u32,
    name: String,
    stage: Stage,
    epoch: u32,
    node: Option<u32>,
    startup_failures: u32,
    terminating: bool,
    ready: bool,
    engine: Option<Engine<M>>,
    wake_at: Option<SimTime>,
    in_transit: u32,
    rng: Stream,
    hist: PodHistory,
    target: Option<Target>,
    stats: PodStats,
    /// With an export: the GPU busy seconds at the last scrape, and when
    /// (ms), for the DCGM-exporter utilisation series.
    gpu_seen: Option<(i64, f64)>,
    rec: StartupRecord,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Image {
    Absent,
    Pulling(SimTime),
    Cached,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    Provisioning,
    Ready,
    Removed,
}

struct Node {
    state: NodeState,
    gpus_used: u32,
    image: Image,
    model_warm: bool,
    idle_since: Option<SimTime>,
}

struct Waiting {
    arrival: Arrival,
    /// The attempt's request id.
    id: u64,
    deadline: SimTime,
}

/// Per-second accumulators.
#[derive(Default)]
struct Second {
    arrivals: u32,
    completed: u32,
    failed: u32,
    /// This second's latencies as [`order_key`]s.
    ttft: Vec<i64>,
    e2e: Vec<i64>,
    itl: Vec<i64>,
}

struct SloState {
    requests: u64,
    within: u64,
    all: LogHistogram,
    window: LogHistogram,
    windows: u64,
    windows_met: u64,
}

/// A running simulation.
pub struct Simulation<M: StepTimeModel + Clone> {
    cfg: SimConfig<M>,
    end: SimTime,
    q: EventQueue<Ev>,
    source: Source,
    next_arrival: Option<Arrival>,
    pods: Pods<M>,
    live: Vec<u32>,
    endpoints: Vec<u32>,
    nodes: Vec<Node>,
    spec_replicas: i32,
    hpa_state: HpaState,
    layout: Layout,
    prom: Option<PromState>,
    /// Whether each scraped name can matter to an adapter rule.
    prom_names: BTreeMap<String, bool>,
    expose_buf: Vec<Sample>,
    /// Outcomes drained from an engine (reused, no allocation per touch).
    done_buf: Vec<RequestOutcome>,
    /// Samples kept in the TSDB (the longest query window and more).
    prom_retention_ms: i64,
    resource_metrics: bool,
    lb_rng: Stream,
    rr: usize,
    front: VecDeque<Waiting>,
    front_timer: Option<SimTime>,
    transit: VecDeque<(SimTime, u32, RequestSpec)>,
    next_id: u64,
    /// Timeouts, patience, retries, closed loop (`SimConfig::clients`).
    clients: Option<ClientState>,
    last_scale_up_node: Option<SimTime>,
    scratch: Vec<f64>,
    /// What the run records (rows, decisions, summaries).
    record: Recorder,
}

struct Lister(Vec<PodInfo>);

impl PodLister for Lister {
    fn list(&self, selector: &Selector) -> Vec<PodInfo> {
        self.0
            .iter()
            .filter(|p| selector.matches(&p.labels))
            .cloned()
            .collect()
    }
}

fn target_natural(t: &MetricTarget) -> (f64, &'static str) {
    if let Some(u) = t.average_utilization {
        (f64::from(u), "Utilization")
    } else if let Some(v) = t.average_value_m {
        (v as f64 / 1000.0, "AverageValue")
    } else {
        (t.value_m.unwrap_or(0) as f64 / 1000.0, "Value")
    }
}

fn seen_natural(s: &MetricStatus) -> Option<f64> {
    if s.type_.is_empty() {
        return None;
    }
    if let Some(u) = s.average_utilization {
        return Some(f64::from(u));
    }
    s.average_value_m.or(s.value_m).map(|m| m as f64 / 1000.0)
}

fn column_name(m: &MetricSpec) -> (String, Option<&MetricTarget>) {
    match m {
        MetricSpec::Resource { name, target } => (format!("resource:{name}"), Some(target)),
        MetricSpec::ContainerResource {
            name,
            container,
            target,
        } => (format!("container:{container}:{name}"), Some(target)),
        MetricSpec::Pods { metric, target } => (format!("pods:{}", metric.name), Some(target)),
        MetricSpec::Object { metric, target, .. } => {
            (format!("object:{}", metric.name), Some(target))
        }
        MetricSpec::External { metric, target } => {
            (format!("external:{}", metric.name), Some(target))
        }
        _ => ("unknown".to_string(), None),
    }
}

/// Simulated seconds before `end` during which the logged value was `v`
/// (the log holds each change, from time zero).
fn time_at(log: &[(SimTime, i32)], v: i32, end: SimTime) -> f64 {
    let mut total = 0.0;
    for (i, (t, x)) in log.iter().enumerate() {
        let until = log.get(i + 1).map_or(end, |n| n.0).min(end);
        if *x == v && until > *t {
            total += until.since(*t).as_secs_f64();
        }
    }
    total
}

impl<M: StepTimeModel + Clone> Simulation<M> {
    /// Sets up the cluster at time zero.
    pub fn new(cfg: SimConfig<M>, source: Source) -> Simulation<M> {
        let end = SimTime::ZERO + cfg.duration;
        let hpa = cfg.scaling.as_ref().and_then(Autoscaler::hpa);
        let layout = Layout::for_spec(hpa.map(|h| &h.spec), cfg.metrics.dialect);
        let columns: Vec<MetricColumn> = hpa
            .map(|h| {
                h.spec
                    .metrics
                    .iter()
                    .map(|m| {
                        let (name, target) = column_name(m);
                        let (target, target_type) = target.map_or((f64::NAN, ""), target_natural);
                        MetricColumn {
                            name,
                            target,
                            target_type,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let slos = cfg
            .slos
            .iter()
            .map(|_| SloState {
                requests: 0,
                within: 0,
                all: LogHistogram::new(),
                window: LogHistogram::new(),
                windows: 0,
                windows_met: 0,
            })
            .collect();
        let mut sim = Simulation {
            end,
            q: EventQueue::new(),
            source,
            next_arrival: None,
            pods: Pods::new(),
            live: Vec::new(),
            endpoints: Vec::new(),
            nodes: Vec::new(),
            spec_replicas: cfg.initial_replicas,
            hpa_state: HpaState::default(),
            layout,
            prom: cfg.prometheus.as_ref().map(|_| PromState::default()),
            prom_names: BTreeMap::new(),
            expose_buf: Vec::new(),
            done_buf: Vec::new(),
            prom_retention_ms: cfg.prometheus.as_ref().map_or(0, |p| p.retention_ms()),
            resource_metrics: hpa.is_some_and(|h| {
                h.spec.metrics.iter().any(|m| {
                    matches!(
                        m,
                        MetricSpec::Resource { .. } | MetricSpec::ContainerResource { .. }
                    )
                })
            }),
            lb_rng: Stream::named(cfg.seed, "load-balancer"),
            rr: 0,
            front: VecDeque::new(),
            front_timer: None,
            transit: VecDeque::new(),
            next_id: 0,
            clients: (cfg.clients.clone()).map(|c| ClientState::new(c, cfg.seed)),
            last_scale_up_node: None,
            scratch: Vec::new(),
            record: Recorder::new(columns, slos, cfg.initial_replicas),
            cfg,
        };
        sim.bootstrap();
        sim
    }

    fn bootstrap(&mut self) {
        let per_node = (self.cfg.pool.gpus_per_node / self.cfg.template.gpus.max(1)).max(1);
        let needed = (self.cfg.initial_replicas.max(0) as u32).div_ceil(per_node);
        let n = self
            .cfg
            .pool
            .initial_nodes
            .max(if self.cfg.warm_start { needed } else { 0 });
        for _ in 0..n {
            self.nodes.push(Node {
                state: NodeState::Ready,
                gpus_used: 0,
                image: Image::Absent,
                model_warm: false,
                idle_since: Some(SimTime::ZERO),
            });
        }
        self.update_nodes(SimTime::ZERO);
        if self.cfg.warm_start {
            for _ in 0..self.cfg.initial_replicas.max(0) {
                let id = self.create_pod(SimTime::ZERO);
                self.start_warm(id);
            }
        } else {
            self.reconcile_replicas(SimTime::ZERO);
        }
        self.log_ready(SimTime::ZERO);
        if let Some(n) = self.clients.as_ref().and_then(ClientState::closed_loop) {
            for k in 0..n {
                self.q.push(SimTime::ZERO, Ev::ClientSend(k));
            }
        } else {
            self.next_arrival = self.source.next_arrival();
        }
        if let Some(a) = &self.next_arrival
            && a.time <= self.end
        {
            self.q.push_side(SIDE_ARRIVAL, a.time, Ev::Arrival);
        }
        if self.cfg.scaling.is_some() {
            self.q
                .push(SimTime::ZERO + self.cfg.controller.first_sync, Ev::Sync);
        }
        if self.cfg.autoscaler.enabled {
            self.q
                .push(SimTime::ZERO + self.cfg.autoscaler.scan_interval, Ev::Scan);
        }
        if let Some(pc) = &self.cfg.prometheus {
            let (warm, relist, resolution) =
                (pc.warm_discovery, pc.relist, pc.metrics_server.resolution);
            let first_relist = if warm {
                self.warm_registry();
                SimTime::ZERO + relist
            } else {
                SimTime::ZERO
            };
            self.q.push(first_relist, Ev::Relist);
            if self.resource_metrics {
                self.q.push(SimTime::ZERO + resolution, Ev::MetricsServer);
            }
        }
        self.q.push(SimTime::from_secs(1), Ev::Tick);
    }

    /// A pod that is already serving at time zero, on a node with the image
    /// and the model cached.
    fn start_warm(&mut self, id: u32) {
        let now = SimTime::ZERO;
        let Some(node) = self.pick_node(self.cfg.template.gpus) else {
            return;
        };
        self.bind(id, node, now);
        let n = &mut self.nodes[node as usize];
        n.image = Image::Cached;
        n.model_warm = true;
        let p = &mut self.pods[id as usize];
        p.rec.scheduled = Some(now);
        p.rec.node = Some(node);
        p.rec.container_started = Some(now);
        p.rec.model_loaded = Some(now);
        p.rec.server_up = Some(now);
        p.rec.startup_passed = Some(now);
        p.rec.ready = Some(now);
        self.server_up(id, now);
        self.make_ready(id, now);
    }

    /// Simulated time reached so far.
    pub fn now(&self) -> SimTime {
        self.q.now()
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// The HPA metric columns of the rows (spec order).
    pub fn columns(&self) -> &[MetricColumn] {
        &self.record.columns
    }

    /// Takes the per-second rows recorded so far: a caller that writes
    /// them as the run goes keeps memory bounded by live state, whatever
    /// the horizon. What `finish` returns holds only the rows not taken.
    pub fn take_rows(&mut self) -> Vec<SecondRow> {
        std::mem::take(&mut self.record.rows)
    }

    /// Takes the HPA sync records so far (as [`Self::take_rows`]).
    pub fn take_syncs(&mut self) -> Vec<SyncRecord> {
        std::mem::take(&mut self.record.syncs)
    }

    /// Pods whose state is held: the live ones and the gone ones that
    /// requests are still on their way to (others are reaped; see
    /// `Pods`). A long run's memory follows this, not the pods created.
    pub fn pods_held(&self) -> usize {
        self.pods.slots.iter().flatten().count()
    }

    /// Processes every event up to `until` (capped at the end of the run).
    pub fn run_until(&mut self, until: SimTime) {
        let limit = until.min(self.end);
        while let Some((t, ev)) = self.q.pop_until(limit) {
            self.handle(t, ev);
            #[cfg(debug_assertions)]
            self.check_invariants();
        }
    }

    /// What must hold between any two events (debug builds, so every test
    /// that runs a simulation checks it after each event): the Service's
    /// endpoints are ready, serving, live pods, each once; the GPUs the
    /// nodes hold are the GPUs of the live pods bound to them; the requests
    /// in transit are the sum of the pods' in-transit counts.
    #[cfg(debug_assertions)]
    fn check_invariants(&self) {
        for (k, &p) in self.endpoints.iter().enumerate() {
            let pod = &self.pods[p as usize];
            assert!(
                self.live.contains(&p) && pod.ready && pod.stage == Stage::Serving,
                "endpoint {p} is not a ready, serving, live pod"
            );
            assert!(!self.endpoints[..k].contains(&p), "endpoint {p} twice");
        }
        let mut held = vec![0u32; self.nodes.len()];
        for &p in &self.live {
            if let Some(n) = self.pods[p as usize].node {
                held[n as usize] += self.cfg.template.gpus;
            }
        }
        for (n, node) in self.nodes.iter().enumerate() {
            assert_eq!(node.gpus_used, held[n], "node {n}'s GPU count");
        }
        let in_transit: u64 = self
            .pods
            .slots
            .iter()
            .flatten()
            .map(|p| u64::from(p.in_transit))
            .sum();
        assert_eq!(in_transit, self.transit.len() as u64, "requests in transit");
    }

    fn handle(&mut self, now: SimTime, ev: Ev) {
        match ev {
            Ev::Arrival => self.on_arrival(now),
            Ev::Wake(p, at) => {
                if self.pods[p as usize].wake_at == Some(at) {
                    self.pods[p as usize].wake_at = None;
                    self.touch(p, now);
                }
            }
            Ev::Deliver => self.on_deliver(now),
            Ev::Stage(p, e) if self.pods[p as usize].epoch == e => self.on_stage_end(p, now),
            Ev::StartupProbe(p, e) if self.pods[p as usize].epoch == e => {
                self.on_startup_probe(p, now)
            }
            Ev::ReadyTick(p, e) if self.pods[p as usize].epoch == e => self.make_ready(p, now),
            Ev::Drain(p, e) if self.pods[p as usize].epoch == e => self.on_drain_deadline(p, now),
            Ev::Stage(..) | Ev::StartupProbe(..) | Ev::ReadyTick(..) | Ev::Drain(..) => {}
            Ev::FrontTimeout => self.on_front_timeout(now),
            Ev::ClientSend(k) => self.on_client_send(k, now),
            Ev::Retry(id) => self.on_retry(id, now),
            Ev::ClientTimeout(id) => self.on_client_timeout(id, now),
            Ev::Patience(id) => self.on_patience(id, now),
            Ev::NodeUp(n) => self.on_node_up(n, now),
            Ev::NodeGiveUp(n) => self.on_node_give_up(n, now),
            Ev::Scrape(p) => self.on_scrape(p, now),
            Ev::Housekeep(p) => self.on_housekeep(p, now),
            Ev::MetricsServer => self.on_metrics_server(now),
            Ev::Relist => self.on_relist(now),
            Ev::Sync => self.on_sync(now),
            Ev::Scan => self.on_scan(now),
            Ev::Tick => self.on_tick(now),
        }
    }

    // ----- the end --------------------------------------------------------

    /// Requests still in flight: every tracked request with a client
    /// model (attempts waiting to be retried included), otherwise those in
    /// the front queue, in transit and in the engines.
    fn unfinished(&self) -> u64 {
        if let Some(c) = &self.clients {
            return c.flights.len() as u64;
        }
        let in_pods: u64 = (self.live.iter())
            .map(|&i| {
                let p = &self.pods[i as usize];
                u64::from(p.in_transit) + p.engine.as_ref().map_or(0, |e| e.outstanding() as u64)
            })
            .sum();
        in_pods + self.front.len() as u64
    }

    /// Finishes the run (processing whatever remains up to the end) and
    /// returns what it produced.
    pub fn finish(mut self) -> SimResult {
        self.run_until(self.end);
        let end = self.end;
        let unfinished = self.unfinished();
        self.record.counts.unfinished = unfinished;
        self.record.gpus.advance(end);
        self.record.node_count.advance(end);
        self.record.ready_int.advance(end);
        let duration_s = self.cfg.duration.as_secs_f64();
        let slos = self
            .record
            .slos
            .iter()
            .zip(&self.cfg.slos)
            .map(|(s, slo)| {
                let overall = s.all.percentile(slo.percentile);
                SloResult {
                    slo: slo.clone(),
                    requests: s.requests,
                    within: s.within,
                    attainment: if s.requests == 0 {
                        f64::NAN
                    } else {
                        s.within as f64 / s.requests as f64
                    },
                    overall,
                    met: overall <= slo.threshold,
                    windows: s.windows,
                    windows_met: s.windows_met,
                }
            })
            .collect();
        let gpu_hours = self.record.gpus.hours();
        let node_hours = self.record.node_count.hours();
        let cost = self
            .cfg
            .pool
            .price_per_node_hour
            .map(|p| p * node_hours)
            .or_else(|| self.cfg.pool.price_per_gpu_hour.map(|p| p * gpu_hours));
        let load_changes = self.load_changes();
        let startups = std::mem::replace(&mut self.pods, Pods::new()).records();
        let summary = Summary {
            duration_s,
            requests: self.record.counts,
            ttft: stats(&self.record.ttft),
            e2e: stats(&self.record.e2e),
            itl: stats(&self.record.itl),
            slos,
            gpu_hours,
            node_hours,
            cost,
            mean_ready: if duration_s > 0.0 {
                self.record.ready_int.hours() * 3600.0 / duration_s
            } else {
                0.0
            },
            max_desired: self
                .record
                .desired_log
                .iter()
                .map(|d| d.1)
                .max()
                .unwrap_or(0),
            min_desired: self
                .record
                .desired_log
                .iter()
                .map(|d| d.1)
                .min()
                .unwrap_or(0),
            peak_gpus: self.record.peak_gpus,
            peak_nodes: self.record.peak_nodes,
            scale_ups: self.record.scale_ups,
            scale_downs: self.record.scale_downs,
            flaps: self.record.flaps,
            syncs: self.record.sync_count,
            syncs_with_metric_errors: self.record.sync_errors,
            load_changes,
            nodes_added: self.record.nodes_added,
            nodes_removed: self.record.nodes_removed,
            nodes_failed: self.record.nodes_failed,
            restarts: self.record.restarts,
            startups,
            metric_reads: std::mem::take(&mut self.record.reads),
            max_replicas: self
                .cfg
                .scaling
                .as_ref()
                .and_then(Autoscaler::hpa)
                .map(|h| h.spec.max_replicas),
            seconds_at_max: 0.0,
            diagnostics: Vec::new(),
        };
        let mut summary = summary;
        if let Some(max) = summary.max_replicas {
            summary.seconds_at_max = time_at(&self.record.desired_log, max, self.end);
        }
        summary.diagnostics = super::diagnose::diagnose(&summary);
        let keep = self
            .cfg
            .prometheus
            .as_ref()
            .is_some_and(|p| p.export_series);
        SimResult {
            columns: self.record.columns,
            rows: self.record.rows,
            syncs: self.record.syncs,
            summary,
            series: self.prom.take().filter(|_| keep).map(|s| s.db),
        }
    }
}
