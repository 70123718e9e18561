//! Userdata from bootstrap data, rendered as the Go provider rendered it.
//!
//! The Go provider passed bootstrap data through Go's `text/template` with
//! `.kubernetesVersion`, `.controlPlaneEndpoint`, `.cpemConfig`, `.emlbID` and `.apiKey`
//! ([`capp_bootstrap::go_template`] implements exactly that subset); templates written for it
//! keep working here. `.apiKey` (the Metal API token) is substituted only when the manager
//! runs with [`API_KEY_FLAG`]; without it the machine's condition names the flag.

use capp_api::cluster::{LOAD_BALANCER_ID_ANNOTATION, VipManager};
use capp_bootstrap::go_template::{GoMachineInputs, GoTemplateValues, render_go_template};

use super::scope::MachineScope;
use crate::context::Context;
use crate::error::{Error, Result};

/// The manager flag that lets `{{ .apiKey }}` render the Metal API token into userdata.
pub const API_KEY_FLAG: &str = "--metal-api-key-in-userdata";

/// The template values for this machine, as the Go provider's `NewDevice` set them.
fn values(ctx: &Context, scope: &MachineScope) -> GoTemplateValues {
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
        });
    let emlb = scope.vip_manager() == VipManager::Emlb;
    let cpem_config = emlb.then(|| {
        format!(
            "emlb:///{}",
            scope
                .packet_cluster
                .spec
                .metro
                .as_deref()
                .unwrap_or_default()
        )
    });
    let emlb_id = scope
        .packet_cluster
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LOAD_BALANCER_ID_ANNOTATION))
        .filter(|_| emlb)
        .cloned();
    GoTemplateValues::for_machine(&GoMachineInputs {
        control_plane: scope.is_control_plane(),
        kubernetes_version: scope.machine.kubernetes_version.as_deref(),
        control_plane_endpoint: endpoint.as_deref(),
        cpem_config: cpem_config.as_deref(),
        emlb_id: emlb_id.as_deref(),
        api_key_opt_in: ctx.api_key_opt_in.as_ref(),
    })
}

/// Renders `text` (the Secret `name`'s `value`) into userdata.
pub(crate) fn render(
    ctx: &Context,
    scope: &MachineScope,
    name: &str,
    text: &str,
) -> Result<String> {
    render_go_template(text, &values(ctx, scope)).map_err(|source| match source {
        capp_bootstrap::Error::GoTemplateApiKeyRefused { .. } => Error::ApiKeyRefused {
            name: name.to_owned(),
            flag: API_KEY_FLAG,
        },
        other => Error::Template {
            name: name.to_owned(),
            source: Box::new(other),
        },
    })
}
