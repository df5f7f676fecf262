//! Engine behaviour on hand-checkable cases: a single request's latency is
//! exactly its prefill and decode steps; closed-form decode runs agree with
//! step-by-step execution; preemption and prefix caching behave as in vLLM;
//! the NIM 1.0 fixture identities hold.

use std::sync::Arc;

use nimscale_core::engine::capacity::EngineProfile;
use nimscale_core::engine::{
    BatchShape, FinishReason, RequestSpec, Roofline, StepTimeModel, simple_request,
};
use nimscale_core::rng::Stream;
use nimscale_core::time::SimTime;

use crate::engine_support::{deployment, drive, roofline_engine};

fn ns(secs: f64) -> f64 {
    (secs * 1e9).round() * 1e-9
}

#[test]
fn single_request_latency_is_its_prefill_plus_decode_steps() {
    let dep = deployment();
    let model = Roofline::new(&dep);
    let prompt = 20_000; // three chunks of the 8192-token budget
    let output = 300;
    // The front end ingests the request (per request and per prompt token)
    // before the scheduler sees it, and streams each step's one token
    // (never falling behind a lone request's steps).
    let fe = dep.model.frontend;
    let ingest = (fe.request_ns + fe.prompt_token_ns * i64::from(prompt)) as f64 * 1e-9;
    let stream = fe.output_token_ns as f64 * 1e-9;
    assert!(ingest > 0.0 && stream > 0.0);
    // Expected: chunks 8192, 8192, 3616; then 299 decode steps.
    let mut ttft = ingest;
    let mut done = 0;
    for n in [8192u32, 8192, 3616] {
        let mut s = BatchShape::default();
        s.add_prefill(n, done);
        ttft += ns(model.step_secs(&s));
        done += n;
    }
    let mut e2e = ttft;
    for i in 0..(output - 1) {
        e2e += ns(model.step_secs(&BatchShape::decode(1, f64::from(prompt + i))));
    }
    for exact in [true, false] {
        let mut eng = roofline_engine(None, exact, &EngineProfile::default());
        let out = drive(
            &mut eng,
            &[simple_request(1, SimTime::ZERO, prompt, output)],
        );
        let o = &out[0];
        assert_eq!(o.output_tokens, output);
        assert!((o.queue.unwrap() - ingest).abs() < 1e-9, "{:?}", o.queue);
        let (ttft, e2e) = (ttft + stream, e2e + stream);
        assert!(
            (o.ttft.unwrap() - ttft).abs() < 1e-9,
            "exact={exact}: {:?} vs {ttft}",
            o.ttft
        );
        // The closed form rounds once per run instead of once per step.
        assert!(
            (o.e2e - e2e).abs() < 1e-6,
            "exact={exact}: {} vs {e2e}",
            o.e2e
        );
        // Mean inter-token latency: first token to last over 299 gaps.
        let itl = (e2e - ttft) / f64::from(output - 1);
        let got = o.mean_itl.expect("more than one token");
        assert!(
            (got - itl).abs() < 1e-8,
            "exact={exact}: ITL {got} vs {itl}"
        );
    }
}

fn poisson_workload(
    seed: u64,
    n: usize,
    rate: f64,
    prompt_mean: f64,
    out_mean: f64,
) -> Vec<RequestSpec> {
    let mut arr = Stream::named(seed, "arrivals");
    let mut len = Stream::named(seed, "lengths");
    let mut t = 0.0;
    (0..n)
        .map(|i| {
            t += arr.exponential(1.0 / rate);
            let p = len.geometric(prompt_mean) as u32;
            let o = len.geometric(out_mean) as u32;
            simple_request(i as u64, SimTime::from_micros((t * 1e6) as i64), p, o)
        })
        .collect()
}

#[test]
fn decode_runs_agree_with_step_by_step_execution() {
    for (blocks, rate) in [(None, 20.0), (Some(1200), 30.0)] {
        let reqs = poisson_workload(3, 600, rate, 900.0, 250.0);
        let profile = EngineProfile::default();
        let mut fast = roofline_engine(blocks, false, &profile);
        let mut slow = roofline_engine(blocks, true, &profile);
        let a = drive(&mut fast, &reqs);
        let b = drive(&mut slow, &reqs);
        assert_eq!(a.len(), reqs.len());
        assert_eq!(
            fast.metrics().generation_tokens,
            slow.metrics().generation_tokens
        );
        assert_eq!(fast.metrics().preemptions, slow.metrics().preemptions);
        if blocks.is_some() {
            assert!(
                fast.metrics().preemptions > 0,
                "the small cache must preempt"
            );
        }
        let mut worst = 0.0f64;
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (x.id, x.output_tokens, x.preemptions),
                (y.id, y.output_tokens, y.preemptions)
            );
            worst = worst
                .max((x.e2e - y.e2e).abs())
                .max((x.ttft.unwrap() - y.ttft.unwrap()).abs());
        }
        // Rounding to the nanosecond once per run instead of once per step.
        assert!(worst < 5e-6, "largest latency difference {worst} s");
        assert_eq!(fast.metrics().itl.count(), slow.metrics().itl.count());
    }
}

#[test]
fn preemption_recomputes_the_newest_request() {
    // 40 usable blocks of 16 tokens = 640 tokens. Two requests of 200-token
    // prompts and 300 output tokens each cannot both finish in the cache.
    let mut eng = roofline_engine(Some(41), true, &EngineProfile::default());
    let reqs = [
        simple_request(1, SimTime::ZERO, 200, 300),
        simple_request(2, SimTime::from_micros(1), 200, 300),
    ];
    let out = drive(&mut eng, &reqs);
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].preemptions, 0,
        "the older request is never the victim"
    );
    assert!(out[1].preemptions >= 1);
    assert_eq!(out[1].output_tokens, 300);
    assert!(eng.metrics().preemptions >= 1);
    // A preempted request shows one long inter-token gap: its e2e exceeds
    // the first request's.
    assert!(out[1].e2e > out[0].e2e);
}

#[test]
fn prefix_cache_hits_skip_recomputation() {
    let profile = EngineProfile::default();
    let prefix: Arc<[u64]> = Arc::from(vec![11u64, 12, 13, 14].into_boxed_slice());
    let mk = |id: u64, t: i64| RequestSpec {
        prefix: Some(prefix.clone()),
        ..simple_request(id, SimTime::from_secs(t), 2100, 10)
    };
    let mut eng = roofline_engine(None, false, &profile);
    let out = drive(&mut eng, &[mk(1, 0), mk(2, 5)]);
    // 2100 tokens = 4 full 512-token chunks + 52; the second request reuses
    // all four chunks and computes 52 tokens.
    assert_eq!(out[0].cached_tokens, 0);
    assert_eq!(out[1].cached_tokens, 2048);
    assert!(out[1].ttft.unwrap() < out[0].ttft.unwrap());
    assert_eq!(eng.metrics().prefix_hits, 2048);
    assert_eq!(eng.metrics().prefix_queries, 4200);
    // Without caching both compute everything.
    let off = EngineProfile {
        enable_prefix_caching: false,
        ..profile
    };
    let mut eng = roofline_engine(None, false, &off);
    let out = drive(&mut eng, &[mk(1, 0), mk(2, 5)]);
    assert_eq!(out[1].cached_tokens, 0);
}

#[test]
fn nim_fixture_identities_hold() {
    // The NIM 1.0 scrape: 5 requests, 109 prompt and 174 output tokens, all
    // finishing by length.
    let prompts = [20u32, 21, 22, 23, 23];
    let outputs = [34u32, 35, 35, 35, 35];
    let reqs: Vec<RequestSpec> = (0..5)
        .map(|i| {
            simple_request(
                i,
                SimTime::from_millis(i as i64 * 300),
                prompts[i as usize],
                outputs[i as usize],
            )
        })
        .collect();
    let mut eng = roofline_engine(None, false, &EngineProfile::default());
    drive(&mut eng, &reqs);
    let m = eng.metrics();
    assert_eq!(m.ttft.count(), 5);
    assert_eq!(m.e2e.count(), 5);
    assert_eq!(m.itl.count(), 169);
    assert_eq!(m.prompt_tokens, 109);
    assert_eq!(m.prompt_len.sum(), 109.0);
    assert_eq!(m.generation_tokens, 174);
    assert_eq!(m.generation_len.sum(), 174.0);
    assert_eq!(m.successes(), 5);
    assert_eq!(m.finished(FinishReason::Length), 5);
    let mut samples = Vec::new();
    eng.expose(&mut samples);
    let get = |name: &str| samples.iter().find(|s| s.name == name).map(|s| s.value);
    assert_eq!(get("time_per_output_token_seconds_count"), Some(169.0));
    assert_eq!(get("request_success_total"), Some(5.0));
    assert_eq!(get("num_request_max"), Some(1024.0));
    assert_eq!(get("gpu_cache_usage_perc"), Some(0.0));
    let finish = samples
        .iter()
        .find(|s| s.name == "request_finish_total")
        .unwrap();
    assert_eq!(finish.labels[1], ("finished_reason", "length".to_owned()));
    let bucket = samples
        .iter()
        .find(|s| s.name == "e2e_request_latency_seconds_bucket")
        .unwrap();
    assert_eq!(bucket.labels[0].0, "le");
    assert_eq!(bucket.labels[1].0, "model_name");
}

#[test]
fn requests_beyond_max_model_len_are_refused_or_truncated() {
    let profile = EngineProfile {
        max_model_len: Some(4096),
        ..EngineProfile::default()
    };
    let mut eng = roofline_engine(None, false, &profile);
    let out = drive(
        &mut eng,
        &[
            simple_request(1, SimTime::ZERO, 5000, 10),
            simple_request(2, SimTime::ZERO, 4000, 500),
        ],
    );
    assert_eq!(out[0].finish, FinishReason::Error);
    assert_eq!(out[1].finish, FinishReason::Length);
    assert_eq!(out[1].output_tokens, 96);
    assert_eq!(eng.metrics().failures(), 1);
}

#[test]
fn engines_are_send() {
    fn send<T: Send>() {}
    send::<nimscale_core::engine::Engine<Roofline>>();
    send::<nimscale_core::engine::Engine<Box<dyn StepTimeModel>>>();
}

#[test]
fn llama_8b_parameter_counts_match_the_design_note() {
    let m = deployment().model;
    // gpu-model.md §4.2: 8.03 B parameters, P_lin 7.50 B, 14.96 GiB BF16.
    assert!((m.total_params() / 1e9 - 8.03).abs() < 0.01);
    assert!((m.linear_params() / 1e9 - 7.50).abs() < 0.01);
    assert!((m.total_params() * 2.0 / nimscale_core::engine::catalog::GIB - 14.96).abs() < 0.01);
}

/// Many clients saturate the serving front end before the GPU: throughput
/// plateaus at its capacity (one thread's work per request) and time to
/// first token grows with the queue in front of it; without the front end
/// the same engine serves more.
#[test]
fn the_front_end_caps_a_pod_at_high_concurrency() {
    use nimscale_core::engine::FrontEnd;
    use nimscale_core::engine::closed_loop::{ClosedLoop, closed_loop};
    use nimscale_core::time::SimDuration;
    let run = |fe: FrontEnd, c: u32| {
        let eng = roofline_engine(None, false, &EngineProfile::default());
        let mut cfg = eng.config().clone();
        cfg.frontend = fe;
        let mut eng = nimscale_core::engine::Engine::new(cfg, eng.model().clone(), SimTime::ZERO);
        let spec = ClosedLoop {
            concurrency: c,
            isl: 200,
            osl: 200,
            requests: c * 10,
            warmup: c * 2,
        };
        closed_loop(&mut eng, SimDuration::from_millis(3), spec)
    };
    // Twice the catalog's work, so that the front end, not this BF16
    // engine, is what limits.
    let f = deployment().model.frontend;
    let fe = FrontEnd {
        request_ns: 2 * f.request_ns,
        prompt_token_ns: 2 * f.prompt_token_ns,
        output_token_ns: 2 * f.output_token_ns,
    };
    let cap = fe.capacity_rps(200, 200);
    let few = run(fe, 20);
    let many = run(fe, 400);
    let bare = run(FrontEnd::default(), 400);
    assert!(few.requests_per_s < 0.8 * cap, "{few:?} vs {cap}");
    assert!(
        many.requests_per_s <= cap * 1.001 && many.requests_per_s > 0.9 * cap,
        "{many:?} vs {cap}"
    );
    assert!(
        bare.requests_per_s > 1.15 * many.requests_per_s,
        "{bare:?} vs {many:?}"
    );
    assert!(many.ttft > 10.0 * few.ttft, "{many:?} vs {few:?}");
}

/// The front end's work is CPU the pod uses: a CPU-based HPA sees it.
#[test]
fn the_front_ends_work_counts_as_pod_cpu() {
    let mut eng = roofline_engine(None, false, &EngineProfile::default());
    let reqs: Vec<RequestSpec> = (0..10)
        .map(|i| simple_request(i, SimTime::from_millis(i as i64 * 50), 300, 40))
        .collect();
    let out = drive(&mut eng, &reqs);
    assert_eq!(out.len(), 10);
    let fe = eng.config().frontend;
    let work = 10.0 * (fe.request_ns + 300 * fe.prompt_token_ns + 40 * fe.output_token_ns) as f64;
    let with = eng.usage(SimTime::ZERO).cpu_seconds;
    let mut cfg = eng.config().clone();
    cfg.frontend = nimscale_core::engine::FrontEnd::default();
    let mut bare = nimscale_core::engine::Engine::new(cfg, eng.model().clone(), SimTime::ZERO);
    drive(&mut bare, &reqs);
    let without = bare.usage(SimTime::ZERO).cpu_seconds;
    // Idle CPU over a slightly longer life, plus the work itself.
    assert!(with - without >= work * 1e-9, "{with} vs {without}");
    assert!(with - without < work * 1e-9 + 0.01, "{with} vs {without}");
}

/// Unchunked prefill (TensorRT-LLM's default context scheduling): a prompt
/// runs whole in a step whose budget it fits. Two 5,000-token prompts
/// waiting together with an 8,192-token budget: chunked, the first shares its step with
/// 3,191 tokens of the second; unchunked it runs alone, so its first token
/// comes sooner. A prompt longer than the whole budget still runs, alone.
#[test]
fn unchunked_prefill_runs_prompts_whole() {
    let chunked = EngineProfile {
        max_num_batched_tokens: Some(8192),
        enable_prefix_caching: false,
        ..EngineProfile::default()
    };
    let whole = EngineProfile {
        chunked_prefill: false,
        ..chunked.clone()
    };
    // Request 0's 8,000-token prefill keeps the engine busy while both
    // others reach the scheduler.
    let reqs = [
        simple_request(0, SimTime::ZERO, 8000, 2),
        simple_request(1, SimTime::from_millis(1), 5000, 2),
        simple_request(2, SimTime::from_millis(1), 5000, 2),
    ];
    let c = drive(&mut roofline_engine(None, false, &chunked), &reqs);
    let w = drive(&mut roofline_engine(None, false, &whole), &reqs);
    let ttft = |o: &[nimscale_core::engine::RequestOutcome], id: u64| {
        o.iter().find(|o| o.id == id).and_then(|o| o.ttft).unwrap()
    };
    // The first prompt's step holds 5,001 tokens instead of 8,192.
    assert!(
        ttft(&w, 1) < ttft(&c, 1) - 0.03,
        "{} vs {}",
        ttft(&w, 1),
        ttft(&c, 1)
    );
    let long = [simple_request(3, SimTime::ZERO, 10_000, 2)];
    let o = drive(&mut roofline_engine(None, false, &whole), &long);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].output_tokens, 2);
}
