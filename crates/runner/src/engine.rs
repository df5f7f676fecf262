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

/// Resolves names and checks that the model fits.
pub fn resolve(catalog: &Catalog, opts: &EngineOptions) -> Result<Resolved, String> {
    let dep = catalog.deployment(
        &opts.gpu,
        &opts.model,
        opts.precision,
        opts.kv_dtype,
        opts.tp,
    )?;
    let cap = capacity::capacity(&dep, &opts.profile).map_err(|e| e.to_string())?;
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
