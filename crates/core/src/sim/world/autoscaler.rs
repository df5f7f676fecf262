//! The autoscaler's glue: at each sync, the HPA is reconciled over the pods
//! and the metric path (`hpa::reconcile`); any other autoscaler decides
//! through `Autoscaler::decide`. Both write the replica count the same way.

use super::*;

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- the HPA --------------------------------------------------------

    pub(super) fn pod_info(&self, p: &Pod<M>) -> PodInfo {
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

    pub(super) fn on_sync(&mut self, now: SimTime) {
        let Some(scaling) = self.cfg.scaling.clone() else {
            return;
        };
        match scaling.hpa() {
            Some(hpa) => self.sync_hpa(hpa, now),
            None => self.sync_simple(&scaling, now),
        }
        let next =
            now + self.cfg.controller.reconcile_latency + self.cfg.controller.config.sync_period;
        self.q.push(next, Ev::Sync);
    }

    /// A sync of an autoscaler other than the HPA.
    fn sync_simple(&mut self, scaling: &Autoscaler, now: SimTime) {
        self.record.sync_count += 1;
        let current = self.spec_replicas;
        let Some((desired, reason)) = scaling.decide(now, current) else {
            return;
        };
        if desired != current {
            self.set_replicas(desired, now);
        }
        if self.cfg.recording.decisions {
            self.record.syncs.push(SyncRecord::Simple(SimpleSync {
                now,
                autoscaler: scaling.name(),
                current,
                desired,
                reason,
            }));
        }
    }

    /// An HPA sync through `hpa::reconcile`.
    fn sync_hpa(&mut self, hpa: &crate::hpa::controller::Hpa, now: SimTime) {
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
            hpa,
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
        self.record.sync_count += 1;
        if d.metrics.iter().any(|m| m.error.is_some()) || d.failed {
            self.record.sync_errors += 1;
        }
        self.record.seen = (0..self.record.columns.len())
            .map(|i| d.metric_statuses.get(i).and_then(seen_natural))
            .collect();
        for (i, r) in self.record.reads.iter_mut().enumerate() {
            r.syncs += 1;
            match self.record.seen[i] {
                Some(v) => {
                    r.available += 1;
                    r.min_seen = r.min_seen.min(v);
                    r.max_seen = r.max_seen.max(v);
                }
                None if r.first_error.is_none() => {
                    let why = d.metrics.get(i).and_then(|m| m.error.clone());
                    r.first_error = why.or_else(|| d.error.clone());
                }
                None => {}
            }
        }
        if d.rescale {
            self.apply_rescale(&d, now);
        }
        if self.cfg.recording.decisions {
            self.record.syncs.push(SyncRecord::Hpa(Box::new(HpaSync {
                seen: self.record.seen.clone(),
                data_as_of,
                decision: d,
            })));
        }
    }

    /// Writes the scale subresource now, as a user's `kubectl scale` would
    /// (the HPA, if any, may change it at its next sync).
    pub fn scale_to(&mut self, replicas: i32) {
        let now = self.now();
        self.set_replicas(replicas, now);
    }

    pub(super) fn apply_rescale(&mut self, d: &Decision, now: SimTime) {
        self.set_replicas(d.desired_replicas, now);
    }

    pub(super) fn set_replicas(&mut self, to: i32, now: SimTime) {
        let from = self.spec_replicas;
        if to == from {
            return;
        }
        let dir = (to - from).signum();
        if dir > 0 {
            self.record.scale_ups += 1;
        } else {
            self.record.scale_downs += 1;
        }
        if let Some((t, prev)) = self.record.last_rescale
            && prev != dir
            && now.since(t) <= self.cfg.flap_window
        {
            self.record.flaps += 1;
        }
        self.record.last_rescale = Some((now, dir));
        self.spec_replicas = to;
        self.record.desired_log.push((now, to));
        self.reconcile_replicas(now);
    }

    pub(super) fn samples(&self, now: SimTime) -> Vec<PodSample> {
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
}
