//! Helpers for tests that drive real tools (`openssl`, `kubectl`): availability check (skip loudly,
//! fail under `CI=true`), a self-cleaning temporary directory and command runners.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]
#![allow(
    clippy::expect_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Returns `true` when `openssl` can be run; see [`tool_available`].
pub(crate) fn openssl_available(test: &str) -> bool {
    tool_available("openssl", &["version"], test)
}

/// Returns `true` when `tool <probe>` runs successfully. When it cannot, prints a loud
/// message and returns `false`, or panics if `CI=true` (CI must not silently skip).
pub(crate) fn tool_available(tool: &str, probe: &[&str], test: &str) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`{tool}` is required under CI=true but was not found (test {test})"
        );
        eprintln!("!!!!! SKIPPING {test}: the `{tool}` tool was not found on PATH !!!!!");
    }
    ok
}

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "capp-pki-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` inside the directory and returns the full path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).expect("read temp file")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl <args>` in `dir` and returns its output (status not checked).
pub(crate) fn openssl_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl")
}

/// Runs `openssl <args>` in `dir`, asserts success and returns stdout as text.
pub(crate) fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl_in(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a shell pipeline in `dir` and returns stdout (asserting success).
pub(crate) fn sh_ok(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
