//! The NIMService's first objects, in the operator's creation order: RBAC,
//! the Service, the HPA and the ServiceMonitor.

use super::*;

impl Ctx<'_> {
    /// 1–3: the ServiceAccount, and the Role and RoleBinding that let it
    /// use the security context constraint.
    pub(super) fn rbac(&self) -> [Value; 3] {
        let (name, namespace, labels) = (&self.name, &self.namespace, self.standard_labels());
        let ctx = self;
        [
            with_sync_hash(json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": ctx.meta(name, &labels, None),
            })),
            with_sync_hash(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": ctx.meta(name, &labels, None),
                "rules": [{
                    "apiGroups": ["security.openshift.io"],
                    "resources": ["securitycontextconstraints"],
                    "resourceNames": [ctx.scc()],
                    "verbs": ["use"],
                }],
            })),
            with_sync_hash(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": ctx.meta(name, &labels, None),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            })),
        ]
    }

    /// 4: the Service (its name must be a DNS-1035 label); it selects the
    /// LeaderWorkerSet's leader for a multi-node NIMService.
    pub(super) fn service(&self) -> Result<Value, ReconcileFailure> {
        let (ctx, spec, name, labels) = (self, self.spec, &self.name, self.standard_labels());
        if !is_dns1035_label(name) {
            return Err(ReconcileFailure {
                error: format!(
                    "Service \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": a DNS-1035 label must \
                     consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end \
                     with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
                     '[a-z]([-a-z0-9]*[a-z0-9])?')"
                ),
                explanation: "the Service takes the NIMService's name, and Service names must be DNS-1035 labels \
                              (start with a letter, at most 63 characters); rename the NIMService"
                    .into(),
            });
        }
        let svc = spec.expose.as_ref().and_then(|e| e.service.as_ref());
        let empty = StringMap::new();
        let mut svc_labels = labels.clone();
        for (k, v) in svc.map_or(&empty, |s| &s.labels) {
            svc_labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let svc_annotations = ctx.annotations(&[svc.map_or(&empty, |s| &s.annotations)]);
        let mut ports = vec![
            json!({"name": "api", "port": ctx.port(), "targetPort": "api", "protocol": "TCP"}),
        ];
        if let Some(g) = svc.and_then(|s| s.grpc_port) {
            ports.push(json!({"name": "grpc", "port": g, "targetPort": "grpc", "protocol": "TCP"}));
        }
        if let Some(m) = svc.and_then(|s| s.metrics_port) {
            ports.push(
                json!({"name": "metrics", "port": m, "targetPort": "metrics", "protocol": "TCP"}),
            );
        }
        let multi_node = spec.multi_node.is_some();
        let selector = if multi_node {
            json!({"app": format!("{name}-lws"), "nim-llm-role": "leader"})
        } else {
            json!({"app": name})
        };
        Ok(with_sync_hash(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": ctx.meta(name, &svc_labels, Some(&svc_annotations)),
            "spec": {
                "type": svc.and_then(|s| s.type_.clone()).filter(|t| !t.is_empty()).unwrap_or_else(|| "ClusterIP".into()),
                "ports": ports,
                "selector": selector,
            },
        })))
    }

    /// 8: the HorizontalPodAutoscaler, when autoscaling is on; its metrics
    /// sorted by type, as the operator does.
    pub(super) fn hpa(&self) -> Result<Option<Value>, ReconcileFailure> {
        let (ctx, spec, name, labels) = (self, self.spec, &self.name, self.standard_labels());
        let empty = StringMap::new();
        if spec.autoscaling()
            && let Some(hpa) = spec.scale.as_ref().and_then(|s| s.hpa.as_ref())
        {
            if let Some(f) = hpa_failure(ctx, hpa) {
                return Err(f);
            }
            let scale_annotations = spec.scale.as_ref().map_or(&empty, |s| &s.annotations);
            let mut metrics = hpa.metrics.clone();
            // Sorted by the type string; Rust's sort is stable, like Go's
            // insertion sort for the short lists the operator sorts.
            metrics.sort_by(|a, b| a.type_.cmp(&b.type_));
            let mut hspec = json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": hpa.min_replicas.unwrap_or(1),
                "maxReplicas": hpa.max_replicas,
            });
            if !metrics.is_empty() {
                hspec["metrics"] = to_json(&metrics);
            }
            if let Some(b) = &hpa.behavior {
                hspec["behavior"] = to_json(b);
            }
            return Ok(Some(with_sync_hash(json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": ctx.meta(name, &labels, Some(&ctx.annotations(&[scale_annotations]))),
                "spec": hspec,
            }))));
        }
        Ok(None)
    }

    /// 9: the ServiceMonitor, when metrics are enabled: the API port's
    /// `/v1/metrics`, and the metrics port's `/metrics` if it has one.
    pub(super) fn service_monitor(&self) -> Option<Value> {
        let (ctx, spec, name, namespace) = (self, self.spec, &self.name, &self.namespace);
        let labels = self.standard_labels();
        let svc = spec.expose.as_ref().and_then(|e| e.service.as_ref());
        if !spec.metrics_enabled() {
            return None;
        }
        {
            let sm = spec
                .metrics
                .as_ref()
                .and_then(|m| m.service_monitor.clone())
                .unwrap_or_default();
            let mut sm_labels = labels.clone();
            for (k, v) in &sm.additional_labels {
                sm_labels.insert(k.clone(), v.clone());
            }
            let endpoint = |port: &str, path: &str| {
                let mut e = json!({"port": port, "path": path});
                if let Some(i) = sm.interval.as_deref().filter(|s| !s.is_empty()) {
                    e["interval"] = json!(i);
                }
                if let Some(t) = sm.scrape_timeout.as_deref().filter(|s| !s.is_empty()) {
                    e["scrapeTimeout"] = json!(t);
                }
                e
            };
            let mut endpoints = vec![endpoint("api", "/v1/metrics")];
            if svc.and_then(|s| s.metrics_port).is_some() {
                endpoints.push(endpoint("metrics", "/metrics"));
            }
            Some(with_sync_hash(json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": ctx.meta(name, &sm_labels, Some(&ctx.annotations(&[&sm.annotations]))),
                "spec": {
                    "namespaceSelector": {"matchNames": [namespace]},
                    "selector": {"matchLabels": labels},
                    "endpoints": endpoints,
                },
            })))
        }
    }
}
