//! A fuzzer on stable Rust for every parser a user's file reaches, and for a
//! short simulation of whatever loads: scenarios (with the NIMService, the
//! prometheus-adapter ConfigMap and traces they name), sweep files,
//! NIMService admission and render, `hpa explain` files, OpenMetrics text,
//! PromQL and catalog files.
//!
//! Inputs are the checked-in corpus (`tests/data/fuzz/`: the cases that
//! crashed, hung or ran away before they were fixed, each named after its
//! class) and the shipped scenarios, mutated by a seeded generator: byte
//! flips, inserted and deleted lines, numbers replaced with hostile values
//! (0, -1, 1e300, NaN, 2^32 - 1, ...), deep nesting, repeated keys.
//! Every case runs under `catch_unwind` on a worker thread with a deadline:
//! a panic or a case over the deadline fails the test and writes the input
//! to `target/fuzz-failures/`, to be added to the corpus.
//!
//! `cargo test` runs the corpus and `NIMSCALE_FUZZ_SECS` seconds of
//! mutations (default 20); `NIMSCALE_FUZZ_SEED` picks the stream (default:
//! fixed, so CI is reproducible). A long run:
//! `NIMSCALE_FUZZ_SECS=3600 NIMSCALE_FUZZ_SEED=$RANDOM cargo test -p
//! nimscale-runner --test it fuzz -- --nocapture`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nimscale_core::sim::config::Recording;
use nimscale_core::time::SimDuration;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::limits::Limits;
use nimscale_runner::scenario::{self, Files};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Files served from memory first (the mutated ones), then from the
/// repository's `scenarios/` folder.
#[derive(Clone, Default)]
struct MemFiles(BTreeMap<String, Vec<u8>>);

impl Files for MemFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        if let Some(b) = self.0.get(path) {
            return Ok((path.to_string(), b.clone()));
        }
        let p = repo().join("scenarios").join(path);
        std::fs::read(&p)
            .map(|b| (p.display().to_string(), b))
            .map_err(|e| format!("cannot read {path}: {e}"))
    }
}

/// What a case feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Scenario,
    Sweep,
    NimService,
    Adapter,
    Trace,
    Explain,
    OpenMetrics,
    Promql,
    Catalog,
    Benchmark,
    HfConfig,
}

impl Target {
    fn of_file(name: &str) -> Option<Target> {
        let t = match name.split('-').next()? {
            "scenario" => Target::Scenario,
            "sweep" => Target::Sweep,
            "nimservice" => Target::NimService,
            "adapter" => Target::Adapter,
            "trace" => Target::Trace,
            "explain" => Target::Explain,
            "om" => Target::OpenMetrics,
            "promql" => Target::Promql,
            "catalog" => Target::Catalog,
            "benchmark" => Target::Benchmark,
            "hfconfig" => Target::HfConfig,
            _ => return None,
        };
        Some(t)
    }
}

/// The limits a fuzz case runs under: small, so a case is quick.
fn fuzz_limits() -> Limits {
    Limits {
        max_requests: 20_000.0,
        max_duration: SimDuration::from_secs(7200),
        max_pods: 64,
        ..Limits::default()
    }
}

/// Loads a scenario and, when it loads within the limits, simulates its
/// first 10 simulated minutes and formats every output.
fn scenario_case(text: &str, files: &MemFiles, cat: &Catalog) -> &'static str {
    let Ok(mut sc) = scenario::load(text, "fuzz.yaml", files, cat) else {
        return "refused";
    };
    if sc.check_limits(&fuzz_limits(), false).is_err() {
        return "over limits";
    }
    sc.duration = sc.duration.min(SimDuration::from_secs(600));
    let mut sim = sc.simulation(
        sc.seed,
        Recording {
            timeseries: true,
            decisions: true,
        },
    );
    sim.run_until(nimscale_core::time::SimTime::ZERO + SimDuration::from_secs(300));
    let _ = sim.take_rows();
    let res = sim.finish();
    let info = nimscale_output::simulate::RunInfo {
        scenario: sc.name.clone(),
        ..Default::default()
    };
    let human = nimscale_output::simulate::human_summary(&info, &res);
    // Figures only (the first line holds the scenario's name, which may
    // be any word, NaN included): no NaN, no negative latency, no
    // overflow bucket's edge passed off as a latency.
    let figures: String = human.lines().skip(1).collect::<Vec<_>>().join("\n");
    for bad in ["NaN", "inf ", "= -", "1099511"] {
        assert!(!figures.contains(bad), "{bad} printed:\n{human}");
    }
    let _ = nimscale_output::simulate::timeseries_csv(&res);
    let _ = nimscale_output::simulate::decisions_jsonl(&res);
    let _ = nimscale_output::simulate::summary_json(&info, &res);
    "simulated"
}

/// Evaluates `e` over `db` at one minute (errors are answers too).
fn eval_at_a_minute(
    db: &nimscale_core::metrics::tsdb::Tsdb,
    e: &nimscale_core::metrics::promql::Expr,
) -> &'static str {
    let _ = nimscale_core::metrics::promql::eval_instant(db, e, 60_000, Default::default());
    "parsed"
}

/// Runs one case of `target` on `text`; returns what became of it.
fn run_case(target: Target, text: &str, cat: &Catalog) -> &'static str {
    let shipped = |p: &str| std::fs::read_to_string(repo().join("scenarios").join(p)).unwrap();
    match target {
        Target::Scenario => scenario_case(text, &MemFiles::default(), cat),
        Target::Adapter | Target::NimService | Target::Trace => {
            // The file is served under the name a shipped scenario uses.
            let (base, name) = match target {
                Target::Adapter => ("cosmos-vlm-spike.yaml", "adapter/vlm-latency-fraction.yaml"),
                Target::NimService => (
                    "cosmos-vlm-spike.yaml",
                    "nimservice/cosmos-reason1-7b-latency.yaml",
                ),
                _ => ("fuzz-trace-base.yaml", "fuzz-trace.csv"),
            };
            if target == Target::NimService {
                // Admission and render alone, as `nimscale render` runs them.
                if let Ok(a) = nimscale_operator::admission::admit(text) {
                    let _ = nimscale_operator::render::render(&a, &Default::default());
                }
            }
            let base_text = if target == Target::Trace {
                TRACE_BASE.to_string()
            } else {
                shipped(base)
            };
            let mut files = MemFiles::default();
            files.0.insert(name.to_string(), text.as_bytes().to_vec());
            scenario_case(&base_text, &files, cat)
        }
        Target::Sweep => {
            match nimscale_runner::sweep::load(text, "fuzz.yaml", &MemFiles::default(), cat) {
                Ok(sw) => {
                    for sc in sw.scenarios.iter().flatten() {
                        let _ = sc.check_limits(&fuzz_limits(), false);
                    }
                    "loaded"
                }
                Err(_) => "refused",
            }
        }
        Target::Explain => match nimscale_runner::explain::parse(text, "fuzz.yaml") {
            Ok(input) => {
                let d = nimscale_runner::explain::run(&input);
                for x in &d {
                    let _ = nimscale_output::explain::render_decision(x, &input.hpa);
                }
                "replayed"
            }
            Err(_) => "refused",
        },
        Target::OpenMetrics => match nimscale_runner::openmetrics::parse(text, "fuzz.om") {
            Ok(db) => {
                let e = nimscale_core::metrics::promql::parse("sum(rate(x_total[1m]))").unwrap();
                eval_at_a_minute(&db, &e)
            }
            Err(_) => "refused",
        },
        Target::Promql => match nimscale_core::metrics::promql::parse(text) {
            Ok(e) => eval_at_a_minute(&nimscale_core::metrics::tsdb::Tsdb::new(), &e),
            Err(_) => "refused",
        },
        Target::Catalog => {
            let mut c = cat.clone();
            if c.extend(text, "fuzz.yaml").is_ok() {
                "loaded"
            } else {
                "refused"
            }
        }
        Target::HfConfig => {
            match nimscale_runner::hf::model_from_config(text, "fuzz.json", "fuzz", cat) {
                Ok((m, _)) => {
                    // A model that reads is resolved on a GPU, as a scenario
                    // would (fits or is refused, never a panic).
                    let mut c = cat.clone();
                    c.models.insert(m.name.clone(), m);
                    let opts = nimscale_runner::engine::EngineOptions {
                        gpu: "h100-sxm".into(),
                        model: "fuzz".into(),
                        precision: nimscale_core::engine::Precision::Bf16,
                        kv_dtype: nimscale_core::engine::KvDtype::Bf16,
                        tp: 1,
                        expert_parallel: false,
                        profile: Default::default(),
                    };
                    // One that fits gives finite, positive step times.
                    if let Ok(r) = nimscale_runner::engine::resolve(&c, &opts) {
                        use nimscale_core::engine::{BatchShape, StepTimeModel};
                        let model = nimscale_core::engine::Roofline::new(&r.deployment);
                        let mut shape = BatchShape::decode(7, 300.0);
                        shape.add_prefill(513, 100);
                        for s in [BatchShape::decode(1, 0.0), shape] {
                            let t = model.step_secs(&s);
                            assert!(t.is_finite() && t > 0.0, "{t} for {s:?}");
                        }
                    }
                    "loaded"
                }
                Err(_) => "refused",
            }
        }
        Target::Benchmark => match nimscale_runner::calibrate::read(text, "fuzz.json", None) {
            Ok(m) => {
                // A point that reads is replayed, as calibrate replays it
                // (bounded: the request count follows the concurrency).
                if m.concurrency <= 512 && m.isl.saturating_add(m.osl) <= 16_384 {
                    let opts = nimscale_runner::engine::EngineOptions {
                        gpu: "h100-sxm".into(),
                        model: "llama-3.1-8b-instruct".into(),
                        precision: nimscale_core::engine::Precision::Fp8,
                        kv_dtype: nimscale_core::engine::KvDtype::Fp8,
                        tp: 1,
                        expert_parallel: false,
                        profile: Default::default(),
                    };
                    if let Ok(r) = nimscale_runner::engine::resolve(cat, &opts) {
                        let _ = nimscale_runner::calibrate::errors(&r, &[m]);
                    }
                }
                "loaded"
            }
            Err(_) => "refused",
        },
    }
}

/// What each corpus case must become.
const EXPECTED: &[(&str, &str)] = &[
    ("catalog-bandwidth-1e-300.yaml", "refused"),
    ("explain-pods-1e8.yaml", "refused"),
    ("explain-replicas-2e31.yaml", "refused"),
    ("om-timestamp-huge.om", "refused"),
    ("promql-duration-overflow.txt", "refused"),
    ("promql-nested-5000.txt", "refused"),
    ("promql-unary-100000.txt", "refused"),
    ("scenario-20000-keys.yaml", "refused"),
    ("scenario-duration-1e300.yaml", "refused"),
    ("scenario-duration-3650d.yaml", "over limits"),
    ("scenario-frontend-delay-million-days.yaml", "refused"),
    ("scenario-lognormal-min-above-max.yaml", "refused"),
    ("scenario-lognormal-sigma-2e31.yaml", "refused"),
    ("scenario-min-replicas-million.yaml", "over limits"),
    ("scenario-name-absolute.yaml", "refused"),
    ("scenario-name-traversal.yaml", "refused"),
    ("scenario-percentile-fraction.yaml", "refused"),
    ("scenario-prompts-longer-than-context.yaml", "simulated"),
    ("scenario-rate-1e9.yaml", "over limits"),
    ("scenario-rate-multiplier-1e9.yaml", "over limits"),
    ("scenario-request-cap-0.yaml", "refused"),
    ("scenario-trace-skip-past-end.yaml", "simulated"),
    ("sweep-name-absolute.yaml", "refused"),
    ("sweep-name-traversal.yaml", "refused"),
    ("trace-one-instant-repeated.csv", "over limits"),
    ("trace-timestamp-overflow.csv", "refused"),
];

/// The scenario a fuzzed trace is replayed by (the trace is the file).
const TRACE_BASE: &str = "name: fuzz-trace\nseed: 1\nduration: 10m\nnimservice: {file: nimservice/llama3-8b-kv-cache.yaml}\nmodel: {gpu: h100-sxm, name: llama-3.1-8b-instruct}\ntraffic:\n  trace: {file: fuzz-trace.csv, format: csv, repeat: true}\nmetrics: {source: direct}\n";

/// splitmix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e9",
    "1e300",
    "-1e300",
    "1e-300",
    ".nan",
    ".inf",
    "-.inf",
    "NaN",
    "4294967295",
    "4294967296",
    "2147483647",
    "2147483648",
    "-2147483649",
    "18446744073709551616",
    "0.95",
    "1000000",
    "3650d",
    "1e300s",
    "0s",
    "-5s",
    "\"\"",
    "\"../../x\"",
    "\"/tmp/x\"",
    "[]",
    "{}",
    "null",
    "~",
    "true",
    "99999999999-01-01 00:00:00",
    // Plausible values, so that mutated files also get past the checks.
    "2",
    "3",
    "8",
    "16",
    "0.5",
    "0.9",
    "50",
    "100",
    "500",
    "30s",
    "1m",
    "10m",
    "250ms",
];

/// One to four mutations of `text`.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut s = text.to_string();
    // Mostly value changes, which keep the file readable and reach the
    // checks and the simulation behind the parser.
    for _ in 0..=rng.below(3) {
        s = match rng.below(16) {
            0..=5 => {
                // Replace a number.
                let spans: Vec<(usize, usize)> = number_spans(&s);
                if spans.is_empty() {
                    s
                } else {
                    let (a, b) = spans[rng.below(spans.len())];
                    format!(
                        "{}{}{}",
                        &s[..a],
                        HOSTILE[rng.below(HOSTILE.len())],
                        &s[b..]
                    )
                }
            }
            6..=8 => {
                // Replace a value after `: `.
                let idx: Vec<usize> = s.match_indices(": ").map(|(i, _)| i + 2).collect();
                if idx.is_empty() {
                    s
                } else {
                    let a = idx[rng.below(idx.len())];
                    let b = s[a..].find(['\n', ',', '}']).map_or(s.len(), |e| a + e);
                    format!(
                        "{}{}{}",
                        &s[..a],
                        HOSTILE[rng.below(HOSTILE.len())],
                        &s[b..]
                    )
                }
            }
            9 | 10 => {
                // Delete, duplicate or swap lines.
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    s
                } else {
                    let i = rng.below(lines.len());
                    match rng.below(3) {
                        0 => {
                            lines.remove(i);
                        }
                        1 => {
                            let l = lines[i];
                            for _ in 0..=rng.below(3) {
                                lines.insert(i, l);
                            }
                        }
                        _ => {
                            let j = rng.below(lines.len());
                            lines.swap(i, j);
                        }
                    }
                    lines.join("\n") + "\n"
                }
            }
            11 => {
                // A byte flip (kept UTF-8).
                let mut b = s.into_bytes();
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    let set = b"0123456789:-[]{}\"'#.e \n\t&*!|>%@`";
                    b[i] = set[rng.below(set.len())];
                }
                String::from_utf8_lossy(&b).into_owned()
            }
            12 => {
                // Deep nesting.
                let n = 1 + rng.below(3000);
                let (open, close) = match rng.below(3) {
                    0 => ("[", "]"),
                    1 => ("{a: ", "}"),
                    _ => ("(", ")"),
                };
                let at = rng.below(s.len() + 1);
                let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
                format!(
                    "{}{}1{}{}",
                    &s[..at],
                    open.repeat(n),
                    close.repeat(n),
                    &s[at..]
                )
            }
            13 => {
                // Truncate.
                let at = rng.below(s.len() + 1);
                let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
                s[..at].to_string()
            }
            14 => {
                // Many keys.
                let n = 1 + rng.below(20_000);
                let mut t = s;
                t.push_str("\nextra:\n");
                for i in 0..n {
                    t.push_str(&format!("  k{i}: {i}\n"));
                }
                t
            }
            _ => {
                // Splice a line from elsewhere in the text.
                let lines: Vec<&str> = s.lines().collect();
                if lines.len() < 2 {
                    s
                } else {
                    let mut out: Vec<&str> = lines.clone();
                    out.insert(rng.below(lines.len()), lines[rng.below(lines.len())]);
                    out.join("\n") + "\n"
                }
            }
        };
    }
    s
}

fn number_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let a = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push((a, i));
        }
        i += 1;
    }
    out
}

/// Seeds: the corpus and the shipped inputs of each target.
fn seeds() -> Vec<(Target, String, String)> {
    let mut out = Vec::new();
    let corpus = repo().join("crates/runner/tests/data/fuzz");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(t) = Target::of_file(&name) {
            out.push((t, name, std::fs::read_to_string(&p).unwrap()));
        }
    }
    let shipped = |dir: &str, t: Target, out: &mut Vec<(Target, String, String)>| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        v.sort();
        for p in v {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            let ok = match t {
                Target::Scenario => {
                    !(n.starts_with("hpa-explain")
                        || n.starts_with("export")
                        || n.starts_with("sweep")
                        || n.starts_with("bench"))
                }
                Target::Explain => n.starts_with("hpa-explain"),
                Target::Sweep => n.starts_with("sweep"),
                _ => true,
            };
            if ok {
                out.push((
                    t,
                    format!("{dir}/{n}"),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    };
    shipped("scenarios", Target::Scenario, &mut out);
    shipped("scenarios", Target::Explain, &mut out);
    shipped("scenarios", Target::Sweep, &mut out);
    shipped("scenarios/nimservice", Target::NimService, &mut out);
    shipped("scenarios/adapter", Target::Adapter, &mut out);
    // Hugging Face model configs: the shipped ones (MoE, MLA, windows,
    // heterogeneous blocks) and the examples.
    for (name, text) in nimscale_runner::catalog::SHIPPED_CONFIGS {
        out.push((Target::HfConfig, name.to_string(), text.to_string()));
    }
    for p in std::fs::read_dir(repo().join("examples/models"))
        .unwrap()
        .flatten()
    {
        let p = p.path();
        if p.extension().is_some_and(|x| x == "json") {
            out.push((
                Target::HfConfig,
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    // The benchmark files calibrate reads (AIPerf JSON examples).
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples/calibrate"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("profile_export_aiperf.json"))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    for p in v {
        out.push((
            Target::Benchmark,
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    out
}

/// Runs `text` as `target` on a worker thread; `Err` says what went wrong.
fn guarded(
    target: Target,
    text: String,
    cat: &Catalog,
    deadline: Duration,
) -> Result<&'static str, String> {
    let (tx, rx) = mpsc::channel();
    let cat = cat.clone();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_case(target, &text, &cat)
            }));
            let _ = tx.send(r.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            }));
        })
        .unwrap();
    match rx.recv_timeout(deadline) {
        Ok(Ok(what)) => Ok(what),
        Ok(Err(msg)) => Err(format!("panic: {msg}")),
        Err(_) => Err(format!("hang: over {} s", deadline.as_secs())),
    }
}

fn save_failure(target: Target, text: &str, why: &str, n: usize) -> PathBuf {
    let dir = repo().join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!("{target:?}-{n}.txt").to_lowercase());
    let _ = std::fs::write(&p, format!("# {why}\n{text}"));
    p
}

#[test]
fn fuzz() {
    let cat = Catalog::builtin().unwrap();
    let secs: u64 = std::env::var("NIMSCALE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("NIMSCALE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6e69_6d73);
    // A case's deadline: generous for a debug build on a busy machine, far
    // below what an unbounded loop or allocation would take.
    let deadline = Duration::from_secs(60);
    let seeds = seeds();
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    // The corpus and the shipped inputs as they are; corpus cases must
    // become what the table says.
    for (t, name, text) in &seeds {
        match guarded(*t, text.clone(), &cat, deadline) {
            Ok(w) => {
                *outcomes.entry(w).or_default() += 1;
                if let Some((_, want)) = EXPECTED.iter().find(|(n, _)| n == name)
                    && *want != w
                {
                    failures.push(format!("{name}: {w}, expected {want}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    for (n, _) in EXPECTED {
        assert!(
            seeds.iter().any(|(_, name, _)| name == n),
            "corpus file {n} is missing"
        );
    }
    // Mutations until the budget is spent.
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut cases = 0usize;
    let mut slowest = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(secs) && failures.len() < 5 {
        let (t, name, text) = &seeds[rng.below(seeds.len())];
        let m = mutate(text, &mut rng);
        let t0 = Instant::now();
        match guarded(*t, m.clone(), &cat, deadline) {
            Ok(w) => *outcomes.entry(w).or_default() += 1,
            Err(e) => {
                let p = save_failure(*t, &m, &e, cases);
                failures.push(format!(
                    "mutation of {name}: {e} (input in {})",
                    p.display()
                ));
            }
        }
        slowest = slowest.max(t0.elapsed());
        cases += 1;
    }
    println!(
        "fuzz: {} corpus and shipped inputs, {cases} mutated cases in {:.0} s (seed {seed}), slowest {:.2} s; outcomes {outcomes:?}; {} crashes or hangs",
        seeds.len(),
        start.elapsed().as_secs_f64(),
        slowest.as_secs_f64(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mutations_are_reproducible_and_varied() {
    let text = "a: 1\nb: [2, 3]\nc: {d: 4.5}\n";
    let m1: Vec<String> = {
        let mut r = Rng(7);
        (0..50).map(|_| mutate(text, &mut r)).collect()
    };
    let m2: Vec<String> = {
        let mut r = Rng(7);
        (0..50).map(|_| mutate(text, &mut r)).collect()
    };
    assert_eq!(m1, m2);
    let distinct: std::collections::BTreeSet<&String> = m1.iter().collect();
    assert!(distinct.len() > 40, "{}", distinct.len());
    assert!(Path::new(&repo().join("crates/runner/tests/data/fuzz")).is_dir());
}
