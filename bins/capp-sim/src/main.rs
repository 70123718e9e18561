//! Runs the capp Equinix Metal API simulator until Ctrl-C.
//!
//! ```text
//! capp-sim --listen 127.0.0.1:8080 --token T --provision-seconds 10 --seed 7 --fault-rate 0.05 --rate-limit 20
//! capp-sim --kubeadm-twin   # servers also boot the Kubernetes side of their userdata
//! ```
//!
//! On start it prints the base URL, the token and the project id, one `key: value` per line,
//! so scripts can read them (and `control_url` when `--control-token` turns the control
//! surface on: a kill test steers the running process through it).

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use capp_sim::{
    DEFAULT_CREATE_LIMIT, DEFAULT_PROJECT_ID, DEFAULT_TOKEN, FaultConfig, FaultRule, SimConfig,
    Simulator, Timings,
};
use clap::Parser;

/// How often the lifecycle is advanced when the twin runs (a device boots at most this late).
const TWIN_TICK: Duration = Duration::from_millis(500);

/// An Equinix Metal API simulator: point any Metal client at the printed base URL.
#[derive(Parser)]
#[command(
    name = "capp-sim",
    version,
    about = "An Equinix Metal API simulator: point any Metal client at the printed base URL",
    long_about = None,
    after_help = "On start it prints `base_url`, `token`, `project_id` and the metadata URL \
        pattern on stdout, one `key: value` per line, then serves until Ctrl-C.\n\
        With --control-token it also prints `control_url`: the control surface (state \
        snapshot, fail/stick a device, capacity, faults, clock) for Authorization: Bearer \
        <control token>; see docs/simulator.md.\n\
        Example: curl -H 'X-Auth-Token: <token>' <base_url>/projects/<project_id>/devices\n\
        Request logs go to stderr with RUST_LOG=capp_sim=debug."
)]
struct Args {
    /// Address and port to listen on (use port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// API token clients must send as `X-Auth-Token`.
    #[arg(long, env = "CAPP_SIM_TOKEN", hide_env_values = true, default_value = DEFAULT_TOKEN)]
    token: String,

    /// Seconds from device creation to `active` (10 % queued, 90 % provisioning); deletion
    /// takes a quarter of it. 0 makes devices active at the first read.
    #[arg(long, default_value_t = 10)]
    provision_seconds: u64,

    /// Seed of every random choice (ids, addresses, fault draws): same seed, same run.
    #[arg(long, default_value_t = 0x00c0_ffee)]
    seed: u64,

    /// Fraction of API requests (0.0 to 1.0) answered with a server error (500/502/503/504).
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    fault_rate: f64,

    /// Fraction of API requests (0.0 to 1.0) whose connection is dropped without a response.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    drop_rate: f64,

    /// Extra latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,

    /// Maximum API requests per second; requests above it answer 429 with `X-RateLimit-*`
    /// headers. Unlimited when absent.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,

    /// Add `Retry-After` to 429s. By default they say when to come back only through
    /// `X-RateLimit-Reset`, as the real API did.
    #[arg(long)]
    send_retry_after: bool,

    /// Fraction of new devices (0.0 to 1.0) whose provisioning fails.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    provisioning_failure_rate: f64,

    /// Id (a UUID) of the project the token can see.
    #[arg(long, default_value = DEFAULT_PROJECT_ID, value_parser = uuid)]
    project_id: String,

    /// Turn on the control surface under `/_sim/v1`, for `Authorization: Bearer <this>`.
    /// Must differ from `--token`. Off when absent.
    #[arg(long, env = "CAPP_SIM_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,

    /// Simulated seconds per wall second (10 makes a 10-second provisioning take one).
    #[arg(long, default_value_t = 1.0, value_parser = scale)]
    clock_scale: f64,

    /// Devices a project may have queued or provisioning at once; one more create answers
    /// 429. 0 means no limit.
    #[arg(long, default_value_t = DEFAULT_CREATE_LIMIT)]
    create_limit: u32,

    /// A public key (`ssh-ed25519 AAAA... comment`) to add to the project. A project starts
    /// without keys, and then a create needs `ssh_keys` or `no_ssh_keys`. Repeatable.
    #[arg(long = "ssh-key", value_name = "PUBLIC_KEY")]
    ssh_keys: Vec<String>,

    /// Servers of a plan in a metro, as `METRO/PLAN=N` (e.g. `da/c3.small.x86=2`; 0 makes
    /// every create there fail for capacity). Repeatable.
    #[arg(long, value_name = "METRO/PLAN=N", value_parser = capacity)]
    capacity: Vec<(String, String, u32)>,

    /// A one-shot fault, as `FAULT[@OPERATION][*TIMES]`: e.g. `lost@createDevice` (the next
    /// create takes effect, then the connection is cut). Faults: drop, truncate, lost, hang,
    /// garbage, rate-limited, no-capacity, status:<code>, latency-ms:<n>. Repeatable.
    #[arg(long, value_name = "RULE", value_parser = fault_rule)]
    inject: Vec<FaultRule>,

    /// The provisioning of the next N created devices fails.
    #[arg(long, default_value_t = 0)]
    fail_next_provisioning: u32,

    /// The next N created devices stay in `provisioning` forever.
    #[arg(long, default_value_t = 0)]
    stick_next_provisioning: u32,

    /// Run the workload-cluster twin: device addresses and Elastic IPs come from loopback
    /// space (127.0.0.0/8), and devices whose cloud-config runs `kubeadm init` or `kubeadm
    /// join` become Nodes of workload API servers served on their control-plane endpoints
    /// (see docs/simulator.md, "Workload-cluster twin").
    #[arg(long)]
    kubeadm_twin: bool,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("listen", &self.listen)
            .field("token", &"[REDACTED]")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

fn fraction(raw: &str) -> Result<f64, String> {
    let value: f64 = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not a number; use a fraction such as 0.05"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is outside 0.0..=1.0; use a fraction such as 0.05"
        ))
    }
}

fn scale(raw: &str) -> Result<f64, String> {
    let value: f64 = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not a number; use a pace such as 10"))?;
    if value.is_finite() && (0.0..=1_000_000.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is outside 0..=1000000; use a pace such as 10 (1 is wall time)"
        ))
    }
}

fn capacity(raw: &str) -> Result<(String, String, u32), String> {
    let usage = || format!("{raw:?} is not METRO/PLAN=N; write e.g. da/c3.small.x86=2");
    let (place, servers) = raw.split_once('=').ok_or_else(usage)?;
    let (metro, plan) = place.split_once('/').ok_or_else(usage)?;
    let servers = servers.parse().map_err(|_| usage())?;
    Ok((metro.to_owned(), plan.to_owned(), servers))
}

fn fault_rule(raw: &str) -> Result<FaultRule, String> {
    raw.parse()
}

fn uuid(raw: &str) -> Result<String, String> {
    if capp_sim::is_uuid(raw) {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a UUID; use the form {DEFAULT_PROJECT_ID}"
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    run(Args::parse()).await
}

async fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        listen,
        token,
        provision_seconds,
        seed,
        fault_rate,
        drop_rate,
        latency_ms,
        rate_limit,
        send_retry_after,
        provisioning_failure_rate,
        project_id,
        control_token,
        clock_scale,
        create_limit,
        ssh_keys,
        capacity,
        inject,
        fail_next_provisioning,
        stick_next_provisioning,
        kubeadm_twin,
    } = args;
    let mut config = SimConfig::default()
        .with_listen(listen)
        .with_token(token)
        .with_project_id(project_id)
        .with_seed(seed)
        .with_loopback_addresses(kubeadm_twin)
        .with_timings(Timings::from_provision_seconds(provision_seconds))
        .with_clock_scale(clock_scale)
        .with_create_limit(Some(create_limit).filter(|n| *n > 0))
        .with_faults(FaultConfig {
            latency: Duration::from_millis(latency_ms),
            server_error_rate: fault_rate,
            drop_rate,
            rate_limit,
            send_retry_after,
            provisioning_failure_rate,
            ..FaultConfig::default()
        });
    config.control_token = control_token;
    let sim = Simulator::start(config)
        .await
        .context("cannot start the simulator")?;
    for (n, key) in ssh_keys.iter().enumerate() {
        sim.add_project_ssh_key(&format!("capp-sim --ssh-key {}", n + 1), key)
            .with_context(|| format!("--ssh-key number {} is refused", n + 1))?;
    }
    for (metro, plan, servers) in &capacity {
        sim.try_set_capacity(metro, plan, *servers)
            .with_context(|| format!("--capacity {metro}/{plan}={servers} is refused"))?;
    }
    for rule in inject {
        sim.faults().inject_rule(rule);
    }
    sim.faults().fail_next_provisioning(fail_next_provisioning);
    sim.faults()
        .stick_next_provisioning(stick_next_provisioning);
    print_endpoints(&sim)?;
    let twin = kubeadm_twin.then(|| capp_twin::Twin::start(&sim));
    if twin.is_some() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "kubeadm_twin: on (device addresses in 127.0.0.0/8)")?;
        out.flush()?;
    }
    serve_until_ctrl_c(&sim, twin.is_some()).await?;
    if let Some(twin) = twin {
        twin.shutdown().await;
    }
    sim.shutdown().await;
    Ok(())
}

/// Prints where the simulator listens and with which token (its stdout contract).
fn print_endpoints(sim: &Simulator) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "capp-sim listening")?;
    writeln!(out, "base_url: {}", sim.base_url())?;
    writeln!(out, "token: {}", sim.token())?;
    writeln!(out, "project_id: {}", sim.default_project_id())?;
    writeln!(
        out,
        "metadata: {}/metadata",
        sim.metadata_url("<device_id>")
    )?;
    if let Some(url) = sim.control_url() {
        writeln!(out, "control_url: {url}")?;
    }
    out.flush()?;
    Ok(())
}

/// Serves until Ctrl-C; with the twin on, also advances the lifecycle every [`TWIN_TICK`].
async fn serve_until_ctrl_c(sim: &Simulator, twin: bool) -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tick = tokio::time::interval(TWIN_TICK);
    loop {
        tokio::select! {
            result = &mut ctrl_c => {
                result.context("cannot listen for Ctrl-C")?;
                break;
            }
            // The simulator's lifecycle advances lazily; with the twin on, devices must boot
            // (and be deleted) on time even when no client is polling them.
            _ = tick.tick(), if twin => {
                let _ = sim.devices();
            }
        }
    }
    Ok(())
}
