//! The recommendation card of a `nimscale plan` output
//! (`recommendation.json`), as the first section of its report.

use serde_json::Value;

use super::{Block, Section, Table};

fn num(v: &Value, d: usize) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.d$}"))
}

fn config(e: &Value) -> String {
    let Some(m) = e["config"].as_object() else {
        return String::new();
    };
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if parts.is_empty() {
        "as the scenario has it".into()
    } else {
        parts.join(", ")
    }
}

fn row(label: &str, e: &Value) -> Vec<String> {
    let held = match (e["heldOutAttainment"].as_f64(), e["heldOutChange"].as_f64()) {
        (Some(h), Some(c)) => format!("{h:.4} ({c:+.4})"),
        _ => "-".into(),
    };
    vec![
        label.to_string(),
        config(e),
        format!(
            "{} ± {}",
            num(&e["sloAttainment"], 4),
            num(&e["sloAttainmentCi95"], 4)
        ),
        held,
        num(&e["gpuHours"], 2),
        num(&e["meanGpus"], 2),
        num(&e["peakGpus"], 0),
        num(&e["peakNodes"], 0),
        format!("{} ± {}", num(&e["cost"], 2), num(&e["costCi95"], 2)),
        format!(
            "{}/{}/{}",
            num(&e["scaleUps"], 1),
            num(&e["scaleDowns"], 1),
            num(&e["flaps"], 1)
        ),
        num(&e["timeToScaleS"], 0),
    ]
}

/// The recommendation section: what was explored, the pick beside the
/// current spec, the fixed baseline and the runners-up, and the
/// diagnostics of each.
pub fn section(rec: &Value) -> Section {
    let mut blocks = vec![Block::Text(format!(
        "Explored {} configurations (of {} in the space) in {} runs, {:.1} simulated hours: candidates raced over seeds {} with common random numbers (dominated ones rejected, the best third kept each round); the pick re-checked on held-out seeds {}. Threshold: SLO attainment {}.",
        rec["explored"],
        rec["space"],
        rec["runs"],
        rec["simulatedHours"].as_f64().unwrap_or(f64::NAN),
        rec["racingSeeds"],
        rec["heldOutSeeds"],
        rec["threshold"],
    ))];
    if rec["winner"].is_null() {
        blocks.push(Block::Text(
            "No configuration met the threshold on the racing and held-out seeds: nothing to recommend (no winner.yaml).".into(),
        ));
    }
    let mut rows = Vec::new();
    if !rec["winner"].is_null() {
        rows.push(row("recommended", &rec["winner"]));
    }
    rows.push(row("current", &rec["current"]));
    for (i, e) in rec["runnersUp"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        rows.push(row(&format!("runner-up {}", i + 1), e));
    }
    blocks.push(Block::Table(Table {
        header: [
            "",
            "configuration",
            "SLO attainment",
            "held-out (change)",
            "GPU-h",
            "mean GPUs",
            "peak GPUs",
            "peak nodes",
            "cost",
            "ups/downs/flaps",
            "time to scale s",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        numeric: vec![
            false, false, true, true, true, true, true, true, true, true, true,
        ],
    }));
    if let Some(b) = rec["baseline"].as_str() {
        blocks.push(Block::Text(format!("Fixed deployment: {b}.")));
    }
    // Every finalist's diagnostics (those that ran every racing seed), and
    // the current spec's.
    let mut diags = Vec::new();
    let mut each = vec![("current", &rec["current"])];
    for e in rec["finalists"].as_array().into_iter().flatten() {
        each.push(("finalist", e));
    }
    for (label, e) in each {
        let d: Vec<&str> = (e["diagnostics"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        if !d.is_empty() {
            diags.push(format!("{label} (point {}): {}", e["point"], d.join(", ")));
        }
    }
    if !diags.is_empty() {
        blocks.push(Block::List(diags));
    }
    Section {
        heading: "Recommendation".into(),
        blocks,
    }
}
