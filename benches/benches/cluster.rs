//! Cluster-simulation throughput: a simulated day of Llama-3.1-8B on H100 at
//! 100 requests/s on average with up to 32 pods (`scenarios/bench-24h-100rps.yaml`),
//! recording the per-second series and every HPA decision as `simulate` does.
//! Criterion reports time per run; requests per wall-second = 8.64 M / time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nimscale_core::sim::config::Recording;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files};

const SCENARIO: &str = include_str!("../../scenarios/bench-24h-100rps.yaml");

struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        Err(format!("{path}: the bench scenario is self-contained"))
    }
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin().expect("catalog");
    let sc =
        scenario::load(SCENARIO, "bench-24h-100rps.yaml", &NoFiles, &catalog).expect("scenario");
    let rec = Recording {
        timeseries: true,
        decisions: true,
    };
    let requests = sc
        .simulation(sc.seed, rec)
        .finish()
        .summary
        .requests
        .arrived;
    let mut g = c.benchmark_group("cluster");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("day_100rps_32pods", |b| {
        b.iter(|| {
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
