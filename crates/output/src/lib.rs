//! # nimscale-output
//!
//! Renderings of core values for people and tools.
