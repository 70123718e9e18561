//! The v1beta1 ↔ v1beta2 field mapping as the v1beta2 contract defines it, the
//! conversion-data annotation, and the `ConversionReview` handler.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

use capp_api::conversion::DATA_ANNOTATION;
use capp_api::conversion::review::{convert_object, review};
use capp_api::{PacketCluster, PacketMachine, v1beta2};
use proptest::prelude::*;
use serde_json::{Value, json};

const V1: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
const V2: &str = "infrastructure.cluster.x-k8s.io/v1beta2";

fn condition(type_: &str, severity: Option<&str>) -> Value {
    let mut c = json!({"type": type_, "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": "InstanceNotReady", "message": "device is provisioning"});
    if let Some(s) = severity {
        c["severity"] = json!(s);
    }
    c
}

fn go_provider_cluster() -> PacketCluster {
    // What the Go provider (v1beta1 contract only) writes: `ready`, a failure domain map,
    // conditions with severity, a terminal failure.
    serde_json::from_value(json!({
        "apiVersion": V1, "kind": "PacketCluster",
        "metadata": {"name": "prod", "namespace": "default"},
        "spec": {"projectID": "p", "metro": "da"},
        "status": {
            "ready": true,
            "failureDomains": {"sv": {"controlPlane": false, "attributes": {"metro": "sv"}},
                               "da": {"controlPlane": true, "attributes": {"metro": "da"}}},
            "conditions": [condition("NetworkInfrastructureReady", Some("Warning"))],
            "failureReason": "CreateError",
            "failureMessage": "no Elastic IP left",
            "v1beta2": {"conditions": [condition("Ready", None)]}
        }
    }))
    .unwrap()
}

#[test]
fn a_v1beta1_cluster_reads_as_the_v1beta2_contract_shape() {
    let v2 = v1beta2::PacketCluster::try_from(&go_provider_cluster()).unwrap();
    let json = serde_json::to_value(&v2).unwrap();
    assert_eq!(json["apiVersion"], V2);
    assert_eq!(
        json["spec"],
        json!({"projectID": "p", "metro": "da",
        "vipManager": "CPEM", "elasticIPReclaimPolicy": "Retain"})
    );
    assert_eq!(
        json["status"],
        json!({
            "initialization": {"provisioned": true},
            "failureDomains": [
                {"name": "da", "controlPlane": true, "attributes": {"metro": "da"}},
                {"name": "sv", "controlPlane": false, "attributes": {"metro": "sv"}}
            ],
            "conditions": [condition("Ready", None)],
            "deprecated": {"v1beta1": {
                "conditions": [condition("NetworkInfrastructureReady", Some("Warning"))],
                "failureReason": "CreateError",
                "failureMessage": "no Elastic IP left"
            }}
        })
    );
    // `initialization` was absent in v1beta1: v1beta2 cannot tell, so it is saved.
    assert!(v2.metadata.annotations.unwrap()[DATA_ANNOTATION].contains("initialization"));
}

#[test]
fn a_consistent_object_needs_no_annotation() {
    let mut cluster = go_provider_cluster();
    cluster.status.as_mut().unwrap().set_provisioned(true);
    let v2 = v1beta2::PacketCluster::try_from(&cluster).unwrap();
    assert_eq!(v2.metadata.annotations, None);
    let back = PacketCluster::try_from(&v2).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&cluster).unwrap()
    );
}

#[test]
fn readiness_lost_after_provisioning_survives_the_trip_through_v1beta2() {
    let mut machine = new_machine("m0");
    let status = machine.status.get_or_insert_with(Default::default);
    status.set_provisioned(true);
    status.set_provisioned(false); // device powered off: ready false, provisioned stays true
    let v2 = v1beta2::PacketMachine::try_from(&machine).unwrap();
    assert!(v2.is_provisioned());
    let saved: Value =
        serde_json::from_str(&v2.metadata.annotations.as_ref().unwrap()[DATA_ANNOTATION]).unwrap();
    assert_eq!(
        saved,
        json!([{"path": ["status", "ready"], "value": false, "converted": true}])
    );
    let back = PacketMachine::try_from(&v2).unwrap();
    assert!(!back.status.as_ref().unwrap().ready);
    assert_eq!(back.metadata.annotations, None);
}

#[test]
fn provider_id_is_a_plain_string_in_v1beta2() {
    let mut machine = new_machine("m0");
    machine.spec.provider_id = Some("equinixmetal://1b2c3d4e-0000-4000-8000-000000000001".into());
    let v2 = v1beta2::PacketMachine::try_from(&machine).unwrap();
    assert_eq!(
        v2.provider_id(),
        Some("equinixmetal://1b2c3d4e-0000-4000-8000-000000000001")
    );
    machine.spec.provider_id = None;
    let v2 = v1beta2::PacketMachine::try_from(&machine).unwrap();
    assert_eq!(
        serde_json::to_value(&v2).unwrap()["spec"].get("providerID"),
        None
    );
}

#[test]
fn a_client_change_made_in_the_other_version_wins_over_the_saved_value() {
    // v1beta2 list order is saved when read as v1beta1 ...
    let mut v2: v1beta2::PacketCluster = serde_json::from_value(json!({
        "apiVersion": V2, "kind": "PacketCluster", "metadata": {"name": "prod"},
        "spec": {"projectID": "p"},
        "status": {"failureDomains": [{"name": "sv"}, {"name": "da"}]}
    }))
    .unwrap();
    let mut v1 = PacketCluster::try_from(&v2).unwrap();
    assert!(v1.metadata.annotations.as_ref().unwrap()[DATA_ANNOTATION].contains("failureDomains"));
    // ... and put back when nothing changed ...
    let same = v1beta2::PacketCluster::try_from(&v1).unwrap();
    assert_eq!(
        serde_json::to_value(&same).unwrap(),
        serde_json::to_value(&v2).unwrap()
    );
    // ... but a v1beta1 client that rewrites the map is not overruled by the stale order.
    let fds = v1
        .status
        .as_mut()
        .unwrap()
        .failure_domains
        .as_mut()
        .unwrap();
    fds.0.clear();
    fds.insert(
        "ny",
        capi_types::failure_domains::FailureDomainSpec::default(),
    );
    v2 = v1beta2::PacketCluster::try_from(&v1).unwrap();
    let names: Vec<&str> = v2
        .status
        .as_ref()
        .unwrap()
        .failure_domains
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["ny"]);
    assert_eq!(v2.metadata.annotations, None);
}

#[test]
fn a_broken_annotation_is_an_error_that_names_it_and_the_fix() {
    let mut cluster = go_provider_cluster();
    cluster
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(DATA_ANNOTATION.into(), "{not json".into());
    let err = v1beta2::PacketCluster::try_from(&cluster)
        .unwrap_err()
        .to_string();
    assert!(err.contains("PacketCluster \"prod\""), "{err}");
    assert!(err.contains(DATA_ANNOTATION), "{err}");
    assert!(err.contains("remove the annotation"), "{err}");

    cluster.metadata.annotations.as_mut().unwrap().insert(
        DATA_ANNOTATION.into(),
        r#"[{"path":["status","failureDomains"],"value":"not a map"}]"#.into(),
    );
    cluster.status.as_mut().unwrap().failure_domains = None;
    let err = v1beta2::PacketCluster::try_from(&cluster)
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not fit"), "{err}");
}

// ---- ConversionReview ----

fn review_of(desired: &str, objects: &[Value]) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": {"uid": "6f8f4b1e-1234", "desiredAPIVersion": desired, "objects": objects}
    })
}

fn answer(body: &Value) -> Value {
    serde_json::from_slice(&review(body.to_string().as_bytes())).unwrap()
}

fn machine_json(version: &str) -> Value {
    let mut m = json!({
        "apiVersion": version, "kind": "PacketMachine",
        "metadata": {"name": "m0", "namespace": "default", "uid": "u-1",
            "creationTimestamp": "2026-12-02T10:00:00Z", "resourceVersion": "42",
            "annotations": {"team": "infra"}},
        "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86",
            "providerID": "equinixmetal://1b2c3d4e-0000-4000-8000-000000000001"},
    });
    m["status"] = if version == V1 {
        json!({"ready": true, "initialization": {"provisioned": true}, "instanceStatus": "active"})
    } else {
        json!({"initialization": {"provisioned": true}, "instanceStatus": "active"})
    };
    m
}

#[test]
fn the_review_converts_every_object_both_ways_and_keeps_uid_order_and_metadata() {
    let template = json!({"apiVersion": V1, "kind": "PacketMachineTemplate",
        "metadata": {"name": "t"},
        "spec": {"template": {"spec": {"os": "flatcar_stable", "machineType": "m3.small.x86"}}}});
    let up = answer(&review_of(
        V2,
        &[machine_json(V1), template, machine_json(V2)],
    ));
    let response = &up["response"];
    assert_eq!(up["kind"], "ConversionReview");
    assert_eq!(up["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(response["uid"], "6f8f4b1e-1234");
    assert_eq!(response["result"]["status"], "Success");
    let objects = response["convertedObjects"].as_array().unwrap();
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[0], machine_json(V2));
    assert_eq!(objects[1]["kind"], "PacketMachineTemplate");
    assert_eq!(objects[1]["apiVersion"], V2);
    assert_eq!(objects[2], machine_json(V2), "already v1beta2: unchanged");

    let down = answer(&review_of(V1, &[machine_json(V2)]));
    assert_eq!(down["response"]["convertedObjects"][0], machine_json(V1));
}

#[test]
fn the_review_fails_with_a_clear_message_on_bad_objects_and_converts_none() {
    let cases = [
        (
            json!({"apiVersion": V1, "kind": "Secret", "metadata": {"name": "s"}}),
            "kind \"Secret\"",
        ),
        (
            json!({"apiVersion": "v1", "kind": "PacketMachine", "metadata": {"name": "m"}}),
            "cannot convert apiVersion \"v1\"",
        ),
        (
            json!({"apiVersion": V1, "kind": "PacketMachine", "metadata": {"name": "m"},
                "spec": {"os": 7, "machineType": "x"}}),
            "does not parse",
        ),
        (
            json!({"apiVersion": V1, "kind": "PacketCluster", "metadata": {"name": "c",
                "annotations": {DATA_ANNOTATION: "[1]"}}, "spec": {"projectID": "p"}}),
            DATA_ANNOTATION,
        ),
    ];
    for (object, expected) in cases {
        let out = answer(&review_of(V2, &[machine_json(V1), object]));
        let response = &out["response"];
        assert_eq!(response["uid"], "6f8f4b1e-1234");
        assert_eq!(response["result"]["status"], "Failure");
        let message = response["result"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        assert_eq!(response["convertedObjects"], json!([]));
    }
}

#[test]
fn a_body_that_is_not_a_review_gets_a_failure_not_a_panic() {
    for body in [
        &b"not json"[..],
        b"{}",
        br#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview"}"#,
    ] {
        let out: Value = serde_json::from_slice(&review(body)).unwrap();
        assert_eq!(out["response"]["result"]["status"], "Failure", "{out}");
    }
}

#[test]
fn a_review_whose_objects_do_not_parse_still_echoes_the_uid() {
    let body = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": {"uid": "u-7", "desiredAPIVersion": V2, "objects": "not a list"}});
    let out = answer(&body);
    assert_eq!(out["response"]["uid"], "u-7");
    assert_eq!(out["response"]["result"]["status"], "Failure");
    assert!(
        out["response"]["result"]["message"]
            .as_str()
            .unwrap()
            .contains("not a ConversionReview")
    );
}

#[test]
fn convert_object_keeps_the_sent_metadata_verbatim() {
    let mut object = machine_json(V1);
    object["metadata"]["creationTimestamp"] = json!("2026-12-02T10:00:00.000Z");
    object["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Apply",
        "apiVersion": V1, "time": "2026-12-02T10:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {}}}]);
    let out = convert_object(&object, V2).unwrap();
    assert_eq!(out["metadata"], object["metadata"]);
}

proptest! {
    #[test]
    fn the_review_never_panics_on_any_json(objects in prop::collection::vec(
        prop_oneof![
            Just(machine_json(V1)),
            Just(json!(null)),
            Just(json!({"apiVersion": V1, "kind": "PacketCluster", "spec": null, "status": "x"})),
            Just(json!({"apiVersion": V2, "kind": "PacketClusterTemplate", "spec": {"template": 3}})),
            any::<i64>().prop_map(|n| json!({"apiVersion": V1, "kind": "PacketMachine",
                "metadata": {"name": n, "annotations": {DATA_ANNOTATION: n.to_string()}}})),
        ],
        0..4,
    ), desired in prop::sample::select(vec![V1, V2, "v1", ""])) {
        let out: Value = serde_json::from_slice(&review(review_of(desired, &objects).to_string().as_bytes())).unwrap();
        prop_assert_eq!(&out["response"]["uid"], "6f8f4b1e-1234");
    }
}

fn new_machine(name: &str) -> PacketMachine {
    serde_json::from_value(json!({"apiVersion": V1, "kind": "PacketMachine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86"}}))
    .unwrap()
}
