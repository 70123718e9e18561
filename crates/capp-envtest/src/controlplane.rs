//! etcd + kube-apiserver (+ kube-controller-manager) with flags as controller-runtime's envtest
//! passes them (`pkg/internal/testing/controlplane`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use capp_pki::secrecy::ExposeSecret as _;
use capp_pki::{
    CaOptions, CertificateAuthority, IssuedCertificate, KeyAlgorithm, Kubeconfig, LeafSpec,
    ServiceAccountKey,
};

use crate::binaries::Binaries;
use crate::process::{Process, free_port};
use crate::workdir::WorkDir;
use crate::{Error, Result};

/// The admin user's name; its certificate carries the group `system:masters`.
pub const ADMIN_USER: &str = "capp-envtest-admin";

/// How to start a [`ControlPlane`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ControlPlaneOptions {
    /// Also run kube-controller-manager with only the garbage-collector and namespace
    /// controllers (owner-reference cascading deletion, namespace finalization). Default: on.
    pub controller_manager: bool,
    /// How long to wait for each process to become ready. Default: 180 s (a loaded 2-core
    /// machine starts kube-apiserver in 10-60 s).
    pub ready_timeout: Duration,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        Self {
            controller_manager: true,
            ready_timeout: Duration::from_secs(180),
        }
    }
}

impl ControlPlaneOptions {
    /// Whether to run kube-controller-manager.
    #[must_use]
    pub fn with_controller_manager(mut self, on: bool) -> Self {
        self.controller_manager = on;
        self
    }
}

/// A running etcd + kube-apiserver (+ kube-controller-manager) on loopback ports.
/// Stopped by [`ControlPlane::shutdown`] or on drop.
pub struct ControlPlane {
    /// Started in order etcd, kube-apiserver, kube-controller-manager; stopped in reverse.
    processes: Vec<Process>,
    ca: CertificateAuthority,
    url: String,
    kubeconfig: PathBuf,
    client: kube::Client,
    dir: WorkDir,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("url", &self.url)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn now() -> capp_pki::jiff::Timestamp {
    capp_pki::jiff::Timestamp::now()
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver (and kube-controller-manager unless disabled) and waits
    /// until `/readyz` answers `ok`.
    pub async fn start(bins: &Binaries, options: ControlPlaneOptions) -> Result<Self> {
        let dir = WorkDir::create("capp-envtest")?;
        let mut rng = rand::rng();
        let ca =
            CertificateAuthority::generate(&CaOptions::new("capp-envtest-ca"), now(), &mut rng)
                .map_err(Error::Pki)?;
        let serving = ca
            .issue(
                &LeafSpec::server("kube-apiserver")
                    .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    .with_dns_name("localhost"),
                now(),
                &mut rng,
            )
            .map_err(Error::Pki)?;
        let sa = ServiceAccountKey::generate(KeyAlgorithm::default()).map_err(Error::Pki)?;
        let ca_file = dir.write("pki/ca.crt", ca.cert_pem())?;
        let tls_cert = dir.write("pki/apiserver.crt", serving.cert_pem())?;
        let tls_key = dir.write("pki/apiserver.key", serving.key_pem().expose_secret())?;
        let sa_pub = dir.write("pki/sa.pub", &sa.public_key_pem())?;
        let sa_key = dir.write("pki/sa.key", sa.private_key_pem().expose_secret())?;

        let (etcd, etcd_url) = start_etcd(bins, &dir, options.ready_timeout).await?;
        let mut processes = vec![etcd];

        let port = free_port()?;
        let url = format!("https://127.0.0.1:{port}");
        let apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            format!("--cert-dir={}", dir.path().join("apiserver").display()),
            format!("--tls-cert-file={}", tls_cert.display()),
            format!("--tls-private-key-file={}", tls_key.display()),
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
            "--allow-privileged=true".to_owned(),
            "--disable-admission-plugins=ServiceAccount".to_owned(),
            "--authorization-mode=RBAC".to_owned(),
            format!("--client-ca-file={}", ca_file.display()),
            format!("--service-account-issuer={url}/"),
            format!("--service-account-key-file={}", sa_pub.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
        ];
        processes.push(Process::spawn(
            "kube-apiserver",
            &bins.path("kube-apiserver"),
            &apiserver_args,
            dir.path(),
        )?);

        let admin = issue_client(&ca, ADMIN_USER, Some("system:masters"))?;
        let kubeconfig = write_kubeconfig(&dir, "admin", &url, &ca, &admin)?;
        let client = client_from_kubeconfig(&kubeconfig).await?;
        wait_readyz(&client, &mut processes[1], options.ready_timeout).await?;

        if options.controller_manager {
            let kcm_args = vec![
                format!("--kubeconfig={}", kubeconfig.display()),
                "--controllers=garbagecollector,namespace".to_owned(),
                "--leader-elect=false".to_owned(),
                format!("--secure-port={}", free_port()?),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--cert-dir={}", dir.path().join("kcm").display()),
            ];
            processes.push(Process::spawn(
                "kube-controller-manager",
                &bins.path("kube-controller-manager"),
                &kcm_args,
                dir.path(),
            )?);
        }
        Ok(Self {
            processes,
            ca,
            url,
            kubeconfig,
            client,
            dir,
        })
    }

    /// The API server's URL (`https://127.0.0.1:<port>`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA (PEM) that signed the serving certificate and every client certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The admin kubeconfig (user [`ADMIN_USER`] in `system:masters`), for `kubectl
    /// --kubeconfig` and the CAPI managers.
    #[must_use]
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The admin kubeconfig's YAML (it holds the admin key).
    pub fn kubeconfig_yaml(&self) -> Result<String> {
        std::fs::read_to_string(&self.kubeconfig)
            .map_err(|source| crate::workdir::io(&self.kubeconfig, source))
    }

    /// A `kube::Client` authenticated as the admin.
    #[must_use]
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The temporary directory holding the PKI, etcd's data and the process logs.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a kubeconfig for `user` (client certificate, CN = user, O = `group`) and returns
    /// its path. The certificate carries at most one group (see `capp_pki::LeafSpec`).
    pub fn kubeconfig_for(&self, user: &str, group: Option<&str>) -> Result<PathBuf> {
        let cert = issue_client(&self.ca, user, group)?;
        let safe: String = user
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        write_kubeconfig(&self.dir, &safe, &self.url, &self.ca, &cert)
    }

    /// Writes a kubeconfig that authenticates with a bearer `token` (for example a
    /// ServiceAccount token from the TokenRequest API, `kubectl create token`) and returns its
    /// path; `name` names the file and the kubeconfig's user entry.
    pub fn kubeconfig_with_token(&self, name: &str, token: &str) -> Result<PathBuf> {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let yaml = Kubeconfig::with_token(
            "capp-envtest",
            &safe,
            &self.url,
            self.ca.certificate(),
            capp_pki::SecretValue::new(token.to_owned()),
        )
        .to_yaml()
        .map_err(Error::Pki)?;
        self.dir
            .write(&format!("kubeconfig-token-{safe}"), yaml.expose())
    }

    /// A `kube::Client` authenticated as `user` (in `group`, if given) by client certificate.
    pub async fn client_for(&self, user: &str, group: Option<&str>) -> Result<kube::Client> {
        client_from_kubeconfig(&self.kubeconfig_for(user, group)?).await
    }

    /// Whether every process is still running; names the first one that exited.
    pub fn check_running(&mut self) -> Result<()> {
        for p in &mut self.processes {
            if p.exited().is_some() {
                return Err(p.not_ready("running"));
            }
        }
        Ok(())
    }

    /// Stops every process (kube-controller-manager, kube-apiserver, then etcd) and removes
    /// the temporary directory (kept when the current thread is panicking).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        while let Some(mut p) = self.processes.pop() {
            tracing::debug!(name = p.name(), "stopping");
            p.stop();
        }
    }
}

fn issue_client(
    ca: &CertificateAuthority,
    user: &str,
    group: Option<&str>,
) -> Result<IssuedCertificate> {
    let mut spec = LeafSpec::client(user);
    if let Some(group) = group {
        spec = spec.with_organization(group);
    }
    ca.issue(&spec, now(), &mut rand::rng()).map_err(Error::Pki)
}

fn write_kubeconfig(
    dir: &WorkDir,
    name: &str,
    url: &str,
    ca: &CertificateAuthority,
    cert: &IssuedCertificate,
) -> Result<PathBuf> {
    let user = cert.certificate.common_name().unwrap_or(name).to_owned();
    let yaml =
        Kubeconfig::with_client_certificate("capp-envtest", &user, url, ca.certificate(), cert)
            .to_yaml()
            .map_err(Error::Pki)?;
    dir.write(&format!("kubeconfig-{name}"), yaml.expose())
}

/// A client from a kubeconfig file.
pub(crate) async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| Error::Kubeconfig(format!("{}: {e}", path.display())))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| Error::Kubeconfig(e.to_string()))
}

/// Polls `GET /readyz` until it answers `ok`.
async fn wait_readyz(
    client: &kube::Client,
    process: &mut Process,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        let last = match client.request_text(request).await {
            Ok(body) if body.trim() == "ok" => return Ok(()),
            Ok(body) => body,
            Err(e) => e.to_string(),
        };
        if process.exited().is_some() || Instant::now() > deadline {
            return Err(process.not_ready(&format!("GET /readyz: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts etcd with envtest's flags and waits until its client port accepts connections.
async fn start_etcd(
    bins: &Binaries,
    dir: &WorkDir,
    timeout: Duration,
) -> Result<(Process, String)> {
    let etcd_port = free_port()?;
    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{}", free_port()?);
    let etcd_args = vec![
        format!("--data-dir={}", dir.path().join("etcd").display()),
        format!("--listen-client-urls={etcd_url}"),
        format!("--advertise-client-urls={etcd_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=default={peer_url}"),
        "--unsafe-no-fsync=true".to_owned(),
    ];
    let mut etcd = Process::spawn("etcd", &bins.path("etcd"), &etcd_args, dir.path())?;
    let etcd_deadline = Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", etcd_port))
        .await
        .is_err()
    {
        if Instant::now() > etcd_deadline || etcd.exited().is_some() {
            return Err(etcd.not_ready("listening on its client port"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    Ok((etcd, etcd_url))
}
