//! kubeadm's phases as the twin plays them: `init`, `join` and what a deletion undoes.

use std::net::{IpAddr, SocketAddr};

use capp_pki::{CaOptions, CertificateAuthority};
use capp_sim::ActiveDevice;

use crate::cloudinit::{KubeadmRun, PROVIDER_ID_PREFIX};
use crate::kubeadm::{
    self, BootstrapTokenDiscovery, DEFAULT_API_PORT, JoinConfiguration, KubeadmDocuments,
    NodeRegistration,
};
use crate::objects::NodeSpec;
use crate::twin::{Inner, Outcome};
use crate::workload::WorkloadApi;
use crate::{Error, Result, certs, tokens};

/// Where the kubeadm CA files are, in CABPK's layout and capp-bootstrap's alike.
const CA_CERT_PATH: &str = "/etc/kubernetes/pki/ca.crt";
const CA_KEY_PATH: &str = "/etc/kubernetes/pki/ca.key";
const DEFAULT_CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";

/// An error and its sources, `: `-separated (kubeadm's wrapped-error style).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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

/// The endpoint `kubeadm init` will serve: `controlPlaneEndpoint`, else the device's
/// address; refused unless it is a loopback IP the twin can bind.
fn init_endpoint(
    configured: Option<&str>,
    device_ip: Option<IpAddr>,
    bind_port: u16,
) -> Result<(String, SocketAddr), String> {
    let endpoint = match (configured, device_ip) {
        (Some(endpoint), _) => endpoint.to_owned(),
        (None, Some(ip)) => SocketAddr::new(ip, bind_port).to_string(),
        (None, None) => {
            return Err("unable to select an IP from the default routes: the device has no public IPv4 and no controlPlaneEndpoint is set".to_owned());
        }
    };
    let addr = endpoint_addr(&endpoint, bind_port)?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "controlPlaneEndpoint {endpoint} is not a loopback address, so the twin cannot serve \
             it on this machine; run the simulator with loopback addresses \
             (SimConfig::loopback_addresses, capp-sim --kubeadm-twin)"
        ));
    }
    Ok((endpoint, addr))
}

/// The cluster CA from `/etc/kubernetes/pki`, or a new one as kubeadm generates when none
/// is given. The inner error is kubeadm's refusal.
fn load_ca(run: &KubeadmRun) -> Result<Result<CertificateAuthority, String>> {
    Ok(
        match (run.files.get(CA_CERT_PATH), run.files.get(CA_KEY_PATH)) {
            (Some(cert), Some(key)) => CertificateAuthority::from_pem(cert, key).map_err(|e| {
                format!(
                    "[certs] failure loading ca certificate authority: {}",
                    error_chain(&e)
                )
            }),
            (Some(_), None) => Err(format!(
                "[certs] {CA_KEY_PATH} is missing: external CA mode (no CA key) is not emulated by the twin"
            )),
            _ => Ok(CertificateAuthority::generate(
                &CaOptions::new("kubernetes"),
                jiff::Timestamp::now(),
                &mut capp_pki::rand::rng(),
            )
            .map_err(Error::Pki)?),
        },
    )
}

/// kubeadm `init`: starts the workload API and creates what kubeadm creates.
pub(crate) async fn init(
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
    let (endpoint, endpoint_addr) = match init_endpoint(
        cluster.control_plane_endpoint.as_deref(),
        device_ip,
        bind_port,
    ) {
        Ok(found) => found,
        Err(reason) => return refuse(reason),
    };
    let ca = match load_ca(run)? {
        Ok(ca) => ca,
        Err(reason) => return refuse(reason),
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
    let mut secrets = Vec::new();
    for spec in &init.bootstrap_tokens {
        match tokens::secret_for_spec(spec, now) {
            Ok(secret) => secrets.push(secret),
            Err(reason) => return refuse(reason),
        }
    }
    if run.argv.iter().any(|a| a == "--upload-certs") {
        // Without a configured key kubeadm generates one and prints it; nobody else has it.
        let key = init
            .certificate_key
            .clone()
            .unwrap_or_else(|| hex::encode(rand_bytes()));
        match certs::upload(&run.files, &key) {
            Ok(secret) => secrets.push(secret),
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
        api.listen(endpoint_addr, None).await?;
        if let Some(ip) = device_ip.filter(IpAddr::is_loopback) {
            api.listen(SocketAddr::new(ip, bind_port), Some(&device.id))
                .await?;
        }
        api.upload_init_objects(&cluster_yaml, &secrets).await?;
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

/// kubeadm `join`: discovery, TLS bootstrap, then the Node.
pub(crate) async fn join(
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
    if let Err(reason) = discover(api, &discovery, token_id, token_secret).await? {
        return refuse(reason);
    }
    // TLS bootstrap: the kubelet authenticates with the (TLS bootstrap) token.
    let tls_token = join
        .discovery
        .tls_bootstrap_token
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| discovery.token.clone());
    if tokens::authenticate(&api.admin, &tls_token).await.is_none() {
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
    if control_plane && let Err(reason) = control_plane_certificates(api, run, &join).await? {
        return refuse(reason);
    }
    if control_plane && let Some(ip) = device.public_ipv4().filter(IpAddr::is_loopback) {
        let port = join
            .control_plane
            .as_ref()
            .and_then(|cp| cp.pointer("/localAPIEndpoint/bindPort"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(DEFAULT_API_PORT);
        api.listen(SocketAddr::new(ip, port), Some(&device.id))
            .await?;
    }
    api.register_node(&spec).await?;
    Ok(Outcome::Joined {
        cluster: api.name.clone(),
        node: spec.name,
        control_plane,
    })
}

/// kubeadm's token discovery (`discovery/token`): the JWS in `cluster-info` proves the server
/// knows the token, the pinned hash proves the CA is the expected one. The inner error is
/// kubeadm's refusal.
async fn discover(
    api: &WorkloadApi,
    discovery: &BootstrapTokenDiscovery,
    token_id: &str,
    token_secret: &str,
) -> Result<Result<(), String>> {
    let info = api.sign_cluster_info().await?;
    let Some(jws) = info.get(&format!("{}{token_id}", tokens::JWS_PREFIX)) else {
        return Ok(Err(format!(
            "could not find a JWS signature in the cluster-info ConfigMap for token ID {token_id:?}"
        )));
    };
    let kubeconfig = info.get("kubeconfig").cloned().unwrap_or_default();
    if !tokens::detached_jws_is_valid(jws, &kubeconfig, token_id, token_secret) {
        return Ok(Err("failed to verify JWS signature of received cluster info object, can't trust this API Server".to_owned()));
    }
    if discovery.unsafe_skip_ca_verification {
        return Ok(Ok(()));
    }
    Ok(kubeadm::check_ca_pins(
        &discovery.ca_cert_hashes,
        &api.ca.public_key_hash(),
    ))
}

/// The shared certificate authorities of a control-plane join: the cluster CA the userdata
/// wrote (CABPK's control plane writes them), or the one in `kubeadm-certs` decrypted with
/// `controlPlane.certificateKey` (capp-bootstrap's joins). It must be this cluster's CA.
async fn control_plane_certificates(
    api: &WorkloadApi,
    run: &KubeadmRun,
    join: &JoinConfiguration,
) -> Result<Result<(), String>> {
    let ca_pem = if let Some(pem) = run.files.get(CA_CERT_PATH) {
        pem.clone()
    } else {
        let Some(key) = join
            .control_plane
            .as_ref()
            .and_then(|cp| cp.get("certificateKey"))
            .and_then(serde_json::Value::as_str)
        else {
            return Ok(Err(format!(
                "error execution phase control-plane-prepare/download-certs: {CA_CERT_PATH} is missing and controlPlane.certificateKey is not set, so the certificates cannot be downloaded"
            )));
        };
        let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(api.admin.clone(), "kube-system");
        let Some(secret) = secrets
            .get_opt(certs::KUBEADM_CERTS)
            .await
            .map_err(Error::Kube)?
        else {
            return Ok(Err(format!(
                "error downloading certs: error downloading the secret: secrets \"{}\" not found",
                certs::KUBEADM_CERTS
            )));
        };
        let data = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        match certs::download_ca(&data, key) {
            Ok(pem) => pem,
            Err(reason) => return Ok(Err(reason)),
        }
    };
    let matches = capp_pki::Certificate::from_pem(&ca_pem, "ca.crt")
        .is_ok_and(|ca| ca.public_key_hash() == api.ca.public_key_hash());
    Ok(if matches {
        Ok(())
    } else {
        Err(format!(
            "[certs] the CA in {CA_CERT_PATH} is not the CA of the cluster behind {}",
            api.endpoint
        ))
    })
}

/// 32 random bytes (a kubeadm certificate key).
fn rand_bytes() -> [u8; 32] {
    use capp_pki::rand::RngCore as _;
    let mut bytes = [0u8; 32];
    capp_pki::rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// `abcdef.<redacted>`: kubeadm's messages may name the token id, never its secret.
fn redact_token(token: &str) -> String {
    match token.split_once('.') {
        Some((id, _)) => format!("{id}.<redacted>"),
        None => "<redacted>".to_owned(),
    }
}

/// Removes a deleted device's Node; stops the API with its last control plane. Returns the
/// cluster the device belonged to.
pub(crate) async fn delete(inner: &Inner, device_id: &str) -> Option<String> {
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
