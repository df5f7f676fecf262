//! Random distributions for start-up stages, provisioning and token counts.

use crate::rng::Stream;
use crate::time::SimDuration;

/// A distribution over non-negative reals (seconds or tokens).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always this value.
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Log-normal with this median and log-space standard deviation,
    /// clamped to `[min, max]`.
    LogNormal {
        /// Median.
        median: f64,
        /// Log-space standard deviation.
        sigma: f64,
        /// Lower clamp.
        min: f64,
        /// Upper clamp.
        max: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: f64,
    },
}

impl Dist {
    /// A log-normal without clamps.
    pub const fn lognormal(median: f64, sigma: f64) -> Dist {
        Dist::LogNormal {
            median,
            sigma,
            min: 0.0,
            max: f64::INFINITY,
        }
    }

    /// One draw (never negative). A fixed value draws nothing from `rng`.
    pub fn sample(&self, rng: &mut Stream) -> f64 {
        let v = match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => min + (max - min) * rng.uniform(),
            Dist::LogNormal {
                median,
                sigma,
                min,
                max,
            } => rng.lognormal(median, sigma).max(min).min(max),
            Dist::Exponential { mean } => rng.exponential(mean),
        };
        v.max(0.0)
    }

    /// One draw read as seconds.
    pub fn duration(&self, rng: &mut Stream) -> SimDuration {
        secs(self.sample(rng))
    }

    /// One draw read as a token count (at least 1).
    pub fn tokens(&self, rng: &mut Stream) -> u32 {
        let v = crate::time::round_i64(self.sample(rng));
        v.clamp(1, i64::from(u32::MAX)) as u32
    }

    /// The median (or the value), for reports.
    pub fn median(&self) -> f64 {
        match *self {
            Dist::Fixed(v) => v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::LogNormal {
                median, min, max, ..
            } => median.max(min).min(max),
            Dist::Exponential { mean } => mean * std::f64::consts::LN_2,
        }
    }
}

/// Seconds as a duration, rounded to the microsecond (saturating).
pub fn secs(s: f64) -> SimDuration {
    SimDuration::from_micros(crate::time::round_i64(s * 1e6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_respect_bounds_and_medians() {
        let mut r = Stream::named(1, "t");
        let d = Dist::LogNormal {
            median: 60.0,
            sigma: 0.5,
            min: 30.0,
            max: 120.0,
        };
        let mut v: Vec<f64> = (0..20_001).map(|_| d.sample(&mut r)).collect();
        assert!(v.iter().all(|x| (30.0..=120.0).contains(x)));
        v.sort_by(f64::total_cmp);
        assert!((v[10_000] - 60.0).abs() < 2.0, "{}", v[10_000]);
        assert_eq!(Dist::Fixed(3.0).duration(&mut r), SimDuration::from_secs(3));
        assert_eq!(Dist::Fixed(0.2).tokens(&mut r), 1);
    }
}
