//! Device-lifecycle notifications: what a server "does" when it boots or goes away.
//!
//! The simulator has no servers, so nothing runs a device's userdata. A test world that wants
//! to act as the booted server (the workload-cluster twin in `capp-twin`, for instance)
//! subscribes with [`Simulator::subscribe_device_events`](crate::Simulator::subscribe_device_events)
//! and receives a [`DeviceEvent`] each time a device first becomes `active` (its operating
//! system booted with the userdata) and each time one is deleted.
//!
//! Events are sent while the simulator updates its state, which happens lazily: the lifecycle
//! advances on the next API request, metadata request or inspection
//! ([`Simulator::devices`](crate::Simulator::devices)) after its timer ran out. A subscriber
//! that does not want to depend on client traffic calls an inspection method periodically.
//!
//! The channel is a bounded [`tokio::sync::broadcast`]: a subscriber that falls more than
//! [`EVENT_CAPACITY`] events behind gets `RecvError::Lagged` and should resynchronise from
//! [`Simulator::devices`](crate::Simulator::devices).

use std::net::IpAddr;

use serde_json::Value;
use tokio::sync::broadcast;

/// How many undelivered events a slow subscriber may fall behind before it lags.
pub const EVENT_CAPACITY: usize = 1024;

/// A change in a device's life that a booted server would notice.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// The device finished provisioning (`provisioning` → `active`): its operating system
    /// booted and would now run its userdata.
    Active(ActiveDevice),
    /// The device was deleted (it entered `deprovisioning`, or was removed without passing
    /// through it): its operating system is gone.
    Deleted {
        /// Device UUID.
        id: String,
        /// Hostname.
        hostname: String,
    },
}

/// Everything a freshly booted device knows about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveDevice {
    /// Device UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Hostname.
    pub hostname: String,
    /// Userdata exactly as sent at creation.
    pub userdata: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Every address assigned at boot (management and elastic).
    pub addresses: Vec<DeviceAddress>,
    /// The document the metadata service answers for this device (`GET /metadata`), the
    /// source of cloud-init's `ds.meta_data` on Equinix Metal.
    pub metadata: Value,
}

impl ActiveDevice {
    /// The first public management IPv4 address, the one the real API lists first and the
    /// one a kubelet would advertise.
    #[must_use]
    pub fn public_ipv4(&self) -> Option<IpAddr> {
        self.addresses
            .iter()
            .find(|a| a.public && a.management && a.address.is_ipv4())
            .map(|a| a.address)
    }

    /// The private management IPv4 address.
    #[must_use]
    pub fn private_ipv4(&self) -> Option<IpAddr> {
        self.addresses
            .iter()
            .find(|a| !a.public && a.management && a.address.is_ipv4())
            .map(|a| a.address)
    }
}

/// One address of a device, as the API's `ip_addresses` entry describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAddress {
    /// The usable host address (`address` in the API).
    pub address: IpAddr,
    /// Prefix length of the assigned block.
    pub cidr: u8,
    /// Whether the address is public.
    pub public: bool,
    /// Whether it is a management address (allocated with the device) rather than an
    /// elastic IP.
    pub management: bool,
}

/// The sending side, owned by the simulator state.
#[derive(Debug)]
pub(crate) struct EventSink {
    sender: broadcast::Sender<DeviceEvent>,
    /// `http://<addr>`, for the URLs inside the metadata document.
    pub(crate) root_url: String,
}

impl EventSink {
    pub(crate) fn new(root_url: String) -> Self {
        Self {
            sender: broadcast::channel(EVENT_CAPACITY).0,
            root_url,
        }
    }

    /// Whether anyone listens (rendering an event costs a metadata document).
    pub(crate) fn wanted(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub(crate) fn send(&self, event: DeviceEvent) {
        // No subscriber is not an error: events are best-effort notifications.
        let _ = self.sender.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.sender.subscribe()
    }
}
