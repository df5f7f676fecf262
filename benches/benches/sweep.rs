//! Sweep throughput: 8 points × 2 seeds of the VLM spike scenario cut to
//! 20 simulated minutes (16 runs, about 0.6 M requests), on a rayon pool of
//! 1 thread and of 2 threads. The speed-up is the ratio of the two medians.
//! Throughput counts completed requests (the second-to-last metric column).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::Files;
use nimscale_runner::sweep;

struct Scenarios;

impl Files for Scenarios {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(path);
        std::fs::read(&p)
            .map(|b| (path.to_string(), b))
            .map_err(|e| format!("{}: {e}", p.display()))
    }
}

const SWEEP: &str = "name: bench\nscenario: cosmos-vlm-spike.yaml\nseeds: 2\naxes:\n  duration: [20m]\n  nimservice.spec.scale.hpa.maxReplicas: [4, 6]\n  behavior: [vlm-guide, aggressive, conservative, k8s-default]\n";

fn bench(c: &mut Criterion) {
    let sw = sweep::load(
        SWEEP,
        "bench.yaml",
        &Scenarios,
        &Catalog::builtin().expect("catalog"),
    )
    .expect("sweep");
    let points: Vec<usize> = (0..sw.plan.points.len()).collect();
    let jobs = sweep::jobs(&sw, &points);
    let cancel = AtomicBool::new(false);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| sweep::run(&sw, &jobs, &cancel, &|_| {}))
    };
    let requests: u64 = run(1)
        .iter()
        .flatten()
        .map(|r| r.values[r.values.len() - 2] as u64)
        .sum();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    for threads in [1, 2] {
        g.bench_function(format!("16_runs_{threads}_threads"), |b| {
            b.iter(|| run(threads).len())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
