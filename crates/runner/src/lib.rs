//! # nimscale-runner
//!
//! Turns user files into core values: it parses YAML or JSON with locations
//! ([`yaml`]), validates the raw shapes and reports every problem at once with
//! file, line and field ([`error::LoadError`]), and runs the pure core over them.
//! It never touches the filesystem itself: the CLI hands it text and a name.
//!
//! ```
//! let text = "hpa:\n  spec:\n    maxReplicas: 4\nsteps:\n  - time: 0\n    replicas: 2\n";
//! let input = nimscale_runner::explain::parse(text, "example.yaml").expect("valid");
//! let decisions = nimscale_runner::explain::run(&input);
//! assert_eq!(decisions.len(), 1);
//! ```

pub mod benchmark;
pub mod calibrate;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod explain;
pub mod hf;
pub mod limits;
pub mod openmetrics;
pub mod plan;
pub mod scenario;
pub mod sweep;
pub mod yaml;

pub use error::{LoadError, LoadErrors};
