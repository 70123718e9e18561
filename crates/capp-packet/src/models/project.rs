//! Projects, project SSH keys and hardware reservations.

use serde::{Deserialize, Serialize};

use super::catalog::{Facility, Plan};
use super::common::{Href, ResourceRef};
use super::de::null_default;

/// A project: the unit of ownership and of API-key scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    /// UUID.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Relative URL.
    pub href: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Link to the project's BGP config.
    pub bgp_config: Option<Href>,
    /// `default` or `vmce`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

/// An SSH public key registered in a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SshKey {
    /// UUID (what `CreateDevice::project_ssh_keys` takes).
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Relative URL.
    pub href: Option<String>,
    /// Label.
    #[serde(deserialize_with = "null_default")]
    pub label: String,
    /// The public key (`ssh-ed25519 AAAA...`).
    #[serde(deserialize_with = "null_default")]
    pub key: String,
    /// Fingerprint.
    pub fingerprint: Option<String>,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Owner (project or user).
    pub entity: Option<Href>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
}

/// Body of `POST /projects/{id}/ssh-keys` (`SSHKeyCreateInput`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateSshKey {
    /// Label.
    pub label: String,
    /// The public key.
    pub key: String,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A hardware reservation: a server reserved for a project, provisioned with
/// `hardware_reservation_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HardwareReservation {
    /// UUID.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Short id.
    pub short_id: Option<String>,
    /// Relative URL.
    pub href: Option<String>,
    /// Whether a device can be provisioned on it now (free and not in service).
    #[serde(deserialize_with = "null_default")]
    pub provisionable: bool,
    /// Whether it is a spare.
    #[serde(deserialize_with = "null_default")]
    pub spare: bool,
    /// Whether it needs service.
    #[serde(deserialize_with = "null_default")]
    pub need_of_service: bool,
    /// The device running on it, if any.
    pub device: Option<ResourceRef>,
    /// Plan.
    pub plan: Option<Plan>,
    /// Facility.
    pub facility: Option<Facility>,
    /// Project.
    pub project: Option<ResourceRef>,
    /// Switch UUID.
    pub switch_uuid: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// End of the reservation term (RFC 3339).
    pub termination_time: Option<String>,
}
