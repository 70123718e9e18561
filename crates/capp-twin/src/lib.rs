//! A workload-cluster twin for the capp Equinix Metal simulator: the Kubernetes side of
//! simulated servers, judged as strictly as kubeadm would judge it.
//!
//! Simulated servers have no kubelet, so without help a Cluster API flow stops at
//! `Provisioned`: no Node ever carries the Machine's providerID, and no worker gets bootstrap
//! data because the control plane never initializes. The [`Twin`] subscribes to a
//! [`capp_sim::Simulator`]'s device events and, when a device becomes active, reads its
//! userdata as cloud-init and kubeadm would:
//!
//! - **Userdata.** `#cloud-config` (optionally with cloud-init's `## template: jinja` header,
//!   which CABPK always writes; `{{ v1.instance_id }}` and `{{ ds.meta_data.* }}` resolve
//!   against the device's metadata as the Ec2 datasource of Equinix Metal images does).
//!   `write_files` and `runcmd` are followed up to `kubeadm init|join --config <file>`, in
//!   CABPK's layout (`/run/kubeadm/kubeadm.yaml`, `/run/kubeadm/kubeadm-join-config.yaml`)
//!   and capp-bootstrap's (whose `metal-identity.sh` fills the device id and node IP).
//!   Ignition is [`Outcome::Unsupported`]; anything else [`Outcome::NotKubeadm`].
//! - **`kubeadm init`.** Starts a [`capp_testenv::TestEnv`] as the workload API server,
//!   reachable over HTTPS on the ClusterConfiguration's `controlPlaneEndpoint` and on the
//!   device's public IPv4 (port `localAPIEndpoint.bindPort`, 6443), with a serving
//!   certificate signed by the cluster CA from `/etc/kubernetes/pki/ca.{crt,key}` and
//!   client-certificate authentication against that CA (so CAPI's `<cluster>-kubeconfig`
//!   works). It creates what kubeadm creates: `kube-system/kubeadm-config`,
//!   `kube-public/cluster-info` (signed for every bootstrap token, as the bootstrap signer
//!   does), the `InitConfiguration`'s bootstrap-token Secrets, the RBAC for anonymous
//!   `cluster-info` reads, and the Ready control-plane Node (providerID from the kubelet's
//!   `provider-id`, else `equinixmetal://<device id>` as the Equinix CCM sets it; the
//!   control-plane label and taint) with Ready mirror pods for `kube-apiserver`,
//!   `kube-controller-manager`, `kube-scheduler` and `etcd`.
//! - **`kubeadm join`.** Accepted only if the endpoint is one a workload API serves, the
//!   token has a valid signature in `cluster-info` (it exists in `kube-system`, is unexpired
//!   and may sign), the `caCertHashes` pin the CA, and the token may authenticate (TLS
//!   bootstrap). Then the Node appears, Ready. Every refusal is an [`Outcome::Refused`] with
//!   kubeadm's words, logged at `warn`; the device stays active without a Node.
//! - **Deletion.** A deleted device's Node goes away; deleting the last control-plane device
//!   stops the workload API server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use capp_sim::{SimConfig, Simulator};
//! use capp_twin::{Outcome, Twin};
//!
//! let sim = Simulator::start(SimConfig::for_tests().with_loopback_addresses(true)).await?;
//! let twin = Twin::start(&sim);
//! // ... create a device with kubeadm-init userdata through the Metal API ...
//! # let device_id = "";
//! sim.finish_provisioning();
//! match twin.wait_for(device_id, Duration::from_secs(30)).await {
//!     Some(Outcome::Initialized { cluster, node }) => println!("{cluster}: {node} is Ready"),
//!     other => println!("no cluster: {other:?}"),
//! }
//! twin.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! This crate is test world (like `capp-sim` and `capp-testenv`): nothing in the product
//! depends on it. `docs/simulator.md` documents it with the `capp-sim --kubeadm-twin` flag.

mod certs;
mod cloudinit;
mod error;
mod front;
mod kubeadm;
mod objects;
mod phases;
mod tokens;
mod twin;
mod workload;

pub use cloudinit::{JINJA_HEADER, PROVIDER_ID_PREFIX};
pub use error::{Error, Result};
pub use kubeadm::DEFAULT_API_PORT;
pub use objects::CONTROL_PLANE_LABEL;
pub use twin::{Outcome, Twin, WorkloadCluster};

/// Who a client is ([`Twin::kubeconfig_for`]); re-exported from capp-testenv.
pub use capp_testenv::Identity;
