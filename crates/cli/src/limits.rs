//! The work limits flags (`--max-requests`, `--max-duration`,
//! `--max-pods`) shared by `simulate`, `sweep` and `compare`.

/// Work limits checked before a run starts (see `nimscale_runner::limits`).
#[derive(clap::Args, Clone, Copy)]
pub struct LimitArgs {
    /// Most requests a run may be expected to send (the traffic's rate
    /// integral over the horizon).
    #[arg(long, default_value_t = 500_000_000, value_name = "N")]
    max_requests: u64,
    /// Longest simulated horizon, e.g. 31d (timeseries.csv has a row per
    /// simulated second).
    #[arg(long, default_value = "31d", value_parser = parse_limit_duration, value_name = "DURATION")]
    max_duration: nimscale_core::time::SimDuration,
    /// Most pods a run may hold (replicas, or the HPA's maxReplicas).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    max_pods: u64,
}

fn parse_limit_duration(s: &str) -> Result<nimscale_core::time::SimDuration, String> {
    nimscale_runner::scenario::parse_duration(s)
}

impl LimitArgs {
    /// The runner's limits.
    pub fn limits(&self) -> nimscale_runner::limits::Limits {
        nimscale_runner::limits::Limits {
            max_requests: self.max_requests as f64,
            max_duration: self.max_duration,
            max_pods: self.max_pods,
            ..Default::default()
        }
    }
}
