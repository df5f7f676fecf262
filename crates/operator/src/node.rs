//! A YAML document as a tree that remembers where every node was written.
//!
//! Admission works on untyped data, as the API server does, but every error
//! it reports must name the line and column in the user's file. `serde-saphyr`
//! gives each node's location through [`serde_saphyr::Spanned`]; this module
//! collects them into a [`Node`] tree, converts it to JSON for the typed
//! stages, and maps a field path back to its location.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A 1-based line and column; `0:0` when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// The node's content.
    pub value: NodeValue,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or an empty value.
    Null,
    /// A boolean (YAML 1.1 spellings included, as Kubernetes' YAML reader).
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; keys carry their own positions.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Its position.
    pub pos: Pos,
}

impl Node {
    /// The child under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string content, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node as JSON data (what the API server stores).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::Number((*i).into()),
            NodeValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.name.clone(), v.to_json());
                }
                Value::Object(m)
            }
        }
    }

    /// The node at `path` (segments of keys and indices), if it exists.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match (seg, &node.value) {
                (PathSeg::Key(k), NodeValue::Map(_)) => node.get(k)?,
                (PathSeg::Index(i), NodeValue::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Where the field at `path` (segments of keys and indices) was written:
    /// the value's position, or the key's for a mapping entry, or the deepest
    /// ancestor that exists.
    pub fn locate(&self, path: &[PathSeg]) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in path {
            match (seg, &node.value) {
                (PathSeg::Key(k), NodeValue::Map(entries)) => {
                    match entries.iter().find(|(key, _)| &key.name == k) {
                        Some((key, child)) => {
                            pos = key.pos;
                            node = child;
                        }
                        None => return pos,
                    }
                }
                (PathSeg::Index(i), NodeValue::Seq(items)) => match items.get(*i) {
                    Some(child) => {
                        pos = child.pos;
                        node = child;
                    }
                    None => return pos,
                },
                _ => return pos,
            }
        }
        pos
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A field path with Kubernetes' rendering (`spec.env[2].name`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<PathSeg>);

impl FieldPath {
    /// A path the program writes: dotted keys with indices
    /// (`spec.scale.hpa.metrics[0].object`). Empty segments and malformed
    /// indices are skipped; paths a user writes go through
    /// [`FieldPath::parse_user`].
    pub fn parse(path: &str) -> FieldPath {
        Self::read(path, false).unwrap_or_default()
    }

    /// A path a user writes (a sweep axis): as [`FieldPath::parse`], but an
    /// empty segment or a malformed index is an error that says which.
    pub fn parse_user(path: &str) -> Result<FieldPath, String> {
        Self::read(path, true)
    }

    /// The one field-path reader.
    fn read(path: &str, strict: bool) -> Result<FieldPath, String> {
        let mut out = Vec::new();
        for part in path.split('.') {
            let (key, rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            if key.is_empty() && rest.is_empty() {
                if strict {
                    return Err(format!("empty segment in field path {path:?}"));
                }
                continue;
            }
            if !key.is_empty() {
                out.push(PathSeg::Key(key.to_owned()));
            }
            for idx in rest.split('[').filter(|s| !s.is_empty()) {
                match idx.strip_suffix(']').and_then(|d| d.parse::<usize>().ok()) {
                    Some(n) => out.push(PathSeg::Index(n)),
                    None if strict => {
                        return Err(format!("bad index [{idx} in field path {path:?}"));
                    }
                    None => {}
                }
            }
        }
        Ok(FieldPath(out))
    }

    /// This path with one more key.
    pub fn child(&self, key: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(PathSeg::Key(key.to_string()));
        p
    }

    /// This path with one more index.
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(PathSeg::Index(i));
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSeg::Key(k) if i == 0 => f.write_str(k)?,
                PathSeg::Key(k) => write!(f, ".{k}")?,
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A YAML syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
}

/// Parses every document of a multi-document YAML stream (empty documents
/// are dropped).
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let docs: Vec<Option<Node>> = serde_saphyr::from_multiple(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line() as u32,
                column: l.column() as u32,
            })
            .unwrap_or_default();
        let full = e.to_string();
        let first = full
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        let message = first
            .split_once(": ")
            .filter(|(head, _)| head.starts_with("line "))
            .map_or(first, |(_, m)| m)
            .to_string();
        SyntaxError { pos, message }
    })?;
    Ok(docs
        .into_iter()
        .flatten()
        .filter(|n| n.value != NodeValue::Null)
        .collect())
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: loc.line() as u32,
        column: loc.column() as u32,
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<NodeValue>::deserialize(d)?;
        Ok(Node {
            pos: pos_of(&s.referenced),
            value: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        // A set beside the entries: a linear search per key made a mapping
        // of n keys cost n² (20,000 keys took seconds).
        let mut names = std::collections::HashSet::new();
        while let Some(k) = map.next_key::<Node>()? {
            let name = match k.value {
                NodeValue::Str(s) => s,
                NodeValue::Int(i) => i.to_string(),
                NodeValue::Bool(b) => b.to_string(),
                NodeValue::Float(f) => f.to_string(),
                NodeValue::Null => "null".to_string(),
                NodeValue::Seq(_) | NodeValue::Map(_) => {
                    return Err(de::Error::custom("a mapping key must be a scalar"));
                }
            };
            let v = map.next_value::<Node>()?;
            if !names.insert(name.clone()) {
                return Err(de::Error::custom(format!("duplicate key \"{name}\"")));
            }
            entries.push((Key { name, pos: k.pos }, v));
        }
        Ok(NodeValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_read_keys_and_indices() {
        let k = |s: &str| PathSeg::Key(s.into());
        let want = FieldPath(vec![k("spec"), k("env"), PathSeg::Index(2), k("name")]);
        assert_eq!(FieldPath::parse("spec.env[2].name"), want);
        assert_eq!(FieldPath::parse_user("spec.env[2].name"), Ok(want));
        assert_eq!(
            FieldPath::parse_user("a[1][0]"),
            Ok(FieldPath(vec![
                k("a"),
                PathSeg::Index(1),
                PathSeg::Index(0)
            ]))
        );
        // What the program writes is read leniently; what the user writes
        // is refused with the reason.
        assert_eq!(FieldPath::parse("a..b[x]"), FieldPath(vec![k("a"), k("b")]));
        assert_eq!(
            FieldPath::parse_user("a..b"),
            Err("empty segment in field path \"a..b\"".into())
        );
        assert_eq!(
            FieldPath::parse_user("a[x]"),
            Err("bad index [x] in field path \"a[x]\"".into())
        );
        assert_eq!(
            FieldPath::parse("spec.env[2].name").to_string(),
            "spec.env[2].name"
        );
    }

    #[test]
    fn positions_and_types() {
        let docs =
            parse_documents("a: 1\nb:\n  - x\n  - \"8\"\nc: on\n---\nz: 0.5\n").expect("parse");
        assert_eq!(docs.len(), 2);
        let a = docs[0].get("a").expect("a");
        assert_eq!(a.value, NodeValue::Int(1));
        assert_eq!(a.pos, Pos { line: 1, column: 4 });
        let b = docs[0].get("b").expect("b");
        let NodeValue::Seq(items) = &b.value else {
            panic!("seq")
        };
        assert_eq!(items[1].value, NodeValue::Str("8".into()));
        assert_eq!(items[1].pos.line, 4);
        assert_eq!(
            docs[0].get("c").map(|n| n.value.clone()),
            Some(NodeValue::Bool(true))
        );
        let path = FieldPath::parse("b").index(1);
        assert_eq!(docs[0].locate(&path.0).line, 4);
        assert_eq!(path.to_string(), "b[1]");
        assert_eq!(docs[1].to_json(), serde_json::json!({"z": 0.5}));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse_documents("a: [1, 2\nb: 3\n").expect_err("unclosed");
        assert!(e.pos.line >= 1, "{e:?}");
        let e = parse_documents("a: 1\na: 2\n").expect_err("duplicate");
        assert!(e.message.contains("duplicate"), "{e:?}");
    }
}
