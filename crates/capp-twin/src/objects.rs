//! The objects `kubeadm init`, `kubeadm join` and a kubelet create in a workload cluster.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The label kubeadm puts on control-plane nodes (and their taint key).
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// The static pods a kubeadm control-plane node runs, with their images' names.
const STATIC_PODS: &[&str] = &[
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

/// etcd version kubeadm 1.31 – 1.34 deploys.
const ETCD_IMAGE_TAG: &str = "3.5.21-0";

/// What a kubelet reports when it registers.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub(crate) name: String,
    pub(crate) provider_id: String,
    pub(crate) control_plane: bool,
    /// `nodeRegistration.taints`; `None` is kubeadm's default.
    pub(crate) taints: Option<Vec<Value>>,
    pub(crate) internal_ip: Option<IpAddr>,
    pub(crate) external_ip: Option<IpAddr>,
    pub(crate) kubelet_version: String,
    pub(crate) cri_socket: String,
    pub(crate) device_id: String,
}

/// The Node, without status (the kubelet writes it through `/status`).
pub(crate) fn node(spec: &NodeSpec) -> Value {
    let mut labels = json!({
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    });
    let taints = match (&spec.taints, spec.control_plane) {
        (Some(explicit), _) => Value::Array(explicit.clone()),
        (None, true) => json!([{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}]),
        (None, false) => json!([]),
    };
    if spec.control_plane {
        labels[CONTROL_PLANE_LABEL] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": spec.cri_socket,
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"providerID": spec.provider_id, "taints": taints},
    })
}

/// The Node status a healthy kubelet posts.
pub(crate) fn node_status(spec: &NodeSpec, now: &str) -> Value {
    let mut addresses = Vec::new();
    if let Some(ip) = spec.internal_ip {
        addresses.push(json!({"type": "InternalIP", "address": ip.to_string()}));
    }
    if let Some(ip) = spec.external_ip {
        addresses.push(json!({"type": "ExternalIP", "address": ip.to_string()}));
    }
    addresses.push(json!({"type": "Hostname", "address": spec.name}));
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!({
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": addresses,
        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "240Gi"},
        "allocatable": {"cpu": "8", "memory": "31Gi", "pods": "110", "ephemeral-storage": "220Gi"},
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": spec.device_id.replace('-', ""),
            "systemUUID": spec.device_id,
            "bootID": spec.device_id,
            "kernelVersion": "6.8.0-capp-twin",
            "osImage": "Ubuntu 24.04 LTS (capp-twin)",
            "containerRuntimeVersion": "containerd://1.7.27",
            "kubeletVersion": spec.kubelet_version,
            "kubeProxyVersion": spec.kubelet_version,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// The mirror pods of a control-plane node's static pods, without status.
pub(crate) fn static_pods(spec: &NodeSpec, node_uid: Option<&str>) -> Vec<Value> {
    STATIC_PODS
        .iter()
        .map(|component| {
            let tag = if *component == "etcd" {
                ETCD_IMAGE_TAG.to_owned()
            } else {
                spec.kubelet_version.clone()
            };
            let mut metadata = json!({
                "name": format!("{component}-{}", spec.name),
                "namespace": "kube-system",
                "labels": {"component": component, "tier": "control-plane"},
                "annotations": {
                    "kubernetes.io/config.source": "file",
                    "kubernetes.io/config.mirror": spec.device_id,
                },
            });
            if let Some(uid) = node_uid {
                metadata["ownerReferences"] = json!([{
                    "apiVersion": "v1", "kind": "Node", "name": spec.name, "uid": uid,
                    "controller": true,
                }]);
            }
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": metadata,
                "spec": {
                    "nodeName": spec.name,
                    "hostNetwork": true,
                    "priorityClassName": "system-node-critical",
                    "priority": 2_000_001_000,
                    "containers": [{
                        "name": component,
                        "image": format!("registry.k8s.io/{component}:{tag}"),
                    }],
                },
            })
        })
        .collect()
}

/// The status of a running, ready pod.
pub(crate) fn pod_status(spec: &NodeSpec, component_pod: &Value, now: &str) -> Value {
    let name = component_pod
        .pointer("/spec/containers/0/name")
        .cloned()
        .unwrap_or(Value::Null);
    let image = component_pod
        .pointer("/spec/containers/0/image")
        .cloned()
        .unwrap_or(Value::Null);
    let ip = spec.internal_ip.map(|ip| ip.to_string());
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now});
    json!({
        "phase": "Running",
        "conditions": [condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
        "hostIP": ip,
        "podIP": ip,
        "startTime": now,
        "qosClass": "Burstable",
        "containerStatuses": [{
            "name": name, "image": image, "imageID": image, "ready": true, "started": true,
            "restartCount": 0, "state": {"running": {"startedAt": now}},
        }],
    })
}

/// `kube-system/kubeadm-config` (`ClusterConfiguration`, as `kubeadm init` uploads it).
pub(crate) fn kubeadm_config(cluster_configuration_yaml: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": cluster_configuration_yaml},
    })
}

/// The kubeconfig `cluster-info` holds: the CA and the endpoint, no user (kubeadm's
/// `bootstrap-token/clusterinfo` phase).
pub(crate) fn cluster_info_kubeconfig(server: &str, ca_pem: &str) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers: null\n",
        STANDARD.encode(ca_pem)
    )
}

/// `kube-public/cluster-info`.
pub(crate) fn cluster_info(kubeconfig: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": kubeconfig},
    })
}

/// The RBAC `kubeadm init` sets up that the twin's clients rely on: anonymous read of
/// `cluster-info`, and `cluster-admin` for `kubeadm:cluster-admins` (the group of the
/// `admin.conf` client certificate since Kubernetes 1.29).
pub(crate) fn rbac() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "cluster-admin"},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubeadm:cluster-admins"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubeadm:bootstrap-signer-clusterinfo"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}],
        }),
    ]
}
