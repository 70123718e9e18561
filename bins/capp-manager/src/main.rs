//! `capp-manager`: the Cluster API infrastructure provider for Equinix Metal.
//!
//! Thin on purpose: flags (named as CAPI providers name them), then the Kubernetes and
//! Equinix Metal clients, then [`capp_reconcile::manager::run`]. A missing token or an
//! unreachable API server is one line on stderr and exit code 1.
//!
//! `capp-manager dev` (module `dev`) is the one-command try-out: a management API server,
//! the Cluster API core emulation, the Metal simulator with its workload-cluster twin and
//! these controllers, in one process.

mod dev;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use capp_packet::{ClientConfig, Metal, MetalClient};
use capp_reconcile::core::CoreApi;
use capp_reconcile::infra::InfraApi;
use capp_reconcile::manager::ManagerOptions;
use capp_reconcile::metrics::Metrics;
use capp_reconcile::{Accounts, Config, Context, MetalFactory};
use clap::{Parser, Subcommand, ValueEnum};

/// Environment variable holding the Equinix Metal API token (the Go provider's name).
const TOKEN_ENV: &str = "PACKET_API_KEY";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Cluster API infrastructure provider for Equinix Metal.
#[derive(Debug, Parser)]
#[command(name = "capp-manager", version, args_conflicts_with_subcommands = true)]
struct Args {
    /// Run something other than the manager.
    #[command(subcommand)]
    command: Option<Command>,
    /// Path to a kubeconfig; default: in-cluster configuration, else $KUBECONFIG / ~/.kube/config.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Equinix Metal API base URL.
    #[arg(long, default_value = capp_packet::DEFAULT_BASE_URL)]
    metal_api_url: String,
    /// File holding the Equinix Metal API token (alternative to the PACKET_API_KEY variable).
    #[arg(long)]
    packet_api_key_file: Option<PathBuf>,
    /// Hold a Lease before reconciling, so only one replica acts at a time.
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the leader election Lease (default: the pod's namespace, else `default`).
    #[arg(long)]
    leader_election_namespace: Option<String>,
    /// Address of the Prometheus `/metrics` endpoint; `0` disables it.
    #[arg(long, default_value = ":8080")]
    metrics_bind_address: String,
    /// Address of the `/healthz` and `/readyz` endpoints; `0` disables them.
    #[arg(long, default_value = ":9440")]
    health_probe_bind_address: String,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long)]
    namespace: Option<String>,
    /// Reconcile only objects labelled `cluster.x-k8s.io/watch-filter=<value>`.
    #[arg(long)]
    watch_filter: Option<String>,
    /// Concurrent PacketCluster reconciles.
    #[arg(long, default_value_t = 10)]
    packetcluster_concurrency: u16,
    /// Concurrent PacketMachine reconciles.
    #[arg(long, default_value_t = 10)]
    packetmachine_concurrency: u16,
    /// Resync period of every object (Go duration: `10m`, `90s`, `1h30m`).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    sync_period: Duration,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Verbosity: -v debug, -vv trace.
    #[arg(short, action = clap::ArgAction::Count)]
    v: u8,
    /// Render `{{ .apiKey }}` in Go-provider bootstrap data as the Metal API token (the token
    /// then lands in control-plane userdata; off by default).
    #[arg(long)]
    metal_api_key_in_userdata: bool,
    /// Run the built-in kubeadm bootstrap provider (PacketKubeadmConfig) in this manager;
    /// needs its CRDs installed.
    #[arg(long)]
    kubeadm_bootstrap: bool,
    /// `<namespace>/<name>` of a ConfigMap whose `machine_configs.yaml` key replaces the
    /// built-in machine-config matrix of the bootstrap provider.
    #[arg(long, value_parser = capp_reconcile::bootstrap::MatrixSource::from_flag)]
    bootstrap_matrix_configmap: Option<capp_reconcile::bootstrap::MatrixSource>,
    /// Lifetime of the bootstrap tokens the bootstrap provider mints (refreshed at half of it).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    bootstrap_token_ttl: Duration,
    /// Port of the conversion webhook (HTTPS, `POST /convert`); `0` disables it.
    #[arg(long, default_value_t = capp_reconcile::webhook::DEFAULT_PORT)]
    webhook_port: u16,
    /// Directory holding the webhook's serving certificate (`tls.crt`, `tls.key`: the
    /// mounted cert-manager Secret); re-read when it changes.
    #[arg(long, default_value = capp_reconcile::webhook::DEFAULT_CERT_DIR)]
    webhook_cert_dir: PathBuf,
    /// Compresses every requeue period and backoff by this factor (benchmarks against a
    /// simulator whose device timeline is compressed the same way).
    #[arg(long, hide = true, default_value_t = 1.0)]
    time_scale: f64,
}

/// Subcommands; without one, `capp-manager` runs the controllers.
#[derive(Debug, Subcommand)]
enum Command {
    /// Try capp in one command: an API server, Cluster API core (emulated), the Equinix Metal
    /// simulator with nodes that join, and these controllers, all in this process.
    Dev(dev::DevArgs),
}

/// A Go-style duration (`10m`, `90s`, `1h30m`, `500ms`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration; write e.g. 10m or 90s".to_owned());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}; write e.g. 10m or 90s"))?;
        let part = match unit {
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            _ => {
                return Err(format!(
                    "invalid unit {unit:?} in {text:?}; use h, m, s or ms"
                ));
            }
        };
        total = total.saturating_add(part);
        rest = next;
    }
    Ok(total)
}

/// `:8080` or `host:port`; `0` disables.
fn parse_address(flag: &str, text: &str) -> anyhow::Result<Option<SocketAddr>> {
    if text == "0" || text.is_empty() {
        return Ok(None);
    }
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse()
        .map(Some)
        .with_context(|| format!("--{flag} {text:?} is not host:port or :port"))
}

fn read_token(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --packet-api-key-file {}", path.display()))?,
        None => std::env::var(TOKEN_ENV).unwrap_or_default(),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("no Equinix Metal API token: set {TOKEN_ENV} or --packet-api-key-file");
    }
    Ok(token)
}

/// Longest silence on a Kubernetes connection: past a watch's server-side timeout (kube's
/// watcher asks for 290 s), so only a dead exchange hits it. kube sets no read timeout by
/// default, and a request that never answers would otherwise wait forever.
const KUBE_READ_TIMEOUT: Duration = Duration::from_secs(295);

async fn kube_client(path: Option<&PathBuf>) -> anyhow::Result<kube::Client> {
    let mut config = match path {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read --kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .with_context(|| format!("invalid --kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no Kubernetes configuration (in-cluster, $KUBECONFIG or ~/.kube/config)")?,
    };
    config.read_timeout.get_or_insert(KUBE_READ_TIMEOUT);
    kube::Client::try_from(config).context("cannot build the Kubernetes client")
}

/// The controllers' context: Metal clients for `token` (and per-cluster tokens) at
/// `metal_api_url`, metrics fed by the client's statistics.
fn controllers_context(
    client: kube::Client,
    core: CoreApi,
    infra: InfraApi,
    token: String,
    metal_api_url: String,
    config: Config,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Arc<Context>> {
    let metal =
        MetalClient::new(ClientConfig::new(token.clone()).with_base_url(metal_api_url.clone()))
            .context("invalid --metal-api-url")?;
    let stats = metal.clone();
    metrics.set_stats_source(Arc::new(move || stats.stats()));
    let factory: MetalFactory = Arc::new(move |token: &str| {
        Ok(Arc::new(MetalClient::new(
            ClientConfig::new(token).with_base_url(metal_api_url.clone()),
        )?) as Arc<dyn Metal>)
    });
    Ok(Arc::new(
        Context::new(
            client,
            Accounts::new(Arc::new(metal), factory),
            Some(token),
            core,
            config,
            metrics,
        )
        .with_infra(infra),
    ))
}

impl Args {
    async fn run(self) -> anyhow::Result<()> {
        let Self {
            command,
            kubeconfig,
            metal_api_url,
            packet_api_key_file,
            leader_elect,
            leader_election_namespace,
            metrics_bind_address,
            health_probe_bind_address,
            namespace,
            watch_filter,
            packetcluster_concurrency,
            packetmachine_concurrency,
            sync_period,
            log_format,
            v,
            metal_api_key_in_userdata,
            kubeadm_bootstrap,
            bootstrap_matrix_configmap,
            bootstrap_token_ttl,
            webhook_port,
            webhook_cert_dir,
            time_scale,
        } = self;
        if let Some(Command::Dev(dev)) = command {
            return dev.run().await;
        }
        init_logging(log_format, v, std::io::stderr, true);
        let token = read_token(packet_api_key_file.as_ref())?;
        let metrics_bind_address = parse_address("metrics-bind-address", &metrics_bind_address)?;
        let health_probe_bind_address =
            parse_address("health-probe-bind-address", &health_probe_bind_address)?;
        let metrics = Arc::new(Metrics::default());
        // The conversion webhook serves before anything else (the API server needs it to
        // read our objects in the other version) and on every replica, leader or not.
        if webhook_port != 0 {
            let options =
                capp_reconcile::webhook::WebhookOptions::new(webhook_port, webhook_cert_dir);
            let server =
                capp_reconcile::webhook::WebhookServer::bind(&options, metrics.clone()).await?;
            tracing::info!(port = webhook_port, "Serving the conversion webhook");
            tokio::spawn(server.run(shutdown_signal()));
        }
        let client = kube_client(kubeconfig.as_ref()).await?;
        let core = CoreApi::discover(&client).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the Kubernetes API server or Cluster API is not installed: {}",
                capp_reconcile::status::message_chain(&e)
            )
        })?;
        tracing::info!(version = %core.version, "Reading Cluster API core objects");
        let infra = InfraApi::discover(&client).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot discover the served versions of PacketCluster and PacketMachine: {}",
                capp_reconcile::status::message_chain(&e)
            )
        })?;
        tracing::info!(version = %infra.version, "Using PacketCluster and PacketMachine");

        let config = Config {
            namespace,
            watch_filter,
            packetcluster_concurrency,
            packetmachine_concurrency,
            sync_period,
            allow_api_key_in_userdata: metal_api_key_in_userdata,
            time_scale,
            ..Config::default()
        };
        let ctx = controllers_context(client, core, infra, token, metal_api_url, config, metrics)?;
        let options = ManagerOptions {
            metrics_bind_address,
            health_probe_bind_address,
            leader_elect,
            leader_election_namespace: leader_election_namespace
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "default".to_owned()),
            identity: std::env::var("POD_NAME")
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| format!("capp-manager-{}", std::process::id())),
        };
        let bootstrap = kubeadm_bootstrap.then(|| capp_reconcile::bootstrap::BootstrapSettings {
            matrix: bootstrap_matrix_configmap.unwrap_or_default(),
            token_ttl: bootstrap_token_ttl,
            ..capp_reconcile::bootstrap::BootstrapSettings::default()
        });
        capp_reconcile::manager::run_with_bootstrap(ctx, options, bootstrap, shutdown_signal())
            .await?;
        Ok(())
    }
}

/// Logs to `writer` (stderr for the manager, a file for `dev`).
fn init_logging<W>(format: LogFormat, verbosity: u8, writer: W, ansi: bool)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let level = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // kube's HTTP layer logs every failed request at ERROR; each failure also reaches its
    // caller, which reports it once (the one-line start-up error, reconcile errors in
    // conditions and logs), so the default filter leaves that layer out. RUST_LOG overrides.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},kube_client::client::builder=off"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = ctrl_c => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("Shutting down");
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match args.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            #[expect(
                clippy::print_stderr,
                reason = "the one-line error of a command-line tool"
            )]
            {
                eprintln!("capp-manager: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn bind_addresses_accept_port_only_and_zero() {
        assert_eq!(
            parse_address("x", ":8080").unwrap(),
            Some("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(parse_address("x", "0").unwrap(), None);
        assert!(parse_address("x", "nope").is_err());
    }

    #[test]
    fn the_flags_are_named_as_capi_providers_name_them() {
        let args = Args::try_parse_from([
            "capp-manager",
            "--leader-elect",
            "--leader-election-namespace=capp-system",
            "--metrics-bind-address=:8443",
            "--health-probe-bind-address=:9440",
            "--namespace=ns",
            "--watch-filter=a",
            "--packetcluster-concurrency=2",
            "--packetmachine-concurrency=20",
            "--sync-period=5m",
            "--log-format=json",
            "-vv",
            "--metal-api-url=http://127.0.0.1:1/metal/v1",
            "--metal-api-key-in-userdata",
        ])
        .unwrap();
        assert!(args.leader_elect && args.metal_api_key_in_userdata);
        assert_eq!(args.sync_period, Duration::from_secs(300));
        assert_eq!(args.v, 2);
    }
}
