//! `calibrate`: benchmark files in AIPerf / genai-perf and vLLM formats are
//! read as documented, and data nimscale generates with known parameters
//! is fitted back.

use nimscale_core::engine::capacity::EngineProfile;
use nimscale_core::engine::{KvDtype, Precision};
use nimscale_runner::calibrate::{self, Measured, Params};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::engine::{EngineOptions, Resolved, resolve};

/// Llama-3.1-8B FP8 (weights and KV) on one H100, as NVIDIA's table.
fn opts() -> EngineOptions {
    EngineOptions {
        gpu: "h100-sxm".into(),
        model: "llama-3.1-8b-instruct".into(),
        precision: Precision::Fp8,
        kv_dtype: KvDtype::Fp8,
        tp: 1,
        expert_parallel: false,
        profile: EngineProfile::default(),
    }
}

fn base() -> Resolved {
    resolve(&Catalog::builtin().unwrap(), &opts()).unwrap()
}

/// An AIPerf `profile_export_aiperf.json` (the structure of AIPerf's
/// "Working with Profile Export Files" guide) for one point.
fn aiperf_json(m: &Measured) -> String {
    format!(
        r#"{{
  "request_throughput": {{"unit": "requests/sec", "avg": {rps}}},
  "time_to_first_token": {{"unit": "ms", "avg": {ttft}, "p50": {ttft}}},
  "inter_token_latency": {{"unit": "ms", "avg": {itl}}},
  "output_token_throughput": {{"unit": "tokens/sec", "avg": {tps}}},
  "input_sequence_length": {{"unit": "tokens", "avg": {isl}}},
  "output_sequence_length": {{"unit": "tokens", "avg": {osl}}},
  "benchmark_duration": {{"unit": "sec", "avg": 60.0}},
  "input_config": {{
    "endpoint": {{"model_names": ["meta/llama-3.1-8b-instruct"], "type": "chat", "streaming": true}},
    "loadgen": {{"concurrency": {c}, "request_rate_mode": "concurrency_burst"}}
  }}
}}
"#,
        rps = m.output_tps / f64::from(m.osl),
        ttft = m.ttft_ms,
        itl = m.itl_ms,
        tps = m.output_tps,
        isl = m.isl,
        osl = m.osl,
        c = m.concurrency
    )
}

/// Its CSV summary (`profile_export_aiperf.csv`, same guide).
fn aiperf_csv(m: &Measured) -> String {
    format!(
        "Metric,avg,min,max,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\nTime to First Token (ms),{t},{t},{t},{t},{t},{t},{t},{t},{t},{t},{t},{t},0.00\nInter Token Latency (ms),{i},{i},{i},{i},{i},{i},{i},{i},{i},{i},{i},{i},0.00\nInput Sequence Length (tokens),{isl},{isl},{isl},{isl},{isl},{isl},{isl},{isl},{isl},{isl},{isl},{isl},0.00\nOutput Sequence Length (tokens),{osl},{osl},{osl},{osl},{osl},{osl},{osl},{osl},{osl},{osl},{osl},{osl},0.00\n\nMetric,Value\nBenchmark Duration (sec),60.00\nRequest Throughput (requests/sec),{rps}\nOutput Token Throughput (tokens/sec),{tps}\n",
        t = m.ttft_ms,
        i = m.itl_ms,
        isl = m.isl,
        osl = m.osl,
        rps = m.output_tps / f64::from(m.osl),
        tps = m.output_tps
    )
}

/// vLLM `benchmark_serving.py --save-result` JSON.
fn vllm_json(m: &Measured) -> String {
    let n = 1000.0;
    format!(
        r#"{{"date": "20260301-120000", "backend": "openai-chat", "model_id": "meta/llama-3.1-8b-instruct", "num_prompts": 1000, "request_rate": "inf", "burstiness": 1.0, "max_concurrency": {c}, "duration": 60.0, "completed": {n}, "total_input_tokens": {ti}, "total_output_tokens": {to}, "request_throughput": {rps}, "output_throughput": {tps}, "mean_ttft_ms": {ttft}, "median_ttft_ms": {ttft}, "mean_tpot_ms": {itl}, "mean_itl_ms": {itl}}}"#,
        c = m.concurrency,
        ti = n * f64::from(m.isl),
        to = n * f64::from(m.osl),
        rps = m.output_tps / f64::from(m.osl),
        tps = m.output_tps,
        ttft = m.ttft_ms,
        itl = m.itl_ms
    )
}

/// What the engine gives at `points` with parameters `p`.
fn generated(p: &Params, shapes: &[(u32, u32, u32)]) -> Vec<Measured> {
    let r = p.apply(&base());
    shapes
        .iter()
        .map(|&(c, isl, osl)| {
            let mut m = Measured {
                file: String::new(),
                concurrency: c,
                isl,
                osl,
                ttft_ms: 0.0,
                itl_ms: 0.0,
                output_tps: 0.0,
            };
            let s = calibrate::predict(&r, &m);
            m.ttft_ms = s.ttft * 1e3;
            m.itl_ms = s.itl * 1e3;
            m.output_tps = s.output_tokens_per_s;
            m
        })
        .collect()
}

#[test]
fn the_three_formats_read_the_same_point() {
    let m = &generated(&Params::of(&base()), &[(64, 1000, 200)])[0];
    for (text, name, hint) in [
        (aiperf_json(m), "profile_export_aiperf.json", None),
        (
            aiperf_csv(m),
            "llama-openai-chat-concurrency64/profile_export_genai_perf.csv",
            None,
        ),
        (aiperf_csv(m), "profile_export_aiperf.csv", Some(64)),
        (vllm_json(m), "vllm-result.json", None),
    ] {
        let got = calibrate::read(&text, name, hint).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.concurrency, 64, "{name}");
        assert_eq!((got.isl, got.osl), (1000, 200), "{name}");
        for (a, b) in [
            (got.ttft_ms, m.ttft_ms),
            (got.itl_ms, m.itl_ms),
            (got.output_tps, m.output_tps),
        ] {
            assert!((a - b).abs() <= 1e-9 * b.abs(), "{name}: {a} vs {b}");
        }
    }
    // A CSV without a concurrency anywhere is refused, naming the file.
    let e = calibrate::read(&aiperf_csv(m), "summary.csv", None).unwrap_err();
    assert!(e.to_string().contains("summary.csv"), "{e}");
    // A missing field is named with its line.
    let broken = aiperf_json(m).replace("\"inter_token_latency\"", "\"itl\"");
    let e = calibrate::read(&broken, "p.json", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("inter_token_latency"), "{e}");
    let bad = aiperf_json(m).replace(
        "\"unit\": \"ms\", \"avg\"",
        "\"unit\": \"parsecs\", \"avg\"",
    );
    let e = calibrate::read(&bad, "p.json", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("p.json:3"), "{e}");
}

/// Data generated with known parameters (not the catalog's) is fitted
/// back: every point's TTFT, ITL and throughput within 2 %, and the
/// parameters near the truth.
#[test]
fn data_generated_with_known_parameters_is_fitted_back() {
    let truth = Params {
        step_overhead_ms: 2.2,
        per_seq_us: 12.0,
        frontend_output_us: 70.0,
        eta_cmp: 0.55,
        frontend_request_us: 2500.0,
    };
    let shapes = [
        (1, 2000, 200),
        (16, 200, 200),
        (64, 200, 200),
        (250, 200, 200),
    ];
    let points = generated(&truth, &shapes);
    let b = base();
    let before = calibrate::errors(&b, &points);
    assert!(
        before.iter().flatten().any(|e| e.abs() > 0.05),
        "the catalog's parameters must not already fit: {before:?}"
    );
    let p = calibrate::fit(&b, &points, 3);
    let after = calibrate::errors(&p.apply(&b), &points);
    for (m, e) in points.iter().zip(&after) {
        assert!(
            e.iter().all(|x| x.abs() <= 0.02),
            "c={} isl={}: {e:?} with {p:?}",
            m.concurrency,
            m.isl
        );
    }
    let near = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b;
    assert!(
        near(p.step_overhead_ms, truth.step_overhead_ms, 0.05),
        "{p:?}"
    );
    assert!(
        near(p.frontend_output_us, truth.frontend_output_us, 0.05),
        "{p:?}"
    );
    assert!(near(p.eta_cmp, truth.eta_cmp, 0.05), "{p:?}");
    assert!(
        near(p.frontend_request_us, truth.frontend_request_us, 0.10),
        "{p:?}"
    );
    // The catalog written loads, and gives the fitted engine.
    let text = calibrate::catalog_yaml(&b, &p, &["Calibrated by nimscale (test)".into()]).unwrap();
    let mut cat = Catalog::builtin().unwrap();
    cat.extend(&text, "calibrated.yaml")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let again = resolve(&cat, &opts()).unwrap();
    let e = calibrate::errors(&again, &points);
    assert!(e.iter().flatten().all(|x| x.abs() <= 0.021), "{e:?}");
}
