//! The real kube-apiserver (v1.36, upstream tier) with capp-api's two-version CRDs
//! (`crds_multiversion`, v1beta2 stored) calling capp's conversion webhook server
//! (`capp_reconcile::webhook::WebhookServer`, what `capp-manager --webhook-port` runs) on a
//! local port, with a capp-pki serving certificate in a kubelet-style Secret directory and its
//! CA in `caBundle`:
//!
//! - the API server accepts the CRDs and establishes them;
//! - a PacketMachine written as v1beta1 reads as v1beta2 in the v1beta2 contract's shape;
//! - a PacketCluster written as v1beta2 reads as v1beta1, and a v1beta1 client's status
//!   write keeps what v1beta1 cannot hold (the failure domain order) through the annotation;
//! - the Go provider's Packet objects (v1beta1) apply unchanged and read back with every
//!   field they were written with;
//! - the server's `capp_conversion_reviews_total{result="success"}` counts the API server's
//!   calls, none failed;
//! - after a renewal (new CA, `..data` swapped, the CRDs' `caBundle` updated as cert-manager's
//!   cainjector does), the same server, never restarted, converts for the API server again.
//!
//! Skips loudly without the upstream binaries; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use capp_api::conversion::DATA_ANNOTATION;
use capp_api::v1beta2;
use capp_envtest::webhook::ServingCerts;
use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use capp_reconcile::metrics::Metrics;
use capp_reconcile::webhook::{WebhookOptions, WebhookServer};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, WebhookClientConfig,
};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const NS: &str = "conversion";

/// capp's conversion webhook server (`capp_reconcile::webhook::WebhookServer`, as
/// `capp-manager --webhook-port` runs it) on `https://127.0.0.1:<port>/convert`, with its
/// certificates in a kubelet-style Secret directory re-read every 100 ms.
struct Webhook {
    port: u16,
    certs: ServingCerts,
    metrics: Arc<Metrics>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Webhook {
    async fn serve() -> Self {
        let certs = ServingCerts::issue().expect("serving certificates");
        let metrics = Arc::new(Metrics::default());
        let options = WebhookOptions {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            cert_dir: certs.dir().to_owned(),
            reload_interval: Duration::from_millis(100),
        };
        let server = WebhookServer::bind(&options, metrics.clone())
            .await
            .expect("the webhook server starts");
        let port = server.local_addr().expect("address").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Self {
            port,
            certs,
            metrics,
            _stop: stop,
        }
    }

    /// The CRDs' client configuration: the URL and the current CA.
    fn config(&self) -> WebhookClientConfig {
        WebhookClientConfig {
            url: Some(format!("https://127.0.0.1:{}/convert", self.port)),
            ca_bundle: Some(ByteString(self.certs.ca_pem().as_bytes().to_vec())),
            service: None,
        }
    }

    /// `capp_conversion_reviews_total{result}` as the server's metrics show it.
    fn reviews(&self, result: &str) -> u64 {
        let text = self.metrics.render();
        let prefix = format!("capp_conversion_reviews_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.parse().unwrap())
    }
}

fn dynamic(cp: &ControlPlane, version: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(capp_api::GROUP, version, kind);
    let plural = format!("{}s", kind.to_lowercase());
    Api::namespaced_with(
        cp.client(),
        NS,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_apiserver_converts_through_our_webhook_both_ways() {
    let Some(bins) = Binaries::require() else {
        return;
    };
    let mut webhook = Webhook::serve().await;
    let cp = ControlPlane::start(
        &bins,
        ControlPlaneOptions::default().with_controller_manager(false),
    )
    .await
    .expect("the control plane starts");
    let crds: Vec<Value> = v1beta2::crds_multiversion(&webhook.config())
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    cp.install_crds(&crds)
        .await
        .expect("the two-version CRDs are accepted and established");
    assert_eq!(
        capp_reconcile::infra::InfraApi::discover(&cp.client())
            .await
            .unwrap()
            .version,
        capp_reconcile::infra::InfraVersion::V1Beta2,
        "with both versions served the controllers use v1beta2"
    );
    Api::<Namespace>::all(cp.client())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap(),
        )
        .await
        .expect("namespace");

    machine_written_as_v1beta1_reads_as_v1beta2(&cp).await;
    cluster_written_as_v1beta2_reads_as_v1beta1_and_keeps_its_order(&cp).await;
    go_provider_objects_read_back_unchanged(&cp).await;

    let calls = webhook.reviews("success");
    eprintln!("conversion webhook calls: {calls}");
    assert!(
        calls > 0,
        "the API server never called the conversion webhook"
    );
    assert_eq!(webhook.reviews("failure"), 0);

    a_renewed_certificate_serves_without_a_restart(&cp, &mut webhook).await;
    cp.shutdown();
}

/// cert-manager renews the Secret (a new CA: the self-signed Issuer re-issues), kubelet swaps
/// the volume's `..data`, cainjector writes the new CA into the CRDs: the same server, never
/// restarted, serves the new certificate and the API server converts through it.
async fn a_renewed_certificate_serves_without_a_restart(cp: &ControlPlane, webhook: &mut Webhook) {
    webhook.certs.renew().expect("renewal");
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(webhook.certs.ca_pem());
    let crds: Api<CustomResourceDefinition> = Api::all(cp.client());
    for crd in v1beta2::crds_multiversion(&webhook.config()) {
        let name = crd.metadata.name.unwrap();
        let patch =
            json!({"spec": {"conversion": {"webhook": {"clientConfig": {"caBundle": ca_bundle}}}}});
        crds.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("the CA is injected");
    }
    let before = webhook.reviews("success");
    let machines_v2: Api<v1beta2::PacketMachine> = Api::namespaced(cp.client(), NS);
    let started = std::time::Instant::now();
    loop {
        match machines_v2.get("m0").await {
            Ok(m) if webhook.reviews("success") > before => {
                assert_eq!(m.spec.os, "ubuntu_24_04");
                break;
            }
            Ok(_) => {}
            Err(e) => assert!(
                started.elapsed() < Duration::from_secs(30),
                "no conversion with the renewed certificate within 30 s: {e}"
            ),
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the API server did not call the webhook again within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// v1beta1 in, v1beta2 out (and v1beta1 again).
async fn machine_written_as_v1beta1_reads_as_v1beta2(cp: &ControlPlane) {
    let machines_v1: Api<capp_api::PacketMachine> = Api::namespaced(cp.client(), NS);
    let machines_v2: Api<v1beta2::PacketMachine> = Api::namespaced(cp.client(), NS);
    let machine: capp_api::PacketMachine = serde_json::from_value(json!({
        "apiVersion": capp_api::API_VERSION, "kind": "PacketMachine",
        "metadata": {"name": "m0"},
        "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly",
                 "providerID": "equinixmetal://1b2c3d4e-0000-4000-8000-000000000001"}
    }))
    .unwrap();
    machines_v1
        .create(&PostParams::default(), &machine)
        .await
        .expect("create v1beta1");
    let status = json!({"status": {
        "ready": true, "initialization": {"provisioned": true}, "instanceStatus": "active",
        "failureReason": "UpdateError", "failureMessage": "tags could not be set",
        "addresses": [{"type": "ExternalIP", "address": "147.75.80.10"}],
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-02T10:00:00Z"}]
    }});
    machines_v1
        .patch_status("m0", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("v1beta1 status write");
    let as_v2 = machines_v2.get("m0").await.expect("read as v1beta2");
    assert_eq!(
        as_v2.spec.provider_id,
        "equinixmetal://1b2c3d4e-0000-4000-8000-000000000001"
    );
    let s = as_v2.status.expect("status");
    assert_eq!(s.initialization.and_then(|i| i.provisioned), Some(true));
    let old = s
        .deprecated
        .and_then(|d| d.v1beta1)
        .expect("deprecated.v1beta1");
    assert_eq!(old.failure_reason.as_deref(), Some("UpdateError"));
    assert_eq!(old.conditions[0].type_, "Ready");
    assert_eq!(s.addresses[0].address, "147.75.80.10");
    let back = machines_v1.get("m0").await.expect("read as v1beta1");
    assert!(back.status.as_ref().unwrap().ready);
    assert_eq!(
        back.status.unwrap().failure_message.as_deref(),
        Some("tags could not be set")
    );
}

/// v1beta2 in, v1beta1 out, and a v1beta1 status write that keeps the v1beta2-only order.
async fn cluster_written_as_v1beta2_reads_as_v1beta1_and_keeps_its_order(cp: &ControlPlane) {
    let clusters_v1: Api<capp_api::PacketCluster> = Api::namespaced(cp.client(), NS);
    let clusters_v2: Api<v1beta2::PacketCluster> = Api::namespaced(cp.client(), NS);
    let cluster: v1beta2::PacketCluster = serde_json::from_value(json!({
        "apiVersion": v1beta2::API_VERSION, "kind": "PacketCluster",
        "metadata": {"name": "prod"}, "spec": {"projectID": "p", "metro": "sv"}
    }))
    .unwrap();
    clusters_v2
        .create(&PostParams::default(), &cluster)
        .await
        .expect("create v1beta2");
    let status = json!({"status": {
        "initialization": {"provisioned": true},
        "failureDomains": [{"name": "sv", "controlPlane": true, "attributes": {"metro": "sv"}},
                           {"name": "da", "controlPlane": false, "attributes": {"metro": "da"}}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                        "lastTransitionTime": "2026-12-02T10:00:00Z"}]
    }});
    clusters_v2
        .patch_status("prod", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("v1beta2 status write");
    let mut as_v1 = clusters_v1.get("prod").await.expect("read as v1beta1");
    let s = as_v1.status.as_ref().expect("status");
    assert!(s.ready);
    assert_eq!(
        s.failure_domains
            .as_ref()
            .unwrap()
            .names()
            .collect::<Vec<_>>(),
        ["da", "sv"]
    );
    assert_eq!(s.v1beta2.as_ref().unwrap().conditions[0].type_, "Ready");
    assert!(
        as_v1.metadata.annotations.as_ref().unwrap()[DATA_ANNOTATION].contains("failureDomains")
    );
    as_v1.status.as_mut().unwrap().failure_reason = Some("UpdateError".into());
    clusters_v1
        .replace_status("prod", &PostParams::default(), &as_v1)
        .await
        .expect("v1beta1 status write");
    let as_v2 = clusters_v2.get("prod").await.expect("read as v1beta2");
    let s = as_v2.status.expect("status");
    let names: Vec<&str> = s.failure_domains.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["sv", "da"],
        "the v1beta2 order survived the v1beta1 write"
    );
    assert_eq!(
        s.deprecated
            .and_then(|d| d.v1beta1)
            .and_then(|o| o.failure_reason)
            .as_deref(),
        Some("UpdateError")
    );
}

/// The Go provider's objects, v1beta1, apply unchanged and read back with every field.
async fn go_provider_objects_read_back_unchanged(cp: &ControlPlane) {
    let mut go_objects = 0;
    for doc in common::go_template("cluster-template.yaml", NS) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        if !kind.starts_with("Packet") {
            continue;
        }
        let api = dynamic(cp, "v1beta1", &kind);
        let object: DynamicObject = serde_json::from_value(doc.clone()).unwrap();
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let name = doc["metadata"]["name"].as_str().unwrap();
        let stored = serde_json::to_value(api.get(name).await.expect("read back")).unwrap();
        let mut missing = Vec::new();
        common::missing_leaves("", &doc["spec"], &stored["spec"], &mut missing);
        assert!(missing.is_empty(), "{kind} {name}: {missing:#?}");
        assert_eq!(stored["apiVersion"], capp_api::API_VERSION);
        go_objects += 1;
    }
    assert_eq!(
        go_objects, 3,
        "PacketCluster, and a PacketMachineTemplate per role"
    );
}
