//! The step scheduler: what the engine does next (a planned step or a
//! closed-form decode run), vLLM V1's token-budget schedule with
//! preemption, and applying a step or committing a run.

use super::*;

impl<M: StepTimeModel> Engine<M> {
    /// Decides what the engine does next, starting at `self.now`.
    pub(super) fn plan(&mut self) {
        if !self.aborts.is_empty() {
            self.apply_aborts();
        }
        loop {
            if self.running == 0 && self.waiting.is_empty() {
                self.phase = Phase::Idle;
                return;
            }
            if let Some(run) = self.plan_run() {
                self.phase = Phase::Run(run);
                return;
            }
            if self.plan_step() {
                return;
            }
            // Nothing could be scheduled: all running requests were preempted
            // (retry at once, now without preemption) or the queue head can
            // never fit (refuse it so the engine cannot stall).
            if self.running == 0
                && let Some(h) = self.pop_waiting()
            {
                if self
                    .admission(h, self.cfg.capacity.max_num_batched_tokens)
                    .is_none()
                {
                    self.finish(h, FinishReason::Error);
                } else {
                    self.waiting.push_front(h);
                }
            }
        }
    }

    /// A run of pure decode steps, if the next step would be one.
    pub(super) fn plan_run(&mut self) -> Option<Run> {
        if self.n_dec == 0 || !self.prefilling.is_empty() {
            return None;
        }
        let cap = &self.cfg.capacity;
        if let Some(&h) = self.waiting.front()
            && self.running < cap.max_running as usize
            && self
                .admission(h, cap.max_num_batched_tokens - self.n_dec)
                .is_some()
        {
            return None;
        }
        // Drop stale heap entries (preempted or finished members).
        let fin = loop {
            let Reverse((f, seq, i, e)) = *self.fin.peek()?;
            if self.is_fin_entry_live(seq, i, e) {
                break f;
            }
            self.fin.pop();
        };
        let cap_steps = if self.cfg.exact_steps {
            1
        } else {
            (fin - self.g).min(1 << 20)
        };
        let k = self.run_steps_within(cap_steps);
        if k == 0 {
            return None;
        }
        let c0 = (self.sum_coff + i64::from(self.n_dec) * self.g as i64) as f64;
        let shape = RunShape::new(&self.model, self.n_dec, c0);
        let end = self.now + to_ns(shape.sum(&self.model, k)).max(1);
        Some(Run {
            start: self.now,
            end,
            k,
            shape,
        })
    }

    /// Blocks a decode run may take. Evicting a cached chunk can make a
    /// blocked queue head admissible (its evictable hits stop costing
    /// blocks), so while requests wait a run must not evict; the step that
    /// would is planned on its own.
    pub(super) fn run_free_blocks(&self) -> u32 {
        if self.cfg.prefix_caching && !self.waiting.is_empty() {
            self.pool.truly_free()
        } else {
            self.pool.free()
        }
    }

    /// The most decode steps, up to `cap`, whose new blocks fit in
    /// [`Engine::run_free_blocks`].
    pub(super) fn run_steps_within(&self, cap: u64) -> u64 {
        let bs = u64::from(self.bs);
        decode_steps_within(
            &self.class,
            self.n_dec,
            self.g % bs,
            bs,
            cap,
            u64::from(self.run_free_blocks()),
        )
    }

    /// Plans one individually scheduled step. Returns false if nothing could
    /// be scheduled.
    pub(super) fn plan_step(&mut self) -> bool {
        let (max_tokens, max_running) = (
            self.cfg.capacity.max_num_batched_tokens,
            self.cfg.capacity.max_running,
        );
        let bs = u64::from(self.bs);
        let mut budget = max_tokens;
        self.chunks.clear();
        // 1. Running requests: decoders first (older), then prefillers.
        let dec_need = if self.n_dec > 0 {
            decode_blocks_needed(&self.class, self.g % bs, bs, 1) as u32
        } else {
            0
        };
        let mut need = dec_need;
        let mut left = budget - self.n_dec;
        let mut plan: Vec<(usize, u32, u32)> = Vec::new();
        for &p in &self.prefilling {
            let r = self.req(p);
            let tokens = (r.target - r.computed).min(left);
            if tokens == 0 {
                continue;
            }
            let blocks =
                self.private_blocks_for(r.computed + tokens, r.shared_chunks) - r.private_blocks;
            need += blocks;
            left -= tokens;
            plan.push((p, tokens, blocks));
        }
        let mut preempted = false;
        let n_dec_sched;
        if need <= self.pool.free() {
            self.pool.allocate(need);
            budget = left;
            n_dec_sched = self.n_dec;
            for (p, tokens, blocks) in plan {
                self.req_mut(p).private_blocks += blocks;
                self.chunks.push((p, tokens));
            }
        } else {
            (budget, preempted) = self.schedule_with_preemption();
            n_dec_sched = self.n_dec;
        }
        // 2. Admission, only if nothing was preempted. A request's images
        // are encoded in the step its prefill starts (again after a
        // preemption: the encoder cache does not outlive it).
        let mut encoder_flops = 0.0;
        if !preempted {
            while let Some(&h) = self.waiting.front() {
                if self.running >= max_running as usize {
                    break;
                }
                let Some((hits, start, tokens, blocks)) = self.admission(h, budget) else {
                    break;
                };
                self.pop_waiting();
                let prefix = self.req(h).spec.prefix.clone();
                if self.cfg.prefix_caching && self.req(h).computed == 0 {
                    self.metrics.prefix_queries += u64::from(self.req(h).target);
                    self.metrics.prefix_hits += u64::from(start);
                }
                if let Some(p) = &prefix {
                    for hash in &p[..hits as usize] {
                        self.pool.acquire(*hash);
                    }
                }
                self.pool.allocate(blocks);
                let seq = self.next_seq;
                self.next_seq += 1;
                let now = self.now;
                let r = self.req_mut(h);
                r.computed = start;
                r.shared_chunks = hits;
                r.private_blocks = blocks;
                r.seq = seq;
                if r.first_sched < 0 {
                    r.first_sched = now;
                    r.cached_tokens = start;
                }
                self.running += 1;
                self.log_admission(seq, h);
                encoder_flops += self.req(h).spec.encoder_flops;
                self.prefilling.push(h);
                self.chunks.push((h, tokens));
                budget = budget.saturating_sub(tokens);
            }
        }
        if self.chunks.is_empty() && n_dec_sched == 0 {
            return false;
        }
        // 3. Execute.
        let mut shape = BatchShape {
            decode_seqs: n_dec_sched,
            decode_kv: (self.sum_coff + i64::from(self.n_dec) * (self.g as i64 + 1)) as f64,
            encoder_flops,
            ..BatchShape::default()
        };
        for &(p, tokens) in &self.chunks {
            shape.add_prefill(tokens, self.req(p).computed);
        }
        let dur = to_ns(self.model.step_secs(&shape)).max(1);
        self.phase = Phase::Step {
            end: self.now + dur,
            dur,
            n_dec: n_dec_sched,
            tokens: shape.tokens(),
        };
        true
    }

    /// vLLM's allocation loop when blocks run short: walk the running list in
    /// order; when a request cannot get its blocks, preempt the newest running
    /// request and retry; stop if the request itself was the victim.
    /// Returns (budget left, whether anything was preempted).
    pub(super) fn schedule_with_preemption(&mut self) -> (u32, bool) {
        let mut budget = self.cfg.capacity.max_num_batched_tokens;
        let mut order = std::mem::take(&mut self.order_buf);
        self.running_slots(&mut order);
        let bs = self.bs;
        let mut preempted = false;
        let mut idx = 0;
        while idx < order.len() && budget > 0 {
            let i = order[idx];
            let (tokens, blocks) = {
                let r = self.req(i);
                if r.decoding {
                    let computed = (r.coff + self.g as i64) as u32;
                    (1, u32::from(computed.is_multiple_of(bs)))
                } else {
                    let tokens = (r.target - r.computed).min(budget);
                    let held = self.private_blocks_for(r.computed + tokens, r.shared_chunks);
                    (tokens, held - r.private_blocks)
                }
            };
            let mut scheduled = true;
            while blocks > self.pool.free() {
                let Some(victim) = order.pop() else { break };
                self.preempt(victim);
                preempted = true;
                if victim == i {
                    scheduled = false;
                    break;
                }
            }
            if !scheduled {
                break;
            }
            self.pool.allocate(blocks);
            let r = self.req_mut(i);
            if !r.decoding {
                r.private_blocks += blocks;
                if tokens > 0 {
                    self.chunks.push((i, tokens));
                }
            }
            budget -= tokens;
            idx += 1;
        }
        self.order_buf = order;
        (budget, preempted)
    }

    /// Applies the effects of the step that just ended.
    pub(super) fn apply_step(&mut self) {
        let Phase::Step {
            end,
            dur,
            n_dec,
            tokens,
        } = self.phase.clone()
        else {
            return;
        };
        self.now = end;
        self.busy_ns += dur;
        self.g += 1;
        // Every decoder and every prefill this step completes emits a token
        // for the front end to stream (counted only when streaming costs).
        let done_prefills = if self.cfg.frontend.output_token_ns > 0 {
            (self.chunks.iter())
                .filter(|&&(i, t)| {
                    (self.reqs[i].as_ref()).is_some_and(|r| r.computed + t >= r.target)
                })
                .count() as u32
        } else {
            0
        };
        self.deliver_step(end, n_dec + done_prefills);
        let d = secs(dur);
        self.metrics.generation_tokens += u64::from(n_dec);
        self.metrics.itl.observe_n(d, u64::from(n_dec));
        self.metrics.iteration_tokens.observe(f64::from(tokens));
        self.finish_decoders();
        let chunks = std::mem::take(&mut self.chunks);
        for &(i, t) in &chunks {
            if self.reqs[i].is_none() {
                continue;
            }
            self.req_mut(i).computed += t;
            self.register_chunks(i);
            let r = self.req(i);
            if r.computed < r.target {
                continue;
            }
            // The prefill (or recompute) is complete: the step emits a token.
            let (now, seen) = (self.now, self.seen_at);
            let r = self.req_mut(i);
            r.generated += 1;
            let first = r.first_token < 0;
            let gap = now - r.last_token;
            if first {
                r.first_token = now;
                r.first_seen = seen;
            }
            r.last_token = now;
            let (arrival, prompt, done, reason) = (
                r.spec.arrival,
                r.spec.prompt_tokens,
                r.generated >= r.output,
                r.finish,
            );
            self.metrics.generation_tokens += 1;
            if first {
                self.metrics
                    .ttft
                    .observe(secs(self.seen_at - ns_of(arrival)));
                self.metrics.prompt_tokens += u64::from(prompt);
            } else {
                self.metrics.itl.observe(secs(gap));
            }
            if done {
                self.finish(i, reason);
            } else {
                self.join_decode(i);
            }
        }
        self.chunks = chunks;
        self.chunks.clear();
        self.publish();
    }

    /// Turns the full prefix chunks a prefiller has now computed into shared
    /// cache entries.
    pub(super) fn register_chunks(&mut self, i: usize) {
        let limit = self.shareable_chunks(self.req(i));
        let ct = self.cfg.prefix_block_tokens;
        let cb = self.pool.chunk_blocks();
        loop {
            let r = self.req(i);
            let c = r.shared_chunks;
            if c >= limit || (c + 1) * ct > r.computed {
                return;
            }
            let Some(hash) = r.spec.prefix.as_ref().map(|p| p[c as usize]) else {
                return;
            };
            self.pool.register(hash);
            let r = self.req_mut(i);
            r.shared_chunks += 1;
            r.private_blocks -= cb;
        }
    }

    /// Request `slot` enters the scheduler's queue now; a decode run in
    /// flight stops early if the next step could admit it.
    pub(super) fn enqueue(&mut self, slot: usize) {
        self.waiting.push_back(slot);
        match &self.phase {
            Phase::Idle => self.plan(),
            Phase::Run(r) if self.live_waiting() == 1 => {
                let budget = self.cfg.capacity.max_num_batched_tokens - self.n_dec;
                let k = if self.running < self.cfg.capacity.max_running as usize
                    && self.admission(slot, budget).is_some()
                {
                    // Stop the run after the step in flight so the next step
                    // can admit the newcomer.
                    1
                } else if self.run_free_blocks() < self.pool.free() {
                    // The run was planned while nobody waited, so it may
                    // evict cached chunks; now that a request waits, it obeys
                    // `run_free_blocks` like any run. The step in flight was
                    // scheduled before the arrival and keeps its blocks.
                    self.run_steps_within(r.k).max(1)
                } else {
                    r.k
                };
                if k < r.k {
                    let mut r = r.clone();
                    r.k = k;
                    r.end = r.start + to_ns(r.shape.sum(&self.model, k));
                    self.phase = Phase::Run(r);
                }
            }
            _ => {}
        }
    }

    /// Commits the first `j` steps of `run`, the last of which ends at `end`.
    pub(super) fn commit_run(&mut self, run: &Run, j: u64, end: i64) {
        self.deliver_run(run, j, end);
        let n = u64::from(run.shape.n);
        let bs = u64::from(self.bs);
        let blocks = decode_blocks_needed(&self.class, self.g % bs, bs, j) as u32;
        self.pool.allocate(blocks);
        let total = secs(end - run.start);
        let model = &self.model;
        let shape = run.shape;
        self.metrics
            .itl
            .observe_run(j, n, total, |i| shape.f(model, i as f64));
        self.metrics.iteration_tokens.observe_n(n as f64, j);
        self.metrics.generation_tokens += n * j;
        self.g += j;
        self.busy_ns += end - run.start;
        self.now = end;
    }
}
