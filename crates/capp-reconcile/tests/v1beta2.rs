//! Our CRDs serving only `infrastructure.cluster.x-k8s.io/v1beta2` (no conversion webhook):
//! the controllers discover it, watch, read and write v1beta2, and the status they write has
//! the v1beta2 contract shape: `initialization.provisioned`, `conditions` (`metav1`) with
//! `Ready`, the v1beta1 conditions under `deprecated.v1beta1`, failure domains as a list.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

#[path = "support/bootstrap.rs"]
mod bootstrap_support;

use capi_types::common::V1Beta2Condition;
use capp_api::core::CoreVersion;
use capp_api::v1beta2::{PacketCluster, PacketMachine};
use capp_reconcile::infra::{InfraApi, InfraVersion};
use serde_json::{Value, json};
use support::{World, eventually};

fn condition<'a>(conditions: &'a [V1Beta2Condition], type_: &str) -> &'a V1Beta2Condition {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions:#?}"))
}

/// The v1beta1 condition `type_` kept under `status.deprecated.v1beta1.conditions`.
fn deprecated<'a>(
    deprecated: Option<&'a capi_types::v1beta2::DeprecatedStatus>,
    type_: &str,
) -> &'a capi_types::conditions::Condition {
    deprecated
        .and_then(|d| d.v1beta1.as_ref())
        .and_then(|v| v.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no deprecated.v1beta1 {type_} condition in {deprecated:#?}"))
}

/// Whether `Ready` was set for the object's current generation (a spec patch of the
/// controllers, e.g. the endpoint or providerID, bumps it; the next status write follows).
fn ready_observed(
    conditions: Option<&[V1Beta2Condition]>,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.observed_generation == meta.generation)
}

/// The raw status of an object, as the API server stores it.
async fn raw_status(world: &World, kind: &str, name: &str) -> Value {
    world.infra_api(kind).get(name).await.unwrap().data["status"].clone()
}

/// No v1beta1-only status field, and nothing empty the v1beta2 schema would refuse.
fn assert_v1beta2_shape(status: &Value, what: &str) {
    for gone in ["ready", "failureReason", "failureMessage", "v1beta2"] {
        assert!(
            status.get(gone).is_none(),
            "{what}: status.{gone} in {status:#}"
        );
    }
    for c in status["conditions"].as_array().unwrap() {
        assert!(
            !c["reason"].as_str().unwrap().is_empty(),
            "{what}: empty reason in {c}"
        );
    }
}

#[expect(clippy::too_many_lines, reason = "one end-to-end story, step by step")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v1beta2_only_crds_a_cluster_and_its_machines_get_the_v1beta2_status() {
    let world = World::start_v1beta2(CoreVersion::V1Beta2).await;
    assert_eq!(
        InfraApi::discover(&world.client).await.unwrap().version,
        InfraVersion::V1Beta2,
        "discovery sees v1beta2 served"
    );
    let controllers = world.controllers().await;
    let uid = world
        .cluster(
            "prod",
            json!({
                "elasticIPReclaimPolicy": "Delete",
                "failureDomains": [{"name": "da"}, {"name": "sv", "controlPlane": false}],
            }),
        )
        .await;
    eventually(
        "the PacketCluster to be provisioned with an endpoint",
        || async {
            let pc = world.get::<PacketCluster>("prod").await;
            pc.is_provisioned()
                && pc
                    .spec
                    .control_plane_endpoint
                    .as_ref()
                    .is_some_and(capp_api::common::ApiEndpoint::is_valid)
                && ready_observed(
                    pc.status.as_ref().map(|s| s.conditions.as_slice()),
                    &pc.metadata,
                )
        },
    )
    .await;
    let pc = world.get::<PacketCluster>("prod").await;
    let status = pc.status.as_ref().unwrap();
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Ready")
    );
    assert_eq!(ready.observed_generation, pc.metadata.generation);
    assert_eq!(
        condition(&status.conditions, "NetworkInfrastructureReady").reason,
        "NetworkInfrastructureReady"
    );
    assert_eq!(condition(&status.conditions, "Paused").reason, "NotPaused");
    assert_eq!(
        deprecated(status.deprecated.as_ref(), "Ready").status,
        "True"
    );
    let domains: Vec<(&str, Option<bool>, Option<&String>)> = status
        .failure_domains
        .iter()
        .map(|d| (d.name.as_str(), d.control_plane, d.attributes.get("metro")))
        .collect();
    assert_eq!(
        domains,
        [
            ("da", Some(true), Some(&"da".to_owned())),
            ("sv", Some(false), Some(&"sv".to_owned())),
        ],
        "failure domains as a list"
    );
    assert_v1beta2_shape(
        &raw_status(&world, "PacketCluster", "prod").await,
        "PacketCluster",
    );

    world.bootstrap_secret("prod-cp-0", "#cloud-config\n").await;
    world.bootstrap_secret("prod-md-0", "#cloud-config\n").await;
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
        .machine_in(
            "prod",
            &uid,
            "prod-md-0",
            false,
            Some("prod-md-0"),
            json!({}),
            Some("sv"),
        )
        .await;
    // No bootstrap data: this one stays not ready, and says why.
    world
        .machine("prod", &uid, "prod-md-1", false, None, json!({}))
        .await;

    let waiting = world
        .until::<PacketMachine>("prod-md-1", "waiting for bootstrap data", |pm| {
            pm.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready"))
        })
        .await;
    let status = waiting.status.as_ref().unwrap();
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "WaitingForBootstrapData");
    assert!(!ready.message.is_empty(), "{ready:?}");
    assert_eq!(
        condition(&status.conditions, "InstanceReady").reason,
        "WaitingForBootstrapData"
    );
    assert!(!waiting.is_provisioned());

    for (name, metro) in [("prod-cp-0", "da"), ("prod-md-0", "sv")] {
        let pm = world
            .until::<PacketMachine>(name, "provisioned", |pm| {
                pm.is_provisioned()
                    && ready_observed(
                        pm.status.as_ref().map(|s| s.conditions.as_slice()),
                        &pm.metadata,
                    )
            })
            .await;
        let status = pm.status.as_ref().unwrap();
        assert_eq!(
            status.initialization.as_ref().unwrap().provisioned,
            Some(true)
        );
        let ready = condition(&status.conditions, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Ready"),
            "{name}"
        );
        assert_eq!(ready.observed_generation, pm.metadata.generation, "{name}");
        let instance = condition(&status.conditions, "InstanceReady");
        assert_eq!(
            (instance.status.as_str(), instance.reason.as_str()),
            ("True", "InstanceReady")
        );
        let old = deprecated(status.deprecated.as_ref(), "InstanceReady");
        assert_eq!(
            old.status, "True",
            "{name}: the v1beta1 conditions are kept"
        );
        assert_eq!(
            instance.last_transition_time.0.to_string(),
            old.last_transition_time
                .parse::<jiff::Timestamp>()
                .unwrap()
                .to_string(),
            "{name}: the transition time is the v1beta1 condition's"
        );
        assert_eq!(
            deprecated(status.deprecated.as_ref(), "Ready").status,
            "True"
        );
        let device_id = pm
            .provider_id()
            .expect("providerID is set")
            .trim_start_matches("equinixmetal://")
            .to_owned();
        assert_eq!(
            world.sim.device(&device_id).unwrap().metro,
            metro,
            "{name} is placed in its failure domain"
        );
        assert!(!status.addresses.is_empty(), "{name}: addresses");
        if name == "prod-cp-0" {
            assert_eq!(
                condition(&status.conditions, "ControlPlaneEndpointReady").status,
                "True"
            );
        }
        assert_v1beta2_shape(&raw_status(&world, "PacketMachine", name).await, name);
    }
    assert_eq!(world.sim.devices().len(), 2, "exactly two devices");

    // Paused, as CAPI v1beta2: True/Paused while the Cluster is paused, False/NotPaused after.
    world.pause("prod", true).await;
    let paused = world
        .until::<PacketMachine>("prod-md-0", "paused", |pm| {
            pm.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Paused" && c.status == "True")
            })
        })
        .await;
    let condition_paused = condition(&paused.status.as_ref().unwrap().conditions, "Paused");
    assert_eq!(condition_paused.reason, "Paused");
    assert!(
        condition_paused.message.contains("spec.paused"),
        "{condition_paused:?}"
    );
    world.pause("prod", false).await;
    let resumed = world
        .until::<PacketMachine>("prod-md-0", "resumed", |pm| {
            pm.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Paused" && c.status == "False")
            })
        })
        .await;
    assert_eq!(
        condition(&resumed.status.as_ref().unwrap().conditions, "Paused").reason,
        "NotPaused"
    );

    for name in ["prod-md-1", "prod-md-0", "prod-cp-0"] {
        world.delete_packet_machine(name).await;
    }
    world.delete_packet_cluster("prod").await;
    assert!(
        world.sim.devices().is_empty(),
        "deletion leaves no device: {:?}",
        world.sim.devices()
    );
    assert!(
        world.sim.ip_reservations().is_empty(),
        "the Elastic IP is released"
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_v1beta1_crds_the_controllers_keep_v1beta1_and_fill_status_v1beta2() {
    let world = World::start(CoreVersion::V1Beta1).await;
    assert_eq!(
        InfraApi::discover(&world.client).await.unwrap().version,
        InfraVersion::V1Beta1
    );
    let controllers = world.controllers().await;
    world.cluster("prod", json!({})).await;
    eventually("the PacketCluster to be provisioned", || async {
        let pc = world.packet_cluster("prod").await;
        let mirrored = pc
            .status
            .as_ref()
            .and_then(|s| s.v1beta2.as_ref())
            .map(|v| v.conditions.as_slice());
        pc.is_provisioned() && ready_observed(mirrored, &pc.metadata)
    })
    .await;
    let pc = world.packet_cluster("prod").await;
    let status = pc.status.as_ref().unwrap();
    assert!(status.ready, "v1beta1 keeps status.ready");
    let v1beta1_ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(v1beta1_ready.status, "True");
    let mirrored = &status.v1beta2.as_ref().expect("status.v1beta2").conditions;
    let ready = condition(mirrored, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Ready")
    );
    assert_eq!(ready.observed_generation, pc.metadata.generation);
    assert_eq!(
        condition(mirrored, "CredentialsAvailable").reason,
        "CredentialsAvailable"
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_domain_without_a_name_is_an_invalid_spec_not_a_refused_status() {
    let world = World::start_v1beta2(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    world
        .cluster(
            "prod",
            json!({"failureDomains": [{"name": "da"}, {"name": ""}]}),
        )
        .await;
    eventually("the PacketCluster to report the empty name", || async {
        world
            .get::<PacketCluster>("prod")
            .await
            .status
            .is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == "False"
                        && c.reason == "InvalidSpec"
                        && c.message.contains("spec.failureDomains")
                })
            })
    })
    .await;
    let pc = world.get::<PacketCluster>("prod").await;
    assert!(!pc.is_provisioned());
    assert!(pc.status.unwrap().failure_domains.is_empty());
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_controller_reads_the_os_of_a_v1beta2_packet_machine() {
    let world = World::start_v1beta2(CoreVersion::V1Beta2).await;
    bootstrap_support::install_crds(&world).await;
    let bootstrap = bootstrap_support::start(
        &world,
        capp_reconcile::bootstrap::BootstrapSettings::default(),
    );
    let uid = bootstrap_support::bare_cluster(&world, "beta", "127.254.0.80").await;
    // No spec.os on the config: the OS comes from the PacketMachine, read as v1beta2.
    bootstrap_support::machine(
        &world,
        "beta",
        &uid,
        "beta-cp-0",
        true,
        "v1.33.1",
        json!({}),
        Some(
            json!({"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly"}),
        ),
    )
    .await;
    let config = bootstrap_support::config_until(
        &world,
        "beta-cp-0",
        "ready",
        capp_api::bootstrap::PacketKubeadmConfigStatus::data_secret_created,
    )
    .await;
    assert_eq!(
        config.status.unwrap().data_secret_name.as_deref(),
        Some("beta-cp-0")
    );
    bootstrap.stop().await;
    world.shutdown().await;
}
