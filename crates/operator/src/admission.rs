//! `kubectl apply` of a NIMService, as far as admission: the YAML reader,
//! strict decoding, CRD defaulting, schema and CEL validation (the API
//! server), then the operator's webhook. A refusal carries the exact message
//! kubectl would show plus the line and column of every field involved.

use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use crate::field::{FieldError, aggregate};
use crate::node::{FieldPath, Node, Pos, parse_documents};
use crate::schema::{self, Schema};
use crate::types::{NimCache, NimService};
use crate::webhook;

/// The API group and version of both CRDs.
pub const API_VERSION: &str = "apps.nvidia.com/v1alpha1";

/// The CRDs as shipped by the NIM Operator (`crd/`, with provenance in
/// its README).
pub const NIMSERVICE_CRD: &str = include_str!("../crd/apps.nvidia.com_nimservices.yaml");
/// See [`NIMSERVICE_CRD`].
pub const NIMCACHE_CRD: &str = include_str!("../crd/apps.nvidia.com_nimcaches.yaml");
/// Their v1alpha1 `openAPIV3Schema`s as [`schema::compact`] writes them:
/// what admission reads (parsing the YAML took ~60 M instructions, a fifth
/// of a short simulation). `tests` check they equal the YAML's.
pub const NIMSERVICE_SCHEMA: &str = include_str!("../crd/nimservices.v1alpha1.schema.json");
/// See [`NIMSERVICE_SCHEMA`].
pub const NIMCACHE_SCHEMA: &str = include_str!("../crd/nimcaches.v1alpha1.schema.json");

/// The embedded CRD schemas.
pub struct Crds {
    /// `nimservices.apps.nvidia.com` v1alpha1.
    pub nimservice: Schema,
    /// `nimcaches.apps.nvidia.com` v1alpha1.
    pub nimcache: Schema,
}

/// The embedded CRDs, parsed once.
pub fn crds() -> &'static Crds {
    static CRDS: OnceLock<Crds> = OnceLock::new();
    CRDS.get_or_init(|| Crds {
        // The files are part of the source tree and checked by tests; an
        // unreadable one is a build defect, not a user error.
        nimservice: schema::from_compact(NIMSERVICE_SCHEMA).unwrap_or_default(),
        nimcache: schema::from_compact(NIMCACHE_SCHEMA).unwrap_or_default(),
    })
}

/// Which layer refused the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Not YAML.
    Yaml,
    /// YAML, but not the documents expected (wrong kind, several NIMServices…).
    Document,
    /// The API server's strict decoding: unknown fields.
    Decode,
    /// The API server's schema and CEL validation.
    ApiServer,
    /// The operator's validating webhook.
    Webhook,
}

/// One located problem of a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub pos: Pos,
    /// The field, with the path as written in the file (`spec.scale.hpa`).
    pub field: String,
    /// The problem, as the refusing layer words it.
    pub text: String,
}

/// Why a NIMService would not be admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The refusing layer.
    pub stage: Stage,
    /// The exact message the client receives.
    pub message: String,
    /// Every problem with its location.
    pub problems: Vec<Problem>,
    /// What the later layers would also refuse once this is fixed.
    pub later: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Refusal {
    /// The message followed by one `FILE:LINE:COL: field: problem` line per problem.
    pub fn detailed(&self, file: &str) -> String {
        let mut out = self.message.clone();
        for p in &self.problems {
            out.push_str(&format!("\n  {file}:{}: {}", p.pos, p.text));
        }
        for l in &self.later {
            out.push_str(&format!("\n  once fixed, also: {l}"));
        }
        out
    }

    fn document(pos: Pos, field: &str, text: String) -> Refusal {
        Refusal {
            stage: Stage::Document,
            message: text.clone(),
            problems: vec![Problem {
                pos,
                field: field.to_string(),
                text,
            }],
            later: Vec::new(),
        }
    }
}

/// An admitted NIMService with what came with it.
#[derive(Clone, Debug)]
pub struct Admitted {
    /// The NIMService as the API server stores it (defaults filled in).
    pub stored: Value,
    /// The same, typed (quantities canonical, as the operator decodes it).
    pub nimservice: NimService,
    /// NIMCache documents from the same file (objects that already exist).
    pub caches: Vec<NimCache>,
    /// The webhook's warnings.
    pub warnings: Vec<String>,
    /// The NIMService document as written, for locations.
    pub source: Node,
}

fn locate(root: &Node, path: &FieldPath, skip: usize) -> Pos {
    root.locate(&path.0[skip.min(path.0.len())..])
}

/// Admits the NIMService in `text` (a YAML stream holding one NIMService and
/// any number of existing NIMCache objects), or says why not.
pub fn admit(text: &str) -> Result<Admitted, Refusal> {
    let docs = parse_documents(text).map_err(syntax_refusal)?;
    admit_documents(docs)
}

/// [`admit`] for documents already parsed (for example taken out of a
/// scenario file, keeping their positions).
pub fn admit_documents(docs: Vec<Node>) -> Result<Admitted, Refusal> {
    let mut service: Option<Node> = None;
    let mut caches = Vec::new();
    for doc in docs {
        let json = doc.to_json();
        if !json.is_object() {
            return Err(Refusal::document(
                doc.pos,
                "",
                "a document is not a mapping (a Kubernetes object)".into(),
            ));
        }
        let kind = json.get("kind").and_then(Value::as_str).unwrap_or("");
        let api_version = json.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind_pos = doc.get("kind").map_or(doc.pos, |n| n.pos);
        if kind.is_empty() {
            return Err(Refusal::document(
                doc.pos,
                "kind",
                "Object 'Kind' is missing".into(),
            ));
        }
        if (kind == "NIMService" || kind == "NIMCache") && api_version != API_VERSION {
            let pos = doc.get("apiVersion").map_or(doc.pos, |n| n.pos);
            return Err(Refusal::document(
                pos,
                "apiVersion",
                format!(
                    "no matches for kind \"{kind}\" in version \"{api_version}\" (the NIM Operator serves {API_VERSION})"
                ),
            ));
        }
        match kind {
            "NIMService" if service.is_some() => {
                return Err(Refusal::document(
                    kind_pos,
                    "kind",
                    "more than one NIMService in the file; render reads one NIMService (and any NIMCache objects)".into(),
                ));
            }
            "NIMService" => service = Some(doc),
            "NIMCache" => caches.push(admit_cache(&doc)?),
            other => {
                return Err(Refusal::document(
                    kind_pos,
                    "kind",
                    format!(
                        "a {other} document: the file may hold one NIMService and NIMCache objects only"
                    ),
                ));
            }
        }
    }
    let Some(source) = service else {
        return Err(Refusal::document(
            Pos::default(),
            "",
            "no NIMService document in the file".into(),
        ));
    };
    let (stored, nimservice, warnings) = admit_service(&source)?;
    Ok(Admitted {
        stored,
        nimservice,
        caches,
        warnings,
        source,
    })
}

fn strict_decoding(root: &Node, json: &Value, schema: &Schema, kind: &str) -> Result<(), Refusal> {
    let mut unknown = Vec::new();
    schema.unknown_fields(json, &FieldPath::default(), &mut unknown);
    if unknown.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    Err(Refusal {
        stage: Stage::Decode,
        message: format!(
            "{kind} in version \"v1alpha1\" cannot be handled as a {kind}: strict decoding error: {}",
            list.join(", ")
        ),
        problems: unknown
            .iter()
            .map(|p| Problem {
                pos: root.locate(&p.0),
                field: p.to_string(),
                text: "unknown field".into(),
            })
            .collect(),
        later: Vec::new(),
    })
}

fn metadata_errors(json: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = json
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(
            FieldPath::parse("metadata.name"),
            "name or generateName is required",
        ));
    } else if !is_dns1123_subdomain(name) {
        errs.push(FieldError::invalid(
            FieldPath::parse("metadata.name"),
            crate::field::BadValue::Str(name.into()),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and \
             must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ));
    }
    errs
}

/// RFC 1123 subdomain: at most 253 characters of dot-separated labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A refusal listing field errors; `skip` drops the leading path segments
/// that are not in the document (the webhook's `nimservice`/`nimcache`).
fn field_refusal(
    root: &Node,
    stage: Stage,
    message: String,
    errs: &[FieldError],
    later: Vec<String>,
) -> Refusal {
    let problems = errs
        .iter()
        .map(|e| {
            let skip = usize::from(matches!(
                e.path.0.first(),
                Some(crate::node::PathSeg::Key(k)) if k == "nimservice" || k == "nimcache"
            ));
            Problem {
                pos: locate(root, &e.path, skip),
                field: e.path.to_string(),
                text: e.to_string(),
            }
        })
        .collect();
    Refusal {
        stage,
        message,
        problems,
        later,
    }
}

fn texts(errs: &[FieldError]) -> String {
    aggregate(&errs.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn api_server_refusal(
    root: &Node,
    kind: &str,
    name: &str,
    errs: &[FieldError],
    later: Vec<String>,
) -> Refusal {
    let message = format!(
        "{kind}.apps.nvidia.com \"{name}\" is invalid: {}",
        texts(errs)
    );
    field_refusal(root, Stage::ApiServer, message, errs, later)
}

fn webhook_refusal(root: &Node, webhook: &str, errs: &[FieldError]) -> Refusal {
    let message = format!(
        "admission webhook \"{webhook}\" denied the request: {}",
        texts(errs)
    );
    field_refusal(root, Stage::Webhook, message, errs, Vec::new())
}

/// The refusal for text that is not YAML.
pub(crate) fn syntax_refusal(e: crate::node::SyntaxError) -> Refusal {
    Refusal {
        stage: Stage::Yaml,
        message: format!("error converting YAML to JSON: {}", e.message),
        problems: vec![Problem {
            pos: e.pos,
            field: String::new(),
            text: e.message,
        }],
        later: Vec::new(),
    }
}

/// Strict decoding and defaulting of one document; returns the defaulted
/// data, its name and the metadata errors found so far.
fn decode(
    root: &Node,
    schema: &Schema,
    kind: &str,
) -> Result<(Value, String, Vec<FieldError>), Refusal> {
    let mut json = root.to_json();
    strict_decoding(root, &json, schema, kind)?;
    schema.apply_defaults(&mut json);
    let name = json
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let errs = metadata_errors(&json);
    Ok((json, name, errs))
}

fn admit_service(root: &Node) -> Result<(Value, NimService, Vec<String>), Refusal> {
    let schema = &crds().nimservice;
    let (mut json, name, mut errs) = decode(root, schema, "NIMService")?;
    if json.pointer("/metadata/namespace").is_none()
        && let Some(Value::Object(meta)) = json.get_mut("metadata")
    {
        meta.insert("namespace".into(), Value::String("default".into()));
    }
    schema.validate(&json, &FieldPath::default(), &mut errs);
    let stored = json.clone();
    let mut typed_json = json;
    schema.canonicalize_quantities(&mut typed_json);
    let typed: Result<NimService, _> = serde_json::from_value(typed_json);
    if !errs.is_empty() {
        // What the webhook would add once the API server is satisfied.
        let later = match &typed {
            Ok(ns) => {
                let (werrs, _) = webhook::validate_create(&ns.spec);
                werrs.iter().map(|e| format!("webhook: {e}")).collect()
            }
            Err(_) => Vec::new(),
        };
        return Err(api_server_refusal(root, "NIMService", &name, &errs, later));
    }
    let nimservice = typed.map_err(|e| Refusal {
        stage: Stage::ApiServer,
        message: format!("NIMService.apps.nvidia.com \"{name}\" could not be decoded: {e}"),
        problems: Vec::new(),
        later: Vec::new(),
    })?;
    let (werrs, warnings) = webhook::validate_create(&nimservice.spec);
    if !werrs.is_empty() {
        // Webhook paths start with `nimservice.spec`, except the
        // `spec.replicas` rule; `field_refusal` maps both onto the document.
        return Err(webhook_refusal(root, webhook::NAME, &werrs));
    }
    Ok((stored, nimservice, warnings))
}

fn admit_cache(root: &Node) -> Result<NimCache, Refusal> {
    let schema = &crds().nimcache;
    let (mut json, name, mut errs) = decode(root, schema, "NIMCache")?;
    // The status of an existing object is the controller's; only the spec is
    // the user's to get right.
    let mut spec_only = json.clone();
    if let Value::Object(m) = &mut spec_only {
        m.remove("status");
    }
    schema.validate(&spec_only, &FieldPath::default(), &mut errs);
    if !errs.is_empty() {
        return Err(api_server_refusal(
            root,
            "NIMCache",
            &name,
            &errs,
            Vec::new(),
        ));
    }
    schema.canonicalize_quantities(&mut json);
    let cache: NimCache = serde_json::from_value(json).map_err(|e| Refusal {
        stage: Stage::ApiServer,
        message: format!("NIMCache.apps.nvidia.com \"{name}\" could not be decoded: {e}"),
        problems: Vec::new(),
        later: Vec::new(),
    })?;
    let werrs = webhook::validate_nimcache(&cache);
    if !werrs.is_empty() {
        return Err(webhook_refusal(root, "vnimcache-v1alpha1.kb.io", &werrs));
    }
    Ok(cache)
}

#[cfg(test)]
mod crd_tests {
    use super::*;

    /// The compact schemas are the YAML CRDs' (`NIMSCALE_BLESS=1`
    /// rewrites them after a CRD update), and read into the same schema.
    #[test]
    fn the_compact_schemas_are_current() {
        for (yaml, json, file) in [
            (
                NIMSERVICE_CRD,
                NIMSERVICE_SCHEMA,
                "nimservices.v1alpha1.schema.json",
            ),
            (
                NIMCACHE_CRD,
                NIMCACHE_SCHEMA,
                "nimcaches.v1alpha1.schema.json",
            ),
        ] {
            let want = schema::compact(yaml, "v1alpha1").unwrap() + "\n";
            if std::env::var_os("NIMSCALE_BLESS").is_some() {
                let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("crd")
                    .join(file);
                std::fs::write(p, &want).unwrap();
                continue;
            }
            assert!(
                json == want,
                "crd/{file} is stale: NIMSCALE_BLESS=1 cargo test -p nimscale-operator"
            );
            let a = schema::from_crd(yaml, "v1alpha1").unwrap();
            let b = schema::from_compact(json).unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }
}
