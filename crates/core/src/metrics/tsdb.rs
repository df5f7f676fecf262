//! An in-memory time-series store shaped like Prometheus' head block:
//! series in creation order (the order PromQL meets them), samples with
//! millisecond timestamps, staleness markers, and truncation so memory stays
//! bounded by the longest window any query can look at.

use std::collections::{BTreeMap, VecDeque};

use super::labels::{Labels, NAME};

/// The bit pattern of Prometheus' staleness marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is a staleness marker (not any NaN: only that bit pattern).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One series: its labels and samples `(t_ms, value)` in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The label set, `__name__` included.
    pub labels: Labels,
    samples: VecDeque<(i64, f64)>,
}

impl Series {
    /// Samples in time order (staleness markers included).
    pub fn samples(&self) -> &VecDeque<(i64, f64)> {
        &self.samples
    }
}

/// Identifies a series inside one [`Tsdb`].
pub type SeriesId = u32;

/// The store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tsdb {
    slots: Vec<Option<Series>>,
    index: BTreeMap<Labels, SeriesId>,
    by_name: BTreeMap<String, Vec<SeriesId>>,
    live: usize,
}

impl Tsdb {
    /// An empty store.
    pub fn new() -> Tsdb {
        Tsdb::default()
    }

    /// The id of the series with these labels, created if new.
    pub fn series_id(&mut self, labels: &Labels) -> SeriesId {
        if let Some(id) = self.index.get(labels) {
            return *id;
        }
        let id = self.slots.len() as SeriesId;
        self.slots.push(Some(Series {
            labels: labels.clone(),
            samples: VecDeque::new(),
        }));
        self.index.insert(labels.clone(), id);
        self.by_name
            .entry(labels.name().to_owned())
            .or_default()
            .push(id);
        self.live += 1;
        id
    }

    /// The id of an existing series.
    pub fn lookup(&self, labels: &Labels) -> Option<SeriesId> {
        self.index.get(labels).copied()
    }

    /// Appends a sample. Like Prometheus, a sample not newer than the
    /// series' last one is dropped (out of order or duplicate); returns
    /// whether it was kept.
    pub fn append(&mut self, id: SeriesId, t_ms: i64, v: f64) -> bool {
        let Some(Some(s)) = self.slots.get_mut(id as usize) else {
            return false;
        };
        if s.samples.back().is_some_and(|(t, _)| *t >= t_ms) {
            return false;
        }
        s.samples.push_back((t_ms, v));
        true
    }

    /// Appends a sample to the series with `labels` (created if new).
    pub fn append_labels(&mut self, labels: &Labels, t_ms: i64, v: f64) -> bool {
        let id = self.series_id(labels);
        self.append(id, t_ms, v)
    }

    /// A series by id (`None` once truncated away).
    pub fn get(&self, id: SeriesId) -> Option<&Series> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// Ids of the series a selector may match, in creation order: those
    /// named `name`, or every series when the name is not fixed.
    pub fn candidates(&self, name: Option<&str>) -> Vec<SeriesId> {
        match name {
            Some(n) => self.by_name.get(n).cloned().unwrap_or_default(),
            None => (0..self.slots.len() as SeriesId)
                .filter(|i| self.slots[*i as usize].is_some())
                .collect(),
        }
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the store holds no series.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Total samples held.
    pub fn sample_count(&self) -> usize {
        self.slots.iter().flatten().map(|s| s.samples.len()).sum()
    }

    /// Drops samples older than `min_t_ms`; a series left with no sample is
    /// removed (head garbage collection).
    pub fn truncate(&mut self, min_t_ms: i64) {
        let mut removed = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            while s.samples.front().is_some_and(|(t, _)| *t < min_t_ms) {
                s.samples.pop_front();
            }
            if s.samples.is_empty() {
                removed.push((i as SeriesId, s.labels.clone()));
                *slot = None;
            }
        }
        for (id, labels) in removed {
            self.index.remove(&labels);
            if let Some(ids) = self.by_name.get_mut(labels.get(NAME)) {
                ids.retain(|x| *x != id);
            }
            self.live -= 1;
        }
    }

    /// Every series in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Series> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_samples_are_dropped_and_truncation_removes_series() {
        let mut db = Tsdb::new();
        let a = Labels::from_pairs([(NAME, "x"), ("pod", "a")]);
        let b = Labels::from_pairs([(NAME, "x"), ("pod", "b")]);
        assert!(db.append_labels(&a, 1000, 1.0));
        assert!(!db.append_labels(&a, 1000, 2.0));
        assert!(db.append_labels(&b, 500, 1.0));
        assert!(db.append_labels(&a, 2000, 3.0));
        assert_eq!(db.candidates(Some("x")), vec![0, 1]);
        db.truncate(1000);
        assert_eq!(db.len(), 1);
        assert_eq!(db.candidates(Some("x")), vec![0]);
        assert_eq!(db.get(0).unwrap().samples().len(), 2);
        assert!(is_stale(stale_nan()) && !is_stale(f64::NAN));
    }
}
