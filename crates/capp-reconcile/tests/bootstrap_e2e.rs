//! End to end with the infrastructure controllers, the bootstrap controller and the
//! simulator's workload-cluster twin (the referee for tokens, CA hashes and endpoints): the
//! first control plane runs `kubeadm init`, a second one joins as a control plane, a worker
//! joins with a token minted in the workload cluster, and all three are Nodes there. The
//! admin kubeconfig works with real kubectl, the worker's token is refreshed when it
//! expires, and every userdata passes `cloud-init schema` and the upstream kubeadm type check.
//!
//! CAPI core is not running: the test copies the PacketCluster endpoint to the Cluster and
//! each config's `status.dataSecretName` to its Machine, as core's controllers would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

#[path = "support/bootstrap.rs"]
mod bootstrap_support;

use std::time::Duration;

use bootstrap_support::{
    check_userdata, copy_control_plane_endpoint, copy_data_secret_name, install_crds,
    kubeadm_documents, machine, require, secret, skip_shared_addresses, start, text, tool,
};
use capp_api::core::CoreVersion;
use capp_bootstrap::CloudConfig;
use capp_pki::{BootstrapToken, Kubeconfig};
use capp_reconcile::bootstrap::BootstrapSettings;
use capp_reconcile::bootstrap::render::join_token;
use capp_twin::{Outcome, Twin};
use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::{NS, PATIENCE, World, eventually};

/// capp-twin and capp-sim tests use every metro; `skip_shared_addresses` keeps us apart.
const METRO: &str = "fr";
const TOKEN_TTL: Duration = Duration::from_secs(30);

fn packet_machine() -> Value {
    json!({"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly"})
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}

async fn workload_client(kubeconfig_yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn device_of(world: &World, name: &str) -> String {
    world
        .machine_until(name, "created", |pm| pm.device_id().is_some())
        .await
        .device_id()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn init_then_joins_produce_nodes_in_the_workload_cluster() {
    let world = World::start_with(
        CoreVersion::V1Beta2,
        support::sim_config().with_loopback_addresses(true),
    )
    .await;
    install_crds(&world).await;
    skip_shared_addresses(&world, METRO).await;
    let twin = Twin::start(&world.sim);
    let controllers = world.controllers().await;
    let bootstrap = start(
        &world,
        BootstrapSettings {
            token_ttl: TOKEN_TTL,
            ..BootstrapSettings::default()
        },
    );
    let uid = world.cluster("theta", json!({"metro": METRO})).await;
    let endpoint = copy_control_plane_endpoint(&world, "theta").await;
    assert!(endpoint.starts_with("127."), "{endpoint}");

    for (name, cp) in [
        ("theta-cp-0", true),
        ("theta-cp-1", true),
        ("theta-md-0", false),
    ] {
        machine(
            &world,
            "theta",
            &uid,
            name,
            cp,
            "v1.33.1",
            json!({}),
            Some(packet_machine()),
        )
        .await;
    }

    // One control plane gets init userdata; the other waits for the lock.
    let init = init_holder(&world).await;
    let joiner = if init == "theta-cp-0" {
        "theta-cp-1"
    } else {
        "theta-cp-0"
    };
    copy_data_secret_name(&world, init).await;
    let init_device = device_of(&world, init).await;
    world.sim.finish_provisioning();
    let outcome = twin
        .wait_until(&init_device, PATIENCE, |o| {
            !matches!(o, Outcome::Deleted { .. })
        })
        .await
        .expect("the twin judged the init device");
    assert!(
        matches!(outcome, Outcome::Initialized { ref cluster, .. } if cluster == "theta"),
        "{outcome:?}"
    );

    // Initialized: the second control plane and the worker get join userdata.
    for name in [joiner, "theta-md-0"] {
        copy_data_secret_name(&world, name).await;
    }
    let mut joined_nodes = Vec::new();
    for (name, control_plane) in [(joiner, true), ("theta-md-0", false)] {
        joined_nodes.push(boot_and_join(&world, &twin, name, control_plane).await);
    }

    // Nodes in the workload cluster, seen through the admin kubeconfig we wrote.
    let kubeconfig_yaml = text(&secret(&world, "theta-kubeconfig").await.unwrap(), "value");
    let workload = workload_client(&kubeconfig_yaml).await;
    let nodes: Vec<String> = Api::<Node>::all(workload.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(
        nodes.len(),
        3,
        "init + control-plane join + worker: {nodes:?}"
    );
    assert!(joined_nodes.iter().all(|n| nodes.contains(n)), "{nodes:?}");

    kubectl_lists_the_nodes(&kubeconfig_yaml, 3);
    userdata_pins_the_ca_and_passes_cloud_init(&world, init, joiner, &endpoint, &kubeconfig_yaml)
        .await;
    the_workers_token_exists_and_is_refreshed(&world, &workload).await;

    bootstrap.stop().await;
    controllers.stop().await;
    twin.shutdown().await;
    world.shutdown().await;
}

/// Real kubectl with the kubeconfig against the workload API serving with our CA.
fn kubectl_lists_the_nodes(kubeconfig_yaml: &str, nodes: usize) {
    if let Some(kubectl) = tool("kubectl") {
        let path =
            std::env::temp_dir().join(format!("capp-theta-kubeconfig-{}", std::process::id()));
        std::fs::write(&path, kubeconfig_yaml).unwrap();
        let out = std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&path)
            .args(["get", "nodes", "-o", "name"])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), nodes);
    } else {
        require("kubectl", false);
    }
}

/// The CA is the one in theta-ca; the init userdata holds its keys with 0600, joins pin it
/// and never skip verification; every userdata passes `cloud-init schema` and its kubeadm
/// configuration the upstream kubeadm type check.
async fn userdata_pins_the_ca_and_passes_cloud_init(
    world: &World,
    init: &str,
    joiner: &str,
    endpoint: &str,
    kubeconfig_yaml: &str,
) {
    let ca_pem = text(&secret(world, "theta-ca").await.unwrap(), "tls.crt");
    let ca_hash = capp_pki::Certificate::from_pem(&ca_pem, "theta-ca")
        .unwrap()
        .public_key_hash();
    assert_eq!(
        Kubeconfig::from_yaml(kubeconfig_yaml)
            .unwrap()
            .current_ca()
            .unwrap()
            .pem(),
        ca_pem
    );
    let init_userdata = text(&secret(world, init).await.unwrap(), "value");
    let cloud: CloudConfig = serde_saphyr::from_str(&init_userdata).unwrap();
    for key in ["ca.key", "etcd/ca.key", "front-proxy-ca.key", "sa.key"] {
        let file = cloud
            .write_files
            .iter()
            .find(|f| f.path == format!("/etc/kubernetes/pki/{key}"))
            .unwrap();
        assert_eq!(file.permissions, "0600", "{key}");
    }
    assert!(kind(&kubeadm_documents(&init_userdata), "InitConfiguration").is_some());
    check_userdata(&init_userdata, "init", "InitConfiguration");
    for (name, label) in [(joiner, "control-plane-join"), ("theta-md-0", "worker")] {
        let userdata = text(&secret(world, name).await.unwrap(), "value");
        let docs = kubeadm_documents(&userdata);
        let join = kind(&docs, "JoinConfiguration").expect("a JoinConfiguration");
        let discovery = &join["discovery"]["bootstrapToken"];
        assert_eq!(discovery["caCertHashes"], json!([ca_hash]));
        assert_eq!(discovery["apiServerEndpoint"], json!(endpoint));
        assert!(discovery.get("unsafeSkipCAVerification").is_none());
        assert_eq!(
            join.get("controlPlane").is_some(),
            label == "control-plane-join"
        );
        assert!(
            !userdata.contains("PRIVATE KEY"),
            "no CA key in join userdata"
        );
        check_userdata(&userdata, label, "JoinConfiguration");
    }
}

/// The worker's token exists in the workload cluster with an expiration; expired, it is
/// refreshed; no event carries it or a key.
async fn the_workers_token_exists_and_is_refreshed(world: &World, workload: &kube::Client) {
    // The worker's token exists in the workload cluster, with an expiration.
    let worker_userdata = text(&secret(world, "theta-md-0").await.unwrap(), "value");
    let token: BootstrapToken = join_token(&worker_userdata).unwrap().unwrap();
    let tokens = Api::<Secret>::namespaced(workload.clone(), "kube-system");
    let expiration = |s: &Secret| -> jiff::Timestamp {
        String::from_utf8(s.data.as_ref().unwrap()["expiration"].0.clone())
            .unwrap()
            .parse()
            .unwrap()
    };
    let stored = tokens.get(&token.secret_name()).await.unwrap();
    assert_eq!(
        stored.type_.as_deref(),
        Some("bootstrap.kubernetes.io/token")
    );
    assert!(expiration(&stored) > jiff::Timestamp::now());

    // An expired token of a Machine without a Node is refreshed.
    let past = format!(
        "{:.0}",
        jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)
    );
    tokens
        .patch(
            &token.secret_name(),
            &PatchParams::default(),
            &Patch::Merge(
                json!({"data": {"expiration": k8s_openapi::ByteString(past.into_bytes())}}),
            ),
        )
        .await
        .unwrap();
    eventually("the expired token to be refreshed", || async {
        let s = tokens.get(&token.secret_name()).await.unwrap();
        expiration(&s) > jiff::Timestamp::now()
    })
    .await;

    // Nothing secret in the events of the management cluster.
    let events = Api::<Event>::namespaced(world.client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap();
    let token_text = token.token().expose().to_owned();
    for event in events.items {
        let note = event.note.unwrap_or_default();
        assert!(
            !note.contains("PRIVATE KEY") && !note.contains(&token_text),
            "{note}"
        );
    }
}

/// The control plane that got init userdata (the other waits for the lock).
async fn init_holder(world: &World) -> &'static str {
    let mut init = None;
    eventually("a control plane with init userdata", || async {
        for name in ["theta-cp-0", "theta-cp-1"] {
            if secret(world, name).await.is_some() {
                return true;
            }
        }
        false
    })
    .await;
    for name in ["theta-cp-0", "theta-cp-1"] {
        if secret(world, name).await.is_some() {
            init = Some(name);
        }
    }
    init.unwrap()
}

/// Lets the Machine's device boot and returns the Node the twin registered for its join.
async fn boot_and_join(world: &World, twin: &Twin, name: &str, control_plane: bool) -> String {
    let device = device_of(world, name).await;
    world.sim.finish_provisioning();
    let outcome = twin
        .wait_until(&device, PATIENCE, |o| !matches!(o, Outcome::Deleted { .. }))
        .await
        .expect("the twin judged the joining device");
    match outcome {
        Outcome::Joined {
            cluster,
            control_plane: cp,
            node,
        } => {
            assert_eq!((cluster.as_str(), cp), ("theta", control_plane));
            node
        }
        other => panic!("{name} did not join: {other:?}"),
    }
}
