use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("15s"), Ok(SimDuration::from_secs(15)));
    assert_eq!(parse_duration("1m30s"), Ok(SimDuration::from_secs(90)));
    assert_eq!(parse_duration("250ms"), Ok(SimDuration::from_millis(250)));
    assert_eq!(parse_duration("-1h"), Ok(SimDuration::from_secs(-3600)));
    assert_eq!(parse_duration("2.5"), Ok(SimDuration::from_millis(2500)));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("10").is_ok());
}

#[test]
fn replays_a_scale_up_then_a_stabilized_scale_down() {
    let text = "\
hpa:
  apiVersion: autoscaling/v2
  kind: HorizontalPodAutoscaler
  metadata: {name: llama}
  spec:
    minReplicas: 1
    maxReplicas: 10
    metrics:
    - type: Pods
      pods:
        metric: {name: num_requests_running}
        target: {type: AverageValue, averageValue: 10}
steps:
  - time: 0
    replicas: 2
    metrics: {pods: {num_requests_running: [20, 30]}}
  - time: 15s
    metrics: {pods: {num_requests_running: 2}}
  - time: 5m15s
    metrics: {pods: {num_requests_running: 2}}
";
    let input = parse(text, "t.yaml").expect("valid");
    let d = run(&input);
    // avg 25 vs 10 on 2 pods proposes ceil(2.5 × 2) = 5; the legacy path
    // caps a scale-up at max(2 × 2, 4) = 4.
    assert_eq!(d[0].desired_replicas, 4);
    assert_eq!(d[0].normalization.as_ref().map(|n| n.proposal), Some(5));
    // Load fell, but the legacy window keeps the raw 5 from t=0, which is
    // now within max(2 × 4, 4): the controller scales *up* to 5 with the
    // reason "All metrics below target" (hpa-algorithm §12).
    assert_eq!(d[1].desired_replicas, 5);
    assert_eq!(d[1].rescale_reason, "All metrics below target");
    assert_eq!(d[2].desired_replicas, 1);
}

#[test]
fn reports_every_problem_with_line_and_field() {
    let text = "\
hpa:
  spec:
    minReplicas: 3
    maxReplicas: 2
    behavior:
      scaleDown:
        policies:
        - {type: Pods, value: 0, periodSeconds: 60}
steps:
  - time: 30
  - time: 15
";
    let e = parse(text, "bad.yaml").unwrap_err();
    let lines: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "bad.yaml:4: hpa.spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
            "bad.yaml:8: hpa.spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero",
            "bad.yaml:10: steps[0].replicas: the first step must give the target's replicas",
            "bad.yaml:11: steps[1].time: times must increase from step to step",
        ]
    );
}

#[test]
fn malformed_yaml_is_an_error_not_a_panic() {
    for text in [
        "hpa: [",
        "steps: 3",
        "hpa:\n  spec:\n    maxReplicas: lots\nsteps: []",
        "\u{0}",
    ] {
        assert!(parse(text, "x.yaml").is_err(), "{text:?}");
    }
}
