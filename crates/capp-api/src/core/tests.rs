//! The same Cluster and Machine in both core versions must give the same view. The objects
//! follow upstream shapes: v1beta1 as Cluster API v1.10 stores them (`api/v1beta1`), v1beta2
//! as in `test/e2e/data/infrastructure-docker/main/bases/cluster-with-kcp.yaml` and
//! `api/core/v1beta2/{cluster,machine}_types.go` of v1.11+.

use capi_types::owner::owner_cluster;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::*;

fn metadata(name: &str, extra: &Value) -> Value {
    let mut meta = json!({
        "name": name,
        "namespace": "default",
        "uid": "6b1c3e0a-0000-4000-8000-000000000001",
        "labels": {"cni": "prod-crs-0"},
        "annotations": {"note": "x"},
    });
    meta.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    meta
}

fn cluster_v1beta1() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": metadata("prod", &json!({"deletionTimestamp": "2026-12-01T10:00:00Z", "finalizers": ["cluster.cluster.x-k8s.io"]})),
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
            "controlPlaneEndpoint": {"host": "147.75.80.10", "port": 6443},
            "controlPlaneRef": {
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                "kind": "KubeadmControlPlane",
                "name": "prod-control-plane",
                "namespace": "default"
            },
            "infrastructureRef": {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "PacketCluster",
                "name": "prod",
                "namespace": "default"
            }
        },
        "status": {
            "infrastructureReady": true,
            "controlPlaneReady": false,
            "conditions": [
                {"type": "ControlPlaneInitialized", "status": "True", "lastTransitionTime": "2026-12-01T09:00:00Z"},
                {"type": "Ready", "status": "False", "severity": "Warning", "reason": "ScalingUp", "lastTransitionTime": "2026-12-01T09:00:00Z"}
            ],
            "phase": "Provisioned",
            "v1beta2": {"conditions": []}
        }
    })
}

fn cluster_v1beta2() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": metadata("prod", &json!({"deletionTimestamp": "2026-12-01T10:00:00Z", "finalizers": ["cluster.cluster.x-k8s.io"]})),
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
            "controlPlaneEndpoint": {"host": "147.75.80.10", "port": 6443},
            "infrastructureRef": {
                "apiGroup": "infrastructure.cluster.x-k8s.io",
                "kind": "PacketCluster",
                "name": "prod"
            },
            "controlPlaneRef": {
                "kind": "KubeadmControlPlane",
                "apiGroup": "controlplane.cluster.x-k8s.io",
                "name": "prod-control-plane"
            }
        },
        "status": {
            "initialization": {"infrastructureProvisioned": true, "controlPlaneInitialized": true},
            "conditions": [{"type": "Available", "status": "False", "reason": "NotAvailable", "lastTransitionTime": "2026-12-01T09:00:00Z", "message": ""}],
            "phase": "Provisioned",
            "deprecated": {"v1beta1": {"conditions": []}}
        }
    })
}

fn machine_v1beta1() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Machine",
        "metadata": metadata("prod-cp-abcde", &json!({
            "labels": {"cluster.x-k8s.io/cluster-name": "prod", "cluster.x-k8s.io/control-plane": ""},
            "ownerReferences": [{
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane",
                "name": "prod-control-plane", "uid": "1a", "controller": true
            }]
        })),
        "spec": {
            "clusterName": "prod",
            "bootstrap": {
                "configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig", "name": "prod-cp-abcde"},
                "dataSecretName": "prod-cp-abcde"
            },
            "infrastructureRef": {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "PacketMachine",
                "name": "prod-cp-abcde",
                "namespace": "default"
            },
            "version": "v1.32.3",
            "providerID": "equinixmetal://8a2c3f4e-1b2d-4c6e-9f00-112233445566",
            "failureDomain": "da",
            "nodeDrainTimeout": "10s"
        },
        "status": {"bootstrapReady": true, "infrastructureReady": false, "phase": "Provisioning"}
    })
}

fn machine_v1beta2() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Machine",
        "metadata": metadata("prod-cp-abcde", &json!({
            "labels": {"cluster.x-k8s.io/cluster-name": "prod", "cluster.x-k8s.io/control-plane": ""},
            "ownerReferences": [{
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
                "name": "prod-control-plane", "uid": "1a", "controller": true
            }]
        })),
        "spec": {
            "clusterName": "prod",
            "bootstrap": {
                "configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfig", "name": "prod-cp-abcde"},
                "dataSecretName": "prod-cp-abcde"
            },
            "infrastructureRef": {
                "apiGroup": "infrastructure.cluster.x-k8s.io",
                "kind": "PacketMachine",
                "name": "prod-cp-abcde"
            },
            "version": "v1.32.3",
            "providerID": "equinixmetal://8a2c3f4e-1b2d-4c6e-9f00-112233445566",
            "failureDomain": "da",
            "deletion": {"nodeDrainTimeoutSeconds": 10}
        },
        "status": {
            "initialization": {"bootstrapDataSecretCreated": true},
            "phase": "Provisioning"
        }
    })
}

fn cluster(value: &Value) -> ClusterView {
    ClusterView::from_value(value, CoreVersion::V1Beta2).unwrap()
}

fn machine(value: &Value) -> MachineView {
    MachineView::from_value(value, CoreVersion::V1Beta2).unwrap()
}

#[test]
fn the_newest_served_core_version_is_picked_from_discovery() {
    assert_eq!(
        CoreVersion::newest_served(["v1beta1"]).unwrap(),
        CoreVersion::V1Beta1
    );
    assert_eq!(
        CoreVersion::newest_served(vec!["v1beta1".to_owned(), "v1beta2".to_owned()]).unwrap(),
        CoreVersion::V1Beta2
    );
    assert_eq!(
        CoreVersion::newest_served(["v1beta2", "v1alpha4", "v1beta1"]).unwrap(),
        CoreVersion::V1Beta2
    );
    let err = CoreVersion::newest_served(["v1alpha3", "v1alpha4"]).unwrap_err();
    assert_eq!(
        err,
        Error::NoServedCoreVersion {
            served: vec!["v1alpha3".into(), "v1alpha4".into()]
        }
    );
    assert!(err.to_string().contains("install Cluster API"), "{err}");
    assert!(CoreVersion::newest_served(Vec::<String>::new()).is_err());
}

#[test]
fn resources_address_the_chosen_version() {
    let r = CoreVersion::V1Beta2.cluster_resource();
    assert_eq!(
        (r.api_version.as_str(), r.kind.as_str(), r.plural.as_str()),
        ("cluster.x-k8s.io/v1beta2", "Cluster", "clusters")
    );
    let r = CoreVersion::V1Beta1.machine_resource();
    assert_eq!(
        (r.api_version.as_str(), r.kind.as_str(), r.plural.as_str()),
        ("cluster.x-k8s.io/v1beta1", "Machine", "machines")
    );
}

#[test]
fn both_cluster_shapes_give_the_same_view() {
    let old = cluster(&cluster_v1beta1());
    let new = cluster(&cluster_v1beta2());
    assert_eq!(old.api_version, CoreVersion::V1Beta1);
    assert_eq!(new.api_version, CoreVersion::V1Beta2);
    for view in [&old, &new] {
        assert_eq!(view.name(), "prod");
        assert_eq!(view.namespace().as_deref(), Some("default"));
        assert_eq!(
            view.uid().as_deref(),
            Some("6b1c3e0a-0000-4000-8000-000000000001")
        );
        assert_eq!(
            view.labels().get("cni").map(String::as_str),
            Some("prod-crs-0")
        );
        assert_eq!(
            view.annotations().get("note").map(String::as_str),
            Some("x")
        );
        assert!(view.metadata.deletion_timestamp.is_some());
        assert!(!view.spec_paused);
        assert!(!view.is_paused());
        assert!(view.infrastructure_provisioned);
        assert!(view.control_plane_initialized);
        let endpoint = view.control_plane_endpoint.clone().unwrap();
        assert_eq!(
            (endpoint.host.as_str(), endpoint.port),
            ("147.75.80.10", 6443)
        );
        let infra = view.infrastructure_ref.clone().unwrap();
        assert!(infra.is("infrastructure.cluster.x-k8s.io", "PacketCluster"));
        assert_eq!(infra.name, "prod");
        let cp = view.control_plane_ref.clone().unwrap();
        assert!(cp.is("controlplane.cluster.x-k8s.io", "KubeadmControlPlane"));
        assert_eq!(cp.name, "prod-control-plane");
    }
    let old_ref = old.infrastructure_ref.unwrap();
    assert_eq!(
        old_ref.api_version.as_deref(),
        Some("infrastructure.cluster.x-k8s.io/v1beta1")
    );
    assert_eq!(old_ref.namespace.as_deref(), Some("default"));
    assert_eq!(new.infrastructure_ref.unwrap().api_version, None);
}

#[test]
fn both_machine_shapes_give_the_same_view() {
    for value in [machine_v1beta1(), machine_v1beta2()] {
        let view = machine(&value);
        assert_eq!(view.name(), "prod-cp-abcde");
        assert_eq!(view.cluster_name, "prod");
        assert_eq!(
            view.bootstrap_data_secret_name.as_deref(),
            Some("prod-cp-abcde")
        );
        assert!(view.bootstrap_data_ready);
        assert!(!view.infrastructure_provisioned);
        assert_eq!(view.failure_domain.as_deref(), Some("da"));
        assert_eq!(view.kubernetes_version.as_deref(), Some("v1.32.3"));
        assert_eq!(
            view.provider_id.as_deref(),
            Some("equinixmetal://8a2c3f4e-1b2d-4c6e-9f00-112233445566")
        );
        assert!(view.control_plane);
        let infra = view.infrastructure_ref.clone().unwrap();
        assert!(infra.is("infrastructure.cluster.x-k8s.io", "PacketMachine"));
        assert_eq!(infra.name, "prod-cp-abcde");
        assert_eq!(view.owner_references()[0].kind, "KubeadmControlPlane");
        assert_eq!(view.metadata.deletion_timestamp, None);
    }
}

#[test]
fn initialization_fields_are_read_per_version_only() {
    // A v1beta2 field in a v1beta1 object (and the reverse) is not what that version's core
    // writes, so it does not count.
    let mut old = machine_v1beta1();
    old["status"] = json!({"initialization": {"bootstrapDataSecretCreated": true}});
    assert!(!machine(&old).bootstrap_data_ready);
    let mut new = machine_v1beta2();
    new["status"] = json!({"bootstrapReady": true, "infrastructureReady": true});
    let view = machine(&new);
    assert!(!view.bootstrap_data_ready && !view.infrastructure_provisioned);

    let mut new = cluster_v1beta2();
    new["status"] = json!({"infrastructureReady": true, "controlPlaneReady": true});
    let view = cluster(&new);
    assert!(!view.infrastructure_provisioned && !view.control_plane_initialized);
}

#[test]
fn a_v1beta1_control_plane_counts_as_initialized_by_either_field() {
    let mut value = cluster_v1beta1();
    value["status"] = json!({"controlPlaneReady": true});
    assert!(cluster(&value).control_plane_initialized);
    value["status"] =
        json!({"conditions": [{"type": "ControlPlaneInitialized", "status": "False"}]});
    assert!(!cluster(&value).control_plane_initialized);
    value["status"] = json!({});
    assert!(!cluster(&value).control_plane_initialized);
}

#[test]
fn a_minimal_object_gives_zero_values() {
    for version in CoreVersion::ALL {
        let c = cluster(&json!({
            "apiVersion": version.api_version(), "kind": "Cluster",
            "metadata": {"name": "c", "namespace": "ns"}
        }));
        assert_eq!(c.api_version, version);
        assert!(!c.spec_paused && !c.infrastructure_provisioned && !c.control_plane_initialized);
        assert_eq!(c.infrastructure_ref, None);
        assert_eq!(c.control_plane_ref, None);
        assert_eq!(c.control_plane_endpoint, None);

        let m = machine(&json!({
            "apiVersion": version.api_version(), "kind": "Machine",
            "metadata": {"name": "m", "namespace": "ns"},
            "spec": {"clusterName": "c", "failureDomain": "", "providerID": "", "infrastructureRef": {}}
        }));
        assert_eq!(m.bootstrap_data_secret_name, None);
        assert_eq!(m.failure_domain, None);
        assert_eq!(m.provider_id, None);
        assert_eq!(m.infrastructure_ref, None);
        assert!(!m.control_plane && !m.bootstrap_data_ready);
    }
}

#[test]
fn pause_comes_from_spec_or_the_annotation_in_both_versions() {
    let packet_cluster = crate::PacketCluster::new("prod", crate::PacketClusterSpec::default());
    let mut annotated = packet_cluster.clone();
    annotated
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("cluster.x-k8s.io/paused".into(), String::new());
    for mut value in [cluster_v1beta1(), cluster_v1beta2()] {
        let view = cluster(&value);
        assert!(!view.pauses(&packet_cluster));
        assert!(view.pauses(&annotated));

        value["spec"]["paused"] = json!(true);
        let view = cluster(&value);
        assert!(view.spec_paused && view.is_paused());
        assert!(view.pauses(&packet_cluster));

        value["spec"]["paused"] = json!(false);
        value["metadata"]["annotations"]["cluster.x-k8s.io/paused"] = json!("true");
        let view = cluster(&value);
        assert!(!view.spec_paused && view.is_paused());
        assert!(!view.pauses(&packet_cluster));
    }
}

#[test]
fn views_work_with_the_capi_types_owner_lookup() {
    let mut value = machine_v1beta2();
    value["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": "prod", "uid": "9"
    }]);
    let view = machine(&value);
    assert_eq!(owner_cluster(&view).unwrap().unwrap().name, "prod");
    let reference = view.object_ref(&view.api_version);
    assert_eq!(
        reference.api_version.as_deref(),
        Some("cluster.x-k8s.io/v1beta2")
    );
    assert_eq!(reference.kind.as_deref(), Some("Machine"));
}

#[test]
fn the_object_api_version_wins_over_the_requested_one() {
    let view = ClusterView::from_value(&cluster_v1beta1(), CoreVersion::V1Beta2).unwrap();
    assert_eq!(view.api_version, CoreVersion::V1Beta1);
    // Without apiVersion (some list items), the requested version decides the shape.
    let mut value = cluster_v1beta2();
    value.as_object_mut().unwrap().remove("apiVersion");
    value.as_object_mut().unwrap().remove("kind");
    let view = ClusterView::from_value(&value, CoreVersion::V1Beta2).unwrap();
    assert!(view.control_plane_initialized);
    let err = ClusterView::from_value(&value, CoreVersion::V1Beta1).unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.infrastructureRef.apiVersion is required"),
        "{err}"
    );
}

/// An object, how to break it, the field the error must name and part of its problem.
type BrokenCase = (Value, fn(&mut Value), &'static str, &'static str);

fn error_of(result: Result<impl fmt::Debug>) -> (String, String) {
    match result.unwrap_err() {
        Error::InvalidCoreObject { field, problem, .. } => (field, problem),
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn malformed_clusters_are_rejected_naming_the_field() {
    let cases: Vec<BrokenCase> = vec![
        (
            cluster_v1beta2(),
            |v| v["spec"]["paused"] = json!("yes"),
            "spec.paused",
            "must be a boolean, got the string \"yes\"",
        ),
        (
            cluster_v1beta2(),
            |v| v["spec"]["infrastructureRef"]["kind"] = json!(3),
            "spec.infrastructureRef.kind",
            "must be a string, got the number 3",
        ),
        (
            cluster_v1beta2(),
            |v| {
                v["spec"]["infrastructureRef"]
                    .as_object_mut()
                    .unwrap()
                    .remove("apiGroup");
            },
            "spec.infrastructureRef.apiGroup",
            "is required",
        ),
        (
            cluster_v1beta1(),
            |v| v["spec"]["infrastructureRef"]["apiVersion"] = json!("a/b/c"),
            "spec.infrastructureRef.apiVersion",
            "expected group/version",
        ),
        (
            cluster_v1beta1(),
            |v| v["spec"]["controlPlaneRef"] = json!("kcp"),
            "spec.controlPlaneRef",
            "must be an object",
        ),
        (
            cluster_v1beta2(),
            |v| v["spec"]["controlPlaneEndpoint"]["port"] = json!(70_000_000_000_i64),
            "spec.controlPlaneEndpoint.port",
            "32-bit integer",
        ),
        (
            cluster_v1beta2(),
            |v| v["status"] = json!([]),
            "status",
            "must be an object, got a list",
        ),
        (
            cluster_v1beta2(),
            |v| v["status"]["initialization"]["infrastructureProvisioned"] = json!("true"),
            "status.initialization.infrastructureProvisioned",
            "must be a boolean",
        ),
        (
            cluster_v1beta1(),
            |v| v["status"]["conditions"] = json!({}),
            "status.conditions",
            "must be a list",
        ),
        (
            cluster_v1beta2(),
            |v| v["apiVersion"] = json!("cluster.x-k8s.io/v1alpha4"),
            "apiVersion",
            "must be cluster.x-k8s.io/v1beta1 or cluster.x-k8s.io/v1beta2",
        ),
        (
            cluster_v1beta2(),
            |v| v["kind"] = json!("Machine"),
            "kind",
            "must be Cluster",
        ),
        (
            cluster_v1beta2(),
            |v| {
                v["metadata"].as_object_mut().unwrap().remove("name");
            },
            "metadata.name",
            "is required",
        ),
    ];
    for (mut value, breaker, field, problem) in cases {
        breaker(&mut value);
        let (got_field, got_problem) =
            error_of(ClusterView::from_value(&value, CoreVersion::V1Beta2));
        assert_eq!(got_field, field);
        assert!(got_problem.contains(problem), "{field}: {got_problem}");
    }
    let mut value = cluster_v1beta2();
    value["spec"]["paused"] = json!(1);
    let message = ClusterView::from_value(&value, CoreVersion::V1Beta2)
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "invalid Cluster \"default/prod\": spec.paused must be a boolean, got the number 1"
    );
}

#[test]
fn malformed_machines_are_rejected_naming_the_field() {
    let cases: Vec<BrokenCase> = vec![
        (
            machine_v1beta2(),
            |v| {
                v["spec"].as_object_mut().unwrap().remove("clusterName");
            },
            "spec.clusterName",
            "is required",
        ),
        (
            machine_v1beta1(),
            |v| v["spec"]["bootstrap"]["dataSecretName"] = json!(["s"]),
            "spec.bootstrap.dataSecretName",
            "must be a string, got a list",
        ),
        (
            machine_v1beta2(),
            |v| v["spec"]["bootstrap"] = json!("s"),
            "spec.bootstrap",
            "must be an object",
        ),
        (
            machine_v1beta2(),
            |v| v["spec"]["providerID"] = json!(false),
            "spec.providerID",
            "must be a string",
        ),
        (
            machine_v1beta1(),
            |v| v["status"]["bootstrapReady"] = json!("True"),
            "status.bootstrapReady",
            "must be a boolean",
        ),
        (
            machine_v1beta2(),
            |v| v["status"]["initialization"]["bootstrapDataSecretCreated"] = json!(1),
            "status.initialization.bootstrapDataSecretCreated",
            "must be a boolean",
        ),
        (
            machine_v1beta2(),
            |v| {
                v["spec"]["infrastructureRef"]
                    .as_object_mut()
                    .unwrap()
                    .remove("name");
            },
            "spec.infrastructureRef.name",
            "is required",
        ),
        (
            machine_v1beta2(),
            |v| v["metadata"]["labels"] = json!("x"),
            "metadata",
            "invalid type",
        ),
    ];
    for (mut value, breaker, field, problem) in cases {
        breaker(&mut value);
        let (got_field, got_problem) =
            error_of(MachineView::from_value(&value, CoreVersion::V1Beta2));
        assert_eq!(got_field, field);
        assert!(got_problem.contains(problem), "{field}: {got_problem}");
    }
}

#[test]
fn dynamic_objects_parse_like_json() {
    let obj: DynamicObject = serde_json::from_value(machine_v1beta2()).unwrap();
    let view = MachineView::from_dynamic(&obj, CoreVersion::V1Beta1).unwrap();
    assert_eq!(view, machine(&machine_v1beta2()));
    assert_eq!(view.api_version, CoreVersion::V1Beta2);
}
