//! Snapshots of the simulated cloud for tests and the control surface: plain values that
//! serialise to the JSON `GET /_sim/v1/state` answers.

use serde::Serialize;

use super::{BgpSession, Device, DeviceState, IpReservation, State};
use crate::clock::format_ts;

/// Snapshot of one device for assertions in tests (see
/// [`Simulator::devices`](crate::Simulator::devices)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSnapshot {
    /// Device UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Hostname.
    pub hostname: String,
    /// Lifecycle state at the time of the snapshot.
    pub state: DeviceState,
    /// Tags.
    pub tags: Vec<String>,
    /// Plan slug.
    pub plan: String,
    /// Metro code.
    pub metro: String,
    /// Facility code.
    pub facility: String,
    /// Operating system slug.
    pub operating_system: String,
    /// Hardware reservation id, if created on reserved hardware.
    pub hardware_reservation_id: Option<String>,
    /// Every assigned address (management and elastic) as `address/cidr`.
    pub addresses: Vec<String>,
    /// Userdata as sent.
    pub userdata: String,
}

/// Snapshot of one IP reservation (see
/// [`Simulator::ip_reservations`](crate::Simulator::ip_reservations)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpReservationSnapshot {
    /// Reservation UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// `public_ipv4`, `private_ipv4`, `global_ipv4` or `public_ipv6`.
    pub kind: String,
    /// Metro code (`None` for global IPv4).
    pub metro: Option<String>,
    /// The block as `network/cidr`.
    pub cidr_notation: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Ids of the devices the block (or parts of it) is assigned to.
    pub assigned_to: Vec<String>,
}

/// Snapshot of one BGP session (see [`StateSnapshot`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BgpSessionSnapshot {
    /// Session UUID.
    pub id: String,
    /// The device it belongs to.
    pub device_id: String,
    /// `ipv4` or `ipv6`.
    pub address_family: String,
    /// Whether the device asked for a default route.
    pub default_route: bool,
}

/// Everything the simulated cloud holds at one instant: what
/// [`Simulator::snapshot`](crate::Simulator::snapshot) returns and `GET /_sim/v1/state`
/// serialises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateSnapshot {
    /// The simulated time, RFC 3339.
    pub now: String,
    /// Every device in every project (including `deprovisioning` ones), in creation order.
    pub devices: Vec<DeviceSnapshot>,
    /// Ids of devices removed after a failed provisioning (their GETs answer 403).
    pub vanished_devices: Vec<String>,
    /// Every IP reservation (elastic IP block) in every project.
    pub ip_reservations: Vec<IpReservationSnapshot>,
    /// Every BGP session, ordered by creation.
    pub bgp_sessions: Vec<BgpSessionSnapshot>,
}

impl State {
    pub(crate) fn snapshot(&self, d: &Device) -> DeviceSnapshot {
        let mut addresses: Vec<String> = self
            .assignments
            .values()
            .filter(|a| a.device_id == d.id)
            .map(|a| format!("{}/{}", a.block.addr(0), a.block.cidr))
            .collect();
        addresses.sort();
        DeviceSnapshot {
            id: d.id.clone(),
            project_id: d.project_id.clone(),
            hostname: d.hostname.clone(),
            state: d.state,
            tags: d.tags.clone(),
            plan: d.plan.slug.to_owned(),
            metro: d.metro.code.to_owned(),
            facility: d.facility.code.to_owned(),
            operating_system: d.os.slug.to_owned(),
            hardware_reservation_id: d.hardware_reservation.clone(),
            addresses,
            userdata: d.userdata.clone(),
        }
    }

    pub(crate) fn reservation_snapshot(&self, r: &IpReservation) -> IpReservationSnapshot {
        let mut assigned_to: Vec<String> = self
            .assignments
            .values()
            .filter(|a| a.reservation_id.as_deref() == Some(r.id.as_str()))
            .map(|a| a.device_id.clone())
            .collect();
        assigned_to.sort();
        assigned_to.dedup();
        IpReservationSnapshot {
            id: r.id.clone(),
            project_id: r.project_id.clone(),
            kind: r.kind.as_str().to_owned(),
            metro: r.metro.map(|m| m.code.to_owned()),
            cidr_notation: format!("{}/{}", r.block.addr(0), r.block.cidr),
            tags: r.tags.clone(),
            assigned_to,
        }
    }

    /// Every device, in creation order.
    pub(crate) fn device_snapshots(&self) -> Vec<DeviceSnapshot> {
        let mut list: Vec<&Device> = self.devices.values().collect();
        list.sort_by_key(|d| d.seq);
        list.into_iter().map(|d| self.snapshot(d)).collect()
    }

    /// Every IP reservation, oldest first.
    pub(crate) fn reservation_snapshots(&self) -> Vec<IpReservationSnapshot> {
        let mut list: Vec<&IpReservation> = self.reservations.values().collect();
        list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        list.into_iter()
            .map(|r| self.reservation_snapshot(r))
            .collect()
    }

    /// The whole state (call [`State::tick`] first so lifecycle timers have fired).
    pub(crate) fn state_snapshot(&self, now: jiff::Timestamp) -> StateSnapshot {
        let mut sessions: Vec<&BgpSession> = self.bgp_sessions.values().collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        StateSnapshot {
            now: format_ts(now),
            devices: self.device_snapshots(),
            vanished_devices: self.vanished.iter().cloned().collect(),
            ip_reservations: self.reservation_snapshots(),
            bgp_sessions: sessions
                .into_iter()
                .map(|s| BgpSessionSnapshot {
                    id: s.id.clone(),
                    device_id: s.device_id.clone(),
                    address_family: s.family.clone(),
                    default_route: s.default_route,
                })
                .collect(),
        }
    }
}
