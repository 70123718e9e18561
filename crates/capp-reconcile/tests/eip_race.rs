//! Two control planes of a CPEM cluster become active together: both find the Elastic IP
//! unassigned and both ask for it. The first gets it; the second's 422 "already assigned"
//! is not an error (a control plane of the cluster holds it, and CPEM moves it from there).
//! An address held by a device outside the cluster is a clear error naming it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_api::conditions::{CONTROL_PLANE_ENDPOINT_READY, INSTANCE_READY};
use capp_api::core::CoreVersion;
use capp_packet::{AssignIp, CreateDevice, Location, Metal};
use capp_sim::Fault;
use serde_json::json;
use support::{World, condition, eventually, reason};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_control_planes_active_together_share_the_elastic_ip() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("race", json!({})).await;
    eventually("the PacketCluster's endpoint", || async {
        world
            .packet_cluster("race")
            .await
            .control_plane_endpoint()
            .is_some()
    })
    .await;
    let eip = world
        .packet_cluster("race")
        .await
        .control_plane_endpoint()
        .unwrap()
        .host
        .clone();
    // Both assignments are held long enough for the other control plane to become active
    // and find the address unassigned too (the devices provision in 4.8 s, polls are at
    // most 3 s apart): the race, every time.
    world.sim.faults().inject_for(
        "createIPAssignment",
        Fault::Latency(Duration::from_secs(5)),
        2,
    );
    world
        .bootstrap_secret("race-cp", "#cloud-config\nruncmd: [kubeadm join]\n")
        .await;
    for name in ["race-cp-0", "race-cp-1"] {
        world
            .machine("race", &uid, name, true, Some("race-cp"), json!({}))
            .await;
    }

    let mut devices = Vec::new();
    for name in ["race-cp-0", "race-cp-1"] {
        let pm = world
            .machine_until(name, "provisioned", capp_api::PacketMachine::is_provisioned)
            .await;
        let endpoint = condition(&pm, CONTROL_PLANE_ENDPOINT_READY).unwrap();
        assert_eq!(endpoint.status, "True", "{name}: {:?}", pm.status);
        let status = pm.status.as_ref().unwrap();
        assert_eq!(status.failure_reason, None, "{name}: {status:?}");
        devices.push(pm.device_id().unwrap().to_owned());
    }

    let refused = world
        .sim
        .status_counts()
        .get(&("createIPAssignment".to_owned(), 422))
        .copied()
        .unwrap_or_default();
    assert_eq!(
        refused,
        1,
        "both control planes asked for the address, one was told it is assigned already: {:?}",
        world.sim.status_counts()
    );
    let holders: Vec<&String> = devices
        .iter()
        .filter(|id| {
            world.sim.device_json(id).unwrap()["ip_addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == eip.as_str())
        })
        .collect();
    assert_eq!(holders.len(), 1, "one control plane holds the Elastic IP");
    // The 422 was no failed reconcile (on today's code it was a terminal MetalAPIError that
    // kept the second control plane unprovisioned for a resync period).
    let metrics = controllers.ctx.metrics.render();
    let failures: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("capp_reconcile_errors_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(failures.is_empty(), "reconciles failed: {failures:?}");

    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elastic_ip_held_outside_the_cluster_is_reported_by_address() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("taken", json!({})).await;
    eventually("the PacketCluster's endpoint", || async {
        world
            .packet_cluster("taken")
            .await
            .control_plane_endpoint()
            .is_some()
    })
    .await;
    let eip = world
        .packet_cluster("taken")
        .await
        .control_plane_endpoint()
        .unwrap()
        .host
        .clone();
    // Someone assigned the cluster's address to a device of theirs in the same project.
    let metal = world.metal();
    let foreign = metal
        .create_device(
            world.sim.default_project_id(),
            &CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04"),
        )
        .await
        .unwrap();
    metal
        .assign_ip(&foreign.id, &AssignIp::new(eip.clone()))
        .await
        .unwrap();

    world
        .bootstrap_secret("taken-cp", "#cloud-config\nruncmd: [kubeadm init]\n")
        .await;
    world
        .machine(
            "taken",
            &uid,
            "taken-cp-0",
            true,
            Some("taken-cp"),
            json!({}),
        )
        .await;
    let pm = world
        .machine_until("taken-cp-0", "refused the endpoint", |pm| {
            reason(pm, INSTANCE_READY) == "ElasticIPInUse"
        })
        .await;
    assert!(!pm.is_provisioned());
    let endpoint = condition(&pm, CONTROL_PLANE_ENDPOINT_READY).unwrap();
    assert_eq!(endpoint.status, "False");
    let message = endpoint.message.clone().unwrap_or_default();
    assert!(
        message.contains(&eip) && message.contains("outside"),
        "the message names the address and the cause: {message}"
    );

    controllers.stop().await;
    world.shutdown().await;
}
