//! The fixed catalogue: metros, facilities, plans and operating systems.
//!
//! Codes and names follow the real catalogue (Dallas `da`, Silicon Valley `sv`, ...); ids are
//! stable UUIDs derived from the codes so they never change between runs.

use serde_json::{Value, json};

use crate::ids::stable_uuid;

/// A metro of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metro {
    /// Two-letter code used in requests (`da`).
    pub code: &'static str,
    /// Display name.
    pub name: &'static str,
    /// ISO country code.
    pub country: &'static str,
    /// Index used to carve address space.
    pub(crate) index: u8,
}

/// A facility (data centre) of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility {
    /// Code used in requests (`da11`).
    pub code: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Code of the metro it belongs to.
    pub metro: &'static str,
}

/// A server plan of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// Slug used in requests (`c3.small.x86`).
    pub slug: &'static str,
    /// Human description.
    pub description: &'static str,
    /// CPU count and model.
    pub(crate) cpu: (u32, &'static str),
    /// Memory, as the API writes it (`64GB`).
    pub(crate) memory: &'static str,
    /// Drives: (count, size, category).
    pub(crate) drives: &'static [(u32, &'static str, &'static str)],
    /// Price per hour in USD.
    pub(crate) price_hour: f64,
    /// Plan `class`/`line`.
    pub(crate) line: &'static str,
}

/// An operating system of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatingSystem {
    /// Slug used in requests (`ubuntu_22_04`).
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Distribution.
    pub distro: &'static str,
    /// Version string.
    pub version: &'static str,
    /// Whether the OS is pre-installed (fast provisioning).
    pub preinstallable: bool,
}

/// Every metro.
pub const METROS: &[Metro] = &[
    Metro {
        code: "da",
        name: "Dallas",
        country: "US",
        index: 1,
    },
    Metro {
        code: "sv",
        name: "Silicon Valley",
        country: "US",
        index: 2,
    },
    Metro {
        code: "ny",
        name: "New York",
        country: "US",
        index: 3,
    },
    Metro {
        code: "am",
        name: "Amsterdam",
        country: "NL",
        index: 4,
    },
    Metro {
        code: "fr",
        name: "Frankfurt",
        country: "DE",
        index: 5,
    },
    Metro {
        code: "sg",
        name: "Singapore",
        country: "SG",
        index: 6,
    },
];

/// Every facility.
pub const FACILITIES: &[Facility] = &[
    Facility {
        code: "da11",
        name: "Dallas DA11",
        metro: "da",
    },
    Facility {
        code: "da6",
        name: "Dallas DA6",
        metro: "da",
    },
    Facility {
        code: "sv15",
        name: "Silicon Valley SV15",
        metro: "sv",
    },
    Facility {
        code: "sv16",
        name: "Silicon Valley SV16",
        metro: "sv",
    },
    Facility {
        code: "ny5",
        name: "New York NY5",
        metro: "ny",
    },
    Facility {
        code: "ny7",
        name: "New York NY7",
        metro: "ny",
    },
    Facility {
        code: "am6",
        name: "Amsterdam AM6",
        metro: "am",
    },
    Facility {
        code: "fr2",
        name: "Frankfurt FR2",
        metro: "fr",
    },
    Facility {
        code: "fr8",
        name: "Frankfurt FR8",
        metro: "fr",
    },
    Facility {
        code: "sg1",
        name: "Singapore SG1",
        metro: "sg",
    },
];

/// Every plan.
pub const PLANS: &[Plan] = &[
    Plan {
        slug: "c3.small.x86",
        description: "c3.small.x86: 8 cores, 32GB RAM, 2 x 480GB SSD",
        cpu: (1, "Intel Xeon E-2278G 8-Core Processor @ 3.40GHz"),
        memory: "32GB",
        drives: &[(2, "480GB", "boot")],
        price_hour: 0.75,
        line: "baremetal",
    },
    Plan {
        slug: "c3.medium.x86",
        description: "c3.medium.x86: 24 cores, 64GB RAM, 2 x 960GB SSD",
        cpu: (1, "AMD EPYC 7402P 24-Core Processor @ 2.8GHz"),
        memory: "64GB",
        drives: &[(2, "240GB", "boot"), (2, "480GB", "storage")],
        price_hour: 1.5,
        line: "baremetal",
    },
    Plan {
        slug: "m3.small.x86",
        description: "m3.small.x86: 8 cores, 64GB RAM, 2 x 480GB SSD",
        cpu: (1, "Intel Xeon E-2378G 8-Core Processor @ 2.80GHz"),
        memory: "64GB",
        drives: &[(2, "480GB", "boot")],
        price_hour: 1.05,
        line: "baremetal",
    },
    Plan {
        slug: "m3.large.x86",
        description: "m3.large.x86: 32 cores, 256GB RAM, 2 x 3.8TB NVMe",
        cpu: (1, "AMD EPYC 7502P 32-Core Processor @ 2.5GHz"),
        memory: "256GB",
        drives: &[(2, "240GB", "boot"), (2, "3.8TB", "storage")],
        price_hour: 3.1,
        line: "baremetal",
    },
    Plan {
        slug: "s3.xlarge.x86",
        description: "s3.xlarge.x86: 24 cores, 192GB RAM, 12 x 8TB HDD",
        cpu: (2, "Intel Xeon Silver 4214 12-Core Processor @ 2.20GHz"),
        memory: "192GB",
        drives: &[(2, "960GB", "boot"), (12, "8TB", "storage")],
        price_hour: 2.95,
        line: "baremetal",
    },
    Plan {
        slug: "n3.xlarge.x86",
        description: "n3.xlarge.x86: 32 cores, 512GB RAM, 4 x 3.8TB NVMe",
        cpu: (2, "Intel Xeon Gold 6314U 32-Core Processor @ 2.30GHz"),
        memory: "512GB",
        drives: &[(2, "240GB", "boot"), (4, "3.8TB", "storage")],
        price_hour: 4.5,
        line: "baremetal",
    },
    Plan {
        slug: "c3.large.arm64",
        description: "c3.large.arm64: 80 cores, 256GB RAM, 2 x 960GB NVMe",
        cpu: (1, "Ampere Altra Q80-30 80-core processor @ 2.8GHz"),
        memory: "256GB",
        drives: &[(2, "960GB", "boot")],
        price_hour: 2.5,
        line: "baremetal",
    },
];

/// Every operating system.
pub const OPERATING_SYSTEMS: &[OperatingSystem] = &[
    OperatingSystem {
        slug: "ubuntu_20_04",
        name: "Ubuntu 20.04 LTS",
        distro: "ubuntu",
        version: "20.04",
        preinstallable: true,
    },
    OperatingSystem {
        slug: "ubuntu_22_04",
        name: "Ubuntu 22.04 LTS",
        distro: "ubuntu",
        version: "22.04",
        preinstallable: true,
    },
    OperatingSystem {
        slug: "ubuntu_24_04",
        name: "Ubuntu 24.04 LTS",
        distro: "ubuntu",
        version: "24.04",
        preinstallable: true,
    },
    OperatingSystem {
        slug: "debian_12",
        name: "Debian 12",
        distro: "debian",
        version: "12",
        preinstallable: false,
    },
    OperatingSystem {
        slug: "rocky_9",
        name: "Rocky Linux 9",
        distro: "rocky",
        version: "9",
        preinstallable: false,
    },
    OperatingSystem {
        slug: "flatcar_stable",
        name: "Flatcar Container Linux (Stable)",
        distro: "flatcar",
        version: "stable",
        preinstallable: false,
    },
    OperatingSystem {
        slug: "custom_ipxe",
        name: "Custom iPXE",
        distro: "custom_ipxe",
        version: "1",
        preinstallable: false,
    },
];

/// Finds a metro by code or id.
#[must_use]
pub fn metro(code_or_id: &str) -> Option<&'static Metro> {
    METROS
        .iter()
        .find(|m| m.code == code_or_id || metro_id(m.code) == code_or_id)
}

/// Finds a facility by code or id.
#[must_use]
pub fn facility(code_or_id: &str) -> Option<&'static Facility> {
    FACILITIES
        .iter()
        .find(|f| f.code == code_or_id || facility_id(f.code) == code_or_id)
}

/// Finds a plan by slug or id.
#[must_use]
pub fn plan(slug_or_id: &str) -> Option<&'static Plan> {
    PLANS
        .iter()
        .find(|p| p.slug == slug_or_id || plan_id(p.slug) == slug_or_id)
}

/// Finds an operating system by slug or id.
#[must_use]
pub fn operating_system(slug_or_id: &str) -> Option<&'static OperatingSystem> {
    OPERATING_SYSTEMS
        .iter()
        .find(|o| o.slug == slug_or_id || os_id(o.slug) == slug_or_id)
}

/// The facilities of a metro.
pub fn facilities_of(metro_code: &str) -> impl Iterator<Item = &'static Facility> + '_ {
    FACILITIES.iter().filter(move |f| f.metro == metro_code)
}

pub(crate) fn metro_id(code: &str) -> String {
    stable_uuid(&format!("metro:{code}"))
}

pub(crate) fn facility_id(code: &str) -> String {
    stable_uuid(&format!("facility:{code}"))
}

pub(crate) fn plan_id(slug: &str) -> String {
    stable_uuid(&format!("plan:{slug}"))
}

pub(crate) fn os_id(slug: &str) -> String {
    stable_uuid(&format!("os:{slug}"))
}

/// Renders each catalogue entry once: the catalogue is static, and plan objects (with their
/// `available_in` links) are the most expensive part of a device body.
fn cached(kind: &str, key: &str, render: impl FnOnce() -> Value) -> Value {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let id = format!("{kind}:{key}");
    if let Some(v) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&id)
    {
        return v.clone();
    }
    let value = render();
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, value.clone());
    value
}

impl Metro {
    /// The API representation (`Metro` schema).
    #[must_use]
    pub fn to_json(&self) -> Value {
        cached("metro", self.code, || self.render())
    }

    fn render(&self) -> Value {
        json!({
            "id": metro_id(self.code),
            "code": self.code,
            "name": self.name,
            "country": self.country,
        })
    }
}

impl Facility {
    /// The API representation (`Facility` schema, without `address`: the API's default
    /// `exclude=address`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        cached("facility", self.code, || self.render())
    }

    fn render(&self) -> Value {
        let metro = metro(self.metro).map_or(Value::Null, Metro::to_json);
        json!({
            "id": facility_id(self.code),
            "code": self.code,
            "name": self.name,
            "features": ["baremetal", "backend_transfer", "layer_2", "global_ipv4", "ibx"],
            "ip_ranges": ["2604:1380::/36", "147.75.0.0/16", "139.178.0.0/16"],
            "metro": metro,
        })
    }

    /// The API representation including the `address` object.
    #[must_use]
    pub fn to_json_with_address(&self) -> Value {
        let mut value = self.to_json();
        if let Some(obj) = value.as_object_mut() {
            let country = metro(self.metro).map_or("US", |m| m.country);
            obj.insert(
                "address".to_owned(),
                json!({
                    "address": format!("1 {} Way", self.name),
                    "city": self.name.split(' ').next().unwrap_or("City"),
                    "country": country,
                    "zip_code": "00000",
                }),
            );
        }
        value
    }
}

impl Plan {
    /// The API representation (`Plan` schema), as `GET /plans` lists it.
    #[must_use]
    pub fn to_json(&self) -> Value {
        cached("plan", self.slug, || self.render())
    }

    /// The plan as embedded in a device or hardware reservation: the same object without
    /// the `available_in` and `available_in_metros` price lists (links to every location
    /// are noise in a device body and dominated the cost of rendering one).
    #[must_use]
    pub fn to_embedded_json(&self) -> Value {
        cached("plan-embedded", self.slug, || {
            let mut value = self.render();
            if let Some(obj) = value.as_object_mut() {
                obj.remove("available_in");
                obj.remove("available_in_metros");
            }
            value
        })
    }

    fn render(&self) -> Value {
        let drives: Vec<Value> = self
            .drives
            .iter()
            .map(|(count, size, category)| {
                json!({"count": count, "size": size, "category": category, "type": "SSD"})
            })
            .collect();
        let price = json!({"hour": self.price_hour});
        let in_metros: Vec<Value> = METROS
            .iter()
            .map(|m| json!({"href": format!("/metal/v1/locations/metros/{}", metro_id(m.code)), "price": price}))
            .collect();
        let in_facilities: Vec<Value> = FACILITIES
            .iter()
            .map(|f| json!({"href": format!("/metal/v1/facilities/{}", facility_id(f.code)), "price": price}))
            .collect();
        json!({
            "id": plan_id(self.slug),
            "slug": self.slug,
            "name": self.slug,
            "description": self.description,
            "class": self.slug,
            "line": self.line,
            "type": "standard",
            "legacy": false,
            "categories": ["compute", "current_gen"],
            "deployment_types": ["on_demand", "spot_market"],
            "pricing": {"hour": self.price_hour},
            "specs": {
                "cpus": [{"count": self.cpu.0, "type": self.cpu.1}],
                "memory": {"total": self.memory},
                "drives": drives,
                "nics": [{"count": 2, "type": "25Gbps"}],
                "features": {"raid": true, "txt": true, "uefi": true},
            },
            "available_in": in_facilities,
            "available_in_metros": in_metros,
        })
    }
}

impl OperatingSystem {
    /// The API representation (`OperatingSystem` schema).
    #[must_use]
    pub fn to_json(&self) -> Value {
        cached("os", self.slug, || self.render())
    }

    fn render(&self) -> Value {
        let plans: Vec<&str> = PLANS.iter().map(|p| p.slug).collect();
        json!({
            "id": os_id(self.slug),
            "slug": self.slug,
            "name": self.name,
            "distro": self.distro,
            "distro_label": self.distro,
            "version": self.version,
            "preinstallable": self.preinstallable,
            "provisionable_on": plans,
            "licensed": false,
            "pricing": {},
            "default_operating_system": self.slug == "ubuntu_24_04",
            "lifecycle_state": "active",
        })
    }
}
