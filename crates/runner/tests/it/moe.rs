//! Mixture-of-experts step times against an independent hand calculation:
//! Mixtral-8x7B (32 layers, h 4096, 32/8 heads of 128, 8 experts of width
//! 14336, top-2, vocab 32000) on two H100 SXM (BF16, TP 2), a decode step of
//! 4 sequences at 1,000 tokens of context. Every figure below is typed from
//! the model card and the GPU catalog, not taken from nimscale's code.

use nimscale_core::engine::{BatchShape, Deployment, KvDtype, Precision, Roofline, StepTimeModel};
use nimscale_runner::catalog::Catalog;

fn mixtral(expert_parallel: bool) -> Deployment {
    let cat = Catalog::builtin().unwrap();
    Deployment {
        gpu: cat.gpu("h100-sxm").unwrap().clone(),
        model: cat.model("mixtral-8x7b-instruct-v0.1").unwrap().clone(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 2,
        expert_parallel,
    }
}

/// The hand calculation, seconds: (memory, compute, communication, host).
fn by_hand(expert_parallel: bool) -> (f64, f64, f64, f64) {
    // Per layer: q and o 4096 × 4096 each, k and v 4096 × 1024 each; the
    // router 4096 × 8; one expert's w1, w3, w2 3 × 4096 × 14336.
    let attention = 2.0 * 16_777_216.0 + 2.0 * 4_194_304.0; // 41,943,040
    let router = 32_768.0;
    let expert = 176_160_768.0;
    let lm_head = 131_072_000.0; // 32000 × 4096
    // Memory, per GPU (half of every matrix at TP 2), BF16: the non-expert
    // layers and LM head always; the experts the 4 tokens touch: each picks
    // 2 of 8, so an expert is missed by all four with (6/8)^4.
    let always = (32.0 * (attention + router) + lm_head) * 2.0 / 2.0;
    let touched = 1.0 - 0.75_f64.powi(4); // 0.68359375
    let experts = 32.0 * 8.0 * expert * 2.0 / 2.0 * touched;
    // KV: 4 sequences × 1,001 tokens × 32 layers × 2 (K, V) × 4 heads on
    // this GPU × 128 × 2 bytes.
    let kv = 4.0 * 1001.0 * 32.0 * 2.0 * 4.0 * 128.0 * 2.0;
    let bw = 3.35e12;
    let memory = (always + experts) / (bw * 0.77) + kv / (bw * 0.70);
    // Compute: each token through attention, router, 2 experts and the LM
    // head (2 FLOPs per parameter, half on this GPU), plus attention over
    // its 1,001 tokens (4 · 32 layers · 32 heads · 128 / 2 per token).
    let active = 32.0 * (attention + router + 2.0 * expert) + lm_head;
    let peak = 989e12 * 0.76;
    let compute =
        4.0 * 2.0 * active / 2.0 / peak + 4.0 * 1001.0 * 4.0 * 32.0 * 32.0 * 128.0 / 2.0 / peak;
    // Communication: a ring all-reduce of 4 tokens × 4096 × 2 bytes moves
    // 2·(TP−1)/TP = 1 × the payload at 450 GB/s, 12 µs each.
    let payload = 4.0 * 4096.0 * 2.0;
    let comm = if expert_parallel {
        // 32 attention all-reduces; per MoE layer a dispatch and a combine
        // sending each token's state to its 2 experts, half of them remote.
        32.0 * (12e-6 + payload / 450e9) + 64.0 * (12e-6 + 0.5 * 2.0 * payload / 450e9)
    } else {
        64.0 * (12e-6 + payload / 450e9)
    };
    // The catalog entry: 2.78 ms per step, 1.6 µs per sequence.
    let host = 2.78e-3 + 4.0 * 1.6e-6;
    (memory, compute, comm, host)
}

#[test]
fn mixtral_decode_step_matches_the_hand_calculation() {
    let shape = BatchShape::decode(4, 1000.0);
    for ep in [false, true] {
        let (memory, compute, comm, host) = by_hand(ep);
        let t = Roofline::new(&mixtral(ep)).step(&shape);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(
            close(t.memory, memory),
            "ep {ep}: memory {} vs {memory}",
            t.memory
        );
        assert!(
            close(t.compute, compute),
            "ep {ep}: compute {} vs {compute}",
            t.compute
        );
        assert!(close(t.comm, comm), "ep {ep}: comm {} vs {comm}", t.comm);
        assert!(
            close(t.overhead, host),
            "ep {ep}: host {} vs {host}",
            t.overhead
        );
        let total = (memory * memory + compute * compute).sqrt() + comm + host;
        assert!(close(t.total, total), "ep {ep}: {} vs {total}", t.total);
    }
}

/// Small decode batches read few experts, large prefills all of them: the
/// step time of a MoE model grows with the batch far faster than a dense
/// model's of the same active size, and its capacity holds every expert.
#[test]
fn experts_touched_grow_with_the_batch() {
    let dep = mixtral(false);
    let r = Roofline::new(&dep);
    let one = r.step(&BatchShape::decode(1, 100.0)).memory;
    let many = r.step(&BatchShape::decode(256, 100.0)).memory;
    // One token touches 2 of 8 experts; 256 touch all 8.
    let expert_secs = dep.expert_bytes_per_gpu() / (3.35e12 * 0.77);
    let always = dep.step_weight_bytes_per_gpu() / (3.35e12 * 0.77);
    let kv = |n: f64| n * 101.0 * 65_536.0 / (3.35e12 * 0.70);
    assert!((one - (always + 0.25 * expert_secs + kv(1.0))).abs() < 1e-12);
    assert!((many - (always + expert_secs + kv(256.0))).abs() < 1e-9);
    // Every expert is held: 46.7 B parameters in BF16 over 2 GPUs.
    assert!((dep.weight_bytes_per_gpu() * 2.0 / 2.0 / 46.7e9 - 1.0).abs() < 0.01);
}

/// The closed-form decode kernel equals the step time bit for bit for MoE,
/// MLA, sliding-window and heterogeneous models too (the engine's decode runs
/// rely on it).
#[test]
fn decode_kernel_is_exact_for_every_architecture() {
    let cat = Catalog::builtin().unwrap();
    for (model, gpu, precision, tp, ep) in [
        (
            "mixtral-8x7b-instruct-v0.1",
            "h100-sxm",
            Precision::Bf16,
            2,
            false,
        ),
        ("qwen3-235b-a22b", "h200", Precision::Fp8, 4, true),
        ("gpt-oss-120b", "h100-sxm", Precision::Mxfp4, 1, false),
        ("deepseek-r1", "h200", Precision::Fp8, 8, false),
        (
            "llama-3.3-nemotron-super-49b-v1",
            "h100-sxm",
            Precision::Fp8,
            1,
            false,
        ),
    ] {
        let dep = Deployment {
            gpu: cat.gpu(gpu).unwrap().clone(),
            model: cat.model(model).unwrap().clone(),
            precision,
            kv_dtype: KvDtype::Fp8,
            tp,
            expert_parallel: ep,
        };
        let r = Roofline::new(&dep);
        for n in [1u32, 3, 64, 500] {
            for ctx in [0.0, 127.0, 5_000.0] {
                let shape = BatchShape::decode(n, ctx);
                let k = r.decode_kernel(n).unwrap();
                assert_eq!(
                    k.secs(shape.decode_kv).to_bits(),
                    r.step_secs(&shape).to_bits(),
                    "{model} n {n} ctx {ctx}"
                );
            }
        }
    }
}
