//! Editing the user's YAML file in place: only the fields whose values
//! changed are rewritten; comments, key order, quoting, blank lines and
//! every other document in the file stay byte for byte.
//!
//! The edit is computed from the position-keeping tree ([`crate::node`]):
//! a changed scalar is replaced token for token (keeping its quote style),
//! a changed block or flow collection is replaced as a whole at its own
//! indentation, a new key is appended to its mapping, a removed key is cut
//! with its lines. The result is parsed again and must give exactly the
//! wanted documents; anything this cannot edit faithfully (a block scalar,
//! a multi-line plain scalar, a key on a sequence item's dash line that must
//! go) is refused with the reason, and the caller re-emits the documents.

use serde_json::Value;

use crate::node::{Key, Node, NodeValue, Pos, parse_documents};
use crate::yaml::to_yaml;

/// `text` with document `index` (among the non-empty documents, as
/// [`parse_documents`] counts them) changed to `after`; the other documents
/// and everything the change does not touch are kept as written.
pub fn patch_document(text: &str, index: usize, after: &Value) -> Result<String, String> {
    let docs = parse_documents(text).map_err(|e| format!("{}: {}", e.pos, e.message))?;
    let node = docs
        .get(index)
        .ok_or_else(|| format!("the file has no document {index}"))?;
    let src = Source::new(text);
    let mut edits = Vec::new();
    src.diff(node, None, after, &mut edits)?;
    edits.sort_by_key(|e| e.start);
    if edits.windows(2).any(|w| w[0].end > w[1].start) {
        return Err("two changes overlap".into());
    }
    let mut out = text.to_string();
    for e in edits.iter().rev() {
        out.replace_range(e.start..e.end, &e.text);
    }
    // What was written must read back as what was wanted.
    let again = parse_documents(&out).map_err(|e| {
        format!(
            "the edited file does not parse ({}: {}): a construct this editor cannot keep",
            e.pos, e.message
        )
    })?;
    let same_count = again.len() == docs.len();
    let ok = same_count
        && again.iter().enumerate().all(|(i, d)| {
            if i == index {
                d.to_json() == *after
            } else {
                d.to_json() == docs[i].to_json()
            }
        });
    if !ok {
        return Err("the edited file does not read back as the wanted document".into());
    }
    Ok(out)
}

/// One replacement of `start..end` (bytes) by `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// The file as lines with their byte offsets.
struct Source<'a> {
    text: &'a str,
    /// Byte offset of each line's start (line `n` is `starts[n - 1]`).
    starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Source<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { text, starts }
    }

    /// Line `n` (1-based) without its newline.
    fn line(&self, n: u32) -> &'a str {
        let Some(&s) = self.starts.get(n as usize - 1) else {
            return "";
        };
        let e = self
            .starts
            .get(n as usize)
            .map_or(self.text.len(), |&e| e - 1);
        self.text[s..e].trim_end_matches('\r')
    }

    fn lines(&self) -> u32 {
        self.starts.len() as u32
    }

    /// The byte offset of a position (columns count characters).
    fn offset(&self, p: Pos) -> usize {
        let s = self.starts[p.line as usize - 1];
        let line = self.line(p.line);
        s + line
            .char_indices()
            .nth(p.column as usize - 1)
            .map_or(line.len(), |(i, _)| i)
    }

    /// Byte offset just past line `n`'s newline (or the end of the text).
    fn after_line(&self, n: u32) -> usize {
        self.starts
            .get(n as usize)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn diff(
        &self,
        node: &Node,
        key: Option<&Key>,
        after: &Value,
        edits: &mut Vec<Edit>,
    ) -> Result<(), String> {
        if node.to_json() == *after {
            return Ok(());
        }
        let flow = matches!(self.first_char(node.pos), Some('{' | '['));
        match (&node.value, after) {
            (NodeValue::Map(entries), Value::Object(want)) if !flow && !entries.is_empty() => {
                for (k, v) in entries {
                    match want.get(&k.name) {
                        Some(w) => self.diff(v, Some(k), w, edits)?,
                        None => edits.push(self.remove_entry(k, v)?),
                    }
                }
                let new: Vec<(&String, &Value)> = want
                    .iter()
                    .filter(|(k, _)| !entries.iter().any(|(e, _)| e.name == **k))
                    .collect();
                if !new.is_empty() {
                    edits.push(self.append_entries(entries, &new));
                }
                Ok(())
            }
            (NodeValue::Seq(items), Value::Array(want)) if !flow && items.len() == want.len() => {
                for (n, w) in items.iter().zip(want) {
                    self.diff(n, None, w, edits)?;
                }
                Ok(())
            }
            _ => {
                edits.push(self.replace(node, key, after)?);
                Ok(())
            }
        }
    }

    fn first_char(&self, p: Pos) -> Option<char> {
        if p.line == 0 || p.line > self.lines() {
            return None;
        }
        self.text[self.offset(p)..].chars().next()
    }

    /// Replaces `node` (the value of `key`, or a sequence item) by `after`.
    fn replace(&self, node: &Node, key: Option<&Key>, after: &Value) -> Result<Edit, String> {
        let start = self.offset(node.pos);
        let block = key.is_some_and(|k| node.pos.line > k.pos.line);
        if !block {
            // On the key's (or dash's) line: a scalar token or a flow
            // collection.
            let end = start + self.inline_len(node)?;
            let old = &self.text[start..end];
            let text = match after {
                Value::Object(_) | Value::Array(_) => {
                    serde_json::to_string(after).map_err(|e| e.to_string())?
                }
                _ => scalar(after, old.chars().next()),
            };
            return Ok(Edit { start, end, text });
        }
        let key = key.expect("block values have a key");
        let indent = (node.pos.column - 1) as usize;
        let last = self.block_end(key, node.pos.line);
        let end = self.after_line(last);
        match after {
            Value::Object(m) if !m.is_empty() => Ok(Edit {
                start: self.starts[node.pos.line as usize - 1],
                end,
                text: indented(&to_yaml(after), indent),
            }),
            Value::Array(a) if !a.is_empty() => Ok(Edit {
                start: self.starts[node.pos.line as usize - 1],
                end,
                text: indented(&to_yaml(after), indent),
            }),
            _ => {
                // A scalar (or an empty collection) goes on the key's line.
                let colon = self.colon_after(key)?;
                Ok(Edit {
                    start: colon,
                    end,
                    text: format!(" {}\n", scalar_or_flow(after)?),
                })
            }
        }
    }

    /// Bytes of an inline value: a flow collection up to its closing
    /// bracket, a quoted scalar up to its closing quote, a plain scalar up
    /// to a comment or the end of the line.
    fn inline_len(&self, node: &Node) -> Result<usize, String> {
        let start = self.offset(node.pos);
        let rest = &self.text[start..];
        let line_rest = rest.split('\n').next().unwrap_or_default();
        match rest.chars().next() {
            Some('{' | '[') => flow_len(rest).ok_or_else(|| "an unclosed flow collection".into()),
            Some('"') => {
                quoted_len(line_rest, '"').ok_or_else(|| "a multi-line quoted scalar".into())
            }
            Some('\'') => {
                quoted_len(line_rest, '\'').ok_or_else(|| "a multi-line quoted scalar".into())
            }
            Some('|' | '>') => Err("a block scalar".into()),
            _ => {
                let end = line_rest.find(" #").unwrap_or(line_rest.len());
                let token = line_rest[..end].trim_end();
                let next = self.line(node.pos.line + 1);
                let indent_here = node.pos.column as usize - 1;
                let continues = !next.trim().is_empty()
                    && !next.trim_start().starts_with('#')
                    && next.len() - next.trim_start().len() > indent_here
                    && !matches!(node.value, NodeValue::Map(_) | NodeValue::Seq(_));
                if continues && token.len() == line_rest.trim_end().len() {
                    // Possibly a plain scalar folded over lines.
                    return Err("a multi-line plain scalar".into());
                }
                Ok(token.len())
            }
        }
    }

    /// Byte offset just past the `:` of `key`.
    fn colon_after(&self, key: &Key) -> Result<usize, String> {
        let s = self.offset(key.pos);
        let line_end = self.after_line(key.pos.line);
        self.text[s..line_end]
            .find(':')
            .map(|i| s + i + 1)
            .ok_or_else(|| format!("no ':' after key {:?}", key.name))
    }

    /// The last line of the block value of `key` that starts on line
    /// `first` (trailing blank and comment lines belong to what follows).
    fn block_end(&self, key: &Key, first: u32) -> u32 {
        let ki = key.pos.column as usize - 1;
        let mut last = first;
        let mut n = first;
        while n <= self.lines() {
            let l = self.line(n);
            let t = l.trim_start();
            let ind = l.len() - t.len();
            if n > first && (l.starts_with("---") || l.starts_with("...")) {
                break;
            }
            if t.is_empty() || t.starts_with('#') {
                n += 1;
                continue;
            }
            if ind > ki || (ind == ki && (t.starts_with("- ") || t == "-")) {
                last = n;
                n += 1;
                continue;
            }
            break;
        }
        last
    }

    /// Cuts `key: value` with its lines.
    fn remove_entry(&self, key: &Key, value: &Node) -> Result<Edit, String> {
        let line = self.line(key.pos.line);
        let before_key = &line[..self.offset(key.pos) - self.starts[key.pos.line as usize - 1]];
        if !before_key.trim().is_empty() {
            return Err(format!(
                "cannot remove {:?}: it shares its line with a sequence dash or another key",
                key.name
            ));
        }
        let last = if value.pos.line > key.pos.line {
            self.block_end(key, value.pos.line)
        } else {
            self.block_end(key, key.pos.line)
        };
        Ok(Edit {
            start: self.starts[key.pos.line as usize - 1],
            end: self.after_line(last),
            text: String::new(),
        })
    }

    /// Appends new entries after a block mapping's last entry, at its keys'
    /// indentation.
    fn append_entries(&self, entries: &[(Key, Node)], new: &[(&String, &Value)]) -> Edit {
        let (lk, lv) = entries.last().expect("a non-empty mapping");
        let last = if lv.pos.line > lk.pos.line {
            self.block_end(lk, lv.pos.line)
        } else {
            self.block_end(lk, lk.pos.line)
        };
        let at = self.after_line(last);
        // Keys of a mapping share a column; for a sequence item's mapping the
        // first key follows the dash, the others are at the same column.
        let indent = (entries[0].0.pos.column - 1) as usize;
        let mut m = serde_json::Map::new();
        for (k, v) in new {
            m.insert((*k).clone(), (*v).clone());
        }
        let mut text = String::new();
        if at == self.text.len() && !self.text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&indented(&to_yaml(&Value::Object(m)), indent));
        Edit {
            start: at,
            end: at,
            text,
        }
    }
}

/// `yaml` with every non-empty line indented by `n` spaces.
fn indented(yaml: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut out = String::new();
    for l in yaml.lines() {
        if !l.is_empty() {
            out.push_str(&pad);
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// A scalar as YAML, in the quote style of the token it replaces when that
/// was quoted and the new value is a string.
fn scalar(v: &Value, quote: Option<char>) -> String {
    match (v, quote) {
        (Value::String(s), Some('"')) => serde_json::to_string(s).unwrap_or_default(),
        (Value::String(s), Some('\'')) => format!("'{}'", s.replace('\'', "''")),
        _ => to_yaml(v).trim_end().to_string(),
    }
}

fn scalar_or_flow(v: &Value) -> Result<String, String> {
    match v {
        Value::Object(_) | Value::Array(_) => serde_json::to_string(v).map_err(|e| e.to_string()),
        _ => Ok(scalar(v, None)),
    }
}

/// Length of a flow collection at the start of `s`, brackets matched
/// outside quotes.
fn flow_len(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => {
                if q == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Length of a quoted scalar at the start of `s` (within one line).
fn quoted_len(s: &str, q: char) -> Option<usize> {
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                return Some(i + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = r#"# The user's NIMService.
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata:
  name: vlm   # short name
  namespace: nim
spec:
  image:
    repository: nvcr.io/nim/x
    tag: "1.4.0"
    pullSecrets: [ngc-secret]
  scale:
    enabled: true
    hpa:
      # keep two for restarts
      minReplicas: 2
      maxReplicas: 6  # the budget
      metrics:
      - type: Object
        object:
          metric: {name: frac}
          target:
            type: Value
            value: '400m'
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0

# trailing comment
"#;

    fn doc() -> Value {
        crate::node::parse_documents(FILE).unwrap()[0].to_json()
    }

    #[test]
    fn only_the_changed_scalars_change() {
        let mut want = doc();
        want["spec"]["scale"]["hpa"]["maxReplicas"] = json!(8);
        want["spec"]["scale"]["hpa"]["metrics"][0]["object"]["target"]["value"] = json!("300m");
        let out = patch_document(FILE, 0, &want).unwrap();
        let expect = FILE
            .replace(
                "maxReplicas: 6  # the budget",
                "maxReplicas: 8  # the budget",
            )
            .replace("value: '400m'", "value: '300m'");
        assert_eq!(out, expect);
    }

    #[test]
    fn a_block_is_replaced_at_its_indentation_and_new_keys_are_appended() {
        let mut want = doc();
        want["spec"]["scale"]["hpa"]["behavior"] = json!({
            "scaleDown": {"stabilizationWindowSeconds": 300}
        });
        want["spec"]["metrics"] = json!({"serviceMonitor": {"interval": "15s"}});
        let out = patch_document(FILE, 0, &want).unwrap();
        assert!(
            out.ends_with(
                "      behavior:\n        scaleDown:\n          stabilizationWindowSeconds: 300\n  \
                 metrics:\n    serviceMonitor:\n      interval: 15s\n\n# trailing comment\n"
            ),
            "{out}"
        );
        assert!(out.starts_with("# The user's NIMService.\n"));
        assert!(out.contains("      # keep two for restarts\n      minReplicas: 2\n"));
    }

    #[test]
    fn removed_keys_and_flow_collections() {
        let mut want = doc();
        let hpa = want["spec"]["scale"]["hpa"].as_object_mut().unwrap();
        hpa.remove("behavior");
        want["spec"]["image"]["pullSecrets"] = json!(["a", "b"]);
        let out = patch_document(FILE, 0, &want).unwrap();
        assert!(!out.contains("behavior"));
        assert!(out.contains("pullSecrets: [\"a\",\"b\"]"), "{out}");
        assert!(out.ends_with("\n# trailing comment\n"), "{out}");
    }

    #[test]
    fn other_documents_stay_as_written() {
        let two = format!("kind: NIMCache # mine\nmetadata: {{name: c}}\n---\n{FILE}");
        let mut want = crate::node::parse_documents(&two).unwrap()[1].to_json();
        want["spec"]["scale"]["hpa"]["minReplicas"] = json!(3);
        let out = patch_document(&two, 1, &want).unwrap();
        assert_eq!(out, two.replace("minReplicas: 2", "minReplicas: 3"));
    }

    #[test]
    fn block_scalars_and_folded_plain_scalars() {
        let text = "spec:\n  note: |\n    a\n    b\n  x: 1\n";
        let out = patch_document(text, 0, &json!({"spec": {"note": "c", "x": 1}})).unwrap();
        assert_eq!(out, "spec:\n  note: c\n  x: 1\n");
        let text = "spec:\n  note: a\n    b\n";
        // Refused (found as such, or caught by reading the result back):
        // never a file that says something else.
        assert!(patch_document(text, 0, &json!({"spec": {"note": "c"}})).is_err());
    }
}
