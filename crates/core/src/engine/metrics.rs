//! The Prometheus series a NIM/vLLM pod exposes (nim-metrics.md), as values.
//!
//! [`EngineMetrics`] keeps cumulative counters and histogram bucket counts;
//! [`EngineMetrics::expose`] turns them, with the engine's gauges, into
//! [`Sample`]s named in one of two [`Dialect`]s. No text formatting happens
//! here: the output crate writes exposition text from the samples.

/// Which generation of metric names a pod exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// NIM for LLMs 1.x: unprefixed names, label `model_name`, short buckets.
    #[default]
    Nim1,
    /// NIM 2.x+/vLLM V1: `vllm:` names, labels `model_name` and `engine`,
    /// long buckets.
    Vllm,
}

/// `time_to_first_token_seconds` buckets of NIM 1.x / vLLM V0.
pub const TTFT_SHORT: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// `vllm:time_to_first_token_seconds` buckets of vLLM V1 (22 bounds).
pub const TTFT_LONG: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
/// `time_per_output_token_seconds` buckets of NIM 1.x / vLLM V0.
pub const ITL_SHORT: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
/// `vllm:inter_token_latency_seconds` buckets of vLLM V1 (19 bounds).
pub const ITL_LONG: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
];
/// `e2e_request_latency_seconds` buckets of NIM 1.x / vLLM V0.
pub const E2E_SHORT: &[f64] = &[1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0];
/// vLLM V1 request-latency buckets (e2e, queue, prefill, decode, inference; 21 bounds).
pub const E2E_LONG: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];
/// `vllm:iteration_tokens_total` buckets.
pub const ITERATION_TOKENS: &[f64] = &[
    1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
];

/// vLLM's "1-2-5" series up to `max`: 1, 2, 5, 10, 20, 50, ...
pub fn one_two_five(max: u32) -> Vec<f64> {
    let mut out = Vec::new();
    let mut scale: u64 = 1;
    'outer: loop {
        for m in [1u64, 2, 5] {
            let v = m * scale;
            if v > u64::from(max) {
                break 'outer;
            }
            out.push(v as f64);
        }
        scale *= 10;
    }
    out
}

/// A cumulative Prometheus histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Whether observations are counted (off for a series nobody reads).
    on: bool,
    /// Non-cumulative counts per bucket; the last is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with the given upper bounds (`+Inf` implied).
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            on: true,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Upper bounds (without `+Inf`).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Observes `value` `n` times.
    pub fn observe_n(&mut self, value: f64, n: u64) {
        if n == 0 || !self.on {
            return;
        }
        let i = self.bounds.partition_point(|&b| b < value);
        self.counts[i] += n;
        self.sum += value * n as f64;
        self.count += n;
    }

    /// Observes `value` once.
    pub fn observe(&mut self, value: f64) {
        self.observe_n(value, 1);
    }

    /// Observes `n` copies of each of `k` nondecreasing values `f(0..k)` whose
    /// sum is `total`, touching only the buckets they span: the caller's
    /// values are found by bisection at bucket boundaries, so the cost is
    /// O(buckets crossed · log k), not O(k).
    pub fn observe_run(&mut self, k: u64, n: u64, total: f64, f: impl Fn(u64) -> f64) {
        if k == 0 || n == 0 || !self.on {
            return;
        }
        let mut start = 0u64;
        while start < k {
            let v = f(start);
            let bucket = self.bounds.partition_point(|&b| b < v);
            // Last index whose value is still in `bucket` (values ≤ bound).
            let end = if bucket == self.bounds.len() {
                k
            } else {
                let bound = self.bounds[bucket];
                if f(k - 1) <= bound {
                    k
                } else {
                    let (mut lo, mut hi) = (start, k - 1); // f(lo) ≤ bound < f(hi)
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2;
                        if f(mid) <= bound { lo = mid } else { hi = mid }
                    }
                    hi
                }
            };
            self.counts[bucket] += (end - start) * n;
            start = end;
        }
        self.sum += total * n as f64;
        self.count += k * n;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Cumulative counts per bound, ending with `+Inf` (= count).
    pub fn cumulative(&self) -> Vec<u64> {
        let mut acc = 0;
        self.counts
            .iter()
            .map(|c| {
                acc += c;
                acc
            })
            .collect()
    }
}

/// Why a request finished (vLLM's `finished_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// End of sequence.
    Stop,
    /// `max_tokens` (or `max_model_len`) reached.
    Length,
    /// Aborted (client gone, pod terminated after its grace period).
    Abort,
    /// Refused (prompt longer than `max_model_len`).
    Error,
}

impl FinishReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Abort => "abort",
            FinishReason::Error => "error",
        }
    }

    /// Every reason, in exposition order.
    pub const ALL: [FinishReason; 4] = [
        FinishReason::Stop,
        FinishReason::Length,
        FinishReason::Abort,
        FinishReason::Error,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Gauge values as published after the last completed step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Running requests.
    pub running: u32,
    /// Waiting requests (new and preempted).
    pub waiting: u32,
    /// KV usage `1 − free/(total − 1)`.
    pub kv_usage: f64,
}

/// Cumulative counters and histograms of one engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineMetrics {
    /// Prompt tokens of requests whose prefill completed.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub generation_tokens: u64,
    finished: [u64; 4],
    /// Preemptions by recompute.
    pub preemptions: u64,
    /// Prompt tokens looked up in the prefix cache.
    pub prefix_queries: u64,
    /// Looked-up tokens found in the prefix cache.
    pub prefix_hits: u64,
    /// Time to first token.
    pub ttft: Histogram,
    /// Inter-token latency (one observation per token after the first).
    pub itl: Histogram,
    /// Per-request mean inter-token time (vLLM `request_time_per_output_token`).
    pub request_tpot: Histogram,
    /// End-to-end latency.
    pub e2e: Histogram,
    /// Waiting time before first scheduled.
    pub queue: Histogram,
    /// First scheduled → first token.
    pub prefill: Histogram,
    /// First token → last token.
    pub decode: Histogram,
    /// First scheduled → last token.
    pub inference: Histogram,
    /// Prompt length of finished requests.
    pub prompt_len: Histogram,
    /// Output length of finished requests.
    pub generation_len: Histogram,
    /// Tokens per engine step.
    pub iteration_tokens: Histogram,
}

impl EngineMetrics {
    /// Empty metrics with the dialect's buckets; token-count buckets go up to
    /// `max_model_len`.
    pub fn new(dialect: Dialect, max_model_len: u32) -> EngineMetrics {
        let (ttft, itl, lat) = match dialect {
            Dialect::Nim1 => (TTFT_SHORT, ITL_SHORT, E2E_SHORT),
            Dialect::Vllm => (TTFT_LONG, ITL_LONG, E2E_LONG),
        };
        let lens = one_two_five(max_model_len);
        EngineMetrics {
            prompt_tokens: 0,
            generation_tokens: 0,
            finished: [0; 4],
            preemptions: 0,
            prefix_queries: 0,
            prefix_hits: 0,
            ttft: Histogram::new(ttft),
            itl: Histogram::new(itl),
            request_tpot: Histogram::new(itl),
            e2e: Histogram::new(lat),
            queue: Histogram::new(lat),
            prefill: Histogram::new(lat),
            decode: Histogram::new(lat),
            inference: Histogram::new(lat),
            prompt_len: Histogram::new(&lens),
            generation_len: Histogram::new(&lens),
            iteration_tokens: Histogram::new(ITERATION_TOKENS),
        }
    }

    /// Counts a finished request.
    pub fn count_finish(&mut self, reason: FinishReason) {
        self.finished[reason.index()] += 1;
    }

    /// Finished requests with `reason`.
    pub fn finished(&self, reason: FinishReason) -> u64 {
        self.finished[reason.index()]
    }

    /// Requests that finished by `stop` or `length`.
    pub fn successes(&self) -> u64 {
        self.finished(FinishReason::Stop) + self.finished(FinishReason::Length)
    }

    /// Requests that finished any other way.
    pub fn failures(&self) -> u64 {
        self.finished(FinishReason::Abort) + self.finished(FinishReason::Error)
    }

    /// All series of the pod, in the dialect's names, with `gauges` and the
    /// configured request cap.
    pub fn expose(&self, exp: &ExposeContext<'_>, out: &mut Vec<Sample>) {
        self.expose_where(exp, &mut |_| true, out);
    }

    /// The series whose names `keep` accepts (a histogram's buckets are
    /// formatted only when `<name>_bucket` is kept): a scrape that stores
    /// only what queries can read does not pay for the rest.
    pub fn expose_where(
        &self,
        exp: &ExposeContext<'_>,
        keep: &mut dyn FnMut(&str) -> bool,
        out: &mut Vec<Sample>,
    ) {
        let base: Vec<(&'static str, String)> = match exp.dialect {
            Dialect::Nim1 => vec![("model_name", exp.model_name.to_owned())],
            Dialect::Vllm => {
                vec![
                    ("model_name", exp.model_name.to_owned()),
                    ("engine", "0".to_owned()),
                ]
            }
        };
        let name = |short: &str| dialect_name(exp.dialect, short);
        let mut push = |n: String, extra: Option<(&'static str, String)>, v: f64| {
            if !keep(&n) {
                return;
            }
            let mut labels = base.clone();
            if let Some(e) = extra {
                labels.push(e);
            }
            out.push(Sample {
                name: n,
                labels,
                value: v,
            });
        };
        let g = exp.gauges;
        push(name("num_requests_running"), None, f64::from(g.running));
        push(name("num_requests_waiting"), None, f64::from(g.waiting));
        match exp.dialect {
            Dialect::Nim1 => {
                push(name("num_request_max"), None, f64::from(exp.request_max));
                push(name("gpu_cache_usage_perc"), None, g.kv_usage);
            }
            Dialect::Vllm => push(name("kv_cache_usage_perc"), None, g.kv_usage),
        }
        push(name("prompt_tokens_total"), None, self.prompt_tokens as f64);
        push(
            name("generation_tokens_total"),
            None,
            self.generation_tokens as f64,
        );
        match exp.dialect {
            Dialect::Nim1 => {
                push(name("request_success_total"), None, self.successes() as f64);
                push(name("request_failure_total"), None, self.failures() as f64);
                for r in FinishReason::ALL {
                    let v = self.finished(r);
                    if v > 0 {
                        push(
                            name("request_finish_total"),
                            Some(("finished_reason", r.as_str().to_owned())),
                            v as f64,
                        );
                    }
                }
            }
            Dialect::Vllm => {
                for r in FinishReason::ALL {
                    push(
                        name("request_success_total"),
                        Some(("finished_reason", r.as_str().to_owned())),
                        self.finished(r) as f64,
                    );
                }
                push(name("num_preemptions_total"), None, self.preemptions as f64);
                push(
                    name("prefix_cache_queries_total"),
                    None,
                    self.prefix_queries as f64,
                );
                push(
                    name("prefix_cache_hits_total"),
                    None,
                    self.prefix_hits as f64,
                );
            }
        }
        for &(short, f) in families(exp.dialect) {
            expose_histogram(&name(short), self.family(f), &base, keep, out);
        }
    }

    /// Stops counting the histograms none of whose series (`_bucket`,
    /// `_sum`, `_count` in `dialect`'s names) `keep` accepts, and those the
    /// dialect does not expose: observing a histogram nobody scrapes is a
    /// bucket search per request for nothing.
    pub fn observe_only(&mut self, dialect: Dialect, keep: &mut dyn FnMut(&str) -> bool) {
        for f in Family::ALL {
            self.family_mut(f).on = false;
        }
        for &(short, f) in families(dialect) {
            let n = dialect_name(dialect, short);
            let on = ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| keep(&format!("{n}{suffix}")));
            self.family_mut(f).on = on;
        }
    }

    fn family(&self, f: Family) -> &Histogram {
        match f {
            Family::Ttft => &self.ttft,
            Family::Itl => &self.itl,
            Family::RequestTpot => &self.request_tpot,
            Family::E2e => &self.e2e,
            Family::Queue => &self.queue,
            Family::Prefill => &self.prefill,
            Family::Decode => &self.decode,
            Family::Inference => &self.inference,
            Family::IterationTokens => &self.iteration_tokens,
            Family::PromptLen => &self.prompt_len,
            Family::GenerationLen => &self.generation_len,
        }
    }

    fn family_mut(&mut self, f: Family) -> &mut Histogram {
        match f {
            Family::Ttft => &mut self.ttft,
            Family::Itl => &mut self.itl,
            Family::RequestTpot => &mut self.request_tpot,
            Family::E2e => &mut self.e2e,
            Family::Queue => &mut self.queue,
            Family::Prefill => &mut self.prefill,
            Family::Decode => &mut self.decode,
            Family::Inference => &mut self.inference,
            Family::IterationTokens => &mut self.iteration_tokens,
            Family::PromptLen => &mut self.prompt_len,
            Family::GenerationLen => &mut self.generation_len,
        }
    }
}

/// The histograms of [`EngineMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Ttft,
    Itl,
    RequestTpot,
    E2e,
    Queue,
    Prefill,
    Decode,
    Inference,
    IterationTokens,
    PromptLen,
    GenerationLen,
}

impl Family {
    const ALL: [Family; 11] = [
        Family::Ttft,
        Family::Itl,
        Family::RequestTpot,
        Family::E2e,
        Family::Queue,
        Family::Prefill,
        Family::Decode,
        Family::Inference,
        Family::IterationTokens,
        Family::PromptLen,
        Family::GenerationLen,
    ];
}

/// The histograms a dialect exposes, with their short names, in exposition
/// order.
fn families(dialect: Dialect) -> &'static [(&'static str, Family)] {
    match dialect {
        Dialect::Nim1 => &[
            ("time_to_first_token_seconds", Family::Ttft),
            ("time_per_output_token_seconds", Family::Itl),
            ("e2e_request_latency_seconds", Family::E2e),
            ("request_prompt_tokens", Family::PromptLen),
            ("request_generation_tokens", Family::GenerationLen),
        ],
        Dialect::Vllm => &[
            ("time_to_first_token_seconds", Family::Ttft),
            ("inter_token_latency_seconds", Family::Itl),
            ("request_time_per_output_token_seconds", Family::RequestTpot),
            ("e2e_request_latency_seconds", Family::E2e),
            ("request_queue_time_seconds", Family::Queue),
            ("request_prefill_time_seconds", Family::Prefill),
            ("request_decode_time_seconds", Family::Decode),
            ("request_inference_time_seconds", Family::Inference),
            ("iteration_tokens_total", Family::IterationTokens),
            ("request_prompt_tokens", Family::PromptLen),
            ("request_generation_tokens", Family::GenerationLen),
        ],
    }
}

/// A short series name in a dialect (`vllm:` prefix for vLLM V1).
fn dialect_name(dialect: Dialect, short: &str) -> String {
    match dialect {
        Dialect::Nim1 => short.to_owned(),
        Dialect::Vllm => format!("vllm:{short}"),
    }
}

/// Bucket bounds are printed as Python floats (`1.0`, `0.025`).
fn format_le(b: f64) -> String {
    if b.fract() == 0.0 {
        format!("{b:.1}")
    } else {
        format!("{b}")
    }
}

/// What [`EngineMetrics::expose`] needs besides the counters.
#[derive(Clone, Copy, Debug)]
pub struct ExposeContext<'a> {
    /// Naming dialect.
    pub dialect: Dialect,
    /// `model_name` label value.
    pub model_name: &'a str,
    /// Gauges after the last completed step.
    pub gauges: Gauges,
    /// `num_request_max`.
    pub request_max: u32,
}

/// One exposed series value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Full series name as scraped (with `_total`, `_bucket`, ... suffixes).
    pub name: String,
    /// Labels in exposition order.
    pub labels: Vec<(&'static str, String)>,
    /// Value.
    pub value: f64,
}

/// One histogram's `_bucket`, `_sum` and `_count` series, those `keep`
/// accepts, with the `le` label first as Prometheus exposes it.
fn expose_histogram(
    n: &str,
    h: &Histogram,
    base: &[(&'static str, String)],
    keep: &mut dyn FnMut(&str) -> bool,
    out: &mut Vec<Sample>,
) {
    let (bucket, sum, count) = (
        format!("{n}_bucket"),
        format!("{n}_sum"),
        format!("{n}_count"),
    );
    if keep(&bucket) {
        for (i, c) in h.cumulative().iter().enumerate() {
            let le = h
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format_le(*b));
            let mut labels = vec![("le", le)];
            labels.extend(base.iter().cloned());
            out.push(Sample {
                name: bucket.clone(),
                labels,
                value: *c as f64,
            });
        }
    }
    if keep(&sum) {
        out.push(Sample {
            name: sum,
            labels: base.to_vec(),
            value: h.sum,
        });
    }
    if keep(&count) {
        out.push(Sample {
            name: count,
            labels: base.to_vec(),
            value: h.count as f64,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_two_five_stops_at_max_model_len() {
        let v = one_two_five(131_072);
        assert_eq!(&v[..4], &[1.0, 2.0, 5.0, 10.0]);
        assert_eq!(*v.last().unwrap(), 100_000.0);
    }

    #[test]
    fn observe_run_matches_one_by_one() {
        let f = |i: u64| 0.004 + 0.0025 * i as f64;
        let k = 40;
        let mut a = Histogram::new(ITL_LONG);
        let mut b = Histogram::new(ITL_LONG);
        let total: f64 = (0..k).map(f).sum();
        a.observe_run(k, 3, total, f);
        for i in 0..k {
            b.observe_n(f(i), 3);
        }
        assert_eq!(a.cumulative(), b.cumulative());
        assert!((a.sum() - b.sum()).abs() < 1e-12);
    }

    #[test]
    fn only_histograms_with_a_kept_series_are_counted() {
        let mut m = EngineMetrics::new(Dialect::Vllm, 4096);
        m.observe_only(Dialect::Vllm, &mut |n| {
            n == "vllm:e2e_request_latency_seconds_count" || n == "vllm:num_requests_waiting"
        });
        m.e2e.observe(1.2);
        m.ttft.observe(0.1);
        m.queue.observe(0.1);
        assert_eq!((m.e2e.count(), m.ttft.count(), m.queue.count()), (1, 0, 0));
        // A dialect that does not expose a histogram does not count it.
        let mut m = EngineMetrics::new(Dialect::Nim1, 4096);
        m.observe_only(Dialect::Nim1, &mut |_| true);
        m.queue.observe(0.1);
        m.ttft.observe(0.1);
        assert_eq!((m.queue.count(), m.ttft.count()), (0, 1));
    }

    #[test]
    fn bucket_bound_is_inclusive() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        h.observe(1.0);
        h.observe(1.5);
        h.observe(9.0);
        assert_eq!(h.cumulative(), vec![1, 2, 3]);
        assert_eq!(format_le(1.0), "1.0");
        assert_eq!(format_le(0.025), "0.025");
    }
}
