//! Malformed input never panics the PromQL parser, the evaluator or the
//! adapter's template parser: random mutations of real queries, and
//! arbitrary text (Unicode included), give values or errors.

use nimscale_core::metrics::adapter::Template;
use nimscale_core::metrics::labels::{Labels, NAME};
use nimscale_core::metrics::promql::{self, EvalOptions};
use nimscale_core::metrics::tsdb::Tsdb;
use proptest::prelude::*;

const SEEDS: [&str; 5] = [
    "(sum(increase(e2e_request_latency_seconds_count{namespace=\"vlm\",service=\"s\"}[1m])) by (service) - sum(increase(e2e_request_latency_seconds_bucket{le=\"1.0\",namespace=\"vlm\"}[1m])) by (service)) / sum(increase(e2e_request_latency_seconds_count[1m])) by (service)",
    "histogram_quantile(0.9, sum by (le) (rate(x_bucket{a=~\"b|c\"}[5m] offset 1m)))",
    "avg(gpu_cache_usage_perc{pod!=\"\"}) by (pod) > bool 0.7",
    "clamp(max_over_time(kv[30s]), 0, 1) * on(pod) group_left irate(y[1m])",
    "-scalar(vector(time())) ^ 2 % 3 atan2 1",
];

fn db() -> Tsdb {
    let mut db = Tsdb::new();
    for (i, le) in ["0.5", "1.0", "+Inf"].iter().enumerate() {
        let l = Labels::from_pairs([(NAME, "x_bucket"), ("le", le), ("a", "b")]);
        for t in 0..10 {
            db.append_labels(&l, t * 15_000, (t as f64) * (i as f64 + 1.0));
        }
    }
    db
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn mutated_queries_parse_or_fail_cleanly(seed in 0usize..SEEDS.len(), cut in 0usize..400, at in 0usize..400, ins in "[\\PC{}()\\[\\]\"'`,=~!<>+*/%^:.0-9a-z ]{0,6}") {
        let s = SEEDS[seed];
        let chars: Vec<char> = s.chars().collect();
        let a = at.min(chars.len());
        let b = (a + cut % 7).min(chars.len());
        let mutated: String = chars[..a].iter().chain(ins.chars().collect::<Vec<_>>().iter()).chain(chars[b..].iter()).collect();
        if let Ok(e) = promql::parse(&mutated) {
            let _ = promql::eval_instant(&db(), &e, 100_000, EvalOptions::default());
        } else {
            let err = promql::parse(&mutated).unwrap_err();
            prop_assert!(err.column >= 1 && err.column <= mutated.chars().count() + 1);
        }
        let _ = Template::parse(&mutated);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,60}") {
        let _ = promql::parse(&s);
        let _ = promql::parse_selector(&s);
        let _ = promql::parse_duration_ms(&s);
        let _ = Template::parse(&s);
    }
}
