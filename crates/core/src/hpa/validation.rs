//! API validation and defaulting of an `autoscaling/v2` HPA spec
//! (`pkg/apis/autoscaling/validation`, hpa-algorithm §13), reporting every
//! problem at once with the API server's messages, then conversion into the
//! controller's [`HpaSpec`].

use std::fmt;

use super::api;
use super::spec::{
    Behavior, HpaSpec, MetricId, MetricSpec, MetricTarget, ObjectRef, PolicyType, ScalingPolicy,
    ScalingRules, SelectPolicy, TargetType,
};
use crate::quantity::Quantity;

/// The kind of a field error, as `k8s.io/apimachinery/pkg/util/validation/field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value: <value>`.
    Invalid(String),
    /// `Unsupported value: <value>: supported values: …`.
    NotSupported(String, Vec<&'static str>),
    /// `Forbidden`.
    Forbidden,
}

/// One validation error at a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `spec.behavior.scaleUp.policies[0].value`.
    pub path: String,
    /// Kind (and offending value).
    pub kind: FieldErrorKind,
    /// Detail message.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        match &self.kind {
            FieldErrorKind::Required => f.write_str("Required value")?,
            FieldErrorKind::Forbidden => f.write_str("Forbidden")?,
            FieldErrorKind::Invalid(v) => write!(f, "Invalid value: {v}")?,
            FieldErrorKind::NotSupported(v, list) => {
                let l: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
                return write!(
                    f,
                    "Unsupported value: {v}: supported values: {}",
                    l.join(", ")
                );
            }
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Options that change validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Feature gate HPAScaleToZero: `minReplicas: 0` allowed.
    pub scale_to_zero: bool,
    /// Validate `scaleTargetRef` (a whole HPA object; not a NIMService block).
    pub require_scale_target_ref: bool,
}

struct Errs(Vec<FieldError>);

impl Errs {
    fn push(&mut self, path: String, kind: FieldErrorKind, detail: impl Into<String>) {
        self.0.push(FieldError {
            path,
            kind,
            detail: detail.into(),
        });
    }
    fn required(&mut self, path: String, detail: &str) {
        self.push(path, FieldErrorKind::Required, detail);
    }
    fn invalid(&mut self, path: String, value: impl fmt::Display, detail: impl Into<String>) {
        self.push(path, FieldErrorKind::Invalid(value.to_string()), detail);
    }
    fn forbidden(&mut self, path: String, detail: &str) {
        self.push(path, FieldErrorKind::Forbidden, detail);
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn path_segment_errors(name: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if name == "." {
        out.push("may not be '.'");
    } else if name == ".." {
        out.push("may not be '..'");
    }
    if name.contains('/') {
        out.push("may not contain '/'");
    }
    if name.contains('%') {
        out.push("may not contain '%'");
    }
    out
}

fn validate_ref(
    r: &api::CrossVersionObjectReference,
    path: &str,
    require_group: bool,
    e: &mut Errs,
) {
    for (field, v) in [("kind", &r.kind), ("name", &r.name)] {
        if v.is_empty() {
            e.required(format!("{path}.{field}"), "");
        } else {
            for m in path_segment_errors(v) {
                e.invalid(format!("{path}.{field}"), quoted(v), m);
            }
        }
    }
    let av = r.api_version.clone().unwrap_or_default();
    let parts: Vec<&str> = av.split('/').collect();
    let group = match parts.len() {
        1 => "",
        2 => parts[0],
        _ => {
            e.invalid(
                format!("{path}.apiVersion"),
                quoted(&av),
                format!("unexpected GroupVersion string: {av}"),
            );
            return;
        }
    };
    if require_group && group.is_empty() && r.kind != "ReplicationController" {
        e.invalid(
            format!("{path}.apiVersion"),
            quoted(&av),
            "apiVersion must specify API group",
        );
    }
}

fn validate_id(id: &api::MetricIdentifier, path: &str, e: &mut Errs) {
    if id.name.is_empty() {
        e.required(format!("{path}.name"), "must specify a metric name");
    } else {
        for m in path_segment_errors(&id.name) {
            e.invalid(format!("{path}.name"), quoted(&id.name), m);
        }
    }
}

fn positive(q: &Quantity) -> bool {
    !q.is_zero() && !q.is_negative()
}

fn validate_target(t: &api::MetricTarget, path: &str, e: &mut Errs) {
    if t.type_.is_empty() {
        e.required(format!("{path}.type"), "must specify a metric target type");
    }
    if !matches!(t.type_.as_str(), "Utilization" | "Value" | "AverageValue") {
        e.invalid(
            format!("{path}.type"),
            quoted(&t.type_),
            "must be either Utilization, Value, or AverageValue",
        );
    }
    if let Some(v) = &t.value
        && !positive(v)
    {
        e.invalid(
            format!("{path}.value"),
            quoted(&v.canonical()),
            "must be positive",
        );
    }
    if let Some(v) = &t.average_value
        && !positive(v)
    {
        e.invalid(
            format!("{path}.averageValue"),
            quoted(&v.canonical()),
            "must be positive",
        );
    }
    if let Some(u) = t.average_utilization
        && u < 1
    {
        e.invalid(
            format!("{path}.averageUtilization"),
            u,
            "must be greater than 0",
        );
    }
}

const SOURCE_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

fn validate_metric(m: &api::MetricSpec, path: &str, e: &mut Errs) {
    if m.type_.is_empty() {
        e.required(format!("{path}.type"), "must specify a metric source type");
    } else if !SOURCE_TYPES.contains(&m.type_.as_str()) {
        e.push(
            format!("{path}.type"),
            FieldErrorKind::NotSupported(quoted(&m.type_), SOURCE_TYPES.to_vec()),
            "",
        );
    }
    let mut present: Vec<&str> = Vec::new();
    if let Some(o) = &m.object {
        present.push("object");
        if present.len() == 1 {
            validate_object_source(o, &format!("{path}.object"), e);
        }
    }
    if let Some(x) = &m.external {
        present.push("external");
        if present.len() == 1 {
            validate_external_source(x, &format!("{path}.external"), e);
        }
    }
    if let Some(x) = &m.pods {
        present.push("pods");
        if present.len() == 1 {
            validate_pods_source(x, &format!("{path}.pods"), e);
        }
    }
    if let Some(x) = &m.resource {
        present.push("resource");
        if present.len() == 1 {
            validate_resource_target(&x.name, &x.target, &format!("{path}.resource"), e);
        }
    }
    if let Some(x) = &m.container_resource {
        present.push("containerResource");
        if present.len() == 1 {
            let p = format!("{path}.containerResource");
            validate_resource_target(&x.name, &x.target, &p, e);
            if x.container.is_empty() {
                e.required(format!("{p}.container"), "must specify a container");
            }
        }
    }
    let expected = match m.type_.as_str() {
        "Object" => Some(("object", m.object.is_some())),
        "Pods" => Some(("pods", m.pods.is_some())),
        "Resource" => Some(("resource", m.resource.is_some())),
        "ContainerResource" => Some(("containerResource", m.container_resource.is_some())),
        "External" => Some(("external", m.external.is_some())),
        _ => None,
    };
    if let Some((field, there)) = expected
        && !there
    {
        e.required(
            format!("{path}.{field}"),
            "must populate information for the given metric source",
        );
    }
    if present.len() != 1 {
        for p in present {
            if Some(p) != expected.map(|x| x.0) {
                e.forbidden(
                    format!("{path}.{p}"),
                    "must populate the given metric source only",
                );
            }
        }
    }
}

/// `validateObjectSource`.
fn validate_object_source(o: &api::ObjectMetricSource, p: &str, e: &mut Errs) {
    validate_ref(
        &o.described_object,
        &format!("{p}.describedObject"),
        false,
        e,
    );
    validate_id(&o.metric, &format!("{p}.metric"), e);
    validate_target(&o.target, &format!("{p}.target"), e);
    if o.target.value.is_none() && o.target.average_value.is_none() {
        e.required(
            format!("{p}.target.averageValue"),
            "must set either a target value or averageValue",
        );
    }
}

/// `validateExternalSource`.
fn validate_external_source(x: &api::ExternalMetricSource, p: &str, e: &mut Errs) {
    validate_id(&x.metric, &format!("{p}.metric"), e);
    validate_target(&x.target, &format!("{p}.target"), e);
    if x.target.value.is_none() && x.target.average_value.is_none() {
        e.required(
            format!("{p}.target.averageValue"),
            "must set either a target value for metric or a per-pod target",
        );
    }
    if x.target.value.is_some() && x.target.average_value.is_some() {
        e.forbidden(
            format!("{p}.target.value"),
            "may not set both a target value for metric and a per-pod target",
        );
    }
}

/// `validatePodsSource`.
fn validate_pods_source(x: &api::PodsMetricSource, p: &str, e: &mut Errs) {
    validate_id(&x.metric, &format!("{p}.metric"), e);
    validate_target(&x.target, &format!("{p}.target"), e);
    if x.target.average_value.is_none() {
        e.required(
            format!("{p}.target.averageValue"),
            "must specify a positive target averageValue",
        );
    }
}

/// What `validateResourceSource` and `validateContainerResourceSource`
/// share: the name and the target.
fn validate_resource_target(name: &str, t: &api::MetricTarget, p: &str, e: &mut Errs) {
    if name.is_empty() {
        e.required(format!("{p}.name"), "must specify a resource name");
    }
    validate_target(t, &format!("{p}.target"), e);
    if t.average_utilization.is_none() && t.average_value.is_none() {
        e.required(
            format!("{p}.target.averageUtilization"),
            "must set either a target raw value or a target utilization",
        );
    }
    if t.average_utilization.is_some() && t.average_value.is_some() {
        e.forbidden(
            format!("{p}.target.averageValue"),
            "may not set both a target raw value and a target utilization",
        );
    }
}

fn validate_rules(r: &api::HpaScalingRules, path: &str, e: &mut Errs) {
    if let Some(w) = r.stabilization_window_seconds {
        if w < 0 {
            e.invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                "must be greater than or equal to zero",
            );
        }
        if w > 3600 {
            e.invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                "must be less than or equal to 3600",
            );
        }
    }
    if let Some(s) = &r.select_policy
        && !matches!(s.as_str(), "Max" | "Min" | "Disabled")
    {
        e.push(
            format!("{path}.selectPolicy"),
            FieldErrorKind::NotSupported(quoted(s), vec!["Disabled", "Max", "Min"]),
            "",
        );
    }
    if let Some(ps) = &r.policies {
        if ps.is_empty() {
            e.required(
                format!("{path}.policies"),
                "must specify at least one Policy",
            );
        }
        for (i, p) in ps.iter().enumerate() {
            let pp = format!("{path}.policies[{i}]");
            if !matches!(p.type_.as_str(), "Pods" | "Percent") {
                e.push(
                    format!("{pp}.type"),
                    FieldErrorKind::NotSupported(quoted(&p.type_), vec!["Percent", "Pods"]),
                    "",
                );
            }
            if p.value <= 0 {
                e.invalid(format!("{pp}.value"), p.value, "must be greater than zero");
            }
            if p.period_seconds <= 0 {
                e.invalid(
                    format!("{pp}.periodSeconds"),
                    p.period_seconds,
                    "must be greater than zero",
                );
            }
            if p.period_seconds > 1800 {
                e.invalid(
                    format!("{pp}.periodSeconds"),
                    p.period_seconds,
                    "must be less than or equal to 1800",
                );
            }
        }
    }
    if let Some(t) = &r.tolerance
        && t.is_negative()
    {
        e.invalid(
            format!("{path}.tolerance"),
            quoted(&t.canonical()),
            "must be greater than or equal to 0",
        );
    }
}

/// Validates `spec` (at field path `root`, e.g. `spec` or
/// `spec.scale.hpa`) and returns the controller's view of it, or every error.
pub fn validate_spec(
    spec: &api::HorizontalPodAutoscalerSpec,
    root: &str,
    opts: ValidationOptions,
) -> Result<HpaSpec, Vec<FieldError>> {
    let mut e = Errs(Vec::new());
    let lower = if opts.scale_to_zero { 0 } else { 1 };
    if let Some(min) = spec.min_replicas
        && min < lower
    {
        e.invalid(
            format!("{root}.minReplicas"),
            min,
            format!("must be greater than or equal to {lower}"),
        );
    }
    if spec.max_replicas == 0 {
        e.required(
            format!("{root}.maxReplicas"),
            "must be set and greater than 0",
        );
    } else if spec.max_replicas < 0 {
        e.invalid(
            format!("{root}.maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to 1",
        );
    }
    if let Some(min) = spec.min_replicas
        && spec.max_replicas < min
    {
        e.invalid(
            format!("{root}.maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to `minReplicas`",
        );
    }
    if opts.require_scale_target_ref {
        match &spec.scale_target_ref {
            Some(r) => validate_ref(r, &format!("{root}.scaleTargetRef"), true, &mut e),
            None => e.required(format!("{root}.scaleTargetRef"), ""),
        }
    }
    let mut has_obj_ext = false;
    for (i, m) in spec.metrics.iter().enumerate() {
        validate_metric(m, &format!("{root}.metrics[{i}]"), &mut e);
        has_obj_ext |= m.type_ == "Object" || m.type_ == "External";
    }
    if spec.min_replicas == Some(0) && !has_obj_ext {
        e.forbidden(
            format!("{root}.metrics"),
            "must specify at least one Object or External metric to support scaling to zero replicas",
        );
    }
    if let Some(b) = &spec.behavior {
        if let Some(r) = &b.scale_up {
            validate_rules(r, &format!("{root}.behavior.scaleUp"), &mut e);
        }
        if let Some(r) = &b.scale_down {
            validate_rules(r, &format!("{root}.behavior.scaleDown"), &mut e);
        }
    }
    if !e.0.is_empty() {
        return Err(e.0);
    }
    Ok(convert(spec))
}

fn target(t: &api::MetricTarget) -> MetricTarget {
    MetricTarget {
        type_: match t.type_.as_str() {
            "Utilization" => TargetType::Utilization,
            "Value" => TargetType::Value,
            "AverageValue" => TargetType::AverageValue,
            other => TargetType::Other(other.to_string()),
        },
        value_m: t.value.as_ref().map(Quantity::milli_value),
        average_value_m: t.average_value.as_ref().map(Quantity::milli_value),
        average_utilization: t.average_utilization,
    }
}

fn id(m: &api::MetricIdentifier) -> MetricId {
    MetricId {
        name: m.name.clone(),
        selector: m.selector.clone(),
    }
}

fn rules(r: &api::HpaScalingRules) -> ScalingRules {
    ScalingRules {
        stabilization_window_seconds: r.stabilization_window_seconds,
        select_policy: r.select_policy.as_deref().map(|s| match s {
            "Min" => SelectPolicy::Min,
            "Disabled" => SelectPolicy::Disabled,
            _ => SelectPolicy::Max,
        }),
        policies: r.policies.as_ref().map(|ps| {
            ps.iter()
                .map(|p| ScalingPolicy {
                    type_: if p.type_ == "Percent" {
                        PolicyType::Percent
                    } else {
                        PolicyType::Pods
                    },
                    value: p.value,
                    period_seconds: p.period_seconds,
                })
                .collect()
        }),
        tolerance: r.tolerance.clone(),
    }
}

/// Converts a *validated* wire spec (API defaulting included: `minReplicas`
/// 1, metrics CPU 80 %).
fn convert(s: &api::HorizontalPodAutoscalerSpec) -> HpaSpec {
    let mut metrics: Vec<MetricSpec> = s
        .metrics
        .iter()
        .map(|m| match m.type_.as_str() {
            "Resource" => {
                let r = m.resource.clone().unwrap_or_default();
                MetricSpec::Resource {
                    name: r.name,
                    target: target(&r.target),
                }
            }
            "ContainerResource" => {
                let r = m.container_resource.clone().unwrap_or_default();
                MetricSpec::ContainerResource {
                    name: r.name,
                    container: r.container,
                    target: target(&r.target),
                }
            }
            "Pods" => {
                let p = m.pods.clone().unwrap_or_default();
                MetricSpec::Pods {
                    metric: id(&p.metric),
                    target: target(&p.target),
                }
            }
            "Object" => {
                let o = m.object.clone().unwrap_or_default();
                MetricSpec::Object {
                    metric: id(&o.metric),
                    described_object: ObjectRef {
                        api_version: o.described_object.api_version.unwrap_or_default(),
                        kind: o.described_object.kind,
                        name: o.described_object.name,
                    },
                    target: target(&o.target),
                }
            }
            "External" => {
                let x = m.external.clone().unwrap_or_default();
                MetricSpec::External {
                    metric: id(&x.metric),
                    target: target(&x.target),
                }
            }
            other => MetricSpec::Unknown {
                type_name: other.to_string(),
            },
        })
        .collect();
    if metrics.is_empty() {
        metrics.push(MetricSpec::Resource {
            name: "cpu".to_string(),
            target: MetricTarget::utilization(80),
        });
    }
    HpaSpec {
        min_replicas: s.min_replicas.unwrap_or(1),
        max_replicas: s.max_replicas,
        metrics,
        behavior: s.behavior.as_ref().map(|b| Behavior {
            scale_up: b.scale_up.as_ref().map(rules),
            scale_down: b.scale_down.as_ref().map(rules),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(
        f: impl FnOnce(&mut api::HorizontalPodAutoscalerSpec),
    ) -> api::HorizontalPodAutoscalerSpec {
        let mut s = api::HorizontalPodAutoscalerSpec {
            max_replicas: 4,
            ..Default::default()
        };
        f(&mut s);
        s
    }

    #[test]
    fn defaults_min_and_cpu_metric() {
        let s =
            validate_spec(&spec_with(|_| {}), "spec", ValidationOptions::default()).expect("valid");
        assert_eq!(s.min_replicas, 1);
        assert_eq!(
            s.metrics,
            vec![MetricSpec::Resource {
                name: "cpu".into(),
                target: MetricTarget::utilization(80)
            }]
        );
        assert!(s.behavior.is_none());
    }

    #[test]
    fn reports_every_error_with_api_messages() {
        let s = spec_with(|s| {
            s.min_replicas = Some(0);
            s.max_replicas = 0;
            s.behavior = Some(api::HorizontalPodAutoscalerBehavior {
                scale_up: Some(api::HpaScalingRules {
                    stabilization_window_seconds: Some(4000),
                    select_policy: Some("Fastest".into()),
                    policies: Some(vec![api::HpaScalingPolicy {
                        type_: "Pods".into(),
                        value: 0,
                        period_seconds: 1801,
                    }]),
                    tolerance: None,
                }),
                scale_down: None,
            });
        });
        let errs = validate_spec(&s, "spec", ValidationOptions::default()).unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Required value: must be set and greater than 0",
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
                "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Fastest\": supported values: \"Disabled\", \"Max\", \"Min\"",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
            ]
        );
    }

    #[test]
    fn max_below_min() {
        let s = spec_with(|s| {
            s.min_replicas = Some(5);
            s.max_replicas = 2;
        });
        let errs = validate_spec(&s, "spec.scale.hpa", ValidationOptions::default()).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.scale.hpa.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
        );
    }
}
