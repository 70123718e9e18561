//! Every request body the client sends validates against the official spec's requestBody
//! schema (read from `../shared`; skipped loudly without it, fatal under `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use std::collections::BTreeSet;

use capp_packet::{
    AssignIp, BgpAddressFamily, BgpDeploymentType, BillingCycle, CreateBgpSession, CreateDevice,
    CreateSshKey, IpAddressRequest, Location, Metal, RequestBgpConfig, RequestIpReservation,
    UpdateDevice, Userdata,
};
use capp_sim::openapi::Spec;
use serde_json::json;

/// A metro-form create with every optional field the API accepts together.
fn full_create(ssh_key_id: &str) -> CreateDevice {
    let mut full = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    full.hostname = Some("conf-0".into());
    full.description = Some("conformance".into());
    full.billing_cycle = Some(BillingCycle::Hourly);
    full.userdata = Some(Userdata::new("#cloud-config\n"));
    full.customdata = Some(json!({"cluster": "demo"}).as_object().unwrap().clone());
    full.tags = support::tags("conf-0");
    full.ip_addresses = vec![
        IpAddressRequest {
            address_family: 4,
            public: true,
            cidr: Some(31),
            ip_reservations: vec![],
        },
        IpAddressRequest {
            address_family: 4,
            public: false,
            cidr: None,
            ip_reservations: vec![],
        },
        IpAddressRequest {
            address_family: 6,
            public: true,
            cidr: None,
            ip_reservations: vec![],
        },
    ];
    full.locked = Some(false);
    full.always_pxe = Some(false);
    full.project_ssh_keys = vec![ssh_key_id.to_owned()];
    full.features = vec!["tpm".into()];
    full.spot_instance = Some(true);
    full.spot_price_max = Some(1.5);
    full.termination_time = Some("2030-01-01T00:00:00Z".into());
    full
}

/// Drives every body-carrying operation of the client, with as many optional fields set as the
/// API allows together.
async fn send_every_kind_of_body(sim: &capp_sim::Simulator, client: &capp_packet::MetalClient) {
    let project = sim.default_project_id().to_owned();
    let key = client
        .create_project_ssh_key(
            &project,
            &CreateSshKey {
                label: "ci".into(),
                key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7mKjQ5uV2W1cKsQ0b2G8g0T4kq8x8j8Qn0l2yq3b1C ci".into(),
                tags: vec!["team:infra".into()],
            },
        )
        .await
        .unwrap();

    let full = full_create(&key.id);
    let device = client.create_device(&project, &full).await.unwrap();

    let mut facility = CreateDevice::new(
        Location::Facility(vec!["da11".into(), "any".into()]),
        "m3.small.x86",
        "debian_12",
    );
    facility.no_ssh_keys = Some(true);
    facility.hardware_reservation_id = None;
    client.create_device(&project, &facility).await.unwrap();

    let mut ipxe = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "custom_ipxe");
    ipxe.ipxe_script_url = Some("https://boot.example.com/ipxe".into());
    ipxe.always_pxe = Some(true);
    client.create_device(&project, &ipxe).await.unwrap();
    sim.finish_provisioning();

    client
        .update_device(
            &device.id,
            &UpdateDevice {
                hostname: Some("conf-0b".into()),
                description: Some("updated".into()),
                tags: Some(vec!["a".into()]),
                userdata: Some(Userdata::new("#!/bin/sh\n")),
                customdata: Some(serde_json::Map::new()),
                locked: Some(false),
                ipxe_script_url: None,
                always_pxe: Some(false),
            },
        )
        .await
        .unwrap();

    let mut ip = RequestIpReservation::in_metro("public_ipv4", 1, "da");
    ip.fail_on_approval_required = Some(true);
    ip.tags = vec!["cluster-api-provider-packet:cluster-id:demo".into()];
    ip.details = Some("control plane endpoint".into());
    ip.comments = Some("for conformance".into());
    ip.customdata = Some(serde_json::Map::new());
    let reservation = client.request_ip_reservation(&project, &ip).await.unwrap();
    client
        .assign_ip(
            &device.id,
            &AssignIp::new(reservation.address.clone().unwrap()),
        )
        .await
        .unwrap();

    client
        .request_bgp_config(
            &project,
            &RequestBgpConfig {
                deployment_type: BgpDeploymentType::Local,
                asn: 65000,
                md5: Some("Abcdef123456".into()),
                use_case: Some("kubernetes-load-balancer".into()),
            },
        )
        .await
        .unwrap();
    client
        .create_bgp_session(
            &device.id,
            &CreateBgpSession {
                address_family: BgpAddressFamily::Ipv4,
                default_route: Some(false),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_request_body_the_client_sends_matches_the_spec() {
    let Some(path) = support::spec_path() else {
        return;
    };
    let spec = Spec::load(&path).expect("the spec parses");
    let (sim, client) = support::start().await;
    send_every_kind_of_body(&sim, &client).await;

    let mut checked = BTreeSet::new();
    let mut failures = Vec::new();
    for record in sim.request_log() {
        let Some(body) = &record.body else { continue };
        let operation = record
            .operation
            .clone()
            .expect("every body went to a known operation");
        let violations = spec
            .validate_request(&operation, body)
            .expect("the operation has a body schema");
        if !violations.is_empty() {
            failures.push(format!("{operation} {body}: {violations:?}"));
        }
        checked.insert(operation);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let expected: BTreeSet<String> = [
        "createDevice",
        "updateDevice",
        "requestIPReservation",
        "createIPAssignment",
        "createProjectSSHKey",
        "requestBgpConfig",
        "createBgpSession",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        checked, expected,
        "every body-carrying operation was exercised and checked"
    );
}

#[tokio::test]
async fn a_body_with_both_metro_and_facility_would_violate_the_spec() {
    // The reason `Location` is an enum: prove the checker would catch the mistake the type
    // makes impossible.
    let Some(path) = support::spec_path() else {
        return;
    };
    let spec = Spec::load(&path).expect("the spec parses");
    let both = json!({"metro": "da", "facility": ["da11"], "plan": "c3.small.x86", "operating_system": "ubuntu_24_04"});
    assert!(
        !spec
            .validate_request("createDevice", &both)
            .unwrap()
            .is_empty()
    );
    let metro = serde_json::to_value(CreateDevice::new(
        Location::Metro("da".into()),
        "c3.small.x86",
        "ubuntu_24_04",
    ))
    .unwrap();
    assert!(
        spec.validate_request("createDevice", &metro)
            .unwrap()
            .is_empty()
    );
}
