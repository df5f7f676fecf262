//! Integration tests of nimscale-runner: one binary, one module per topic (R12).

#![allow(clippy::unwrap_used)]

mod calibrate;
mod defaults;
mod fuzz;
mod hf;
mod moe;
mod promtool;
mod scenario;
mod sweep;
mod validation;
mod vlm;
