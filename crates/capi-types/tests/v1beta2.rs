//! The v1beta2 Cluster and Machine: upstream-shaped objects round-trip through the typed
//! kinds and validate against the generated schemas; the v1beta2 CRDs are structural, match
//! their golden files (`UPDATE_GOLDEN=1` rewrites them) and serve v1beta2 as storage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns may panic: a panic is a test failure"
)]

#[path = "support/upstream.rs"]
mod upstream;

use std::path::PathBuf;

use capi_types::v1beta2::{Cluster, Machine};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v1beta2"
    ))
    .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema(crd: &Value) -> Value {
    upstream::schema_of_version(crd, "v1beta2")
}

#[test]
fn upstream_shaped_objects_round_trip_without_losing_or_inventing_fields() {
    let cluster_text = fixture("cluster.yaml");
    let cluster_json = upstream::yaml_to_json(&cluster_text);
    let cluster: Cluster = serde_saphyr::from_str(&cluster_text).unwrap();
    assert_eq!(serde_json::to_value(&cluster).unwrap(), cluster_json);
    let again: Cluster = serde_json::from_value(cluster_json).unwrap();
    assert_eq!(again, cluster);

    let machine_text = fixture("machine.yaml");
    let machine_json = upstream::yaml_to_json(&machine_text);
    let machine: Machine = serde_saphyr::from_str(&machine_text).unwrap();
    assert_eq!(serde_json::to_value(&machine).unwrap(), machine_json);
    let again: Machine = serde_json::from_value(machine_json).unwrap();
    assert_eq!(again, machine);
}

#[test]
fn typed_accessors_read_the_fixture_values() {
    let cluster: Cluster = serde_saphyr::from_str(&fixture("cluster.yaml")).unwrap();
    assert!(!cluster.is_paused());
    assert!(cluster.infrastructure_provisioned());
    assert!(cluster.control_plane_initialized());
    let infra = cluster.spec.infrastructure_ref.as_ref().unwrap();
    assert_eq!(
        (
            infra.api_group.as_str(),
            infra.kind.as_str(),
            infra.name.as_str()
        ),
        ("infrastructure.cluster.x-k8s.io", "PacketCluster", "prod")
    );
    let domains = &cluster.status.as_ref().unwrap().failure_domains;
    assert_eq!(domains[0].name, "da");
    assert_eq!(domains[0].control_plane, Some(true));

    let machine: Machine = serde_saphyr::from_str(&fixture("machine.yaml")).unwrap();
    assert!(machine.is_control_plane());
    assert!(machine.bootstrap_data_secret_created());
    assert!(machine.infrastructure_provisioned());
    assert_eq!(
        machine.bootstrap_data_secret_name(),
        Some("prod-control-plane-x7k2p")
    );
    assert_eq!(
        machine.provider_id(),
        Some("equinixmetal://8a2c3f4e-1b2d-4c6e-9f00-112233445566")
    );
    assert_eq!(
        machine
            .status
            .as_ref()
            .unwrap()
            .node_ref
            .as_ref()
            .unwrap()
            .name,
        "prod-control-plane-x7k2p"
    );
}

#[test]
fn minimal_objects_omit_empty_fields_and_a_missing_spec_is_the_zero_value() {
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
        "metadata": {"name": "c"}
    }))
    .unwrap();
    assert_eq!(cluster.spec, capi_types::v1beta2::ClusterSpec::default());
    assert_eq!(
        serde_json::to_value(&cluster).unwrap(),
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "c"}, "spec": {}})
    );
    let mut machine = Machine::new(
        "m",
        capi_types::v1beta2::MachineSpec {
            cluster_name: "c".into(),
            infrastructure_ref: capi_types::v1beta2::ContractVersionedObjectReference {
                api_group: "infrastructure.cluster.x-k8s.io".into(),
                kind: "PacketMachine".into(),
                name: "m".into(),
            },
            ..Default::default()
        },
    );
    machine.status = Some(capi_types::v1beta2::MachineStatus::default());
    assert_eq!(
        serde_json::to_value(&machine).unwrap()["spec"],
        json!({
            "clusterName": "c",
            "bootstrap": {},
            "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketMachine", "name": "m"}
        })
    );
    assert_eq!(serde_json::to_value(&machine).unwrap()["status"], json!({}));
    assert!(!machine.bootstrap_data_secret_created());
}

#[test]
fn fixtures_validate_against_the_generated_schemas_and_broken_ones_do_not() {
    let crds: Vec<Value> = capi_types::v1beta2::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let (cluster_schema, machine_schema) = (schema(&crds[0]), schema(&crds[1]));
    // The generated root schemas leave apiVersion and kind to the API server.
    let body = |name: &str| {
        let mut value = upstream::yaml_to_json(&fixture(name));
        let object = value.as_object_mut().unwrap();
        object.remove("apiVersion");
        object.remove("kind");
        value
    };
    let (cluster, machine) = (body("cluster.yaml"), body("machine.yaml"));
    assert_eq!(
        upstream::validate(&cluster, &cluster_schema),
        Vec::<String>::new()
    );
    assert_eq!(
        upstream::validate(&machine, &machine_schema),
        Vec::<String>::new()
    );

    let mut bad = machine;
    bad["spec"]["infrastructureRef"]["apiGroup"] = json!(3);
    assert!(!upstream::validate(&bad, &machine_schema).is_empty());
    let mut bad = cluster;
    bad["status"]["initialization"]["infrastructureProvisioned"] = json!("yes");
    assert!(!upstream::validate(&bad, &cluster_schema).is_empty());
}

#[test]
fn the_v1beta2_crds_serve_only_v1beta2_as_storage_with_the_contract_label() {
    let crds = capi_types::v1beta2::crds();
    assert_eq!(crds.len(), 2);
    for crd in &crds {
        assert_eq!(crd.spec.group, "cluster.x-k8s.io");
        assert_eq!(crd.spec.versions.len(), 1);
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1beta2");
        assert!(version.served && version.storage);
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        assert_eq!(
            crd.metadata
                .labels
                .as_ref()
                .unwrap()
                .get("cluster.x-k8s.io/v1beta2")
                .map(String::as_str),
            Some("v1beta2")
        );
        let root = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        for key in ["spec", "status"] {
            assert_eq!(
                root["openAPIV3Schema"]["properties"][key]["x-kubernetes-preserve-unknown-fields"],
                json!(true),
                "{key} keeps the fields this crate does not type"
            );
        }
    }
}

#[test]
fn served_crds_swap_only_cluster_and_machine() {
    let v1 = capi_types::v1beta2::served_crds("v1beta1").unwrap();
    assert_eq!(v1, capi_types::core_crds());
    let v2 = capi_types::v1beta2::served_crds("v1beta2").unwrap();
    let versions: Vec<(String, String)> = v2
        .iter()
        .map(|c| (c.spec.names.kind.clone(), c.spec.versions[0].name.clone()))
        .collect();
    assert_eq!(
        versions,
        [
            ("Cluster".to_owned(), "v1beta2".to_owned()),
            ("Machine".to_owned(), "v1beta2".to_owned()),
            ("MachineSet".to_owned(), "v1beta1".to_owned()),
            ("MachineDeployment".to_owned(), "v1beta1".to_owned()),
        ]
    );
    assert!(capi_types::v1beta2::served_crds("v1").is_none());
}

fn golden_path(crd_name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/v1beta2"))
        .join(format!("{crd_name}.yaml"))
}

#[test]
fn the_v1beta2_crds_are_structural_and_match_their_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    for crd in capi_types::v1beta2::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let json = serde_json::to_value(&crd).unwrap();
        if let Err(violations) = capp_testenv::schema::structural::check_crd(&json) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("{name} is not structural: {list:#?}");
        }
        let yaml = serde_saphyr::to_string(&crd).unwrap();
        let path = golden_path(&name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &yaml).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 and review)",
                path.display()
            )
        });
        assert!(
            golden == yaml,
            "{name} drifted from {} (rerun with UPDATE_GOLDEN=1 and review the diff)",
            path.display()
        );
    }
}
