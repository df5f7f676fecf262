//! The raw shapes of a scenario's `traffic` section.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Dur, RawClients, RawClosedLoop, RawTokenDist};

/// Requests: a synthetic pattern or a trace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTraffic {
    /// A synthetic arrival-rate pattern (Poisson arrivals).
    #[serde(default)]
    pub pattern: Option<RawPattern>,
    /// A trace to replay.
    #[serde(default)]
    pub trace: Option<RawTrace>,
    /// Prompt tokens of synthetic requests (log-normal, median 1000, sigma
    /// 0.6, from 1 to 8000).
    #[serde(default)]
    pub prompt: Option<RawTokenDist>,
    /// Output tokens of synthetic requests (log-normal, median 200, sigma
    /// 0.6, from 1 to 2000).
    #[serde(default)]
    pub output: Option<RawTokenDist>,
    /// What clients do when a request is slow or fails (none of it by
    /// default: clients wait for every answer and never retry).
    #[serde(default)]
    pub clients: Option<RawClients>,
    /// A closed loop instead of arrival rates: this many clients, each
    /// sending its next request when its previous one ends, as
    /// genai-perf/AIPerf's `--concurrency` does. Token lengths come from
    /// `prompt`/`output`, or the rows of `trace` in order (its times are
    /// not used); `pattern` must be left out.
    #[serde(default)]
    pub closed_loop: Option<RawClosedLoop>,
    /// Images on synthetic requests, for a VLM: each adds its tokens (from
    /// the model's vision config and the image size) to the prompt and its
    /// vision-encoder time to the step the prefill starts in.
    #[serde(default)]
    pub images: Option<RawImages>,
}

/// Images a request carries.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawImages {
    /// Images per request that carries any.
    pub count: u32,
    /// Image width in pixels (before the processor's resize).
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The share of requests with images (default 1: every request).
    #[serde(default)]
    pub share: Option<f64>,
}

/// A rate pattern, requests per second.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum RawPattern {
    /// A constant rate.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// Gradual increase: `from` until `start`, linear to `to` at `end`.
    Ramp {
        /// Rate before.
        from: f64,
        /// Rate after.
        to: f64,
        /// Ramp start.
        start: Dur,
        /// Ramp end.
        end: Dur,
    },
    /// Steps: each rate holds from its `at` to the next step.
    Step {
        /// The steps, in time order.
        steps: Vec<RawStep>,
    },
    /// Sudden spike: `base`, then `peak` from `at` for `duration`, then `base`.
    Spike {
        /// Base rate.
        base: f64,
        /// Peak rate.
        peak: f64,
        /// Spike start.
        at: Dur,
        /// Spike length.
        duration: Dur,
        /// Time to climb from base to peak (0s: a step).
        #[serde(default, rename = "rampUp")]
        ramp_up: Option<Dur>,
    },
    /// Load decrease: `from` until `at`, linear to `to` over `over`.
    Decrease {
        /// Rate before.
        from: f64,
        /// Rate after.
        to: f64,
        /// Start of the decrease.
        at: Dur,
        /// Length of the decrease (0s: a step).
        #[serde(default)]
        over: Option<Dur>,
    },
    /// Diurnal sinusoid `mean + amplitude·sin(2π(t+phase)/period)`.
    Diurnal {
        /// Mean rate.
        mean: f64,
        /// Amplitude.
        amplitude: f64,
        /// Period (24h).
        #[serde(default)]
        period: Option<Dur>,
        /// Phase shift.
        #[serde(default)]
        phase: Option<Dur>,
    },
    /// Bursty: a Markov-modulated Poisson process.
    Bursty {
        /// States, each with a rate and a mean duration.
        states: Vec<RawBurstState>,
    },
}

/// One step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStep {
    /// When the rate starts.
    pub at: Dur,
    /// Requests per second.
    pub rate: f64,
}

/// One state of a bursty pattern.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBurstState {
    /// Requests per second.
    pub rate: f64,
    /// Mean time in the state.
    pub mean_duration: Dur,
}

/// A trace to replay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTrace {
    /// Path relative to the scenario file.
    pub file: String,
    /// `azure` (TIMESTAMP,ContextTokens,GeneratedTokens), `mooncake`
    /// (JSON Lines, optionally gzip) or `csv` (time_s,prompt_tokens,output_tokens).
    pub format: RawTraceFormat,
    /// Timestamps are multiplied by this (0.5 replays twice as fast; 1).
    #[serde(default)]
    pub time_scale: Option<f64>,
    /// Requests per trace request (copies spread up to the next request; 1).
    #[serde(default)]
    pub rate_multiplier: Option<f64>,
    /// Replay again from the start until the run ends (false).
    #[serde(default)]
    pub repeat: Option<bool>,
    /// Trace time to skip at the start.
    #[serde(default)]
    pub skip: Option<Dur>,
    /// Spread requests sharing a timestamp over their tick (Mooncake's ~3 s
    /// ticks; false keeps the bursts).
    #[serde(default)]
    pub spread_ticks: Option<bool>,
}

/// Trace formats.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RawTraceFormat {
    /// Azure LLM inference trace CSV.
    Azure,
    /// Mooncake JSON Lines.
    Mooncake,
    /// Plain CSV.
    Csv,
}
