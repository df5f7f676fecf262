//! Simulated time.
//!
//! Time is an integer count of microseconds (R4). A microsecond is fine enough
//! for per-token latencies and coarse enough that an `i64` spans ±292,000
//! years, so timestamps taken from Kubernetes objects (including Go's zero time,
//! 0001-01-01, which the HPA treats as an ordinary very old instant) are exact.
//! `SimTime` is signed for that reason only; a simulation starts at
//! [`SimTime::ZERO`] and moves forward.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// `x.round() as i64` (half away from zero, saturating, NaN → 0) without
/// the libm call `round` becomes on baseline x86-64: truncate, then look at
/// the fraction, which `x − trunc(x)` gives exactly. Branch-free: whether a
/// fraction is above a half is a coin toss the branch predictor loses half
/// the time, and step ends are rounded on every run and search.
#[inline]
pub(crate) fn round_i64(x: f64) -> i64 {
    let t = x as i64;
    let frac = x - t as f64;
    t.saturating_add(i64::from(frac >= 0.5) - i64::from(frac <= -0.5))
}

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_MILLI: i64 = 1_000;

/// An instant of simulated time, in microseconds since the simulation epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(i64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(i64);

impl SimTime {
    /// The simulation epoch.
    pub const ZERO: SimTime = SimTime(0);

    /// An instant `s` whole seconds after the epoch (negative: before).
    pub const fn from_secs(s: i64) -> Self {
        SimTime(s * MICROS_PER_SEC)
    }
    /// An instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        SimTime(ms * MICROS_PER_MILLI)
    }
    /// An instant `us` microseconds after the epoch.
    pub const fn from_micros(us: i64) -> Self {
        SimTime(us)
    }
    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }
    /// Whole seconds since the epoch, rounded toward negative infinity.
    pub const fn as_secs_floor(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SEC)
    }
    /// Seconds since the epoch as a float (for reports only, never for state).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }
    /// `self - d`, saturating at the representable range.
    pub const fn saturating_sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
    /// `self + d`, saturating at the representable range.
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self` (negative spans clamp to zero).
    pub const fn since(self, earlier: SimTime) -> SimDuration {
        let d = self.0.saturating_sub(earlier.0);
        SimDuration(if d < 0 { 0 } else { d })
    }
}

impl SimDuration {
    /// The empty span.
    pub const ZERO: SimDuration = SimDuration(0);

    /// `s` whole seconds.
    pub const fn from_secs(s: i64) -> Self {
        SimDuration(s * MICROS_PER_SEC)
    }
    /// `ms` milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        SimDuration(ms * MICROS_PER_MILLI)
    }
    /// `us` microseconds.
    pub const fn from_micros(us: i64) -> Self {
        SimDuration(us)
    }
    /// Length in microseconds.
    pub const fn as_micros(self) -> i64 {
        self.0
    }
    /// Length in milliseconds, truncated.
    pub const fn as_millis(self) -> i64 {
        self.0 / MICROS_PER_MILLI
    }
    /// Length in whole seconds, truncated.
    pub const fn as_secs(self) -> i64 {
        self.0 / MICROS_PER_SEC
    }
    /// Length in seconds as a float (for reports and rates, never for state).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }
}

// Time arithmetic saturates: a drawn duration can be absurd (a
// log-normal with a huge sigma draws +∞, which `dist::secs` saturates to
// the largest duration), and an instant past the end of any run must stay
// past it, never wrap to a negative time or panic.
impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    fn sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", self)
    }
}
impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, e.g. `75.250s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let ms = a / 1_000;
        write!(f, "{sign}{}.{:03}s", ms / 1000, ms % 1000)
    }
}
impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self)
    }
}
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", SimTime(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        // An absurd drawn duration (a log-normal's +∞, saturated) added to a
        // time: a debug build panicked, a release build wrapped negative.
        let huge = SimDuration::from_micros(i64::MAX);
        let t = SimTime::ZERO + SimDuration::from_secs(10);
        assert_eq!((t + huge).as_micros(), i64::MAX);
        let mut u = t;
        u += huge;
        assert!(u > t);
        assert_eq!((huge + huge).as_micros(), i64::MAX);
        assert_eq!((SimTime::ZERO - huge - huge).as_micros(), i64::MIN);
    }

    #[test]
    fn go_zero_time_is_representable_and_ordered() {
        let zero = SimTime::from_secs(-62_135_596_800);
        let now = SimTime::from_secs(1_767_225_600);
        assert!(zero < now);
        assert_eq!(zero.as_secs_floor(), -62_135_596_800);
        assert_eq!(now.since(zero).as_secs(), 1_767_225_600 + 62_135_596_800);
    }

    #[test]
    fn display_is_seconds_with_millis() {
        assert_eq!(SimTime::from_millis(75_250).to_string(), "75.250s");
        assert_eq!(SimDuration::from_micros(1_500).to_string(), "0.001s");
        assert_eq!(SimTime::from_secs(-2).to_string(), "-2.000s");
    }

    #[test]
    fn round_i64_is_round() {
        let mut r = crate::rng::Stream::named(9, "round");
        let specials = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            9.3e18,
            -9.3e18,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e300,
            -1e300,
        ];
        let random = (0..100_000).map(|_| (r.uniform() - 0.5) * (r.uniform() * 60.0).exp2());
        for x in specials.into_iter().chain(random) {
            assert_eq!(round_i64(x), x.round() as i64, "{x:e}");
            let h = x.trunc() + 0.5;
            assert_eq!(round_i64(h), h.round() as i64, "{h:e}");
        }
    }
}
