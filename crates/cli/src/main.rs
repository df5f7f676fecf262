//! The `nimscale` command.
fn main() {}
