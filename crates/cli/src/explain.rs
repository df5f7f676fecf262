//! `nimscale hpa explain`: replay HPA inputs through the exact controller.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{errln, fail};

use clap::Subcommand;

#[derive(Subcommand)]
pub enum HpaCommand {
    /// Replay a sequence of HPA inputs (spec, pods, metric values, times) and
    /// print each decision with its reasons.
    Explain {
        /// A YAML or JSON file; see `scenarios/hpa-explain-*.yaml`.
        file: PathBuf,
    },
}

/// Replays `file` and prints each decision with its reasons.
pub fn run_explain(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let text = fail::read_input(file)?;
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
