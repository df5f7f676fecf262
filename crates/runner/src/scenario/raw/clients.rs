//! `traffic.clients` and `traffic.closedLoop`: what clients do when a
//! request is slow or fails, and the closed loop.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Dur, RawTimeDist};

/// Client behaviour.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawClients {
    /// An attempt is cancelled (and the engine aborts it) this long after
    /// it was sent without an answer (no timeout).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// How long a user waits for the first token before leaving, drawn per
    /// request; a user who leaves is not retried (users wait).
    #[serde(default)]
    pub patience: Option<RawTimeDist>,
    /// Attempts after the first, on a timeout, no ready endpoint, a
    /// front-queue timeout or a connection reset by a draining pod; never
    /// on a refused request (0).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Waits between attempts (openai-python's: 0.5s, ×2, at most 8s,
    /// 25 % jitter).
    #[serde(default)]
    pub backoff: Option<RawBackoff>,
}

/// Exponential backoff: retry `n` waits `min(max, initial · multiplier^(n−1))`
/// less a random share up to `jitter`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBackoff {
    /// First wait (0.5s).
    #[serde(default)]
    pub initial: Option<Dur>,
    /// Growth per retry (2).
    #[serde(default)]
    pub multiplier: Option<f64>,
    /// Longest wait (8s).
    #[serde(default)]
    pub max: Option<Dur>,
    /// Share of each wait removed at random, 0 to 1 (0.25).
    #[serde(default)]
    pub jitter: Option<f64>,
}

/// A closed-loop load.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawClosedLoop {
    /// Clients, all sending their first request at time zero.
    pub concurrency: u32,
    /// Wait between a request's end and the client's next (0s).
    #[serde(default)]
    pub think: Option<RawTimeDist>,
}
