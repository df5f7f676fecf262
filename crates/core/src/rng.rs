//! Seeded, named random streams.
//!
//! Every purpose that draws random numbers (arrivals, output lengths, one
//! pod's start-up phases, ...) gets its own [`Stream`], derived from the
//! scenario seed and a name. Adding a draw to one purpose therefore never
//! shifts the numbers another purpose sees, and a run is reproducible bit for
//! bit from its seed. The generator is xoshiro256++ seeded through SplitMix64
//! (both public-domain algorithms by Blackman and Vigna); it is small, fast and
//! has no dependency.

/// One independent random stream.
#[derive(Clone, Debug)]
pub struct Stream {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, used only to turn a stream name into a number.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The unnormalised normal density `exp(−x²/2)`, which the ziggurat's
/// layers are cut from.
fn gauss(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

/// The ziggurat's layer edges `x[0..=256]` (`x[1] = R`, `x[256] = 0`,
/// `x[0] = V/f(R)`) and `f(x) = exp(−x²/2)` at them, for 256 layers of area
/// `V` each (Marsaglia & Tsang 2000; Doornik 2005 for R and V).
fn ziggurat() -> &'static ([f64; 257], [f64; 257]) {
    static TABLES: std::sync::LazyLock<([f64; 257], [f64; 257])> = std::sync::LazyLock::new(|| {
        const R: f64 = 3.654_152_885_361_009;
        const V: f64 = 0.004_928_673_233_99;
        let f = gauss;
        let mut x = [0.0; 257];
        x[0] = V / f(R);
        x[1] = R;
        for i in 1..255 {
            let fi = (V / x[i] + f(x[i])).min(1.0);
            x[i + 1] = (-2.0 * fi.ln()).sqrt();
        }
        x[256] = 0.0;
        let mut fx = [0.0; 257];
        for (y, xi) in fx.iter_mut().zip(x) {
            *y = f(xi);
        }
        (x, fx)
    });
    &TABLES
}

impl Stream {
    /// The stream called `name` under `seed`.
    pub fn named(seed: u64, name: &str) -> Stream {
        Stream::from_u64(seed ^ fnv1a(name.as_bytes()).rotate_left(17))
    }

    /// The stream called `name`, instance `index` (for example one per pod).
    pub fn indexed(seed: u64, name: &str, index: u64) -> Stream {
        let mut st = seed ^ fnv1a(name.as_bytes());
        let mixed = splitmix64(&mut st) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Stream::from_u64(mixed)
    }

    fn from_u64(seed: u64) -> Stream {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Stream { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = (self.s[0].wrapping_add(self.s[3]))
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`, safe to take a logarithm of.
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.uniform_open0().ln()
    }

    /// Standard normal, by Marsaglia and Tsang's ziggurat (256 layers): one
    /// draw, a multiply and a compare for 98.8 % of the values; no logarithm
    /// or cosine as in Box–Muller, which cost more than the rest of an
    /// arrival. What a draw consumes depends only on the stream's state.
    pub fn normal(&mut self) -> f64 {
        let (x_tab, f_tab) = ziggurat();
        loop {
            let bits = self.next_u64();
            let i = (bits & 0xff) as usize;
            // Uniform in (−1, 1) from the top 53 bits, apart from `i`'s.
            let u = ((bits >> 11) as f64 + 0.5) * (2.0 / (1u64 << 53) as f64) - 1.0;
            let x = u * x_tab[i];
            if x.abs() < x_tab[i + 1] {
                return x;
            }
            if i == 0 {
                // The tail beyond R (Marsaglia 1964).
                let r = x_tab[1];
                loop {
                    let t = self.uniform_open0().ln() / r;
                    let y = self.uniform_open0().ln();
                    if -2.0 * y >= t * t {
                        return if u < 0.0 { t - r } else { r - t };
                    }
                }
            }
            let y = f_tab[i + 1] + (f_tab[i] - f_tab[i + 1]) * self.uniform();
            if y < gauss(x) {
                return x;
            }
        }
    }

    /// Log-normal with the given median and log-space standard deviation.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Geometric on `1, 2, ...` with the given mean (≥ 1).
    pub fn geometric(&mut self, mean: f64) -> u64 {
        if mean <= 1.0 {
            return 1;
        }
        let p = 1.0 / mean;
        let u = self.uniform_open0();
        1 + (u.ln() / (1.0 - p).ln()).floor() as u64
    }

    /// Uniform integer in `0..n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_follow_the_normal_law() {
        let mut s = Stream::named(11, "normal");
        let n = 2_000_000;
        let z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.003, "mean {mean}");
        assert!((var - 1.0).abs() < 0.004, "variance {var}");
        // Φ at a few points (and the tail past the ziggurat's base), each
        // within 4.5 standard errors.
        for (at, p) in [
            (-3.0, 0.001_349_898),
            (-1.0, 0.158_655_254),
            (0.0, 0.5),
            (0.5, 0.691_462_461),
            (1.0, 0.841_344_746),
            (2.0, 0.977_249_868),
            (3.654_152_885, 0.999_871_05),
        ] {
            let got = z.iter().filter(|&&v| v < at).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!((got - p).abs() < 4.5 * se, "P(z < {at}) = {got}, want {p}");
        }
        let (x, _) = ziggurat();
        assert!(x[255] > 0.2 && x[255] < 0.35, "top layer {}", x[255]);
    }

    #[test]
    fn named_streams_are_reproducible_and_independent() {
        let mut a = Stream::named(42, "arrivals");
        let mut b = Stream::named(42, "arrivals");
        let mut c = Stream::named(42, "lengths");
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        let mut p0 = Stream::indexed(42, "pod", 0);
        let mut p1 = Stream::indexed(42, "pod", 1);
        assert_ne!(p0.next_u64(), p1.next_u64());
    }

    #[test]
    fn exponential_mean_is_right() {
        let mut s = Stream::named(7, "exp");
        let n = 200_000;
        let m: f64 = (0..n).map(|_| s.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((m - 2.0).abs() < 0.03, "{m}");
        let g: f64 = (0..n).map(|_| s.geometric(50.0) as f64).sum::<f64>() / n as f64;
        assert!((g - 50.0).abs() < 0.6, "{g}");
    }
}
