//! The Kubernetes HorizontalPodAutoscaler controller, bit for bit.
//!
//! A port of `pkg/controller/podautoscaler` as pure functions over explicit
//! state and an explicit `now` (R4). The layers mirror upstream:
//!
//! * [`api`] — `autoscaling/v2` wire types; [`validation`] turns them into a
//!   [`spec::HpaSpec`] with the API server's messages;
//! * [`pods`] and [`replica_calc`] — per-metric proposals
//!   (`replica_calculator.go`);
//! * [`behavior`] and [`legacy`] — the two normalization paths;
//! * [`controller`] — one reconcile: pre-checks, max over metrics, invalid
//!   metric rules, normalization, conditions and events.
//!
//! Conformance is checked against 20,736 vectors computed by Kubernetes' own
//! code (`tests/it/hpa_conformance.rs`).

pub mod api;
pub mod behavior;
pub mod conditions;
pub mod controller;
pub mod history;
pub mod legacy;
pub mod normalize;
pub mod pods;
pub mod replica_calc;
pub mod selector;
pub mod spec;
pub mod validation;

pub use conditions::{Condition, ConditionType, Event, EventType, LimitReason, StabilizeReason};
pub use controller::{
    ControllerConfig, Decision, Hpa, HpaState, MetricStatus, MetricsClient, PodLister, ScaleInfo,
    reconcile,
};
pub use pods::{ConditionStatus, ContainerInfo, PodInfo, PodMetric, PodMetricsList, PodPhase};
pub use spec::HpaSpec;
