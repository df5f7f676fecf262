//! # nimscale-core
//!
//! The pure simulation core of nimscale: integer simulated time
//! ([`time::SimTime`]), Kubernetes quantities ([`quantity::Quantity`]) and the
//! HorizontalPodAutoscaler controller reproduced bit for bit ([`hpa`]).
//!
//! Nothing here performs I/O, reads the wall clock or the environment, or
//! prints (enforced by `clippy.toml`); inputs arrive as values and outputs
//! leave as values.
//!
//! ```
//! use nimscale_core::hpa::{legacy, replica_calc::Tolerances};
//!
//! // 4 pods at 90 % CPU against a 60 % target: ratio 1.5, propose 6 replicas.
//! let ratio = 90.0 / 60.0;
//! assert!(!Tolerances::symmetric(0.1).is_within(ratio));
//! assert_eq!(nimscale_core::hpa::replica_calc::ceil_i32(ratio * 4.0), 6);
//! // The legacy path lets 4 replicas grow to at most max(2×4, 4) = 8.
//! assert_eq!(legacy::scale_up_limit(4), 8);
//! ```

pub mod engine;
pub mod hpa;
pub mod metrics;
pub mod quantity;
pub mod rng;
pub mod series;
pub mod sim;
pub mod sweep;
pub mod time;
