//! The `nimscale` command: argument parsing, file I/O and printing around the
//! pure libraries. The only crate that touches files, the environment, the
//! wall clock or stdout (R2).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nimscale",
    version,
    about = "Autoscaling simulator and capacity planner for NVIDIA NIM on Kubernetes"
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hpa {
            command: HpaCommand::Explain { file },
        } => {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {name}"))?;
            let input = match nimscale_runner::explain::parse(&text, &name) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("error: {e}");
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`nimscale … | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
