//! The cluster's CAs and admin kubeconfig, kept in the Cluster API Secrets.
//!
//! `<cluster>-ca`, `-etcd`, `-proxy` and `-sa` are read when present (KCP, CABPK or an
//! operator may have made them) and created only when missing, each with a create that
//! loses gracefully to a concurrent one: an existing Secret is never replaced, and a Secret
//! that cannot be parsed is reported, never regenerated. `<cluster>-kubeconfig` is written the
//! same way from the cluster CA.

use capp_pki::capi::KUBECONFIG_VALUE;
use capp_pki::{CertificateAuthority, ClusterPki, ClusterPkiOptions, Kubeconfig, Purpose};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, PostParams};

use super::error::BootstrapError;

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// The four CA purposes, in the order kubeadm needs them.
const CA_PURPOSES: [Purpose; 4] = [
    Purpose::ClusterCa,
    Purpose::EtcdCa,
    Purpose::FrontProxyCa,
    Purpose::ServiceAccount,
];

/// A capp-pki Secret as a Kubernetes Secret, owned by `owner`.
#[must_use]
pub fn to_k8s(secret: &capp_pki::Secret, owner: Option<OwnerReference>) -> Secret {
    Secret {
        metadata: kube::core::ObjectMeta {
            name: Some(secret.name.clone()),
            namespace: Some(secret.namespace.clone()),
            labels: (!secret.labels.is_empty()).then(|| secret.labels.clone()),
            owner_references: owner.map(|o| vec![o]),
            ..kube::core::ObjectMeta::default()
        },
        type_: Some(secret.type_.clone()),
        data: Some(
            secret
                .data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// A Kubernetes Secret as a capp-pki Secret (`stringData` is never returned by the server).
#[must_use]
pub fn from_k8s(secret: &Secret) -> capp_pki::Secret {
    let mut out = capp_pki::Secret::new(
        secret.metadata.namespace.clone().unwrap_or_default(),
        secret.metadata.name.clone().unwrap_or_default(),
        secret.type_.clone().unwrap_or_default(),
    );
    for (k, v) in secret.metadata.labels.iter().flatten() {
        out = out.with_label(k.clone(), v.clone());
    }
    for (k, v) in secret.data.iter().flatten() {
        out = out.with_data(k.clone(), v.0.clone());
    }
    out
}

/// Creates `secret`; when one of that name already exists (a concurrent reconcile, KCP, an
/// operator) the existing one is returned instead and nothing is replaced. The flag says
/// whether this call created it.
pub(crate) async fn create_or_existing(
    api: &Api<Secret>,
    secret: &Secret,
) -> Result<(Secret, bool)> {
    match api.create(&PostParams::default(), secret).await {
        Ok(created) => Ok((created, true)),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let name = secret.metadata.name.clone().unwrap_or_default();
            api.get(&name)
                .await
                .map(|s| (s, false))
                .map_err(BootstrapError::kube("read the Secret that already exists"))
        }
        Err(e) => Err(BootstrapError::kube("create a cluster Secret")(e)),
    }
}

/// Checks one CA Secret; a Secret that cannot be used is reported by name.
fn check(secret: &capp_pki::Secret, purpose: Purpose) -> Result<()> {
    let result = match purpose {
        Purpose::ServiceAccount => capp_pki::ServiceAccountKey::from_capi_secret(secret).map(drop),
        _ => CertificateAuthority::from_capi_secret(secret).map(drop),
    };
    result.map_err(|source| BootstrapError::CertificatesCorrupted {
        namespace: secret.namespace.clone(),
        name: secret.name.clone(),
        source,
    })
}

/// What [`ensure_pki`] found.
#[derive(Debug)]
pub struct EnsuredPki {
    /// The cluster's PKI.
    pub pki: ClusterPki,
    /// Names of the Secrets this call created (empty when all were reused).
    pub created: Vec<String>,
}

/// Reads the cluster's four CA Secrets, creating (once) the ones that are missing.
pub async fn ensure_pki(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
    owner: &OwnerReference,
) -> Result<EnsuredPki> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found = Vec::with_capacity(4);
    let mut missing = Vec::new();
    for purpose in CA_PURPOSES {
        let name = purpose.secret_name(cluster);
        match api
            .get_opt(&name)
            .await
            .map_err(BootstrapError::kube("read a CA Secret"))?
        {
            Some(secret) => found.push((purpose, from_k8s(&secret))),
            None => missing.push(purpose),
        }
    }
    let mut created = Vec::new();
    if !missing.is_empty() {
        let generated = {
            let mut rng = capp_pki::rand::rng();
            ClusterPki::generate(
                &ClusterPkiOptions::default(),
                jiff::Timestamp::now(),
                &mut rng,
            )
            .map_err(|source| BootstrapError::Pki {
                what: "the cluster CAs",
                source,
            })?
        };
        for secret in generated.to_capi_secrets(cluster, namespace) {
            let Some(purpose) = missing
                .iter()
                .copied()
                .find(|p| p.secret_name(cluster) == secret.name)
            else {
                continue;
            };
            let wanted = to_k8s(&secret, Some(owner.clone()));
            let (stored, made) = create_or_existing(&api, &wanted).await?;
            if made {
                created.push(secret.name.clone());
            }
            found.push((purpose, from_k8s(&stored)));
        }
    }
    for (purpose, secret) in &found {
        check(secret, *purpose)?;
    }
    let secrets: Vec<_> = found.into_iter().map(|(_, s)| s).collect();
    let pki = ClusterPki::from_capi_secrets(cluster, &secrets).map_err(|source| {
        BootstrapError::CertificatesCorrupted {
            namespace: namespace.to_owned(),
            name: Purpose::ClusterCa.secret_name(cluster),
            source,
        }
    })?;
    Ok(EnsuredPki { pki, created })
}

/// Writes `<cluster>-kubeconfig` (admin client certificate from the cluster CA, server
/// `server`) unless it exists. Returns whether it was created.
pub async fn ensure_kubeconfig(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
    server: &str,
    pki: &ClusterPki,
    owner: &OwnerReference,
) -> Result<bool> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = Purpose::Kubeconfig.secret_name(cluster);
    if api
        .get_opt(&name)
        .await
        .map_err(BootstrapError::kube("read the kubeconfig Secret"))?
        .is_some()
    {
        return Ok(false);
    }
    let secret = {
        let mut rng = capp_pki::rand::rng();
        pki.admin_kubeconfig(cluster, server, jiff::Timestamp::now(), &mut rng)
            .and_then(|k| k.to_capi_secret(cluster, namespace))
            .map_err(|source| BootstrapError::Pki {
                what: "the admin kubeconfig",
                source,
            })?
    };
    let (_, made) = create_or_existing(&api, &to_k8s(&secret, Some(owner.clone()))).await?;
    Ok(made)
}

/// Reads `<cluster>-kubeconfig`; `None` when it does not exist yet.
pub async fn read_kubeconfig(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
) -> Result<Option<Kubeconfig>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = Purpose::Kubeconfig.secret_name(cluster);
    let Some(secret) = api
        .get_opt(&name)
        .await
        .map_err(BootstrapError::kube("read the kubeconfig Secret"))?
    else {
        return Ok(None);
    };
    Kubeconfig::from_capi_secret(&from_k8s(&secret))
        .map(Some)
        .map_err(|e| BootstrapError::Invalid {
            field: format!("Secret {namespace}/{name} key {KUBECONFIG_VALUE}"),
            message: format!("{e}; CAPI writes the admin kubeconfig there"),
        })
}
