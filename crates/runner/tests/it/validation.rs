//! The engine against published measurements (gpu-model.md §4.4).
//!
//! Each reference point names its source, the measured value, nimscale's
//! value with the shipped catalog, the relative error, and the band the
//! point must stay within. `cargo test -p nimscale-runner --test it
//! validation -- --nocapture` prints the table and the overall error.
//!
//! Sources:
//! * GEMM: Vidur per-layer profiles, Llama-2-7B shapes, TP1 (sum of QKV, out,
//!   MLP up, MLP down; medians) — checks the roofline's linear part.
//! * Splitwise: Llama-2-70B, TP2, FP16, per-step token and prompt times.
//! * NIM 70B: NVIDIA NIM benchmarking, Llama-3.3-70B-Instruct, NIM 1.8.0,
//!   2×H100 80GB, FP8, TP2, 5000 in / 500 out, AIPerf concurrency mode.
//! * NIM 8B: the same page's first Llama-3.1-8B-Instruct table (1×H100,
//!   FP8 by its ITL); its ISL/OSL headings were not legible: the TTFT at
//!   concurrency 1 (10.3 ms) bounds the prompt to a few hundred tokens, and
//!   throughput ≈ c / (ITL + TTFT/OSL) fits OSL ≈ 200, so 200 in / 200 out.
//! * vLLM CI: H200, Llama-3.1-8B TP1, 32 in / 128 out, batch 8, mean e2e.

use nimscale_core::engine::capacity::EngineProfile;
use nimscale_core::engine::catalog::Deployment;
use nimscale_core::engine::{
    BatchShape, Dialect, KvDtype, ModelSpec, Precision, Roofline, StepTimeModel,
};
use nimscale_core::time::SimTime;
use nimscale_runner::benchmark::{ClosedLoopStats, steady_state};
use nimscale_runner::catalog::Catalog;
use nimscale_runner::engine::{EngineOptions, ResolveError, resolve};

struct Point {
    group: &'static str,
    /// GPU and precision, for the per-setup summary.
    setup: String,
    what: String,
    measured: f64,
    simulated: f64,
    band: f64,
}

impl Point {
    fn err(&self) -> f64 {
        (self.simulated - self.measured) / self.measured
    }
}

fn llama2(layers: u32, hidden: u32, heads: u32, kv: u32, mlp: u32, overhead: f64) -> ModelSpec {
    ModelSpec {
        name: "llama-2".into(),
        served_name: "llama-2".into(),
        layers,
        hidden,
        heads,
        kv_heads: kv,
        head_dim: 128,
        mlp,
        vocab: 32_000,
        tied_embeddings: false,
        extra_params: 0.0,
        max_context: 4096,
        step_overhead: overhead,
        step_overhead_per_seq: 6e-6,
        frontend: Default::default(),
        layer_groups: Vec::new(),
        config_file: None,
        vision: None,
    }
}

fn gemm_points(cat: &Catalog, out: &mut Vec<Point>) {
    let data: [(&str, [f64; 7]); 2] = [
        (
            "h100-sxm",
            [0.156, 0.180, 0.260, 0.329, 0.565, 1.087, 2.205],
        ),
        (
            "a100-80gb",
            [0.266, 0.352, 0.503, 0.953, 1.959, 3.825, 7.49],
        ),
    ];
    let tokens = [1u32, 128, 256, 512, 1024, 2048, 4096];
    for (gpu, ms) in data {
        let dep = Deployment {
            gpu: cat.gpu(gpu).unwrap().clone(),
            model: llama2(1, 4096, 32, 32, 11008, 0.0),
            precision: Precision::Bf16,
            kv_dtype: KvDtype::Bf16,
            tp: 1,
            expert_parallel: false,
        };
        // One layer's linear parameters only: no LM head, no attention, no
        // overhead.
        let g = dep.model.groups()[0];
        let h = f64::from(dep.model.hidden);
        let p = g.attention.params(h) + g.ffn.dense_params(h);
        let mut r = Roofline::new(&dep);
        r.weight_bytes = p * 2.0;
        r.gemm_flops_per_token = 2.0 * p;
        r.attn_flops_per_ctx = 0.0;
        r.prefill_attn_flops_per_ctx = 0.0;
        r.kv_bytes_per_token = 0.0;
        for (t, m) in tokens.iter().zip(ms) {
            let mut s = BatchShape::default();
            s.add_prefill(*t, 0);
            out.push(Point {
                group: "GEMM (Vidur)",
                setup: format!("{gpu} bf16"),
                what: format!("{gpu} layer GEMMs, {t} tokens [ms]"),
                measured: m,
                simulated: r.step_secs(&s) * 1e3,
                band: if gpu == "h100-sxm" && *t == 256 {
                    0.25
                } else {
                    0.10
                },
            });
        }
    }
}

fn splitwise_points(cat: &Catalog, out: &mut Vec<Point>) {
    let model = cat.model("llama-3.1-70b-instruct").unwrap();
    let shape = llama2(80, 8192, 64, 8, 28672, model.step_overhead);
    for (gpu, decode, prompt) in [
        (
            "h100-sxm",
            [37.0, 52.0],
            [48.0, 84.0, 158.0, 310.0, 640.0, 1340.0],
        ),
        (
            "a100-80gb",
            [55.0, 72.0],
            [81.0, 196.0, 377.0, 686.0, 1490.0, 2990.0],
        ),
    ] {
        let dep = Deployment {
            gpu: cat.gpu(gpu).unwrap().clone(),
            model: shape.clone(),
            precision: Precision::Bf16,
            kv_dtype: KvDtype::Bf16,
            tp: 2,
            expert_parallel: false,
        };
        let r = Roofline::new(&dep);
        for (b, m) in [1u32, 32].iter().zip(decode) {
            out.push(Point {
                group: "Splitwise 70B TP2",
                setup: format!("{gpu} fp16"),
                what: format!("{gpu} decode step, batch {b}, 512-token prompts [ms]"),
                measured: m,
                simulated: r.step_secs(&BatchShape::decode(*b, 512.0)) * 1e3,
                // gpu-model.md §4.4: that H100 software stack was markedly less
                // efficient than the GEMM calibration (prefill ~40 % slower).
                band: if gpu == "h100-sxm" { 0.45 } else { 0.30 },
            });
        }
        for (t, m) in [128u32, 512, 1024, 2048, 4096, 8192].iter().zip(prompt) {
            let mut s = BatchShape::default();
            s.add_prefill(*t, 0);
            out.push(Point {
                group: "Splitwise 70B TP2",
                setup: format!("{gpu} fp16"),
                what: format!("{gpu} prompt step, {t} tokens [ms]"),
                measured: m,
                simulated: r.step_secs(&s) * 1e3,
                band: if gpu == "h100-sxm" { 0.45 } else { 0.30 },
            });
        }
    }
}

/// A point of NVIDIA's NIM tables (H100, FP8).
fn nim_fp8(group: &'static str, what: String, measured: f64, simulated: f64, band: f64) -> Point {
    Point {
        group,
        setup: "h100-sxm fp8".into(),
        what,
        measured,
        simulated,
        band,
    }
}

/// A NIM table row's ITL (band 25 %) and output throughput (`tps_band`).
fn decode_points(
    out: &mut Vec<Point>,
    g: &'static str,
    c: u32,
    (itl, tps): (f64, f64),
    s: &ClosedLoopStats,
    tps_band: f64,
) {
    out.push(nim_fp8(
        g,
        format!("ITL, c={c} [ms]"),
        itl,
        s.itl * 1e3,
        0.25,
    ));
    out.push(nim_fp8(
        g,
        format!("throughput, c={c} [tok/s]"),
        tps,
        s.output_tokens_per_s,
        tps_band,
    ));
}

fn nim_points(cat: &Catalog, out: &mut Vec<Point>) {
    // NIM's FP8 profiles quantise the KV cache too: with BF16 KV the 70B
    // pool (~238 k tokens) would fill before 50 × 5,250 tokens, yet the
    // measured TTFT cliff lies between 50 and 100 clients.
    let run = |gpu: &str, model: &str, tp: u32, c: u32, isl: u32, osl: u32| {
        let opts = EngineOptions {
            gpu: gpu.into(),
            model: model.into(),
            precision: Precision::Fp8,
            kv_dtype: KvDtype::Fp8,
            tp,
            expert_parallel: false,
            // NIM's optimised H100 profiles run TensorRT-LLM, whose executor
            // schedules each prompt whole (chunked context is off by
            // default): a 5,000-token prefill does not share its step with
            // the next prompt's first chunk, as vLLM V1's would.
            profile: EngineProfile {
                enable_prefix_caching: false,
                chunked_prefill: false,
                ..EngineProfile::default()
            },
        };
        let r = resolve(cat, &opts).unwrap();
        steady_state(&r, c, isl, osl, (c * 10).max(400))
    };
    // (concurrency, TTFT ms, ITL ms, output tok/s)
    let t70 = [
        (1u32, 407.0, 18.6, 51.7),
        (5, 547.0, 21.8, 218.0),
        (25, 689.0, 38.8, 623.0),
        (50, 835.0, 59.7, 814.0),
        (100, 7996.0, 92.9, 917.0),
    ];
    for (c, ttft, itl, tps) in t70 {
        let s = run("h100-sxm", "llama-3.1-70b-instruct", 2, c, 5000, 500);
        let g = "NIM 70B FP8 TP2 5000/500";
        decode_points(out, g, c, (itl, tps), &s, 0.30);
        // At c = 100 the KV cache is full and TTFT is the wait for it (8 s):
        // in the table from 1 to 50 clients, where it is the prefill and
        // the contention between prompts.
        if c <= 50 {
            out.push(nim_fp8(
                g,
                format!("TTFT, c={c} [ms]"),
                ttft,
                s.ttft * 1e3,
                0.40,
            ));
        }
    }
    let t8 = [
        (1u32, 10.3, 4.63, 215.0),
        (5, 16.8, 4.58, 1077.0),
        (25, 36.3, 5.19, 4679.0),
        (50, 67.4, 5.91, 8018.0),
        (100, 120.0, 7.57, 12215.0),
        (150, 347.0, 9.81, 12989.0),
        (200, 465.0, 12.65, 13348.0),
        (250, 606.0, 16.14, 12965.0),
    ];
    for (c, ttft, itl, tps) in t8 {
        let s = run("h100-sxm", "llama-3.1-8b-instruct", 1, c, 200, 200);
        let g = "NIM 8B FP8 200/200";
        // TTFT at c = 1 checks the prefill; from 25 to 100 clients, the
        // queue each cohort of clients (started at once, as AIPerf does)
        // forms in the front end and the scheduler; at 150 and above, the
        // front end's saturation (gpu-model.md §4.4 item 3).
        out.push(nim_fp8(
            g,
            format!("TTFT, c={c} [ms]"),
            ttft,
            s.ttft * 1e3,
            0.40,
        ));
        let band = if c >= 100 { 0.10 } else { 0.30 };
        decode_points(out, g, c, (itl, tps), &s, band);
    }
}

fn vllm_ci_point(cat: &Catalog, out: &mut Vec<Point>) {
    let opts = EngineOptions {
        gpu: "h200".into(),
        model: "llama-3.1-8b-instruct".into(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 1,
        expert_parallel: false,
        profile: EngineProfile::default(),
    };
    let r = resolve(cat, &opts).unwrap();
    let mut eng = r.roofline_engine(Dialect::Vllm, true);
    for i in 0..8 {
        eng.submit(
            SimTime::ZERO,
            nimscale_core::engine::simple_request(i, SimTime::ZERO, 32, 128),
        );
    }
    let mut e2e = 0.0;
    while let Some(w) = eng.next_wakeup() {
        eng.advance(w);
        e2e += eng.drain_outcomes().map(|o| o.e2e).sum::<f64>();
    }
    out.push(Point {
        group: "vLLM CI H200",
        setup: "h200 bf16".into(),
        what: "8B BF16 32/128 batch 8 mean e2e [ms]".into(),
        measured: 833.0,
        simulated: e2e / 8.0 * 1e3,
        band: 0.25,
    });
}

/// The `c=N` of a point's label (0 if none).
fn concurrency(what: &str) -> u32 {
    what.split("c=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

#[test]
fn engine_matches_published_measurements() {
    let cat = Catalog::builtin().unwrap();
    let mut pts = Vec::new();
    gemm_points(&cat, &mut pts);
    splitwise_points(&cat, &mut pts);
    nim_points(&cat, &mut pts);
    vllm_ci_point(&cat, &mut pts);
    println!(
        "{:<26} {:<52} {:>10} {:>10} {:>8} {:>6}",
        "source", "point", "measured", "nimscale", "error", "band"
    );
    let mut failures = Vec::new();
    for p in &pts {
        let e = p.err();
        let flag = if e.abs() > p.band {
            " <-- outside band"
        } else {
            ""
        };
        println!(
            "{:<26} {:<52} {:>10.2} {:>10.2} {:>+7.1}% {:>5.0}%{flag}",
            p.group,
            p.what,
            p.measured,
            p.simulated,
            e * 100.0,
            p.band * 100.0
        );
        if e.abs() > p.band {
            failures.push(p.what.clone());
        }
    }
    let summary = |label: &str, sel: &[&Point]| {
        let mut errs: Vec<f64> = sel.iter().map(|p| p.err().abs()).collect();
        errs.sort_by(f64::total_cmp);
        let mean = errs.iter().sum::<f64>() / errs.len() as f64;
        println!(
            "{label}: {} points; mean |error| {:.1}%, median {:.1}%, max {:.1}%",
            errs.len(),
            mean * 100.0,
            errs[errs.len() / 2] * 100.0,
            errs[errs.len() - 1] * 100.0
        );
    };
    let all: Vec<&Point> = pts.iter().collect();
    summary("all", &all);
    let mut setups: Vec<&str> = pts.iter().map(|p| p.setup.as_str()).collect();
    setups.sort_unstable();
    setups.dedup();
    for setup in setups {
        let sel: Vec<&Point> = pts.iter().filter(|p| p.setup == setup).collect();
        summary(&format!("  {setup}"), &sel);
    }
    // High concurrency, where capacity is decided: the NIM 8B points at 100
    // clients and more (the front end's regime) and the 70B's at 50 and more
    // (prefill contention, the KV cache filling). The acceptance:
    // median ≤ 5 %, mean ≤ 8 %, none worse than 20 %.
    let high: Vec<&Point> = (pts.iter())
        .filter(|p| {
            let c = concurrency(&p.what);
            (p.group.starts_with("NIM 8B") && c >= 100)
                || (p.group.starts_with("NIM 70B") && c >= 50)
        })
        .collect();
    summary("NIM 8B at c >= 100 and 70B at c >= 50", &high);
    let mut errs: Vec<f64> = high.iter().map(|p| p.err().abs()).collect();
    errs.sort_by(f64::total_cmp);
    let mean = errs.iter().sum::<f64>() / errs.len() as f64;
    assert!(
        errs[errs.len() / 2] <= 0.05 && mean <= 0.08 && errs[errs.len() - 1] <= 0.20,
        "high-concurrency points: {errs:?}"
    );
    assert!(pts.len() >= 69, "every published point is in the table");
    assert!(failures.is_empty(), "outside their bands: {failures:?}");
}

#[test]
fn kv_capacity_matches_the_worked_examples() {
    // gpu-model.md §4.3 (utilisation 0.9, 2 GiB activations, 0.5 GiB graphs):
    // (gpu, model, precision, tp, KV tokens).
    let cat = Catalog::builtin().unwrap();
    let cases = [
        (
            "h100-sxm",
            "llama-3.1-8b-instruct",
            Precision::Bf16,
            1,
            444_000.0,
        ),
        (
            "h100-sxm",
            "llama-3.1-8b-instruct",
            Precision::Fp8,
            1,
            505_000.0,
        ),
        (
            "a100-80gb",
            "llama-3.1-8b-instruct",
            Precision::Bf16,
            1,
            441_000.0,
        ),
        (
            "l40s",
            "llama-3.1-8b-instruct",
            Precision::Bf16,
            1,
            185_000.0,
        ),
        (
            "h100-sxm",
            "llama-3.1-70b-instruct",
            Precision::Fp8,
            2,
            238_000.0,
        ),
        (
            "h100-sxm",
            "llama-3.1-70b-instruct",
            Precision::Bf16,
            4,
            476_000.0,
        ),
        (
            "h200",
            "llama-3.1-70b-instruct",
            Precision::Bf16,
            2,
            378_000.0,
        ),
    ];
    for (gpu, model, precision, tp, want) in cases {
        let opts = EngineOptions {
            gpu: gpu.into(),
            model: model.into(),
            precision,
            kv_dtype: KvDtype::Bf16,
            tp,
            expert_parallel: false,
            profile: EngineProfile::default(),
        };
        let got = resolve(&cat, &opts).unwrap().capacity.kv_tokens as f64;
        let err = (got - want) / want;
        assert!(
            err.abs() < 0.03,
            "{gpu} {model} {precision:?} tp{tp}: {got} vs {want}"
        );
    }
    // A model that does not fit is refused with a clear message.
    let opts = EngineOptions {
        gpu: "a100-40gb".into(),
        model: "llama-3.1-70b-instruct".into(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 2,
        expert_parallel: false,
        profile: EngineProfile::default(),
    };
    let e = resolve(&cat, &opts).unwrap_err();
    assert!(
        matches!(&e, ResolveError::Capacity(m) if m.contains("does not fit on 2× a100-40gb")),
        "{e:?}"
    );
    let opts = EngineOptions {
        model: "cosmos-reason1-7b".into(),
        gpu: "h100-sxm".into(),
        tp: 8,
        expert_parallel: false,
        ..opts
    };
    assert_eq!(
        resolve(&cat, &opts).unwrap_err(),
        ResolveError::Capacity(
            "Total number of attention heads (28) must be divisible by tensor parallel size (8)."
                .into()
        )
    );
}
