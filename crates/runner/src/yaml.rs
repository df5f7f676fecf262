//! Reading YAML (and JSON, which is YAML) with locations.
//!
//! Syntax, type and unknown-field errors come from `serde-saphyr` with line
//! and column. Semantic errors found after deserialization carry a field path;
//! [`line_of`] maps such a path back to the line of a block-style document.

use serde::de::DeserializeOwned;

use crate::error::{LoadError, LoadErrors};

/// Deserializes `text` (named `file` in messages).
pub fn from_str<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, LoadErrors> {
    serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        // The crate's Display repeats the location and a source snippet; keep
        // the first line's message, which follows "line L column C: ".
        let full = e.to_string();
        let first = full.lines().next().unwrap_or_default();
        let message = first
            .trim_start_matches("error: ")
            .split_once(": ")
            .filter(|(head, _)| head.starts_with("line "))
            .map(|(_, m)| m.to_string())
            .unwrap_or_else(|| first.trim_start_matches("error: ").to_string());
        LoadErrors(vec![LoadError {
            file: file.to_string(),
            line: loc.as_ref().map(|l| l.line() as usize),
            column: loc.as_ref().map(|l| l.column() as usize),
            field: None,
            message,
        }])
    })
}

/// One segment of a field path.
#[derive(Debug, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(n) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(n));
            }
        }
    }
    out
}

/// The 1-based line where the field at `path` (`a.b[2].c`) is written in a
/// block-style YAML document, or the deepest ancestor found. `None` when not
/// even the first key is found (for example, flow-style or JSON input).
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let segs = segments(path);
    let lines: Vec<&str> = text.lines().collect();
    let mut best = None;
    let mut from = 0usize;
    let mut min_indent = 0usize;
    let mut i = 0;
    while i < segs.len() {
        match segs[i] {
            Seg::Key(k) => {
                let found = (from..lines.len()).find_map(|n| {
                    let l = lines[n];
                    let body = l.trim_start();
                    let indent = l.len() - body.len();
                    let body = body.trim_start_matches("- ");
                    let indent = indent + (l.trim_start().len() - body.len());
                    if body.starts_with('#') || body.is_empty() {
                        return None;
                    }
                    if indent < min_indent && n > from {
                        return Some(None);
                    }
                    let key = body
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .trim_matches('"');
                    (key == k && body.contains(':')).then_some(Some((n, indent)))
                });
                let Some(Some((n, indent))) = found else {
                    break;
                };
                best = Some(n + 1);
                from = n + 1;
                min_indent = indent + 1;
                // A key on a list-item line: the item's other keys are at the same indent.
                if lines[n].trim_start().starts_with("- ") {
                    min_indent = indent;
                }
            }
            Seg::Index(idx) => {
                let mut count = 0usize;
                let mut hit = None;
                for (n, l) in lines.iter().enumerate().skip(from) {
                    let body = l.trim_start();
                    let indent = l.len() - body.len();
                    if body.is_empty() || body.starts_with('#') {
                        continue;
                    }
                    if indent + 1 < min_indent {
                        break;
                    }
                    if body.starts_with("- ") || body == "-" {
                        if count == idx {
                            hit = Some((n, indent));
                            break;
                        }
                        count += 1;
                    }
                }
                let Some((n, indent)) = hit else { break };
                best = Some(n + 1);
                from = n;
                min_indent = indent + 2;
            }
        }
        i += 1;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
hpa:
  spec:
    maxReplicas: 0
    behavior:
      scaleUp:
        policies:
        - type: Pods
          value: 4
        - type: Percent
          value: 0
steps:
  - time: 0
    replicas: 2
  - time: 15
    metrics:
      pods:
        qps: 3
";

    #[test]
    fn finds_nested_keys_and_list_items() {
        assert_eq!(line_of(DOC, "hpa.spec.maxReplicas"), Some(3));
        assert_eq!(
            line_of(DOC, "hpa.spec.behavior.scaleUp.policies[1].value"),
            Some(10)
        );
        assert_eq!(
            line_of(DOC, "hpa.spec.behavior.scaleUp.policies[0].type"),
            Some(7)
        );
        assert_eq!(line_of(DOC, "steps[1].metrics.pods.qps"), Some(17));
        assert_eq!(line_of(DOC, "steps[0].replicas"), Some(13));
        assert_eq!(line_of(DOC, "nothing.here"), None);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct S {
            #[allow(dead_code)]
            a: i32,
        }
        let e = from_str::<S>("a: 1\nb: 2\n", "f.yaml").unwrap_err();
        assert_eq!(e.0[0].line, Some(2));
        assert!(
            e.to_string().starts_with("f.yaml:2:1: unknown field `b`"),
            "{e}"
        );
    }
}
