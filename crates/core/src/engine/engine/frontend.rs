//! The serving front end: the NIM/vLLM API server in front of the engine.
//!
//! One thread (the API server's event loop) does a request's HTTP handling
//! and tokenisation when it arrives, and every output token's
//! detokenisation and streaming after the engine step that produced it, in
//! the order the work arrives. When it cannot keep up, requests reach the
//! scheduler late and clients receive their tokens late: a pod's
//! throughput then plateaus at the front end's capacity however many
//! requests are in flight, with time to first token rising, which is what
//! the published high-concurrency measurements show (gpu-model.md §4.4).
//!
//! It is a single FIFO server, kept as the instant its backlog clears
//! (`fe_free`): a request's ingest ends at `max(now, fe_free) + cost`; a
//! step's tokens are delivered at `max(step end, fe_free) + tokens × cost`.
//! A closed-form decode run of `j` steps of `n` tokens each is delivered in
//! closed form too: with `w = n × cost` and step ends `e_1 ≤ … ≤ e_j`,
//! `F_j = max(F_0 + j·w, max_k (e_k + (j − k + 1)·w))`, and as step times
//! do not shrink along a run, `e_k + (j − k + 1)·w` is convex in `k`, so
//! its maximum is at `k = 1` or `k = j`. Cost per run stays O(1).

use super::*;

/// The front end's CPU work per request and per token (zero: no front end,
/// requests reach the scheduler after the fixed frontend delay only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontEnd {
    /// Per request (HTTP, request parsing, response set-up), ns.
    pub request_ns: i64,
    /// Per prompt token (tokenisation), ns.
    pub prompt_token_ns: i64,
    /// Per output token (detokenisation, one streamed chunk), ns.
    pub output_token_ns: i64,
}

impl FrontEnd {
    /// Whether there is any work to model.
    pub fn is_on(&self) -> bool {
        self.request_ns > 0 || self.prompt_token_ns > 0 || self.output_token_ns > 0
    }

    /// Requests per second one front end sustains for `isl`/`osl` requests.
    pub fn capacity_rps(&self, isl: u32, osl: u32) -> f64 {
        let ns = self.request_ns
            + self.prompt_token_ns * i64::from(isl)
            + self.output_token_ns * i64::from(osl);
        if ns > 0 {
            1e9 / ns as f64
        } else {
            f64::INFINITY
        }
    }
}

impl<M: StepTimeModel> Engine<M> {
    /// The front end takes a request of `prompt` tokens at `now` (ns):
    /// when its ingest ends.
    pub(super) fn ingest_end(&mut self, now: i64, prompt: u32) -> i64 {
        let fe = self.cfg.frontend;
        let cost = fe.request_ns + fe.prompt_token_ns * i64::from(prompt);
        let end = self.fe_free.max(now) + cost;
        self.fe_free = end;
        self.fe_busy_ns += cost;
        end
    }

    /// The front end streams the `tokens` a step ending at `end` produced:
    /// when the client has them (the step's end without a front end).
    pub(super) fn deliver_step(&mut self, end: i64, tokens: u32) -> i64 {
        let w = self.cfg.frontend.output_token_ns * i64::from(tokens);
        if w == 0 {
            self.seen_at = end;
            return end;
        }
        self.fe_free = self.fe_free.max(end) + w;
        self.fe_busy_ns += w;
        self.seen_at = self.fe_free;
        self.seen_at
    }

    /// The front end streams the first `j` steps of `run` (the last ending
    /// at `end`), each producing one token per decoder.
    pub(super) fn deliver_run(&mut self, run: &Run, j: u64, end: i64) {
        let w = self.cfg.frontend.output_token_ns * i64::from(run.shape.n);
        if w == 0 || j == 0 {
            self.seen_at = end;
            return;
        }
        let j = j as i64;
        let first = run.start + to_ns(run.shape.sum(&self.model, 1));
        let f = (self.fe_free + j * w).max(first + j * w).max(end + w);
        self.fe_free = f;
        self.fe_busy_ns += j * w;
        self.seen_at = f;
    }

    /// Requests whose ingest is done by `t` (ns) enter the scheduler's
    /// queue at that instant, the engine brought there first.
    pub(super) fn admit_ingested(&mut self, t: i64) {
        while let Some(&(ready, slot)) = self.ingest.front()
            && ready <= t
        {
            self.advance_steps(ready);
            self.ingest.pop_front();
            match self.reqs[slot].as_mut() {
                None => {
                    self.free_slots.push(slot);
                    self.dead_ingest -= 1;
                }
                Some(r) => {
                    r.ingesting = false;
                    self.enqueue(slot);
                }
            }
        }
    }

    /// Requests in the front end's ingest, aborted ones left out.
    pub(super) fn live_ingest(&self) -> usize {
        self.ingest.len() - self.dead_ingest
    }

    /// A request still in ingest finishes (reason `abort`); its entry is
    /// freed when its ingest would have ended.
    pub(super) fn abort_ingesting(&mut self, i: usize) {
        let r = self.reqs[i].take().expect("live request slot");
        self.record_finish(r, FinishReason::Abort);
        self.dead_ingest += 1;
    }

    /// CPU seconds the front end has worked.
    pub(super) fn frontend_busy_secs(&self) -> f64 {
        secs(self.fe_busy_ns)
    }
}
