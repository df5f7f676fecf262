//! The NIM Operator's standalone reconcile: the objects it creates from an
//! admitted NIMService, in its creation order, and where it stops when a step
//! fails (operator commit f63f74d7ad22; see docs/design/nim-operator-objects.md).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, Probe, SecretKeySelector,
};
use serde_json::{Value, json};

use crate::admission::{API_VERSION, Admitted};
use crate::types::{NimCache, NimServiceSpec, StringMap};

/// The UID the golden cases give the NIMService; any UID works, the API
/// server assigns the real one.
pub const PLACEHOLDER_UID: &str = "0a1b2c3d-0000-4000-8000-00000000c0de";

/// Rendering settings that the cluster, not the spec, decides.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// `metadata.uid` of the NIMService, used in owner references.
    pub uid: String,
    /// The operator's `OPERATOR_VERSION` (empty with the stock Helm chart).
    pub operator_version: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            uid: PLACEHOLDER_UID.to_string(),
            operator_version: String::new(),
        }
    }
}

/// Why the reconcile stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileFailure {
    /// The operator's error (the NIMService's `Failed` condition message).
    pub error: String,
    /// What it means and how to fix it, in plain words.
    pub explanation: String,
}

/// Features of the NIMService that nimscale does not render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The field path.
    pub field: String,
    /// What is missing.
    pub what: String,
}

/// What the reconcile produced.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Objects in creation order.
    pub objects: Vec<Value>,
    /// Set when the reconcile fails part-way (the objects are those created before).
    pub failure: Option<ReconcileFailure>,
    /// Set when the reconcile waits for something (a NIMCache not yet Ready).
    pub waiting: Option<String>,
    /// Things the user should know that are not failures.
    pub notes: Vec<String>,
}

/// Refuses the features nimscale does not render, so nobody gets a partial
/// bundle that looks complete.
pub fn unsupported(spec: &NimServiceSpec) -> Vec<Unsupported> {
    let mut out = Vec::new();
    let mut add = |field: &str, what: &str| {
        out.push(Unsupported {
            field: field.into(),
            what: what.into(),
        })
    };
    if spec.inference_platform.as_deref() == Some("kserve") {
        add(
            "spec.inferencePlatform",
            "the KServe platform (InferenceService) is not rendered; use standalone",
        );
    }
    if let Some(e) = &spec.expose {
        if let Some(r) = &e.router {
            if r.ingress.is_some() {
                add(
                    "spec.expose.router.ingress",
                    "the router's Ingress is not rendered",
                );
            }
            if r.gateway.is_some() {
                add(
                    "spec.expose.router.gateway",
                    "HTTPRoute/GRPCRoute objects are not rendered",
                );
            }
            if r.epp_config.is_some() {
                add(
                    "spec.expose.router.eppConfig",
                    "EPP and InferencePool objects are not rendered",
                );
            }
        }
        if e.ingress.as_ref().and_then(|i| i.enabled).unwrap_or(false) {
            add(
                "spec.expose.ingress",
                "the deprecated Ingress is not rendered",
            );
        }
    }
    if !spec.dra_resources.is_empty() {
        add("spec.draResources", "DRA resource claims are not rendered");
    }
    if let Some(m) = &spec.multi_node {
        if m.compute_domain.is_some() {
            add(
                "spec.multiNode.computeDomain",
                "ComputeDomain objects are not rendered",
            );
        }
        if m.ray.is_some() {
            add(
                "spec.multiNode.ray",
                "the Ray launcher is not rendered; use mpi",
            );
        }
    }
    if spec.proxy.is_some() {
        add(
            "spec.proxy",
            "proxy settings (CA volumes and proxy env) are not rendered",
        );
    }
    if !spec.init_containers.is_empty() {
        add("spec.initContainers", "init containers are not rendered");
    }
    if !spec.sidecar_containers.is_empty() {
        add(
            "spec.sidecarContainers",
            "sidecar containers are not rendered",
        );
    }
    out
}

/// The operator's `GetObjectHash` format: FNV-32a, printed in decimal, then
/// `rand.SafeEncodeString`. The operator hashes a Go debug dump, which
/// nimscale cannot reproduce; it hashes the canonical JSON instead, so the
/// annotation is present, well-formed and changes when the object changes.
pub fn object_hash(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

struct Ctx<'a> {
    spec: &'a NimServiceSpec,
    name: String,
    namespace: String,
    opts: &'a RenderOptions,
    spec_hash: String,
}

impl Ctx<'_> {
    fn standard_labels(&self) -> StringMap {
        let mut l: StringMap = self.spec.labels.clone();
        for (k, v) in [
            ("app.kubernetes.io/name", self.name.as_str()),
            ("app.kubernetes.io/instance", self.name.as_str()),
            ("app.kubernetes.io/part-of", "nim-service"),
            ("app.kubernetes.io/managed-by", "k8s-nim-operator"),
            (
                "app.kubernetes.io/operator-version",
                self.opts.operator_version.as_str(),
            ),
        ] {
            l.insert(k.into(), v.into());
        }
        l
    }

    fn scc(&self) -> &'static str {
        if self
            .spec
            .proxy
            .as_ref()
            .and_then(|p| p.cert_config_map.as_deref())
            .is_some_and(|s| !s.is_empty())
        {
            "anyuid"
        } else if self
            .spec
            .storage
            .host_path
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            "hostmount-anyuid"
        } else {
            "nonroot"
        }
    }

    /// Standard annotations, then each extra map in precedence order (earlier wins).
    fn annotations(&self, extra: &[&StringMap]) -> StringMap {
        let mut a = StringMap::new();
        a.insert("openshift.io/required-scc".into(), self.scc().into());
        a.insert("nvidia.com/parent-spec-hash".into(), self.spec_hash.clone());
        for (k, v) in &self.spec.annotations {
            a.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for m in extra {
            for (k, v) in *m {
                a.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        a
    }

    fn owner(&self) -> Value {
        json!([{
            "apiVersion": API_VERSION,
            "kind": "NIMService",
            "name": self.name,
            "uid": self.opts.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }])
    }

    fn meta(&self, name: &str, labels: &StringMap, annotations: Option<&StringMap>) -> Value {
        let mut m = json!({
            "name": name,
            "namespace": self.namespace,
            "labels": labels,
            "ownerReferences": self.owner(),
        });
        if let Some(a) = annotations {
            m["annotations"] = json!(a);
        }
        m
    }

    fn port(&self) -> i32 {
        self.spec.api_port().unwrap_or(8000)
    }
}

/// Adds the operator's `nvidia.com/last-applied-hash` to an object.
fn with_sync_hash(mut obj: Value) -> Value {
    let h = object_hash(&obj);
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"]["nvidia.com/last-applied-hash"] = Value::String(h);
    obj
}

fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn field_ref(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                api_version: None,
            }),
            ..Default::default()
        }),
    }
}

/// The operator's env merge: the priority list in its own order, then the
/// other list's entries whose names are not present yet.
fn merge_env(priority: &[EnvVar], rest: &[EnvVar]) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = priority.to_vec();
    for e in rest {
        if !out.iter().any(|o| o.name == e.name) {
            out.push(e.clone());
        }
    }
    out
}

fn default_env(spec: &NimServiceSpec, port: i32) -> Vec<EnvVar> {
    let mut env = vec![
        plain("NIM_CACHE_PATH", "/model-store"),
        plain("OUTLINES_CACHE_DIR", "/tmp/outlines"),
        plain("NIM_SERVER_PORT", port.to_string()),
        plain("NIM_HTTP_API_PORT", port.to_string()),
        plain("NIM_JSONL_LOGGING", "1"),
        plain("NIM_LOG_LEVEL", "INFO"),
    ];
    if let Some(secret) = spec.auth_secret.as_deref().filter(|s| !s.is_empty()) {
        env.push(EnvVar {
            name: "NGC_API_KEY".into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.into(),
                    key: "NGC_API_KEY".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        });
    }
    let svc = spec.expose.as_ref().and_then(|e| e.service.as_ref());
    if let Some(g) = svc.and_then(|s| s.grpc_port) {
        env.push(plain("NIM_GRPC_API_PORT", g.to_string()));
        env.push(plain("NIM_TRITON_GRPC_PORT", g.to_string()));
    }
    if let Some(m) = svc.and_then(|s| s.metrics_port) {
        env.push(plain("NIM_TRITON_METRICS_PORT", m.to_string()));
    }
    env
}

fn http_probe(path: &str, delay: i32, failures: i32) -> Value {
    json!({
        "httpGet": {"path": path, "port": "api"},
        "initialDelaySeconds": delay,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": failures,
    })
}

fn probe(spec: Option<&crate::types::ProbeSpec>, default: Value) -> Option<Value> {
    match spec {
        Some(p) if p.enabled == Some(false) => None,
        Some(crate::types::ProbeSpec {
            probe: Some(custom),
            ..
        }) => Some(to_json::<Probe>(custom)),
        _ => Some(default),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Go's YAML reading of an unquoted template value: strings that YAML would
/// read as a boolean, null or number.
fn yaml_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ""
    ) || s.parse::<f64>().is_ok()
        || (s.starts_with("0x") && i64::from_str_radix(&s[2..], 16).is_ok())
}

fn is_dns1035_label(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn hpa_failure(ctx: &Ctx<'_>, hpa: &crate::types::HpaSpec) -> Option<ReconcileFailure> {
    let min = hpa.min_replicas.unwrap_or(1);
    let max = hpa.max_replicas;
    let head = format!(
        "HorizontalPodAutoscaler.autoscaling \"{}\" is invalid: ",
        ctx.name
    );
    if max < 1 {
        return Some(ReconcileFailure {
            error: format!("{head}spec.maxReplicas: Invalid value: {max}: must be greater than 0"),
            explanation: "scale.hpa.maxReplicas must be at least 1; the CRD and the webhook accept 0, the API \
                          server refuses the HPA, and the operator stops before creating the Deployment"
                .into(),
        });
    }
    if min > max {
        return Some(ReconcileFailure {
            error: format!(
                "{head}spec.maxReplicas: Invalid value: {max}: must be greater than or equal to `minReplicas`"
            ),
            explanation: format!(
                "scale.hpa.minReplicas ({min}) is above maxReplicas ({max}); the NIMService is admitted, but the \
                 API server refuses the HPA, so the operator never creates the Deployment and the service \
                 never starts"
            ),
        });
    }
    None
}

/// Runs the standalone reconcile for an admitted NIMService.
pub fn render(admitted: &Admitted, opts: &RenderOptions) -> Rendered {
    let ns = &admitted.nimservice;
    let spec = &ns.spec;
    let name = ns.metadata.name.clone().unwrap_or_default();
    let namespace = ns
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let spec_hash = object_hash(admitted.stored.get("spec").unwrap_or(&Value::Null));
    let ctx = Ctx {
        spec,
        name: name.clone(),
        namespace: namespace.clone(),
        opts,
        spec_hash,
    };
    let mut out = Rendered::default();

    // 1-3: RBAC.
    out.objects.extend(ctx.rbac());
    // 4: Service.
    match ctx.service() {
        Ok(svc) => out.objects.push(svc),
        Err(f) => {
            out.failure = Some(f);
            return out;
        }
    }
    // 8: HPA.
    match ctx.hpa() {
        Ok(hpa) => out.objects.extend(hpa),
        Err(f) => {
            out.failure = Some(f);
            return out;
        }
    }
    // 9: ServiceMonitor.
    out.objects.extend(ctx.service_monitor());

    // The env is built before the workload; without expose.service the
    // operator dereferences a nil port here and panics.
    if spec.api_port().is_none() {
        out.failure = Some(ReconcileFailure {
            error: "panic: runtime error: invalid memory address or nil pointer dereference".into(),
            explanation: "spec.expose.service is missing, so the CRD's port default (8000) is never applied and \
                          the operator crashes while building the container env, after creating the Service; no \
                          Deployment is ever created. Add `expose: {service: {port: 8000}}`"
                .into(),
        });
        return out;
    }

    // Storage (creates the PVC when asked).
    let store = match resolve_storage(&ctx, &admitted.caches, &mut out.objects) {
        StorageOutcome::Ready(s) => s,
        StorageOutcome::Failed(f) => {
            out.failure = Some(f);
            return out;
        }
        StorageOutcome::Waiting(w) => {
            out.waiting = Some(w);
            return out;
        }
    };

    if let Some((k, v)) = spec.node_selector.iter().find(|(_, v)| yaml_non_string(v)) {
        out.failure = Some(ReconcileFailure {
            error: "error converting unstructured object to Deployment: unrecognized type: string"
                .into(),
            explanation: format!(
                "nodeSelector {k}: {v:?} is written into the operator's template unquoted, where YAML reads it as \
                 a boolean or number; the Deployment is never created. Select the node with affinity instead"
            ),
        });
        return out;
    }

    let workload = Workload::new(&ctx, &store);
    match spec.pipeline() {
        Some(pp) if pp > 1 => workload.multi_node(&ctx, pp, &mut out.objects),
        _ => {
            if spec.multi_node.is_some() {
                out.notes.push(
                    "multiNode with pipeline 1 renders a Deployment whose pods the Service never selects \
                     (it selects the LeaderWorkerSet's leader): the NIMService never becomes Ready"
                        .into(),
                );
            }
            out.objects.push(workload.deployment(&ctx));
        }
    }
    out
}

/// The container's resources: the NIMService's, with the NIMCache
/// profile's `tp` as the GPU count when it sets none; `None` when empty.
fn resources(spec: &NimServiceSpec, store: &ModelStore) -> Option<Value> {
    let mut resources = spec.resources.as_ref().map(|r| {
        let mut v = json!({});
        if let Some(l) = &r.limits {
            v["limits"] = to_json(l);
        }
        if let Some(q) = &r.requests {
            v["requests"] = to_json(q);
        }
        v
    });
    if let Some((_, Some(tp))) = &store.profile {
        let has_gpu = |r: &Option<Value>, k: &str| {
            r.as_ref()
                .and_then(|v| v.get(k))
                .and_then(|m| m.get("nvidia.com/gpu"))
                .is_some()
        };
        if !has_gpu(&resources, "limits") && !has_gpu(&resources, "requests") {
            let mut r = resources.take().unwrap_or_else(|| json!({}));
            for k in ["limits", "requests"] {
                if !r[k].is_object() {
                    r[k] = json!({});
                }
                r[k]["nvidia.com/gpu"] = json!(tp);
            }
            resources = Some(r);
        }
    }
    resources.filter(|r| r.as_object().is_some_and(|m| !m.is_empty()))
}

/// The pod spec's fields besides containers and volumes: security
/// context, pull secrets, node selector, tolerations (four fields each, as
/// the operator's template keeps them), affinity, runtime, scheduler and
/// priority class.
fn pod_extra(spec: &NimServiceSpec) -> serde_json::Map<String, Value> {
    let mut pod_extra = serde_json::Map::new();
    pod_extra.insert(
        "securityContext".into(),
        json!({
            "runAsUser": spec.user_id.unwrap_or(1000),
            "runAsGroup": spec.group_id.unwrap_or(2000),
            "fsGroup": spec.group_id.unwrap_or(2000),
        }),
    );
    if !spec.image.pull_secrets.is_empty() {
        let secrets: Vec<Value> = spec
            .image
            .pull_secrets
            .iter()
            .map(|s| json!({"name": s}))
            .collect();
        pod_extra.insert("imagePullSecrets".into(), json!(secrets));
    }
    if !spec.node_selector.is_empty() {
        pod_extra.insert("nodeSelector".into(), json!(spec.node_selector));
    }
    if !spec.tolerations.is_empty() {
        // The operator's template keeps only these four fields.
        let t: Vec<Value> = spec
            .tolerations
            .iter()
            .map(|t| {
                let mut m = serde_json::Map::new();
                for (k, v) in [
                    ("key", &t.key),
                    ("operator", &t.operator),
                    ("value", &t.value),
                    ("effect", &t.effect),
                ] {
                    if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                        m.insert(k.into(), json!(v));
                    }
                }
                Value::Object(m)
            })
            .collect();
        pod_extra.insert("tolerations".into(), json!(t));
    }
    let mut affinity = spec.affinity.as_ref().map(to_json);
    if let Some(pa) = &spec.pod_affinity {
        let a = affinity.get_or_insert_with(|| json!({}));
        if a.get("podAffinity").is_none() {
            a["podAffinity"] = to_json(pa);
        }
    }
    if let Some(a) = affinity {
        pod_extra.insert("affinity".into(), a);
    }
    for (k, v) in [
        ("runtimeClassName", &spec.runtime_class_name),
        ("schedulerName", &spec.scheduler_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
            pod_extra.insert(k.into(), json!(v));
        }
    }
    pod_extra
}

struct Workload {
    env: Vec<EnvVar>,
    resources: Option<Value>,
    mounts: Vec<Value>,
    volumes: Vec<Value>,
    pod_extra: serde_json::Map<String, Value>,
}

impl Workload {
    fn new(ctx: &Ctx<'_>, store: &ModelStore) -> Workload {
        let spec = ctx.spec;
        let mut env = merge_env(&spec.env, &default_env(spec, ctx.port()));
        if let Some((profile, _)) = &store.profile {
            env = merge_env(&env, &[plain("NIM_MODEL_PROFILE", profile.clone())]);
        }
        let resources = resources(spec, store);
        let mut store_mount = json!({"name": "model-store", "mountPath": "/model-store"});
        if let Some(sp) = &store.sub_path {
            store_mount["subPath"] = json!(sp);
        }
        let mounts = vec![
            store_mount,
            json!({"name": "dshm", "mountPath": "/dev/shm"}),
        ];
        let mut dshm = json!({"medium": "Memory"});
        if let Some(l) = &spec.storage.shared_memory_size_limit {
            dshm["sizeLimit"] = json!(l.0);
        }
        let volumes = vec![
            json!({"name": "dshm", "emptyDir": dshm}),
            store.volume.clone(),
        ];
        let pod_extra = pod_extra(spec);
        Workload {
            env,
            resources,
            mounts,
            volumes,
            pod_extra,
        }
    }

    fn ports(ctx: &Ctx<'_>) -> Vec<Value> {
        let svc = ctx.spec.expose.as_ref().and_then(|e| e.service.as_ref());
        let mut ports =
            vec![json!({"name": "api", "containerPort": ctx.port(), "protocol": "TCP"})];
        if let Some(g) = svc.and_then(|s| s.grpc_port) {
            ports.push(json!({"name": "grpc", "containerPort": g, "protocol": "TCP"}));
        }
        if let Some(m) = svc.and_then(|s| s.metrics_port) {
            ports.push(json!({"name": "metrics", "containerPort": m, "protocol": "TCP"}));
        }
        ports
    }

    fn container(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        env: &[EnvVar],
        probes: bool,
        pull_policy: bool,
    ) -> Value {
        let spec = ctx.spec;
        let mut c = json!({
            "name": name,
            "image": format!("{}:{}", spec.image.repository, spec.image.tag),
            "env": to_json(&env),
            "ports": Workload::ports(ctx),
            "volumeMounts": self.mounts,
        });
        if pull_policy && let Some(p) = spec.image.pull_policy.as_deref().filter(|s| !s.is_empty())
        {
            c["imagePullPolicy"] = json!(p);
        }
        if let Some(r) = &self.resources {
            c["resources"] = r.clone();
        }
        if !spec.command.is_empty() {
            c["command"] = json!(spec.command);
        }
        if !spec.args.is_empty() {
            c["args"] = json!(spec.args);
        }
        if probes {
            for (key, p) in [
                (
                    "livenessProbe",
                    probe(
                        spec.liveness_probe.as_ref(),
                        http_probe("/v1/health/live", 15, 3),
                    ),
                ),
                (
                    "readinessProbe",
                    probe(
                        spec.readiness_probe.as_ref(),
                        http_probe("/v1/health/ready", 15, 3),
                    ),
                ),
                (
                    "startupProbe",
                    probe(
                        spec.startup_probe.as_ref(),
                        http_probe("/v1/health/ready", 30, 120),
                    ),
                ),
            ] {
                if let Some(p) = p {
                    c[key] = p;
                }
            }
        }
        c
    }

    fn pod_annotations(ctx: &Ctx<'_>) -> StringMap {
        let mut a = ctx.annotations(&[]);
        a.remove("nvidia.com/parent-spec-hash");
        a
    }

    fn deployment(&self, ctx: &Ctx<'_>) -> Value {
        let spec = ctx.spec;
        let mut pod_labels = ctx.standard_labels();
        pod_labels.insert("app".into(), ctx.name.clone());
        let mut pod = self.pod_extra.clone();
        pod.insert(
            "containers".into(),
            json!([self.container(ctx, &format!("{}-ctr", ctx.name), &self.env, true, true)]),
        );
        pod.insert("serviceAccountName".into(), json!(ctx.name));
        pod.insert("volumes".into(), json!(self.volumes));
        let mut dspec = json!({
            "selector": {"matchLabels": {"app": ctx.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": Workload::pod_annotations(ctx)},
                "spec": Value::Object(pod),
            },
        });
        let replicas = if spec.autoscaling() {
            spec.scale
                .as_ref()
                .and_then(|s| s.hpa.as_ref())
                .map(|h| h.min_replicas.unwrap_or(1))
        } else {
            spec.replicas
        };
        if let Some(r) = replicas {
            dspec["replicas"] = json!(r);
        }
        with_sync_hash(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": ctx.meta(&ctx.name, &ctx.standard_labels(), Some(&ctx.annotations(&[]))),
            "spec": dspec,
        }))
    }
}

/// Base64 of "generated by the NIM Operator at reconcile time (RSA private key)".
pub const SSH_KEY_PLACEHOLDER_B64: &str =
    "Z2VuZXJhdGVkIGJ5IHRoZSBOSU0gT3BlcmF0b3IgYXQgcmVjb25jaWxlIHRpbWUgKFJTQSBwcml2YXRlIGtleSk=";

const MPI_START_SCRIPT: &str = r#"#!/bin/bash
NIM_JSONL_LOGGING="${NIM_JSONL_LOGGING:-0}"
if [ "${NIM_JSONL_LOGGING}" -eq "1" ] && /opt/nim/llm/.venv/bin/python3 -c "import nim_llm_sdk.logging.pack_all_logs_into_json" 2> /dev/null; then
  /opt/nim/llm/.venv/bin/python3 -m nim_llm_sdk.entrypoints.openai.api_server |& /opt/nim/llm/.venv/bin/python3 -m nim_llm_sdk.logging.pack_all_logs_into_json
else
  /opt/nim/llm/.venv/bin/python3 -m nim_llm_sdk.entrypoints.openai.api_server
fi
"#;

mod lws;
mod objects;
mod storage;

use storage::{ModelStore, StorageOutcome, resolve_storage};

#[cfg(test)]
mod tests;
