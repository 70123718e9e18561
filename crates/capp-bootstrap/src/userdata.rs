//! The whole pipeline for a node of our own kubeadm flow: select the matrix entry, render its
//! setup script, generate the kubeadm configuration and compose the `#cloud-config`.
//!
//! # What the userdata does
//! `write_files` (in this order):
//! - control-plane init only: the cluster PKI under `/etc/kubernetes/pki` (certificates
//!   `0644`, keys `0600`) — see the caveats on [`InitMaterial`];
//! - only with [`MetalApiTokenOptIn`]: the Metal API token at
//!   [`MetalApiTokenOptIn::PATH`] (`0600`);
//! - the rendered matrix template at [`SETUP_SCRIPT_PATH`] (`0700`);
//! - with [`NodeIdentity::FromMetadata`]: the identity script at
//!   [`METAL_IDENTITY_SCRIPT_PATH`] (`0700`);
//! - control-plane nodes whose endpoint is an IPv4 address (Elastic IP or load-balancer
//!   address): the systemd unit [`CONTROL_PLANE_ENDPOINT_UNIT`] (`0644`) that binds that
//!   address to the loopback interface;
//! - the kubeadm configuration at [`KUBEADM_CONFIG_PATH`] (`0600`, it holds the token).
//!
//! `runcmd`: `set -e`, the setup script, the identity script (if any), `kubeadm init
//! --upload-certs` or `kubeadm join` with the configuration file, then the CAPI sentinel
//! [`BOOTSTRAP_SENTINEL`](crate::BOOTSTRAP_SENTINEL). Because of `set -e` the sentinel is
//! only written when every step succeeded.
//!
//! The control-plane endpoint unit is started *before* `kubeadm init` (so that kubeadm and
//! the kubelet reach the new API server through the endpoint before the cloud provider routes
//! it to the node) but only *after* `kubeadm join` on joining control-plane nodes: bound
//! earlier, the endpoint would point the join's discovery and its calls to the existing
//! control plane back at the joining node itself, where no API server runs yet.
//!
//! # Template context
//! The matrix template is rendered with this JSON (secrets are deliberately absent: the token,
//! certificate key and private keys only travel in typed files):
//!
//! | variable | example |
//! |---|---|
//! | `entry` | `ubuntu_24_04` |
//! | `image` | `ubuntu_24_04` |
//! | `runtime_package` | `containerd` |
//! | `role` | `control-plane-init`, `control-plane-join` or `worker` |
//! | `control_plane` | `true` / `false` |
//! | `kubernetes.version` / `.tag` / `.minor_tag` | `1.31.4` / `v1.31.4` / `v1.31` |
//! | `kubernetes.major` / `.minor` / `.patch` | `1` / `31` / `4` |
//! | `kubeadm.api_version` / `.config_path` | `kubeadm.k8s.io/v1beta4` / `/run/kubeadm/kubeadm.yaml` |
//! | `cluster.name`, `cluster.pod_subnet`, `cluster.service_subnet`, `cluster.dns_domain` | |
//! | `cluster.endpoint.host` / `.port` / `.address` | `203.0.113.10` / `6443` / `203.0.113.10:6443` |
//! | `cluster.endpoint.is_ipv4` | `true` when the host is an IPv4 address |
//! | `node.identity` | `metadata` or `static` |
//! | `node.provider_id` / `node.ip` | the values or the on-node placeholders |
//! | `vars.*` | [`UserdataRequest::template_vars`] |

use std::collections::BTreeMap;
use std::fmt;

use secrecy::ExposeSecret;
use serde_json::json;

use crate::cloudinit::{
    CloudConfig, METAL_USERDATA_LIMIT, RunCmd, WriteFile, check_userdata_size, stop_on_error,
    write_sentinel,
};
use crate::error::Result;
use crate::inputs::{
    ClusterSpec, InitMaterial, JoinDiscovery, MetalApiTokenOptIn, NodeIdentity, NodeRole,
};
use crate::kubeadm::{KubeadmApiVersion, KubeadmInput, kubeadm_config};
use crate::matrix::{MachineConfigMatrix, MachineQuery};
use crate::version::KubernetesVersion;

/// Where the kubeadm configuration is written (the path CAPI's kubeadm bootstrap uses too).
pub const KUBEADM_CONFIG_PATH: &str = "/run/kubeadm/kubeadm.yaml";
/// Where the rendered matrix template (node setup script) is written. Under `/opt` because
/// `/usr` is read-only on some images.
pub const SETUP_SCRIPT_PATH: &str = "/opt/capp/bin/node-setup.sh";
/// Where the metadata identity script is written.
pub const METAL_IDENTITY_SCRIPT_PATH: &str = "/opt/capp/bin/metal-identity.sh";
/// The metadata identity script (bash): resolves the device UUID and private IPv4 from the
/// Equinix Metal metadata service and fills the kubeadm placeholders; with
/// `--kubelet-extra-args` it also sets them in `/etc/default/kubelet`.
pub const METAL_IDENTITY_SCRIPT: &str = include_str!("metal_identity.sh");
/// The systemd unit that binds an IPv4 control-plane endpoint to the loopback interface on
/// control-plane nodes (see the module documentation for when it is started).
pub const CONTROL_PLANE_ENDPOINT_UNIT: &str = "capp-control-plane-endpoint.service";

/// The unit file binding `host` to `lo`, enabled so that it is bound again after a reboot.
fn control_plane_endpoint_unit(host: std::net::Ipv4Addr) -> String {
    format!(
        "[Unit]\nDescription=Bind the control-plane endpoint {host} to the loopback interface\nAfter=network.target\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/sbin/ip addr replace {host}/32 dev lo\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

/// Everything needed to render the userdata of one node.
#[derive(Debug, Clone)]
pub struct UserdataRequest {
    /// Equinix Metal operating system slug (`ubuntu_24_04`).
    pub image: String,
    /// Kubernetes version of the kubelet (and of the control plane on control-plane nodes).
    pub kubernetes_version: KubernetesVersion,
    /// The node's role.
    pub role: NodeRole,
    /// Cluster settings.
    pub cluster: ClusterSpec,
    /// Bootstrap token and CA hashes.
    pub discovery: JoinDiscovery,
    /// Where provider ID and node IP come from; [`NodeIdentity::FromMetadata`] by default.
    pub identity: NodeIdentity,
    /// Extra values for the template, visible as `vars.<name>`.
    pub template_vars: BTreeMap<String, String>,
    /// Explicit opt-in to write the Metal API token to the node; `None` by default.
    pub metal_api_token: Option<MetalApiTokenOptIn>,
    /// Size limit in bytes; [`METAL_USERDATA_LIMIT`] by default.
    pub size_limit: usize,
}

impl UserdataRequest {
    /// A request with identity from metadata, no template variables, no API token and the
    /// Equinix Metal size limit.
    #[must_use]
    pub fn new(
        image: impl Into<String>,
        kubernetes_version: KubernetesVersion,
        role: NodeRole,
        cluster: ClusterSpec,
        discovery: JoinDiscovery,
    ) -> Self {
        Self {
            image: image.into(),
            kubernetes_version,
            role,
            cluster,
            discovery,
            identity: NodeIdentity::FromMetadata,
            template_vars: BTreeMap::new(),
            metal_api_token: None,
            size_limit: METAL_USERDATA_LIMIT,
        }
    }

    /// The matrix query for this request.
    #[must_use]
    pub fn query(&self) -> MachineQuery {
        MachineQuery {
            image: self.image.clone(),
            kubelet: self.kubernetes_version,
            control_plane: self
                .role
                .is_control_plane()
                .then_some(self.kubernetes_version),
        }
    }
}

/// Rendered userdata with what was chosen to produce it.
///
/// `cloud_config` is the structure the text was serialised from, for inspection; changing it
/// does not change [`RenderedUserdata::as_str`] (serialise it again with
/// [`CloudConfig::to_userdata`] and check the size with [`check_userdata_size`]).
///
/// `Debug` shows the entry, API version and size, never the text (it holds secrets).
#[derive(Clone)]
pub struct RenderedUserdata {
    /// Name of the matrix entry used.
    pub entry: String,
    /// kubeadm configuration API version used.
    pub kubeadm_api_version: KubeadmApiVersion,
    /// The document, as structured data.
    pub cloud_config: CloudConfig,
    userdata: String,
}

impl RenderedUserdata {
    /// The userdata text (`#cloud-config` ...).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.userdata
    }

    /// The userdata text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.userdata
    }
}

impl fmt::Debug for RenderedUserdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedUserdata")
            .field("entry", &self.entry)
            .field("kubeadm_api_version", &self.kubeadm_api_version)
            .field("bytes", &self.userdata.len())
            .finish_non_exhaustive()
    }
}

/// Renders the `#cloud-config` userdata for one node. See the module documentation for what
/// it contains.
///
/// Fails when the inputs are invalid, no (or more than one) matrix entry matches, the
/// template uses an undefined variable, or the result exceeds `request.size_limit`.
pub fn render_userdata(
    matrix: &MachineConfigMatrix,
    request: &UserdataRequest,
) -> Result<RenderedUserdata> {
    let kubeadm_yaml = kubeadm_config(&KubeadmInput {
        kubernetes_version: request.kubernetes_version,
        cluster: &request.cluster,
        role: &request.role,
        discovery: &request.discovery,
        identity: &request.identity,
    })?;
    let api = KubeadmApiVersion::for_kubernetes(&request.kubernetes_version);
    let selection = matrix.select(&request.query())?;
    let context = template_context(
        request,
        &selection.entry.name,
        &selection.params.container_runtime,
        api,
    );
    let setup_script = matrix.render_template(&selection.entry.name, &context)?;

    let mut write_files = match &request.role {
        NodeRole::ControlPlaneInit(init) => pki_files(init),
        NodeRole::ControlPlaneJoin { .. } | NodeRole::Worker => Vec::new(),
    };
    if let Some(token) = &request.metal_api_token {
        write_files.push(WriteFile::text(
            MetalApiTokenOptIn::PATH,
            "0600",
            token.token.expose_secret(),
        ));
    }
    write_files.push(WriteFile::text(SETUP_SCRIPT_PATH, "0700", setup_script));
    let from_metadata = request.identity == NodeIdentity::FromMetadata;
    if from_metadata {
        write_files.push(WriteFile::text(
            METAL_IDENTITY_SCRIPT_PATH,
            "0700",
            METAL_IDENTITY_SCRIPT,
        ));
    }
    // Only an address can be bound; a DNS name points at a load balancer instead.
    let endpoint_ipv4 = request
        .cluster
        .control_plane_endpoint
        .host
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .filter(|_| request.role.is_control_plane());
    if let Some(host) = endpoint_ipv4 {
        write_files.push(WriteFile::text(
            format!("/etc/systemd/system/{CONTROL_PLANE_ENDPOINT_UNIT}"),
            "0644",
            control_plane_endpoint_unit(host),
        ));
    }
    write_files.push(WriteFile::text(KUBEADM_CONFIG_PATH, "0600", kubeadm_yaml));

    let runcmd = runcmd(&request.role, from_metadata, endpoint_ipv4.is_some());

    let cloud_config = CloudConfig {
        packages: Vec::new(),
        write_files,
        runcmd,
    };
    let userdata = cloud_config.to_userdata()?;
    check_userdata_size(&userdata, request.size_limit)?;
    Ok(RenderedUserdata {
        entry: selection.entry.name.clone(),
        kubeadm_api_version: api,
        cloud_config,
        userdata,
    })
}

/// The cluster PKI kubeadm init expects in `/etc/kubernetes/pki` (certificates `0644`, keys
/// `0600`).
fn pki_files(init: &InitMaterial) -> Vec<WriteFile> {
    let pki = "/etc/kubernetes/pki";
    let mut files = Vec::with_capacity(8);
    for (name, ca) in [
        ("ca", &init.ca),
        ("etcd/ca", &init.etcd_ca),
        ("front-proxy-ca", &init.front_proxy_ca),
    ] {
        files.push(WriteFile::text(
            format!("{pki}/{name}.crt"),
            "0644",
            ca.cert_pem.clone(),
        ));
        files.push(WriteFile::text(
            format!("{pki}/{name}.key"),
            "0600",
            ca.key_pem.expose_secret(),
        ));
    }
    let sa = &init.service_account;
    files.push(WriteFile::text(
        format!("{pki}/sa.pub"),
        "0644",
        sa.public_pem.clone(),
    ));
    files.push(WriteFile::text(
        format!("{pki}/sa.key"),
        "0600",
        sa.private_pem.expose_secret(),
    ));
    files
}

/// The `runcmd` list: stop on the first error, set up the node, resolve its identity, bind
/// the endpoint (before init, after join), run kubeadm, write the sentinel last.
fn runcmd(role: &NodeRole, from_metadata: bool, bind_endpoint: bool) -> Vec<RunCmd> {
    let bind = [
        RunCmd::argv(&["systemctl", "daemon-reload"]),
        RunCmd::argv(&["systemctl", "enable", "--now", CONTROL_PLANE_ENDPOINT_UNIT]),
    ];
    let join = RunCmd::argv(&["kubeadm", "join", "--config", KUBEADM_CONFIG_PATH]);
    let mut runcmd = vec![stop_on_error(), RunCmd::argv(&[SETUP_SCRIPT_PATH])];
    if from_metadata {
        runcmd.push(RunCmd::argv(&[METAL_IDENTITY_SCRIPT_PATH]));
    }
    match role {
        NodeRole::ControlPlaneInit(_) => {
            if bind_endpoint {
                runcmd.extend(bind);
            }
            runcmd.push(RunCmd::argv(&[
                "kubeadm",
                "init",
                "--config",
                KUBEADM_CONFIG_PATH,
                "--upload-certs",
            ]));
        }
        NodeRole::ControlPlaneJoin { .. } => {
            runcmd.push(join);
            if bind_endpoint {
                runcmd.extend(bind);
            }
        }
        NodeRole::Worker => runcmd.push(join),
    }
    runcmd.push(write_sentinel());
    runcmd
}

fn template_context(
    request: &UserdataRequest,
    entry: &str,
    runtime_package: &str,
    api: KubeadmApiVersion,
) -> serde_json::Value {
    let v = request.kubernetes_version;
    let cluster = &request.cluster;
    json!({
        "entry": entry,
        "image": request.image,
        "runtime_package": runtime_package,
        "role": request.role.name(),
        "control_plane": request.role.is_control_plane(),
        "kubernetes": {
            "version": v.to_string(),
            "tag": v.tag(),
            "minor_tag": v.minor_tag(),
            "major": v.major,
            "minor": v.minor,
            "patch": v.patch,
        },
        "kubeadm": {
            "api_version": api.as_str(),
            "config_path": KUBEADM_CONFIG_PATH,
        },
        "cluster": {
            "name": cluster.name,
            "pod_subnet": cluster.pod_subnet,
            "service_subnet": cluster.service_subnet,
            "dns_domain": cluster.dns_domain,
            "endpoint": {
                "host": cluster.control_plane_endpoint.host,
                "port": cluster.control_plane_endpoint.port,
                "address": cluster.control_plane_endpoint.to_string(),
                "is_ipv4": cluster.control_plane_endpoint.host.parse::<std::net::Ipv4Addr>().is_ok(),
            },
        },
        "node": {
            "identity": match request.identity {
                NodeIdentity::Static { .. } => "static",
                NodeIdentity::FromMetadata => "metadata",
            },
            "provider_id": request.identity.provider_id(),
            "ip": request.identity.node_ip(),
        },
        "vars": request.template_vars,
    })
}

#[cfg(test)]
mod tests;
