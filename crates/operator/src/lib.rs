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
