//! The real kube-apiserver (v1.36, upstream tier) with capp-api's two-version CRDs
//! (`crds_multiversion`, v1beta2 stored) and a conversion webhook served over HTTPS by this
//! test with `capp_api::conversion::review`, a capp-pki serving certificate and its CA in
//! `caBundle`:
//!
//! - the API server accepts the CRDs and establishes them;
//! - a PacketMachine written as v1beta1 reads as v1beta2 in the v1beta2 contract's shape;
//! - a PacketCluster written as v1beta2 reads as v1beta1, and a v1beta1 client's status
//!   write keeps what v1beta1 cannot hold (the failure domain order) through the annotation;
//! - the Go provider's Packet objects (v1beta1) apply unchanged and read back with every
//!   field they were written with.
//!
//! Skips loudly without the upstream binaries; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use capp_api::conversion::DATA_ANNOTATION;
use capp_api::v1beta2;
use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use capp_pki::{CaOptions, CertificateAuthority, LeafSpec, jiff::Timestamp};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::WebhookClientConfig;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const NS: &str = "conversion";

/// A conversion webhook on `https://127.0.0.1:<port>/convert`; counts the reviews it answers.
struct Webhook {
    config: WebhookClientConfig,
    calls: Arc<AtomicUsize>,
}

async fn serve_webhook() -> Webhook {
    let mut rng = StdRng::seed_from_u64(14);
    let now = Timestamp::now();
    let ca = CertificateAuthority::generate(&CaOptions::new("capp-webhook-ca"), now, &mut rng)
        .expect("CA");
    let leaf = ca
        .issue(
            &LeafSpec::server("capp-webhook").with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            now,
            &mut rng,
        )
        .expect("serving certificate");
    let key = PrivateKeyDer::from_pem_slice(
        capp_pki::secrecy::ExposeSecret::expose_secret(&leaf.key_pem()).as_bytes(),
    )
    .expect("key PEM");
    let tls =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.certificate.der().to_vec())],
                key,
            )
            .expect("TLS config");
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |request: Request<Incoming>| {
                    let counter = Arc::clone(&counter);
                    async move {
                        let path = request.uri().path().to_owned();
                        let body = request.into_body().collect().await?.to_bytes();
                        let response = if path == "/convert" {
                            counter.fetch_add(1, Ordering::SeqCst);
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(
                                    capp_api::conversion::review::review(&body),
                                )))
                        } else {
                            Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new()))
                        };
                        Ok::<_, hyper::Error>(response.expect("response"))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Webhook {
        config: WebhookClientConfig {
            url: Some(format!("https://127.0.0.1:{port}/convert")),
            ca_bundle: Some(ByteString(ca.cert_pem().as_bytes().to_vec())),
            service: None,
        },
        calls,
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
    let webhook = serve_webhook().await;
    let cp = ControlPlane::start(
        &bins,
        ControlPlaneOptions::default().with_controller_manager(false),
    )
    .await
    .expect("the control plane starts");
    let crds: Vec<Value> = v1beta2::crds_multiversion(&webhook.config)
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

    eprintln!(
        "conversion webhook calls: {}",
        webhook.calls.load(Ordering::SeqCst)
    );
    assert!(
        webhook.calls.load(Ordering::SeqCst) > 0,
        "the API server never called the conversion webhook"
    );
    cp.shutdown();
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
