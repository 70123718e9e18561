//! Manifests written for the Go provider (its cluster-template flavors and objects as its
//! controller stored them) parse into our types unchanged and serialise back without losing
//! or inventing a field. "Unchanged" is judged after the API server's defaulting with our
//! CRD schema (which the API server also applies to objects read from etcd), so a default
//! such as `vipManager: CPEM` is not counted as invented.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

use capp_api::{PacketCluster, PacketClusterTemplate, PacketMachine, PacketMachineTemplate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn documents(fixture: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Value {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| {
        panic!(
            "{} {} does not parse: {e}",
            doc["kind"], doc["metadata"]["name"]
        )
    });
    serde_json::to_value(&typed).expect("serialises")
}

/// Applies the schema's defaults the way the API server does (structural defaulting):
/// missing object properties with a `default` are filled in, recursively.
fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (name, prop) in props {
                    if let (false, Some(default)) = (map.contains_key(name), prop.get("default")) {
                        map.insert(name.clone(), default.clone());
                    }
                }
                for (name, v) in map.iter_mut() {
                    if let Some(prop) = props.get(name) {
                        apply_defaults(v, prop);
                    }
                }
            } else if schema["additionalProperties"].is_object() {
                for v in map.values_mut() {
                    apply_defaults(v, &schema["additionalProperties"]);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                apply_defaults(v, &schema["items"]);
            }
        }
        _ => {}
    }
}

fn schema_of(kind: &str) -> Value {
    capp_api::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .find(|c| c["spec"]["names"]["kind"] == kind)
        .map_or_else(
            || panic!("no CRD for {kind}"),
            |c| c["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
        )
}

/// Round-trips every Packet object of a fixture and returns how many there were.
fn assert_round_trips(fixture: &str) -> usize {
    let mut count = 0;
    for mut doc in documents(fixture) {
        if let Some(kind) = doc["kind"].as_str().filter(|k| k.starts_with("Packet")) {
            let schema = schema_of(kind);
            apply_defaults(&mut doc, &schema);
        }
        let back = match doc["kind"].as_str() {
            Some("PacketCluster") => round_trip::<PacketCluster>(&doc),
            Some("PacketMachine") => round_trip::<PacketMachine>(&doc),
            Some("PacketMachineTemplate") => round_trip::<PacketMachineTemplate>(&doc),
            Some("PacketClusterTemplate") => round_trip::<PacketClusterTemplate>(&doc),
            _ => continue,
        };
        count += 1;
        assert_eq!(
            back, doc,
            "{fixture}: {} {} changed",
            doc["kind"], doc["metadata"]["name"]
        );
    }
    count
}

#[test]
fn the_default_cluster_template_flavor_round_trips() {
    assert_eq!(assert_round_trips("cluster-template.yaml"), 3);
}

#[test]
fn kube_vip_emlb_facility_and_reservation_forms_round_trip() {
    assert_eq!(assert_round_trips("cluster-template-kube-vip-emlb.yaml"), 5);
}

#[test]
fn objects_stored_by_the_go_controller_round_trip_with_their_status() {
    assert_eq!(assert_round_trips("stored-objects.yaml"), 4);
}

#[test]
fn go_manifests_mean_the_same_thing_in_our_types() {
    let docs = documents("cluster-template-kube-vip-emlb.yaml");
    let edge: PacketCluster = serde_json::from_value(docs[0].clone()).unwrap();
    assert_eq!(
        edge.spec.vip_manager,
        capp_api::cluster::VipManager::KubeVip
    );
    let reserved: PacketMachineTemplate = serde_json::from_value(docs[3].clone()).unwrap();
    assert_eq!(
        reserved.spec.template.spec.hardware_reservation().unwrap(),
        Some(capp_api::machine::HardwareReservation::AnyOf(vec![
            "0b1c2d3e-aaaa-4bbb-8ccc-000000000001".into(),
            "0b1c2d3e-aaaa-4bbb-8ccc-000000000002".into(),
        ]))
    );
    let ipxe: PacketMachineTemplate = serde_json::from_value(docs[4].clone()).unwrap();
    assert_eq!(
        ipxe.spec.template.spec.tags.as_deref(),
        Some(&["team:a".into(), "env:prod".into()][..])
    );

    let stored = documents("stored-objects.yaml");
    let failed: PacketMachine = serde_json::from_value(stored[3].clone()).unwrap();
    assert!(failed.status.as_ref().unwrap().has_failed());
    assert_eq!(
        failed.device_id(),
        Some("1b2c3d4e-0000-4000-8000-000000000002")
    );
    let fresh: PacketCluster = serde_json::from_value(stored[1].clone()).unwrap();
    assert_eq!(
        fresh.control_plane_endpoint(),
        None,
        "Go's zero endpoint means unset"
    );
}

#[test]
fn a_manifest_missing_a_required_field_is_rejected_naming_it() {
    let err = serde_json::from_value::<PacketMachine>(serde_json::json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "PacketMachine",
        "metadata": {"name": "m"},
        "spec": {"os": "ubuntu_20_04"}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("machineType"), "{err}");
}
