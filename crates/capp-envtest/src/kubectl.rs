//! Running the real `kubectl` against a server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use crate::{Error, Result};

/// Generous: kubectl on a loaded 2-core machine, first run without a discovery cache.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(120);

/// The `kubectl` on `PATH`, if any.
#[must_use]
pub fn kubectl_path() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    })
}

/// What a kubectl run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubectlOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `kubectl --kubeconfig <kubeconfig> <args>` with `stdin` (if any) and returns what it
/// printed. Its discovery cache lives next to the kubeconfig, so runs do not share state with
/// `$HOME/.kube`.
pub async fn kubectl(
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<KubectlOutput> {
    let program = kubectl_path().ok_or_else(|| Error::MissingBinary {
        name: "kubectl".to_owned(),
        dir: PathBuf::from("$PATH"),
    })?;
    let cache = kubeconfig.with_extension("kubectl-cache");
    let mut child = tokio::process::Command::new(&program)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            name: "kubectl".to_owned(),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|source| crate::workdir::io(&program, source))?;
    }
    let output = tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Error::NotReady {
            name: "kubectl".to_owned(),
            reason: format!(
                "kubectl {} did not finish within {KUBECTL_TIMEOUT:?}",
                args.join(" ")
            ),
            log: String::new(),
        })?
        .map_err(|source| crate::workdir::io(&program, source))?;
    Ok(KubectlOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
