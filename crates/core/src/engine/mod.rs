//! The GPU inference engine of one pod: a vLLM V1 scheduler in miniature.
//!
//! * [`catalog`] — GPUs, models, precisions ([`catalog::Deployment`]);
//! * [`capacity`] — vLLM's start-up memory plan and limits
//!   ([`capacity::capacity`]), refusing models that do not fit;
//! * [`step_time`] — the [`step_time::StepTimeModel`] trait with the roofline,
//!   fitted and measured-profile models;
//! * [`engine`] — the scheduler: token budget, `max_num_seqs`, chunked
//!   prefill, FCFS admission on free KV blocks, preemption by recompute of
//!   the newest request, prefix caching; decode stretches advanced in closed
//!   form so that cost grows with events, not tokens;
//! * [`metrics`] — the NIM 1.x and vLLM series with their exact buckets;
//! * [`usage`] — CPU and memory of the pod.
//!
//! ```
//! use nimscale_core::engine::step_time::{BatchShape, Fitted, StepTimeModel};
//!
//! // A linear-ITL model: 20 ms per step plus 0.4 ms per sequence.
//! let m = Fitted { a: 0.020, per_seq: 0.0004, ..Fitted::default() };
//! let t = m.step_secs(&BatchShape::decode(4, 1000.0));
//! assert!((t - 0.0216).abs() < 1e-12);
//! ```

pub mod arch;
pub mod capacity;
pub mod catalog;
pub mod closed_loop;
#[allow(clippy::module_inception)]
pub mod engine;
mod kv;
pub mod metrics;
pub mod names;
mod roofline;
mod run;
pub mod step_time;
pub mod usage;

pub use arch::{Attention, Ffn, LayerGroup, VisionSpec};
pub use capacity::{Capacity, CapacityError, EngineProfile, capacity};
pub use catalog::{Deployment, Efficiency, GpuSpec, KvDtype, ModelSpec, Precision};
pub use engine::{Engine, EngineConfig, FrontEnd, RequestOutcome, RequestSpec, simple_request};
pub use metrics::{Dialect, EngineMetrics, FinishReason, Gauges, Sample};
pub use step_time::{BatchShape, Fitted, ProfileTable, Roofline, StepTime, StepTimeModel};
pub use usage::{Usage, UsageModel};
