//! One HPA reconcile (10 pods, CPU utilization, behavior path), and the
//! behavior normalization alone. Not run in CI (R14).

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use nimscale_core::hpa::controller::{
    ControllerConfig, Hpa, HpaState, MetricsClient, PodLister, ScaleInfo, reconcile,
};
use nimscale_core::hpa::selector::Selector;
use nimscale_core::hpa::spec::{Behavior, HpaSpec, MetricId, MetricSpec, MetricTarget, ObjectRef};
use nimscale_core::hpa::{PodInfo, PodMetric, PodMetricsList};
use nimscale_core::time::{SimDuration, SimTime};

struct World(Vec<PodInfo>, PodMetricsList);
impl PodLister for World {
    fn list(&self, _: &Selector) -> Vec<PodInfo> {
        self.0.clone()
    }
}
impl MetricsClient for World {
    fn resource(&self, _: &str, _: &str) -> Result<PodMetricsList, String> {
        Ok(self.1.clone())
    }
    fn pods(&self, _: &MetricId) -> Result<PodMetricsList, String> {
        Err("none".into())
    }
    fn object(&self, _: &MetricId, _: &ObjectRef) -> Result<(i64, SimTime), String> {
        Err("none".into())
    }
    fn external(&self, _: &MetricId) -> Result<(Vec<i64>, SimTime), String> {
        Err("none".into())
    }
}

fn bench(c: &mut Criterion) {
    let pods: Vec<PodInfo> = (0..10)
        .map(|i| {
            let req = BTreeMap::from([("cpu".to_string(), 1000)]);
            PodInfo::running_ready(format!("p{i}"), req, SimTime::from_secs(-3600))
        })
        .collect();
    let list = PodMetricsList {
        timestamp: SimTime::ZERO,
        items: (0..10)
            .map(|i| {
                (
                    format!("p{i}"),
                    PodMetric {
                        value_m: 500 + 40 * i,
                        timestamp: SimTime::ZERO,
                        window: SimDuration::from_secs(15),
                    },
                )
            })
            .collect(),
    };
    let world = World(pods, list);
    let hpa = Hpa {
        namespace: "default".into(),
        name: "nim".into(),
        spec: HpaSpec {
            min_replicas: 1,
            max_replicas: 20,
            metrics: vec![MetricSpec::Resource {
                name: "cpu".into(),
                target: MetricTarget::utilization(60),
            }],
            behavior: Some(Behavior::default()),
        },
    };
    let cfg = ControllerConfig::default();
    let scale = ScaleInfo {
        spec_replicas: 10,
        status_replicas: 10,
        selector: "app=nim".into(),
    };
    c.bench_function("hpa_reconcile_10_pods_cpu", |b| {
        let mut st = HpaState::default();
        let mut t = 0;
        b.iter(|| {
            t += 15;
            reconcile(
                &cfg,
                &hpa,
                &mut st,
                &scale,
                &world,
                &world,
                SimTime::from_secs(t),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
