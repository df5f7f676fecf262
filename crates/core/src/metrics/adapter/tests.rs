use super::*;
use crate::metrics::labels::NAME;

fn re(s: &str) -> regex_lite::Regex {
    regex_lite::Regex::new(s).unwrap()
}

/// The VLM guide's rule for the latency fraction.
fn vlm_rule() -> AdapterConfig {
    let mq = "(sum(increase(e2e_request_latency_seconds_count{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>) - sum(increase(e2e_request_latency_seconds_bucket{le=\"1.0\",<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)) / sum(increase(e2e_request_latency_seconds_count{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)";
    AdapterConfig {
        rules: vec![Rule {
            series_query: promql::parse_selector(
                "e2e_request_latency_seconds_count{namespace!=\"\",pod!=\"\"}",
            )
            .unwrap(),
            filters: vec![],
            resources: ResourceMapping {
                overrides: vec![
                    ("namespace".into(), String::new(), "namespace".into()),
                    ("pod".into(), String::new(), "pod".into()),
                    ("service".into(), String::new(), "service".into()),
                ],
                template: None,
            },
            name_matches: re("^e2e_request_latency_seconds_count$"),
            name_as: "e2e_request_latency_seconds_over_1s_fraction".into(),
            metrics_query: Template::parse(mq).unwrap(),
            metrics_query_text: String::new(),
            namespaced: true,
        }],
        external_rules: vec![],
    }
}

#[test]
fn templates_and_name_expansion() {
    let t = Template::parse("sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>) <<index .LabelValuesByName \"pod\">>").unwrap();
    let mut a = TemplateArgs {
        series: "s".into(),
        label_matchers: "a=\"b\"".into(),
        group_by: "pod".into(),
        ..TemplateArgs::default()
    };
    a.values_by_name.insert("pod".into(), "p1|p2".into());
    assert_eq!(t.render(&a), "sum(s{a=\"b\"}) by (pod) p1|p2");
    assert!(
        Template::parse("<<range .GroupBySlice>>")
            .unwrap_err()
            .contains("unsupported")
    );
    let r = re("^(.*)_total$");
    assert_eq!(
        expand_name(&r, "${1}_per_second", "req_total").unwrap(),
        "req_per_second"
    );
    assert_eq!(expand_name(&r, "$1x", "req_total").unwrap(), "");
    assert_eq!(expand_name(&r, "$0", "req_total").unwrap(), "req_total");
}

#[test]
fn selector_requirements_become_matchers_sorted_by_key() {
    let sel = LabelSelector {
        match_labels: Some([("model".to_string(), "m".to_string())].into()),
        match_expressions: Some(vec![crate::hpa::api::LabelSelectorRequirement {
            key: "a".into(),
            operator: "In".into(),
            values: Some(vec!["y".into(), "x".into()]),
        }]),
    };
    let (e, _) = selector_matchers(Some(&sel)).unwrap();
    assert_eq!(e, vec!["a=~\"x|y\"", "model=\"m\""]);
}

#[test]
fn vlm_fraction_served_for_the_service_after_discovery() {
    let cfg = vlm_rule();
    let mut db = Tsdb::new();
    for pod in ["p1", "p2"] {
        for (name, le) in [
            ("e2e_request_latency_seconds_count", ""),
            ("e2e_request_latency_seconds_bucket", "1.0"),
        ] {
            let l = Labels::from_pairs([
                (NAME, name),
                ("le", le),
                ("namespace", "vlm"),
                ("pod", pod),
                ("service", "svc"),
            ]);
            let (a, b) = if le.is_empty() {
                (0.0, 20.0)
            } else {
                (0.0, 15.0)
            };
            db.append_labels(&l, 30_000, a);
            db.append_labels(&l, 60_000, b);
        }
    }
    let req = Request {
        db: &db,
        now_ms: 60_000,
        opts: EvalOptions::default(),
        namespace: "vlm",
    };
    let empty = Registry::default();
    let e = cfg
        .custom_single(
            &empty,
            &req,
            "e2e_request_latency_seconds_over_1s_fraction",
            "services",
            "svc",
            None,
        )
        .unwrap_err();
    assert_eq!(
        e.0,
        "the server could not find the metric e2e_request_latency_seconds_over_1s_fraction for services"
    );
    let reg = cfg.discover(&db, 0, 60_000);
    assert!(reg.custom.contains_key(&(
        "e2e_request_latency_seconds_over_1s_fraction".into(),
        "service".into()
    )));
    let (q, _) = cfg
        .custom_query(
            &reg,
            "e2e_request_latency_seconds_over_1s_fraction",
            "service",
            "vlm",
            &["svc"],
            None,
        )
        .unwrap();
    assert!(q.contains("{namespace=\"vlm\",service=\"svc\"}[1m]"), "{q}");
    let (v, reads) = cfg
        .custom_single(
            &reg,
            &req,
            "e2e_request_latency_seconds_over_1s_fraction",
            "service",
            "svc",
            None,
        )
        .unwrap();
    // Per pod: count 0→20 over 30 s with zero clamp, bucket 0→15; the
    // window (0, 60] with samples at 30 and 60: factor 1, fraction 5/20.
    assert_eq!(v, 0.25);
    assert_eq!(reads.newest_ms, Some(60_000));
    assert_eq!(custom_milli(v), 250);
    let e = cfg
        .custom_single(
            &reg,
            &req,
            "e2e_request_latency_seconds_over_1s_fraction",
            "service",
            "other",
            None,
        )
        .unwrap_err();
    assert_eq!(
        e.0,
        "the server could not find the metric e2e_request_latency_seconds_over_1s_fraction for services other"
    );
    let (pods, _) = cfg
        .custom_multi(
            &reg,
            &req,
            "e2e_request_latency_seconds_over_1s_fraction",
            "pod",
            &["p1", "p2", "p3"],
            None,
        )
        .unwrap();
    assert_eq!(pods, vec![("p1".into(), 0.25), ("p2".into(), 0.25)]);
    assert_eq!(cfg.max_range_ms(), 60_000);
    assert!(cfg.reads_name("e2e_request_latency_seconds_bucket"));
    assert!(!cfg.reads_name("e2e_request_latency_seconds_sum"));
}

#[test]
fn external_rules_leave_the_namespace_out_when_not_namespaced() {
    let rule = |namespaced: bool| Rule {
        series_query: promql::parse_selector("queue{namespace!=\"\"}").unwrap(),
        filters: vec![],
        resources: ResourceMapping {
            overrides: vec![("namespace".into(), String::new(), "namespace".into())],
            template: None,
        },
        name_matches: re("^queue$"),
        name_as: "queue".into(),
        metrics_query: Template::parse("sum(<<.Series>>{<<.LabelMatchers>>})").unwrap(),
        metrics_query_text: String::new(),
        namespaced,
    };
    let mut db = Tsdb::new();
    db.append_labels(
        &Labels::from_pairs([(NAME, "queue"), ("namespace", "other")]),
        1_000,
        7.0,
    );
    let req = Request {
        db: &db,
        now_ms: 2_000,
        opts: EvalOptions::default(),
        namespace: "vlm",
    };
    for (namespaced, want) in [(true, Vec::<f64>::new()), (false, vec![7.0])] {
        let cfg = AdapterConfig {
            rules: vec![],
            external_rules: vec![rule(namespaced)],
        };
        let reg = cfg.discover(&db, 0, 2_000);
        let (v, _) = cfg.external(&reg, &req, "queue", None).unwrap();
        assert_eq!(v, want, "namespaced: {namespaced}");
    }
}

#[test]
fn go_conversions() {
    assert_eq!(custom_milli(f64::NAN), 0);
    assert_eq!(external_milli(f64::NAN), i64::MIN);
    assert_eq!(custom_milli(0.3999), 399);
    assert_eq!(custom_milli(-0.0015), -1);
    assert_eq!(go_int64(f64::INFINITY), i64::MIN);
}
