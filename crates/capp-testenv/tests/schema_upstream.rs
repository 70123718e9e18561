//! CRD schema admission against the real upstream CRDs: every Cluster API v1.10 and CAPP v0.9.0
//! CRD validates and compiles, realistic objects are admitted unchanged, invalid ones are
//! rejected with the apiserver's field paths and messages, non-structural variants are refused.
//!
//! Needs `../shared/specs`; skips loudly without it, and fails instead when `CI=true`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use capp_testenv::schema::{CrdSchema, FieldCause, validate_crd};
use serde_json::{Value, json};

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/specs");

/// The spec directory, or `None` (with a loud message) when it is missing outside CI.
fn specs_dir(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(SPECS).join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing and CI=true: the upstream CRD tests cannot be skipped",
        dir.display()
    );
    eprintln!(
        "SKIPPING schema_upstream: {} is missing (these tests need ../shared)",
        dir.display()
    );
    None
}

/// CRDs by file name.
type Crds = Vec<(String, Value)>;

/// Every `CustomResourceDefinition` in a spec directory, by file name. Parsed once per test
/// binary: the tests run in parallel and parsing the YAML dominates their run time.
fn crds_in(sub: &str) -> Option<Vec<(String, Value)>> {
    static PARSED: OnceLock<Mutex<HashMap<String, Crds>>> = OnceLock::new();
    let dir = specs_dir(sub)?;
    let mut parsed = PARSED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let crds = parsed
        .entry(sub.to_owned())
        .or_insert_with(|| parse_dir(&dir));
    Some(crds.clone())
}

fn parse_dir(dir: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        if doc["kind"] == "CustomResourceDefinition" {
            out.push((
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                doc,
            ));
        }
    }
    out
}

fn crd(sub: &str, file: &str) -> Option<Value> {
    let all = crds_in(sub)?;
    Some(
        all.into_iter()
            .find(|(name, _)| name == file)
            .unwrap_or_else(|| panic!("{file} not found in {sub}"))
            .1,
    )
}

fn version_schema(crd: &Value, version: &str) -> Value {
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("no version {version}"))["schema"]["openAPIV3Schema"]
        .clone()
}

fn compiled(crd: &Value, version: &str) -> CrdSchema {
    CrdSchema::compile(&version_schema(crd, version))
        .unwrap_or_else(|c| panic!("schema does not compile: {c:#?}"))
}

fn cause_strings(causes: &[FieldCause]) -> Vec<String> {
    causes.iter().map(ToString::to_string).collect()
}

#[test]
fn every_upstream_crd_validates_and_every_version_schema_compiles() {
    for sub in ["capi-v1.10", "capp-v0.9.0"] {
        let Some(crds) = crds_in(sub) else { return };
        assert!(crds.len() >= 3, "too few CRDs found in {sub}");
        for (file, crd) in crds {
            if let Err(causes) = validate_crd(&crd) {
                panic!("{sub}/{file} is rejected: {:#?}", cause_strings(&causes));
            }
            for v in crd["spec"]["versions"].as_array().unwrap() {
                let schema = &v["schema"]["openAPIV3Schema"];
                assert!(
                    CrdSchema::compile(schema).is_ok(),
                    "{sub}/{file} version {} does not compile",
                    v["name"]
                );
            }
        }
    }
}

fn cluster() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": "demo", "namespace": "default", "labels": {"env": "test"}},
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["172.26.0.0/16"]},
                "serviceDomain": "cluster.local",
                "apiServerPort": 6443,
            },
            "controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443},
            "controlPlaneRef": {
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                "kind": "KubeadmControlPlane",
                "name": "demo-control-plane",
                "namespace": "default",
            },
            "infrastructureRef": {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "PacketCluster",
                "name": "demo",
                "namespace": "default",
            },
            "paused": false,
        },
    })
}

fn machine_spec() -> Value {
    json!({
        "clusterName": "demo",
        "bootstrap": {"configRef": {
            "apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1",
            "kind": "KubeadmConfig",
            "name": "demo-md-0-abcde",
        }},
        "infrastructureRef": {
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": "PacketMachine",
            "name": "demo-md-0-xyz",
        },
        "version": "v1.32.1",
        "providerID": "equinixmetal://6d9c5d1a-4d1b-4b9d-9a3a-1a2b3c4d5e6f",
        "failureDomain": "da",
    })
}

fn machine_deployment() -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "MachineDeployment",
        "metadata": {"name": "demo-md-0", "namespace": "default"},
        "spec": {
            "clusterName": "demo",
            "replicas": 3,
            "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "demo"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "demo"}},
                "spec": machine_spec(),
            },
        },
    })
}

/// Admits `obj` on create and checks nothing was pruned; returns the stored object.
fn admit_clean(schema: &CrdSchema, mut obj: Value) -> Value {
    match schema.admit(&mut obj, None) {
        Ok(admitted) => assert!(admitted.pruned.is_empty(), "pruned {:?}", admitted.pruned),
        Err(c) => panic!("rejected: {:#?}", cause_strings(&c)),
    }
    obj
}

#[test]
fn realistic_cluster_machine_and_machine_deployment_objects_are_admitted_unchanged() {
    let Some(clusters) = crd("capi-v1.10", "cluster.x-k8s.io_clusters.yaml") else {
        return;
    };
    let machines = crd("capi-v1.10", "cluster.x-k8s.io_machines.yaml").unwrap();
    let mds = crd("capi-v1.10", "cluster.x-k8s.io_machinedeployments.yaml").unwrap();

    let c = cluster();
    assert_eq!(admit_clean(&compiled(&clusters, "v1beta1"), c.clone()), c);

    let m = json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Machine",
        "metadata": {"name": "demo-md-0-xyz", "namespace": "default"},
        "spec": machine_spec(),
        "status": {"phase": "Running", "bootstrapReady": true, "infrastructureReady": true,
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]},
    });
    assert_eq!(admit_clean(&compiled(&machines, "v1beta1"), m.clone()), m);

    let md = machine_deployment();
    let stored = admit_clean(&compiled(&mds, "v1beta1"), md.clone());
    assert_eq!(stored, md);
}

#[test]
fn a_cluster_with_a_topology_keeps_free_form_variable_values_and_rejects_duplicate_names() {
    let Some(clusters) = crd("capi-v1.10", "cluster.x-k8s.io_clusters.yaml") else {
        return;
    };
    let schema = compiled(&clusters, "v1beta1");
    let mut c = cluster();
    c["spec"]["topology"] = json!({
        "class": "quick-start",
        "version": "v1.32.1",
        "rolloutAfter": "2026-01-01T00:00:00Z",
        "controlPlane": {"replicas": 3, "metadata": {"labels": {"tier": "cp"}}},
        "workers": {"machineDeployments": [
            {"class": "default-worker", "name": "md-0", "replicas": 2},
            {"class": "default-worker", "name": "md-1", "failureDomain": "da"},
        ]},
        "variables": [
            {"name": "imageRepository", "value": "registry.example.com"},
            {"name": "nodes", "value": {"free": ["form", 1, {"deep": true}]}},
        ],
    });
    assert_eq!(admit_clean(&schema, c.clone()), c);

    let mut duplicate = c;
    duplicate["spec"]["topology"]["workers"]["machineDeployments"][1]["name"] = json!("md-0");
    let causes = schema.admit(&mut duplicate, None).unwrap_err();
    assert_eq!(
        cause_strings(&causes),
        vec![r#"spec.topology.workers.machineDeployments[1]: Duplicate value: {"name":"md-0"}"#]
    );
}

#[test]
fn invalid_upstream_objects_are_rejected_with_field_paths_and_apiserver_messages() {
    let Some(mds) = crd("capi-v1.10", "cluster.x-k8s.io_machinedeployments.yaml") else {
        return;
    };
    let schema = compiled(&mds, "v1beta1");

    let mut wrong_type = machine_deployment();
    wrong_type["spec"]["replicas"] = json!("three");
    let causes = schema.admit(&mut wrong_type, None).unwrap_err();
    assert_eq!(
        cause_strings(&causes),
        vec![
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        ]
    );
    assert_eq!(causes[0].reason, "FieldValueTypeInvalid");

    let mut bad_enum = machine_deployment();
    bad_enum["spec"]["strategy"]["type"] = json!("Recreate");
    let causes = schema.admit(&mut bad_enum, None).unwrap_err();
    assert_eq!(
        cause_strings(&causes),
        vec![
            r#"spec.strategy.type: Unsupported value: "Recreate": supported values: "RollingUpdate", "OnDelete""#
        ]
    );

    let mut missing = machine_deployment();
    missing["spec"]["template"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("clusterName");
    let causes = schema.admit(&mut missing, None).unwrap_err();
    assert_eq!(
        cause_strings(&causes),
        vec!["spec.template.spec.clusterName: Required value"]
    );
    assert_eq!(causes[0].reason, "FieldValueRequired");
}

#[test]
fn unknown_fields_in_upstream_objects_are_pruned_with_their_paths() {
    let Some(clusters) = crd("capi-v1.10", "cluster.x-k8s.io_clusters.yaml") else {
        return;
    };
    let schema = compiled(&clusters, "v1beta1");
    let mut c = cluster();
    c["spec"]["controlPlaneEndpoint"]["hostname"] = json!("typo");
    let admitted = schema.admit(&mut c, None).unwrap();
    assert_eq!(admitted.pruned, vec!["spec.controlPlaneEndpoint.hostname"]);
    assert_eq!(c, cluster());
}

#[test]
fn packet_machine_objects_are_admitted_and_checked() {
    let Some(pms) = crd(
        "capp-v0.9.0",
        "infrastructure.cluster.x-k8s.io_packetmachines.yaml",
    ) else {
        return;
    };
    let version = pms["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["storage"] == true)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let schema = compiled(&pms, &version);
    let pm = json!({
        "apiVersion": format!("infrastructure.cluster.x-k8s.io/{version}"),
        "kind": "PacketMachine",
        "metadata": {"name": "demo-md-0-xyz", "namespace": "default"},
        "spec": {"machineType": "c3.small.x86", "os": "ubuntu_22_04", "billingCycle": "hourly"},
    });
    assert_eq!(admit_clean(&schema, pm.clone()), pm);
    let mut bad = pm;
    bad["spec"]["machineType"] = json!(3);
    let causes = schema.admit(&mut bad, None).unwrap_err();
    assert_eq!(causes[0].field, "spec.machineType");
    assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
}

#[test]
fn an_upstream_crd_made_non_structural_is_rejected() {
    let Some(mut machines) = crd("capi-v1.10", "cluster.x-k8s.io_machines.yaml") else {
        return;
    };
    let versions = machines["spec"]["versions"].as_array_mut().unwrap();
    let v = versions
        .iter_mut()
        .find(|v| v["name"] == "v1beta1")
        .unwrap();
    let spec = &mut v["schema"]["openAPIV3Schema"]["properties"]["spec"];
    spec["properties"]["clusterName"]
        .as_object_mut()
        .unwrap()
        .remove("type");
    let causes = validate_crd(&machines).unwrap_err();
    assert!(
        causes.iter().any(|c| c.field.starts_with("spec.versions[")
            && c.field.ends_with(
                ".schema.openAPIV3Schema.properties[spec].properties[clusterName].type"
            )),
        "{:#?}",
        cause_strings(&causes)
    );

    let Some(mut clusters) = crd("capi-v1.10", "cluster.x-k8s.io_clusters.yaml") else {
        return;
    };
    let mut closed = version_schema(&clusters, "v1beta1");
    closed["properties"]["spec"]["additionalProperties"] = json!(false);
    assert!(CrdSchema::compile(&closed).is_err());
    clusters["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = closed;
    assert!(validate_crd(&clusters).is_err());
}
