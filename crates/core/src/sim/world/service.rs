//! The Service front end: arrivals, the load balancer's choice among
//! endpoints, the front queue when none is ready, requests in transit to a
//! pod, and each pod's engine brought up to date with its outcomes recorded.

use super::recorder::order_key;
use super::*;

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- traffic and load balancing -------------------------------------

    pub(super) fn on_arrival(&mut self, now: SimTime) {
        while let Some(a) = self.next_arrival.take_if(|a| a.time <= now) {
            self.record.counts.arrived += 1;
            self.record.second.arrivals += 1;
            self.dispatch(a, now);
            self.next_arrival = self.source.next_arrival();
        }
        if let Some(a) = &self.next_arrival
            && a.time <= self.end
        {
            self.q.push_side(SIDE_ARRIVAL, a.time, Ev::Arrival);
        }
    }

    pub(super) fn dispatch(&mut self, a: Arrival, now: SimTime) {
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
                self.record.counts.rejected_no_endpoint += 1;
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

    pub(super) fn load_of(&self, p: u32) -> usize {
        let pod = &self.pods[p as usize];
        pod.in_transit as usize + pod.engine.as_ref().map_or(0, |e| e.outstanding())
    }

    pub(super) fn on_deliver(&mut self, now: SimTime) {
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
                    self.record.counts.aborted_on_drain += 1;
                    self.fail_request();
                    self.pods.reap(p);
                }
            }
        }
        if let Some((t, ..)) = self.transit.front() {
            self.q.push_side(SIDE_DELIVER, *t, Ev::Deliver);
        }
    }

    pub(super) fn on_front_timeout(&mut self, now: SimTime) {
        self.front_timer = None;
        while self.front.front().is_some_and(|w| w.deadline <= now) {
            self.front.pop_front();
            self.record.counts.front_queue_timeout += 1;
            self.fail_request();
        }
        if let Some(w) = self.front.front() {
            self.front_timer = Some(w.deadline);
            self.q.push(w.deadline, Ev::FrontTimeout);
        }
    }

    pub(super) fn fail_request(&mut self) {
        self.record.second.failed += 1;
        for s in &mut self.record.slos {
            s.requests += 1;
            s.all.record(f64::INFINITY);
            s.window.record(f64::INFINITY);
        }
    }

    /// Brings a pod's engine to `now`, records what finished and reschedules
    /// its next step.
    pub(super) fn touch(&mut self, p: u32, now: SimTime) {
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

    pub(super) fn record_outcome(&mut self, o: &RequestOutcome) {
        match o.finish {
            FinishReason::Stop | FinishReason::Length => {}
            FinishReason::Abort => {
                self.record.counts.aborted_on_drain += 1;
                self.fail_request();
                return;
            }
            FinishReason::Error => {
                self.record.counts.refused_by_engine += 1;
                self.fail_request();
                return;
            }
        }
        self.record.counts.completed += 1;
        self.record.second.completed += 1;
        let ttft = o.ttft.unwrap_or(o.e2e);
        let ttft_b = Bucket::of(ttft);
        let e2e_b = Bucket::of(o.e2e);
        let itl_b = o.mean_itl.map(|v| (v, Bucket::of(v)));
        self.record.ttft.record_in(ttft_b, ttft);
        self.record.e2e.record_in(e2e_b, o.e2e);
        if self.cfg.recording.timeseries {
            self.record.second.ttft.push(order_key(ttft));
            self.record.second.e2e.push(order_key(o.e2e));
        }
        if let Some((i, b)) = itl_b {
            self.record.itl.record_in(b, i);
            if self.cfg.recording.timeseries {
                self.record.second.itl.push(order_key(i));
            }
        }
        for (s, slo) in self.record.slos.iter_mut().zip(&self.cfg.slos) {
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
}
