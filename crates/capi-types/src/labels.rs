//! Label, annotation and finalizer names of the Cluster API v1beta1 contract
//! (`api/v1beta1/common_types.go` and friends in CAPI v1.10).
//!
//! Labels select objects; annotations carry instructions. Both are plain string keys.

/// The API group of the core Cluster API kinds.
pub const GROUP: &str = "cluster.x-k8s.io";
/// The served version of the core kinds modelled by this crate.
pub const VERSION: &str = "v1beta1";
/// `apiVersion` of the core kinds (`cluster.x-k8s.io/v1beta1`).
pub const API_VERSION: &str = "cluster.x-k8s.io/v1beta1";
/// API group of the kubeadm bootstrap provider kinds.
pub const BOOTSTRAP_GROUP: &str = "bootstrap.cluster.x-k8s.io";
/// API group of the kubeadm control plane provider kinds.
pub const CONTROL_PLANE_GROUP: &str = "controlplane.cluster.x-k8s.io";
/// API group of infrastructure providers.
pub const INFRASTRUCTURE_GROUP: &str = "infrastructure.cluster.x-k8s.io";

/// CRD label key declaring which API version implements the v1beta1 contract
/// (`cluster.x-k8s.io/v1beta1: v1beta1`). Core reads provider CRDs through it.
pub const CONTRACT_V1BETA1_LABEL: &str = "cluster.x-k8s.io/v1beta1";
/// CRD label key for the v1beta2 contract (`cluster.x-k8s.io/v1beta2: <versions>`).
pub const CONTRACT_V1BETA2_LABEL: &str = "cluster.x-k8s.io/v1beta2";
/// The value of [`CONTRACT_V1BETA1_LABEL`] on CRDs whose `v1beta1` version implements the contract.
pub const CONTRACT_V1BETA1_VALUE: &str = "v1beta1";

/// Label: name of the Cluster an object belongs to.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// Label: the provider that installed a component (`infrastructure-packet`, ...).
pub const PROVIDER_NAME_LABEL: &str = "cluster.x-k8s.io/provider";
/// Label (present, empty value): the Machine is a control plane Machine.
pub const MACHINE_CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// Label: name of the control plane object owning the Machine.
pub const MACHINE_CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
/// Label: name of the MachineSet owning the Machine.
pub const MACHINE_SET_NAME_LABEL: &str = "cluster.x-k8s.io/set-name";
/// Label: name of the MachineDeployment owning the MachineSet or Machine.
pub const MACHINE_DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";
/// Label: name of the MachinePool owning the Machine.
pub const MACHINE_POOL_NAME_LABEL: &str = "cluster.x-k8s.io/pool-name";
/// Label: only controllers started with the same `--watch-filter` value reconcile the object.
pub const WATCH_FILTER_LABEL: &str = "cluster.x-k8s.io/watch-filter";
/// Label: set on Nodes of interruptible (spot) Machines.
pub const INTERRUPTIBLE_LABEL: &str = "cluster.x-k8s.io/interruptible";
/// Label: the object is owned by a Cluster topology (ClusterClass).
pub const CLUSTER_TOPOLOGY_OWNED_LABEL: &str = "topology.cluster.x-k8s.io/owned";
/// Label: name of the topology MachineDeployment an object belongs to.
pub const CLUSTER_TOPOLOGY_MACHINE_DEPLOYMENT_NAME_LABEL: &str =
    "topology.cluster.x-k8s.io/deployment-name";
/// Label: clusterctl moves objects with this label (set on objects or CRDs).
pub const CLUSTERCTL_MOVE_LABEL: &str = "clusterctl.cluster.x-k8s.io/move";
/// Label: clusterctl moves the object and everything it owns.
pub const CLUSTERCTL_MOVE_HIERARCHY_LABEL: &str = "clusterctl.cluster.x-k8s.io/move-hierarchy";
/// Label on a ClusterRole aggregated into the core manager's role.
pub const AGGREGATE_TO_MANAGER_LABEL: &str = "cluster.x-k8s.io/aggregate-to-manager";

/// Annotation (any value): reconciliation of the object is paused.
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";
/// Annotation: the infrastructure cluster is managed by something else; providers skip it.
pub const MANAGED_BY_ANNOTATION: &str = "cluster.x-k8s.io/managed-by";
/// Annotation: the Machine is preferred for deletion when scaling down.
pub const DELETE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/delete-machine";
/// Annotation: MachineHealthCheck must not remediate this Machine.
pub const MACHINE_SKIP_REMEDIATION_ANNOTATION: &str = "cluster.x-k8s.io/skip-remediation";
/// Annotation: remediate this Machine now (manual remediation request).
pub const REMEDIATE_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/remediate-machine";
/// Annotation: the Cluster name, set on Nodes.
pub const CLUSTER_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cluster-name";
/// Annotation: the Cluster namespace, set on Nodes.
pub const CLUSTER_NAMESPACE_ANNOTATION: &str = "cluster.x-k8s.io/cluster-namespace";
/// Annotation: the Machine name, set on Nodes.
pub const MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/machine";
/// Annotation: kind of the Machine's owner, set on Nodes.
pub const OWNER_KIND_ANNOTATION: &str = "cluster.x-k8s.io/owner-kind";
/// Annotation: name of the Machine's owner, set on Nodes.
pub const OWNER_NAME_ANNOTATION: &str = "cluster.x-k8s.io/owner-name";
/// Annotation: name of the template an object was cloned from.
pub const TEMPLATE_CLONED_FROM_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cloned-from-name";
/// Annotation: group and kind of the template an object was cloned from.
pub const TEMPLATE_CLONED_FROM_GROUP_KIND_ANNOTATION: &str =
    "cluster.x-k8s.io/cloned-from-groupkind";
/// Annotation: a MachineSet must not create Machines.
pub const DISABLE_MACHINE_CREATE_ANNOTATION: &str = "cluster.x-k8s.io/disable-machine-create";
/// Annotation: replicas are managed by an external autoscaler.
pub const REPLICAS_MANAGED_BY_ANNOTATION: &str = "cluster.x-k8s.io/replicas-managed-by";
/// Annotation: the Node of this Machine is not drained on deletion.
pub const EXCLUDE_NODE_DRAINING_ANNOTATION: &str = "machine.cluster.x-k8s.io/exclude-node-draining";
/// Annotation: do not wait for volumes to detach on deletion.
pub const EXCLUDE_WAIT_FOR_NODE_VOLUME_DETACH_ANNOTATION: &str =
    "machine.cluster.x-k8s.io/exclude-wait-for-node-volume-detach";
/// Annotation prefix of pre-drain deletion hooks.
pub const PRE_DRAIN_DELETE_HOOK_ANNOTATION_PREFIX: &str =
    "pre-drain.delete.hook.machine.cluster.x-k8s.io";
/// Annotation prefix of pre-terminate deletion hooks.
pub const PRE_TERMINATE_DELETE_HOOK_ANNOTATION_PREFIX: &str =
    "pre-terminate.delete.hook.machine.cluster.x-k8s.io";
/// Annotation: the date the Machine's certificates expire.
pub const MACHINE_CERTIFICATES_EXPIRY_DATE_ANNOTATION: &str =
    "machine.cluster.x-k8s.io/certificates-expiry";
/// Annotation: set by the topology controller on dry-run requests; template webhooks skip
/// immutability checks for them.
pub const TOPOLOGY_DRY_RUN_ANNOTATION: &str = "topology.cluster.x-k8s.io/dry-run";
/// Annotation: clusterctl move waits while an object carries it.
pub const CLUSTERCTL_BLOCK_MOVE_ANNOTATION: &str = "clusterctl.cluster.x-k8s.io/block-move";
/// Annotation: set by clusterctl move on source objects before deleting them.
pub const CLUSTERCTL_DELETE_FOR_MOVE_ANNOTATION: &str =
    "clusterctl.cluster.x-k8s.io/delete-for-move";
/// Annotation on a CRD: clusterctl skips the CRD name check.
pub const CLUSTERCTL_SKIP_CRD_NAME_PREFLIGHT_CHECK_ANNOTATION: &str =
    "clusterctl.cluster.x-k8s.io/skip-crd-name-preflight-check";

/// Finalizer of the core Cluster controller.
pub const CLUSTER_FINALIZER: &str = "cluster.cluster.x-k8s.io";
/// Finalizer of the core Machine controller.
pub const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";

/// Secret type of secrets generated by Cluster API (`cluster.x-k8s.io/secret`).
pub const CLUSTER_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_subdomain(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    }

    fn is_name(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    }

    /// A Kubernetes qualified name: `[prefix/]name` (labels, annotations, finalizers).
    fn is_qualified_name(s: &str) -> bool {
        match s.split_once('/') {
            Some((prefix, name)) => is_dns_subdomain(prefix) && is_name(name),
            None => is_name(s),
        }
    }

    #[test]
    fn every_label_annotation_and_finalizer_key_is_a_valid_kubernetes_qualified_name() {
        let keys = [
            CONTRACT_V1BETA1_LABEL,
            CONTRACT_V1BETA2_LABEL,
            CLUSTER_NAME_LABEL,
            PROVIDER_NAME_LABEL,
            MACHINE_CONTROL_PLANE_LABEL,
            MACHINE_CONTROL_PLANE_NAME_LABEL,
            MACHINE_SET_NAME_LABEL,
            MACHINE_DEPLOYMENT_NAME_LABEL,
            MACHINE_POOL_NAME_LABEL,
            WATCH_FILTER_LABEL,
            INTERRUPTIBLE_LABEL,
            CLUSTER_TOPOLOGY_OWNED_LABEL,
            CLUSTER_TOPOLOGY_MACHINE_DEPLOYMENT_NAME_LABEL,
            CLUSTERCTL_MOVE_LABEL,
            CLUSTERCTL_MOVE_HIERARCHY_LABEL,
            AGGREGATE_TO_MANAGER_LABEL,
            PAUSED_ANNOTATION,
            MANAGED_BY_ANNOTATION,
            DELETE_MACHINE_ANNOTATION,
            MACHINE_SKIP_REMEDIATION_ANNOTATION,
            REMEDIATE_MACHINE_ANNOTATION,
            CLUSTER_NAME_ANNOTATION,
            CLUSTER_NAMESPACE_ANNOTATION,
            MACHINE_ANNOTATION,
            OWNER_KIND_ANNOTATION,
            OWNER_NAME_ANNOTATION,
            TEMPLATE_CLONED_FROM_NAME_ANNOTATION,
            TEMPLATE_CLONED_FROM_GROUP_KIND_ANNOTATION,
            DISABLE_MACHINE_CREATE_ANNOTATION,
            REPLICAS_MANAGED_BY_ANNOTATION,
            EXCLUDE_NODE_DRAINING_ANNOTATION,
            EXCLUDE_WAIT_FOR_NODE_VOLUME_DETACH_ANNOTATION,
            MACHINE_CERTIFICATES_EXPIRY_DATE_ANNOTATION,
            TOPOLOGY_DRY_RUN_ANNOTATION,
            CLUSTERCTL_BLOCK_MOVE_ANNOTATION,
            CLUSTERCTL_DELETE_FOR_MOVE_ANNOTATION,
            CLUSTERCTL_SKIP_CRD_NAME_PREFLIGHT_CHECK_ANNOTATION,
            CLUSTER_FINALIZER,
            MACHINE_FINALIZER,
            CLUSTER_SECRET_TYPE,
        ];
        for key in keys {
            assert!(is_qualified_name(key), "{key} is not a qualified name");
        }
        for prefix in [
            PRE_DRAIN_DELETE_HOOK_ANNOTATION_PREFIX,
            PRE_TERMINATE_DELETE_HOOK_ANNOTATION_PREFIX,
            GROUP,
            BOOTSTRAP_GROUP,
            CONTROL_PLANE_GROUP,
            INFRASTRUCTURE_GROUP,
        ] {
            assert!(is_dns_subdomain(prefix), "{prefix} is not a DNS subdomain");
        }
        assert!(!is_qualified_name("Cluster.x-k8s.io/name"));
        assert!(!is_qualified_name("cluster.x-k8s.io/"));
    }

    #[test]
    fn the_contract_label_and_api_version_agree_with_the_group_and_version() {
        assert_eq!(API_VERSION, format!("{GROUP}/{VERSION}"));
        assert_eq!(
            CONTRACT_V1BETA1_LABEL,
            format!("{GROUP}/{CONTRACT_V1BETA1_VALUE}")
        );
        assert_eq!(
            <crate::machine::Machine as kube::Resource>::api_version(&()),
            API_VERSION
        );
        assert_eq!(
            <crate::bootstrap::KubeadmConfig as kube::Resource>::group(&()),
            BOOTSTRAP_GROUP
        );
        assert_eq!(
            <crate::control_plane::KubeadmControlPlane as kube::Resource>::group(&()),
            CONTROL_PLANE_GROUP
        );
    }
}
