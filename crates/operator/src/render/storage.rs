//! Where the model is read from: a NIMCache's PVC (Ready, or the operator
//! waits), a PVC (created by the operator when asked), an emptyDir or a
//! host path, as the operator resolves `spec.storage`.

use super::*;

/// Where the model cache comes from, after the storage step.
pub(super) struct ModelStore {
    /// The `model-store` volume.
    pub(super) volume: Value,
    /// The mount's `subPath`.
    pub(super) sub_path: Option<String>,
    /// The NIMCache profile to pin, with its `tp` tag when the cache lists it.
    pub(super) profile: Option<(String, Option<String>)>,
}

/// The storage step's result.
pub(super) enum StorageOutcome {
    /// The model store to mount.
    Ready(ModelStore),
    /// The operator stops with an error.
    Failed(ReconcileFailure),
    /// The operator waits (for a NIMCache to become Ready).
    Waiting(String),
}

/// `spec.storage`, in the operator's order of precedence: a NIMCache, a
/// PVC (created when asked), an emptyDir, a host path.
pub(super) fn resolve_storage(
    ctx: &Ctx<'_>,
    caches: &[NimCache],
    objects: &mut Vec<Value>,
) -> StorageOutcome {
    let s = &ctx.spec.storage;
    let read_only = s.read_only.unwrap_or(false);
    if let Some(c) = s.nim_cache.as_ref().filter(|c| !c.name.is_empty()) {
        return from_nim_cache(ctx, c, caches, read_only);
    }
    if let Some(p) = &s.pvc {
        let sub_path = p.sub_path.clone().filter(|s| !s.is_empty());
        if p.create == Some(true) {
            let (name, claim) = match created_pvc(ctx, p) {
                Ok(x) => x,
                Err(f) => return StorageOutcome::Failed(f),
            };
            objects.push(claim);
            return StorageOutcome::Ready(ModelStore {
                volume: pvc_volume(&name, read_only),
                sub_path,
                profile: None,
            });
        }
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            return StorageOutcome::Ready(ModelStore {
                volume: pvc_volume(name, read_only),
                sub_path,
                profile: None,
            });
        }
    }
    if let Some(e) = &s.empty_dir {
        let mut ed = json!({});
        if let Some(l) = &e.size_limit {
            ed["sizeLimit"] = json!(l.0);
        }
        return StorageOutcome::Ready(ModelStore {
            volume: json!({"name": "model-store", "emptyDir": ed}),
            sub_path: None,
            profile: None,
        });
    }
    if let Some(h) = s.host_path.as_deref().filter(|h| !h.is_empty()) {
        return StorageOutcome::Ready(ModelStore {
            volume: json!({"name": "model-store", "hostPath": {"path": h, "type": "DirectoryOrCreate"}}),
            sub_path: None,
            profile: None,
        });
    }
    StorageOutcome::Failed(ReconcileFailure {
        error: "neither external PVC name, NIMCache volume, empty dir or local host path should be provided".into(),
        explanation: "the NIMService names no model cache; set exactly one of storage.nimCache, storage.pvc, \
                      storage.emptyDir or storage.hostPath"
            .into(),
    })
}

/// The `model-store` volume of a claim.
fn pvc_volume(claim: &str, read_only: bool) -> Value {
    let mut pvc = json!({"claimName": claim});
    if read_only {
        pvc["readOnly"] = json!(true);
    }
    json!({"name": "model-store", "persistentVolumeClaim": pvc})
}

/// `storage.nimCache`: the named NIMCache must exist and be Ready with a
/// PVC; its profile's tensor parallelism travels to the pod when the cache
/// holds an optimised NGC model.
fn from_nim_cache(
    ctx: &Ctx<'_>,
    c: &crate::types::NimCacheVolume,
    caches: &[NimCache],
    read_only: bool,
) -> StorageOutcome {
    let Some(cache) = caches.iter().find(|k| {
        k.metadata.name.as_deref() == Some(c.name.as_str())
            && k.metadata.namespace.as_deref().unwrap_or(&ctx.namespace) == ctx.namespace
    }) else {
        return StorageOutcome::Failed(ReconcileFailure {
            error: format!("NIMCache {} not found", c.name),
            explanation: format!(
                "the NIMService reads its model from NIMCache {:?} in namespace {:?}, which does not exist; \
                 create it first (add it to this file to render with it), or use storage.pvc",
                c.name, ctx.namespace
            ),
        });
    };
    match cache.status.state.as_deref() {
        Some("Ready") => {}
        Some("Failed") => {
            let msg = cache
                .status
                .conditions
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Failed"))
                .and_then(|c| c.get("message").and_then(Value::as_str))
                .unwrap_or("")
                .to_string();
            return StorageOutcome::Failed(ReconcileFailure {
                error: msg,
                explanation: format!(
                    "NIMCache {} failed to download the model; fix the cache first",
                    c.name
                ),
            });
        }
        _ => {
            return StorageOutcome::Waiting(format!(
                "NIMCache {} not ready: the operator creates the Deployment once the cache is Ready",
                c.name
            ));
        }
    }
    let Some(pvc) = cache.status.pvc.clone().filter(|p| !p.is_empty()) else {
        return StorageOutcome::Failed(ReconcileFailure {
            error: format!("missing PVC for the nimcache instance {}", c.name),
            explanation: "the NIMCache is Ready but names no PVC in its status".into(),
        });
    };
    let sub_path = cache
        .spec
        .pointer("/storage/pvc/subPath")
        .and_then(Value::as_str)
        .map(str::to_string);
    let optimized = cache.spec.pointer("/source/ngc").is_some()
        && cache.spec.pointer("/source/ngc/modelEndpoint").is_none();
    let profile = (!c.profile.is_empty()).then(|| {
        let tp = optimized
            .then(|| cache.status.profiles.iter().find(|p| p.name == c.profile))
            .flatten()
            .map(|p| {
                p.config
                    .get("tp")
                    .or_else(|| p.config.get("tensorParallelism"))
                    .cloned()
                    .unwrap_or("1".into())
            });
        (c.profile.clone(), tp)
    });
    StorageOutcome::Ready(ModelStore {
        volume: pvc_volume(&pvc, read_only),
        sub_path,
        profile,
    })
}

/// `storage.pvc.create`: the PersistentVolumeClaim the operator creates,
/// and its name.
fn created_pvc(
    ctx: &Ctx<'_>,
    p: &crate::types::PvcSpec,
) -> Result<(String, Value), ReconcileFailure> {
    let name = p
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{}-pvc", ctx.name));
    let size = p.size.clone().unwrap_or_default();
    let q = match nimscale_core::quantity::Quantity::parse(&size) {
        Ok(q) => q,
        Err(_) => {
            return Err(ReconcileFailure {
                error: format!(
                    "failed to parse size for pvc creation {name}, err quantities must match the regular \
                     expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                ),
                explanation: format!(
                    "storage.pvc.size {size:?} is not a Kubernetes quantity (e.g. 200Gi)"
                ),
            });
        }
    };
    let labels: StringMap = [
        ("app", "k8s-nim-operator"),
        ("app.kubernetes.io/name", ctx.name.as_str()),
        ("app.kubernetes.io/managed-by", "k8s-nim-operator"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut meta = ctx.meta(&name, &labels, None);
    if !p.annotations.is_empty() {
        meta["annotations"] = json!(p.annotations);
    }
    let mut spec = json!({
        "accessModes": [p.volume_access_mode.clone().unwrap_or_default()],
        "resources": {"requests": {"storage": q.canonical()}},
    });
    if let Some(sc) = p.storage_class.as_deref().filter(|s| !s.is_empty()) {
        spec["storageClassName"] = json!(sc);
    }
    let claim = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": spec,
    });
    Ok((name, claim))
}
