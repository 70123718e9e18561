//! The conversion webhook as the components wire it, checked object against object: the
//! CRDs serve v1beta1 and v1beta2 (v1beta2 stored, both contract labels) and convert through
//! the webhook Service's `/convert` with cert-manager's CA injected from the Certificate; the
//! Service reaches the Deployment's webhook port; the Certificate (from the self-signed
//! Issuer) covers the Service's DNS names and writes the Secret the Deployment mounts,
//! read-only, at the manager's `--webhook-cert-dir`. After clusterctl's variable
//! substitution the objects are unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::collections::BTreeMap;

use capp_components::components::webhook;
use capp_components::{NAMESPACE, Release};
use serde_json::{Value, json};

fn components() -> Vec<Value> {
    capp_components::components::components(&Release::default()).unwrap()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

/// The value of `--<flag>=` among the manager container's arguments.
fn flag<'a>(container: &'a Value, name: &str) -> &'a str {
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix(&format!("--{name}=")))
        .unwrap_or_else(|| panic!("the manager has no --{name}"))
}

#[test]
fn the_crds_serve_both_versions_and_convert_through_the_webhook_service() {
    let objects = components();
    let crds: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 4);
    let service = one(&objects, "Service");
    let certificate = one(&objects, "Certificate");
    for crd in crds {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let versions: Vec<(&str, bool, bool)> = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap(),
                    v["served"].as_bool().unwrap(),
                    v["storage"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            versions,
            [("v1beta1", true, false), ("v1beta2", true, true)],
            "{name}"
        );
        let labels = &crd["metadata"]["labels"];
        assert_eq!(labels["cluster.x-k8s.io/v1beta1"], "v1beta1", "{name}");
        assert_eq!(labels["cluster.x-k8s.io/v1beta2"], "v1beta2", "{name}");
        let conversion = &crd["spec"]["conversion"];
        assert_eq!(conversion["strategy"], "Webhook", "{name}");
        assert_eq!(
            conversion["webhook"]["conversionReviewVersions"],
            json!(["v1"])
        );
        assert_eq!(
            conversion["webhook"]["clientConfig"],
            json!({"service": {
                "namespace": service["metadata"]["namespace"],
                "name": service["metadata"]["name"],
                "path": "/convert",
                "port": service["spec"]["ports"][0]["port"],
            }}),
            "{name}: no url and no caBundle (cert-manager injects it)"
        );
        assert_eq!(
            crd["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            format!(
                "{}/{}",
                certificate["metadata"]["namespace"].as_str().unwrap(),
                certificate["metadata"]["name"].as_str().unwrap()
            ),
            "{name}"
        );
    }
}

#[test]
fn the_service_certificate_and_deployment_agree_on_names_ports_and_the_cert_dir() {
    let objects = components();
    let service = one(&objects, "Service");
    let issuer = one(&objects, "Issuer");
    let certificate = one(&objects, "Certificate");
    let deployment = one(&objects, "Deployment");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "manager");

    // Names as the Go provider's kustomize output (namePrefix) gives them.
    assert_eq!(
        service["metadata"]["name"],
        "cluster-api-provider-packet-webhook-service"
    );
    assert_eq!(
        certificate["metadata"]["name"],
        "cluster-api-provider-packet-serving-cert"
    );
    assert_eq!(
        issuer["metadata"]["name"],
        "cluster-api-provider-packet-selfsigned-issuer"
    );
    for object in [service, issuer, certificate] {
        assert_eq!(object["metadata"]["namespace"], NAMESPACE);
    }

    // The Service selects the manager's pods and reaches the webhook port.
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][key], value, "selector {key}");
    }
    let port = &service["spec"]["ports"][0];
    assert_eq!(port["port"], 443);
    let container_port = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port["targetPort"])
        .expect("the Service's targetPort names a container port");
    assert_eq!(container_port["name"], "webhook-server");
    assert_eq!(
        container_port["containerPort"].to_string(),
        flag(container, "webhook-port"),
        "the container port is the manager's --webhook-port"
    );

    // The Certificate: self-signed Issuer, the Service's names, the Secret the pod mounts.
    assert_eq!(issuer["apiVersion"], "cert-manager.io/v1");
    assert_eq!(issuer["spec"], json!({"selfSigned": {}}));
    assert_eq!(certificate["apiVersion"], "cert-manager.io/v1");
    assert_eq!(
        certificate["spec"]["issuerRef"],
        json!({"kind": "Issuer", "name": issuer["metadata"]["name"]})
    );
    let service_name = service["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        certificate["spec"]["dnsNames"],
        json!([
            format!("{service_name}.{NAMESPACE}.svc"),
            format!("{service_name}.{NAMESPACE}.svc.cluster.local"),
        ])
    );
    let secret = certificate["spec"]["secretName"].as_str().unwrap();
    assert_eq!(secret, "cluster-api-provider-packet-webhook-service-cert");
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["secret"]["secretName"] == secret)
        .expect("a pod volume holds the Certificate's Secret");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the manager mounts it");
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        mount["mountPath"],
        flag(container, "webhook-cert-dir"),
        "mounted where the manager reads its certificate"
    );
    assert_eq!(mount["mountPath"], webhook::CERT_DIR);
}

#[test]
fn clusterctl_variable_substitution_leaves_the_webhook_wiring_intact() {
    let objects = components();
    let text = capp_components::to_yaml(&objects).unwrap();
    let values = BTreeMap::from([("PACKET_API_KEY".to_owned(), "not-a-real-token".to_owned())]);
    let substituted = capp_components::variables::substitute(&text, &values).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&substituted).unwrap();
    assert_eq!(docs.len(), objects.len());
    for (before, after) in objects.iter().zip(&docs) {
        let kind = before["kind"].as_str().unwrap();
        if matches!(
            kind,
            "CustomResourceDefinition" | "Service" | "Issuer" | "Certificate"
        ) {
            assert_eq!(before, after, "{kind} changed by the substitution");
        }
    }
    let deployment = one(&docs, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(flag(container, "webhook-port"), "9443");
    assert_eq!(
        flag(container, "webhook-cert-dir"),
        "/tmp/k8s-webhook-server/serving-certs"
    );
}
