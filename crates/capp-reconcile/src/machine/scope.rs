//! The PacketMachine's scope: its owners, its Metal account and device view, the status
//! being accumulated, and accessors (CAPH's `MachineScope`).

use std::sync::Arc;

use capi_types::conditions::{Conditions, Severity};
use capp_api::cluster::VipManager;
use capp_api::provider_id::ProviderId;
use capp_api::{PacketCluster, PacketMachine, PacketMachineStatus};
use capp_packet::{Device, Metal};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};

use crate::account::Account;
use crate::cluster::credentials;
use crate::context::Context;
use crate::device_view::DeviceView;
use crate::error::{Error, Result};
use crate::tags::MachineTags;
use capp_api::core::{ClusterView, MachineView};

/// The owners of a PacketMachine, each present once found.
#[derive(Debug, Default)]
pub(crate) struct Owners {
    pub(crate) machine: Option<MachineView>,
    pub(crate) cluster: Option<ClusterView>,
    pub(crate) packet_cluster: Option<PacketCluster>,
}

impl Owners {
    /// Fetches the owners in CAPI's order: the Machine (owner reference), the Cluster (the
    /// Machine's `spec.clusterName`, else the cluster-name label), then the PacketCluster
    /// named by the Cluster's `infrastructureRef`. Stops at the first one missing.
    pub(crate) async fn fetch(ctx: &Context, pm: &PacketMachine) -> Result<Owners> {
        let ns = pm.namespace().unwrap_or_default();
        let mut owners = Owners::default();
        let machine_ref = capi_types::owner::owner_machine(pm)
            .map_err(|e| Error::Malformed {
                what: "PacketMachine ownerReferences",
                message: e.to_string(),
            })?
            .cloned();
        let Some(machine_ref) = machine_ref else {
            return Ok(owners);
        };
        let machines: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &ns, &ctx.core.machine);
        let Some(machine) = machines
            .get_opt(&machine_ref.name)
            .await
            .map_err(Error::kube("get Machine"))?
        else {
            return Ok(owners);
        };
        let machine = ctx.core.machine_view(&machine)?;
        let cluster_name = Some(machine.cluster_name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| pm.cluster_name().map(str::to_owned));
        owners.machine = Some(machine);
        let Some(cluster_name) = cluster_name else {
            return Ok(owners);
        };
        let clusters: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &ns, &ctx.core.cluster);
        let Some(cluster) = clusters
            .get_opt(&cluster_name)
            .await
            .map_err(Error::kube("get Cluster"))?
        else {
            return Ok(owners);
        };
        let cluster = ctx.core.cluster_view(&cluster)?;
        let infra = cluster
            .infrastructure_ref
            .as_ref()
            .filter(|r| r.is(capp_api::GROUP, "PacketCluster"))
            .map(|r| r.name.clone());
        owners.cluster = Some(cluster);
        let Some(infra) = infra else {
            return Ok(owners);
        };
        owners.packet_cluster = ctx
            .infra
            .get_packet_cluster(&ctx.client, &ns, &infra)
            .await?;
        Ok(owners)
    }

    /// What is still missing, for the log line while waiting.
    pub(crate) fn missing(&self) -> Option<&'static str> {
        if self.machine.is_none() {
            Some("Machine")
        } else if self.cluster.is_none() {
            Some("Cluster")
        } else if self.packet_cluster.is_none() {
            Some("PacketCluster")
        } else {
            None
        }
    }
}

/// Everything one reconcile of a PacketMachine works with.
pub(crate) struct MachineScope {
    pub(crate) packet_machine: Arc<PacketMachine>,
    pub(crate) machine: MachineView,
    pub(crate) cluster: ClusterView,
    pub(crate) packet_cluster: PacketCluster,
    pub(crate) account: Arc<Account>,
    pub(crate) view: Arc<DeviceView>,
    pub(crate) tags: MachineTags,
    /// The status being accumulated; applied once at the end of the reconcile.
    pub(crate) status: PacketMachineStatus,
    /// `spec.providerID` to write, when it changes.
    pub(crate) new_provider_id: Option<ProviderId>,
    pub(crate) now: Timestamp,
    /// Waiting for a create slot: its next reconcile reads the cached view (its device is
    /// known absent and nothing creates it meanwhile), so waiting costs no list call.
    pub(crate) waiting_for_slot: bool,
}

impl MachineScope {
    /// Builds the scope once every owner is known. The Metal account is the PacketCluster's
    /// credentials (or the manager's).
    pub(crate) async fn new(
        ctx: &Context,
        packet_machine: Arc<PacketMachine>,
        machine: MachineView,
        cluster: ClusterView,
        packet_cluster: PacketCluster,
    ) -> Result<Self> {
        let account = credentials::account(ctx, &packet_cluster).await?;
        let view = account.view(
            &packet_cluster.spec.project_id,
            &crate::tags::cluster_tag(cluster.name()),
        );
        let tags = MachineTags::new(
            &packet_machine.namespace().unwrap_or_default(),
            cluster.name(),
            machine.name(),
            packet_machine.uid().as_deref().unwrap_or_default(),
        );
        let status = packet_machine.status.clone().unwrap_or_default();
        Ok(Self {
            packet_machine,
            machine,
            cluster,
            packet_cluster,
            account,
            view,
            tags,
            status,
            new_provider_id: None,
            now: Timestamp::now(),
            waiting_for_slot: false,
        })
    }

    pub(crate) fn metal(&self) -> &dyn Metal {
        self.account.metal.as_ref()
    }

    pub(crate) fn uid(&self) -> String {
        self.packet_machine.uid().unwrap_or_default()
    }

    pub(crate) fn name(&self) -> String {
        self.packet_machine.name_any()
    }

    /// The device id from `spec.providerID` (or the one just found).
    pub(crate) fn device_id(&self) -> Option<String> {
        self.new_provider_id
            .as_ref()
            .map(ProviderId::device_id)
            .or_else(|| self.packet_machine.device_id())
            .map(str::to_owned)
    }

    /// Records the device as this machine's (sets `spec.providerID` if it differs).
    pub(crate) fn set_device(&mut self, device: &Device) -> Result<()> {
        if self.packet_machine.device_id() != Some(device.id.as_str()) {
            let id = ProviderId::new(device.id.clone()).map_err(|e| Error::Malformed {
                what: "Equinix Metal device",
                message: e.to_string(),
            })?;
            self.new_provider_id = Some(id);
        }
        Ok(())
    }

    pub(crate) fn is_control_plane(&self) -> bool {
        self.machine.control_plane
    }

    pub(crate) fn vip_manager(&self) -> VipManager {
        self.packet_cluster.spec.vip_manager
    }

    pub(crate) fn mark_false(
        &mut self,
        type_: &str,
        reason: &str,
        severity: Severity,
        message: &str,
    ) {
        let now = self.now;
        self.status
            .mark_false(type_, reason, severity, message, now);
    }

    pub(crate) fn mark_true(&mut self, type_: &str) {
        let now = self.now;
        self.status.mark_true(type_, now);
    }
}
