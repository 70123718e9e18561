//! The conversion webhook's objects, named as the Go provider's kustomize output names them
//! (`config/certmanager`, `config/webhook` with the `cluster-api-provider-packet-` prefix), so
//! an upgrade from it keeps them:
//!
//! - the CRDs of [`capp_api::v1beta2::crds_multiversion`] (v1beta1 and v1beta2 served,
//!   v1beta2 stored, both contract labels) converting through the Service's `/convert`, with
//!   cert-manager's CA-injection annotation naming the Certificate;
//! - the Service (port 443 to the container's `webhook-server` port, 9443);
//! - a self-signed cert-manager `Issuer` and the `Certificate` for the Service's DNS names,
//!   written to the Secret the Deployment mounts at the manager's certificate directory
//!   (the manager re-reads it when cert-manager renews it).
//!
//! cert-manager must be installed (`clusterctl init` installs it, as for every provider with
//! webhooks); clusterctl rewrites the namespace in the Service reference and the annotation
//! when the provider is installed in another namespace.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    ServiceReference, WebhookClientConfig,
};
use serde_json::{Value, json};

use super::{add_label, labels, namespaced, object_name};
use crate::{Error, NAMESPACE, Result};

/// The container port of the conversion webhook (`--webhook-port`).
pub const WEBHOOK_PORT: u16 = capp_reconcile::webhook::DEFAULT_PORT;
/// The name of that container port (controller-runtime providers' name).
pub const WEBHOOK_PORT_NAME: &str = "webhook-server";
/// The port the Service exposes (what the API server calls).
pub const SERVICE_PORT: u16 = 443;
/// Where the serving certificate Secret is mounted (`--webhook-cert-dir`).
pub const CERT_DIR: &str = capp_reconcile::webhook::DEFAULT_CERT_DIR;
/// The cert-manager annotation on CRDs that gets `caBundle` injected from a Certificate.
pub const INJECT_CA_ANNOTATION: &str = "cert-manager.io/inject-ca-from";
/// cert-manager's API version of `Issuer` and `Certificate`.
pub const CERT_MANAGER_API_VERSION: &str = "cert-manager.io/v1";

/// The webhook Service's name.
#[must_use]
pub fn service_name() -> String {
    object_name("webhook-service")
}

/// The cert-manager Certificate's name.
#[must_use]
pub fn certificate_name() -> String {
    object_name("serving-cert")
}

/// The self-signed cert-manager Issuer's name.
#[must_use]
pub fn issuer_name() -> String {
    object_name("selfsigned-issuer")
}

/// The Secret cert-manager writes the serving certificate to (kustomize's
/// `$(SERVICE_NAME)-cert`).
#[must_use]
pub fn secret_name() -> String {
    format!("{}-cert", service_name())
}

/// The CRDs' conversion client configuration: the Service's `/convert`.
#[must_use]
pub fn client_config() -> WebhookClientConfig {
    WebhookClientConfig {
        service: Some(ServiceReference {
            namespace: NAMESPACE.to_owned(),
            name: service_name(),
            path: Some(capp_reconcile::webhook::CONVERT_PATH.to_owned()),
            port: Some(i32::from(SERVICE_PORT)),
        }),
        ..WebhookClientConfig::default()
    }
}

/// The four CRDs as shipped: both versions, conversion through the webhook, the provider
/// label and the CA-injection annotation.
pub fn crds() -> Result<Vec<Value>> {
    capp_api::v1beta2::crds_multiversion(&client_config())
        .iter()
        .map(|crd| {
            let mut value = serde_json::to_value(crd).map_err(Error::Serialize)?;
            add_label(&mut value);
            value["metadata"]["annotations"][INJECT_CA_ANNOTATION] =
                format!("{NAMESPACE}/{}", certificate_name()).into();
            Ok(value)
        })
        .collect()
}

/// The Service, Issuer and Certificate, in that order.
#[must_use]
pub fn objects() -> Vec<Value> {
    let service = service_name();
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": namespaced("webhook-service"),
            "spec": {
                "selector": labels(),
                "ports": [{"port": SERVICE_PORT, "targetPort": WEBHOOK_PORT_NAME, "protocol": "TCP"}],
            },
        }),
        json!({
            "apiVersion": CERT_MANAGER_API_VERSION,
            "kind": "Issuer",
            "metadata": namespaced("selfsigned-issuer"),
            "spec": {"selfSigned": {}},
        }),
        json!({
            "apiVersion": CERT_MANAGER_API_VERSION,
            "kind": "Certificate",
            "metadata": namespaced("serving-cert"),
            "spec": {
                "dnsNames": [
                    format!("{service}.{NAMESPACE}.svc"),
                    format!("{service}.{NAMESPACE}.svc.cluster.local"),
                ],
                "issuerRef": {"kind": "Issuer", "name": issuer_name()},
                "secretName": secret_name(),
            },
        }),
    ]
}

/// The Deployment's pod volume holding the serving certificate Secret.
#[must_use]
pub fn volume() -> Value {
    json!({"name": "cert", "secret": {"secretName": secret_name()}})
}

/// Its mount in the `manager` container, read-only at [`CERT_DIR`].
#[must_use]
pub fn volume_mount() -> Value {
    json!({"name": "cert", "mountPath": CERT_DIR, "readOnly": true})
}

/// The `manager` container's webhook port.
#[must_use]
pub fn container_port() -> Value {
    json!({"name": WEBHOOK_PORT_NAME, "containerPort": WEBHOOK_PORT, "protocol": "TCP"})
}
