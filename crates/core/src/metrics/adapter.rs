//! prometheus-adapter: the rules of the user's ConfigMap (`rules`,
//! `externalRules`), series discovery on each relist, and the custom and
//! external metrics APIs the HPA calls, following
//! `pkg/naming/metrics_query.go`, `metric_namer.go` and the custom and
//! external providers.
//!
//! - A relist runs every rule's `seriesQuery` over the last relist interval,
//!   keeps series that pass `seriesFilters` and `name.matches`, names them
//!   with `name.as`, and records which resources each series' labels map to.
//!   Only metrics found there are served (a new metric waits for a relist).
//! - A request expands `metricsQuery` (`<<.Series>>`, `<<.LabelMatchers>>`:
//!   the metric selector's requirements, then `namespace="…"`, then the
//!   resource label `=` one name or `=~"a|b"` several; `<<.GroupBy>>`: the
//!   resource label), runs it as an instant query at the request time, and
//!   matches result samples to objects by the resource label.
//! - Values become `int64(v × 1000)` milli-units; NaN is served as 0 for
//!   custom metrics and converted as Go does on x86-64 for external ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::labels::Labels;
use super::promql::{self, EvalOptions, Value, ast::Selector, eval::Reads};
use super::tsdb::Tsdb;
use crate::hpa::api::LabelSelector;

/// A `metricsQuery` / `resources.template` Go template (delimiters `<<`, `>>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Template(Vec<Piece>);

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Series,
    LabelMatchers,
    GroupBy,
    GroupBySlice,
    LabelValue(String),
    Group,
    Resource,
}

/// The values a template can refer to.
#[derive(Clone, Debug, Default)]
pub struct TemplateArgs {
    /// `.Series`
    pub series: String,
    /// `.LabelMatchers`
    pub label_matchers: String,
    /// `.GroupBy`
    pub group_by: String,
    /// `.GroupBySlice`
    pub group_by_slice: Vec<String>,
    /// `.LabelValuesByName`
    pub values_by_name: BTreeMap<String, String>,
    /// `.Group` (resource templates)
    pub group: String,
    /// `.Resource` (resource templates)
    pub resource: String,
}

impl Template {
    /// Parses a template; actions other than the fields nimscale knows are
    /// refused with their text.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = s;
        let mut text = String::new();
        while let Some(i) = rest.find("<<") {
            text.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find(">>") else {
                return Err(format!("unclosed action in template {s:?}"));
            };
            let mut inner = &after[..j];
            if let Some(x) = inner.strip_prefix('-') {
                inner = x;
                let t = text.trim_end().len();
                text.truncate(t);
            }
            let trim_after = inner.ends_with('-');
            if trim_after {
                inner = &inner[..inner.len() - 1];
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            let words: Vec<&str> = inner.split_whitespace().collect();
            pieces.push(match words.as_slice() {
                [".Series"] => Piece::Series,
                [".LabelMatchers"] => Piece::LabelMatchers,
                [".GroupBy"] => Piece::GroupBy,
                [".GroupBySlice"] => Piece::GroupBySlice,
                [".Group"] => Piece::Group,
                [".Resource"] => Piece::Resource,
                ["index", ".LabelValuesByName", key]
                    if key.len() >= 2 && key.starts_with('"') && key.ends_with('"') =>
                {
                    Piece::LabelValue(key[1..key.len() - 1].to_owned())
                }
                _ => {
                    return Err(format!(
                        "unsupported template action \"<<{inner}>>\" (nimscale understands .Series, .LabelMatchers, .GroupBy, .GroupBySlice, .Group, .Resource and index .LabelValuesByName \"label\")"
                    ));
                }
            });
            rest = &after[j + 2..];
            if trim_after {
                rest = rest.trim_start();
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template(pieces))
    }

    /// Expands the template.
    pub fn render(&self, a: &TemplateArgs) -> String {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::Series => s.push_str(&a.series),
                Piece::LabelMatchers => s.push_str(&a.label_matchers),
                Piece::GroupBy => s.push_str(&a.group_by),
                Piece::GroupBySlice => {
                    let _ = write!(s, "[{}]", a.group_by_slice.join(" "));
                }
                Piece::LabelValue(k) => {
                    s.push_str(a.values_by_name.get(k).map_or("", String::as_str))
                }
                Piece::Group => s.push_str(&a.group),
                Piece::Resource => s.push_str(&a.resource),
            }
        }
        s
    }
}

/// Kubernetes resource names the way the adapter's RESTMapper normalises
/// them: lower case, singular (`services`, `Service` → `service`).
pub fn singular(resource: &str) -> String {
    let r = resource.to_ascii_lowercase();
    match r.as_str() {
        "pods" | "services" | "namespaces" | "nodes" | "deployments" | "replicasets"
        | "statefulsets" | "daemonsets" | "jobs" | "nimservices" => r[..r.len() - 1].to_owned(),
        "ingresses" => "ingress".into(),
        _ => r,
    }
}

/// `resources`: how series labels map to Kubernetes resources.
#[derive(Clone, Debug, Default)]
pub struct ResourceMapping {
    /// `overrides`: label → (group, resource).
    pub overrides: Vec<(String, String, String)>,
    /// `template`.
    pub template: Option<Template>,
}

/// Resources a `resources.template` is tried against when discovering
/// which labels name resources.
const KNOWN: [(&str, &str); 5] = [
    ("", "namespace"),
    ("", "pod"),
    ("", "service"),
    ("", "node"),
    ("apps", "deployment"),
];

impl ResourceMapping {
    /// The label that names `resource` (`LabelForResource`).
    pub fn label_for(&self, group: &str, resource: &str) -> Option<String> {
        let r = singular(resource);
        if let Some((l, _, _)) = self
            .overrides
            .iter()
            .find(|(_, g, res)| singular(res) == r && g == group)
        {
            return Some(l.clone());
        }
        self.template.as_ref().map(|t| {
            t.render(&TemplateArgs {
                group: group.to_owned(),
                resource: r,
                ..TemplateArgs::default()
            })
        })
    }

    /// The resource a label names, if any.
    pub fn resource_for(&self, label: &str) -> Option<(String, String)> {
        if let Some((_, g, r)) = self.overrides.iter().find(|(l, _, _)| l == label) {
            return Some((g.clone(), singular(r)));
        }
        KNOWN
            .iter()
            .find(|(g, r)| self.label_for(g, r).as_deref() == Some(label))
            .map(|(g, r)| ((*g).to_owned(), (*r).to_owned()))
    }
}

/// One discovery rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `seriesQuery` parsed.
    pub series_query: Selector,
    /// `seriesFilters` (`is`: true, `isNot`: false).
    pub filters: Vec<(regex_lite::Regex, bool)>,
    /// `resources`.
    pub resources: ResourceMapping,
    /// `name.matches` (default `.*`).
    pub name_matches: regex_lite::Regex,
    /// `name.as` (default `$0`, or `$1` with one capture group).
    pub name_as: String,
    /// `metricsQuery`.
    pub metrics_query: Template,
    /// `metricsQuery` as written (for lints and messages).
    pub metrics_query_text: String,
    /// `resources.namespaced` (external rules): `false` leaves the
    /// request's namespace out of the query.
    pub namespaced: bool,
}

/// The adapter's configuration (the ConfigMap's `config.yaml`).
#[derive(Clone, Debug, Default)]
pub struct AdapterConfig {
    /// `rules` (custom metrics).
    pub rules: Vec<Rule>,
    /// `externalRules`.
    pub external_rules: Vec<Rule>,
}

/// Go's `regexp.Expand` of `name.as` for one match.
pub fn expand_name(re: &regex_lite::Regex, template: &str, src: &str) -> Option<String> {
    let caps = re.captures(src)?;
    let mut out = String::new();
    let mut chars = template.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let name: String = if chars.peek().map(|x| x.1) == Some('{') {
            chars.next();
            let mut n = String::new();
            for (_, x) in chars.by_ref() {
                if x == '}' {
                    break;
                }
                n.push(x);
            }
            n
        } else if chars.peek().map(|x| x.1) == Some('$') {
            chars.next();
            out.push('$');
            continue;
        } else {
            let mut n = String::new();
            while let Some((_, x)) = chars.peek() {
                if x.is_ascii_alphanumeric() || *x == '_' {
                    n.push(*x);
                    chars.next();
                } else {
                    break;
                }
            }
            n
        };
        let m = match name.parse::<usize>() {
            Ok(i) => caps.get(i),
            Err(_) => caps.name(&name),
        };
        out.push_str(m.map_or("", |m| m.as_str()));
    }
    Some(out)
}

impl Rule {
    fn admits(&self, name: &str) -> bool {
        self.filters
            .iter()
            .all(|(re, pos)| re.is_match(name) == *pos)
            && self.name_matches.is_match(name)
    }

    /// The API name of a series (`MetricNameForSeries`).
    pub fn metric_name(&self, series: &str) -> Option<String> {
        expand_name(&self.name_matches, &self.name_as, series)
    }
}

/// What a relist found: which metric names are served, for which resources,
/// by which rule and source series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    /// `(metric, resource)` → (rule index, series name).
    pub custom: BTreeMap<(String, String), (usize, String)>,
    /// External metric → (rule index, series name).
    pub external: BTreeMap<String, (usize, String)>,
}

/// An error as the metrics APIs word it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError(pub String);

/// Go's `int64(f)` on x86-64 (out of range and NaN give `MinInt64`).
pub fn go_int64(f: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// The adapter's milli conversion for custom metrics (NaN → 0).
pub fn custom_milli(v: f64) -> i64 {
    if v.is_nan() { 0 } else { go_int64(v * 1000.0) }
}

/// The adapter's milli conversion for external metrics.
pub fn external_milli(v: f64) -> i64 {
    go_int64(v * 1000.0)
}

fn plural(resource: &str) -> String {
    match resource {
        "ingress" => "ingresses".into(),
        r => format!("{r}s"),
    }
}

/// `LabelSelectorAsSelector` then the adapter's `processQueryParts`:
/// `key="v"`, `key=~"a|b"`, `key!="v"`, `key!~"a|b"` per requirement,
/// sorted by key.
pub fn selector_matchers(
    sel: Option<&LabelSelector>,
) -> Result<(Vec<String>, BTreeMap<String, String>), ApiError> {
    let mut reqs: Vec<(String, &str, Vec<String>)> = Vec::new();
    if let Some(s) = sel {
        for (k, v) in s.match_labels.iter().flatten() {
            reqs.push((k.clone(), "Equals", vec![v.clone()]));
        }
        for e in s.match_expressions.iter().flatten() {
            let mut vals = e.values.clone().unwrap_or_default();
            vals.sort();
            vals.dedup();
            reqs.push((e.key.clone(), e.operator.as_str(), vals));
        }
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut exprs = Vec::new();
    let mut by_name = BTreeMap::new();
    for (k, op, vals) in reqs {
        let joined = vals.join("|");
        let m = match (op, vals.len()) {
            ("Exists", 0) => format!("{k}!=\"\""),
            ("DoesNotExist", 0) => format!("{k}=\"\""),
            ("Equals", 1) => format!("{k}=\"{joined}\""),
            ("In", 1) => format!("{k}=~\"{joined}\""),
            ("NotIn", 1) => format!("{k}!~\"{joined}\""),
            ("Equals" | "In", n) if n > 1 => format!("{k}=~\"{joined}\""),
            ("NotIn", n) if n > 1 => format!("{k}!~\"{joined}\""),
            _ => {
                return Err(ApiError(format!(
                    "unable to build the query for selector requirement {k} {op} {vals:?}: operator not supported by query builder"
                )));
            }
        };
        exprs.push(m);
        by_name.insert(k, joined);
    }
    Ok((exprs, by_name))
}

/// Everything one adapter request needs besides the rules.
pub struct Request<'a> {
    /// The store Prometheus answers from.
    pub db: &'a Tsdb,
    /// Query time (ms).
    pub now_ms: i64,
    /// Evaluation rules.
    pub opts: EvalOptions,
    /// The HPA's namespace.
    pub namespace: &'a str,
}

impl AdapterConfig {
    /// A relist: series with samples in `[from_ms, to_ms]` matched against
    /// every rule (`updateMetrics` + `SetSeries`).
    pub fn discover(&self, db: &Tsdb, from_ms: i64, to_ms: i64) -> Registry {
        let mut names: Vec<&Labels> = Vec::new();
        for s in db.iter() {
            let smp = s.samples();
            if smp.back().is_some_and(|(t, _)| *t >= from_ms)
                && smp.front().is_some_and(|(t, _)| *t <= to_ms)
            {
                names.push(&s.labels);
            }
        }
        self.discover_from(names)
    }

    /// Discovery over given label sets (also used to seed a "warm" adapter
    /// with the series a NIM exposes).
    pub fn discover_from<'a>(&self, series: impl IntoIterator<Item = &'a Labels>) -> Registry {
        let series: Vec<&Labels> = series.into_iter().collect();
        // (rule index, series labels, API metric name) of every series a
        // rule's seriesQuery, filters and name.matches admit.
        let named = |rules: &[Rule]| {
            let mut out = Vec::new();
            for (i, rule) in rules.iter().enumerate() {
                for l in &series {
                    let selected = rule
                        .series_query
                        .matchers
                        .iter()
                        .all(|m| m.matches(l.get(&m.name)));
                    if selected
                        && rule.admits(l.name())
                        && let Some(metric) = rule.metric_name(l.name())
                    {
                        out.push((i, *l, metric));
                    }
                }
            }
            out
        };
        let mut reg = Registry::default();
        for (i, l, metric) in named(&self.rules) {
            for (label, _) in l.pairs() {
                if let Some((_, res)) = self.rules[i].resources.resource_for(label) {
                    reg.custom
                        .insert((metric.clone(), res), (i, l.name().to_owned()));
                }
            }
        }
        for (i, l, metric) in named(&self.external_rules) {
            reg.external.insert(metric, (i, l.name().to_owned()));
        }
        reg
    }

    /// The query the adapter runs for a custom metric over `names` of
    /// `resource` (`QueryForMetric` → `Build`).
    pub fn custom_query(
        &self,
        reg: &Registry,
        metric: &str,
        resource: &str,
        namespace: &str,
        names: &[&str],
        selector: Option<&LabelSelector>,
    ) -> Result<(String, String), ApiError> {
        let res = singular(resource);
        let not_found = || {
            ApiError(format!(
                "the server could not find the metric {metric} for {}",
                plural(&res)
            ))
        };
        let (rule_i, series) = reg
            .custom
            .get(&(metric.to_owned(), res.clone()))
            .ok_or_else(not_found)?;
        let rule = &self.rules[*rule_i];
        let (mut exprs, mut by_name) = selector_matchers(selector)?;
        if !namespace.is_empty() {
            let ns = rule
                .resources
                .label_for("", "namespace")
                .ok_or_else(not_found)?;
            exprs.push(format!("{ns}=\"{namespace}\""));
            by_name.insert(ns, namespace.to_owned());
        }
        let label = rule.resources.label_for("", &res).ok_or_else(not_found)?;
        let target = names.join("|");
        exprs.push(if names.len() > 1 {
            format!("{label}=~\"{target}\"")
        } else {
            format!("{label}=\"{target}\"")
        });
        by_name.insert(label.clone(), target);
        let args = TemplateArgs {
            series: series.clone(),
            label_matchers: exprs.join(","),
            group_by: label.clone(),
            group_by_slice: vec![label.clone()],
            values_by_name: by_name,
            ..TemplateArgs::default()
        };
        let q = rule.metrics_query.render(&args);
        if q.is_empty() {
            return Err(ApiError(
                "empty query produced by metrics query template".into(),
            ));
        }
        Ok((q, label))
    }

    fn run(
        &self,
        req: &Request<'_>,
        query: &str,
    ) -> Result<(Vec<promql::Sample>, Reads), ApiError> {
        let internal = || ApiError("Internal error occurred: unable to fetch metrics".into());
        let expr = promql::parse(query).map_err(|_| internal())?;
        match promql::eval_instant(req.db, &expr, req.now_ms, req.opts) {
            Ok((Value::Vector(v), reads)) => Ok((v, reads)),
            _ => Err(internal()),
        }
    }

    /// A custom metric of one object (`getSingle`): Object metrics.
    pub fn custom_single(
        &self,
        reg: &Registry,
        req: &Request<'_>,
        metric: &str,
        resource: &str,
        name: &str,
        selector: Option<&LabelSelector>,
    ) -> Result<(f64, Reads), ApiError> {
        let (q, label) =
            self.custom_query(reg, metric, resource, req.namespace, &[name], selector)?;
        let (v, reads) = self.run(req, &q)?;
        let not_found = || {
            ApiError(format!(
                "the server could not find the metric {metric} for {} {name}",
                plural(&singular(resource))
            ))
        };
        if v.is_empty() {
            return Err(not_found());
        }
        // MatchValuesToNames: a map by the resource label, later samples
        // overwrite earlier ones.
        let mut found = None;
        for s in &v {
            if s.labels.get(&label) == name {
                found = Some(s.value);
            }
        }
        found.map(|f| (f, reads)).ok_or_else(not_found)
    }

    /// A custom metric of several objects (`getMultiple`): Pods metrics.
    /// Returns `(name, value)` for the listed objects the query returned.
    pub fn custom_multi(
        &self,
        reg: &Registry,
        req: &Request<'_>,
        metric: &str,
        resource: &str,
        names: &[&str],
        selector: Option<&LabelSelector>,
    ) -> Result<(Vec<(String, f64)>, Reads), ApiError> {
        let (q, label) =
            self.custom_query(reg, metric, resource, req.namespace, names, selector)?;
        let (v, reads) = self.run(req, &q)?;
        let mut by_name: BTreeMap<&str, f64> = BTreeMap::new();
        for s in &v {
            by_name.insert(s.labels.get(&label), s.value);
        }
        let out = names
            .iter()
            .filter_map(|n| by_name.get(n).map(|v| ((*n).to_owned(), *v)))
            .collect();
        Ok((out, reads))
    }

    /// An external metric: every sample the query returns.
    pub fn external(
        &self,
        reg: &Registry,
        req: &Request<'_>,
        metric: &str,
        selector: Option<&LabelSelector>,
    ) -> Result<(Vec<f64>, Reads), ApiError> {
        let (rule_i, series) = reg.external.get(metric).ok_or_else(|| {
            ApiError(format!(
                "the server could not find the requested resource (get {metric}.external.metrics.k8s.io)"
            ))
        })?;
        let rule = &self.external_rules[*rule_i];
        let (mut exprs, mut by_name) = selector_matchers(selector)?;
        if rule.namespaced
            && !req.namespace.is_empty()
            && let Some(ns) = rule.resources.label_for("", "namespace")
        {
            exprs.push(format!("{ns}=\"{}\"", req.namespace));
            by_name.insert(ns, req.namespace.to_owned());
        }
        let args = TemplateArgs {
            series: series.clone(),
            label_matchers: exprs.join(","),
            values_by_name: by_name,
            ..TemplateArgs::default()
        };
        let (v, reads) = self.run(req, &rule.metrics_query.render(&args))?;
        Ok((v.into_iter().map(|s| s.value).collect(), reads))
    }

    /// The longest range plus offset any metricsQuery can read (for
    /// retention), found by expanding each template with placeholders.
    pub fn max_range_ms(&self) -> i64 {
        let args = TemplateArgs {
            series: "x".into(),
            label_matchers: "a=\"b\"".into(),
            group_by: "a".into(),
            group_by_slice: vec!["a".into()],
            ..TemplateArgs::default()
        };
        let mut max = 0;
        for r in self.rules.iter().chain(&self.external_rules) {
            if let Ok(e) = promql::parse(&r.metrics_query.render(&args)) {
                max = max.max(promql::ast::max_window_ms(&e));
            }
        }
        max
    }

    /// Whether a scraped series name can matter to any rule: named by a
    /// `seriesQuery`, or written literally in a `metricsQuery`.
    pub fn reads_name(&self, name: &str) -> bool {
        self.rules.iter().chain(&self.external_rules).any(|r| {
            let by_query = r
                .series_query
                .matchers
                .iter()
                .filter(|m| m.name == super::labels::NAME)
                .all(|m| m.matches(name));
            by_query
                || r.metrics_query.0.iter().any(|p| match p {
                    Piece::Text(t) => contains_word(t, name),
                    _ => false,
                })
        })
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests;
