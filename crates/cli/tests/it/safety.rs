//! Safe with the user's files, bounded on any input: each test here failed
//! before the fix it guards.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use super::{nimscale, repo};

/// The spike scenario's text with its files named by absolute paths, so
/// that it can be written anywhere, with `from` replaced by `to`.
pub(crate) fn spike_scenario(from: &str, to: &str) -> String {
    std::fs::read_to_string(repo("scenarios/cosmos-vlm-spike.yaml"))
        .expect("read")
        .replace(from, to)
        .replace(
            "file: nimservice/",
            &format!("file: {}/", repo("scenarios/nimservice").display()),
        )
        .replace(
            "file: adapter/",
            &format!("file: {}/", repo("scenarios/adapter").display()),
        )
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nimscale-safety-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{e}");
    assert_ne!(o.status.code(), Some(101), "{e}");
}

/// A folder of the user's, with a file in it.
fn users_folder(d: &Path) -> PathBuf {
    let f = d.join("mine");
    std::fs::create_dir_all(&f).expect("mkdir");
    std::fs::write(f.join("notes.txt"), "precious").expect("write");
    f
}

fn intact(f: &Path) {
    assert_eq!(
        std::fs::read_to_string(f.join("notes.txt")).ok().as_deref(),
        Some("precious"),
        "the user's file is gone"
    );
}

fn staging_leftovers(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".nimscale-"))
        .collect()
}

#[test]
fn force_never_replaces_what_nimscale_did_not_write() {
    let d = scratch_dir("force");
    let mine = users_folder(&d);
    let file = d.join("a-file");
    std::fs::write(&file, "also mine").expect("write");
    let scenario = repo("scenarios/cosmos-vlm-spike.yaml");
    let bundle_src = repo("scenarios/nimservice/llama3-8b-kv-cache.yaml");
    let commands: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["simulate".into(), scenario.clone().into()],
        vec!["export".into(), bundle_src.into()],
        vec!["report".into(), d.join("nothing").into()],
        vec!["merge".into(), d.join("no-shard").into()],
    ];
    for target in [&mine, &file] {
        for c in &commands {
            let o = nimscale()
                .args(c)
                .arg("--out")
                .arg(target)
                .arg("--force")
                .output()
                .expect("runs");
            no_panic(&o);
            assert_eq!(o.status.code(), Some(2), "{c:?}: {}", stderr(&o));
        }
    }
    intact(&mine);
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some("also mine")
    );
    assert!(
        staging_leftovers(&d).is_empty(),
        "{:?}",
        staging_leftovers(&d)
    );
    let o = nimscale()
        .arg("simulate")
        .arg(&scenario)
        .arg("--out")
        .arg(&mine)
        .arg("--force")
        .output()
        .expect("runs");
    assert!(
        stderr(&o).contains("nimscale replaces only its own outputs"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_replaces_only_an_earlier_bundle_and_marks_it() {
    let d = scratch_dir("export");
    let out = d.join("bundle");
    let src = repo("scenarios/nimservice/llama3-8b-kv-cache.yaml");
    let export = |force: bool| {
        let mut c = nimscale();
        c.arg("export").arg(&src).arg("--out").arg(&out);
        if force {
            c.arg("--force");
        }
        c.output().expect("runs")
    };
    assert!(export(false).status.success());
    assert!(out.join(".nimscale-run").is_file());
    let marker = std::fs::read_to_string(out.join(".nimscale-run")).expect("marker");
    assert!(marker.contains("\"kind\": \"export\""), "{marker}");
    assert_eq!(export(false).status.code(), Some(2));
    assert!(export(true).status.success());
    // An empty folder made beforehand is used.
    let empty = d.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = nimscale()
        .arg("export")
        .arg(&src)
        .arg("--out")
        .arg(&empty)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(staging_leftovers(&d).is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn leftovers_of_a_killed_run_are_cleaned_and_reported() {
    let d = scratch_dir("leftover");
    let out = d.join("bundle");
    // What a run killed mid-replacement leaves (no live process has this id).
    let tmp = d.join(".bundle.nimscale-tmp-999999999");
    std::fs::create_dir(&tmp).expect("mkdir");
    std::fs::write(tmp.join(".nimscale-run"), "{}").expect("marker");
    let o = nimscale()
        .arg("export")
        .arg(repo("scenarios/nimservice/llama3-8b-kv-cache.yaml"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("left by an interrupted run"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn metrics_out_never_consumes_an_unrelated_file() {
    let d = scratch_dir("om");
    let f = d.join("notes.om");
    std::fs::write(&f, "my notes\n").expect("write");
    let o = nimscale()
        .arg("simulate")
        .arg(repo("scenarios/cosmos-vlm-spike.yaml"))
        .arg("--out")
        .arg(d.join("run"))
        .arg("--metrics-out")
        .arg(&f)
        .arg("--force")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a nimscale OpenMetrics export"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&f).ok().as_deref(),
        Some("my notes\n")
    );
    assert!(!d.join("run").exists(), "refused before running");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn names_that_would_escape_the_output_root_are_refused() {
    let d = scratch_dir("names");
    for bad in ["../../../x", "/tmp/x", ".hidden", ".."] {
        let s = d.join("s.yaml");
        std::fs::write(
            &s,
            spike_scenario("name: cosmos-vlm-spike", &format!("name: \"{bad}\"")),
        )
        .expect("write");
        let o = nimscale()
            .arg("simulate")
            .arg(&s)
            .current_dir(&d)
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("name:"), "{}", stderr(&o));
        let w = d.join("w.yaml");
        std::fs::write(
            &w,
            format!(
                "name: \"{bad}\"\nscenario: {}\naxes:\n  nimservice.spec.scale.hpa.maxReplicas: [2]\n",
                repo("scenarios/cosmos-vlm-spike.yaml").display()
            ),
        )
        .expect("write");
        let o = nimscale()
            .arg("sweep")
            .arg(&w)
            .current_dir(&d)
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
    assert!(!Path::new("/tmp/x").join(".nimscale-run").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(_) = full() else {
        return; // not Linux
    };
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["schema".into()],
        vec![
            "render".into(),
            repo("scenarios/nimservice/llama3-8b-kv-cache.yaml").into(),
        ],
        vec![
            "sweep".into(),
            repo("scenarios/sweep-vlm-max-x-target.yaml").into(),
            "--emit-job".into(),
            "2".into(),
        ],
        vec![
            "hpa".into(),
            "explain".into(),
            repo("scenarios/hpa-explain-vlm-latency.yaml").into(),
        ],
        vec!["--help".into()],
    ];
    for c in cases {
        let o = nimscale()
            .args(&c)
            .stdout(Stdio::from(full().expect("/dev/full")))
            .output()
            .expect("runs");
        no_panic(&o);
        if c[0] != "--help" {
            assert_eq!(o.status.code(), Some(1), "{c:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("No space left"),
                "{c:?}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn absurd_work_is_refused_with_the_estimate_and_the_flag() {
    let d = scratch_dir("limits");
    let base = spike_scenario("duration: 1h", "duration: 1h");
    for (edit, flag) in [
        (
            ("base: 6, peak: 60", "base: 1e9, peak: 60"),
            "--max-requests",
        ),
        (("duration: 1h", "duration: 3650d"), "--max-duration"),
    ] {
        let s = d.join("s.yaml");
        std::fs::write(&s, base.replace(edit.0, edit.1)).expect("write");
        let o = nimscale()
            .arg("simulate")
            .arg(&s)
            .arg("--out")
            .arg(d.join("run"))
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{}", stderr(&o));
        assert!(stderr(&o).contains("estimated") || flag == "--max-duration");
    }
    for args in [
        vec!["--concurrency", "4294967295"],
        vec!["--requests", "4294967295"],
        vec!["--isl", "4000000", "--osl", "10"],
    ] {
        let o = nimscale()
            .args([
                "engine",
                "benchmark",
                "--gpu",
                "h100-sxm",
                "--model",
                "llama-3.1-8b-instruct",
            ])
            .args(&args)
            .output()
            .expect("runs");
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    // An evaluation time far outside any timestamp overflowed the window
    // arithmetic (a panic in debug builds).
    let om = d.join("x.om");
    std::fs::write(&om, "x_total 1 1\nx_total 2 61\n# EOF\n").expect("write");
    for t in ["-1e300", "9e18"] {
        let o = nimscale()
            .args(["promql", "--expr", "rate(x_total[1m])", "--input"])
            .arg(&om)
            .arg(format!("--time={t}"))
            .output()
            .expect("runs");
        no_panic(&o);
        assert_eq!(o.status.code(), Some(2), "{t}: {}", stderr(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ctrl_c_stops_simulate_writing_nothing_and_exits_130() {
    let d = scratch_dir("sigint");
    let s = d.join("long.yaml");
    std::fs::write(&s, spike_scenario("duration: 1h", "duration: 20d")).expect("write");
    let out = d.join("run");
    let child = nimscale()
        .arg("simulate")
        .arg(&s)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let o = child.wait_with_output().expect("waits");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted: simulate stopped at"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    assert!(
        staging_leftovers(&d).is_empty(),
        "{:?}",
        staging_leftovers(&d)
    );
    let _ = std::fs::remove_dir_all(&d);
}
