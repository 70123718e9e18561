//! The PacketCluster controller against capp-testenv and capp-sim: credentials from a Secret
//! (missing, then fixed), a user-set endpoint kept, KUBE_VIP enabling project BGP, the Retain
//! reclaim policy, externally managed clusters left alone, failure domains published.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_api::PacketCluster;
use capp_api::conditions::CREDENTIALS_AVAILABLE;
use capp_api::core::CoreVersion;
use capp_packet::Metal;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{NS, World, eventually};

fn reason(pc: &PacketCluster, type_: &str) -> (String, String) {
    let c = pc
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_));
    (
        c.and_then(|c| c.reason.clone()).unwrap_or_default(),
        c.and_then(|c| c.message.clone()).unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_credentials_secret_is_named_then_used_once_created() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world.controllers().await;
    world
        .cluster("prod", json!({"credentialsRef": {"name": "metal-creds"}}))
        .await;
    eventually("the credentials condition", || async {
        reason(&world.packet_cluster("prod").await, CREDENTIALS_AVAILABLE).0
            == "CredentialsNotFound"
    })
    .await;
    let (_, message) = reason(&world.packet_cluster("prod").await, CREDENTIALS_AVAILABLE);
    assert!(message.contains("default/metal-creds"), "{message}");
    assert_eq!(world.sim.operation_count("requestIPReservation"), 0);
    let secret: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "metal-creds", "namespace": NS},
        "stringData": {"apiKey": world.sim.token()}}))
    .unwrap();
    Api::<Secret>::namespaced(world.client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    eventually("the cluster to be provisioned", || async {
        world.packet_cluster("prod").await.is_provisioned()
    })
    .await;
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_set_endpoint_is_kept_and_kube_vip_enables_project_bgp() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    world
        .cluster(
            "own",
            json!({"controlPlaneEndpoint": {"host": "10.0.0.10", "port": 6443}}),
        )
        .await;
    let vip_uid = world
        .cluster("vip", json!({"vipManager": "KUBE_VIP"}))
        .await;
    for name in ["own", "vip"] {
        eventually("provisioned", || async {
            world.packet_cluster(name).await.is_provisioned()
        })
        .await;
    }
    let own = world.packet_cluster("own").await;
    assert_eq!(own.control_plane_endpoint().unwrap().host, "10.0.0.10");
    assert_eq!(
        world.sim.ip_reservations().len(),
        1,
        "only the KUBE_VIP cluster reserved one"
    );
    let bgp = world
        .metal()
        .get_bgp_config(world.sim.default_project_id())
        .await
        .unwrap();
    assert!(bgp.is_enabled(), "KUBE_VIP enabled project BGP");
    let domains = world
        .packet_cluster("vip")
        .await
        .status
        .unwrap()
        .failure_domains
        .unwrap();
    assert!(domains.get("da").is_some(), "the metro is a failure domain");
    world.bootstrap_secret("boot", "#cloud-config\n").await;
    world
        .machine("vip", &vip_uid, "vip-cp-0", true, Some("boot"), json!({}))
        .await;
    world
        .machine_until("vip-cp-0", "ready", capp_api::PacketMachine::is_provisioned)
        .await;
    assert_eq!(
        world.sim.bgp_session_count(),
        1,
        "the control plane got its BGP session"
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_the_elastic_ip_and_managed_by_clusters_are_left_alone() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world.controllers().await;
    world.cluster("keep", json!({})).await;
    eventually("provisioned", || async {
        world.packet_cluster("keep").await.is_provisioned()
    })
    .await;
    world.delete_packet_cluster("keep").await;
    assert_eq!(
        world.sim.ip_reservations().len(),
        1,
        "Retain (the default) keeps the Elastic IP"
    );

    world
        .annotated_cluster(
            "external",
            json!({}),
            json!({"cluster.x-k8s.io/managed-by": "someone"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let external = world.packet_cluster("external").await;
    assert!(
        !external.is_provisioned(),
        "an externally managed cluster is not touched"
    );
    assert!(external.control_plane_endpoint().is_none());
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_domains_are_published_and_machines_land_in_theirs() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world
        .cluster(
            "prod",
            json!({"failureDomains": [{"name": "da"}, {"name": "sv", "controlPlane": false}]}),
        )
        .await;
    eventually("provisioned", || async {
        world.packet_cluster("prod").await.is_provisioned()
    })
    .await;
    let domains = world
        .packet_cluster("prod")
        .await
        .status
        .unwrap()
        .failure_domains
        .unwrap();
    assert_eq!(domains.get("da").unwrap().control_plane, Some(true));
    assert_eq!(domains.get("sv").unwrap().control_plane, Some(false));
    world.bootstrap_secret("boot", "#cloud-config\n").await;
    world
        .machine_in(
            "prod",
            &uid,
            "prod-md-0",
            false,
            Some("boot"),
            json!({}),
            Some("sv"),
        )
        .await;
    let pm = world
        .machine_until("prod-md-0", "created", |pm| pm.device_id().is_some())
        .await;
    assert_eq!(
        world.sim.device(pm.device_id().unwrap()).unwrap().metro,
        "sv"
    );
    controllers.stop().await;
    world.shutdown().await;
}
