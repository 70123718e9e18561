//! The life of one machine's infrastructure, end to end, against the Equinix Metal simulator:
//! create a device, find it again by its tags (what a controller does after a restart), wait
//! until it is active, reserve and assign an elastic IP, then clean everything up. Prints the
//! Metal API calls it took, by operation.
//!
//! ```sh
//! cargo run -p capp-examples --example metal_quickstart
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example reports what it did on stdout"
)]

use anyhow::{Context as _, ensure};
use capp_packet::{
    AssignIp, ClientConfig, CreateDevice, CreateSshKey, DeviceState, Location, Metal, MetalClient,
    RequestIpReservation,
};
use capp_sim::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sim = Simulator::start(SimConfig::for_tests()).await?;
    let project = sim.default_project_id().to_owned();
    println!("simulator at {} (project {project})", sim.base_url());

    let metal = MetalClient::new(ClientConfig::new(sim.token()).with_base_url(sim.base_url()))?;

    // A device needs at least one SSH key: without one in the project (or in the request,
    // or `no_ssh_keys`), the API answers 422. A fresh project has none.
    let key = metal
        .create_project_ssh_key(
            &project,
            &CreateSshKey {
                label: "quickstart".to_owned(),
                key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQuickstartExampleKeyOnly00000000000000000000 demo"
                    .to_owned(),
                tags: Vec::new(),
            },
        )
        .await?;
    println!("added project SSH key {}", key.id);

    // Tags identify the machine: after a crash the controller finds its device by them
    // instead of creating a second server.
    let tags = vec!["cluster-api-provider-packet:machine-uid:0b7d5c1e".to_owned()];
    let mut request = CreateDevice::new(
        Location::Metro("da".to_owned()),
        "c3.small.x86",
        "ubuntu_24_04",
    );
    request.hostname = Some("demo-control-plane-0".to_owned());
    request.tags.clone_from(&tags);
    let device = metal.create_device(&project, &request).await?;
    println!("created device {} ({:?})", device.id, device.state);

    let found = metal.devices_with_tags(&project, &tags).await?;
    ensure!(
        found.len() == 1,
        "expected exactly one tagged device, found {}",
        found.len()
    );

    // The simulator's clock is manual here; a real device takes minutes.
    sim.finish_provisioning();
    let device = metal.get_device(&device.id).await?;
    ensure!(
        device.state == DeviceState::Active,
        "device is {:?}",
        device.state
    );
    println!("device {} is active", device.hostname);

    let reservation = metal
        .request_ip_reservation(
            &project,
            &RequestIpReservation::in_metro("public_ipv4", 1, "da"),
        )
        .await?;
    let address = format!(
        "{}/{}",
        reservation
            .address
            .as_deref()
            .context("the reservation has no address")?,
        reservation.cidr.context("the reservation has no CIDR")?
    );
    let assignment = metal
        .assign_ip(&device.id, &AssignIp::new(address.clone()))
        .await?;
    println!("assigned elastic IP {address} to {}", device.id);

    metal.unassign_ip(&assignment.id).await?;
    metal.delete_ip_reservation(&reservation.id).await?;
    metal.delete_device(&device.id, false).await?;
    sim.finish_provisioning();
    let left = sim.devices().len()
        + sim
            .ip_reservations()
            .iter()
            .filter(|r| r.id == reservation.id)
            .count();
    ensure!(left == 0, "{left} objects were left behind");

    let stats = metal.stats();
    println!("\nMetal API calls ({} in total):", stats.total());
    for ((operation, class), count) in &stats.attempts {
        println!("  {operation:<32} {:<12} {count}", class.as_str());
    }
    sim.shutdown().await;
    Ok(())
}
