//! What the NVIDIA NIM Operator makes of a `NIMService`: admission (CRD
//! schema, CEL rules, the operator's webhook), the objects its reconcile loop
//! creates, and the pieces it does not create (prometheus-adapter rules).

pub mod admission;
pub mod cel;
pub mod field;
pub mod node;
pub mod render;
pub mod schema;
pub mod types;
pub mod webhook;
