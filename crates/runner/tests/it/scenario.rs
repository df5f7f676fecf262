//! Scenario files: every shipped scenario loads, problems are reported all
//! at once with line and field, trace files with bad rows name the line, and
//! the committed JSON Schema is the one the code generates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nimscale_core::sim::record::SyncRecord;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files, traces};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Files from the repository's `scenarios/` folder, plus in-memory ones.
struct Repo {
    extra: BTreeMap<String, Vec<u8>>,
}

impl Files for Repo {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        if let Some(b) = self.extra.get(path) {
            return Ok((path.to_string(), b.clone()));
        }
        let p = repo().join("scenarios").join(path);
        std::fs::read(&p)
            .map(|b| (path.to_string(), b))
            .map_err(|e| format!("cannot read {path}: {e}"))
    }
}

fn load(text: &str, extra: &[(&str, &str)]) -> Result<scenario::Scenario, String> {
    let files = Repo {
        extra: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
    };
    scenario::load(text, "s.yaml", &files, &Catalog::builtin().unwrap()).map_err(|e| e.to_string())
}

#[test]
fn every_shipped_scenario_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("scenarios")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".yaml")
            || name.starts_with("hpa-explain")
            || name.starts_with("export-")
            || name.starts_with("sweep-")
        {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let sc = load(&text, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(format!("{}.yaml", sc.name), name, "name matches the file");
        n += 1;
    }
    assert!(n >= 9, "{n} scenarios");
}

#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(repo().join("scenarios/scenario.schema.json")).unwrap();
    assert_eq!(
        committed,
        scenario::schema_text(),
        "run `nimscale schema > scenarios/scenario.schema.json`"
    );
    let committed = std::fs::read_to_string(repo().join("scenarios/sweep.schema.json")).unwrap();
    assert_eq!(
        committed,
        nimscale_runner::sweep::schema_text(),
        "run `nimscale schema --sweep > scenarios/sweep.schema.json`"
    );
}

const NS: &str = r#"
  apiVersion: apps.nvidia.com/v1alpha1
  kind: NIMService
  metadata: {name: llm, namespace: ns}
  spec:
    image: {repository: nvcr.io/nim/meta/llama-3.1-8b-instruct, tag: "1.3.3"}
    authSecret: ngc
    storage: {pvc: {create: true, size: 50Gi, volumeAccessMode: ReadWriteMany}}
    resources: {limits: {nvidia.com/gpu: 1}}
    expose: {service: {type: ClusterIP, port: 8000}}
    replicas: 2
    scale:
      enabled: true
      hpa:
        maxReplicas: 4
        metrics:
        - type: Pods
          pods:
            metric: {name: num_requests_waiting}
            target: {type: AverageValue, averageValue: "5"}
"#;

#[test]
fn structural_problems_are_all_reported_with_lines() {
    let text = format!(
        "duration: 1h\nnimservice:{NS}model:\n  gpu: h100-sxm\n  name: llama-3.1-8b-instruct\n  colour: red\ncluster:\n  loadBalancer: fastest\ntraffic:\n  pattern: {{kind: wobble, rate: 3}}\nsloz: []\n"
    );
    let e = load(&text, &[]).unwrap_err();
    assert!(e.starts_with("4 problems:"), "{e}");
    assert!(
        e.contains("s.yaml:25:3: model.colour: unknown field `colour`"),
        "{e}"
    );
    assert!(e.contains("cluster.loadBalancer: expected one of \"random\", \"round-robin\", \"least-outstanding\", found string \"fastest\""), "{e}");
    assert!(e.contains("traffic.pattern: expected one of `kind: constant`, `kind: ramp`, `kind: step`, `kind: spike`, `kind: decrease`, `kind: diurnal`, `kind: bursty`, found `kind: wobble`"), "{e}");
    assert!(e.contains("s.yaml:30:1: sloz: unknown field `sloz`"), "{e}");
}

#[test]
fn semantic_problems_are_all_reported_with_lines() {
    let text = format!(
        "duration: 90 minutes\nnimservice:{NS}model:\n  gpu: h100-sxm\n  name: llama-3.1-405b-instruct\ncluster:\n  nodePool: {{gpusPerNode: 8}}\n  frontQueue: {{timeout: 30 s}}\ntraffic:\n  pattern: {{kind: spike, base: 2, peak: -5, at: 10m, duration: 5m}}\n"
    );
    let e = load(&text, &[]).unwrap_err();
    // The webhook refuses replicas with autoscaling; bad units; a negative
    // rate; and a model the catalog does not have.
    assert!(e.contains("s.yaml:1:1: duration: unknown unit"), "{e}");
    assert!(e.contains("nimservice.spec: spec: Invalid value: \"object\": spec.replicas cannot be set when spec.scale.enabled is true"), "{e}");
    assert!(e.contains("model.name:"), "{e}");
    assert!(e.contains("cluster.frontQueue.timeout:"), "{e}");
    assert!(
        e.contains("traffic.pattern.peak: a rate must be ≥ 0"),
        "{e}"
    );
}

#[test]
fn a_model_that_does_not_fit_and_impossible_pools_are_refused() {
    let ns = NS.replace("    replicas: 2\n", "");
    let text = format!(
        "duration: 10m\nnimservice:{ns}model:\n  gpu: l40s\n  name: llama-3.1-70b-instruct\ncluster:\n  nodePool: {{gpusPerNode: 8, maxNodes: 0}}\ntraffic:\n  pattern: {{kind: constant, rate: 1}}\n"
    );
    let e = load(&text, &[]).unwrap_err();
    assert!(e.contains("model.name:"), "{e}");
    assert!(
        e.contains("cluster.nodePool.maxNodes: 0 nodes cannot hold"),
        "{e}"
    );
}

#[test]
fn an_unknown_hpa_metric_points_into_the_nimservice() {
    let ns = NS
        .replace("    replicas: 2\n", "")
        .replace("num_requests_waiting", "queue_len");
    let text = format!(
        "duration: 10m\nnimservice:{ns}model:\n  gpu: h100-sxm\n  name: llama-3.1-8b-instruct\ntraffic:\n  pattern: {{kind: constant, rate: 1}}\n"
    );
    let e = load(&text, &[]).unwrap_err();
    assert!(
        e.contains("s.yaml:19:22: nimservice.spec.scale.hpa.metrics[0].pods.metric.name: no adapter rule serves \"queue_len\": without metrics.adapter.configMap"),
        "{e}"
    );
    // On the direct path there are no rules: a name needs a recipe.
    let e = load(&format!("{text}metrics: {{source: direct}}\n"), &[]).unwrap_err();
    assert!(
        e.contains("s.yaml:17:11: nimservice.spec.scale.hpa.metrics[0]: metrics.source: direct has no recipe for the metric \"queue_len\""),
        "{e}"
    );
}

#[test]
fn trace_rows_with_problems_are_named_by_line() {
    let csv = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.6805900,374,44\r\n2023-11-16 18:15:4x.0,396,109\r\n2023-11-16 18:15:51.2224670,879\r\n2023-11-16 18:15:52.0,abc,5";
    let e = traces::parse(
        csv.as_bytes(),
        "t.csv",
        scenario::raw::RawTraceFormat::Azure,
    )
    .unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("3 problems:"), "{s}");
    assert!(
        s.contains("t.csv:3: TIMESTAMP: cannot read \"2023-11-16 18:15:4x.0\""),
        "{s}"
    );
    assert!(s.contains("t.csv:4: expected 3 columns, found 2"), "{s}");
    assert!(
        s.contains("t.csv:5: ContextTokens: cannot read \"abc\" as a token count"),
        "{s}"
    );

    let bad_header = traces::parse(
        b"time,prompt,output\n0,1,1\n",
        "p.csv",
        scenario::raw::RawTraceFormat::Csv,
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad_header
            .contains("p.csv:1: header must name the columns time_s,prompt_tokens,output_tokens"),
        "{bad_header}"
    );

    let jl = "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 2}\n{\"timestamp\": 5, \"input_length\": 10}\n";
    let m = traces::parse(
        jl.as_bytes(),
        "m.jsonl",
        scenario::raw::RawTraceFormat::Mooncake,
    )
    .unwrap_err()
    .to_string();
    assert!(
        m.contains("m.jsonl:2: missing field `output_length`"),
        "{m}"
    );
}

#[test]
fn shipped_traces_parse_completely() {
    let t = std::fs::read(repo().join("traces/AzureLLMInferenceTrace_conv.csv")).unwrap();
    let tr = traces::parse(&t, "conv", scenario::raw::RawTraceFormat::Azure).unwrap();
    assert_eq!(tr.rows.len(), 19_366);
    assert!(!tr.reordered);
    // Span 3,501.7 s (traces/README.md).
    let span = tr.rows.last().unwrap().offset_us as f64 * 1e-6;
    assert!((span - 3501.7).abs() < 0.1, "{span}");
    let g = std::fs::read(repo().join("traces/mooncake_conversation_trace.jsonl.gz")).unwrap();
    let m = traces::parse(&g, "mc", scenario::raw::RawTraceFormat::Mooncake).unwrap();
    assert_eq!(m.rows.len(), 12_031);
    let r = &m.rows[0];
    assert_eq!(
        r.prefix.as_ref().unwrap().len() as u32,
        r.prompt.div_ceil(512)
    );
}

#[test]
fn a_trace_scenario_replays_the_file() {
    let csv = "time_s,prompt_tokens,output_tokens\n0,100,10\n0.5,200,20\n2,300,30\n";
    let ns = NS.replace("    replicas: 2\n", "");
    let text = format!(
        "duration: 10s\nnimservice:{ns}model:\n  gpu: h100-sxm\n  name: llama-3.1-8b-instruct\ntraffic:\n  trace: {{file: t.csv, format: csv, rateMultiplier: 2}}\n"
    );
    let sc = load(&text, &[("t.csv", csv)]).unwrap();
    let mut src = sc.source(1);
    let mut n = 0;
    while let Some(a) = src.next_arrival() {
        n += 1;
        assert!(a.prompt >= 100);
    }
    assert_eq!(n, 6);
}

// ----- the metric path ----------------------------------------------------

/// A run of `sc` at its seed, with every HPA sync recorded.
fn decided(sc: &scenario::Scenario) -> nimscale_core::sim::record::SimResult {
    let rec = nimscale_core::sim::config::Recording {
        timeseries: false,
        decisions: true,
    };
    sc.simulation(sc.seed, rec).finish()
}

/// The VLM guide's NIMService and adapter ConfigMap under constant load,
/// with `metrics:` lines appended.
fn vlm_run(metrics: &str) -> nimscale_core::sim::record::SimResult {
    let text = format!(
        "name: t\nseed: 3\nduration: 6m\nnimservice:\n  file: nimservice/cosmos-reason1-7b-latency.yaml\nmodel: {{gpu: h100-sxm, name: cosmos-reason1-7b}}\ntraffic:\n  pattern: {{kind: constant, rate: 12}}\n  prompt: {{lognormal: {{median: 1200, sigma: 0.5}}}}\n  output: {{lognormal: {{median: 60, sigma: 0.6}}}}\nmetrics:\n{metrics}"
    );
    let sc = load(&text, &[]).unwrap();
    decided(&sc)
}

const VLM_ADAPTER: &str = "  adapter:\n    configMap: {file: adapter/vlm-latency-fraction.yaml}\n";

#[test]
fn the_hpa_reads_scraped_data_at_its_age() {
    let res = vlm_run(VLM_ADAPTER);
    let mut valued = 0;
    for s in res.syncs.iter().filter_map(SyncRecord::hpa) {
        let t = s.decision.now;
        let m = &s.decision.metrics[0];
        if t.as_micros() >= 60_000_000 {
            // After a minute every sync has two scrapes (15 s apart) in its
            // increase(...[1m]) window.
            assert!(m.error.is_none(), "at {t:?}: {:?}", m.error);
            let as_of = s.data_as_of[0].unwrap();
            let age = t.since(as_of);
            assert!(
                age < nimscale_core::time::SimDuration::from_secs(15),
                "data {age:?} old at {t:?}"
            );
            valued += 1;
        }
    }
    assert!(valued > 15);
    // Before the first scrapes there is nothing to compute from.
    let first = &res.syncs[0].hpa().unwrap().decision.metrics[0];
    assert!(
        first.error.as_deref().is_some_and(|e| e.ends_with(
            "the server could not find the metric e2e_request_latency_seconds_over_1s_fraction for services cosmos-reason1-7b"
        )),
        "{first:?}"
    );
}

#[test]
fn a_60s_scrape_starves_increase_over_1m_in_prometheus_3() {
    // promql-increase.md: a [1m] window (left-open in 3.x) holds one sample
    // of a 60 s scrape, so increase() returns nothing and the adapter
    // serves no value, at every sync.
    let res = vlm_run(&format!(
        "  prometheus: {{scrapeInterval: 60s}}\n{VLM_ADAPTER}"
    ));
    assert!(res.syncs.len() > 20);
    for s in res.syncs.iter().filter_map(SyncRecord::hpa) {
        assert!(
            s.decision.metrics[0].error.is_some(),
            "{:?}",
            s.decision.now
        );
    }
    // The same spec on the direct path (exact values) always has one.
    let res = vlm_run("  source: direct\n");
    assert!(
        res.syncs
            .iter()
            .filter_map(SyncRecord::hpa)
            .all(|s| s.decision.metrics[0].error.is_none())
    );
}

#[test]
fn bad_adapter_config_is_reported_with_file_line_and_field() {
    let cm = "kind: ConfigMap\ndata:\n  config.yaml: |\n    rules:\n    - seriesQuery: 'x{'\n      metricsQuery: 'sum(<<.Series>>)'\n";
    let text = "name: t\nduration: 5m\nnimservice:\n  file: nimservice/cosmos-reason1-7b-latency.yaml\nmodel: {gpu: h100-sxm, name: cosmos-reason1-7b}\ntraffic:\n  pattern: {kind: constant, rate: 1}\nmetrics:\n  prometheus: {version: 4}\n  adapter:\n    configMap: {file: bad-adapter.yaml}\n";
    let e = load(text, &[("bad-adapter.yaml", cm)]).unwrap_err();
    assert!(
        e.contains("bad-adapter.yaml:5: rules[0].seriesQuery: parse error at column 3"),
        "{e}"
    );
    assert!(e.contains("s.yaml:9:"), "{e}");
    assert!(
        e.contains("metrics.prometheus.version: must be 2 or 3, found 4"),
        "{e}"
    );
    let text = text
        .replace("bad-adapter.yaml", "missing.yaml")
        .replace("{version: 4}", "{}");
    let e = load(&text, &[]).unwrap_err();
    assert!(
        e.contains("metrics.adapter.configMap.file: cannot read missing.yaml"),
        "{e}"
    );
}

#[test]
fn cpu_comes_from_metrics_server_points() {
    let text = std::fs::read_to_string(repo().join("scenarios/llama3-8b-cpu70.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 5m");
    let sc = load(&text, &[]).unwrap();
    let res = decided(&sc);
    let mut seen = 0;
    for s in res
        .syncs
        .iter()
        .filter_map(SyncRecord::hpa)
        .filter(|s| s.decision.now.as_micros() >= 30_000_000)
    {
        let m = &s.decision.metrics[0];
        assert!(m.error.is_none(), "{:?}", m.error);
        // The kubelet point metrics-server last took: at most one
        // resolution (15 s) plus one housekeeping period (10 s) old.
        let ts = m.timestamp.unwrap();
        let age = s.decision.now.since(ts);
        assert!(
            age <= nimscale_core::time::SimDuration::from_secs(25),
            "{age:?}"
        );
        assert!(s.seen[0].is_some());
        seen += 1;
    }
    assert!(seen > 10);
}

/// Memory follows live state, not the horizon: rows and decisions taken as
/// the run goes leave nothing behind, and gone pods are reaped (a run that
/// scales up and down every 20 minutes creates many more pods than it
/// ever holds at once).
#[test]
fn a_long_run_holds_only_its_live_pods_and_unwritten_rows() {
    use nimscale_core::sim::config::Recording;
    use nimscale_core::time::{SimDuration, SimTime};
    let text = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 6h")
        .replace(
            "pattern: {kind: spike, base: 6, peak: 60, at: 10m, duration: 15m}",
            "pattern: {kind: diurnal, mean: 25, amplitude: 24, period: 40m}",
        );
    let sc = load(&text, &[]).unwrap();
    let mut sim = sc.simulation(
        sc.seed,
        Recording {
            timeseries: true,
            decisions: true,
        },
    );
    let (mut rows, mut syncs, mut most_held) = (0, 0, 0);
    let mut t = SimTime::ZERO;
    while t < sim.end() {
        t = (t + SimDuration::from_secs(600)).min(sim.end());
        sim.run_until(t);
        rows += sim.take_rows().len();
        syncs += sim.take_syncs().len();
        most_held = most_held.max(sim.pods_held());
    }
    let res = sim.finish();
    assert!(res.rows.is_empty() && res.syncs.is_empty());
    assert_eq!(rows, 6 * 3600);
    // A sync at 0 s and every 15 s up to the end.
    assert_eq!(syncs, 6 * 3600 / 15 + 1);
    let created = res.summary.startups.len();
    assert!(
        created > 3 * most_held,
        "{created} pods created, {most_held} held"
    );
    // Start-up records still list every pod, in creation order.
    let ids: Vec<u32> = res
        .summary
        .startups
        .iter()
        .map(|r| r.pod.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// Nonsense is refused at load time with file, line and field: numbers out
/// of their type's range (serde's bare "invalid value: integer -1" had no
/// position), a percentile written as a fraction, a zero request cap, a
/// token distribution whose min is above its max, a name that would leave
/// reports/.
#[test]
fn nonsense_is_refused_with_line_and_field() {
    let base = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml")).unwrap();
    for (from, to, want) in [
        (
            "gpusPerNode: 8",
            "gpusPerNode: -1",
            "s.yaml:16:18: cluster.nodePool.gpusPerNode: integer -1 is out of range: expected 0 to 4294967295",
        ),
        (
            "seed: 7",
            "seed: -1",
            "s.yaml:7:7: seed: integer -1 is out of range",
        ),
        (
            "percentile: 95, threshold: 4s",
            "percentile: 0.95, threshold: 4s",
            "slos[0].percentile: 0.95 is on the 0–100 scale, so it means p0.95; write 95",
        ),
        (
            "  name: cosmos-reason1-7b\n",
            "  name: cosmos-reason1-7b\n  engine: {requestCap: 0}\n",
            "model.engine.requestCap: must be at least 1",
        ),
        (
            "min: 64, max: 6000",
            "min: 6000, max: 64",
            "traffic.prompt.lognormal: min (6000) is greater than max (64)",
        ),
        (
            "name: cosmos-vlm-spike",
            "name: ../../x",
            "name: \"../../x\": use 1 to 128 letters",
        ),
        (
            "duration: 1h",
            "duration: 1e300",
            "duration: 1e300 s is longer than 3650 days",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let e = load(&base.replacen(from, to, 1), &[]).unwrap_err();
        assert!(e.contains(want), "{to}: {e}");
    }
}

/// Client settings that cannot mean anything are refused with their field.
#[test]
fn client_nonsense_is_refused_with_its_field() {
    let base =
        std::fs::read_to_string(repo().join("scenarios/llama3-8b-overload-clients.yaml")).unwrap();
    for (from, to, want) in [
        (
            "timeout: 60s",
            "timeout: 0s",
            "traffic.clients.timeout: a timeout of 0 fails every request",
        ),
        (
            "jitter: 0.25",
            "jitter: 2",
            "traffic.clients.backoff.jitter: must be from 0 to 1, found 2",
        ),
        (
            "multiplier: 2,",
            "multiplier: 0.5,",
            "traffic.clients.backoff.multiplier: must be from 1 to 100",
        ),
        (
            "  clients:\n",
            "  closedLoop: {concurrency: 8}\n  clients:\n",
            "traffic.pattern: a closed loop sends when its clients are ready",
        ),
        (
            "  pattern: {kind: constant, rate: 60}\n",
            "  closedLoop: {concurrency: 0}\n",
            "traffic.closedLoop.concurrency: at least one client",
        ),
        (
            "  pattern: {kind: constant, rate: 60}\n",
            "  closedLoop: {concurrency: 100000000, think: {fixed: 0s}}\n",
            "requests",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let e = match load(&text, &[]) {
            Err(e) => e,
            Ok(sc) => sc
                .check_limits(&nimscale_runner::limits::Limits::default(), false)
                .unwrap_err(),
        };
        assert!(e.contains(want), "{to}: {e}");
    }
}

/// Scheduled scaling: the replicas follow the step in force, and a
/// schedule is refused beside an enabled HPA or with steps out of order.
#[test]
fn scheduled_scaling_follows_its_steps() {
    use nimscale_core::sim::config::Recording;
    let text = std::fs::read_to_string(repo().join("scenarios/llama3-8b-scheduled-daily.yaml"))
        .unwrap()
        .replace("duration: 24h", "duration: 9h");
    let sc = load(&text, &[]).unwrap();
    let res = sc
        .simulation(
            sc.seed,
            Recording {
                timeseries: true,
                decisions: true,
            },
        )
        .finish();
    let desired = |t: i64| res.rows.iter().find(|r| r.t == t).unwrap().desired;
    assert_eq!(desired(3600), 2);
    assert_eq!(desired(8 * 3600 + 60), 6);
    assert!(res.syncs.iter().all(|s| s.hpa().is_none()));
    assert_eq!(res.summary.scale_ups, 1);
    // With the NIMService's HPA on as well: refused.
    let both =
        std::fs::read_to_string(repo().join("scenarios/llama3-8b-kv-cache-conservative.yaml"))
            .unwrap()
            + "autoscaler:\n  schedule:\n    steps: [{at: 0s, replicas: 2}]\n";
    let e = load(&both, &[]).unwrap_err();
    assert!(
        e.contains("autoscaler: the NIMService enables its HPA"),
        "{e}"
    );
    let bad = text.replace("- {at: 20h, replicas: 3}", "- {at: 7h, replicas: 3}");
    let e = load(&bad, &[]).unwrap_err();
    assert!(
        e.contains(
            "autoscaler.schedule.steps[2].at: steps must start in strictly increasing order"
        ),
        "{e}"
    );
    let bad = text.replace("- {at: 20h, replicas: 3}", "- {at: 25h, replicas: 3}");
    let e = load(&bad, &[]).unwrap_err();
    assert!(
        e.contains("autoscaler.schedule.steps[2].at: must be within the period"),
        "{e}"
    );
}

/// The VLM guide's spike scenario with the user's files renamed: the metric
/// is whatever the adapter rule's `name.as` says.
fn renamed_vlm(name: &str, extra_rules: &str) -> Result<scenario::Scenario, String> {
    let old = "e2e_request_latency_seconds_over_1s_fraction";
    let ns =
        std::fs::read_to_string(repo().join("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
            .unwrap()
            .replace(old, name);
    let adapter =
        std::fs::read_to_string(repo().join("scenarios/adapter/vlm-latency-fraction.yaml"))
            .unwrap()
            .replace(old, name)
            .replace("    rules:\n", &format!("{extra_rules}    rules:\n"));
    let text = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 30m");
    load(
        &text,
        &[
            ("nimservice/cosmos-reason1-7b-latency.yaml", &ns),
            ("adapter/vlm-latency-fraction.yaml", &adapter),
        ],
    )
}

fn scale_ups(sc: &scenario::Scenario) -> u32 {
    let rec = nimscale_core::sim::config::Recording {
        timeseries: false,
        decisions: false,
    };
    sc.simulation(sc.seed, rec).finish().summary.scale_ups
}

#[test]
fn the_users_own_metric_names_are_served_by_their_rules() {
    // Any name the rule's `name.as` gives: the rule is the recipe.
    let sc = renamed_vlm("vlm_slow_request_ratio", "").unwrap();
    assert!(scale_ups(&sc) > 0, "the HPA scales on the renamed metric");
    // An External rule over the NIM's waiting requests, as the user wrote it.
    let external = "    externalRules:\n    - seriesQuery: 'num_requests_waiting{namespace!=\"\"}'\n      resources:\n        overrides:\n          namespace: {resource: namespace}\n      name: {matches: '^num_requests_waiting$', as: 'nim_waiting_total'}\n      metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>})'\n";
    let hpa_external = "      - type: External\n        external:\n          metric:\n            name: nim_waiting_total\n          target:\n            type: AverageValue\n            averageValue: \"2\"\n";
    let ns =
        std::fs::read_to_string(repo().join("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
            .unwrap()
            .replace(
                "      metrics:\n",
                &format!("      metrics:\n{hpa_external}"),
            );
    let adapter =
        std::fs::read_to_string(repo().join("scenarios/adapter/vlm-latency-fraction.yaml"))
            .unwrap()
            .replace("    rules:\n", &format!("{external}    rules:\n"));
    let text = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 30m");
    let sc = load(
        &text,
        &[
            ("nimservice/cosmos-reason1-7b-latency.yaml", &ns),
            ("adapter/vlm-latency-fraction.yaml", &adapter),
        ],
    )
    .unwrap();
    let res = decided(&sc);
    // The external metric reached the HPA (a value in most syncs).
    let read = res
        .syncs
        .iter()
        .filter_map(SyncRecord::hpa)
        .filter(|s| s.seen.first().is_some_and(Option::is_some))
        .count();
    assert!(read > 50, "{read} syncs read nim_waiting_total");
    assert!(res.summary.scale_ups > 0);
}

#[test]
fn a_metric_no_rule_exposes_is_refused_naming_both_files() {
    let ns =
        std::fs::read_to_string(repo().join("scenarios/nimservice/cosmos-reason1-7b-latency.yaml"))
            .unwrap()
            .replace(
                "e2e_request_latency_seconds_over_1s_fraction",
                "vlm_slow_request_ratio",
            );
    let text = std::fs::read_to_string(repo().join("scenarios/cosmos-vlm-spike.yaml")).unwrap();
    let e = load(&text, &[("nimservice/cosmos-reason1-7b-latency.yaml", &ns)]).unwrap_err();
    assert!(
        e.contains("nimservice/cosmos-reason1-7b-latency.yaml:71:")
            && e.contains("spec.scale.hpa.metrics[0].object.metric.name")
            && e.contains("no rule of the adapter configuration adapter/vlm-latency-fraction.yaml exposes \"vlm_slow_request_ratio\"")
            && e.contains("e2e_request_latency_seconds_over_1s_fraction (service)"),
        "{e}"
    );
}

#[test]
fn a_target_below_the_metrics_floor_is_diagnosed_as_pinned() {
    // CPU at 1 % of the request: an idle NIM pod already uses more, so the
    // HPA can only scale up and sits at maxReplicas.
    let res = cpu_run(Some(1));
    let codes: Vec<&str> = (res.summary.diagnostics.iter())
        .map(|d| d.code.as_str())
        .collect();
    assert!(codes.contains(&"never-below-target"), "{codes:?}");
    assert!(codes.contains(&"pinned-at-max"), "{codes:?}");
    assert!(res.summary.seconds_at_max > 0.9 * 1800.0);
    // The shipped configuration (target 70 %) is neither.
    let res = cpu_run(None);
    assert!(
        (res.summary.diagnostics.iter())
            .all(|d| d.code != "pinned-at-max" && d.code != "never-below-target"),
        "{:?}",
        res.summary.diagnostics
    );
    let sc = load(
        &std::fs::read_to_string(repo().join("scenarios/llama3-8b-cpu70.yaml")).unwrap(),
        &[],
    )
    .unwrap();
    // Pre-flight: the export lints that apply, found at load.
    let lints: Vec<&str> = sc.preflight.iter().map(|l| l.code).collect();
    assert_eq!(lints, ["min-replicas-below-2", "no-behavior"]);
}

/// The shipped CPU-70 Llama scenario cut to 30 minutes, its CPU target
/// set to `target` % (`None`: as shipped), run with its own seed.
fn cpu_run(target: Option<u32>) -> nimscale_core::sim::record::SimResult {
    let mut text = std::fs::read_to_string(repo().join("scenarios/llama3-8b-cpu70.yaml"))
        .unwrap()
        .replace("duration: 1h", "duration: 30m");
    if let Some(t) = target {
        text = text.replace(
            "averageUtilization: 70}",
            &format!("averageUtilization: {t}}}"),
        );
    }
    let sc = load(&text, &[]).unwrap();
    let rec = nimscale_core::sim::config::Recording {
        timeseries: false,
        decisions: false,
    };
    sc.simulation(sc.seed, rec).finish()
}

#[test]
fn an_hpa_whose_metric_never_sees_the_overload_is_diagnosed() {
    // The Llama pod scaled on CPU at 100 %: the pod is overloaded long
    // before its CPU gets there, the SLOs are missed and the HPA never
    // scales up.
    let res = cpu_run(Some(100));
    let blind: Vec<_> = (res.summary.diagnostics.iter())
        .filter(|d| d.code == "blind-to-overload")
        .collect();
    if res.summary.slos.iter().any(|s| !s.met) && res.summary.scale_ups == 0 {
        assert_eq!(blind.len(), 1, "{:?}", res.summary.diagnostics);
        assert!(
            blind[0].message.contains("resource:cpu peaked at"),
            "{}",
            blind[0].message
        );
    } else {
        panic!("the case no longer overloads: {:?}", res.summary);
    }
    // The shipped configuration scales and is not diagnosed so.
    let res = cpu_run(None);
    assert!(
        res.summary
            .diagnostics
            .iter()
            .all(|d| d.code != "blind-to-overload")
    );
}

/// The DCGM-exporter series an export adds: per pod, the share of each
/// scrape interval the engine spent in steps, near 0 % when idle and
/// 100 % when saturated, on every GPU of the pod.
#[test]
fn dcgm_utilisation_follows_the_engine() {
    let util = |rate: &str| {
        let text = format!(
            "name: t\nseed: 3\nduration: 6m\nnimservice:\n  file: nimservice/cosmos-reason1-7b-latency.yaml\nmodel: {{gpu: h100-sxm, name: cosmos-reason1-7b}}\ntraffic:\n  pattern: {{kind: constant, rate: {rate}}}\n  prompt: {{lognormal: {{median: 1200, sigma: 0.5}}}}\n  output: {{lognormal: {{median: 60, sigma: 0.6}}}}\nmetrics:\n{VLM_ADAPTER}"
        );
        let mut sc = load(&text, &[]).unwrap();
        let pc = sc.prometheus.as_mut().expect("prometheus path");
        pc.export_series = true;
        pc.export_gpu_model = "h100-sxm".into();
        let res = decided(&sc);
        let db = res.series.expect("kept series");
        let mut seen = Vec::new();
        for s in db.iter() {
            if s.labels.name() == "DCGM_FI_DEV_GPU_UTIL" {
                assert_eq!(s.labels.get("modelName"), "h100-sxm");
                assert!(s.labels.get("pod").starts_with("cosmos-reason1-7b-"));
                // After the first two minutes.
                seen.extend(
                    s.samples()
                        .iter()
                        .filter(|(t, _)| *t > 120_000)
                        .map(|(_, v)| *v),
                );
            }
        }
        assert!(!seen.is_empty());
        assert!(
            seen.iter()
                .all(|v| (0.0..=100.0).contains(v) && v.fract() == 0.0)
        );
        seen.iter().sum::<f64>() / seen.len() as f64
    };
    let idle = util("0.05");
    let saturated = util("400");
    assert!(idle < 5.0, "{idle}");
    assert!(saturated > 95.0, "{saturated}");
}

/// `model.engine.frontEnd` replaces the catalog's API-server figures field
/// by field, and nonsense is refused with its path.
#[test]
fn the_front_end_can_be_set_per_scenario() {
    let text = |fe: &str| {
        format!(
            "name: t\nseed: 3\nduration: 2m\nnimservice:\n  file: nimservice/cosmos-reason1-7b-latency.yaml\nmodel: {{gpu: h100-sxm, name: cosmos-reason1-7b, engine: {{frontEnd: {fe}}}}}\ntraffic:\n  pattern: {{kind: constant, rate: 2}}\n  prompt: {{fixed: 100}}\n  output: {{fixed: 10}}\nmetrics:\n{VLM_ADAPTER}"
        )
    };
    let sc = load(&text("{perOutputToken: 5ms}"), &[]).unwrap();
    let fe = sc.resolved.deployment.model.frontend;
    assert_eq!(fe.output_token_ns, 5_000_000);
    assert_eq!(fe.request_ns, 1_700_000, "the catalog's, unchanged");
    let e = load(&text("{perRequest: -1}"), &[]).unwrap_err();
    assert!(e.contains("model.engine.frontEnd.perRequest"), "{e}");
}
