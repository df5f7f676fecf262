//! Validated HPA specification, as the controller reads it.
//!
//! Produced from the wire types by [`super::validation::validate_spec`]. Values
//! stay close to the API (targets as milli-values, behavior as written) because
//! the controller's decisions depend on *which* optional field is set; API
//! defaulting of `behavior` is applied by [`Behavior::effective`].

use crate::quantity::Quantity;

use super::api::LabelSelector;

/// A validated `HorizontalPodAutoscalerSpec`.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSpec {
    /// `minReplicas` after defaulting (1 when unset).
    pub min_replicas: i32,
    /// `maxReplicas`.
    pub max_replicas: i32,
    /// Metric sources in spec order (never empty after defaulting).
    pub metrics: Vec<MetricSpec>,
    /// `None` selects the legacy normalization path.
    pub behavior: Option<Behavior>,
}

/// One metric source.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricSpec {
    /// `type: Resource`.
    Resource {
        /// Resource name, e.g. `cpu`.
        name: String,
        /// Target.
        target: MetricTarget,
    },
    /// `type: ContainerResource`.
    ContainerResource {
        /// Resource name.
        name: String,
        /// Container name.
        container: String,
        /// Target.
        target: MetricTarget,
    },
    /// `type: Pods`.
    Pods {
        /// Metric identifier.
        metric: MetricId,
        /// Target (AverageValue).
        target: MetricTarget,
    },
    /// `type: Object`.
    Object {
        /// Metric identifier.
        metric: MetricId,
        /// The object the metric describes.
        described_object: ObjectRef,
        /// Target.
        target: MetricTarget,
    },
    /// `type: External`.
    External {
        /// Metric identifier.
        metric: MetricId,
        /// Target.
        target: MetricTarget,
    },
    /// A source type the controller does not know. The API server rejects it,
    /// but the controller's handling (an invalid metric) is modelled for
    /// conformance.
    Unknown {
        /// The `type` string as written.
        type_name: String,
    },
}

/// Metric name plus optional selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricId {
    /// Name as served by the metrics API.
    pub name: String,
    /// Optional label selector.
    pub selector: Option<LabelSelector>,
}

/// A reference to a Kubernetes object (`describedObject`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// API version.
    pub api_version: String,
    /// Kind, e.g. `Service`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// The declared target type. The controller mostly looks at which value is set,
/// but Object metrics also check the type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetType {
    /// `Utilization`.
    Utilization,
    /// `Value`.
    Value,
    /// `AverageValue`.
    AverageValue,
    /// Anything else (only reachable without validation).
    Other(String),
}

/// `MetricTarget` with quantities converted to milli-values (`MilliValue()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricTarget {
    /// Declared type.
    pub type_: TargetType,
    /// `value` in milli-units.
    pub value_m: Option<i64>,
    /// `averageValue` in milli-units.
    pub average_value_m: Option<i64>,
    /// `averageUtilization` in percent.
    pub average_utilization: Option<i32>,
}

impl MetricTarget {
    /// A Utilization target of `percent`.
    pub fn utilization(percent: i32) -> Self {
        MetricTarget {
            type_: TargetType::Utilization,
            value_m: None,
            average_value_m: None,
            average_utilization: Some(percent),
        }
    }
    /// A Value target of `milli` thousandths.
    pub fn value(milli: i64) -> Self {
        MetricTarget {
            type_: TargetType::Value,
            value_m: Some(milli),
            average_value_m: None,
            average_utilization: None,
        }
    }
    /// An AverageValue target of `milli` thousandths.
    pub fn average_value(milli: i64) -> Self {
        MetricTarget {
            type_: TargetType::AverageValue,
            value_m: None,
            average_value_m: Some(milli),
            average_utilization: None,
        }
    }
}

/// `selectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

impl SelectPolicy {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SelectPolicy::Max => "Max",
            SelectPolicy::Min => "Min",
            SelectPolicy::Disabled => "Disabled",
        }
    }
}

/// `HPAScalingPolicy` type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    /// Absolute number of pods.
    Pods,
    /// Percentage of the replicas at the start of the period.
    Percent,
}

impl PolicyType {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Pods => "Pods",
            PolicyType::Percent => "Percent",
        }
    }
}

/// One rate-limiting policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    /// Pods or Percent.
    pub type_: PolicyType,
    /// Amount per period.
    pub value: i32,
    /// Period in seconds.
    pub period_seconds: i32,
}

/// `HPAScalingRules` as written (every field optional).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScalingRules {
    /// Stabilization window in seconds.
    pub stabilization_window_seconds: Option<i32>,
    /// Select policy.
    pub select_policy: Option<SelectPolicy>,
    /// Policies (replace the default list as a whole).
    pub policies: Option<Vec<ScalingPolicy>>,
    /// Per-direction tolerance.
    pub tolerance: Option<Quantity>,
}

/// `HorizontalPodAutoscalerBehavior` as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Behavior {
    /// Scale-up rules, if given.
    pub scale_up: Option<ScalingRules>,
    /// Scale-down rules, if given.
    pub scale_down: Option<ScalingRules>,
}

/// Scaling rules after API defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveRules {
    /// Window in seconds; `None` only for an unset scale-down window, which the
    /// controller fills from `--horizontal-pod-autoscaler-downscale-stabilization`.
    pub stabilization_window_seconds: Option<i32>,
    /// Select policy.
    pub select_policy: SelectPolicy,
    /// Policies.
    pub policies: Vec<ScalingPolicy>,
    /// Per-direction tolerance, if set.
    pub tolerance: Option<Quantity>,
}

/// Both directions after API defaulting.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveBehavior {
    /// Scale-up rules.
    pub scale_up: EffectiveRules,
    /// Scale-down rules.
    pub scale_down: EffectiveRules,
}

/// The API's default scale-up rules: 0 s window, Max of 4 pods and 100 % per 15 s.
pub fn default_scale_up_rules() -> EffectiveRules {
    EffectiveRules {
        stabilization_window_seconds: Some(0),
        select_policy: SelectPolicy::Max,
        policies: vec![
            ScalingPolicy {
                type_: PolicyType::Pods,
                value: 4,
                period_seconds: 15,
            },
            ScalingPolicy {
                type_: PolicyType::Percent,
                value: 100,
                period_seconds: 15,
            },
        ],
        tolerance: None,
    }
}

/// The API's default scale-down rules: window unset, Max of 100 % per 15 s.
pub fn default_scale_down_rules() -> EffectiveRules {
    EffectiveRules {
        stabilization_window_seconds: None,
        select_policy: SelectPolicy::Max,
        policies: vec![ScalingPolicy {
            type_: PolicyType::Percent,
            value: 100,
            period_seconds: 15,
        }],
        tolerance: None,
    }
}

impl ScalingRules {
    /// Applies this user-written rule set over `defaults`, field by field.
    pub fn over(rules: Option<&ScalingRules>, defaults: EffectiveRules) -> EffectiveRules {
        let Some(r) = rules else { return defaults };
        EffectiveRules {
            stabilization_window_seconds: r
                .stabilization_window_seconds
                .or(defaults.stabilization_window_seconds),
            select_policy: r.select_policy.unwrap_or(defaults.select_policy),
            policies: r.policies.clone().unwrap_or(defaults.policies),
            tolerance: r.tolerance.clone().or(defaults.tolerance),
        }
    }
}

impl Behavior {
    /// API defaulting (`SetDefaults_HorizontalPodAutoscalerBehavior`).
    pub fn effective(&self) -> EffectiveBehavior {
        EffectiveBehavior {
            scale_up: ScalingRules::over(self.scale_up.as_ref(), default_scale_up_rules()),
            scale_down: ScalingRules::over(self.scale_down.as_ref(), default_scale_down_rules()),
        }
    }
}

impl HpaSpec {
    /// The human-readable name the controller uses for metric `i` in events and
    /// conditions (`"cpu resource utilization (percentage of request)"`, …).
    pub fn metric_display_name(&self, i: usize) -> String {
        match &self.metrics[i] {
            MetricSpec::Resource { name, target }
            | MetricSpec::ContainerResource { name, target, .. } => {
                let container = matches!(self.metrics[i], MetricSpec::ContainerResource { .. });
                if target.average_value_m.is_some() {
                    format!("{name} resource")
                } else if container {
                    format!("{name} container resource utilization (percentage of request)")
                } else {
                    format!("{name} resource utilization (percentage of request)")
                }
            }
            MetricSpec::Pods { metric, .. } => format!("pods metric {}", metric.name),
            MetricSpec::Object {
                metric,
                described_object,
                target,
            } => {
                if target.type_ == TargetType::Value && target.value_m.is_some() {
                    format!("{} metric {}", described_object.kind, metric.name)
                } else {
                    format!(
                        "external metric {}({})",
                        metric.name,
                        super::selector::go_format_label_selector(metric.selector.as_ref())
                    )
                }
            }
            MetricSpec::External { metric, .. } => format!(
                "external metric {}({})",
                metric.name,
                super::selector::go_format_label_selector(metric.selector.as_ref())
            ),
            MetricSpec::Unknown { type_name } => type_name.clone(),
        }
    }
}
