//! Finding the binaries `upstream/build` produced.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A folder holding the binaries (and `capi-manifests/`) directly; overrides the cache.
pub const BIN_DIR_ENV: &str = "CAPP_UPSTREAM_BIN_DIR";
/// `upstream/build`'s cache folder; its `bin/` holds links to the newest build.
pub const CACHE_ENV: &str = "CAPP_UPSTREAM_CACHE";

/// Every binary the harness runs, by the name `upstream/build` gives it.
const ALL: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "capi-core",
    "capi-kubeadm-bootstrap",
    "capi-kubeadm-control-plane",
];

/// The upstream binaries and the Cluster API manifests, all in one folder.
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// The folder searched: `$CAPP_UPSTREAM_BIN_DIR`, else `$CAPP_UPSTREAM_CACHE/bin`, else
    /// `$XDG_CACHE_HOME/capp-upstream/bin`, else `$HOME/.cache/capp-upstream/bin` (the defaults
    /// of `upstream/build`).
    #[must_use]
    pub fn default_dir() -> PathBuf {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = env(BIN_DIR_ENV) {
            return PathBuf::from(dir);
        }
        let cache = env(CACHE_ENV).map_or_else(
            || {
                env("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .or_else(|| env("HOME").map(|h| Path::new(&h).join(".cache")))
                    .unwrap_or_else(|| PathBuf::from(".cache"))
                    .join("capp-upstream")
            },
            PathBuf::from,
        );
        cache.join("bin")
    }

    /// Uses the binaries in `dir`, checking that all of them and the CAPI manifests are there.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        for name in ALL.iter().copied().chain(["capi-manifests"]) {
            if !dir.join(name).exists() {
                return Err(Error::MissingBinary {
                    name: name.to_owned(),
                    dir,
                });
            }
        }
        Ok(Self { dir })
    }

    /// Finds the binaries in [`Binaries::default_dir`].
    pub fn locate() -> Result<Self> {
        Self::in_dir(Self::default_dir())
    }

    /// Finds the binaries, or returns `None` after a loud `SKIPPED` message so the calling test
    /// can return early. Panics instead under `CI=true`, where the tier is required.
    #[must_use]
    pub fn require() -> Option<Self> {
        match Self::locate() {
            Ok(bins) => Some(bins),
            Err(e) => {
                let _skipped = require(&e.to_string(), false);
                None
            }
        }
    }

    /// The path of binary `name` (`etcd`, `kube-apiserver`, `capi-core`, ...).
    #[must_use]
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The folder holding the Cluster API CRDs and webhook manifests, as `upstream/build`
    /// copied them from the module: `{core,bootstrap/kubeadm,controlplane/kubeadm}/{crd,webhook}`.
    #[must_use]
    pub fn capi_manifests(&self) -> PathBuf {
        self.dir.join("capi-manifests")
    }
}

/// Whether an external requirement is present. When it is not, prints a loud `SKIPPED`
/// message and returns `false` so the test can return; under `CI=true` it panics instead,
/// because CI must run every test.
#[must_use]
pub fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} (required under CI=true)"
    );
    eprintln!("SKIPPED: {what}; this test did not run");
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::*;

    #[test]
    fn a_folder_without_the_binaries_names_the_first_missing_one_and_the_fix() {
        let dir = std::env::temp_dir().join("capp-envtest-empty-bin-dir");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("etcd"), "").unwrap();
        let err = Binaries::in_dir(&dir).unwrap_err().to_string();
        assert!(
            err.contains("kube-apiserver") && err.contains("upstream/build"),
            "{err}"
        );
        assert!(err.contains(BIN_DIR_ENV), "{err}");
    }
}
