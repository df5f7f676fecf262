//! The steady-state benchmark of a resolved deployment, as NVIDIA's NIM
//! benchmarking tables are produced (AIPerf's closed loop, in
//! `nimscale_core::engine::closed_loop`), so it is how nimscale's engine is
//! validated against them.

use nimscale_core::engine::Dialect;
pub use nimscale_core::engine::closed_loop::{ClosedLoop, ClosedLoopStats, closed_loop};

use crate::engine::Resolved;

/// The steady-state benchmark of a resolved deployment: `concurrency`
/// clients start at once, as AIPerf's do, and the first
/// `2 × concurrency` completions are warm-up.
pub fn steady_state(
    r: &Resolved,
    concurrency: u32,
    isl: u32,
    osl: u32,
    requests: u32,
) -> ClosedLoopStats {
    let mut eng = r.roofline_engine(Dialect::Nim1, true);
    let spec = ClosedLoop {
        concurrency,
        isl,
        osl,
        requests,
        warmup: concurrency * 2,
    };
    closed_loop(&mut eng, r.profile.frontend_delay, spec)
}
