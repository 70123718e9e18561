//! Kubeconfig documents (`apiVersion: v1`, `kind: Config`) as client-go reads them.
//!
//! The layout follows CAPI's `kubeconfig.New`: a cluster named `<cluster>`, a user
//! `<cluster>-admin` and a context `<cluster>-admin@<cluster>` that is the current context.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::ca::IssuedCertificate;
use crate::cert::Certificate;
use crate::secret::SecretValue;
use crate::{Error, Result};

/// A kubeconfig. `Debug` never shows client keys or tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Kubeconfig {
    /// Always `v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always `Config`.
    pub kind: String,
    /// Clusters.
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    /// Users (auth infos).
    #[serde(default)]
    pub users: Vec<NamedUser>,
    /// Contexts.
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    /// Name of the current context.
    #[serde(default)]
    pub current_context: String,
}

/// A named cluster entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamedCluster {
    /// Entry name.
    pub name: String,
    /// The cluster.
    pub cluster: ClusterEntry,
}

/// How to reach a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ClusterEntry {
    /// API server URL (`https://host:port`).
    pub server: String,
    /// Base64 of the PEM CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
}

/// A named user entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamedUser {
    /// Entry name.
    pub name: String,
    /// Credentials.
    pub user: UserEntry,
}

/// Credentials of a user.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct UserEntry {
    /// Base64 of the PEM client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// Base64 of the PEM client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<SecretValue>,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretValue>,
}

/// A named context entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamedContext {
    /// Entry name.
    pub name: String,
    /// The context.
    pub context: ContextEntry,
}

/// A (cluster, user) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContextEntry {
    /// Cluster entry name.
    pub cluster: String,
    /// User entry name.
    pub user: String,
}

impl Kubeconfig {
    /// The CAPI admin kubeconfig: cluster `<cluster>`, user `<cluster>-admin` with the given
    /// client certificate and key, context `<cluster>-admin@<cluster>` (current).
    #[must_use]
    pub fn admin(
        cluster_name: &str,
        server: &str,
        ca: &Certificate,
        client: &IssuedCertificate,
    ) -> Self {
        Self::with_client_certificate(
            cluster_name,
            &format!("{cluster_name}-admin"),
            server,
            ca,
            client,
        )
    }

    /// A kubeconfig for `user` authenticating with a client certificate.
    /// The context is named `<user>@<cluster>`.
    #[must_use]
    pub fn with_client_certificate(
        cluster_name: &str,
        user: &str,
        server: &str,
        ca: &Certificate,
        client: &IssuedCertificate,
    ) -> Self {
        let key_pem = client.key_pem();
        let user_entry = UserEntry {
            client_certificate_data: Some(STANDARD.encode(client.cert_pem())),
            client_key_data: Some(SecretValue::new(
                STANDARD.encode(secrecy::ExposeSecret::expose_secret(&key_pem)),
            )),
            token: None,
        };
        Self::single(cluster_name, user, server, ca, user_entry)
    }

    /// A kubeconfig for `user` authenticating with a bearer token (for example a bootstrap
    /// token `<id>.<secret>`). The context is named `<user>@<cluster>`.
    #[must_use]
    pub fn with_token(
        cluster_name: &str,
        user: &str,
        server: &str,
        ca: &Certificate,
        token: SecretValue,
    ) -> Self {
        let user_entry = UserEntry {
            token: Some(token),
            ..UserEntry::default()
        };
        Self::single(cluster_name, user, server, ca, user_entry)
    }

    fn single(
        cluster_name: &str,
        user: &str,
        server: &str,
        ca: &Certificate,
        user_entry: UserEntry,
    ) -> Self {
        let context = format!("{user}@{cluster_name}");
        Self {
            api_version: "v1".to_owned(),
            kind: "Config".to_owned(),
            clusters: vec![NamedCluster {
                name: cluster_name.to_owned(),
                cluster: ClusterEntry {
                    server: server.to_owned(),
                    certificate_authority_data: Some(STANDARD.encode(ca.pem())),
                },
            }],
            users: vec![NamedUser {
                name: user.to_owned(),
                user: user_entry,
            }],
            contexts: vec![NamedContext {
                name: context.clone(),
                context: ContextEntry {
                    cluster: cluster_name.to_owned(),
                    user: user.to_owned(),
                },
            }],
            current_context: context,
        }
    }

    /// Renders the kubeconfig as YAML. The result holds credentials, hence [`SecretValue`].
    pub fn to_yaml(&self) -> Result<SecretValue> {
        // Plain scalars, as kubectl writes them: no folded (`>-`) blocks for the long base64.
        let options = serde_saphyr::ser_options! { prefer_block_scalars: false };
        serde_saphyr::to_string_with_options(self, options)
            .map(SecretValue::new)
            .map_err(Error::KubeconfigSerialize)
    }

    /// Parses kubeconfig YAML (for example the `value` of a `<cluster>-kubeconfig` Secret).
    pub fn from_yaml(yaml: &str) -> Result<Self> {
        let config: Self = serde_saphyr::from_str(yaml).map_err(|_| Error::KubeconfigParse)?;
        if config.api_version != "v1" || config.kind != "Config" {
            return Err(Error::KubeconfigParse);
        }
        Ok(config)
    }

    /// The context named by `current-context`.
    pub fn current(&self) -> Result<&ContextEntry> {
        self.contexts
            .iter()
            .find(|c| c.name == self.current_context)
            .map(|c| &c.context)
            .ok_or_else(|| Error::KubeconfigEntryMissing {
                kind: "context",
                name: self.current_context.clone(),
            })
    }

    /// The cluster entry with the given name.
    pub fn cluster(&self, name: &str) -> Result<&ClusterEntry> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.cluster)
            .ok_or_else(|| Error::KubeconfigEntryMissing {
                kind: "cluster",
                name: name.to_owned(),
            })
    }

    /// The user entry with the given name.
    pub fn user(&self, name: &str) -> Result<&UserEntry> {
        self.users
            .iter()
            .find(|u| u.name == name)
            .map(|u| &u.user)
            .ok_or_else(|| Error::KubeconfigEntryMissing {
                kind: "user",
                name: name.to_owned(),
            })
    }

    /// The CA certificate of the current context's cluster, decoded from
    /// `certificate-authority-data`.
    pub fn current_ca(&self) -> Result<Certificate> {
        let cluster = self.cluster(&self.current()?.cluster)?;
        let data = cluster
            .certificate_authority_data
            .as_deref()
            .ok_or_else(|| Error::KubeconfigEntryMissing {
                kind: "certificate-authority-data of cluster",
                name: self.current_context.clone(),
            })?;
        let pem = decode_text(data, "certificate-authority-data")?;
        Certificate::from_pem(&pem, "certificate-authority-data")
    }
}

/// Decodes base64 text into a UTF-8 string; errors name the field.
pub(crate) fn decode_text(data: &str, field: &str) -> Result<String> {
    let bytes = STANDARD.decode(data.trim()).map_err(|_| Error::Base64 {
        field: field.to_owned(),
    })?;
    String::from_utf8(bytes).map_err(|_| Error::Base64 {
        field: field.to_owned(),
    })
}
