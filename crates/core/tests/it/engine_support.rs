//! Shared fixtures for the engine tests: catalog entries built in code (the
//! YAML catalog belongs to the runner) and a small driver.

use nimscale_core::engine::capacity::{self, EngineProfile};
use nimscale_core::engine::{
    Deployment, Dialect, Efficiency, Engine, EngineConfig, GpuSpec, KvDtype, ModelSpec, Precision,
    RequestOutcome, RequestSpec, Roofline, StepTimeModel, UsageModel,
};
use nimscale_core::time::SimTime;

pub fn h100() -> GpuSpec {
    GpuSpec {
        name: "h100-sxm".into(),
        family: "hopper".into(),
        memory_gib: 80.0,
        usable_memory_gib: 79.6,
        mem_bandwidth: 3.35e12,
        bf16_flops: 989e12,
        fp8_flops: Some(1979e12),
        link_bandwidth: 450e9,
        allreduce_latency: 12e-6,
        efficiency: Efficiency {
            mem: 0.77,
            cmp_bf16: 0.76,
            cmp_fp8: 0.45,
            kv_mem: 0.7,
        },
    }
}

pub fn llama8b() -> ModelSpec {
    ModelSpec {
        name: "llama-3.1-8b-instruct".into(),
        served_name: "meta/llama-3.1-8b-instruct".into(),
        layers: 32,
        hidden: 4096,
        heads: 32,
        kv_heads: 8,
        head_dim: 128,
        mlp: 14336,
        vocab: 128_256,
        tied_embeddings: false,
        extra_params: 0.0,
        max_context: 131_072,
        step_overhead: 0.0013,
        step_overhead_per_seq: 2e-6,
    }
}

pub fn deployment() -> Deployment {
    Deployment {
        gpu: h100(),
        model: llama8b(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 1,
    }
}

/// An engine config for `dep` under `profile`, overriding the KV block count
/// when `blocks` is given (to force preemption in small tests).
pub fn config(
    dep: &Deployment,
    profile: &EngineProfile,
    blocks: Option<u32>,
    exact: bool,
) -> EngineConfig {
    let mut cap = capacity::capacity(dep, profile).expect("fits");
    if let Some(b) = blocks {
        cap.num_gpu_blocks = b;
        cap.kv_tokens = u64::from(b) * u64::from(cap.block_size);
        cap.max_model_len = cap.max_model_len.min((b - 2) * cap.block_size);
    }
    EngineConfig {
        capacity: cap,
        prefix_caching: profile.enable_prefix_caching,
        prefix_block_tokens: profile.prefix_block_tokens,
        dialect: Dialect::Nim1,
        model_name: dep.model.served_name.clone(),
        exact_steps: exact,
        record_outcomes: true,
        usage: UsageModel::default(),
    }
}

pub fn roofline_engine(
    blocks: Option<u32>,
    exact: bool,
    profile: &EngineProfile,
) -> Engine<Roofline> {
    let dep = deployment();
    Engine::new(
        config(&dep, profile, blocks, exact),
        Roofline::new(&dep),
        SimTime::ZERO,
    )
}

/// Feeds `reqs` (sorted by arrival) to `engine`, runs it dry, and returns
/// the outcomes sorted by id. After every event it checks that KV usage
/// never exceeds the pool.
pub fn drive<M: StepTimeModel>(
    engine: &mut Engine<M>,
    reqs: &[RequestSpec],
) -> Vec<RequestOutcome> {
    let usable = engine.config().capacity.num_gpu_blocks - 1;
    let mut out = Vec::new();
    for r in reqs {
        while let Some(w) = engine.next_wakeup() {
            if w > r.arrival {
                break;
            }
            engine.advance(w);
            assert!(engine.used_blocks() <= usable);
        }
        engine.submit(r.arrival, r.clone());
        assert!(engine.used_blocks() <= usable);
        out.extend(engine.drain_outcomes());
    }
    while let Some(w) = engine.next_wakeup() {
        engine.advance(w);
        assert!(engine.used_blocks() <= usable);
        out.extend(engine.drain_outcomes());
    }
    out.extend(engine.drain_outcomes());
    out.sort_by_key(|o| o.id);
    out
}
