//! Checks a YAML tree against the scenario's JSON Schema and reports every
//! structural problem at once (unknown keys, missing keys, wrong types,
//! unknown enum values), each with its line, column and field path.
//!
//! The schema is the one `nimscale schema` prints (generated from the serde
//! shapes), so the checker and the deserializer cannot disagree about what
//! is allowed. It understands what that schema uses: `$ref`, `type`,
//! `properties`/`required`/`additionalProperties`, `items`, `minItems`,
//! `minimum`/`maximum`, `enum`, `const`, `oneOf`/`anyOf`, and boolean
//! schemas.

use nimscale_operator::node::{FieldPath, Key, Node, NodeValue, Pos};
use serde_json::Value;

/// One structural problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub pos: Pos,
    /// Field path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

struct Walker<'a> {
    root: &'a Value,
    out: Vec<Problem>,
}

fn type_name(n: &Node) -> &'static str {
    match &n.value {
        NodeValue::Null => "null",
        NodeValue::Bool(_) => "boolean",
        NodeValue::Int(_) => "integer",
        NodeValue::Float(_) => "number",
        NodeValue::Str(_) => "string",
        NodeValue::Seq(_) => "array",
        NodeValue::Map(_) => "object",
    }
}

fn type_ok(n: &Node, t: &str) -> bool {
    match (t, &n.value) {
        ("number", NodeValue::Int(_) | NodeValue::Float(_)) => true,
        ("integer", NodeValue::Int(_)) => true,
        ("integer", NodeValue::Float(f)) => f.fract() == 0.0,
        (t, _) => t == type_name(n),
    }
}

impl<'a> Walker<'a> {
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = s.get("$ref").and_then(Value::as_str) else {
                return s;
            };
            let Some(name) = r.strip_prefix("#/$defs/") else {
                return s;
            };
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(t) => s = t,
                None => return s,
            }
        }
        s
    }

    fn problem(&mut self, pos: Pos, path: &FieldPath, message: String) {
        self.out.push(Problem {
            pos,
            field: path.to_string(),
            message,
        });
    }

    fn check(&mut self, n: &Node, schema: &'a Value, path: &FieldPath) {
        let s = self.resolve(schema);
        if s.as_bool() == Some(true) {
            return;
        }
        if let Some(alts) = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array)
        {
            self.alternatives(n, alts, path);
            return;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(x) => vec![x.as_str()],
                Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| type_ok(n, t)) {
                let want = types.join(" or ");
                self.problem(
                    n.pos,
                    path,
                    format!("expected {want}, found {}", describe(n)),
                );
                return;
            }
        }
        if let Some(v) = match n.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        } {
            // The range serde will enforce (a `u32` field refuses -1), said
            // here with the line and field instead of serde's bare message.
            let (mut lo, mut hi) = format_range(s.get("format").and_then(Value::as_str));
            if let Some(m) = s.get("minimum").and_then(Value::as_f64) {
                lo = lo.max(m);
            }
            if let Some(m) = s.get("maximum").and_then(Value::as_f64) {
                hi = hi.min(m);
            }
            if !(lo..=hi).contains(&v) {
                self.problem(
                    n.pos,
                    path,
                    format!(
                        "{} is out of range: expected {} to {}",
                        describe(n),
                        bound(lo),
                        bound(hi)
                    ),
                );
                return;
            }
        }
        if let Some(c) = s.get("const")
            && &n.to_json() != c
        {
            self.problem(n.pos, path, format!("expected {c}, found {}", describe(n)));
            return;
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            let v = n.to_json();
            if !e.contains(&v) {
                let list: Vec<String> = e.iter().map(|x| x.to_string()).collect();
                self.problem(
                    n.pos,
                    path,
                    format!(
                        "unknown value {}, expected one of {}",
                        describe(n),
                        list.join(", ")
                    ),
                );
                return;
            }
        }
        match &n.value {
            NodeValue::Map(entries) => self.check_map(n, entries, s, path),
            NodeValue::Seq(items) => {
                if let Some(m) = s.get("minItems").and_then(Value::as_u64)
                    && (items.len() as u64) < m
                {
                    let want = if m == 1 {
                        "a non-empty list".to_string()
                    } else {
                        format!("a list of at least {m} items")
                    };
                    let found = match items.len() {
                        0 => "an empty one".to_string(),
                        1 => "1 item".to_string(),
                        k => format!("{k} items"),
                    };
                    self.problem(n.pos, path, format!("expected {want}, found {found}"));
                }
                if let Some(is) = s.get("items") {
                    for (i, it) in items.iter().enumerate() {
                        self.check(it, is, &path.index(i));
                    }
                }
            }
            _ => {}
        }
    }

    /// A mapping's keys against `properties` / `additionalProperties`, and
    /// its `required` keys.
    fn check_map(&mut self, n: &Node, entries: &[(Key, Node)], s: &'a Value, path: &FieldPath) {
        let props = s.get("properties").and_then(Value::as_object);
        let extra = s.get("additionalProperties");
        for (k, v) in entries {
            let child = path.child(&k.name);
            match props.and_then(|p| p.get(&k.name)) {
                Some(ps) => self.check(v, ps, &child),
                None => match extra {
                    Some(Value::Bool(false)) => {
                        let known: Vec<String> = props
                            .map(|p| p.keys().map(|k| format!("`{k}`")).collect())
                            .unwrap_or_default();
                        self.problem(
                            k.pos,
                            &child,
                            format!(
                                "unknown field `{}`, expected one of {}",
                                k.name,
                                known.join(", ")
                            ),
                        );
                    }
                    Some(es @ Value::Object(_)) => self.check(v, es, &child),
                    _ => {}
                },
            }
        }
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _)| k.name == r) {
                    self.problem(n.pos, &path.child(r), "missing field".to_string());
                }
            }
        }
    }

    fn alternatives(&mut self, n: &Node, alts: &'a [Value], path: &FieldPath) {
        let mut best: Option<Vec<Problem>> = None;
        let mut tags = Vec::new();
        for alt in alts {
            let a = self.resolve(alt);
            let mut sub = Walker {
                root: self.root,
                out: Vec::new(),
            };
            sub.check(n, a, path);
            if sub.out.is_empty() {
                return;
            }
            // An alternative picked by its discriminator (`kind: spike`) or
            // by its single required key (`lognormal: {...}`) reports its
            // own problems.
            let (picked, tag) = discriminates(n, a);
            tags.extend(tag);
            if picked {
                self.out.extend(sub.out);
                return;
            }
            if best.as_ref().is_none_or(|b| sub.out.len() < b.len()) {
                best = Some(sub.out);
            }
        }
        if !tags.is_empty() {
            let found = match n.get("kind").and_then(Node::as_str) {
                Some(k) => format!("`kind: {k}`"),
                None => describe(n),
            };
            self.problem(
                n.pos,
                path,
                format!("expected one of {}, found {found}", tags.join(", ")),
            );
        } else if let Some(b) = best {
            self.out.extend(b);
        }
    }
}

/// Whether `n` selects alternative `a` by a `const` property or by its one
/// required key; also the alternative's tag for the message.
fn discriminates(n: &Node, a: &Value) -> (bool, Option<String>) {
    if let Some(c) = a.get("const") {
        return (&n.to_json() == c, Some(c.to_string()));
    }
    let props = a.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        for (k, p) in props {
            if let Some(c) = p.get("const") {
                let hit = n.get(k).is_some_and(|v| &v.to_json() == c);
                return (
                    hit,
                    Some(format!("`{k}: {}`", c.as_str().unwrap_or_default())),
                );
            }
        }
    }
    let req: Vec<&str> = a
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if req.len() == 1 && a.get("additionalProperties") == Some(&Value::Bool(false)) {
        if let NodeValue::Map(entries) = &n.value {
            let hit = entries.len() == 1 && entries[0].0.name == req[0];
            return (hit, Some(format!("`{}`", req[0])));
        }
        return (false, Some(format!("`{}`", req[0])));
    }
    if let Some(e) = a.get("enum").and_then(Value::as_array) {
        let hit = e.contains(&n.to_json());
        let list: Vec<String> = e.iter().map(|x| x.to_string()).collect();
        return (hit, Some(list.join(", ")));
    }
    (false, None)
}

/// A range bound as written: `18446744073709551615`, not its f64 rounding.
fn bound(x: f64) -> String {
    if x >= u64::MAX as f64 {
        u64::MAX.to_string()
    } else if x <= i64::MIN as f64 {
        i64::MIN.to_string()
    } else {
        format!("{x}")
    }
}

/// The range of a JSON Schema integer `format` (as schemars writes it for
/// Rust's integer types); unbounded for anything else.
fn format_range(format: Option<&str>) -> (f64, f64) {
    match format {
        Some("uint8") => (0.0, f64::from(u8::MAX)),
        Some("uint16") => (0.0, f64::from(u16::MAX)),
        Some("uint32" | "uint") => (0.0, f64::from(u32::MAX)),
        Some("uint64") => (0.0, u64::MAX as f64),
        Some("int8") => (f64::from(i8::MIN), f64::from(i8::MAX)),
        Some("int16") => (f64::from(i16::MIN), f64::from(i16::MAX)),
        Some("int32" | "int") => (f64::from(i32::MIN), f64::from(i32::MAX)),
        Some("int64") => (i64::MIN as f64, i64::MAX as f64),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

fn describe(n: &Node) -> String {
    match &n.value {
        NodeValue::Str(s) => format!("string {s:?}"),
        NodeValue::Int(i) => format!("integer {i}"),
        NodeValue::Float(f) => format!("number {f}"),
        NodeValue::Bool(b) => format!("boolean {b}"),
        NodeValue::Null => "null".to_string(),
        NodeValue::Seq(_) => "a list".to_string(),
        NodeValue::Map(_) => "a mapping".to_string(),
    }
}

/// Every structural problem of `n` against `schema`.
pub fn check(n: &Node, schema: &Value) -> Vec<Problem> {
    let mut w = Walker {
        root: schema,
        out: Vec::new(),
    };
    w.check(n, schema, &FieldPath::default());
    w.out.sort_by_key(|p| p.pos);
    w.out
}
