//! The real `clusterctl` (v1.10, built from the Go module proxy on first use and cached under
//! the target directory), shared by the tests that run it.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure here is a test failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The clusterctl release the tests use (the CAPI release whose CRDs `../shared` holds).
pub(crate) const CLUSTERCTL_VERSION: &str = "v1.10.4";

/// `clusterctl`, built once into `CARGO_TARGET_TMPDIR`; `None` (after a loud message) when
/// `go` is missing outside CI.
pub(crate) fn clusterctl() -> Option<PathBuf> {
    let bin_dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("clusterctl-{CLUSTERCTL_VERSION}"));
    let bin = bin_dir.join("clusterctl");
    if bin.is_file() {
        return Some(bin);
    }
    let go = Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .status();
    if !go.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: go is required to build clusterctl for this test"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPING: go is not installed; clusterctl cannot be built !!!!!!!!\n"
        );
        return None;
    }
    // Built into a private directory and renamed into place, so tests running in parallel
    // processes never see a half-written binary.
    let private = bin_dir.join(format!("build-{}", std::process::id()));
    let out = Command::new("go")
        .args([
            "install",
            &format!("sigs.k8s.io/cluster-api/cmd/clusterctl@{CLUSTERCTL_VERSION}"),
        ])
        .env("GOBIN", &private)
        .output()
        .expect("go runs");
    assert!(
        out.status.success(),
        "building clusterctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(private.join("clusterctl"), &bin).unwrap();
    let _ = std::fs::remove_dir_all(&private);
    Some(bin)
}
