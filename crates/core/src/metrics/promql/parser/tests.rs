use super::*;

fn err(src: &str) -> ParseError {
    parse(src).unwrap_err()
}

#[test]
fn durations() {
    assert_eq!(parse_duration_ms("1m"), Some(60_000));
    assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
    assert_eq!(parse_duration_ms("500ms"), Some(500));
    assert_eq!(parse_duration_ms("30m1h"), None);
    assert_eq!(parse_duration_ms("1x"), None);
    // Longer than int64 nanoseconds: refused, as Prometheus does (the
    // evaluation's time sums overflowed with 9999999999999999y).
    assert_eq!(parse_duration_ms("292y"), Some(292 * 365 * 86_400_000));
    assert_eq!(parse_duration_ms("293y"), None);
    assert!(parse("x offset 9999999999999s").is_err());
}

#[test]
fn precedence_and_types() {
    let e = parse("sum(rate(a[1m])) by (pod) / 2 ^ 2 ^ 3 > bool 1").unwrap();
    let Expr::Binary { op, .. } = &e else {
        panic!()
    };
    assert_eq!(*op, BinOp::Gtr);
    assert_eq!(e.ty(), Ty::Vector);
    let e = parse("-2 ^ 2").unwrap();
    assert!(matches!(e, Expr::Neg(_)));
    assert_eq!(
        parse("x{a=~\"b|c\"}[5m] offset 1m").unwrap().ty(),
        Ty::Matrix
    );
}

#[test]
fn plain_alternations_match_as_sets_like_the_regex() {
    let values = ["a", "b", "a-b", "", "c:d", "ab", "a|b", "A", "x y", "a.b"];
    for src in ["a|b|a-b", "", "a|", "c:d|x y", "a.b|b", "a[bc]|A", "a-b|ab"] {
        let set = LabelRegex::new(src).unwrap();
        let re = regex_lite::Regex::new(&format!("^(?:{src})$")).unwrap();
        let plain = !src.contains(['.', '[']);
        assert_eq!(matches!(set, LabelRegex::Set(_)), plain, "{src}");
        for v in values {
            assert_eq!(set.is_match(v), re.is_match(v), "{src} vs {v:?}");
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let ok = format!("{}x{}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&ok).is_ok());
    for deep in [
        format!("{}x{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}x", "-".repeat(100_000)),
        format!("{}x{}", "abs(".repeat(5000), ")".repeat(5000)),
        format!("{}x{}", "sum(".repeat(5000), ")".repeat(5000)),
        vec!["2"; 5000].join("^"),
    ] {
        let e = parse(&deep).expect_err("too deep");
        assert!(e.message.contains("nested more than 128"), "{e}");
    }
}

#[test]
fn errors_point_at_the_column() {
    assert_eq!(err("rate(x)").column, 6);
    assert!(
        err("rate(x)")
            .message
            .contains("expected type range vector")
    );
    assert_eq!(err("sum(x) +").column, 9);
    assert_eq!(err("x{a=\"1\"").column, 8);
    assert_eq!(err("x{a=~\"(\"}").column, 6);
    assert_eq!(err("{a=\"\"}").column, 1);
    assert!(err("1 > 2").message.contains("BOOL"));
    assert!(err("foo(x)").message.contains("unknown function"));
    assert_eq!(err("x[5m] + 1").column, 7);
    assert!(err("topk(3, x)").message.contains("not supported"));
    assert_eq!(err("x $").column, 3);
}
