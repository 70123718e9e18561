//! The library API: start a server, get clients and kubeconfigs, install CRDs, inspect the
//! store, shut down.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use capp_pki::secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fault::Fault;
use crate::identity::Identity;
use crate::registry::ResourceDef;
use crate::server::Server;
use crate::status::ApiError;
use crate::store::{RvPrecondition, State, WriteOpts, Written};
use crate::tls::Pki;
use crate::{Error, Result, util};

/// How to run the server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Serve HTTPS with a generated CA (default `true`). When `false`, plain HTTP is served
    /// and only bearer tokens authenticate callers.
    pub tls: bool,
    /// Authorize every request through the stored RBAC objects (default `false`). Identities
    /// in `system:masters` (such as [`Identity::admin`]) always pass.
    pub rbac: bool,
    /// How many events the watch history keeps (default 10 000). A watch from a
    /// resourceVersion older than the kept history gets `410 Gone`.
    pub watch_history: usize,
    /// How often watches that set `allowWatchBookmarks=true` get a BOOKMARK (default 1 s).
    pub bookmark_interval: Duration,
    /// Where to listen (default `127.0.0.1:0`, a free port). The serving certificate covers
    /// `127.0.0.1` and `localhost` only; a fixed port suits a long-running dev server.
    pub bind_address: SocketAddr,
    /// Run the garbage collector (and namespace and CRD cleanup) in the background every this
    /// often instead of right after each write (default `None`: synchronously). A real
    /// cluster's collector is asynchronous; a delay lets a test see dependents outlive their
    /// owner for a moment, as controllers do.
    pub gc_delay: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tls: true,
            rbac: false,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(1),
            bind_address: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            gc_delay: None,
        }
    }
}

impl Config {
    /// Collect garbage in the background every `every` (see [`Config::gc_delay`]).
    #[must_use]
    pub fn with_gc_delay(mut self, every: Duration) -> Self {
        self.gc_delay = Some(every);
        self
    }

    /// Serve HTTPS (`true`) or plain HTTP (`false`).
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Enable or disable RBAC enforcement.
    #[must_use]
    pub fn with_rbac(mut self, rbac: bool) -> Self {
        self.rbac = rbac;
        self
    }

    /// Sets the number of events kept for watch replay.
    #[must_use]
    pub fn with_watch_history(mut self, events: usize) -> Self {
        self.watch_history = events;
        self
    }

    /// Sets the listen address (see [`Config::bind_address`]).
    #[must_use]
    pub fn with_bind_address(mut self, address: SocketAddr) -> Self {
        self.bind_address = address;
        self
    }

    /// Sets the BOOKMARK interval.
    #[must_use]
    pub fn with_bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }
}

/// A group/version/resource, to inspect stored objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gvr {
    /// API group (empty for the core group).
    pub group: String,
    /// Version (`v1`, `v1beta1`...).
    pub version: String,
    /// Resource plural (`configmaps`).
    pub resource: String,
}

impl Gvr {
    /// A group/version/resource.
    #[must_use]
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            resource: resource.to_owned(),
        }
    }
}

/// A running in-process Kubernetes API server.
///
/// Dropping it stops the server and removes its temporary directory (kubeconfigs);
/// [`TestEnv::shutdown`] does the same and waits for the accept loop to end.
pub struct TestEnv {
    server: Arc<Server>,
    url: String,
    pki: Option<Pki>,
    dir: PathBuf,
    kubeconfig: PathBuf,
    admin_token: SecretString,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Starts a server (on `127.0.0.1:0` by default) and writes an admin kubeconfig.
    pub async fn start(config: Config) -> Result<Self> {
        let listener = TcpListener::bind(config.bind_address)
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let pki = if config.tls {
            Some(Pki::generate()?)
        } else {
            None
        };
        let scheme = if config.tls { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let dir = std::env::temp_dir().join(format!("capp-testenv-{}", util::random_suffix(12)));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let mut state = State::new(config.watch_history);
        if config.gc_delay.is_some() {
            state.defer_gc();
        }
        let state = Arc::new(tokio::sync::Mutex::new(state));
        if let Some(every) = config.gc_delay {
            tokio::spawn(collect_garbage(state.clone(), every, rx.clone()));
        }
        let server = Arc::new(Server {
            state,
            tokens: Mutex::new(std::collections::HashMap::new()),
            faults: Mutex::new(Vec::new()),
            rbac: config.rbac,
            bookmark_interval: config.bookmark_interval,
            shutdown: rx.clone(),
            address: addr.to_string(),
        });
        let task = tokio::spawn(crate::server::serve(
            listener,
            server.clone(),
            pki.as_ref().map(|p| p.server_config.clone()),
            rx,
        ));
        let admin_token = util::token();
        server
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(admin_token.clone(), Identity::admin());
        let env = Self {
            server,
            url,
            pki,
            kubeconfig: dir.join("kubeconfig"),
            dir,
            admin_token: SecretString::from(admin_token),
            shutdown: tx,
            task: Mutex::new(Some(task)),
        };
        env.write_kubeconfig(&env.kubeconfig, &Identity::admin())?;
        Ok(env)
    }

    /// The server URL (`https://127.0.0.1:<port>`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) clients must trust, when serving HTTPS.
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_ref().map(|p| p.ca.cert_pem())
    }

    /// The admin kubeconfig written at start.
    #[must_use]
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Mints a bearer token for an identity.
    #[must_use]
    pub fn token_for(&self, identity: &Identity) -> SecretString {
        let token = util::token();
        self.server
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone(), identity.clone());
        SecretString::from(token)
    }

    /// Writes a kubeconfig for `identity` to `path`. Over HTTPS users authenticate with a
    /// client certificate (CN = user, O = group) and service accounts with a token; over
    /// HTTP everyone uses a token. Users with more than one group (besides
    /// `system:authenticated`) also get a token, because the certificates issued here carry a
    /// single organisation.
    pub fn write_kubeconfig(&self, path: &Path, identity: &Identity) -> Result<()> {
        let yaml = match &self.pki {
            Some(pki)
                if !identity.is_service_account() && crate::tls::fits_certificate(identity) =>
            {
                let cert = pki.client_certificate(identity)?;
                capp_pki::Kubeconfig::with_client_certificate(
                    "capp-testenv",
                    &identity.username,
                    &self.url,
                    pki.ca.certificate(),
                    &cert,
                )
                .to_yaml()
                .map_err(Error::Pki)?
                .expose()
                .to_owned()
            }
            Some(pki) => {
                let token = self.token_for(identity);
                capp_pki::Kubeconfig::with_token(
                    "capp-testenv",
                    &identity.username,
                    &self.url,
                    pki.ca.certificate(),
                    capp_pki::SecretValue::new(token.expose_secret()),
                )
                .to_yaml()
                .map_err(Error::Pki)?
                .expose()
                .to_owned()
            }
            None => {
                let token = self.token_for(identity);
                let user = &identity.username;
                let v = json!({
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "capp-testenv", "cluster": {"server": self.url}}],
                    "users": [{"name": user, "user": {"token": token.expose_secret()}}],
                    "contexts": [{"name": format!("{user}@capp-testenv"), "context": {"cluster": "capp-testenv", "user": user}}],
                    "current-context": format!("{user}@capp-testenv"),
                });
                serde_saphyr::to_string(&v).map_err(|e| Error::Kubeconfig(Box::new(e)))?
            }
        };
        write_private(path, yaml.as_bytes())
    }

    /// Writes a kubeconfig for `identity` into the server's temporary directory and returns
    /// its path (removed when the server is dropped).
    pub fn kubeconfig_for(&self, identity: &Identity) -> Result<PathBuf> {
        let safe: String = identity
            .username
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = self
            .dir
            .join(format!("kubeconfig-{safe}-{}", util::random_suffix(4)));
        self.write_kubeconfig(&path, identity)?;
        Ok(path)
    }

    /// A `kube::Client` authenticated as the admin.
    pub fn client(&self) -> Result<kube::Client> {
        self.client_with_token(self.admin_token.clone())
    }

    /// A `kube::Client` authenticated (by bearer token) as `identity`.
    pub fn client_for(&self, identity: &Identity) -> Result<kube::Client> {
        self.client_with_token(self.token_for(identity))
    }

    fn client_with_token(&self, token: SecretString) -> Result<kube::Client> {
        let url = self
            .url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::Kubeconfig(Box::new(e)))?;
        let mut config = kube::Config::new(url);
        if let Some(pki) = &self.pki {
            config.root_cert = Some(vec![pki.ca.certificate().der().to_vec()]);
        }
        config.auth_info.token = Some(token);
        kube::Client::try_from(config).map_err(Error::Client)
    }

    /// Installs (creates or replaces) CustomResourceDefinitions and checks they are served.
    /// Accepts `k8s_openapi` `CustomResourceDefinition`s or `serde_json::Value`s.
    pub async fn install_crds<T: Serialize>(&self, crds: &[T]) -> Result<()> {
        let mut state = self.server.state.lock().await;
        let Some(def) = state.find_def("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        else {
            return Err(Error::CrdResourceNotServed);
        };
        let opts = WriteOpts {
            field_manager: "capp-testenv".to_owned(),
            ..WriteOpts::default()
        };
        for crd in crds {
            let v = serde_json::to_value(crd).map_err(Error::Serialize)?;
            let name = v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let stored = create_or_replace(&mut state, &def, "", v, &opts).map_err(|source| {
                Error::CrdRejected {
                    name: name.clone(),
                    source,
                }
            })?;
            let established = stored.object["status"]["conditions"]
                .as_array()
                .is_some_and(|a| {
                    a.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if !established {
                return Err(Error::CrdNotEstablished {
                    name,
                    message: stored.object["status"]["conditions"].to_string(),
                });
            }
        }
        Ok(())
    }

    /// Creates or replaces every object of a (multi-document) YAML manifest as the admin —
    /// CustomResourceDefinitions first, then Namespaces, then the rest in order — and returns
    /// the stored objects. Namespaced objects without a namespace go to `default`.
    pub async fn apply_manifest(&self, yaml: &str) -> Result<Vec<Value>> {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(yaml).map_err(|e| Error::ManifestParse(e.to_string()))?;
        let mut docs: Vec<(usize, Value)> = docs
            .into_iter()
            .enumerate()
            .filter(|(_, d)| d.is_object())
            .collect();
        let rank = |d: &Value| match d["kind"].as_str() {
            Some("CustomResourceDefinition") => 0,
            Some("Namespace") => 1,
            _ => 2,
        };
        docs.sort_by_key(|(i, d)| (rank(d), *i));
        let opts = WriteOpts {
            field_manager: "capp-testenv".to_owned(),
            ..WriteOpts::default()
        };
        let mut state = self.server.state.lock().await;
        let mut out = Vec::new();
        for (index, doc) in docs {
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let rejected = |source: ApiError| Error::ManifestObject {
                index,
                name: name.clone(),
                source,
            };
            let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
            let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
            let def = state.find_def_by_kind(&api_version, &kind).ok_or_else(|| {
                rejected(ApiError::no_route(&format!(
                    "no resource serves {api_version} {kind}"
                )))
            })?;
            let ns = if def.namespaced {
                doc["metadata"]["namespace"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("default")
                    .to_owned()
            } else {
                String::new()
            };
            let written = create_or_replace(&mut state, &def, &ns, doc, &opts).map_err(rejected)?;
            out.push(written.object);
        }
        Ok(out)
    }

    /// A stored object (as served at `gvr`), if it exists.
    pub async fn get_object(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let state = self.server.state.lock().await;
        let def = state.find_def(&gvr.group, &gvr.version, &gvr.resource)?;
        state.get(&def, namespace.unwrap_or_default(), name).ok()
    }

    /// Stored objects of a resource, in one namespace or all.
    pub async fn list_objects(&self, gvr: &Gvr, namespace: Option<&str>) -> Vec<Value> {
        let state = self.server.state.lock().await;
        let Some(def) = state.find_def(&gvr.group, &gvr.version, &gvr.resource) else {
            return Vec::new();
        };
        state
            .list(&def, namespace, &|_| true, None, None, None)
            .map(|p| p.items)
            .unwrap_or_default()
    }

    /// Creates an object directly in the store (as the admin), returning it as stored.
    pub async fn create_object(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        object: Value,
    ) -> Result<Value, ApiError> {
        let mut state = self.server.state.lock().await;
        let def = state
            .find_def(&gvr.group, &gvr.version, &gvr.resource)
            .ok_or_else(|| {
                ApiError::no_route(&format!("{}/{}/{}", gvr.group, gvr.version, gvr.resource))
            })?;
        let opts = WriteOpts {
            field_manager: "capp-testenv".to_owned(),
            ..WriteOpts::default()
        };
        state
            .create(&def, namespace.unwrap_or_default(), object, &opts)
            .map(|w| w.object)
    }

    /// Makes matching requests fail (faults are checked in the order they were injected).
    pub fn inject_fault(&self, fault: Fault) {
        self.server
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(fault);
    }

    /// The current global resourceVersion.
    pub async fn resource_version(&self) -> u64 {
        self.server.state.lock().await.rv()
    }

    /// Stops the server, ends open watches and waits for the accept loop to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates `object` in `ns`, or replaces the stored object of the same name (carrying over
/// its resourceVersion, as `kubectl apply --server-side=false` after a GET would). Objects
/// without a name (`generateName`) are always created.
fn create_or_replace(
    state: &mut State,
    def: &ResourceDef,
    ns: &str,
    mut object: Value,
    opts: &WriteOpts,
) -> Result<Written, ApiError> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let existing_rv = (!name.is_empty())
        .then(|| state.get_raw(def, ns, &name))
        .flatten()
        .map(|existing| existing["metadata"]["resourceVersion"].clone());
    match existing_rv {
        Some(rv) => {
            object["metadata"]["resourceVersion"] = rv;
            state.update(def, ns, &name, object, opts, None, RvPrecondition::Required)
        }
        None => state.create(def, ns, object, opts),
    }
}

/// The background garbage collector of [`Config::gc_delay`]: one collection every `every`
/// until shutdown.
async fn collect_garbage(
    state: Arc<tokio::sync::Mutex<State>>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(every) => state.lock().await.gc_tick(),
        }
    }
}

/// Writes a file readable only by the owner (it holds credentials).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)
}
