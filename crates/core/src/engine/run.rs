//! Decode runs: `k` consecutive steps in which the same `n` sequences each
//! decode one token, advanced in closed form.
//!
//! Step `i` of a run (0-based) attends over `c0 + n·(i+1)` KV tokens in total,
//! so its time is `f(i) = model(decode n, kv = c0 + n·(i+1))`, a smooth
//! nondecreasing function. The run's length is `S(k) = Σ_{i<k} f(i)`, which
//! for long runs is evaluated with the Euler–Maclaurin form of the midpoint
//! rule, `∫_{-1/2}^{k-1/2} f − (f'(k−½) − f'(−½))/24`, the integral by
//! Gauss–Legendre quadrature and the derivatives by central differences. For
//! the roofline's `hypot` of two linear functions this agrees with the
//! step-by-step sum to about 1e-12 relative (unit test below), so the cost of
//! a run is a few dozen model evaluations however many tokens it produces.

use super::step_time::{BatchShape, DecodeKernel, StepTimeModel};

/// Runs up to this many steps are summed exactly, step by step.
const EXACT_UP_TO: u64 = 12;

/// Nodes and weights of 5-point Gauss–Legendre on [-1, 1].
const GL5: [(f64, f64); 5] = [
    (0.0, 0.568_888_888_888_888_9),
    (-0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (-0.906_179_845_938_664, 0.236_926_885_056_189_1),
    (0.906_179_845_938_664, 0.236_926_885_056_189_1),
];

/// The step-time function of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunShape {
    /// Sequences decoding.
    pub n: u32,
    /// Σ of their computed tokens at the start of the run.
    pub c0: f64,
    /// `f(0)` and `f(−1)`, cached: every sum and search needs them.
    f0: f64,
    fm1: f64,
    /// The model's closed form for `n` decoders, if it has one.
    kernel: Option<DecodeKernel>,
}

impl RunShape {
    pub(crate) fn new(model: &dyn StepTimeModel, n: u32, c0: f64) -> RunShape {
        RunShape::with_kernel(model, n, c0, model.decode_kernel(n))
    }

    fn with_kernel(
        model: &dyn StepTimeModel,
        n: u32,
        c0: f64,
        kernel: Option<DecodeKernel>,
    ) -> RunShape {
        let mut r = RunShape {
            n,
            c0,
            f0: 0.0,
            fm1: 0.0,
            kernel,
        };
        r.f0 = r.f(model, 0.0);
        r.fm1 = r.f(model, -1.0);
        r
    }

    /// The same run after `j` of its steps.
    pub(crate) fn after(&self, model: &dyn StepTimeModel, j: u64) -> RunShape {
        let c0 = self.c0 + f64::from(self.n) * j as f64;
        RunShape::with_kernel(model, self.n, c0, self.kernel)
    }

    /// Seconds of step `x` (fractional `x` for quadrature).
    #[inline]
    pub(crate) fn f(&self, model: &dyn StepTimeModel, x: f64) -> f64 {
        let n = f64::from(self.n);
        let kv = self.c0 + n * (x + 1.0);
        if let Some(k) = &self.kernel {
            return k.secs(kv);
        }
        let shape = BatchShape {
            decode_seqs: self.n,
            decode_kv: kv,
            ..BatchShape::default()
        };
        model.step_secs(&shape)
    }

    /// `S(k)`: seconds taken by the first `k` steps.
    pub(crate) fn sum(&self, model: &dyn StepTimeModel, k: u64) -> f64 {
        if k <= EXACT_UP_TO {
            return self.f0 + (1..k).map(|i| self.f(model, i as f64)).sum::<f64>();
        }
        let (a, b) = (-0.5, k as f64 - 0.5);
        let panels = if k < 2_000 {
            1
        } else if k < 20_000 {
            2
        } else {
            4
        };
        let h = (b - a) / f64::from(panels);
        let mut integral = 0.0;
        for p in 0..panels {
            let lo = a + h * f64::from(p);
            let mid = lo + h / 2.0;
            let part: f64 = GL5
                .iter()
                .map(|(x, w)| w * self.f(model, mid + x * h / 2.0))
                .sum();
            integral += part * h / 2.0;
        }
        let kf = k as f64;
        let d_end = self.f(model, kf) - self.f(model, kf - 1.0);
        let d_start = self.f0 - self.fm1;
        integral - (d_end - d_start) / 24.0
    }

    /// The largest `j` in `0..k` whose first `j` steps end no later than
    /// `tau_ns` nanoseconds after the run's start (step ends rounded to ns),
    /// with `S(j)` (the caller needs it, and it was computed on the way).
    pub(crate) fn steps_ending_by(
        &self,
        model: &dyn StepTimeModel,
        k: u64,
        tau_ns: i64,
    ) -> (u64, f64) {
        // Most calls come from an arrival during a run's first step: S(1) is
        // the cached f(0), so that answer needs no model evaluation.
        if k <= 1 || tau_ns <= 0 || to_ns(self.f0) > tau_ns {
            return (0, 0.0);
        }
        // S(j) when the first j steps end by tau.
        let ends_by = |j: u64| -> Option<f64> {
            if j == 0 {
                return Some(0.0);
            }
            let s = self.sum(model, j);
            (to_ns(s) <= tau_ns).then_some(s)
        };
        let tau = tau_ns as f64 * 1e-9;
        let f0 = self.f0;
        let mut guess = if k <= EXACT_UP_TO + 1 {
            0
        } else {
            let slope = (self.f(model, (k - 1) as f64) - f0) / (k - 1) as f64;
            // Solve f0·j + slope·j(j−1)/2 = tau for a first guess.
            let est = if slope > f0 * 1e-12 {
                let b = f0 - slope / 2.0;
                (-b + (b * b + 2.0 * slope * tau).sqrt()) / slope
            } else {
                tau / f0
            };
            (est.max(0.0).floor() as u64).min(k - 1)
        };
        if guess < EXACT_UP_TO {
            // Short prefixes are summed step by step (as `sum` does, in the
            // same order, so the values are the same bits): scan them once.
            let mut prefix = 0.0; // Σ_{1 ≤ i < j} f(i)
            let mut last = (0, 0.0);
            for j in 1..k.min(EXACT_UP_TO + 1) {
                let s = f0 + prefix;
                if to_ns(s) > tau_ns {
                    return last;
                }
                last = (j, s);
                prefix += self.f(model, j as f64);
            }
            if k <= EXACT_UP_TO + 1 {
                return last;
            }
            guess = EXACT_UP_TO; // ends by tau: the search goes on from there
        }
        // Bracket around the guess, widening geometrically, then bisect.
        // Invariant: the first `lo` steps end by tau (their sum is `lo_sum`),
        // the first `hi` do not (hi may be k).
        let (mut lo, mut lo_sum, mut hi);
        if let Some(s) = ends_by(guess) {
            (lo, lo_sum) = (guess, s);
            let mut step = 1;
            loop {
                let cand = lo + step;
                if cand >= k {
                    hi = k;
                    break;
                }
                match ends_by(cand) {
                    Some(s) => {
                        (lo, lo_sum) = (cand, s);
                        step *= 2;
                    }
                    None => {
                        hi = cand;
                        break;
                    }
                }
            }
        } else {
            hi = guess;
            let mut step = 1;
            loop {
                let cand = hi.saturating_sub(step);
                if let Some(s) = ends_by(cand) {
                    (lo, lo_sum) = (cand, s);
                    break;
                }
                hi = cand;
                step *= 2;
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match ends_by(mid) {
                Some(s) => (lo, lo_sum) = (mid, s),
                None => hi = mid,
            }
        }
        (lo, lo_sum)
    }
}

/// Seconds → nanoseconds, rounded.
pub(crate) fn to_ns(secs: f64) -> i64 {
    crate::time::round_i64(secs * 1e9)
}

/// Blocks the decode set needs for `m` more tokens per sequence. `class[r]`
/// counts members with `coff ≡ r (mod bs)`; with `phase = g mod bs` their
/// computed-token count is `≡ r + phase (mod bs)`, so a member of class `r`
/// has `room = −(r + phase) mod bs` free slots in its last block.
///
/// With `m = q·bs + s`, a member with `room` slots needs
/// `⌈(m − room)/bs⌉⁺ = q + [room < s]` blocks, so the total is `q·n` plus the
/// members whose room is below `s`: a cyclic window of `s` classes. No
/// division inside the loop (this is on every decode step and run).
pub(crate) fn decode_blocks_needed(class: &[u32], phase: u64, bs: u64, m: u64) -> u64 {
    let n: u64 = class.iter().map(|&c| u64::from(c)).sum();
    (m / bs) * n + short_of(class, phase, bs, m % bs)
}

/// Members with fewer than `s` free slots in their last block.
fn short_of(class: &[u32], phase: u64, bs: u64, s: u64) -> u64 {
    by_room(class, phase, bs).take(s as usize).sum()
}

/// The class counts in order of the room their members have (0, 1, 2, …):
/// from the class with room 0 walking down cyclically.
fn by_room(class: &[u32], phase: u64, bs: u64) -> impl Iterator<Item = u64> + '_ {
    let start = ((bs - phase % bs) % bs) as usize;
    class[..=start]
        .iter()
        .rev()
        .chain(class[start + 1..].iter().rev())
        .map(|&c| u64::from(c))
}

/// The largest `m ≤ cap` with `decode_blocks_needed(m) ≤ free`: whole
/// blocks for every member `q = free / n` times, then as many more tokens
/// `s < bs` as the members short of room within `s` leave blocks for.
pub(crate) fn decode_steps_within(
    class: &[u32],
    n: u32,
    phase: u64,
    bs: u64,
    cap: u64,
    free: u64,
) -> u64 {
    let n = u64::from(n);
    // Quick accept: even if every sequence crossed a block boundary as often
    // as possible, `cap` steps fit.
    if n == 0 || n * (cap / bs + 1) <= free {
        return cap;
    }
    let q = free / n;
    let left = free - q * n;
    let mut short = 0u64;
    let s = by_room(class, phase, bs)
        .take(bs as usize - 1)
        .take_while(|&c| {
            short += c;
            short <= left
        })
        .count() as u64;
    (q * bs + s).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::step_time::Fitted;

    struct Hyp;
    impl StepTimeModel for Hyp {
        fn step(&self, s: &BatchShape) -> crate::engine::step_time::StepTime {
            let m = 0.004 + s.decode_kv * 2e-9;
            let c = 0.0001 * f64::from(s.decode_seqs) + s.decode_kv * 1e-9;
            let total = (m * m + c * c).sqrt() + 0.0015;
            crate::engine::step_time::StepTime {
                total,
                ..Default::default()
            }
        }
    }

    #[test]
    fn closed_form_sum_matches_step_by_step() {
        for &(n, c0) in &[(1u32, 100.0), (64, 64.0 * 2000.0), (256, 256.0 * 30_000.0)] {
            let r = RunShape::new(&Hyp, n, c0);
            for &k in &[25u64, 100, 999, 5000, 40_000] {
                let exact: f64 = (0..k).map(|i| r.f(&Hyp, i as f64)).sum();
                let fast = r.sum(&Hyp, k);
                assert!(
                    ((fast - exact) / exact).abs() < 1e-11,
                    "n={n} k={k}: {fast} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn search_finds_the_last_step_ending_by_tau() {
        let r = RunShape::new(&Hyp, 32, 32.0 * 1000.0);
        let k = 3000;
        let mut ends = Vec::new();
        let mut acc = 0.0;
        for i in 0..k {
            acc += r.f(&Hyp, i as f64);
            ends.push(acc);
        }
        for &tau_ms in &[0.1, 5.0, 5.9, 100.0, 2000.0, 9000.0, 1e9] {
            let tau_ns = (tau_ms * 1e6) as i64;
            let (got, sum) = r.steps_ending_by(&Hyp, k, tau_ns);
            assert_eq!(sum, if got == 0 { 0.0 } else { r.sum(&Hyp, got) });
            let want = ends.iter().filter(|&&e| to_ns(e) <= tau_ns).count() as u64;
            assert_eq!(got, want.min(k - 1), "tau {tau_ms}");
        }
        // Around every step end of short and long runs, the answer is the
        // definition's over `sum` itself, and so is the sum returned.
        for k in [2, 5, 12, 13, 14, 3000] {
            let ends: Vec<i64> = (0..k.min(20)).map(|j| to_ns(r.sum(&Hyp, j))).collect();
            for &end in &ends {
                for tau_ns in [end - 1, end, end + 1] {
                    let (got, sum) = r.steps_ending_by(&Hyp, k, tau_ns);
                    let want = (0..k)
                        .take_while(|&j| to_ns(r.sum(&Hyp, j)) <= tau_ns)
                        .last()
                        .unwrap_or(0);
                    assert_eq!(got, want, "k {k} tau {tau_ns}");
                    assert_eq!(sum, if got == 0 { 0.0 } else { r.sum(&Hyp, got) });
                }
            }
        }
        let r = RunShape::new(
            &Fitted {
                a: 0.01,
                ..Default::default()
            },
            32,
            32.0 * 1000.0,
        );
        let flat = Fitted {
            a: 0.01,
            ..Default::default()
        };
        assert_eq!(r.steps_ending_by(&flat, 100, 55_000_000).0, 5);
    }

    /// The definition, member class by member class.
    fn needed_by_definition(class: &[u32], phase: u64, bs: u64, m: u64) -> u64 {
        let mut total = 0u64;
        for (r, &cnt) in class.iter().enumerate() {
            let room = (bs - (r as u64 + phase) % bs) % bs;
            if m > room {
                total += u64::from(cnt) * (m - room).div_ceil(bs);
            }
        }
        total
    }

    #[test]
    fn block_counting_matches_the_definition() {
        let mut rng = crate::rng::Stream::named(11, "blocks");
        for _ in 0..3000 {
            let bs = [1u64, 2, 4, 16, 32][rng.below(5) as usize];
            let class: Vec<u32> = (0..bs).map(|_| rng.below(4) as u32).collect();
            let n: u32 = class.iter().sum();
            let phase = rng.below(2 * bs);
            let m = rng.below(200);
            assert_eq!(
                decode_blocks_needed(&class, phase, bs, m),
                needed_by_definition(&class, phase, bs, m),
                "bs {bs} phase {phase} m {m} {class:?}"
            );
            let cap = 1 + rng.below(300);
            let free = rng.below(400);
            let want = (0..=cap)
                .rev()
                .find(|&k| needed_by_definition(&class, phase, bs, k) <= free)
                .unwrap_or(0);
            assert_eq!(
                decode_steps_within(&class, n, phase, bs, cap, free),
                want,
                "bs {bs} phase {phase} cap {cap} free {free} {class:?}"
            );
        }
    }

    #[test]
    fn block_counting_by_residue_class() {
        // bs 4, phase 0. Two sequences with 4 tokens (full last block, room 0)
        // and one with 5 tokens (room 3).
        let mut class = vec![0u32; 4];
        class[0] = 2;
        class[1] = 1;
        assert_eq!(decode_blocks_needed(&class, 0, 4, 1), 2);
        assert_eq!(decode_blocks_needed(&class, 0, 4, 4), 3);
        assert_eq!(decode_blocks_needed(&class, 0, 4, 5), 5);
        assert_eq!(decode_steps_within(&class, 3, 0, 4, 100, 3), 4);
        assert_eq!(decode_steps_within(&class, 3, 0, 4, 100, 1), 0);
    }
}
