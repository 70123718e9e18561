//! The CNI the `-crs-cni` flavors install with a ClusterResourceSet: flannel (VXLAN), the
//! smallest widely used CNI whose whole manifest fits in a ConfigMap. Its pod network is the
//! Cluster's `${POD_CIDR}`.

use serde_json::{Value, json};

use crate::Result;

/// The flannel image, tag from `${FLANNEL_VERSION}`.
const FLANNEL_IMAGE: &str = "docker.io/flannel/flannel:${FLANNEL_VERSION:=v0.25.5}";
/// The flannel CNI plugin image, tag from `${FLANNEL_CNI_PLUGIN_VERSION}`.
const CNI_PLUGIN_IMAGE: &str =
    "docker.io/flannel/flannel-cni-plugin:${FLANNEL_CNI_PLUGIN_VERSION:=v1.5.1-flannel1}";

const NAMESPACE: &str = "kube-flannel";

fn labels() -> Value {
    json!({"app": "flannel", "k8s-app": "flannel", "tier": "node"})
}

/// flannel's CNI configuration (`/etc/cni/net.d/10-flannel.conflist`).
fn cni_conf() -> Result<String> {
    serde_json::to_string_pretty(&json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    }))
    .map_err(crate::Error::Serialize)
}

/// flannel's network configuration: the pod CIDR of the Cluster, VXLAN backend.
fn net_conf() -> Result<String> {
    serde_json::to_string_pretty(&json!({
        "Network": "${POD_CIDR:=192.168.0.0/16}",
        "EnableNFTables": false,
        "Backend": {"Type": "vxlan"},
    }))
    .map_err(crate::Error::Serialize)
}

fn host_path(name: &str, path: &str, kind: Option<&str>) -> Value {
    let mut host = json!({"path": path});
    if let Some(kind) = kind {
        host["type"] = json!(kind);
    }
    json!({"name": name, "hostPath": host})
}

fn daemon_set() -> Value {
    let container = json!({
        "name": "kube-flannel",
        "image": FLANNEL_IMAGE,
        "command": ["/opt/bin/flanneld"],
        "args": ["--ip-masq", "--kube-subnet-mgr"],
        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
        "securityContext": {
            "privileged": false,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]},
        },
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "EVENT_QUEUE_DEPTH", "value": "5000"},
        ],
        "volumeMounts": [
            {"name": "run", "mountPath": "/run/flannel"},
            {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
            {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
        ],
    });
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "selector": {"matchLabels": {"app": "flannel"}},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                        ]}],
                    }}},
                    "hostNetwork": true,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "serviceAccountName": "flannel",
                    "initContainers": [
                        {
                            "name": "install-cni-plugin",
                            "image": CNI_PLUGIN_IMAGE,
                            "command": ["cp"],
                            "args": ["-f", "/flannel", "/opt/cni/bin/flannel"],
                            "volumeMounts": [{"name": "cni-plugin", "mountPath": "/opt/cni/bin"}],
                        },
                        {
                            "name": "install-cni",
                            "image": FLANNEL_IMAGE,
                            "command": ["cp"],
                            "args": ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
                            "volumeMounts": [
                                {"name": "cni", "mountPath": "/etc/cni/net.d"},
                                {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
                            ],
                        },
                    ],
                    "containers": [container],
                    "volumes": [
                        host_path("run", "/run/flannel", None),
                        host_path("cni-plugin", "/opt/cni/bin", None),
                        host_path("cni", "/etc/cni/net.d", None),
                        {"name": "flannel-cfg", "configMap": {"name": "kube-flannel-cfg"}},
                        host_path("xtables-lock", "/run/xtables.lock", Some("FileOrCreate")),
                    ],
                },
            },
        },
    })
}

/// The objects the CNI ClusterResourceSet applies to the workload cluster.
pub(super) fn objects() -> Result<Vec<Value>> {
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAMESPACE,
                "labels": {"k8s-app": "flannel", "pod-security.kubernetes.io/enforce": "privileged"},
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "flannel", "namespace": NAMESPACE, "labels": {"k8s-app": "flannel"}},
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "flannel", "labels": {"k8s-app": "flannel"}},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "flannel", "labels": {"k8s-app": "flannel"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flannel"},
            "subjects": [{"kind": "ServiceAccount", "name": "flannel", "namespace": NAMESPACE}],
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-flannel-cfg", "namespace": NAMESPACE, "labels": labels()},
            "data": {"cni-conf.json": cni_conf()?, "net-conf.json": net_conf()?},
        }),
        daemon_set(),
    ])
}
