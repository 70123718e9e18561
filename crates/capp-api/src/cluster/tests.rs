use capi_types::conditions::Conditions;
use serde_json::json;

use super::*;

fn cluster(spec: &serde_json::Value) -> PacketCluster {
    serde_json::from_value(json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "PacketCluster",
        "metadata": {"name": "prod", "namespace": "default",
                     "labels": {"cluster.x-k8s.io/cluster-name": "prod"}},
        "spec": spec.clone()
    }))
    .expect("valid PacketCluster")
}

#[test]
fn a_missing_vip_manager_defaults_to_cpem_like_the_go_provider() {
    let c = cluster(&json!({"projectID": "p", "metro": "da"}));
    assert_eq!(c.spec.vip_manager, VipManager::Cpem);
    assert!(c.spec.vip_manager.uses_elastic_ip());
    assert_eq!(c.spec.elastic_ip_reclaim_policy, ReclaimPolicy::Retain);
}

#[test]
fn vip_managers_use_the_go_wire_spelling() {
    for (wire, value) in [
        ("CPEM", VipManager::Cpem),
        ("KUBE_VIP", VipManager::KubeVip),
        ("EMLB", VipManager::Emlb),
    ] {
        let c = cluster(&json!({"projectID": "p", "vipManager": wire}));
        assert_eq!(c.spec.vip_manager, value);
        assert_eq!(value.as_str(), wire);
        assert_eq!(serde_json::to_value(&c.spec).unwrap()["vipManager"], wire);
    }
    assert!(!VipManager::Emlb.uses_elastic_ip());
}

#[test]
fn an_unknown_vip_manager_is_rejected_naming_the_allowed_values() {
    let err = serde_json::from_value::<PacketClusterSpec>(
        json!({"projectID": "p", "vipManager": "METALLB"}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("METALLB") && err.contains("KUBE_VIP"), "{err}");
}

#[test]
fn a_cluster_metro_is_its_single_control_plane_failure_domain() {
    let c = cluster(&json!({"projectID": "p", "metro": "da", "facility": "dc13"}));
    let fds = c.spec.desired_failure_domains();
    assert_eq!(fds.names().collect::<Vec<_>>(), ["da"]);
    let da = fds.get("da").unwrap();
    assert_eq!(da.control_plane, Some(true));
    assert_eq!(
        da.attributes.get(METRO_ATTRIBUTE).map(String::as_str),
        Some("da")
    );
}

#[test]
fn a_facility_only_cluster_gets_a_facility_failure_domain() {
    let c = cluster(&json!({"projectID": "p", "facility": "dc13"}));
    let fds = c.spec.desired_failure_domains();
    let dc13 = fds.get("dc13").unwrap();
    assert_eq!(
        dc13.attributes.get(FACILITY_ATTRIBUTE).map(String::as_str),
        Some("dc13")
    );
    assert!(!dc13.attributes.contains_key(METRO_ATTRIBUTE));
}

#[test]
fn listed_failure_domains_replace_the_cluster_location_and_keep_their_control_plane_flag() {
    let c = cluster(&json!({
        "projectID": "p", "metro": "da",
        "failureDomains": [{"name": "da"}, {"name": "sv", "controlPlane": false}]
    }));
    let fds = c.spec.desired_failure_domains();
    assert_eq!(fds.names().collect::<Vec<_>>(), ["da", "sv"]);
    assert_eq!(fds.control_plane_names().collect::<Vec<_>>(), ["da"]);
    assert_eq!(
        serde_json::to_value(&fds).unwrap(),
        json!({"da": {"controlPlane": true, "attributes": {"metro": "da"}},
               "sv": {"controlPlane": false, "attributes": {"metro": "sv"}}})
    );
}

#[test]
fn a_cluster_without_any_location_has_no_failure_domains() {
    let c = cluster(&json!({"projectID": "p", "metro": ""}));
    assert!(c.spec.desired_failure_domains().is_empty());
}

#[test]
fn provisioning_sets_both_contracts_and_initialization_never_goes_back() {
    let mut status = PacketClusterStatus::default();
    assert!(!status.is_provisioned());
    status.set_provisioned(false);
    assert_eq!(
        status.initialization.as_ref().unwrap().provisioned,
        Some(false)
    );
    status.set_provisioned(true);
    assert!(status.ready);
    assert_eq!(
        status.initialization.as_ref().unwrap().provisioned,
        Some(true)
    );
    status.set_provisioned(false);
    assert!(!status.ready);
    assert_eq!(
        status.initialization.as_ref().unwrap().provisioned,
        Some(true)
    );
    assert!(status.is_provisioned());
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!({"ready": false, "initialization": {"provisioned": true}})
    );
}

#[test]
fn a_v1beta2_only_status_counts_as_provisioned() {
    let mut c = cluster(&json!({"projectID": "p"}));
    assert!(!c.is_provisioned());
    c.status =
        Some(serde_json::from_value(json!({"initialization": {"provisioned": true}})).unwrap());
    assert!(c.is_provisioned());
}

#[test]
fn the_cluster_name_comes_from_the_cluster_api_label() {
    assert_eq!(
        cluster(&json!({"projectID": "p"})).cluster_name(),
        Some("prod")
    );
}

#[test]
fn only_a_usable_control_plane_endpoint_is_returned() {
    let unset =
        cluster(&json!({"projectID": "p", "controlPlaneEndpoint": {"host": "", "port": 0}}));
    assert_eq!(unset.control_plane_endpoint(), None);
    let set = cluster(
        &json!({"projectID": "p", "controlPlaneEndpoint": {"host": "1.2.3.4", "port": 6443}}),
    );
    assert_eq!(
        set.control_plane_endpoint()
            .map(ToString::to_string)
            .as_deref(),
        Some("1.2.3.4:6443")
    );
}

#[test]
fn credentials_default_to_the_api_key_entry() {
    let c = cluster(&json!({"projectID": "p", "credentialsRef": {"name": "metal"}}));
    let creds = c.spec.credentials_ref.unwrap();
    assert_eq!(creds.key_or_default(), "apiKey");
    let custom = CredentialsReference {
        name: "metal".into(),
        key: Some("token".into()),
    };
    assert_eq!(custom.key_or_default(), "token");
}

#[test]
fn the_status_conditions_work_with_the_capi_condition_helpers() {
    let status: PacketClusterStatus = serde_json::from_value(json!({
        "ready": true,
        "conditions": [{"type": "NetworkInfrastructureReady", "status": "True",
                        "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    }))
    .unwrap();
    assert!(status.is_true(crate::conditions::NETWORK_INFRASTRUCTURE_READY));
    assert!(status.is_unknown(crate::conditions::CREDENTIALS_AVAILABLE));
}
