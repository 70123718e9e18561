//! The clusterctl provider artifacts of capp, generated from the same Rust types, flags and
//! RBAC rules the manager uses, so the manifests cannot drift from the code:
//!
//! - [`components::components`]: `infrastructure-components.yaml` (Namespace, the
//!   two-version CRDs of [`capp_api::v1beta2::crds_multiversion`] with their conversion
//!   webhook, ServiceAccount, a ClusterRole made of exactly [`capp_reconcile::rbac::rules`],
//!   the leader-election Role, bindings, the credentials Secret, the webhook Service with its
//!   cert-manager Issuer and Certificate, and the manager Deployment);
//! - [`metadata::metadata`]: `metadata.yaml` (`clusterctl.cluster.x-k8s.io/v1alpha3`
//!   `Metadata`), mapping the release series to the contract of the CRDs' contract label;
//! - [`templates`]: the cluster templates (`cluster-template[-FLAVOR].yaml`), with node
//!   preparation from capp-bootstrap's machine-config matrix;
//! - [`repository::write`]: a clusterctl local repository and its `clusterctl.yaml`;
//! - [`variables`]: the clusterctl variable syntax (`${VAR}`, `${VAR:=default}`): listing
//!   and substitution as clusterctl does it.
//!
//! `bins/capp-components/src/main.rs` is the command line around these functions. The
//! clusterctl provider contract is summarised in `docs/clusterctl.md`.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

pub mod components;
pub mod metadata;
pub mod repository;
pub mod templates;
pub mod variables;

/// The provider name clusterctl knows us by (`clusterctl init --infrastructure packet`).
pub const PROVIDER_NAME: &str = "packet";

/// clusterctl's `ManifestLabel` for an infrastructure provider named [`PROVIDER_NAME`]: the
/// repository directory name and the value of [`PROVIDER_LABEL_KEY`] on every object.
pub const PROVIDER_LABEL: &str = "infrastructure-packet";

/// The label clusterctl uses to find a provider's objects.
pub const PROVIDER_LABEL_KEY: &str = "cluster.x-k8s.io/provider";

/// The one namespace of the components (the Go provider's, so an upgrade keeps it).
pub const NAMESPACE: &str = "cluster-api-provider-packet-system";

/// Prefix of every object name (the Go provider's kustomize `namePrefix`).
pub const NAME_PREFIX: &str = "cluster-api-provider-packet-";

/// The components file name infrastructure providers release.
pub const COMPONENTS_FILE: &str = "infrastructure-components.yaml";

/// The metadata file name clusterctl reads from each release.
pub const METADATA_FILE: &str = "metadata.yaml";

/// The container image repository of the manager; the tag is the release version.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/capp-rs/capp-manager";

/// Errors of the generators.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A release version is not `vMAJOR.MINOR.PATCH`.
    #[error("invalid version {0:?}: write it as vMAJOR.MINOR.PATCH, e.g. v0.1.0")]
    InvalidVersion(String),
    /// A container image reference is empty or contains whitespace.
    #[error(
        "invalid image {0:?}: write it as REPOSITORY[:TAG], e.g. ghcr.io/org/capp-manager:v0.1.0"
    )]
    InvalidImage(String),
    /// A generated object could not be rendered as YAML.
    #[error("cannot render the manifests as YAML")]
    Render(#[source] serde_saphyr::SerializeError),
    /// A generated object could not be turned into JSON (a type whose `Serialize` fails).
    #[error("cannot serialise a generated object")]
    Serialize(#[source] serde_json::Error),
    /// A file or directory of the repository could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The path that failed.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A `${VAR}` has no value and no default ([`variables::substitute`]).
    #[error(
        "variable {0} has no value and no default: set it in the environment or clusterctl.yaml"
    )]
    MissingVariable(String),
    /// A cluster template flavor name that does not exist ([`templates::Flavor::from_name`]).
    #[error("unknown flavor {name:?}: the flavors are {known}")]
    UnknownFlavor {
        /// The name asked for.
        name: String,
        /// The flavors, comma-separated.
        known: String,
    },
    /// The machine-config matrix could not be loaded.
    #[error("cannot load the machine-config matrix")]
    Matrix(#[source] capp_bootstrap::Error),
    /// A matrix entry cannot be turned into node preparation for a cluster template
    /// ([`templates::node_setup::node_setup`]).
    #[error("machine-config matrix entry `{entry}`: {reason}")]
    NodeSetup {
        /// The entry's name.
        entry: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A `${` is not closed or names no valid variable ([`variables::substitute`]).
    #[error("malformed variable reference {0:?}: write ${{NAME}} or ${{NAME:=default}}")]
    MalformedVariable(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A release version `vMAJOR.MINOR.PATCH` (semver without pre-release, as the repository
/// directories clusterctl reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl Version {
    /// This crate's own version (the workspace version).
    #[must_use]
    pub fn current() -> Version {
        let parse = |s: &str| s.parse().unwrap_or(0);
        Version {
            major: parse(env!("CARGO_PKG_VERSION_MAJOR")),
            minor: parse(env!("CARGO_PKG_VERSION_MINOR")),
            patch: parse(env!("CARGO_PKG_VERSION_PATCH")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(text: &str) -> Result<Version> {
        let invalid = || Error::InvalidVersion(text.to_owned());
        let digits = text.strip_prefix('v').ok_or_else(invalid)?;
        let mut parts = digits.split('.').map(|p| {
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                None
            } else {
                p.parse::<u32>().ok()
            }
        });
        let mut next = || parts.next().flatten().ok_or_else(invalid);
        let version = Version {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(version)
    }
}

/// What one release of the components is made of: its version and the manager image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// The release version (repository directory, metadata series, default image tag).
    pub version: Version,
    /// The manager container image.
    pub image: String,
}

impl Release {
    /// The release `version` with the canonical image `IMAGE_REPOSITORY:version`.
    #[must_use]
    pub fn new(version: Version) -> Release {
        Release {
            version,
            image: format!("{IMAGE_REPOSITORY}:{version}"),
        }
    }

    /// Replaces the manager image.
    pub fn with_image(mut self, image: &str) -> Result<Release> {
        if image.is_empty() || image.chars().any(char::is_whitespace) {
            return Err(Error::InvalidImage(image.to_owned()));
        }
        image.clone_into(&mut self.image);
        Ok(self)
    }
}

impl Default for Release {
    fn default() -> Release {
        Release::new(Version::current())
    }
}

/// Renders objects as one multi-document YAML stream (`---` between documents), in the
/// given order. The output depends only on the input: no timestamps, maps in key order.
pub fn to_yaml(objects: &[Value]) -> Result<String> {
    to_yaml_with(objects, &serde_saphyr::SerializerOptions::default())
}

/// [`to_yaml`] with serializer options.
pub(crate) fn to_yaml_with(
    objects: &[Value],
    options: &serde_saphyr::SerializerOptions,
) -> Result<String> {
    let mut out = String::new();
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(
            &serde_saphyr::to_string_with_options(object, options.clone())
                .map_err(Error::Render)?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_v_major_minor_patch() {
        let v: Version = "v1.2.30".parse().unwrap();
        assert_eq!(v.to_string(), "v1.2.30");
        for bad in [
            "1.2.3",
            "v1.2",
            "v1.2.3.4",
            "v1.2.x",
            "v01.2.3",
            "v1.2.3-rc.1",
            "",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn images_without_whitespace_are_accepted() {
        let release = Release::default().with_image("example.org/m:v1").unwrap();
        assert_eq!(release.image, "example.org/m:v1");
        assert!(Release::default().with_image("a b").is_err());
        assert!(Release::default().with_image("").is_err());
    }
}
