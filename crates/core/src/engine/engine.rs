//! One NIM/vLLM engine: the vLLM V1 scheduler over counted KV blocks, with
//! decode runs advanced in closed form.
//!
//! ## State
//!
//! Requests are `WAITING` (FCFS queue, preempted ones at the front) or
//! `RUNNING` (ordered by admission sequence number). Running requests are
//! either *prefilling* (a prompt, or after preemption prompt + generated
//! tokens, still to compute) or in the *decode set*. The decode set is kept
//! as aggregates so that no step touches its members one by one: member `i`
//! has `computed = coff_i + g` and `generated = goff_i + g`, where `g` counts
//! engine steps; a min-heap gives the step at which each member finishes, and
//! counts per residue class of `coff mod block_size` give, for any number of
//! further steps, how many new KV blocks the set needs.
//!
//! ## Steps
//!
//! A step that involves prefill, admission or preemption is planned and
//! applied individually ([`Phase::Step`]), exactly as vLLM's scheduler does
//! it. A stretch of pure decode steps — nothing to admit, no block shortage —
//! becomes a [`Phase::Run`] of `k` steps whose end time is computed in closed
//! form (`run.rs`); it ends at the next completion, before the step that
//! would run out of blocks, or early when an arrival could be admitted.
//! Reading metrics in the middle of a run commits the steps finished so far.
//!
//! Time inside the engine is integer nanoseconds; the engine API speaks
//! [`SimTime`] (microseconds).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use super::capacity::Capacity;
use super::kv::KvPool;
use super::metrics::{Dialect, EngineMetrics, ExposeContext, FinishReason, Gauges, Sample};
use super::run::{RunShape, decode_blocks_needed, decode_steps_within, to_ns};
use super::step_time::{BatchShape, StepTimeModel};
use super::usage::{Usage, UsageModel};
use crate::time::SimTime;

mod abort;
mod frontend;
mod scheduler;

pub use abort::Handle;
pub use frontend::FrontEnd;

/// One request as it reaches the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    /// Caller's identifier, returned in the outcome.
    pub id: u64,
    /// When the client sent it; latencies are measured from here.
    pub arrival: SimTime,
    /// Prompt tokens (≥ 1).
    pub prompt_tokens: u32,
    /// Tokens the request generates before it ends (≥ 1).
    pub output_tokens: u32,
    /// How it ends after `output_tokens`: `Stop` (EOS) or `Length` (max_tokens).
    pub finish: FinishReason,
    /// Prefix hashes, one per `prefix_block_tokens` tokens of the prompt.
    pub prefix: Option<Arc<[u64]>>,
    /// Vision-encoder FLOPs of the request's images (0 for text); their
    /// tokens are in `prompt_tokens`.
    pub encoder_flops: f64,
}

/// A finished request.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestOutcome {
    /// Caller's identifier.
    pub id: u64,
    /// When the client sent it.
    pub arrival: SimTime,
    /// Why it ended.
    pub finish: FinishReason,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub output_tokens: u32,
    /// Seconds from arrival to first scheduled (`None`: never scheduled).
    pub queue: Option<f64>,
    /// Seconds from arrival to first token (`None`: no token).
    pub ttft: Option<f64>,
    /// Seconds from arrival to the end.
    pub e2e: f64,
    /// Mean seconds between output tokens (`None`: fewer than 2 tokens).
    pub mean_itl: Option<f64>,
    /// Times the request was preempted.
    pub preemptions: u32,
    /// Prompt tokens served from the prefix cache (first admission).
    pub cached_tokens: u32,
}

/// Engine construction parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Limits and KV capacity.
    pub capacity: Capacity,
    /// Prefix caching on/off.
    pub prefix_caching: bool,
    /// Tokens per prefix hash.
    pub prefix_block_tokens: u32,
    /// Metric naming dialect.
    pub dialect: Dialect,
    /// `model_name` label.
    pub model_name: String,
    /// Process every step individually (for tests; slow).
    pub exact_steps: bool,
    /// Keep a [`RequestOutcome`] per finished request for the caller to drain.
    pub record_outcomes: bool,
    /// CPU and memory model.
    pub usage: UsageModel,
    /// The serving front end's work (`frontend.rs`).
    pub frontend: FrontEnd,
}

#[derive(Clone, Debug)]
struct Req {
    spec: RequestSpec,
    output: u32,
    finish: FinishReason,
    computed: u32,
    generated: u32,
    target: u32,
    private_blocks: u32,
    shared_chunks: u32,
    decoding: bool,
    coff: i64,
    goff: i64,
    seq: u64,
    epoch: u32,
    first_sched: i64,
    first_token: i64,
    last_token: i64,
    /// When the client received the first token (after the front end).
    first_seen: i64,
    /// In the front end's ingest, not yet in the scheduler's queue.
    ingesting: bool,
    preemptions: u32,
    cached_tokens: u32,
}

#[derive(Clone, Debug)]
struct Run {
    start: i64,
    end: i64,
    k: u64,
    shape: RunShape,
}

#[derive(Clone, Debug)]
enum Phase {
    Idle,
    Step {
        end: i64,
        dur: i64,
        n_dec: u32,
        tokens: u32,
    },
    Run(Run),
}

/// One engine (one pod's worth of GPUs).
pub struct Engine<M: StepTimeModel> {
    cfg: EngineConfig,
    model: M,
    bs: u32,
    now: i64,
    reqs: Vec<Option<Req>>,
    free_slots: Vec<usize>,
    waiting: VecDeque<usize>,
    /// Requests in the running set (`Req::seq != NOT_RUNNING`). Their
    /// admission order is needed only to preempt or abort, which are rare:
    /// [`Engine::running_slots`] sorts them then, so admissions and
    /// finishes cost nothing here.
    running: usize,
    prefilling: Vec<usize>,
    next_seq: u64,
    /// `(seq, slot)` of every admission in order, stale entries included
    /// until compacted (`running_slots`).
    admitted: Vec<(u64, usize)>,
    g: u64,
    n_dec: u32,
    sum_coff: i64,
    class: Vec<u32>,
    fin: BinaryHeap<Reverse<(u64, u64, usize, u32)>>,
    pool: KvPool,
    phase: Phase,
    chunks: Vec<(usize, u32)>,
    published: Gauges,
    metrics: EngineMetrics,
    busy_ns: i64,
    completions: Vec<RequestOutcome>,
    /// Entries of `waiting` whose request was aborted (their slots are
    /// `None` and freed when they reach the front; the front is always
    /// live).
    dead_waiting: usize,
    /// Running requests to abort at the end of the step in flight
    /// (`(slot, id)`).
    aborts: Vec<(usize, u64)>,
    /// The running set in admission order, rebuilt by each preempting
    /// step (kept to reuse its allocation).
    order_buf: Vec<usize>,
    /// When the front end's backlog clears (ns).
    fe_free: i64,
    /// The front end's work so far (ns of CPU).
    fe_busy_ns: i64,
    /// When the client receives the tokens of the step just committed.
    seen_at: i64,
    /// Requests in the front end's ingest: `(when it ends, slot)`, in
    /// order (a FIFO server's completions are).
    ingest: VecDeque<(i64, usize)>,
    /// Entries of `ingest` whose request was aborted.
    dead_ingest: usize,
}

/// `Req::seq` of a request that is not in the running set.
const NOT_RUNNING: u64 = u64::MAX;

fn ns_of(t: SimTime) -> i64 {
    t.as_micros().saturating_mul(1_000)
}

fn secs(ns: i64) -> f64 {
    ns as f64 * 1e-9
}

impl<M: StepTimeModel> Engine<M> {
    /// An idle engine at time `now`.
    pub fn new(cfg: EngineConfig, model: M, now: SimTime) -> Engine<M> {
        let cap = &cfg.capacity;
        let bs = cap.block_size;
        let chunk_blocks = (cfg.prefix_block_tokens / bs).max(1);
        let metrics = EngineMetrics::new(cfg.dialect, cap.max_model_len);
        Engine {
            pool: KvPool::new(cap.num_gpu_blocks, chunk_blocks),
            bs,
            now: ns_of(now),
            reqs: Vec::new(),
            free_slots: Vec::new(),
            waiting: VecDeque::new(),
            running: 0,
            prefilling: Vec::new(),
            next_seq: 0,
            admitted: Vec::new(),
            g: 0,
            n_dec: 0,
            sum_coff: 0,
            class: vec![0; bs as usize],
            fin: BinaryHeap::new(),
            phase: Phase::Idle,
            chunks: Vec::new(),
            published: Gauges::default(),
            metrics,
            busy_ns: 0,
            completions: Vec::new(),
            dead_waiting: 0,
            aborts: Vec::new(),
            order_buf: Vec::new(),
            fe_free: 0,
            fe_busy_ns: 0,
            seen_at: 0,
            ingest: VecDeque::new(),
            dead_ingest: 0,
            model,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The step-time model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Cumulative counters and histograms (as of the last completed step).
    pub fn metrics(&self) -> &EngineMetrics {
        &self.metrics
    }

    /// Gauges published after the last completed step.
    pub fn gauges(&self) -> Gauges {
        self.published
    }

    /// Requests in the engine (running + waiting), right now.
    pub fn outstanding(&self) -> usize {
        self.running + self.live_waiting() + self.live_ingest()
    }

    /// KV blocks referenced by requests right now.
    pub fn used_blocks(&self) -> u32 {
        self.pool.used()
    }

    /// Seconds the GPU has spent executing steps (committed steps only).
    pub fn busy_secs(&self) -> f64 {
        secs(self.busy_ns)
    }

    /// CPU seconds used since start and current memory, per the usage model.
    pub fn usage(&self, started: SimTime) -> Usage {
        let alive = secs((self.now - ns_of(started)).max(0));
        let tokens = self.metrics.prompt_tokens + self.metrics.generation_tokens;
        let mut u = (self.cfg.usage).at(alive, secs(self.busy_ns), tokens, self.outstanding());
        u.cpu_seconds += self.frontend_busy_secs();
        u
    }

    /// All series of the pod (call [`Engine::advance`] first).
    pub fn expose(&self, out: &mut Vec<Sample>) {
        self.expose_where(&mut |_| true, out);
    }

    /// Counts only the histograms with a series `keep` accepts (see
    /// [`EngineMetrics::observe_only`]); the others stay empty.
    pub fn observe_only(&mut self, keep: &mut dyn FnMut(&str) -> bool) {
        self.metrics.observe_only(self.cfg.dialect, keep);
    }

    /// The series whose names `keep` accepts.
    pub fn expose_where(&self, keep: &mut dyn FnMut(&str) -> bool, out: &mut Vec<Sample>) {
        let ctx = ExposeContext {
            dialect: self.cfg.dialect,
            model_name: &self.cfg.model_name,
            gauges: self.published,
            request_max: self.cfg.capacity.max_running,
        };
        self.metrics.expose_where(&ctx, keep, out);
    }

    /// Takes the outcomes recorded since the last call.
    pub fn drain_outcomes(&mut self) -> std::vec::Drain<'_, RequestOutcome> {
        self.completions.drain(..)
    }

    /// When the engine next needs [`Engine::advance`] to make progress
    /// (the end of the step or run in flight, or a request's ingest ending
    /// while idle or in a run), rounded up to a microsecond.
    pub fn next_wakeup(&self) -> Option<SimTime> {
        let ingest = self.ingest.front().map(|&(t, _)| t);
        let end = match (&self.phase, ingest) {
            (Phase::Idle, None) => return None,
            (Phase::Idle, Some(t)) => t,
            // A request ingested during a step waits for the step's end,
            // where `advance` lets it in before planning the next: no
            // wake-up of its own.
            (Phase::Step { end, .. }, _) => *end,
            // With requests already waiting, one more changes nothing in a
            // run (`enqueue` cuts a run only for the sole waiter): it
            // waits for the run's end like any waiter.
            (Phase::Run(r), Some(t)) if self.live_waiting() == 0 => t.min(r.end),
            (Phase::Run(r), _) => r.end,
        };
        Some(SimTime::from_micros(
            end.div_euclid(1000) + i64::from(end.rem_euclid(1000) != 0),
        ))
    }

    /// Processes every step that ends at or before `now`, and lets in the
    /// requests the front end has ingested by then.
    pub fn advance(&mut self, now: SimTime) {
        let t = ns_of(now);
        if !self.ingest.is_empty() {
            self.admit_ingested(t);
        }
        self.advance_steps(t);
    }

    /// Processes every step that ends at or before `t` (ns).
    fn advance_steps(&mut self, t: i64) {
        loop {
            match &mut self.phase {
                Phase::Idle => {
                    self.now = self.now.max(t);
                    return;
                }
                Phase::Step { end, .. } if *end <= t => {
                    self.apply_step();
                    self.plan();
                }
                Phase::Step { .. } => return,
                Phase::Run(r) if r.end <= t => {
                    let run = r.clone();
                    self.commit_run(&run, run.k, run.end);
                    self.finish_decoders();
                    self.publish();
                    self.plan();
                }
                Phase::Run(r) => {
                    let run = r.clone();
                    let (j, sum) = run.shape.steps_ending_by(&self.model, run.k, t - run.start);
                    if j > 0 {
                        let end = run.start + to_ns(sum);
                        self.commit_run(&run, j, end);
                        self.publish();
                        self.phase = Phase::Run(Run {
                            start: end,
                            end: run.end,
                            k: run.k - j,
                            shape: run.shape.after(&self.model, j),
                        });
                    }
                    return;
                }
            }
        }
    }

    /// A request reaches the scheduler at `now` (after the frontend delay).
    pub fn submit(&mut self, now: SimTime, spec: RequestSpec) -> Handle {
        self.advance(now);
        let max_len = self.cfg.capacity.max_model_len;
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.reqs.push(None);
            self.reqs.len() - 1
        });
        let prompt = spec.prompt_tokens;
        let (output, finish) =
            if u64::from(prompt) + u64::from(spec.output_tokens) > u64::from(max_len) {
                (max_len.saturating_sub(prompt), FinishReason::Length)
            } else {
                (spec.output_tokens, spec.finish)
            };
        let req = Req {
            output,
            finish,
            computed: 0,
            generated: 0,
            target: prompt,
            private_blocks: 0,
            shared_chunks: 0,
            decoding: false,
            coff: 0,
            goff: 0,
            seq: NOT_RUNNING,
            epoch: 0,
            first_sched: -1,
            first_token: -1,
            last_token: -1,
            first_seen: -1,
            ingesting: false,
            preemptions: 0,
            cached_tokens: 0,
            spec,
        };
        self.reqs[slot] = Some(req);
        if prompt == 0 || output == 0 {
            // vLLM's frontend refuses empty prompts and prompts that leave no
            // room for a token within max_model_len (HTTP 400).
            self.finish(slot, FinishReason::Error);
            return Handle(slot);
        }
        if self.cfg.frontend.is_on() {
            let now = ns_of(now);
            let ready = self.ingest_end(now, prompt);
            if ready > now {
                self.req_mut(slot).ingesting = true;
                self.ingest.push_back((ready, slot));
                return Handle(slot);
            }
        }
        self.enqueue(slot);
        Handle(slot)
    }

    /// Aborts every request (pod terminated): running and waiting requests
    /// finish with reason `abort`. Returns how many.
    pub fn abort_all(&mut self, now: SimTime) -> usize {
        self.advance(now);
        self.now = self.now.max(ns_of(now));
        let mut victims = Vec::new();
        self.running_slots(&mut victims);
        let ingest = std::mem::take(&mut self.ingest);
        for v in std::mem::take(&mut self.waiting)
            .into_iter()
            .chain(ingest.into_iter().map(|(_, v)| v))
        {
            if self.reqs[v].is_some() {
                victims.push(v);
            } else {
                self.free_slots.push(v);
            }
        }
        self.dead_waiting = 0;
        self.dead_ingest = 0;
        self.aborts.clear();
        for &v in &victims {
            self.finish(v, FinishReason::Abort);
        }
        self.chunks.clear();
        self.phase = Phase::Idle;
        self.publish();
        victims.len()
    }

    /// Slots of the running requests, oldest admission first: the
    /// admission log's entries that are still current (a slot whose request
    /// left the running set, or was re-admitted under a newer sequence
    /// number, no longer matches its entry). Costs the running set, not the
    /// waiting queue: under overload, preemption must not scan every slot.
    fn running_slots(&self, out: &mut Vec<usize>) {
        out.clear();
        out.extend(
            (self.admitted.iter())
                .filter(|&&(seq, i)| self.is_current(seq, i))
                .map(|&(_, i)| i),
        );
        debug_assert_eq!(out.len(), self.running);
        debug_assert!(
            out.windows(2)
                .all(|w| self.req(w[0]).seq < self.req(w[1]).seq),
            "admission order"
        );
    }

    /// Whether the admission-log entry `(seq, i)` is the running request
    /// in slot `i`.
    fn is_current(&self, seq: u64, i: usize) -> bool {
        self.reqs[i].as_ref().is_some_and(|r| r.seq == seq)
    }

    /// Records an admission; drops stale entries once they outnumber the
    /// running ones (amortised O(1) per admission, memory bounded by the
    /// running set).
    fn log_admission(&mut self, seq: u64, i: usize) {
        self.admitted.push((seq, i));
        if self.admitted.len() > 2 * self.running + 64 {
            let log = std::mem::take(&mut self.admitted);
            self.admitted = log
                .into_iter()
                .filter(|&(seq, i)| self.is_current(seq, i))
                .collect();
        }
    }

    fn req(&self, i: usize) -> &Req {
        self.reqs[i].as_ref().expect("live request slot")
    }

    fn req_mut(&mut self, i: usize) -> &mut Req {
        self.reqs[i].as_mut().expect("live request slot")
    }

    fn publish(&mut self) {
        self.published = Gauges {
            running: self.running as u32,
            waiting: self.live_waiting() as u32,
            kv_usage: self.pool.usage(),
        };
    }

    /// Prefix chunks of a request that may be shared (full chunks of the
    /// prompt, leaving at least one token to compute).
    fn shareable_chunks(&self, r: &Req) -> u32 {
        if !self.cfg.prefix_caching {
            return 0;
        }
        let Some(p) = &r.spec.prefix else { return 0 };
        let ct = self.cfg.prefix_block_tokens;
        (p.len() as u32)
            .min(r.spec.prompt_tokens / ct)
            .min((r.target - 1) / ct)
    }

    /// The private KV blocks a request holds once `computed` of its tokens
    /// are in the cache, `shared_chunks` prefix chunks of them shared: its
    /// own tokens' blocks plus its sliding-window layers' blocks.
    pub(super) fn private_blocks_for(&self, computed: u32, shared_chunks: u32) -> u32 {
        (computed - shared_chunks * self.cfg.prefix_block_tokens).div_ceil(self.bs)
            + self.cfg.capacity.window_blocks
    }

    /// For waiting request `i` with `budget` tokens left: (prefix hits, first
    /// computed token, tokens to schedule, blocks to take) if it can be
    /// admitted now.
    fn admission(&self, i: usize, budget: u32) -> Option<(u32, u32, u32, u32)> {
        if budget == 0 {
            return None;
        }
        let r = self.req(i);
        let (hits, revive) = match (&r.spec.prefix, r.computed) {
            (Some(p), 0) => {
                let n = self.shareable_chunks(r) as usize;
                if n > 0 {
                    self.pool.lookup(&p[..n])
                } else {
                    (0, 0)
                }
            }
            _ => (0, 0),
        };
        let start = hits * self.cfg.prefix_block_tokens;
        let whole = r.target - start;
        if !self.cfg.capacity.chunked_prefill
            && whole > budget
            && (whole < self.cfg.capacity.max_num_batched_tokens || !self.chunks.is_empty())
        {
            // Unchunked: the prompt waits for a step it fits (one longer
            // than the whole budget runs alone).
            return None;
        }
        let tokens = if self.cfg.capacity.chunked_prefill {
            whole.min(budget)
        } else {
            whole
        };
        let blocks = self.private_blocks_for(start + tokens, hits);
        let need = blocks + revive;
        let free = self.pool.free();
        (need + self.cfg.capacity.watermark_blocks <= free).then_some((hits, start, tokens, blocks))
    }

    fn decode_class_index(&self, coff: i64) -> usize {
        coff.rem_euclid(i64::from(self.bs)) as usize
    }

    fn join_decode(&mut self, i: usize) {
        let g = self.g as i64;
        let r = self.req_mut(i);
        r.decoding = true;
        r.coff = i64::from(r.computed) - g;
        r.goff = i64::from(r.generated) - g;
        let (coff, fin, seq, epoch) = (r.coff, i64::from(r.output) - r.goff, r.seq, r.epoch);
        let c = self.decode_class_index(coff);
        self.class[c] += 1;
        self.sum_coff += coff;
        self.n_dec += 1;
        debug_assert!(fin > g);
        self.fin.push(Reverse((fin as u64, seq, i, epoch)));
        self.prefilling.retain(|&p| p != i);
    }

    /// Takes request `i` out of the decode set, materialising its counts.
    fn leave_decode(&mut self, i: usize) {
        let g = self.g as i64;
        let now = self.now;
        let r = self.req(i);
        let computed = (r.coff + g) as u32;
        let private = self.private_blocks_for(computed, r.shared_chunks);
        let r = self.req_mut(i);
        debug_assert!(r.decoding);
        r.decoding = false;
        r.computed = computed;
        let generated = (r.goff + g) as u32;
        if generated > r.generated {
            // The last token came out at the end of the step just taken.
            r.last_token = now;
        }
        r.generated = generated;
        r.private_blocks = private;
        r.epoch += 1;
        let coff = r.coff;
        let c = self.decode_class_index(coff);
        self.class[c] -= 1;
        self.sum_coff -= coff;
        self.n_dec -= 1;
    }

    /// Frees request `i`'s blocks and removes it from the running set.
    fn release(&mut self, i: usize) {
        if self.req(i).decoding {
            self.leave_decode(i);
        }
        let r = self.req(i);
        let (seq, private, shared) = (r.seq, r.private_blocks, r.shared_chunks);
        let prefix = r.spec.prefix.clone();
        if seq != NOT_RUNNING {
            self.running -= 1;
            self.pool.release(private);
            if let Some(p) = prefix {
                for h in p[..shared as usize].iter().rev() {
                    self.pool.unref(*h);
                }
            }
            self.prefilling.retain(|&p| p != i);
        }
        let r = self.req_mut(i);
        r.private_blocks = 0;
        r.shared_chunks = 0;
        r.seq = NOT_RUNNING;
    }

    fn preempt(&mut self, i: usize) {
        self.release(i);
        let r = self.req_mut(i);
        r.computed = 0;
        r.target = r.spec.prompt_tokens + r.generated;
        r.preemptions += 1;
        self.waiting.push_front(i);
        self.metrics.preemptions += 1;
    }

    fn finish(&mut self, i: usize, reason: FinishReason) {
        self.release(i);
        let r = self.reqs[i].take().expect("live request slot");
        self.free_slots.push(i);
        self.record_finish(r, reason);
    }

    /// Counts a request that has left the engine in the metrics and the
    /// outcomes.
    fn record_finish(&mut self, r: Req, reason: FinishReason) {
        let now = self.now;
        let arrival = ns_of(r.spec.arrival);
        // A finished request's last tokens reach the client when the front
        // end has streamed them.
        let seen = match reason {
            FinishReason::Stop | FinishReason::Length => self.seen_at.max(now),
            FinishReason::Abort | FinishReason::Error => now,
        };
        let m = &mut self.metrics;
        m.count_finish(reason);
        let e2e = secs(seen - arrival);
        let queue = (r.first_sched >= 0).then(|| secs(r.first_sched - arrival));
        let ttft = (r.first_seen >= 0).then(|| secs(r.first_seen - arrival));
        let mean_itl =
            (r.generated > 1).then(|| secs(seen - r.first_seen) / f64::from(r.generated - 1));
        if reason != FinishReason::Error {
            m.e2e.observe(e2e);
            m.prompt_len.observe(f64::from(r.spec.prompt_tokens));
            m.generation_len.observe(f64::from(r.generated));
            if let Some(q) = queue {
                m.queue.observe(q);
                m.inference.observe(secs(now - r.first_sched));
            }
            if r.first_token >= 0 {
                m.prefill.observe(secs(r.first_token - r.first_sched));
                m.decode.observe(secs(now - r.first_token));
            }
            if let Some(t) = mean_itl {
                m.request_tpot.observe(t);
            }
        }
        if self.cfg.record_outcomes {
            self.completions.push(RequestOutcome {
                id: r.spec.id,
                arrival: r.spec.arrival,
                finish: reason,
                prompt_tokens: r.spec.prompt_tokens,
                output_tokens: r.generated,
                queue,
                ttft,
                e2e,
                mean_itl,
                preemptions: r.preemptions,
                cached_tokens: r.cached_tokens,
            });
        }
    }

    /// Whether a finish-heap entry is the decoding request now in slot `i`.
    /// The admission number tells a request that reused the slot of an
    /// aborted one (which left its entry behind) from that one: the epoch
    /// alone would match, both being 0 on first joining the decode set.
    pub(super) fn is_fin_entry_live(&self, seq: u64, i: usize, epoch: u32) -> bool {
        self.reqs[i]
            .as_ref()
            .is_some_and(|r| r.seq == seq && r.epoch == epoch && r.decoding)
    }

    /// Finishes decode-set members whose last token was produced at step `g`.
    fn finish_decoders(&mut self) {
        while let Some(Reverse((fin, seq, i, epoch))) = self.fin.peek().copied() {
            let live = self.is_fin_entry_live(seq, i, epoch);
            if !live {
                self.fin.pop();
                continue;
            }
            if fin > self.g {
                break;
            }
            debug_assert_eq!(fin, self.g);
            self.fin.pop();
            let reason = self.req(i).finish;
            self.finish(i, reason);
        }
    }
}

/// A convenience for tests and tools: a request with no prefix.
pub fn simple_request(id: u64, arrival: SimTime, prompt: u32, output: u32) -> RequestSpec {
    RequestSpec {
        id,
        arrival,
        prompt_tokens: prompt,
        output_tokens: output,
        finish: FinishReason::Length,
        prefix: None,
        encoder_flops: 0.0,
    }
}
