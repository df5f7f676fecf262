//! The Service front end: arrivals, the load balancer's choice among
//! endpoints, the front queue when none is ready, requests in transit to a
//! pod, and each pod's engine brought up to date with its outcomes recorded.

use super::recorder::order_key;
use super::*;

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- traffic and load balancing -------------------------------------

    pub(super) fn on_arrival(&mut self, now: SimTime) {
        while let Some(a) = self.next_arrival.take_if(|a| a.time <= now) {
            self.send(a, None, now);
            self.next_arrival = self.source.next_arrival();
        }
        if let Some(a) = &self.next_arrival
            && a.time <= self.end
        {
            self.q.push_side(SIDE_ARRIVAL, a.time, Ev::Arrival);
        }
    }

    /// Sends attempt `id` to a ready pod, or to the front queue if none is.
    pub(super) fn dispatch(&mut self, a: Arrival, id: u64, now: SimTime) {
        if self.endpoints.is_empty() {
            if self.front_len() < self.cfg.front_queue.capacity {
                let deadline = now + self.cfg.front_queue.timeout;
                self.front.push_back(Waiting {
                    arrival: a,
                    id,
                    deadline,
                });
                self.moved(id, Place::Front);
                if self.front_timer.is_none() {
                    self.front_timer = Some(deadline);
                    self.q.push(deadline, Ev::FrontTimeout);
                }
            } else {
                self.fail(id, Cause::NoEndpoint, now);
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
        self.moved(id, Place::Transit);
        let spec = RequestSpec {
            id,
            arrival: a.time,
            prompt_tokens: a.prompt,
            output_tokens: a.output,
            finish: FinishReason::Stop,
            prefix: a.prefix,
            encoder_flops: a.encoder_flops,
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
            self.pods[p as usize].in_transit -= 1;
            let id = spec.id;
            let wanted = self.wanted(id);
            let pod = &mut self.pods[p as usize];
            match pod.engine.as_mut() {
                Some(e) if pod.stage == Stage::Serving => {
                    if wanted {
                        let h = e.submit(now, spec);
                        self.moved(id, Place::Engine(p, h));
                    }
                    self.touch(p, now);
                }
                _ => {
                    if wanted {
                        self.fail(id, Cause::DrainAbort, now);
                    }
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
        while let Some(w) = self.front.pop_front() {
            if w.deadline > now {
                self.front.push_front(w);
                break;
            }
            if self.front_entry_live(w.id) {
                self.fail(w.id, Cause::FrontQueueTimeout, now);
            }
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
            self.record_outcome(o, now);
        }
        done.clear();
        self.done_buf = done;
        if draining {
            self.remove_pod(p, now);
        }
    }

    pub(super) fn record_outcome(&mut self, o: &RequestOutcome, now: SimTime) {
        match o.finish {
            FinishReason::Stop | FinishReason::Length => {}
            FinishReason::Abort => return self.fail(o.id, Cause::DrainAbort, now),
            FinishReason::Error => return self.fail(o.id, Cause::Refused, now),
        }
        // Latencies count from the request's first attempt; the client has
        // its last token when the front end has streamed it.
        let seen = o.arrival + SimDuration::from_micros((o.e2e * 1e6).round() as i64);
        let Some(shift) = self.completed(o.id, seen.max(now)) else {
            return;
        };
        self.record.counts.completed += 1;
        self.record.second.completed += 1;
        let (ttft, e2e) = (o.ttft.unwrap_or(o.e2e), o.e2e);
        let (ttft, e2e) = if shift > 0.0 {
            (ttft + shift, e2e + shift)
        } else {
            (ttft, e2e)
        };
        let ttft_b = Bucket::of(ttft);
        let e2e_b = Bucket::of(e2e);
        let itl_b = o.mean_itl.map(|v| (v, Bucket::of(v)));
        self.record.ttft.record_in(ttft_b, ttft);
        self.record.e2e.record_in(e2e_b, e2e);
        if self.cfg.recording.timeseries {
            self.record.second.ttft.push(order_key(ttft));
            self.record.second.e2e.push(order_key(e2e));
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
                SloMetric::E2e => (e2e, e2e_b),
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
