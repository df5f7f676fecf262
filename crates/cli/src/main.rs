//! The `nimscale` command: argument parsing, file I/O and printing around the
//! pure libraries. The only crate that touches files, the environment, the
//! wall clock or stdout (R2).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod calibrate;
mod engine;
mod explain;
mod fail;
mod k8s;
mod limits;
mod outdir;
mod promql;
mod report;
mod simulate;
mod sweep;

/// `nimscale --version`: the build, and what it emulates.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nemulates: NIM Operator CRDs and reconcile of NVIDIA/k8s-nim-operator main at f63f74d7ad22 (2026-08-19);",
    "\n          the HPA controller of kubernetes/kubernetes pkg/controller/podautoscaler at 88cca8337e1d (autoscaling/v2);",
    "\n          Prometheus 3.x (or 2.x) PromQL; prometheus-adapter rules; vLLM V1 scheduler; NIM 1.x and vLLM metric names"
);

#[derive(Parser)]
#[command(
    name = "nimscale",
    version = VERSION,
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
        command: explain::HpaCommand,
    },
    /// One GPU inference engine (a pod's worth of GPUs): step times, KV
    /// capacity, closed-loop benchmarks.
    Engine {
        #[command(subcommand)]
        command: engine::EngineCommand,
    },
    /// Print, as multi-document YAML, the objects the NIM Operator creates
    /// from a NIMService (in its creation order). Exit 2: the NIMService is
    /// refused at admission (the exact kubectl message on stderr); exit 3:
    /// admitted, but the operator fails or stops part-way (the objects it
    /// created first are printed, then the error and an explanation).
    Render(k8s::RenderCmd),
    /// Write the deployable bundle for a NIMService or a winner/scenario
    /// file: nimservice.yaml (with NIMCache), adapter-rules.yaml,
    /// operator-objects.yaml and README.md. Replaces only an earlier
    /// nimscale output, and only with --force.
    Export(k8s::ExportCmd),
    /// Simulate a scenario: traffic, the Service, pods starting and
    /// draining, GPU nodes, the cluster autoscaler and the HPA, second by
    /// second. Writes timeseries.csv, decisions.jsonl and summary.json into
    /// --out (default reports/<scenario name>/), atomically, never over an
    /// existing run unless --force.
    Simulate(simulate::SimulateCmd),
    /// Print the scenario file's JSON Schema (with --sweep, the sweep
    /// file's). Both are shipped in scenarios/ for editors.
    Schema {
        /// The sweep file's schema.
        #[arg(long)]
        sweep: bool,
    },
    /// Print every behaviour and metric preset (or those named) as the YAML
    /// it puts in `spec.scale.hpa`, with where its values come from.
    Presets {
        /// Preset names (default: all).
        names: Vec<String>,
    },
    /// Run a sweep: every point of its axes (Cartesian product or explicit
    /// combinations) under every trace and seed, in parallel. Writes
    /// results.csv (one row per run), summary.csv (mean and 95 % CI per
    /// point), pareto.csv and winner.yaml (the cheapest point meeting the
    /// SLO attainment threshold; `nimscale export` takes it) into --out
    /// (default reports/<sweep name>/), atomically, never over an existing
    /// run without --force. Output is byte-identical for any --threads.
    Sweep(sweep::SweepCmd),
    /// Run presets side by side over a scenario's traffic (or --trace
    /// files) and seeds, and print a table (with --out, also the sweep
    /// files). Behaviour presets: conservative, aggressive, vlm-guide,
    /// k8s-default, none; metric presets: cpu70, memory80, kv-cache-0.7,
    /// kv-cache-0.75, kv-cache-0.8, latency-fraction-400m,
    /// request-rate-per-pod, queue-depth (both kinds: every combination).
    Compare(sweep::CompareCmd),
    /// The direct answer: search GPU type (those with a price), minReplicas,
    /// maxReplicas, the HPA metric and target and the behaviour for the
    /// cheapest configuration meeting the scenario's SLOs. Candidates race
    /// over seeds (common random numbers, dominated ones rejected, the best
    /// third kept each round), the pick is re-checked on held-out seeds, and
    /// the card compares it with the current spec, the cheapest fixed
    /// replica count and the runners-up. Writes a sweep's files
    /// (winner.yaml for `nimscale export`) and recommendation.json. Exit 5
    /// when nothing meets the SLOs.
    Plan(sweep::plan::PlanCmd),
    /// Fit the catalog parameters your own benchmark of your NIM
    /// determines (host overhead per step and per sequence, the front end's
    /// work per output token and per request, the prefill GEMM efficiency)
    /// from AIPerf / genai-perf profile_export JSON or CSV and vLLM
    /// benchmark_serving result JSON, print the error per point before and
    /// after, and write a catalog file for --catalog.
    Calibrate(calibrate::CalibrateCmd),
    /// Combine the directories of `sweep --shard I/N` runs into exactly the
    /// files one unsharded run writes.
    Merge(sweep::MergeCmd),
    /// Draw the report of a `simulate` run or of a `sweep`/`compare`/`merge`
    /// output: one self-contained HTML file (inline SVG and CSS, the font
    /// embedded, no script, nothing fetched), Markdown with PNG charts, or
    /// the PNG charts alone. Written into DIR/report unless --out; never
    /// over an earlier report without --force.
    Report(report::ReportCmd),
    /// Evaluate a PromQL instant query, as Prometheus would, over series
    /// read from an OpenMetrics text file with timestamps (the format
    /// `promtool tsdb create-blocks-from openmetrics` reads). Prints one JSON
    /// line per result element, `{"metric": {labels}, "value": number}`
    /// sorted by labels (`{"scalar": number}` for a scalar); NaN and
    /// infinities are printed as the strings "NaN", "+Inf", "-Inf".
    Promql(promql::PromqlCmd),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Engine { command } => engine::run_engine(command),
        Command::Render(k8s::RenderCmd { file, uid, json }) => k8s::run_render(file, uid, json),
        Command::Export(k8s::ExportCmd {
            file,
            out,
            force,
            json,
        }) => k8s::run_export(file, out, force, json),
        Command::Simulate(simulate::SimulateCmd {
            scenario,
            out,
            force,
            seed,
            catalog,
            metrics_out,
            metrics_epoch,
            start,
            strict,
            json,
            limits,
        }) => simulate::run(
            &scenario,
            simulate::Options {
                out,
                force,
                seed,
                metrics_out,
                metrics_epoch,
                start,
                strict,
                json,
                limits: limits.limits(),
            },
            &catalog,
        ),
        Command::Promql(promql::PromqlCmd {
            input,
            expr,
            time,
            prometheus,
            lookback,
        }) => promql::run_promql(&input, &expr, &time, prometheus, &lookback),
        Command::Sweep(c) => sweep::run_sweep(c.into()),
        Command::Compare(c) => sweep::run_compare(c.into()),
        Command::Plan(c) => sweep::plan::run_plan(c),
        Command::Calibrate(c) => calibrate::run_calibrate(c),
        Command::Merge(sweep::MergeCmd {
            dirs,
            out,
            force,
            json,
        }) => sweep::run_merge(&dirs, &out, force, json),
        Command::Report(report::ReportCmd {
            dir,
            format,
            out,
            force,
            json,
        }) => report::run_report(report::ReportArgs {
            dir,
            formats: format,
            out,
            json,
            force,
        }),
        Command::Presets { names } => sweep::run_presets(&names),
        Command::Schema { sweep } => {
            let mut out = std::io::stdout().lock();
            let text = if sweep {
                nimscale_runner::sweep::schema_text()
            } else {
                nimscale_runner::scenario::schema_text()
            };
            write!(out, "{text}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hpa {
            command: explain::HpaCommand::Explain { file, json },
        } => explain::run_explain(&file, json),
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

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_version_names_the_emulated_operator() {
        let op = nimscale_output::k8s::EMULATED_OPERATOR;
        let commit = op.split_whitespace().nth(3).unwrap();
        assert!(super::VERSION.contains(commit), "{op}");
        assert!(super::VERSION.contains("(2026-08-19)"));
    }
}
