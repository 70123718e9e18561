//! Elastic IPs, BGP, SSH keys, hardware reservations and the catalogue through the real HTTP
//! client against capp-sim.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use capp_packet::{
    AssignIp, BgpAddressFamily, BgpDeploymentType, CreateBgpSession, CreateDevice, CreateSshKey,
    Location, Metal, RequestBgpConfig, RequestIpReservation,
};

async fn active_device(sim: &capp_sim::Simulator, client: &capp_packet::MetalClient) -> String {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.tags = support::tags("net-0");
    let d = client
        .create_device(sim.default_project_id(), &r)
        .await
        .unwrap();
    sim.finish_provisioning();
    d.id
}

#[tokio::test]
async fn an_elastic_ip_is_reserved_assigned_found_and_released() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let device = active_device(&sim, &client).await;

    let mut req = RequestIpReservation::in_metro("public_ipv4", 1, "da");
    req.fail_on_approval_required = Some(true);
    req.tags = vec!["cluster-api-provider-packet:cluster-id:demo".into()];
    let reservation = client.request_ip_reservation(&project, &req).await.unwrap();
    let address = reservation
        .address
        .clone()
        .expect("a reservation has an address");
    assert_eq!(reservation.cidr, Some(32));
    assert_eq!(
        reservation.metro.as_ref().map(|m| m.code.as_str()),
        Some("da")
    );
    assert_eq!(
        reservation.tags, req.tags,
        "the tag the provider finds its address by"
    );

    let listed = client.list_ip_reservations(&project).await.unwrap();
    let mine = listed
        .iter()
        .find(|r| r.id == reservation.id)
        .expect("listed");
    assert!(mine.assignments.is_empty());

    let assignment = client
        .assign_ip(&device, &AssignIp::new(address.clone()))
        .await
        .unwrap();
    assert_eq!(assignment.address.as_deref(), Some(address.as_str()));
    let on_device = client.list_device_ips(&device).await.unwrap();
    assert!(
        on_device
            .iter()
            .any(|a| a.address.as_deref() == Some(address.as_str()))
    );
    let again = client.get_ip_reservation(&reservation.id).await.unwrap();
    assert_eq!(again.assignments.len(), 1, "{again:?}");

    client.unassign_ip(&assignment.id).await.unwrap();
    let on_device = client.list_device_ips(&device).await.unwrap();
    assert!(
        !on_device
            .iter()
            .any(|a| a.address.as_deref() == Some(address.as_str()))
    );

    client.delete_ip_reservation(&reservation.id).await.unwrap();
    assert!(
        client
            .get_ip_reservation(&reservation.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(sim.ip_reservations().iter().all(|r| r.id != reservation.id));
}

#[tokio::test]
async fn bgp_is_enabled_then_a_session_gives_neighbours_and_a_second_one_already_exists() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let device = active_device(&sim, &client).await;

    assert!(!client.get_bgp_config(&project).await.unwrap().is_enabled());
    let request = RequestBgpConfig {
        deployment_type: BgpDeploymentType::Local,
        asn: 65000,
        md5: None,
        use_case: Some("kubernetes-load-balancer".into()),
    };
    client.request_bgp_config(&project, &request).await.unwrap();
    let config = client.get_bgp_config(&project).await.unwrap();
    assert!(config.is_enabled(), "{config:?}");
    assert_eq!(config.asn, Some(65000));

    let session = client
        .create_bgp_session(&device, &CreateBgpSession::default())
        .await
        .unwrap();
    assert_eq!(session.address_family, BgpAddressFamily::Ipv4);
    let sessions = client.list_bgp_sessions(&device).await.unwrap();
    assert_eq!(sessions.len(), 1);

    let duplicate = client
        .create_bgp_session(&device, &CreateBgpSession::default())
        .await
        .unwrap_err();
    assert!(duplicate.is_already_exists(), "{duplicate}");
    assert!(duplicate.is_unprocessable());
    assert_eq!(sim.bgp_session_count(), 1);

    let neighbours = client.get_bgp_neighbors(&device).await.unwrap();
    let v4 = neighbours
        .iter()
        .find(|n| n.address_family == Some(4))
        .expect("an IPv4 neighbour");
    assert_eq!(v4.customer_as, Some(65000));
    assert!(!v4.peer_ips.is_empty());

    client.delete_bgp_session(&session.id).await.unwrap();
    assert_eq!(sim.bgp_session_count(), 0);
}

#[tokio::test]
async fn project_ssh_keys_are_created_listed_and_deleted() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let before = client.list_project_ssh_keys(&project).await.unwrap().len();
    let key = client
        .create_project_ssh_key(
            &project,
            &CreateSshKey {
                label: "ops".into(),
                key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7mKjQ5uV2W1cKsQ0b2G8g0T4kq8x8j8Qn0l2yq3b1C ops@example".into(),
                tags: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(key.label, "ops");
    let keys = client.list_project_ssh_keys(&project).await.unwrap();
    assert_eq!(keys.len(), before + 1);
    client.delete_ssh_key(&key.id).await.unwrap();
    assert_eq!(
        client.list_project_ssh_keys(&project).await.unwrap().len(),
        before
    );
}

#[tokio::test]
async fn hardware_reservations_are_listed_and_a_device_can_use_one() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let reservations = client.list_hardware_reservations(&project).await.unwrap();
    let mut ids: Vec<_> = reservations.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected = sim.hardware_reservation_ids();
    expected.sort();
    assert_eq!(ids, expected);

    // Two free m3.large.x86 reservations in da11: one used in facility form, one in metro form
    // (the Go provider dropped the id in metro form, its defect D1).
    let free: Vec<_> = reservations
        .iter()
        .filter(|r| r.provisionable && r.facility.as_ref().is_some_and(|f| f.code == "da11"))
        .collect();
    assert!(free.len() >= 2, "{reservations:?}");
    let plan = free[0].plan.as_ref().map(|p| p.slug.clone()).unwrap();
    let forms = [
        Location::Facility(vec!["da11".into()]),
        Location::Metro("da".into()),
    ];
    for (reservation, location) in free.iter().zip(forms) {
        let mut r = CreateDevice::new(location, plan.clone(), "ubuntu_24_04");
        r.hardware_reservation_id = Some(reservation.id.clone());
        let d = client.create_device(&project, &r).await.unwrap();
        assert_eq!(
            sim.device(&d.id)
                .unwrap()
                .hardware_reservation_id
                .as_deref(),
            Some(reservation.id.as_str())
        );
        let taken = client
            .get_hardware_reservation(&reservation.id)
            .await
            .unwrap();
        assert!(!taken.provisionable, "{taken:?}");
    }
}

#[tokio::test]
async fn the_catalogue_lists_metros_facilities_plans_and_operating_systems() {
    let (_sim, client) = support::start().await;
    let metros = client.list_metros().await.unwrap();
    assert!(metros.iter().any(|m| m.code == "da"));
    let facilities = client.list_facilities().await.unwrap();
    assert!(facilities.iter().any(|f| f.code == "da11"));
    let plans = client.list_plans().await.unwrap();
    for slug in ["c3.small.x86", "m3.small.x86", "m3.large.x86"] {
        assert!(plans.iter().any(|p| p.slug == slug), "{slug}");
    }
    let oses = client.list_operating_systems().await.unwrap();
    for slug in [
        "ubuntu_22_04",
        "ubuntu_24_04",
        "debian_12",
        "flatcar_stable",
        "custom_ipxe",
    ] {
        assert!(oses.iter().any(|o| o.slug == slug), "{slug}");
    }
    let project = client
        .get_project(capp_sim::DEFAULT_PROJECT_ID)
        .await
        .unwrap();
    assert_eq!(project.id, capp_sim::DEFAULT_PROJECT_ID);
}

#[tokio::test]
async fn ip_and_hardware_reservation_lists_read_every_page() {
    let (sim, _) = support::start().await;
    let client = capp_packet::MetalClient::new(support::config_for(&sim).with_per_page(1)).unwrap();
    let project = sim.default_project_id().to_owned();
    let mut requested = Vec::new();
    for metro in ["da", "sv", "ny"] {
        let r = client
            .request_ip_reservation(
                &project,
                &RequestIpReservation::in_metro("public_ipv4", 1, metro),
            )
            .await
            .unwrap();
        requested.push(r.id);
    }
    sim.clear_request_log();

    let listed: Vec<String> = client
        .list_ip_reservations(&project)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in &requested {
        assert!(listed.contains(id), "{id} missing from {listed:?}");
    }
    let hardware = client.list_hardware_reservations(&project).await.unwrap();
    assert_eq!(hardware.len(), sim.hardware_reservation_ids().len());

    let pages = |operation: &str| -> Vec<String> {
        sim.request_log()
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some(operation))
            .map(|r| r.query)
            .collect()
    };
    let ip_pages = pages("findIPReservations");
    assert_eq!(ip_pages.len(), listed.len(), "{ip_pages:?}");
    assert!(
        ip_pages.iter().all(|q| q.contains("per_page=1")),
        "{ip_pages:?}"
    );
    assert!(listed.len() >= 3);
    let hw_pages = pages("findProjectHardwareReservations");
    assert_eq!(hw_pages.len(), hardware.len(), "{hw_pages:?}");
    assert!(hardware.len() > 1);
}
