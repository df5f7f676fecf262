//! Where requests come from: rate patterns (Poisson arrivals with a
//! time-varying rate) and trace replay.
//!
//! Arrivals are produced lazily, one at a time, so a 24-hour run never holds
//! its requests in memory. A generator draws inter-arrival times from the
//! `arrivals` stream and token lengths from the `lengths` stream, so changing
//! the length distribution never moves the arrival instants (common random
//! numbers across the specs of a sweep).

use std::sync::Arc;

use super::dist::{Dist, secs};
use crate::rng::Stream;
use crate::time::SimTime;

/// One request as the client sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// When it is sent.
    pub time: SimTime,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens.
    pub output: u32,
    /// Prefix-block hashes (trace replay with `hash_ids`).
    pub prefix: Option<Arc<[u64]>>,
    /// Vision-encoder FLOPs of its images (0 for text requests).
    pub encoder_flops: f64,
}

/// Images attached to synthetic requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Images {
    /// Images per request that carries any.
    pub per_request: u32,
    /// The share of requests that carry images, in (0, 1].
    pub share: f64,
    /// Language-model tokens per image (added to the prompt).
    pub tokens_per_image: u32,
    /// Vision-encoder FLOPs per image.
    pub flops_per_image: f64,
}

/// A request rate over time, requests per second.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// Linear between knots `(seconds, rate)`: the first rate before the
    /// first knot, the last after the last. Two knots at one instant make a
    /// step. Constant, ramp, step, spike and decrease are all of this form.
    Piecewise(Vec<(f64, f64)>),
    /// `mean + amplitude · sin(2π (t + phase) / period)`, never below zero.
    Diurnal {
        /// Mean rate.
        mean: f64,
        /// Amplitude.
        amplitude: f64,
        /// Period, seconds.
        period: f64,
        /// Phase shift, seconds.
        phase: f64,
    },
    /// A Markov-modulated Poisson process: in state `i` arrivals come at
    /// `rate`, the state lasts an exponential time with mean `mean_dwell`
    /// seconds, then moves to another state chosen uniformly.
    Bursty(Vec<BurstState>),
}

/// One state of a [`Pattern::Bursty`] process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstState {
    /// Requests per second in this state.
    pub rate: f64,
    /// Mean time in the state, seconds.
    pub mean_dwell: f64,
}

impl Pattern {
    /// The rate at `t` seconds.
    pub fn rate_at(&self, t: f64) -> Option<f64> {
        match self {
            Pattern::Piecewise(k) => {
                let first = k.first()?;
                if t < first.0 {
                    return Some(first.1);
                }
                for w in k.windows(2) {
                    let ((t0, r0), (t1, r1)) = (w[0], w[1]);
                    if t >= t0 && t < t1 {
                        return Some(r0 + (r1 - r0) * (t - t0) / (t1 - t0));
                    }
                }
                k.last().map(|l| l.1)
            }
            Pattern::Diurnal {
                mean,
                amplitude,
                period,
                phase,
            } => Some(
                (mean + amplitude * (std::f64::consts::TAU * (t + phase) / period).sin()).max(0.0),
            ),
            Pattern::Bursty(_) => None,
        }
    }
}

/// Synthetic arrivals: a [`Pattern`] and token-length distributions.
#[derive(Clone, Debug)]
pub struct Generator {
    pattern: Pattern,
    prompt: Dist,
    output: Dist,
    lengths: Stream,
    cur: Cursor,
    images: Option<(Images, Stream)>,
}

/// Where a generator is in its pattern.
#[derive(Clone, Debug)]
struct Cursor {
    arrivals: Stream,
    t: f64,
    seg: usize,
    state: usize,
    switch_at: f64,
    /// Diurnal thinning: the slice the bounds below hold for, and the rate's
    /// upper and lower bounds over it.
    slice: Option<(i64, f64, f64)>,
}

/// Diurnal thinning works slice by slice against a bound on the rate over
/// the slice, so almost every candidate is accepted (one bound over the
/// whole day would reject most candidates at night).
const THIN_SLICE_S: f64 = 60.0;

impl Generator {
    /// A generator starting at time zero; `seed` is the scenario seed.
    pub fn new(pattern: Pattern, prompt: Dist, output: Dist, seed: u64) -> Generator {
        let mut arrivals = Stream::named(seed, "arrivals");
        let switch_at = match &pattern {
            Pattern::Bursty(s) => s
                .first()
                .map_or(f64::INFINITY, |s| arrivals.exponential(s.mean_dwell)),
            _ => f64::INFINITY,
        };
        Generator {
            pattern,
            prompt,
            output,
            lengths: Stream::named(seed, "lengths"),
            cur: Cursor {
                arrivals,
                t: 0.0,
                seg: 0,
                state: 0,
                switch_at,
                slice: None,
            },
            images: None,
        }
    }

    /// The same generator with images on (a share of) its requests; which
    /// requests carry them is drawn from its own stream, so text lengths
    /// and arrival times stay those of the generator without images.
    pub fn with_images(mut self, images: Images, seed: u64) -> Generator {
        self.images = Some((images, Stream::named(seed, "images")));
        self
    }

    fn next(&mut self) -> Option<Arrival> {
        let t = self.cur.next_time(&self.pattern)?;
        let mut a = Arrival {
            time: SimTime::ZERO + secs(t),
            prompt: self.prompt.tokens(&mut self.lengths),
            output: self.output.tokens(&mut self.lengths),
            prefix: None,
            encoder_flops: 0.0,
        };
        if let Some((img, rng)) = &mut self.images
            && (img.share >= 1.0 || rng.uniform() < img.share)
        {
            let n = img.per_request;
            a.prompt = a
                .prompt
                .saturating_add(n.saturating_mul(img.tokens_per_image));
            a.encoder_flops = f64::from(n) * img.flops_per_image;
        }
        Some(a)
    }
}

impl Cursor {
    fn next_time(&mut self, pattern: &Pattern) -> Option<f64> {
        match pattern {
            Pattern::Piecewise(knots) => self.next_piecewise(knots),
            Pattern::Diurnal {
                mean,
                amplitude,
                period,
                ..
            } => {
                let max = mean + amplitude.abs();
                if max <= 0.0 {
                    return None;
                }
                // The rate's slope is at most |A|·2π/P, so over a slice it
                // exceeds the larger endpoint by at most that times half a
                // slice: a valid majorant, tight to a fraction of a percent.
                let slack = amplitude.abs() * std::f64::consts::TAU / period * THIN_SLICE_S / 2.0;
                loop {
                    let k = (self.t / THIN_SLICE_S).floor() as i64;
                    let end = (k + 1) as f64 * THIN_SLICE_S;
                    let (bound, floor) = match self.slice {
                        Some((i, b, f)) if i == k => (b, f),
                        _ => {
                            let r0 = pattern.rate_at(k as f64 * THIN_SLICE_S).unwrap_or(0.0);
                            let r1 = pattern.rate_at(end).unwrap_or(0.0);
                            let b = (r0.max(r1) + slack).min(max);
                            // The same slope argument bounds it from below;
                            // a hair is kept back for rounding in `rate_at`.
                            let f = ((r0.min(r1) - slack) * (1.0 - 1e-9)).max(0.0);
                            self.slice = Some((k, b, f));
                            (b, f)
                        }
                    };
                    if bound <= 0.0 {
                        self.t = end;
                        continue;
                    }
                    let cand = self.t + self.arrivals.exponential(1.0 / bound);
                    if cand >= end {
                        // Memoryless: restart the draw at the slice boundary.
                        self.t = end;
                        continue;
                    }
                    self.t = cand;
                    let u = self.arrivals.uniform() * bound;
                    // Below the slice's floor the candidate is accepted
                    // whatever the rate: the sine is needed only above it.
                    if u < floor || u < pattern.rate_at(self.t).unwrap_or(0.0) {
                        return Some(self.t);
                    }
                }
            }
            Pattern::Bursty(states) => {
                if states.iter().all(|s| s.rate <= 0.0) {
                    return None;
                }
                loop {
                    let s = states[self.state];
                    let x = if s.rate > 0.0 {
                        self.arrivals.exponential(1.0 / s.rate)
                    } else {
                        f64::INFINITY
                    };
                    if self.t + x < self.switch_at {
                        self.t += x;
                        return Some(self.t);
                    }
                    self.t = self.switch_at;
                    if states.len() > 1 {
                        let k = self.arrivals.below(states.len() as u64 - 1) as usize;
                        self.state = if k >= self.state { k + 1 } else { k };
                    }
                    self.switch_at =
                        self.t + self.arrivals.exponential(states[self.state].mean_dwell);
                }
            }
        }
    }

    /// Inversion of the integrated rate, segment by segment.
    fn next_piecewise(&mut self, knots: &[(f64, f64)]) -> Option<f64> {
        if knots.is_empty() {
            return None;
        }
        let mut e = self.arrivals.exponential(1.0);
        loop {
            // Segment `seg` spans knots[seg-1]..knots[seg]; 0 is before the
            // first knot and len is after the last (both constant).
            let (end, a, b) = if self.seg == 0 {
                (knots[0].0, knots[0].1, 0.0)
            } else if self.seg >= knots.len() {
                (f64::INFINITY, knots[knots.len() - 1].1, 0.0)
            } else {
                let (t0, r0) = knots[self.seg - 1];
                let (t1, r1) = knots[self.seg];
                let slope = if t1 > t0 { (r1 - r0) / (t1 - t0) } else { 0.0 };
                (t1, r0 + slope * (self.t - t0), slope)
            };
            if self.t < end {
                let a = a.max(0.0);
                let disc = a * a + 2.0 * b * e;
                if disc >= 0.0 {
                    let den = a + disc.sqrt();
                    if den > 0.0 {
                        let x = 2.0 * e / den;
                        if self.t + x <= end {
                            self.t += x;
                            return Some(self.t);
                        }
                    }
                }
                if end.is_infinite() {
                    return None;
                }
                let len = end - self.t;
                e -= (a * len + 0.5 * b * len * len).max(0.0);
                self.t = end;
            }
            self.seg += 1;
        }
    }
}

/// One request of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    /// Microseconds since the trace's first request.
    pub offset_us: i64,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens.
    pub output: u32,
    /// Prefix-block hashes, if the trace has them.
    pub prefix: Option<Arc<[u64]>>,
}

/// Replay settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOptions {
    /// Timestamps are multiplied by this (0.5 replays twice as fast).
    pub time_scale: f64,
    /// Requests per trace request: the integer part is copied, the fraction
    /// is a probability; copies are spread evenly up to the next request.
    pub rate_multiplier: f64,
    /// Start again after the last request (offset by the span plus the mean
    /// gap) until the run ends.
    pub repeat: bool,
    /// Seconds of the trace to skip at the start.
    pub skip_s: f64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            time_scale: 1.0,
            rate_multiplier: 1.0,
            repeat: false,
            skip_s: 0.0,
        }
    }
}

/// Spreads requests that share a timestamp evenly over the slot up to the
/// next distinct timestamp (the Mooncake conversation trace is quantised to
/// ~3 s ticks). The last tick's slot is the median slot length.
pub fn spread_ticks(rows: &mut [TraceRow]) {
    let mut starts = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        starts.push(i);
        let t = rows[i].offset_us;
        while i < rows.len() && rows[i].offset_us == t {
            i += 1;
        }
    }
    let mut slots: Vec<i64> = starts
        .windows(2)
        .map(|w| rows[w[1]].offset_us - rows[w[0]].offset_us)
        .collect();
    slots.sort_unstable();
    let median = slots.get(slots.len() / 2).copied().unwrap_or(0);
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(rows.len());
        let slot = if k + 1 < starts.len() {
            rows[end].offset_us - rows[s].offset_us
        } else {
            median
        };
        let n = (end - s) as i64;
        let t0 = rows[s].offset_us;
        for (j, row) in rows[s..end].iter_mut().enumerate() {
            row.offset_us = t0 + slot * j as i64 / n;
        }
    }
}

/// Replays a trace (rows sorted by offset).
#[derive(Clone, Debug)]
pub struct Replay {
    rows: Arc<[TraceRow]>,
    opts: ReplayOptions,
    rng: Stream,
    i: usize,
    copy: u32,
    copies: u32,
    lap_offset: f64,
    lap: f64,
}

impl Replay {
    /// A replay of `rows` under `opts`.
    pub fn new(rows: Arc<[TraceRow]>, opts: ReplayOptions, seed: u64) -> Replay {
        let skip_us = (opts.skip_s * 1e6) as i64;
        let i = rows.partition_point(|r| r.offset_us < skip_us);
        let span = rows.last().map_or(0, |l| l.offset_us) as f64 * 1e-6;
        let gap = if rows.len() > 1 {
            span / (rows.len() - 1) as f64
        } else {
            1.0
        };
        Replay {
            lap: span + gap,
            rows,
            rng: Stream::named(seed, "trace-thinning"),
            i,
            copy: 0,
            copies: 0,
            lap_offset: -opts.skip_s,
            opts,
        }
    }

    fn next(&mut self) -> Option<Arrival> {
        loop {
            if self.i >= self.rows.len() {
                if !self.opts.repeat || self.rows.is_empty() {
                    return None;
                }
                self.i = 0;
                self.lap_offset += self.lap;
            }
            if self.copy == 0 {
                let m = self.opts.rate_multiplier;
                let extra = u32::from(self.rng.uniform() < m.fract());
                self.copies = m.trunc() as u32 + extra;
            }
            if self.copy >= self.copies {
                self.copy = 0;
                self.i += 1;
                continue;
            }
            let row = &self.rows[self.i];
            let t0 = row.offset_us as f64 * 1e-6;
            let next = self.rows.get(self.i + 1).map_or(
                t0 + self.lap - self.rows.last().map_or(0.0, |l| l.offset_us as f64 * 1e-6),
                |r| r.offset_us as f64 * 1e-6,
            );
            let t = t0 + (next - t0) * f64::from(self.copy) / f64::from(self.copies);
            let at = (t + self.lap_offset) * self.opts.time_scale;
            self.copy += 1;
            if at < 0.0 {
                continue;
            }
            return Some(Arrival {
                time: SimTime::ZERO + secs(at),
                prompt: row.prompt,
                output: row.output,
                prefix: row.prefix.clone(),
                encoder_flops: 0.0,
            });
        }
    }
}

/// The scenario's source of requests.
#[derive(Clone, Debug)]
pub enum Source {
    /// Synthetic.
    Generator(Generator),
    /// A trace.
    Replay(Replay),
}

impl Pattern {
    /// Requests expected in `[0, duration_s)`: the rate's integral (the
    /// stationary mean rate for a bursty process). Used to refuse absurd
    /// work before running; infinite when the rates are.
    pub fn expected_requests(&self, duration_s: f64) -> f64 {
        match self {
            Pattern::Piecewise(k) => {
                let Some(&(t_first, r_first)) = k.first() else {
                    return 0.0;
                };
                let mut total = r_first * t_first.clamp(0.0, duration_s);
                for w in k.windows(2) {
                    let ((t0, r0), (t1, r1)) = (w[0], w[1]);
                    let (a, b) = (t0.clamp(0.0, duration_s), t1.clamp(0.0, duration_s));
                    if b > a && t1 > t0 {
                        let at = |t: f64| r0 + (r1 - r0) * (t - t0) / (t1 - t0);
                        total += (at(a) + at(b)) / 2.0 * (b - a);
                    }
                }
                let t_last = k.last().map_or(0.0, |l| l.0).max(0.0);
                total + k.last().map_or(0.0, |l| l.1) * (duration_s - t_last).max(0.0)
            }
            Pattern::Diurnal {
                mean, amplitude, ..
            } => (mean + amplitude.abs()) * duration_s,
            Pattern::Bursty(states) => {
                let dwell: f64 = states.iter().map(|s| s.mean_dwell).sum();
                let mean = states.iter().map(|s| s.rate * s.mean_dwell).sum::<f64>() / dwell;
                if dwell > 0.0 { mean * duration_s } else { 0.0 }
            }
        }
    }
}

impl Replay {
    /// Requests expected in `[0, duration_s)`: rows after the skip, times
    /// the rate multiplier, times the laps that fit when repeating.
    pub fn expected_requests(&self, duration_s: f64) -> f64 {
        let per_lap =
            (self.rows.len() - self.i.min(self.rows.len())) as f64 * self.opts.rate_multiplier;
        let first = per_lap.min(self.rows.len() as f64 * self.opts.rate_multiplier);
        if !self.opts.repeat {
            return first;
        }
        let lap_s = self.lap * self.opts.time_scale;
        if lap_s > 0.0 {
            first + self.rows.len() as f64 * self.opts.rate_multiplier * (duration_s / lap_s)
        } else {
            f64::INFINITY
        }
    }
}

impl Source {
    /// Requests expected in `[0, duration_s)` (see
    /// [`Pattern::expected_requests`] and [`Replay::expected_requests`]).
    pub fn expected_requests(&self, duration_s: f64) -> f64 {
        match self {
            Source::Generator(g) => g.pattern.expected_requests(duration_s),
            Source::Replay(r) => r.expected_requests(duration_s),
        }
    }

    /// The next request, in time order.
    pub fn next_arrival(&mut self) -> Option<Arrival> {
        match self {
            Source::Generator(g) => g.next(),
            Source::Replay(r) => r.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(p: Pattern, until: f64) -> Vec<f64> {
        let mut g = Generator::new(p, Dist::Fixed(10.0), Dist::Fixed(10.0), 3);
        let mut v = Vec::new();
        while let Some(a) = g.next() {
            let t = a.time.as_secs_f64();
            if t >= until {
                break;
            }
            v.push(t);
        }
        v
    }

    #[test]
    fn expected_requests_are_the_rate_integral() {
        let flat = Pattern::Piecewise(vec![(0.0, 20.0)]);
        assert_eq!(flat.expected_requests(100.0), 2000.0);
        let ramp = Pattern::Piecewise(vec![(10.0, 0.0), (20.0, 10.0)]);
        assert_eq!(ramp.expected_requests(30.0), 50.0 + 100.0);
        assert_eq!(ramp.expected_requests(15.0), 12.5);
        let bursty = Pattern::Bursty(vec![
            BurstState {
                rate: 1.0,
                mean_dwell: 3.0,
            },
            BurstState {
                rate: 5.0,
                mean_dwell: 1.0,
            },
        ]);
        assert_eq!(bursty.expected_requests(4.0), 8.0);
        // Rows sharing one timestamp, repeated: endless at one instant.
        let rows: Arc<[TraceRow]> = (0..10)
            .map(|_| TraceRow {
                offset_us: 0,
                prompt: 1,
                output: 1,
                prefix: None,
            })
            .collect::<Vec<_>>()
            .into();
        let opts = ReplayOptions {
            repeat: true,
            ..Default::default()
        };
        let r = Replay::new(rows, opts, 1);
        assert_eq!(r.expected_requests(60.0), f64::INFINITY);
    }

    #[test]
    fn constant_and_ramp_rates_come_out_right() {
        let c = count(Pattern::Piecewise(vec![(0.0, 20.0)]), 1000.0);
        assert!((c.len() as f64 - 20_000.0).abs() < 450.0, "{}", c.len());
        // Ramp 0 → 40 over 1000 s: 20,000 expected, 3/4 of them in the second half.
        let r = count(Pattern::Piecewise(vec![(0.0, 0.0), (1000.0, 40.0)]), 1000.0);
        assert!((r.len() as f64 - 20_000.0).abs() < 450.0, "{}", r.len());
        let late = r.iter().filter(|t| **t >= 500.0).count() as f64 / r.len() as f64;
        assert!((late - 0.75).abs() < 0.015, "{late}");
        assert!(r.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_step_down_to_zero_ends_the_stream() {
        let s = count(
            Pattern::Piecewise(vec![(0.0, 10.0), (100.0, 10.0), (100.0, 0.0)]),
            1e9,
        );
        assert!(s.iter().all(|t| *t <= 100.0));
        assert!((s.len() as f64 - 1000.0).abs() < 110.0);
    }

    #[test]
    fn diurnal_and_bursty_means() {
        let d = count(
            Pattern::Diurnal {
                mean: 10.0,
                amplitude: 8.0,
                period: 1000.0,
                phase: 0.0,
            },
            10_000.0,
        );
        assert!((d.len() as f64 - 100_000.0).abs() < 1_500.0, "{}", d.len());
        let b = count(
            Pattern::Bursty(vec![
                BurstState {
                    rate: 2.0,
                    mean_dwell: 50.0,
                },
                BurstState {
                    rate: 20.0,
                    mean_dwell: 50.0,
                },
            ]),
            100_000.0,
        );
        assert!(
            (b.len() as f64 / 100_000.0 - 11.0).abs() < 1.0,
            "{}",
            b.len()
        );
    }

    #[test]
    fn diurnal_thinning_follows_the_curve_at_peak_and_trough() {
        // 10 + 8·sin(2πt/1000): over [P/8, 3P/8] the integral is
        // 2500 + 8000/(2π)·√2 ≈ 4300.6 per period, over [5P/8, 7P/8]
        // ≈ 699.4; ten periods, within four Poisson standard deviations.
        let d = count(
            Pattern::Diurnal {
                mean: 10.0,
                amplitude: 8.0,
                period: 1000.0,
                phase: 0.0,
            },
            10_000.0,
        );
        let quarter = |lo: f64, hi: f64| {
            d.iter()
                .filter(|t| {
                    let x = *t % 1000.0;
                    x >= lo && x < hi
                })
                .count() as f64
        };
        let peak = quarter(125.0, 375.0);
        let trough = quarter(625.0, 875.0);
        let d_peak = 10.0 * (2500.0 + 8000.0 / std::f64::consts::TAU * std::f64::consts::SQRT_2);
        let d_trough = 10.0 * (2500.0 - 8000.0 / std::f64::consts::TAU * std::f64::consts::SQRT_2);
        assert!(
            (peak - d_peak).abs() < 4.0 * d_peak.sqrt(),
            "{peak} vs {d_peak}"
        );
        assert!(
            (trough - d_trough).abs() < 4.0 * d_trough.sqrt(),
            "{trough} vs {d_trough}"
        );
    }

    fn rows(ts: &[i64]) -> Arc<[TraceRow]> {
        ts.iter()
            .map(|&t| TraceRow {
                offset_us: t,
                prompt: 1,
                output: 1,
                prefix: None,
            })
            .collect()
    }

    #[test]
    fn replay_scales_multiplies_and_repeats() {
        let r = rows(&[0, 1_000_000, 2_000_000]);
        let opts = ReplayOptions {
            time_scale: 0.5,
            rate_multiplier: 2.0,
            ..ReplayOptions::default()
        };
        let mut p = Replay::new(r.clone(), opts, 1);
        let t: Vec<i64> = std::iter::from_fn(|| p.next().map(|a| a.time.as_micros())).collect();
        assert_eq!(t, vec![0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000]);
        let opts = ReplayOptions {
            repeat: true,
            ..ReplayOptions::default()
        };
        let mut p = Replay::new(r, opts, 1);
        let t: Vec<i64> = (0..5)
            .filter_map(|_| p.next().map(|a| a.time.as_micros()))
            .collect();
        assert_eq!(t, vec![0, 1_000_000, 2_000_000, 3_000_000, 4_000_000]);
    }

    #[test]
    fn ticks_spread_over_their_slot() {
        let mut v: Vec<TraceRow> = rows(&[0, 0, 0, 3_000_000, 3_000_000]).to_vec();
        spread_ticks(&mut v);
        let t: Vec<i64> = v.iter().map(|r| r.offset_us).collect();
        assert_eq!(t, vec![0, 1_000_000, 2_000_000, 3_000_000, 4_500_000]);
    }
}
