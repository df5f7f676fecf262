//! Cluster-simulation throughput, recording the per-second series and every
//! HPA decision as `simulate` does; criterion reports requests per
//! wall-second:
//! - a simulated day of Llama-3.1-8B on H100 at 100 requests/s on average
//!   with up to 32 pods (`scenarios/bench-24h-100rps.yaml`);
//! - one pod overloaded at 120 requests/s for 30 minutes, preempting all the
//!   time with a queue past 170,000 (`scenarios/bench-overload-1pod.yaml`);
//! - one pod through a 6-hour diurnal day, overloaded at the peak (648 k
//!   requests, `scenarios/bench-overload-6h-day.yaml`);
//! - the Mooncake conversation trace on 8 fixed pods with prefix caching
//!   (12,031 requests with ~12 k-token prompts,
//!   `scenarios/bench-mooncake-8pods.yaml`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nimscale_core::sim::config::Recording;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files};

const SCENARIOS: [(&str, &str, &str); 4] = [
    (
        "day_100rps_32pods",
        "bench-24h-100rps.yaml",
        include_str!("../../scenarios/bench-24h-100rps.yaml"),
    ),
    (
        "overload_120rps_1pod",
        "bench-overload-1pod.yaml",
        include_str!("../../scenarios/bench-overload-1pod.yaml"),
    ),
    (
        "overload_day_6h_1pod",
        "bench-overload-6h-day.yaml",
        include_str!("../../scenarios/bench-overload-6h-day.yaml"),
    ),
    (
        "mooncake_8pods",
        "bench-mooncake-8pods.yaml",
        include_str!("../../scenarios/bench-mooncake-8pods.yaml"),
    ),
];

/// Files a bench scenario names, relative to `scenarios/` (the trace).
struct Repo;

impl Files for Repo {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(path);
        std::fs::read(&p)
            .map(|b| (path.to_string(), b))
            .map_err(|e| format!("{}: {e}", p.display()))
    }
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin().expect("catalog");
    let rec = Recording {
        timeseries: true,
        decisions: true,
    };
    let mut g = c.benchmark_group("cluster");
    g.sample_size(10);
    for (id, file, text) in SCENARIOS {
        let sc = scenario::load(text, file, &Repo, &catalog).expect("scenario");
        let requests = sc
            .simulation(sc.seed, rec)
            .finish()
            .summary
            .requests
            .arrived;
        g.throughput(Throughput::Elements(requests));
        g.bench_function(id, |b| {
            b.iter(|| {
                sc.simulation(sc.seed, rec)
                    .finish()
                    .summary
                    .requests
                    .completed
            })
        });
    }
    // What dynamo-mocker's `simulate_trace_file` does per call, for the
    // comparison of issue 20: read the trace file (here gzip), parse it,
    // build the simulation and run it.
    let (_, file, text) = SCENARIOS[3];
    g.throughput(Throughput::Elements(12_031));
    g.bench_function("mooncake_8pods_load_and_run", |b| {
        b.iter(|| {
            let sc = scenario::load(text, file, &Repo, &catalog).expect("scenario");
            sc.simulation(sc.seed, rec)
                .finish()
                .summary
                .requests
                .completed
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
