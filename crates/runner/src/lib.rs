//! # nimscale-runner
//!
//! Loading and validating user files into core values.
