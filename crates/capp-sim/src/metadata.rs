//! The on-host metadata service, addressed by device because loopback has no per-device
//! source address.
//!
//! The real service (`https://metadata.platformequinix.com`) identifies the caller by source
//! IP. Here the device id is the first path segment after `/metadata/`:
//!
//! | real URL | simulator URL |
//! |---|---|
//! | `GET /metadata` | `GET /metadata/{device_id}/metadata` (also `GET /metadata/{device_id}`) |
//! | `GET /userdata` | `GET /metadata/{device_id}/userdata` |
//! | `GET /2009-04-04/meta-data` | `GET /metadata/{device_id}/2009-04-04/meta-data` |
//! | `GET /2009-04-04/meta-data/{item}` | `GET /metadata/{device_id}/2009-04-04/meta-data/{item}` |
//! | `GET /2009-04-04/user-data` | `GET /metadata/{device_id}/2009-04-04/user-data` |
//!
//! | `POST {phone_home_url}` | `POST /metadata/{device_id}/phone-home` (204) |
//! | `POST {user_state_url}` | `POST /metadata/{device_id}/events` (204; `{state, code, message}`) |
//!
//! So `Simulator::metadata_url(id)` is the stand-in for `https://metadata.platformequinix.com`.
//! No token is needed (the real service has none either). Data is served once provisioning
//! has begun; a `queued` or unknown device answers 404 `{"error":"..."}`.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::state::{DeviceState, State};

/// A metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetaReply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl MetaReply {
    fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json; charset=utf-8",
            body: value.to_string(),
        }
    }
    fn text(body: String) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
    fn not_found(what: &str) -> Self {
        Self::json(404, &json!({ "error": what }))
    }
}

/// EC2-style items offered under `2009-04-04/meta-data/`.
const EC2_ITEMS: &[&str] = &[
    "instance-id",
    "hostname",
    "iqn",
    "plan",
    "facility",
    "tags",
    "operating-system",
    "public-keys",
    "public-ipv4",
    "public-ipv6",
    "local-ipv4",
];

/// Accepts a phone-home or user-state event for a device (the body is in the request log).
pub(crate) fn post(state: &State, rest: &str) -> MetaReply {
    let mut parts = rest.trim_end_matches('/').splitn(2, '/');
    let device_id = parts.next().unwrap_or("");
    let sub = parts.next().unwrap_or("");
    if !state.devices.contains_key(device_id) {
        return MetaReply::not_found("instance not found");
    }
    match sub {
        "phone-home" | "events" => MetaReply {
            status: 204,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
        },
        _ => MetaReply::not_found("no such metadata path"),
    }
}

/// Serves `rest`, the path after `/metadata/`.
pub(crate) fn handle(state: &mut State, rest: &str, now: Timestamp, base_url: &str) -> MetaReply {
    state.tick(now);
    let mut parts = rest.trim_end_matches('/').splitn(2, '/');
    let device_id = parts.next().unwrap_or("");
    let sub = parts.next().unwrap_or("metadata");
    let Some(device) = state.devices.get(device_id) else {
        return MetaReply::not_found("instance not found");
    };
    if device.state == DeviceState::Queued {
        return MetaReply::not_found(
            "instance metadata is not available until provisioning starts",
        );
    }
    match sub {
        "metadata" => MetaReply::json(200, &metadata_json(state, device_id, base_url)),
        "userdata" | "2009-04-04/user-data" => MetaReply::text(device.userdata.clone()),
        "2009-04-04/meta-data" => MetaReply::text(EC2_ITEMS.join("\n")),
        other => match other.strip_prefix("2009-04-04/meta-data/") {
            Some(item) => ec2_item(state, device_id, item),
            None => MetaReply::not_found("no such metadata path"),
        },
    }
}

fn ec2_item(state: &State, device_id: &str, item: &str) -> MetaReply {
    let Some(d) = state.devices.get(device_id) else {
        return MetaReply::not_found("instance not found");
    };
    let address = |family: u8, public: bool| {
        state
            .device_assignments(device_id)
            .find(|a| a.management && a.block.family == family && a.public == public)
            .map(|a| a.block.addr(u128::from(a.block.cidr < a.block.bits())))
    };
    let text = match item {
        "instance-id" => Some(d.id.clone()),
        "hostname" => Some(d.hostname.clone()),
        "iqn" => Some(format!(
            "iqn.2026-01.net.packet:device.{}",
            crate::ids::short_id(&d.id)
        )),
        "plan" => Some(d.plan.slug.to_owned()),
        "facility" => Some(d.facility.code.to_owned()),
        "tags" => Some(d.tags.join("\n")),
        "operating-system" => Some(d.os.slug.to_owned()),
        "public-keys" => Some(
            d.ssh_key_ids
                .iter()
                .filter_map(|k| state.ssh_keys.get(k))
                .map(|k| k.key.clone())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "public-ipv4" => address(4, true),
        "public-ipv6" => address(6, true),
        "local-ipv4" => address(4, false),
        _ => None,
    };
    text.map_or_else(
        || MetaReply::not_found("no such metadata item"),
        MetaReply::text,
    )
}

pub(crate) fn metadata_json(state: &State, device_id: &str, base_url: &str) -> Value {
    let Some(d) = state.devices.get(device_id) else {
        return json!({});
    };
    let keep = [
        "id",
        "address_family",
        "netmask",
        "created_at",
        "public",
        "cidr",
        "management",
        "enabled",
        "network",
        "address",
        "gateway",
        "parent_block",
    ];
    let addresses: Vec<Value> = state
        .device_assignments(device_id)
        .map(|a| {
            let full = State::assignment_json(a);
            let mut out = Map::new();
            if let Value::Object(map) = full {
                for (k, v) in map {
                    if keep.contains(&k.as_str()) {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        })
        .collect();
    let macs = crate::state::render::interface_macs(d);
    let interfaces: Vec<Value> = macs
        .iter()
        .map(|(name, mac)| json!({"name": name, "mac": mac, "bond": "bond0"}))
        .collect();
    let ssh_keys: Vec<String> = d
        .ssh_key_ids
        .iter()
        .filter_map(|k| state.ssh_keys.get(k))
        .map(|k| k.key.clone())
        .collect();
    let plan = d.plan.to_embedded_json();
    let mut obj = json!({
        "id": d.id,
        "hostname": d.hostname,
        "iqn": format!("iqn.2026-01.net.packet:device.{}", crate::ids::short_id(&d.id)),
        "operating_system": {
            "slug": d.os.slug,
            "distro": d.os.distro,
            "version": d.os.version,
            "license_activation": {"state": "unlicensed"},
            "image_tag": crate::ids::stable_uuid(d.os.slug).replace('-', ""),
        },
        "plan": d.plan.slug,
        "class": d.plan.slug,
        "reserved": d.hardware_reservation.is_some(),
        "facility": d.facility.code,
        "metro": d.metro.code,
        "private_subnets": ["10.0.0.0/8"],
        "tags": d.tags,
        "ssh_keys": ssh_keys,
        "customdata": Value::Object(d.customdata.clone()),
        "specs": plan.get("specs").cloned().unwrap_or_else(|| json!({})),
        "switch_short_id": d.switch_uuid,
        "volumes": [],
        "state": d.state.as_str(),
        "network": {
            "bonding": {"mode": 4, "link_aggregation": "mlag_ha", "mac": macs[0].1},
            "interfaces": interfaces,
            "addresses": addresses,
            "metal_gateways": [],
        },
        "api_url": format!("{base_url}/metadata/{}", d.id),
        "phone_home_url": format!("{base_url}/metadata/{}/phone-home", d.id),
        "user_state_url": format!("{base_url}/metadata/{}/events", d.id),
    });
    let neighbors = state.bgp_neighbors(device_id);
    if let (Some(obj), false) = (obj.as_object_mut(), neighbors.is_empty()) {
        obj.insert("bgp_neighbors".to_owned(), Value::Array(neighbors));
    }
    obj
}
