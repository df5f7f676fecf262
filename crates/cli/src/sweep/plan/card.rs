//! The recommendation card: each candidate as `recommendation.json` and
//! the stdout card show it.

use super::*;

/// What the recommendation card says about candidates.
pub(super) struct Card<'a> {
    pub(super) sw: &'a Sweep,
    pub(super) o: &'a Outcome,
    pub(super) tallies: &'a [Vec<RunRow>],
    pub(super) held: &'a BTreeMap<usize, Standing>,
    pub(super) pick: Option<usize>,
    pub(super) ranked: &'a [usize],
    pub(super) duration_h: f64,
}

impl Card<'_> {
    fn stat(&self, p: usize, name: &str) -> (f64, f64) {
        let i = self.sw.plan.metrics().iter().position(|m| m == name);
        let s = self.o.points.iter().find(|x| x.point == p);
        match (i, s) {
            (Some(i), Some(s)) => (s.stats[i].mean, s.stats[i].ci95),
            _ => (f64::NAN, f64::NAN),
        }
    }

    /// The candidate's axis values as `axis=value` pairs.
    fn config(&self, p: usize) -> Vec<(String, String)> {
        (self.sw.plan.axes.iter())
            .zip(&self.sw.plan.points[p])
            .filter(|(_, v)| !v.is_empty())
            .map(|(a, v)| (short_axis(a), v.clone()))
            .collect()
    }

    pub(super) fn entry(&self, p: usize) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let (att, att_ci) = self.stat(p, "slo_attainment");
        let (gpu_h, _) = self.stat(p, "gpu_hours");
        let (cost, cost_ci) = self.stat(p, "cost");
        let held = self.held.get(&p);

        json!({
            "point": p,
            "config": self.config(p).into_iter().collect::<BTreeMap<_, _>>(),
            "runs": self.tallies[p].len(),
            "sloAttainment": num(att),
            "sloAttainmentCi95": num(att_ci),
            "heldOutAttainment": held.map(|h| num(h.attainment)),
            "heldOutChange": held.map(|h| num(h.attainment - att)),
            "gpuHours": num(gpu_h),
            "meanGpus": num(gpu_h / self.duration_h),
            "peakGpus": num(self.stat(p, "peak_gpus").0),
            "peakNodes": num(self.stat(p, "peak_nodes").0),
            "cost": num(cost),
            "costCi95": num(cost_ci),
            "scaleUps": num(self.stat(p, "scale_ups").0),
            "scaleDowns": num(self.stat(p, "scale_downs").0),
            "flaps": num(self.stat(p, "flaps").0),
            "timeToScaleS": num(self.stat(p, "time_to_scale_s").0),
            "diagnostics": self.diagnostics(p),
        })
    }

    /// The Pareto front of cost against attainment over every candidate
    /// (the finalists' means over all seeds, the others' over the seeds they
    /// ran), from just below the threshold up, cheapest first, at most six
    /// points.
    fn pareto_line(&self) -> String {
        let obj = self.sw.plan.objective_index();
        let mut front: Vec<(f64, f64, usize)> = (self.o.points.iter())
            .filter(|p| p.pareto)
            .map(|p| (p.stats[obj].mean, p.stats[0].mean, p.point))
            .filter(|(c, a, _)| c.is_finite() && a.is_finite())
            .collect();
        let all = front.len();
        // What more attainment costs: the front from just below the
        // threshold up.
        let floor = self.sw.plan.threshold - 0.05;
        front.retain(|(_, a, _)| *a >= floor);
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
        if front.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = (front.iter().take(6))
            .map(|(c, a, p)| format!("#{p} {c:.2} → {a:.4}"))
            .collect();
        format!(
            "pareto       {} → attainment from {floor:.2} up: {} ({all} points on the front in pareto.csv)\n",
            self.sw.plan.metrics()[obj],
            shown.join(", "),
        )
    }

    /// Candidate `p`'s diagnostics with their run counts.
    fn diagnostics(&self, p: usize) -> Vec<String> {
        (self.o.points.iter())
            .find(|x| x.point == p)
            .map(|x| {
                (x.diagnostics.iter())
                    .map(|(c, n)| format!("{c} ({n})"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What separates runner-up `p` from the pick.
    fn differs(&self, p: usize) -> String {
        let Some(w) = self.pick else {
            return String::new();
        };
        let (a, b) = (self.config(w), self.config(p));
        let mut out = Vec::new();
        for (k, v) in &b {
            match a.iter().find(|(x, _)| x == k) {
                Some((_, wv)) if wv == v => {}
                Some((_, wv)) => out.push(format!("{k} {v} (not {wv})")),
                None => out.push(format!("{k} {v}")),
            }
        }
        for (k, _) in a.iter().filter(|(k, _)| !b.iter().any(|(x, _)| x == k)) {
            out.push(format!("{k} as the scenario has it"));
        }
        out.join(", ")
    }

    fn line(&self, label: &str, p: usize) -> String {
        let (att, ci) = self.stat(p, "slo_attainment");
        let (cost, _) = self.stat(p, "cost");
        let (gpu_h, _) = self.stat(p, "gpu_hours");
        let held = (self.held.get(&p))
            .map(|h| {
                format!(
                    ", held-out {:.4} ({:+.4})",
                    h.attainment,
                    h.attainment - att
                )
            })
            .unwrap_or_default();
        format!(
            "{label:<12} attainment {att:.4}{}{held}; {gpu_h:.2} GPU-h (mean {:.2}, peak {:.0} GPUs, {:.0} nodes); cost {cost:.2}; ups {:.1}, downs {:.1}, flaps {:.1}{}\n",
            if ci.is_finite() {
                format!(" ± {ci:.4}")
            } else {
                " (one run)".into()
            },
            gpu_h / self.duration_h,
            self.stat(p, "peak_gpus").0,
            self.stat(p, "peak_nodes").0,
            self.stat(p, "scale_ups").0,
            self.stat(p, "scale_downs").0,
            self.stat(p, "flaps").0,
            Some(self.stat(p, "time_to_scale_s").0)
                .filter(|t| t.is_finite())
                .map(|t| format!("; time to scale {t:.0} s"))
                .unwrap_or_default(),
        )
    }

    pub(super) fn text(&self, rec: &Value) -> String {
        let mut s = String::new();
        let f = |k: &str| rec[k].as_f64().unwrap_or(f64::NAN);
        s += &format!(
            "plan {}: explored {} configurations of {} in {} runs ({:.1} simulated hours, {:.1} s wall)\n",
            self.sw.plan.name,
            rec["explored"],
            rec["space"],
            rec["runs"],
            f("simulatedHours"),
            f("wallSeconds")
        );
        match self.pick {
            Some(p) => {
                let cfg: Vec<String> = (self.config(p).iter())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                s += &format!("recommended: {}\n", cfg.join(", "));
                s += &self.line("recommended", p);
            }
            None => {
                s += &format!(
                    "no configuration met SLO attainment {} on the racing and held-out seeds (no winner.yaml)\n",
                    self.sw.plan.threshold
                );
            }
        }
        s += &self.line("current", 0);
        if let Some(b) = rec["baseline"].as_str() {
            s += &format!("fixed        {b}\n");
        }
        s += &self.pareto_line();
        for &p in self
            .ranked
            .iter()
            .filter(|&&p| Some(p) != self.pick)
            .take(3)
        {
            s += &self.line(&format!("runner-up {p}"), p);
            if self.pick.is_some() {
                s += &format!("             differs: {}\n", self.differs(p));
            } else {
                let cfg: Vec<String> = (self.config(p).iter())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                s += &format!("             {}\n", cfg.join(", "));
            }
            let d = self.diagnostics(p);
            if !d.is_empty() {
                s += &format!("             diagnostics: {}\n", d.join(", "));
            }
        }
        if let Some(p) = self.pick {
            let d = rec["winner"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let d: Vec<String> = d
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            if !d.is_empty() {
                s += &format!("diagnostics of point {p}: {}\n", d.join(", "));
            }
            if d.iter().any(|x| x.starts_with("never-scaled")) {
                s += "note: its HPA never scaled in these runs: in effect a fixed deployment of minReplicas pods, which the traffic given never asked to grow\n";
            }
        }
        s
    }
}

/// An axis path as the card shows it.
fn short_axis(a: &str) -> String {
    a.trim_start_matches("nimservice.spec.scale.hpa.")
        .trim_start_matches("nimservice.spec.")
        .to_string()
}
