//! Export bundle, adapter rules and lint on realistic specs.

use nimscale_operator::bundle::{export, read_export_input};
use nimscale_operator::lint::{LintContext, lint};
use nimscale_operator::{adapter, admission};

fn golden(case: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nimservice");
    let d = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with(case))
        .expect("case");
    std::fs::read_to_string(d.path().join("input.yaml")).expect("input")
}

fn codes(text: &str) -> Vec<&'static str> {
    let a = admission::admit(text).expect("admitted");
    let rules = adapter::rules_for(&a.nimservice.spec, &adapter::AdapterSettings::default());
    lint(&a.nimservice.spec, &rules, &LintContext::default())
        .iter()
        .map(|l| l.code)
        .collect()
}

#[test]
fn lint_finds_the_known_traps() {
    // 06: minReplicas 1, no behavior, Object Value target on KV usage.
    let c = codes(&golden("06"));
    assert!(
        c.contains(&"min-replicas-below-2") && c.contains(&"no-behavior"),
        "{c:?}"
    );
    assert!(c.contains(&"object-value-scales-by-ready-pods"), "{c:?}");
    // 07: minReplicas 2 and a behavior, but a 30 s scrape against a 15 s sync.
    let c = codes(&golden("07"));
    assert_eq!(c, vec!["scrape-slower-than-hpa-sync"]);
    // A KV-cache target written as a percentage.
    let c = codes(&golden("06").replace("value: \"0.5\"", "value: \"50\""));
    assert!(c.contains(&"kv-cache-target-as-percent"), "{c:?}");
    // CPU utilisation without a CPU request (05 has one).
    assert!(!codes(&golden("05")).contains(&"utilization-without-request"));
    let c = codes(&golden("05").replace("      cpu: \"4\"\n", ""));
    assert!(c.contains(&"utilization-without-request"), "{c:?}");
}

#[test]
fn short_increase_windows_are_flagged() {
    let text = golden("06")
        .replace("interval: 15s", "interval: 45s")
        .replace(
            "gpu_cache_usage_perc",
            "e2e_request_latency_seconds_over_1s_fraction",
        );
    let a = admission::admit(&text).expect("admitted");
    let rules = adapter::rules_for(&a.nimservice.spec, &adapter::AdapterSettings::default());
    assert_eq!(rules.rules.len(), 1);
    let c: Vec<_> = lint(&a.nimservice.spec, &rules, &LintContext::default())
        .into_iter()
        .map(|l| l.code)
        .collect();
    assert!(c.contains(&"range-window-too-short"), "{c:?}");
}

#[test]
fn bundle_for_a_golden_spec() {
    let (a, req) = read_export_input(&golden("06")).expect("input");
    let b = export(&a, &req).expect("bundle");
    let names: Vec<&str> = b.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "nimservice.yaml",
            "adapter-rules.yaml",
            "adapter-values.yaml",
            "operator-objects.yaml",
            "README.md"
        ]
    );
    let ns = &b.files[0].content;
    assert!(
        ns.starts_with("# NIMService nim-service/llama-3-2-1b"),
        "{ns}"
    );
    // The existing NIMCache is re-emitted without its status, then the NIMService.
    let docs = nimscale_operator::node::parse_documents(ns).expect("yaml");
    assert_eq!(docs.len(), 2);
    assert!(docs[0].get("status").is_none());
    assert!(b.files[1].content.contains("gpu_cache_usage_perc"));
    // The same rules as the chart's values.
    let values = nimscale_operator::node::parse_documents(&b.files[2].content).expect("yaml");
    let custom = values[0].to_json()["rules"]["custom"].clone();
    assert!(
        custom[0]["seriesQuery"]
            .as_str()
            .unwrap()
            .contains("gpu_cache_usage_perc")
    );
    let objects = nimscale_operator::node::parse_documents(&b.files[3].content).expect("yaml");
    assert_eq!(
        objects.len(),
        7,
        "SA, Role, RoleBinding, Service, HPA, ServiceMonitor, Deployment"
    );
}

#[test]
fn broken_specs_are_not_exported() {
    let (a, req) = read_export_input(&golden("12")).expect("admitted");
    let e = export(&a, &req).expect_err("min > max");
    assert!(
        e.contains("must be greater than or equal to `minReplicas`"),
        "{e}"
    );
    let (a, req) = read_export_input(&golden("03").replace(
        "name: llama3-8b-cache\n      profile",
        "name: other-cache\n      profile",
    ))
    .expect("admitted");
    let e = export(&a, &req).expect_err("missing cache");
    assert!(
        e.contains("NIMCache \"other-cache\", which is not in the input"),
        "{e}"
    );
}
