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

fn engine(args: &[&str]) -> (Option<i32>, String, String) {
    let out = nimscale().arg("engine").args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn engine_step_time_prints_one_json_object_with_components() {
    let (code, out, err) = engine(&[
        "step-time",
        "--gpu",
        "h100-sxm",
        "--model",
        "llama-3.1-8b-instruct",
        "--decode-seqs",
        "64",
        "--context",
        "2000",
        "--prefill-seqs",
        "1",
        "--prefill-tokens",
        "512",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 1);
    for key in [
        "\"step_ms\":",
        "\"memory_ms\":",
        "\"compute_ms\":",
        "\"overhead_ms\":",
        "\"tokens\":576",
    ] {
        assert!(out.contains(key), "{key} missing in {out}");
    }
}

#[test]
fn engine_capacity_reports_blocks_and_refuses_models_that_do_not_fit() {
    let (code, out, _) = engine(&[
        "capacity",
        "--gpu",
        "h100-sxm",
        "--model",
        "llama-3.1-8b-instruct",
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"kv_blocks\":27741"), "{out}");
    assert!(out.contains("\"kv_tokens\":443856"), "{out}");
    assert!(out.contains("\"largest_batch\":"), "{out}");
    let (code, _, err) = engine(&[
        "capacity",
        "--gpu",
        "l40s",
        "--model",
        "llama-3.1-70b-instruct",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("does not fit on 1× l40s"), "{err}");
    let (code, _, err) = engine(&[
        "capacity",
        "--gpu",
        "h1000",
        "--model",
        "llama-3.1-8b-instruct",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown GPU `h1000`"), "{err}");
}

#[test]
fn engine_benchmark_runs_a_closed_loop() {
    let (code, out, err) = engine(&[
        "benchmark",
        "--gpu",
        "h100-sxm",
        "--model",
        "llama-3.1-8b-instruct",
        "--precision",
        "fp8",
        "--concurrency",
        "8",
        "--isl",
        "200",
        "--osl",
        "100",
        "--requests",
        "50",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("\"concurrency\":8") && out.contains("\"itl_ms\":"),
        "{out}"
    );
}
