//! AIPerf-style closed-loop benchmark of one engine: `concurrency` clients
//! each send a request, wait for it to finish, and send the next. This is how
//! NVIDIA's NIM benchmarking tables are produced.
//!
//! All clients send their first request at once, as AIPerf's concurrency
//! mode does (its default "concurrency burst" timing issues every credit
//! with zero delay; genai-perf's perf_analyzer keeps N requests
//! outstanding from the start). With identical requests (fixed prompt and
//! output lengths, `ignore_eos`) the clients then run in cohorts: a cohort
//! is prefilled together, finishes in the same step and comes back
//! together. The front end's per-request work and the clients' 0–2 ms
//! turnarounds spread each cohort out only partly, and the queue a cohort
//! forms in front of the scheduler is what the published time to first
//! token measures from 25 to 100 clients. Starting the clients spread
//! over a request's duration instead is another steady state of the same
//! system, with far fewer collisions: it underestimated those TTFTs by
//! 57–75 %.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Engine, RequestOutcome, StepTimeModel, simple_request};
use crate::time::{SimDuration, SimTime};

/// What to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedLoop {
    /// Clients.
    pub concurrency: u32,
    /// Prompt tokens per request.
    pub isl: u32,
    /// Output tokens per request.
    pub osl: u32,
    /// Requests measured after warm-up.
    pub requests: u32,
    /// Requests completed before measuring starts.
    pub warmup: u32,
}

/// Means over the measured requests, AIPerf's definitions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClosedLoopStats {
    /// Mean time to first token, seconds.
    pub ttft: f64,
    /// Mean inter-token latency `(e2e − ttft)/(osl − 1)`, seconds.
    pub itl: f64,
    /// Mean end-to-end latency, seconds.
    pub e2e: f64,
    /// Output tokens per second over the measurement window.
    pub output_tokens_per_s: f64,
    /// Requests per second over the measurement window.
    pub requests_per_s: f64,
    /// Requests measured.
    pub measured: u32,
}

/// Runs the closed loop on `engine`; `frontend` is the delay between a
/// client sending and the scheduler seeing a request.
pub fn closed_loop<M: StepTimeModel>(
    engine: &mut Engine<M>,
    frontend: SimDuration,
    spec: ClosedLoop,
) -> ClosedLoopStats {
    // (delivery to the scheduler, id, sent by the client)
    let mut pending: BinaryHeap<Reverse<(SimTime, u64, SimTime)>> = BinaryHeap::new();
    let mut sent = 0u64;
    // A client sends its next request after a turnaround of 0–2 ms
    // (receiving the last chunk, bookkeeping, a new connection): real
    // clients drift apart by such amounts, while identical requests sent
    // at identical instants would stay in lock-step forever here. The
    // first requests get one too: they leave together, not at one instant.
    let mut send = |t: SimTime, pending: &mut BinaryHeap<Reverse<(SimTime, u64, SimTime)>>| {
        let t = t + SimDuration::from_micros((turnaround_hash(sent) % TURNAROUND_US) as i64);
        pending.push(Reverse((t + frontend, sent, t)));
        sent += 1;
        sent
    };
    for _ in 0..spec.concurrency {
        send(SimTime::ZERO, &mut pending);
    }
    let mut sent_count = u64::from(spec.concurrency);
    let total = spec.warmup + spec.requests;
    let mut done: Vec<RequestOutcome> = Vec::new();
    while (done.len() as u32) < total {
        let wake = engine.next_wakeup();
        let arrival = pending.peek().map(|Reverse((t, ..))| *t);
        match (arrival, wake) {
            (Some(a), w) if w.is_none_or(|w| a <= w) => {
                let Some(Reverse((t, id, at))) = pending.pop() else {
                    break;
                };
                engine.submit(t, simple_request(id, at, spec.isl, spec.osl));
            }
            (_, Some(w)) => engine.advance(w),
            _ => break,
        }
        let finished: Vec<RequestOutcome> = engine.drain_outcomes().collect();
        for o in finished {
            let end = end_of(&o);
            done.push(o);
            if sent_count < u64::from(total + spec.concurrency) {
                sent_count = send(end, &mut pending);
            }
        }
    }
    let measured = &done[spec.warmup.min(done.len() as u32) as usize..];
    let n = measured.len().max(1) as f64;
    let ttft = measured.iter().filter_map(|o| o.ttft).sum::<f64>() / n;
    let e2e = measured.iter().map(|o| o.e2e).sum::<f64>() / n;
    let itl = measured
        .iter()
        .filter(|o| o.output_tokens > 1)
        .map(|o| (o.e2e - o.ttft.unwrap_or(0.0)) / f64::from(o.output_tokens - 1))
        .sum::<f64>()
        / n;
    // Throughput by Little's law: every client always has one request in
    // flight or is turning around, so `concurrency = rate × (e2e +
    // turnaround)`. Exact in steady state; counting completions over a
    // window instead converges slowly, as cohorts of requests the front
    // end streams together complete at the same instant.
    let out = measured
        .iter()
        .map(|o| f64::from(o.output_tokens))
        .sum::<f64>()
        / n;
    let cycle = e2e + MEAN_TURNAROUND_S;
    let rps = if measured.is_empty() || cycle <= 0.0 {
        0.0
    } else {
        f64::from(spec.concurrency) / cycle
    };
    ClosedLoopStats {
        ttft,
        itl,
        e2e,
        output_tokens_per_s: rps * out,
        requests_per_s: rps,
        measured: measured.len() as u32,
    }
}

/// When the client received a request's last token.
fn end_of(o: &RequestOutcome) -> SimTime {
    o.arrival + SimDuration::from_micros((o.e2e * 1e6).round() as i64)
}

/// Client turnarounds are uniform over whole microseconds below this.
const TURNAROUND_US: u64 = 2_000;

/// Their mean, seconds.
const MEAN_TURNAROUND_S: f64 = (TURNAROUND_US - 1) as f64 / 2.0 * 1e-6;

/// A fixed pseudo-random number per request (splitmix64's finaliser).
fn turnaround_hash(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
