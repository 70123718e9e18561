//! JSON renderings of the state, shaped by the spec's schemas. Absent values are omitted,
//! never `null` (the spec marks almost nothing nullable).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{
    BgpConfig, BgpSession, Device, DeviceState, HardwareReservation, IpAssignment, IpReservation,
    Project, SshKey, State, href, ts,
};
use crate::clock::elapsed;
use crate::ids::short_id;

/// The provisioning timeline of the real API (event type, text).
const PROVISIONING_EVENTS: [(&str, &str); 7] = [
    ("provisioning.101", "Provisioning started"),
    ("provisioning.102", "Network configured"),
    (
        "provisioning.103",
        "Configuration written, restarting device",
    ),
    ("provisioning.104", "Connected to magic install system"),
    ("provisioning.105", "Server partitions created"),
    ("provisioning.106", "Operating system packages installed"),
    (
        "provisioning.109",
        "Installation finished, rebooting server",
    ),
];

/// Which nested objects the caller asked to expand (`include=`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Include {
    names: Vec<String>,
}

impl Include {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self {
            names: raw
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|n| n == name || n.starts_with(&format!("{name}.")))
    }
}

fn insert_opt(obj: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        obj.insert(key.to_owned(), v);
    }
}

impl State {
    pub(crate) fn project_json(&self, p: &Project) -> Value {
        let mut devices: Vec<Value> = self
            .devices
            .values()
            .filter(|d| d.project_id == p.id)
            .map(|d| href("devices", &d.id))
            .collect();
        devices.truncate(1000);
        let keys: Vec<Value> = self
            .ssh_keys
            .values()
            .filter(|k| k.owner.is_project(&p.id))
            .map(|k| href("ssh-keys", &k.id))
            .collect();
        let mut obj = json!({
            "id": p.id,
            "name": p.name,
            "href": format!("/metal/v1/projects/{}", p.id),
            "created_at": ts(p.created_at),
            "updated_at": ts(p.created_at),
            "customdata": {},
            "devices": devices,
            "ssh_keys": keys,
            "members": [],
            "memberships": [],
            "invitations": [],
            "volumes": [],
            "network_status": {},
            "backend_transfer_enabled": false,
            "type": "default",
            "tags": [],
            "organization": {"href": "/metal/v1/organizations/00000000-0000-4000-8000-00000000c0de"},
        });
        if let (Some(obj), Some(cfg)) = (obj.as_object_mut(), self.bgp_configs.get(&p.id)) {
            obj.insert("bgp_config".to_owned(), href("bgp-configs", &cfg.id));
        }
        obj
    }

    /// Completed provisioning events out of [`PROVISIONING_EVENTS`], while provisioning.
    fn events_done(&self, d: &Device, now: Timestamp) -> Option<u32> {
        match d.state {
            DeviceState::Queued => Some(0),
            DeviceState::Provisioning => {
                // A stuck device hangs after "Connected to magic install system", as the
                // real ones typically did.
                if matches!(d.doom, crate::faults::Doom::Stuck) {
                    return Some(4);
                }
                let total = self.timings.provisioning.as_secs_f64();
                let spent = elapsed(d.phase_since, now).as_secs_f64();
                if total <= 0.0 {
                    return Some(0);
                }
                let fraction = (spent / total).min(1.0);
                Some(
                    (1..=6)
                        .rev()
                        .find(|n| fraction * 7.0 >= f64::from(*n))
                        .unwrap_or(0),
                )
            }
            _ => None,
        }
    }

    /// The real API reports completed events / 7 events as the percentage.
    fn provisioning_percentage(&self, d: &Device, now: Timestamp) -> Option<f64> {
        self.events_done(d, now)
            .map(|done| f64::from(done) * 100.0 / 7.0)
    }

    /// The provisioning timeline; events not reached yet have no id or time.
    fn provisioning_events(&self, d: &Device, now: Timestamp) -> Value {
        let Some(done) = self.events_done(d, now) else {
            return json!([]);
        };
        // "Provisioning started" is reached as soon as the device provisions.
        let reached = done.max(u32::from(d.state == DeviceState::Provisioning));
        let step = self.timings.provisioning / 7;
        let events: Vec<Value> = PROVISIONING_EVENTS
            .iter()
            .zip(0u32..)
            .map(|((kind, body), n)| {
                let mut event = json!({"type": kind, "body": body, "interpolated": body});
                if n < reached {
                    let at = d
                        .phase_since
                        .checked_add(jiff::SignedDuration::try_from(step * n).unwrap_or_default())
                        .unwrap_or(d.phase_since);
                    if let Some(obj) = event.as_object_mut() {
                        let id = crate::ids::stable_uuid(&format!("{}:{kind}", d.id));
                        obj.insert("href".into(), json!(format!("/metal/v1/events/{id}")));
                        obj.insert("id".into(), json!(id));
                        obj.insert("created_at".into(), json!(ts(at)));
                        obj.insert("state".into(), json!("success"));
                    }
                }
                event
            })
            .collect();
        Value::Array(events)
    }

    pub(crate) fn device_json(&self, d: &Device, include: &Include, now: Timestamp) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), json!(d.id));
        obj.insert("short_id".into(), json!(short_id(&d.id)));
        obj.insert("href".into(), json!(format!("/metal/v1/devices/{}", d.id)));
        obj.insert("hostname".into(), json!(d.hostname));
        insert_opt(
            &mut obj,
            "description",
            d.description.as_ref().map(|s| json!(s)),
        );
        obj.insert("state".into(), json!(d.state.as_str()));
        insert_opt(
            &mut obj,
            "provisioning_percentage",
            self.provisioning_percentage(d, now).map(|p| json!(p)),
        );
        obj.insert("created_at".into(), json!(ts(d.created_at)));
        obj.insert("updated_at".into(), json!(ts(d.updated_at)));
        obj.insert("locked".into(), json!(d.locked));
        obj.insert("billing_cycle".into(), json!(d.billing_cycle));
        obj.insert("always_pxe".into(), json!(d.always_pxe));
        insert_opt(
            &mut obj,
            "ipxe_script_url",
            d.ipxe_script_url.as_ref().map(|s| json!(s)),
        );
        obj.insert("spot_instance".into(), json!(d.spot_instance));
        insert_opt(
            &mut obj,
            "spot_price_max",
            d.spot_price_max.map(|p| json!(p)),
        );
        insert_opt(
            &mut obj,
            "termination_time",
            d.termination_time.as_ref().map(|t| json!(t)),
        );
        obj.insert("network_frozen".into(), json!(d.network_frozen));
        obj.insert("tags".into(), json!(d.tags));
        obj.insert("userdata".into(), json!(d.userdata));
        obj.insert("customdata".into(), Value::Object(d.customdata.clone()));
        obj.insert("user".into(), json!("root"));
        obj.insert(
            "iqn".into(),
            json!(format!("iqn.2026-01.net.packet:device.{}", short_id(&d.id))),
        );
        obj.insert("bonding_mode".into(), json!(4));
        obj.insert("switch_uuid".into(), json!(d.switch_uuid));
        obj.insert(
            "sos".into(),
            json!(format!(
                "{}@sos.{}.platformequinix.com",
                d.id, d.facility.code
            )),
        );
        if d.state == DeviceState::Active && elapsed(d.created_at, now).as_secs() < 86_400 {
            obj.insert("root_password".into(), json!(d.root_password));
        }
        obj.insert("operating_system".into(), d.os.to_json());
        obj.insert("plan".into(), d.plan.to_embedded_json());
        obj.insert("metro".into(), d.metro.to_json());
        obj.insert("facility".into(), d.facility.to_json());
        let project = if include.has("project") {
            self.projects
                .get(&d.project_id)
                .map_or_else(|| href("projects", &d.project_id), |p| self.project_json(p))
        } else {
            href("projects", &d.project_id)
        };
        obj.insert("project".into(), project);
        obj.insert("project_lite".into(), href("projects", &d.project_id));
        if let Some(hw) = &d.hardware_reservation {
            let value = match self.hardware_reservations.get(hw) {
                Some(h) if include.has("hardware_reservation") => {
                    Self::hardware_reservation_json(h)
                }
                _ => href("hardware-reservations", hw),
            };
            obj.insert("hardware_reservation".into(), value);
        }
        let addresses: Vec<Value> = self
            .device_assignments(&d.id)
            .map(Self::assignment_json)
            .collect();
        obj.insert("ip_addresses".into(), Value::Array(addresses));
        obj.insert("network_ports".into(), d.ports.clone());
        let keys: Vec<Value> = d.ssh_key_ids.iter().map(|k| href("ssh-keys", k)).collect();
        obj.insert("ssh_keys".into(), Value::Array(keys));
        obj.insert("volumes".into(), json!([]));
        obj.insert(
            "provisioning_events".into(),
            self.provisioning_events(d, now),
        );
        obj.insert("actions".into(), actions(d.state));
        Value::Object(obj)
    }

    /// A device's assignments, management first (public v4, public v6, private v4), then
    /// elastic ones by creation.
    pub(crate) fn device_assignments<'a>(
        &'a self,
        device_id: &'a str,
    ) -> impl Iterator<Item = &'a IpAssignment> + 'a {
        let device = self.devices.get(device_id);
        let management = device
            .into_iter()
            .flat_map(|d| d.management_ips.iter())
            .filter_map(|id| self.assignments.get(id));
        let mut elastic: Vec<&IpAssignment> = self
            .assignments
            .values()
            .filter(|a| a.device_id == device_id && !a.management)
            .collect();
        elastic.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        management.chain(elastic)
    }

    pub(crate) fn assignment_json(a: &IpAssignment) -> Value {
        let gateway = if a.block.cidr >= a.block.bits() - 1 || a.reservation_id.is_some() {
            a.parent.block.addr(0)
        } else {
            a.block.addr(1)
        };
        let address = if a.management && a.block.cidr < a.block.bits() {
            a.block.addr(1)
        } else {
            a.block.addr(0)
        };
        let mut obj = json!({
            "id": a.id,
            "href": format!("/metal/v1/ips/{}", a.id),
            "type": "IPAssignment",
            "address_family": a.block.family,
            "public": a.public,
            "management": a.management,
            "manageable": true,
            "enabled": true,
            "global_ip": a.global,
            "address": address,
            "network": a.block.addr(0),
            "netmask": a.block.netmask(),
            "cidr": a.block.cidr,
            "gateway": gateway,
            "created_at": ts(a.created_at),
            "assigned_to": href("devices", &a.device_id),
            "parent_block": {
                "network": a.parent.block.addr(0),
                "netmask": a.parent.block.netmask(),
                "cidr": a.parent.block.cidr,
                "href": format!("/metal/v1/ips/{}", a.parent.id),
            },
            "state": "active",
        });
        if let Some(obj) = obj.as_object_mut() {
            if let Some(m) = a.metro {
                obj.insert("metro".into(), m.to_json());
            }
            if !a.customdata.is_empty() {
                obj.insert("customdata".into(), Value::Object(a.customdata.clone()));
            }
        }
        obj
    }

    /// The `IPReservation` schema forbids unknown properties: only its listed keys appear.
    pub(crate) fn reservation_json(&self, r: &IpReservation, include: &Include) -> Value {
        let assignments: Vec<Value> = self
            .assignments
            .values()
            .filter(|a| a.reservation_id.as_deref() == Some(r.id.as_str()))
            .map(|a| {
                if include.has("assignments") {
                    Self::assignment_json(a)
                } else {
                    href("ips", &a.id)
                }
            })
            .collect();
        let available = if assignments.is_empty() {
            r.block.addr(0)
        } else {
            String::new()
        };
        let mut obj = Map::new();
        obj.insert("id".into(), json!(r.id));
        obj.insert("href".into(), json!(format!("/metal/v1/ips/{}", r.id)));
        obj.insert("type".into(), json!(r.kind.as_str()));
        obj.insert("address_family".into(), json!(r.kind.family()));
        obj.insert("public".into(), json!(r.kind.public()));
        obj.insert("global_ip".into(), json!(r.kind == super::IpKind::GlobalV4));
        obj.insert("management".into(), json!(false));
        obj.insert("manageable".into(), json!(true));
        obj.insert("enabled".into(), json!(true));
        obj.insert("addon".into(), json!(true));
        obj.insert("bill".into(), json!(true));
        obj.insert("address".into(), json!(r.block.addr(0)));
        obj.insert("network".into(), json!(r.block.addr(0)));
        obj.insert("gateway".into(), json!(r.block.addr(0)));
        obj.insert("netmask".into(), json!(r.block.netmask()));
        obj.insert("cidr".into(), json!(r.block.cidr));
        obj.insert(
            "state".into(),
            json!(if r.pending { "pending" } else { "created" }),
        );
        obj.insert("created_at".into(), json!(ts(r.created_at)));
        obj.insert("tags".into(), json!(r.tags));
        obj.insert("customdata".into(), Value::Object(r.customdata.clone()));
        insert_opt(&mut obj, "details", r.details.as_ref().map(|s| json!(s)));
        if !available.is_empty() {
            obj.insert(
                "available".into(),
                json!(format!("{available}/{}", r.block.cidr)),
            );
        }
        obj.insert("assignments".into(), Value::Array(assignments));
        obj.insert("project".into(), href("projects", &r.project_id));
        obj.insert("project_lite".into(), href("projects", &r.project_id));
        if let Some(m) = r.metro {
            obj.insert("metro".into(), m.to_json());
            if let Some(f) = crate::catalog::facilities_of(m.code).next() {
                obj.insert("facility".into(), f.to_json());
            }
        }
        Value::Object(obj)
    }

    pub(crate) fn bgp_config_json(&self, project_id: &str) -> Value {
        let Some(cfg) = self.bgp_configs.get(project_id) else {
            // "When BGP configuration is not enabled empty structure is returned."
            return json!({});
        };
        bgp_config_value(cfg, project_id, self)
    }

    pub(crate) fn bgp_session_json(&self, s: &BgpSession) -> Value {
        let status = match self.devices.get(&s.device_id).map(|d| d.state) {
            Some(DeviceState::Active) => "up,up",
            Some(DeviceState::Inactive | DeviceState::PoweringOff) => "down,down",
            _ => "unknown",
        };
        json!({
            "id": s.id,
            "href": format!("/metal/v1/bgp/sessions/{}", s.id),
            "address_family": s.family,
            "default_route": s.default_route,
            "device": href("devices", &s.device_id),
            "learned_routes": [],
            "status": status,
            "created_at": ts(s.created_at),
            "updated_at": ts(s.created_at),
        })
    }

    /// `BgpNeighborData` for each of a device's sessions.
    pub(crate) fn bgp_neighbors(&self, device_id: &str) -> Vec<Value> {
        let Some(device) = self.devices.get(device_id) else {
            return Vec::new();
        };
        let cfg = self.bgp_configs.get(&device.project_id);
        let asn = cfg.map_or(65000, |c| c.asn);
        let md5 = cfg.and_then(|c| c.md5.clone());
        let mut sessions: Vec<&BgpSession> = self
            .bgp_sessions
            .values()
            .filter(|s| s.device_id == device_id)
            .collect();
        sessions.sort_by(|a, b| a.family.cmp(&b.family));
        sessions
            .into_iter()
            .map(|s| {
                let v4 = s.family == "ipv4";
                let own = self.device_assignments(device_id).find(|a| {
                    a.management && a.block.family == if v4 { 4 } else { 6 } && a.public != v4
                });
                // A device that has no address of the family yet (still queued) gets neither
                // `customer_ip` nor a route: absent, never an empty string.
                let customer_ip = own.map(|a| {
                    if a.block.cidr < a.block.bits() {
                        a.block.addr(1)
                    } else {
                        a.block.addr(0)
                    }
                });
                let routes_in: Vec<Value> = own
                    .map(|a| json!({"route": format!("{}/{}", a.block.addr(0), a.block.cidr), "exact": true}))
                    .into_iter()
                    .collect();
                let peers = if v4 {
                    json!(["169.254.255.1", "169.254.255.2"])
                } else {
                    json!(["fc00::e", "fc00::f"])
                };
                let routes_out = if s.default_route {
                    json!([{"route": if v4 { "0.0.0.0/0" } else { "::/0" }, "exact": true}])
                } else {
                    json!([])
                };
                let mut obj = json!({
                    "address_family": if v4 { 4 } else { 6 },
                    "customer_as": asn,
                    "md5_enabled": md5.is_some(),
                    "multihop": v4,
                    "peer_as": 65530,
                    "peer_ips": peers,
                    "routes_in": routes_in,
                    "routes_out": routes_out,
                });
                if let Some(obj) = obj.as_object_mut() {
                    insert_opt(obj, "customer_ip", customer_ip.map(Value::from));
                    insert_opt(obj, "md5_password", md5.clone().map(Value::from));
                }
                obj
            })
            .collect()
    }

    pub(crate) fn ssh_key_json(k: &SshKey) -> Value {
        json!({
            "id": k.id,
            "href": format!("/metal/v1/ssh-keys/{}", k.id),
            "label": k.label,
            "key": k.key,
            "fingerprint": fingerprint(&k.key),
            "tags": k.tags,
            "entity": k.owner.entity(),
            "created_at": ts(k.created_at),
            "updated_at": ts(k.created_at),
        })
    }

    pub(crate) fn hardware_reservation_json(h: &HardwareReservation) -> Value {
        let mut obj = json!({
            "id": h.id,
            "short_id": short_id(&h.id),
            "href": format!("/metal/v1/hardware-reservations/{}", h.id),
            "created_at": ts(h.created_at),
            "custom_rate": h.plan.price_hour * 0.8,
            "facility": h.facility.to_json(),
            "plan": h.plan.to_embedded_json(),
            "project": href("projects", &h.project_id),
            "provisionable": h.device_id.is_none(),
            "spare": false,
            "need_of_service": false,
            "switch_uuid": short_id(&crate::ids::stable_uuid(&h.id)),
        });
        if let (Some(obj), Some(dev)) = (obj.as_object_mut(), &h.device_id) {
            obj.insert("device".into(), href("devices", dev));
        }
        obj
    }
}

fn bgp_config_value(cfg: &BgpConfig, project_id: &str, state: &State) -> Value {
    let sessions: Vec<Value> = state
        .bgp_sessions
        .values()
        .filter(|s| {
            state
                .devices
                .get(&s.device_id)
                .is_some_and(|d| d.project_id == project_id)
        })
        .map(|s| state.bgp_session_json(s))
        .collect();
    let mut obj = json!({
        "id": cfg.id,
        "href": format!("/metal/v1/bgp-configs/{}", cfg.id),
        "asn": cfg.asn,
        "deployment_type": cfg.deployment_type,
        "status": cfg.status,
        "max_prefix": 10,
        "ranges": [],
        "sessions": sessions,
        "project": href("projects", project_id),
        "created_at": ts(cfg.created_at),
        "requested_at": ts(cfg.created_at),
    });
    if let Some(obj) = obj.as_object_mut() {
        // `md5` is the one nullable field of the spec: the real API sent `null` when unset.
        obj.insert(
            "md5".into(),
            cfg.md5.as_ref().map_or(Value::Null, |m| json!(m)),
        );
        if let Some(u) = &cfg.use_case {
            obj.insert("route_object".into(), json!(u));
        }
    }
    obj
}

/// The bond and its two NICs, with stable ids and MACs derived from the device id.
pub(crate) fn network_ports(d: &Device) -> Value {
    let mac = |n: u8| {
        let h = crate::ids::stable_uuid(&format!("{}:{n}", d.id));
        format!("b8:ce:f6:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6])
    };
    let bond_id = crate::ids::stable_uuid(&format!("{}:bond0", d.id));
    json!([
        {
            "id": bond_id,
            "href": format!("/metal/v1/ports/{bond_id}"),
            "name": "bond0",
            "type": "NetworkBondPort",
            "network_type": "layer3",
            "data": {"bonded": true},
            "virtual_networks": [],
        },
        {
            "id": crate::ids::stable_uuid(&format!("{}:eth0", d.id)),
            "name": "eth0",
            "type": "NetworkPort",
            "data": {"bonded": true, "mac": mac(0)},
            "bond": {"id": bond_id, "name": "bond0"},
            "virtual_networks": [],
        },
        {
            "id": crate::ids::stable_uuid(&format!("{}:eth1", d.id)),
            "name": "eth1",
            "type": "NetworkPort",
            "data": {"bonded": true, "mac": mac(1)},
            "bond": {"id": bond_id, "name": "bond0"},
            "virtual_networks": [],
        },
    ])
}

pub(crate) fn interface_macs(d: &Device) -> [(String, String); 2] {
    let mac = |n: u8| {
        let h = crate::ids::stable_uuid(&format!("{}:{n}", d.id));
        format!("b8:ce:f6:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6])
    };
    [("eth0".to_owned(), mac(0)), ("eth1".to_owned(), mac(1))]
}

fn actions(state: DeviceState) -> Value {
    let list: &[(&str, &str)] = match state {
        DeviceState::Active => &[
            ("power_off", "Power Off"),
            ("reboot", "Reboot"),
            ("reinstall", "Reinstall"),
            ("rescue", "Rescue"),
        ],
        DeviceState::Inactive => &[("power_on", "Power On")],
        _ => &[],
    };
    Value::Array(
        list.iter()
            .map(|(t, n)| json!({"type": t, "name": n}))
            .collect(),
    )
}

/// An MD5-style colon-separated fingerprint (derived, not a real MD5: enough for identity).
fn fingerprint(key: &str) -> String {
    let h = crate::ids::stable_uuid(key).replace('-', "");
    h.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or("00"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_matches_names_and_dotted_prefixes() {
        let inc = Include::parse(Some("project, ip_addresses.parent_block"));
        assert!(inc.has("project"));
        assert!(inc.has("ip_addresses"));
        assert!(!inc.has("facility"));
    }
}
