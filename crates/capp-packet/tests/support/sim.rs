//! Shared helpers: an in-process simulator with a client pointed at it, and the spec gate.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::path::PathBuf;
use std::time::Duration;

use capp_packet::{ClientConfig, MetalClient, RetryPolicy};
use capp_sim::{SimConfig, Simulator};

/// Retries as in production, but with millisecond waits so tests stay fast.
pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(3),
    }
}

/// A client configuration for `sim`: its URL and token, fast retries, no client-side limit.
pub(crate) fn config_for(sim: &Simulator) -> ClientConfig {
    ClientConfig::new(sim.token())
        .with_base_url(sim.base_url())
        .with_retry(fast_retry())
        .with_rate_limit(None)
        .with_request_timeout(Duration::from_secs(10))
}

/// A simulator with a manual clock and instant lifecycle, and a client for it.
pub(crate) async fn start() -> (Simulator, MetalClient) {
    start_with(SimConfig::for_tests()).await
}

/// A public key for tests: a simulated project starts without SSH keys, and the API refuses
/// (422) a device that would get none unless the request says `no_ssh_keys`.
pub(crate) const TEST_SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPacketClientTestKeyForTestsOnly0000000000000 tests";

/// Adds [`TEST_SSH_KEY`] to `sim`'s project, so devices can be created without key fields.
pub(crate) fn add_test_key(sim: &Simulator) {
    sim.add_project_ssh_key("capp-packet tests", TEST_SSH_KEY)
        .expect("the test key is a valid OpenSSH public key");
}

/// A simulator with `config` whose project has [`TEST_SSH_KEY`], and a client for it.
pub(crate) async fn start_with(config: SimConfig) -> (Simulator, MetalClient) {
    let sim = Simulator::start(config)
        .await
        .expect("the simulator starts on 127.0.0.1:0");
    add_test_key(&sim);
    let client = MetalClient::new(config_for(&sim)).expect("the client accepts the sim's URL");
    (sim, client)
}

/// Path of the official spec beside the project, `None` (after a loud message) when it is
/// missing outside CI. Under `CI=true` a missing spec fails the test.
pub(crate) fn spec_path() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs/equinix-metal/openapi3.yaml"
    ));
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "SKIPPED: the Equinix Metal spec is not at {}; spec conformance was NOT checked",
        path.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message} (CI=true makes this fatal)"
    );
    eprintln!("{message}");
    None
}

/// The identity tags of one test machine.
pub(crate) fn tags(machine: &str) -> Vec<String> {
    vec![
        "capp:cluster-id:demo".to_owned(),
        format!("capp:machine-uid:{machine}"),
        "kubernetes.io/role:node".to_owned(),
    ]
}
