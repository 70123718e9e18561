//! The core view against an API server: capp-testenv serving the core kinds as v1beta1 (Cluster
//! API v1.10) or as v1beta2 ([`capi_types::v1beta2::served_crds`], Cluster API v1.11+).
//! Discovery picks the served version, objects created in that version are read back as
//! `DynamicObject`s and give the same view.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use capp_api::core::{ClusterView, CoreVersion, MachineView};
use capp_testenv::{Config, TestEnv};
use kube::api::{Api, ListParams, PostParams};
use kube::core::DynamicObject;
use serde_json::{Value, json};

fn cluster(version: CoreVersion) -> Value {
    let refs = match version {
        CoreVersion::V1Beta1 => json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketCluster", "name": "prod"
        }),
        CoreVersion::V1Beta2 => json!({
            "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketCluster", "name": "prod"
        }),
    };
    json!({
        "apiVersion": version.api_version(), "kind": "Cluster",
        "metadata": {"name": "prod", "namespace": "default"},
        "spec": {"paused": true, "infrastructureRef": refs, "controlPlaneEndpoint": {"host": "147.75.80.10", "port": 6443}}
    })
}

fn machine(version: CoreVersion) -> Value {
    let infra = match version {
        CoreVersion::V1Beta1 => json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachine", "name": "prod-md-0"
        }),
        CoreVersion::V1Beta2 => json!({
            "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketMachine", "name": "prod-md-0"
        }),
    };
    json!({
        "apiVersion": version.api_version(), "kind": "Machine",
        "metadata": {"name": "prod-md-0", "namespace": "default", "labels": {"cluster.x-k8s.io/cluster-name": "prod"}},
        "spec": {
            "clusterName": "prod",
            "bootstrap": {"dataSecretName": "prod-md-0"},
            "infrastructureRef": infra,
            "version": "v1.32.3",
            "failureDomain": "da"
        }
    })
}

async fn served_as(served: &str) {
    let env = TestEnv::start(Config::default()).await.unwrap();
    env.install_crds(&capi_types::v1beta2::served_crds(served).unwrap())
        .await
        .unwrap();
    let client = env.client().unwrap();

    let group = kube::discovery::group(&client, "cluster.x-k8s.io")
        .await
        .unwrap();
    let versions: Vec<&str> = group.versions().collect();
    let version = CoreVersion::newest_served(&versions).unwrap();
    assert_eq!(version.as_str(), served, "discovery lists {versions:?}");

    let clusters: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &version.cluster_resource());
    let machines: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &version.machine_resource());
    let pp = PostParams::default();
    clusters
        .create(&pp, &serde_json::from_value(cluster(version)).unwrap())
        .await
        .unwrap();
    machines
        .create(&pp, &serde_json::from_value(machine(version)).unwrap())
        .await
        .unwrap();

    let c = ClusterView::from_dynamic(&clusters.get("prod").await.unwrap(), version).unwrap();
    assert_eq!(c.api_version, version);
    assert!(c.spec_paused && c.is_paused());
    assert!(
        c.infrastructure_ref
            .as_ref()
            .unwrap()
            .is("infrastructure.cluster.x-k8s.io", "PacketCluster")
    );
    assert_eq!(
        c.control_plane_endpoint.unwrap().to_string(),
        "147.75.80.10:6443"
    );
    assert!(c.metadata.uid.is_some());

    let listed = machines.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let m = MachineView::from_dynamic(&listed.items[0], version).unwrap();
    assert_eq!(m.cluster_name, "prod");
    assert_eq!(m.bootstrap_data_secret_name.as_deref(), Some("prod-md-0"));
    assert_eq!(m.failure_domain.as_deref(), Some("da"));
    assert_eq!(m.kubernetes_version.as_deref(), Some("v1.32.3"));
    assert!(!m.control_plane);
    assert_eq!(m.infrastructure_ref.unwrap().name, "prod-md-0");
    env.shutdown().await;
}

#[tokio::test]
async fn core_objects_served_as_v1beta1_are_read_through_the_view() {
    served_as("v1beta1").await;
}

#[tokio::test]
async fn core_objects_served_as_v1beta2_are_read_through_the_view() {
    served_as("v1beta2").await;
}
