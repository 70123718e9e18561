//! `capp-manager dev`: the one-command try-out.
//!
//! One process runs everything a person needs to see the provider work on a laptop with only
//! cargo: a management API server (the embedded capp-testenv over HTTPS, or with `--upstream`
//! the real kube-apiserver, etcd and Cluster API managers built by `upstream/build`), the
//! Cluster API core emulation (`capp_testenv::capi`, embedded mode only), the Equinix Metal
//! simulator with its workload-cluster twin (servers that run the kubeadm side of their
//! userdata, so Nodes join), and this manager's controllers (infrastructure and the built-in
//! kubeadm bootstrap provider).
//!
//! This is the one place where the product binary uses the test-world crates (capp-testenv,
//! capp-sim, capp-twin, capp-envtest), and only behind this subcommand.
//!
//! - `stack`: starts and stops the management API, the simulator and the controllers;
//! - `apply`: server-side applies manifests as kubectl does;
//! - `progress`: the live table, the workload kubeconfigs and the "ready" line;
//! - `screen`: stdout, as a redrawn table on a terminal or plain lines otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

mod apply;
mod progress;
mod screen;
mod stack;

use screen::Screen;

/// Flags of `capp-manager dev`.
#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Address of the management API server (HTTPS). Ignored with `--upstream`, whose
    /// kube-apiserver listens on a free loopback port (printed).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen_kube: SocketAddr,
    /// Address of the Equinix Metal API simulator (HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen_metal: SocketAddr,
    /// Where the kubeconfigs and the log go (`DIR/kubeconfig`, `DIR/<namespace>-<cluster>.kubeconfig`,
    /// `DIR/dev.log`). Default: `capp-dev` in the system's temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// A manifest to apply once everything runs (server-side apply, as `kubectl apply
    /// --server-side`); repeatable. Progress is shown until every Machine is Running and
    /// each workload cluster lists its Nodes.
    #[arg(long, value_name = "FILE")]
    apply: Vec<PathBuf>,
    /// Use the real kube-apiserver, etcd and Cluster API managers in DIR (built by
    /// `upstream/build`, e.g. ~/.cache/capp-upstream/bin) instead of the embedded API server
    /// and the Cluster API core emulation.
    #[arg(long, value_name = "DIR")]
    upstream: Option<PathBuf>,
    /// Seconds a simulated server takes from create to `active` (the controllers' requeue
    /// periods are compressed to match).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=600))]
    provision_seconds: u64,
    /// Log verbosity of `DIR/dev.log`: -v debug, -vv trace (RUST_LOG overrides).
    #[arg(short, action = clap::ArgAction::Count)]
    v: u8,
}

/// How often the progress is refreshed and workload kubeconfigs are looked for.
const REFRESH: Duration = Duration::from_millis(500);

impl DevArgs {
    /// Runs dev mode until SIGINT or SIGTERM; everything started is stopped before returning.
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("capp-dev"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create --dir {}", dir.display()))?;
        let log_path = dir.join("dev.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot write the log {}", log_path.display()))?;
        crate::init_logging(
            crate::LogFormat::Text,
            self.v,
            std::sync::Mutex::new(log),
            false,
        );
        // Read the manifests before starting anything: a wrong path is a one-line error.
        let manifests = apply::read_manifests(&self.apply)?;

        let mut screen = Screen::new();
        let settings = stack::Settings {
            listen_kube: self.listen_kube,
            listen_metal: self.listen_metal,
            upstream: self.upstream.clone(),
            provision_seconds: self.provision_seconds,
            dir: dir.clone(),
        };
        screen.line(if settings.upstream.is_some() {
            "Starting kube-apiserver, etcd and the Cluster API managers (a minute on a busy machine)"
        } else {
            "Starting the API server, Cluster API core (emulated), the Equinix Metal simulator and the controllers"
        });
        let stack = stack::Stack::start(settings).await?;
        stack.print_usage(&mut screen, &log_path);

        let shutdown = crate::shutdown_signal();
        tokio::pin!(shutdown);
        let outcome = tokio::select! {
            result = run_until_shutdown(&stack, &manifests, &dir, &mut screen) => result,
            () = &mut shutdown => Ok(()),
        };
        screen.line("Shutting down");
        stack.shutdown().await;
        screen.line("Stopped");
        outcome
    }
}

/// Applies the manifests, then follows every cluster until the shutdown signal.
async fn run_until_shutdown(
    stack: &stack::Stack,
    manifests: &[apply::Manifest],
    dir: &std::path::Path,
    screen: &mut Screen,
) -> anyhow::Result<()> {
    let client = stack.client();
    let mut watched = Vec::new();
    for manifest in manifests {
        for applied in apply::apply(&client, manifest).await? {
            screen.line(&applied.to_string());
            if applied.is_cluster() {
                watched.push(applied.key());
            }
        }
    }
    if watched.is_empty() {
        screen.line("Serving until Ctrl-C");
    }
    let mut progress = progress::Progress::new(client, dir.to_owned(), watched);
    let mut announced_ready = false;
    let mut tick = tokio::time::interval(REFRESH);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let report = progress.refresh().await;
        for message in &report.messages {
            screen.line(message);
        }
        screen.table(&report.table, &report.changed_rows);
        if report.all_ready && !announced_ready {
            announced_ready = true;
            screen.clear_table();
            for line in &report.ready_lines {
                screen.line(line);
            }
            screen.line("Serving until Ctrl-C");
        }
    }
}

/// Writes a file only its owner can read (kubeconfigs hold client keys).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}
