//! The NIM Operator's validating webhook `vnimservice-v1alpha1.kb.io` for
//! creation, with its messages and warnings (operator commit f63f74d7ad22).

use crate::field::{BadValue, FieldError};
use crate::node::FieldPath;
use crate::types::{NimCache, NimServiceSpec};

/// The webhook's name, as it appears in a denial.
pub const NAME: &str = "vnimservice-v1alpha1.kb.io";

const ACCESS_MODES: &[&str] = &[
    "ReadWriteOnce",
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOncePod",
];

/// What the webhook answers for a new NIMService: errors (a denial when
/// non-empty) and warnings.
pub fn validate_create(spec: &NimServiceSpec) -> (Vec<FieldError>, Vec<String>) {
    let root = FieldPath::parse("nimservice.spec");
    let mut errs = Vec::new();
    let mut warnings = Vec::new();

    // Image.
    if spec.image.repository.is_empty() {
        errs.push(FieldError::required(
            root.child("image").child("repository"),
            "is required",
        ));
    }
    if spec.image.tag.is_empty() {
        errs.push(FieldError::required(
            root.child("image").child("tag"),
            "is required",
        ));
    }
    // authSecret: a warning on the operator's main branch.
    if spec.auth_secret.as_deref().unwrap_or("").is_empty() {
        warnings.push(
            "nimservice.spec.authSecret is empty: NGC_API_KEY will not be injected. Omit this only for \
             air-gapped deployments with a pre-populated local model cache"
                .to_string(),
        );
    }
    storage(spec, &root.child("storage"), &mut errs);
    expose(spec, &root.child("expose"), &mut errs, &mut warnings);
    // Metrics.
    if spec.metrics_enabled()
        && spec
            .metrics
            .as_ref()
            .and_then(|m| m.service_monitor.clone())
            .unwrap_or_default()
            == Default::default()
    {
        errs.push(FieldError::required(
            root.child("metrics").child("serviceMonitor"),
            "must be defined if nimservice.spec.metrics.enabled is true",
        ));
    }
    // Scale.
    if spec.autoscaling() {
        let hpa_empty = spec
            .scale
            .as_ref()
            .and_then(|s| s.hpa.as_ref())
            .is_none_or(|h| {
                h.min_replicas.is_none()
                    && h.max_replicas == 0
                    && h.metrics.is_empty()
                    && h.behavior.is_none()
            });
        if hpa_empty {
            errs.push(FieldError::required(
                root.child("scale").child("hpa"),
                "must be defined if nimservice.spec.scale.enabled is true",
            ));
        }
        if spec.replicas.is_some() {
            errs.push(FieldError::forbidden(
                FieldPath::parse("spec.replicas"),
                "cannot be set when autoscaling is enabled; configure min/max replicas in spec.scale.hpa instead",
            ));
        }
    }
    // Resources.
    if spec
        .resources
        .as_ref()
        .and_then(|r| r.claims.as_ref())
        .is_some_and(|c| !c.is_empty())
    {
        errs.push(FieldError::forbidden(
            root.child("resources").child("claims"),
            "must be empty",
        ));
    }
    // KServe.
    if spec.inference_platform.as_deref() == Some("kserve") && spec.multi_node.is_some() {
        errs.push(FieldError::forbidden(
            root.child("multiNode"),
            "cannot be set when the inferencePlatform is KServe",
        ));
    }
    (errs, warnings)
}

fn storage(spec: &NimServiceSpec, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let s = &spec.storage;
    if let Some(q) = &s.shared_memory_size_limit {
        let parsed = nimscale_core::quantity::Quantity::parse(&q.0);
        if parsed
            .as_ref()
            .map_or(true, |q| q.is_zero() || q.is_negative())
        {
            let shown = parsed.map_or(q.0.clone(), |q| q.canonical());
            errs.push(FieldError::invalid(
                path.child("sharedMemorySizeLimit"),
                BadValue::Str(shown),
                "must be > 0",
            ));
        }
    }
    let nim_cache = s
        .nim_cache
        .as_ref()
        .is_some_and(|c| !c.name.is_empty() || !c.profile.is_empty());
    let pvc = s.pvc.as_ref().is_some_and(|p| {
        p.create.is_some()
            || p.name.as_deref().is_some_and(|v| !v.is_empty())
            || p.storage_class.as_deref().is_some_and(|v| !v.is_empty())
            || p.size.as_deref().is_some_and(|v| !v.is_empty())
            || p.volume_access_mode
                .as_deref()
                .is_some_and(|v| !v.is_empty())
            || p.sub_path.as_deref().is_some_and(|v| !v.is_empty())
            || !p.annotations.is_empty()
    });
    let empty_dir = s.empty_dir.is_some();
    let host_path = s.host_path.as_deref().is_some_and(|h| !h.is_empty());
    let n = [nim_cache, pvc, empty_dir, host_path]
        .iter()
        .filter(|b| **b)
        .count();
    let list = "nimservice.spec.storage.nimCache, nimservice.spec.storage.pvc, nimservice.spec.storage.emptyDir \
                or nimservice.spec.storage.hostPath";
    if n == 0 {
        errs.push(FieldError::required(
            path.clone(),
            format!("one of {list}, must be defined"),
        ));
    } else if n > 1 {
        errs.push(FieldError::invalid(
            path.clone(),
            BadValue::Str("multiple storage sources defined".into()),
            format!("only one of {list} must be defined"),
        ));
    }
    if let Some(c) = &s.nim_cache
        && !c.profile.is_empty()
        && c.name.is_empty()
    {
        errs.push(FieldError::required(
            path.child("nimCache").child("name"),
            "is required when nimservice.spec.storage.nimCache is defined",
        ));
    }
    if pvc && let Some(p) = &s.pvc {
        pvc_rules(p, &path.child("pvc"), "nimservice.spec.storage.pvc", errs);
    }
}

/// The PVC rules shared by NIMService and NIMCache.
pub fn pvc_rules(
    p: &crate::types::PvcSpec,
    path: &FieldPath,
    shown: &str,
    errs: &mut Vec<FieldError>,
) {
    if p.create != Some(true) && p.name.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(
            path.child("name"),
            format!("must be provided when {shown}.create is false"),
        ));
    }
    if let Some(m) = p.volume_access_mode.as_deref()
        && !m.is_empty()
        && !ACCESS_MODES.contains(&m)
    {
        errs.push(FieldError::invalid(
            path.child("volumeAccessMode"),
            BadValue::Str(m.into()),
            "unrecognized volumeAccessMode",
        ));
    }
}

fn expose(
    spec: &NimServiceSpec,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) {
    let Some(expose) = &spec.expose else { return };
    let legacy_ingress = expose
        .ingress
        .as_ref()
        .and_then(|i| i.enabled)
        .unwrap_or(false);
    if let Some(router) = &expose.router {
        let rp = path.child("router");
        if (router.ingress.is_some() || router.gateway.is_some())
            && router.host_domain_name.as_deref().unwrap_or("").is_empty()
        {
            errs.push(FieldError::required(
                rp.child("hostDomainName"),
                "is required",
            ));
        }
        if router.ingress.is_some() && router.gateway.is_some() {
            errs.push(FieldError::forbidden(
                rp.clone(),
                "ingress and gateway cannot be specified together",
            ));
        }
        let grpc_routes = router
            .gateway
            .as_ref()
            .and_then(|g| g.get("grpcRoutesEnabled"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if grpc_routes && expose.service.as_ref().and_then(|s| s.grpc_port).is_none() {
            errs.push(FieldError::required(
                path.child("service").child("grpcPort"),
                "must be set when .spec.expose.router.gateway.grpcRoutesEnabled is true",
            ));
        }
        if legacy_ingress && router.ingress.is_some() {
            errs.push(FieldError::forbidden(
                path.child("ingress"),
                "nimservice.spec.expose.ingress is deprecated. Omit the field if you use .spec.expose.router instead",
            ));
        }
        let lb = expose.service.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
        if lb && (router.ingress.is_some() || router.gateway.is_some()) {
            warnings.push(
                "spec.expose.service.type is set to LoadBalancer, but spec.expose.router.gateway or \
                 spec.expose.router.ingress is also set. This creates two entry points for the service. \
                 Consider only using one of them."
                    .to_string(),
            );
        }
    }
    if legacy_ingress {
        warnings.push(
            ".spec.expose.ingress is deprecated, use .spec.expose.router instead.".to_string(),
        );
    }
}

/// The NIMCache webhook's checks for a new NIMCache (paths under `nimcache.spec`).
pub fn validate_nimcache(cache: &NimCache) -> Vec<FieldError> {
    let root = FieldPath::parse("nimcache.spec");
    let mut errs = Vec::new();
    let spec = &cache.spec;
    if let Some(ngc) = spec.pointer("/source/ngc") {
        let src = root.child("source").child("ngc");
        for key in ["authSecret", "modelPuller"] {
            if ngc
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .is_empty()
            {
                errs.push(FieldError::required(src.child(key), "must be non-empty"));
            }
        }
        if let Some(model) = ngc.get("model") {
            let profiles: Vec<&str> = model
                .get("profiles")
                .and_then(|p| p.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if profiles.len() > 1 && profiles.contains(&"all") {
                errs.push(FieldError::invalid(
                    src.child("model").child("profiles"),
                    BadValue::Str(format!("[{}]", profiles.join(" "))),
                    "must only have a single entry when it contains 'all'",
                ));
            }
            if !profiles.is_empty() {
                for f in [
                    "precision",
                    "engine",
                    "tensorParallelism",
                    "qosProfile",
                    "gpus",
                    "lora",
                    "buildable",
                ] {
                    if model.get(f).is_some() {
                        errs.push(FieldError::forbidden(
                            src.child("model").child(f),
                            "must be empty if nimcache.spec.source.ngc.model.profiles is provided",
                        ));
                    }
                }
            }
            if let Some(q) = model.get("qosProfile").and_then(|v| v.as_str())
                && !q.is_empty()
                && q != "latency"
                && q != "throughput"
            {
                errs.push(FieldError::not_supported(
                    src.child("model").child("qosProfile"),
                    BadValue::Str(q.into()),
                    &["latency".into(), "throughput".into()],
                ));
            }
        }
    }
    match spec.pointer("/storage/pvc") {
        None => errs.push(FieldError::required(
            root.child("storage"),
            "must not be empty",
        )),
        Some(p) => {
            if let Ok(pvc) = serde_json::from_value::<crate::types::PvcSpec>(p.clone()) {
                pvc_rules(
                    &pvc,
                    &root.child("storage").child("pvc"),
                    "nimcache.spec.storage.pvc",
                    &mut errs,
                );
            }
        }
    }
    errs
}
