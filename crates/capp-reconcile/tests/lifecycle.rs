//! End to end against capp-testenv and capp-sim: a cluster gets its Elastic IP endpoint, a
//! control plane and a worker go from created to Ready with providerID, addresses and
//! conditions, and deleting everything leaves no device and no IP; with core objects served
//! as v1beta1 and as v1beta2.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capi_types::conditions::READY;
use capp_api::core::CoreVersion;
use serde_json::json;
use support::{NS, World, condition, eventually};

#[expect(clippy::too_many_lines, reason = "one end-to-end story, step by step")]
async fn cluster_and_two_machines_come_and_go(version: CoreVersion) {
    let world = World::start(version).await;
    let controllers = world.controllers().await;
    let uid = world
        .cluster("prod", json!({"elasticIPReclaimPolicy": "Delete"}))
        .await;
    eventually(
        "the PacketCluster to be provisioned with an endpoint",
        || async {
            let pc = world.packet_cluster("prod").await;
            pc.is_provisioned() && pc.control_plane_endpoint().is_some()
        },
    )
    .await;
    let pc = world.packet_cluster("prod").await;
    let eip = pc.control_plane_endpoint().unwrap().host.clone();
    assert_eq!(pc.control_plane_endpoint().unwrap().port, 6443);
    assert_eq!(
        world.sim.ip_reservations().len(),
        1,
        "one Elastic IP reserved"
    );

    world
        .bootstrap_secret("prod-cp-0", "#cloud-config\nruncmd: [kubeadm init]\n")
        .await;
    world
        .bootstrap_secret("prod-md-0", "#cloud-config\nruncmd: [kubeadm join]\n")
        .await;
    world
        .machine(
            "prod",
            &uid,
            "prod-cp-0",
            true,
            Some("prod-cp-0"),
            json!({}),
        )
        .await;
    world
        .machine(
            "prod",
            &uid,
            "prod-md-0",
            false,
            Some("prod-md-0"),
            json!({"tags": ["team:a"]}),
        )
        .await;

    for name in ["prod-cp-0", "prod-md-0"] {
        let pm = world
            .machine_until(name, "ready", capp_api::PacketMachine::is_provisioned)
            .await;
        let device_id = pm.device_id().expect("providerID is set").to_owned();
        assert_eq!(
            condition(&pm, READY).unwrap().status,
            "True",
            "{name}: {:?}",
            pm.status
        );
        assert_eq!(pm.instance_status(), Some("active"));
        let status = pm.status.as_ref().unwrap();
        assert!(
            status
                .addresses
                .iter()
                .any(|a| a.type_.as_str() == "InternalIP"),
            "{name}: {:?}",
            status.addresses
        );
        assert!(
            status
                .addresses
                .iter()
                .any(|a| a.type_.as_str() == "ExternalIP")
        );
        let device = world.sim.device_json(&device_id).unwrap();
        assert_eq!(device["hostname"], name);
        let tags: Vec<String> = serde_json::from_value(device["tags"].clone()).unwrap();
        for t in [
            "capp:cluster-id:prod",
            &format!("capp:machine-uid:{name}"),
            &format!("capp:namespace:{NS}"),
        ] {
            assert!(
                tags.iter().any(|x| x == t),
                "{name} lacks tag {t}: {tags:?}"
            );
        }
        if name == "prod-cp-0" {
            assert_eq!(
                status.addresses[0].address, eip,
                "the Elastic IP comes first"
            );
            assert!(tags.iter().any(|t| t == "kubernetes.io/role:master"));
            let assigned = device["ip_addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == eip.as_str());
            assert!(assigned, "the first control plane got the Elastic IP");
        } else {
            assert!(tags.iter().any(|t| t == "team:a"), "spec.tags are sent");
        }
    }
    assert_eq!(world.sim.devices().len(), 2, "exactly two devices");

    world.delete_packet_machine("prod-md-0").await;
    world.delete_packet_machine("prod-cp-0").await;
    assert!(
        world.sim.devices().is_empty(),
        "devices are gone before the finalizer is released: {:?}",
        world.sim.devices()
    );
    world.delete_packet_cluster("prod").await;
    assert!(
        world.sim.ip_reservations().is_empty(),
        "the reserved Elastic IP is released"
    );

    let counts = world.sim.operation_counts();
    let total: u64 = counts
        .iter()
        .filter(|(op, _)| !matches!(op.as_str(), "createProjectSSHKey"))
        .map(|(_, n)| n)
        .sum();
    eprintln!("Metal calls for 1 cluster + 2 machine lifecycles: {total} {counts:?}");
    let cluster_calls: u64 = [
        "findIPReservations",
        "requestIPReservation",
        "deleteIPAddress",
    ]
    .iter()
    .map(|op| counts.get(*op).copied().unwrap_or_default())
    .sum();
    assert!(
        total - cluster_calls <= 2 * 8,
        "at most 8 Metal calls per machine lifecycle: {counts:?}"
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_two_machines_come_and_go_with_core_v1beta1() {
    cluster_and_two_machines_come_and_go(CoreVersion::V1Beta1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_and_two_machines_come_and_go_with_core_v1beta2() {
    cluster_and_two_machines_come_and_go(CoreVersion::V1Beta2).await;
}
