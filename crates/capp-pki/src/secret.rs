//! Kubernetes Secrets as plain data, and a redacting string wrapper.
//!
//! This crate does not depend on `kube` or `k8s-openapi`; callers map [`Secret`] onto
//! `k8s_openapi::api::core::v1::Secret` (name, namespace, type, labels, data) themselves.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// A Kubernetes Secret reduced to what this crate reads and writes.
///
/// `Debug` lists the data keys but never their values.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Secret {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `type` (for example `cluster.x-k8s.io/secret`).
    pub type_: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `data` (raw bytes, i.e. already base64-decoded).
    pub data: BTreeMap<String, Vec<u8>>,
}

impl Secret {
    /// A Secret with the given identity and no labels or data.
    #[must_use]
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        type_: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            type_: type_.into(),
            labels: BTreeMap::new(),
            data: BTreeMap::new(),
        }
    }

    /// Adds a label.
    #[must_use]
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a data entry.
    #[must_use]
    pub fn with_data(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// The raw bytes under `key`, or [`Error::MissingSecretKey`].
    pub fn get(&self, key: &'static str) -> Result<&[u8]> {
        self.data
            .get(key)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::MissingSecretKey {
                secret: self.name.clone(),
                key,
            })
    }

    /// The UTF-8 text under `key`, or an error naming the Secret and key.
    pub fn get_str(&self, key: &'static str) -> Result<&str> {
        std::str::from_utf8(self.get(key)?).map_err(|_| Error::SecretNotUtf8 {
            secret: self.name.clone(),
            key: key.to_owned(),
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Keys<'a>(&'a BTreeMap<String, Vec<u8>>);
        impl fmt::Debug for Keys<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, "[REDACTED]")))
                    .finish()
            }
        }
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("type", &self.type_)
            .field("labels", &self.labels)
            .field("data", &Keys(&self.data))
            .finish()
    }
}

/// A secret string (token, key data) that serialises transparently but whose `Debug`
/// prints `[REDACTED]`.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wraps a string.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret text. Call only where the value is actually needed.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<SecretString> for SecretValue {
    fn from(value: SecretString) -> Self {
        Self(value)
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretValue {}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_lists_keys_but_not_values() {
        let secret = Secret::new("ns", "demo-ca", "cluster.x-k8s.io/secret")
            .with_label("cluster.x-k8s.io/cluster-name", "demo")
            .with_data("tls.key", "super-secret-key-material");
        let debug = format!("{secret:?}");
        assert!(
            debug.contains("tls.key") && debug.contains("[REDACTED]"),
            "{debug}"
        );
        assert!(
            debug.contains("demo-ca") && debug.contains("cluster-name"),
            "{debug}"
        );
        assert!(!debug.contains("super-secret"), "{debug}");
    }

    #[test]
    fn missing_and_non_utf8_keys_are_errors_naming_secret_and_key() {
        let secret = Secret::new("ns", "demo-sa", "Opaque").with_data("tls.key", vec![0xff, 0xfe]);
        assert_eq!(
            secret.get("tls.crt").unwrap_err().to_string(),
            "Secret `demo-sa` has no data key `tls.crt`"
        );
        assert_eq!(
            secret.get_str("tls.key").unwrap_err().to_string(),
            "Secret `demo-sa` key `tls.key` is not UTF-8 text"
        );
    }

    #[test]
    fn a_secret_value_serialises_transparently_but_debugs_redacted() {
        let value = SecretValue::new("abcdef.0123456789abcdef");
        assert_eq!(format!("{value:?}"), "[REDACTED]");
        let yaml = serde_saphyr::to_string(&value).unwrap();
        assert_eq!(yaml.trim(), "abcdef.0123456789abcdef");
        let back: SecretValue = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, value);
    }
}
