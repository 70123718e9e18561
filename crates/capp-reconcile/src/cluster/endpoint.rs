//! The control plane endpoint (an Elastic IP found by tags or reserved once), project BGP
//! for `KUBE_VIP`, and the Elastic IP's release on deletion.
//!
//! # Guarantees
//! - A user-set `spec.controlPlaneEndpoint.host` is kept and nothing is reserved.
//! - The Elastic IP is looked up by tags over every page before any reservation, and a
//!   reservation whose answer was lost ([`may_have_been_applied`]) is never resent: the next
//!   reconcile finds it by its tags.
//! - Only Elastic IPs we reserved (our namespace tag) are ever released, and only with the
//!   `Delete` reclaim policy; the Go provider's are adopted and kept.
//!
//! [`may_have_been_applied`]: capp_packet::Error::may_have_been_applied

use capp_api::PacketCluster;
use capp_api::cluster::{ReclaimPolicy, VipManager};
use capp_packet::{
    BgpDeploymentType, IpReservation, Metal, RequestBgpConfig, RequestIpReservation,
};
use kube::ResourceExt;

use crate::error::{Error, Result};
use crate::tags::{elastic_ip_tags, is_cluster_elastic_ip, reserved_by_us};

/// The API server port written with the Elastic IP (the Go provider's).
pub(crate) const API_SERVER_PORT: i32 = 6443;

/// The cluster's Elastic IP reservation, if one exists (every page is read).
pub(crate) async fn find_elastic_ip(
    metal: &dyn Metal,
    packet_cluster: &PacketCluster,
    cluster: &str,
) -> Result<Option<IpReservation>> {
    let namespace = packet_cluster.namespace().unwrap_or_default();
    let reservations = metal
        .list_ip_reservations(&packet_cluster.spec.project_id)
        .await
        .map_err(Error::metal("findIPReservations"))?;
    Ok(reservations
        .into_iter()
        .find(|r| is_cluster_elastic_ip(r, &namespace, cluster) && r.address.is_some()))
}

/// Finds or reserves the Elastic IP and returns its address.
pub(crate) async fn ensure_elastic_ip(
    metal: &dyn Metal,
    packet_cluster: &PacketCluster,
    cluster: &str,
) -> Result<String> {
    if let Some(found) = find_elastic_ip(metal, packet_cluster, cluster).await? {
        return Ok(found.address.unwrap_or_default());
    }
    let namespace = packet_cluster.namespace().unwrap_or_default();
    let spec = &packet_cluster.spec;
    let mut request = match (
        spec.metro.as_deref().filter(|m| !m.is_empty()),
        spec.facility.as_deref().filter(|f| !f.is_empty()),
    ) {
        (Some(metro), _) => RequestIpReservation::in_metro("public_ipv4", 1, metro),
        (None, Some(facility)) => RequestIpReservation {
            facility: Some(facility.to_owned()),
            metro: None,
            ..RequestIpReservation::in_metro("public_ipv4", 1, "")
        },
        (None, None) => {
            return Err(Error::InvalidSpec {
                field: "spec.metro",
                message: "an Elastic IP needs a location; set spec.metro (or spec.facility)"
                    .to_owned(),
            });
        }
    };
    request.fail_on_approval_required = Some(true);
    request.tags = elastic_ip_tags(&namespace, cluster);
    tracing::info!(cluster, "Reserving the control plane Elastic IP");
    let reservation = metal
        .request_ip_reservation(&spec.project_id, &request)
        .await
        .map_err(Error::metal("requestIPReservation"))?;
    reservation.address.ok_or_else(|| Error::Malformed {
        what: "IP reservation",
        message: "Equinix Metal answered without an address".to_owned(),
    })
}

/// KUBE_VIP: makes sure the project has BGP enabled (local, private ASN).
pub(crate) async fn ensure_bgp(metal: &dyn Metal, project_id: &str, asn: u32) -> Result<()> {
    let config = metal
        .get_bgp_config(project_id)
        .await
        .map_err(Error::metal("findBgpConfigByProject"))?;
    if config.is_enabled() {
        return Ok(());
    }
    tracing::info!(asn, "Enabling BGP on the project");
    let request = RequestBgpConfig {
        deployment_type: BgpDeploymentType::Local,
        asn,
        md5: None,
        use_case: Some("kubernetes-load-balancer".to_owned()),
    };
    match metal.request_bgp_config(project_id, &request).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(Error::metal("requestBgpConfig")(e)),
    }
}

/// On deletion: releases the Elastic IP we reserved when the reclaim policy is `Delete`.
pub(crate) async fn release_elastic_ip(
    metal: &dyn Metal,
    packet_cluster: &PacketCluster,
    cluster: &str,
) -> Result<()> {
    if packet_cluster.spec.elastic_ip_reclaim_policy != ReclaimPolicy::Delete
        || !packet_cluster.spec.vip_manager.uses_elastic_ip()
        || packet_cluster.spec.vip_manager == VipManager::Emlb
    {
        return Ok(());
    }
    let namespace = packet_cluster.namespace().unwrap_or_default();
    let Some(reservation) = find_elastic_ip(metal, packet_cluster, cluster).await? else {
        return Ok(());
    };
    if !reserved_by_us(&reservation, &namespace) {
        return Ok(());
    }
    tracing::info!(reservation = %reservation.id, "Releasing the control plane Elastic IP");
    for assignment in &reservation.assignments {
        match metal.unassign_ip(&assignment.id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(Error::metal("deleteIPAddress")(e)),
        }
    }
    match metal.delete_ip_reservation(&reservation.id).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::metal("deleteIPAddress")(e)),
    }
}
