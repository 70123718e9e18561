//! The real `clusterctl` (v1.10, built from the Go module proxy on first use and cached under
//! the target directory) reads the repository `capp-components repository` writes:
//! `clusterctl generate provider --infrastructure packet:<version> --config DIR/clusterctl.yaml`
//! validates the metadata and the components (one namespace, variables) and prints them
//! processed; `--describe` lists exactly our variables; a missing `PACKET_API_KEY` is refused.
//!
//! No network except the Go module proxy for the build: clusterctl's version check is off and
//! its HTTP(S) proxy points at a closed loopback port. Skips loudly without `go`; fails
//! instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/clusterctl.rs"]
mod clusterctl;
#[path = "support/repo.rs"]
mod repo;

use std::path::Path;
use std::process::{Command, Output};

use clusterctl::clusterctl;
use repo::Repo;

/// Runs clusterctl with the repository's config, an isolated HOME, no version check and no
/// way off the machine.
fn run(bin: &Path, repo: &Repo, args: &[&str], token: Option<&str>) -> Output {
    let home = repo.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(bin);
    command
        .args(args)
        .arg("--config")
        .arg(repo.0.join("clusterctl.yaml"))
        .env_clear()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CLUSTERCTL_DISABLE_VERSIONCHECK", "true")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9");
    if let Some(token) = token {
        command.env("PACKET_API_KEY", token);
    }
    command.output().expect("clusterctl runs")
}

const PROVIDER: &str = "packet:v0.1.0";

#[test]
fn clusterctl_generates_the_provider_from_the_local_repository() {
    let Some(bin) = clusterctl() else { return };
    let repo = Repo::write("clusterctl-generate", "v0.1.0");
    let out = run(
        &bin,
        &repo,
        &["generate", "provider", "--infrastructure", PROVIDER],
        Some("token-from-the-environment"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "clusterctl refused the repository: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&stdout).unwrap();
    let ours =
        capp_components::components::components(&capp_components::Release::default()).unwrap();
    assert_eq!(docs.len(), ours.len(), "{stdout}");
    for doc in &docs {
        // clusterctl's common labels, on top of ours.
        assert_eq!(
            doc["metadata"]["labels"]["cluster.x-k8s.io/provider"],
            "infrastructure-packet"
        );
        assert!(
            doc["metadata"]["labels"]
                .get("clusterctl.cluster.x-k8s.io")
                .is_some(),
            "{doc}"
        );
    }
    let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(
        secret["stringData"]["PACKET_API_KEY"],
        "token-from-the-environment"
    );
    assert!(!stdout.contains("${"), "a variable was left unsubstituted");
}

#[test]
fn clusterctl_describes_exactly_our_variables() {
    let Some(bin) = clusterctl() else { return };
    let repo = Repo::write("clusterctl-describe", "v0.1.0");
    let out = run(
        &bin,
        &repo,
        &[
            "generate",
            "provider",
            "--infrastructure",
            PROVIDER,
            "--describe",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = capp_components::to_yaml(
        &capp_components::components::components(&capp_components::Release::default()).unwrap(),
    )
    .unwrap();
    for r in capp_components::variables::references(&text).unwrap() {
        assert!(
            stdout.contains(&r.name),
            "--describe lacks {}:\n{stdout}",
            r.name
        );
    }
    assert!(
        stdout.contains("cluster-api-provider-packet-system"),
        "{stdout}"
    );
}

#[test]
fn clusterctl_refuses_the_components_without_the_api_key() {
    let Some(bin) = clusterctl() else { return };
    let repo = Repo::write("clusterctl-missing", "v0.1.0");
    let out = run(
        &bin,
        &repo,
        &["generate", "provider", "--infrastructure", PROVIDER],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PACKET_API_KEY"), "{stderr}");
}
