//! The per-cluster device view: one tag-filtered list call answers every machine's poll.
//!
//! The Go provider sent one `GET /devices/{id}` per provisioning machine every 10 s and listed
//! the project's first page before every create. Here every PacketMachine of a cluster reads
//! the same [`DeviceView`]: the devices of the project carrying the cluster's tag
//! (`capp:cluster-id:<cluster>`), fetched with the API's server-side `tag` filter over every
//! page. A reader says how fresh the data must be (`not_before`); if the last refresh started
//! after that instant the cached list is served, otherwise one list call refreshes it for
//! everybody waiting. N machines polling at once cost one call, not N.
//!
//! # Guarantees
//! - A refresh is single-flight: concurrent readers wait for the one list in progress.
//! - A device we just created is served from the create response until a list that started
//!   after the create includes it, so a list racing the create never hides it.
//! - Cached devices keep only the fields the controllers read (see `slim`): no userdata,
//!   plan, OS or facility details.
//!
//! # Caveats
//! - Devices not tagged with the cluster tag are invisible here; identity lookups therefore
//!   only need the cluster tag, which both this provider and the Go provider set.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use capp_packet::{Device, DeviceState, IpAssignment, Metal};
use tokio::time::Instant;

#[derive(Debug, Default)]
struct Cache {
    devices: Arc<Vec<Device>>,
    /// When the last successful refresh *started*.
    refreshed: Option<Instant>,
    /// Devices we created, by id, with when the create answered.
    pinned: HashMap<String, Instant>,
}

/// The devices of one project carrying one tag.
#[derive(Debug)]
pub struct DeviceView {
    project_id: String,
    tag: String,
    cache: tokio::sync::Mutex<Cache>,
    /// Device counts by state of the last refresh, readable without awaiting (metrics).
    states: Mutex<BTreeMap<String, u64>>,
    /// Set without awaiting (a create cancelled mid-call): the next reader lists again.
    stale: AtomicBool,
}

impl DeviceView {
    /// An empty view of `project_id`'s devices tagged `tag`.
    #[must_use]
    pub fn new(project_id: impl Into<String>, tag: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            tag: tag.into(),
            cache: tokio::sync::Mutex::new(Cache::default()),
            states: Mutex::new(BTreeMap::new()),
            stale: AtomicBool::new(false),
        }
    }

    /// The project this view lists.
    #[must_use]
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The devices, refreshed with one list call unless the last refresh started at or after
    /// `not_before` (`None`: any refresh will do; the first read always lists).
    pub async fn devices(
        &self,
        metal: &dyn Metal,
        not_before: Option<Instant>,
    ) -> capp_packet::Result<Arc<Vec<Device>>> {
        let mut cache = self.cache.lock().await;
        if self.stale.swap(false, Ordering::AcqRel) {
            cache.refreshed = None;
        }
        if cache
            .refreshed
            .is_some_and(|at| not_before.is_none_or(|nb| at >= nb))
        {
            return Ok(cache.devices.clone());
        }
        let started = Instant::now();
        let listed = metal
            .devices_with_tags(&self.project_id, std::slice::from_ref(&self.tag))
            .await?;
        let mut devices: Vec<Device> = listed.into_iter().map(slim).collect();
        let old = std::mem::take(&mut cache.devices);
        cache.pinned.retain(|id, created| {
            if devices.iter().any(|d| &d.id == id) {
                return false;
            }
            // Created after this list started: the list may not show it yet.
            if *created > started {
                if let Some(d) = old.iter().find(|d| &d.id == id) {
                    devices.push(d.clone());
                }
                return true;
            }
            false
        });
        cache.devices = Arc::new(devices);
        cache.refreshed = Some(started);
        self.record_states(&cache.devices);
        Ok(cache.devices.clone())
    }

    /// Adds a device we just created (the create response), served until a later list
    /// includes it.
    pub async fn insert(&self, device: Device) {
        let mut cache = self.cache.lock().await;
        cache.pinned.insert(device.id.clone(), Instant::now());
        let mut devices: Vec<Device> = cache
            .devices
            .iter()
            .filter(|d| d.id != device.id)
            .cloned()
            .collect();
        devices.push(slim(device));
        cache.devices = Arc::new(devices);
        self.record_states(&cache.devices);
    }

    /// Marks the cache stale: the next reader lists again (after an uncertain create).
    pub async fn invalidate(&self) {
        self.cache.lock().await.refreshed = None;
    }

    /// [`DeviceView::invalidate`] without awaiting the lock (for drop guards).
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Device counts by state as of the last refresh.
    #[must_use]
    pub fn states(&self) -> BTreeMap<String, u64> {
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Devices queued or provisioning as of the last refresh (or create).
    #[must_use]
    pub fn provisioning(&self) -> u64 {
        let states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ["queued", "provisioning"]
            .iter()
            .filter_map(|s| states.get(*s))
            .sum()
    }

    fn record_states(&self, devices: &[Device]) {
        let mut counts = BTreeMap::new();
        for d in devices {
            *counts.entry(state_name(d.state).to_owned()).or_default() += 1;
        }
        *self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = counts;
    }
}

/// The API's spelling of a device state (metric labels, `status.instanceStatus`).
#[must_use]
pub fn state_name(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Queued => "queued",
        DeviceState::Provisioning => "provisioning",
        DeviceState::Deprovisioning => "deprovisioning",
        DeviceState::Reinstalling => "reinstalling",
        DeviceState::Active => "active",
        DeviceState::Inactive => "inactive",
        DeviceState::Failed => "failed",
        DeviceState::PoweringOn => "powering_on",
        DeviceState::PoweringOff => "powering_off",
        DeviceState::Deleted => "deleted",
        DeviceState::Other => "other",
    }
}

/// Keeps only what the controllers read (identity, state and progress, creation time, tags,
/// hostname and addresses), so 1,000 cached devices stay small: the API's device also
/// carries its plan, OS (with every plan it runs on), facility, metro, project, SSH keys,
/// userdata and address details, all of which we never look at.
fn slim(device: Device) -> Device {
    Device {
        id: device.id,
        hostname: device.hostname,
        state: device.state,
        provisioning_percentage: device.provisioning_percentage,
        created_at: device.created_at,
        tags: device.tags,
        ip_addresses: device
            .ip_addresses
            .into_iter()
            .map(|a| IpAssignment {
                id: a.id,
                address: a.address,
                address_family: a.address_family,
                public: a.public,
                management: a.management,
                cidr: a.cidr,
                ..IpAssignment::default()
            })
            .collect(),
        ..Device::default()
    }
}

#[cfg(test)]
mod tests;
