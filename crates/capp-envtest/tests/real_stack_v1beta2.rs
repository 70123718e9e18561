//! Issue 14's acceptance on the real upstream stack (flow 3): Cluster API v1.14 reads our
//! objects through the v1beta2 contract, and the real kube-apiserver converts them for
//! v1beta1 clients through the manager's conversion webhook.
//!
//! The stack is flow 1's (`real_stack.rs`): etcd, kube-apiserver v1.36, kube-controller-manager
//! and the three real Cluster API v1.14 managers from the upstream tier, `capp-sim
//! --kubeadm-twin` and the real `capp-manager` binary as processes, the components applied
//! with kubectl. The components carry the two-version CRDs (v1beta2 stored, both contract
//! labels, `Webhook` conversion); the test stands in for cert-manager and cluster DNS
//! (`capp_envtest::webhook::LocalConversion`: a serving certificate in a kubelet-style Secret
//! directory, the CRDs' `clientConfig` pointed at the manager's `--webhook-port`).
//!
//! Our default template (v1beta1 manifests, KubeadmControlPlane with 1 replica,
//! MachineDeployment with 2) with two failure domains on the PacketCluster: the cluster metro
//! `sg` (control plane allowed) and `sv` (workers only), the MachineDeployment placed in `sv`.
//!
//! 1. The core reads the v1beta2 contract: no client lists or watches our kinds as v1beta1
//!    (kube-apiserver's `apiserver_request_total`); Cluster `InfrastructureReady` is our
//!    PacketCluster's `Ready` (status, reason, message, transition time), and each Machine's
//!    `InfrastructureReady` its PacketMachine's; `Cluster.status.failureDomains` is our list
//!    with its controlPlane flags; KCP places the control plane Machine in `sg` (the only
//!    control-plane domain), the MachineSet the workers in `sv`, and the simulator's device
//!    of each Machine is in its Machine's metro.
//! 2. `kubectl get packetmachines.v1beta1...` / `packetclusters.v1beta1...` show the v1beta1
//!    shape (`ready`, the failure domain map) of objects stored as v1beta2; kube-apiserver's
//!    conversion metric and the manager's `capp_conversion_reviews_total` count the calls.
//! 3. The Go provider's Packet objects (v1beta1) apply unchanged through the manager's
//!    webhook and read back as v1beta1 with every field.
//! 4. A renewed serving certificate (new pair swapped into the directory as kubelet does, the
//!    CRDs' `caBundle` updated as cert-manager's CA injector does) serves new connections and
//!    keeps conversion working, the manager never restarted.
//! 5. Deleting the cluster leaves the simulator without devices or IP reservations.
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.
//! See docs/e2e.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;
#[path = "support/real_stack.rs"]
mod real_stack;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capp_api::conversion::DATA_ANNOTATION;
use common::{eventually, go_template, kubectl_ok, kubectl_resource, missing_leaves};
use real_stack::{
    Stack, apply_in_new_namespace, default_template, delete_cluster_leaves_the_simulator_empty,
    free_port, http, machines, machines_running, one_device_per_machine, stack, start_manager,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

/// Our four kinds' CRDs.
const CRDS: [&str; 4] = [
    "packetclusters.infrastructure.cluster.x-k8s.io",
    "packetmachines.infrastructure.cluster.x-k8s.io",
    "packetmachinetemplates.infrastructure.cluster.x-k8s.io",
    "packetclustertemplates.infrastructure.cluster.x-k8s.io",
];
/// The cluster metro: the Elastic IP's, the only failure domain for control plane Machines.
/// Flows 1 and 2 use `am` and `fr`; all real-stack flows run one at a time anyway
/// (`.config/nextest.toml`, group `loopback-twins`).
const CONTROL_PLANE_METRO: &str = "sg";
/// The workers' failure domain (`controlPlane: false`).
const WORKER_METRO: &str = "sv";
/// The manager's conversion counter.
const REVIEWS: &str = "capp_conversion_reviews_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_3_the_v1beta2_contract_and_the_conversion_webhook() {
    let started = Instant::now();
    let Some(mut stack) = stack("flow-3").await else {
        return;
    };
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let metrics_flag = format!("--metrics-bind-address={metrics_addr}");
    let mut manager = start_manager(
        &stack.dir,
        "capp-manager",
        &stack.manager_kubeconfig,
        &stack.sim,
        &stack.webhook,
        &[&metrics_flag],
    );
    the_crds_serve_both_versions_and_store_v1beta2(&stack).await;

    let (ns, cluster) = ("e2e-v1beta2", "fd");
    let mut docs = default_template(&stack, ns, cluster, CONTROL_PLANE_METRO);
    for doc in &mut docs {
        match doc["kind"].as_str() {
            Some("PacketCluster") => {
                doc["spec"]["failureDomains"] = json!([
                    {"name": CONTROL_PLANE_METRO, "controlPlane": true},
                    {"name": WORKER_METRO, "controlPlane": false},
                ]);
            }
            Some("MachineDeployment") => {
                doc["spec"]["template"]["spec"]["failureDomain"] = json!(WORKER_METRO);
            }
            _ => {}
        }
    }
    let reservations_before = stack.sim.state()["ip_reservations"].clone();
    apply_in_new_namespace(&stack, ns, docs).await;
    let list = machines_running(&stack, ns, 3).await;
    let running_after = started.elapsed();
    one_device_per_machine(&stack.sim, &list);

    // 1. The v1beta2 contract.
    nobody_reads_our_kinds_as_v1beta1(&apiserver_metrics(&stack).await);
    cluster_mirrors_our_ready_and_failure_domains(&stack, ns, cluster).await;
    machines_mirror_our_ready_and_sit_in_their_failure_domains(&stack, ns).await;

    // 2. v1beta1 clients, through the manager's webhook.
    let reviews_before = reviews(&metrics_addr);
    let apiserver_before = conversions_to_v1beta1(&apiserver_metrics(&stack).await);
    let gets = v1beta1_clients_read_the_v1beta1_shape(&stack, ns).await;
    let reviews_after = eventually(10, "the manager counts the conversions", || async {
        let now = reviews(&metrics_addr);
        if now >= reviews_before + gets {
            Ok(now)
        } else {
            Err(format!(
                "{REVIEWS}: {reviews_before} -> {now} for {gets} GETs"
            ))
        }
    })
    .await;
    let apiserver_after = conversions_to_v1beta1(&apiserver_metrics(&stack).await);
    assert!(
        apiserver_after >= apiserver_before + gets,
        "kube-apiserver converted to v1beta1 {apiserver_before} then {apiserver_after} times \
         for {gets} GETs"
    );

    // 3. The Go provider's manifests.
    go_provider_objects_read_back_unchanged(&stack).await;

    // 4. Renewal without restart.
    let renewal = renewed_certificate_keeps_conversion_working(&mut stack, &metrics_addr).await;
    manager.assert_running();

    // 5. Deletion.
    delete_cluster_leaves_the_simulator_empty(&stack, ns, cluster, &reservations_before).await;
    manager.assert_running();
    let total_reviews = reviews(&metrics_addr);
    stack
        .cp
        .check_running()
        .expect("the control plane still runs");
    stack
        .capi
        .check_running()
        .expect("the CAPI managers still run");
    println!(
        "flow 3 (v1beta2 contract on CAPI v1.14, conversion webhook): 3 Machines Running after \
         {running_after:?}; {} conversion reviews during the v1beta1 reads; renewed certificate \
         served after {renewal:?}; {total_reviews} conversion reviews in all; wall time {:?}",
        reviews_after - reviews_before,
        started.elapsed()
    );
    drop(manager);
    drop(stack);
}

/// No client lists or watches PacketClusters or PacketMachines as v1beta1, and some (Cluster
/// API's managers, ours) as v1beta2: kube-apiserver's `apiserver_request_total` (LISTs, and
/// WATCHes once they end) and `apiserver_longrunning_requests` (open WATCHes).
fn nobody_reads_our_kinds_as_v1beta1(apiserver: &str) {
    for resource in ["packetclusters", "packetmachines"] {
        let count = |metric: &str, verb: &str, version: &str| {
            metric_sum(
                apiserver,
                metric,
                &[
                    ("group", capp_api::GROUP),
                    ("resource", resource),
                    ("verb", verb),
                    ("version", version),
                ],
            )
        };
        let v1beta1 = count("apiserver_request_total", "LIST", "v1beta1")
            + count("apiserver_request_total", "WATCH", "v1beta1")
            + count("apiserver_longrunning_requests", "WATCH", "v1beta1");
        // Request counts: below 1 is none.
        assert!(
            v1beta1 < 1.0,
            "{v1beta1} clients list or watch {resource} as v1beta1"
        );
        assert!(
            count("apiserver_request_total", "LIST", "v1beta2") > 0.0,
            "nobody lists {resource} as v1beta2"
        );
        assert!(
            count("apiserver_longrunning_requests", "WATCH", "v1beta2") > 0.0,
            "nobody watches {resource} as v1beta2"
        );
    }
}

/// Both versions served, v1beta2 stored (`status.storedVersions` holds only v1beta2), both
/// contract labels, conversion by our webhook at the stand-in's address.
async fn the_crds_serve_both_versions_and_store_v1beta2(stack: &Stack) {
    for name in CRDS {
        let crd: Value = serde_json::from_str(
            &kubectl_ok(stack.admin(), &["get", "crd", name, "-o", "json"], None).await,
        )
        .unwrap();
        let labels = &crd["metadata"]["labels"];
        assert_eq!(labels["cluster.x-k8s.io/v1beta1"], "v1beta1", "{name}");
        assert_eq!(labels["cluster.x-k8s.io/v1beta2"], "v1beta2", "{name}");
        let versions: Vec<(String, bool, bool)> = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["served"] == true,
                    v["storage"] == true,
                )
            })
            .collect();
        assert_eq!(
            versions,
            [
                ("v1beta1".to_owned(), true, false),
                ("v1beta2".to_owned(), true, true)
            ],
            "{name}"
        );
        assert_eq!(
            crd["status"]["storedVersions"],
            json!(["v1beta2"]),
            "{name}: objects are stored as v1beta2 only"
        );
        assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook", "{name}");
        assert_eq!(
            crd["spec"]["conversion"]["webhook"]["clientConfig"],
            stack.webhook.client_config(),
            "{name}: the stand-in points the API server at the manager"
        );
    }
}

/// `Cluster.status`, read as v1beta2: `initialization.infrastructureProvisioned`, the
/// `InfrastructureReady` condition equal to our PacketCluster's `Ready` (as stored: v1beta2),
/// and our failure domain list with its controlPlane flags.
async fn cluster_mirrors_our_ready_and_failure_domains(stack: &Stack, ns: &str, cluster: &str) {
    let expected = json!([
        {"name": CONTROL_PLANE_METRO, "controlPlane": true,
         "attributes": {"metro": CONTROL_PLANE_METRO}},
        {"name": WORKER_METRO, "controlPlane": false, "attributes": {"metro": WORKER_METRO}},
    ]);
    eventually(60, "Cluster mirrors the PacketCluster", || async {
        let capi = get(stack, "clusters.v1beta2.cluster.x-k8s.io", ns, cluster).await;
        let ours = get(
            stack,
            "packetclusters.v1beta2.infrastructure.cluster.x-k8s.io",
            ns,
            cluster,
        )
        .await;
        let ready = condition(&ours, "Ready");
        let mirrored = condition(&capi, "InfrastructureReady");
        let problems = [
            (ready["status"] != "True").then(|| format!("our Ready: {ready}")),
            (mirrored_fields(&mirrored) != mirrored_fields(&ready))
                .then(|| format!("InfrastructureReady {mirrored} is not our Ready {ready}")),
            (capi["status"]["initialization"]["infrastructureProvisioned"] != true).then(|| {
                format!(
                    "Cluster initialization: {}",
                    capi["status"]["initialization"]
                )
            }),
            (ours["status"]["initialization"]["provisioned"] != true).then(|| {
                format!(
                    "PacketCluster initialization: {}",
                    ours["status"]["initialization"]
                )
            }),
            (capi["status"]["failureDomains"] != expected).then(|| {
                format!(
                    "Cluster failureDomains: {}",
                    capi["status"]["failureDomains"]
                )
            }),
            (sorted_by_name(&ours["status"]["failureDomains"]) != expected).then(|| {
                format!(
                    "PacketCluster failureDomains: {}",
                    ours["status"]["failureDomains"]
                )
            }),
        ];
        let problems: Vec<String> = problems.into_iter().flatten().collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    })
    .await;
}

/// Each Machine (v1beta2): `InfrastructureReady` equal to its PacketMachine's `Ready`;
/// `spec.failureDomain` is `sg` for the control plane (KCP's pick among the domains with
/// `controlPlane: true`) and `sv` for the workers; the simulator's device is in that metro.
async fn machines_mirror_our_ready_and_sit_in_their_failure_domains(stack: &Stack, ns: &str) {
    eventually(60, "Machines mirror their PacketMachines", || async {
        let mut problems = Vec::new();
        for machine in machines(stack.admin(), ns).await {
            let name = machine["metadata"]["name"].as_str().unwrap().to_owned();
            let infra = machine["spec"]["infrastructureRef"]["name"]
                .as_str()
                .unwrap()
                .to_owned();
            let ours = get(
                stack,
                "packetmachines.v1beta2.infrastructure.cluster.x-k8s.io",
                ns,
                &infra,
            )
            .await;
            let ready = condition(&ours, "Ready");
            let mirrored = condition(&machine, "InfrastructureReady");
            if ready["status"] != "True" || mirrored_fields(&mirrored) != mirrored_fields(&ready) {
                problems.push(format!(
                    "{name}: InfrastructureReady {mirrored}, our Ready {ready}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    })
    .await;

    let devices = stack.sim.live_devices();
    let mut placed = Vec::new();
    for machine in machines(stack.admin(), ns).await {
        let control_plane = machine["metadata"]["labels"]
            .get("cluster.x-k8s.io/control-plane")
            .is_some();
        let expected = if control_plane {
            CONTROL_PLANE_METRO
        } else {
            WORKER_METRO
        };
        let name = &machine["metadata"]["name"];
        assert_eq!(
            machine["spec"]["failureDomain"], expected,
            "Machine {name} (control plane: {control_plane})"
        );
        let id = machine["spec"]["providerID"]
            .as_str()
            .unwrap()
            .trim_start_matches("equinixmetal://");
        let device = devices
            .iter()
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("Machine {name}: no device {id}"));
        assert_eq!(
            device["metro"], expected,
            "the device of Machine {name}: {device}"
        );
        placed.push(control_plane);
    }
    placed.sort_unstable();
    assert_eq!(
        placed,
        [false, false, true],
        "2 workers and 1 control plane"
    );
}

/// v1beta1 reads (LIST, then GET of each object) of objects stored as v1beta2: the v1beta1
/// shape. Returns the number of GETs (each one a conversion by the webhook).
async fn v1beta1_clients_read_the_v1beta1_shape(stack: &Stack, ns: &str) -> f64 {
    let list = |resource: &'static str| async move {
        let out = kubectl_ok(
            stack.admin(),
            &["get", resource, "-n", ns, "-o", "json"],
            None,
        )
        .await;
        let list: Value = serde_json::from_str(&out).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    };
    let machines = list("packetmachines.v1beta1.infrastructure.cluster.x-k8s.io").await;
    assert_eq!(machines.len(), 3);
    for m in &machines {
        let name = &m["metadata"]["name"];
        assert_eq!(m["apiVersion"], capp_api::API_VERSION, "{name}");
        let status = &m["status"];
        assert_eq!(status["ready"], true, "{name}: {status}");
        assert!(status.get("deprecated").is_none(), "{name}: {status}");
        assert!(
            has_condition(&status["v1beta2"]["conditions"], "Ready", "True"),
            "{name}: the metav1 conditions under status.v1beta2: {status}"
        );
        assert!(
            has_condition(&status["conditions"], "Ready", "True"),
            "{name}: the v1beta1 conditions: {status}"
        );
    }
    let clusters = list("packetclusters.v1beta1.infrastructure.cluster.x-k8s.io").await;
    assert_eq!(clusters.len(), 1);
    let status = &clusters[0]["status"];
    assert_eq!(clusters[0]["apiVersion"], capp_api::API_VERSION);
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(
        status["failureDomains"],
        json!({
            CONTROL_PLANE_METRO: {"controlPlane": true, "attributes": {"metro": CONTROL_PLANE_METRO}},
            WORKER_METRO: {"controlPlane": false, "attributes": {"metro": WORKER_METRO}},
        }),
        "the v1beta1 failure domain map"
    );

    // A LIST is served from kube-apiserver's watch cache of the version, which converted each
    // object when it was written; a GET by name reads etcd and converts through the webhook.
    for item in machines.iter().chain(&clusters) {
        let name = item["metadata"]["name"].as_str().unwrap();
        let resource = kubectl_resource(item);
        let got = get(stack, &resource, ns, name).await;
        assert_eq!(
            got["status"], item["status"],
            "{resource}/{name}: GET and LIST agree"
        );
    }

    // The same objects as stored: the v1beta2 shape.
    for m in list("packetmachines.v1beta2.infrastructure.cluster.x-k8s.io").await {
        let status = &m["status"];
        assert_eq!(status["initialization"]["provisioned"], true, "{status}");
        assert!(status.get("ready").is_none(), "{status}");
        assert!(
            has_condition(
                &status["deprecated"]["v1beta1"]["conditions"],
                "Ready",
                "True"
            ),
            "{status}"
        );
    }
    f64::from(u32::try_from(machines.len() + clusters.len()).unwrap())
}

/// The Go provider's PacketCluster and PacketMachineTemplates (v1beta1) apply through the
/// manager's webhook and read back as v1beta1 with every field; then they are deleted.
async fn go_provider_objects_read_back_unchanged(stack: &Stack) {
    let ns = "go-provider";
    let docs: Vec<Value> = go_template("cluster-template.yaml", ns)
        .into_iter()
        .filter(|d| {
            d["kind"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("Packet"))
        })
        .collect();
    assert_eq!(
        docs.len(),
        3,
        "PacketCluster, and a PacketMachineTemplate per role"
    );
    apply_in_new_namespace(stack, ns, docs.clone()).await;
    for doc in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let stored = get(stack, &kubectl_resource(doc), ns, name).await;
        let mut missing = Vec::new();
        missing_leaves("", &doc["spec"], &stored["spec"], &mut missing);
        assert!(missing.is_empty(), "{} {name}: {missing:#?}", doc["kind"]);
        assert_eq!(stored["apiVersion"], capp_api::API_VERSION);
        assert!(
            stored["metadata"]["annotations"]
                .get(DATA_ANNOTATION)
                .is_none(),
            "{name}: a v1beta1 object read as v1beta1 carries no conversion data"
        );
    }
    let file = stack.dir.write(
        "go-provider.json",
        &json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    );
    kubectl_ok(
        stack.admin(),
        &["delete", "-f", file.to_str().unwrap(), "--timeout=60s"],
        None,
    )
    .await;
}

/// Swaps a new certificate (new CA) into the directory as kubelet does and updates the CRDs'
/// `caBundle` as cert-manager's CA injector does: new TLS connections get the new
/// certificate, and v1beta1 reads keep working, counted by the same manager process. Returns
/// the time from the swap until a handshake trusting only the new CA succeeded.
async fn renewed_certificate_keeps_conversion_working(
    stack: &mut Stack,
    metrics_addr: &str,
) -> Duration {
    let port = stack.webhook.port;
    stack
        .webhook
        .certs
        .renew()
        .expect("the certificate is renewed");
    let swapped = Instant::now();
    let new_ca = stack.webhook.certs.ca_pem().to_owned();
    let served = eventually(30, "the manager serves the renewed certificate", || {
        let new_ca = new_ca.clone();
        async move { handshake(port, &new_ca).await }
    })
    .await;
    let renewal = swapped.elapsed();
    assert_eq!(served, stack.webhook.certs.leaf_der());

    let patch = json!({"spec": {"conversion": {"webhook": {
        "clientConfig": stack.webhook.client_config()}}}})
    .to_string();
    for name in CRDS {
        kubectl_ok(
            stack.admin(),
            &["patch", "crd", name, "--type=merge", "-p", &patch],
            None,
        )
        .await;
    }
    let before = reviews(metrics_addr);
    eventually(30, "a v1beta1 read after the renewal", || async {
        let out = capp_envtest::kubectl(
            stack.admin(),
            &[
                "get",
                "packetclusters.v1beta1.infrastructure.cluster.x-k8s.io",
                "-A",
                "-o",
                "json",
            ],
            None,
        )
        .await
        .unwrap();
        let now = reviews(metrics_addr);
        if out.success && now > before {
            Ok(())
        } else {
            Err(format!(
                "kubectl: {}; {REVIEWS}: {before} -> {now}",
                out.stderr
            ))
        }
    })
    .await;
    renewal
}

/// A TLS handshake with the webhook trusting only `ca_pem`; the certificate presented.
async fn handshake(port: u16, ca_pem: &str) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| e.to_string())?;
    let tls = connector
        .connect(
            ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into()),
            tcp,
        )
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.to_vec())
        .ok_or_else(|| "no certificate presented".to_owned())
}

/// `kubectl get <resource>/<name> -n <ns> -o json`.
async fn get(stack: &Stack, resource: &str, ns: &str, name: &str) -> Value {
    let out = kubectl_ok(
        stack.admin(),
        &["get", &format!("{resource}/{name}"), "-n", ns, "-o", "json"],
        None,
    )
    .await;
    serde_json::from_str(&out).unwrap()
}

/// The metav1 condition `type` of `object.status.conditions` (`null` when absent).
fn condition(object: &Value, type_: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or(Value::Null)
}

/// What Cluster API's mirror copies: status, reason, message, lastTransitionTime.
fn mirrored_fields(condition: &Value) -> [Value; 4] {
    ["status", "reason", "message", "lastTransitionTime"]
        .map(|k| condition.get(k).cloned().unwrap_or(Value::Null))
}

fn has_condition(conditions: &Value, type_: &str, status: &str) -> bool {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == status)
}

/// A failure domain list sorted by name (Cluster API sorts what it copies).
fn sorted_by_name(list: &Value) -> Value {
    let mut items = list.as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Value::Array(items)
}

/// kube-apiserver's `/metrics` (admin).
async fn apiserver_metrics(stack: &Stack) -> String {
    kubectl_ok(stack.admin(), &["get", "--raw", "/metrics"], None).await
}

/// Conversions of our objects from v1beta2 to v1beta1 that kube-apiserver asked a webhook for
/// and that succeeded (`apiserver_crd_conversion_webhook_duration_seconds`, by CRD).
fn conversions_to_v1beta1(apiserver: &str) -> f64 {
    CRDS.iter()
        .map(|crd| {
            metric_sum(
                apiserver,
                "apiserver_crd_conversion_webhook_duration_seconds_count",
                &[
                    ("crd_name", crd),
                    ("from_version", "v1beta2"),
                    ("to_version", "v1beta1"),
                    ("succeeded", "true"),
                ],
            )
        })
        .sum()
}

/// The manager's `capp_conversion_reviews_total{result="success"}`.
fn reviews(metrics_addr: &str) -> f64 {
    let (status, body) = http(metrics_addr, "GET", "/metrics", &[]).expect("the manager's metrics");
    assert_eq!(status, 200, "GET /metrics: {body}");
    metric_sum(&body, REVIEWS, &[("result", "success")])
}

/// The sum of the samples of `name` (Prometheus text format) whose labels include every
/// `key="value"` of `labels`.
fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            let has = |(k, v): &(&str, &str)| {
                let pair = format!("{k}=\"{v}\"");
                rest.starts_with(&pair) || rest.contains(&format!(",{pair}"))
            };
            (metric == name && labels.iter().all(has))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}
