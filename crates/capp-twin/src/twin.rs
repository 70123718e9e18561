//! The event loop: each device that boots is judged as kubeadm would judge it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use capp_sim::{ActiveDevice, DeviceEvent, Simulator};
use capp_testenv::Identity;
use tokio::sync::{Mutex, broadcast, watch};
use tokio::task::JoinHandle;

use crate::cloudinit::{self, NotKubeadm, Phase};
use crate::workload::WorkloadApi;
use crate::{Result, kubeadm, phases};

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
pub(crate) struct Clusters {
    /// By `controlPlaneEndpoint`.
    pub(crate) by_endpoint: BTreeMap<String, WorkloadApi>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) clusters: Mutex<Clusters>,
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
                let cluster = phases::delete(&inner, &id).await;
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
        Phase::Init => phases::init(inner, device, &run, docs).await,
        Phase::Join => phases::join(inner, device, &run, docs).await,
    };
    result.unwrap_or_else(|error| Outcome::Refused {
        reason: phases::error_chain(&error),
    })
}
