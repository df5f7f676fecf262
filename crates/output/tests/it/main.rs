//! Integration tests of nimscale-output (one binary for the crate).

mod nimservice;
