//! nimscale's PromQL (2.x rules) against the real Prometheus: randomised
//! counter, gauge and histogram series (irregular scrape intervals and gaps,
//! jitter, counter resets, staleness, samples exactly on window boundaries)
//! are evaluated by nimscale and by `promtool test rules` of Debian's
//! Prometheus 2.42, which compares with `reflect.DeepEqual`: every value must
//! be bit-identical.
//!
//! promtool is found through `$NIMSCALE_PROMTOOL` or `PATH`; `.ci/run`
//! unpacks Debian's `prometheus` package and sets the variable. Without it
//! the test says so and passes, except under CI (`$CI` set), where a missing
//! promtool fails it.
//!
//! promtool loads input samples only up to the last whole
//! `evaluation_interval` step before the group's latest eval time; every
//! group therefore also evaluates at its last second (600 s).
//!
//! promtool's loader keeps series in a Go map, so its series order (and
//! therefore the order of float additions inside `sum`/`avg`) is random: the
//! cases use two pods (a + b = b + a exactly) and gauges in eighths (exact
//! means in any order), so identity does not hinge on that order.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use nimscale_core::metrics::labels::{Labels, NAME};
use nimscale_core::metrics::promql::{self, EvalOptions, PromVersion, Value};
use nimscale_core::metrics::tsdb::{Tsdb, stale_nan};
use nimscale_core::rng::Stream;

fn promtool() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIMSCALE_PROMTOOL") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

const DURATION_S: usize = 600;
const LES: [&str; 4] = ["0.5", "1.0", "2.5", "+Inf"];

/// The seed's latency fraction as the adapter rule expands it.
const FRACTION: &str = "(sum(increase(lat_count{namespace=\"ns\",service=\"svc\"}[1m])) by (service) - sum(increase(lat_bucket{le=\"1.0\",namespace=\"ns\",service=\"svc\"}[1m])) by (service)) / sum(increase(lat_count{namespace=\"ns\",service=\"svc\"}[1m])) by (service)";

const EXPRS: [&str; 17] = [
    "rate(req_total[1m])",
    "increase(req_total[1m])",
    "increase(tok_total[2m])",
    "rate(tok_total[30s])",
    "irate(tok_total[1m])",
    "delta(kv[1m])",
    "rate(lat_bucket[1m])",
    "sum by (le) (increase(lat_bucket[1m]))",
    "sum(rate(tok_total[1m]))",
    FRACTION,
    "histogram_quantile(0.9, sum by (le) (rate(lat_bucket[1m])))",
    "avg(kv)",
    "max_over_time(kv[1m])",
    "avg_over_time(kv[2m])",
    "kv > 0.5",
    "sum without (pod) (kv) / count(kv)",
    "clamp_max(kv, 0.5) + on(pod) increase(req_total[1m])",
];

/// One generated group: series (labels, per-second values) and eval times.
struct Group {
    series: Vec<(Labels, Vec<Option<f64>>)>,
    times_ms: Vec<i64>,
}

fn generate(seed: u64) -> Group {
    let mut rng = Stream::named(seed, "promtool-crosscheck");
    let mut series = Vec::new();
    let mut times_ms = Vec::new();
    for pod in ["a", "b"] {
        let interval = [5u64, 10, 15, 30, 60][rng.below(5) as usize];
        let phase = rng.below(interval);
        let start = rng.below(200);
        let end = if rng.uniform() < 0.3 {
            Some(300 + rng.below(300) as usize)
        } else {
            None
        };
        let grid = |_: ()| vec![None; DURATION_S + 1];
        let (mut req, mut tok, mut kv) = (grid(()), grid(()), grid(()));
        let mut buckets: Vec<Vec<Option<f64>>> = (0..LES.len()).map(|_| grid(())).collect();
        let (mut c_req, mut c_tok) = (0.0f64, 0.0f64);
        let mut c_b = [0.0f64; 4];
        let mut t = start + phase;
        let mut last = None;
        while (t as usize) <= DURATION_S && end.is_none_or(|e| (t as usize) < e) {
            let mut at = t as i64;
            if rng.uniform() < 0.2 {
                at += rng.below(3) as i64 - 1;
            }
            t += interval;
            if rng.uniform() < 0.15 || at < 0 || last.is_some_and(|l| at <= l) {
                continue;
            }
            let at = at as usize;
            if at > DURATION_S {
                break;
            }
            last = Some(at as i64);
            if rng.uniform() < 0.04 {
                c_req = 0.0;
                c_tok = 0.0;
                c_b = [0.0; 4];
            }
            let n = rng.below(20);
            c_req += n as f64;
            c_tok += rng.below(100_000) as f64 / 1000.0;
            let mut cum = 0.0;
            for (i, b) in c_b.iter_mut().enumerate() {
                let k = if i == LES.len() - 1 {
                    n as f64 - cum
                } else {
                    rng.below(n + 1 - cum as u64) as f64
                };
                cum += k;
                *b += cum;
            }
            req[at] = Some(c_req);
            tok[at] = Some(c_tok);
            kv[at] = Some(rng.below(9) as f64 / 8.0);
            for (i, b) in buckets.iter_mut().enumerate() {
                b[at] = Some(c_b[i]);
            }
            if pod == "a" {
                times_ms.push(at as i64 * 1000 + 60_000);
                times_ms.push(at as i64 * 1000);
            }
        }
        if let (Some(e), Some(_)) = (end, last)
            && e <= DURATION_S
        {
            for v in [&mut req, &mut tok, &mut kv]
                .into_iter()
                .chain(buckets.iter_mut())
            {
                v[e] = Some(stale_nan());
            }
        }
        let base = |name: &str| {
            Labels::from_pairs([
                (NAME, name),
                ("namespace", "ns"),
                ("service", "svc"),
                ("pod", pod),
            ])
        };
        series.push((base("req_total"), req));
        series.push((base("tok_total"), tok));
        series.push((base("kv"), kv));
        for (i, le) in LES.iter().enumerate() {
            let mut l = base("lat_bucket");
            l.set("le", le);
            series.push((l, buckets[i].clone()));
        }
        series.push((base("lat_count"), buckets[LES.len() - 1].clone()));
    }
    // Boundary-aligned times (a sample exactly at T − 60 s, or at T) from
    // pod a, and times anywhere with a millisecond part.
    let mut picked: Vec<i64> = Vec::new();
    for _ in 0..3 {
        if !times_ms.is_empty() {
            picked.push(times_ms[rng.below(times_ms.len() as u64) as usize]);
        }
        picked.push(70_000 + rng.below(530_000) as i64);
    }
    picked.retain(|t| *t >= 60_000 && *t <= DURATION_S as i64 * 1000);
    // promtool loads samples only up to the last whole evaluation interval
    // (1 m) before its latest eval time, then runs every PromQL test: a test
    // at the very end (600 s, a whole minute) makes it load everything.
    picked.push(DURATION_S as i64 * 1000);
    picked.sort();
    picked.dedup();
    Group {
        series,
        times_ms: picked,
    }
}

fn value_text(v: f64) -> String {
    if v.to_bits() == stale_nan().to_bits() {
        "stale".into()
    } else {
        format!("{v}")
    }
}

fn series_text(l: &Labels) -> String {
    let mut s = l.name().to_owned();
    s.push('{');
    let rest: Vec<String> = l
        .pairs()
        .iter()
        .filter(|(n, _)| n != NAME)
        .map(|(n, v)| format!("{n}=\"{v}\""))
        .collect();
    s.push_str(&rest.join(", "));
    s.push('}');
    s
}

#[test]
fn promql_2x_matches_promtool() {
    let Some(tool) = promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool not found under CI: .ci/run unpacks Debian's prometheus package and sets NIMSCALE_PROMTOOL"
        );
        eprintln!(
            "promql_2x_matches_promtool: promtool not found (install Debian's prometheus package or set NIMSCALE_PROMTOOL); not run"
        );
        return;
    };
    let opts = EvalOptions {
        version: PromVersion::V2,
        lookback_ms: 300_000,
    };
    let exprs: Vec<_> = EXPRS.iter().map(|e| promql::parse(e).unwrap()).collect();
    let mut yaml = String::from("evaluation_interval: 1m\ntests:\n");
    let (mut compared, mut empty, mut skipped, mut elements) = (0, 0, 0, 0);
    for seed in 0..40u64 {
        let g = generate(seed);
        let mut db = Tsdb::new();
        for (l, _) in &g.series {
            db.series_id(l);
        }
        for (l, vals) in &g.series {
            let id = db.lookup(l).unwrap();
            for (t, v) in vals.iter().enumerate() {
                if let Some(v) = v {
                    db.append(id, t as i64 * 1000, *v);
                }
            }
        }
        writeln!(yaml, "  - interval: 1s\n    input_series:").unwrap();
        for (l, vals) in &g.series {
            let text: Vec<String> = vals
                .iter()
                .map(|v| v.map_or("_".into(), value_text))
                .collect();
            writeln!(
                yaml,
                "      - series: '{}'\n        values: '{}'",
                series_text(l),
                text.join(" ")
            )
            .unwrap();
        }
        writeln!(yaml, "    promql_expr_test:").unwrap();
        for (src, e) in EXPRS.iter().zip(&exprs) {
            for t in &g.times_ms {
                let Value::Vector(mut v) = promql::eval_instant(&db, e, *t, opts).unwrap().0 else {
                    panic!("{src} is a vector expression")
                };
                if v.iter().any(|s| !s.value.is_finite()) {
                    skipped += 1;
                    continue;
                }
                v.sort_by(|a, b| a.labels.cmp(&b.labels));
                compared += 1;
                elements += v.len();
                if v.is_empty() {
                    empty += 1;
                }
                writeln!(
                    yaml,
                    "      - expr: '{src}'\n        eval_time: {t}ms\n        exp_samples:{}",
                    if v.is_empty() { " []" } else { "" }
                )
                .unwrap();
                for s in v {
                    writeln!(
                        yaml,
                        "          - labels: '{}'\n            value: {:?}",
                        series_text(&s.labels),
                        s.value
                    )
                    .unwrap();
                }
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("nimscale-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("crosscheck_test.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new(&tool)
        .arg("test")
        .arg("rules")
        .arg(&file)
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "promtool cross-check: {compared} cases ({elements} result values, {empty} empty results) identical to {}; {skipped} cases with NaN/Inf left out",
        tool.display()
    );
    assert!(
        out.status.success(),
        "promtool disagrees (test file kept at {}):\n{}",
        file.display(),
        &text[..text.len().min(20_000)]
    );
    std::fs::remove_dir_all(&dir).ok();
}
