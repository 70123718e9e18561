//! The three Cluster API managers, with their CRDs and webhooks wired the envtest way
//! (controller-runtime `pkg/envtest/webhook.go` and `crd.go`; CAPI `internal/test/envtest`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capp_pki::secrecy::ExposeSecret as _;
use capp_pki::{CaOptions, CertificateAuthority, LeafSpec};
use serde_json::{Value, json};

use crate::binaries::Binaries;
use crate::controlplane::ControlPlane;
use crate::crds::load_yaml_documents;
use crate::http::wait_http_ok;
use crate::process::{Process, free_port};
use crate::workdir::{WorkDir, io};
use crate::{Error, Result};

/// How long a manager may take to answer `/readyz` (webhook server started, caches synced).
const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// One of the three Cluster API managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapiPart {
    /// The core manager (`sigs.k8s.io/cluster-api/core`): `cluster.`, `addons.`, `ipam.` and
    /// `runtime.cluster.x-k8s.io`.
    Core,
    /// The kubeadm bootstrap provider: `bootstrap.cluster.x-k8s.io`.
    KubeadmBootstrap,
    /// The kubeadm control-plane provider: `controlplane.cluster.x-k8s.io`.
    KubeadmControlPlane,
}

impl CapiPart {
    /// All three, in start order.
    pub const ALL: [Self; 3] = [
        Self::Core,
        Self::KubeadmBootstrap,
        Self::KubeadmControlPlane,
    ];

    /// The binary's name in `upstream/build`'s output.
    #[must_use]
    pub fn binary(self) -> &'static str {
        match self {
            Self::Core => "capi-core",
            Self::KubeadmBootstrap => "capi-kubeadm-bootstrap",
            Self::KubeadmControlPlane => "capi-kubeadm-control-plane",
        }
    }

    /// The folder under `capi-manifests/` (the module path of the manager's `config/`).
    #[must_use]
    pub fn manifest_dir(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::KubeadmBootstrap => "bootstrap/kubeadm",
            Self::KubeadmControlPlane => "controlplane/kubeadm",
        }
    }

    /// The suffix that keeps the webhook configurations apart: the three manifests all name
    /// theirs `mutating-webhook-configuration` / `validating-webhook-configuration` (CAPI's
    /// envtest renames them the same way).
    fn suffix(self) -> &'static str {
        match self {
            Self::Core => "config",
            Self::KubeadmBootstrap => "bootstrap",
            Self::KubeadmControlPlane => "cp",
        }
    }
}

/// A manager process and its ports.
#[derive(Debug)]
struct Manager {
    part: CapiPart,
    process: Process,
}

/// The three running Cluster API managers. Stopped on drop.
#[derive(Debug)]
pub struct CapiManagers {
    managers: Vec<Manager>,
    webhook_ca: CertificateAuthority,
    _dir: WorkDir,
}

impl CapiManagers {
    /// Installs the Cluster API CRDs (with conversion webhooks), starts the three managers
    /// against `cp`'s admin kubeconfig, waits for their `/readyz`, then installs their
    /// mutating and validating webhook configurations.
    pub async fn start(cp: &ControlPlane, bins: &Binaries) -> Result<Self> {
        let dir = WorkDir::create("capp-envtest-capi")?;
        let mut rng = rand::rng();
        let now = capp_pki::jiff::Timestamp::now();
        let webhook_ca = CertificateAuthority::generate(
            &CaOptions::new("capp-envtest-webhook-ca"),
            now,
            &mut rng,
        )
        .map_err(Error::Pki)?;
        let serving = webhook_ca
            .issue(
                &LeafSpec::server("capp-envtest-webhooks")
                    .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    .with_dns_name("localhost"),
                now,
                &mut rng,
            )
            .map_err(Error::Pki)?;
        dir.write("certs/tls.crt", serving.cert_pem())?;
        dir.write("certs/tls.key", serving.key_pem().expose_secret())?;
        let ca_bundle = STANDARD.encode(webhook_ca.cert_pem());

        let manifests = bins.capi_manifests();
        let mut ports = Vec::new();
        let mut crds = Vec::new();
        for part in CapiPart::ALL {
            let port = free_port()?;
            ports.push(port);
            let dir = manifests.join(part.manifest_dir()).join("crd");
            let labels = kustomize_labels(&dir.join("kustomization.yaml"))?;
            for mut crd in crd_documents(&dir)? {
                with_conversion_webhook(&mut crd, port, &ca_bundle);
                for (key, value) in &labels {
                    crd["metadata"]["labels"][key] = value.clone();
                }
                crds.push(crd);
            }
        }
        cp.install_crds(&crds).await?;

        let mut managers = Vec::new();
        for (part, port) in CapiPart::ALL.into_iter().zip(&ports) {
            let health = free_port()?;
            let args = vec![
                format!("--kubeconfig={}", cp.kubeconfig_path().display()),
                format!("--webhook-port={port}"),
                format!("--webhook-cert-dir={}", dir.path().join("certs").display()),
                format!("--health-addr=127.0.0.1:{health}"),
                format!("--diagnostics-address=127.0.0.1:{}", free_port()?),
                "--insecure-diagnostics=true".to_owned(),
                "--leader-elect=false".to_owned(),
            ];
            let mut process =
                Process::spawn(part.binary(), &bins.path(part.binary()), &args, dir.path())?;
            wait_http_ok(
                &format!("http://127.0.0.1:{health}/readyz"),
                &mut process,
                READY_TIMEOUT,
            )
            .await?;
            managers.push(Manager { part, process });
        }

        let mut configurations = Vec::new();
        for (part, port) in CapiPart::ALL.into_iter().zip(&ports) {
            let path = manifests
                .join(part.manifest_dir())
                .join("webhook/manifests.yaml");
            for mut doc in load_yaml_documents(&path)? {
                wire_webhooks(&mut doc, part, *port, &ca_bundle, &path)?;
                configurations.push(doc);
            }
        }
        cp.apply_cluster_objects(&configurations).await?;
        Ok(Self {
            managers,
            webhook_ca,
            _dir: dir,
        })
    }

    /// The CA (PEM) of the webhooks' serving certificate (the `caBundle` of every webhook).
    #[must_use]
    pub fn webhook_ca_pem(&self) -> &str {
        self.webhook_ca.cert_pem()
    }

    /// Whether every manager is still running; names the first one that exited, with its log.
    pub fn check_running(&mut self) -> Result<()> {
        for m in &mut self.managers {
            if m.process.exited().is_some() {
                return Err(m.process.not_ready("running"));
            }
        }
        Ok(())
    }

    /// The last lines of a manager's log (for assertion messages).
    #[must_use]
    pub fn log_tail(&self, part: CapiPart) -> String {
        self.managers
            .iter()
            .find(|m| m.part == part)
            .map(|m| m.process.log_tail())
            .unwrap_or_default()
    }
}

/// Every CRD document in the `*.yaml` files of `dir`, in file-name order.
fn crd_documents(dir: &Path) -> Result<Vec<Value>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| io(dir, source))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        out.extend(
            load_yaml_documents(&file)?
                .into_iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition"),
        );
    }
    Ok(out)
}

/// The labels a `kustomization.yaml` adds to every resource (`labels[].pairs` and
/// `commonLabels`): upstream, the kubeadm providers' contract labels
/// (`cluster.x-k8s.io/v1beta2: v1beta2`) come from there, not from the CRD files.
fn kustomize_labels(path: &Path) -> Result<serde_json::Map<String, Value>> {
    let mut labels = serde_json::Map::new();
    if !path.exists() {
        return Ok(labels);
    }
    for doc in load_yaml_documents(path)? {
        let pairs = doc["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| &entry["pairs"])
            .chain([&doc["commonLabels"]]);
        for pair in pairs.filter_map(Value::as_object) {
            labels.extend(pair.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    Ok(labels)
}

/// `spec.conversion` as envtest's `modifyConversionWebhooks` sets it.
fn with_conversion_webhook(crd: &mut Value, port: u16, ca_bundle: &str) {
    crd["spec"]["conversion"] = json!({
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/convert"), "caBundle": ca_bundle},
            "conversionReviewVersions": ["v1", "v1beta1"],
        },
    });
}

/// Renames a webhook configuration per manager and turns every `service` client config into a
/// `url:` on the manager's port with the CA bundle (envtest's `updateClientConfig`).
fn wire_webhooks(
    doc: &mut Value,
    part: CapiPart,
    webhook_port: u16,
    ca_bundle: &str,
    path: &Path,
) -> Result<()> {
    let bad = |message: &str| Error::Manifest {
        path: path.display().to_string(),
        message: message.to_owned(),
    };
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a webhook configuration without metadata.name"))?
        .to_owned();
    doc["metadata"] = json!({"name": format!("{name}-{}", part.suffix())});
    let webhooks = doc
        .get_mut("webhooks")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| bad("a webhook configuration without webhooks"))?;
    for webhook in webhooks {
        let service_path = webhook
            .pointer("/clientConfig/service/path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a webhook without clientConfig.service.path"))?
            .to_owned();
        webhook["clientConfig"] = json!({
            "url": format!("https://127.0.0.1:{webhook_port}{service_path}"),
            "caBundle": ca_bundle,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn webhooks_are_renamed_per_manager_and_pointed_at_its_port_with_the_ca() {
        let mut doc = json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "mutating-webhook-configuration"},
            "webhooks": [{
                "name": "default.kubeadmconfig.bootstrap.cluster.x-k8s.io",
                "clientConfig": {"service": {"name": "webhook-service", "namespace": "system",
                    "path": "/mutate-bootstrap-cluster-x-k8s-io-v1beta2-kubeadmconfig"}},
                "sideEffects": "None"
            }]
        });
        wire_webhooks(
            &mut doc,
            CapiPart::KubeadmBootstrap,
            9444,
            "Q0E=",
            Path::new("m.yaml"),
        )
        .unwrap();
        assert_eq!(
            doc["metadata"],
            json!({"name": "mutating-webhook-configuration-bootstrap"})
        );
        assert_eq!(
            doc["webhooks"][0]["clientConfig"],
            json!({"url": "https://127.0.0.1:9444/mutate-bootstrap-cluster-x-k8s-io-v1beta2-kubeadmconfig", "caBundle": "Q0E="})
        );
        assert_eq!(
            doc["webhooks"][0]["sideEffects"], "None",
            "the rest is kept"
        );
    }

    #[test]
    fn a_webhook_without_a_service_path_is_an_error_naming_the_file() {
        let mut doc = json!({"metadata": {"name": "x"}, "webhooks": [{"clientConfig": {"url": "https://elsewhere"}}]});
        let err = wire_webhooks(
            &mut doc,
            CapiPart::Core,
            1,
            "",
            Path::new("core/manifests.yaml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("core/manifests.yaml"), "{err}");
        assert!(
            err.to_string().contains("clientConfig.service.path"),
            "{err}"
        );
    }

    #[test]
    fn kustomize_labels_are_read_from_labels_pairs_and_common_labels() {
        let dir =
            std::env::temp_dir().join(format!("capp-envtest-kustomize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kustomization.yaml");
        std::fs::write(
            &path,
            "labels:\n- pairs:\n    cluster.x-k8s.io/v1beta1: v1beta1\n    cluster.x-k8s.io/v1beta2: v1beta2\ncommonLabels:\n  tier: crd\nresources:\n- bases/a.yaml\n",
        )
        .unwrap();
        let labels = kustomize_labels(&path).unwrap();
        assert_eq!(
            Value::Object(labels),
            json!({"cluster.x-k8s.io/v1beta1": "v1beta1", "cluster.x-k8s.io/v1beta2": "v1beta2", "tier": "crd"})
        );
        assert!(
            kustomize_labels(&dir.join("missing.yaml"))
                .unwrap()
                .is_empty()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_crd_gets_a_conversion_webhook_on_its_managers_port() {
        let mut crd =
            json!({"spec": {"group": "cluster.x-k8s.io", "conversion": {"strategy": "None"}}});
        with_conversion_webhook(&mut crd, 9443, "Q0E=");
        assert_eq!(
            crd["spec"]["conversion"],
            json!({"strategy": "Webhook", "webhook": {
                "clientConfig": {"url": "https://127.0.0.1:9443/convert", "caBundle": "Q0E="},
                "conversionReviewVersions": ["v1", "v1beta1"]}})
        );
    }
}
