//! Bootstrap tokens as the workload API server and its bootstrap signer treat them.
//!
//! A token lives in `kube-system/bootstrap-token-<id>` (type `bootstrap.kubernetes.io/token`).
//! The API server's token authenticator accepts it when `usage-bootstrap-authentication` is
//! `true` and it has not expired; the bootstrap signer (kube-controller-manager) adds a
//! detached JWS `jws-kubeconfig-<id>` to `kube-public/cluster-info` for every unexpired token
//! with `usage-bootstrap-signing`, which is what `kubeadm join` checks before trusting the
//! server.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::{Value, json};

use crate::kubeadm::{BootstrapTokenSpec, parse_go_duration};

/// Secret type of bootstrap tokens.
pub(crate) const TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// Prefix of the JWS keys in `cluster-info`.
pub(crate) const JWS_PREFIX: &str = "jws-kubeconfig-";

/// One bootstrap token Secret, decoded.
#[derive(Clone)]
pub(crate) struct TokenSecret {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) expiration: Option<Timestamp>,
    pub(crate) authentication: bool,
    pub(crate) signing: bool,
    pub(crate) extra_groups: Vec<String>,
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSecret")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl TokenSecret {
    /// Decodes a Secret as the bootstrap authenticator does (`getSecretString`); `None` for
    /// anything that is not a well-formed token Secret.
    pub(crate) fn from_secret(secret: &Secret) -> Option<Self> {
        if secret.type_.as_deref() != Some(TOKEN_SECRET_TYPE) {
            return None;
        }
        let data = secret.data.as_ref()?;
        let get = |key: &str| {
            data.get(key)
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
        };
        let id = get("token-id")?;
        let expiration = match get("expiration") {
            // An unparsable expiration makes the token invalid (the authenticator refuses it).
            Some(text) => Some(text.parse::<Timestamp>().ok()?),
            None => None,
        };
        Some(Self {
            secret: get("token-secret")?,
            expiration,
            authentication: get("usage-bootstrap-authentication").as_deref() == Some("true"),
            signing: get("usage-bootstrap-signing").as_deref() == Some("true"),
            extra_groups: get("auth-extra-groups")
                .map(|g| {
                    g.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            id,
        })
    }

    /// Whether the token has expired at `now`.
    pub(crate) fn expired(&self, now: Timestamp) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }

    /// Whether the API server's bootstrap-token authenticator accepts this token presented
    /// with `secret` at `now`: the secret matches, `usage-bootstrap-authentication` is set and
    /// the token has not expired.
    pub(crate) fn authenticates(&self, secret: &str, now: Timestamp) -> bool {
        self.secret == secret && self.authentication && !self.expired(now)
    }

    /// The user a valid authentication token maps to (`system:bootstrap:<id>`), with groups.
    pub(crate) fn identity(&self) -> capp_testenv::Identity {
        let mut groups = vec!["system:bootstrappers"];
        groups.extend(self.extra_groups.iter().map(String::as_str));
        capp_testenv::Identity::user(format!("system:bootstrap:{}", self.id), &groups)
    }
}

/// The identity a bearer token `<id>.<secret>` authenticates as, if it is a valid bootstrap
/// token of the cluster.
pub(crate) async fn authenticate(
    client: &kube::Client,
    token: &str,
) -> Option<capp_testenv::Identity> {
    let (id, secret) = token.split_once('.')?;
    lookup(client, id)
        .await
        .filter(|t| t.authenticates(secret, Timestamp::now()))
        .map(|t| t.identity())
}

/// Reads `kube-system/bootstrap-token-<id>`.
pub(crate) async fn lookup(client: &kube::Client, id: &str) -> Option<TokenSecret> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let secret = secrets
        .get_opt(&format!("bootstrap-token-{id}"))
        .await
        .ok()
        .flatten()?;
    TokenSecret::from_secret(&secret).filter(|t| t.id == id)
}

/// Every token Secret in `kube-system`.
pub(crate) async fn all(client: &kube::Client) -> Result<Vec<TokenSecret>, kube::Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let list = secrets.list(&kube::api::ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter_map(TokenSecret::from_secret)
        .collect())
}

/// The detached JWS (`<header>..<signature>`, HS256, `kid` = token id) the bootstrap signer
/// computes over the `cluster-info` kubeconfig (`k8s.io/cluster-bootstrap/token/jws`).
pub(crate) fn detached_jws(content: &str, token_id: &str, token_secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(
        json!({"alg": "HS256", "kid": token_id})
            .to_string()
            .as_bytes(),
    );
    let payload = URL_SAFE_NO_PAD.encode(content.as_bytes());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token_secret.as_bytes());
    let signature = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!("{header}..{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// `tokenjws.DetachedTokenIsValid`: recomputes the signature with the caller's secret.
pub(crate) fn detached_jws_is_valid(
    detached: &str,
    content: &str,
    token_id: &str,
    token_secret: &str,
) -> bool {
    detached_jws(content, token_id, token_secret) == detached
}

/// The Secret `kubeadm init` creates for an `InitConfiguration.bootstrapTokens` entry.
pub(crate) fn secret_for_spec(spec: &BootstrapTokenSpec, now: Timestamp) -> Result<Value, String> {
    let (id, secret) = spec
        .token
        .split_once('.')
        .filter(|(id, secret)| {
            id.len() == 6
                && secret.len() == 16
                && format!("{id}{secret}")
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        .ok_or_else(|| {
            "bootstrapTokens[].token: Invalid value: the bootstrap token was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"".to_owned()
        })?;
    let ttl = match spec.ttl.as_deref() {
        None => std::time::Duration::from_secs(24 * 3600),
        Some(text) => parse_go_duration(text).ok_or_else(|| {
            format!("bootstrapTokens[].ttl: Invalid value: {text:?}: not a duration")
        })?,
    };
    let usages = spec
        .usages
        .clone()
        .unwrap_or_else(|| vec!["signing".to_owned(), "authentication".to_owned()]);
    let groups = spec
        .groups
        .clone()
        .unwrap_or_else(|| vec!["system:bootstrappers:kubeadm:default-node-token".to_owned()]);
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        data.insert(k.to_owned(), STANDARD.encode(v));
    };
    put("token-id", id);
    put("token-secret", secret);
    if let Some(description) = &spec.description {
        put("description", description);
    }
    if !ttl.is_zero() {
        let expiration = now
            .checked_add(jiff::SignedDuration::try_from(ttl).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        put("expiration", &format!("{expiration:.0}"));
    }
    for usage in &usages {
        put(&format!("usage-bootstrap-{usage}"), "true");
    }
    put("auth-extra-groups", &groups.join(","));
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("bootstrap-token-{id}"), "namespace": "kube-system"},
        "type": TOKEN_SECRET_TYPE,
        "data": data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jws_verifies_only_with_the_secret_that_signed_it() {
        let jws = detached_jws("kubeconfig", "abcdef", "0123456789abcdef");
        assert!(jws.contains(".."), "detached form: {jws}");
        assert!(detached_jws_is_valid(
            &jws,
            "kubeconfig",
            "abcdef",
            "0123456789abcdef"
        ));
        assert!(!detached_jws_is_valid(
            &jws,
            "kubeconfig",
            "abcdef",
            "fedcba9876543210"
        ));
        assert!(!detached_jws_is_valid(
            &jws,
            "other",
            "abcdef",
            "0123456789abcdef"
        ));
    }

    #[test]
    fn init_tokens_become_secrets_with_their_ttl_usages_and_groups() {
        let spec = BootstrapTokenSpec {
            token: "abcdef.0123456789abcdef".to_owned(),
            description: None,
            ttl: Some("1h0m0s".to_owned()),
            usages: None,
            groups: None,
        };
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let secret: Secret = serde_json::from_value(secret_for_spec(&spec, now).unwrap()).unwrap();
        let token = TokenSecret::from_secret(&secret).unwrap();
        assert_eq!(token.id, "abcdef");
        assert!(token.signing && token.authentication);
        assert_eq!(
            token.expiration,
            Some("2026-12-02T11:00:00Z".parse().unwrap())
        );
        assert!(!token.expired(now) && token.expired("2026-12-02T11:00:01Z".parse().unwrap()));
        let bad = BootstrapTokenSpec {
            token: "ABCDEF.0123456789abcdef".to_owned(),
            ..spec
        };
        assert!(secret_for_spec(&bad, now).is_err());
    }
}
