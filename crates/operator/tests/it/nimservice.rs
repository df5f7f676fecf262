//! The NIM Operator golden cases (tests/data/nimservice, produced by running
//! the operator's own admission, webhook and reconcile code): admission
//! messages, warnings, rendered objects and reconcile failures.

use std::fs;
use std::path::{Path, PathBuf};

use nimscale_operator::admission::admit;
use nimscale_operator::render::{RenderOptions, render};
use serde_json::Value;

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nimservice");
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok()
}

const HASHES: &[&str] = &[
    "nvidia.com/last-applied-hash",
    "nvidia.com/parent-spec-hash",
];

/// Hash annotations are compared as present and non-empty; the multi-node
/// SSH key is random in the operator and masked in the golden file.
fn normalise(mut v: Value, case: &str) -> Value {
    for path in [
        "/metadata/annotations",
        "/spec/template/metadata/annotations",
    ] {
        if let Some(Value::Object(a)) = v.pointer_mut(path) {
            for h in HASHES {
                if let Some(x) = a.get_mut(*h) {
                    let s = x.as_str().unwrap_or("");
                    assert!(!s.is_empty(), "{case}: empty {h}");
                    *x = Value::String("<hash>".into());
                }
            }
        }
    }
    if v["kind"] == "Secret" && v.pointer("/data/private.key").is_some() {
        v["data"]["private.key"] = Value::String("<key>".into());
    }
    v
}

fn id(v: &Value) -> String {
    format!(
        "{}/{}",
        v["kind"].as_str().unwrap_or("?"),
        v.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    )
}

#[test]
fn golden_cases_match_the_operator() {
    let mut checked = 0;
    for dir in cases() {
        let case = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let input = read(&dir.join("input.yaml")).expect("input");
        let result = admit(&input);
        if let Some(expected) = read(&dir.join("expected-error.txt")) {
            let refusal = result.expect_err(&format!("{case}: must be refused"));
            assert_eq!(refusal.message, expected.trim_end(), "{case}");
            assert!(
                refusal.problems.iter().all(|p| p.pos.line > 0),
                "{case}: every problem located: {refusal:?}"
            );
            checked += 1;
            continue;
        }
        let admitted =
            result.unwrap_or_else(|e| panic!("{case}: refused: {}", e.detailed("input.yaml")));
        let warnings = read(&dir.join("expected-warnings.txt")).unwrap_or_default();
        let want_warnings: Vec<&str> = warnings.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(admitted.warnings, want_warnings, "{case}: warnings");
        let rendered = render(&admitted, &RenderOptions::default());
        let expected: Vec<Value> =
            serde_saphyr::from_multiple(&read(&dir.join("expected.yaml")).expect("expected"))
                .expect("golden YAML");
        let got_ids: Vec<String> = rendered.objects.iter().map(id).collect();
        let want_ids: Vec<String> = expected.iter().map(id).collect();
        assert_eq!(got_ids, want_ids, "{case}: objects and order");
        for (g, w) in rendered.objects.iter().zip(&expected) {
            let (g, w) = (normalise(g.clone(), &case), normalise(w.clone(), &case));
            if g != w {
                let gy = serde_saphyr::to_string(&g).unwrap_or_default();
                let wy = serde_saphyr::to_string(&w).unwrap_or_default();
                panic!("{case}: {} differs\n--- got\n{gy}\n--- want\n{wy}", id(&w));
            }
        }
        let status: Value =
            serde_saphyr::from_str(&read(&dir.join("expected-status.yaml")).expect("status"))
                .expect("status YAML");
        match status
            .pointer("/lastReconcile/error")
            .and_then(Value::as_str)
        {
            Some(err) => {
                let f = rendered
                    .failure
                    .as_ref()
                    .unwrap_or_else(|| panic!("{case}: expected failure {err}"));
                assert_eq!(f.error, err, "{case}");
                assert!(!f.explanation.is_empty());
            }
            None => assert!(
                rendered.failure.is_none(),
                "{case}: unexpected failure {:?}",
                rendered.failure
            ),
        }
        checked += 1;
    }
    assert_eq!(checked, 15, "every golden case ran");
}
