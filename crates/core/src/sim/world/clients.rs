//! Clients (`SimConfig::clients`): each request's attempts, their timeout,
//! the user's patience for the first token, retries with backoff, and the
//! closed loop's clients.
//!
//! Every attempt has its own request id; the [`Flight`] of a request is
//! keyed by its current attempt's id. An attempt the client gives up on is
//! taken out of the map first; whatever the world later hears of that id
//! (an engine outcome, a delivery, a front-queue entry) is ignored, so
//! cancelling costs O(1) wherever the attempt is.

use std::collections::HashMap;

use super::*;
use crate::engine::engine::Handle;
use crate::sim::config::Clients;

/// Where an attempt is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// In the Service's front queue (no ready pod).
    Front,
    /// On its way to a pod.
    Transit,
    /// In pod `.0`'s engine.
    Engine(u32, Handle),
    /// Waiting to be retried.
    Backoff,
}

/// One user request.
pub(super) struct Flight {
    /// When the first attempt was sent (latencies count from here).
    origin: SimTime,
    /// Its tokens; `time` is the current attempt's send time.
    arrival: Arrival,
    /// 0 for the first attempt.
    attempt: u32,
    pub(super) place: Place,
    /// The closed-loop client that sent it.
    client: Option<u32>,
    /// When the user gives up waiting for a first token.
    patience_at: Option<SimTime>,
}

/// Why an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    NoEndpoint,
    FrontQueueTimeout,
    DrainAbort,
    Refused,
    Timeout,
    Abandoned,
}

impl Cause {
    /// What an HTTP client retries: 503/504, a reset connection, its own
    /// timeout. A 400 or a user who left is final.
    fn retryable(self) -> bool {
        !matches!(self, Cause::Refused | Cause::Abandoned)
    }
}

/// The clients' state.
pub(super) struct ClientState {
    cfg: Clients,
    pub(super) flights: HashMap<u64, Flight>,
    /// Patience, backoff jitter and think times.
    rng: Stream,
    /// Front-queue entries whose request was given up.
    pub(super) front_dead: usize,
}

impl ClientState {
    pub(super) fn new(cfg: Clients, seed: u64) -> ClientState {
        ClientState {
            cfg,
            flights: HashMap::new(),
            rng: Stream::named(seed, "clients"),
            front_dead: 0,
        }
    }

    pub(super) fn closed_loop(&self) -> Option<u32> {
        self.cfg.closed_loop.as_ref().map(|c| c.concurrency)
    }
}

impl<M: StepTimeModel + Clone> Simulation<M> {
    /// A new user request: counted as arrived, tracked if clients are
    /// modelled, and dispatched.
    pub(super) fn send(&mut self, a: Arrival, client: Option<u32>, now: SimTime) {
        self.record.counts.arrived += 1;
        self.record.second.arrivals += 1;
        let id = self.next_id;
        self.next_id += 1;
        if let Some(c) = self.clients.as_mut() {
            let patience_at = c
                .cfg
                .patience
                .as_ref()
                .map(|p| now + p.duration(&mut c.rng));
            let f = Flight {
                origin: a.time,
                arrival: a.clone(),
                attempt: 0,
                place: Place::Transit,
                client,
                patience_at,
            };
            self.start_attempt(id, f, now);
        }
        self.dispatch(a, id, now);
    }

    /// Tracks attempt `id` and sets its timers.
    fn start_attempt(&mut self, id: u64, f: Flight, now: SimTime) {
        let Some(c) = self.clients.as_mut() else {
            return;
        };
        if let Some(t) = c.cfg.timeout {
            self.q.push(now + t, Ev::ClientTimeout(id));
        }
        if let Some(p) = f.patience_at {
            self.q.push(p.max(now), Ev::Patience(id));
        }
        c.flights.insert(id, f);
    }

    /// Whether attempt `id` is one the world should still carry (always,
    /// without a client model).
    pub(super) fn wanted(&self, id: u64) -> bool {
        self.clients
            .as_ref()
            .is_none_or(|c| c.flights.contains_key(&id))
    }

    /// Records where attempt `id` now is.
    pub(super) fn moved(&mut self, id: u64, place: Place) {
        if let Some(f) = self.clients.as_mut().and_then(|c| c.flights.get_mut(&id)) {
            f.place = place;
        }
    }

    /// Attempt `id` failed for `cause`: retried if the client may, else the
    /// request fails. Without a client model every failure is final.
    pub(super) fn fail(&mut self, id: u64, cause: Cause, now: SimTime) {
        let Some(c) = self.clients.as_mut() else {
            self.count_failure(cause);
            return;
        };
        // An attempt the client had already given up on was counted then.
        if let Some(f) = c.flights.remove(&id) {
            self.end_attempt(id, f, cause, now);
        }
    }

    fn end_attempt(&mut self, id: u64, mut f: Flight, cause: Cause, now: SimTime) {
        let Some(c) = self.clients.as_mut() else {
            return;
        };
        if cause.retryable() && f.attempt < c.cfg.retries {
            f.attempt += 1;
            let u = c.rng.uniform();
            let at = now + c.cfg.backoff.delay(f.attempt, u);
            if f.patience_at.is_none_or(|p| at < p) && at <= self.end {
                f.place = Place::Backoff;
                c.flights.insert(id, f);
                self.record.counts.retries += 1;
                self.q.push(at, Ev::Retry(id));
                return;
            }
        }
        self.count_failure(cause);
        self.client_done(f.client, now);
    }

    fn count_failure(&mut self, cause: Cause) {
        let n = &mut self.record.counts;
        match cause {
            Cause::NoEndpoint => n.rejected_no_endpoint += 1,
            Cause::FrontQueueTimeout => n.front_queue_timeout += 1,
            Cause::DrainAbort => n.aborted_on_drain += 1,
            Cause::Refused => n.refused_by_engine += 1,
            Cause::Timeout => n.client_timeout += 1,
            Cause::Abandoned => n.abandoned += 1,
        }
        self.fail_request();
    }

    /// A request ended (success or final failure): its closed-loop client
    /// thinks, then sends the next.
    pub(super) fn client_done(&mut self, client: Option<u32>, now: SimTime) {
        let (Some(k), Some(c)) = (client, self.clients.as_mut()) else {
            return;
        };
        let Some(cl) = &c.cfg.closed_loop else {
            return;
        };
        let at = now + cl.think.duration(&mut c.rng);
        if at <= self.end {
            self.q.push(at, Ev::ClientSend(k));
        }
    }

    /// Closed-loop client `k` sends its next request (the traffic source's
    /// next tokens, sent now).
    pub(super) fn on_client_send(&mut self, k: u32, now: SimTime) {
        if let Some(mut a) = self.source.next_arrival() {
            a.time = now;
            self.send(a, Some(k), now);
        }
    }

    /// The seconds an attempt's latencies must be shifted by to count from
    /// the request's first send, for a request that completed (and is no
    /// longer tracked); `None` if the client had given up on it.
    pub(super) fn completed(&mut self, id: u64, now: SimTime) -> Option<f64> {
        let Some(c) = self.clients.as_mut() else {
            return Some(0.0);
        };
        let f = c.flights.remove(&id)?;
        self.client_done(f.client, now);
        Some(f.arrival.time.since(f.origin).as_secs_f64())
    }

    pub(super) fn on_retry(&mut self, id: u64, now: SimTime) {
        let Some(c) = self.clients.as_mut() else {
            return;
        };
        let Some(mut f) = c.flights.remove(&id) else {
            return;
        };
        let new = self.next_id;
        self.next_id += 1;
        f.arrival.time = now;
        f.place = Place::Transit;
        let a = f.arrival.clone();
        self.start_attempt(new, f, now);
        self.dispatch(a, new, now);
    }

    pub(super) fn on_client_timeout(&mut self, id: u64, now: SimTime) {
        if let Some(f) = self.give_up(id, now, false) {
            self.end_attempt(id, f, Cause::Timeout, now);
        }
    }

    pub(super) fn on_patience(&mut self, id: u64, now: SimTime) {
        if let Some(f) = self.give_up(id, now, true) {
            self.end_attempt(id, f, Cause::Abandoned, now);
        }
    }

    /// Cancels attempt `id` wherever it is and returns its request, unless
    /// it is no longer tracked, is waiting to be retried (a timeout) or
    /// has streamed its first token (patience).
    fn give_up(&mut self, id: u64, now: SimTime, patience: bool) -> Option<Flight> {
        let mut place = self.clients.as_ref()?.flights.get(&id)?.place;
        if let Place::Engine(p, _) = place {
            // What finished by now counts as finished, not given up.
            self.touch(p, now);
            place = self.clients.as_ref()?.flights.get(&id)?.place;
        }
        let streaming = match place {
            Place::Backoff if !patience => return None,
            Place::Engine(p, h) => {
                let e = self.pods[p as usize].engine.as_mut()?;
                e.has_first_token(now, h, id) == Some(true)
            }
            _ => false,
        };
        if patience && streaming {
            return None;
        }
        let c = self.clients.as_mut()?;
        let mut f = c.flights.remove(&id)?;
        if streaming {
            // The user has seen tokens: a retry is the SDK's, not a new
            // wait for a first token.
            f.patience_at = None;
        }
        match place {
            Place::Front => c.front_dead += 1,
            Place::Engine(p, h) => {
                if let Some(e) = self.pods[p as usize].engine.as_mut() {
                    e.abort(now, h, id);
                }
                self.touch(p, now);
            }
            Place::Transit | Place::Backoff => {}
        }
        Some(f)
    }

    /// Front-queue entries that still hold a request.
    pub(super) fn front_len(&self) -> usize {
        self.front.len() - self.clients.as_ref().map_or(0, |c| c.front_dead)
    }

    /// A front-queue entry leaves the queue: false if its request had been
    /// given up (the entry was a tombstone).
    pub(super) fn front_entry_live(&mut self, id: u64) -> bool {
        if self.wanted(id) {
            return true;
        }
        if let Some(c) = self.clients.as_mut() {
            c.front_dead -= 1;
        }
        false
    }
}
