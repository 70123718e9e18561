//! The RBAC rules the controllers need, declared next to them (the Go providers'
//! `+kubebuilder:rbac` markers) for the components generator to assemble into a ClusterRole.
//!
//! Secrets are only read with `get`, never listed or watched: bootstrap Secrets are large and
//! numerous, so the manager keeps no Secret informer.

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
            &["get", "list", "watch", "patch", "update"],
        ),
        rule(
            capp_api::GROUP,
            &["packetclusters/status"],
            &["get", "patch", "update"],
        ),
        rule(capp_api::GROUP, &["packetclusters/finalizers"], &["update"]),
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
            &["get", "list", "watch", "patch", "update"],
        ),
        rule(
            capp_api::GROUP,
            &["packetmachines/status"],
            &["get", "patch", "update"],
        ),
        rule(capp_api::GROUP, &["packetmachines/finalizers"], &["update"]),
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
        rule("", &["events"], &["create", "patch"]),
        rule(
            "coordination.k8s.io",
            &["leases"],
            &["get", "create", "update", "patch"],
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
