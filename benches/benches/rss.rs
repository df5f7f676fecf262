//! Peak memory against the simulated horizon: memory must be bounded by
//! live state, never by the horizon (rows and decisions are written as the
//! run goes, as `nimscale simulate` does).
//!
//! Each (scenario, horizon) runs in a child process of this bench, which
//! reports its peak resident set (`VmHWM`); the table shows each horizon's
//! peak against the 1-hour run's. Scenarios: the bench day (direct metric
//! path, 100 req/s) and the VLM spike (the Prometheus path: scrapes, a
//! TSDB truncated to the adapter's windows, adapter queries).
//!
//! `cargo bench -p nimscale-benches --bench rss` (Linux; not in CI).

use std::io::Write;
use std::process::Command;

use nimscale_core::sim::config::Recording;
use nimscale_core::time::{SimDuration, SimTime};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files};

struct Repo;

impl Files for Repo {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(path);
        std::fs::read(&p)
            .map(|b| (p.display().to_string(), b))
            .map_err(|e| e.to_string())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The child: one run of `file` over `hours`, streamed as `simulate` does.
fn child(file: &str, hours: i64) {
    // `NAME#constant`: the scenario at a constant 100 req/s, so that every
    // horizon holds the same live state (the diurnal day's first hour is
    // its trough, with 4 pods where its peak has 32).
    let (file, constant) = match file.strip_suffix("#constant") {
        Some(f) => (f, true),
        None => (file, false),
    };
    let text = Repo.read(file).expect("scenario").1;
    let mut text = String::from_utf8(text).expect("utf-8");
    if constant {
        text = text.replace(
            "pattern: {kind: diurnal, mean: 100, amplitude: 70, period: 24h, phase: 18h}",
            "pattern: {kind: constant, rate: 100}",
        );
    }
    let cat = Catalog::builtin().expect("catalog");
    let mut sc = scenario::load(&text, file, &Repo, &cat).expect("loads");
    sc.duration = SimDuration::from_secs(hours * 3600);
    let mut sim = sc.simulation(
        sc.seed,
        Recording {
            timeseries: true,
            decisions: true,
        },
    );
    let columns = sim.columns().to_vec();
    let mut sink = std::io::sink();
    let mut text = String::new();
    let end = sim.end();
    let mut t = SimTime::ZERO;
    while t < end {
        t = (t + SimDuration::from_secs(600)).min(end);
        sim.run_until(t);
        text.clear();
        nimscale_output_rows(&columns, &mut sim, &mut text);
        sink.write_all(text.as_bytes()).expect("sink");
    }
    let res = sim.finish();
    println!("{} {}", res.summary.requests.arrived, peak_rss_kib());
}

/// Formats the rows and syncs taken so far, as `simulate` writes them.
fn nimscale_output_rows(
    columns: &[nimscale_core::sim::record::MetricColumn],
    sim: &mut nimscale_core::sim::world::Simulation<nimscale_core::engine::Roofline>,
    text: &mut String,
) {
    nimscale_output::simulate::timeseries_rows(columns, &sim.take_rows(), text);
    nimscale_output::simulate::decisions_lines(columns, &sim.take_syncs(), text);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().expect("hours"));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let me = std::env::current_exe().expect("exe");
    println!("scenario                          horizon   requests   peak RSS   vs 1 h");
    for file in [
        "bench-24h-100rps.yaml#constant",
        "bench-24h-100rps.yaml",
        "cosmos-vlm-spike.yaml",
    ] {
        let mut base = 0.0;
        for (label, hours) in [("1 h", 1), ("24 h", 24), ("7 d", 168)] {
            let out = Command::new(&me)
                .args(["--child", file, &hours.to_string()])
                .output()
                .expect("child");
            let text = String::from_utf8_lossy(&out.stdout);
            let mut f = text.split_whitespace();
            let requests: u64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            let kib: f64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
            if hours == 1 {
                base = kib;
            }
            println!(
                "{file:<33} {label:>7} {requests:>10} {:>7.1} MB {:>+7.1} %",
                kib / 1024.0,
                (kib / base - 1.0) * 100.0
            );
        }
    }
}
