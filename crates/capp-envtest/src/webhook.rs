//! What a test needs to stand in for cert-manager and cluster DNS in front of capp's
//! conversion webhook, the way controller-runtime's envtest does
//! (`pkg/envtest/webhook.go`: a local serving certificate, `url:` client configurations with
//! the CA in `caBundle`):
//!
//! - [`ServingCerts`]: a CA and a serving certificate for `127.0.0.1` / `localhost` in a
//!   directory laid out as kubelet lays out a mounted Secret (`tls.crt` and `tls.key` link
//!   through `..data` to a timestamped directory), with [`ServingCerts::renew`] and
//!   [`ServingCerts::swap_in`] replacing the pair by the same atomic `..data` swap kubelet
//!   does when cert-manager renews the Secret;
//! - [`LocalConversion`]: those certificates and a free port for `capp-manager
//!   --webhook-port/--webhook-cert-dir`, and [`LocalConversion::wire`], which rewrites the
//!   components for a cluster without cert-manager: every CRD's conversion `clientConfig`
//!   becomes `url: https://127.0.0.1:<port>/convert` with the CA in `caBundle`, and the
//!   cert-manager `Issuer` and `Certificate` are left out;
//! - [`cert_manager_stand_in_crds`]: CRDs for cert-manager's `Issuer` and `Certificate` that
//!   accept any content, to apply the components unchanged to an API server without
//!   cert-manager (they validate nothing; the components' tests check those objects).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capp_pki::secrecy::ExposeSecret as _;
use capp_pki::{CaOptions, CertificateAuthority, IssuedCertificate, LeafSpec};
use serde_json::{Value, json};

use crate::process::free_port;
use crate::workdir::{WorkDir, io};
use crate::{Error, Result};

/// The cert-manager API group; objects of it are what [`LocalConversion::wire`] leaves out.
pub const CERT_MANAGER_GROUP: &str = "cert-manager.io";
/// The annotation cert-manager's CA injector reads on CRDs.
pub const INJECT_CA_ANNOTATION: &str = "cert-manager.io/inject-ca-from";

/// A CA and a serving certificate for `127.0.0.1` and `localhost`, in a directory laid out as
/// kubelet lays out a Secret volume. The directory is removed on drop (kept when the test
/// panics).
#[derive(Debug)]
pub struct ServingCerts {
    dir: WorkDir,
    ca: CertificateAuthority,
    leaf: IssuedCertificate,
    generation: u32,
}

impl ServingCerts {
    /// Generates a CA and a serving certificate and writes them (`tls.crt`, `tls.key`,
    /// `ca.crt`, as in cert-manager's Secret) into a fresh directory.
    pub fn issue() -> Result<Self> {
        let dir = WorkDir::create("capp-envtest-webhook-certs")?;
        let (ca, leaf) = generate(0)?;
        let mut certs = Self {
            dir,
            ca,
            leaf,
            generation: 0,
        };
        let (crt, key) = certs.pair();
        certs.swap_in(&crt, &key)?;
        Ok(certs)
    }

    /// The directory to pass as `--webhook-cert-dir`.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PEM of the CA that signed the current serving certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The DER of the current serving certificate (what a client should be presented).
    #[must_use]
    pub fn leaf_der(&self) -> &[u8] {
        self.leaf.certificate.der()
    }

    /// A new CA and serving certificate (as a re-issued self-signed cert-manager Certificate),
    /// swapped in atomically.
    pub fn renew(&mut self) -> Result<()> {
        let (ca, leaf) = generate(self.generation + 1)?;
        self.ca = ca;
        self.leaf = leaf;
        let (crt, key) = self.pair();
        self.swap_in(&crt, &key)
    }

    /// Replaces `tls.crt` and `tls.key` with these contents (valid or not) the way kubelet
    /// updates a Secret volume: a new timestamped directory, then the `..data` link swapped to
    /// it with one rename, then the old directory removed.
    pub fn swap_in(&mut self, crt: &str, key: &str) -> Result<()> {
        self.generation += 1;
        let root = self.dir.path();
        let version = format!("..2026_12_02_00_00_00.{:06}", self.generation);
        self.dir.write(&format!("{version}/tls.crt"), crt)?;
        self.dir.write(&format!("{version}/tls.key"), key)?;
        self.dir
            .write(&format!("{version}/ca.crt"), self.ca.cert_pem())?;
        let data = root.join("..data");
        let old = std::fs::read_link(&data).ok();
        let tmp = root.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        symlink(Path::new(&version), &tmp)?;
        std::fs::rename(&tmp, &data).map_err(|source| io(&data, source))?;
        for name in ["tls.crt", "tls.key", "ca.crt"] {
            let link = root.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(&Path::new("..data").join(name), &link)?;
            }
        }
        if let Some(old) = old {
            let old = root.join(old);
            std::fs::remove_dir_all(&old).map_err(|source| io(&old, source))?;
        }
        Ok(())
    }

    /// The current serving certificate and its key, as PEM (`tls.crt`, `tls.key`).
    #[must_use]
    pub fn pair(&self) -> (String, String) {
        (
            self.leaf.cert_pem().to_owned(),
            self.leaf.key_pem().expose_secret().to_owned(),
        )
    }
}

fn generate(generation: u32) -> Result<(CertificateAuthority, IssuedCertificate)> {
    let mut rng = rand::rng();
    let now = capp_pki::jiff::Timestamp::now();
    let ca = CertificateAuthority::generate(
        &CaOptions::new(format!("capp-envtest-webhook-ca-{generation}")),
        now,
        &mut rng,
    )
    .map_err(Error::Pki)?;
    let leaf = ca
        .issue(
            &LeafSpec::server("capp-webhook-service")
                .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .with_dns_name("localhost"),
            now,
            &mut rng,
        )
        .map_err(Error::Pki)?;
    Ok((ca, leaf))
}

fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|source| io(link, source))
}

/// A conversion webhook on `https://127.0.0.1:<port>/convert` with [`ServingCerts`]: what a
/// test passes to `capp-manager` and how it rewrites the components to reach it.
#[derive(Debug)]
pub struct LocalConversion {
    /// The serving certificates (`--webhook-cert-dir`).
    pub certs: ServingCerts,
    /// A free port (`--webhook-port`).
    pub port: u16,
}

impl LocalConversion {
    /// Issues the certificates and picks a free port.
    pub fn new() -> Result<Self> {
        Ok(Self {
            certs: ServingCerts::issue()?,
            port: free_port()?,
        })
    }

    /// `--webhook-port=<port>` and `--webhook-cert-dir=<dir>`.
    #[must_use]
    pub fn manager_args(&self) -> Vec<String> {
        vec![
            format!("--webhook-port={}", self.port),
            format!("--webhook-cert-dir={}", self.certs.dir().display()),
        ]
    }

    /// The components for a cluster without cert-manager or cluster DNS: every CRD whose
    /// conversion webhook names a `service` gets `url: https://127.0.0.1:<port><path>` and
    /// the CA in `caBundle` instead (and loses the CA-injection annotation); objects of the
    /// `cert-manager.io` group are left out. Everything else is returned unchanged.
    #[must_use]
    pub fn wire(&self, objects: Vec<Value>) -> Vec<Value> {
        let ca_bundle = STANDARD.encode(self.certs.ca_pem());
        objects
            .into_iter()
            .filter(|o| {
                !o["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(&format!("{CERT_MANAGER_GROUP}/")))
            })
            .map(|mut o| {
                if o["kind"] == "CustomResourceDefinition" {
                    wire_crd(&mut o, self.port, &ca_bundle);
                }
                o
            })
            .collect()
    }

    /// The `clientConfig` [`Self::wire`] sets on a CRD.
    #[must_use]
    pub fn client_config(&self) -> Value {
        json!({
            "url": format!("https://127.0.0.1:{}/convert", self.port),
            "caBundle": STANDARD.encode(self.certs.ca_pem()),
        })
    }
}

/// Stand-ins for cert-manager's `Issuer` and `Certificate` CRDs (`cert-manager.io/v1`,
/// namespaced, names and short names as cert-manager's), whose `spec` and `status` accept any
/// content: no cert-manager controller runs, and nothing about the objects is validated.
#[must_use]
pub fn cert_manager_stand_in_crds() -> Vec<Value> {
    [("Issuer", "issuers"), ("Certificate", "certificates")]
        .into_iter()
        .map(|(kind, plural)| {
            let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": format!("{plural}.{CERT_MANAGER_GROUP}")},
                "spec": {
                    "group": CERT_MANAGER_GROUP,
                    "scope": "Namespaced",
                    "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(),
                              "listKind": format!("{kind}List")},
                    "versions": [{
                        "name": "v1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                            "spec": open, "status": open}}},
                    }],
                },
            })
        })
        .collect()
}

fn wire_crd(crd: &mut Value, port: u16, ca_bundle: &str) {
    let Some(config) = crd.pointer_mut("/spec/conversion/webhook/clientConfig") else {
        return;
    };
    let Some(path) = config.pointer("/service/path").and_then(Value::as_str) else {
        return;
    };
    *config = json!({"url": format!("https://127.0.0.1:{port}{path}"), "caBundle": ca_bundle});
    if let Some(annotations) = crd
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(INJECT_CA_ANNOTATION);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn the_directory_is_laid_out_as_kubelet_lays_out_a_secret_and_renewal_swaps_data() {
        let mut certs = ServingCerts::issue().unwrap();
        let crt = certs.dir().join("tls.crt");
        assert_eq!(
            std::fs::read_link(&crt).unwrap(),
            Path::new("..data/tls.crt")
        );
        let first = std::fs::read_to_string(&crt).unwrap();
        assert_eq!(first, certs.leaf.cert_pem());
        let before = std::fs::read_link(certs.dir().join("..data")).unwrap();
        certs.renew().unwrap();
        let after = std::fs::read_link(certs.dir().join("..data")).unwrap();
        assert_ne!(before, after);
        assert!(
            !certs.dir().join(&before).exists(),
            "the old version is removed"
        );
        let second = std::fs::read_to_string(&crt).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(certs.dir().join("ca.crt")).unwrap(),
            certs.ca_pem()
        );
    }

    #[test]
    fn wiring_points_service_conversions_at_the_local_port_and_drops_cert_manager() {
        let local = LocalConversion::new().unwrap();
        let objects = vec![
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "a", "annotations": {INJECT_CA_ANNOTATION: "ns/cert", "x": "y"}},
                "spec": {"conversion": {"strategy": "Webhook", "webhook": {
                    "clientConfig": {"service": {"namespace": "ns", "name": "svc", "path": "/convert"}},
                    "conversionReviewVersions": ["v1"]}}}}),
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c"}}),
            json!({"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "i"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}),
        ];
        let wired = local.wire(objects);
        assert_eq!(wired.len(), 2);
        assert_eq!(
            wired[0]["spec"]["conversion"]["webhook"]["clientConfig"],
            local.client_config()
        );
        assert_eq!(wired[0]["metadata"]["annotations"], json!({"x": "y"}));
        assert_eq!(
            wired[0]["spec"]["conversion"]["webhook"]["conversionReviewVersions"],
            json!(["v1"])
        );
        assert_eq!(wired[1]["kind"], "Service");
        assert!(local.manager_args()[0].starts_with("--webhook-port="));
    }
}
