//! Label selectors: the scale subresource's selector string (`labels.Parse`,
//! with upstream's error messages), matching against pod labels, and the Go
//! `%+v` rendering of a `metav1.LabelSelector` that the controller embeds in
//! metric names and error messages.

use std::collections::BTreeMap;

use super::api::LabelSelector;

/// One parsed requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub op: Op,
    /// Values (sorted, deduplicated), empty for Exists/DoesNotExist.
    pub values: Vec<String>,
}

/// Selector operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `key=value`, `key==value`, `key in (…)`.
    In,
    /// `key!=value`, `key notin (…)`.
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>n`.
    Gt,
    /// `key<n`.
    Lt,
}

/// A parsed selector: every requirement must hold. Empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// The requirements, in input order.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// True when the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = labels.get(&r.key);
            match r.op {
                Op::In => v.is_some_and(|v| r.values.contains(v)),
                Op::NotIn => v.is_none_or(|v| !r.values.contains(v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt | Op::Lt => {
                    let (Some(v), Some(bound)) = (v, r.values.first()) else {
                        return false;
                    };
                    match (v.parse::<i64>(), bound.parse::<i64>()) {
                        (Ok(a), Ok(b)) => {
                            if r.op == Op::Gt {
                                a > b
                            } else {
                                a < b
                            }
                        }
                        _ => false,
                    }
                }
            }
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Ident,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Open,
    Close,
    Comma,
    Gt,
    Lt,
    End,
    Error,
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\r' | '\n') {
            i += 1;
        }
        if i >= chars.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        let c = chars[i];
        if is_special(c) {
            // Longest match among the special symbols.
            let mut lit = String::new();
            let mut best: Option<(Tok, String)> = None;
            let mut j = i;
            while j < chars.len() && is_special(chars[j]) {
                lit.push(chars[j]);
                let t = match lit.as_str() {
                    "=" => Some(Tok::Equals),
                    "==" => Some(Tok::DoubleEquals),
                    "!=" => Some(Tok::NotEquals),
                    "!" => Some(Tok::DoesNotExist),
                    "(" => Some(Tok::Open),
                    ")" => Some(Tok::Close),
                    "," => Some(Tok::Comma),
                    ">" => Some(Tok::Gt),
                    "<" => Some(Tok::Lt),
                    _ => None,
                };
                match t {
                    Some(t) => best = Some((t, lit.clone())),
                    None => break,
                }
                j += 1;
            }
            match best {
                Some((t, l)) => {
                    i += l.chars().count();
                    out.push((t, l));
                }
                None => {
                    out.push((Tok::Error, format!("error expected: keyword found '{lit}'")));
                    return out;
                }
            }
        } else {
            let start = i;
            while i < chars.len() && !is_special(chars[i]) && !chars[i].is_whitespace() {
                i += 1;
            }
            let lit: String = chars[start..i].iter().collect();
            let t = match lit.as_str() {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            out.push((t, lit));
        }
    }
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

impl Parser {
    fn look(&self, ctx: Ctx) -> (Tok, String) {
        let (t, l) = self.items[self.pos.min(self.items.len() - 1)].clone();
        let t = match (ctx, t) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Ident,
            _ => t,
        };
        (t, l)
    }
    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let r = self.look(ctx);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.look(Ctx::Values);
            match t {
                Tok::Ident | Tok::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.look(Ctx::Values);
                            if t2 != Tok::Ident && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let mut op = None;
        let (mut t, mut lit) = self.consume(Ctx::Values);
        if t == Tok::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (t, lit) = self.consume(Ctx::Values);
        }
        if t != Tok::Ident {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        validate_key(&lit)?;
        let key = lit;
        let (next, _) = self.look(Ctx::Values);
        if next == Tok::End || next == Tok::Comma {
            return Ok(Requirement {
                key,
                op: op.unwrap_or(Op::Exists),
                values: Vec::new(),
            });
        }
        if op == Some(Op::DoesNotExist) {
            return Ok(Requirement {
                key,
                op: Op::DoesNotExist,
                values: Vec::new(),
            });
        }
        let (t, lit) = self.consume(Ctx::KeyAndOperator);
        let (op, set) = match t {
            Tok::In => (Op::In, true),
            Tok::NotIn => (Op::NotIn, true),
            Tok::Equals | Tok::DoubleEquals => (Op::In, false),
            Tok::NotEquals => (Op::NotIn, false),
            Tok::Gt => (Op::Gt, false),
            Tok::Lt => (Op::Lt, false),
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        };
        let mut values = if set {
            self.values()?
        } else {
            self.exact_value()?
        };
        for v in &values {
            validate_value(v)?;
        }
        values.sort();
        values.dedup();
        Ok(Requirement { key, op, values })
    }

    fn values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.consume(Ctx::Values);
        if t != Tok::Open {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.look(Ctx::Values);
        match t {
            Tok::Ident | Tok::Comma => {
                let s = self.identifiers()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::Close {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::Close => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (t, lit) = self.consume(Ctx::Values);
            match t {
                Tok::Ident => {
                    s.push(lit);
                    let (t2, l2) = self.look(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::Close => return Ok(s),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.look(Ctx::Values);
                    if t2 == Tok::Close {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        s.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.look(Ctx::Values);
        if t == Tok::End || t == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.consume(Ctx::Values);
        if t == Tok::Ident {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

fn is_name_part(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn validate_key(k: &str) -> Result<(), String> {
    let name = match k.split_once('/') {
        Some((prefix, name)) => {
            let dns = !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|l| {
                    let b = l.as_bytes();
                    !b.is_empty()
                        && b.len() <= 63
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                });
            if !dns {
                return Err(format!(
                    "invalid label key \"{k}\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                ));
            }
            name
        }
        None => k,
    };
    if is_name_part(name, 63) {
        Ok(())
    } else {
        Err(format!(
            "invalid label key \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

fn validate_value(v: &str) -> Result<(), String> {
    if v.is_empty() || is_name_part(v, 63) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value: \"{v}\": at key: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

/// `labels.Parse`: parses a selector string such as `app=nim,tier in (a,b)`.
/// Errors carry upstream's text (`unable to parse requirement: found '', …`).
pub fn parse_selector(s: &str) -> Result<Selector, String> {
    let items = lex(s);
    if let Some((_, msg)) = items.iter().find(|(t, _)| *t == Tok::Error) {
        return Err(format!("unable to parse requirement: {msg}"));
    }
    let mut p = Parser { items, pos: 0 };
    let requirements = p.parse()?;
    Ok(Selector { requirements })
}

/// The `%+v` rendering of a `*metav1.LabelSelector` (gogo-protobuf `String()`),
/// `nil` for none.
pub fn go_format_label_selector(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else {
        return "nil".to_string();
    };
    let mut labels = String::from("map[string]string{");
    if let Some(m) = &sel.match_labels {
        for (k, v) in m {
            labels.push_str(&format!("{k}: {v},"));
        }
    }
    labels.push('}');
    let mut exprs = String::from("[]LabelSelectorRequirement{");
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(" ");
        exprs.push_str(&format!(
            "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
            e.key, e.operator, values
        ));
    }
    exprs.push('}');
    format!("&LabelSelector{{MatchLabels:{labels},MatchExpressions:{exprs},}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_matches() {
        let s = parse_selector("app=nim, tier in (a,b), !legacy, zone").expect("valid");
        assert_eq!(s.requirements.len(), 4);
        assert!(s.matches(&labels(&[("app", "nim"), ("tier", "b"), ("zone", "x")])));
        assert!(!s.matches(&labels(&[("app", "nim"), ("tier", "c"), ("zone", "x")])));
        assert!(!s.matches(&labels(&[
            ("app", "nim"),
            ("tier", "a"),
            ("zone", "x"),
            ("legacy", "1")
        ])));
        assert!(
            parse_selector("")
                .expect("empty is valid")
                .matches(&labels(&[]))
        );
    }

    #[test]
    fn upstream_error_text() {
        assert_eq!(
            parse_selector("app in (").unwrap_err(),
            "unable to parse requirement: found '', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_selector("app=a b").unwrap_err(),
            "found 'b', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn go_rendering() {
        assert_eq!(go_format_label_selector(None), "nil");
        let sel = LabelSelector {
            match_labels: Some(labels(&[("k", "v")])),
            match_expressions: None,
        };
        assert_eq!(
            go_format_label_selector(Some(&sel)),
            "&LabelSelector{MatchLabels:map[string]string{k: v,},MatchExpressions:[]LabelSelectorRequirement{},}"
        );
    }
}
