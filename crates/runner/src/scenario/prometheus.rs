//! The Prometheus metric path of a scenario (`metrics:`): scrape interval,
//! version, lookback, the adapter's ConfigMap or the rules `export` writes,
//! relist and metrics-server settings.

use super::defaults as d;
use super::*;

/// The Prometheus path of a scenario: scrape interval (scenario, else the
/// NIMService's ServiceMonitor, else Prometheus' 1m), version, the adapter's
/// rules (the user's ConfigMap, else those `export` writes) and
/// metrics-server.
pub(super) fn prometheus_path(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    files: &dyn Files,
    spec: &nimscale_operator::types::NimServiceSpec,
    template: &PodTemplate,
    metrics: &DirectMetrics,
) -> Option<PromConfig> {
    let mr = raw.metrics.as_ref();
    if mr.and_then(|m| m.source) == Some(RawMetricSource::Direct) {
        return None;
    }
    let pr = mr.and_then(|m| m.prometheus.as_ref());
    let ad = mr.and_then(|m| m.adapter.as_ref());
    let sm_interval = spec
        .metrics
        .as_ref()
        .and_then(|m| m.service_monitor.as_ref())
        .and_then(|s| s.interval.clone());
    let interval = match (pr.and_then(|p| p.scrape_interval.as_ref()), sm_interval) {
        (Some(d), _) => cx.dur(
            Some(d),
            "metrics.prometheus.scrapeInterval",
            d::SCRAPE_INTERVAL,
        ),
        (None, Some(text)) => match promql::parse_duration_ms(&text) {
            Some(ms) if ms > 0 => SimDuration::from_millis(ms),
            _ => {
                cx.warnings.push(format!(
                    "spec.metrics.serviceMonitor.interval {text:?} is not a Prometheus duration; scraping every 1m"
                ));
                d::SCRAPE_INTERVAL
            }
        },
        (None, None) => {
            cx.warnings.push(
                "no scrape interval in the NIMService's ServiceMonitor or the scenario: Prometheus' own default, 1m, applies".into(),
            );
            d::SCRAPE_INTERVAL
        }
    };
    if interval < SimDuration::from_secs(1) {
        cx.err("metrics.prometheus.scrapeInterval", "must be at least 1s");
    }
    let version = match pr.and_then(|p| p.version) {
        None | Some(3) => PromVersion::V3,
        Some(2) => PromVersion::V2,
        Some(v) => {
            cx.err(
                "metrics.prometheus.version",
                format!("must be 2 or 3, found {v}"),
            );
            PromVersion::V3
        }
    };
    let lookback = cx.period(
        pr.and_then(|p| p.lookback_delta.as_ref()),
        "metrics.prometheus.lookbackDelta",
        d::LOOKBACK_DELTA,
    );
    let relist = cx.period(
        ad.and_then(|a| a.relist_interval.as_ref()),
        "metrics.adapter.relistInterval",
        d::RELIST_INTERVAL,
    );
    let housekeeping = cx.period(
        mr.and_then(|m| m.housekeeping.as_ref()),
        "metrics.housekeeping",
        d::HOUSEKEEPING,
    );
    let loaded = adapter_rules(cx, files, ad, spec, metrics).ok()?;
    cx.warnings.extend(loaded.warnings);
    Some(PromConfig {
        scrape: ScrapeConfig {
            interval_ms: interval.as_micros() / 1000,
            namespace: template.namespace.clone(),
            service: template.name.clone(),
            endpoint: "api".into(),
            container: template.container.clone(),
            port: spec
                .expose
                .as_ref()
                .and_then(|e| e.service.as_ref())
                .and_then(|s| s.port)
                .unwrap_or(d::NIM_PORT)
                .clamp(1, 65535) as u16,
        },
        eval: EvalOptions {
            version,
            lookback_ms: lookback.as_micros() / 1000,
        },
        adapter: loaded.config,
        relist,
        warm_discovery: ad.and_then(|a| a.discovery) != Some(RawDiscovery::Cold),
        metrics_server: MetricsServerConfig {
            resolution: metrics.resolution,
            housekeeping,
        },
        keep_all_series: pr.and_then(|p| p.keep_all_series).unwrap_or(false),
        export_series: false,
        export_gpu_model: String::new(),
    })
}

/// The adapter's rules: the user's ConfigMap, read unchanged, or the rules
/// `nimscale export` writes for this NIMService.
fn adapter_rules(
    cx: &mut Ctx<'_>,
    files: &dyn Files,
    ad: Option<&RawAdapter>,
    spec: &nimscale_operator::types::NimServiceSpec,
    metrics: &DirectMetrics,
) -> Result<adapter::Loaded, ()> {
    match ad.and_then(|a| a.config_map.as_ref()) {
        Some(f) => match files.read(&f.file) {
            Ok((name, bytes)) => {
                adapter::load(&String::from_utf8_lossy(&bytes), &name).map_err(|e| {
                    cx.errs.extend(e.0);
                })
            }
            Err(e) => {
                cx.err("metrics.adapter.configMap.file", e);
                Err(())
            }
        },
        None => {
            let settings = nimscale_operator::adapter::AdapterSettings {
                dialect: metrics.dialect,
                window_s: (metrics.window.as_micros() / 1_000_000).max(1) as u32,
                ..Default::default()
            };
            let rules = nimscale_operator::adapter::rules_for(spec, &settings);
            adapter::generated(&rules).map_err(|e| cx.errs.extend(e.0))
        }
    }
}

/// On the Prometheus path the adapter's rules are the recipe: every
/// custom or external metric the HPA names must be one a rule exposes for
/// the NIM's series, as prometheus-adapter's discovery finds them (the
/// `seriesQuery` and its filters, `name.matches`/`as`, the resources a
/// series' labels map to). A name no rule exposes would leave the HPA
/// blind for the whole run: it is refused, naming both files.
pub(super) fn check_served(
    cx: &mut Ctx<'_>,
    src: &super::build::NsSource<'_>,
    raw: &RawScenario,
    hpa: &Hpa,
    pc: &PromConfig,
    resolved: &Resolved,
    dialect: Dialect,
) -> Vec<Value> {
    let engine = resolved.roofline_engine(dialect, false);
    let pod = format!("{}-0", pc.scrape.service);
    let series = nimscale_core::metrics::scrape::nim_series(&engine, &pc.scrape, &pod, true);
    let reg = pc.adapter.discover_from(&series);
    let config_map = raw
        .metrics
        .as_ref()
        .and_then(|m| m.adapter.as_ref())
        .and_then(|a| a.config_map.as_ref());
    let user_rules = config_map.is_some();
    let rules = config_map.map_or_else(
        || "the rules `nimscale export` writes for this NIMService".to_string(),
        |f| format!("the adapter configuration {}", f.file),
    );
    let custom: Vec<String> = reg
        .custom
        .keys()
        .map(|(m, r)| format!("{m} ({r})"))
        .collect();
    let external: Vec<String> = reg.external.keys().cloned().collect();
    // The rules that serve the HPA's metrics, as the lints read them.
    let mut serving = Vec::new();
    let mut rule = |external: bool, at: Option<&(usize, String)>, name: &str| {
        let rules = if external {
            &pc.adapter.external_rules
        } else {
            &pc.adapter.rules
        };
        let found = at.and_then(|(i, _)| rules.get(*i));
        if let Some(r) = found {
            serving.push(serde_json::json!({
                "metricsQuery": r.metrics_query_text,
                "name": {"as": name},
            }));
        }
        found.is_some()
    };
    for (i, m) in hpa.spec.metrics.iter().enumerate() {
        let (kind, name, served) = match m {
            MetricSpec::Pods { metric, .. } => (
                "pods",
                &metric.name,
                rule(
                    false,
                    reg.custom.get(&(metric.name.clone(), "pod".into())),
                    &metric.name,
                ),
            ),
            MetricSpec::Object {
                metric,
                described_object,
                ..
            } => {
                let res = nimscale_core::metrics::adapter::singular(
                    &described_object.kind.to_lowercase(),
                );
                (
                    "object",
                    &metric.name,
                    rule(
                        false,
                        reg.custom.get(&(metric.name.clone(), res)),
                        &metric.name,
                    ),
                )
            }
            MetricSpec::External { metric, .. } => (
                "external",
                &metric.name,
                rule(true, reg.external.get(&metric.name), &metric.name),
            ),
            _ => continue,
        };
        if served {
            continue;
        }
        let exposes = match kind {
            "external" if external.is_empty() => "no external metric".to_string(),
            "external" => format!("external metrics {}", external.join(", ")),
            _ if custom.is_empty() => "no custom metric".to_string(),
            _ => format!("custom metrics {}", custom.join(", ")),
        };
        let msg = if user_rules {
            format!(
                "no rule of {rules} exposes {name:?} for this metric type over the NIM's series (prometheus-adapter's discovery: seriesQuery, seriesFilters, name.matches/as, resources); it exposes {exposes}"
            )
        } else {
            format!(
                "no adapter rule serves {name:?}: without metrics.adapter.configMap nimscale simulates the rules `nimscale export` writes, and it writes them only for metrics it has a recipe for (a NIM gauge such as gpu_cache_usage_perc, num_requests_running or num_requests_waiting, <histogram>_over_<X>s_fraction, <histogram>_p<NN>, <counter>_per_second); name your prometheus-adapter ConfigMap in metrics.adapter.configMap to serve {name:?} with your own rule"
            )
        };
        src.err(
            cx,
            &format!("spec.scale.hpa.metrics[{i}].{kind}.metric.name"),
            msg,
        );
    }
    serving
}

/// The export lints, run before simulating: the NIMService's HPA against
/// the adapter rules that serve it (on the Prometheus path), the HPA sync
/// period and the scrape interval the run uses. Lints about Prometheus are
/// left out on the direct path, where they do not apply.
pub(super) fn preflight(
    spec: &nimscale_operator::types::NimServiceSpec,
    prometheus: Option<&PromConfig>,
    serving: Vec<Value>,
    controller: &Controller,
) -> Vec<nimscale_operator::lint::Lint> {
    use nimscale_operator::lint::{LintContext, lint};
    let rules = nimscale_operator::adapter::AdapterRules {
        rules: serving,
        external_rules: Vec::new(),
        notes: Vec::new(),
    };
    let ctx = LintContext {
        hpa_sync_s: (controller.config.sync_period.as_micros() / 1_000_000).max(1) as u32,
        prometheus_default_scrape_s: prometheus
            .map_or(60, |p| (p.scrape.interval_ms / 1000).max(1) as u32),
        production: true,
    };
    let prometheus_only = [
        "custom-metric-without-servicemonitor",
        "scrape-slower-than-hpa-sync",
        "range-window-too-short",
    ];
    let mut out: Vec<nimscale_operator::lint::Lint> = Vec::new();
    for l in lint(spec, &rules, &ctx) {
        // A query with the same short window three times is one finding.
        let repeated = out
            .iter()
            .any(|o| o.code == l.code && o.message == l.message);
        if !repeated && (prometheus.is_some() || !prometheus_only.contains(&l.code)) {
            out.push(l);
        }
    }
    out
}
