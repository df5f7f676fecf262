//! Pods: the slab of every pod the run created (live ones, and tombstones
//! for reaped ones), the ReplicaSet (creating pods, choosing victims,
//! draining) and the kubelet (start-up stages, probes, readiness).

use super::metrics::scrape_keeps;
use super::*;

/// Every pod the run created, by id (ids are never reused, so events keep
/// naming the pod they were for). A pod that is gone and has no request on
/// its way to it is *reaped*: its start-up record moves to `records` and
/// its slot is emptied, so memory follows the live pods, not the horizon
/// (a week of daily scaling creates thousands of pods). An event still
/// queued for a reaped pod reads a tombstone: stage `Gone`, no engine, no
/// scrape target, no wake-up, an epoch no event carries, so every handler
/// does nothing, exactly as it did for the gone pod.
pub(super) struct Pods<M: StepTimeModel> {
    pub(super) slots: Vec<Option<Box<Pod<M>>>>,
    tomb: Pod<M>,
    /// Start-up records of reaped pods, with their ids.
    records: Vec<(u32, StartupRecord)>,
}

impl<M: StepTimeModel> Pods<M> {
    pub(super) fn new() -> Self {
        Pods {
            slots: Vec::new(),
            tomb: Pod::tombstone(),
            records: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn push(&mut self, pod: Pod<M>) {
        self.slots.push(Some(Box::new(pod)));
    }

    /// Reaps pod `p` if it is gone and nothing is on its way to it.
    pub(super) fn reap(&mut self, p: u32) {
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
    pub(super) fn records(self) -> Vec<StartupRecord> {
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
    pub(super) fn tombstone() -> Self {
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
            gpu_seen: None,
            rec: StartupRecord::new(String::new(), SimTime::ZERO),
        }
    }
}

impl<M: StepTimeModel> std::ops::Index<usize> for Pods<M> {
    type Output = Pod<M>;
    #[inline]
    fn index(&self, p: usize) -> &Pod<M> {
        self.slots[p].as_deref().unwrap_or(&self.tomb)
    }
}

impl<M: StepTimeModel> std::ops::IndexMut<usize> for Pods<M> {
    #[inline]
    fn index_mut(&mut self, p: usize) -> &mut Pod<M> {
        let Pods { slots, tomb, .. } = self;
        match slots[p].as_deref_mut() {
            Some(pod) => pod,
            None => fresh_tomb(tomb),
        }
    }
}

/// Handlers leave a gone pod as it is; each one starts from a fresh
/// tombstone all the same. Out of line: the hot path is a live pod.
#[cold]
#[inline(never)]
fn fresh_tomb<M: StepTimeModel>(tomb: &mut Pod<M>) -> &mut Pod<M> {
    *tomb = Pod::tombstone();
    tomb
}

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- pods -----------------------------------------------------------

    pub(super) fn create_pod(&mut self, now: SimTime) -> u32 {
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
            gpu_seen: None,
        });
        self.live.push(id);
        id
    }

    pub(super) fn active(&self) -> impl Iterator<Item = &Pod<M>> {
        self.live
            .iter()
            .map(|&i| &self.pods[i as usize])
            .filter(|p| !p.terminating)
    }

    /// The ReplicaSet controller: create or delete pods to match
    /// `spec.replicas`.
    pub(super) fn reconcile_replicas(&mut self, now: SimTime) {
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
    pub(super) fn victims(&self, n: usize) -> Vec<u32> {
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

    pub(super) fn delete_pod(&mut self, p: u32, now: SimTime) {
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

    pub(super) fn on_drain_deadline(&mut self, p: u32, now: SimTime) {
        if let Some(e) = self.pods[p as usize].engine.as_mut() {
            e.abort_all(now);
        }
        self.touch(p, now);
        if self.pods[p as usize].stage != Stage::Gone {
            self.remove_pod(p, now);
        }
    }

    pub(super) fn remove_pod(&mut self, p: u32, now: SimTime) {
        self.drop_target(p, now);
        let pod = &mut self.pods[p as usize];
        if pod.stage == Stage::Gone {
            return;
        }
        pod.stage = Stage::Gone;
        pod.rec.gone = Some(now);
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

    pub(super) fn pick_node(&self, gpus: u32) -> Option<u32> {
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

    pub(super) fn bind(&mut self, p: u32, node: u32, now: SimTime) {
        let gpus = self.cfg.template.gpus;
        let n = &mut self.nodes[node as usize];
        n.gpus_used += gpus;
        n.idle_since = None;
        self.pods[p as usize].node = Some(node);
        self.update_gpus(now);
        self.add_target(p, now);
    }

    /// Pods not yet bound to a node, in creation order.
    pub(super) fn pending_pods(&self) -> Vec<u32> {
        self.live
            .iter()
            .copied()
            .filter(|&i| self.pods[i as usize].stage == Stage::Pending)
            .collect()
    }

    /// The scheduler: pending pods in creation order onto nodes with free GPUs.
    pub(super) fn try_schedule(&mut self, now: SimTime) {
        let pending = self.pending_pods();
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

    pub(super) fn on_stage_end(&mut self, p: u32, now: SimTime) {
        let stage = self.pods[p as usize].stage;
        match stage {
            Stage::Binding => {
                let pod = &mut self.pods[p as usize];
                pod.rec.scheduled = Some(now);
                pod.rec.node = pod.node;
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

    pub(super) fn container_start(&mut self, p: u32, now: SimTime) {
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

    pub(super) fn server_up(&mut self, p: u32, now: SimTime) {
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

    pub(super) fn on_startup_probe(&mut self, p: u32, now: SimTime) {
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
            pod.rec.restarted.push(now);
            self.record.restarts += 1;
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
    pub(super) fn schedule_ready(&mut self, p: u32, from: SimTime) {
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

    pub(super) fn make_ready(&mut self, p: u32, now: SimTime) {
        let pod = &mut self.pods[p as usize];
        if pod.terminating || pod.stage != Stage::Serving || pod.ready {
            return;
        }
        pod.ready = true;
        pod.rec.ready = Some(now);
        self.endpoints.push(p);
        self.log_ready(now);
        while let Some(w) = self.front.pop_front() {
            if self.front_entry_live(w.id) {
                self.dispatch(w.arrival, w.id, now);
            }
        }
    }
}
