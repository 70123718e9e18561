//! The workload cluster, reached with the admin kubeconfig: whether `kubeadm init` has run,
//! and the bootstrap tokens joining nodes use (`kube-system/bootstrap-token-<id>`, created
//! and refreshed as CABPK does, `bootstrap/kubeadm/internal/controllers/token.go`).

use std::time::Duration;

use capp_pki::BootstrapToken;
use capp_pki::Kubeconfig;
use capp_pki::token::BOOTSTRAP_TOKEN_NAMESPACE;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::error::BootstrapError;
use super::pki::{create_or_existing, from_k8s, to_k8s};

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// How long one call to a workload API server may take to connect (the endpoint is often
/// not routed yet while the first control plane boots).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call to a workload API server may take to answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The ConfigMap `kubeadm init` uploads (`kube-system/kubeadm-config`); its presence means
/// the control plane is initialized.
pub const KUBEADM_CONFIG_CONFIGMAP: &str = "kubeadm-config";

/// A client for the workload cluster `cluster` (`namespace/name`) from its admin kubeconfig.
pub async fn client(kubeconfig: &Kubeconfig, cluster: &str) -> Result<kube::Client> {
    let error = |action: &'static str| {
        move |e: Box<dyn std::error::Error + Send + Sync>| BootstrapError::Workload {
            cluster: cluster.to_owned(),
            action,
            source: e,
        }
    };
    let yaml = kubeconfig
        .to_yaml()
        .map_err(|e| error("read the admin kubeconfig")(Box::new(e)))?;
    let parsed = kube::config::Kubeconfig::from_yaml(yaml.expose())
        .map_err(|e| error("read the admin kubeconfig")(Box::new(e)))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| error("read the admin kubeconfig")(Box::new(e)))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    kube::Client::try_from(config).map_err(|e| error("build a client")(Box::new(e)))
}

/// Whether `kubeadm init` has run: the workload API answers and holds
/// `kube-system/kubeadm-config`. An unreachable API server is "not yet", not an error.
pub async fn initialized(client: &kube::Client) -> bool {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    match api.get_opt(KUBEADM_CONFIG_CONFIGMAP).await {
        Ok(found) => found.is_some(),
        Err(e) => {
            tracing::debug!(error = %e, "Workload API server not answering yet");
            false
        }
    }
}

fn workload_error(
    cluster: &str,
    action: &'static str,
) -> impl FnOnce(kube::Error) -> BootstrapError {
    move |e| BootstrapError::Workload {
        cluster: cluster.to_owned(),
        action,
        source: Box::new(e),
    }
}

/// Mints a new bootstrap token in the workload cluster, valid for `ttl`.
pub async fn create_token(
    client: &kube::Client,
    cluster: &str,
    ttl: Duration,
) -> Result<BootstrapToken> {
    let token = {
        let mut rng = capp_pki::rand::rng();
        BootstrapToken::generate(&mut rng)
    };
    store_token(client, cluster, &token, ttl).await?;
    Ok(token)
}

async fn store_token(
    client: &kube::Client,
    cluster: &str,
    token: &BootstrapToken,
    ttl: Duration,
) -> Result<()> {
    let secret = token
        .to_secret(jiff::Timestamp::now(), ttl)
        .map_err(|source| BootstrapError::Pki {
            what: "a bootstrap token Secret",
            source,
        })?;
    let api: Api<Secret> = Api::namespaced(client.clone(), BOOTSTRAP_TOKEN_NAMESPACE);
    create_or_existing(&api, &to_k8s(&secret, None))
        .await
        .map_err(|e| match e {
            BootstrapError::Kube { source, .. } => {
                workload_error(cluster, "create a bootstrap token")(source)
            }
            other => other,
        })?;
    Ok(())
}

/// What [`refresh_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// More than half the TTL is left: nothing to do.
    Valid,
    /// The expiration was moved to now + TTL.
    Extended,
    /// The token Secret was gone (the token cleaner deletes expired tokens): it was created
    /// again with the same token, valid for the TTL.
    Recreated,
}

/// Keeps `token` usable for a node that has not joined yet: when less than half of `ttl`
/// is left (or it expired), its expiration becomes now + `ttl` (CABPK rotates the same way).
pub async fn refresh_token(
    client: &kube::Client,
    cluster: &str,
    token: &BootstrapToken,
    ttl: Duration,
) -> Result<Refresh> {
    let api: Api<Secret> = Api::namespaced(client.clone(), BOOTSTRAP_TOKEN_NAMESPACE);
    let Some(existing) = api
        .get_opt(&token.secret_name())
        .await
        .map_err(workload_error(cluster, "read a bootstrap token"))?
    else {
        store_token(client, cluster, token, ttl).await?;
        return Ok(Refresh::Recreated);
    };
    let now = jiff::Timestamp::now();
    let expiration = BootstrapToken::from_secret(&from_k8s(&existing))
        .ok()
        .and_then(|(_, expiration)| expiration);
    let half = jiff::SignedDuration::try_from(ttl / 2).unwrap_or_default();
    let fresh_enough = expiration.is_some_and(|e| e.duration_since(now) > half);
    if fresh_enough {
        return Ok(Refresh::Valid);
    }
    let renewed = token
        .to_secret(now, ttl)
        .map_err(|source| BootstrapError::Pki {
            what: "a bootstrap token expiration",
            source,
        })?;
    let expiration = renewed.data.get("expiration").cloned().unwrap_or_default();
    api.patch(
        &token.secret_name(),
        &PatchParams {
            field_manager: Some(crate::context::FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        },
        &Patch::Merge(json!({"data": {"expiration": ByteString(expiration)}})),
    )
    .await
    .map_err(workload_error(cluster, "extend a bootstrap token"))?;
    Ok(Refresh::Extended)
}
