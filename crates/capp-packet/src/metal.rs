//! The [`Metal`] trait: every Equinix Metal operation the provider uses.

use async_trait::async_trait;

use crate::error::Result;
use crate::models::{
    AssignIp, BgpConfig, BgpNeighbor, BgpSession, CreateBgpSession, CreateDevice, CreateSshKey,
    Device, Facility, HardwareReservation, IpAssignment, IpReservation, Metro, OperatingSystem,
    Plan, Project, RequestBgpConfig, RequestIpReservation, SshKey, UpdateDevice,
};

/// The Equinix Metal operations the provider uses.
///
/// Object-safe: controllers hold an `Arc<dyn Metal>`. The real implementation is
/// [`MetalClient`](crate::MetalClient); tests point it at `capp-sim`, so the same HTTP code runs
/// in tests and in production.
///
/// # API calls per operation
///
/// Each method documents its cost in HTTP calls when nothing fails. Idempotent calls (every `get_`,
/// `list_`, `update_`, `delete_`/`unassign_`, and `create_bgp_session`) may add up to
/// `retry.max_attempts - 1` retries on 429/5xx/transport failures. Every other create is sent
/// again only after a failure that proves the server did not act on it (429, 408, a refused
/// connection), never after one that may have created something. Paginated lists cost `ceil(items / per_page)` calls (at least 1) with
/// `per_page = 1000` by default, the API's maximum.
#[async_trait]
pub trait Metal: Send + Sync {
    /// `GET /projects/{id}` (findProjectById). 1 call.
    async fn get_project(&self, project_id: &str) -> Result<Project>;

    /// `POST /projects/{id}/devices` (createDevice). 1 call, **never blindly retried**: a retry
    /// after a 5xx, a timeout or a broken connection could create a second server. Only a 429
    /// (honouring its wait), a 408 or a refused connection, none of which created anything, is
    /// sent again.
    ///
    /// On error, check [`Error::may_have_been_applied`](crate::Error::may_have_been_applied).
    /// When it is `true` the device may exist: look it up with [`Metal::devices_with_tags`]
    /// using the identity tags of the request before creating again. When `false` (4xx,
    /// capacity shortage, connection refused) creating again is safe.
    async fn create_device(&self, project_id: &str, request: &CreateDevice) -> Result<Device>;

    /// `GET /devices/{id}` (findDeviceById). 1 call. A device whose provisioning failed may
    /// answer 403 instead of 404 (see [`Error::is_forbidden`](crate::Error::is_forbidden)).
    async fn get_device(&self, device_id: &str) -> Result<Device>;

    /// `GET /projects/{id}/devices` (findProjectDevices), every page.
    /// `ceil(devices / per_page)` calls, at least 1.
    async fn list_devices(&self, project_id: &str) -> Result<Vec<Device>>;

    /// The project's devices that carry **all** of `tags`, reading every page.
    ///
    /// Uses the server-side `tag` filter with the first tag (the API filters on one tag), then
    /// checks every tag client-side, so put the most selective tag (the machine's own) first.
    /// `ceil(matching_first_tag / per_page)` calls, at least 1: one call per machine lookup.
    /// With no tags this is [`Metal::list_devices`].
    async fn devices_with_tags(&self, project_id: &str, tags: &[String]) -> Result<Vec<Device>>;

    /// `PUT /devices/{id}` (updateDevice): tags, description, hostname, userdata, ... 1 call.
    async fn update_device(&self, device_id: &str, request: &UpdateDevice) -> Result<Device>;

    /// `DELETE /devices/{id}` (deleteDevice), with `?force_delete=true` when `force_delete`.
    /// 1 call. Without force the API answers 422 while the device is provisioning.
    async fn delete_device(&self, device_id: &str, force_delete: bool) -> Result<()>;

    /// `GET /devices/{id}/ips` (findIPAssignments). 1 call.
    async fn list_device_ips(&self, device_id: &str) -> Result<Vec<IpAssignment>>;

    /// `POST /devices/{id}/ips` (createIPAssignment): bind an address of a reservation to a
    /// device. 1 call, sent again only after a 429/408/refused connection.
    async fn assign_ip(&self, device_id: &str, request: &AssignIp) -> Result<IpAssignment>;

    /// `DELETE /ips/{id}` with an assignment id: unbind the address. 1 call.
    async fn unassign_ip(&self, assignment_id: &str) -> Result<()>;

    /// `POST /projects/{id}/ips` (requestIPReservation). 1 call, never blindly retried (a retry
    /// could reserve a second block; only a 429/408/refused connection is sent again); recover
    /// by listing reservations by tag.
    async fn request_ip_reservation(
        &self,
        project_id: &str,
        request: &RequestIpReservation,
    ) -> Result<IpReservation>;

    /// `GET /projects/{id}/ips?include=assignments` (findIPReservations), every page.
    /// `ceil(reservations / per_page)` calls, at least 1.
    async fn list_ip_reservations(&self, project_id: &str) -> Result<Vec<IpReservation>>;

    /// `GET /ips/{id}?include=assignments` (findIPAddressById). 1 call.
    async fn get_ip_reservation(&self, reservation_id: &str) -> Result<IpReservation>;

    /// `DELETE /ips/{id}` with a reservation id: release the block. 1 call.
    async fn delete_ip_reservation(&self, reservation_id: &str) -> Result<()>;

    /// `GET /locations/metros` (findMetros). 1 call.
    async fn list_metros(&self) -> Result<Vec<Metro>>;

    /// `GET /facilities` (findFacilities). 1 call.
    async fn list_facilities(&self) -> Result<Vec<Facility>>;

    /// `GET /plans` (findPlans). 1 call.
    async fn list_plans(&self) -> Result<Vec<Plan>>;

    /// `GET /operating-systems` (findOperatingSystems). 1 call.
    async fn list_operating_systems(&self) -> Result<Vec<OperatingSystem>>;

    /// `GET /projects/{id}/hardware-reservations` (findProjectHardwareReservations), every page.
    /// `ceil(reservations / per_page)` calls, at least 1.
    async fn list_hardware_reservations(
        &self,
        project_id: &str,
    ) -> Result<Vec<HardwareReservation>>;

    /// `GET /hardware-reservations/{id}` (findHardwareReservationById). 1 call.
    async fn get_hardware_reservation(&self, reservation_id: &str) -> Result<HardwareReservation>;

    /// `GET /projects/{id}/ssh-keys` (findProjectSSHKeys). 1 call.
    async fn list_project_ssh_keys(&self, project_id: &str) -> Result<Vec<SshKey>>;

    /// `POST /projects/{id}/ssh-keys` (createProjectSSHKey). 1 call, sent again only after a
    /// 429/408/refused connection.
    async fn create_project_ssh_key(
        &self,
        project_id: &str,
        request: &CreateSshKey,
    ) -> Result<SshKey>;

    /// `DELETE /ssh-keys/{id}` (deleteSSHKey). 1 call.
    async fn delete_ssh_key(&self, key_id: &str) -> Result<()>;

    /// `GET /projects/{id}/bgp-config` (findBgpConfigByProject). 1 call. An empty config (not
    /// an error) when BGP was never requested: see [`BgpConfig::is_enabled`].
    async fn get_bgp_config(&self, project_id: &str) -> Result<BgpConfig>;

    /// `POST /projects/{id}/bgp-configs` (requestBgpConfig). 1 call, sent again only after a
    /// 429/408/refused connection.
    async fn request_bgp_config(&self, project_id: &str, request: &RequestBgpConfig) -> Result<()>;

    /// `POST /devices/{id}/bgp/sessions` (createBgpSession). 1 call. Retried like an idempotent
    /// call because the API refuses a second session per address family: a duplicate answers
    /// 422 with [`Error::is_already_exists`](crate::Error::is_already_exists), which callers
    /// treat as done.
    async fn create_bgp_session(
        &self,
        device_id: &str,
        request: &CreateBgpSession,
    ) -> Result<BgpSession>;

    /// `GET /devices/{id}/bgp/sessions` (findBgpSessions). 1 call.
    async fn list_bgp_sessions(&self, device_id: &str) -> Result<Vec<BgpSession>>;

    /// `DELETE /bgp/sessions/{id}` (deleteBgpSession). 1 call.
    async fn delete_bgp_session(&self, session_id: &str) -> Result<()>;

    /// `GET /devices/{id}/bgp/neighbors` (getBgpNeighborData). 1 call.
    async fn get_bgp_neighbors(&self, device_id: &str) -> Result<Vec<BgpNeighbor>>;
}
