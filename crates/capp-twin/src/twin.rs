//! The event loop: each device that boots is judged as kubeadm would judge it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use capp_pki::{CaOptions, CertificateAuthority};
use capp_sim::{ActiveDevice, DeviceEvent, Simulator};
use capp_testenv::Identity;
use tokio::sync::{Mutex, broadcast, watch};
use tokio::task::JoinHandle;

use crate::cloudinit::{self, KubeadmRun, NotKubeadm, PROVIDER_ID_PREFIX, Phase};
use crate::kubeadm::{self, DEFAULT_API_PORT, KubeadmDocuments, NodeRegistration};
use crate::objects::NodeSpec;
use crate::workload::WorkloadApi;
use crate::{Error, Result, tokens};

/// Where the kubeadm CA files are, in CABPK's layout and capp-bootstrap's alike.
const CA_CERT_PATH: &str = "/etc/kubernetes/pki/ca.crt";
const CA_KEY_PATH: &str = "/etc/kubernetes/pki/ca.key";
const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";

/// What the twin made of a device (see [`Twin::outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `kubeadm init` succeeded: a workload API server runs for `cluster` and the device is
    /// its first control-plane Node.
    Initialized {
        /// `clusterName` of the ClusterConfiguration.
        cluster: String,
        /// The Node name.
        node: String,
    },
    /// `kubeadm join` succeeded: the Node is registered and Ready.
    Joined {
        /// The cluster joined.
        cluster: String,
        /// The Node name.
        node: String,
        /// Whether it joined as a control-plane node.
        control_plane: bool,
    },
    /// kubeadm would have failed: `reason` is kubeadm's error text. The device stays active
    /// with no Node.
    Refused {
        /// kubeadm's error message.
        reason: String,
    },
    /// The userdata is a bootstrap format the twin does not emulate (Ignition).
    Unsupported {
        /// What is unsupported.
        reason: String,
    },
    /// The userdata does not run kubeadm (no userdata, a plain script, no kubeadm command).
    NotKubeadm {
        /// What the twin found instead.
        reason: String,
    },
    /// The device was deleted; its Node (if any) was removed.
    Deleted {
        /// The cluster it belonged to, if any.
        cluster: Option<String>,
    },
}

/// A workload cluster the twin runs (see [`Twin::clusters`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkloadCluster {
    /// `clusterName` of its ClusterConfiguration.
    pub name: String,
    /// Its `controlPlaneEndpoint` (`host:port`).
    pub endpoint: String,
    /// `https://<endpoint>`.
    pub server: String,
    /// The cluster CA certificate (PEM).
    pub ca_pem: String,
    /// Names of its Nodes.
    pub nodes: Vec<String>,
    /// Ids of its control-plane devices.
    pub control_plane_devices: Vec<String>,
}

#[derive(Debug, Default)]
struct Clusters {
    /// By `controlPlaneEndpoint`.
    by_endpoint: BTreeMap<String, WorkloadApi>,
}

#[derive(Debug)]
struct Inner {
    clusters: Mutex<Clusters>,
    outcomes: watch::Sender<BTreeMap<String, Outcome>>,
}

/// The workload-cluster twin: subscribes to a [`Simulator`]'s device events and plays the
/// kubeadm side of every device that boots. See the crate documentation.
#[derive(Debug)]
pub struct Twin {
    inner: Arc<Inner>,
    task: Option<JoinHandle<()>>,
}

impl Twin {
    /// Starts the twin for `sim` on the current tokio runtime. Only devices that become
    /// active after this call are seen.
    ///
    /// The simulator should run with
    /// [`SimConfig::loopback_addresses`](capp_sim::SimConfig::loopback_addresses), so that
    /// device addresses and Elastic IPs (and so control-plane endpoints) can be bound here.
    #[must_use]
    pub fn start(sim: &Simulator) -> Self {
        let inner = Arc::new(Inner {
            clusters: Mutex::new(Clusters::default()),
            outcomes: watch::channel(BTreeMap::new()).0,
        });
        let task = tokio::spawn(run(sim.subscribe_device_events(), Arc::clone(&inner)));
        Self {
            inner,
            task: Some(task),
        }
    }

    /// What happened to a device so far, if it booted (or was deleted) since the twin
    /// started.
    #[must_use]
    pub fn outcome(&self, device_id: &str) -> Option<Outcome> {
        self.inner.outcomes.borrow().get(device_id).cloned()
    }

    /// Waits until the twin has judged `device_id` (at most `timeout`), then returns the
    /// outcome. `None` on timeout. The simulator's lifecycle advances lazily, so make it move
    /// first ([`Simulator::finish_provisioning`], any API call or
    /// [`Simulator::devices`]).
    pub async fn wait_for(&self, device_id: &str, timeout: Duration) -> Option<Outcome> {
        let mut outcomes = self.inner.outcomes.subscribe();
        let wait = outcomes.wait_for(|map| map.contains_key(device_id));
        tokio::time::timeout(timeout, wait)
            .await
            .ok()?
            .ok()
            .and_then(|map| map.get(device_id).cloned())
    }

    /// Waits until the twin's outcome for `device_id` satisfies `done` (at most `timeout`).
    pub async fn wait_until(
        &self,
        device_id: &str,
        timeout: Duration,
        done: impl Fn(&Outcome) -> bool,
    ) -> Option<Outcome> {
        let mut outcomes = self.inner.outcomes.subscribe();
        let wait = outcomes.wait_for(|map| map.get(device_id).is_some_and(&done));
        tokio::time::timeout(timeout, wait)
            .await
            .ok()?
            .ok()
            .and_then(|map| map.get(device_id).cloned())
    }

    /// The workload clusters running now.
    pub async fn clusters(&self) -> Vec<WorkloadCluster> {
        let clusters = self.inner.clusters.lock().await;
        clusters
            .by_endpoint
            .values()
            .map(|api| WorkloadCluster {
                name: api.name.clone(),
                endpoint: api.endpoint.clone(),
                server: format!("https://{}", api.endpoint),
                ca_pem: api.ca.cert_pem().to_owned(),
                nodes: api.nodes.values().cloned().collect(),
                control_plane_devices: api.control_planes.iter().cloned().collect(),
            })
            .collect()
    }

    /// A kubeconfig for `identity` on the workload cluster named `cluster`, with a client
    /// certificate signed by its CA (`CN` = user, one `O` per group), pointing at its
    /// control-plane endpoint. `None` if no such cluster runs.
    pub async fn kubeconfig_for(
        &self,
        cluster: &str,
        identity: &Identity,
    ) -> Option<Result<capp_pki::Kubeconfig>> {
        let clusters = self.inner.clusters.lock().await;
        clusters
            .by_endpoint
            .values()
            .find(|api| api.name == cluster)
            .map(|api| api.kubeconfig_for(identity))
    }

    /// Stops watching the simulator and stops every workload API server.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let mut clusters = self.inner.clusters.lock().await;
        for (_, api) in std::mem::take(&mut clusters.by_endpoint) {
            api.stop().await;
        }
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        // Aborting the task drops its `Inner` handle; the API servers go with the last one.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(mut events: broadcast::Receiver<DeviceEvent>, inner: Arc<Inner>) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "Twin fell behind the simulator's device events");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let (device_id, outcome) = match event {
            DeviceEvent::Active(device) => {
                let outcome = boot(&inner, &device).await;
                log(&device, &outcome);
                (device.id, outcome)
            }
            DeviceEvent::Deleted { id, hostname } => {
                let cluster = delete(&inner, &id).await;
                tracing::info!(device = %id, %hostname, ?cluster, "Device deleted");
                (id, Outcome::Deleted { cluster })
            }
            _ => continue,
        };
        inner.outcomes.send_modify(|map| {
            map.insert(device_id, outcome);
        });
    }
}

fn log(device: &ActiveDevice, outcome: &Outcome) {
    let (id, hostname) = (&device.id, &device.hostname);
    match outcome {
        Outcome::Initialized { cluster, node } => {
            tracing::info!(device = %id, %hostname, %cluster, %node, "Initialized workload cluster");
        }
        Outcome::Joined {
            cluster,
            node,
            control_plane,
        } => {
            tracing::info!(device = %id, %hostname, %cluster, %node, control_plane, "Node joined");
        }
        Outcome::Refused { reason } => {
            tracing::warn!(device = %id, %hostname, %reason, "kubeadm failed on device, no Node");
        }
        Outcome::Unsupported { reason } => {
            tracing::warn!(device = %id, %hostname, %reason, "Userdata not supported by the twin, no Node");
        }
        Outcome::NotKubeadm { reason } => {
            tracing::info!(device = %id, %hostname, %reason, "Device does not run kubeadm");
        }
        Outcome::Deleted { .. } => {}
    }
}

async fn boot(inner: &Inner, device: &ActiveDevice) -> Outcome {
    let run = match cloudinit::read(device) {
        Ok(run) => run,
        Err(NotKubeadm::Unsupported(reason)) => return Outcome::Unsupported { reason },
        Err(NotKubeadm::Invalid(reason)) => return Outcome::NotKubeadm { reason },
    };
    let docs = match kubeadm::parse(&run.config_path, &run.config) {
        Ok(docs) => docs,
        Err(reason) => return Outcome::Refused { reason },
    };
    let result = match run.phase {
        Phase::Init => init(inner, device, &run, docs).await,
        Phase::Join => join(inner, device, &run, docs).await,
    };
    result.unwrap_or_else(|error| Outcome::Refused {
        reason: error_chain(&error),
    })
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Splits `host:port` (`[v6]:port` too); a missing port is `default_port`.
fn endpoint_addr(endpoint: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(addr) = endpoint.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip: IpAddr = endpoint.trim_matches(['[', ']']).parse().map_err(|_| {
        format!(
            "controlPlaneEndpoint {endpoint:?} is not an IP address with an optional port; \
             the twin serves workload APIs on loopback IP addresses only"
        )
    })?;
    Ok(SocketAddr::new(ip, default_port))
}

fn node_spec(
    device: &ActiveDevice,
    run: &KubeadmRun,
    registration: &NodeRegistration,
    control_plane: bool,
    kubelet_version: &str,
) -> NodeSpec {
    let args = registration.kubelet_args();
    let arg = |name: &str| {
        args.get(name)
            .or_else(|| run.kubelet_defaults.get(name))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    NodeSpec {
        // kubeadm's default node name is the host name, lowercased.
        name: registration
            .name
            .clone()
            .unwrap_or_else(|| device.hostname.to_lowercase()),
        // Without --provider-id the Equinix Metal CCM sets it, to the same value.
        provider_id: arg("provider-id")
            .unwrap_or_else(|| format!("{PROVIDER_ID_PREFIX}{}", device.id)),
        control_plane,
        taints: registration.taints.clone(),
        internal_ip: arg("node-ip")
            .and_then(|ip| ip.parse().ok())
            .or_else(|| device.private_ipv4()),
        external_ip: device.public_ipv4(),
        kubelet_version: kubelet_version.to_owned(),
        cri_socket: registration
            .cri_socket
            .clone()
            .unwrap_or_else(|| DEFAULT_CRI_SOCKET.to_owned()),
        device_id: device.id.clone(),
    }
}

async fn init(
    inner: &Inner,
    device: &ActiveDevice,
    run: &KubeadmRun,
    docs: KubeadmDocuments,
) -> Result<Outcome> {
    let cluster = docs.cluster.unwrap_or_default();
    let init = docs.init.unwrap_or_default();
    let bind_port = init
        .local_api_endpoint
        .as_ref()
        .and_then(|e| e.bind_port)
        .unwrap_or(DEFAULT_API_PORT);
    let refuse = |reason: String| Ok(Outcome::Refused { reason });
    let device_ip = device.public_ipv4();
    let endpoint = match (&cluster.control_plane_endpoint, device_ip) {
        (Some(endpoint), _) => endpoint.clone(),
        (None, Some(ip)) => SocketAddr::new(ip, bind_port).to_string(),
        (None, None) => {
            return refuse("unable to select an IP from the default routes: the device has no public IPv4 and no controlPlaneEndpoint is set".to_owned());
        }
    };
    let endpoint_addr = match endpoint_addr(&endpoint, bind_port) {
        Ok(addr) => addr,
        Err(reason) => return refuse(reason),
    };
    if !endpoint_addr.ip().is_loopback() {
        return refuse(format!(
            "controlPlaneEndpoint {endpoint} is not a loopback address, so the twin cannot serve \
             it on this machine; run the simulator with loopback addresses \
             (SimConfig::loopback_addresses, capp-sim --kubeadm-twin)"
        ));
    }
    let ca = match (run.files.get(CA_CERT_PATH), run.files.get(CA_KEY_PATH)) {
        (Some(cert), Some(key)) => match CertificateAuthority::from_pem(cert, key) {
            Ok(ca) => ca,
            Err(e) => {
                return refuse(format!(
                    "[certs] failure loading ca certificate authority: {}",
                    error_chain(&e)
                ));
            }
        },
        (Some(_), None) => {
            return refuse(format!(
                "[certs] {CA_KEY_PATH} is missing: external CA mode (no CA key) is not emulated by the twin"
            ));
        }
        // kubeadm generates the CA when none is given.
        _ => CertificateAuthority::generate(
            &CaOptions::new("kubernetes"),
            jiff::Timestamp::now(),
            &mut capp_pki::rand::rng(),
        )
        .map_err(Error::Pki)?,
    };
    let mut clusters = inner.clusters.lock().await;
    if let Some(existing) = clusters
        .by_endpoint
        .values()
        .find(|api| api.serves(&endpoint))
    {
        return refuse(format!(
            "controlPlaneEndpoint {endpoint} already serves workload cluster {:?}; a second \
             `kubeadm init` behind it would split the control plane",
            existing.name
        ));
    }
    let now = jiff::Timestamp::now();
    let mut token_secrets = Vec::new();
    for spec in &init.bootstrap_tokens {
        match tokens::secret_for_spec(spec, now) {
            Ok(secret) => token_secrets.push(secret),
            Err(reason) => return refuse(reason),
        }
    }
    let cluster_yaml = serde_saphyr::to_string(&cluster.document).unwrap_or_default();
    let mut api = WorkloadApi::start(
        cluster.cluster_name.clone(),
        endpoint.clone(),
        cluster.kubernetes_version.clone(),
        ca,
        cluster.cert_sans.clone(),
    )
    .await?;
    let setup = async {
        api.listen(endpoint_addr).await?;
        if let Some(ip) = device_ip.filter(IpAddr::is_loopback) {
            api.listen(SocketAddr::new(ip, bind_port)).await?;
        }
        api.upload_init_objects(&cluster_yaml, &token_secrets)
            .await?;
        let spec = node_spec(
            device,
            run,
            &init.node_registration,
            true,
            &cluster.kubernetes_version,
        );
        api.register_node(&spec).await?;
        api.sign_cluster_info().await?;
        Ok::<_, Error>(spec.name)
    };
    match setup.await {
        Ok(node) => {
            let name = api.name.clone();
            clusters.by_endpoint.insert(endpoint, api);
            Ok(Outcome::Initialized {
                cluster: name,
                node,
            })
        }
        Err(error) => {
            api.stop().await;
            Err(error)
        }
    }
}

async fn join(
    inner: &Inner,
    device: &ActiveDevice,
    run: &KubeadmRun,
    docs: KubeadmDocuments,
) -> Result<Outcome> {
    let refuse = |reason: String| Ok(Outcome::Refused { reason });
    let Some(join) = docs.join else {
        return refuse(format!(
            "no JoinConfiguration found in {}; `kubeadm join --config` needs one",
            run.config_path
        ));
    };
    let Some(discovery) = join.discovery.bootstrap_token.clone() else {
        return refuse(if join.discovery.file.is_some() {
            "file discovery is not emulated by the twin; use bootstrap-token discovery".to_owned()
        } else {
            "discovery: Invalid value: \"\": bootstrapToken or file must be set".to_owned()
        });
    };
    let Some((token_id, token_secret)) = discovery
        .token
        .split_once('.')
        .filter(|_| capp_pki::BootstrapToken::parse(&discovery.token).is_ok())
    else {
        return refuse(format!(
            "discovery.bootstrapToken.token: Invalid value: \"{}\": the bootstrap token is invalid",
            redact_token(&discovery.token)
        ));
    };
    if discovery.ca_cert_hashes.is_empty() && !discovery.unsafe_skip_ca_verification {
        return refuse("discovery.bootstrapToken.caCertHashes: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue".to_owned());
    }
    let endpoint = discovery.api_server_endpoint.clone();
    let mut clusters = inner.clusters.lock().await;
    let Some(api) = clusters
        .by_endpoint
        .values_mut()
        .find(|api| api.serves(&endpoint))
    else {
        return refuse(format!(
            "failed to request the cluster-info ConfigMap: Get \"https://{endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s\": dial tcp {endpoint}: connect: connection refused"
        ));
    };
    // Discovery (kubeadm's `discovery/token`): the JWS proves the server knows the token,
    // the pinned hash proves the CA is the expected one.
    let info = api.sign_cluster_info().await?;
    let Some(jws) = info.get(&format!("{}{token_id}", tokens::JWS_PREFIX)) else {
        return refuse(format!(
            "could not find a JWS signature in the cluster-info ConfigMap for token ID {token_id:?}"
        ));
    };
    let kubeconfig = info.get("kubeconfig").cloned().unwrap_or_default();
    if !tokens::detached_jws_is_valid(jws, &kubeconfig, token_id, token_secret) {
        return refuse("failed to verify JWS signature of received cluster info object, can't trust this API Server".to_owned());
    }
    if !discovery.unsafe_skip_ca_verification
        && let Err(reason) =
            kubeadm::check_ca_pins(&discovery.ca_cert_hashes, &api.ca.public_key_hash())
    {
        return refuse(reason);
    }
    // TLS bootstrap: the kubelet authenticates with the (TLS bootstrap) token.
    let tls_token = join
        .discovery
        .tls_bootstrap_token
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| discovery.token.clone());
    let authenticated = match tls_token.split_once('.') {
        Some((id, secret)) => tokens::lookup(&api.admin, id).await.is_some_and(|t| {
            t.secret == secret && t.authentication && !t.expired(jiff::Timestamp::now())
        }),
        None => false,
    };
    if !authenticated {
        return refuse("error execution phase kubelet-start: failed to run Kubelet: the TLS bootstrap token was rejected by the API server: Unauthorized".to_owned());
    }
    let control_plane = join.control_plane.is_some();
    let spec = node_spec(
        device,
        run,
        &join.node_registration,
        control_plane,
        &api.kubernetes_version,
    );
    if api.ready_node_exists(&spec.name).await {
        return refuse(format!(
            "error execution phase kubelet-start: a Node with name {:?} and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node",
            spec.name
        ));
    }
    if control_plane && let Some(ip) = device.public_ipv4().filter(IpAddr::is_loopback) {
        let port = join
            .control_plane
            .as_ref()
            .and_then(|cp| cp.pointer("/localAPIEndpoint/bindPort"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(DEFAULT_API_PORT);
        api.listen(SocketAddr::new(ip, port)).await?;
    }
    api.register_node(&spec).await?;
    Ok(Outcome::Joined {
        cluster: api.name.clone(),
        node: spec.name,
        control_plane,
    })
}

/// `abcdef.<redacted>`: kubeadm's messages may name the token id, never its secret.
fn redact_token(token: &str) -> String {
    match token.split_once('.') {
        Some((id, _)) => format!("{id}.<redacted>"),
        None => "<redacted>".to_owned(),
    }
}

async fn delete(inner: &Inner, device_id: &str) -> Option<String> {
    let mut clusters = inner.clusters.lock().await;
    let mut found = None;
    let mut stop = None;
    for (endpoint, api) in &mut clusters.by_endpoint {
        if !api.nodes.contains_key(device_id) {
            continue;
        }
        found = Some(api.name.clone());
        match api.remove_device(device_id).await {
            Ok(true) if api.control_planes.is_empty() => stop = Some(endpoint.clone()),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(device = %device_id, error = %error_chain(&error), "Could not remove the Node of a deleted device");
            }
        }
        break;
    }
    if let Some(api) = stop.and_then(|endpoint| clusters.by_endpoint.remove(&endpoint)) {
        tracing::info!(cluster = %api.name, "Last control plane deleted, stopping the workload API server");
        api.stop().await;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_and_without_a_port() {
        assert_eq!(
            endpoint_addr("127.1.0.1:6443", 1).unwrap(),
            "127.1.0.1:6443".parse().unwrap()
        );
        assert_eq!(
            endpoint_addr("127.1.0.1", 6443).unwrap(),
            "127.1.0.1:6443".parse().unwrap()
        );
        assert!(endpoint_addr("api.example.com:6443", 6443).is_err());
    }

    #[test]
    fn refusals_never_show_the_token_secret() {
        assert_eq!(redact_token("abcdef.0123456789abcdef"), "abcdef.<redacted>");
    }
}
