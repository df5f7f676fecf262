//! The cluster simulation: traffic, the Service's load balancer, pods with
//! their start-up stages and engines, the ReplicaSet, GPU nodes and the
//! cluster autoscaler, and the HPA controller, on one event queue.
//!
//! * [`autoscaler`] — what scales the Deployment (the HPA first);
//! * [`queue`] — the event queue (total order, lazy cancellation);
//! * [`traffic`] — rate patterns and trace replay;
//! * [`dist`] — distributions of stage durations and token counts;
//! * [`config`] — everything a run is configured with;
//! * [`direct`] — the idealised metric reader behind the HPA's
//!   `MetricsClient` trait (the Prometheus path plugs in the same way);
//! * [`world`] — the event loop ([`world::Simulation`]);
//! * [`record`] — what a run returns; [`stats`] — streaming statistics.

pub mod autoscaler;
pub mod config;
pub mod diagnose;
pub mod direct;
pub mod dist;
pub mod queue;
pub mod record;
pub mod stats;
pub mod traffic;
pub mod world;

pub use config::SimConfig;
pub use record::SimResult;
pub use world::Simulation;
