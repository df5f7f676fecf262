//! Field errors worded exactly as Kubernetes' `apimachinery/pkg/util/validation/field`
//! package words them, and the envelopes the API server and the admission
//! webhook wrap them in.

use std::fmt;

use crate::node::FieldPath;

/// The offending value, printed as Go's `field.Error` prints it.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// Printed with `%q`.
    Str(String),
    /// Printed with `%v`.
    Int(i64),
    /// Printed with `%v` (Go's shortest float format).
    Float(f64),
    /// Printed with `%v`.
    Bool(bool),
    /// Printed as `null`.
    Null,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => write!(f, "{}", go_quote(s)),
            BadValue::Int(i) => write!(f, "{i}"),
            BadValue::Float(x) => f.write_str(&go_float(*x)),
            BadValue::Bool(b) => write!(f, "{b}"),
            BadValue::Null => f.write_str("null"),
        }
    }
}

impl BadValue {
    /// The value of a JSON scalar as the API server reports it.
    pub fn of(v: &serde_json::Value) -> BadValue {
        match v {
            serde_json::Value::String(s) => BadValue::Str(s.clone()),
            serde_json::Value::Bool(b) => BadValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => BadValue::Int(i),
                None => BadValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::Null => BadValue::Null,
            serde_json::Value::Array(_) => BadValue::Str("array".into()),
            serde_json::Value::Object(_) => BadValue::Str("object".into()),
        }
    }
}

/// Go's `%q` for the strings that occur here (ASCII escapes; other
/// characters printed as they are, as `strconv.Quote` does for printable runes).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)` with Go's
/// exponent style: `1e+21`, `1e-07`).
pub fn go_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let exp = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{x}")
    } else {
        let s = format!("{x:e}");
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// The kind of a field error, with its `ErrorType` text.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    /// `Required value`.
    Required,
    /// `Forbidden`.
    Forbidden,
    /// `Invalid value: <value>`.
    Invalid(BadValue),
    /// `Unsupported value: <value>`; the detail lists the supported values.
    NotSupported(BadValue),
    /// `Duplicate value: <value>`.
    Duplicate(BadValue),
    /// `Too long` (the value is not printed).
    TooLong,
    /// `Too many: <value>`.
    TooMany(BadValue),
}

/// One field error.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The field, rendered with the prefix the reporting layer uses.
    pub path: FieldPath,
    /// What kind of error.
    pub kind: ErrorKind,
    /// The detail text after the value.
    pub detail: String,
}

impl FieldError {
    /// `field.Required`.
    pub fn required(path: FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            kind: ErrorKind::Required,
            detail: detail.into(),
        }
    }
    /// `field.Forbidden`.
    pub fn forbidden(path: FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            kind: ErrorKind::Forbidden,
            detail: detail.into(),
        }
    }
    /// `field.Invalid`.
    pub fn invalid(path: FieldPath, value: BadValue, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            kind: ErrorKind::Invalid(value),
            detail: detail.into(),
        }
    }
    /// `field.NotSupported` with the supported values.
    pub fn not_supported(path: FieldPath, value: BadValue, supported: &[String]) -> FieldError {
        let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        FieldError {
            path,
            kind: ErrorKind::NotSupported(value),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        match &self.kind {
            ErrorKind::Required => f.write_str("Required value")?,
            ErrorKind::Forbidden => f.write_str("Forbidden")?,
            ErrorKind::TooLong => f.write_str("Too long")?,
            ErrorKind::Invalid(v) => write!(f, "Invalid value: {v}")?,
            ErrorKind::NotSupported(v) => write!(f, "Unsupported value: {v}")?,
            ErrorKind::Duplicate(v) => write!(f, "Duplicate value: {v}")?,
            ErrorKind::TooMany(v) => write!(f, "Too many: {v}")?,
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// `utilerrors.NewAggregate(...).Error()`: one message as is, several as
/// `[a, b]`, duplicates removed.
pub fn aggregate(messages: &[String]) -> String {
    let mut seen: Vec<&String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.as_slice() {
        [one] => (*one).clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_matches_apimachinery() {
        let e = FieldError::invalid(
            FieldPath::parse("spec.scale.hpa.minReplicas"),
            BadValue::Int(0),
            "spec.scale.hpa.minReplicas in body should be greater than or equal to 1",
        );
        assert_eq!(
            e.to_string(),
            "spec.scale.hpa.minReplicas: Invalid value: 0: spec.scale.hpa.minReplicas in body should be greater than or equal to 1"
        );
        let e = FieldError::required(FieldPath::parse("spec.image"), "");
        assert_eq!(e.to_string(), "spec.image: Required value");
        let e = FieldError::not_supported(
            FieldPath::parse("spec.inferencePlatform"),
            BadValue::Str("foo".into()),
            &["standalone".into(), "kserve".into()],
        );
        assert_eq!(
            e.to_string(),
            "spec.inferencePlatform: Unsupported value: \"foo\": supported values: \"standalone\", \"kserve\""
        );
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e-7), "1e-07");
    }
}
