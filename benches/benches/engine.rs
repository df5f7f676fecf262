//! Engine throughput: simulated requests per wall-second for one pod.
//!
//! Llama-3.1-8B BF16 on one H100 under open Poisson load (mean 1,000-token
//! prompts, 250-token outputs): 30 req/s (tens of running requests), 1 req/s
//! (a handful running), and 30 req/s with prefix hashes shared by 20
//! conversation families. Each iteration simulates `N` requests end to end, so the
//! reported time per iteration divided by `N` is the cost per request.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nimscale_core::engine::capacity::{self, EngineProfile};
use nimscale_core::engine::{
    Deployment, Dialect, Engine, EngineConfig, KvDtype, Precision, RequestSpec, Roofline,
    UsageModel, simple_request,
};
use nimscale_core::rng::Stream;
use nimscale_core::time::SimTime;
use nimscale_runner::catalog::Catalog;

const N: usize = 20_000;

fn deployment() -> Deployment {
    let catalog = Catalog::builtin().expect("the built-in catalog loads");
    Deployment {
        gpu: catalog.gpu("h100-sxm").expect("h100-sxm").clone(),
        model: (catalog.model("llama-3.1-8b-instruct"))
            .expect("llama-3.1-8b-instruct")
            .clone(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 1,
    }
}

fn workload(rate: f64, prefix: bool) -> Vec<RequestSpec> {
    let mut arr = Stream::named(1, "arrivals");
    let mut len = Stream::named(1, "lengths");
    let mut t = 0.0;
    (0..N)
        .map(|i| {
            t += arr.exponential(1.0 / rate);
            let p = len.geometric(1000.0) as u32;
            let o = len.geometric(250.0) as u32;
            let mut r = simple_request(i as u64, SimTime::from_micros((t * 1e6) as i64), p, o);
            if prefix {
                // 20 conversation families sharing their first 512-token chunks.
                let fam = len.below(20);
                let chunks = (p / 512) as u64;
                r.prefix = Some(Arc::from(
                    (0..chunks).map(|c| fam * 1000 + c).collect::<Vec<_>>(),
                ));
            }
            r
        })
        .collect()
}

fn run(reqs: &[RequestSpec]) -> u64 {
    let dep = deployment();
    let profile = EngineProfile::default();
    let cap = capacity::capacity(&dep, &profile).expect("fits");
    let cfg = EngineConfig {
        capacity: cap,
        prefix_caching: true,
        prefix_block_tokens: 512,
        dialect: Dialect::Nim1,
        model_name: "m".into(),
        exact_steps: false,
        record_outcomes: false,
        usage: UsageModel::default(),
        frontend: dep.model.frontend,
    };
    let mut e = Engine::new(cfg, Roofline::new(&dep), SimTime::ZERO);
    for r in reqs {
        while let Some(w) = e.next_wakeup() {
            if w > r.arrival {
                break;
            }
            e.advance(w);
        }
        e.submit(r.arrival, r.clone());
    }
    while let Some(w) = e.next_wakeup() {
        e.advance(w);
    }
    e.metrics().generation_tokens
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    for (name, rate, prefix) in [
        ("heavy-30rps", 30.0, false),
        ("light-1rps", 1.0, false),
        ("prefix-30rps", 30.0, true),
    ] {
        let reqs = workload(rate, prefix);
        g.bench_function(name, |b| b.iter(|| black_box(run(&reqs))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
