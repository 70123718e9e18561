//! The Metal account of a PacketCluster: the Secret named by `spec.credentialsRef`, else the
//! manager's token.
//!
//! The Secret is read on demand (no Secret informer). A missing Secret or key is an
//! [`Error::Credentials`] naming the Secret, shown in the `CredentialsAvailable` condition;
//! it is retried, never a crash loop.

use std::sync::Arc;

use capp_api::PacketCluster;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use crate::account::Account;
use crate::context::Context;
use crate::error::{Error, Result};

/// The account the PacketCluster's project is managed with.
pub(crate) async fn account(ctx: &Context, packet_cluster: &PacketCluster) -> Result<Arc<Account>> {
    let Some(reference) = &packet_cluster.spec.credentials_ref else {
        return Ok(ctx.accounts.default_account());
    };
    let namespace = packet_cluster.namespace().unwrap_or_default();
    let missing = |message: String| Error::Credentials {
        namespace: namespace.clone(),
        name: reference.name.clone(),
        message,
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret = secrets
        .get_opt(&reference.name)
        .await
        .map_err(Error::kube("get the credentials Secret"))?
        .ok_or_else(|| {
            missing("not found; create it or fix spec.credentialsRef.name".to_owned())
        })?;
    let key = reference.key_or_default();
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| {
            missing(format!(
                "has no key {key:?}; add it or set spec.credentialsRef.key"
            ))
        })?;
    let token = std::str::from_utf8(&value.0)
        .map(str::trim)
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing(format!("key {key:?} is empty or not text")))?;
    ctx.accounts
        .for_token(token)
        .map_err(Error::metal("configure a client for the credentials"))
}
