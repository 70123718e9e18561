//! The clusterctl variable values the template tests substitute: what an operator of the Go
//! provider has in the environment, with clearly fake identifiers.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::collections::BTreeMap;

/// The Equinix Metal API token of the tests (fake); it must reach only the
/// ClusterResourceSet Secret, never userdata.
pub(crate) const TOKEN: &str = "fake-metal-api-token-0123456789";

/// The Kubernetes version of the tests.
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.2";

/// The variables of `clusterctl generate cluster demo --target-namespace NAMESPACE
/// --kubernetes-version v1.33.2 --control-plane-machine-count 3 --worker-machine-count 2`
/// with the Go provider's environment and `NODE_OS=node_os`.
pub(crate) fn values(namespace: &str, node_os: &str) -> BTreeMap<String, String> {
    [
        ("CLUSTER_NAME", "demo"),
        ("NAMESPACE", namespace),
        ("KUBERNETES_VERSION", KUBERNETES_VERSION),
        ("CONTROL_PLANE_MACHINE_COUNT", "3"),
        ("WORKER_MACHINE_COUNT", "2"),
        ("PROJECT_ID", "7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e"),
        ("METRO", "da"),
        ("CONTROLPLANE_NODE_TYPE", "c3.small.x86"),
        ("WORKER_NODE_TYPE", "m3.large.x86"),
        ("NODE_OS", node_os),
        (
            "SSH_KEY",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGu8sx5l3n7bHjH3bqUu0cQk6wWbXy2E4yM1J8a3KQ0b ops@example.com",
        ),
        ("PACKET_API_KEY", TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
