//! Admission beyond the golden cases: every error at once, exact wording,
//! line and column for each field.

use nimscale_operator::admission::{Stage, admit, crds};
use nimscale_operator::cel;

const BASE: &str = "apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata:
  name: llm
  namespace: ns
spec:
  image:
    repository: nvcr.io/nim/meta/llama-3.1-8b-instruct
    tag: \"1.3.3\"
  authSecret: ngc-api-secret
  storage:
    pvc:
      name: cache
  expose:
    service:
      port: 8000
";

#[test]
fn the_base_spec_is_admitted_with_defaults() {
    let a = admit(BASE).expect("admitted");
    assert_eq!(a.stored["spec"]["inferencePlatform"], "standalone");
    assert_eq!(a.stored["spec"]["expose"]["service"]["port"], 8000);
    assert!(a.warnings.is_empty());
}

#[test]
fn unknown_fields_are_refused_with_their_location() {
    let text = BASE
        .replace("  authSecret:", "  replica: 2\n  authSecret:")
        .replace("  namespace: ns", "  namespace: ns\n  lables: {}");
    let r = admit(&text).expect_err("unknown fields");
    assert_eq!(r.stage, Stage::Decode);
    assert_eq!(
        r.message,
        "NIMService in version \"v1alpha1\" cannot be handled as a NIMService: strict decoding error: unknown field \"metadata.lables\", unknown field \"spec.replica\""
    );
    let lines: Vec<u32> = r.problems.iter().map(|p| p.pos.line).collect();
    assert_eq!(lines, vec![6, 11]);
    assert_eq!(r.problems[1].pos.column, 3);
}

#[test]
fn every_schema_error_is_reported_at_once() {
    let text = BASE
        .replace(
            "  authSecret:",
            "  replicas: -1\n  inferencePlatform: foo\n  authSecret:",
        )
        .replace(
            "      port: 8000",
            "      port: 70000\n      grpcPort: \"x\"",
        );
    let r = admit(&text).expect_err("invalid");
    assert_eq!(r.stage, Stage::ApiServer);
    for part in [
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
        "spec.inferencePlatform: Unsupported value: \"foo\": supported values: \"standalone\", \"kserve\"",
        "spec.expose.service.port: Invalid value: 70000: spec.expose.service.port in body should be less than or equal to 65535",
        "spec.expose.service.grpcPort: Invalid value: \"x\": spec.expose.service.grpcPort in body must be of type integer: \"string\"",
    ] {
        assert!(
            r.message.contains(part),
            "missing {part:?} in {}",
            r.message
        );
    }
    assert!(
        r.message
            .starts_with("NIMService.apps.nvidia.com \"llm\" is invalid: ["),
        "{}",
        r.message
    );
    assert_eq!(r.problems.len(), 4);
    assert!(r.problems.iter().all(|p| p.pos.line > 0));
}

#[test]
fn later_layers_are_listed_when_an_earlier_one_refuses() {
    let text = BASE.replace(
        "  authSecret:",
        "  metrics:\n    enabled: true\n  replicas: -1\n  authSecret:",
    );
    let r = admit(&text).expect_err("invalid");
    assert_eq!(r.stage, Stage::ApiServer);
    assert_eq!(r.later.len(), 1, "{r:?}");
    assert!(
        r.later[0].contains("serviceMonitor: Required value"),
        "{r:?}"
    );
}

#[test]
fn webhook_errors_aggregate() {
    let text = BASE.replace(
        "  authSecret:",
        "  metrics:\n    enabled: true\n  scale:\n    enabled: true\n  authSecret:",
    );
    let r = admit(&text).expect_err("denied");
    assert_eq!(r.stage, Stage::Webhook);
    assert_eq!(
        r.message,
        "admission webhook \"vnimservice-v1alpha1.kb.io\" denied the request: [nimservice.spec.metrics.serviceMonitor: Required value: must be defined if nimservice.spec.metrics.enabled is true, nimservice.spec.scale.hpa: Required value: must be defined if nimservice.spec.scale.enabled is true]"
    );
    assert_eq!(
        r.problems[0].pos.line, 10,
        "the deepest existing ancestor: spec.metrics"
    );
    assert_eq!(r.problems[1].pos.line, 12);
}

#[test]
fn pattern_and_storage_rules() {
    let text = BASE.replace(
        "  authSecret:",
        "  metrics:\n    enabled: true\n    serviceMonitor:\n      interval: 1x\n  authSecret:",
    );
    let r = admit(&text).expect_err("pattern");
    assert!(r.message.contains("spec.metrics.serviceMonitor.interval: Invalid value: \"1x\": spec.metrics.serviceMonitor.interval in body should match '^(0|"), "{}", r.message);
    let text = BASE.replace(
        "    pvc:\n      name: cache\n",
        "    pvc:\n      name: cache\n    hostPath: /models\n",
    );
    let r = admit(&text).expect_err("two sources");
    assert!(
        r.message.contains(
            "nimservice.spec.storage: Invalid value: \"multiple storage sources defined\""
        ),
        "{}",
        r.message
    );
}

#[test]
fn bad_documents_get_clear_errors() {
    let r = admit("apiVersion: v1\nkind: [\n").expect_err("yaml");
    assert_eq!(r.stage, Stage::Yaml);
    assert!(r.problems[0].pos.line >= 2, "{r:?}");
    let r = admit(&BASE.replace("kind: NIMService", "kind: NIMServce")).expect_err("kind");
    assert_eq!(r.stage, Stage::Document);
    assert_eq!((r.problems[0].pos.line, r.problems[0].pos.column), (2, 7));
    let r = admit(&BASE.replace("apps.nvidia.com/v1alpha1", "apps.nvidia.com/v1"))
        .expect_err("version");
    assert!(
        r.message
            .contains("no matches for kind \"NIMService\" in version \"apps.nvidia.com/v1\"")
    );
    let r = admit(&BASE.replace("name: llm", "name: LLM")).expect_err("name");
    assert!(
        r.message
            .contains("metadata.name: Invalid value: \"LLM\": a lowercase RFC 1123 subdomain"),
        "{}",
        r.message
    );
}

#[test]
fn every_cel_rule_in_the_crds_is_understood() {
    let mut rules = Vec::new();
    crds().nimservice.rules(&mut rules);
    let n_service = rules.len();
    crds().nimcache.rules(&mut rules);
    assert_eq!(
        (n_service, rules.len()),
        (12, 17),
        "the embedded CRDs changed: review the rules"
    );
    for r in &rules {
        cel::check(r).unwrap_or_else(|e| panic!("rule {r:?}: {e}"));
    }
}
