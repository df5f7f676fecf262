//! Sweeps: the same bytes with 1 and 2 threads, presets and field paths
//! applied where they belong, bad sweep files reported with line and field.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use nimscale_output::sweep as out;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::Files;
use nimscale_runner::sweep::{self, stats};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Scenarios;

impl Files for Scenarios {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        std::fs::read(repo().join("scenarios").join(path))
            .map(|b| (path.to_string(), b))
            .map_err(|e| format!("cannot read {path}: {e}"))
    }
}

/// The shipped scenarios' files, with some served from memory.
struct Bundle(Vec<(&'static str, String)>);

impl Files for Bundle {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        match self.0.iter().find(|(p, _)| *p == path) {
            Some((p, text)) => Ok((p.to_string(), text.clone().into_bytes())),
            None => Scenarios.read(path),
        }
    }
}

fn load(text: &str) -> Result<sweep::Sweep, String> {
    sweep::load(text, "w.yaml", &Scenarios, &Catalog::builtin().unwrap()).map_err(|e| e.to_string())
}

fn err(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("loaded: {text}"),
        Err(e) => e,
    }
}

const SMALL: &str = "name: small\nscenario: cosmos-vlm-spike.yaml\nseeds: 2\naxes:\n  duration: [12m]\n  nimservice.spec.scale.hpa.maxReplicas: [3, 5]\n  behavior: [vlm-guide, aggressive]\n";

fn files_with(threads: usize, sw: &sweep::Sweep) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let points: Vec<usize> = (0..sw.plan.points.len()).collect();
    let jobs = sweep::jobs(sw, &points);
    let rows: Vec<_> = pool
        .install(|| sweep::run(sw, &jobs, &AtomicBool::new(false), &|_| {}))
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let o = stats::outcome(&sw.plan, &rows);
    format!(
        "{}{}{}",
        out::results_csv(&sw.plan, &rows),
        out::summary_csv(&sw.plan, &o),
        out::pareto_csv(&sw.plan, &o)
    )
}

#[test]
fn one_and_two_threads_write_the_same_bytes() {
    let sw = load(SMALL).unwrap();
    assert_eq!(sw.plan.points.len(), 4);
    assert_eq!(sw.plan.seeds, vec![7, 8], "the scenario's seed, then +1");
    let a = files_with(1, &sw);
    let b = files_with(2, &sw);
    assert_eq!(a, b);
    // 4 points × 2 seeds in results.csv.
    let results = a
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("point,"))
        .count();
    assert_eq!(results, 8);
}

#[test]
fn presets_and_paths_land_in_the_nimservice() {
    let sw = load(SMALL).unwrap();
    // Point 1: maxReplicas 3, aggressive.
    let ns = &sw.documents[1].nimservice;
    assert_eq!(ns["spec"]["scale"]["hpa"]["maxReplicas"], 3);
    assert_eq!(
        ns["spec"]["scale"]["hpa"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
        30
    );
    let hpa = sw.scenarios[1][0].hpa.as_ref().unwrap();
    assert_eq!(hpa.spec.max_replicas, 3);
    assert_eq!(sw.scenarios[1][0].duration.as_secs_f64(), 720.0);
    // The NIMCache of the user's file travels with the winner.
    assert_eq!(sw.documents[1].nimcaches.len(), 1);
    // plan.json says what each preset name ran.
    assert_eq!(
        sw.plan.presets.keys().collect::<Vec<_>>(),
        ["aggressive", "vlm-guide"]
    );
    assert!(sw.plan.presets["aggressive"].contains("stabilizationWindowSeconds: 30"));
}

#[test]
fn bad_sweeps_name_line_and_field() {
    let e = err("scenario: cosmos-vlm-spike.yaml\nseed: 3\naxes:\n  behavior: [fast]\n");
    assert!(e.contains("w.yaml:2:1: seed: unknown field"), "{e}");
    let e = err("scenario: cosmos-vlm-spike.yaml\naxes:\n  behavior: [fast]\n");
    assert!(
        e.contains("w.yaml:3:14: axes.behavior: fast is not a behavior preset"),
        "{e}"
    );
    let e = err(
        "scenario: cosmos-vlm-spike.yaml\naxes:\n  nimservice.spec.scale.hpa.metrics[3].object: [1]\n",
    );
    assert!(
        e.contains("axes.nimservice.spec.scale.hpa.metrics[3].object: [3]: the list has 1 item(s)"),
        "{e}"
    );
    let e = err(
        "scenario: cosmos-vlm-spike.yaml\naxes:\n  nimservice.spec.scale.hpa.maxReplicas: [0, 4]\n",
    );
    assert!(
        e.contains("point 0 (nimservice.spec.scale.hpa.maxReplicas=0)"),
        "{e}"
    );
    assert!(e.contains("maxReplicas"), "{e}");
    assert!(!e.contains("point 1"), "{e}");
    let e = err("scenario: nope.yaml\naxes:\n  duration: [1m]\n");
    assert!(
        e.contains("w.yaml:1:11: scenario: cannot read nope.yaml"),
        "{e}"
    );
    let e = err(
        "scenario: cosmos-vlm-spike.yaml\naxes:\n  duration: []\nobjective: {minimize: joules}\n",
    );
    // Structure is checked against the sweep schema first, every problem at
    // once.
    assert!(
        e.contains("w.yaml:3:13: axes.duration: expected a non-empty list, found an empty one"),
        "{e}"
    );
    assert!(
        e.contains("w.yaml:4:23: objective.minimize: expected one of \"cost\", \"gpuHours\""),
        "{e}"
    );
    let e = err("scenario: cosmos-vlm-spike.yaml\naxes:\n  seed: [1, 2]\n");
    assert!(
        e.contains("w.yaml:3:3: axes.seed: seeds are set by `seeds:`"),
        "{e}"
    );
}

#[test]
fn axes_keep_file_order_and_their_product_is_bounded() {
    // The plan's axes are in the order written, not sorted.
    let sw = load(
        "scenario: cosmos-vlm-spike.yaml\naxes:\n  nimservice.spec.scale.hpa.maxReplicas: [4]\n  behavior: [aggressive]\n",
    )
    .unwrap();
    assert_eq!(
        sw.plan.axes,
        ["nimservice.spec.scale.hpa.maxReplicas", "behavior"]
    );
    // 16^17 points overflow a usize: refused with the count, no panic.
    let mut text = String::from("scenario: cosmos-vlm-spike.yaml\naxes:\n");
    for i in 0..17 {
        text.push_str(&format!(
            "  a{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]\n"
        ));
    }
    let e = err(&text);
    assert!(
        e.contains("w.yaml:3:3: axes: 295147905179352830000 points; at most 100000"),
        "{e}"
    );
}

#[test]
fn shipped_sweeps_load() {
    for f in [
        "sweep-vlm-max-x-target.yaml",
        "sweep-llama3-8b-behaviors.yaml",
    ] {
        let text = std::fs::read_to_string(repo().join("scenarios").join(f)).unwrap();
        let sw = load(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(sw.plan.points.len() >= 6, "{f}");
    }
}

#[test]
fn a_point_pinned_at_max_replicas_does_not_win() {
    // CPU target 1 %: an idle NIM pod already uses more, so that point sits
    // at maxReplicas: a fixed deployment, however well it meets the SLOs.
    let text = "name: pinned\nscenario: llama3-8b-cpu70.yaml\nseeds: 1\naxes:\n  duration: [20m]\n  nimservice.spec.scale.hpa.metrics[0].resource.target.averageUtilization: [1, 70]\nobjective: {sloAttainment: 0.0}\n";
    let run = |allow: bool| {
        let mut sw = load(text).unwrap();
        sw.plan.allow_degenerate = allow;
        let points: Vec<usize> = (0..sw.plan.points.len()).collect();
        let jobs = sweep::jobs(&sw, &points);
        let rows: Vec<_> = sweep::run(&sw, &jobs, &AtomicBool::new(false), &|_| {})
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let o = stats::outcome(&sw.plan, &rows);
        let d = sw
            .plan
            .metrics()
            .iter()
            .position(|m| m == "degenerate")
            .unwrap();
        (o, d)
    };
    let (o, d) = run(false);
    assert_eq!(o.points[0].stats[d].mean, 1.0, "target 1 % is degenerate");
    assert_eq!(o.points[1].stats[d].mean, 0.0, "target 70 % is not");
    assert!(!o.points[0].eligible);
    assert!(o.points[1].eligible);
    assert_eq!(o.winner, Some(1));
    // Allowed, it competes again.
    let (o, _) = run(true);
    assert!(o.points[0].eligible);
}

#[test]
fn the_baseline_is_the_fewest_fixed_pods_that_meet_the_threshold() {
    let mut sw = load(SMALL).unwrap();
    sw.plan.threshold = 0.9;
    let b = sweep::baseline::baseline(&sw, &AtomicBool::new(false)).unwrap();
    let n = b.replicas.expect("some fixed count meets 0.9");
    let att = |k: i32| {
        b.tried
            .iter()
            .find(|(m, _)| *m == k)
            .map(|(_, s)| s[0].mean)
    };
    assert!(att(n).unwrap() >= 0.9, "{b:?}");
    // Bisection tried the count below, which falls short (or n is 1).
    assert!(n == 1 || att(n - 1).is_some_and(|a| a < 0.9), "{b:?}");
    // The counts tried are within the points' largest maxReplicas (5).
    assert!(b.tried.iter().all(|(k, _)| (1..=5).contains(k)), "{b:?}");
}

#[test]
fn the_exported_bundle_simulates_exactly_as_the_sweep_point() {
    // The base is the VLM guide: the user's NIMService file (with its
    // NIMCache) and the user's prometheus-adapter ConfigMap, with comments.
    let sw = load(SMALL).unwrap();
    let p = 3; // maxReplicas 5, aggressive
    let text = sweep::winner_yaml(
        &sw.plan,
        &["round trip".to_string()],
        &sw.documents[p],
        sw.adapter_config_map.as_deref(),
    );
    let (admitted, req) = nimscale_operator::bundle::read_export_input(&text).unwrap();
    let bundle = nimscale_operator::bundle::export(&admitted, &req).unwrap();
    let file = |n: &str| {
        bundle
            .files
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.content.clone())
            .unwrap()
    };
    let adapter = file("adapter-rules.yaml");
    // The user's ConfigMap, byte for byte after the bundle's header.
    let own = std::fs::read_to_string(repo().join("scenarios/adapter/vlm-latency-fraction.yaml"))
        .unwrap();
    assert!(adapter.ends_with(&own), "{adapter}");
    // The user's NIMService file (with its NIMCache), comments and key
    // order kept: only maxReplicas and the behavior block differ.
    let mine =
        std::fs::read_to_string(repo().join("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
            .unwrap();
    let deployed = file("nimservice.yaml");
    let body = &deployed[deployed.find("---\n").unwrap() + 4..];
    let (head, tail) = mine.split_at(mine.find("      behavior:\n").unwrap());
    assert!(
        body.starts_with(&head.replace("maxReplicas: 6", "maxReplicas: 5")),
        "{body}"
    );
    assert_ne!(
        &body[head.len()..],
        tail,
        "the aggressive behavior replaced the guide's"
    );
    assert!(body[head.len()..].starts_with("      behavior:\n        scaleUp:\n"));
    // The exported files, simulated with the same traffic and seed, give
    // the run the sweep simulated for that point.
    let scenario = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml"))
        .unwrap()
        .replace(
            "file: nimservice/cosmos-reason1-7b-latency.yaml",
            "file: bundle/nimservice.yaml",
        )
        .replace(
            "file: adapter/vlm-latency-fraction.yaml",
            "file: bundle/adapter-rules.yaml",
        )
        .replace("duration: 1h", "duration: 12m");
    let files = Bundle(vec![
        ("bundle/nimservice.yaml", file("nimservice.yaml")),
        ("bundle/adapter-rules.yaml", adapter),
    ]);
    let exported = nimscale_runner::scenario::load(
        &scenario,
        "exported.yaml",
        &files,
        &Catalog::builtin().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rec = || nimscale_core::sim::config::Recording {
        timeseries: false,
        decisions: false,
    };
    for &seed in &sw.plan.seeds {
        let swept = sw.scenarios[p][0].simulation(seed, rec()).finish().summary;
        let again = exported.simulation(seed, rec()).finish().summary;
        assert_eq!(again, swept, "seed {seed}");
    }
}

#[test]
fn a_scrape_interval_the_scenario_sets_travels_with_the_winner() {
    // The simulation scrapes every 30 s whatever the ServiceMonitor says;
    // the exported NIMService must say so too.
    let sw = load(
        "scenario: cosmos-vlm-spike.yaml\naxes:\n  duration: [6m]\n  metrics.prometheus.scrapeInterval: [30s]\n",
    )
    .unwrap();
    let ns = &sw.documents[0].nimservice;
    assert_eq!(ns["spec"]["metrics"]["serviceMonitor"]["interval"], "30s");
    // The user's file says it too, edited in place.
    let file = sw.documents[0].file_text.as_deref().unwrap();
    assert!(file.contains("      interval: 30s\n"), "{file}");
    let sc = &sw.scenarios[0][0];
    assert_eq!(sc.prometheus.as_ref().unwrap().scrape.interval_ms, 30_000);
    // Without the override the user's 15 s stays.
    let sw = load("scenario: cosmos-vlm-spike.yaml\naxes:\n  duration: [6m]\n").unwrap();
    assert_eq!(
        sw.documents[0].nimservice["spec"]["metrics"]["serviceMonitor"]["interval"],
        "15s"
    );
}

#[test]
fn a_whole_hpa_preset_replaces_the_hpa_and_plan_json_records_it() {
    let sw = load(
        "scenario: llama3-8b-kv-cache-conservative.yaml\naxes:\n  duration: [6m]\n  hpa: [nim-operator-conservative, nim-operator-aggressive]\n",
    )
    .unwrap();
    let hpa = |p: usize| sw.documents[p].nimservice["spec"]["scale"]["hpa"].clone();
    assert_eq!(hpa(0)["minReplicas"], 2);
    assert_eq!(hpa(0)["maxReplicas"], 8);
    assert_eq!(hpa(0)["metrics"][0]["object"]["target"]["value"], "800m");
    assert_eq!(
        hpa(0)["metrics"][0]["object"]["describedObject"]["name"],
        "llama3-8b"
    );
    assert_eq!(hpa(1)["maxReplicas"], 20);
    assert_eq!(
        hpa(1)["metrics"][0]["resource"]["target"]["averageUtilization"],
        60
    );
    assert_eq!(
        hpa(1)["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        60
    );
    let sc = &sw.scenarios[1][0];
    assert_eq!(sc.hpa.as_ref().unwrap().spec.max_replicas, 20);
    let plan = serde_json::to_value(&sw.plan).unwrap();
    let text = plan["presets"]["nim-operator-aggressive"].as_str().unwrap();
    assert!(text.contains("maxReplicas: 20"), "{text}");
    assert!(
        load("scenario: llama3-8b-kv-cache-conservative.yaml\naxes:\n  hpa: [cpu70]\n")
            .is_err_and(|e| e.to_string().contains("is not an hpa preset"))
    );
}
