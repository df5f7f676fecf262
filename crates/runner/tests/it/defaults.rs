//! The scenario file's documented defaults (the JSON Schema's descriptions,
//! from `raw.rs`) are the ones the loader applies (`scenario::defaults` and
//! the components' own `Default`s): a changed constant or a changed doc
//! fails here.

use nimscale_core::engine::capacity::EngineProfile;
use nimscale_core::hpa::controller::ControllerConfig;
use nimscale_core::sim::dist::Dist;
use nimscale_core::time::SimDuration;
use nimscale_runner::scenario::{defaults as d, schema};
use serde_json::Value;

/// A duration as the docs write it: `90s`, `5m`, `24h`.
fn dur(v: SimDuration) -> String {
    let us = v.as_micros();
    assert_eq!(us % 1_000_000, 0, "{v:?} is not whole seconds");
    let s = us / 1_000_000;
    match s {
        _ if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// A log-normal as the docs write it: `median 5m, sigma 0.3`.
fn lognormal(v: &Dist) -> String {
    let Dist::LogNormal { median, sigma, .. } = v else {
        panic!("{v:?} is not a log-normal");
    };
    format!(
        "median {}, sigma {sigma}",
        dur(SimDuration::from_micros((median * 1e6) as i64))
    )
}

/// A token-count log-normal as the docs write it:
/// `median 1000, sigma 0.6, from 1 to 8000`.
fn tokens(v: &Dist) -> String {
    let Dist::LogNormal {
        median,
        sigma,
        min,
        max,
    } = v
    else {
        panic!("{v:?} is not a log-normal");
    };
    format!("median {median}, sigma {sigma}, from {min} to {max}")
}

/// Bytes per second as the docs write them: `250MB/s`, `1GB/s`.
fn bandwidth(bps: f64) -> String {
    if bps >= 1e9 {
        format!("`{}GB/s`", bps / 1e9)
    } else {
        format!("`{}MB/s`", bps / 1e6)
    }
}

/// A field's description, its lines joined as a reader sees them.
fn description(schema: &Value, def: &str, field: &str) -> String {
    let props = if def == "RawScenario" {
        &schema["properties"]
    } else {
        &schema["$defs"][def]["properties"]
    };
    props[field]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("{def}.{field} has no description"))
        .replace('\n', " ")
}

#[test]
fn schema_documents_every_default_the_loader_applies() {
    let schema = schema();
    let hpa = ControllerConfig::default();
    let cases: Vec<(&str, &str, String)> = vec![
        ("RawScenario", "seed", format!("(default {})", d::SEED)),
        (
            "RawNodePool",
            "gpusPerNode",
            format!("({})", d::GPUS_PER_NODE),
        ),
        ("RawNodePool", "minNodes", format!("({})", d::MIN_NODES)),
        ("RawClients", "retries", format!("({})", d::CLIENT_RETRIES)),
        (
            "RawBackoff",
            "initial",
            format!("({}s)", d::BACKOFF.initial.as_secs_f64()),
        ),
        (
            "RawBackoff",
            "multiplier",
            format!("({})", d::BACKOFF.multiplier),
        ),
        ("RawBackoff", "max", format!("({})", dur(d::BACKOFF.max))),
        ("RawBackoff", "jitter", format!("({})", d::BACKOFF.jitter)),
        (
            "RawClosedLoop",
            "think",
            format!("({}s)", d::THINK.median()),
        ),
        (
            "RawCluster",
            "warmStart",
            format!("(default {})", d::WARM_START),
        ),
        (
            "RawCluster",
            "terminationGracePeriod",
            format!("({})", dur(d::TERMINATION_GRACE)),
        ),
        ("RawAutoscaler", "enabled", format!("({})", d::CA_ENABLED)),
        (
            "RawAutoscaler",
            "scanInterval",
            format!("({})", dur(d::CA_SCAN_INTERVAL)),
        ),
        (
            "RawAutoscaler",
            "provisioning",
            lognormal(&d::CA_PROVISIONING),
        ),
        (
            "RawAutoscaler",
            "maxNodeProvisionTime",
            format!("({})", dur(d::CA_MAX_NODE_PROVISION_TIME)),
        ),
        (
            "RawAutoscaler",
            "scaleDownUnneededTime",
            format!("({})", dur(d::CA_SCALE_DOWN_UNNEEDED_TIME)),
        ),
        (
            "RawAutoscaler",
            "scaleDownDelayAfterAdd",
            format!("({})", dur(d::CA_SCALE_DOWN_DELAY_AFTER_ADD)),
        ),
        (
            "RawAutoscaler",
            "maxEmptyBulkDelete",
            format!("({})", d::CA_MAX_EMPTY_BULK_DELETE),
        ),
        (
            "RawStartup",
            "scheduling",
            lognormal(&d::STARTUP_SCHEDULING),
        ),
        ("RawStartup", "imagePull", lognormal(&d::STARTUP_IMAGE_PULL)),
        (
            "RawStartup",
            "engineStart",
            // 45 s plus 1 s per GiB.
            format!(
                "median {}s plus 1s per GiB of weights, sigma 0.2",
                match d::engine_start(0.0) {
                    Dist::LogNormal { median, .. } => median,
                    _ => f64::NAN,
                }
            ),
        ),
        (
            "RawStartup",
            "coldReadBandwidth",
            bandwidth(d::COLD_READ_BPS),
        ),
        (
            "RawStartup",
            "warmReadBandwidth",
            bandwidth(d::WARM_READ_BPS),
        ),
        (
            "RawStartup",
            "downloadBandwidth",
            bandwidth(d::DOWNLOAD_BPS),
        ),
        (
            "RawFrontQueue",
            "capacity",
            format!("; {})", d::FRONT_QUEUE_CAPACITY),
        ),
        (
            "RawFrontQueue",
            "timeout",
            format!("({})", dur(d::FRONT_QUEUE_TIMEOUT)),
        ),
        (
            "RawController",
            "syncPeriod",
            format!("({})", dur(hpa.sync_period)),
        ),
        ("RawController", "tolerance", format!("({})", hpa.tolerance)),
        (
            "RawController",
            "downscaleStabilization",
            format!("({})", dur(hpa.downscale_stabilization)),
        ),
        (
            "RawController",
            "cpuInitializationPeriod",
            format!("({})", dur(hpa.cpu_initialization_period)),
        ),
        (
            "RawController",
            "initialReadinessDelay",
            format!("({})", dur(hpa.initial_readiness_delay)),
        ),
        (
            "RawController",
            "scaleToZero",
            format!("({})", hpa.scale_to_zero),
        ),
        (
            "RawController",
            "firstSync",
            format!("({})", dur(d::FIRST_SYNC)),
        ),
        (
            "RawController",
            "reconcileLatency",
            format!("({})", dur(d::RECONCILE_LATENCY)),
        ),
        (
            "RawMetrics",
            "window",
            format!("({})", dur(d::METRICS_WINDOW)),
        ),
        (
            "RawMetrics",
            "resolution",
            format!("({})", dur(d::METRICS_RESOLUTION)),
        ),
        (
            "RawMetrics",
            "housekeeping",
            format!("({})", dur(d::HOUSEKEEPING)),
        ),
        (
            "RawPrometheus",
            "scrapeInterval",
            format!("own {}", dur(d::SCRAPE_INTERVAL)),
        ),
        (
            "RawPrometheus",
            "lookbackDelta",
            format!("({})", dur(d::LOOKBACK_DELTA)),
        ),
        (
            "RawAdapter",
            "relistInterval",
            format!("({}, ", dur(d::RELIST_INTERVAL)),
        ),
        ("RawTraffic", "prompt", tokens(&d::PROMPT_TOKENS)),
        ("RawTraffic", "output", tokens(&d::OUTPUT_TOKENS)),
        (
            "RawEvaluation",
            "sloWindow",
            format!("({})", dur(d::SLO_WINDOW)),
        ),
        (
            "RawEvaluation",
            "flapWindow",
            format!("({})", dur(d::FLAP_WINDOW)),
        ),
    ];
    let mut wrong = Vec::new();
    for (def, field, want) in &cases {
        let got = description(&schema, def, field);
        if !got.contains(want.as_str()) {
            wrong.push(format!("{def}.{field}: {got:?} does not state {want:?}"));
        }
    }
    // The engine's defaults are vLLM's, documented on the engine fields.
    let e = EngineProfile::default();
    for (field, want) in [
        (
            "gpuMemoryUtilization",
            format!("({})", e.gpu_memory_utilization),
        ),
        ("blockSize", format!("({})", e.block_size)),
    ] {
        let got = description(&schema, "RawEngine", field);
        if !got.contains(want.as_str()) {
            wrong.push(format!(
                "RawEngine.{field}: {got:?} does not state {want:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_diurnal_period_default_is_documented() {
    // The pattern is an enum variant: its field is found by its text.
    let text = serde_json::to_string(&schema()).unwrap();
    let want = format!("Period ({}).", dur(d::DIURNAL_PERIOD));
    assert!(text.contains(&want), "no {want:?} in the schema");
}
