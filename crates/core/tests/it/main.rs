//! Integration tests of nimscale-core: one binary, one module per topic (R12).

// The harness reads bundled data and an optional directory named by an
// environment variable, and prints one summary line per vector file; the
// core's purity lints do not apply to test code.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_macros,
    clippy::unwrap_used
)]

mod engine_basics;
mod engine_props;
mod engine_support;
mod hpa_conformance;
mod hpa_examples;
mod hpa_props;
mod promql_props;
mod sim;
mod vectors;
