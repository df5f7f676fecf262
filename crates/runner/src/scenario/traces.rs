//! Trace files: the Azure LLM inference CSV, Mooncake JSON Lines (plain or
//! gzip) and a plain CSV, read into rows with every bad line reported.

use std::io::Read;
use std::sync::Arc;

use nimscale_core::sim::traffic::TraceRow;
use serde::Deserialize;

use super::raw::RawTraceFormat;
use crate::error::{LoadError, LoadErrors};

/// At most this many problems are listed per trace.
const MAX_PROBLEMS: usize = 20;

/// A parsed trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Rows, sorted by offset, offsets from the first row.
    pub rows: Vec<TraceRow>,
    /// Rows that were out of order (then sorted).
    pub reordered: bool,
}

fn err(file: &str, line: usize, field: Option<&str>, message: String) -> LoadError {
    LoadError {
        file: file.to_string(),
        line: Some(line),
        column: None,
        field: field.map(str::to_string),
        message,
    }
}

/// The most bytes a trace may decompress to: a gzip bomb (a few KB that
/// inflate to terabytes) is refused instead of filling memory.
pub const MAX_TRACE_BYTES: u64 = 1 << 30;

/// Decompresses gzip input (by its magic bytes); other input is returned as is.
fn text_of(bytes: &[u8], file: &str) -> Result<String, LoadErrors> {
    text_limited(bytes, file, MAX_TRACE_BYTES)
}

fn text_limited(bytes: &[u8], file: &str, limit: u64) -> Result<String, LoadErrors> {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let read = flate2::read::GzDecoder::new(bytes)
            .take(limit + 1)
            .read_to_end(&mut out);
        if out.len() as u64 > limit {
            return Err(LoadErrors(vec![LoadError {
                file: file.into(),
                line: None,
                column: None,
                field: None,
                message: format!(
                    "decompresses to more than {limit} bytes, the largest trace nimscale reads"
                ),
            }]));
        }
        read.map_err(|e| {
            LoadErrors(vec![LoadError {
                file: file.into(),
                line: None,
                column: None,
                field: None,
                message: format!("not a valid gzip file: {e}"),
            }])
        })?;
        out
    } else {
        bytes.to_vec()
    };
    String::from_utf8(raw).map_err(|e| {
        LoadErrors(vec![LoadError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: format!("not UTF-8 text: {e}"),
        }])
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD HH:MM:SS[.fffffff]` (an optional `+00:00`/`Z` suffix is
/// accepted) → microseconds since the Unix epoch.
/// The largest plain-CSV timestamp, in seconds (about 10,000 years, as the
/// Azure format's years 1 to 9999): microseconds stay far inside i64.
const MAX_TRACE_SECONDS: f64 = 3.2e11;

fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, mo, dd): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    // Years 1 to 9999, as RFC 3339: a year of 99999999999 wrapped i64.
    if d.next().is_some()
        || !(1..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&dd)
    {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if t.next().is_some()
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&mi)
        || !(0..=60).contains(&se)
    {
        return None;
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut us = 0i64;
    for (i, c) in frac.chars().take(6).enumerate() {
        us += i64::from(c.to_digit(10)?) * 10i64.pow(5 - i as u32);
    }
    let days = days_from_civil(y, mo, dd);
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + se * 1_000_000 + us)
}

fn tokens(s: &str) -> Option<u32> {
    let s = s.trim();
    s.parse::<u32>().ok().or_else(|| {
        // Some exports write integers as floats (`374.0`).
        s.parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u32)
    })
}

struct Collect<'a> {
    file: &'a str,
    errs: Vec<LoadError>,
    rows: Vec<(i64, TraceRow)>,
}

impl Collect<'_> {
    /// Whether another problem would still be shown (so that its line is
    /// worth counting).
    fn shows_more(&self) -> bool {
        self.errs.len() < MAX_PROBLEMS
    }

    fn push_err(&mut self, line: usize, field: Option<&str>, message: String) {
        if self.errs.len() < MAX_PROBLEMS {
            self.errs.push(err(self.file, line, field, message));
        } else if self.errs.len() == MAX_PROBLEMS {
            self.errs.push(LoadError {
                file: self.file.into(),
                line: None,
                column: None,
                field: None,
                message: "more problems not shown".into(),
            });
        }
    }
}

/// The 1-based line of `text` that a record at `byte` starts on. The `csv`
/// crate's own line count is one short after CRLF line ends, and its byte
/// offset then points at the `\n`: counting the line breaks up to and
/// including that byte is right for both.
fn line_at(text: &str, byte: u64) -> usize {
    let b = text.as_bytes();
    1 + b
        .get(..=byte as usize)
        .unwrap_or(b)
        .iter()
        .filter(|c| **c == b'\n')
        .count()
}

fn csv(text: &str, c: &mut Collect<'_>, azure: bool) {
    // RFC 4180 through the `csv` crate: quoted fields, CRLF or LF line
    // ends; any width, so that a wrong row is named rather than refused.
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let cols: Vec<String> = match reader.headers() {
        Ok(h) if !(h.len() == 1 && h[0].trim().is_empty()) => {
            h.iter().map(|s| s.trim().to_string()).collect()
        }
        _ => {
            c.push_err(1, None, "empty file".into());
            return;
        }
    };
    let want: [&str; 3] = if azure {
        ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
    } else {
        ["time_s", "prompt_tokens", "output_tokens"]
    };
    let idx: Vec<Option<usize>> = want
        .iter()
        .map(|w| cols.iter().position(|c| c == w))
        .collect();
    if idx.iter().any(Option::is_none) {
        c.push_err(
            1,
            None,
            format!(
                "header must name the columns {} (found {})",
                want.join(","),
                cols.join(",")
            ),
        );
        return;
    }
    let idx: Vec<usize> = idx.into_iter().flatten().collect();
    for rec in reader.records() {
        let f = match rec {
            Ok(f) => f,
            Err(e) => {
                let n = (e.position().filter(|_| c.shows_more()))
                    .map_or(0, |p| line_at(text, p.byte()));
                c.push_err(n, None, format!("not CSV: {e}"));
                continue;
            }
        };
        if f.iter().all(|x| x.trim().is_empty()) {
            continue;
        }
        // Counting lines is linear in the file: only for shown problems.
        let line = |c: &Collect<'_>| {
            (f.position().filter(|_| c.shows_more())).map_or(0, |p| line_at(text, p.byte()))
        };
        if f.len() != cols.len() {
            c.push_err(
                line(c),
                None,
                format!("expected {} columns, found {}", cols.len(), f.len()),
            );
            continue;
        }
        let t = if azure {
            parse_timestamp(&f[idx[0]])
        } else {
            f[idx[0]]
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0 && *x <= MAX_TRACE_SECONDS)
                .map(|x| (x * 1e6).round() as i64)
        };
        let Some(t) = t else {
            let what = if azure {
                "a timestamp YYYY-MM-DD HH:MM:SS.fffffff"
            } else {
                "a non-negative number of seconds"
            };
            c.push_err(
                line(c),
                Some(want[0]),
                format!("cannot read {:?} as {what}", &f[idx[0]]),
            );
            continue;
        };
        let (Some(p), Some(o)) = (tokens(&f[idx[1]]), tokens(&f[idx[2]])) else {
            let which = if tokens(&f[idx[1]]).is_none() { 1 } else { 2 };
            c.push_err(
                line(c),
                Some(want[which]),
                format!("cannot read {:?} as a token count", &f[idx[which]]),
            );
            continue;
        };
        c.rows.push((
            t,
            TraceRow {
                offset_us: 0,
                prompt: p,
                output: o,
                prefix: None,
            },
        ));
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct MooncakeLine {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    #[serde(default)]
    hash_ids: Option<Vec<u64>>,
}

fn mooncake(text: &str, c: &mut Collect<'_>) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match fast_mooncake(line) {
            Some(m) => Ok(m),
            None => serde_json::from_str::<MooncakeLine>(line),
        };
        match parsed {
            Ok(m) if m.timestamp.is_finite() && m.timestamp >= 0.0 => c.rows.push((
                (m.timestamp * 1000.0).round() as i64,
                TraceRow {
                    offset_us: 0,
                    prompt: m.input_length,
                    output: m.output_length,
                    prefix: m.hash_ids.map(Arc::from),
                },
            )),
            Ok(_) => c.push_err(i + 1, Some("timestamp"), "must be a non-negative number of milliseconds".into()),
            Err(e) => c.push_err(i + 1, None, format!("{e} (expected {{\"timestamp\": ms, \"input_length\": n, \"output_length\": n, \"hash_ids\": [...]}})")),
        }
    }
}

/// A Mooncake line in its usual shape (the four keys once each, integer
/// values, no escapes), read without serde's machinery: about 5× faster.
/// Anything else is `None` and goes through `serde_json`, which then
/// decides, so the two readers cannot disagree on what they both accept
/// (`the_fast_reader_agrees_with_serde` checks it).
fn fast_mooncake(line: &str) -> Option<MooncakeLine> {
    let b = line.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let uint = |i: &mut usize| -> Option<u64> {
        let start = *i;
        let mut v: u64 = 0;
        while *i < b.len() && b[*i].is_ascii_digit() {
            v = v.checked_mul(10)?.checked_add(u64::from(b[*i] - b'0'))?;
            *i += 1;
        }
        // No leading zeros (JSON), and a number must end here.
        let n = *i - start;
        (n > 0 && !(n > 1 && b[start] == b'0')).then_some(v)
    };
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let (mut ts, mut input, mut output, mut hashes) = (None, None, None, None);
    loop {
        ws(&mut i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let k0 = i + 1;
        let k1 = k0 + b[k0..].iter().position(|&c| c == b'"' || c == b'\\')?;
        if b[k1] != b'"' {
            return None;
        }
        let key = &b[k0..k1];
        i = k1 + 1;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        match key {
            b"timestamp" if ts.is_none() => ts = Some(uint(&mut i)?),
            b"input_length" if input.is_none() => {
                input = Some(u32::try_from(uint(&mut i)?).ok()?);
            }
            b"output_length" if output.is_none() => {
                output = Some(u32::try_from(uint(&mut i)?).ok()?);
            }
            b"hash_ids" if hashes.is_none() => {
                if b.get(i) != Some(&b'[') {
                    return None;
                }
                i += 1;
                let mut h = Vec::new();
                ws(&mut i);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    loop {
                        ws(&mut i);
                        h.push(uint(&mut i)?);
                        ws(&mut i);
                        match b.get(i) {
                            Some(b',') => i += 1,
                            Some(b']') => {
                                i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                hashes = Some(h);
            }
            _ => return None,
        }
        ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return None,
        }
    }
    ws(&mut i);
    if i != b.len() {
        return None;
    }
    Some(MooncakeLine {
        // Integers up to 2^53 are exact in f64, as serde_json reads them.
        timestamp: ts.filter(|&t| t < 1 << 53)? as f64,
        input_length: input?,
        output_length: output?,
        hash_ids: hashes,
    })
}

/// Reads a trace of `format` from `bytes` (file name `file` in messages).
pub fn parse(bytes: &[u8], file: &str, format: RawTraceFormat) -> Result<Trace, LoadErrors> {
    let text = text_of(bytes, file)?;
    let mut c = Collect {
        file,
        errs: Vec::new(),
        rows: Vec::new(),
    };
    match format {
        RawTraceFormat::Azure => csv(&text, &mut c, true),
        RawTraceFormat::Csv => csv(&text, &mut c, false),
        RawTraceFormat::Mooncake => mooncake(&text, &mut c),
    }
    if !c.errs.is_empty() {
        return Err(LoadErrors(c.errs));
    }
    if c.rows.is_empty() {
        return Err(LoadErrors(vec![LoadError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: "the trace has no requests".into(),
        }]));
    }
    let reordered = c.rows.windows(2).any(|w| w[1].0 < w[0].0);
    if reordered {
        c.rows.sort_by_key(|r| r.0);
    }
    let t0 = c.rows[0].0;
    let rows = c
        .rows
        .into_iter()
        .map(|(t, mut r)| {
            r.offset_us = t - t0;
            r
        })
        .collect();
    Ok(Trace { rows, reordered })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever the fast Mooncake reader accepts, serde_json reads the
        /// same way (lines made of the right keys and values, shuffled,
        /// spaced, sometimes broken).
        #[test]
        fn the_fast_reader_agrees_with_serde(
            ts in 0u64..1u64 << 54,
            input in 0u64..1u64 << 33,
            output in 0u64..5000,
            hashes in proptest::collection::vec(0u64..u64::MAX, 0..6),
            order in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 0..=4),
            spaces in 0usize..3,
            junk in proptest::option::of("[\\]\\[{}\",: 0-9a-z.-]{1,3}"),
            cut in 0usize..200,
        ) {
            let sp = " ".repeat(spaces);
            let hash_list: Vec<String> = hashes.iter().map(u64::to_string).collect();
            let fields = [
                format!("\"timestamp\":{sp}{ts}"),
                format!("\"input_length\":{sp}{input}"),
                format!("\"output_length\":{sp}{output}"),
                format!("\"hash_ids\":{sp}[{}]", hash_list.join(&format!(",{sp}"))),
            ];
            let body: Vec<&str> = order.iter().map(|&k| fields[k].as_str()).collect();
            let mut line = format!("{{{sp}{}{sp}}}", body.join(&format!(",{sp}")));
            if let Some(j) = &junk {
                let at = cut.min(line.len());
                if line.is_char_boundary(at) {
                    line.insert_str(at, j);
                }
            }
            if let Some(fast) = fast_mooncake(&line) {
                let slow = serde_json::from_str::<MooncakeLine>(&line);
                proptest::prop_assert_eq!(Ok(fast), slow.map_err(|e| e.to_string()), "{}", line);
            }
        }
    }

    #[test]
    fn the_fast_reader_takes_the_usual_lines() {
        let l = r#"{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}"#;
        assert_eq!(
            fast_mooncake(l),
            Some(MooncakeLine {
                timestamp: 27482.0,
                input_length: 6955,
                output_length: 52,
                hash_ids: Some(vec![46, 47, 48]),
            })
        );
        // Not its shape: serde_json decides.
        assert_eq!(
            fast_mooncake(r#"{"timestamp": 1.5, "input_length": 1, "output_length": 1}"#),
            None
        );
        assert_eq!(
            fast_mooncake(
                r#"{"timestamp": 1, "timestamp": 2, "input_length": 1, "output_length": 1}"#
            ),
            None
        );
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![b'0'; 100_000]).unwrap();
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < 1000);
        let e = text_limited(&bytes, "bomb.jsonl.gz", 10_000).unwrap_err();
        assert!(e.to_string().contains("more than 10000 bytes"), "{e}");
        assert_eq!(
            text_limited(&bytes, "ok.jsonl.gz", 100_000).unwrap().len(),
            100_000
        );
    }

    #[test]
    fn azure_timestamps_are_exact() {
        let a = parse_timestamp("2023-11-16 18:15:46.6805900").unwrap();
        let b = parse_timestamp("2023-11-16 18:15:50.9951690").unwrap();
        assert_eq!(b - a, 4_314_579);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01"), Some(1_000_000));
        assert_eq!(parse_timestamp("2023-13-01 00:00:00"), None);
        // A year past 9999 wrapped i64 arithmetic; negative fields passed.
        assert_eq!(parse_timestamp("99999999999-01-01 00:00:00"), None);
        assert_eq!(parse_timestamp("2023-01-01 -1:00:00"), None);
        assert_eq!(parse_timestamp("2023-01-01 00:-5:00"), None);
    }
}
