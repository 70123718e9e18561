//! Manifests written for the Go provider (its cluster-template flavors and objects as its
//! controller stored them) are valid for the Go CRDs, are admitted by OUR generated CRDs
//! (capp-testenv's admission: defaulting, pruning, OpenAPI and CEL validation, as the API
//! server does it) without a field being pruned, and parse into our types and serialise back
//! without losing or inventing a field. "Unchanged" is judged on the admitted object, so a
//! default such as `vipManager: CPEM` is not counted as invented.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

#[path = "support/shared.rs"]
mod shared;

use capp_api::{PacketCluster, PacketClusterTemplate, PacketMachine, PacketMachineTemplate};
use capp_testenv::schema::CrdSchema;
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

/// Admits `doc` with our CRD schema as the API server would on create: defaults applied,
/// unknown fields pruned (reported), OpenAPI and CEL validation. Returns the stored object.
fn admit_with_our_crd(doc: &Value) -> Value {
    let kind = doc["kind"].as_str().unwrap();
    let schema = CrdSchema::compile(&schema_of(kind))
        .unwrap_or_else(|causes| panic!("our {kind} schema does not compile: {causes:?}"));
    let mut stored = doc.clone();
    let admitted = schema.admit(&mut stored, None).unwrap_or_else(|causes| {
        let causes: Vec<String> = causes.iter().map(ToString::to_string).collect();
        panic!(
            "{kind} {} is rejected by our CRD: {causes:#?}",
            doc["metadata"]["name"]
        )
    });
    assert!(
        admitted.pruned.is_empty(),
        "{kind} {}: our CRD would silently drop {:?}",
        doc["metadata"]["name"],
        admitted.pruned
    );
    // An update that changes nothing passes every transition rule (immutability).
    let mut again = stored.clone();
    schema
        .admit(&mut again, Some(&stored))
        .unwrap_or_else(|causes| panic!("{kind}: a no-op update is rejected: {causes:?}"));
    stored
}

/// Admits every Packet object of a fixture with our CRDs, round-trips the stored object
/// through our types and returns how many objects there were. Also checks each object
/// against the Go provider's CRD, which shows the fixture is a valid Go manifest.
fn assert_round_trips(fixture: &str) -> usize {
    let mut count = 0;
    for doc in documents(fixture) {
        let Some(kind) = doc["kind"].as_str().filter(|k| k.starts_with("Packet")) else {
            continue;
        };
        if let Some(go) = go_schema(kind) {
            let mut as_go_stored = doc.clone();
            if let Err(causes) = go.admit(&mut as_go_stored, None) {
                panic!("{fixture}: {kind} is not valid for the Go CRD: {causes:?}");
            }
        }
        let stored = admit_with_our_crd(&doc);
        let back = match kind {
            "PacketCluster" => round_trip::<PacketCluster>(&stored),
            "PacketMachine" => round_trip::<PacketMachine>(&stored),
            "PacketMachineTemplate" => round_trip::<PacketMachineTemplate>(&stored),
            "PacketClusterTemplate" => round_trip::<PacketClusterTemplate>(&stored),
            other => panic!("{fixture}: unexpected kind {other}"),
        };
        count += 1;
        assert_eq!(
            back, stored,
            "{fixture}: {} {} changed",
            doc["kind"], doc["metadata"]["name"]
        );
    }
    count
}

/// The Go provider's CRD schema for `kind` (PacketClusterTemplate has none), or `None` when
/// `../shared` is missing outside CI.
fn go_schema(kind: &str) -> Option<CrdSchema> {
    let file = match kind {
        "PacketCluster" => "infrastructure.cluster.x-k8s.io_packetclusters.yaml",
        "PacketMachine" => "infrastructure.cluster.x-k8s.io_packetmachines.yaml",
        "PacketMachineTemplate" => "infrastructure.cluster.x-k8s.io_packetmachinetemplates.yaml",
        _ => return None,
    };
    let dir = shared::specs_dir("capp-v0.9.0")?;
    let text = std::fs::read_to_string(dir.join(file)).expect("Go CRD readable");
    let crd: Value = serde_saphyr::from_str(&text).expect("Go CRD is YAML");
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1beta1")
        .expect("Go CRD serves v1beta1");
    Some(
        CrdSchema::compile(&version["schema"]["openAPIV3Schema"])
            .unwrap_or_else(|causes| panic!("Go {kind} schema: {causes:?}")),
    )
}

#[test]
fn the_default_cluster_template_flavor_round_trips() {
    assert_eq!(assert_round_trips("cluster-template.yaml"), 3);
}

#[test]
fn kube_vip_emlb_facility_and_reservation_forms_round_trip() {
    assert_eq!(assert_round_trips("cluster-template-kube-vip-emlb.yaml"), 6);
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

    let pinned: PacketMachineTemplate = serde_json::from_value(docs[5].clone()).unwrap();
    let spec = &pinned.spec.template.spec;
    assert_eq!(
        spec.hardware_reservation().unwrap(),
        Some(capp_api::machine::HardwareReservation::Id(
            "0b1c2d3e-aaaa-4bbb-8ccc-000000000003".into()
        ))
    );
    assert_eq!(spec.ssh_keys.as_ref().map(Vec::len), Some(2));
    assert_eq!(spec.facility.as_deref(), Some("ny5"));
    assert_eq!(spec.billing_cycle.as_deref(), Some("hourly"));

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

fn spec_of<K>(object: &Value) -> Result<K::Spec, serde_json::Error>
where
    K: DeserializeOwned + kube::core::object::HasSpec,
    K::Spec: Clone,
{
    serde_json::from_value::<K>(object.clone()).map(|k| k.spec().clone())
}

/// Whether `object` parses as `K` with the zero (default) spec.
fn zero_spec<K>(object: &Value) -> Result<bool, serde_json::Error>
where
    K: DeserializeOwned + kube::core::object::HasSpec,
    K::Spec: Clone + Default + PartialEq,
{
    spec_of::<K>(object).map(|spec| spec == K::Spec::default())
}

#[test]
fn objects_without_a_spec_are_admitted_and_parse_as_the_zero_spec() {
    // Neither the Go CRDs nor ours require `spec`; objects stored without one (or with
    // `spec: null`) must still be readable, as the zero value, as Go reads them.
    for kind in [
        "PacketCluster",
        "PacketMachine",
        "PacketMachineTemplate",
        "PacketClusterTemplate",
    ] {
        let bare = serde_json::json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": kind,
            "metadata": {"name": "bare", "namespace": "default"},
        });
        if let Some(go) = go_schema(kind) {
            go.admit(&mut bare.clone(), None)
                .unwrap_or_else(|c| panic!("Go {kind}: {c:?}"));
        }
        let stored = admit_with_our_crd(&bare);
        let mut null_spec = bare.clone();
        null_spec["spec"] = Value::Null;
        for object in [&stored, &null_spec] {
            let is_zero = match kind {
                "PacketCluster" => zero_spec::<PacketCluster>(object),
                "PacketMachine" => zero_spec::<PacketMachine>(object),
                "PacketMachineTemplate" => zero_spec::<PacketMachineTemplate>(object),
                _ => zero_spec::<PacketClusterTemplate>(object),
            };
            assert!(
                is_zero.unwrap_or_else(|e| panic!("{kind} {object}: {e}")),
                "{kind}"
            );
        }
    }
    let mut wrong = serde_json::json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "PacketMachine",
        "metadata": {"name": "m"},
    });
    wrong["spec"] = serde_json::json!("not an object");
    assert!(spec_of::<PacketMachine>(&wrong).is_err());
}
