//! An Equinix Metal (Packet) API simulator for tests, benchmarks and demos.
//!
//! `capp-sim` is a real HTTP/1.1 server on loopback that answers the `/metal/v1` endpoints a
//! Cluster API provider uses, with the status codes, bodies, pagination `meta` and error
//! shapes of the official OpenAPI spec, a device lifecycle on a steerable clock, a metadata
//! service, seedable fault injection and a request log.
//!
//! # Quick start
//!
//! ```no_run
//! # async fn demo() -> capp_sim::Result<()> {
//! use capp_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::start(SimConfig::for_tests()).await?;
//! // Point any Metal client at these:
//! let base_url = sim.base_url(); // http://127.0.0.1:<port>/metal/v1
//! let token = sim.token(); // send as X-Auth-Token
//! let project = sim.default_project_id();
//! # let _ = (base_url, token, project);
//! // ... create devices through HTTP, then steer and inspect:
//! sim.finish_provisioning(); // every queued/provisioning device becomes active
//! assert!(sim.devices().iter().all(|d| d.state == capp_sim::DeviceState::Active));
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Endpoints
//!
//! Paths are relative to [`Simulator::base_url`]; operation ids are the spec's.
//!
//! | method and path | operationId | success |
//! |---|---|---|
//! | `GET /projects` | `findProjects` | 200 `ProjectList` (paginated) |
//! | `GET /projects/{id}` | `findProjectById` | 200 `Project` |
//! | `GET /projects/{id}/devices` | `findProjectDevices` | 200 `DeviceList` (paginated, filters `tag`, `hostname`, `metro`, `facility`, `search`, `type`, `reserved`) |
//! | `POST /projects/{id}/devices` | `createDevice` | 201 `Device` (metro or facility form) |
//! | `GET /devices/{id}` | `findDeviceById` | 200 `Device` |
//! | `PUT /devices/{id}` | `updateDevice` | 200 `Device` |
//! | `DELETE /devices/{id}` | `deleteDevice` | 204 (`?force_delete=true` or body `{"force_delete":true}`) |
//! | `POST /devices/{id}/actions` | `performAction` | 202 |
//! | `GET /devices/{id}/userdata` | `findDeviceUserdataByID` | 200 `Userdata` |
//! | `GET /devices/{id}/customdata` | `findDeviceCustomdata` | 200 object |
//! | `GET /devices/{id}/ssh-keys` | `findDeviceSSHKeys` | 200 `SSHKeyList` |
//! | `GET /devices/{id}/ips` | `findIPAssignments` | 200 `IPAssignmentList` |
//! | `POST /devices/{id}/ips` | `createIPAssignment` | 201 `IPAssignment` |
//! | `GET /devices/{id}/bgp/sessions` | `findBgpSessions` | 200 `BgpSessionList` |
//! | `POST /devices/{id}/bgp/sessions` | `createBgpSession` | 201 `BgpSession` |
//! | `GET /devices/{id}/bgp/neighbors` | `getBgpNeighborData` | 200 `BgpSessionNeighbors` |
//! | `GET /projects/{id}/ips` | `findIPReservations` | 200 `IPReservationList` (paginated, default `per_page` 250) |
//! | `POST /projects/{id}/ips` | `requestIPReservation` | 201 `IPReservation` |
//! | `GET /ips/{id}` | `findIPAddressById` | 200 `IPReservation` or `IPAssignment` |
//! | `PATCH /ips/{id}` | `updateIPAddress` | 200 |
//! | `DELETE /ips/{id}` | `deleteIPAddress` | 204 (an assignment id unassigns, a reservation id deletes the block) |
//! | `GET /projects/{id}/bgp-config` | `findBgpConfigByProject` | 200 `BgpConfig` (`{}` when none) |
//! | `POST /projects/{id}/bgp-configs` | `requestBgpConfig` | 204 |
//! | `GET /projects/{id}/bgp/sessions` | `findProjectBgpSessions` | 200 `BgpSessionList` |
//! | `GET`, `DELETE /bgp/sessions/{id}` | `findBgpSessionById`, `deleteBgpSession` | 200, 204 |
//! | `GET /locations/metros`, `/locations/metros/{id}` | `findMetros`, `getMetro` | 200 |
//! | `GET /facilities` | `findFacilities` | 200 `FacilityList` |
//! | `GET /plans`, `/projects/{id}/plans` | `findPlans`, `findPlansByProject` | 200 `PlanList` |
//! | `GET /operating-systems` | `findOperatingSystems` | 200 `OperatingSystemList` |
//! | `GET /projects/{id}/hardware-reservations` | `findProjectHardwareReservations` | 200 (paginated) |
//! | `GET /hardware-reservations/{id}` | `findHardwareReservationById` | 200 |
//! | `GET`, `POST /projects/{id}/ssh-keys` | `findProjectSSHKeys`, `createProjectSSHKey` | 200, 201 |
//! | `GET /ssh-keys`, `GET`/`DELETE /ssh-keys/{id}` | `findSSHKeys`, `findSSHKeyById`, `deleteSSHKey` | 200, 204 |
//!
//! The metadata service is described in [`metadata`](crate::Simulator::metadata_url).
//!
//! # Errors as the real API sent them
//!
//! | situation | status | body |
//! |---|---|---|
//! | no or wrong `X-Auth-Token` | 401 | `{"error":"Invalid authentication token"}` |
//! | project of another account ([`Simulator::foreign_project_id`]) | 403 | `{"errors":["You are not authorized to view this project"]}` |
//! | device removed after a failed provisioning | 403 | `{"errors":["You are not authorized to view this device"]}` |
//! | unknown id or path | 404 | `{"errors":["Not found"]}` |
//! | validation (missing plan, bad field type, ...) | 422 | `{"errors":["<field> ..."]}` naming the field |
//! | delete while provisioning without `force_delete` | 422 | `Cannot delete a device while it is provisioning` |
//! | second BGP session of a family | 422 | `Device <short id> already has session for address family ipv4` |
//! | busy hardware reservation | 422 | `Server is not provisionable` |
//! | specific hardware reservation elsewhere than the request's metro/facility | 422 | `hardware reservation <id> is in facility <code> ...` |
//! | no SSH key would be attached (none given, none in the project, no `no_ssh_keys`) | 422 | `must have at least one SSH key or explicitly send no_ssh_keys option` |
//! | [`SimConfig::create_limit`] devices of the project already provisioning | 429 | `Too many devices are being created in this project at once ...` |
//! | no capacity (metro form) | 422 | `There aren't available servers in that metro` |
//! | no capacity (facility form) | 422 | `The facility <code> has no provisionable <plan> servers matching your criteria` |
//! | no free hardware reservation | 503 | `There are no available hardware reservations for selected plan and facility` |
//! | above the rate limit (authenticated requests per token) | 429 | `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (unix seconds), and `Retry-After` only with `FaultConfig::send_retry_after` (the real API never sent it) |
//! | body too large / not JSON content type / invalid JSON | 413 / 415 / 422 | `{"errors":[...]}` |
//!
//! Every response carries `Content-Type: application/json; charset=utf-8` (except 204/202 and
//! injected 502/504, which come as HTML from an "intermediary") and `X-Request-Id`.
//!
//! # Steering from another process
//!
//! With [`SimConfig::control_token`] the simulator also serves its steering operations over
//! HTTP under `/_sim/v1` ([`Simulator::control_url`]): the state snapshot, failing or
//! sticking one device, capacity, one-shot faults (such as the ambiguous create,
//! [`Fault::Lost`]) and the clock. `docs/simulator.md` ("Control surface") lists the routes.

mod api;
pub mod catalog;
mod clock;
mod config;
mod control;
mod error;
pub mod events;
mod faults;
mod ids;
mod metadata;
mod observe;
pub mod openapi;
mod server;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::catalog::{
    FACILITIES, Facility, METROS, Metro, OPERATING_SYSTEMS, OperatingSystem, PLANS, Plan,
};
pub use crate::config::{
    ClockMode, DEFAULT_CREATE_LIMIT, DEFAULT_PROJECT_ID, DEFAULT_TOKEN, FOREIGN_PROJECT_ID,
    SimConfig, Timings,
};
pub use crate::error::{Error, Result};
pub use crate::events::{ActiveDevice, DeviceAddress, DeviceEvent};
pub use crate::faults::{Fault, FaultConfig, FaultRule, Faults, HANG_LIMIT};
pub use crate::ids::is_uuid;
pub use crate::observe::RequestRecord;
pub use crate::state::{
    BgpSessionSnapshot, DeviceSnapshot, DeviceState, IpReservationSnapshot, StateSnapshot,
};

use crate::server::Shared;
use crate::state::State;
use crate::state::render::Include;

/// A running simulator. Dropping it stops the server (open connections finish their
/// current request); [`Simulator::shutdown`] does the same and waits for it.
///
/// Every method takes `&self`: the handle can be shared (`Arc<Simulator>`) between a test
/// and the tasks it spawns.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    project_id: String,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .field("project_id", &self.project_id)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds `config.listen` and starts serving on the current tokio runtime.
    ///
    /// Fails if the configuration is inconsistent ([`Error::Config`]) or the address cannot
    /// be bound ([`Error::Bind`]).
    pub async fn start(config: SimConfig) -> Result<Self> {
        config.check()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(Error::LocalAddr)?;
        let clock = clock::Clock::new(config.clock, config.clock_scale);
        let faults = Faults::new(config.faults.clone());
        let mut state = State::new(&config, faults.clone(), clock.now());
        state.events = events::EventSink::new(format!("http://{addr}"));
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            clock,
            faults,
            observer: observe::Observer::new(config.request_log_capacity),
            fault_rng: server::fault_rng(config.seed),
            token: config.token.clone(),
            max_body_bytes: config.max_body_bytes,
            root_url: format!("http://{addr}"),
            control_token: config.control_token.clone(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), stopped));
        tracing::debug!(%addr, "Simulator listening");
        Ok(Self {
            shared,
            addr,
            project_id: config.project_id,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// The bound address (useful when `listen` had port 0).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: the root, without the API prefix.
    #[must_use]
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://<addr>/metal/v1`: use it where a client expects
    /// `https://api.equinix.com/metal/v1`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, server::API_PREFIX)
    }

    /// `http://<addr>/metadata/<device_id>`: the stand-in for
    /// `https://metadata.platformequinix.com` as seen from that device. Append `/metadata`
    /// (JSON), `/userdata` (raw) or `/2009-04-04/meta-data/<item>` (EC2 style). No token is
    /// needed. Data is served once provisioning has begun; `bgp_neighbors` appears once the
    /// device has a BGP session.
    #[must_use]
    pub fn metadata_url(&self, device_id: &str) -> String {
        format!("http://{}/metadata/{device_id}", self.addr)
    }

    /// `http://<addr>/_sim/v1`, the control surface, when
    /// [`SimConfig::control_token`] is set (send it as `Authorization: Bearer <token>`).
    /// The operations it serves are listed in `docs/simulator.md`, "Control surface".
    #[must_use]
    pub fn control_url(&self) -> Option<String> {
        self.shared
            .control_token
            .as_ref()
            .map(|_| format!("http://{}{}", self.addr, control::CONTROL_PREFIX))
    }

    /// The token to send as `X-Auth-Token`.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The project the token can see.
    #[must_use]
    pub fn default_project_id(&self) -> &str {
        &self.project_id
    }

    /// A project that exists but belongs to someone else: every request for it answers 403.
    #[must_use]
    pub fn foreign_project_id(&self) -> &'static str {
        FOREIGN_PROJECT_ID
    }

    /// Subscribes to device-lifecycle events: a [`DeviceEvent::Active`] when a device
    /// finishes provisioning and a [`DeviceEvent::Deleted`] when one is deleted. Only events
    /// after this call are received. See [`events`] for when they fire.
    #[must_use]
    pub fn subscribe_device_events(&self) -> tokio::sync::broadcast::Receiver<DeviceEvent> {
        self.shared.state().events.subscribe()
    }

    /// The fault-injection handle.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Moves the simulator's clock forward (lifecycle timers fire on the next request or
    /// inspection).
    pub fn advance(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// Makes simulated time run `scale` times as fast as wall time from now on (0 stops
    /// it; time already passed is kept). Only a [`ClockMode::Real`] clock runs by itself; a
    /// manual one starts running at this pace too. Fails with [`Error::Config`] for a
    /// negative, infinite or NaN scale or one above 1 000 000.
    pub fn set_clock_scale(&self, scale: f64) -> Result<()> {
        self.shared.set_clock_scale(scale).map_err(Error::Config)
    }

    /// Simulated seconds per wall second (0 for a manual clock that was never scaled).
    #[must_use]
    pub fn clock_scale(&self) -> f64 {
        self.shared.clock.scale()
    }

    /// The simulated time, as RFC 3339.
    #[must_use]
    pub fn now(&self) -> String {
        clock::format_ts(self.shared.clock.now())
    }

    /// Completes provisioning of every queued or provisioning device now: they become
    /// `active`, or fail if a provisioning failure was injected. Stuck devices stay.
    pub fn finish_provisioning(&self) {
        let now = self.shared.clock.now();
        self.shared.state().finish_provisioning(now);
    }

    /// Fails the provisioning of one device now: an on-demand device vanishes (later reads
    /// answer 403), one on reserved hardware stays `failed`. Returns `false` if the device
    /// does not exist or is no longer provisioning.
    pub fn fail_device(&self, device_id: &str) -> bool {
        self.shared.fail_device(device_id).is_ok()
    }

    /// Makes one device stay in `provisioning` forever. Returns `false` if the device does
    /// not exist or is no longer provisioning.
    pub fn stick_device(&self, device_id: &str) -> bool {
        self.shared.stick_device(device_id).is_ok()
    }

    /// Every device that exists (in every project, including `deprovisioning` ones), in
    /// creation order. Use it to assert nothing was orphaned or duplicated.
    #[must_use]
    pub fn devices(&self) -> Vec<DeviceSnapshot> {
        self.shared.snapshot().devices
    }

    /// Everything the cloud holds now: every device, vanished device, IP reservation and
    /// BGP session. `GET /_sim/v1/state` on the control surface answers exactly this, as
    /// JSON.
    #[must_use]
    pub fn snapshot(&self) -> StateSnapshot {
        self.shared.snapshot()
    }

    /// One device, if it exists.
    #[must_use]
    pub fn device(&self, device_id: &str) -> Option<DeviceSnapshot> {
        let now = self.shared.clock.now();
        let mut state = self.shared.state();
        state.tick(now);
        state.devices.get(device_id).map(|d| state.snapshot(d))
    }

    /// A device exactly as `GET /devices/{id}` would render it (with `include=project`).
    #[must_use]
    pub fn device_json(&self, device_id: &str) -> Option<Value> {
        let now = self.shared.clock.now();
        let mut state = self.shared.state();
        state.tick(now);
        let include = Include::parse(Some("project"));
        state
            .devices
            .get(device_id)
            .map(|d| state.device_json(d, &include, now))
    }

    /// Ids of devices that vanished after a failed provisioning (their GETs answer 403).
    #[must_use]
    pub fn vanished_devices(&self) -> Vec<String> {
        self.shared.state().vanished.iter().cloned().collect()
    }

    /// Every IP reservation (elastic IP block) in every project.
    #[must_use]
    pub fn ip_reservations(&self) -> Vec<IpReservationSnapshot> {
        self.shared.state().reservation_snapshots()
    }

    /// Number of BGP sessions that exist (all devices).
    #[must_use]
    pub fn bgp_session_count(&self) -> usize {
        self.shared.state().bgp_sessions.len()
    }

    /// The id of the token's user, the project's only member: what a create's
    /// `user_ssh_keys` takes to attach [`add_user_ssh_key`](Self::add_user_ssh_key) keys.
    #[must_use]
    pub fn user_id(&self) -> String {
        self.shared.state().user_id.clone()
    }

    /// Adds an SSH key to the default project (what `POST /projects/{id}/ssh-keys` does) and
    /// returns its id. A project starts with none, and a create that brings no key and does
    /// not say `no_ssh_keys` then answers 422, as the real API did. Fails with
    /// [`Error::Refused`] for a key that is not an OpenSSH public key or that the project has.
    pub fn add_project_ssh_key(&self, label: &str, public_key: &str) -> Result<String> {
        let owner = state::KeyOwner::Project(self.project_id.clone());
        self.add_ssh_key(owner, label, public_key)
    }

    /// Adds an SSH key of the token's user (a member key: attached to new devices by default,
    /// or with `user_ssh_keys: [<user id>]`) and returns its id. Fails as
    /// [`add_project_ssh_key`](Self::add_project_ssh_key) does.
    pub fn add_user_ssh_key(&self, label: &str, public_key: &str) -> Result<String> {
        let owner = state::KeyOwner::User(self.user_id());
        self.add_ssh_key(owner, label, public_key)
    }

    fn add_ssh_key(&self, owner: state::KeyOwner, label: &str, public_key: &str) -> Result<String> {
        let now = self.shared.clock.now();
        self.shared
            .state()
            .add_ssh_key(
                owner,
                label.to_owned(),
                public_key.to_owned(),
                Vec::new(),
                now,
            )
            .map_err(|e| Error::Refused(e.message))
    }

    /// Ids of the hardware reservations of the default project (two `m3.large.x86` in
    /// `da11`, one `c3.small.x86` in `sv15`).
    #[must_use]
    pub fn hardware_reservation_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        state
            .hardware_reservations
            .values()
            .filter(|h| h.project_id == self.project_id)
            .map(|h| h.id.clone())
            .collect()
    }

    /// Sets how many servers of `plan` a metro has in total (devices in use count against
    /// it). 0 makes every create there answer the capacity error.
    pub fn set_capacity(&self, metro: &str, plan: &str, servers: u32) {
        self.shared.set_capacity(metro, plan, servers);
    }

    /// [`set_capacity`](Self::set_capacity) for a metro and plan that must be in the
    /// catalogue (what the control surface's `PUT /_sim/v1/capacity` does); returns the
    /// servers left. Fails with [`Error::Refused`] naming the unknown metro or plan.
    pub fn try_set_capacity(&self, metro: &str, plan: &str, servers: u32) -> Result<u32> {
        self.shared
            .set_known_capacity(metro, plan, servers)
            .map_err(Error::Refused)
    }

    /// Servers of `plan` still free in `metro`.
    #[must_use]
    pub fn capacity_left(&self, metro: &str, plan: &str) -> u32 {
        self.shared.state().capacity_left(metro, plan)
    }

    /// The request log, oldest first (bounded by `SimConfig::request_log_capacity`).
    #[must_use]
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.observer.records()
    }

    /// Empties the request log and the counters.
    pub fn clear_request_log(&self) {
        self.shared.observer.clear();
    }

    /// How many requests an operation (spec operationId, e.g. `createDevice`) received,
    /// faults included.
    #[must_use]
    pub fn operation_count(&self, operation_id: &str) -> u64 {
        self.shared.observer.count(operation_id)
    }

    /// Requests per operation id (`"(none)"` for unknown routes and the metadata service).
    #[must_use]
    pub fn operation_counts(&self) -> BTreeMap<String, u64> {
        self.shared.observer.counts()
    }

    /// Requests per (operation id, status); status 0 means the connection was dropped.
    #[must_use]
    pub fn status_counts(&self) -> BTreeMap<(String, u16), u64> {
        self.shared.observer.counts_by_status()
    }

    /// Every implemented operation as (method, path relative to the base URL, operationId).
    #[must_use]
    pub fn operations() -> Vec<(&'static str, &'static str, &'static str)> {
        api::routes()
            .iter()
            .map(|r| (r.method.as_str(), r.pattern, r.operation))
            .collect()
    }

    /// Stops accepting connections, lets open ones finish (at most 5 s) and waits for the
    /// server task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn a_control_token_equal_to_the_api_token_or_a_bad_clock_scale_is_refused() {
        let same = SimConfig::default().with_token("t").with_control_token("t");
        assert!(matches!(same.check(), Err(Error::Config(m)) if m.contains("must differ")));
        let scale = SimConfig::default().with_clock_scale(f64::NAN);
        assert!(matches!(scale.check(), Err(Error::Config(m)) if m.contains("clock_scale")));
        let limit = SimConfig::default().with_create_limit(Some(0));
        assert!(matches!(limit.check(), Err(Error::Config(m)) if m.contains("create_limit")));
    }

    #[test]
    fn the_handle_and_its_parts_can_be_shared_across_tasks() {
        assert_send_sync::<Simulator>();
        assert_send_sync::<Faults>();
        assert_send_sync::<openapi::Spec>();
        assert_send_sync::<Error>();
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = SimConfig::default()
            .with_token("s3cr3t-token")
            .with_control_token("c0ntr0l-token");
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("s3cr3t") && !printed.contains("c0ntr0l"),
            "{printed}"
        );
    }
}
