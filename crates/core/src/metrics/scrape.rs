//! Prometheus scraping one pod's `/v1/metrics` through the NIMService's
//! ServiceMonitor: target labels as prometheus-operator sets them, a fixed
//! per-target phase inside the interval (Prometheus hashes the target's
//! labels), sample timestamps at the scrape start, `up`, and staleness
//! markers for series that vanish or when the target goes away.

use super::labels::{Labels, NAME};
use super::tsdb::{SeriesId, Tsdb, stale_nan};
use crate::engine::{Dialect, Engine, FinishReason, Sample, StepTimeModel};

/// Where and how often a pod is scraped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeConfig {
    /// ServiceMonitor `interval` (Prometheus' own default is 1 m).
    pub interval_ms: i64,
    /// `namespace` label.
    pub namespace: String,
    /// `service` and `job` labels (the NIMService's Service).
    pub service: String,
    /// `endpoint` label: the Service port's name.
    pub endpoint: String,
    /// `container` label.
    pub container: String,
    /// The port in `instance`.
    pub port: u16,
}

/// FNV-1a 64 (a stable stand-in for Prometheus' target hash).
fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A series as last scraped: name, exposition labels and its id.
type Scraped = (String, Vec<(&'static str, String)>, SeriesId);

/// The label sets of every series a serving NIM pod named `pod` exposes to
/// a ServiceMonitor scrape (target labels, `up` included): what a warm
/// prometheus-adapter has discovered, and what a loader checks the HPA's
/// metric names against. With `every`, also the counters an idle engine
/// leaves out until they count (the NIM dialect's `request_finish_total`
/// per finish reason).
pub fn nim_series<M: StepTimeModel>(
    engine: &Engine<M>,
    cfg: &ScrapeConfig,
    pod: &str,
    every: bool,
) -> Vec<Labels> {
    let mut samples = Vec::new();
    engine.expose(&mut samples);
    let model_labels = samples
        .first()
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    let finish = every && engine.config().dialect == Dialect::Nim1;
    for r in FinishReason::ALL.iter().filter(|_| finish) {
        let mut labels = model_labels.clone();
        labels.push(("finished_reason", r.as_str().to_owned()));
        samples.push(Sample {
            name: "request_finish_total".into(),
            labels,
            value: 0.0,
        });
    }
    samples.push(Sample {
        name: "up".into(),
        labels: Vec::new(),
        value: 1.0,
    });
    let target = Target::new(cfg, pod, "10.0.0.1");
    samples.iter().map(|s| target.labels_of(s)).collect()
}

/// One scrape target (one pod).
#[derive(Clone, Debug)]
pub struct Target {
    /// Target labels (no `__name__`).
    pub labels: Labels,
    /// Offset of this target's scrapes inside the interval.
    pub phase_ms: i64,
    last: Vec<Scraped>,
    up: Option<SeriesId>,
}

impl Target {
    /// The target of pod `pod` with address `ip`.
    pub fn new(cfg: &ScrapeConfig, pod: &str, ip: &str) -> Target {
        let labels = Labels::from_pairs([
            ("container", cfg.container.as_str()),
            ("endpoint", cfg.endpoint.as_str()),
            ("instance", &format!("{ip}:{}", cfg.port)),
            ("job", cfg.service.as_str()),
            ("namespace", cfg.namespace.as_str()),
            ("pod", pod),
            ("service", cfg.service.as_str()),
        ]);
        let phase_ms = (fnv64(&labels.to_string()) % cfg.interval_ms.max(1) as u64) as i64;
        Target {
            labels,
            phase_ms,
            last: Vec::new(),
            up: None,
        }
    }

    /// The first scrape time at or after `t_ms` on this target's grid.
    pub fn next_at_or_after(&self, t_ms: i64, interval_ms: i64) -> i64 {
        let k = (t_ms - self.phase_ms).div_euclid(interval_ms);
        let at = k * interval_ms + self.phase_ms;
        if at >= t_ms { at } else { at + interval_ms }
    }

    /// The full label set a scraped sample is stored under.
    pub fn labels_of(&self, s: &Sample) -> Labels {
        self.series_labels(&s.name, &s.labels)
    }

    fn series_labels(&self, name: &str, extra: &[(&'static str, String)]) -> Labels {
        let mut pairs: Vec<(String, String)> = self.labels.pairs().to_vec();
        pairs.push((NAME.into(), name.into()));
        for (k, v) in extra {
            // A scraped label that collides with a target label is kept as
            // `exported_<name>` (honor_labels: false).
            let k = if self.labels.get(k).is_empty() {
                (*k).to_owned()
            } else {
                format!("exported_{k}")
            };
            pairs.push((k, v.clone()));
        }
        Labels::from_pairs(pairs)
    }

    fn set_up(&mut self, db: &mut Tsdb, t_ms: i64, v: f64) {
        let id = match self.up {
            Some(id) => id,
            None => {
                let id = db.series_id(&self.series_labels("up", &[]));
                self.up = Some(id);
                id
            }
        };
        db.append(id, t_ms, v);
    }

    /// A successful scrape of `samples` at `t_ms`; samples whose name
    /// `keep` rejects are not stored.
    pub fn scrape(
        &mut self,
        db: &mut Tsdb,
        t_ms: i64,
        samples: &[Sample],
        mut keep: impl FnMut(&str) -> bool,
    ) {
        // The usual case: the same series as last time, in the same order;
        // append by the ids already known, without copying names or labels.
        let kept: Vec<&Sample> = samples.iter().filter(|s| keep(&s.name)).collect();
        let same_layout = kept.len() == self.last.len()
            && kept
                .iter()
                .zip(&self.last)
                .all(|(s, (n, l, _))| *n == s.name && *l == s.labels);
        if same_layout {
            for (s, (_, _, id)) in kept.iter().zip(&self.last) {
                db.append(*id, t_ms, s.value);
            }
            self.set_up(db, t_ms, 1.0);
            return;
        }
        let mut now: Vec<Scraped> = Vec::with_capacity(kept.len());
        for s in kept {
            let id = db.series_id(&self.series_labels(&s.name, &s.labels));
            db.append(id, t_ms, s.value);
            now.push((s.name.clone(), s.labels.clone(), id));
        }
        let mut ids: Vec<SeriesId> = now.iter().map(|x| x.2).collect();
        ids.sort_unstable();
        for (_, _, id) in &self.last {
            if ids.binary_search(id).is_err() {
                db.append(*id, t_ms, stale_nan());
            }
        }
        self.last = now;
        self.set_up(db, t_ms, 1.0);
    }

    /// A failed scrape (server not answering): `up` 0, the previous
    /// scrape's series marked stale.
    pub fn fail(&mut self, db: &mut Tsdb, t_ms: i64) {
        for (_, _, id) in self.last.drain(..) {
            db.append(id, t_ms, stale_nan());
        }
        self.set_up(db, t_ms, 0.0);
    }

    /// The target disappeared (pod deleted): everything it wrote goes stale.
    pub fn remove(&mut self, db: &mut Tsdb, t_ms: i64) {
        for (_, _, id) in self.last.drain(..) {
            db.append(id, t_ms, stale_nan());
        }
        if let Some(id) = self.up.take() {
            db.append(id, t_ms, stale_nan());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tsdb::is_stale;

    fn cfg() -> ScrapeConfig {
        ScrapeConfig {
            interval_ms: 15_000,
            namespace: "ns".into(),
            service: "svc".into(),
            endpoint: "api".into(),
            container: "nim".into(),
            port: 8000,
        }
    }

    fn sample(name: &str, v: f64) -> Sample {
        Sample {
            name: name.into(),
            labels: vec![("model_name", "m".into())],
            value: v,
        }
    }

    #[test]
    fn phases_labels_and_staleness() {
        let c = cfg();
        let t = Target::new(&c, "p1", "10.0.0.1");
        assert!((0..15_000).contains(&t.phase_ms));
        assert_eq!(t.next_at_or_after(t.phase_ms, 15_000), t.phase_ms);
        assert_eq!(
            t.next_at_or_after(t.phase_ms + 1, 15_000),
            t.phase_ms + 15_000
        );
        let mut t = t;
        let mut db = Tsdb::new();
        t.scrape(&mut db, 1000, &[sample("a", 1.0), sample("b", 2.0)], |_| {
            true
        });
        t.scrape(&mut db, 16_000, &[sample("a", 3.0)], |n| n != "zzz");
        let b = db.iter().find(|s| s.labels.name() == "b").unwrap();
        assert!(is_stale(b.samples()[1].1));
        let a = db.iter().find(|s| s.labels.name() == "a").unwrap();
        assert_eq!(a.labels.get("pod"), "p1");
        assert_eq!(a.labels.get("service"), "svc");
        assert_eq!(a.labels.get("instance"), "10.0.0.1:8000");
        assert_eq!(a.samples().len(), 2);
        t.remove(&mut db, 20_000);
        let up = db.iter().find(|s| s.labels.name() == "up").unwrap();
        assert_eq!(up.samples().len(), 3);
        assert!(is_stale(up.samples()[2].1));
    }
}
