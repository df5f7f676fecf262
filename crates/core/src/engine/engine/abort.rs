//! Aborting one request (its client went away), as vLLM's engine does
//! when the HTTP connection closes: a waiting request leaves the queue at
//! once; a running one leaves at the end of the step in flight (the
//! scheduler processes aborts between steps) and frees its blocks then.
//!
//! A waiting request is not searched for in the queue: its slot is emptied
//! and the queue entry left as a tombstone, freed when it reaches the front,
//! so an abort costs O(1) however long the queue is.

use super::*;

/// Where a submitted request is in its engine (returned by
/// [`Engine::submit`]; valid with the request's id until it finishes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle(pub(super) usize);

impl<M: StepTimeModel> Engine<M> {
    /// The client of request `id` (submitted as `h`) went away at `now`.
    /// Its outcome (reason `abort`) comes out of
    /// [`Engine::drain_outcomes`]: at once if it was waiting, at the end of
    /// the step in flight if it was running. Returns false if the request
    /// had already finished (or was already aborted).
    pub fn abort(&mut self, now: SimTime, h: Handle, id: u64) -> bool {
        self.advance(now);
        self.now = self.now.max(ns_of(now));
        let Some(r) = self.live(h, id) else {
            return false;
        };
        if self.aborts.iter().any(|&(i, _)| i == h.0) {
            return false;
        }
        if r.ingesting {
            self.abort_ingesting(h.0);
            return true;
        }
        if r.seq == NOT_RUNNING {
            self.abort_waiting(h.0);
            self.publish();
            if self.running == 0 && self.waiting.is_empty() {
                self.phase = Phase::Idle;
            }
        } else {
            self.aborts.push((h.0, id));
        }
        // Stop a decode run after the step in flight: a running request
        // leaves at the next step boundary, as between two vLLM steps, and
        // a waiting one may have been the head that kept the next from
        // being admitted.
        if let Phase::Run(r) = &self.phase
            && r.k > 1
        {
            let mut r = r.clone();
            r.k = 1;
            r.end = r.start + to_ns(r.shape.sum(&self.model, 1));
            self.phase = Phase::Run(r);
        }
        true
    }

    /// Whether request `id` (submitted as `h`) has produced its first token
    /// by `now`; `None` if it is no longer in the engine.
    pub fn has_first_token(&mut self, now: SimTime, h: Handle, id: u64) -> Option<bool> {
        self.advance(now);
        let t = ns_of(now);
        self.live(h, id)
            .map(|r| r.first_seen >= 0 && r.first_seen <= t)
    }

    fn live(&self, h: Handle, id: u64) -> Option<&Req> {
        self.reqs
            .get(h.0)
            .and_then(Option::as_ref)
            .filter(|r| r.spec.id == id)
    }

    /// Requests waiting, tombstones left out.
    pub(super) fn live_waiting(&self) -> usize {
        self.waiting.len() - self.dead_waiting
    }

    /// Takes the queue's head, then frees the tombstones that reach the
    /// front.
    pub(super) fn pop_waiting(&mut self) -> Option<usize> {
        let h = self.waiting.pop_front();
        self.skim();
        h
    }

    /// Frees the tombstones at the front of the queue.
    fn skim(&mut self) {
        while let Some(&f) = self.waiting.front()
            && self.reqs[f].is_none()
        {
            self.waiting.pop_front();
            self.free_slots.push(f);
            self.dead_waiting -= 1;
        }
    }

    /// A waiting request finishes (reason `abort`); its queue entry stays
    /// as a tombstone until it reaches the front.
    fn abort_waiting(&mut self, i: usize) {
        let r = self.reqs[i].take().expect("live request slot");
        self.record_finish(r, FinishReason::Abort);
        self.dead_waiting += 1;
        self.skim();
    }

    /// Aborts the running requests marked by [`Engine::abort`] (at a step
    /// boundary; one that finished or was preempted meanwhile is handled
    /// as it now stands).
    pub(super) fn apply_aborts(&mut self) {
        for (i, id) in std::mem::take(&mut self.aborts) {
            let Some(r) = self.live(Handle(i), id) else {
                continue;
            };
            if r.seq == NOT_RUNNING {
                self.abort_waiting(i);
            } else {
                self.finish(i, FinishReason::Abort);
            }
        }
        self.publish();
    }
}
