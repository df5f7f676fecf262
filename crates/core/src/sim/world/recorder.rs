//! What a run records: per-second rows (with per-pod bands and latency
//! percentiles), the readiness log, load changes, and latency statistics.

use super::*;

/// What a run records: the per-second rows and HPA decisions handed out
/// as the run goes, and the bounded summaries (counts, latency
/// histograms, SLO states, time integrals, change logs) `finish` reads.
pub(super) struct Recorder {
    /// Per serving pod this second: KV-cache usage and queue depth.
    pub(super) band_kv: Vec<f64>,
    pub(super) band_queue: Vec<f64>,
    pub(super) columns: Vec<MetricColumn>,
    pub(super) seen: Vec<Option<f64>>,
    /// Per HPA metric (spec order): how its reads went.
    pub(super) reads: Vec<MetricReads>,
    pub(super) rows: Vec<SecondRow>,
    pub(super) syncs: Vec<SyncRecord>,
    pub(super) second: Second,
    pub(super) counts: RequestCounts,
    pub(super) ttft: LogHistogram,
    pub(super) e2e: LogHistogram,
    pub(super) itl: LogHistogram,
    pub(super) slos: Vec<SloState>,
    pub(super) gpus: Integral,
    pub(super) node_count: Integral,
    pub(super) ready_int: Integral,
    pub(super) peak_gpus: u32,
    pub(super) peak_nodes: u32,
    pub(super) desired_log: Vec<(SimTime, i32)>,
    pub(super) ready_log: Vec<(SimTime, i32)>,
    pub(super) scale_ups: u32,
    pub(super) scale_downs: u32,
    pub(super) flaps: u32,
    pub(super) last_rescale: Option<(SimTime, i32)>,
    pub(super) sync_count: u32,
    pub(super) sync_errors: u32,
    pub(super) nodes_added: u32,
    pub(super) nodes_removed: u32,
    pub(super) nodes_failed: u32,
    pub(super) restarts: u32,
}

impl Recorder {
    pub(super) fn new(
        columns: Vec<MetricColumn>,
        slos: Vec<SloState>,
        initial_replicas: i32,
    ) -> Self {
        Recorder {
            band_kv: Vec::new(),
            band_queue: Vec::new(),
            seen: vec![None; columns.len()],
            reads: (columns.iter())
                .map(|c| MetricReads {
                    name: c.name.clone(),
                    syncs: 0,
                    available: 0,
                    first_error: None,
                    min_seen: f64::NAN,
                    max_seen: f64::NAN,
                    target: c.target,
                })
                .collect(),
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
            desired_log: vec![(SimTime::ZERO, initial_replicas)],
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
        }
    }
}

/// Nearest-rank percentile of an unsorted slice (reorders it); NaN if empty.
/// Least, median (nearest rank), most and mean of per-pod values (NaN
/// when no pod serves).
pub(super) struct Band {
    min: f64,
    median: f64,
    max: f64,
    mean: f64,
}

impl Band {
    pub(super) fn of(v: &mut [f64]) -> Band {
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

pub(super) fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let (_, x, _) = v.select_nth_unstable_by(rank(v.len(), p), f64::total_cmp);
    *x
}

/// Nearest-rank index of the `p`-th percentile of `n > 0` values.
pub(super) fn rank(n: usize, p: f64) -> usize {
    let r = ((p / 100.0) * n as f64).ceil().max(1.0) as usize - 1;
    r.min(n - 1)
}

/// `f64::total_cmp`'s order as an integer, so that a selection compares
/// with one instruction instead of re-deriving the order at every compare.
pub(super) fn order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// The value of an [`order_key`] (the map is its own inverse).
pub(super) fn from_order_key(k: i64) -> f64 {
    f64::from_bits(order_key(f64::from_bits(k as u64)) as u64)
}

/// The 50th and 95th percentiles of values given as [`order_key`]s: the
/// second selection looks only above the median, where the first left
/// everything not below it.
pub(super) fn p50_p95(v: &mut [i64]) -> (f64, f64) {
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

pub(super) fn stats(h: &LogHistogram) -> LatencyStats {
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
    // ----- the per-second record ------------------------------------------

    pub(super) fn log_ready(&mut self, now: SimTime) {
        let r = self.endpoints.len() as i32;
        self.record.ready_int.set(now, f64::from(r));
        if self.record.ready_log.last().is_some_and(|(t, _)| *t == now) {
            self.record.ready_log.pop();
        }
        self.record.ready_log.push((now, r));
    }

    pub(super) fn on_tick(&mut self, now: SimTime) {
        let keep =
            self.cfg.metrics.window.max(self.cfg.metrics.resolution) + SimDuration::from_secs(2);
        let live = self.live.clone();
        let (mut in_flight, mut waiting) = (0u32, 0u32);
        self.record.band_kv.clear();
        self.record.band_queue.clear();
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
                self.record.band_kv.push(g.kv_usage);
                self.record.band_queue.push(f64::from(g.waiting));
            }
            if self.prom.is_none() {
                self.layout.capture(e.metrics(), &mut self.scratch);
                let started = pod.rec.server_up.unwrap_or(now);
                let cpu = e.usage(started).cpu_seconds;
                pod.hist.push(now, cpu, &self.scratch, keep);
            }
        }
        self.record.gpus.advance(now);
        self.record.node_count.advance(now);
        self.record.ready_int.advance(now);
        if self.cfg.recording.timeseries {
            let kv = Band::of(&mut self.record.band_kv);
            let queue = Band::of(&mut self.record.band_queue);
            let nodes = self.nodes_in(Some(NodeState::Ready));
            let prov = self.nodes_in(Some(NodeState::Provisioning));
            let s = &mut self.record.second;
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
                in_flight: in_flight + self.front_len() as u32,
                queued: waiting + self.front_len() as u32,
                front_queue: self.front_len() as u32,
                desired: self.spec_replicas,
                current,
                ready,
                starting,
                terminating,
                gpus: self.record.gpus.value() as u32,
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
                metrics: self.record.seen.clone(),
            };
            self.record.rows.push(row);
        }
        self.record.second.arrivals = 0;
        self.record.second.completed = 0;
        self.record.second.failed = 0;
        self.record.second.ttft.clear();
        self.record.second.e2e.clear();
        self.record.second.itl.clear();
        let w = self.cfg.slo_window.as_micros().max(1);
        if now.as_micros() % w == 0 || now >= self.end {
            for (s, slo) in self.record.slos.iter_mut().zip(&self.cfg.slos) {
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

    pub(super) fn load_changes(&self) -> Vec<LoadChange> {
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
                let desired_after = value_at(&self.record.desired_log, seg_end);
                let first_rescale_s = self
                    .record
                    .desired_log
                    .iter()
                    .find(|(t, _)| *t > at && *t <= seg_end)
                    .map(|(t, _)| t.since(at).as_secs_f64());
                // The last desired change in the segment, then the first
                // instant ready pods match it and stay matched.
                let last_write = self
                    .record
                    .desired_log
                    .iter()
                    .filter(|(t, _)| *t <= seg_end)
                    .map(|(t, _)| *t)
                    .next_back()
                    .unwrap_or(SimTime::ZERO)
                    .max(at);
                let mut settled = None;
                if value_at(&self.record.ready_log, last_write) == desired_after {
                    settled = Some(last_write);
                }
                for &(t, r) in self
                    .record
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
                    ready_before: value_at(&self.record.ready_log, at),
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
    use crate::rng::Stream;

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
