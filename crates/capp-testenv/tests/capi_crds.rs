//! The upstream Cluster API v1.10 and CAPP v0.9.0 CRDs through the server: they install, are
//! served (discovery) and pass strict field validation; valid objects are accepted, invalid ones
//! are rejected with field-level causes, unknown fields are pruned, and a non-structural CRD is
//! refused.
//!
//! Needs `../shared/specs`; skips loudly without it and fails under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::{ApiResource, Discovery};
use serde_json::{Value, json};

fn upstream_crds() -> Option<Vec<Value>> {
    crds_in("capi-v1.10")
}

fn crds_in(sub: &str) -> Option<Vec<Value>> {
    let dir = support::shared_spec(sub);
    if !support::require(&format!("../shared/specs/{sub}"), dir.is_some()) {
        return None;
    }
    let mut crds = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        crds.extend(
            docs.into_iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition"),
        );
    }
    Some(crds)
}

fn machines(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Machine"),
        "machines",
    );
    Api::namespaced_with(client, "default", &ar)
}

fn machine(spec: &Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine",
        "metadata": {"name": "m1", "labels": {"cluster.x-k8s.io/cluster-name": "c1"}},
        "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_upstream_cluster_api_crds_install_and_are_served() {
    let Some(crds) = upstream_crds() else { return };
    assert!(crds.len() >= 14, "{} CRDs", crds.len());
    let env = support::start().await;
    env.install_crds(&crds).await.unwrap();
    let discovery = Discovery::new(env.client().unwrap()).run().await.unwrap();
    let kinds: Vec<String> = discovery
        .groups()
        .filter(|g| g.name().ends_with("cluster.x-k8s.io"))
        .flat_map(|g| g.recommended_resources().into_iter().map(|(ar, _)| ar.kind))
        .collect();
    for kind in [
        "Cluster",
        "Machine",
        "MachineDeployment",
        "KubeadmControlPlane",
        "KubeadmConfig",
        "ClusterResourceSet",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} not served: {kinds:?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_machine_is_rejected_with_field_level_causes_and_unknown_fields_are_pruned() {
    let Some(crds) = upstream_crds() else { return };
    let env = support::start().await;
    env.install_crds(&crds).await.unwrap();
    let api = machines(env.client().unwrap());

    let err = api
        .create(
            &PostParams::default(),
            &machine(&json!({"bootstrap": {"dataSecretName": "s"}})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error")
    };
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert!(
        status.message.contains("spec.clusterName: Required value"),
        "{}",
        status.message
    );
    let causes = status.details.unwrap().causes;
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.clusterName" && c.reason == "FieldValueRequired"),
        "{causes:?}"
    );

    let valid = machine(&json!({
        "clusterName": "c1",
        "bootstrap": {"dataSecretName": "s"},
        "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachine", "name": "m1"},
        "typo": 1,
    }));
    let created = api.create(&PostParams::default(), &valid).await.unwrap();
    assert_eq!(created.data["spec"]["clusterName"], "c1");
    assert!(
        created.data["spec"].get("typo").is_none(),
        "unknown fields are pruned"
    );
}

#[tokio::test]
async fn a_non_structural_crd_is_rejected() {
    let env = support::start().await;
    let mut crd = support::widget_crd();
    // A property without a type is not structural.
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["untyped"] =
        json!({"description": "no type"});
    let api: Api<CustomResourceDefinition> = Api::all(env.client().unwrap());
    let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
    let err = api.create(&PostParams::default(), &crd).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error")
    };
    assert_eq!(status.code, 422, "{}", status.message);
    assert!(
        status
            .message
            .contains("spec.validation.openAPIV3Schema.properties[spec].properties[untyped].type"),
        "{}",
        status.message
    );
    assert!(api.get_opt("widgets.example.com").await.unwrap().is_none());
}

#[tokio::test]
async fn the_upstream_crds_have_no_field_a_strict_server_would_reject() {
    let (Some(mut crds), Some(capp)) = (upstream_crds(), crds_in("capp-v0.9.0")) else {
        return;
    };
    crds.extend(capp);
    let env = support::start().await;
    let client = env.client().unwrap();
    for crd in &crds {
        let req = http::Request::post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?fieldValidation=Strict",
        )
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(crd).unwrap())
        .unwrap();
        let resp = client
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        let code = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(
            code,
            201,
            "{}: {}",
            crd["metadata"]["name"],
            String::from_utf8_lossy(&bytes)
        );
    }
}
