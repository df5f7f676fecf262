//! The `nimscale` command: argument parsing, file I/O and printing around the
//! pure libraries. The only crate that touches files, the environment, the
//! wall clock or stdout (R2).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod fail;
mod outdir;
mod report;
mod simulate;
mod sweep;

#[derive(Parser)]
#[command(
    name = "nimscale",
    version,
    about = "Autoscaling simulator and capacity planner for NVIDIA NIM on Kubernetes",
    after_help = fail::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The Kubernetes HorizontalPodAutoscaler, reproduced bit for bit.
    Hpa {
        #[command(subcommand)]
        command: HpaCommand,
    },
    /// One GPU inference engine (a pod's worth of GPUs): step times, KV
    /// capacity, closed-loop benchmarks.
    Engine {
        #[command(subcommand)]
        command: EngineCommand,
    },
    /// Print, as multi-document YAML, the objects the NIM Operator creates
    /// from a NIMService (in its creation order). Exit 2: the NIMService is
    /// refused at admission (the exact kubectl message on stderr); exit 3:
    /// admitted, but the operator fails or stops part-way (the objects it
    /// created first are printed, then the error and an explanation).
    Render {
        /// A NIMService YAML file, optionally with existing NIMCache objects.
        file: PathBuf,
        /// UID to put in owner references (the API server assigns the real one).
        #[arg(long, default_value = nimscale_output::k8s::render::PLACEHOLDER_UID)]
        uid: String,
    },
    /// Write the deployable bundle for a NIMService or a winner/scenario
    /// file: nimservice.yaml (with NIMCache), adapter-rules.yaml,
    /// operator-objects.yaml and README.md. Replaces only an earlier
    /// nimscale output, and only with --force.
    Export {
        /// A NIMService file, or a file with `nimservice:` (and optionally
        /// `nimcaches:`, `modelCache:`, `adapter:`, `summary:`).
        file: PathBuf,
        /// Output directory, written in one step: it must not exist, be
        /// empty, or (with --force) be an earlier nimscale output.
        #[arg(long)]
        out: PathBuf,
        /// Replace an earlier nimscale output at --out (never anything else).
        #[arg(long)]
        force: bool,
    },
    /// Simulate a scenario: traffic, the Service, pods starting and
    /// draining, GPU nodes, the cluster autoscaler and the HPA, second by
    /// second. Writes timeseries.csv, decisions.jsonl and summary.json into
    /// --out (default reports/<scenario name>/), atomically, never over an
    /// existing run unless --force.
    Simulate {
        /// A scenario file (see `nimscale schema`).
        scenario: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an earlier nimscale output at the output path (a directory
        /// nimscale did not write is never replaced).
        #[arg(long)]
        force: bool,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Extra GPU/model catalog files.
        #[arg(long)]
        catalog: Vec<PathBuf>,
        /// Also write every series Prometheus stored (and what the HPA
        /// received) as OpenMetrics text with timestamps, for
        /// `promtool tsdb create-blocks-from openmetrics` or `nimscale promql`.
        #[arg(long)]
        metrics_out: Option<PathBuf>,
        /// Unix time (seconds) the simulation's time zero stands for in
        /// --metrics-out (default 2026-01-01T00:00:00Z).
        #[arg(long, default_value_t = 1_767_225_600)]
        metrics_epoch: i64,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Print the scenario file's JSON Schema.
    Schema,
    /// Run a sweep: every point of its axes (Cartesian product or explicit
    /// combinations) under every trace and seed, in parallel. Writes
    /// results.csv (one row per run), summary.csv (mean and 95 % CI per
    /// point), pareto.csv and winner.yaml (the cheapest point meeting the
    /// SLO attainment threshold; `nimscale export` takes it) into --out
    /// (default reports/<sweep name>/), atomically, never over an existing
    /// run without --force. Output is byte-identical for any --threads.
    Sweep {
        /// A sweep file (name, scenario, seeds, axes or combinations,
        /// traces, objective).
        sweep: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an earlier nimscale output at the output path (a directory
        /// nimscale did not write is never replaced).
        #[arg(long)]
        force: bool,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard I of N (0 ≤ I < N): every N-th point from I.
        /// Writes results.csv and shard.json; `nimscale merge` combines them.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Print a Kubernetes Indexed Job running the sweep in N shards
        /// (one per completion index, results to a volume) and exit.
        #[arg(long, value_name = "N")]
        emit_job: Option<usize>,
        /// Container image for --emit-job (must hold nimscale and the files).
        #[arg(long, default_value = "nimscale:latest")]
        image: String,
        /// PersistentVolumeClaim the shards write to (--emit-job).
        #[arg(long, default_value = "nimscale-results")]
        claim: String,
        /// Extra GPU/model catalog files.
        #[arg(long)]
        catalog: Vec<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Run presets side by side over a scenario's traffic (or --trace
    /// files) and seeds, and print a table (with --out, also the sweep
    /// files). Behaviour presets: conservative, aggressive, vlm-guide,
    /// k8s-default, none; metric presets: cpu70, memory80, kv-cache-0.7,
    /// kv-cache-0.75, kv-cache-0.8, latency-fraction-400m,
    /// request-rate-per-pod, queue-depth (both kinds: every combination).
    Compare {
        /// A scenario file.
        scenario: PathBuf,
        /// A preset (repeat).
        #[arg(long = "preset")]
        presets: Vec<String>,
        /// A trace file to replay instead of the scenario's traffic (repeat).
        #[arg(long = "trace")]
        traces: Vec<PathBuf>,
        /// Seeds per preset and trace (1 to 1000).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
        seeds: u32,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the sweep files here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an earlier nimscale output at --out (never anything else).
        #[arg(long)]
        force: bool,
        /// Extra GPU/model catalog files.
        #[arg(long)]
        catalog: Vec<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Combine the directories of `sweep --shard I/N` runs into exactly the
    /// files one unsharded run writes.
    Merge {
        /// Shard directories (each with results.csv and shard.json).
        dirs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Replace an earlier nimscale output at the output path (a directory
        /// nimscale did not write is never replaced).
        #[arg(long)]
        force: bool,
    },
    /// Draw the report of a `simulate` run or of a `sweep`/`compare`/`merge`
    /// output: one self-contained HTML file (inline SVG and CSS, the font
    /// embedded, no script, nothing fetched), Markdown with PNG charts, or
    /// the PNG charts alone. Written into DIR/report unless --out; never
    /// over an earlier report without --force.
    Report {
        /// The output directory of `simulate`, `sweep`, `compare` or `merge`.
        dir: PathBuf,
        /// Formats, comma-separated: html, md, png.
        #[arg(long, default_value = "html", value_delimiter = ',')]
        format: Vec<String>,
        /// Output directory (default DIR/report).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an earlier nimscale report at the output path (never
        /// anything else).
        #[arg(long)]
        force: bool,
    },
    /// Evaluate a PromQL instant query, as Prometheus would, over series
    /// read from an OpenMetrics text file with timestamps (the format
    /// `promtool tsdb create-blocks-from openmetrics` reads). Prints one JSON
    /// line per result element, `{"metric": {labels}, "value": number}`
    /// sorted by labels (`{"scalar": number}` for a scalar); NaN and
    /// infinities are printed as the strings "NaN", "+Inf", "-Inf".
    Promql {
        /// OpenMetrics text file with a timestamp on every sample.
        #[arg(long)]
        input: PathBuf,
        /// The PromQL expression.
        #[arg(long)]
        expr: String,
        /// Evaluation time in seconds, on the file's clock.
        #[arg(long)]
        time: f64,
        /// The Prometheus major version whose rules apply: 3 (left-open
        /// windows) or 2 (closed windows, as Debian's 2.42).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
        prometheus: u8,
        /// `--query.lookback-delta` for instant selectors.
        #[arg(long, default_value = "5m")]
        lookback: String,
    },
}

#[derive(Subcommand)]
enum EngineCommand {
    /// Time of one engine step in which B sequences each decode one token
    /// attending over C cached tokens and P sequences each prefill T new
    /// tokens; prints one JSON object.
    StepTime {
        #[command(flatten)]
        dep: DeploymentArgs,
        /// Decoding sequences (B).
        #[arg(long, default_value_t = 1)]
        decode_seqs: u32,
        /// Cached tokens each decoding sequence attends over (C).
        #[arg(long, default_value_t = 1024)]
        context: u32,
        /// Sequences prefilling in the step (P).
        #[arg(long, default_value_t = 0)]
        prefill_seqs: u32,
        /// New prompt tokens per prefilling sequence (T).
        #[arg(long, default_value_t = 0)]
        prefill_tokens: u32,
    },
    /// vLLM's start-up memory plan: weights, KV blocks and tokens, limits and
    /// the largest batch; prints one JSON object.
    Capacity {
        #[command(flatten)]
        dep: DeploymentArgs,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Tokens per request (prompt + output) for `largest_batch`
        /// (default: max_model_len).
        #[arg(long)]
        context: Option<u32>,
    },
    /// AIPerf-style closed loop: CONCURRENCY clients each send ISL-token
    /// prompts for OSL tokens, back to back; prints mean TTFT, ITL and
    /// throughput as one JSON object.
    Benchmark {
        #[command(flatten)]
        dep: DeploymentArgs,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Concurrent clients (1 to 100,000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        concurrency: u32,
        /// Prompt tokens per request (1 to 10,000,000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        isl: u32,
        /// Output tokens per request (1 to 10,000,000).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        osl: u32,
        /// Requests measured after warm-up (1 to 10,000,000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        requests: u32,
    },
}

/// Work limits checked before a run starts (see `nimscale_runner::limits`).
#[derive(clap::Args, Clone, Copy)]
pub struct LimitArgs {
    /// Most requests a run may be expected to send (the traffic's rate
    /// integral over the horizon).
    #[arg(long, default_value_t = 500_000_000, value_name = "N")]
    max_requests: u64,
    /// Longest simulated horizon, e.g. 31d (timeseries.csv has a row per
    /// simulated second).
    #[arg(long, default_value = "31d", value_parser = parse_limit_duration, value_name = "DURATION")]
    max_duration: nimscale_core::time::SimDuration,
    /// Most pods a run may hold (replicas, or the HPA's maxReplicas).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_pods: u64,
}

fn parse_limit_duration(s: &str) -> Result<nimscale_core::time::SimDuration, String> {
    nimscale_runner::scenario::parse_duration(s)
}

impl LimitArgs {
    /// The runner's limits.
    pub fn limits(&self) -> nimscale_runner::limits::Limits {
        nimscale_runner::limits::Limits {
            max_requests: self.max_requests as f64,
            max_duration: self.max_duration,
            max_pods: self.max_pods,
            ..Default::default()
        }
    }
}

#[derive(clap::Args)]
struct DeploymentArgs {
    /// GPU catalog key (h100-sxm, h100-pcie, h200, a100-80gb, a100-40gb, l40s, b200).
    #[arg(long)]
    gpu: String,
    /// Model catalog key (llama-3.1-8b-instruct, llama-3.1-70b-instruct, cosmos-reason1-7b).
    #[arg(long)]
    model: String,
    /// Weight precision.
    #[arg(long, default_value = "bf16", value_parser = ["bf16", "fp8"])]
    precision: String,
    /// KV-cache element type.
    #[arg(long, default_value = "bf16", value_parser = ["bf16", "auto", "fp8"])]
    kv_cache_dtype: String,
    /// Tensor-parallel degree (GPUs per pod).
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// Extra catalog file(s) with `gpus:` / `models:` entries.
    #[arg(long)]
    catalog: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// `--gpu-memory-utilization`.
    #[arg(long, default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// `--max-num-seqs` (default: vLLM's for the GPU).
    #[arg(long)]
    max_num_seqs: Option<u32>,
    /// `--max-num-batched-tokens` (default: vLLM's for the GPU).
    #[arg(long)]
    max_num_batched_tokens: Option<u32>,
    /// `--max-model-len` (default: the model's, capped by KV capacity).
    #[arg(long)]
    max_model_len: Option<u32>,
    /// `--block-size`.
    #[arg(long, default_value_t = 16)]
    block_size: u32,
    /// A NIM profile's concurrent-request cap (`num_request_max`).
    #[arg(long)]
    num_request_max: Option<u32>,
}

impl ProfileArgs {
    fn profile(&self) -> nimscale_core::engine::EngineProfile {
        nimscale_core::engine::EngineProfile {
            gpu_memory_utilization: self.gpu_memory_utilization,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            max_model_len: self.max_model_len,
            block_size: self.block_size,
            request_cap: self.num_request_max,
            ..Default::default()
        }
    }
}

/// Resolves deployment arguments; `Err` carries a user-facing message.
fn resolve_engine(
    dep: &DeploymentArgs,
    profile: nimscale_core::engine::EngineProfile,
) -> anyhow::Result<Result<nimscale_runner::engine::Resolved, String>> {
    use nimscale_runner::catalog::{self, Catalog};
    let mut cat = Catalog::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in &dep.catalog {
        let name = f.display().to_string();
        let text = fail::read_input(f)?;
        if let Err(e) = cat.extend(&text, &name) {
            return Ok(Err(e.to_string()));
        }
    }
    let opts = nimscale_runner::engine::EngineOptions {
        gpu: dep.gpu.clone(),
        model: dep.model.clone(),
        precision: match catalog::parse_precision(&dep.precision) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        },
        kv_dtype: match catalog::parse_kv_dtype(&dep.kv_cache_dtype) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        },
        tp: dep.tp,
        profile,
    };
    Ok(nimscale_runner::engine::resolve(&cat, &opts))
}

fn run_engine(command: EngineCommand) -> anyhow::Result<ExitCode> {
    use nimscale_core::engine::{BatchShape, EngineProfile, Roofline, StepTimeModel};
    let (dep, profile) = match &command {
        EngineCommand::StepTime { dep, .. } => (dep, EngineProfile::default()),
        EngineCommand::Capacity { dep, profile, .. }
        | EngineCommand::Benchmark { dep, profile, .. } => (dep, profile.profile()),
    };
    let resolved = match resolve_engine(dep, profile)? {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    match command {
        EngineCommand::StepTime {
            decode_seqs,
            context,
            prefill_seqs,
            prefill_tokens,
            ..
        } => {
            let mut shape = BatchShape::decode(decode_seqs, f64::from(context));
            for _ in 0..prefill_seqs {
                shape.add_prefill(prefill_tokens, 0);
            }
            let t = Roofline::new(&resolved.deployment).step(&shape);
            let json = nimscale_output::engine::step_time_json(
                &resolved.deployment,
                &shape,
                f64::from(context),
                prefill_tokens,
                &t,
            );
            writeln!(out, "{json}")?;
        }
        EngineCommand::Capacity { context, .. } => {
            let cap = &resolved.capacity;
            let tokens = context.unwrap_or(cap.max_model_len);
            writeln!(
                out,
                "{}",
                nimscale_output::engine::capacity_json(&resolved.deployment, cap, tokens)
            )?;
        }
        EngineCommand::Benchmark {
            concurrency,
            isl,
            osl,
            requests,
            ..
        } => {
            use nimscale_runner::benchmark::steady_state;
            if concurrency == 0 || isl == 0 || osl == 0 || requests == 0 {
                errln!("error: --concurrency, --isl, --osl and --requests must be positive");
                return Ok(ExitCode::from(2));
            }
            if isl.saturating_add(osl) > resolved.capacity.max_model_len {
                errln!(
                    "error: --isl {isl} + --osl {osl} tokens exceed the engine's max_model_len {}: no request could be served",
                    resolved.capacity.max_model_len
                );
                return Ok(ExitCode::from(2));
            }
            let s = steady_state(&resolved, concurrency, isl, osl, requests);
            let figures = [
                s.ttft,
                s.itl,
                s.e2e,
                s.output_tokens_per_s,
                s.requests_per_s,
            ];
            if figures.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                errln!(
                    "error: the benchmark gave figures nimscale cannot stand behind (TTFT {} s, ITL {} s, {} tok/s); check the catalog entries' figures",
                    s.ttft,
                    s.itl,
                    s.output_tokens_per_s
                );
                return Ok(ExitCode::from(2));
            }
            let figures = nimscale_output::engine::BenchmarkFigures {
                ttft: s.ttft,
                itl: s.itl,
                e2e: s.e2e,
                output_tokens_per_s: s.output_tokens_per_s,
                requests_per_s: s.requests_per_s,
                measured: s.measured,
            };
            let json = nimscale_output::engine::benchmark_json(
                &resolved.deployment,
                concurrency,
                isl,
                osl,
                &figures,
            );
            writeln!(out, "{json}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum HpaCommand {
    /// Replay a sequence of HPA inputs (spec, pods, metric values, times) and
    /// print each decision with its reasons.
    Explain {
        /// A YAML or JSON file; see `scenarios/hpa-explain-*.yaml`.
        file: PathBuf,
    },
}

fn run_render(file: PathBuf, uid: String) -> anyhow::Result<ExitCode> {
    use nimscale_output::k8s::{admission, render, yaml};
    let name = file.display().to_string();
    let text = fail::read_input(&file)?;
    let admitted = match admission::admit(&text) {
        Ok(a) => a,
        Err(r) => {
            errln!("{}", r.detailed(&name));
            return Ok(ExitCode::from(2));
        }
    };
    for w in &admitted.warnings {
        errln!("Warning: {w}");
    }
    let unsupported = render::unsupported(&admitted.nimservice.spec);
    if !unsupported.is_empty() {
        for u in &unsupported {
            let pos = admitted
                .source
                .locate(&nimscale_output::k8s::node::FieldPath::parse(&u.field).0);
            errln!(
                "error: {name}:{pos}: {}: nimscale does not render this: {}",
                u.field,
                u.what
            );
        }
        return Ok(ExitCode::from(2));
    }
    let opts = render::RenderOptions {
        uid,
        ..Default::default()
    };
    let rendered = render::render(&admitted, &opts);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", yaml::to_yaml_stream(&rendered.objects))?;
    out.flush()?;
    drop(out);
    for n in &rendered.notes {
        errln!("note: {n}");
    }
    if let Some(f) = &rendered.failure {
        errln!(
            "error: the NIM Operator admits this NIMService but fails to reconcile it; the objects above are those created before the failure."
        );
        errln!("operator error: {}", f.error);
        errln!("why: {}", f.explanation);
        return Ok(ExitCode::from(3));
    }
    if let Some(w) = &rendered.waiting {
        errln!("error: the NIM Operator stops before the Deployment: {w}");
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_export(file: PathBuf, out: PathBuf, force: bool) -> anyhow::Result<ExitCode> {
    use nimscale_output::k8s::bundle;
    let name = file.display().to_string();
    let text = fail::read_input(&file)?;
    let (admitted, req) = match bundle::read_export_input(&text) {
        Ok(x) => x,
        Err(r) => {
            errln!("{}", r.detailed(&name));
            return Ok(ExitCode::from(2));
        }
    };
    let b = match bundle::export(&admitted, &req) {
        Ok(b) => b,
        Err(e) => {
            errln!("error: {name}: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    // The bundle is one directory, put in place in one step: its files
    // never disagree, and only an earlier bundle is replaced (--force).
    let files: Vec<(&str, &[u8])> = b
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.content.as_bytes()))
        .collect();
    outdir::write_dir(&out, &files, force, "export")?;
    for w in &admitted.warnings {
        errln!("Warning: {w}");
    }
    for l in &b.lints {
        errln!("lint {}: {}: {}", l.code, l.field, l.message);
    }
    let mut stdout = std::io::stdout().lock();
    for f in &b.files {
        writeln!(stdout, "{}", out.join(&f.name).display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else if v.is_nan() {
        serde_json::json!("NaN")
    } else if v > 0.0 {
        serde_json::json!("+Inf")
    } else {
        serde_json::json!("-Inf")
    }
}

fn run_promql(
    input: &std::path::Path,
    expr: &str,
    time: f64,
    prometheus: u8,
    lookback: &str,
) -> anyhow::Result<ExitCode> {
    use nimscale_core::metrics::promql::{self, EvalOptions, PromVersion, Value};
    let Some(lookback_ms) = promql::parse_duration_ms(lookback).filter(|d| *d > 0) else {
        errln!("error: --lookback: bad duration \"{lookback}\" (for example 5m or 30s)");
        return Ok(ExitCode::from(2));
    };
    if !time.is_finite() {
        errln!("error: --time: must be a finite number of seconds");
        return Ok(ExitCode::from(2));
    }
    let e = match promql::parse(expr) {
        Ok(e) => e,
        Err(err) => {
            errln!("error: --expr: {err}");
            errln!("  {expr}");
            errln!("  {}^", " ".repeat(err.column.saturating_sub(1)));
            return Ok(ExitCode::from(2));
        }
    };
    let name = input.display().to_string();
    let text = fail::read_input(input)?;
    let db = match nimscale_runner::openmetrics::parse(&text, &name) {
        Ok(db) => db,
        Err(errs) => {
            errln!("error: {errs}");
            return Ok(ExitCode::from(2));
        }
    };
    let opts = EvalOptions {
        version: if prometheus == 2 {
            PromVersion::V2
        } else {
            PromVersion::V3
        },
        lookback_ms,
    };
    let (value, _) = match promql::eval_instant(&db, &e, (time * 1000.0) as i64, opts) {
        Ok(v) => v,
        Err(err) => {
            errln!("error: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    match value {
        Value::Scalar(s) => writeln!(out, "{}", serde_json::json!({"scalar": json_number(s)}))?,
        Value::Vector(mut v) => {
            v.sort_by(|a, b| a.labels.cmp(&b.labels));
            for s in v {
                let metric: serde_json::Map<String, serde_json::Value> = s
                    .labels
                    .pairs()
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"metric": metric, "value": json_number(s.value)})
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Engine { command } => run_engine(command),
        Command::Render { file, uid } => run_render(file, uid),
        Command::Export { file, out, force } => run_export(file, out, force),
        Command::Simulate {
            scenario,
            out,
            force,
            seed,
            catalog,
            metrics_out,
            metrics_epoch,
            limits,
        } => simulate::run(
            &scenario,
            simulate::Options {
                out,
                force,
                seed,
                metrics_out,
                metrics_epoch,
                limits: limits.limits(),
            },
            &catalog,
        ),
        Command::Promql {
            input,
            expr,
            time,
            prometheus,
            lookback,
        } => run_promql(&input, &expr, time, prometheus, &lookback),
        Command::Sweep {
            sweep,
            out,
            force,
            threads,
            shard,
            emit_job,
            image,
            claim,
            catalog,
            limits,
        } => sweep::run_sweep(sweep::SweepArgs {
            file: sweep,
            out,
            force,
            threads,
            shard,
            emit_job,
            image,
            claim,
            catalogs: catalog,
            limits: limits.limits(),
        }),
        Command::Compare {
            scenario,
            presets,
            traces,
            seeds,
            threads,
            out,
            force,
            catalog,
            limits,
        } => sweep::run_compare(sweep::CompareArgs {
            scenario,
            presets,
            traces,
            seeds,
            threads,
            out,
            force,
            catalogs: catalog,
            limits: limits.limits(),
        }),
        Command::Merge { dirs, out, force } => sweep::run_merge(&dirs, &out, force),
        Command::Report {
            dir,
            format,
            out,
            force,
        } => report::run_report(report::ReportArgs {
            dir,
            formats: format,
            out,
            force,
        }),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            write!(out, "{}", nimscale_runner::scenario::schema_text())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hpa {
            command: HpaCommand::Explain { file },
        } => {
            let name = file.display().to_string();
            let text = fail::read_input(&file)?;
            let input = match nimscale_runner::explain::parse(&text, &name) {
                Ok(i) => i,
                Err(e) => {
                    errln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let decisions = nimscale_runner::explain::run(&input);
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", nimscale_output::explain::render_hpa(&input.hpa))?;
            writeln!(
                out,
                "{}",
                nimscale_output::explain::render_config(&input.config)
            )?;
            for d in &decisions {
                writeln!(out)?;
                write!(
                    out,
                    "{}",
                    nimscale_output::explain::render_decision(d, &input.hpa)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout (exit 0), usage errors to
            // stderr (exit 2); a failing stream is not a panic.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => fail::exit_code(&e),
    }
}
