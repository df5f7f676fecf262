use super::*;
use crate::metrics::promql::parse;

/// promql-increase.md §3 and §6, evaluated at `T` (seconds).
fn increase_at(values: &[Option<f64>], step_s: i64, t_s: i64, v: PromVersion) -> Option<f64> {
    let mut db = Tsdb::new();
    let l = Labels::from_pairs([(NAME, "x")]);
    for (i, val) in values.iter().enumerate() {
        if let Some(val) = val {
            db.append_labels(&l, i as i64 * step_s * 1000, *val);
        }
    }
    let e = parse("increase(x[1m])").unwrap();
    let opts = EvalOptions {
        version: v,
        ..EvalOptions::default()
    };
    match eval_instant(&db, &e, t_s * 1000, opts).unwrap().0 {
        Value::Vector(v) => v.first().map(|s| s.value),
        Value::Scalar(_) => panic!(),
    }
}

fn vals(s: &str) -> Vec<Option<f64>> {
    s.split_whitespace()
        .map(|x| {
            if x == "_" {
                None
            } else {
                Some(x.parse().unwrap())
            }
        })
        .collect()
}

#[test]
fn reference_cases_of_the_design_note() {
    use PromVersion::*;
    let cases: [(&str, i64, Option<f64>, Option<f64>); 10] = [
        ("0 7 13 22 31 40", 75, Some(33.0), Some(36.0)),
        ("100 _ 130 _ 170 _ 220", 90, Some(90.0), Some(100.0)),
        ("100 _ 130 _ 170 _ 220", 105, Some(100.0), Some(100.0)),
        ("100 _ _ _ 160 _ _ _ 220", 120, Some(60.0), None),
        ("100 _ _ _ 160 _ _ _ 220", 135, None, None),
        ("100 110 130 5 20", 60, Some(50.0), Some(53.33333333333333)),
        ("100 110 120", 75, Some(15.0), None),
        ("_ _ 10 20", 60, Some(30.0), Some(25.0)),
        (
            "_ _ 4 13",
            60,
            Some(21.999999999999996),
            Some(21.999999999999996),
        ),
        ("_ 100 110 120", 60, Some(40.0), Some(40.0)),
    ];
    for (s, t, v2, v3) in cases {
        assert_eq!(increase_at(&vals(s), 15, t, V2), v2, "2.x {s} at {t}");
        assert_eq!(increase_at(&vals(s), 15, t, V3), v3, "3.x {s} at {t}");
    }
}

#[test]
fn scrape_interval_30s_vs_60s_on_increase_over_1m() {
    // A counter growing 1 per second, scraped at phase 7 s.
    let run = |interval: i64, t: i64, v: PromVersion| {
        let vals: Vec<Option<f64>> = (0..=t)
            .map(|s| ((s - 7) % interval == 0 && s >= 7).then_some(s as f64))
            .collect();
        increase_at(&vals, 1, t, v)
    };
    // 30 s: the window holds two samples 30 s apart; extrapolated to the
    // range, twice the last 30-second change (§3 rule of thumb).
    assert_eq!(run(30, 200, PromVersion::V3), Some(60.0));
    assert_eq!(run(30, 200, PromVersion::V2), Some(60.0));
    // 60 s: one sample in the window, no value in either version unless
    // a scrape falls exactly on the 2.x window's start.
    assert_eq!(run(60, 200, PromVersion::V3), None);
    assert_eq!(run(60, 200, PromVersion::V2), None);
    assert_eq!(run(60, 187, PromVersion::V2), Some(60.0));
    assert_eq!(run(60, 187, PromVersion::V3), None);
}

#[test]
fn threshold_edge_at_58_5_and_58_6_seconds() {
    // Case 9: samples at 15, 30, 45 (100, 110, 120); dStart = 16.5 s
    // equals 1.1 × avg at T = 58.5 s, so it falls back to avg / 2.
    let mut db = Tsdb::new();
    let l = Labels::from_pairs([(NAME, "x")]);
    for (t, v) in [(15_000, 100.0), (30_000, 110.0), (45_000, 120.0)] {
        db.append_labels(&l, t, v);
    }
    let e = parse("increase(x[1m])").unwrap();
    for (t, want) in [(58_500, 34.0), (58_600, 40.0)] {
        let Value::Vector(v) = eval_instant(&db, &e, t, EvalOptions::default()).unwrap().0 else {
            panic!()
        };
        assert_eq!(v[0].value, want, "T = {t} ms");
    }
}

#[test]
fn table_of_section_3() {
    // r = 60 s, T = 0 (shifted by 100 s to stay positive).
    type Row<'a> = (&'a [(i64, f64)], Option<f64>);
    let rows: [Row; 6] = [
        (&[(-50, 100.0), (-20, 160.0)], Some(120.0)),
        (
            &[(-55, 100.0), (-40, 110.0), (-25, 130.0), (-10, 160.0)],
            Some(80.0),
        ),
        (
            &[(-55, 100.0), (-40, 110.0), (-25, 5.0), (-10, 20.0)],
            Some(40.0),
        ),
        (&[(-25, 0.0), (-10, 6.0)], Some(10.0)),
        (&[(-55, 100.0), (-40, 115.0)], Some(27.5)),
        (&[(-45, 100.0)], None),
    ];
    for (samples, want) in rows {
        let p: Vec<(i64, f64)> = samples
            .iter()
            .map(|(t, v)| ((t + 100) * 1000, *v))
            .collect();
        for v in [PromVersion::V2, PromVersion::V3] {
            let got = extrapolated_rate(&p, 40_000, 100_000, 60_000, true, false, v);
            let got = got.map(|g| (g * 1e9).round() / 1e9);
            assert_eq!(got, want, "{samples:?} {v:?}");
        }
    }
}

#[test]
fn per_bucket_zero_clamp_biases_the_quantile() {
    // Case 10 of the design note.
    let mut db = Tsdb::new();
    let series = [
        ("h_bucket", "0.1", [0.0, 3.0]),
        ("h_bucket", "0.5", [2.0, 8.0]),
        ("h_bucket", "+Inf", [4.0, 12.0]),
    ];
    for (name, le, v) in series {
        let l = Labels::from_pairs([(NAME, name), ("le", le)]);
        db.append_labels(&l, 30_000, v[0]);
        db.append_labels(&l, 45_000, v[1]);
    }
    let e = parse("histogram_quantile(0.5, increase(h_bucket[1m]))").unwrap();
    for v in [PromVersion::V2, PromVersion::V3] {
        let opts = EvalOptions {
            version: v,
            ..EvalOptions::default()
        };
        let Value::Vector(out) = eval_instant(&db, &e, 60_000, opts).unwrap().0 else {
            panic!()
        };
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, 0.30000000000000004);
        assert_eq!(out[0].labels, Labels::default());
    }
}

#[test]
fn matching_comparison_and_errors() {
    let mut db = Tsdb::new();
    for (pod, a, b) in [("p1", 1.0, 4.0), ("p2", 3.0, 2.0)] {
        db.append_labels(&Labels::from_pairs([(NAME, "a"), ("pod", pod)]), 1000, a);
        db.append_labels(&Labels::from_pairs([(NAME, "b"), ("pod", pod)]), 1000, b);
    }
    let run = |q: &str| eval_instant(&db, &parse(q).unwrap(), 2000, EvalOptions::default());
    let Value::Vector(v) = run("a / b").unwrap().0 else {
        panic!()
    };
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].value, 0.25);
    assert_eq!(v[0].labels.name(), "");
    let Value::Vector(v) = run("a > b").unwrap().0 else {
        panic!()
    };
    assert_eq!((v.len(), v[0].value, v[0].labels.name()), (1, 3.0, "a"));
    let Value::Vector(v) = run("a > bool b").unwrap().0 else {
        panic!()
    };
    assert_eq!(
        v.iter().map(|s| s.value).collect::<Vec<_>>(),
        vec![0.0, 1.0]
    );
    let Value::Vector(v) = run("sum(a) + on() sum(b)").unwrap().0 else {
        panic!()
    };
    assert_eq!(v[0].value, 10.0);
    let Value::Vector(v) = run("clamp_max(a, 2)").unwrap().0 else {
        panic!()
    };
    assert_eq!(v[1].value, 2.0);
    assert!(
        run("a + on() b")
            .unwrap_err()
            .0
            .contains("duplicate series")
    );
    let Value::Scalar(s) = run("scalar(sum(a)) * 2").unwrap().0 else {
        panic!()
    };
    assert_eq!(s, 8.0);
    let Value::Vector(v) = run("count by (pod) (a)").unwrap().0 else {
        panic!()
    };
    assert_eq!(v.len(), 2);
}

#[test]
fn staleness_hides_a_series_and_lookback_bounds_gauges() {
    let mut db = Tsdb::new();
    let l = Labels::from_pairs([(NAME, "g")]);
    db.append_labels(&l, 0, 1.0);
    let e = parse("g").unwrap();
    let n = |db: &Tsdb, t| match eval_instant(db, &e, t, EvalOptions::default()).unwrap().0 {
        Value::Vector(v) => v.len(),
        Value::Scalar(_) => 9,
    };
    assert_eq!(n(&db, 299_999), 1);
    assert_eq!(n(&db, 300_000), 0, "3.x lookback is left-open");
    db.append_labels(&l, 10_000, crate::metrics::tsdb::stale_nan());
    assert_eq!(n(&db, 20_000), 0);
}
