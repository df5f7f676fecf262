//! Kubernetes resource quantities (`500m`, `1.5Gi`, `0.3`, `1e3`), exactly as
//! `k8s.io/apimachinery/pkg/api/resource` reads and converts them.
//!
//! Three conversions matter to the HPA and are reproduced bit for bit:
//! * [`Quantity::milli_value`]: the value in thousandths, rounded away from
//!   zero (`MilliValue()`); a value whose milli form does not fit an `i64` gives
//!   0, as upstream's fast path does;
//! * [`Quantity::approx_f64`]: `AsApproximateFloat64()`, the integer mantissa as
//!   written times a power of ten, which is *not* the correctly rounded decimal
//!   (`"0.3"` gives 0.30000000000000004);
//! * [`Quantity::canonical`]: the string the API server stores (`"0.3"` →
//!   `"300m"`, `"1.5Gi"` → `"1536Mi"`).

use std::fmt;

/// How a quantity is written, which decides its canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// `m`, no suffix, `k`, `M`, `G`, `T`, `P`, `E` (powers of 1000).
    DecimalSI,
    /// `Ki` … `Ei` (powers of 1024).
    BinarySI,
    /// `1e3`, `15e-1`.
    DecimalExponent,
}

/// A parsed quantity: `sign × mantissa × 10^exp10 × 2^pow2`, with the mantissa
/// holding every digit as written (trailing zeros of the fraction included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quantity {
    negative: bool,
    mantissa: u128,
    exp10: i32,
    pow2: u32,
    format: QuantityFormat,
}

/// Why a string is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// The string does not follow the quantity grammar.
    Format,
    /// Too many digits to represent exactly.
    TooLarge,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The API server's own message.
            QuantityError::Format => f.write_str(
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            QuantityError::TooLarge => f.write_str("quantity has too many digits"),
        }
    }
}

impl std::error::Error for QuantityError {}

const DECIMAL_SUFFIXES: [(&str, i32); 9] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
];
const BINARY_SUFFIXES: [(&str, u32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

fn pow10_u128(k: u32) -> Option<u128> {
    10u128.checked_pow(k)
}

impl Quantity {
    /// Parses a quantity string with the API server's grammar.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if bytes[0] == b'+' || bytes[0] == b'-' {
            negative = bytes[0] == b'-';
            i = 1;
        }
        let num_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &s[num_start..i];
        let mut frac_digits = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fs = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &s[fs..i];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(QuantityError::Format);
        }
        let suffix = &s[i..];
        let mut exp10: i32 = -(frac_digits.len() as i32);
        let mut pow2 = 0;
        let format;
        if let Some(&(_, e)) = DECIMAL_SUFFIXES.iter().find(|(n, _)| *n == suffix) {
            exp10 += e;
            format = QuantityFormat::DecimalSI;
        } else if suffix == "E" {
            exp10 += 18;
            format = QuantityFormat::DecimalSI;
        } else if let Some(&(_, p)) = BINARY_SUFFIXES.iter().find(|(n, _)| *n == suffix) {
            pow2 = p;
            format = QuantityFormat::BinarySI;
        } else if let Some(rest) = suffix.strip_prefix(['e', 'E']) {
            let (neg, digits) = match rest.as_bytes().first() {
                Some(b'-') => (true, &rest[1..]),
                Some(b'+') => (false, &rest[1..]),
                _ => (false, rest),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QuantityError::Format);
            }
            let e: i32 = digits.parse().map_err(|_| QuantityError::TooLarge)?;
            exp10 += if neg { -e } else { e };
            format = QuantityFormat::DecimalExponent;
        } else {
            return Err(QuantityError::Format);
        }
        let all = format!("{int_digits}{frac_digits}");
        let trimmed = all.trim_start_matches('0');
        if trimmed.len() > 36 {
            return Err(QuantityError::TooLarge);
        }
        let mantissa: u128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().map_err(|_| QuantityError::TooLarge)?
        };
        Ok(Quantity {
            negative: negative && mantissa != 0,
            mantissa,
            exp10,
            pow2,
            format,
        })
    }

    /// A quantity of `milli` thousandths, as `resource.NewMilliQuantity` builds it.
    pub fn from_milli(milli: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            negative: milli < 0,
            mantissa: milli.unsigned_abs() as u128,
            exp10: -3,
            pow2: 0,
            format,
        }
    }

    /// The format the quantity was written in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// True when the value is exactly zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// True when the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// `MilliValue()`: the value × 1000, rounded away from zero; 0 when the
    /// result does not fit an `i64` (upstream's int64 fast path).
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// `Value()`: the value rounded away from zero to an integer.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// The value in units of `10^scale`, rounded away from zero; 0 on overflow.
    fn scaled_value(&self, scale: i32) -> i64 {
        let Some(n) = self.mantissa.checked_mul(1u128 << self.pow2.min(127)) else {
            return 0;
        };
        let e = self.exp10 - scale;
        let magnitude: Option<u128> = if e >= 0 {
            pow10_u128(e as u32).and_then(|p| n.checked_mul(p))
        } else {
            match pow10_u128((-e) as u32) {
                Some(d) => Some(n.div_ceil(d)),
                None => Some(u128::from(n != 0)),
            }
        };
        match magnitude {
            Some(m) if m <= i64::MAX as u128 => {
                let v = m as i64;
                if self.negative { -v } else { v }
            }
            _ => 0,
        }
    }

    /// `AsApproximateFloat64()`: mantissa (binary multiplier applied) as `f64`
    /// times `10^exp10`, where a negative power is one division by an exact
    /// power of ten.
    pub fn approx_f64(&self) -> f64 {
        let base = (self.mantissa as f64) * 2f64.powi(self.pow2 as i32);
        let base = if self.negative { -base } else { base };
        let e = self.exp10;
        if e == 0 {
            base
        } else if e > 0 {
            base * 10f64.powi(e)
        } else if e >= -22 {
            base * (1.0 / 10f64.powi(-e))
        } else {
            // Beyond exactly representable powers; Go's Pow10 table still
            // divides once per 32 decades. Only reachable for absurd inputs.
            base * 10f64.powi(e)
        }
    }

    /// The canonical string the API server stores.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let sign = if self.negative { "-" } else { "" };
        if self.format == QuantityFormat::BinarySI
            && let Some(n) = self.exact_integer()
            && n >= 1024
        {
            let mut n = n;
            let mut k = 0;
            while n % 1024 == 0 && k < BINARY_SUFFIXES.len() {
                n /= 1024;
                k += 1;
            }
            let suffix = if k == 0 { "" } else { BINARY_SUFFIXES[k - 1].0 };
            return format!("{sign}{n}{suffix}");
        }
        let (mut m, mut e) = self.decimal_parts();
        if e < -9 {
            // Canonical form has nano precision at most; round away from zero.
            let k = (-9 - e) as u32;
            m = match pow10_u128(k) {
                Some(d) => m.div_ceil(d),
                None => 1,
            };
            e = -9;
        }
        while m != 0 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        while e % 3 != 0 {
            m *= 10;
            e -= 1;
        }
        if self.format == QuantityFormat::DecimalExponent {
            return if e == 0 {
                format!("{sign}{m}")
            } else {
                format!("{sign}{m}e{e}")
            };
        }
        let suffix = match e {
            18 => Some("E"),
            _ => DECIMAL_SUFFIXES
                .iter()
                .find(|(_, x)| *x == e)
                .map(|(n, _)| *n),
        };
        match suffix {
            Some(s) => format!("{sign}{m}{s}"),
            None => format!("{sign}{m}e{e}"),
        }
    }

    /// The value as an exact integer, if it is one and fits.
    fn exact_integer(&self) -> Option<u128> {
        let n = self.mantissa.checked_mul(1u128 << self.pow2.min(127))?;
        if self.exp10 >= 0 {
            n.checked_mul(pow10_u128(self.exp10 as u32)?)
        } else {
            let d = pow10_u128((-self.exp10) as u32)?;
            (n % d == 0).then_some(n / d)
        }
    }

    /// The magnitude as `m × 10^e` with integer `m`.
    fn decimal_parts(&self) -> (u128, i32) {
        let n = self.mantissa.saturating_mul(1u128 << self.pow2.min(127));
        (n, self.exp10)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.canonical())
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    /// Accepts a string (`"500m"`) or a plain number (`10`, `0.5`), as
    /// Kubernetes' JSON and YAML decoders do.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes quantity such as \"500m\", \"2Gi\" or 0.5")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(|e| E::custom(format!("invalid quantity {v:?}: {e}")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                if !v.is_finite() {
                    return Err(E::custom("a quantity must be a finite number"));
                }
                self.visit_str(&format!("{v}"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).expect("valid quantity")
    }

    #[test]
    fn milli_value_rounds_away_from_zero() {
        assert_eq!(q("250300000n").milli_value(), 251);
        assert_eq!(q("1500u").milli_value(), 2);
        assert_eq!(q("-1500u").milli_value(), -2);
        assert_eq!(q("0.0005").milli_value(), 1);
        assert_eq!(q("99999u").milli_value(), 100);
        assert_eq!(q("1.0001").milli_value(), 1001);
        assert_eq!(q("1.5Gi").milli_value(), 1_610_612_736_000);
        assert_eq!(
            q("1E").milli_value(),
            0,
            "overflow gives 0 as upstream's fast path"
        );
    }

    #[test]
    fn approximate_float_follows_the_mantissa_as_written() {
        assert_eq!(q("0.3").approx_f64(), 0.30000000000000004);
        assert_eq!(q("0.30").approx_f64(), 0.3);
        assert_eq!(q("300m").approx_f64(), 0.3);
        assert_eq!(q("700m").approx_f64(), 0.7000000000000001);
        assert_eq!(q("100000u").approx_f64(), 0.09999999999999999);
        assert_eq!(q("410m").approx_f64(), 0.41000000000000003);
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("0.3", "300m"),
            ("1.5Gi", "1536Mi"),
            ("1000Ki", "1000Ki"),
            ("15e-1", "1500e-3"),
            ("1.0001", "1000100u"),
            ("1.5G", "1500M"),
            ("1E", "1E"),
            ("2.0", "2"),
            ("-1500u", "-1500u"),
            ("0", "0"),
            ("512", "512"),
        ] {
            assert_eq!(q(input).canonical(), want, "{input}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1.2.3", "5x", "e3", "1e", "--1", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
