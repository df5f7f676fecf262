//! A multi-node NIMService (pipeline parallelism over nodes): the MPI
//! ConfigMaps and SSH Secret, and the LeaderWorkerSet whose leader and
//! workers start the MPI cluster.

use super::*;

impl Workload {
    pub(super) fn multi_node(&self, ctx: &Ctx<'_>, pipeline: i32, objects: &mut Vec<Value>) {
        let spec = ctx.spec;
        let name = &ctx.name;
        let labels = ctx.standard_labels();
        let tensor = spec
            .multi_node
            .as_ref()
            .and_then(|m| m.parallelism.as_ref())
            .and_then(|p| p.tensor)
            .unwrap_or(1);
        let timeout = spec
            .multi_node
            .as_ref()
            .and_then(|m| m.mpi.as_ref())
            .and_then(|m| m.mpi_start_timeout)
            .unwrap_or(300);
        let replicas = spec.replicas.unwrap_or(1);

        objects.extend(mpi_objects(ctx, tensor, pipeline, replicas));
        let (leader_env, worker_env) = mpi_env(tensor, pipeline, timeout);
        let leader_env = merge_env(&self.env, &leader_env);
        let worker_env = merge_env(&self.env, &worker_env);

        let ssh_dotfiles = json!({"name": "ssh-dotfiles", "emptyDir": {}});
        let ssh_pk = json!({"name": "ssh-pk", "secret": {"secretName": format!("{name}-ssh-pk"), "defaultMode": 256}});
        let start_script = json!({"name": "start-mpi-script", "configMap": {"name": format!("{name}-mpi-start-script")}});
        let script_mount = json!({"name": "start-mpi-script", "mountPath": "/opt/nim/start-mpi-cluster.sh", "subPath": "start-mpi-cluster.sh"});

        let mut leader = self.container(ctx, "nim-leader", &leader_env, true, false);
        let mut lm = self.mounts.clone();
        lm.extend([
            json!({"name": "mpi-config", "mountPath": "/etc/mpi"}),
            json!({"name": "ssh-dotfiles", "mountPath": "/opt/nim/llm/.ssh"}),
            json!({"name": "ssh-pk", "mountPath": "/opt/nim/llm/pk"}),
            script_mount.clone(),
        ]);
        leader["volumeMounts"] = json!(lm);
        let mut lv = self.volumes.clone();
        lv.extend([
            json!({"name": "mpi-config", "configMap": {"name": format!("{name}-mpi-config")}}),
            ssh_dotfiles.clone(),
            ssh_pk.clone(),
            start_script.clone(),
        ]);
        let mut worker = self.container(ctx, "nim-worker", &worker_env, false, false);
        let mut wm = self.mounts.clone();
        wm.extend([
            json!({"name": "ssh-confs", "mountPath": "/ssh-confs"}),
            json!({"name": "ssh-dotfiles", "mountPath": "/opt/nim/llm/.ssh"}),
            json!({"name": "ssh-pk", "mountPath": "/opt/nim/llm/pk"}),
            script_mount,
        ]);
        worker["volumeMounts"] = json!(wm);
        let mut wv = self.volumes.clone();
        wv.extend([
            json!({"name": "ssh-confs", "emptyDir": {}}),
            ssh_dotfiles,
            ssh_pk,
            start_script,
        ]);

        let pod = |container: Value, volumes: Vec<Value>| {
            let mut p = self.pod_extra.clone();
            p.insert("containers".into(), json!([container]));
            p.insert("volumes".into(), json!(volumes));
            Value::Object(p)
        };
        let mut leader_labels = ctx.standard_labels();
        leader_labels.insert("app".into(), format!("{name}-lws"));
        leader_labels.insert("nim-llm-role".into(), "leader".into());
        let pod_annotations = Workload::pod_annotations(ctx);
        objects.push(with_sync_hash(json!({
            "apiVersion": "leaderworkerset.x-k8s.io/v1",
            "kind": "LeaderWorkerSet",
            "metadata": ctx.meta(&format!("{name}-lws"), &labels, Some(&ctx.annotations(&[]))),
            "spec": {
                "replicas": replicas,
                "startupPolicy": "LeaderCreated",
                "networkConfig": {"subdomainPolicy": "Shared"},
                "rolloutStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdateConfiguration": {"maxSurge": 0, "maxUnavailable": 1},
                },
                "leaderWorkerTemplate": {
                    "size": pipeline,
                    "restartPolicy": "RecreateGroupOnPodRestart",
                    "leaderTemplate": {
                        "metadata": {"labels": leader_labels, "annotations": pod_annotations},
                        "spec": pod(leader, lv),
                    },
                    "workerTemplate": {
                        "metadata": {"annotations": pod_annotations},
                        "spec": pod(worker, wv),
                    },
                },
            },
        })));
    }
}

/// The hostfile ConfigMap (one hostfile per group), the MPI start script
/// and the SSH key Secret.
fn mpi_objects(ctx: &Ctx<'_>, tensor: i32, pipeline: i32, replicas: i32) -> [Value; 3] {
    let name = &ctx.name;
    let labels = ctx.standard_labels();
    let mut hostfiles = BTreeMap::new();
    for i in 0..replicas.max(1) {
        let mut text = format!("localhost slots={tensor}\n");
        for j in 1..pipeline {
            text.push_str(&format!(
                "{name}-lws-{i}-{j}.{name}-lws.{}.svc slots={tensor}\n",
                ctx.namespace
            ));
        }
        hostfiles.insert(format!("hostfile-{i}"), text);
    }
    [
        with_sync_hash(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ctx.meta(&format!("{name}-mpi-config"), &labels, None),
            "data": hostfiles,
        })),
        with_sync_hash(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ctx.meta(&format!("{name}-mpi-start-script"), &labels, None),
            "data": {"start-mpi-cluster.sh": MPI_START_SCRIPT},
        })),
        with_sync_hash(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": ctx.meta(&format!("{name}-ssh-pk"), &labels, None),
            // The operator generates a fresh RSA key here; nimscale does not
            // invent key material. The value decodes to that sentence.
            "data": {"private.key": SSH_KEY_PLACEHOLDER_B64},
        })),
    ]
}

/// The leader's and the workers' MPI environment (before the NIMService's
/// own, which takes precedence).
fn mpi_env(tensor: i32, pipeline: i32, timeout: i64) -> (Vec<EnvVar>, Vec<EnvVar>) {
    let common = vec![
        plain("NIM_MPI_ALLOW_RUN_AS_ROOT", "0"),
        plain("NIM_NUM_COMPUTE_NODES", pipeline.to_string()),
        plain("NIM_MULTI_NODE", "1"),
        plain("NIM_TENSOR_PARALLEL_SIZE", tensor.to_string()),
        plain("NIM_PIPELINE_PARALLEL_SIZE", pipeline.to_string()),
        field_ref(
            "NIM_NODE_RANK",
            "metadata.labels['leaderworkerset.sigs.k8s.io/worker-index']",
        ),
    ];
    let mut leader_env = common.clone();
    leader_env.extend([
        plain("NIM_LEADER_ROLE", "1"),
        plain("OMPI_MCA_orte_keep_fqdn_hostnames", "true"),
        plain("OMPI_MCA_plm_rsh_args", "-o ConnectionAttempts=20"),
        plain("GPUS_PER_NODE", tensor.to_string()),
        plain("CLUSTER_START_TIMEOUT", timeout.to_string()),
        field_ref(
            "CLUSTER_SIZE",
            "metadata.annotations['leaderworkerset.sigs.k8s.io/size']",
        ),
        field_ref(
            "GROUP_INDEX",
            "metadata.labels['leaderworkerset.sigs.k8s.io/group-index']",
        ),
    ]);
    let mut worker_env = common;
    worker_env.extend([
        plain("NIM_LEADER_ROLE", "0"),
        field_ref(
            "LEADER_NAME",
            "metadata.annotations['leaderworkerset.sigs.k8s.io/leader-name']",
        ),
        field_ref("NAMESPACE", "metadata.namespace"),
        field_ref(
            "LWS_NAME",
            "metadata.labels['leaderworkerset.sigs.k8s.io/name']",
        ),
    ]);
    (leader_env, worker_env)
}
