//! What an HPA metric name means in terms of a NIM pod's series.
//!
//! prometheus-adapter serves metrics under names the user picks; nimscale
//! recognises the conventions of the NIM Operator documentation and guides
//! (the recipes below). The adapter-rule writer (`nimscale-output`) and the
//! simulator's direct metric reader both start from [`interpret`], so the
//! rules nimscale exports and the values it simulates always agree.
//!
//! - a NIM gauge by its own name (`gpu_cache_usage_perc`,
//!   `num_requests_running`, `num_requests_waiting`, and the `vllm:` names
//!   with `:` written as `_`): averaged (usage) or summed (counts);
//! - `<histogram>_over_<X>s_fraction`: the fraction of requests slower than
//!   `X` seconds over the window (the VLM guide's
//!   `e2e_request_latency_seconds_over_1s_fraction`); `X` must be a bucket;
//! - `<histogram>_p<NN>`: the NN-th percentile over the window;
//! - `<counter>_per_second`: the counter's rate over the window.

use super::metrics::{
    Dialect, E2E_LONG, E2E_SHORT, EngineMetrics, Gauges, ITL_LONG, ITL_SHORT, TTFT_LONG, TTFT_SHORT,
};

/// A NIM gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaugeKind {
    /// KV-cache usage, 0–1.
    KvUsage,
    /// Running requests.
    Running,
    /// Waiting requests.
    Waiting,
}

/// How per-pod values combine for a Service (Object) or External metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// `avg`.
    Avg,
    /// `sum`.
    Sum,
}

impl Aggregation {
    /// PromQL aggregation operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Avg => "avg",
            Aggregation::Sum => "sum",
        }
    }
}

/// A latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistKind {
    /// End-to-end request latency.
    E2e,
    /// Time to first token.
    Ttft,
    /// Time per output token / inter-token latency.
    Itl,
}

/// A counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterKind {
    /// Successful requests.
    Success,
    /// Failed requests.
    Failure,
    /// Prompt tokens.
    PromptTokens,
    /// Generated tokens.
    GenerationTokens,
    /// Preemptions.
    Preemptions,
}

/// What a metric name stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Meaning {
    /// A gauge, combined across pods with `agg`.
    Gauge {
        /// Which gauge.
        gauge: GaugeKind,
        /// Combination across pods.
        agg: Aggregation,
    },
    /// Fraction of observations above `bound` over the window.
    OverFraction {
        /// Which histogram.
        hist: HistKind,
        /// The bucket bound (seconds).
        bound: f64,
    },
    /// Quantile `q` (0–1) over the window.
    Quantile {
        /// Which histogram.
        hist: HistKind,
        /// The quantile.
        q: f64,
    },
    /// Per-second rate of a counter over the window.
    Rate {
        /// Which counter.
        counter: CounterKind,
    },
}

impl GaugeKind {
    /// The series base name in a dialect.
    pub fn base(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (GaugeKind::KvUsage, Dialect::Nim1) => "gpu_cache_usage_perc",
            (GaugeKind::KvUsage, Dialect::Vllm) => "kv_cache_usage_perc",
            (GaugeKind::Running, _) => "num_requests_running",
            (GaugeKind::Waiting, _) => "num_requests_waiting",
        }
    }

    /// The value in published gauges.
    pub fn read(self, g: &Gauges) -> f64 {
        match self {
            GaugeKind::KvUsage => g.kv_usage,
            GaugeKind::Running => f64::from(g.running),
            GaugeKind::Waiting => f64::from(g.waiting),
        }
    }
}

impl HistKind {
    /// The histogram base name in a dialect (vLLM V1 renamed the
    /// inter-token histogram).
    pub fn base(self, dialect: Dialect) -> &'static str {
        match (self, dialect) {
            (HistKind::E2e, _) => "e2e_request_latency_seconds",
            (HistKind::Ttft, _) => "time_to_first_token_seconds",
            (HistKind::Itl, Dialect::Nim1) => "time_per_output_token_seconds",
            (HistKind::Itl, Dialect::Vllm) => "inter_token_latency_seconds",
        }
    }

    /// Bucket bounds in a dialect.
    pub fn bounds(self, dialect: Dialect) -> &'static [f64] {
        let long = dialect == Dialect::Vllm;
        match (self, long) {
            (HistKind::E2e, false) => E2E_SHORT,
            (HistKind::E2e, true) => E2E_LONG,
            (HistKind::Ttft, false) => TTFT_SHORT,
            (HistKind::Ttft, true) => TTFT_LONG,
            (HistKind::Itl, false) => ITL_SHORT,
            (HistKind::Itl, true) => ITL_LONG,
        }
    }

    /// Cumulative bucket counts (finite bounds, then `+Inf`) of an engine.
    pub fn cumulative(self, m: &EngineMetrics) -> Vec<u64> {
        match self {
            HistKind::E2e => m.e2e.cumulative(),
            HistKind::Ttft => m.ttft.cumulative(),
            HistKind::Itl => m.itl.cumulative(),
        }
    }

    fn parse(base: &str) -> Option<HistKind> {
        Some(match base {
            "e2e_request_latency_seconds" => HistKind::E2e,
            "time_to_first_token_seconds" => HistKind::Ttft,
            "time_per_output_token_seconds" | "inter_token_latency_seconds" => HistKind::Itl,
            _ => return None,
        })
    }
}

impl CounterKind {
    /// The counter base name (without `_total`).
    pub fn base(self) -> &'static str {
        match self {
            CounterKind::Success => "request_success",
            CounterKind::Failure => "request_failure",
            CounterKind::PromptTokens => "prompt_tokens",
            CounterKind::GenerationTokens => "generation_tokens",
            CounterKind::Preemptions => "num_preemptions",
        }
    }

    /// The counter's value in an engine.
    pub fn read(self, m: &EngineMetrics) -> f64 {
        (match self {
            CounterKind::Success => m.successes(),
            CounterKind::Failure => m.failures(),
            CounterKind::PromptTokens => m.prompt_tokens,
            CounterKind::GenerationTokens => m.generation_tokens,
            CounterKind::Preemptions => m.preemptions,
        }) as f64
    }
}

/// The meaning of an HPA metric name in a dialect, if nimscale knows it.
pub fn interpret(name: &str, dialect: Dialect) -> Option<Meaning> {
    let plain = name.strip_prefix("vllm_").unwrap_or(name);
    let gauge = match plain {
        "gpu_cache_usage_perc" | "kv_cache_usage_perc" => Some(GaugeKind::KvUsage),
        "num_requests_running" => Some(GaugeKind::Running),
        "num_requests_waiting" => Some(GaugeKind::Waiting),
        _ => None,
    };
    if let Some(gauge) = gauge {
        let agg = if gauge == GaugeKind::KvUsage {
            Aggregation::Avg
        } else {
            Aggregation::Sum
        };
        return Some(Meaning::Gauge { gauge, agg });
    }
    if let Some(rest) = plain.strip_suffix("s_fraction")
        && let Some((hist, x)) = rest.rsplit_once("_over_")
    {
        let hist = HistKind::parse(hist)?;
        let x: f64 = x.replace('_', ".").parse().ok()?;
        let bound = *hist
            .bounds(dialect)
            .iter()
            .find(|b| (**b - x).abs() < 1e-12)?;
        return Some(Meaning::OverFraction { hist, bound });
    }
    if let Some((hist, q)) = plain.rsplit_once("_p")
        && let Some(hist) = HistKind::parse(hist)
        && let Ok(q) = q.parse::<u32>()
        && (1..100).contains(&q)
    {
        return Some(Meaning::Quantile {
            hist,
            q: f64::from(q) / 100.0,
        });
    }
    if let Some(base) = plain.strip_suffix("_per_second") {
        let counter = match base {
            "request_success" => CounterKind::Success,
            "request_failure" => CounterKind::Failure,
            "prompt_tokens" => CounterKind::PromptTokens,
            "generation_tokens" => CounterKind::GenerationTokens,
            "num_preemptions" => CounterKind::Preemptions,
            _ => return None,
        };
        return Some(Meaning::Rate { counter });
    }
    None
}

/// Prometheus' `histogram_quantile` over cumulative bucket counts
/// (`bounds` finite, `counts` with one more entry for `+Inf`): linear
/// interpolation inside the bucket, the lower bound of the first bucket is 0
/// (when positive), a quantile in `+Inf` gives the largest finite bound, and
/// no observations give NaN.
pub fn histogram_quantile(q: f64, bounds: &[f64], counts: &[f64]) -> f64 {
    let total = counts.last().copied().unwrap_or(0.0);
    if total <= 0.0 || bounds.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let rank = q * total;
    let b = counts
        .iter()
        .position(|c| *c >= rank)
        .unwrap_or(counts.len() - 1);
    if b >= bounds.len() {
        return bounds[bounds.len() - 1];
    }
    let (start, prev) = if b == 0 {
        (if bounds[0] > 0.0 { 0.0 } else { bounds[0] }, 0.0)
    } else {
        (bounds[b - 1], counts[b - 1])
    };
    if b == 0 && bounds[0] <= 0.0 {
        return bounds[0];
    }
    let in_bucket = counts[b] - prev;
    if in_bucket <= 0.0 {
        return bounds[b];
    }
    start + (bounds[b] - start) * ((rank - prev) / in_bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_guides_are_understood() {
        let d = Dialect::Nim1;
        assert_eq!(
            interpret("e2e_request_latency_seconds_over_1s_fraction", d),
            Some(Meaning::OverFraction {
                hist: HistKind::E2e,
                bound: 1.0
            })
        );
        assert_eq!(
            interpret("gpu_cache_usage_perc", d),
            Some(Meaning::Gauge {
                gauge: GaugeKind::KvUsage,
                agg: Aggregation::Avg
            })
        );
        assert_eq!(
            interpret("time_to_first_token_seconds_p95", d),
            Some(Meaning::Quantile {
                hist: HistKind::Ttft,
                q: 0.95
            })
        );
        assert_eq!(
            interpret("vllm_request_success_per_second", Dialect::Vllm),
            Some(Meaning::Rate {
                counter: CounterKind::Success
            })
        );
        // 0.7 s is not a bucket bound of the e2e histogram.
        assert_eq!(
            interpret("e2e_request_latency_seconds_over_0_7s_fraction", d),
            None
        );
        assert_eq!(interpret("qps", d), None);
        // vLLM V1 renamed the inter-token histogram.
        assert_eq!(
            HistKind::Itl.base(Dialect::Nim1),
            "time_per_output_token_seconds"
        );
        assert_eq!(
            HistKind::Itl.base(Dialect::Vllm),
            "inter_token_latency_seconds"
        );
    }

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let bounds = [0.1, 0.5, 1.0];
        // 10 in (0,0.1], 30 in (0.1,0.5], 60 in (0.5,1], none above.
        let counts = [10.0, 40.0, 100.0, 100.0];
        // Rank 50 falls in (0.5, 1] holding 60, 10 into it.
        let want = 0.5 + 0.5 * (10.0 / 60.0);
        assert!((histogram_quantile(0.5, &bounds, &counts) - want).abs() < 1e-12);
        assert!((histogram_quantile(0.05, &bounds, &counts) - 0.05).abs() < 1e-12);
        let inf = [0.0, 0.0, 0.0, 5.0];
        assert_eq!(histogram_quantile(0.9, &bounds, &inf), 1.0);
        assert!(histogram_quantile(0.9, &bounds, &[0.0; 4]).is_nan());
    }
}
