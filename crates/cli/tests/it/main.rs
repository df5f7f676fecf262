//! End-to-end tests of the `nimscale` binary (one integration binary, R12).

use std::path::PathBuf;
use std::process::Command;

mod plan;
mod report;
mod safety;

fn nimscale() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nimscale"))
}

/// Runs `cmd`, which must succeed (its stderr shown if not); its output.
fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An empty temporary directory for one test.
fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nimscale-{tag}-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// The shipped CPU-70 Llama scenario cut to `duration`, written as `name`.
fn cpu_scenario(duration: &str, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("scenarios/llama3-8b-cpu70.yaml"))
        .expect("read")
        .replace("duration: 1h", &format!("duration: {duration}"));
    scratch(name, &text)
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
    // What held the scale-down at t=240 s, and until when (the 180 s window
    // after the recommendation of 5 at t=120 s): the next sync, at 420 s,
    // scales down.
    assert!(
        text.contains("held: scale-down stopped at 5 by the recommendation of 5 made at t=120.000s; it leaves the 180s stabilization window at t=300.000s"),
        "{text}"
    );
    let out = nimscale()
        .args(["hpa", "explain", "--json"])
        .arg(repo("scenarios/hpa-explain-vlm-latency.yaml"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let at = |t: f64| lines.iter().find(|l| l["t_s"] == t).expect("decision");
    assert_eq!(at(240.0)["heldBack"]["until_s"], 300.0);
    assert_eq!(at(240.0)["heldBack"]["recommendedAt_s"], 120.0);
    assert_eq!(at(420.0)["desiredReplicas"], 2);
    assert!(at(420.0)["heldBack"].is_null());
    assert_eq!(at(15.0)["metrics"][0]["proposal"], 3);
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
    // A file the user named and that cannot be read is invalid input.
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/x.yaml"));
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

fn golden_input(case: &str) -> PathBuf {
    let dir = repo("crates/operator/tests/data/nimservice");
    std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with(case))
        .expect("case")
        .path()
}

#[test]
fn render_prints_the_operator_objects_or_the_admission_error() {
    let out = nimscale()
        .arg("render")
        .arg(golden_input("06").join("input.yaml"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "Service",
            "HorizontalPodAutoscaler",
            "ServiceMonitor",
            "Deployment"
        ]
    );
    assert!(text.contains("value: 500m"), "quantities canonical");

    let case = golden_input("13");
    let out = nimscale()
        .arg("render")
        .arg(case.join("input.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = std::fs::read_to_string(case.join("expected-error.txt")).expect("golden");
    assert_eq!(err.lines().next(), Some(expected.trim_end()));
    assert!(err.contains("input.yaml:8:1: spec: Invalid value"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn render_shows_what_exists_before_a_reconcile_failure() {
    let out = nimscale()
        .arg("render")
        .arg(golden_input("12").join("input.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("\nkind: ").count() + usize::from(text.starts_with("kind: ")),
        4,
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must be greater than or equal to `minReplicas`"),
        "{err}"
    );
    assert!(err.contains("never creates the Deployment"), "{err}");
}

#[test]
fn render_reports_unknown_fields_with_line_and_column() {
    let p = scratch(
        "unknown.yaml",
        "apiVersion: apps.nvidia.com/v1alpha1\nkind: NIMService\nmetadata:\n  name: x\nspec:\n  image: {repository: r, tag: t}\n  storage: {pvc: {name: c}}\n  expose: {service: {port: 8000}}\n  scale:\n    enabled: true\n    hpa: {maxReplicas: 2, minReplica: 1}\n",
    );
    let out = nimscale().arg("render").arg(&p).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strict decoding error: unknown field \"spec.scale.hpa.minReplica\""),
        "{err}"
    );
    assert!(err.contains("unknown.yaml:11:27: unknown field"), "{err}");
}

#[test]
fn export_writes_a_bundle_and_never_overwrites_without_force() {
    let dir = std::env::temp_dir().join(format!("nimscale-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |force: bool| {
        let mut c = nimscale();
        c.arg("export")
            .arg(repo("scenarios/export-vlm-winner.yaml"))
            .arg("--out")
            .arg(&dir);
        if force {
            c.arg("--force");
        }
        c.output().expect("runs")
    };
    let out = run(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "nimservice.yaml",
        "adapter-rules.yaml",
        "operator-objects.yaml",
        "README.md",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let ns = std::fs::read_to_string(dir.join("nimservice.yaml")).expect("bundle");
    assert!(
        ns.contains("kind: NIMCache") && ns.contains("size: 60Gi"),
        "{ns}"
    );
    std::fs::write(dir.join("README.md"), "mine").expect("write");
    let out = run(false);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).expect("kept"),
        "mine",
        "nothing overwritten"
    );
    let out = run(true);
    assert!(out.status.success());
    assert_ne!(
        std::fs::read_to_string(dir.join("README.md")).expect("replaced"),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn simulate(args: &[&str], out: &std::path::Path) -> std::process::Output {
    nimscale()
        .arg("simulate")
        .arg(repo("scenarios/cosmos-vlm-spike.yaml"))
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn simulate_writes_a_run_reproducibly_and_never_overwrites_it() {
    let base = std::env::temp_dir().join(format!("nimscale-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (a, b) = (base.join("a"), base.join("b"));
    let out = simulate(&[], &a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SLO e2e-p95"), "{text}");
    assert!(text.contains("load change at 600 s"), "{text}");
    let files = ["timeseries.csv", "decisions.jsonl", "summary.json"];
    let read = |d: &std::path::Path| -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|f| std::fs::read(d.join(f)).expect("file"))
            .collect()
    };
    let first = read(&a);
    // One row per simulated second plus the header; one sync per 15 s.
    assert_eq!(String::from_utf8_lossy(&first[0]).lines().count(), 3601);
    assert_eq!(String::from_utf8_lossy(&first[1]).lines().count(), 241);
    let summary: serde_json::Value = serde_json::from_slice(&first[2]).expect("json");
    assert_eq!(summary["scenario"], "cosmos-vlm-spike");
    assert!(summary["scaleUps"].as_u64().unwrap() >= 1);
    // The same seed again gives the same bytes.
    let out = simulate(&[], &b);
    assert!(out.status.success());
    assert_eq!(read(&b), first);
    // An existing run is kept without --force...
    let out = simulate(&["--seed", "8"], &a);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    assert_eq!(read(&a), first);
    // ... and replaced with it; another seed gives another run.
    let out = simulate(&["--seed", "8", "--force"], &a);
    assert!(out.status.success());
    assert_ne!(read(&a), first);
    let leftovers: Vec<_> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("nimscale-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn simulate_reports_bad_scenarios_with_file_line_and_field() {
    let p = scratch(
        "bad-scenario.yaml",
        "duration: 1h\nnimservice: {file: missing.yaml}\nmodel: {gpu: h100-sxm, name: llama-3.1-8b-instruct}\ntraffic:\n  pattern: {kind: constant, rate: 1}\n  burst: 3\n",
    );
    let out = nimscale().arg("simulate").arg(&p).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad-scenario.yaml:6:3: traffic.burst: unknown field `burst`"),
        "{err}"
    );
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = nimscale().arg("schema").output().expect("runs");
    assert!(out.status.success());
    let committed = std::fs::read(repo("scenarios/scenario.schema.json")).expect("schema");
    assert_eq!(out.stdout, committed);
}

#[test]
fn promql_evaluates_openmetrics_series_in_both_versions() {
    // promql-increase.md §6 case 1: samples every 15 s, the one at 15 s is
    // on the 2.x window's closed start.
    let mut om = String::from("# TYPE x counter\n");
    for (i, v) in [0, 7, 13, 22, 31, 40].iter().enumerate() {
        om.push_str(&format!("x_total{{pod=\"a\"}} {v} {}\n", i * 15));
    }
    om.push_str("# EOF\n");
    let input = scratch("x.om", &om);
    let run = |version: &str, expr: &str| {
        nimscale()
            .arg("promql")
            .arg("--input")
            .arg(&input)
            .args(["--expr", expr, "--time", "75", "--prometheus", version])
            .output()
            .expect("runs")
    };
    let out = run("2", "increase(x_total[1m])");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"metric\":{\"pod\":\"a\"},\"value\":33.0}\n"
    );
    let out = run("3", "increase(x_total[1m])");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"metric\":{\"pod\":\"a\"},\"value\":36.0}\n"
    );
    let out = run("3", "sum(x_total) / 0");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"metric\":{},\"value\":\"+Inf\"}\n"
    );
    let out = run("3", "sum(rate(x_total[1m]) by (pod)");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("parse error at column 23"), "{err}");
    let bad = scratch("bad.om", "x_total{pod=\"a\"} 1\n");
    let out = nimscale()
        .arg("promql")
        .arg("--input")
        .arg(&bad)
        .args(["--expr", "x_total", "--time", "1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.om:1:19: sample without a timestamp"),
        "{err}"
    );
}

#[test]
fn sweep_shards_merge_to_the_unsplit_bytes_and_runs_are_kept() {
    let dir = std::env::temp_dir().join(format!("nimscale-sweep-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let sweep = dir.join("s.yaml");
    std::fs::write(
        &sweep,
        format!(
            "name: s\nscenario: {}\nseeds: 2\naxes:\n  duration: [10m]\n  nimservice.spec.scale.hpa.maxReplicas: [3, 4, 5]\n",
            repo("scenarios/cosmos-vlm-spike.yaml").display()
        ),
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out = nimscale()
            .arg("sweep")
            .arg(&sweep)
            .args(args)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let whole = dir.join("whole");
    let out = run(&["--out", whole.to_str().unwrap(), "--threads", "2"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("winner:"));
    let mut shards = Vec::new();
    for i in 0..2 {
        let d = dir.join(format!("shard{i}"));
        run(&[
            "--shard",
            &format!("{i}/2"),
            "--out",
            d.to_str().unwrap(),
            "--threads",
            "1",
        ]);
        shards.push(d);
    }
    let merged = dir.join("merged");
    let out = nimscale()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["results.csv", "summary.csv", "pareto.csv", "winner.yaml"] {
        let a = std::fs::read(whole.join(f)).expect(f);
        let b = std::fs::read(merged.join(f)).expect(f);
        assert!(a == b, "{f} differs after merge");
    }
    // The same outcome as JSON.
    let out = run_ok(
        nimscale()
            .arg("merge")
            .args(&shards)
            .arg("--json")
            .arg("--force")
            .arg("--out")
            .arg(&merged),
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["points"].as_array().expect("points").len(), 3);
    assert_eq!(doc["complete"], true);
    // render --json: the operator's objects as one document.
    let out = run_ok(
        nimscale()
            .args(["render", "--json"])
            .arg(repo("scenarios/nimservice/cosmos-reason1-7b-latency.yaml")),
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert!(doc["objects"].as_array().expect("objects").len() >= 5);
    assert!(doc["failure"].is_null());
    // One shard alone is not a sweep.
    let out = nimscale()
        .arg("merge")
        .arg(&shards[0])
        .arg("--out")
        .arg(dir.join("partial"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("1 of 2 shards are missing (first missing: 1)")
    );
    // Edited shards are refused, not merged into a wrong result.
    let meta = std::fs::read_to_string(shards[1].join("shard.json")).expect("shard.json");
    let results = std::fs::read_to_string(shards[1].join("results.csv")).expect("results");
    let tampered = dir.join("tampered");
    for (i, (file, text, why)) in [
        (
            "shard.json",
            meta.replace("\"of\": 2", "\"of\": 1e15"),
            "expected a whole number",
        ),
        (
            "shard.json",
            meta.replace("\"of\": 2", "\"of\": 0"),
            "need 0 ≤ shard < of",
        ),
        (
            "shard.json",
            meta.replace("\"of\": 2", "\"of\": 1000000000"),
            "need 0 ≤ shard < of",
        ),
        (
            "results.csv",
            format!("{results}{}\n", results.lines().nth(1).unwrap()),
            "appears twice",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let _ = std::fs::remove_dir_all(&tampered);
        std::fs::create_dir_all(&tampered).expect("dir");
        for f in ["shard.json", "results.csv", "series.csv"] {
            std::fs::copy(shards[1].join(f), tampered.join(f)).expect("copy");
        }
        std::fs::write(tampered.join(file), text).expect("write");
        let out = nimscale()
            .arg("merge")
            .arg(&shards[0])
            .arg(&tampered)
            .arg("--out")
            .arg(dir.join(format!("bad{i}")))
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{why}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{why}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An earlier run is never overwritten without --force.
    let out = nimscale()
        .arg("sweep")
        .arg(&sweep)
        .arg("--out")
        .arg(&whole)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    // The Indexed Job for a 4-way split.
    let out = run(&["--emit-job", "4"]);
    let job = String::from_utf8_lossy(&out.stdout);
    assert!(
        job.contains("completionMode: Indexed") && job.contains("completions: 4"),
        "{job}"
    );
    assert!(job.contains("--shard \"$JOB_COMPLETION_INDEX/4\""), "{job}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_prints_presets_side_by_side() {
    let out = nimscale()
        .arg("compare")
        .arg(repo("scenarios/cosmos-vlm-decrease.yaml"))
        .args([
            "--preset",
            "vlm-guide",
            "--preset",
            "conservative",
            "--seeds",
            "1",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("vlm-guide") && text.contains("conservative"),
        "{text}"
    );
    // Points are rows, axes under short labels with a legend, and every
    // compare has its fixed-replicas baseline.
    assert!(text.contains("GPU-h"), "{text}");
    assert!(text.contains("A1 = behavior"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("baseline: ")),
        "{text}"
    );
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 200, "{widest} characters wide:\n{text}");
    let out = nimscale()
        .arg("compare")
        .arg(repo("scenarios/cosmos-vlm-decrease.yaml"))
        .args(["--preset", "speedy"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--preset speedy: unknown"));
}

#[test]
fn ctrl_c_stops_a_sweep_and_keeps_the_finished_points() {
    let dir = std::env::temp_dir().join(format!("nimscale-sigint-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let sweep = dir.join("s.yaml");
    // 60 points of a simulated hour: far more than a few seconds of work.
    std::fs::write(
        &sweep,
        format!(
            "name: s\nscenario: {}\naxes:\n  nimservice.spec.scale.hpa.maxReplicas: [{}]\n",
            repo("scenarios/cosmos-vlm-spike.yaml").display(),
            (2..=61)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .expect("write");
    let out_dir = dir.join("out");
    let child = nimscale()
        .arg("sweep")
        .arg(&sweep)
        .arg("--out")
        .arg(&out_dir)
        .args(["--threads", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("waits");
    // Interrupted: exit 130, saying what was kept.
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted: Ctrl-C"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("interrupted"), "{text}");
    let results = std::fs::read_to_string(out_dir.join("results.csv")).expect("results kept");
    let rows = results.lines().count() - 1;
    assert!((1..60).contains(&rows), "{rows} rows");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn metrics_out_replays_what_the_hpa_received() {
    let dir = std::env::temp_dir().join(format!("nimscale-om-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let om = dir.join("run.om");
    let run_dir = dir.join("run");
    let out = nimscale()
        .arg("simulate")
        .arg(repo("scenarios/cosmos-vlm-spike.yaml"))
        .arg("--out")
        .arg(&run_dir)
        .arg("--metrics-out")
        .arg(&om)
        .args(["--metrics-epoch", "1000000"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&om).expect("written");
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE nimscale_hpa_metric_value unknown"));
    // The adapter's query of the VLM guide at the sync 900 s into the run
    // (inside the spike), evaluated over the exported series.
    let decisions = std::fs::read_to_string(run_dir.join("decisions.jsonl")).expect("decisions");
    let sync = decisions
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|d| d["t_s"].as_f64() == Some(900.0))
        .expect("a sync at 900 s");
    let seen = sync["metrics"][0]["value"].as_f64().expect("a value");
    let m = "namespace=\"vlm\",service=\"cosmos-reason1-7b\"";
    let expr = format!(
        "(sum(increase(e2e_request_latency_seconds_count{{{m}}}[1m])) by (service) - sum(increase(e2e_request_latency_seconds_bucket{{le=\"1.0\",{m}}}[1m])) by (service)) / sum(increase(e2e_request_latency_seconds_count{{{m}}}[1m])) by (service)"
    );
    let out = nimscale()
        .arg("promql")
        .arg("--input")
        .arg(&om)
        .args(["--expr", &expr, "--time", "1000900"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one line");
    let v = line["value"].as_f64().expect("number");
    // The adapter serves int64(v × 1000) milli-units.
    assert_eq!(((v * 1000.0) as i64) as f64 / 1000.0, seen, "{v} vs {seen}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_blind_hpa_is_diagnosed_first_and_strict_fails() {
    // The VLM guide as written: no ServiceMonitor interval (Prometheus'
    // 60 s) under the adapter's increase(...[1m]): the HPA never gets a
    // value.
    let dir = std::env::temp_dir().join(format!("nimscale-blind-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nimservice")).expect("dir");
    std::fs::create_dir_all(dir.join("adapter")).expect("dir");
    let ns = std::fs::read_to_string(repo("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
        .expect("ns")
        .replace("      interval: 15s\n", "");
    std::fs::write(dir.join("nimservice/cosmos-reason1-7b-latency.yaml"), ns).expect("write");
    std::fs::copy(
        repo("scenarios/adapter/vlm-latency-fraction.yaml"),
        dir.join("adapter/vlm-latency-fraction.yaml"),
    )
    .expect("copy");
    let scenario = std::fs::read_to_string(repo("scenarios/cosmos-vlm-spike.yaml"))
        .expect("scenario")
        .replace("duration: 1h", "duration: 20m");
    std::fs::write(dir.join("s.yaml"), scenario).expect("write");
    let run = |strict: bool, out: &str| {
        let mut c = nimscale();
        c.arg("simulate")
            .arg(dir.join("s.yaml"))
            .arg("--out")
            .arg(dir.join(out));
        if strict {
            c.arg("--strict");
        }
        c.output().expect("runs")
    };
    let out = run(false, "run");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("error hpa-metric-never-available: the HPA received no value for object:e2e_request_latency_seconds_over_1s_fraction in 81 of 81 syncs"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning range-window-too-short:"),
        "{stdout}"
    );
    let summary = std::fs::read_to_string(dir.join("run/summary.json")).expect("summary");
    let v: serde_json::Value = serde_json::from_str(&summary).expect("json");
    assert_eq!(v["diagnostics"][0]["code"], "hpa-metric-never-available");
    assert_eq!(v["diagnostics"][0]["severity"], "error");
    let report = nimscale()
        .arg("report")
        .arg(dir.join("run"))
        .args(["--format", "md"])
        .output()
        .expect("runs");
    assert_eq!(report.status.code(), Some(0));
    let md = std::fs::read_to_string(dir.join("run/report/report.md")).expect("report");
    let banner = md.find("ERROR hpa-metric-never-available").expect("banner");
    assert!(banner < md.find("Service levels").expect("figures"), "{md}");
    let strict = run(true, "strict");
    assert_eq!(strict.status.code(), Some(4));
    // The outputs are written all the same.
    assert!(dir.join("strict/summary.json").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn presets_print_their_yaml_and_source() {
    let out = nimscale()
        .args(["presets", "aggressive"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("# aggressive: spec.scale.hpa.behavior, from the behavior of scenarios/llama3-8b-kv-cache-aggressive.yaml\nbehavior:\n"),
        "{text}"
    );
    assert!(text.contains("stabilizationWindowSeconds: 30"), "{text}");
    let all = nimscale().arg("presets").output().expect("runs");
    let all = String::from_utf8_lossy(&all.stdout);
    assert_eq!(all.matches("\n# ").count() + 1, 15, "{all}");
    let bad = nimscale()
        .args(["presets", "speedy"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn strict_sweeps_fail_on_degenerate_points() {
    // CPU target 1 %: that point sits at maxReplicas.
    let scenario = repo("scenarios/llama3-8b-cpu70.yaml");
    let sweep = scratch(
        "strict-sweep.yaml",
        &format!(
            "name: strict\nscenario: {}\nseeds: 1\naxes:\n  duration: [10m]\n  nimservice.spec.scale.hpa.metrics[0].resource.target.averageUtilization: [1, 70]\n",
            scenario.display()
        ),
    );
    let dir = std::env::temp_dir().join(format!("nimscale-strict-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |strict: bool, out: &str| {
        let mut c = nimscale();
        c.arg("sweep").arg(&sweep).arg("--out").arg(dir.join(out));
        c.args(["--threads", "2"]);
        if strict {
            c.arg("--strict");
        }
        c.output().expect("runs")
    };
    assert_eq!(run(false, "plain").status.code(), Some(0));
    let strict = run(true, "strict");
    assert_eq!(strict.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&strict.stderr).contains("point(s) [0] have degenerate runs"),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    // The outputs are written all the same.
    assert!(dir.join("strict/results.csv").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A NIMService file without the NIMCache it reads (the user keeps that in
/// another file): the sweep's winner names the cache, and its export
/// neither fails for want of it nor re-emits one; `nimservice.yaml` is the
/// user's file with the swept field changed, comments kept.
#[test]
fn a_nimcache_kept_elsewhere_is_referenced_not_re_emitted() {
    let ok = |args: &[&std::ffi::OsStr]| {
        let out = nimscale().args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let dir = std::env::temp_dir().join(format!("nimscale-extcache-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mine = std::fs::read_to_string(repo("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
        .expect("read");
    let ns_only = &mine[mine.find("---\n").expect("two documents") + 4..];
    let ns_only = format!("# my NIMService, cache kept in cache.yaml\n{ns_only}");
    std::fs::write(dir.join("ns.yaml"), &ns_only).expect("write");
    let scenario = std::fs::read_to_string(repo("scenarios/cosmos-vlm-spike.yaml"))
        .expect("read")
        .replace(
            "file: nimservice/cosmos-reason1-7b-latency.yaml",
            "file: ns.yaml",
        )
        .replace(
            "file: adapter/vlm-latency-fraction.yaml",
            &format!(
                "file: {}",
                repo("scenarios/adapter/vlm-latency-fraction.yaml").display()
            ),
        );
    std::fs::write(dir.join("s.yaml"), scenario).expect("write");
    std::fs::write(
        dir.join("sweep.yaml"),
        "name: ext\nscenario: s.yaml\nseeds: 1\naxes:\n  duration: [10m]\n  nimservice.spec.scale.hpa.maxReplicas: [5]\nobjective: {sloAttainment: 0.0}\n",
    )
    .expect("write");
    let (sweep, out) = (dir.join("sweep.yaml"), dir.join("out"));
    ok(&[
        "sweep".as_ref(),
        sweep.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let winner = std::fs::read_to_string(dir.join("out/winner.yaml")).expect("winner");
    assert!(winner.contains("externalNimCaches:"), "{winner}");
    assert!(winner.contains("- cosmos-reason1-7b-cache"), "{winner}");
    let (winner_file, bundle) = (dir.join("out/winner.yaml"), dir.join("bundle"));
    ok(&[
        "export".as_ref(),
        winner_file.as_os_str(),
        "--out".as_ref(),
        bundle.as_os_str(),
    ]);
    let deployed = std::fs::read_to_string(dir.join("bundle/nimservice.yaml")).expect("bundle");
    assert!(!deployed.contains("kind: NIMCache"), "{deployed}");
    assert!(
        deployed.contains("NIMCache cosmos-reason1-7b-cache is yours"),
        "{deployed}"
    );
    let body = &deployed[deployed.find("---\n").expect("header") + 4..];
    assert_eq!(body, ns_only.replace("maxReplicas: 6", "maxReplicas: 5"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--json` prints one JSON document in place of the text summary.
#[test]
fn summaries_are_available_as_json() {
    let dir = fresh_dir("json");
    let s = cpu_scenario("10m", "json-cpu.yaml");
    let out = run_ok(
        nimscale()
            .args(["simulate", "--json", "--out"])
            .arg(dir.join("run"))
            .arg(&s),
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("run/summary.json")).expect("summary"),
    )
    .expect("json");
    assert_eq!(doc["requests"], file["requests"]);
    assert_eq!(doc["outDir"], dir.join("run").display().to_string());
    let out = run_ok(
        nimscale()
            .args(["report", "--json", "--format", "html,md"])
            .arg(dir.join("run")),
    );
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert!(rep["charts"].as_u64().expect("charts") > 0);
    assert!(
        (rep["files"].as_array().expect("files").iter())
            .all(|f| std::path::Path::new(f.as_str().expect("path")).is_file())
    );
    let out = nimscale()
        .args([
            "compare", "--json", "--seeds", "1", "--preset", "cpu70", "--preset", "memory80",
        ])
        .arg(&s)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let points = doc["points"].as_array().expect("points");
    assert_eq!(points.len(), 2);
    assert!(points[0]["stats"]["slo_attainment"]["mean"].is_number());
    assert!(doc["baseline"].is_object() || doc["baseline"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped Grafana dashboard's every query evaluates, with a result,
/// on a simulated run's `--metrics-out` file (Grafana's variables set as a
/// user would pick them).
#[test]
fn every_dashboard_query_evaluates_on_a_run() {
    let dir = std::env::temp_dir().join(format!("nimscale-dash-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario = safety::spike_scenario("duration: 1h", "duration: 20m");
    std::fs::write(dir.join("s.yaml"), scenario).expect("write");
    let om = dir.join("run.om");
    run_ok(
        nimscale()
            .args(["simulate", "--out"])
            .arg(dir.join("run"))
            .arg("--metrics-out")
            .arg(&om)
            .arg(dir.join("s.yaml")),
    );
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("dashboards/nim-autoscaling.json")).expect("dashboard"),
    )
    .expect("JSON");
    let mut n = 0;
    for panel in dash["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().expect("targets") {
            let expr = t["expr"]
                .as_str()
                .expect("expr")
                .replace("$namespace", "vlm")
                .replace("$deployment", "cosmos-reason1-7b")
                .replace("$__rate_interval", "1m");
            let out = nimscale()
                .args(["promql", "--time", "15m", "--input"])
                .arg(&om)
                .args(["--expr", &expr])
                .output()
                .expect("runs");
            assert!(
                out.status.success(),
                "{expr}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("\"value\""),
                "{expr}: no series at 15m: {text}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 18);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--start` places the run in wall-clock time: `timeseries.csv` gains a
/// `unix_s` column, `--metrics-out` its timestamps, and `promql --time`
/// takes simulation time or the RFC 3339 instant alike.
#[test]
fn a_start_instant_dates_the_outputs() {
    let dir = fresh_dir("start");
    let s = cpu_scenario("5m", "start-cpu.yaml");
    let om = dir.join("run.om");
    std::fs::create_dir_all(&dir).expect("dir");
    run_ok(
        nimscale()
            .args(["simulate", "--start", "2026-03-02T08:00:00Z", "--out"])
            .arg(dir.join("run"))
            .arg("--metrics-out")
            .arg(&om)
            .arg(&s),
    );
    let ts = std::fs::read_to_string(dir.join("run/timeseries.csv")).expect("csv");
    let mut lines = ts.lines();
    let header = lines.next().expect("header");
    assert!(header.ends_with(",unix_s"), "{header}");
    // Column names are identifiers: `resource:cpu` is headed `resource_cpu`.
    assert!(
        !header.contains(':') && header.contains(",resource_cpu_seen,"),
        "{header}"
    );
    assert!(lines.next().expect("row").ends_with(",1772438401"), "{ts}");
    let at = |time: &str| {
        let out = nimscale()
            .args([
                "promql",
                "--expr",
                "kube_deployment_spec_replicas",
                "--time",
                time,
                "--input",
            ])
            .arg(&om)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(at("2m"), at("2026-03-02T08:02:00Z"));
    assert!(at("2m").contains("\"value\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_lists_its_bundle_as_json() {
    let dir = std::env::temp_dir().join(format!("nimscale-exportjson-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_ok(
        nimscale()
            .arg("export")
            .arg(repo("scenarios/export-vlm-winner.yaml"))
            .arg("--json")
            .arg("--out")
            .arg(&dir),
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let files: Vec<&str> = (doc["files"].as_array().expect("files").iter())
        .filter_map(|f| f.as_str())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("adapter-values.yaml")),
        "{files:?}"
    );
    assert!(files.iter().all(|f| std::path::Path::new(f).is_file()));
    assert!(
        doc["lints"]
            .as_array()
            .expect("lints")
            .iter()
            .all(|l| l["code"].is_string())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `calibrate` on AIPerf files: the error table before and after, a
/// catalog `--catalog` takes, never over a file it did not write, and bad
/// files named by file and line.
#[test]
fn calibrate_writes_a_catalog_from_benchmark_files() {
    let dir = fresh_dir("calibrate");
    let files: Vec<PathBuf> = std::fs::read_dir(repo("examples/calibrate"))
        .expect("examples")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path().join("profile_export_aiperf.json"))
        .collect();
    assert_eq!(files.len(), 5);
    let out = dir.join("calibrated.yaml");
    let args = |cmd: &mut Command| {
        cmd.arg("calibrate")
            .args(&files)
            .args(["--gpu", "h100-sxm", "--model", "llama-3.1-8b-instruct"])
            .args(["--precision", "fp8", "--kv-cache-dtype", "fp8", "--out"])
            .arg(&out);
    };
    let mut cmd = nimscale();
    args(&mut cmd);
    let text = String::from_utf8_lossy(&run_ok(&mut cmd).stdout).into_owned();
    assert!(
        text.contains("fitted (") && text.contains("tput err"),
        "{text}"
    );
    let cat = std::fs::read_to_string(&out).expect("catalog");
    assert!(cat.starts_with("# Calibrated by nimscale"), "{cat}");
    // Not over itself without --force; never over someone else's file.
    let mut again = nimscale();
    args(&mut again);
    assert_eq!(again.output().expect("runs").status.code(), Some(2));
    std::fs::write(&out, "my notes\n").expect("write");
    let mut forced = nimscale();
    args(&mut forced);
    forced.arg("--force");
    assert_ne!(forced.output().expect("runs").status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).expect("kept"), "my notes\n");
    // The catalog it wrote serves a benchmark.
    std::fs::write(&out, &cat).expect("write");
    let (code, stdout, stderr) = engine(&[
        "benchmark",
        "--gpu",
        "h100-sxm",
        "--model",
        "llama-3.1-8b-instruct",
        "--precision",
        "fp8",
        "--concurrency",
        "8",
        "--catalog",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("output_tokens_per_s"), "{stdout}");
    // A broken file: file and line.
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"time_to_first_token\": {\"unit\": \"ms\", \"avg\": 5},\n  \"input_config\": {\"loadgen\": {\"concurrency\": 2}}\n}\n").expect("write");
    let o = nimscale()
        .arg("calibrate")
        .arg(&bad)
        .args([
            "--gpu",
            "h100-sxm",
            "--model",
            "llama-3.1-8b-instruct",
            "--out",
        ])
        .arg(dir.join("x.yaml"))
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.json") && err.contains("inter_token_latency"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
