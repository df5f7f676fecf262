//! Integration tests of nimscale-output (one binary for the crate).

mod admission;
mod bundle;
mod nimservice;
