//! OpenMetrics text with timestamps (what `promtool tsdb
//! create-blocks-from openmetrics` reads) → an in-memory [`Tsdb`], for
//! `nimscale promql` and for testing adapter rules against exported runs.
//!
//! Accepted: `# TYPE`/`# HELP`/`# UNIT` and other comments, `# EOF`,
//! samples `name{label="value",…} value timestamp [# exemplar]` with the
//! timestamp in (fractional) seconds, values as floats, `+Inf`, `-Inf`,
//! `NaN`. Every bad line is reported with its line and column.

use nimscale_core::metrics::labels::{Labels, NAME};
use nimscale_core::metrics::promql::functions::parse_go_float;
use nimscale_core::metrics::tsdb::Tsdb;

use crate::error::{LoadError, LoadErrors};

/// Parses a whole file into a store; all bad lines at once.
pub fn parse(text: &str, file: &str) -> Result<Tsdb, LoadErrors> {
    let mut db = Tsdb::new();
    let mut errors = Vec::new();
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let err = |col: usize, m: String| LoadError {
            file: file.to_owned(),
            line: Some(i + 1),
            column: Some(col),
            field: None,
            message: m,
        };
        if line.trim().is_empty() {
            continue;
        }
        if ended {
            errors.push(err(1, "content after \"# EOF\"".into()));
            break;
        }
        if line.starts_with('#') {
            if line.trim_end() == "# EOF" {
                ended = true;
            }
            continue;
        }
        match parse_sample(line) {
            Ok((labels, v, t_ms)) => {
                if !db.append_labels(&labels, t_ms, v) {
                    errors.push(err(
                        1,
                        format!("sample of {labels} is not newer than the series' previous sample (out of order or duplicate timestamp)"),
                    ));
                }
            }
            Err((col, m)) => errors.push(err(col, m)),
        }
        if errors.len() >= 50 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(db)
    } else {
        Err(LoadErrors(errors))
    }
}

/// The largest timestamp magnitude read, in seconds.
const MAX_TIMESTAMP_S: f64 = 9e12;

fn parse_sample(line: &str) -> Result<(Labels, f64, i64), (usize, String)> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
        i += 1;
    }
    if i == 0 || b[0].is_ascii_digit() {
        return Err((1, "expected a metric name".into()));
    }
    let mut pairs = vec![(NAME.to_owned(), line[..i].to_owned())];
    // Names seen, beside the pairs: a search per label was quadratic.
    let mut names = std::collections::HashSet::new();
    if b.get(i) == Some(&b'{') {
        i += 1;
        loop {
            if b.get(i) == Some(&b'}') {
                i += 1;
                break;
            }
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if s == i {
                return Err((i + 1, "expected a label name".into()));
            }
            let name = line[s..i].to_owned();
            if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                return Err((i + 1, format!("expected =\"…\" after label {name}")));
            }
            i += 2;
            let mut val = String::new();
            loop {
                match b.get(i) {
                    None => return Err((i + 1, "unterminated label value".into())),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        val.push(match b.get(i + 1) {
                            Some(b'n') => '\n',
                            Some(b'\\') => '\\',
                            Some(b'"') => '"',
                            _ => return Err((i + 1, "invalid escape in label value".into())),
                        });
                        i += 2;
                    }
                    Some(_) => {
                        let c = line[i..].chars().next().unwrap_or(' ');
                        val.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            if name == NAME || !names.insert(name.clone()) {
                return Err((i, format!("label {name} appears twice")));
            }
            pairs.push((name, val));
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => return Err((i + 1, "expected \",\" or \"}\" in the label set".into())),
            }
        }
    }
    if b.get(i) != Some(&b' ') {
        return Err((i + 1, "expected a space before the value".into()));
    }
    let rest = &line[i + 1..];
    let rest = rest.split(" # ").next().unwrap_or(rest);
    let mut parts = rest.split(' ');
    let vtext = parts.next().unwrap_or("");
    let value = parse_go_float(vtext).ok_or((i + 2, format!("bad value \"{vtext}\"")))?;
    let col_t = i + 2 + vtext.len() + 1;
    let Some(ttext) = parts.next().filter(|t| !t.is_empty()) else {
        return Err((
            col_t - 1,
            "sample without a timestamp (nimscale promql needs one on every sample)".into(),
        ));
    };
    let ts: f64 = ttext
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite())
        .ok_or((col_t, format!("bad timestamp \"{ttext}\"")))?;
    // Milliseconds must stay far inside i64, with room for windows.
    if ts.abs() > MAX_TIMESTAMP_S {
        return Err((
            col_t,
            format!("timestamp {ttext} is beyond ±{MAX_TIMESTAMP_S:e} s (about the year 287,000)"),
        ));
    }
    if let Some(extra) = parts.next() {
        return Err((
            col_t + ttext.len() + 1,
            format!("unexpected \"{extra}\" after the timestamp"),
        ));
    }
    Ok((Labels::from_pairs(pairs), value, (ts * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_errors_with_positions() {
        let text = "# TYPE x counter\nx_total{pod=\"a\",le=\"+Inf\"} 3 10.5\nx_total{pod=\"a\",le=\"+Inf\"} 4 11\n# EOF\n";
        let db = parse(text, "f.om").unwrap();
        assert_eq!(db.len(), 1);
        let s = db.iter().next().unwrap();
        assert_eq!(s.labels.get("le"), "+Inf");
        assert_eq!(
            s.samples().iter().copied().collect::<Vec<_>>(),
            vec![(10_500, 3.0), (11_000, 4.0)]
        );
        let e = parse("x 1\ny{a=\"1\" 2 3\nz 1 2\nz 1 1\n", "f.om").unwrap_err();
        let shown: Vec<String> = e.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown[0],
            "f.om:1:4: sample without a timestamp (nimscale promql needs one on every sample)"
        );
        assert!(
            shown[1].starts_with("f.om:2:8: expected \",\" or \"}\""),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("f.om:4:1: sample of z{} is not newer"),
            "{}",
            shown[2]
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn arbitrary_lines_never_panic(s in "[\\PC\n{}=\",# ]{0,80}") {
            let _ = super::parse(&s, "p.om");
        }
    }
}
