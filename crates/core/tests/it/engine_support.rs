//! Shared fixtures for the engine tests: a deployment from the built-in
//! catalog and a small driver.

use nimscale_core::engine::capacity::{self, EngineProfile};
use nimscale_core::engine::{
    Deployment, Dialect, Engine, EngineConfig, KvDtype, Precision, RequestOutcome, RequestSpec,
    Roofline, StepTimeModel, UsageModel,
};
use nimscale_core::time::SimTime;
use nimscale_runner::catalog::Catalog;

/// Llama-3.1-8B BF16 on one H100 SXM, as the built-in catalog has them
/// (one source for every test and bench, so fixtures cannot drift).
pub fn deployment() -> Deployment {
    let catalog = Catalog::builtin().expect("the built-in catalog loads");
    Deployment {
        gpu: catalog.gpu("h100-sxm").expect("h100-sxm").clone(),
        model: (catalog.model("llama-3.1-8b-instruct"))
            .expect("llama-3.1-8b-instruct")
            .clone(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp: 1,
        expert_parallel: false,
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
        frontend: dep.model.frontend,
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
