use std::collections::BTreeSet;

use capi_types::conditions::Conditions;
use kube::CustomResourceExt;
use serde_json::json;

use super::*;

fn spec(extra: &serde_json::Value) -> PacketMachineSpec {
    let mut base = json!({"os": "ubuntu_24_04", "machineType": "c3.small.x86"});
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(base).expect("valid PacketMachineSpec")
}

fn machine(extra: &serde_json::Value) -> PacketMachine {
    PacketMachine::new("prod-cp-0", spec(extra))
}

fn cluster(spec: serde_json::Value, status: Option<serde_json::Value>) -> PacketCluster {
    let mut c = PacketCluster::new("prod", serde_json::from_value(spec).unwrap());
    c.status = status.map(|s| serde_json::from_value(s).unwrap());
    c
}

#[test]
fn a_single_reservation_id_is_used_as_is() {
    let s = spec(&json!({"hardwareReservationID": " 2f1c "}));
    assert_eq!(
        s.hardware_reservation(),
        Ok(Some(HardwareReservation::Id("2f1c".into())))
    );
}

#[test]
fn a_comma_separated_reservation_list_keeps_its_order() {
    let s = spec(&json!({"hardwareReservationID": "b2,a1 , c3"}));
    assert_eq!(
        s.hardware_reservation(),
        Ok(Some(HardwareReservation::AnyOf(vec![
            "b2".into(),
            "a1".into(),
            "c3".into()
        ])))
    );
}

#[test]
fn next_available_picks_any_reservation() {
    let s = spec(&json!({"hardwareReservationID": "next-available"}));
    assert_eq!(
        s.hardware_reservation(),
        Ok(Some(HardwareReservation::NextAvailable))
    );
}

#[test]
fn a_blank_or_missing_reservation_means_on_demand() {
    assert_eq!(spec(&json!({})).hardware_reservation(), Ok(None));
    assert_eq!(
        spec(&json!({"hardwareReservationID": "  "})).hardware_reservation(),
        Ok(None)
    );
}

#[test]
fn a_reservation_list_with_an_empty_entry_or_next_available_is_rejected_with_the_fix() {
    for bad in ["a1,,b2", "a1,", "a1,next-available"] {
        let err = spec(&json!({"hardwareReservationID": bad}))
            .hardware_reservation()
            .unwrap_err();
        assert_eq!(err, Error::InvalidHardwareReservation { value: bad.into() });
        let text = err.to_string();
        assert!(text.contains("spec.hardwareReservationID") && text.contains("next-available"));
    }
}

#[test]
fn the_device_id_is_read_from_both_provider_id_spellings() {
    let m = machine(&json!({"providerID": "equinixmetal://8d1a"}));
    assert_eq!(m.provider_id(), Some("equinixmetal://8d1a"));
    assert_eq!(m.device_id(), Some("8d1a"));
    let legacy = machine(&json!({"providerID": "packet://8d1a"}));
    assert_eq!(legacy.device_id(), Some("8d1a"));
    let parsed = legacy.parsed_provider_id().unwrap().unwrap();
    assert!(parsed.is_legacy());
    assert_eq!(parsed.to_string(), "packet://8d1a");
}

#[test]
fn the_device_id_accessor_agrees_with_the_provider_id_parser() {
    for value in [
        "equinixmetal://8d1a",
        "packet://8d1a",
        "equinixmetal:///8d1a",
        "equinixmetal://region/8d1a",
        "equinixmetal://",
        "equinixmetal://a/",
        "equinixmetal://a b",
        "aws:///i-123",
        "8d1a",
    ] {
        let m = machine(&json!({"providerID": value}));
        let parsed = value.parse::<ProviderId>().ok();
        assert_eq!(
            m.device_id(),
            parsed.as_ref().map(ProviderId::device_id),
            "{value:?}"
        );
        assert_eq!(m.parsed_provider_id().unwrap().ok(), parsed, "{value:?}");
    }
}

#[test]
fn a_malformed_or_missing_provider_id_has_no_device_id() {
    assert_eq!(machine(&json!({})).device_id(), None);
    assert_eq!(machine(&json!({})).parsed_provider_id(), None);
    assert_eq!(machine(&json!({"providerID": ""})).provider_id(), None);
    for bad in [
        "aws:///i-123",
        "equinixmetal://",
        "equinixmetal://a/",
        "equinixmetal://a b",
        "8d1a",
    ] {
        let m = machine(&json!({"providerID": bad}));
        assert_eq!(m.device_id(), None, "{bad}");
        let err = m.parsed_provider_id().unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidProviderId { value, .. } if value == bad),
            "{err}"
        );
    }
}

#[test]
fn a_machine_location_overrides_both_cluster_values() {
    let c = cluster(
        json!({"projectID": "p", "metro": "da", "facility": "dc13"}),
        None,
    );
    let s = spec(&json!({"metro": "sv"}));
    assert_eq!(
        s.location(&c, Some("da")),
        Location {
            metro: Some("sv"),
            facility: None
        }
    );
    let s = spec(&json!({"facility": "sv15"}));
    assert_eq!(
        s.location(&c, None),
        Location {
            metro: None,
            facility: Some("sv15")
        }
    );
}

#[test]
fn a_failure_domain_listed_in_the_cluster_spec_decides_the_metro() {
    let c = cluster(
        json!({"projectID": "p", "metro": "da",
               "failureDomains": [{"name": "da"}, {"name": "sv"}, {"name": "dc13", "facility": true}]}),
        None,
    );
    let s = spec(&json!({}));
    assert_eq!(
        s.location(&c, Some("sv")),
        Location {
            metro: Some("sv"),
            facility: None
        }
    );
    assert_eq!(
        s.location(&c, Some("dc13")),
        Location {
            metro: None,
            facility: Some("dc13")
        }
    );
}

#[test]
fn a_failure_domain_known_only_from_status_is_honoured() {
    let c = cluster(
        json!({"projectID": "p", "metro": "da"}),
        Some(json!({"failureDomains": {"ny5": {"attributes": {"facility": "ny5"}}}})),
    );
    assert_eq!(
        spec(&json!({})).location(&c, Some("ny5")),
        Location {
            metro: None,
            facility: Some("ny5")
        }
    );
}

#[test]
fn an_unknown_failure_domain_falls_back_to_the_cluster_location() {
    let c = cluster(json!({"projectID": "p", "metro": "da"}), None);
    assert_eq!(
        spec(&json!({})).location(&c, Some("am")),
        Location {
            metro: Some("da"),
            facility: None
        }
    );
}

#[test]
fn provisioning_sets_both_contracts_and_failures_are_visible() {
    let mut status = PacketMachineStatus::default();
    status.set_provisioned(true);
    status.set_provisioned(false);
    assert!(!status.ready);
    assert!(
        status.is_provisioned(),
        "initialization.provisioned never goes back"
    );
    assert!(!status.has_failed());
    status.failure_reason = Some("CreateError".into());
    assert!(status.has_failed());
}

#[test]
fn status_round_trips_go_provider_fields() {
    let wire = json!({
        "ready": true,
        "addresses": [{"type": "ExternalIP", "address": "147.75.1.2"},
                      {"type": "InternalIP", "address": "10.0.0.3"}],
        "instanceStatus": "active",
        "conditions": [{"type": "InstanceReady", "status": "True",
                        "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    });
    let status: PacketMachineStatus = serde_json::from_value(wire.clone()).unwrap();
    assert!(status.is_true(crate::conditions::INSTANCE_READY));
    assert_eq!(serde_json::to_value(&status).unwrap(), wire);
    let mut m = machine(&json!({}));
    m.status = Some(status);
    assert_eq!(m.instance_status(), Some(INSTANCE_STATUS_ACTIVE));
}

/// Property names of `spec` in the generated PacketMachine schema.
fn spec_properties() -> BTreeSet<String> {
    let crd = serde_json::to_value(PacketMachine::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_immutability_rule_covers_every_spec_field_except_the_mutable_four() {
    let mutable = ["providerID", "tags", "facility", "metro"];
    let props = spec_properties();
    assert!(props.len() > mutable.len());
    for name in &props {
        let guarded = IMMUTABLE_SPEC_RULE.contains(&format!("self.{name} == oldSelf.{name}"));
        assert_eq!(guarded, !mutable.contains(&name.as_str()), "field {name}");
    }
}

#[test]
fn the_immutability_rule_is_attached_to_the_spec_with_its_message() {
    let crd = serde_json::to_value(PacketMachine::crd()).unwrap();
    let rules = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"];
    assert_eq!(
        rules,
        &json!([{"rule": IMMUTABLE_SPEC_RULE, "message": IMMUTABLE_SPEC_MESSAGE}])
    );
}
