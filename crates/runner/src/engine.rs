//! Building engines from catalog names and profile settings: what the
//! `nimscale engine` commands and scenarios share.

use nimscale_core::engine::capacity::{self, Capacity, EngineProfile};
use nimscale_core::engine::{
    Deployment, Dialect, Engine, EngineConfig, KvDtype, Precision, Roofline, UsageModel,
};
use nimscale_core::time::SimTime;

use crate::catalog::Catalog;

/// A deployment named by catalog keys, with engine settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineOptions {
    /// GPU key.
    pub gpu: String,
    /// Model key.
    pub model: String,
    /// Weight precision.
    pub precision: Precision,
    /// KV-cache element type.
    pub kv_dtype: KvDtype,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Whether MoE layers run expert-parallel (`--enable-expert-parallel`).
    pub expert_parallel: bool,
    /// Engine settings.
    pub profile: EngineProfile,
}

/// A deployment that fits, with its start-up memory plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// GPU × model × precision × TP.
    pub deployment: Deployment,
    /// Limits and KV capacity.
    pub capacity: Capacity,
    /// The settings it was built from.
    pub profile: EngineProfile,
}

/// Why a deployment cannot be built, by the part of it at fault, so that
/// a loader can point at the field without reading the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// The GPU is not in the catalog.
    UnknownGpu(String),
    /// The model is not in the catalog.
    UnknownModel(String),
    /// Both are known, but the model does not fit or cannot be split over
    /// the GPUs (vLLM's own message where it has one).
    Capacity(String),
}

impl ResolveError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::UnknownGpu(m) | Self::UnknownModel(m) | Self::Capacity(m) => m,
        }
    }
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ResolveError {}

/// Resolves names and checks that the model fits.
pub fn resolve(catalog: &Catalog, opts: &EngineOptions) -> Result<Resolved, ResolveError> {
    let dep = Deployment {
        gpu: catalog
            .gpu(&opts.gpu)
            .map_err(ResolveError::UnknownGpu)?
            .clone(),
        model: catalog
            .model(&opts.model)
            .map_err(ResolveError::UnknownModel)?
            .clone(),
        precision: opts.precision,
        kv_dtype: opts.kv_dtype,
        tp: opts.tp,
        expert_parallel: opts.expert_parallel,
    };
    let cap = capacity::capacity(&dep, &opts.profile)
        .map_err(|e| ResolveError::Capacity(e.to_string()))?;
    Ok(Resolved {
        deployment: dep,
        capacity: cap,
        profile: opts.profile.clone(),
    })
}

impl Resolved {
    /// The engine configuration for one pod.
    pub fn config(&self, dialect: Dialect, record_outcomes: bool) -> EngineConfig {
        EngineConfig {
            capacity: self.capacity.clone(),
            prefix_caching: self.profile.enable_prefix_caching,
            prefix_block_tokens: self.profile.prefix_block_tokens,
            dialect,
            model_name: self.deployment.model.served_name.clone(),
            exact_steps: false,
            record_outcomes,
            usage: UsageModel::default(),
            frontend: self.deployment.model.frontend,
        }
    }

    /// An idle engine with the default roofline step-time model.
    pub fn roofline_engine(&self, dialect: Dialect, record_outcomes: bool) -> Engine<Roofline> {
        Engine::new(
            self.config(dialect, record_outcomes),
            Roofline::new(&self.deployment),
            SimTime::ZERO,
        )
    }
}
