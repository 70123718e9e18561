//! The RBAC rules the controllers need, declared next to them (the Go providers'
//! `+kubebuilder:rbac` markers) for the components generator to assemble into a ClusterRole.
//!
//! Secrets are only read with `get`, never listed or watched: bootstrap Secrets are large and
//! numerous, so the manager keeps no Secret informer.
//!
//! Least privilege, proven by `bins/capp-components/tests/rbac_least_privilege.rs` (each
//! permission removed in turn breaks a full lifecycle run as the generated ServiceAccount):
//! the controllers write only with `patch` (merge patches for finalizers and the spec,
//! server-side apply for status), never `update`; PacketMachines are only read through the
//! controller's watch, never with `get`; no `<kind>/finalizers` permission is needed, since the
//! controllers create no object owned by ours (the `OwnerReferencesPermissionEnforcement`
//! admission plugin checks it only for owner references with `blockOwnerDeletion`); events go
//! through `events.k8s.io` only (kube's event recorder), a repeated event being a `patch`; and
//! the leader-election Lease is read, created and patched, never updated.

use k8s_openapi::api::rbac::v1::PolicyRule;

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// What the PacketCluster controller reads and writes.
#[must_use]
pub fn packetcluster_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            capp_api::GROUP,
            &["packetclusters"],
            &["get", "list", "watch", "patch"],
        ),
        rule(capp_api::GROUP, &["packetclusters/status"], &["patch"]),
        rule(
            capi_types::labels::GROUP,
            &["clusters"],
            &["get", "list", "watch"],
        ),
        // credentialsRef Secrets, read on demand.
        rule("", &["secrets"], &["get"]),
    ]
}

/// What the PacketMachine controller reads and writes.
#[must_use]
pub fn packetmachine_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            capp_api::GROUP,
            &["packetmachines"],
            &["list", "watch", "patch"],
        ),
        rule(capp_api::GROUP, &["packetmachines/status"], &["patch"]),
        rule(
            capp_api::GROUP,
            &["packetclusters"],
            &["get", "list", "watch"],
        ),
        rule(
            capi_types::labels::GROUP,
            &["clusters", "machines"],
            &["get", "list", "watch"],
        ),
        // Bootstrap data Secrets, read on demand.
        rule("", &["secrets"], &["get"]),
    ]
}

/// What the manager itself needs: events on the objects and the leader-election Lease.
#[must_use]
pub fn manager_rules() -> Vec<PolicyRule> {
    vec![
        rule("events.k8s.io", &["events"], &["create", "patch"]),
        rule(
            "coordination.k8s.io",
            &["leases"],
            &["get", "create", "patch"],
        ),
    ]
}

/// Every rule of the manager's ClusterRole.
#[must_use]
pub fn rules() -> Vec<PolicyRule> {
    let mut all = packetcluster_rules();
    all.extend(packetmachine_rules());
    all.extend(manager_rules());
    all
}

/// What the built-in kubeadm bootstrap controller (`--kubeadm-bootstrap`) reads and writes in
/// the management cluster; the workload cluster is reached with the admin kubeconfig, not with
/// these rules. Kept out of [`rules`] (and so out of the infrastructure components' ClusterRole)
/// until the bootstrap provider ships in the components; like the infrastructure controllers it
/// writes status by server-side apply (`patch`) and events through `events.k8s.io` only.
#[must_use]
pub fn bootstrap_rules() -> Vec<PolicyRule> {
    use capp_api::bootstrap::BOOTSTRAP_GROUP;
    vec![
        rule(
            BOOTSTRAP_GROUP,
            &["packetkubeadmconfigs", "packetkubeadmconfigtemplates"],
            &["get", "list", "watch"],
        ),
        rule(
            BOOTSTRAP_GROUP,
            &["packetkubeadmconfigs/status"],
            &["patch"],
        ),
        rule(
            capi_types::labels::GROUP,
            &["clusters", "machines"],
            &["get", "list", "watch"],
        ),
        rule(capp_api::GROUP, &["packetmachines"], &["get"]),
        // CA, kubeconfig and bootstrap data Secrets: read one by one, created when missing.
        rule("", &["secrets"], &["get", "create"]),
        // The init lock (`<cluster>-lock`) and the matrix ConfigMap.
        rule("", &["configmaps"], &["get", "create", "delete"]),
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_only_read_one_by_one() {
        for r in rules() {
            if r.resources.as_deref() == Some(&["secrets".to_owned()][..]) {
                assert_eq!(r.verbs, ["get"]);
            }
        }
    }
}
