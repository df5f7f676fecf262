//! prometheus-adapter configuration: the user's ConfigMap (or the bare
//! `config.yaml` it carries) read unchanged into the core's
//! [`AdapterConfig`], every problem reported at once with file, line and
//! field; and the rules nimscale writes itself (those `export` writes) when a
//! scenario names none.

use std::collections::BTreeMap;

use serde::Deserialize;

use nimscale_core::metrics::adapter::{AdapterConfig, ResourceMapping, Rule, Template};
use nimscale_core::metrics::promql;

use crate::error::{LoadError, LoadErrors};
use crate::yaml;

/// The adapter's `config.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAdapterConfig {
    /// Custom-metrics rules.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// External-metrics rules.
    #[serde(default)]
    pub external_rules: Vec<RawRule>,
    /// Resource-metrics rules (read; see [`load`] on what is simulated).
    #[serde(default)]
    pub resource_rules: Option<serde_json::Value>,
}

/// One discovery rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRule {
    /// `seriesQuery`.
    pub series_query: String,
    /// `seriesFilters`.
    #[serde(default)]
    pub series_filters: Vec<RawFilter>,
    /// `resources`.
    #[serde(default)]
    pub resources: Option<RawResources>,
    /// `name`.
    #[serde(default)]
    pub name: Option<RawName>,
    /// `metricsQuery`.
    pub metrics_query: String,
}

/// `seriesFilters[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawFilter {
    /// `is`.
    #[serde(default)]
    pub is: Option<String>,
    /// `isNot`.
    #[serde(default)]
    pub is_not: Option<String>,
}

/// `resources`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawResources {
    /// `overrides`: label → resource.
    #[serde(default)]
    pub overrides: BTreeMap<String, RawGroupResource>,
    /// `template`.
    #[serde(default)]
    pub template: Option<String>,
    /// `namespaced` (external rules).
    #[serde(default)]
    pub namespaced: Option<bool>,
}

/// `{group, resource}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroupResource {
    /// API group (`""` for the core group).
    #[serde(default)]
    pub group: Option<String>,
    /// Resource.
    pub resource: String,
}

/// `name`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawName {
    /// `matches`.
    #[serde(default)]
    pub matches: Option<String>,
    /// `as`.
    #[serde(default, rename = "as")]
    pub as_: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawConfigMap {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

/// A loaded adapter configuration and what the user should know about it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The rules as the core uses them.
    pub config: AdapterConfig,
    /// Remarks (ignored parts).
    pub warnings: Vec<String>,
}

/// Reads a ConfigMap (`data."config.yaml"`, the Helm chart's key, or its
/// only key) or a bare adapter `config.yaml`.
pub fn load(text: &str, file: &str) -> Result<Loaded, LoadErrors> {
    let is_config_map = text.lines().any(|l| l.trim() == "kind: ConfigMap");
    let (inner, offset) = if is_config_map {
        let cm: RawConfigMap = yaml::from_str(text, file)?;
        let key = if cm.data.contains_key("config.yaml") {
            "config.yaml".to_owned()
        } else if cm.data.len() == 1 {
            cm.data.keys().next().cloned().unwrap_or_default()
        } else {
            return Err(LoadErrors(vec![LoadError {
                file: file.to_owned(),
                line: yaml::line_of(text, "data"),
                column: None,
                field: Some("data".into()),
                message: "expected the adapter configuration under data.\"config.yaml\"".into(),
            }]));
        };
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{key}:")))
            .map_or(0, |i| i + 1);
        (cm.data.get(&key).cloned().unwrap_or_default(), line)
    } else {
        (text.to_owned(), 0)
    };
    let shift = |mut e: LoadErrors| {
        for x in &mut e.0 {
            x.line = x.line.map(|l| l + offset);
        }
        e
    };
    let raw: RawAdapterConfig = yaml::from_str(&inner, file).map_err(shift)?;
    let mut errs = Vec::new();
    let at = |field: &str| yaml::line_of(&inner, field).map(|l| l + offset);
    let mut err = |field: String, column: Option<usize>, message: String| {
        errs.push(LoadError {
            file: file.to_owned(),
            line: at(&field),
            column,
            field: Some(field),
            message,
        });
    };
    let rules_of =
        |list: &[RawRule], key: &str, err: &mut dyn FnMut(String, Option<usize>, String)| {
            let mut out = Vec::new();
            for (i, r) in list.iter().enumerate() {
                let p = format!("{key}[{i}]");
                if let Some(rule) = rule(r, &p, err) {
                    out.push(rule);
                }
            }
            out
        };
    let rules = rules_of(&raw.rules, "rules", &mut err);
    let external_rules = rules_of(&raw.external_rules, "externalRules", &mut err);
    let mut warnings = Vec::new();
    if raw.resource_rules.is_some() {
        warnings.push(format!(
            "{file}: resourceRules are not simulated: Resource metrics (cpu, memory) come from the metrics-server model"
        ));
    }
    if rules.is_empty() && external_rules.is_empty() && errs.is_empty() {
        warnings.push(format!("{file}: the adapter configuration has no rules"));
    }
    if errs.is_empty() {
        Ok(Loaded {
            config: AdapterConfig {
                rules,
                external_rules,
            },
            warnings,
        })
    } else {
        Err(LoadErrors(errs))
    }
}

fn regex(s: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(s).map_err(|e| format!("invalid regular expression {s:?}: {e}"))
}

/// `seriesFilters`: each an `is` or an `isNot` regular expression.
fn series_filters(
    r: &RawRule,
    p: &str,
    err: &mut dyn FnMut(String, Option<usize>, String),
    ok: &mut bool,
) -> Vec<(regex_lite::Regex, bool)> {
    let mut filters = Vec::new();
    for (j, f) in r.series_filters.iter().enumerate() {
        let fp = format!("{p}.seriesFilters[{j}]");
        match (&f.is, &f.is_not) {
            (Some(a), None) => match regex(a) {
                Ok(re) => filters.push((re, true)),
                Err(e) => {
                    err(format!("{fp}.is"), None, e);
                    *ok = false;
                }
            },
            (None, Some(a)) => match regex(a) {
                Ok(re) => filters.push((re, false)),
                Err(e) => {
                    err(format!("{fp}.isNot"), None, e);
                    *ok = false;
                }
            },
            _ => {
                err(
                    fp,
                    None,
                    "must have either an `is` or an `isNot` expression, not both".into(),
                );
                *ok = false;
            }
        }
    }
    filters
}

/// `name`: the `matches` regular expression (`.*` by default) and the
/// `as` template (`$0`, or `$1` with one capture group, by default).
fn name_mapping(
    r: &RawRule,
    p: &str,
    err: &mut dyn FnMut(String, Option<usize>, String),
    ok: &mut bool,
) -> Option<(regex_lite::Regex, String)> {
    let m = r.name.as_ref().and_then(|n| n.matches.clone());
    let re = match regex(m.as_deref().unwrap_or(".*")) {
        Ok(re) => re,
        Err(e) => {
            err(format!("{p}.name.matches"), None, e);
            return None;
        }
    };
    let as_ = match r.name.as_ref().and_then(|n| n.as_.clone()) {
        Some(a) if !a.is_empty() => a,
        _ => match re.captures_len() {
            1 => "$0".into(),
            2 => "$1".into(),
            _ => {
                err(
                    format!("{p}.name"),
                    None,
                    format!(
                        "must specify an 'as' value for name matcher {:?}",
                        m.unwrap_or_default()
                    ),
                );
                *ok = false;
                String::new()
            }
        },
    };
    Some((re, as_))
}

fn rule(r: &RawRule, p: &str, err: &mut dyn FnMut(String, Option<usize>, String)) -> Option<Rule> {
    let mut ok = true;
    let series_query = match promql::parse_selector(&r.series_query) {
        Ok(s) => Some(s),
        Err(e) => {
            err(
                format!("{p}.seriesQuery"),
                None,
                format!("{} in {:?}", e, r.series_query),
            );
            ok = false;
            None
        }
    };
    let filters = series_filters(r, p, err, &mut ok);
    let (name_matches, name_as) = name_mapping(r, p, err, &mut ok)?;
    let metrics_query = match Template::parse(&r.metrics_query) {
        Ok(t) => Some(t),
        Err(e) => {
            err(format!("{p}.metricsQuery"), None, e);
            ok = false;
            None
        }
    };
    let mut resources = ResourceMapping::default();
    if let Some(res) = &r.resources {
        for (label, gr) in &res.overrides {
            resources.overrides.push((
                label.clone(),
                gr.group.clone().unwrap_or_default(),
                gr.resource.clone(),
            ));
        }
        if let Some(t) = &res.template {
            match Template::parse(t) {
                Ok(t) => resources.template = Some(t),
                Err(e) => {
                    err(format!("{p}.resources.template"), None, e);
                    ok = false;
                }
            }
        }
    }
    if let Some(mq) = &metrics_query {
        // Expand with placeholders and parse, so a query that cannot work
        // is refused here rather than failing every HPA sync.
        let probe = mq.render(&nimscale_core::metrics::adapter::TemplateArgs {
            series: "nimscale_probe".into(),
            label_matchers: "namespace=\"ns\"".into(),
            group_by: "pod".into(),
            group_by_slice: vec!["pod".into()],
            ..Default::default()
        });
        if let Err(e) = promql::parse(&probe) {
            err(
                format!("{p}.metricsQuery"),
                None,
                format!("the query does not parse once expanded ({e}): {probe}"),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(Rule {
        series_query: series_query?,
        filters,
        resources,
        name_matches,
        name_as,
        metrics_query: metrics_query?,
        metrics_query_text: r.metrics_query.clone(),
        namespaced: r.resources.as_ref().and_then(|x| x.namespaced) != Some(false),
    })
}

/// The rules nimscale writes for a NIMService's HPA (what `export` puts in
/// `adapter-rules.yaml`), as a loaded configuration.
pub fn generated(rules: &nimscale_operator::adapter::AdapterRules) -> Result<Loaded, LoadErrors> {
    let value = serde_json::json!({
        "rules": rules.rules,
        "externalRules": rules.external_rules,
    });
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    // An HPA on CPU or memory alone needs no rules: nothing to remark.
    load(&text, "<rules nimscale generates>").map(|mut l| {
        l.warnings.retain(|w| !w.ends_with("has no rules"));
        l
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_errors_name_the_outer_line_and_field() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prometheus-adapter\ndata:\n  config.yaml: |\n    rules:\n    - seriesQuery: 'foo{namespace!=\"\"'\n      metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'\n    - seriesQuery: 'bar'\n      name: {matches: '(a)(b)'}\n      metricsQuery: '<<range .X>>'\n";
        let e = load(text, "adapter.yaml").unwrap_err();
        let shown: Vec<String> = e.0.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with("adapter.yaml:8: rules[0].seriesQuery: parse error at column 18"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("adapter.yaml:11: rules[1].name: must specify an 'as' value"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2]
                .starts_with("adapter.yaml:12: rules[1].metricsQuery: unsupported template action"),
            "{}",
            shown[2]
        );
        let e = load("rules:\n- seriesQuery: x\n  metricQuery: y\n", "a.yaml").unwrap_err();
        assert!(e.to_string().starts_with("a.yaml:3:"), "{e}");
        assert!(e.to_string().contains("metricQuery"), "{e}");
    }

    #[test]
    fn bare_config_loads() {
        let l = load(
            "rules:\n- seriesQuery: 'gpu_cache_usage_perc{namespace!=\"\",pod!=\"\"}'\n  resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, service: {resource: service}}}\n  name: {matches: '^gpu_cache_usage_perc$', as: 'gpu_cache_usage_perc'}\n  metricsQuery: 'avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'\nresourceRules: {cpu: {}}\n",
            "a.yaml",
        )
        .unwrap();
        assert_eq!(l.config.rules.len(), 1);
        assert_eq!(l.warnings.len(), 1);
    }
}
