//! Cluster-simulation throughput, recording the per-second series and every
//! HPA decision as `simulate` does; criterion reports requests per
//! wall-second:
//! - a simulated day of Llama-3.1-8B on H100 at 100 requests/s on average
//!   with up to 32 pods (`scenarios/bench-24h-100rps.yaml`);
//! - one pod overloaded at 120 requests/s for 30 minutes, preempting all the
//!   time with a queue past 170,000 (`scenarios/bench-overload-1pod.yaml`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nimscale_core::sim::config::Recording;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files};

const SCENARIOS: [(&str, &str, &str); 2] = [
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
];

struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        Err(format!("{path}: the bench scenario is self-contained"))
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
        let sc = scenario::load(text, file, &NoFiles, &catalog).expect("scenario");
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
