//! The steady-state benchmark of a resolved deployment, as NVIDIA's NIM
//! benchmarking tables are produced (AIPerf's closed loop, in
//! `nimscale_core::engine::closed_loop`), so it is how nimscale's engine is
//! validated against them.

use nimscale_core::engine::Dialect;
pub use nimscale_core::engine::closed_loop::{ClosedLoop, ClosedLoopStats, closed_loop};
use nimscale_core::time::SimDuration;

use crate::engine::Resolved;

/// The steady-state benchmark of a resolved deployment: one request alone
/// gives the ramp, then `concurrency` clients start spread over it, and the
/// first `2 × concurrency` completions are warm-up.
pub fn steady_state(
    r: &Resolved,
    concurrency: u32,
    isl: u32,
    osl: u32,
    requests: u32,
) -> ClosedLoopStats {
    let delay = r.profile.frontend_delay;
    let solo = {
        let mut eng = r.roofline_engine(Dialect::Nim1, true);
        let spec = ClosedLoop {
            concurrency: 1,
            isl,
            osl,
            requests: 1,
            warmup: 0,
            ramp: SimDuration::ZERO,
        };
        closed_loop(&mut eng, delay, spec).e2e
    };
    let mut eng = r.roofline_engine(Dialect::Nim1, true);
    let spec = ClosedLoop {
        concurrency,
        isl,
        osl,
        requests,
        warmup: concurrency * 2,
        ramp: SimDuration::from_micros((solo * 1e6) as i64),
    };
    closed_loop(&mut eng, delay, spec)
}
