//! The `clusterclass` flavor: a ClusterClass (`${CLUSTER_CLASS_NAME}`) with its
//! PacketClusterTemplate, PacketMachineTemplates, KubeadmControlPlaneTemplate and
//! KubeadmConfigTemplate, and a Cluster using it through `spec.topology`.
//!
//! The class carries the same node preparation, endpoint handling and CPEM installation as
//! the default flavor; project, metro, node types and OS are written into its templates by
//! clusterctl, so clusters sharing a class share those. Templates are immutable: to change
//! one, generate a class with a new `CLUSTER_CLASS_NAME` and rebase the clusters onto it.

use serde_json::{Value, json};

use super::{BOOTSTRAP_API, CAPI, CLUSTER_NAME, CONTROL_PLANE_API, KUBERNETES_VERSION, meta};

/// `${CLUSTER_CLASS_NAME}` with its default.
const CLASS: &str = "${CLUSTER_CLASS_NAME:=capp-cpem}";

/// The MachineDeployment class of the workers.
pub(super) const WORKER_CLASS: &str = "default-worker";

fn reference(api_version: &str, kind: &str, name: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name})
}

/// The objects of the flavor, class first, Cluster last (before the CPEM resources the
/// caller appends).
pub(super) fn objects(
    packet_cluster_spec: &Value,
    control_plane_config: &Value,
    worker_config: &Value,
    control_plane_machine: &Value,
    worker_machine: &Value,
    cluster_network: &Value,
    cluster_labels: &Value,
) -> Vec<Value> {
    let infra = capp_api::API_VERSION;
    let control_plane = format!("{CLASS}-control-plane");
    let workers = format!("{CLASS}-{WORKER_CLASS}");
    vec![
        json!({
            "apiVersion": CAPI,
            "kind": "ClusterClass",
            "metadata": meta(CLASS),
            "spec": {
                "controlPlane": {
                    "ref": reference(CONTROL_PLANE_API, "KubeadmControlPlaneTemplate", &control_plane),
                    "machineInfrastructure": {
                        "ref": reference(infra, "PacketMachineTemplate", &control_plane),
                    },
                },
                "infrastructure": {"ref": reference(infra, "PacketClusterTemplate", CLASS)},
                "workers": {"machineDeployments": [{
                    "class": WORKER_CLASS,
                    "template": {
                        "bootstrap": {"ref": reference(BOOTSTRAP_API, "KubeadmConfigTemplate", &workers)},
                        "infrastructure": {"ref": reference(infra, "PacketMachineTemplate", &workers)},
                    },
                }]},
            },
        }),
        json!({
            "apiVersion": infra,
            "kind": "PacketClusterTemplate",
            "metadata": meta(CLASS),
            "spec": {"template": {"spec": packet_cluster_spec}},
        }),
        json!({
            "apiVersion": CONTROL_PLANE_API,
            "kind": "KubeadmControlPlaneTemplate",
            "metadata": meta(&control_plane),
            "spec": {"template": {"spec": {"kubeadmConfigSpec": control_plane_config}}},
        }),
        json!({
            "apiVersion": infra,
            "kind": "PacketMachineTemplate",
            "metadata": meta(&control_plane),
            "spec": {"template": {"spec": control_plane_machine}},
        }),
        json!({
            "apiVersion": BOOTSTRAP_API,
            "kind": "KubeadmConfigTemplate",
            "metadata": meta(&workers),
            "spec": {"template": {"spec": worker_config}},
        }),
        json!({
            "apiVersion": infra,
            "kind": "PacketMachineTemplate",
            "metadata": meta(&workers),
            "spec": {"template": {"spec": worker_machine}},
        }),
        json!({
            "apiVersion": CAPI,
            "kind": "Cluster",
            "metadata": {"name": CLUSTER_NAME, "namespace": super::NAMESPACE, "labels": cluster_labels},
            "spec": {
                "clusterNetwork": cluster_network,
                "topology": {
                    "class": CLASS,
                    "version": KUBERNETES_VERSION,
                    "controlPlane": {"replicas": "${CONTROL_PLANE_MACHINE_COUNT:=1}"},
                    "workers": {"machineDeployments": [{
                        "class": WORKER_CLASS,
                        "name": "md-0",
                        "replicas": "${WORKER_MACHINE_COUNT:=0}",
                    }]},
                },
            },
        }),
    ]
}
