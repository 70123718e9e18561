//! The catalogue: metros, facilities, plans and operating systems.

use serde::{Deserialize, Serialize};

use super::de::null_default;

/// A metro (a city-level location such as `da` for Dallas).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metro {
    /// UUID.
    pub id: Option<String>,
    /// Two-letter code, e.g. `da`.
    #[serde(deserialize_with = "null_default")]
    pub code: String,
    /// Name, e.g. `Dallas`.
    pub name: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
}

/// A facility (a data centre inside a metro; deprecated by Equinix in favour of metros).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facility {
    /// UUID.
    pub id: Option<String>,
    /// Code, e.g. `da11`.
    #[serde(deserialize_with = "null_default")]
    pub code: String,
    /// Name.
    pub name: Option<String>,
    /// Features such as `baremetal`, `layer_2`, `global_ipv4`.
    #[serde(deserialize_with = "null_default")]
    pub features: Vec<String>,
    /// The metro it belongs to.
    pub metro: Option<Metro>,
}

/// Hardware summary of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanSpecs {
    /// CPU descriptions (free JSON in the spec).
    #[serde(deserialize_with = "null_default")]
    pub cpus: Vec<serde_json::Value>,
    /// Memory description.
    pub memory: Option<serde_json::Value>,
    /// Drive descriptions.
    #[serde(deserialize_with = "null_default")]
    pub drives: Vec<serde_json::Value>,
}

/// A hardware plan, e.g. `c3.small.x86`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    /// UUID.
    pub id: Option<String>,
    /// Slug used in requests.
    #[serde(deserialize_with = "null_default")]
    pub slug: String,
    /// Display name.
    pub name: Option<String>,
    /// Class (usually the slug).
    pub class: Option<String>,
    /// Product line, e.g. `baremetal`.
    pub line: Option<String>,
    /// `standard`, `workload_optimized` or `custom`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `on_demand`, `spot_market`.
    #[serde(deserialize_with = "null_default")]
    pub deployment_types: Vec<String>,
    /// Hardware summary.
    pub specs: Option<PlanSpecs>,
}

/// An operating system image, e.g. `ubuntu_24_04`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperatingSystem {
    /// UUID.
    pub id: Option<String>,
    /// Slug used in requests.
    #[serde(deserialize_with = "null_default")]
    pub slug: String,
    /// Display name.
    pub name: Option<String>,
    /// Distribution, e.g. `ubuntu`.
    pub distro: Option<String>,
    /// Version, e.g. `24.04`.
    pub version: Option<String>,
    /// Whether it installs in about a minute.
    pub preinstallable: Option<bool>,
    /// Plan slugs it can be installed on.
    #[serde(deserialize_with = "null_default")]
    pub provisionable_on: Vec<String>,
}
