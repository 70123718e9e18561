//! The simulated cloud: projects, devices, IPs, BGP, SSH keys, hardware reservations and
//! capacity, with the device lifecycle driven by the simulator's clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use crate::catalog::{self, Facility, Metro, OperatingSystem, Plan};
use crate::clock::{elapsed, format_ts};
use crate::config::{FOREIGN_PROJECT_ID, SimConfig, Timings};
use crate::events::{ActiveDevice, DeviceAddress, DeviceEvent, EventSink};
use crate::faults::Doom;
use crate::ids::{random_uuid, short_id, stable_uuid};

pub(crate) mod render;
mod snapshot;
mod ssh;

pub(crate) use ssh::{KeyOwner, KeyRequest};

pub use snapshot::{BgpSessionSnapshot, DeviceSnapshot, IpReservationSnapshot, StateSnapshot};

/// The lifecycle state of a simulated device (the spec's `Device.state` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceState {
    /// Waiting to be picked up.
    Queued,
    /// Being installed (`provisioning_percentage` grows).
    Provisioning,
    /// Ready.
    Active,
    /// Powered off.
    Inactive,
    /// Provisioning failed (only devices on reserved hardware stay visible in this state).
    Failed,
    /// Being deleted.
    Deprovisioning,
    /// Powering on.
    PoweringOn,
    /// Powering off.
    PoweringOff,
    /// Reinstalling its operating system.
    Reinstalling,
}

impl DeviceState {
    /// The API's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Failed => "failed",
            Self::Deprovisioning => "deprovisioning",
            Self::PoweringOn => "powering_on",
            Self::PoweringOff => "powering_off",
            Self::Reinstalling => "reinstalling",
        }
    }
}

impl std::fmt::Display for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: Timestamp,
}

#[derive(Debug, Clone)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors the API's independent boolean device fields"
)]
pub(crate) struct Device {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) project_id: String,
    pub(crate) hostname: String,
    pub(crate) description: Option<String>,
    pub(crate) plan: &'static Plan,
    pub(crate) os: &'static OperatingSystem,
    pub(crate) metro: &'static Metro,
    pub(crate) facility: &'static Facility,
    pub(crate) state: DeviceState,
    pub(crate) phase_since: Timestamp,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
    pub(crate) tags: Vec<String>,
    pub(crate) userdata: String,
    pub(crate) customdata: Map<String, Value>,
    pub(crate) billing_cycle: String,
    pub(crate) locked: bool,
    pub(crate) always_pxe: bool,
    pub(crate) ipxe_script_url: Option<String>,
    pub(crate) spot_instance: bool,
    /// `spot_price_max` as sent (spot instances' maximum hourly bid).
    pub(crate) spot_price_max: Option<f64>,
    /// `termination_time` as sent (RFC 3339).
    pub(crate) termination_time: Option<String>,
    pub(crate) network_frozen: bool,
    pub(crate) hardware_reservation: Option<String>,
    pub(crate) ssh_key_ids: Vec<String>,
    pub(crate) doom: Doom,
    pub(crate) want: AddressWants,
    /// Ids of the device's management assignments (allocated when provisioning starts).
    pub(crate) management_ips: Vec<String>,
    pub(crate) root_password: String,
    pub(crate) switch_uuid: String,
    /// `network_ports`, rendered once at creation (they never change).
    pub(crate) ports: Value,
}

/// Which management addresses a device asked for (`ip_addresses` in the create body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddressWants {
    pub(crate) public_v4: Option<u8>,
    pub(crate) private_v4: u8,
    pub(crate) public_v6: Option<u8>,
}

impl Default for AddressWants {
    fn default() -> Self {
        Self {
            public_v4: Some(31),
            private_v4: 31,
            public_v6: Some(127),
        }
    }
}

/// The kind of an IP reservation (`IPReservation.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpKind {
    PublicV4,
    PrivateV4,
    GlobalV4,
    PublicV6,
}

impl IpKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public_ipv4" => Self::PublicV4,
            "private_ipv4" => Self::PrivateV4,
            "global_ipv4" => Self::GlobalV4,
            "public_ipv6" => Self::PublicV6,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::PublicV4 => "public_ipv4",
            Self::PrivateV4 => "private_ipv4",
            Self::GlobalV4 => "global_ipv4",
            Self::PublicV6 => "public_ipv6",
        }
    }

    pub(crate) fn family(self) -> u8 {
        if self == Self::PublicV6 { 6 } else { 4 }
    }

    pub(crate) fn public(self) -> bool {
        self != Self::PrivateV4
    }
}

/// An address block: network address as an integer plus prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) family: u8,
    pub(crate) network: u128,
    pub(crate) cidr: u8,
}

impl Block {
    pub(crate) fn bits(self) -> u8 {
        if self.family == 4 { 32 } else { 128 }
    }

    /// The host part's mask (all ones for `/0` of IPv6, where a size would not fit in u128).
    fn host_mask(self) -> u128 {
        let host_bits = u32::from(self.bits().saturating_sub(self.cidr));
        if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }

    /// Number of addresses (saturating at `u128::MAX` for an IPv6 `/0`).
    pub(crate) fn size(self) -> u128 {
        self.host_mask().saturating_add(1)
    }

    /// The last address of the block (no overflow even at the top of the address space).
    fn last(self) -> u128 {
        self.network | self.host_mask()
    }

    pub(crate) fn contains(self, other: Block) -> bool {
        other.family == self.family
            && other.cidr >= self.cidr
            && other.network >= self.network
            && other.last() <= self.last()
    }

    pub(crate) fn overlaps(self, other: Block) -> bool {
        other.family == self.family && other.network <= self.last() && self.network <= other.last()
    }

    pub(crate) fn addr(self, offset: u128) -> String {
        fmt_addr(self.family, self.network + offset)
    }

    pub(crate) fn netmask(self) -> String {
        let bits = self.bits();
        let mask: u128 = if self.cidr == 0 {
            0
        } else {
            (u128::MAX << (128 - u32::from(self.cidr))) >> (128 - u32::from(bits))
        };
        fmt_addr(self.family, mask)
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n` or an IPv6 equivalent; a bare address is a single host.
    pub(crate) fn parse(s: &str) -> Option<Block> {
        let (addr, cidr) = match s.split_once('/') {
            Some((a, c)) => (a, Some(c.parse::<u8>().ok()?)),
            None => (s, None),
        };
        if let Ok(v4) = addr.parse::<Ipv4Addr>() {
            let cidr = cidr.unwrap_or(32);
            (cidr <= 32).then_some(())?;
            let block = Block {
                family: 4,
                network: u128::from(u32::from(v4)),
                cidr,
            };
            return (block.network & block.host_mask() == 0).then_some(block);
        }
        if let Ok(v6) = addr.parse::<Ipv6Addr>() {
            let cidr = cidr.unwrap_or(128);
            (cidr <= 128).then_some(())?;
            let block = Block {
                family: 6,
                network: u128::from(v6),
                cidr,
            };
            return (block.network & block.host_mask() == 0).then_some(block);
        }
        None
    }
}

pub(crate) fn fmt_addr(family: u8, value: u128) -> String {
    if family == 4 {
        Ipv4Addr::from(u32::try_from(value & 0xffff_ffff).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(value).to_string()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct IpReservation {
    pub(crate) id: String,
    pub(crate) project_id: String,
    pub(crate) kind: IpKind,
    pub(crate) metro: Option<&'static Metro>,
    pub(crate) block: Block,
    pub(crate) tags: Vec<String>,
    pub(crate) details: Option<String>,
    pub(crate) customdata: Map<String, Value>,
    pub(crate) created_at: Timestamp,
    /// Waiting for approval (more addresses than the quota without `fail_on_approval_required`).
    pub(crate) pending: bool,
}

/// Whose block an assignment was carved from.
#[derive(Debug, Clone)]
pub(crate) struct ParentBlock {
    /// Reservation id for elastic IPs, a synthetic id for management blocks.
    pub(crate) id: String,
    pub(crate) block: Block,
}

#[derive(Debug, Clone)]
pub(crate) struct IpAssignment {
    pub(crate) id: String,
    pub(crate) device_id: String,
    pub(crate) block: Block,
    pub(crate) public: bool,
    pub(crate) management: bool,
    pub(crate) global: bool,
    pub(crate) parent: ParentBlock,
    /// The reservation this was assigned from (elastic IPs only).
    pub(crate) reservation_id: Option<String>,
    pub(crate) metro: Option<&'static Metro>,
    pub(crate) created_at: Timestamp,
    pub(crate) customdata: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct BgpConfig {
    pub(crate) id: String,
    pub(crate) asn: u64,
    pub(crate) deployment_type: String,
    pub(crate) md5: Option<String>,
    pub(crate) status: String,
    pub(crate) use_case: Option<String>,
    pub(crate) created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct BgpSession {
    pub(crate) id: String,
    pub(crate) device_id: String,
    pub(crate) family: String,
    pub(crate) default_route: bool,
    pub(crate) created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct SshKey {
    pub(crate) id: String,
    pub(crate) owner: KeyOwner,
    pub(crate) label: String,
    pub(crate) key: String,
    pub(crate) tags: Vec<String>,
    pub(crate) created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) struct HardwareReservation {
    pub(crate) id: String,
    pub(crate) project_id: String,
    pub(crate) plan: &'static Plan,
    pub(crate) facility: &'static Facility,
    pub(crate) device_id: Option<String>,
    pub(crate) created_at: Timestamp,
}

/// The whole simulated cloud. Guarded by one mutex in the server.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) faults: crate::faults::Faults,
    pub(crate) project_id: String,
    /// The token's user: the project's only member (`user_ssh_keys` takes this id).
    pub(crate) user_id: String,
    /// See [`SimConfig::create_limit`].
    pub(crate) create_limit: Option<u32>,
    pub(crate) timings: Timings,
    pub(crate) default_capacity: u32,
    pub(crate) rng: StdRng,
    pub(crate) projects: BTreeMap<String, Project>,
    pub(crate) devices: BTreeMap<String, Device>,
    pub(crate) vanished: BTreeSet<String>,
    pub(crate) reservations: BTreeMap<String, IpReservation>,
    pub(crate) assignments: BTreeMap<String, IpAssignment>,
    pub(crate) bgp_configs: BTreeMap<String, BgpConfig>,
    pub(crate) bgp_sessions: BTreeMap<String, BgpSession>,
    pub(crate) ssh_keys: BTreeMap<String, SshKey>,
    pub(crate) hardware_reservations: BTreeMap<String, HardwareReservation>,
    /// Servers in use per (metro, plan).
    pub(crate) in_use: HashMap<(String, String), u32>,
    /// Capacity overrides per (metro, plan).
    pub(crate) capacity: HashMap<(String, String), u32>,
    pub(crate) device_seq: u64,
    /// Next free offset per (metro index, address kind) for management addresses: addresses
    /// for v4, whole /56s for v6.
    pub(crate) mgmt_counter: HashMap<(u8, u8), u128>,
    /// Next free offset per reservation pool.
    pub(crate) pool_counter: HashMap<(u8, IpKind), u128>,
    /// Allocate IPv4 addresses from loopback space (see `SimConfig::loopback_addresses`).
    pub(crate) loopback: bool,
    /// Device-lifecycle notifications (see `crate::events`).
    pub(crate) events: EventSink,
}

/// An API failure: status plus message, rendered as `{"errors":[msg]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub(crate) fn not_found() -> Self {
        Self::new(404, "Not found")
    }
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, message)
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The real API's message for a device that was removed after failing.
pub(crate) const VANISHED_DEVICE: &str = "You are not authorized to view this device";

impl State {
    pub(crate) fn new(config: &SimConfig, faults: crate::faults::Faults, now: Timestamp) -> Self {
        let mut state = Self {
            faults,
            project_id: config.project_id.clone(),
            user_id: stable_uuid(&format!("user:{}", config.project_id)),
            create_limit: config.create_limit,
            timings: config.timings,
            default_capacity: config.default_capacity,
            rng: StdRng::seed_from_u64(config.seed),
            projects: BTreeMap::new(),
            devices: BTreeMap::new(),
            vanished: BTreeSet::new(),
            reservations: BTreeMap::new(),
            assignments: BTreeMap::new(),
            bgp_configs: BTreeMap::new(),
            bgp_sessions: BTreeMap::new(),
            ssh_keys: BTreeMap::new(),
            hardware_reservations: BTreeMap::new(),
            in_use: HashMap::new(),
            capacity: HashMap::new(),
            device_seq: 0,
            mgmt_counter: HashMap::new(),
            pool_counter: HashMap::new(),
            loopback: config.loopback_addresses,
            events: EventSink::new(String::new()),
        };
        for (id, name) in [
            (config.project_id.as_str(), "capp-sim"),
            (FOREIGN_PROJECT_ID, "someone else's project"),
        ] {
            state.projects.insert(
                id.to_owned(),
                Project {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    created_at: now,
                },
            );
        }
        // No SSH key: a project starts without one, and creating a device then answers 422
        // unless the request brings a key or says `no_ssh_keys` (see `state/ssh.rs`).
        // Reserved hardware: two m3.large.x86 in da11 and one c3.small.x86 in sv15.
        for (n, plan, facility) in [
            (1, "m3.large.x86", "da11"),
            (2, "m3.large.x86", "da11"),
            (3, "c3.small.x86", "sv15"),
        ] {
            if let (Some(plan), Some(facility)) = (catalog::plan(plan), catalog::facility(facility))
            {
                let id = stable_uuid(&format!("hwres:{}:{n}", config.project_id));
                state.hardware_reservations.insert(
                    id.clone(),
                    HardwareReservation {
                        id,
                        project_id: config.project_id.clone(),
                        plan,
                        facility,
                        device_id: None,
                        created_at: now,
                    },
                );
            }
        }
        state
    }

    pub(crate) fn new_id(&mut self) -> String {
        random_uuid(&mut self.rng)
    }

    /// 403 for projects the token cannot see, 404 for unknown ones.
    pub(crate) fn visible_project(&self, id: &str) -> ApiResult<&Project> {
        if id != self.project_id {
            if self.projects.contains_key(id) {
                return Err(ApiError::new(
                    403,
                    "You are not authorized to view this project",
                ));
            }
            return Err(ApiError::not_found());
        }
        self.projects.get(id).ok_or_else(ApiError::not_found)
    }

    /// The device if the token may see it: 404 unknown, 403 foreign or vanished after failure.
    pub(crate) fn visible_device(&self, id: &str) -> ApiResult<&Device> {
        if self.vanished.contains(id) {
            return Err(ApiError::new(403, VANISHED_DEVICE));
        }
        match self.devices.get(id) {
            Some(d) if d.project_id == self.project_id => Ok(d),
            Some(_) => Err(ApiError::new(403, VANISHED_DEVICE)),
            None => Err(ApiError::not_found()),
        }
    }

    pub(crate) fn capacity_left(&self, metro: &str, plan: &str) -> u32 {
        let key = (metro.to_owned(), plan.to_owned());
        let total = self
            .capacity
            .get(&key)
            .copied()
            .unwrap_or(self.default_capacity);
        total.saturating_sub(self.in_use.get(&key).copied().unwrap_or(0))
    }

    fn release_capacity(&mut self, device: &Device) {
        if device.hardware_reservation.is_some() {
            return;
        }
        let key = (device.metro.code.to_owned(), device.plan.slug.to_owned());
        if let Some(n) = self.in_use.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
    }

    /// Advances every device whose timer has run out.
    pub(crate) fn tick(&mut self, now: Timestamp) {
        // Only devices in a timed state can change; most are `active` and cost nothing.
        let ids: Vec<String> = self
            .devices
            .values()
            .filter(|d| {
                !matches!(
                    d.state,
                    DeviceState::Active | DeviceState::Inactive | DeviceState::Failed
                )
            })
            .map(|d| d.id.clone())
            .collect();
        for id in ids {
            self.tick_device(&id, now);
        }
    }

    fn tick_device(&mut self, id: &str, now: Timestamp) {
        let timings = self.timings;
        // Bounded loop: each pass either moves to a later phase or stops.
        for _ in 0..8 {
            let Some(device) = self.devices.get(id) else {
                return;
            };
            let since = device.phase_since;
            let spent = elapsed(since, now);
            let due = |d: Duration| spent >= d;
            let at = |d: Duration| {
                since
                    .checked_add(jiff::SignedDuration::try_from(d).unwrap_or_default())
                    .unwrap_or(now)
            };
            match device.state {
                DeviceState::Queued if due(timings.queued) => {
                    let t = at(timings.queued);
                    self.start_provisioning(id, t);
                }
                DeviceState::Provisioning if due(timings.provisioning) => {
                    let t = at(timings.provisioning);
                    match device.doom {
                        Doom::Stuck => return,
                        Doom::Fail => {
                            if device.hardware_reservation.is_some() {
                                self.set_state(id, DeviceState::Failed, t);
                            } else {
                                self.vanish(id);
                            }
                            return;
                        }
                        Doom::None => self.set_state(id, DeviceState::Active, t),
                    }
                }
                DeviceState::Reinstalling if due(timings.provisioning) => {
                    let t = at(timings.provisioning);
                    self.set_state(id, DeviceState::Active, t);
                }
                DeviceState::PoweringOn if due(timings.queued) => {
                    let t = at(timings.queued);
                    self.set_state(id, DeviceState::Active, t);
                }
                DeviceState::PoweringOff if due(timings.queued) => {
                    let t = at(timings.queued);
                    self.set_state(id, DeviceState::Inactive, t);
                }
                DeviceState::Deprovisioning if due(timings.deprovisioning) => {
                    self.remove_device(id);
                    return;
                }
                _ => return,
            }
        }
    }

    /// Completes provisioning of every `queued`/`provisioning` device now (stuck ones stay,
    /// doomed ones fail). Also completes power and reinstall transitions.
    pub(crate) fn finish_provisioning(&mut self, now: Timestamp) {
        self.tick(now);
        let ids: Vec<String> = self.devices.keys().cloned().collect();
        for id in ids {
            self.finish_one(&id, now);
        }
    }

    fn finish_one(&mut self, id: &str, now: Timestamp) {
        let Some(state) = self.devices.get(id).map(|d| d.state) else {
            return;
        };
        if state == DeviceState::Queued {
            self.start_provisioning(id, now);
        }
        let Some(device) = self.devices.get(id) else {
            return;
        };
        match device.state {
            DeviceState::Provisioning => match device.doom {
                Doom::Stuck => {}
                Doom::Fail if device.hardware_reservation.is_some() => {
                    self.set_state(id, DeviceState::Failed, now);
                }
                Doom::Fail => self.vanish(id),
                Doom::None => self.set_state(id, DeviceState::Active, now),
            },
            DeviceState::Reinstalling | DeviceState::PoweringOn => {
                self.set_state(id, DeviceState::Active, now);
            }
            DeviceState::PoweringOff => self.set_state(id, DeviceState::Inactive, now),
            _ => {}
        }
    }

    /// Marks a device's provisioning as failing and, if it is still provisioning, fails it
    /// now. Returns whether the device existed and was provisioning.
    pub(crate) fn fail_device(&mut self, id: &str, now: Timestamp) -> bool {
        self.tick(now);
        let Some(device) = self.devices.get_mut(id) else {
            return false;
        };
        if !matches!(
            device.state,
            DeviceState::Queued | DeviceState::Provisioning
        ) {
            return false;
        }
        device.doom = Doom::Fail;
        self.finish_one(id, now);
        true
    }

    /// Makes a device stay in `provisioning` forever. Returns whether it was still
    /// queued or provisioning.
    pub(crate) fn stick_device(&mut self, id: &str, now: Timestamp) -> bool {
        self.tick(now);
        match self.devices.get_mut(id) {
            Some(d) if matches!(d.state, DeviceState::Queued | DeviceState::Provisioning) => {
                d.doom = Doom::Stuck;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn set_state(&mut self, id: &str, state: DeviceState, at: Timestamp) {
        let Some(d) = self.devices.get_mut(id) else {
            return;
        };
        let before = d.state;
        d.state = state;
        d.phase_since = at;
        d.updated_at = at;
        match (before, state) {
            (DeviceState::Provisioning, DeviceState::Active) => self.notify_active(id),
            (b, DeviceState::Deprovisioning) if b != DeviceState::Deprovisioning => {
                self.notify_deleted(id);
            }
            _ => {}
        }
    }

    /// Tells subscribers that a device booted (see `crate::events`).
    fn notify_active(&self, id: &str) {
        if !self.events.wanted() {
            return;
        }
        let Some(d) = self.devices.get(id) else {
            return;
        };
        let addresses = self
            .device_assignments(id)
            .filter_map(|a| {
                let json = State::assignment_json(a);
                let address = json.get("address")?.as_str()?.parse().ok()?;
                Some(DeviceAddress {
                    address,
                    cidr: a.block.cidr,
                    public: a.public,
                    management: a.management,
                })
            })
            .collect();
        let metadata = crate::metadata::metadata_json(self, id, &self.events.root_url);
        self.events.send(DeviceEvent::Active(ActiveDevice {
            id: d.id.clone(),
            project_id: d.project_id.clone(),
            hostname: d.hostname.clone(),
            userdata: d.userdata.clone(),
            tags: d.tags.clone(),
            addresses,
            metadata,
        }));
    }

    /// Tells subscribers that a device is gone (see `crate::events`).
    fn notify_deleted(&self, id: &str) {
        if let Some(d) = self.devices.get(id) {
            self.events.send(DeviceEvent::Deleted {
                id: d.id.clone(),
                hostname: d.hostname.clone(),
            });
        }
    }

    fn start_provisioning(&mut self, id: &str, at: Timestamp) {
        self.set_state(id, DeviceState::Provisioning, at);
        let Some(device) = self.devices.get(id) else {
            return;
        };
        if !device.management_ips.is_empty() {
            return;
        }
        let metro = device.metro;
        let want = device.want;
        let mut ids = Vec::new();
        if let Some(cidr) = want.public_v4 {
            ids.push(self.allocate_management(id, metro, 0, cidr, at));
        }
        if let Some(cidr) = want.public_v6 {
            ids.push(self.allocate_management(id, metro, 2, cidr, at));
        }
        ids.push(self.allocate_management(id, metro, 1, want.private_v4, at));
        if let Some(d) = self.devices.get_mut(id) {
            d.management_ips = ids;
        }
    }

    /// kind 0 = public v4, 1 = private v4, 2 = public v6.
    fn allocate_management(
        &mut self,
        device_id: &str,
        metro: &'static Metro,
        kind: u8,
        cidr: u8,
        at: Timestamp,
    ) -> String {
        let m = u128::from(metro.index);
        // Blocks are handed out aligned to their size from a per-(metro, kind) range, so no two
        // devices ever share an address, whatever `cidr` each asked for. The ranges only wrap
        // (and could then repeat an address) after 32 768 `/31`s or 65 536 `/56`s in one metro.
        let counter = self.mgmt_counter.entry((metro.index, kind)).or_insert(0);
        let mut take = |size: u128, range: u128| -> u128 {
            let offset = counter.div_ceil(size).saturating_mul(size) % range;
            *counter = offset + size;
            offset
        };
        let (block, parent, public) = match kind {
            0 => {
                // 147.<75 + metro>.0.0/16 (loopback: 127.<100 + metro>.0.0/16), a /31 (or
                // the asked /28../30) per device.
                let cidr = cidr.clamp(28, 31);
                let size = 1u128 << (32 - u32::from(cidr));
                let first = if self.loopback {
                    Ipv4Addr::new(127, 100, 0, 0)
                } else {
                    Ipv4Addr::new(147, 75, 0, 0)
                };
                let base = u128::from(u32::from(first)) + (m << 16);
                let block = Block {
                    family: 4,
                    network: base + take(size, 1 << 16),
                    cidr,
                };
                (block, block, true)
            }
            1 => {
                // 10.<metro>.0.0/16 (loopback: 127.<150 + metro>.0.0/16), a /31 (or
                // /28../30) per device, parent /25.
                let cidr = cidr.clamp(28, 31);
                let size = 1u128 << (32 - u32::from(cidr));
                let first = if self.loopback {
                    Ipv4Addr::new(127, 150, 0, 0)
                } else {
                    Ipv4Addr::new(10, 0, 0, 0)
                };
                let base = u128::from(u32::from(first)) + (m << 16);
                let host = base + take(size, 1 << 16);
                let block = Block {
                    family: 4,
                    network: host,
                    cidr,
                };
                let parent = Block {
                    family: 4,
                    network: host - host % 128,
                    cidr: 25,
                };
                (block, parent, false)
            }
            _ => {
                // 2604:1380:<metro><n>::/56 per device (n: 16 bits), the /127 at its start.
                let base = u128::from(Ipv6Addr::new(0x2604, 0x1380, 0, 0, 0, 0, 0, 0));
                let parent_net = base + (m << 88) + (take(1, 1 << 16) << 72);
                let block = Block {
                    family: 6,
                    network: parent_net,
                    cidr: cidr.clamp(64, 127),
                };
                let parent = Block {
                    family: 6,
                    network: parent_net,
                    cidr: 56,
                };
                (block, parent, true)
            }
        };
        let id = self.new_id();
        let parent_id = stable_uuid(&format!("mgmt-block:{kind}:{}", parent.network));
        self.assignments.insert(
            id.clone(),
            IpAssignment {
                id: id.clone(),
                device_id: device_id.to_owned(),
                block,
                public,
                management: true,
                global: false,
                parent: ParentBlock {
                    id: parent_id,
                    block: parent,
                },
                reservation_id: None,
                metro: Some(metro),
                created_at: at,
                customdata: Map::new(),
            },
        );
        id
    }

    /// A failed on-demand device is taken away: later reads answer 403.
    fn vanish(&mut self, id: &str) {
        self.remove_device(id);
        self.vanished.insert(id.to_owned());
    }

    /// Removes a device and everything hanging off it.
    pub(crate) fn remove_device(&mut self, id: &str) {
        // A device that skipped `deprovisioning` (a failed one) has not been reported yet.
        if self
            .devices
            .get(id)
            .is_some_and(|d| d.state != DeviceState::Deprovisioning)
        {
            self.notify_deleted(id);
        }
        let Some(device) = self.devices.remove(id) else {
            return;
        };
        self.release_capacity(&device);
        self.assignments.retain(|_, a| a.device_id != id);
        self.bgp_sessions.retain(|_, s| s.device_id != id);
        for hw in self.hardware_reservations.values_mut() {
            if hw.device_id.as_deref() == Some(id) {
                hw.device_id = None;
            }
        }
    }

    /// Whether a project's BGP is usable for sessions.
    pub(crate) fn bgp_enabled(&self, project_id: &str) -> bool {
        self.bgp_configs
            .get(project_id)
            .is_some_and(|c| c.status == "enabled")
    }

    pub(crate) fn fresh_short_password(&mut self) -> String {
        let id = self.new_id();
        short_id(&id) + &id[24..]
    }
}

pub(crate) fn ts(t: Timestamp) -> String {
    format_ts(t)
}

pub(crate) fn href(kind: &str, id: &str) -> Value {
    json!({ "href": format!("/metal/v1/{kind}/{id}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_align_and_contain() {
        let eip = Block::parse("139.178.64.5").unwrap();
        assert_eq!(
            (eip.cidr, eip.netmask()),
            (32, "255.255.255.255".to_owned())
        );
        let block = Block::parse("139.178.64.4/30").unwrap();
        assert!(block.contains(eip));
        assert!(!eip.contains(block));
        assert!(Block::parse("139.178.64.5/30").is_none(), "unaligned");
        assert!(Block::parse("not an address").is_none());
        let v6 = Block::parse("2604:1380::/127").unwrap();
        assert_eq!(v6.netmask(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
        assert_eq!(v6.addr(1), "2604:1380::1");
        assert!(block.overlaps(eip) && !v6.overlaps(eip));
        let top = Block::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").unwrap();
        let all = Block::parse("::/0").unwrap();
        assert!(all.contains(top) && all.overlaps(top) && !top.contains(all));
        assert_eq!(all.size(), u128::MAX);
        assert!(Block::parse("8000::/1").unwrap().contains(top));
        let top_v4 = Block::parse("255.255.255.255").unwrap();
        assert!(Block::parse("0.0.0.0/0").unwrap().contains(top_v4));
    }
}
