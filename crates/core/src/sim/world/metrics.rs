//! The Prometheus metric path: ServiceMonitor targets, scrapes into the
//! TSDB, metrics-server housekeeping and the adapter's relist.

use super::*;
use crate::metrics::scrape::nim_series;

/// Whether a scrape stores series `n`: all of them when asked to (or for
/// `--metrics-out`), else those some adapter rule reads (remembered per
/// name in `names`).
pub(super) fn scrape_keeps(pc: &PromConfig, names: &mut BTreeMap<String, bool>, n: &str) -> bool {
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

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- the Prometheus path ---------------------------------------------

    /// The adapter has been running against this NIMService's series
    /// before time zero: it already knows the names a NIM exposes.
    pub(super) fn warm_registry(&mut self) {
        let (Some(pc), Some(state)) = (&self.cfg.prometheus, self.prom.as_mut()) else {
            return;
        };
        let engine = Engine::new(
            self.cfg.engine.clone(),
            self.cfg.model.clone(),
            SimTime::ZERO,
        );
        let pod = format!("{}-warm", self.cfg.template.name);
        let labels = nim_series(&engine, &pc.scrape, &pod, false);
        state.registry = pc.adapter.discover_from(&labels);
    }

    /// A pod with an address becomes a scrape target of the ServiceMonitor.
    pub(super) fn add_target(&mut self, p: u32, now: SimTime) {
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
    pub(super) fn drop_target(&mut self, p: u32, now: SimTime) {
        if let (Some(t), Some(state)) = (self.pods[p as usize].target.as_mut(), self.prom.as_mut())
        {
            t.remove(&mut state.db, now.as_micros().div_euclid(1000));
        }
        self.pods[p as usize].target = None;
    }

    pub(super) fn on_scrape(&mut self, p: u32, now: SimTime) {
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
                if pc.export_series {
                    let since = pod
                        .rec
                        .server_up
                        .unwrap_or(now)
                        .as_micros()
                        .div_euclid(1000);
                    let (t0, b0) = pod.gpu_seen.unwrap_or((since, 0.0));
                    let busy = e.busy_secs();
                    pod.gpu_seen = Some((t_ms, busy));
                    let span = (t_ms - t0) as f64 / 1000.0;
                    if span > 0.0 {
                        let active = ((busy - b0) / span).clamp(0.0, 1.0);
                        let dcgm = Dcgm {
                            gpu_model: &pc.export_gpu_model,
                            namespace: &self.cfg.template.namespace,
                            service: &self.cfg.template.name,
                            pod: &pod.name,
                            node: pod.node,
                            gpus: self.cfg.template.gpus,
                        };
                        dcgm.append(&mut state.db, t_ms, active);
                    }
                }
            }
            None => target.fail(&mut state.db, t_ms),
        }
        self.q.push(
            now + SimDuration::from_millis(pc.scrape.interval_ms),
            Ev::Scrape(p),
        );
    }

    pub(super) fn on_housekeep(&mut self, p: u32, now: SimTime) {
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

    pub(super) fn on_metrics_server(&mut self, now: SimTime) {
        let Some(pc) = &self.cfg.prometheus else {
            return;
        };
        for &i in &self.live {
            self.pods[i as usize].stats.scrape();
        }
        self.q
            .push(now + pc.metrics_server.resolution, Ev::MetricsServer);
    }

    pub(super) fn on_relist(&mut self, now: SimTime) {
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
}

/// One pod's GPUs as dcgm-exporter (with its Kubernetes pod mapping) labels
/// them. Written only for an export: nothing reads them during a run.
struct Dcgm<'a> {
    gpu_model: &'a str,
    namespace: &'a str,
    /// The NIMService: the operator names its container `<name>-ctr`.
    service: &'a str,
    pod: &'a str,
    node: Option<u32>,
    gpus: u32,
}

impl Dcgm<'_> {
    /// `DCGM_FI_DEV_GPU_UTIL` (whole percent, as the driver reports it) and
    /// `DCGM_FI_PROF_GR_ENGINE_ACTIVE` (a ratio) for each of the pod's GPUs:
    /// the fraction of the last scrape interval the engine spent in steps.
    /// Every GPU of a tensor-parallel pod runs every step, so all read the
    /// same; `gpu` numbers them within the pod.
    fn append(&self, db: &mut crate::metrics::tsdb::Tsdb, t_ms: i64, active: f64) {
        use crate::metrics::labels::{Labels, NAME};
        let host = format!("node-{}", self.node.unwrap_or(0));
        let container = format!("{}-ctr", self.service);
        for g in 0..self.gpus {
            let gpu = g.to_string();
            let device = format!("nvidia{g}");
            let uuid = format!("GPU-{}-{g}", self.pod);
            for (name, v) in [
                ("DCGM_FI_DEV_GPU_UTIL", (active * 100.0).round()),
                ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", active),
            ] {
                let l = Labels::from_pairs([
                    (NAME, name),
                    ("gpu", gpu.as_str()),
                    ("UUID", uuid.as_str()),
                    ("device", device.as_str()),
                    ("modelName", self.gpu_model),
                    ("Hostname", host.as_str()),
                    ("container", container.as_str()),
                    ("namespace", self.namespace),
                    ("pod", self.pod),
                ]);
                db.append_labels(&l, t_ms, v);
            }
        }
    }
}
