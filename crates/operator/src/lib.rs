//! # nimscale-operator
//!
//! What the NVIDIA NIM Operator makes of a `NIMService`: admission (CRD
//! schema, CEL rules, the operator's webhook), the objects its reconcile loop
//! creates, and the pieces it does not create (prometheus-adapter rules),
//! plus lint warnings and the export bundle.

pub mod adapter;
pub mod admission;
pub mod bundle;
pub mod cel;
pub mod field;
pub mod lint;
pub mod node;
pub mod patch;
pub mod render;
pub mod schema;
pub mod types;
pub mod webhook;
pub mod yaml;

/// The NIM Operator whose CRDs and reconcile this crate emulates (see
/// `crd/README.md`); `nimscale --version` and every bundle's README say it.
pub const EMULATED_OPERATOR: &str = "NVIDIA/k8s-nim-operator main at f63f74d7ad22 (2026-08-19)";
