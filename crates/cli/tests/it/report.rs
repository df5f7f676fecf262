//! `nimscale report`: golden HTML and Markdown of a shipped scenario's run
//! and of a sweep, the files it refuses to overwrite, errors that name the
//! file, line and field, and (with Chromium) the page as a browser renders
//! it.
//!
//! Golden files live in `tests/data/report/`; after an intended change to
//! the simulation or the report, rewrite them with
//! `NIMSCALE_BLESS=1 cargo test -p nimscale --test it report` and review
//! the diff.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{nimscale, repo};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nimscale-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Compares with the golden file, or writes it under `NIMSCALE_BLESS=1`.
fn golden(name: &str, got: &str) {
    let path = repo("crates/cli/tests/data/report").join(name);
    if std::env::var_os("NIMSCALE_BLESS").is_some() {
        std::fs::write(&path, got).expect("bless");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .map_or(want.lines().count().min(got.lines().count()) + 1, |i| i + 1);
        let show = |s: &str| {
            s.lines()
                .nth(line - 1)
                .unwrap_or("")
                .chars()
                .take(300)
                .collect::<String>()
        };
        panic!(
            "{name} differs from the golden file at line {line}:\n  golden: {}\n  now:    {}\n(NIMSCALE_BLESS=1 rewrites it)",
            show(&want),
            show(got)
        );
    }
}

/// Simulates the shipped spike scenario and reports it in every format.
fn spike_report(name: &str) -> PathBuf {
    let run = tmp(name);
    // A path relative to the repository, as a user would type it: the
    // report shows it, and the golden files must not depend on the checkout.
    run_ok(
        nimscale()
            .current_dir(repo(""))
            .args(["simulate", "scenarios/cosmos-vlm-spike.yaml", "--out"])
            .arg(&run),
    );
    let rep = run.join("report");
    let out = run_ok(
        nimscale()
            .arg("report")
            .arg(&run)
            .args(["--format", "html,md,png"]),
    );
    assert!(out.contains("report.html (7 charts)"), "{out}");
    rep
}

#[test]
fn run_report_matches_the_golden_files() {
    let rep = spike_report("golden");
    let html = std::fs::read_to_string(rep.join("report.html")).expect("html");
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 7);
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url(http"),
        "nothing fetched"
    );
    for want in [
        "Load, replicas and GPUs",
        "starting: model load",
        "HPA metric object:e2e_request_latency_seconds_over_1s_fraction vs its target",
        "scale decision (#n → replicas)",
        "SLO e2e-p95: p95 ≤ 4 s",
        "KV-cache usage per pod",
        "Queue depth per pod",
        "Time to scale after each load change",
    ] {
        assert!(html.contains(want), "{want}");
    }
    let md = std::fs::read_to_string(rep.join("report.md")).expect("md");
    for i in 1..=7 {
        let png = std::fs::read_dir(&rep)
            .expect("dir")
            .filter_map(Result::ok)
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{i:02}-"))
            })
            .expect("png per chart");
        let name = png.file_name().to_string_lossy().into_owned();
        assert!(md.contains(&format!("]({name})")), "{name} in report.md");
        let bytes = std::fs::read(png.path()).expect("png");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
    golden("cosmos-vlm-spike.html", &html);
    golden("cosmos-vlm-spike.md", &md);
}

#[test]
fn sweep_report_matches_the_golden_file() {
    let dir = tmp("sweep");
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["plan.json", "results.csv", "series.csv"] {
        std::fs::copy(
            repo("crates/cli/tests/data/report/sweep").join(f),
            dir.join(f),
        )
        .expect("copy");
    }
    let out = run_ok(nimscale().arg("report").arg(&dir));
    assert!(out.contains("report.html (9 charts)"), "{out}");
    let html = std::fs::read_to_string(dir.join("report/report.html")).expect("html");
    assert!(html.contains("#2 (winner)"));
    assert!(html.contains("Ready replicas over time"));
    golden("sweep-vlm-max-x-target.html", &html);
}

#[test]
fn report_refuses_to_overwrite_and_names_bad_fields() {
    let run = tmp("bad-run");
    run_ok(
        nimscale()
            .arg("simulate")
            .arg(repo("scenarios/cosmos-vlm-spike.yaml"))
            .arg("--out")
            .arg(&run),
    );
    run_ok(nimscale().arg("report").arg(&run));
    let html = run.join("report/report.html");
    let before = std::fs::read(&html).expect("html");
    let out = nimscale().arg("report").arg(&run).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&html).expect("kept"), before);
    // A timeseries.csv of an earlier nimscale, whose metric columns were
    // headed with the metric's name (`object:…_seen`), reads the same.
    let ts = run.join("timeseries.csv");
    let text = std::fs::read_to_string(&ts).expect("ts");
    let stem = "object_e2e_request_latency_seconds_over_1s_fraction";
    assert!(text.lines().next().expect("header").contains(stem));
    let old = text.replacen(
        stem,
        "object:e2e_request_latency_seconds_over_1s_fraction",
        2,
    );
    std::fs::write(&ts, old).expect("write");
    run_ok(nimscale().arg("report").arg(&run).arg("--force"));
    assert_eq!(std::fs::read(&html).expect("same report"), before);
    std::fs::write(&ts, &text).expect("restore");
    // A damaged cell: the error names the file, the line and the column.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[5].split(',').collect();
    cells[1] = "many";
    lines[5] = cells.join(",");
    std::fs::write(&ts, lines.join("\n") + "\n").expect("write");
    let out = nimscale()
        .arg("report")
        .arg(&run)
        .arg("--force")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timeseries.csv:6: arrivals: \"many\" is not a number"),
        "{err}"
    );
    assert_eq!(std::fs::read(&html).expect("kept"), before);
    let out = nimscale()
        .arg("report")
        .arg(repo("scenarios"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = nimscale()
        .arg("report")
        .arg(&run)
        .args(["--format", "pdf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

// ----- headless Chromium ---------------------------------------------------

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIMSCALE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn unbase64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for ch in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in ch.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..ch.len() - 1]);
    }
    out
}

/// Chrome DevTools Protocol over `--remote-debugging-pipe` (fd 3 in, fd 4
/// out, messages ended by NUL), through two FIFOs a shell puts on those
/// descriptors.
struct Cdp {
    child: std::process::Child,
    to: std::fs::File,
    from: mpsc::Receiver<serde_json::Value>,
    next: u64,
    session: Option<String>,
    events: Vec<serde_json::Value>,
}

impl Cdp {
    fn start(browser: &Path, dir: &Path) -> Cdp {
        std::fs::create_dir_all(dir).expect("dir");
        let (inp, outp) = (dir.join("in"), dir.join("out"));
        for p in [&inp, &outp] {
            let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo");
            assert!(ok.success());
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<\"$NS_IN\" 4>\"$NS_OUT\"")
            .arg(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .env("NS_IN", &inp)
            .env("NS_OUT", &outp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts chromium");
        let to = std::fs::OpenOptions::new()
            .write(true)
            .open(&inp)
            .expect("pipe in");
        let mut from_file = std::fs::File::open(&outp).expect("pipe out");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            while let Ok(n) = from_file.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(z) = buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = buf.drain(..=z).collect();
                    if let Ok(v) = serde_json::from_slice(&msg[..msg.len() - 1])
                        && tx.send(v).is_err()
                    {
                        return;
                    }
                }
            }
        });
        Cdp {
            child,
            to,
            from: rx,
            next: 0,
            session: None,
            events: Vec::new(),
        }
    }

    fn recv(&mut self) -> serde_json::Value {
        self.from
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium answers within 60 s")
    }

    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let id = self.next;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = serde_json::Value::String(s.clone());
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("send");
        loop {
            let v = self.recv();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn wait_event(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        loop {
            let v = self.recv();
            let hit = v["method"] == method;
            self.events.push(v);
            if hit {
                return;
            }
        }
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens the page in headless Chromium; returns (charts rendered with a
/// real size, embedded fonts loaded, problems seen, screenshot PNG).
fn render_in_chromium(
    browser: &Path,
    page: &Path,
    work: &Path,
) -> (u64, u64, Vec<String>, Vec<u8>) {
    let mut cdp = Cdp::start(browser, work);
    let target = cdp.call(
        "Target.createTarget",
        serde_json::json!({"url": "about:blank"}),
    );
    let attached = cdp.call(
        "Target.attachToTarget",
        serde_json::json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = attached["sessionId"].as_str().map(str::to_string);
    for m in [
        "Runtime.enable",
        "Log.enable",
        "Network.enable",
        "Page.enable",
    ] {
        cdp.call(m, serde_json::json!({}));
    }
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    let url = format!("file://{}", page.display());
    cdp.call("Page.navigate", serde_json::json!({"url": url}));
    cdp.wait_event("Page.loadEventFired");
    let probe = "document.fonts.ready.then(() => JSON.stringify({\
        charts: [...document.querySelectorAll('svg.chart')].filter(s => { const r = s.getBoundingClientRect(); return r.width > 300 && r.height > 100 && s.querySelectorAll('polyline, path, polygon, line').length > 5; }).length,\
        fonts: [...document.fonts].filter(f => f.family.replace(/\"/g, '') === 'nimsans' && f.status === 'loaded').length }))";
    let r = cdp.call(
        "Runtime.evaluate",
        serde_json::json!({"expression": probe, "awaitPromise": true, "returnByValue": true}),
    );
    let v: serde_json::Value =
        serde_json::from_str(r["result"]["value"].as_str().unwrap_or("{}")).expect("probe json");
    let shot = cdp.call(
        "Page.captureScreenshot",
        serde_json::json!({"format": "png", "captureBeyondViewport": true}),
    );
    let png = unbase64(shot["data"].as_str().unwrap_or(""));
    let mut problems = Vec::new();
    for e in &cdp.events {
        let p = &e["params"];
        match e["method"].as_str() {
            Some("Runtime.consoleAPICalled") if p["type"] == "error" || p["type"] == "warning" => {
                problems.push(format!("console {}: {}", p["type"], p["args"]));
            }
            Some("Runtime.exceptionThrown") => problems.push(format!("exception: {p}")),
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                problems.push(format!("log: {}", p["entry"]["text"]));
            }
            Some("Network.requestWillBeSent") => {
                let u = p["request"]["url"].as_str().unwrap_or("");
                if !u.starts_with("file://") && !u.starts_with("data:") {
                    problems.push(format!("fetched {u}"));
                }
            }
            Some("Network.loadingFailed") => problems.push(format!("load failed: {p}")),
            _ => {}
        }
    }
    let _ = cdp.call("Browser.close", serde_json::json!({}));
    (
        v["charts"].as_u64().unwrap_or(0),
        v["fonts"].as_u64().unwrap_or(0),
        problems,
        png,
    )
}

#[test]
fn chromium_renders_every_chart_without_console_errors() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: install Debian's chromium or set NIMSCALE_CHROMIUM"
        );
        eprintln!("skipped: no chromium on PATH and NIMSCALE_CHROMIUM unset");
        return;
    };
    let rep = spike_report("chromium-run");
    let page = rep.join("report.html");
    let work = tmp("chromium");
    let (charts, fonts, problems, png) = render_in_chromium(&browser, &page, &work);
    assert_eq!(charts, 7, "charts rendered with a size");
    assert!(fonts >= 1, "the embedded font loaded");
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a screenshot");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert!((1000..=1100).contains(&width), "{width} px wide");
    assert!(height > 7 * 300, "the whole page, {height} px tall");
    // The screenshot goes where CI keeps it ($NIMSCALE_SCREENSHOT), else
    // next to the report.
    let shot = std::env::var_os("NIMSCALE_SCREENSHOT")
        .map_or_else(|| rep.join("screenshot.png"), PathBuf::from);
    std::fs::write(&shot, &png).expect("screenshot");
    eprintln!(
        "chromium: {charts} charts rendered, {fonts} font(s) loaded, no console errors; screenshot {} ({width}×{height})",
        shot.display()
    );
}
