//! Device-lifecycle events and loopback address allocation (what the workload-cluster twin
//! builds on).

use std::net::IpAddr;

use capp_sim::DeviceEvent;
use serde_json::json;

use super::support::*;

fn is_loopback(address: &str) -> bool {
    let ip: IpAddr = address
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{address}: {e}"));
    ip.is_loopback()
}

#[tokio::test]
async fn a_subscriber_hears_a_device_boot_with_its_userdata_and_hears_its_deletion() {
    let (sim, api) = start().await;
    let mut events = sim.subscribe_device_events();
    let p = sim.default_project_id().to_owned();
    let mut body = device_body("cp-0");
    body["userdata"] = json!("#cloud-config\nruncmd: [true]\n");
    body["tags"] = json!(["cluster:demo"]);
    let dev = create_device(&api, &p, body).await;
    sim.finish_provisioning();

    let DeviceEvent::Active(active) = events.try_recv().expect("an Active event") else {
        panic!("the first event is not Active");
    };
    assert_eq!(active.id, dev);
    assert_eq!(active.hostname, "cp-0");
    assert_eq!(active.userdata, "#cloud-config\nruncmd: [true]\n");
    assert_eq!(active.tags, ["cluster:demo"]);
    assert_eq!(active.metadata["id"], dev.as_str());
    assert_eq!(active.metadata["hostname"], "cp-0");
    let public = active.public_ipv4().expect("a public IPv4");
    assert!(
        !public.is_loopback(),
        "normal mode hands out real ranges: {public}"
    );
    assert!(active.private_ipv4().is_some());
    // Reading the device again does not report the boot twice.
    let _ = sim.devices();
    assert!(events.try_recv().is_err());

    assert_eq!(api.delete(&format!("/devices/{dev}")).await.status, 204);
    match events.try_recv().expect("a Deleted event") {
        DeviceEvent::Deleted { id, hostname } => assert_eq!((id, hostname), (dev, "cp-0".into())),
        other => panic!("expected Deleted, got {other:?}"),
    }
    // ... and not again when deprovisioning ends.
    sim.finish_provisioning();
    let _ = sim.devices();
    assert!(events.try_recv().is_err());
}

#[tokio::test]
async fn loopback_mode_hands_out_device_addresses_and_elastic_ips_from_127_0_0_0_8() {
    let (sim, api) = start_with(SimConfig::for_tests().with_loopback_addresses(true)).await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp-0")).await;
    sim.finish_provisioning();
    let eip = api
        .post(
            &format!("/projects/{p}/ips"),
            json!({"type": "public_ipv4", "metro": "da", "quantity": 1}),
        )
        .await;
    assert_eq!(eip.status, 201, "{}", eip.text());
    let eip = eip.json();
    assert!(is_loopback(eip["address"].as_str().unwrap()), "{eip}");
    let global = api
        .post(
            &format!("/projects/{p}/ips"),
            json!({"type": "global_ipv4", "quantity": 1}),
        )
        .await
        .json();
    assert!(is_loopback(global["address"].as_str().unwrap()), "{global}");

    let device = sim.device(&dev).unwrap();
    let v4: Vec<_> = device
        .addresses
        .iter()
        .filter(|a| !a.contains(':'))
        .collect();
    assert_eq!(v4.len(), 2, "{:?}", device.addresses);
    assert!(v4.iter().all(|a| is_loopback(a)), "{:?}", device.addresses);
    // Public and private management addresses never collide with each other or 127.0.0.1.
    assert!(v4.iter().all(|a| !a.starts_with("127.0.")));
    let json = api.get(&format!("/devices/{dev}")).await.json();
    let listed = json["ip_addresses"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .filter(|a| a["address_family"] == 4)
            .all(|a| is_loopback(a["address"].as_str().unwrap())),
        "{listed:?}"
    );
}
