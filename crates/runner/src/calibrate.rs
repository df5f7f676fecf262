//! `nimscale calibrate`: the catalog parameters a user's own benchmark of
//! their NIM determines, fitted by replaying each measured point in the
//! simulated engine.
//!
//! Reads the files users already have (formats as their projects document
//! them):
//! * AIPerf / genai-perf `profile_export_aiperf.json` /
//!   `profile_export_genai_perf.json`: metric objects with `unit` and `avg`
//!   (`time_to_first_token`, `inter_token_latency`,
//!   `output_token_throughput`, `input_sequence_length`,
//!   `output_sequence_length`) and the concurrency in `input_config`
//!   (`loadgen.concurrency`, or `concurrency`);
//! * their CSV summaries (`Metric,avg,…` rows such as `Time to First Token
//!   (ms)`, then `Metric,Value` rows such as `Output Token Throughput
//!   (tokens/sec)`); the CSV does not hold the concurrency, which comes from
//!   the path (`…-concurrency64/…`, genai-perf's artifact directories) or
//!   the caller;
//! * vLLM `benchmark_serving.py --save-result` JSON (`max_concurrency`,
//!   `completed`, `total_input_tokens`, `total_output_tokens`,
//!   `mean_ttft_ms`, `mean_itl_ms`, `output_throughput`).
//!
//! The fit ([`fit`]) adjusts what such data determines: the host overhead
//! per engine step (ITL at low concurrency), per sequence in the batch (ITL's
//! growth with concurrency), the front end's work per output token
//! (the throughput plateau and TTFT at high concurrency) and the prefill
//! efficiency (TTFT at low concurrency), by coordinate descent with golden-
//! section searches on the sum of absolute log errors, each capped at 30 %
//! so that a point the model cannot reproduce does not pull the rest.

use serde_json::Value;

use crate::benchmark::{ClosedLoopStats, steady_state};
use crate::engine::Resolved;
use crate::error::{LoadError, LoadErrors};
use nimscale_core::engine::ModelSpec;

/// One measured operating point.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Where it came from.
    pub file: String,
    /// Concurrent clients.
    pub concurrency: u32,
    /// Mean input tokens per request.
    pub isl: u32,
    /// Mean output tokens per request.
    pub osl: u32,
    /// Mean time to first token, ms.
    pub ttft_ms: f64,
    /// Mean inter-token latency, ms.
    pub itl_ms: f64,
    /// Output tokens per second.
    pub output_tps: f64,
}

fn err(file: &str, line: Option<usize>, field: &str, message: String) -> LoadErrors {
    LoadErrors(vec![LoadError {
        file: file.to_string(),
        line,
        column: None,
        field: Some(field.to_string()),
        message,
    }])
}

/// The 1-based line where `"key"` first appears in `text`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let q = format!("\"{key}\"");
    text.lines().position(|l| l.contains(&q)).map(|i| i + 1)
}

/// `…concurrency64…` in a path: genai-perf names its artifact directories
/// so.
pub fn concurrency_in_path(path: &str) -> Option<u32> {
    let i = path.rfind("concurrency")?;
    let digits: String = path[i + "concurrency".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|c| *c > 0)
}

/// Reads one benchmark file (format detected from its content);
/// `concurrency` is used when the file does not state it.
pub fn read(text: &str, file: &str, concurrency: Option<u32>) -> Result<Measured, LoadErrors> {
    let t = text.trim_start();
    if t.starts_with('{') {
        let v: Value = crate::yaml::from_str(text, file)?;
        if v.get("mean_ttft_ms").is_some() || v.get("max_concurrency").is_some() {
            vllm(&v, text, file, concurrency)
        } else {
            aiperf_json(&v, text, file, concurrency)
        }
    } else if t.starts_with("Metric,") {
        aiperf_csv(text, file, concurrency)
    } else {
        Err(err(
            file,
            Some(1),
            "",
            "not a benchmark file nimscale reads: expected AIPerf/genai-perf profile_export JSON or CSV, or vLLM benchmark_serving result JSON".into(),
        ))
    }
}

fn positive(v: Option<f64>, text: &str, file: &str, key: &str) -> Result<f64, LoadErrors> {
    match v {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(x) => Err(err(
            file,
            key_line(text, key),
            key,
            format!("must be a positive number, got {x}"),
        )),
        None => Err(err(
            file,
            key_line(text, key).or(Some(1)),
            key,
            "missing (a number is required)".into(),
        )),
    }
}

/// Every value, or every problem at once.
fn all<const N: usize>(r: [Result<f64, LoadErrors>; N]) -> Result<[f64; N], LoadErrors> {
    let mut out = [0.0; N];
    let mut errs = Vec::new();
    for (i, x) in r.into_iter().enumerate() {
        match x {
            Ok(v) => out[i] = v,
            Err(e) => errs.extend(e.0),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(LoadErrors(errs))
    }
}

fn whole(x: f64) -> u32 {
    x.round().clamp(1.0, 10_000_000.0) as u32
}

fn aiperf_json(
    v: &Value,
    text: &str,
    file: &str,
    concurrency: Option<u32>,
) -> Result<Measured, LoadErrors> {
    let avg = |k: &str| v.get(k).and_then(|m| m.get("avg")).and_then(Value::as_f64);
    let conc = (v.pointer("/input_config/loadgen/concurrency"))
        .or_else(|| v.pointer("/input_config/concurrency"))
        .or_else(|| v.pointer("/input_config/perf_analyzer/stimulus/concurrency"))
        .and_then(Value::as_f64)
        .map(whole)
        .or(concurrency)
        .or_else(|| concurrency_in_path(file))
        .ok_or_else(|| {
            err(
                file,
                key_line(text, "input_config"),
                "input_config.loadgen.concurrency",
                "no concurrency: the file does not state it (give --concurrency)".into(),
            )
        })?;
    let unit_ms = |k: &str| -> Result<f64, LoadErrors> {
        let x = positive(avg(k), text, file, k)?;
        match v.pointer(&format!("/{k}/unit")).and_then(Value::as_str) {
            None | Some("ms") => Ok(x),
            Some("s") | Some("sec") => Ok(x * 1e3),
            Some("us") => Ok(x * 1e-3),
            Some("ns") => Ok(x * 1e-6),
            Some(u) => Err(err(
                file,
                key_line(text, k),
                &format!("{k}.unit"),
                format!("unit {u:?} is not a time unit"),
            )),
        }
    };
    let [isl, osl, ttft, itl, tps] = all([
        positive(
            avg("input_sequence_length"),
            text,
            file,
            "input_sequence_length",
        ),
        positive(
            avg("output_sequence_length"),
            text,
            file,
            "output_sequence_length",
        ),
        unit_ms("time_to_first_token"),
        unit_ms("inter_token_latency"),
        positive(
            avg("output_token_throughput"),
            text,
            file,
            "output_token_throughput",
        ),
    ])?;
    Ok(Measured {
        file: file.to_string(),
        concurrency: conc,
        isl: whole(isl),
        osl: whole(osl),
        ttft_ms: ttft,
        itl_ms: itl,
        output_tps: tps,
    })
}

fn vllm(
    v: &Value,
    text: &str,
    file: &str,
    concurrency: Option<u32>,
) -> Result<Measured, LoadErrors> {
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let conc = num("max_concurrency")
        .map(whole)
        .or(concurrency)
        .ok_or_else(|| {
            err(
                file,
                key_line(text, "max_concurrency").or(Some(1)),
                "max_concurrency",
                "no concurrency: run benchmark_serving with --max-concurrency (a request-rate run is not a closed loop), or give --concurrency".into(),
            )
        })?;
    let itl = num("mean_itl_ms").or(num("mean_tpot_ms"));
    let [completed, ti, to, ttft, itl, tps] = all([
        positive(num("completed"), text, file, "completed"),
        positive(num("total_input_tokens"), text, file, "total_input_tokens"),
        positive(
            num("total_output_tokens"),
            text,
            file,
            "total_output_tokens",
        ),
        positive(num("mean_ttft_ms"), text, file, "mean_ttft_ms"),
        positive(itl, text, file, "mean_itl_ms"),
        positive(num("output_throughput"), text, file, "output_throughput"),
    ])?;
    Ok(Measured {
        file: file.to_string(),
        concurrency: conc,
        isl: whole(ti / completed),
        osl: whole(to / completed),
        ttft_ms: ttft,
        itl_ms: itl,
        output_tps: tps,
    })
}

fn aiperf_csv(text: &str, file: &str, concurrency: Option<u32>) -> Result<Measured, LoadErrors> {
    let mut found: Vec<(&str, f64, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut cells = line.split(',');
        let (Some(name), Some(first)) = (cells.next(), cells.next()) else {
            continue;
        };
        if name == "Metric" || name.trim().is_empty() {
            continue;
        }
        if let Ok(x) = first.trim().parse::<f64>() {
            found.push((name.trim(), x, i + 1));
        }
    }
    let get = |label: &str| -> Result<f64, LoadErrors> {
        match found.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(label)) {
            Some((_, x, _)) if x.is_finite() && *x > 0.0 => Ok(*x),
            Some((_, x, line)) => Err(err(
                file,
                Some(*line),
                label,
                format!("must be a positive number, got {x}"),
            )),
            None => Err(err(
                file,
                None,
                label,
                "missing row (AIPerf/genai-perf CSV summaries have it)".into(),
            )),
        }
    };
    let conc = concurrency.or_else(|| concurrency_in_path(file)).ok_or_else(|| {
        err(
            file,
            None,
            "concurrency",
            "a CSV summary does not state the concurrency: give --concurrency, or keep genai-perf's artifact path (…-concurrencyN/…)".into(),
        )
    })?;
    Ok(Measured {
        file: file.to_string(),
        concurrency: conc,
        isl: whole(get("Input Sequence Length (tokens)")?),
        osl: whole(get("Output Sequence Length (tokens)")?),
        ttft_ms: get("Time to First Token (ms)")?,
        itl_ms: get("Inter Token Latency (ms)")?,
        output_tps: get("Output Token Throughput (tokens/sec)")?,
    })
}

/// The parameters a fit adjusts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Host time per engine step, ms.
    pub step_overhead_ms: f64,
    /// Host time per sequence in a step, µs.
    pub per_seq_us: f64,
    /// The front end's work per output token, µs.
    pub frontend_output_us: f64,
    /// The front end's work per request, µs: what the queues of a
    /// benchmark's cohorts of clients determine at moderate concurrency.
    pub frontend_request_us: f64,
    /// Large-GEMM efficiency at the deployment's precision (prefill).
    pub eta_cmp: f64,
}

impl Params {
    /// The parameters of a resolved deployment.
    pub fn of(r: &Resolved) -> Params {
        let d = &r.deployment;
        Params {
            step_overhead_ms: d.model.step_overhead * 1e3,
            per_seq_us: d.model.step_overhead_per_seq * 1e6,
            frontend_output_us: d.model.frontend.output_token_ns as f64 * 1e-3,
            frontend_request_us: d.model.frontend.request_ns as f64 * 1e-3,
            eta_cmp: d.gemm_peak().1,
        }
    }

    /// `r` with these parameters.
    pub fn apply(&self, r: &Resolved) -> Resolved {
        let mut r = r.clone();
        let d = &mut r.deployment;
        d.model.step_overhead = self.step_overhead_ms * 1e-3;
        d.model.step_overhead_per_seq = self.per_seq_us * 1e-6;
        d.model.frontend.output_token_ns = (self.frontend_output_us * 1e3).round() as i64;
        d.model.frontend.request_ns = (self.frontend_request_us * 1e3).round() as i64;
        *d.gemm_efficiency_mut() = self.eta_cmp;
        r
    }

    /// The `i`th parameter, in the order of [`BOUNDS`].
    fn slot(&mut self, i: usize) -> &mut f64 {
        match i {
            0 => &mut self.step_overhead_ms,
            1 => &mut self.per_seq_us,
            2 => &mut self.frontend_output_us,
            3 => &mut self.frontend_request_us,
            _ => &mut self.eta_cmp,
        }
    }
}

/// The log error beyond which a point counts as an outlier (30 %).
const OUTLIER: f64 = 0.262_364_264_467_491;

/// Search bounds per parameter, in the order of `Params::slot`.
const BOUNDS: [(f64, f64); 5] = [
    (0.05, 30.0),
    (0.0, 200.0),
    (0.0, 1000.0),
    (0.0, 20_000.0),
    (0.05, 1.0),
];

/// The simulated benchmark at a measured point (requests: ten per client,
/// at least 200).
pub fn predict(r: &Resolved, m: &Measured) -> ClosedLoopStats {
    let requests = (m.concurrency * 10).max(200);
    steady_state(r, m.concurrency, m.isl, m.osl, requests)
}

/// Relative errors (simulated − measured) / measured of TTFT, ITL and
/// throughput at each point.
pub fn errors(r: &Resolved, points: &[Measured]) -> Vec<[f64; 3]> {
    points
        .iter()
        .map(|m| {
            let s = predict(r, m);
            [
                (s.ttft * 1e3 - m.ttft_ms) / m.ttft_ms,
                (s.itl * 1e3 - m.itl_ms) / m.itl_ms,
                (s.output_tokens_per_s - m.output_tps) / m.output_tps,
            ]
        })
        .collect()
}

fn loss(r: &Resolved, points: &[Measured]) -> f64 {
    points
        .iter()
        .map(|m| {
            let s = predict(r, m);
            // |log error|, capped at 30 %: a point the model cannot
            // reproduce (a noisy TTFT, a run with other load on the node)
            // must not drag every parameter towards it.
            let l = |sim: f64, meas: f64| (sim.max(1e-12) / meas).ln().abs().min(OUTLIER);
            l(s.ttft * 1e3, m.ttft_ms)
                + l(s.itl * 1e3, m.itl_ms)
                + l(s.output_tokens_per_s, m.output_tps)
        })
        .sum()
}

/// Fits [`Params`] to `points` from the deployment's catalog values:
/// `sweeps` rounds of a golden-section search on each parameter in turn.
pub fn fit(base: &Resolved, points: &[Measured], sweeps: usize) -> Params {
    let mut p = Params::of(base);
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for sweep in 0..sweeps {
        for (i, &(lo0, hi0)) in BOUNDS.iter().enumerate() {
            // Search around the current value, narrowing each sweep.
            let span = (hi0 - lo0) / (1 << (2 * sweep)) as f64;
            let cur = *p.slot(i);
            let (mut a, mut b) = ((cur - span / 2.0).max(lo0), (cur + span / 2.0).min(hi0));
            let eval = |x: f64| {
                let mut q = p;
                *q.slot(i) = x;
                loss(&q.apply(base), points)
            };
            let mut c = b - phi * (b - a);
            let mut d = a + phi * (b - a);
            let (mut fc, mut fd) = (eval(c), eval(d));
            for _ in 0..14 {
                if fc < fd {
                    b = d;
                    d = c;
                    fd = fc;
                    c = b - phi * (b - a);
                    fc = eval(c);
                } else {
                    a = c;
                    c = d;
                    fc = fd;
                    d = a + phi * (b - a);
                    fd = eval(d);
                }
            }
            let (best, f_best) = if fc < fd { (c, fc) } else { (d, fd) };
            if f_best < eval(cur) {
                *p.slot(i) = best;
            }
        }
    }
    p
}

/// How a catalog entry gives `m`'s shape: its fields for a uniform model,
/// `hfConfig` for a shipped config; a model read from a `config.json` of the
/// user's with MoE or heterogeneous layers cannot be written as an entry.
pub fn catalog_shape(m: &ModelSpec) -> Result<String, String> {
    if m.layer_groups.is_empty() {
        return Ok(format!(
            "    layers: {}\n    hidden: {}\n    heads: {}\n    kvHeads: {}\n    headDim: {}\n    mlp: {}\n    vocab: {}\n    tiedEmbeddings: {}\n",
            m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.mlp, m.vocab, m.tied_embeddings,
        ));
    }
    match m.config_file.as_deref() {
        Some(c) if crate::catalog::shipped_config(c).is_some() => {
            Ok(format!("    hfConfig: {c}\n"))
        }
        c => Err(format!(
            "{}: its layers (experts, latent attention, windows or per-layer blocks) cannot be written as a catalog entry; calibrate a shipped model, or keep --model-config {} and pass the fitted values by hand",
            c.unwrap_or(&m.name),
            c.unwrap_or("FILE")
        )),
    }
}

/// A catalog file (the shape `--catalog` reads) with the deployment's model
/// and GPU entries carrying the fitted parameters, under their own keys so
/// that scenarios naming them pick the calibrated values up.
pub fn catalog_yaml(r: &Resolved, p: &Params, header: &[String]) -> Result<String, String> {
    let r = p.apply(r);
    let d = &r.deployment;
    let (m, g) = (&d.model, &d.gpu);
    let mut s = String::new();
    for h in header {
        s += &format!("# {h}\n");
    }
    let fe = m.frontend;
    s += &format!(
        "models:\n  {}:\n    servedName: {}\n{}    extraParams: {}\n    maxContext: {}\n    stepOverheadMs: {}\n    stepOverheadPerSeqUs: {}\n    frontEnd: {{requestUs: {}, promptTokenUs: {}, outputTokenUs: {}}}\n",
        m.name,
        serde_json::to_string(&m.served_name).unwrap_or_default(),
        catalog_shape(m)?,
        m.extra_params,
        m.max_context,
        round6(m.step_overhead * 1e3),
        round6(m.step_overhead_per_seq * 1e6),
        round6(fe.request_ns as f64 * 1e-3),
        round6(fe.prompt_token_ns as f64 * 1e-3),
        round6(fe.output_token_ns as f64 * 1e-3),
    );
    let e = &g.efficiency;
    s += &format!(
        "gpus:\n  {}:\n    family: {}\n    memoryGiB: {}\n    usableMemoryGiB: {}\n    memoryBandwidthTBps: {}\n    bf16Tflops: {}\n{}    linkBandwidthGBps: {}\n    allreduceLatencyUs: {}\n    efficiency: {{mem: {}, cmpBf16: {}, cmpFp8: {}, kvMem: {}}}\n",
        g.name,
        g.family,
        g.memory_gib,
        g.usable_memory_gib,
        round6(g.mem_bandwidth / 1e12),
        round6(g.bf16_flops / 1e12),
        g.fp8_flops
            .map(|f| format!("    fp8Tflops: {}\n", round6(f / 1e12)))
            .unwrap_or_default(),
        round6(g.link_bandwidth / 1e9),
        round6(g.allreduce_latency * 1e6),
        e.mem,
        round6(e.cmp_bf16),
        round6(e.cmp_fp8),
        e.kv_mem,
    );
    Ok(s)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_concurrency_comes_from_genai_perf_artifact_paths() {
        assert_eq!(
            concurrency_in_path(
                "artifacts/llama-openai-chat-concurrency64/profile_export_genai_perf.csv"
            ),
            Some(64)
        );
        assert_eq!(concurrency_in_path("run/profile_export_aiperf.csv"), None);
    }

    #[test]
    fn bad_files_are_named_by_line() {
        let text = "{\n  \"time_to_first_token\": {\"unit\": \"ms\", \"avg\": -3},\n  \"input_config\": {\"loadgen\": {\"concurrency\": 4}}\n}\n";
        let e = read(text, "x.json", None).unwrap_err().to_string();
        assert!(e.contains("x.json:"), "{e}");
        let e = read("hello", "y.txt", None).unwrap_err().to_string();
        assert!(e.contains("y.txt:1"), "{e}");
    }
}
