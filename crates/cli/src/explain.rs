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
        /// One JSON object per decision (JSON Lines): the fields of
        /// `decisions.jsonl`, each metric's outcome, and `heldBack` (what
        /// stopped a scale-down and until when).
        #[arg(long)]
        json: bool,
    },
}

/// Replays `file` and prints each decision with its reasons (as text, or
/// JSON Lines with `json`).
pub fn run_explain(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let text = fail::read_input(file)?;
    let input = match nimscale_runner::explain::parse(&text, &name) {
        Ok(i) => i,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let decisions = nimscale_runner::explain::run_explained(&input);
    let mut out = std::io::stdout().lock();
    let held_back = |h: &nimscale_runner::explain::Held| nimscale_output::explain::HeldBack {
        replicas: h.replicas,
        by: h.by,
        until: h.until,
        window: h.window,
    };
    if json {
        for (d, h) in &decisions {
            let line =
                nimscale_output::explain::explain_json(d, h.as_ref().map(held_back).as_ref());
            writeln!(out, "{line}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}", nimscale_output::explain::render_hpa(&input.hpa))?;
    writeln!(
        out,
        "{}",
        nimscale_output::explain::render_config(&input.config)
    )?;
    for (d, h) in &decisions {
        writeln!(out)?;
        write!(
            out,
            "{}",
            nimscale_output::explain::render_decision(d, &input.hpa)
        )?;
        if let Some(h) = h {
            write!(
                out,
                "{}",
                nimscale_output::explain::render_held(&held_back(h))
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
