//! Round-trip tests: realistic objects that validate against the upstream CAPI v1.10 CRDs
//! parse into the typed kinds and serialise back without losing or inventing fields.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns may panic: a panic is a test failure"
)]

#[path = "support/upstream.rs"]
mod upstream;

use capi_types::bootstrap::{KubeadmConfig, KubeadmConfigTemplate};
use capi_types::cluster::Cluster;
use capi_types::control_plane::{KubeadmControlPlane, KubeadmControlPlaneTemplate};
use capi_types::machine::Machine;
use capi_types::machine_deployment::MachineDeployment;
use capi_types::machine_set::MachineSet;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One fixture, the upstream CRD it must validate against, and the typed round trip.
struct Case {
    fixture: String,
    text: String,
    upstream: &'static str,
    via_json: fn(&Value) -> Value,
    via_yaml: fn(&str) -> Value,
}

fn via_json<K: DeserializeOwned + Serialize>(value: &Value) -> Value {
    let typed: K = serde_json::from_value(value.clone()).expect("fixture parses into the kind");
    serde_json::to_value(&typed).expect("kind serialises")
}

fn via_yaml<K: DeserializeOwned + Serialize>(text: &str) -> Value {
    let typed: K = serde_saphyr::from_str(text).expect("fixture YAML parses into the kind");
    serde_json::to_value(&typed).expect("kind serialises")
}

macro_rules! case {
    ($fixture:literal, $upstream:literal, $kind:ty) => {
        Case {
            fixture: $fixture.to_owned(),
            text: fixture($fixture),
            upstream: $upstream,
            via_json: via_json::<$kind>,
            via_yaml: via_yaml::<$kind>,
        }
    };
}

/// The fixtures, plus every full KubeadmConfig spec embedded into a KubeadmConfigTemplate,
/// a KubeadmControlPlane and a KubeadmControlPlaneTemplate, so the shared kubeadm types are
/// checked against all three upstream schemas.
fn cases() -> Vec<Case> {
    let mut cases = fixture_cases();
    let embeddings: [(&str, &[&str], Case); 3] = [
        (
            "kubeadmconfigtemplate.yaml",
            &["spec", "template", "spec"],
            case!(
                "kubeadmconfigtemplate.yaml",
                "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
                KubeadmConfigTemplate
            ),
        ),
        (
            "kubeadmcontrolplane.yaml",
            &["spec", "kubeadmConfigSpec"],
            case!(
                "kubeadmcontrolplane.yaml",
                "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
                KubeadmControlPlane
            ),
        ),
        (
            "kubeadmcontrolplanetemplate.yaml",
            &["spec", "template", "spec", "kubeadmConfigSpec"],
            case!(
                "kubeadmcontrolplanetemplate.yaml",
                "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml",
                KubeadmControlPlaneTemplate
            ),
        ),
    ];
    for config in [
        "kubeadmconfig.yaml",
        "kubeadmconfig-external-etcd.yaml",
        "kubeadmconfig-join-file.yaml",
    ] {
        let spec = upstream::yaml_to_json(&fixture(config))["spec"].clone();
        for (host, path, template) in &embeddings {
            let mut value = upstream::yaml_to_json(&fixture(host));
            let mut slot = &mut value;
            for key in *path {
                slot = &mut slot[*key];
            }
            *slot = spec.clone();
            cases.push(Case {
                fixture: format!("{host} with the spec of {config}"),
                text: serde_saphyr::to_string(&value).expect("YAML"),
                upstream: template.upstream,
                via_json: template.via_json,
                via_yaml: template.via_yaml,
            });
        }
    }
    // The full Machine spec embedded as the Machine template of a MachineSet and a
    // MachineDeployment.
    let machine_spec = upstream::yaml_to_json(&fixture("machine.yaml"))["spec"].clone();
    for template in [
        case!(
            "machineset.yaml",
            "cluster.x-k8s.io_machinesets.yaml",
            MachineSet
        ),
        case!(
            "machinedeployment.yaml",
            "cluster.x-k8s.io_machinedeployments.yaml",
            MachineDeployment
        ),
    ] {
        let mut value = upstream::yaml_to_json(&template.text);
        value["spec"]["template"]["spec"] = machine_spec.clone();
        cases.push(Case {
            fixture: format!("{} with the spec of machine.yaml", template.fixture),
            text: serde_saphyr::to_string(&value).expect("YAML"),
            ..template
        });
    }
    cases
}

fn fixture_cases() -> Vec<Case> {
    vec![
        case!("cluster.yaml", "cluster.x-k8s.io_clusters.yaml", Cluster),
        case!(
            "cluster-topology.yaml",
            "cluster.x-k8s.io_clusters.yaml",
            Cluster
        ),
        case!("machine.yaml", "cluster.x-k8s.io_machines.yaml", Machine),
        case!(
            "machine-failed.yaml",
            "cluster.x-k8s.io_machines.yaml",
            Machine
        ),
        case!(
            "machineset.yaml",
            "cluster.x-k8s.io_machinesets.yaml",
            MachineSet
        ),
        case!(
            "machinedeployment.yaml",
            "cluster.x-k8s.io_machinedeployments.yaml",
            MachineDeployment
        ),
        case!(
            "kubeadmconfig.yaml",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
            KubeadmConfig
        ),
        case!(
            "kubeadmconfig-join-file.yaml",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
            KubeadmConfig
        ),
        case!(
            "kubeadmconfig-external-etcd.yaml",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
            KubeadmConfig
        ),
        case!(
            "kubeadmconfigtemplate.yaml",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
            KubeadmConfigTemplate
        ),
        case!(
            "kubeadmcontrolplane.yaml",
            "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
            KubeadmControlPlane
        ),
        case!(
            "kubeadmcontrolplanetemplate.yaml",
            "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml",
            KubeadmControlPlaneTemplate
        ),
    ]
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Describes the first difference between two JSON values, for readable failures.
fn first_difference(before: &Value, after: &Value, path: &str) -> Option<String> {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for key in old.keys().chain(new.keys()) {
                let here = format!("{path}.{key}");
                match (old.get(key), new.get(key)) {
                    (Some(was), Some(is)) => {
                        if let Some(diff) = first_difference(was, is, &here) {
                            return Some(diff);
                        }
                    }
                    (Some(was), None) => return Some(format!("{here}: lost (was {was})")),
                    (None, Some(is)) => return Some(format!("{here}: invented ({is})")),
                    (None, None) => {}
                }
            }
            None
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => old
            .iter()
            .zip(new)
            .enumerate()
            .find_map(|(i, (was, is))| first_difference(was, is, &format!("{path}[{i}]"))),
        _ if before == after => None,
        _ => Some(format!("{path}: {before} became {after}")),
    }
}

#[test]
fn every_fixture_is_valid_against_the_upstream_v1beta1_schema() {
    let Some(dir) =
        upstream::upstream_dir("every_fixture_is_valid_against_the_upstream_v1beta1_schema")
    else {
        return;
    };
    for case in cases() {
        let value = upstream::yaml_to_json(&case.text);
        let schema = upstream::upstream_schema(&dir, case.upstream);
        let errors = upstream::validate(&value, &schema);
        assert!(
            errors.is_empty(),
            "{} against {}: {errors:#?}",
            case.fixture,
            case.upstream
        );
    }
}

#[test]
fn every_fixture_round_trips_through_its_kind_without_losing_or_inventing_fields() {
    for case in cases() {
        let text = &case.text;
        let before = upstream::yaml_to_json(text);
        for (route, after) in [
            ("json", (case.via_json)(&before)),
            ("yaml", (case.via_yaml)(text)),
        ] {
            if let Some(diff) = first_difference(&before, &after, "") {
                panic!("{} via {route}: {diff}", case.fixture);
            }
            assert_eq!(before, after, "{} via {route}", case.fixture);
        }
    }
}

#[test]
fn the_fixtures_together_cover_most_of_each_upstream_schema() {
    // Guards the round-trip test against fixtures that shrink: together, the fixtures of a
    // kind must populate most property paths of its upstream schema (leaves and objects).
    let Some(dir) =
        upstream::upstream_dir("the_fixtures_together_cover_most_of_each_upstream_schema")
    else {
        return;
    };
    let mut by_crd: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for case in cases() {
        let value = upstream::yaml_to_json(&case.text);
        let schema = upstream::upstream_schema(&dir, case.upstream);
        by_crd
            .entry(case.upstream)
            .or_default()
            .extend(upstream::covered_paths(&value, &schema));
    }
    for (crd, covered) in by_crd {
        let all = upstream::paths(&upstream::upstream_schema(&dir, crd));
        let total = all.len();
        let hit = all.keys().filter(|p| covered.contains(*p)).count();
        let percent = hit * 100 / total;
        eprintln!("{crd}: fixtures cover {hit} of {total} schema paths ({percent}%)");
        if std::env::var("SHOW_UNCOVERED").is_ok() {
            let missing: Vec<_> = all.keys().filter(|p| !covered.contains(*p)).collect();
            eprintln!("  not covered: {missing:#?}");
        }
        assert!(
            percent >= MIN_COVERAGE_PERCENT,
            "{crd}: only {percent}% of paths covered"
        );
    }
}

/// Minimum share of upstream schema paths the fixtures of each kind must populate.
const MIN_COVERAGE_PERCENT: usize = 80;

/// A way to break a valid object.
type Breaker = fn(&mut Value);

#[test]
fn the_fixture_validator_rejects_what_the_api_server_would_reject() {
    let Some(dir) =
        upstream::upstream_dir("the_fixture_validator_rejects_what_the_api_server_would_reject")
    else {
        return;
    };
    let schema = upstream::upstream_schema(&dir, "cluster.x-k8s.io_machines.yaml");
    let good = upstream::yaml_to_json(&fixture("machine.yaml"));
    assert!(upstream::validate(&good, &schema).is_empty());

    let broken: [(&str, Breaker); 7] = [
        ("unknown field", |v| v["spec"]["bootstrapp"] = "x".into()),
        ("wrong type", |v| v["spec"]["clusterName"] = 3.into()),
        ("missing required", |v| {
            v["spec"]
                .as_object_mut()
                .unwrap()
                .remove("infrastructureRef");
        }),
        ("bad enum", |v| v["status"]["phase"] = "Sleeping".into()),
        ("bad address type", |v| {
            v["status"]["addresses"][0]["type"] = "PublicIP".into();
        }),
        ("bad date-time", |v| {
            v["status"]["lastUpdated"] = "yesterday".into();
        }),
        ("too long", |v| {
            v["spec"]["clusterName"] = "x".repeat(64).into();
        }),
    ];
    for (what, breaker) in broken {
        let mut bad = good.clone();
        breaker(&mut bad);
        assert!(
            !upstream::validate(&bad, &schema).is_empty(),
            "{what} was accepted"
        );
    }
}

#[test]
fn typed_accessors_read_the_fixture_values() {
    let machine: Machine = serde_saphyr::from_str(&fixture("machine.yaml")).unwrap();
    assert!(machine.is_control_plane());
    assert_eq!(
        machine.provider_id(),
        Some("equinixmetal://8a2c3f4e-1b2d-4c6e-9f00-112233445566")
    );

    let cluster: Cluster = serde_saphyr::from_str(&fixture("cluster.yaml")).unwrap();
    assert_eq!(
        cluster.control_plane_endpoint().unwrap().to_string(),
        "147.75.80.10:6443"
    );
    assert!(cluster.infrastructure_ready());
    assert!(!cluster.is_paused());
    assert!(
        capi_types::is_paused(&cluster, &cluster),
        "the paused annotation is set"
    );
    let status = cluster.status.unwrap();
    assert_eq!(
        status
            .failure_domains
            .control_plane_names()
            .collect::<Vec<_>>(),
        ["sv"]
    );

    let kcp: KubeadmControlPlane =
        serde_saphyr::from_str(&fixture("kubeadmcontrolplane.yaml")).unwrap();
    assert_eq!(kcp.desired_replicas(), 3);
    assert_eq!(kcp.spec.kubeadm_config_spec.format(), "cloud-config");
}

#[test]
fn an_empty_taint_list_stays_distinct_from_no_taints() {
    // kubeadm treats `taints: []` as "no taints" and a missing list as "default taints".
    let config: KubeadmConfig = serde_saphyr::from_str(&fixture("kubeadmconfig.yaml")).unwrap();
    let join = config.spec.join_configuration.as_ref().unwrap();
    assert_eq!(
        join.node_registration.as_ref().unwrap().taints,
        Some(vec![])
    );
    let template: KubeadmConfigTemplate =
        serde_saphyr::from_str(&fixture("kubeadmconfigtemplate.yaml")).unwrap();
    let spec = template.spec.template.spec.unwrap();
    let join = spec.join_configuration.unwrap();
    assert_eq!(join.node_registration.unwrap().taints, None);
}

#[test]
fn bootstrap_tokens_and_passwords_do_not_appear_in_debug_output() {
    let config: KubeadmConfig = serde_saphyr::from_str(&fixture("kubeadmconfig.yaml")).unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("0123456789abcdef"),
        "bootstrap token leaked"
    );
    assert!(!debug.contains("$6$rounds"), "password hash leaked");
    assert!(debug.contains("[REDACTED]"));
    let json = serde_json::to_string(&config).unwrap();
    assert!(
        json.contains("abcdef.0123456789abcdef"),
        "the wire form keeps the token"
    );
}

/// Parses `{apiVersion, kind, metadata}` plus `extra` into `K` and returns its spec.
fn parse_spec<K>(api_version: &str, kind: &str, extra: &Value) -> Result<K::Spec, String>
where
    K: DeserializeOwned + kube::core::object::HasSpec,
    K::Spec: Clone,
{
    let mut object = serde_json::json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "no-spec", "namespace": "default"},
    });
    for (key, value) in extra.as_object().unwrap() {
        object[key] = value.clone();
    }
    serde_json::from_value::<K>(object)
        .map(|k| k.spec().clone())
        .map_err(|e| e.to_string())
}

macro_rules! spec_less {
    ($kind:ty, $api_version:literal, $upstream:literal) => {
        (
            stringify!($kind),
            $api_version,
            $upstream,
            (|extra: &Value| {
                parse_spec::<$kind>($api_version, stringify!($kind), extra)
                    .map(|spec| spec == Default::default())
            }) as fn(&Value) -> Result<bool, String>,
        )
    };
}

#[test]
fn objects_without_a_spec_are_valid_upstream_and_parse_as_the_zero_spec() {
    // No upstream CRD requires `spec`; the API server stores such objects and Go reads the
    // zero value. An explicit `null` is the same on the wire.
    let kinds = [
        spec_less!(
            Cluster,
            "cluster.x-k8s.io/v1beta1",
            "cluster.x-k8s.io_clusters.yaml"
        ),
        spec_less!(
            Machine,
            "cluster.x-k8s.io/v1beta1",
            "cluster.x-k8s.io_machines.yaml"
        ),
        spec_less!(
            MachineSet,
            "cluster.x-k8s.io/v1beta1",
            "cluster.x-k8s.io_machinesets.yaml"
        ),
        spec_less!(
            MachineDeployment,
            "cluster.x-k8s.io/v1beta1",
            "cluster.x-k8s.io_machinedeployments.yaml"
        ),
        spec_less!(
            KubeadmConfig,
            "bootstrap.cluster.x-k8s.io/v1beta1",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml"
        ),
        spec_less!(
            KubeadmConfigTemplate,
            "bootstrap.cluster.x-k8s.io/v1beta1",
            "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml"
        ),
        spec_less!(
            KubeadmControlPlane,
            "controlplane.cluster.x-k8s.io/v1beta1",
            "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml"
        ),
        spec_less!(
            KubeadmControlPlaneTemplate,
            "controlplane.cluster.x-k8s.io/v1beta1",
            "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml"
        ),
    ];
    let dir = upstream::upstream_dir("objects_without_a_spec_are_valid_upstream");
    for (kind, api_version, upstream_file, parse) in kinds {
        if let Some(dir) = &dir {
            let object = serde_json::json!({
                "apiVersion": api_version, "kind": kind, "metadata": {"name": "no-spec"},
            });
            let errors =
                upstream::validate(&object, &upstream::upstream_schema(dir, upstream_file));
            assert!(
                errors.is_empty(),
                "{kind} without spec upstream: {errors:?}"
            );
        }
        assert_eq!(
            parse(&serde_json::json!({})),
            Ok(true),
            "{kind} without spec"
        );
        assert_eq!(
            parse(&serde_json::json!({"spec": null})),
            Ok(true),
            "{kind} with spec: null"
        );
        let wrong = parse(&serde_json::json!({"spec": "not an object"}));
        assert!(
            wrong.is_err(),
            "{kind}: a string spec must still be rejected"
        );
    }
}

#[test]
fn a_spec_less_kubeadm_config_from_yaml_parses_and_reports_the_default_format() {
    let config: KubeadmConfig = serde_saphyr::from_str(
        "apiVersion: bootstrap.cluster.x-k8s.io/v1beta1\nkind: KubeadmConfig\nmetadata:\n  name: worker-0\nstatus:\n  ready: true\n  dataSecretName: worker-0\n",
    )
    .unwrap();
    assert_eq!(config.spec.format(), "cloud-config");
    assert_eq!(
        config.status.and_then(|s| s.data_secret_name).as_deref(),
        Some("worker-0")
    );
}
