//! Kubernetes versions and the version patterns used by the machine-config matrix.
//!
//! A [`KubernetesVersion`] is `MAJOR.MINOR.PATCH` with an optional leading `v` (`v1.31.4`).
//! A [`VersionPattern`] is either exact (`1.31.4`) or a whole minor (`1.31.x`).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A Kubernetes release version, `MAJOR.MINOR.PATCH`.
///
/// Parsing accepts an optional leading `v` (CAPI writes `v1.31.4`, packages use `1.31.4`).
/// Pre-release suffixes are not accepted: the package repositories only carry releases.
///
/// ```
/// use capp_bootstrap::KubernetesVersion;
/// let v: KubernetesVersion = "v1.31.4".parse().unwrap();
/// assert_eq!(v.to_string(), "1.31.4");
/// assert_eq!(v.minor_tag(), "v1.31");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubernetesVersion {
    /// Major version (always 1 today).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

const VERSION_FORMS: &str = "`1.31.4` or `v1.31.4`";
const PATTERN_FORMS: &str = "an exact version `1.31.4` or a minor wildcard `1.31.x`";

/// Parses a non-empty run of ASCII digits without sign, rejecting leading zeros ("01").
fn number(part: &str) -> Option<u32> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if part.len() > 1 && part.starts_with('0') {
        return None;
    }
    part.parse().ok()
}

impl KubernetesVersion {
    /// Creates a version from its three numbers.
    #[must_use]
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The minor release tag used by `pkgs.k8s.io` repository paths, e.g. `v1.31`.
    #[must_use]
    pub fn minor_tag(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }

    /// The version with a leading `v`, as kubeadm's `kubernetesVersion` wants it (`v1.31.4`).
    #[must_use]
    pub fn tag(&self) -> String {
        format!("v{self}")
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for KubernetesVersion {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let invalid = || Error::InvalidVersion {
            input: input.to_owned(),
            what: "Kubernetes version",
            expected: VERSION_FORMS,
        };
        let body = input.strip_prefix('v').unwrap_or(input);
        let mut parts = body.split('.');
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            major: number(major).ok_or_else(invalid)?,
            minor: number(minor).ok_or_else(invalid)?,
            patch: number(patch).ok_or_else(invalid)?,
        })
    }
}

/// A version pattern from the matrix: exact (`1.31.4`) or a whole minor release (`1.31.x`).
///
/// ```
/// use capp_bootstrap::{KubernetesVersion, VersionPattern};
/// let minor: VersionPattern = "1.31.x".parse().unwrap();
/// assert!(minor.matches(&"1.31.9".parse().unwrap()));
/// assert!(!minor.matches(&"1.32.0".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionPattern {
    /// Matches exactly this version.
    Exact(KubernetesVersion),
    /// Matches every patch release of `major.minor`.
    Minor {
        /// Major version.
        major: u32,
        /// Minor version.
        minor: u32,
    },
}

impl VersionPattern {
    /// Whether `version` is covered by this pattern.
    #[must_use]
    pub fn matches(&self, version: &KubernetesVersion) -> bool {
        match self {
            Self::Exact(exact) => exact == version,
            Self::Minor { major, minor } => version.major == *major && version.minor == *minor,
        }
    }
}

impl fmt::Display for VersionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(v) => v.fmt(f),
            Self::Minor { major, minor } => write!(f, "{major}.{minor}.x"),
        }
    }
}

impl FromStr for VersionPattern {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        if let Some(prefix) = input.strip_suffix(".x") {
            let body = prefix.strip_prefix('v').unwrap_or(prefix);
            let mut parts = body.split('.');
            if let (Some(major), Some(minor), None) = (parts.next(), parts.next(), parts.next())
                && let (Some(major), Some(minor)) = (number(major), number(minor))
            {
                return Ok(Self::Minor { major, minor });
            }
        } else if let Ok(exact) = input.parse() {
            return Ok(Self::Exact(exact));
        }
        Err(Error::InvalidVersion {
            input: input.to_owned(),
            what: "version pattern",
            expected: PATTERN_FORMS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_and_without_a_leading_v() {
        let plain: KubernetesVersion = "1.31.4".parse().unwrap();
        let tagged: KubernetesVersion = "v1.31.4".parse().unwrap();
        assert_eq!(plain, tagged);
        assert_eq!(plain, KubernetesVersion::new(1, 31, 4));
        assert_eq!(plain.tag(), "v1.31.4");
    }

    #[test]
    fn malformed_versions_are_rejected_with_the_accepted_forms() {
        for bad in [
            "",
            "1.31",
            "1.31.x",
            "1.31.4.1",
            "v",
            "1.031.4",
            "1.31.-4",
            " 1.31.4",
            "1.31.4-rc.1",
        ] {
            let err = bad.parse::<KubernetesVersion>().unwrap_err().to_string();
            assert!(err.contains("1.31.4"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn patterns_match_exact_versions_and_whole_minors() {
        let exact: VersionPattern = "1.31.4".parse().unwrap();
        let minor: VersionPattern = "1.31.x".parse().unwrap();
        let v = |s: &str| s.parse::<KubernetesVersion>().unwrap();
        assert!(exact.matches(&v("1.31.4")));
        assert!(!exact.matches(&v("1.31.5")));
        assert!(minor.matches(&v("1.31.0")));
        assert!(minor.matches(&v("1.31.12")));
        assert!(!minor.matches(&v("1.3.1")));
        assert!(!minor.matches(&v("2.31.1")));
        assert_eq!(minor.to_string(), "1.31.x");
    }

    #[test]
    fn a_bare_minor_is_not_a_pattern() {
        // `1.31` is a YAML float to most parsers; insisting on `1.31.x` avoids that trap.
        let err = "1.31".parse::<VersionPattern>().unwrap_err().to_string();
        assert!(err.contains("1.31.x"), "{err}");
    }
}
