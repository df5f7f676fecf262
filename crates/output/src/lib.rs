//! # nimscale-output
//!
//! Renderings of core values for people and tools. The core never formats
//! text (R7); this crate does.
//!
//! ```
//! use nimscale_core::hpa::controller::ControllerConfig;
//! let text = nimscale_output::explain::render_config(&ControllerConfig::default());
//! assert!(text.contains("tolerance 0.1"));
//! ```

pub mod csv_text;
pub mod engine;
pub mod explain;
/// The NIM Operator emulation, its own crate (`nimscale-operator`).
pub use nimscale_operator as k8s;
pub mod openmetrics;
pub mod report;
pub mod simulate;
pub mod summary;
pub mod sweep;
