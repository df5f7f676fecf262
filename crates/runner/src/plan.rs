//! `nimscale plan`: the search for the cheapest deployment and HPA
//! configuration that meets the scenario's SLOs.
//!
//! The space ([`Space`]) covers what a platform engineer decides: the GPU
//! type (those with a price), minReplicas, maxReplicas, the HPA's metric and
//! target (the scenario's own metric at scaled targets, and the NIM-native
//! presets its adapter rules can serve), the behaviour, and optionally the
//! scrape interval. Each candidate is a sweep point (a `combinations:`
//! entry), loaded and checked as any sweep point is.
//!
//! The search races candidates over seeds ([`Race`]): every candidate runs
//! the first seed (common random numbers: the same arrivals for all), the
//! candidates Pareto-dominated by an eligible one (costlier and worse) are
//! rejected, the best third of the rest runs the next seed, and so on; the
//! ranking uses every seed a candidate has run. Runs are independent, so the
//! outcome does not depend on the thread count.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sweep::presets;

/// One candidate: sweep axis paths to values.
pub type Candidate = BTreeMap<String, Value>;

/// The dimensions searched.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    /// GPU catalog keys with their price per GPU-hour.
    pub gpus: Vec<(String, f64)>,
    /// `minReplicas` values.
    pub min_replicas: Vec<i32>,
    /// `maxReplicas` values.
    pub max_replicas: Vec<i32>,
    /// Multipliers of the scenario's own metric target (its first metric).
    pub target_scales: Vec<f64>,
    /// Metric presets to try besides the scenario's metric.
    pub metric_presets: Vec<String>,
    /// Behaviour presets (`None`: the scenario's own behaviour).
    pub behaviors: Vec<Option<String>>,
    /// Scrape intervals (`None` entries: the scenario's).
    pub scrape_intervals: Vec<Option<String>>,
    /// Per GPU, what else must change with it: the tensor-parallel degree
    /// (and the NIMService's GPU limit) where the model needs more GPUs
    /// per pod on it than the scenario gives.
    pub gpu_extras: BTreeMap<String, Candidate>,
}

/// The smallest tensor-parallel degree (1, 2, 4, 8) at which the
/// scenario's model fits on `gpu` with its precision and engine settings.
pub fn min_tp(
    catalog: &crate::catalog::Catalog,
    gpu: &str,
    resolved: &crate::engine::Resolved,
) -> Option<u32> {
    let d = &resolved.deployment;
    [1, 2, 4, 8].into_iter().find(|&tp| {
        let opts = crate::engine::EngineOptions {
            gpu: gpu.to_string(),
            model: d.model.name.clone(),
            precision: d.precision,
            kv_dtype: d.kv_dtype,
            tp,
            expert_parallel: d.expert_parallel,
            profile: resolved.profile.clone(),
        };
        crate::engine::resolve(catalog, &opts).is_ok()
    })
}

/// The axes that give a pod `tp` GPUs: `model.tensorParallel` and the
/// NIMService's limits (`limits`, its current `spec.resources.limits`)
/// with `nvidia.com/gpu` set.
pub fn tp_extras(tp: u32, limits: &Value) -> Candidate {
    let mut l = match limits {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    l.insert("nvidia.com/gpu".into(), json!(tp));
    let mut c = Candidate::new();
    c.insert("model.tensorParallel".into(), json!(tp));
    c.insert("nimservice.spec.resources.limits".into(), Value::Object(l));
    c
}

/// The scenario's own first metric target: the sweep path of its value,
/// and the value as a number.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnTarget {
    /// Axis path (`nimservice.spec.scale.hpa.metrics[0].object.target.value`).
    pub path: String,
    /// The target as written (a Kubernetes quantity, or an integer for
    /// `averageUtilization`).
    pub written: Value,
    /// Its value.
    pub value: f64,
    /// Whether the field is an integer percentage (`averageUtilization`).
    pub integer: bool,
}

/// The first metric's target of an HPA spec (`spec.scale.hpa` as JSON).
pub fn own_target(hpa: &Value) -> Option<OwnTarget> {
    let m = hpa.get("metrics")?.get(0)?;
    let kind = m.get("type")?.as_str()?;
    let key = match kind {
        "Resource" => "resource",
        "Pods" => "pods",
        "Object" => "object",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => return None,
    };
    let target = m.get(key)?.get("target")?;
    for (field, integer) in [
        ("averageUtilization", true),
        ("averageValue", false),
        ("value", false),
    ] {
        if let Some(v) = target.get(field) {
            let value = match v {
                Value::Number(n) => n.as_f64()?,
                Value::String(s) => nimscale_core::quantity::Quantity::parse(s)
                    .ok()?
                    .approx_f64(),
                _ => return None,
            };
            return Some(OwnTarget {
                path: format!("nimservice.spec.scale.hpa.metrics[0].{key}.target.{field}"),
                written: v.clone(),
                value,
                integer,
            });
        }
    }
    None
}

/// A target value as the HPA spec writes it: whole percent for
/// utilisation, else a quantity in thousandths (`350m`) or whole units.
fn target_value(t: &OwnTarget, scale: f64) -> Option<Value> {
    let v = t.value * scale;
    if t.integer {
        let p = v.round();
        return (1.0..=1000.0).contains(&p).then(|| json!(p as i64));
    }
    let milli = (v * 1000.0).round();
    if milli < 1.0 || !milli.is_finite() {
        return None;
    }
    Some(if milli % 1000.0 == 0.0 {
        json!(format!("{}", (milli / 1000.0) as i64))
    } else {
        json!(format!("{}m", milli as i64))
    })
}

/// The sweep axes of the HPA's replica bounds.
pub const MIN_REPLICAS: &str = "nimservice.spec.scale.hpa.minReplicas";
/// See [`MIN_REPLICAS`].
pub const MAX_REPLICAS: &str = "nimservice.spec.scale.hpa.maxReplicas";

/// The scenario's own configuration as a candidate: its replica bounds
/// written back as they are (`(minReplicas, maxReplicas)`), nothing else
/// changed.
pub fn current_candidate(current: (i32, i32)) -> Candidate {
    Candidate::from([
        (MIN_REPLICAS.to_string(), json!(current.0)),
        (MAX_REPLICAS.to_string(), json!(current.1)),
    ])
}

/// Every candidate of `space`, in a fixed order; the first is the
/// scenario's own configuration (current GPU, replicas, metric, behaviour)
/// when `current` gives its (minReplicas, maxReplicas).
pub fn candidates(space: &Space, own: Option<&OwnTarget>, current: (i32, i32)) -> Vec<Candidate> {
    let mut metrics: Vec<(String, Value)> = Vec::new();
    if let Some(t) = own {
        for &s in &space.target_scales {
            if let Some(v) = target_value(t, s)
                && !metrics.iter().any(|(_, w)| *w == v)
            {
                metrics.push((t.path.clone(), v));
            }
        }
    }
    for p in &space.metric_presets {
        metrics.push(("metric".into(), json!(p)));
    }
    if metrics.is_empty() {
        // No target to vary: the scenario's metrics as they are.
        metrics.push((String::new(), Value::Null));
    }
    let mut out = Vec::new();
    let gpu_axis = space.gpus.len() > 1;
    for (gpu, price) in &space.gpus {
        for &min in &space.min_replicas {
            for &max in &space.max_replicas {
                if min > max {
                    continue;
                }
                for (mpath, mval) in &metrics {
                    for b in &space.behaviors {
                        for s in &space.scrape_intervals {
                            let mut c = Candidate::new();
                            if gpu_axis {
                                c.insert("model.gpu".into(), json!(gpu));
                                c.insert("cluster.nodePool.pricePerGpuHour".into(), json!(price));
                            }
                            if let Some(extra) = space.gpu_extras.get(gpu) {
                                c.extend(extra.clone());
                            }
                            c.insert(MIN_REPLICAS.into(), json!(min));
                            c.insert(MAX_REPLICAS.into(), json!(max));
                            if !mpath.is_empty() {
                                c.insert(mpath.clone(), mval.clone());
                            }
                            if let Some(b) = b {
                                c.insert("behavior".into(), json!(b));
                            }
                            if let Some(s) = s {
                                c.insert(
                                    "nimservice.spec.metrics.serviceMonitor.interval".into(),
                                    json!(s),
                                );
                            }
                            out.push(c);
                        }
                    }
                }
            }
        }
    }
    let current_point = current_candidate(current);
    out.retain(|c| *c != current_point);
    out.insert(0, current_point);
    out
}

/// The default space around a scenario: its GPU (and `extra_gpus` with a
/// price), minReplicas 1–3, maxReplicas up to what the node pool holds,
/// its metric's target × 0.5–1.5, the behaviour presets, and the
/// NIM-native metric presets in `servable`.
pub fn default_space(
    gpu: (&str, f64),
    extra_gpus: &[(String, f64)],
    capacity_pods: i32,
    servable: &[String],
) -> Space {
    let mut gpus = vec![(gpu.0.to_string(), gpu.1)];
    for g in extra_gpus {
        if !gpus.iter().any(|(n, _)| *n == g.0) {
            gpus.push(g.clone());
        }
    }
    let cap = capacity_pods.max(1);
    let mut max_replicas: Vec<i32> = [2, 3, 4, 6, 8, 12, 16]
        .into_iter()
        .filter(|&m| m <= cap)
        .collect();
    if max_replicas.is_empty() || !max_replicas.contains(&cap) && cap < 16 {
        max_replicas.push(cap);
    }
    max_replicas.dedup();
    Space {
        gpus,
        min_replicas: vec![1, 2, 3],
        max_replicas,
        target_scales: vec![0.5, 0.75, 1.0, 1.25, 1.5],
        metric_presets: servable.to_vec(),
        behaviors: vec![
            None,
            Some("conservative".into()),
            Some("aggressive".into()),
            Some("vlm-guide".into()),
            Some("k8s-default".into()),
        ],
        scrape_intervals: vec![None],
        gpu_extras: BTreeMap::new(),
    }
}

/// The NIM-native metric presets a plan may try (each still has to load:
/// the user's adapter rules must serve it).
pub const NATIVE_METRICS: [&str; 5] = [
    "kv-cache-0.7",
    "kv-cache-0.8",
    "request-rate-per-pod",
    "queue-depth",
    "latency-fraction-400m",
];

/// Whether `name` names a metric preset.
pub fn is_metric_preset(name: &str) -> bool {
    matches!(
        presets::preset(name, "x"),
        Some(presets::Preset::Metrics(_))
    )
}

/// One candidate's standing after the seeds it ran.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    /// Mean SLO attainment (all SLOs).
    pub attainment: f64,
    /// Mean of the objective (cost or GPU-hours).
    pub cost: f64,
    /// Whether any run was degenerate.
    pub degenerate: bool,
    /// Seeds run.
    pub runs: usize,
}

impl Standing {
    /// Meets the threshold and autoscaled for real.
    pub fn eligible(&self, threshold: f64) -> bool {
        self.attainment >= threshold && !self.degenerate
    }
}

/// Best first: eligible ones by cost (then attainment), then the others by
/// attainment (then cost); ties by candidate index.
pub fn rank(standings: &[(usize, Standing)], threshold: f64) -> Vec<usize> {
    let mut v: Vec<&(usize, Standing)> = standings.iter().collect();
    v.sort_by(|(i, a), (j, b)| {
        let (ea, eb) = (a.eligible(threshold), b.eligible(threshold));
        eb.cmp(&ea)
            .then_with(|| {
                if ea {
                    a.cost
                        .total_cmp(&b.cost)
                        .then(b.attainment.total_cmp(&a.attainment))
                } else {
                    b.attainment
                        .total_cmp(&a.attainment)
                        .then(a.cost.total_cmp(&b.cost))
                }
            })
            .then(i.cmp(j))
    });
    v.into_iter().map(|(i, _)| *i).collect()
}

/// Candidates an eligible one beats on both counts: at least as cheap and
/// at least as good, strictly on one (they cannot win).
pub fn dominated(standings: &[(usize, Standing)], threshold: f64) -> Vec<usize> {
    let eligible: Vec<&Standing> = (standings.iter())
        .filter(|(_, s)| s.eligible(threshold))
        .map(|(_, s)| s)
        .collect();
    standings
        .iter()
        .filter(|(_, s)| {
            eligible.iter().any(|e| {
                e.cost <= s.cost
                    && e.attainment >= s.attainment
                    && (e.cost < s.cost || e.attainment > s.attainment)
            })
        })
        .map(|(i, _)| *i)
        .collect()
}

/// Which candidates run the next seed: the undominated, best third (at
/// least `keep_min`), in rank order.
pub fn survivors(standings: &[(usize, Standing)], threshold: f64, keep_min: usize) -> Vec<usize> {
    let out = dominated(standings, threshold);
    let live: Vec<(usize, Standing)> = (standings.iter())
        .filter(|(i, _)| !out.contains(i))
        .copied()
        .collect();
    let ranked = rank(&live, threshold);
    let keep = ranked.len().div_ceil(3).max(keep_min).min(ranked.len());
    ranked[..keep].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(attainment: f64, cost: f64) -> Standing {
        Standing {
            attainment,
            cost,
            degenerate: false,
            runs: 1,
        }
    }

    #[test]
    fn ranking_puts_the_cheapest_eligible_first() {
        let s = [
            (0, st(0.99, 10.0)),
            (1, st(0.96, 6.0)),
            (2, st(0.90, 2.0)),
            (3, st(0.97, 6.0)),
        ];
        assert_eq!(rank(&s, 0.95), vec![3, 1, 0, 2]);
        // 1 is worse than 3 at the same cost: dominated. 0 is costlier but
        // better, 2 cheaper but ineligible: both may still win.
        assert_eq!(dominated(&s, 0.95), vec![1]);
        assert_eq!(survivors(&s, 0.95, 1), vec![3]);
        assert_eq!(survivors(&s, 0.95, 3), vec![3, 0, 2]);
    }

    #[test]
    fn targets_are_written_as_the_spec_writes_them() {
        let hpa = json!({"metrics": [{"type": "Object", "object": {
            "metric": {"name": "x"}, "target": {"type": "Value", "value": "400m"}}}]});
        let t = own_target(&hpa).unwrap();
        assert_eq!(
            t.path,
            "nimservice.spec.scale.hpa.metrics[0].object.target.value"
        );
        assert_eq!(target_value(&t, 0.5), Some(json!("200m")));
        assert_eq!(target_value(&t, 2.5), Some(json!("1")));
        let cpu = json!({"metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]});
        let t = own_target(&cpu).unwrap();
        assert_eq!(target_value(&t, 0.75), Some(json!(53)));
    }

    #[test]
    fn the_current_configuration_comes_first_and_once() {
        let space = default_space(("h100-sxm", 3.0), &[], 8, &[]);
        let c = candidates(&space, None, (1, 4));
        assert_eq!(c[0]["nimservice.spec.scale.hpa.maxReplicas"], json!(4));
        assert_eq!(c[0].len(), 2);
        assert_eq!(c.iter().filter(|x| **x == c[0]).count(), 1);
        // 3 × 5 replica pairs (maxReplicas 2–8) less (3, 2), × 5
        // behaviours; the current configuration is one of them.
        assert_eq!(c.len(), 14 * 5);
    }
}

#[cfg(test)]
mod tp_tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::engine::{EngineOptions, resolve};
    use nimscale_core::engine::capacity::EngineProfile;
    use nimscale_core::engine::{KvDtype, Precision};

    fn resolved(model: &str) -> crate::engine::Resolved {
        let opts = EngineOptions {
            gpu: "h200".into(),
            model: model.into(),
            precision: Precision::Bf16,
            kv_dtype: KvDtype::Bf16,
            tp: 4,
            expert_parallel: false,
            profile: EngineProfile::default(),
        };
        resolve(&Catalog::builtin().unwrap(), &opts).unwrap()
    }

    /// A GPU with less memory needs more of them per pod for 70B; 8B fits
    /// one anywhere; the NIMService's other limits stay.
    #[test]
    fn the_model_gets_the_gpus_per_pod_it_needs() {
        let cat = Catalog::builtin().unwrap();
        let big = resolved("llama-3.1-70b-instruct");
        let tp = |g: &str| min_tp(&cat, g, &big).unwrap();
        assert_eq!(tp("h200"), 2);
        assert!(tp("h100-sxm") >= 2);
        assert!(tp("a100-40gb") > tp("h100-sxm"), "{}", tp("a100-40gb"));
        let small = resolved("llama-3.1-8b-instruct");
        assert_eq!(min_tp(&cat, "l40s", &small), Some(1));
        let c = tp_extras(4, &json!({"nvidia.com/gpu": 2, "cpu": "8"}));
        assert_eq!(c["model.tensorParallel"], json!(4));
        assert_eq!(
            c["nimservice.spec.resources.limits"],
            json!({"nvidia.com/gpu": 4, "cpu": "8"})
        );
    }
}
