//! The cluster simulation: one event loop over the traffic, the Service's
//! load balancer, the pods and their engines, the ReplicaSet, the nodes and
//! the cluster autoscaler, and the HPA controller.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::config::{Balancer, ModelSource, Placement, SimConfig, SloMetric};
use super::direct::{DirectView, Layout, PodHistory, PodSample};
use super::dist::secs;
use super::queue::{Classified, EventQueue};
use super::record::{
    LatencyStats, LoadChange, MetricColumn, RequestCounts, SecondRow, SimResult, SloResult,
    StartupRecord, Summary, SyncRecord,
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
            Ev::Arrival => 7,
            Ev::FrontTimeout => 8,
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

/// Every pod the run created, by id (ids are never reused, so events keep
/// naming the pod they were for). A pod that is gone and has no request on
/// its way to it is *reaped*: its start-up record moves to `records` and
/// its slot is emptied, so memory follows the live pods, not the horizon
/// (a week of daily scaling creates thousands of pods). An event still
/// queued for a reaped pod reads a tombstone: stage `Gone`, no engine, no
/// scrape target, no wake-up, an epoch no event carries, so every handler
/// does nothing, exactly as it did for the gone pod.
struct Pods<M: StepTimeModel> {
    slots: Vec<Option<Box<Pod<M>>>>,
    tomb: Pod<M>,
    /// Start-up records of reaped pods, with their ids.
    records: Vec<(u32, StartupRecord)>,
}

impl<M: StepTimeModel> Pods<M> {
    fn new() -> Self {
        Pods {
            slots: Vec::new(),
            tomb: Pod::tombstone(),
            records: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn push(&mut self, pod: Pod<M>) {
        self.slots.push(Some(Box::new(pod)));
    }

    /// Reaps pod `p` if it is gone and nothing is on its way to it.
    fn reap(&mut self, p: u32) {
        let slot = &mut self.slots[p as usize];
        if slot
            .as_ref()
            .is_some_and(|x| x.stage == Stage::Gone && x.in_transit == 0)
            && let Some(pod) = slot.take()
        {
            self.records.push((pod.id, pod.rec));
        }
    }

    /// Every pod's start-up record, by creation time then id.
    fn records(self) -> Vec<StartupRecord> {
        let mut all: Vec<(u32, StartupRecord)> = self
            .slots
            .into_iter()
            .flatten()
            .map(|p| (p.id, p.rec))
            .chain(self.records)
            .collect();
        // As the pods were listed in creation order and sorted (stably) by
        // creation time.
        all.sort_by(|a, b| a.1.created.cmp(&b.1.created).then(a.0.cmp(&b.0)));
        all.into_iter().map(|(_, r)| r).collect()
    }
}

impl<M: StepTimeModel> Pod<M> {
    /// What a reaped pod reads as (see [`Pods`]).
    fn tombstone() -> Self {
        Pod {
            id: u32::MAX,
            name: String::new(),
            stage: Stage::Gone,
            epoch: u32::MAX,
            node: None,
            startup_failures: 0,
            terminating: true,
            ready: false,
            engine: None,
            wake_at: None,
            in_transit: 0,
            rng: Stream::indexed(0, "tombstone", 0),
            hist: PodHistory::default(),
            target: None,
            stats: PodStats::default(),
            rec: StartupRecord::new(String::new(), SimTime::ZERO),
        }
    }
}

impl<M: StepTimeModel> std::ops::Index<usize> for Pods<M> {
    type Output = Pod<M>;
    fn index(&self, p: usize) -> &Pod<M> {
        self.slots[p].as_deref().unwrap_or(&self.tomb)
    }
}

impl<M: StepTimeModel> std::ops::IndexMut<usize> for Pods<M> {
    fn index_mut(&mut self, p: usize) -> &mut Pod<M> {
        match self.slots[p].as_deref_mut() {
            Some(pod) => pod,
            None => {
                // Handlers leave a gone pod as it is; start each one from a
                // fresh tombstone all the same.
                self.tomb = Pod::tombstone();
                &mut self.tomb
            }
        }
    }
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
    last_scale_up_node: Option<SimTime>,
    scratch: Vec<f64>,
    /// Per serving pod this second: KV-cache usage and queue depth.
    band_kv: Vec<f64>,
    band_queue: Vec<f64>,
    // recording
    columns: Vec<MetricColumn>,
    seen: Vec<Option<f64>>,
    rows: Vec<SecondRow>,
    syncs: Vec<SyncRecord>,
    second: Second,
    counts: RequestCounts,
    ttft: LogHistogram,
    e2e: LogHistogram,
    itl: LogHistogram,
    slos: Vec<SloState>,
    gpus: Integral,
    node_count: Integral,
    ready_int: Integral,
    peak_gpus: u32,
    peak_nodes: u32,
    desired_log: Vec<(SimTime, i32)>,
    ready_log: Vec<(SimTime, i32)>,
    scale_ups: u32,
    scale_downs: u32,
    flaps: u32,
    last_rescale: Option<(SimTime, i32)>,
    sync_count: u32,
    sync_errors: u32,
    nodes_added: u32,
    nodes_removed: u32,
    nodes_failed: u32,
    restarts: u32,
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

/// Nearest-rank percentile of an unsorted slice (reorders it); NaN if empty.
/// Least, median (nearest rank), most and mean of per-pod values (NaN
/// when no pod serves).
struct Band {
    min: f64,
    median: f64,
    max: f64,
    mean: f64,
}

impl Band {
    fn of(v: &mut [f64]) -> Band {
        if v.is_empty() {
            return Band {
                min: f64::NAN,
                median: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
            };
        }
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &x in v.iter() {
            min = min.min(x);
            max = max.max(x);
            sum += x;
        }
        let mean = sum / v.len() as f64;
        // Last: the selection reorders the values.
        let median = pct(v, 50.0);
        Band {
            min,
            median,
            max,
            mean,
        }
    }
}

/// Whether a scrape stores series `n`: all of them when asked to (or for
/// `--metrics-out`), else those some adapter rule reads (remembered per
/// name in `names`).
fn scrape_keeps(pc: &PromConfig, names: &mut BTreeMap<String, bool>, n: &str) -> bool {
    if pc.keep_all_series || pc.export_series {
        return true;
    }
    if let Some(k) = names.get(n) {
        return *k;
    }
    let k = pc.adapter.reads_name(n);
    names.insert(n.to_owned(), k);
    k
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let (_, x, _) = v.select_nth_unstable_by(rank(v.len(), p), f64::total_cmp);
    *x
}

/// Nearest-rank index of the `p`-th percentile of `n > 0` values.
fn rank(n: usize, p: f64) -> usize {
    let r = ((p / 100.0) * n as f64).ceil().max(1.0) as usize - 1;
    r.min(n - 1)
}

/// `f64::total_cmp`'s order as an integer, so that a selection compares
/// with one instruction instead of re-deriving the order at every compare.
fn order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// The value of an [`order_key`] (the map is its own inverse).
fn from_order_key(k: i64) -> f64 {
    f64::from_bits(order_key(f64::from_bits(k as u64)) as u64)
}

/// The 50th and 95th percentiles of values given as [`order_key`]s: the
/// second selection looks only above the median, where the first left
/// everything not below it.
fn p50_p95(v: &mut [i64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (r50, r95) = (rank(v.len(), 50.0), rank(v.len(), 95.0));
    let (_, x, upper) = v.select_nth_unstable(r50);
    let median = from_order_key(*x);
    if r95 == r50 {
        return (median, median);
    }
    let (_, y, _) = upper.select_nth_unstable(r95 - r50 - 1);
    (median, from_order_key(*y))
}

fn stats(h: &LogHistogram) -> LatencyStats {
    LatencyStats {
        count: h.count(),
        mean: h.mean(),
        p50: h.percentile(50.0),
        p90: h.percentile(90.0),
        p95: h.percentile(95.0),
        p99: h.percentile(99.0),
        max: if h.count() == 0 { f64::NAN } else { h.max() },
    }
}

impl<M: StepTimeModel + Clone> Simulation<M> {
    /// Sets up the cluster at time zero.
    pub fn new(cfg: SimConfig<M>, source: Source) -> Simulation<M> {
        let end = SimTime::ZERO + cfg.duration;
        let layout = Layout::for_spec(cfg.hpa.as_ref().map(|h| &h.spec), cfg.metrics.dialect);
        let columns: Vec<MetricColumn> = cfg
            .hpa
            .as_ref()
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
            resource_metrics: cfg.hpa.as_ref().is_some_and(|h| {
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
            last_scale_up_node: None,
            scratch: Vec::new(),
            band_kv: Vec::new(),
            band_queue: Vec::new(),
            seen: vec![None; columns.len()],
            columns,
            rows: Vec::new(),
            syncs: Vec::new(),
            second: Second::default(),
            counts: RequestCounts::default(),
            ttft: LogHistogram::new(),
            e2e: LogHistogram::new(),
            itl: LogHistogram::new(),
            slos,
            gpus: Integral::default(),
            node_count: Integral::default(),
            ready_int: Integral::default(),
            peak_gpus: 0,
            peak_nodes: 0,
            desired_log: vec![(SimTime::ZERO, cfg.initial_replicas)],
            ready_log: Vec::new(),
            scale_ups: 0,
            scale_downs: 0,
            flaps: 0,
            last_rescale: None,
            sync_count: 0,
            sync_errors: 0,
            nodes_added: 0,
            nodes_removed: 0,
            nodes_failed: 0,
            restarts: 0,
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
        self.next_arrival = self.source.next_arrival();
        if let Some(a) = &self.next_arrival
            && a.time <= self.end
        {
            self.q.push_side(SIDE_ARRIVAL, a.time, Ev::Arrival);
        }
        if self.cfg.hpa.is_some() {
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
        &self.columns
    }

    /// Takes the per-second rows recorded so far: a caller that writes
    /// them as the run goes keeps memory bounded by live state, whatever
    /// the horizon. What `finish` returns holds only the rows not taken.
    pub fn take_rows(&mut self) -> Vec<SecondRow> {
        std::mem::take(&mut self.rows)
    }

    /// Takes the HPA sync records so far (as [`Self::take_rows`]).
    pub fn take_syncs(&mut self) -> Vec<SyncRecord> {
        std::mem::take(&mut self.syncs)
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
        }
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

    // ----- traffic and load balancing -------------------------------------

    fn on_arrival(&mut self, now: SimTime) {
        while let Some(a) = self.next_arrival.take_if(|a| a.time <= now) {
            self.counts.arrived += 1;
            self.second.arrivals += 1;
            self.dispatch(a, now);
            self.next_arrival = self.source.next_arrival();
        }
        if let Some(a) = &self.next_arrival
            && a.time <= self.end
        {
            self.q.push_side(SIDE_ARRIVAL, a.time, Ev::Arrival);
        }
    }

    fn dispatch(&mut self, a: Arrival, now: SimTime) {
        if self.endpoints.is_empty() {
            if self.front.len() < self.cfg.front_queue.capacity {
                let deadline = now + self.cfg.front_queue.timeout;
                self.front.push_back(Waiting {
                    arrival: a,
                    deadline,
                });
                if self.front_timer.is_none() {
                    self.front_timer = Some(deadline);
                    self.q.push(deadline, Ev::FrontTimeout);
                }
            } else {
                self.counts.rejected_no_endpoint += 1;
                self.fail_request();
            }
            return;
        }
        let n = self.endpoints.len();
        let pick = match self.cfg.balancer {
            Balancer::Random => self.endpoints[self.lb_rng.below(n as u64) as usize],
            Balancer::RoundRobin => {
                self.rr = (self.rr + 1) % n;
                self.endpoints[self.rr]
            }
            Balancer::LeastOutstanding => {
                self.rr = (self.rr + 1) % n;
                let mut best = self.endpoints[self.rr];
                let mut load = self.load_of(best);
                for k in 1..n {
                    let p = self.endpoints[(self.rr + k) % n];
                    let l = self.load_of(p);
                    if l < load {
                        best = p;
                        load = l;
                    }
                }
                best
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let spec = RequestSpec {
            id,
            arrival: a.time,
            prompt_tokens: a.prompt,
            output_tokens: a.output,
            finish: FinishReason::Stop,
            prefix: a.prefix,
        };
        self.pods[pick as usize].in_transit += 1;
        self.pods[pick as usize].rec.dispatched += 1;
        let at = now + self.cfg.frontend_delay;
        if self.transit.is_empty() {
            self.q.push_side(SIDE_DELIVER, at, Ev::Deliver);
        }
        self.transit.push_back((at, pick, spec));
    }

    fn load_of(&self, p: u32) -> usize {
        let pod = &self.pods[p as usize];
        pod.in_transit as usize + pod.engine.as_ref().map_or(0, |e| e.outstanding())
    }

    fn on_deliver(&mut self, now: SimTime) {
        while self.transit.front().is_some_and(|(t, ..)| *t <= now) {
            let Some((_, p, spec)) = self.transit.pop_front() else {
                break;
            };
            let pod = &mut self.pods[p as usize];
            pod.in_transit -= 1;
            match pod.engine.as_mut() {
                Some(e) if pod.stage == Stage::Serving => {
                    e.submit(now, spec);
                    self.touch(p, now);
                }
                _ => {
                    self.counts.aborted_on_drain += 1;
                    self.fail_request();
                    self.pods.reap(p);
                }
            }
        }
        if let Some((t, ..)) = self.transit.front() {
            self.q.push_side(SIDE_DELIVER, *t, Ev::Deliver);
        }
    }

    fn on_front_timeout(&mut self, now: SimTime) {
        self.front_timer = None;
        while self.front.front().is_some_and(|w| w.deadline <= now) {
            self.front.pop_front();
            self.counts.front_queue_timeout += 1;
            self.fail_request();
        }
        if let Some(w) = self.front.front() {
            self.front_timer = Some(w.deadline);
            self.q.push(w.deadline, Ev::FrontTimeout);
        }
    }

    fn fail_request(&mut self) {
        self.second.failed += 1;
        for s in &mut self.slos {
            s.requests += 1;
            s.all.record(f64::INFINITY);
            s.window.record(f64::INFINITY);
        }
    }

    /// Brings a pod's engine to `now`, records what finished and reschedules
    /// its next step.
    fn touch(&mut self, p: u32, now: SimTime) {
        let pod = &mut self.pods[p as usize];
        let Some(engine) = pod.engine.as_mut() else {
            return;
        };
        engine.advance(now);
        let mut done = std::mem::take(&mut self.done_buf);
        done.extend(engine.drain_outcomes());
        let next = engine.next_wakeup();
        let idle = engine.outstanding() == 0 && pod.in_transit == 0;
        if next != pod.wake_at {
            pod.wake_at = next;
            if let Some(t) = next {
                self.q.push(t, Ev::Wake(p, t));
            }
        }
        let draining = pod.terminating && idle;
        for o in &done {
            self.record_outcome(o);
        }
        done.clear();
        self.done_buf = done;
        if draining {
            self.remove_pod(p, now);
        }
    }

    fn record_outcome(&mut self, o: &RequestOutcome) {
        match o.finish {
            FinishReason::Stop | FinishReason::Length => {}
            FinishReason::Abort => {
                self.counts.aborted_on_drain += 1;
                self.fail_request();
                return;
            }
            FinishReason::Error => {
                self.counts.refused_by_engine += 1;
                self.fail_request();
                return;
            }
        }
        self.counts.completed += 1;
        self.second.completed += 1;
        let ttft = o.ttft.unwrap_or(o.e2e);
        let ttft_b = Bucket::of(ttft);
        let e2e_b = Bucket::of(o.e2e);
        let itl_b = o.mean_itl.map(|v| (v, Bucket::of(v)));
        self.ttft.record_in(ttft_b, ttft);
        self.e2e.record_in(e2e_b, o.e2e);
        if self.cfg.recording.timeseries {
            self.second.ttft.push(order_key(ttft));
            self.second.e2e.push(order_key(o.e2e));
        }
        if let Some((i, b)) = itl_b {
            self.itl.record_in(b, i);
            if self.cfg.recording.timeseries {
                self.second.itl.push(order_key(i));
            }
        }
        for (s, slo) in self.slos.iter_mut().zip(&self.cfg.slos) {
            let (v, b) = match slo.metric {
                SloMetric::Ttft => (ttft, ttft_b),
                SloMetric::E2e => (o.e2e, e2e_b),
                SloMetric::Itl => match itl_b {
                    Some(vb) => vb,
                    None => continue,
                },
            };
            s.requests += 1;
            if v <= slo.threshold {
                s.within += 1;
            }
            s.all.record_in(b, v);
            s.window.record_in(b, v);
        }
    }

    // ----- pods -----------------------------------------------------------

    fn create_pod(&mut self, now: SimTime) -> u32 {
        let id = self.pods.len() as u32;
        let name = format!("{}-{id}", self.cfg.template.name);
        self.pods.push(Pod {
            id,
            rec: StartupRecord::new(name.clone(), now),
            name,
            stage: Stage::Pending,
            epoch: 0,
            node: None,
            startup_failures: 0,
            terminating: false,
            ready: false,
            engine: None,
            wake_at: None,
            in_transit: 0,
            rng: Stream::indexed(self.cfg.seed, "pod-startup", u64::from(id)),
            hist: PodHistory::default(),
            target: None,
            stats: PodStats::default(),
        });
        self.live.push(id);
        id
    }

    fn active(&self) -> impl Iterator<Item = &Pod<M>> {
        self.live
            .iter()
            .map(|&i| &self.pods[i as usize])
            .filter(|p| !p.terminating)
    }

    /// The ReplicaSet controller: create or delete pods to match
    /// `spec.replicas`.
    fn reconcile_replicas(&mut self, now: SimTime) {
        let active = self.active().count() as i32;
        let want = self.spec_replicas.max(0);
        if want > active {
            for _ in active..want {
                self.create_pod(now);
            }
            self.try_schedule(now);
        } else if want < active {
            for v in self.victims((active - want) as usize) {
                self.delete_pod(v, now);
            }
        }
    }

    /// `getPodsToDelete`: unassigned first, then Pending before Running,
    /// not ready before ready, more recently ready first, more restarts
    /// first, newer first.
    fn victims(&self, n: usize) -> Vec<u32> {
        let mut c: Vec<u32> = self
            .live
            .iter()
            .copied()
            .filter(|&i| !self.pods[i as usize].terminating)
            .collect();
        c.sort_by_key(|&i| {
            let p = &self.pods[i as usize];
            let running = p.rec.container_started.is_some();
            (
                p.node.is_some(),
                running,
                p.ready,
                std::cmp::Reverse(p.rec.ready.unwrap_or(SimTime::ZERO)),
                std::cmp::Reverse(p.rec.restarts),
                std::cmp::Reverse(p.rec.created),
                std::cmp::Reverse(i),
            )
        });
        c.truncate(n);
        c
    }

    fn delete_pod(&mut self, p: u32, now: SimTime) {
        self.drop_target(p, now);
        let pod = &mut self.pods[p as usize];
        pod.terminating = true;
        pod.rec.deleted = Some(now);
        pod.epoch += 1;
        if pod.ready {
            pod.ready = false;
            self.endpoints.retain(|&e| e != p);
            self.log_ready(now);
        }
        let pod = &self.pods[p as usize];
        let busy = pod.stage == Stage::Serving
            && (pod.in_transit > 0 || pod.engine.as_ref().is_some_and(|e| e.outstanding() > 0));
        if busy {
            let e = pod.epoch;
            self.q.push(now + self.cfg.template.grace, Ev::Drain(p, e));
        } else {
            self.remove_pod(p, now);
        }
    }

    fn on_drain_deadline(&mut self, p: u32, now: SimTime) {
        if let Some(e) = self.pods[p as usize].engine.as_mut() {
            e.abort_all(now);
        }
        self.touch(p, now);
        if self.pods[p as usize].stage != Stage::Gone {
            self.remove_pod(p, now);
        }
    }

    fn remove_pod(&mut self, p: u32, now: SimTime) {
        self.drop_target(p, now);
        let pod = &mut self.pods[p as usize];
        if pod.stage == Stage::Gone {
            return;
        }
        pod.stage = Stage::Gone;
        pod.epoch += 1;
        pod.engine = None;
        pod.stats = PodStats::default();
        pod.wake_at = None;
        pod.hist = PodHistory::default();
        let node = pod.node;
        self.live.retain(|&i| i != p);
        self.pods.reap(p);
        if let Some(n) = node {
            let gpus = self.cfg.template.gpus;
            let node = &mut self.nodes[n as usize];
            node.gpus_used -= gpus;
            if node.gpus_used == 0 {
                node.idle_since = Some(now);
            }
            self.update_gpus(now);
            self.try_schedule(now);
        }
    }

    fn pick_node(&self, gpus: u32) -> Option<u32> {
        let per = self.cfg.pool.gpus_per_node;
        let fits = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.state == NodeState::Ready && per - n.gpus_used >= gpus);
        match self.cfg.pool.placement {
            Placement::Spread => fits.min_by_key(|(i, n)| (n.gpus_used, *i)),
            Placement::Pack => fits.max_by_key(|(i, n)| (n.gpus_used, std::cmp::Reverse(*i))),
        }
        .map(|(i, _)| i as u32)
    }

    fn bind(&mut self, p: u32, node: u32, now: SimTime) {
        let gpus = self.cfg.template.gpus;
        let n = &mut self.nodes[node as usize];
        n.gpus_used += gpus;
        n.idle_since = None;
        self.pods[p as usize].node = Some(node);
        self.update_gpus(now);
        self.add_target(p, now);
    }

    /// The scheduler: pending pods in creation order onto nodes with free GPUs.
    fn try_schedule(&mut self, now: SimTime) {
        let pending: Vec<u32> = self
            .live
            .iter()
            .copied()
            .filter(|&i| self.pods[i as usize].stage == Stage::Pending)
            .collect();
        for p in pending {
            let Some(node) = self.pick_node(self.cfg.template.gpus) else {
                continue;
            };
            self.bind(p, node, now);
            let pod = &mut self.pods[p as usize];
            pod.stage = Stage::Binding;
            let d = self.cfg.startup.scheduling.duration(&mut pod.rng);
            let e = pod.epoch;
            self.q.push(now + d, Ev::Stage(p, e));
        }
    }

    fn on_stage_end(&mut self, p: u32, now: SimTime) {
        let stage = self.pods[p as usize].stage;
        match stage {
            Stage::Binding => {
                self.pods[p as usize].rec.scheduled = Some(now);
                let n = self.pods[p as usize].node.unwrap_or(0) as usize;
                match self.nodes[n].image {
                    Image::Cached => self.container_start(p, now),
                    Image::Pulling(until) => {
                        let pod = &mut self.pods[p as usize];
                        pod.stage = Stage::Pulling;
                        self.q.push(until, Ev::Stage(p, pod.epoch));
                    }
                    Image::Absent => {
                        let pod = &mut self.pods[p as usize];
                        pod.rec.pulled_image = true;
                        let d = self.cfg.startup.image_pull.duration(&mut pod.rng);
                        pod.stage = Stage::Pulling;
                        self.nodes[n].image = Image::Pulling(now + d);
                        self.q.push(now + d, Ev::Stage(p, pod.epoch));
                    }
                }
            }
            Stage::Pulling => {
                let n = self.pods[p as usize].node.unwrap_or(0) as usize;
                self.nodes[n].image = Image::Cached;
                self.container_start(p, now);
            }
            Stage::Backoff => self.container_start(p, now),
            Stage::Loading => {
                let st = &self.cfg.startup;
                let pod = &mut self.pods[p as usize];
                pod.rec.model_loaded = Some(now);
                if let Some(n) = pod.node {
                    self.nodes[n as usize].model_warm = true;
                }
                let d = st.engine_start.duration(&mut pod.rng);
                pod.stage = Stage::Warming;
                self.q.push(now + d, Ev::Stage(p, pod.epoch));
            }
            Stage::Warming => {
                self.pods[p as usize].rec.server_up = Some(now);
                self.server_up(p, now);
                let st = &self.cfg.startup;
                if !st.startup_probe.enabled {
                    self.pods[p as usize].rec.startup_passed = Some(now);
                    self.schedule_ready(p, now);
                }
            }
            Stage::Pending | Stage::Serving | Stage::Gone => {}
        }
    }

    fn container_start(&mut self, p: u32, now: SimTime) {
        let st = &self.cfg.startup;
        let pod = &mut self.pods[p as usize];
        pod.rec.container_started.get_or_insert(now);
        pod.startup_failures = 0;
        let warm = pod.node.is_some_and(|n| self.nodes[n as usize].model_warm);
        let bps = match (st.source, warm) {
            (ModelSource::Download, _) => st.download_bps,
            (ModelSource::Pvc, true) => st.warm_read_bps,
            (ModelSource::Pvc, false) => st.cold_read_bps,
        };
        let noise = if st.load_noise_sigma > 0.0 {
            pod.rng.lognormal(1.0, st.load_noise_sigma)
        } else {
            1.0
        };
        let d = secs(st.model_bytes / bps.max(1.0) * noise);
        pod.stage = Stage::Loading;
        let e = pod.epoch;
        self.q.push(now + d, Ev::Stage(p, e));
        if st.startup_probe.enabled {
            self.q
                .push(now + st.startup_probe.initial_delay, Ev::StartupProbe(p, e));
        }
        // Readiness before the startup probe passes is not probed; the
        // grid is anchored at the container start.
        self.pods[p as usize].hist = PodHistory::default();
    }

    fn server_up(&mut self, p: u32, now: SimTime) {
        let mut engine = Engine::new(self.cfg.engine.clone(), self.cfg.model.clone(), now);
        // Through Prometheus, a histogram no scrape keeps is never read (the
        // direct path reads the engine's histograms itself: keep them all).
        if let Some(pc) = &self.cfg.prometheus {
            let names = &mut self.prom_names;
            engine.observe_only(&mut |n| scrape_keeps(pc, names, n));
        }
        let pod = &mut self.pods[p as usize];
        pod.engine = Some(engine);
        pod.stage = Stage::Serving;
        pod.hist.start(now);
        pod.stats.container_started(now);
        if let Some(pc) = &self.cfg.prometheus
            && self.resource_metrics
        {
            // cAdvisor picks the container up at its own phase.
            let hk = pc.metrics_server.housekeeping.as_micros().max(1);
            let phase = (i64::from(p) * 7_919_000).rem_euclid(hk);
            self.q.push(
                now + SimDuration::from_micros(phase.max(1)),
                Ev::Housekeep(p),
            );
        }
    }

    fn on_startup_probe(&mut self, p: u32, now: SimTime) {
        let probe = self.cfg.startup.startup_probe;
        let pod = &mut self.pods[p as usize];
        if pod.stage == Stage::Serving {
            pod.rec.startup_passed = Some(now);
            self.schedule_ready(p, now);
            return;
        }
        pod.startup_failures += 1;
        if pod.startup_failures >= probe.failure_threshold {
            // The kubelet kills the container; CrashLoopBackOff doubles from 10 s.
            pod.rec.restarts += 1;
            self.restarts += 1;
            pod.epoch += 1;
            pod.engine = None;
            pod.stage = Stage::Backoff;
            let shift = pod.rec.restarts.saturating_sub(1).min(20);
            let backoff = SimDuration::from_secs(10 << shift).min(self.cfg.startup.max_backoff);
            self.q.push(now + backoff, Ev::Stage(p, pod.epoch));
        } else {
            let e = pod.epoch;
            self.q.push(now + probe.period, Ev::StartupProbe(p, e));
        }
    }

    /// Ready at the first readiness tick at or after `from`.
    fn schedule_ready(&mut self, p: u32, from: SimTime) {
        let probe = self.cfg.startup.readiness_probe;
        let pod = &self.pods[p as usize];
        let at = if probe.enabled {
            let start = pod.rec.container_started.unwrap_or(from);
            let first = start + probe.initial_delay;
            if from <= first {
                first
            } else {
                let period = probe.period.as_micros().max(1);
                let k = (from.since(first).as_micros() + period - 1) / period;
                first + SimDuration::from_micros(k * period)
            }
        } else {
            from
        };
        self.q.push(at, Ev::ReadyTick(p, pod.epoch));
    }

    fn make_ready(&mut self, p: u32, now: SimTime) {
        let pod = &mut self.pods[p as usize];
        if pod.terminating || pod.stage != Stage::Serving || pod.ready {
            return;
        }
        pod.ready = true;
        pod.rec.ready = Some(now);
        self.endpoints.push(p);
        self.log_ready(now);
        while let Some(w) = self.front.pop_front() {
            self.dispatch(w.arrival, now);
        }
    }

    // ----- nodes ----------------------------------------------------------

    fn update_gpus(&mut self, now: SimTime) {
        let g: u32 = self.nodes.iter().map(|n| n.gpus_used).sum();
        self.peak_gpus = self.peak_gpus.max(g);
        self.gpus.set(now, f64::from(g));
    }

    /// Nodes in a state (`None`: every node not removed).
    fn nodes_in(&self, state: Option<NodeState>) -> u32 {
        self.nodes
            .iter()
            .filter(|n| match state {
                Some(s) => n.state == s,
                None => n.state != NodeState::Removed,
            })
            .count() as u32
    }

    fn update_nodes(&mut self, now: SimTime) {
        let n = self.nodes_in(None);
        self.peak_nodes = self.peak_nodes.max(n);
        self.node_count.set(now, f64::from(n));
    }

    fn on_node_up(&mut self, n: u32, now: SimTime) {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Provisioning {
            return;
        }
        node.state = NodeState::Ready;
        node.idle_since = Some(now);
        self.try_schedule(now);
    }

    fn on_node_give_up(&mut self, n: u32, now: SimTime) {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Provisioning {
            return;
        }
        node.state = NodeState::Removed;
        self.nodes_failed += 1;
        self.update_nodes(now);
    }

    /// One cluster-autoscaler loop: add nodes for pods that cannot be
    /// scheduled (counting nodes already on their way), remove nodes that
    /// have been empty long enough.
    fn on_scan(&mut self, now: SimTime) {
        let ca = self.cfg.autoscaler.clone();
        let per = self.cfg.pool.gpus_per_node;
        let gpus = self.cfg.template.gpus;
        let pending: Vec<u32> = self
            .live
            .iter()
            .copied()
            .filter(|&i| self.pods[i as usize].stage == Stage::Pending)
            .collect();
        if !pending.is_empty() && gpus <= per {
            let mut room: Vec<u32> = self
                .nodes
                .iter()
                .filter(|n| n.state == NodeState::Provisioning)
                .map(|_| per)
                .collect();
            let mut new = 0u32;
            let existing = self.nodes_in(None);
            for p in pending {
                self.pods[p as usize].rec.waited_for_node = true;
                if let Some(r) = room.iter_mut().find(|r| **r >= gpus) {
                    *r -= gpus;
                } else if existing + new < self.cfg.pool.max_nodes {
                    new += 1;
                    room.push(per - gpus);
                }
            }
            let mut rng =
                Stream::indexed(self.cfg.seed, "node-provisioning", self.nodes.len() as u64);
            for _ in 0..new {
                let id = self.nodes.len() as u32;
                self.nodes.push(Node {
                    state: NodeState::Provisioning,
                    gpus_used: 0,
                    image: Image::Absent,
                    model_warm: false,
                    idle_since: None,
                });
                self.nodes_added += 1;
                let d = ca.provisioning.duration(&mut rng);
                if d > ca.max_node_provision_time {
                    self.q
                        .push(now + ca.max_node_provision_time, Ev::NodeGiveUp(id));
                } else {
                    self.q.push(now + d, Ev::NodeUp(id));
                }
            }
            if new > 0 {
                self.last_scale_up_node = Some(now);
                self.update_nodes(now);
            }
        }
        let since_add_ok = self
            .last_scale_up_node
            .is_none_or(|t| now.since(t) >= ca.scale_down_delay_after_add);
        if since_add_ok {
            let mut count = self.nodes_in(None);
            let mut removed = 0;
            for node in &mut self.nodes {
                if count <= self.cfg.pool.min_nodes || removed >= ca.max_empty_bulk_delete {
                    break;
                }
                if node.state == NodeState::Ready
                    && node.gpus_used == 0
                    && node
                        .idle_since
                        .is_some_and(|t| now.since(t) >= ca.scale_down_unneeded_time)
                {
                    node.state = NodeState::Removed;
                    count -= 1;
                    removed += 1;
                }
            }
            if removed > 0 {
                self.nodes_removed += removed;
                self.update_nodes(now);
            }
        }
        self.q.push(now + ca.scan_interval, Ev::Scan);
    }

    // ----- the HPA --------------------------------------------------------

    fn pod_info(&self, p: &Pod<M>) -> PodInfo {
        // A pod is Running once a container has started (also while it
        // waits in CrashLoopBackOff).
        let running = p.rec.container_started.is_some();
        let ready = match (p.ready, p.rec.scheduled) {
            (true, _) => Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: p.rec.ready.unwrap_or(SimTime::ZERO),
            }),
            (false, Some(s)) => Some(ReadyCondition {
                status: ConditionStatus::False,
                last_transition: s,
            }),
            (false, None) => None,
        };
        PodInfo {
            name: p.name.clone(),
            phase: if running {
                PodPhase::Running
            } else {
                PodPhase::Pending
            },
            ready,
            start_time: p.rec.scheduled,
            deleted: p.terminating,
            containers: vec![ContainerInfo {
                name: self.cfg.template.container.clone(),
                requests: (!self.cfg.template.requests.is_empty())
                    .then(|| self.cfg.template.requests.clone()),
                restart_always: false,
            }],
            init_containers: Vec::new(),
            pod_requests: None,
            labels: self.cfg.template.labels.clone(),
        }
    }

    fn on_sync(&mut self, now: SimTime) {
        let Some(hpa) = self.cfg.hpa.clone() else {
            return;
        };
        let infos: Vec<PodInfo> = self
            .live
            .iter()
            .map(|&i| self.pod_info(&self.pods[i as usize]))
            .collect();
        let status_replicas = self.active().count() as i32;
        let scale = ScaleInfo {
            spec_replicas: self.spec_replicas,
            status_replicas,
            selector: self.cfg.template.selector.clone(),
        };
        // The HPA reads through the Prometheus path, or exact pod values.
        let (pod_views, samples) = match &self.cfg.prometheus {
            Some(pc) => (
                self.live
                    .iter()
                    .map(|&i| {
                        let p = &self.pods[i as usize];
                        PodView {
                            name: p.name.clone(),
                            usage: p.stats.usage(pc.metrics_server.resolution),
                        }
                    })
                    .collect(),
                Vec::new(),
            ),
            None => (Vec::new(), self.samples(now)),
        };
        let prom_view = match (&self.cfg.prometheus, &self.prom) {
            (Some(cfg), Some(state)) => Some(PromView {
                cfg,
                state,
                now,
                pods: &pod_views,
                namespace: &self.cfg.template.namespace,
                reads: Mutex::new(BTreeMap::new()),
            }),
            _ => None,
        };
        let direct_view = DirectView {
            now,
            pods: &samples,
            layout: &self.layout,
            cfg: self.cfg.metrics,
            service: &self.cfg.template.name,
        };
        let view: &dyn MetricsClient = match &prom_view {
            Some(v) => v,
            None => &direct_view,
        };
        let d = reconcile(
            &self.cfg.controller.config,
            &hpa,
            &mut self.hpa_state,
            &scale,
            &Lister(infos),
            view,
            now,
        );
        let data_as_of = prom_view.as_ref().map_or_else(Vec::new, |v| {
            hpa.spec
                .metrics
                .iter()
                .map(|m| match m {
                    MetricSpec::Pods { metric, .. }
                    | MetricSpec::Object { metric, .. }
                    | MetricSpec::External { metric, .. } => v.data_as_of(&metric.name),
                    _ => None,
                })
                .collect()
        });
        self.sync_count += 1;
        if d.metrics.iter().any(|m| m.error.is_some()) || d.failed {
            self.sync_errors += 1;
        }
        self.seen = (0..self.columns.len())
            .map(|i| d.metric_statuses.get(i).and_then(seen_natural))
            .collect();
        if d.rescale {
            self.apply_rescale(&d, now);
        }
        if self.cfg.recording.decisions {
            self.syncs.push(SyncRecord {
                seen: self.seen.clone(),
                data_as_of,
                decision: d,
            });
        }
        let next =
            now + self.cfg.controller.reconcile_latency + self.cfg.controller.config.sync_period;
        self.q.push(next, Ev::Sync);
    }

    /// Writes the scale subresource now, as a user's `kubectl scale` would
    /// (the HPA, if any, may change it at its next sync).
    pub fn scale_to(&mut self, replicas: i32) {
        let now = self.now();
        self.set_replicas(replicas, now);
    }

    fn apply_rescale(&mut self, d: &Decision, now: SimTime) {
        self.set_replicas(d.desired_replicas, now);
    }

    fn set_replicas(&mut self, to: i32, now: SimTime) {
        let from = self.spec_replicas;
        if to == from {
            return;
        }
        let dir = (to - from).signum();
        if dir > 0 {
            self.scale_ups += 1;
        } else {
            self.scale_downs += 1;
        }
        if let Some((t, prev)) = self.last_rescale
            && prev != dir
            && now.since(t) <= self.cfg.flap_window
        {
            self.flaps += 1;
        }
        self.last_rescale = Some((now, dir));
        self.spec_replicas = to;
        self.desired_log.push((now, to));
        self.reconcile_replicas(now);
    }

    fn samples(&self, now: SimTime) -> Vec<PodSample> {
        let mut out = Vec::new();
        let mut values = Vec::new();
        for &i in &self.live {
            let p = &self.pods[i as usize];
            let Some(e) = p.engine.as_ref() else { continue };
            self.layout.capture(e.metrics(), &mut values);
            let started = p.rec.server_up.unwrap_or(now);
            let usage = e.usage(started);
            out.push(PodSample::build(
                p.name.clone(),
                e.gauges(),
                values.clone(),
                (usage.cpu_seconds, usage.memory_bytes),
                &p.hist,
                now,
                &self.cfg.metrics,
            ));
        }
        out
    }

    // ----- the Prometheus path ---------------------------------------------

    /// The adapter has been running against this NIMService's series
    /// before time zero: it already knows the names a NIM exposes.
    fn warm_registry(&mut self) {
        let (Some(pc), Some(state)) = (&self.cfg.prometheus, self.prom.as_mut()) else {
            return;
        };
        let engine = Engine::new(
            self.cfg.engine.clone(),
            self.cfg.model.clone(),
            SimTime::ZERO,
        );
        let mut samples = Vec::new();
        engine.expose(&mut samples);
        let target = Target::new(
            &pc.scrape,
            &format!("{}-warm", self.cfg.template.name),
            "10.0.0.1",
        );
        let mut labels: Vec<_> = samples.iter().map(|s| target.labels_of(s)).collect();
        labels.push(target.labels_of(&Sample {
            name: "up".into(),
            labels: Vec::new(),
            value: 1.0,
        }));
        state.registry = pc.adapter.discover_from(&labels);
    }

    /// A pod with an address becomes a scrape target of the ServiceMonitor.
    fn add_target(&mut self, p: u32, now: SimTime) {
        let Some(pc) = &self.cfg.prometheus else {
            return;
        };
        let ip = format!(
            "10.{}.{}.{}",
            1 + ((p >> 16) & 0xff),
            (p >> 8) & 0xff,
            p & 0xff
        );
        let target = Target::new(&pc.scrape, &self.pods[p as usize].name, &ip);
        let at = target.next_at_or_after(now.as_micros().div_euclid(1000), pc.scrape.interval_ms);
        self.pods[p as usize].target = Some(target);
        self.q.push(SimTime::from_millis(at), Ev::Scrape(p));
    }

    /// The pod left the Service's endpoints: Prometheus stops scraping it
    /// and marks its series stale.
    fn drop_target(&mut self, p: u32, now: SimTime) {
        if let (Some(t), Some(state)) = (self.pods[p as usize].target.as_mut(), self.prom.as_mut())
        {
            t.remove(&mut state.db, now.as_micros().div_euclid(1000));
        }
        self.pods[p as usize].target = None;
    }

    fn on_scrape(&mut self, p: u32, now: SimTime) {
        if self.cfg.prometheus.is_none() || self.pods[p as usize].target.is_none() {
            return;
        }
        self.touch(p, now);
        let Some(pc) = &self.cfg.prometheus else {
            return;
        };
        let t_ms = now.as_micros().div_euclid(1000);
        let pod = &mut self.pods[p as usize];
        let (Some(state), Some(target)) = (self.prom.as_mut(), pod.target.as_mut()) else {
            return;
        };
        match pod.engine.as_ref() {
            Some(e) => {
                self.expose_buf.clear();
                let names = &mut self.prom_names;
                e.expose_where(&mut |n| scrape_keeps(pc, names, n), &mut self.expose_buf);
                target.scrape(&mut state.db, t_ms, &self.expose_buf, |_| true);
            }
            None => target.fail(&mut state.db, t_ms),
        }
        self.q.push(
            now + SimDuration::from_millis(pc.scrape.interval_ms),
            Ev::Scrape(p),
        );
    }

    fn on_housekeep(&mut self, p: u32, now: SimTime) {
        let Some(hk) = self
            .cfg
            .prometheus
            .as_ref()
            .map(|pc| pc.metrics_server.housekeeping)
        else {
            return;
        };
        if self.pods[p as usize].stage == Stage::Gone || self.pods[p as usize].engine.is_none() {
            return;
        }
        self.touch(p, now);
        let pod = &mut self.pods[p as usize];
        if let Some(e) = pod.engine.as_ref() {
            let u = e.usage(pod.rec.server_up.unwrap_or(now));
            pod.stats.housekeep(now, u.cpu_seconds, u.memory_bytes);
            self.q.push(now + hk, Ev::Housekeep(p));
        }
    }

    fn on_metrics_server(&mut self, now: SimTime) {
        let Some(pc) = &self.cfg.prometheus else {
            return;
        };
        for &i in &self.live {
            self.pods[i as usize].stats.scrape();
        }
        self.q
            .push(now + pc.metrics_server.resolution, Ev::MetricsServer);
    }

    fn on_relist(&mut self, now: SimTime) {
        let (Some(pc), Some(state)) = (&self.cfg.prometheus, self.prom.as_mut()) else {
            return;
        };
        let t_ms = now.as_micros().div_euclid(1000);
        if !pc.export_series {
            state.db.truncate(t_ms - self.prom_retention_ms);
        }
        state.registry = pc
            .adapter
            .discover(&state.db, t_ms - pc.relist.as_micros() / 1000, t_ms);
        if now < self.end {
            self.q.push(now + pc.relist, Ev::Relist);
        }
    }

    // ----- the per-second record ------------------------------------------

    fn log_ready(&mut self, now: SimTime) {
        let r = self.endpoints.len() as i32;
        self.ready_int.set(now, f64::from(r));
        if self.ready_log.last().is_some_and(|(t, _)| *t == now) {
            self.ready_log.pop();
        }
        self.ready_log.push((now, r));
    }

    fn on_tick(&mut self, now: SimTime) {
        let keep =
            self.cfg.metrics.window.max(self.cfg.metrics.resolution) + SimDuration::from_secs(2);
        let live = self.live.clone();
        let (mut in_flight, mut waiting) = (0u32, 0u32);
        self.band_kv.clear();
        self.band_queue.clear();
        for p in live {
            self.touch(p, now);
            let pod = &mut self.pods[p as usize];
            in_flight += pod.in_transit;
            let Some(e) = pod.engine.as_ref() else {
                continue;
            };
            let g = e.gauges();
            in_flight += e.outstanding() as u32;
            waiting += g.waiting;
            if self.cfg.recording.timeseries {
                self.band_kv.push(g.kv_usage);
                self.band_queue.push(f64::from(g.waiting));
            }
            if self.prom.is_none() {
                self.layout.capture(e.metrics(), &mut self.scratch);
                let started = pod.rec.server_up.unwrap_or(now);
                let cpu = e.usage(started).cpu_seconds;
                pod.hist.push(now, cpu, &self.scratch, keep);
            }
        }
        self.gpus.advance(now);
        self.node_count.advance(now);
        self.ready_int.advance(now);
        if self.cfg.recording.timeseries {
            let kv = Band::of(&mut self.band_kv);
            let queue = Band::of(&mut self.band_queue);
            let nodes = self.nodes_in(Some(NodeState::Ready));
            let prov = self.nodes_in(Some(NodeState::Provisioning));
            let s = &mut self.second;
            let (mut current, mut ready, mut starting, mut terminating) = (0, 0, 0, 0);
            for &i in &self.live {
                let p = &self.pods[i as usize];
                if p.terminating {
                    terminating += 1;
                } else {
                    current += 1;
                    if p.ready {
                        ready += 1;
                    } else {
                        starting += 1;
                    }
                }
            }
            let (ttft_p50, ttft_p95) = p50_p95(&mut s.ttft);
            let (e2e_p50, e2e_p95) = p50_p95(&mut s.e2e);
            let (itl_p50, itl_p95) = p50_p95(&mut s.itl);
            let row = SecondRow {
                t: now.as_secs_floor(),
                arrivals: s.arrivals,
                completed: s.completed,
                failed: s.failed,
                in_flight: in_flight + self.front.len() as u32,
                queued: waiting + self.front.len() as u32,
                front_queue: self.front.len() as u32,
                desired: self.spec_replicas,
                current,
                ready,
                starting,
                terminating,
                gpus: self.gpus.value() as u32,
                nodes,
                nodes_provisioning: prov,
                kv_mean: kv.mean,
                kv_max: kv.max,
                kv_min: kv.min,
                kv_median: kv.median,
                queue_min: queue.min,
                queue_median: queue.median,
                queue_max: queue.max,
                ttft_p50,
                ttft_p95,
                e2e_p50,
                e2e_p95,
                itl_p50,
                itl_p95,
                metrics: self.seen.clone(),
            };
            self.rows.push(row);
        }
        self.second.arrivals = 0;
        self.second.completed = 0;
        self.second.failed = 0;
        self.second.ttft.clear();
        self.second.e2e.clear();
        self.second.itl.clear();
        let w = self.cfg.slo_window.as_micros().max(1);
        if now.as_micros() % w == 0 || now >= self.end {
            for (s, slo) in self.slos.iter_mut().zip(&self.cfg.slos) {
                if s.window.count() > 0 {
                    s.windows += 1;
                    if s.window.percentile(slo.percentile) <= slo.threshold {
                        s.windows_met += 1;
                    }
                }
                s.window.clear();
            }
        }
        if now < self.end {
            self.q.push(now + SimDuration::from_secs(1), Ev::Tick);
        }
    }

    // ----- the end --------------------------------------------------------

    /// Finishes the run (processing whatever remains up to the end) and
    /// returns what it produced.
    pub fn finish(mut self) -> SimResult {
        self.run_until(self.end);
        let end = self.end;
        let unfinished: u64 = self
            .live
            .iter()
            .map(|&i| {
                let p = &self.pods[i as usize];
                u64::from(p.in_transit) + p.engine.as_ref().map_or(0, |e| e.outstanding() as u64)
            })
            .sum::<u64>()
            + self.front.len() as u64;
        self.counts.unfinished = unfinished;
        self.gpus.advance(end);
        self.node_count.advance(end);
        self.ready_int.advance(end);
        let duration_s = self.cfg.duration.as_secs_f64();
        let slos = self
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
        let gpu_hours = self.gpus.hours();
        let node_hours = self.node_count.hours();
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
            requests: self.counts,
            ttft: stats(&self.ttft),
            e2e: stats(&self.e2e),
            itl: stats(&self.itl),
            slos,
            gpu_hours,
            node_hours,
            cost,
            mean_ready: if duration_s > 0.0 {
                self.ready_int.hours() * 3600.0 / duration_s
            } else {
                0.0
            },
            max_desired: self.desired_log.iter().map(|d| d.1).max().unwrap_or(0),
            min_desired: self.desired_log.iter().map(|d| d.1).min().unwrap_or(0),
            peak_gpus: self.peak_gpus,
            peak_nodes: self.peak_nodes,
            scale_ups: self.scale_ups,
            scale_downs: self.scale_downs,
            flaps: self.flaps,
            syncs: self.sync_count,
            syncs_with_metric_errors: self.sync_errors,
            load_changes,
            nodes_added: self.nodes_added,
            nodes_removed: self.nodes_removed,
            nodes_failed: self.nodes_failed,
            restarts: self.restarts,
            startups,
        };
        let keep = self
            .cfg
            .prometheus
            .as_ref()
            .is_some_and(|p| p.export_series);
        SimResult {
            columns: self.columns,
            rows: self.rows,
            syncs: self.syncs,
            summary,
            series: self.prom.take().filter(|_| keep).map(|s| s.db),
        }
    }

    fn load_changes(&self) -> Vec<LoadChange> {
        let mut changes: Vec<SimTime> = self
            .cfg
            .load_changes
            .iter()
            .copied()
            .filter(|t| *t < self.end)
            .collect();
        changes.sort();
        changes.dedup();
        let value_at = |log: &[(SimTime, i32)], t: SimTime| -> i32 {
            log.iter()
                .take_while(|(u, _)| *u <= t)
                .last()
                .map_or(0, |x| x.1)
        };
        changes
            .iter()
            .enumerate()
            .map(|(k, &at)| {
                let seg_end = changes.get(k + 1).copied().unwrap_or(self.end);
                let desired_after = value_at(&self.desired_log, seg_end);
                let first_rescale_s = self
                    .desired_log
                    .iter()
                    .find(|(t, _)| *t > at && *t <= seg_end)
                    .map(|(t, _)| t.since(at).as_secs_f64());
                // The last desired change in the segment, then the first
                // instant ready pods match it and stay matched.
                let last_write = self
                    .desired_log
                    .iter()
                    .filter(|(t, _)| *t <= seg_end)
                    .map(|(t, _)| *t)
                    .next_back()
                    .unwrap_or(SimTime::ZERO)
                    .max(at);
                let mut settled = None;
                if value_at(&self.ready_log, last_write) == desired_after {
                    settled = Some(last_write);
                }
                for &(t, r) in self
                    .ready_log
                    .iter()
                    .filter(|(t, _)| *t > last_write && *t <= seg_end)
                {
                    if r == desired_after {
                        if settled.is_none() {
                            settled = Some(t);
                        }
                    } else {
                        settled = None;
                    }
                }
                LoadChange {
                    at,
                    ready_before: value_at(&self.ready_log, at),
                    desired_after,
                    first_rescale_s,
                    settled_s: settled.map(|t| t.since(at).as_secs_f64()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p50_p95_are_the_nearest_rank_percentiles() {
        let mut r = Stream::named(3, "pct");
        for n in [1usize, 2, 3, 19, 20, 21, 100, 1001] {
            let v: Vec<f64> = (0..n).map(|_| r.uniform() - 0.25).collect();
            let mut a: Vec<i64> = v.iter().map(|&x| order_key(x)).collect();
            let (mut b, mut c) = (v.clone(), v);
            assert_eq!(
                p50_p95(&mut a),
                (pct(&mut b, 50.0), pct(&mut c, 95.0)),
                "n {n}"
            );
        }
        assert!(p50_p95(&mut []).0.is_nan());
        for x in [
            0.0,
            -0.0,
            1e-300,
            -2.5,
            7.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }
}
