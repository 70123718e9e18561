use std::sync::Arc;
use std::time::Duration;

use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient};
use capp_sim::{SimConfig, Simulator};
use tokio::time::Instant;

use super::*;

async fn sim() -> (Simulator, Arc<dyn Metal>) {
    let sim = Simulator::start(SimConfig::for_tests()).await.unwrap();
    let metal: Arc<dyn Metal> = Arc::new(
        MetalClient::new(ClientConfig::new(sim.token()).with_base_url(sim.base_url())).unwrap(),
    );
    (sim, metal)
}

fn request(tag: &str) -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.tags = vec![tag.to_owned()];
    r.no_ssh_keys = Some(true);
    r
}

#[tokio::test]
async fn concurrent_polls_of_one_cluster_cost_one_list_call() {
    let (sim, metal) = sim().await;
    let project = sim.default_project_id().to_owned();
    for _ in 0..3 {
        metal
            .create_device(&project, &request("capp:cluster-id:a"))
            .await
            .unwrap();
    }
    metal
        .create_device(&project, &request("capp:cluster-id:b"))
        .await
        .unwrap();
    let view = Arc::new(DeviceView::new(&project, "capp:cluster-id:a"));
    sim.clear_request_log();
    let now = Instant::now();
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let (view, metal) = (view.clone(), metal.clone());
            tokio::spawn(
                async move { view.devices(metal.as_ref(), Some(now)).await.unwrap().len() },
            )
        })
        .collect();
    for r in readers {
        assert_eq!(r.await.unwrap(), 3, "only the cluster's devices");
    }
    assert_eq!(sim.operation_count("findProjectDevices"), 1);
    // Fresh enough: served from the cache.
    view.devices(metal.as_ref(), Some(now)).await.unwrap();
    assert_eq!(sim.operation_count("findProjectDevices"), 1);
    // A reader that needs newer data triggers one more list.
    view.devices(
        metal.as_ref(),
        Some(Instant::now() + Duration::from_millis(1)),
    )
    .await
    .unwrap();
    assert_eq!(sim.operation_count("findProjectDevices"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_created_device_is_served_before_any_list_shows_it_and_only_read_fields_are_kept() {
    let (sim, metal) = sim().await;
    let project = sim.default_project_id().to_owned();
    let view = DeviceView::new(&project, "capp:cluster-id:a");
    assert!(
        view.devices(metal.as_ref(), Some(Instant::now()))
            .await
            .unwrap()
            .is_empty()
    );
    let mut req = request("capp:cluster-id:a");
    req.userdata = Some("#cloud-config\n".into());
    let device = metal.create_device(&project, &req).await.unwrap();
    view.insert(device.clone()).await;
    let served = view.devices(metal.as_ref(), None).await.unwrap();
    assert_eq!(served.len(), 1);
    assert!(served[0].userdata.is_none());
    assert!(served[0].plan.is_none() && served[0].operating_system.is_none());
    assert_eq!(served[0].id, device.id);
    assert_eq!(served[0].tags, device.tags);
    assert_eq!(view.states().get("queued"), Some(&1));
    // Once active and listed, what the controllers read is kept: addresses and hostname.
    sim.finish_provisioning();
    let listed = view
        .devices(metal.as_ref(), Some(Instant::now()))
        .await
        .unwrap();
    let full = metal.get_device(&device.id).await.unwrap();
    assert_eq!(listed[0].hostname, full.hostname);
    assert_eq!(listed[0].state, DeviceState::Active);
    let addresses = |d: &Device| -> Vec<(Option<String>, bool)> {
        d.ip_addresses
            .iter()
            .map(|a| (a.address.clone(), a.public))
            .collect()
    };
    assert!(!full.ip_addresses.is_empty());
    assert_eq!(addresses(&listed[0]), addresses(&full));
    assert!(listed[0].facility.is_none() && listed[0].ip_addresses[0].gateway.is_none());
    sim.shutdown().await;
}
