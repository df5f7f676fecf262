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
    /// Evaluation time: simulation time as other commands write it (`90s`,
    /// `10m`, `1h30m`; from the `nimscale_run_info` sample that
    /// `simulate --metrics-out` writes at time zero), an RFC 3339 instant
    /// (`2026-01-01T00:10:00Z`), or a bare number of seconds on the file's
    /// clock.
    #[arg(long, allow_hyphen_values = true)]
    pub time: String,
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

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 date-time as Unix seconds.
pub(crate) fn rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac = format!("0.{}", s.get(start..i)?).parse().ok()?;
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if z.starts_with('-') { -m } else { m }
        }
        _ => return None,
    };
    let dim = [
        31,
        28 + i64::from(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let ok = (1..=12).contains(&mo)
        && (1..=dim[(mo - 1) as usize]).contains(&d)
        && h < 24
        && mi < 60
        && sec < 61;
    ok.then(|| {
        (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60) as f64 + frac
    })
}

/// `--time` on the file's clock (seconds): see [`PromqlCmd::time`].
fn resolve_time(arg: &str, text: &str) -> Result<f64, String> {
    if let Ok(v) = arg.trim().parse::<f64>() {
        return Ok(v);
    }
    if let Some(t) = rfc3339(arg.trim()) {
        return Ok(t);
    }
    let Some(ms) = nimscale_core::metrics::promql::parse_duration_ms(arg.trim()) else {
        return Err(format!(
            "--time: \"{arg}\" is neither simulation time (90s, 10m, 1h30m), an RFC 3339 instant (2026-01-01T00:10:00Z) nor a number of seconds on the file's clock"
        ));
    };
    let epoch = text
        .lines()
        .find_map(|l| l.strip_prefix("nimscale_run_info 1 "))
        .and_then(|t| t.trim().parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "--time {arg} is simulation time, but the file has no nimscale_run_info sample (written by simulate --metrics-out) to say when time zero was: give an RFC 3339 instant or seconds on the file's clock"
            )
        })?;
    Ok(epoch + ms as f64 / 1000.0)
}

pub fn run_promql(
    input: &std::path::Path,
    expr: &str,
    time_arg: &str,
    prometheus: u8,
    lookback: &str,
) -> anyhow::Result<ExitCode> {
    use nimscale_core::metrics::promql::{self, EvalOptions, PromVersion, Value};
    let Some(lookback_ms) = promql::parse_duration_ms(lookback).filter(|d| *d > 0) else {
        errln!("error: --lookback: bad duration \"{lookback}\" (for example 5m or 30s)");
        return Ok(ExitCode::from(2));
    };
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
    let time = match resolve_time(time_arg, &text) {
        Ok(t) if t.is_finite() && t.abs() <= 9e12 => t,
        Ok(_) => {
            errln!("error: --time: must be within ±9e12 seconds (as the file's timestamps)");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_simulation_time_rfc3339_or_file_seconds() {
        let file = "# TYPE nimscale_run_info unknown\nnimscale_run_info 1 1767225600.000\n";
        assert_eq!(resolve_time("1767225660", file), Ok(1_767_225_660.0));
        assert_eq!(resolve_time("10m", file), Ok(1_767_226_200.0));
        assert_eq!(resolve_time("1h30m", file), Ok(1_767_225_600.0 + 5400.0));
        assert_eq!(
            resolve_time("2026-01-01T00:10:00Z", ""),
            Ok(1_767_226_200.0)
        );
        assert_eq!(
            resolve_time("2026-01-01T01:10:00.5+01:00", ""),
            Ok(1_767_226_200.5)
        );
        assert!(
            resolve_time("10m", "no run info")
                .unwrap_err()
                .contains("nimscale_run_info")
        );
        assert!(resolve_time("2026-02-30T00:00:00Z", "").is_err());
        assert!(resolve_time("soon", "").unwrap_err().contains("neither"));
    }
}
