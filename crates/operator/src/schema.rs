//! A CRD's structural schema, interpreted as the API server does: strict
//! decoding (unknown fields), pruning of nulls, defaulting, OpenAPI value
//! validation with kube-openapi's messages, and the CRD's CEL rules.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::cel;
use crate::field::{BadValue, ErrorKind, FieldError};
use crate::node::FieldPath;

/// One node of an `openAPIV3Schema` (the keywords structural schemas use).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// `type`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// `properties`.
    #[serde(default)]
    pub properties: BTreeMap<String, Schema>,
    /// `additionalProperties` (a schema; `true`/`false` are not used by CRDs here).
    #[serde(default)]
    pub additional_properties: Option<Box<Schema>>,
    /// `items`.
    #[serde(default)]
    pub items: Option<Box<Schema>>,
    /// `required`.
    #[serde(default)]
    pub required: Vec<String>,
    /// `minimum`.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// `maximum`.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// `exclusiveMinimum`.
    #[serde(default)]
    pub exclusive_minimum: bool,
    /// `exclusiveMaximum`.
    #[serde(default)]
    pub exclusive_maximum: bool,
    /// `enum`.
    #[serde(default, rename = "enum")]
    pub enum_: Option<Vec<Value>>,
    /// `pattern` (RE2 syntax, unanchored).
    #[serde(default)]
    pub pattern: Option<String>,
    /// `minLength`.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// `maxLength`.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// `minItems`.
    #[serde(default)]
    pub min_items: Option<u64>,
    /// `maxItems`.
    #[serde(default)]
    pub max_items: Option<u64>,
    /// `default`.
    #[serde(default)]
    pub default: Option<Value>,
    /// `nullable`.
    #[serde(default)]
    pub nullable: bool,
    /// `x-kubernetes-int-or-string`.
    #[serde(default, rename = "x-kubernetes-int-or-string")]
    pub int_or_string: bool,
    /// `x-kubernetes-preserve-unknown-fields`.
    #[serde(default, rename = "x-kubernetes-preserve-unknown-fields")]
    pub preserve_unknown: bool,
    /// `x-kubernetes-validations`.
    #[serde(default, rename = "x-kubernetes-validations")]
    pub validations: Vec<Rule>,
}

/// One CEL rule of a schema node.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// The CEL expression.
    pub rule: String,
    /// The message shown when it fails.
    #[serde(default)]
    pub message: Option<String>,
}

/// The part of a CRD document nimscale reads.
#[derive(Debug, Deserialize)]
struct CrdDoc {
    spec: CrdSpec,
}

#[derive(Debug, Deserialize)]
struct CrdSpec {
    versions: Vec<CrdVersion>,
}

#[derive(Debug, Deserialize)]
struct CrdVersion {
    name: String,
    schema: CrdSchema,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrdSchema {
    #[serde(rename = "openAPIV3Schema")]
    open_api_v3_schema: Schema,
}

/// The `openAPIV3Schema` of `version` from a CRD's YAML text, as compact
/// JSON without its descriptions: what admission needs, parsed in a tenth
/// of the YAML's time. The embedded schemas are stored so
/// (`crd/*.schema.json`; a test checks they are current).
pub fn compact(text: &str, version: &str) -> Result<String, String> {
    let doc: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let versions = doc
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .ok_or("the CRD has no spec.versions")?;
    let mut schema = versions
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .cloned()
        .ok_or_else(|| format!("the CRD has no version {version}"))?;
    strip_descriptions(&mut schema);
    serde_json::to_string(&schema).map_err(|e| e.to_string())
}

/// Removes the `description` keywords (string values; a property that is
/// called `description` has a schema object and stays).
fn strip_descriptions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("description").is_some_and(Value::is_string) {
                m.remove("description");
            }
            m.values_mut().for_each(strip_descriptions);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// A schema from [`compact`]'s JSON.
pub fn from_compact(json: &str) -> Result<Schema, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

/// Reads the `openAPIV3Schema` of `version` from a CRD's YAML text.
pub fn from_crd(text: &str, version: &str) -> Result<Schema, String> {
    let doc: CrdDoc = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    doc.spec
        .versions
        .into_iter()
        .find(|v| v.name == version)
        .map(|v| v.schema.open_api_v3_schema)
        .ok_or_else(|| format!("the CRD has no version {version}"))
}

const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

impl Schema {
    fn is_object_like(&self) -> bool {
        self.type_.as_deref() == Some("object") || !self.properties.is_empty()
    }

    /// Fields the API server's strict decoding would refuse (`unknown field`),
    /// in document order of discovery.
    pub fn unknown_fields(&self, value: &Value, path: &FieldPath, out: &mut Vec<FieldPath>) {
        match value {
            Value::Object(map) => {
                if path.0.is_empty() {
                    // The top level: apiVersion, kind, metadata are the API
                    // machinery's, metadata is ObjectMeta.
                    if let Some(Value::Object(meta)) = map.get("metadata") {
                        for k in meta.keys() {
                            if !OBJECT_META_FIELDS.contains(&k.as_str()) {
                                out.push(path.child("metadata").child(k));
                            }
                        }
                    }
                }
                for (k, v) in map {
                    let child = path.child(k);
                    if let Some(s) = self.properties.get(k) {
                        if !(path.0.is_empty() && k == "metadata") {
                            s.unknown_fields(v, &child, out);
                        }
                    } else if let Some(s) = &self.additional_properties {
                        s.unknown_fields(v, &child, out);
                    } else if self.is_object_like() && !self.preserve_unknown {
                        out.push(child);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for (i, v) in items.iter().enumerate() {
                        s.unknown_fields(v, &path.index(i), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Structural defaulting: nulls in non-nullable fields are dropped, then
    /// defaults are filled in, only inside objects that exist.
    pub fn apply_defaults(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, s) in &self.properties {
                    if map.get(k).is_some_and(Value::is_null) && !s.nullable {
                        map.remove(k);
                    }
                    if !map.contains_key(k)
                        && let Some(d) = &s.default
                    {
                        map.insert(k.clone(), d.clone());
                    }
                }
                for (k, v) in map.iter_mut() {
                    if let Some(s) = self.properties.get(k) {
                        s.apply_defaults(v);
                    } else if let Some(s) = &self.additional_properties {
                        s.apply_defaults(v);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for v in items {
                        s.apply_defaults(v);
                    }
                }
            }
            _ => {}
        }
    }

    /// OpenAPI validation (kube-openapi's messages, as the apiextensions
    /// server converts them to field errors) and CEL rules.
    pub fn validate(&self, value: &Value, path: &FieldPath, errs: &mut Vec<FieldError>) {
        if value.is_null() {
            if !self.nullable && self.type_.is_some() {
                errs.push(type_error(
                    path,
                    value,
                    self.type_.as_deref().unwrap_or("object"),
                ));
            }
            return;
        }
        if !self.type_matches(value) {
            errs.push(type_error(
                path,
                value,
                self.type_.as_deref().unwrap_or("object"),
            ));
            return;
        }
        if let Some(allowed) = &self.enum_
            && !allowed.contains(value)
        {
            let supported: Vec<String> = allowed.iter().map(value_text).collect();
            errs.push(FieldError::not_supported(
                path.clone(),
                BadValue::of(value),
                &supported,
            ));
        }
        match value {
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                self.validate_number(x, value, path, errs);
            }
            Value::String(s) => self.validate_string(s, value, path, errs),
            Value::Array(items) => self.validate_items(items, path, errs),
            Value::Object(map) => {
                for r in &self.required {
                    if !map.contains_key(r) {
                        errs.push(FieldError::required(path.child(r), ""));
                    }
                }
                for (k, v) in map {
                    if let Some(s) = self.properties.get(k) {
                        if !(path.0.is_empty() && k == "metadata") {
                            s.validate(v, &path.child(k), errs);
                        }
                    } else if let Some(s) = &self.additional_properties {
                        s.validate(v, &path.child(k), errs);
                    }
                }
            }
            _ => {}
        }
        for rule in &self.validations {
            if cel::is_transition_rule(&rule.rule) {
                continue;
            }
            match cel::evaluate(&rule.rule, value) {
                Ok(true) => {}
                Ok(false) => errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::Str(self.type_.clone().unwrap_or_else(|| "object".into())),
                    rule.message
                        .clone()
                        .unwrap_or_else(|| format!("failed rule: {}", rule.rule)),
                )),
                Err(e) => errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::Str("object".into()),
                    e,
                )),
            }
        }
    }

    /// kube-openapi's number validator: minimum and maximum, exclusive or
    /// not.
    fn validate_number(&self, x: f64, value: &Value, path: &FieldPath, errs: &mut Vec<FieldError>) {
        let p = path.to_string();
        if let Some(min) = self.minimum {
            let bad = if self.exclusive_minimum {
                x <= min
            } else {
                x < min
            };
            if bad {
                let rel = if self.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::of(value),
                    format!(
                        "{p} in body should be {rel} {}",
                        crate::field::go_float(min)
                    ),
                ));
            }
        }
        if let Some(max) = self.maximum {
            let bad = if self.exclusive_maximum {
                x >= max
            } else {
                x > max
            };
            if bad {
                let rel = if self.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::of(value),
                    format!(
                        "{p} in body should be {rel} {}",
                        crate::field::go_float(max)
                    ),
                ));
            }
        }
    }

    /// kube-openapi's string validator: length (in characters) and pattern.
    fn validate_string(
        &self,
        s: &str,
        value: &Value,
        path: &FieldPath,
        errs: &mut Vec<FieldError>,
    ) {
        let p = path.to_string();
        let len = s.chars().count() as u64;
        if let Some(max) = self.max_length
            && len > max
        {
            errs.push(FieldError {
                path: path.clone(),
                kind: ErrorKind::TooLong,
                detail: format!("may not be more than {max} bytes"),
            });
        }
        if let Some(min) = self.min_length
            && len < min
        {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::of(value),
                format!("{p} in body should be at least {min} chars long"),
            ));
        }
        if let Some(pat) = &self.pattern
            && !pattern_matches(pat, s)
        {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::of(value),
                format!("{p} in body should match '{pat}'"),
            ));
        }
    }

    /// kube-openapi's slice validator: item counts, then each item.
    fn validate_items(&self, items: &[Value], path: &FieldPath, errs: &mut Vec<FieldError>) {
        let p = path.to_string();
        let n = items.len() as u64;
        if let Some(max) = self.max_items
            && n > max
        {
            errs.push(FieldError {
                path: path.clone(),
                kind: ErrorKind::TooMany(BadValue::Int(n as i64)),
                detail: format!("must have at most {max} items"),
            });
        }
        if let Some(min) = self.min_items
            && n < min
        {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Str("array".into()),
                format!("{p} in body should have at least {min} items"),
            ));
        }
        if let Some(s) = &self.items {
            for (i, v) in items.iter().enumerate() {
                s.validate(v, &path.index(i), errs);
            }
        }
    }

    fn type_matches(&self, value: &Value) -> bool {
        if self.int_or_string {
            return matches!(value, Value::String(_))
                || value.as_i64().is_some()
                || value.as_u64().is_some();
        }
        match self.type_.as_deref() {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("boolean") => value.is_boolean(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some(_) => true,
        }
    }

    /// Rewrites every int-or-string value whose schema carries the Kubernetes
    /// quantity pattern into the quantity's canonical string (`"0.5"` →
    /// `500m`, `1` → `"1"`), as a Go client decoding into typed objects does.
    pub fn canonicalize_quantities(&self, value: &mut Value) {
        if self.int_or_string
            && self
                .pattern
                .as_deref()
                .is_some_and(|p| p.contains("[KMGTPE]i"))
        {
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            if let Some(t) = text
                && let Ok(q) = nimscale_core::quantity::Quantity::parse(&t)
            {
                *value = Value::String(q.canonical());
            }
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if let Some(s) = self.properties.get(k) {
                        s.canonicalize_quantities(v);
                    } else if let Some(s) = &self.additional_properties {
                        s.canonicalize_quantities(v);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(s) = &self.items {
                    for v in items {
                        s.canonicalize_quantities(v);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every CEL rule text in the schema, for the coverage check.
    pub fn rules(&self, out: &mut Vec<String>) {
        out.extend(self.validations.iter().map(|r| r.rule.clone()));
        for s in self.properties.values() {
            s.rules(out);
        }
        if let Some(s) = &self.additional_properties {
            s.rules(out);
        }
        if let Some(s) = &self.items {
            s.rules(out);
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(path: &FieldPath, value: &Value, want: &str) -> FieldError {
    let p = path.to_string();
    FieldError::invalid(
        path.clone(),
        BadValue::of(value),
        format!(
            "{p} in body must be of type {want}: \"{}\"",
            json_type(value)
        ),
    )
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pattern_matches(pattern: &str, s: &str) -> bool {
    // A pattern that does not compile cannot come from a CRD the API server
    // accepted; treat it as matching rather than inventing an error.
    regex_lite::Regex::new(pattern).map_or(true, |re| re.is_match(s))
}
