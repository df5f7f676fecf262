//! JSON renderings for `nimscale engine step-time` and `nimscale engine
//! capacity`: one object per command, stable key order, units in key names.

use nimscale_core::engine::capacity::Capacity;
use nimscale_core::engine::catalog::GIB;
use nimscale_core::engine::closed_loop::ClosedLoopStats;
use nimscale_core::engine::{BatchShape, Deployment, StepTime};
use serde::Serialize;

/// The deployment part every engine report starts with.
#[derive(Serialize)]
struct Head<'a> {
    gpu: &'a str,
    model: &'a str,
    precision: &'static str,
    kv_cache_dtype: &'static str,
    tp: u32,
}

fn head(dep: &Deployment) -> Head<'_> {
    Head {
        gpu: &dep.gpu.name,
        model: &dep.model.name,
        precision: dep.precision.as_str(),
        kv_cache_dtype: match dep.kv_dtype {
            nimscale_core::engine::KvDtype::Bf16 => "bf16",
            nimscale_core::engine::KvDtype::Fp8 => "fp8",
        },
        tp: dep.tp,
    }
}

#[derive(Serialize)]
struct StepTimeJson<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    decode_seqs: u32,
    context: f64,
    prefill_seqs: u32,
    prefill_tokens_per_seq: u32,
    tokens: u32,
    step_ms: f64,
    memory_ms: f64,
    compute_ms: f64,
    gpu_ms: f64,
    comm_ms: f64,
    overhead_ms: f64,
    bound: &'static str,
    decode_tokens_per_s: f64,
}

/// One step's time and parts as a JSON object.
pub fn step_time_json(
    dep: &Deployment,
    shape: &BatchShape,
    context: f64,
    prefill_tokens_per_seq: u32,
    t: &StepTime,
) -> String {
    let ms = |s: f64| (s * 1e6).round() / 1e3;
    let j = StepTimeJson {
        head: head(dep),
        decode_seqs: shape.decode_seqs,
        context,
        prefill_seqs: shape.prefill_seqs,
        prefill_tokens_per_seq,
        tokens: shape.tokens(),
        step_ms: ms(t.total),
        memory_ms: ms(t.memory),
        compute_ms: ms(t.compute),
        gpu_ms: ms(t.gpu),
        comm_ms: ms(t.comm),
        overhead_ms: ms(t.overhead),
        bound: if t.memory >= t.compute {
            "memory"
        } else {
            "compute"
        },
        decode_tokens_per_s: if t.total > 0.0 {
            (f64::from(shape.decode_seqs) / t.total).round()
        } else {
            0.0
        },
    };
    serde_json::to_string(&j).unwrap_or_default()
}

#[derive(Serialize)]
struct CapacityJson<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    weights_gib_per_gpu: f64,
    kv_cache_gib_per_gpu: f64,
    kv_bytes_per_token_per_gpu: f64,
    block_size: u32,
    kv_blocks: u32,
    kv_tokens: u64,
    max_model_len: u32,
    max_num_seqs: u32,
    max_num_batched_tokens: u32,
    max_running: u32,
    max_concurrency_at_max_model_len: f64,
    largest_batch_tokens_per_request: u32,
    largest_batch: u32,
}

/// The memory plan and limits as a JSON object; `tokens_per_request` sizes
/// the "largest batch".
pub fn capacity_json(dep: &Deployment, cap: &Capacity, tokens_per_request: u32) -> String {
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let j = CapacityJson {
        head: head(dep),
        weights_gib_per_gpu: r2(cap.weight_bytes_per_gpu / GIB),
        kv_cache_gib_per_gpu: r2(cap.kv_pool_bytes_per_gpu / GIB),
        kv_bytes_per_token_per_gpu: cap.kv_bytes_per_token_per_gpu,
        block_size: cap.block_size,
        kv_blocks: cap.num_gpu_blocks,
        kv_tokens: cap.kv_tokens,
        max_model_len: cap.max_model_len,
        max_num_seqs: cap.max_num_seqs,
        max_num_batched_tokens: cap.max_num_batched_tokens,
        max_running: cap.max_running,
        max_concurrency_at_max_model_len: r2(cap.concurrency_at(cap.max_model_len)),
        largest_batch_tokens_per_request: tokens_per_request,
        largest_batch: cap.largest_batch(tokens_per_request),
    };
    serde_json::to_string(&j).unwrap_or_default()
}

#[derive(Serialize)]
struct BenchmarkJson<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    concurrency: u32,
    isl: u32,
    osl: u32,
    requests: u32,
    ttft_ms: f64,
    itl_ms: f64,
    e2e_ms: f64,
    output_tokens_per_s: f64,
    requests_per_s: f64,
}

/// A closed-loop benchmark's means as a JSON object.
pub fn benchmark_json(
    dep: &Deployment,
    concurrency: u32,
    isl: u32,
    osl: u32,
    s: &ClosedLoopStats,
) -> String {
    let r3 = |x: f64| (x * 1e3).round() / 1e3;
    let j = BenchmarkJson {
        head: head(dep),
        concurrency,
        isl,
        osl,
        requests: s.measured,
        ttft_ms: r3(s.ttft * 1e3),
        itl_ms: r3(s.itl * 1e3),
        e2e_ms: r3(s.e2e * 1e3),
        output_tokens_per_s: r3(s.output_tokens_per_s),
        requests_per_s: r3(s.requests_per_s),
    };
    serde_json::to_string(&j).unwrap_or_default()
}
