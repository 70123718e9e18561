//! Typed request and response models of the Equinix Metal API v1.
//!
//! Response types follow three rules, because the real API was looser than its spec:
//!
//! - unknown fields are ignored (no `deny_unknown_fields`), so a newer server never breaks us;
//! - absent fields take their default, and so do explicit `null`s (the spec marks almost nothing
//!   `nullable`, yet real responses carried `"description": null`, `"meta": {"next": null}`);
//! - enums that the server may extend (`DeviceState`) have an `Other` variant.
//!
//! Request types serialize only what is set (`skip_serializing_if`), so the server applies its own
//! defaults for everything else. Device creation takes a [`Location`], which is either a metro or a
//! facility list: the spec's `oneOf(DeviceCreateInMetroInput, DeviceCreateInFacilityInput)` rejects
//! a body with both, so the type makes that body impossible to build.
//!
//! Free-form user data is wrapped in [`Userdata`], whose `Debug` prints only its length: userdata
//! routinely carries bootstrap tokens. `root_password` is deliberately not modelled.

mod bgp;
mod catalog;
mod common;
mod de;
mod device;
mod ip;
mod project;

pub use bgp::{
    BgpAddressFamily, BgpConfig, BgpDeploymentType, BgpNeighbor, BgpRoute, BgpSession,
    CreateBgpSession, RequestBgpConfig,
};
pub use catalog::{Facility, Metro, OperatingSystem, Plan, PlanSpecs};
pub use common::{Href, Meta, ResourceRef};
pub use device::{
    BillingCycle, CreateDevice, Device, DeviceState, IpAddressRequest, Location, UpdateDevice,
    Userdata,
};
pub use ip::{AssignIp, IpAssignment, IpReservation, ParentBlock, RequestIpReservation};
pub use project::{CreateSshKey, HardwareReservation, Project, SshKey};
