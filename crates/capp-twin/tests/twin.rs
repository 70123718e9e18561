//! The workload-cluster twin end to end: devices created through the real capp-packet client
//! in a loopback-mode simulator, with userdata rendered by capp-bootstrap or in CABPK's
//! layout, judged as kubeadm would; the workload API checked through kube clients that
//! authenticate with client certificates signed by the cluster CA.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test code"
)]

#[path = "twin/support.rs"]
mod support;

use std::time::Duration;

use capp_twin::{CONTROL_PLANE_LABEL, Outcome};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::Api;
use kube::api::ListParams;

use support::*;

async fn nodes(client: &kube::Client) -> Vec<Node> {
    Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
}

fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Initializes a capp-bootstrap control plane behind a fresh Elastic IP; returns the
/// endpoint and the control-plane device id.
async fn init_cluster(world: &World, secrets: &ClusterSecrets, name: &str) -> (String, String) {
    let endpoint = world.reserve_endpoint().await;
    let userdata = capp_userdata(
        secrets,
        name,
        &endpoint,
        "init",
        &token_text(&secrets.token),
        &secrets.ca_hash(),
    );
    let (id, outcome) = world.boot(&format!("{name}-cp-0"), &userdata).await;
    assert_eq!(
        outcome,
        Outcome::Initialized {
            cluster: name.to_owned(),
            node: format!("{name}-cp-0"),
        }
    );
    (endpoint, id)
}

#[tokio::test]
async fn kubeadm_init_serves_the_workload_api_that_capis_kubeconfig_reaches() {
    let world = World::start("da").await;
    let secrets = ClusterSecrets::generate(1);
    let (endpoint, device_id) = init_cluster(&world, &secrets, "alpha").await;
    let client = secrets.admin_client("alpha", &endpoint).await;

    // The control-plane Node, as the kubelet and kubeadm leave it.
    let list = nodes(&client).await;
    assert_eq!(list.len(), 1);
    let node = &list[0];
    assert_eq!(node.metadata.name.as_deref(), Some("alpha-cp-0"));
    let spec = node.spec.as_ref().unwrap();
    assert_eq!(
        spec.provider_id.as_deref(),
        Some(format!("equinixmetal://{device_id}").as_str()),
        "capp-bootstrap's kubelet --provider-id, filled from the metadata"
    );
    assert!(
        node.metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(CONTROL_PLANE_LABEL)
    );
    let taints = spec.taints.as_ref().unwrap();
    assert!(
        taints
            .iter()
            .any(|t| t.key == CONTROL_PLANE_LABEL && t.effect == "NoSchedule")
    );
    assert!(ready(node), "the Node is Ready: {:?}", node.status);
    let internal = &node.status.as_ref().unwrap().addresses.as_ref().unwrap()[0];
    assert_eq!(internal.type_, "InternalIP");
    assert!(
        internal.address.starts_with("127.15"),
        "the private IPv4: {internal:?}"
    );

    // Ready static pods.
    let pods = Api::<Pod>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    for component in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "etcd",
    ] {
        let name = format!("{component}-alpha-cp-0");
        let pod = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("static pod {name}"));
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"), "{name}");
        assert!(
            status
                .conditions
                .as_ref()
                .unwrap()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            "{name} is Ready"
        );
    }

    // kubeadm's uploads.
    let config = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get("kubeadm-config")
        .await
        .unwrap();
    let cluster_configuration = &config.data.unwrap()["ClusterConfiguration"];
    assert!(cluster_configuration.contains(&format!("controlPlaneEndpoint: {endpoint}")));
    let info = Api::<ConfigMap>::namespaced(client.clone(), "kube-public")
        .get("cluster-info")
        .await
        .unwrap()
        .data
        .unwrap();
    let kubeconfig = capp_pki::Kubeconfig::from_yaml(&info["kubeconfig"]).unwrap();
    assert_eq!(
        kubeconfig.clusters[0].cluster.server,
        format!("https://{endpoint}")
    );
    let ca_pem = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        kubeconfig.clusters[0]
            .cluster
            .certificate_authority_data
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    let ca = capp_pki::Certificate::from_pem(std::str::from_utf8(&ca_pem).unwrap(), "ca").unwrap();
    assert_eq!(
        ca.public_key_hash(),
        secrets.ca_hash(),
        "cluster-info carries the CA"
    );
    assert!(
        info.contains_key(&format!("jws-kubeconfig-{}", secrets.token.id())),
        "the init token signs cluster-info: {:?}",
        info.keys()
    );

    // The API is also on the device's own address, and nobody without a CA-signed
    // certificate gets past the front.
    let device = world.sim.device_json(&device_id).unwrap();
    let own_address = device["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["public"] == true && a["address_family"] == 4)
        .and_then(|a| a["address"].as_str())
        .expect("a public IPv4")
        .to_owned();
    assert!(own_address.starts_with("127."), "{own_address}");
    let direct = secrets
        .admin_client("alpha", &format!("{own_address}:6443"))
        .await;
    assert_eq!(nodes(&direct).await.len(), 1);
    let stranger = ClusterSecrets::generate(2);
    let refused = stranger.admin_client("alpha", &endpoint).await;
    assert!(
        Api::<Node>::all(refused)
            .list(&ListParams::default())
            .await
            .is_err(),
        "a client certificate from another CA is refused"
    );

    // Like kube-apiserver after `kubeadm init`: anyone may read cluster-info (that is how
    // joining nodes discover the cluster), nothing else.
    let anonymous = anonymous_client(&endpoint, secrets.pki.ca.cert_pem());
    let public = Api::<ConfigMap>::namespaced(anonymous.clone(), "kube-public");
    assert!(public.get("cluster-info").await.is_ok());
    let err = Api::<Node>::all(anonymous)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403),
        "anonymous may not list nodes: {err:?}"
    );

    // A second control plane joins with the certificate key `kubeadm init --upload-certs`
    // encrypted the shared CAs with; the wrong key cannot decrypt them.
    let token = token_text(&secrets.token);
    let hash = secrets.ca_hash();
    let wrong_key = capp_userdata(
        &secrets,
        "alpha",
        &endpoint,
        "control-plane-join-other-key",
        &token,
        &hash,
    );
    let (_, outcome) = world.boot("alpha-cp-9", &wrong_key).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            reason: "error downloading certs: error decoding secret data with provided key: cipher: message authentication failed".to_owned()
        }
    );
    let join = capp_userdata(
        &secrets,
        "alpha",
        &endpoint,
        "control-plane-join",
        &token,
        &hash,
    );
    let (cp1, outcome) = world.boot("alpha-cp-1", &join).await;
    assert_eq!(
        outcome,
        Outcome::Joined {
            cluster: "alpha".to_owned(),
            node: "alpha-cp-1".to_owned(),
            control_plane: true
        }
    );
    let cp1_node = Api::<Node>::all(client.clone())
        .get("alpha-cp-1")
        .await
        .unwrap();
    assert!(
        cp1_node
            .metadata
            .labels
            .unwrap()
            .contains_key(CONTROL_PLANE_LABEL)
    );
    assert!(
        Api::<Pod>::namespaced(client.clone(), "kube-system")
            .get("etcd-alpha-cp-1")
            .await
            .is_ok()
    );

    // Deleting one control plane removes its Node and closes its own address; the endpoint
    // keeps serving.
    assert_eq!(
        world.delete(&device_id).await,
        Outcome::Deleted {
            cluster: Some("alpha".to_owned())
        }
    );
    let names: Vec<_> = nodes(&client)
        .await
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["alpha-cp-1"]);
    assert!(
        Api::<Node>::all(direct)
            .list(&ListParams::default())
            .await
            .is_err(),
        "the deleted device's own address no longer answers"
    );

    // Deleting the last control plane stops the workload API.
    world.delete(&cp1).await;
    assert!(world.twin.clusters().await.is_empty());
    let gone = secrets.admin_client("alpha", &endpoint).await;
    assert!(
        Api::<Node>::all(gone)
            .list(&ListParams::default())
            .await
            .is_err(),
        "nothing serves {endpoint} any more"
    );
    world.twin.shutdown().await;
}

#[tokio::test]
async fn cabpk_and_capp_workers_join_with_a_valid_token_and_leave_when_deleted() {
    let world = World::start("sv").await;
    let secrets = ClusterSecrets::generate(3);
    let endpoint = world.reserve_endpoint().await;
    let host = endpoint.rsplit_once(':').unwrap().0.to_owned();
    // A control plane in CABPK's layout (jinja header, /run/kubeadm/kubeadm.yaml, v1beta3).
    let init = fixture(
        "cabpk-control-plane-init.yaml",
        &[
            ("CA_CERT", indent(secrets.pki.ca.cert_pem(), 6)),
            (
                "CA_KEY",
                indent(
                    secrecy::ExposeSecret::expose_secret(&secrets.pki.ca.key_pem()),
                    6,
                ),
            ),
            ("ENDPOINT_HOST", host),
            ("ENDPOINT", endpoint.clone()),
            ("CLUSTER", "beta".to_owned()),
        ],
    );
    let (cp_id, outcome) = world.boot("beta-cp-0", &init).await;
    assert_eq!(
        outcome,
        Outcome::Initialized {
            cluster: "beta".to_owned(),
            node: "beta-cp-0".to_owned()
        }
    );
    let client = secrets.admin_client("beta", &endpoint).await;
    let cp = Api::<Node>::all(client.clone())
        .get("beta-cp-0")
        .await
        .unwrap();
    assert_eq!(
        cp.spec.unwrap().provider_id,
        Some(format!("equinixmetal://{cp_id}")),
        "`{{{{ v1.instance_id }}}}` resolved by the twin's cloud-init"
    );
    // CABPK creates the join token through the workload kubeconfig.
    create_token(&client, &secrets.token, Duration::from_secs(900)).await;

    let cabpk_worker = fixture(
        "cabpk-worker.yaml",
        &[
            ("ENDPOINT", endpoint.clone()),
            ("CA_HASH", secrets.ca_hash()),
            ("TOKEN", token_text(&secrets.token)),
        ],
    );
    // As capp will hand it to the device: CABPK's payload plus the Packet additions (the
    // metadata identity script that also gives the kubelet --provider-id).
    let cabpk_worker = capp_bootstrap::compose(
        &cabpk_worker,
        capp_bootstrap::BootstrapFormat::CloudConfig,
        &capp_bootstrap::PacketAdditions::metal_kubelet_identity(
            capp_bootstrap::BootstrapFormat::CloudConfig,
        ),
        capp_bootstrap::METAL_USERDATA_LIMIT,
    )
    .expect("capp-bootstrap composes the CABPK payload");
    assert!(
        cabpk_worker.starts_with("## template: jinja\n"),
        "{cabpk_worker}"
    );
    let (w0, outcome) = world.boot("beta-md-0", &cabpk_worker).await;
    assert_eq!(
        outcome,
        Outcome::Joined {
            cluster: "beta".to_owned(),
            node: "beta-md-0".to_owned(),
            control_plane: false
        }
    );
    // Watches stream through the TLS front: the next worker's Node arrives as an event.
    let watch = Api::<Node>::all(client.clone())
        .watch(
            &kube::api::WatchParams::default().fields("metadata.name=beta-md-1"),
            "0",
        )
        .await
        .expect("a watch through the front");
    let capp_worker = capp_userdata(
        &secrets,
        "beta",
        &endpoint,
        "worker",
        &token_text(&secrets.token),
        &secrets.ca_hash(),
    );
    let (w1, outcome) = world.boot("beta-md-1", &capp_worker).await;
    assert!(matches!(outcome, Outcome::Joined { .. }), "{outcome:?}");

    let mut watch = std::pin::pin!(watch);
    let event = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut watch))
        .await
        .expect("an event within the wait")
        .expect("the stream is open")
        .expect("a watch event");
    match event {
        kube::api::WatchEvent::Added(node) => {
            assert_eq!(node.metadata.name.as_deref(), Some("beta-md-1"));
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    let all = nodes(&client).await;
    assert_eq!(all.len(), 3);
    for (name, id) in [("beta-md-0", &w0), ("beta-md-1", &w1)] {
        let node = all
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .unwrap();
        assert!(ready(node), "{name} is Ready");
        assert_eq!(
            node.spec.as_ref().unwrap().provider_id,
            Some(format!("equinixmetal://{id}"))
        );
        assert!(
            !node
                .metadata
                .labels
                .as_ref()
                .unwrap()
                .contains_key(CONTROL_PLANE_LABEL)
        );
    }

    // The real kubectl accepts CAPI's kubeconfig for the twin's workload API.
    if let Some(kubectl) = kubectl_path().filter(|_| require("kubectl", kubectl_path().is_some())) {
        let mut rng =
            <capp_pki::rand::rngs::StdRng as capp_pki::rand::SeedableRng>::seed_from_u64(3);
        let kubeconfig = secrets
            .pki
            .admin_kubeconfig("beta", &format!("https://{endpoint}"), now(), &mut rng)
            .unwrap();
        let path =
            std::env::temp_dir().join(format!("capp-twin-kubeconfig-{}", std::process::id()));
        std::fs::write(&path, kubeconfig.to_yaml().unwrap().expose()).unwrap();
        let output = tokio::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&path)
            .args([
                "get",
                "nodes",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.spec.providerID} {end}",
            ])
            .output()
            .await
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("beta-md-0=equinixmetal://{w0}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("beta-cp-0=equinixmetal://{cp_id}")),
            "{stdout}"
        );
    }

    // Deleting a worker removes its Node; the control plane keeps serving.
    world.delete(&w0).await;
    let names: Vec<_> = nodes(&client)
        .await
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["beta-cp-0", "beta-md-1"]);
    world.twin.shutdown().await;
}

#[tokio::test]
async fn a_join_with_an_unknown_wrong_or_expired_token_is_refused_and_leaves_no_node() {
    let world = World::start("ny").await;
    let secrets = ClusterSecrets::generate(4);
    let (endpoint, _) = init_cluster(&world, &secrets, "gamma").await;
    let client = secrets.admin_client("gamma", &endpoint).await;

    let unknown = "zzzzzz.0123456789abcdef";
    let userdata = capp_userdata(
        &secrets,
        "gamma",
        &endpoint,
        "worker",
        unknown,
        &secrets.ca_hash(),
    );
    let (id, outcome) = world.boot("gamma-md-0", &userdata).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            reason: "could not find a JWS signature in the cluster-info ConfigMap for token ID \"zzzzzz\"".to_owned()
        }
    );
    assert_eq!(world.state(&id).await, "active", "the device stays active");

    let wrong_secret = format!("{}.0000000000000000", secrets.token.id());
    let userdata = capp_userdata(
        &secrets,
        "gamma",
        &endpoint,
        "worker",
        &wrong_secret,
        &secrets.ca_hash(),
    );
    let (_, outcome) = world.boot("gamma-md-1", &userdata).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            reason: "failed to verify JWS signature of received cluster info object, can't trust this API Server".to_owned()
        }
    );

    let mut rng = <capp_pki::rand::rngs::StdRng as capp_pki::rand::SeedableRng>::seed_from_u64(44);
    let expired = capp_pki::BootstrapToken::generate(&mut rng);
    create_token(&client, &expired, Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let userdata = capp_userdata(
        &secrets,
        "gamma",
        &endpoint,
        "worker",
        &token_text(&expired),
        &secrets.ca_hash(),
    );
    let (_, outcome) = world.boot("gamma-md-2", &userdata).await;
    assert!(
        matches!(&outcome, Outcome::Refused { reason } if reason.contains("could not find a JWS signature")),
        "an expired token no longer signs cluster-info: {outcome:?}"
    );

    let names: Vec<_> = nodes(&client)
        .await
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["gamma-cp-0"], "no refused device has a Node");

    // The front authenticates bearer tokens as kube-apiserver does: a valid bootstrap token
    // is `system:bootstrap:<id>` (authenticated, but RBAC grants it nothing here), anything
    // else is a 401.
    let as_token = |token: &str| {
        let mut config = kube::Config::new(format!("https://{endpoint}").parse().unwrap());
        config.root_cert = Some(vec![secrets.pki.ca.certificate().der().to_vec()]);
        config.auth_info.token = Some(token.to_owned().into());
        kube::Client::try_from(config).unwrap()
    };
    let status = |result: Result<_, kube::Error>| match result {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    };
    let bootstrap = Api::<Node>::all(as_token(&token_text(&secrets.token)));
    assert_eq!(status(bootstrap.list(&ListParams::default()).await), 403);
    let forged = Api::<Node>::all(as_token(&wrong_secret));
    assert_eq!(status(forged.list(&ListParams::default()).await), 401);
    world.twin.shutdown().await;
}

#[tokio::test]
async fn a_join_pinning_another_ca_is_refused_with_kubeadms_reason() {
    let world = World::start("am").await;
    let secrets = ClusterSecrets::generate(5);
    let (endpoint, _) = init_cluster(&world, &secrets, "delta").await;
    let other = ClusterSecrets::generate(6).ca_hash();
    let userdata = capp_userdata(
        &secrets,
        "delta",
        &endpoint,
        "worker",
        &token_text(&secrets.token),
        &other,
    );
    let (id, outcome) = world.boot("delta-md-0", &userdata).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            reason: format!(
                "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys {:?} are pinned",
                secrets.ca_hash()
            )
        }
    );
    assert_eq!(world.state(&id).await, "active");
    // The kubeadm `admin.conf` identity (group kubeadm:cluster-admins, bound to
    // cluster-admin by kubeadm's RBAC) works as well as CAPI's system:masters one.
    let kubeconfig = world
        .twin
        .kubeconfig_for(
            "delta",
            &capp_twin::Identity::user("kubernetes-admin", &["kubeadm:cluster-admins"]),
        )
        .await
        .expect("the cluster runs")
        .expect("a kubeconfig");
    let client = client_from_yaml(kubeconfig.to_yaml().unwrap().expose()).await;
    assert_eq!(nodes(&client).await.len(), 1);
    let nobody = world
        .twin
        .kubeconfig_for("delta", &capp_twin::Identity::user("jane", &["developers"]))
        .await
        .unwrap()
        .unwrap();
    let nobody = client_from_yaml(nobody.to_yaml().unwrap().expose()).await;
    let err = Api::<Node>::all(nobody)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403),
        "RBAC applies: {err:?}"
    );
    world.twin.shutdown().await;
}

#[tokio::test]
async fn a_join_to_an_endpoint_nobody_serves_is_refused_as_connection_refused() {
    let world = World::start("fr").await;
    let secrets = ClusterSecrets::generate(7);
    let (endpoint, _) = init_cluster(&world, &secrets, "epsilon").await;
    let elsewhere = world.reserve_endpoint().await;
    assert_ne!(elsewhere, endpoint);
    let userdata = capp_userdata(
        &secrets,
        "epsilon",
        &elsewhere,
        "worker",
        &token_text(&secrets.token),
        &secrets.ca_hash(),
    );
    let (id, outcome) = world.boot("epsilon-md-0", &userdata).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            reason: format!(
                "failed to request the cluster-info ConfigMap: Get \"https://{elsewhere}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp {elsewhere}: connect: connection refused"
            )
        }
    );
    assert_eq!(world.state(&id).await, "active");
    let client = secrets.admin_client("epsilon", &endpoint).await;
    assert_eq!(nodes(&client).await.len(), 1);
    world.twin.shutdown().await;
}

#[tokio::test]
async fn ignition_userdata_is_reported_unsupported_and_the_device_stays_active() {
    let world = World::start("sg").await;
    let ignition = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/kubeadm.yml"}]},"systemd":{"units":[{"name":"kubeadm.service","enabled":true}]}}"#;
    let (id, outcome) = world.boot("flatcar-0", ignition).await;
    assert!(
        matches!(&outcome, Outcome::Unsupported { reason } if reason.contains("Ignition")),
        "{outcome:?}"
    );
    assert_eq!(world.state(&id).await, "active");
    assert!(world.twin.clusters().await.is_empty());
    world.twin.shutdown().await;
}
