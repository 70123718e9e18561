//! The built-in kubeadm bootstrap provider against capp-testenv: the cluster's CAs are
//! created once and reused, CAs made by others are used and never replaced, exactly one
//! control plane runs `kubeadm init`, workers wait for the control plane, and a Machine the
//! matrix does not serve gets a condition listing what it does serve. Every init userdata
//! rendered here passes `cloud-init schema` and the upstream kubeadm type check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

#[path = "support/bootstrap.rs"]
mod bootstrap_support;

use std::collections::BTreeMap;

use bootstrap_support::{
    bare_cluster, check_userdata, condition, config_until, delete_machine, install_crds, machine,
    reason, secret, start, text,
};
use capp_api::bootstrap::{
    CERTIFICATES_AVAILABLE, CERTIFICATES_CORRUPTED_REASON, DATA_SECRET_AVAILABLE,
    MACHINE_CONFIG_NOT_FOUND_REASON, PacketKubeadmConfigStatus,
    WAITING_FOR_CONTROL_PLANE_AVAILABLE_REASON, WAITING_FOR_INIT_LOCK_REASON,
};
use capp_api::core::CoreVersion;
use capp_pki::rand::SeedableRng;
use capp_pki::{ClusterPki, ClusterPkiOptions, Kubeconfig};
use capp_reconcile::bootstrap::{BootstrapSettings, MatrixSource, pki::to_k8s};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{NS, World};

const VERSION: &str = "v1.33.1";

fn ready(status: &PacketKubeadmConfigStatus) -> bool {
    status.data_secret_created()
}

/// The resourceVersion and data of the four CA Secrets.
async fn ca_secrets(world: &World, cluster: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for suffix in ["ca", "etcd", "proxy", "sa"] {
        let name = format!("{cluster}-{suffix}");
        let s = secret(world, &name)
            .await
            .unwrap_or_else(|| panic!("{name} exists"));
        out.insert(
            name,
            (
                s.metadata.resource_version.clone().unwrap(),
                text(&s, "tls.crt"),
            ),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_cas_are_created_once_and_then_reused() {
    let world = World::start(CoreVersion::V1Beta2).await;
    install_crds(&world).await;
    let bootstrap = start(&world, BootstrapSettings::default());
    let uid = bare_cluster(&world, "alpha", "127.254.0.10").await;
    machine(
        &world,
        "alpha",
        &uid,
        "alpha-cp-0",
        true,
        VERSION,
        json!({"os": "ubuntu_24_04"}),
        None,
    )
    .await;
    let first = config_until(&world, "alpha-cp-0", "ready", ready).await;
    let status = first.status.unwrap();
    assert_eq!(status.data_secret_name.as_deref(), Some("alpha-cp-0"));
    assert_eq!(condition(&status, CERTIFICATES_AVAILABLE).0, "True");
    let created = ca_secrets(&world, "alpha").await;

    // The data Secret is CABPK's: type, keys, label, controller owner.
    let data = secret(&world, "alpha-cp-0").await.unwrap();
    assert_eq!(data.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
    assert_eq!(text(&data, "format"), "cloud-config");
    assert_eq!(
        data.metadata.labels.as_ref().unwrap()["cluster.x-k8s.io/cluster-name"],
        "alpha"
    );
    let owner = &data.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("PacketKubeadmConfig", Some(true))
    );
    let userdata = text(&data, "value");
    assert!(userdata.contains("kubeadm") && userdata.contains("init"));
    // The CA certificate is in the init userdata; it is the one in <cluster>-ca.
    let ca_pem = &created["alpha-ca"].1;
    assert!(userdata.contains(ca_pem.lines().nth(1).unwrap()));
    check_userdata(&userdata, "init", "InitConfiguration");

    // The kubeconfig Secret follows CAPI's conventions and trusts that CA.
    let kubeconfig = secret(&world, "alpha-kubeconfig").await.unwrap();
    assert_eq!(kubeconfig.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
    let parsed = Kubeconfig::from_yaml(&text(&kubeconfig, "value")).unwrap();
    assert_eq!(parsed.current_ca().unwrap().pem(), *ca_pem);

    // A new control plane of the same cluster (the first one gone): the CAs are reused.
    delete_machine(&world, "alpha-cp-0").await;
    let _ = Api::<ConfigMap>::namespaced(world.client.clone(), NS)
        .delete("alpha-lock", &kube::api::DeleteParams::default())
        .await;
    machine(
        &world,
        "alpha",
        &uid,
        "alpha-cp-1",
        true,
        VERSION,
        json!({"os": "ubuntu_24_04"}),
        None,
    )
    .await;
    config_until(&world, "alpha-cp-1", "ready", ready).await;
    assert_eq!(
        ca_secrets(&world, "alpha").await,
        created,
        "no CA Secret was rewritten"
    );
    bootstrap.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_made_by_others_are_used_and_a_broken_one_is_reported_not_replaced() {
    let world = World::start(CoreVersion::V1Beta1).await;
    install_crds(&world).await;
    // CAPI's <cluster>-ca ... made before us (by KCP, CABPK or an operator).
    let mut rng = capp_pki::rand::rngs::StdRng::seed_from_u64(13);
    let pki = ClusterPki::generate(
        &ClusterPkiOptions::default(),
        jiff::Timestamp::now(),
        &mut rng,
    )
    .unwrap();
    let secrets = Api::<Secret>::namespaced(world.client.clone(), NS);
    for s in pki.to_capi_secrets("beta", NS) {
        secrets
            .create(&PostParams::default(), &to_k8s(&s, None))
            .await
            .unwrap();
    }
    let before = ca_secrets(&world, "beta").await;
    let bootstrap = start(&world, BootstrapSettings::default());
    let uid = bare_cluster(&world, "beta", "127.254.0.20").await;
    machine(
        &world,
        "beta",
        &uid,
        "beta-cp-0",
        true,
        VERSION,
        json!({"os": "debian_12"}),
        None,
    )
    .await;
    config_until(&world, "beta-cp-0", "ready", ready).await;
    assert_eq!(
        ca_secrets(&world, "beta").await,
        before,
        "the existing CAs are kept"
    );
    let userdata = text(&secret(&world, "beta-cp-0").await.unwrap(), "value");
    assert!(userdata.contains(pki.ca.cert_pem().lines().nth(1).unwrap()));
    check_userdata(&userdata, "init-with-existing-cas", "InitConfiguration");
    let kubeconfig = Kubeconfig::from_yaml(&text(
        &secret(&world, "beta-kubeconfig").await.unwrap(),
        "value",
    ))
    .unwrap();
    assert_eq!(kubeconfig.current_ca().unwrap().pem(), pki.ca.cert_pem());

    // A corrupt CA Secret is a condition naming it, and stays as it is.
    let broken = capp_pki::Secret::new(NS, "gamma-ca", "cluster.x-k8s.io/secret")
        .with_data("tls.crt", "not a certificate")
        .with_data("tls.key", "not a key");
    secrets
        .create(&PostParams::default(), &to_k8s(&broken, None))
        .await
        .unwrap();
    let uid = bare_cluster(&world, "gamma", "127.254.0.30").await;
    machine(
        &world,
        "gamma",
        &uid,
        "gamma-cp-0",
        true,
        VERSION,
        json!({"os": "debian_12"}),
        None,
    )
    .await;
    let config = config_until(&world, "gamma-cp-0", "CertificatesCorrupted", |s| {
        reason(s, CERTIFICATES_AVAILABLE) == CERTIFICATES_CORRUPTED_REASON
    })
    .await;
    let (_, _, message) = condition(&config.status.unwrap(), CERTIFICATES_AVAILABLE);
    assert!(message.contains("gamma-ca"), "{message}");
    assert_eq!(
        text(&secret(&world, "gamma-ca").await.unwrap(), "tls.crt"),
        "not a certificate"
    );
    assert!(secret(&world, "gamma-cp-0").await.is_none());
    bootstrap.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_control_planes_created_at_once_exactly_one_runs_kubeadm_init() {
    let world = World::start(CoreVersion::V1Beta2).await;
    install_crds(&world).await;
    let uid = bare_cluster(&world, "delta", "127.254.0.40").await;
    for name in ["delta-cp-0", "delta-cp-1", "delta-cp-2"] {
        machine(
            &world,
            "delta",
            &uid,
            name,
            true,
            VERSION,
            json!({"os": "ubuntu_24_04"}),
            None,
        )
        .await;
    }
    // All three exist before the controller starts: they are reconciled concurrently.
    let bootstrap = start(&world, BootstrapSettings::default());
    let mut inits = Vec::new();
    let mut waiting = Vec::new();
    for name in ["delta-cp-0", "delta-cp-1", "delta-cp-2"] {
        let config = config_until(&world, name, "ready or waiting for the lock", |s| {
            ready(s) || reason(s, DATA_SECRET_AVAILABLE) == WAITING_FOR_INIT_LOCK_REASON
        })
        .await;
        if ready(config.status.as_ref().unwrap()) {
            inits.push(name);
        } else {
            waiting.push(name);
        }
    }
    assert_eq!(
        inits.len(),
        1,
        "exactly one init: {inits:?}, waiting: {waiting:?}"
    );
    let holder = inits[0];
    let lock = Api::<ConfigMap>::namespaced(world.client.clone(), NS)
        .get("delta-lock")
        .await
        .unwrap();
    assert!(lock.data.unwrap()["lock-information"].contains(holder));
    // Only CAs: the others render nothing while the control plane is not initialized.
    for name in &waiting {
        assert!(secret(&world, name).await.is_none());
    }

    // The init Machine goes away before initializing: the lock passes to one of the others.
    delete_machine(&world, holder).await;
    let mut next = None;
    support::eventually("another control plane to get init userdata", || async {
        for name in &waiting {
            if secret(&world, name).await.is_some() {
                return true;
            }
        }
        false
    })
    .await;
    for name in &waiting {
        if secret(&world, name).await.is_some() {
            assert!(next.is_none(), "still exactly one init");
            next = Some(*name);
        }
    }
    let next = next.unwrap();
    let userdata = text(&secret(&world, next).await.unwrap(), "value");
    assert!(userdata.contains("- init"));
    check_userdata(&userdata, "init-after-lock-handover", "InitConfiguration");
    let lock = Api::<ConfigMap>::namespaced(world.client.clone(), NS)
        .get("delta-lock")
        .await
        .unwrap();
    assert!(lock.data.unwrap()["lock-information"].contains(next));
    bootstrap.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_waits_without_error_until_the_control_plane_is_initialized() {
    let world = World::start(CoreVersion::V1Beta2).await;
    install_crds(&world).await;
    let bootstrap = start(&world, BootstrapSettings::default());
    let uid = bare_cluster(&world, "eps", "127.254.0.50").await;
    machine(
        &world,
        "eps",
        &uid,
        "eps-md-0",
        false,
        VERSION,
        json!({"os": "ubuntu_24_04"}),
        None,
    )
    .await;
    let config = config_until(&world, "eps-md-0", "waiting", |s| {
        reason(s, DATA_SECRET_AVAILABLE) == WAITING_FOR_CONTROL_PLANE_AVAILABLE_REASON
    })
    .await;
    let status = config.status.unwrap();
    let waiting = status
        .conditions
        .iter()
        .find(|c| c.type_ == DATA_SECRET_AVAILABLE)
        .unwrap();
    assert_eq!(
        waiting.severity.as_deref(),
        Some("Info"),
        "waiting is not an error"
    );
    assert!(!status.ready);
    assert!(secret(&world, "eps-md-0").await.is_none());
    bootstrap.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_the_matrix_does_not_serve_gets_a_condition_listing_the_entries() {
    let world = World::start(CoreVersion::V1Beta2).await;
    install_crds(&world).await;
    let bootstrap = start(&world, BootstrapSettings::default());
    let uid = bare_cluster(&world, "zeta", "127.254.0.60").await;
    machine(
        &world,
        "zeta",
        &uid,
        "zeta-cp-0",
        true,
        VERSION,
        json!({"os": "flatcar_stable"}),
        None,
    )
    .await;
    let config = config_until(&world, "zeta-cp-0", "MachineConfigNotFound", |s| {
        reason(s, DATA_SECRET_AVAILABLE) == MACHINE_CONFIG_NOT_FOUND_REASON
    })
    .await;
    let (_, _, message) = condition(&config.status.unwrap(), DATA_SECRET_AVAILABLE);
    assert!(message.contains("flatcar_stable"), "{message}");
    for entry in ["ubuntu_22_04", "ubuntu_24_04", "debian_12"] {
        assert!(message.contains(entry), "lists {entry}: {message}");
    }
    // An unsupported Kubernetes version is the same condition.
    machine(
        &world,
        "zeta",
        &uid,
        "zeta-cp-1",
        true,
        "v1.20.0",
        json!({"os": "ubuntu_24_04"}),
        None,
    )
    .await;
    config_until(&world, "zeta-cp-1", "MachineConfigNotFound", |s| {
        reason(s, DATA_SECRET_AVAILABLE) == MACHINE_CONFIG_NOT_FOUND_REASON
    })
    .await;
    bootstrap.stop().await;
    world.shutdown().await;
}

const ONE_ENTRY_MATRIX: &str = r"
items:
- name: debian-only
  machineParams:
  - image: debian_12
    versions: {kubelet: 1.33.x, controlPlane: 1.33.x}
    containerRuntime: containerd
  userdata: |
    #!/bin/sh
    echo setting up {{kubernetes.tag}} on {{image}} with {{runtime_package}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_matrix_configmap_replaces_the_built_in_one() {
    let world = World::start(CoreVersion::V1Beta2).await;
    install_crds(&world).await;
    let cm: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "machine-configs", "namespace": NS},
        "data": {"machine_configs.yaml": ONE_ENTRY_MATRIX},
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(world.client.clone(), NS)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let bootstrap = start(
        &world,
        BootstrapSettings {
            matrix: MatrixSource::ConfigMap {
                namespace: NS.to_owned(),
                name: "machine-configs".to_owned(),
            },
            ..BootstrapSettings::default()
        },
    );
    let uid = bare_cluster(&world, "eta", "127.254.0.70").await;
    machine(
        &world,
        "eta",
        &uid,
        "eta-cp-0",
        true,
        VERSION,
        json!({"os": "debian_12"}),
        None,
    )
    .await;
    config_until(&world, "eta-cp-0", "ready", ready).await;
    let userdata = text(&secret(&world, "eta-cp-0").await.unwrap(), "value");
    assert!(
        userdata.contains("echo setting up v1.33.1 on debian_12 with containerd"),
        "the operator's script is used"
    );
    check_userdata(&userdata, "operator-matrix-init", "InitConfiguration");
    // Ubuntu is in the built-in matrix but not in the operator's: not served.
    machine(
        &world,
        "eta",
        &uid,
        "eta-cp-1",
        true,
        VERSION,
        json!({"os": "ubuntu_24_04", "containerRuntime": "containerd"}),
        None,
    )
    .await;
    let config = config_until(&world, "eta-cp-1", "MachineConfigNotFound", |s| {
        reason(s, DATA_SECRET_AVAILABLE) == MACHINE_CONFIG_NOT_FOUND_REASON
    })
    .await;
    let (_, _, message) = condition(&config.status.unwrap(), DATA_SECRET_AVAILABLE);
    assert!(message.contains("debian-only"), "{message}");
    assert!(!message.contains("ubuntu_22_04"), "{message}");
    bootstrap.stop().await;
    world.shutdown().await;
}
