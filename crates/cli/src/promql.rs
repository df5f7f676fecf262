//! `nimscale promql`: an instant query over an OpenMetrics file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{errln, fail};

#[derive(clap::Args)]
pub struct PromqlCmd {
    /// OpenMetrics text file with a timestamp on every sample.
    #[arg(long)]
    pub input: PathBuf,
    /// The PromQL expression.
    #[arg(long)]
    pub expr: String,
    /// Evaluation time in seconds, on the file's clock.
    #[arg(long)]
    pub time: f64,
    /// The Prometheus major version whose rules apply: 3 (left-open
    /// windows) or 2 (closed windows, as Debian's 2.42).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub prometheus: u8,
    /// `--query.lookback-delta` for instant selectors.
    #[arg(long, default_value = "5m")]
    pub lookback: String,
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

pub fn run_promql(
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
    if !(time.is_finite() && time.abs() <= 9e12) {
        errln!(
            "error: --time: must be a number of seconds within ±9e12 (as the file's timestamps)"
        );
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
