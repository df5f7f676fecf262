//! Reading a `simulate` run back: `timeseries.csv`, `decisions.jsonl` and
//! `summary.json`, as [`crate::simulate`] writes them. Every problem names
//! the file, the line and the field.

use std::fmt;

use serde::Deserialize;

use crate::csv_text;

/// A problem in a run's files.
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// File name as given.
    pub file: String,
    /// 1-based line (0: the file as a whole).
    pub line: usize,
    /// The field or column.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

fn err(file: &str, line: usize, field: &str, message: impl Into<String>) -> InputError {
    InputError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message: message.into(),
    }
}

/// `timeseries.csv`: named numeric columns, one row per simulated second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    /// Column names, in file order.
    pub names: Vec<String>,
    /// Values per column (empty cells are NaN).
    pub values: Vec<Vec<f64>>,
}

impl Columns {
    /// A column by name.
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i].as_slice())
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The columns a report needs: every fixed column `simulate` writes (the
/// writer's own list, so the two cannot drift).
pub const REQUIRED_COLUMNS: &[&str] = &crate::simulate::TIMESERIES_COLUMNS;

/// Parses `timeseries.csv`.
pub fn parse_timeseries(text: &str, file: &str) -> Result<Columns, InputError> {
    if text.trim().is_empty() {
        return Err(err(file, 0, "", "empty file (no header)"));
    }
    let mut reader = csv_text::reader(text);
    let names: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(err(file, 1, "", e.to_string())),
    };
    for want in REQUIRED_COLUMNS {
        if !names.iter().any(|n| n == want) {
            return Err(err(
                file,
                1,
                want,
                "missing column (a timeseries.csv of an older nimscale? run simulate again)",
            ));
        }
    }
    let mut values = vec![Vec::new(); names.len()];
    for rec in reader.records() {
        let cells = rec.map_err(|e| err(file, 0, "", e.to_string()))?;
        // Counting lines is linear in the file: only for a problem.
        let no = || csv_text::line_of(text, &cells);
        if cells.len() != names.len() {
            return Err(err(
                file,
                no(),
                "",
                format!("{} fields, the header has {}", cells.len(), names.len()),
            ));
        }
        for ((cell, col), name) in cells.iter().zip(values.iter_mut()).zip(&names) {
            let v = match cell {
                "" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                c => c
                    .parse::<f64>()
                    .map_err(|_| err(file, no(), name, format!("{c:?} is not a number")))?,
            };
            col.push(v);
        }
    }
    Ok(Columns { names, values })
}

/// One metric of an HPA sync.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncMetric {
    /// The time-series column name (`object:…`, `resource:cpu`, …).
    #[serde(default)]
    pub metric: Option<String>,
    /// The value the HPA received, natural units.
    #[serde(default)]
    pub value: Option<f64>,
    /// Its target.
    #[serde(default)]
    pub target: Option<f64>,
    /// Replicas this metric proposed.
    #[serde(default)]
    pub proposal: Option<i64>,
    /// Why the metric could not be used.
    #[serde(default)]
    pub error: Option<String>,
}

/// One line of `decisions.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sync {
    /// Simulated time of the sync.
    #[serde(rename = "t_s")]
    pub t: f64,
    /// Replicas before.
    pub current_replicas: i64,
    /// Replicas decided.
    pub desired_replicas: i64,
    /// Whether the scale subresource was written.
    pub rescale: bool,
    /// The controller's reason.
    #[serde(default)]
    pub rescale_reason: Option<String>,
    /// Per metric.
    #[serde(default)]
    pub metrics: Vec<SyncMetric>,
    /// Why no replica count could be computed.
    #[serde(default)]
    pub error: Option<String>,
}

fn json_err(file: &str, line_base: usize, e: &serde_json::Error) -> InputError {
    // serde_json names the missing or mistyped field in its message.
    let text = e.to_string();
    let field = text
        .split('`')
        .nth(1)
        .filter(|_| text.contains("field"))
        .unwrap_or("")
        .to_string();
    err(file, line_base + e.line().saturating_sub(1), &field, text)
}

/// Parses `decisions.jsonl`.
pub fn parse_decisions(text: &str, file: &str) -> Result<Vec<Sync>, InputError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Sync = serde_json::from_str(line).map_err(|e| json_err(file, i + 1, &e))?;
        out.push(s);
    }
    Ok(out)
}

pub use crate::summary::{
    Latencies, Latency, LoadChange, Nodes, Replicas, Requests, Slo, Startup, Summary,
};

/// Parses `summary.json`.
pub fn parse_summary(text: &str, file: &str) -> Result<Summary, InputError> {
    serde_json::from_str(text).map_err(|e| json_err(file, 1, &e))
}

/// A `simulate` run as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// `summary.json`.
    pub summary: Summary,
    /// `timeseries.csv`.
    pub series: Columns,
    /// `decisions.jsonl`.
    pub syncs: Vec<Sync>,
}

/// The texts of a run directory's three files and the names to report
/// problems under.
pub struct RunFiles<'a> {
    /// (name, text) of `summary.json`.
    pub summary: (&'a str, &'a str),
    /// (name, text) of `timeseries.csv`.
    pub timeseries: (&'a str, &'a str),
    /// (name, text) of `decisions.jsonl`.
    pub decisions: (&'a str, &'a str),
}

/// Reads a run from its files' texts.
pub fn parse_run(f: &RunFiles<'_>) -> Result<Run, InputError> {
    let summary = parse_summary(f.summary.1, f.summary.0)?;
    let series = parse_timeseries(f.timeseries.1, f.timeseries.0)?;
    let syncs = parse_decisions(f.decisions.1, f.decisions.0)?;
    Ok(Run {
        summary,
        series,
        syncs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_line_and_column() {
        let mut header = REQUIRED_COLUMNS.join(",");
        let e = parse_timeseries("t_s,arrivals\n1,2\n", "ts.csv").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "completed"));
        let row: Vec<&str> = REQUIRED_COLUMNS.iter().map(|_| "1").collect();
        let mut bad = row.clone();
        bad[1] = "x";
        header.push('\n');
        let text = format!("{header}{}\n{}\n", row.join(","), bad.join(","));
        let e = parse_timeseries(&text, "ts.csv").unwrap_err();
        assert_eq!(e.to_string(), "ts.csv:3: arrivals: \"x\" is not a number");
        let text = format!("{header}1,2\n");
        let e = parse_timeseries(&text, "ts.csv").unwrap_err();
        assert_eq!(e.line, 2);
        let text = format!("{header}{}\n", row.join(","));
        let c = parse_timeseries(&text, "ts.csv").unwrap();
        assert_eq!(c.get("arrivals"), Some(&[1.0][..]));
    }

    #[test]
    fn json_errors_name_line_and_field() {
        let e = parse_decisions(
            "{\"t_s\":1,\"currentReplicas\":1,\"desiredReplicas\":1,\"rescale\":false}\n{\"t_s\":2}\n",
            "d.jsonl",
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "currentReplicas"));
        let e = parse_summary("{\n\"scenario\": 3}", "s.json").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
