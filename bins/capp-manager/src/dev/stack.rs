//! Starting and stopping everything dev mode runs: the management API (embedded capp-testenv
//! with the Cluster API core emulation, or the upstream tier), the CRDs, the Equinix Metal
//! simulator with the workload-cluster twin, and the controllers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use capp_reconcile::Config;
use capp_reconcile::bootstrap::BootstrapSettings;
use capp_reconcile::core::CoreApi;
use capp_reconcile::infra::InfraApi;
use capp_reconcile::manager::ManagerOptions;
use capp_sim::{SimConfig, Simulator, Timings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::screen::Screen;

/// How often the simulator's lifecycle is advanced: its devices progress lazily, and with the
/// twin they must boot (and go away) on time even when nobody polls them.
const SIM_TICK: Duration = Duration::from_millis(250);

/// How often the Cluster API core emulation looks at provider objects and workload Nodes.
const EMULATION_POLL: Duration = Duration::from_millis(500);

/// Provisioning time the controllers' requeue periods are designed for (Equinix Metal
/// on-demand servers: about eight minutes); dev mode compresses them by
/// `provision_seconds / REAL_PROVISIONING`.
const REAL_PROVISIONING: f64 = 480.0;

/// The project SSH key of the simulated project. Like the real API, the simulator refuses a
/// device create when the project has no SSH key; nobody holds this key's private half, and
/// simulated servers take no logins anyway.
const PROJECT_SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvF3v3w8Qq3vQ8R0mZp2cTtJxH0l6q0m8B9nJ2w1Xy2 capp-manager-dev";

/// What [`Stack::start`] needs.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) listen_kube: SocketAddr,
    pub(super) listen_metal: SocketAddr,
    pub(super) upstream: Option<PathBuf>,
    pub(super) provision_seconds: u64,
    pub(super) dir: PathBuf,
}

/// The management cluster: embedded or upstream.
enum Management {
    /// capp-testenv and the Cluster API core emulation.
    Embedded(Box<Embedded>),
    /// kube-apiserver, etcd, kube-controller-manager and the Cluster API managers.
    Upstream(Box<Upstream>),
}

/// The embedded API server and the emulation.
struct Embedded {
    env: capp_testenv::TestEnv,
    core: capp_testenv::capi::CoreEmulation,
}

/// The upstream tier's processes.
struct Upstream {
    control_plane: capp_envtest::ControlPlane,
    capi: capp_envtest::CapiManagers,
}

/// Everything dev mode started.
pub(super) struct Stack {
    management: Management,
    client: kube::Client,
    url: String,
    kubeconfig: PathBuf,
    sim: Arc<Simulator>,
    ticker: JoinHandle<()>,
    twin: capp_twin::Twin,
    manager: JoinHandle<Result<(), capp_reconcile::manager::ManagerError>>,
    stop_manager: oneshot::Sender<()>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("url", &self.url)
            .field("sim", &self.sim)
            .finish_non_exhaustive()
    }
}

impl Stack {
    /// Starts the management API and installs the CRDs (Cluster API core first, then the
    /// infrastructure kinds, then the bootstrap kinds), writes `DIR/kubeconfig`, starts the
    /// simulator with the twin, then the controllers.
    pub(super) async fn start(settings: Settings) -> anyhow::Result<Self> {
        let kubeconfig = settings.dir.join("kubeconfig");
        let (management, client, url) = match &settings.upstream {
            None => start_embedded(settings.listen_kube, &kubeconfig).await?,
            Some(bin_dir) => start_upstream(bin_dir, &kubeconfig).await?,
        };

        let sim = Simulator::start(
            SimConfig::default()
                .with_listen(settings.listen_metal)
                .with_loopback_addresses(true)
                .with_timings(Timings::from_provision_seconds(settings.provision_seconds)),
        )
        .await
        .with_context(|| {
            format!(
                "cannot start the Equinix Metal simulator on --listen-metal {}",
                settings.listen_metal
            )
        })?;
        sim.add_project_ssh_key("capp-manager dev", PROJECT_SSH_KEY)
            .context("the simulator refused the project SSH key")?;
        let sim = Arc::new(sim);
        let twin = capp_twin::Twin::start(&sim);
        let ticker = tokio::spawn({
            let sim = sim.clone();
            async move {
                let mut tick = tokio::time::interval(SIM_TICK);
                loop {
                    tick.tick().await;
                    let _ = sim.devices();
                }
            }
        });

        let core = CoreApi::discover(&client).await.map_err(|e| {
            anyhow::anyhow!(
                "Cluster API is not served by the management API: {}",
                capp_reconcile::status::message_chain(&e)
            )
        })?;
        #[expect(
            clippy::cast_precision_loss,
            reason = "provision_seconds is at most 600"
        )]
        let time_scale = (settings.provision_seconds as f64 / REAL_PROVISIONING).clamp(0.001, 1.0);
        let config = Config {
            time_scale,
            ..Config::default()
        };
        let infra = InfraApi::discover(&client).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot discover the served versions of PacketCluster and PacketMachine: {}",
                capp_reconcile::status::message_chain(&e)
            )
        })?;
        let ctx = crate::controllers_context(
            client.clone(),
            core,
            infra,
            sim.token().to_owned(),
            sim.base_url(),
            config,
            Arc::default(),
        )?;
        let options = ManagerOptions {
            metrics_bind_address: None,
            health_probe_bind_address: None,
            leader_elect: false,
            leader_election_namespace: "default".to_owned(),
            identity: "capp-manager-dev".to_owned(),
        };
        let (stop_manager, stopped) = oneshot::channel();
        let manager = tokio::spawn(capp_reconcile::manager::run_with_bootstrap(
            ctx,
            options,
            Some(BootstrapSettings::default()),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            management,
            client,
            url,
            kubeconfig,
            sim,
            ticker,
            twin,
            manager,
            stop_manager,
        })
    }

    /// An admin client of the management API.
    pub(super) fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Prints where everything listens and how to use it with kubectl.
    pub(super) fn print_usage(&self, screen: &mut Screen, log: &Path) {
        let kind = match &self.management {
            Management::Embedded(_) => {
                "embedded capp-testenv; Cluster API core: emulation (capp_testenv::capi)"
            }
            Management::Upstream(_) => {
                "kube-apiserver + etcd; Cluster API core, kubeadm bootstrap and control-plane managers"
            }
        };
        let kubeconfig = self.kubeconfig.display();
        for line in [
            format!("management cluster: {} ({kind})", self.url),
            format!(
                "equinix metal simulator: {} (token {}, project {}; servers boot as kubeadm nodes)",
                self.sim.base_url(),
                self.sim.token(),
                self.sim.default_project_id()
            ),
            "controllers: PacketCluster, PacketMachine, PacketKubeadmConfig (built-in bootstrap)"
                .to_owned(),
            format!("kubeconfig: {kubeconfig}"),
            format!("log: {}", log.display()),
            String::new(),
            format!("  export KUBECONFIG={kubeconfig}"),
            "  kubectl get clusters,machines,packetmachines".to_owned(),
            String::new(),
        ] {
            screen.line(&line);
        }
    }

    /// Stops the controllers, the twin, the simulator and the management API, in that order.
    pub(super) async fn shutdown(self) {
        let _ = self.stop_manager.send(());
        match self.manager.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "The controllers stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "The controllers' task failed"),
        }
        self.ticker.abort();
        let _ = self.ticker.await;
        self.twin.shutdown().await;
        if let Ok(sim) = Arc::try_unwrap(self.sim) {
            sim.shutdown().await;
        }
        match self.management {
            Management::Embedded(embedded) => {
                let Embedded { env, core } = *embedded;
                core.shutdown().await;
                env.shutdown().await;
            }
            Management::Upstream(upstream) => {
                let Upstream {
                    control_plane,
                    capi,
                } = *upstream;
                drop(capi);
                control_plane.shutdown();
            }
        }
    }
}

/// capp-testenv over HTTPS on `listen`, the CRDs, the emulation and `DIR/kubeconfig`.
async fn start_embedded(
    listen: SocketAddr,
    kubeconfig: &Path,
) -> anyhow::Result<(Management, kube::Client, String)> {
    let env = capp_testenv::TestEnv::start(
        capp_testenv::Config::default()
            .with_tls(true)
            .with_bind_address(listen),
    )
    .await
    .with_context(|| format!("cannot start the API server on --listen-kube {listen}"))?;
    env.install_crds(&capi_types::core_crds())
        .await
        .context("cannot install the Cluster API CRDs")?;
    env.install_crds(&capp_api::crds())
        .await
        .context("cannot install the PacketCluster and PacketMachine CRDs")?;
    env.install_crds(&capp_api::bootstrap::crds())
        .await
        .context("cannot install the PacketKubeadmConfig CRDs")?;
    env.write_kubeconfig(kubeconfig, &capp_testenv::Identity::admin())
        .with_context(|| format!("cannot write {}", kubeconfig.display()))?;
    let client = env.client().context("cannot build the admin client")?;
    let core = capp_testenv::capi::CoreEmulation::start(
        client.clone(),
        capp_testenv::capi::Options::default().with_poll_interval(EMULATION_POLL),
    );
    let url = env.url().to_owned();
    Ok((
        Management::Embedded(Box::new(Embedded { env, core })),
        client,
        url,
    ))
}

/// The upstream tier from `bin_dir`: control plane, Cluster API managers, our CRDs and
/// `DIR/kubeconfig`.
async fn start_upstream(
    bin_dir: &Path,
    kubeconfig: &Path,
) -> anyhow::Result<(Management, kube::Client, String)> {
    let bins = capp_envtest::Binaries::in_dir(bin_dir).with_context(|| {
        format!(
            "--upstream {}: run upstream/build, or point at its bin directory",
            bin_dir.display()
        )
    })?;
    let control_plane =
        capp_envtest::ControlPlane::start(&bins, capp_envtest::ControlPlaneOptions::default())
            .await
            .context("cannot start kube-apiserver and etcd")?;
    let capi = capp_envtest::CapiManagers::start(&control_plane, &bins)
        .await
        .context("cannot start the Cluster API managers")?;
    let ours: Vec<serde_json::Value> = capp_api::crds()
        .into_iter()
        .chain(capp_api::bootstrap::crds())
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .context("cannot serialise our CRDs")?;
    control_plane
        .install_crds(&ours)
        .await
        .context("cannot install our CRDs")?;
    let yaml = control_plane
        .kubeconfig_yaml()
        .context("cannot read the admin kubeconfig")?;
    super::write_private(kubeconfig, yaml.as_bytes())?;
    let client = control_plane.client();
    let url = control_plane.url().to_owned();
    Ok((
        Management::Upstream(Box::new(Upstream {
            control_plane,
            capi,
        })),
        client,
        url,
    ))
}
