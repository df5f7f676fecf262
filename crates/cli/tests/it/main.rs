//! End-to-end tests of the `nimscale` binary (one integration binary, R12).

use std::path::PathBuf;
use std::process::Command;

fn nimscale() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nimscale"))
}

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nimscale-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn explain_replays_the_shipped_vlm_example() {
    let out = nimscale()
        .args(["hpa", "explain"])
        .arg(repo("scenarios/hpa-explain-vlm-latency.yaml"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("t=15.000s  replicas 1 -> 3  (scale up)"),
        "{text}"
    );
    assert!(text.contains("ScaleDownStabilized"), "{text}");
    assert!(text.contains("replicas 5 -> 2  (scale down)"), "{text}");
    assert!(text.contains("ScaleDownLimit"), "{text}");
}

#[test]
fn bad_input_names_file_line_and_field_and_exits_2() {
    let p = scratch(
        "bad.yaml",
        "hpa:\n  spec:\n    maxReplicas: 0\nsteps:\n  - time: 0\n    replicas: 1\n",
    );
    let out = nimscale()
        .args(["hpa", "explain"])
        .arg(&p)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bad.yaml:3: hpa.spec.maxReplicas: Required value: must be set and greater than 0"
        ),
        "{err}"
    );
    let p = scratch("typo.yaml", "hpa:\n  spec:\n    maxReplica: 3\nsteps: []\n");
    let out = nimscale()
        .args(["hpa", "explain"])
        .arg(&p)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.yaml:3:5: unknown field `maxReplica`"),
        "{err}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = nimscale()
        .args(["hpa", "explain", "/nonexistent/x.yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/x.yaml"));
}
