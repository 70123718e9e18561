//! The PacketCluster controller: the project, credentials, control plane endpoint and
//! failure domains of one Cluster API cluster.
//!
//! # Expected Flow
//! [`reconcile`] skips externally managed PacketClusters (`cluster.x-k8s.io/managed-by`)
//! without touching them; waits (with a condition) for the owner Cluster; stops at pause
//! (setting `Paused`); then adds the finalizer and runs `apply`, or on deletion the cleanup
//! followed by the finalizer's removal. `apply` resolves the
//! credentials, keeps a user-set endpoint or finds/reserves the Elastic IP, enables project
//! BGP for `KUBE_VIP`, publishes failure domains and marks the cluster provisioned. Cleanup
//! releases the Elastic IP when the reclaim policy says `Delete`.
//!
//! # Caveats
//! - `EMLB` is not supported yet: the `NetworkInfrastructureReady` condition says so.

pub(crate) mod credentials;
mod endpoint;

use std::sync::Arc;

use capi_types::conditions::{Conditions, READY, Severity};
use capp_api::cluster::{FINALIZER, VipManager};
use capp_api::conditions::{
    CREDENTIALS_AVAILABLE, LOAD_BALANCER_FAILED_REASON, NETWORK_INFRASTRUCTURE_READY,
};
use capp_api::{PacketCluster, PacketClusterStatus};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::finalizer;
use crate::requeue::{STALLED, WAIT_FOR_CREDENTIALS, WAIT_FOR_OWNER};
use crate::status::{apply_status, message_chain, patch_spec, publish, set_paused};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "packetcluster";

/// The owner Cluster is not set or not found yet.
const WAITING_FOR_CLUSTER_REASON: &str = "WaitingForCluster";

/// The Cluster a PacketCluster belongs to, as far as this controller needs it.
#[derive(Debug)]
struct Target {
    name: String,
    /// The Cluster is paused or the PacketCluster has the paused annotation.
    paused: bool,
}

/// Reconciles one PacketCluster.
#[tracing::instrument(skip_all, fields(PacketCluster = %pc.name_any(), namespace = pc.namespace().unwrap_or_default()))]
pub async fn reconcile(pc: Arc<PacketCluster>, ctx: Arc<Context>) -> Result<Action> {
    crate::status::instrumented(
        &ctx,
        CONTROLLER,
        pc.uid(),
        // Boxed: the reconcile's state machine is ~30 KiB, too large to move by value.
        Box::pin(reconcile_inner(pc.clone(), &ctx)),
    )
    .await
}

async fn reconcile_inner(pc: Arc<PacketCluster>, ctx: &Context) -> Result<Action> {
    if capi_types::predicates::is_externally_managed(pc.as_ref()) {
        tracing::debug!("PacketCluster is externally managed, skipping");
        return Ok(Action::requeue(ctx.config.sync_period));
    }
    let ns = pc.namespace().unwrap_or_default();
    let cluster: Option<Target> = match capi_types::owner::owner_cluster(pc.as_ref()) {
        Ok(Some(owner)) => {
            let clusters: Api<DynamicObject> =
                Api::namespaced_with(ctx.client.clone(), &ns, &ctx.core.cluster);
            clusters
                .get_opt(&owner.name)
                .await
                .map_err(Error::kube("get Cluster"))?
                .map(|c| ctx.core.cluster_view(&c))
                .transpose()?
                .map(|c| Target {
                    name: c.name().to_owned(),
                    paused: c.pauses(pc.as_ref()),
                })
        }
        Ok(None) => None,
        Err(e) => {
            return Err(Error::Malformed {
                what: "PacketCluster ownerReferences",
                message: e.to_string(),
            });
        }
    };
    // During deletion the Cluster may be gone already; its name is still on the label.
    let cluster = cluster.or_else(|| {
        pc.metadata.deletion_timestamp.as_ref()?;
        pc.cluster_name().map(|name| Target {
            name: name.to_owned(),
            paused: false,
        })
    });
    let Some(cluster) = cluster else {
        if pc.metadata.deletion_timestamp.is_some() {
            // No Cluster name at all: nothing of ours can be found, let it go.
            if finalizer::has(pc.as_ref(), FINALIZER) {
                finalizer::remove(ctx, pc.as_ref(), FINALIZER).await?;
            }
            return Ok(Action::await_change());
        }
        tracing::info!("Waiting for the owner Cluster");
        let mut status = pc.status.clone().unwrap_or_default();
        let now = Timestamp::now();
        status.mark_false(
            READY,
            WAITING_FOR_CLUSTER_REASON,
            Severity::Info,
            "waiting for the Cluster controller to set the owner reference",
            now,
        );
        apply_status(ctx, pc.as_ref(), &status).await?;
        return Ok(ctx.requeue(WAIT_FOR_OWNER));
    };
    if cluster.paused {
        let mut status = pc.status.clone().unwrap_or_default();
        let message = if capi_types::predicates::has_paused_annotation(pc.as_ref()) {
            "PacketCluster has the cluster.x-k8s.io/paused annotation"
        } else {
            "Cluster spec.paused is set to true"
        };
        set_paused(&mut status, Some(message), Timestamp::now());
        apply_status(ctx, pc.as_ref(), &status).await?;
        tracing::info!(reason = message, "Reconciliation is paused");
        return Ok(ctx.requeue(STALLED));
    }
    if pc.metadata.deletion_timestamp.is_some() {
        if !finalizer::has(pc.as_ref(), FINALIZER) {
            return Ok(Action::await_change());
        }
        cleanup(ctx, &pc, &cluster).await?;
        finalizer::remove(ctx, pc.as_ref(), FINALIZER).await?;
        return Ok(Action::await_change());
    }
    if !finalizer::has(pc.as_ref(), FINALIZER) {
        finalizer::add(ctx, pc.as_ref(), FINALIZER).await?;
    }
    apply(ctx, &pc, &cluster).await
}

async fn apply(ctx: &Context, pc: &PacketCluster, cluster: &Target) -> Result<Action> {
    let now = Timestamp::now();
    let mut status = pc.status.clone().unwrap_or_default();
    set_paused(&mut status, None, now);
    let outcome = phases(ctx, pc, cluster, &mut status, now).await;
    if let Err(e) = &outcome {
        let message = message_chain(e);
        let severity = if e.is_terminal() {
            Severity::Error
        } else {
            Severity::Warning
        };
        let type_ = if matches!(e, Error::Credentials { .. })
            || e.reason() == capp_api::conditions::CREDENTIALS_INVALID_REASON
        {
            CREDENTIALS_AVAILABLE
        } else {
            NETWORK_INFRASTRUCTURE_READY
        };
        status.mark_false(type_, e.reason(), severity, &message, now);
        publish(
            ctx,
            pc,
            EventType::Warning,
            e.reason(),
            "Reconcile",
            message,
        )
        .await;
    }
    status.set_summary_of(&[CREDENTIALS_AVAILABLE, NETWORK_INFRASTRUCTURE_READY], now);
    apply_status(ctx, pc, &status).await?;
    match outcome {
        Err(Error::Credentials { .. }) => Ok(ctx.requeue(WAIT_FOR_CREDENTIALS)),
        other => other,
    }
}

async fn phases(
    ctx: &Context,
    pc: &PacketCluster,
    cluster: &Target,
    status: &mut PacketClusterStatus,
    now: Timestamp,
) -> Result<Action> {
    check_failure_domains(pc)?;
    let account = credentials::account(ctx, pc).await?;
    status.mark_true(CREDENTIALS_AVAILABLE, now);
    if pc.spec.vip_manager == VipManager::Emlb && pc.control_plane_endpoint().is_none() {
        status.mark_false(
            NETWORK_INFRASTRUCTURE_READY,
            LOAD_BALANCER_FAILED_REASON,
            Severity::Error,
            "vipManager EMLB is not supported yet; use CPEM or KUBE_VIP, or set spec.controlPlaneEndpoint",
            now,
        );
        return Ok(ctx.requeue(STALLED));
    }
    let metal = account.metal.as_ref();
    if pc.control_plane_endpoint().is_none() {
        let host = endpoint::ensure_elastic_ip(metal, pc, &cluster.name).await?;
        patch_spec(
            ctx,
            pc,
            serde_json::json!({"controlPlaneEndpoint": {"host": host, "port": endpoint::API_SERVER_PORT}}),
        )
        .await?;
        publish(
            ctx,
            pc,
            EventType::Normal,
            "ControlPlaneEndpointSet",
            "Reconcile",
            format!(
                "control plane endpoint {host}:{}",
                endpoint::API_SERVER_PORT
            ),
        )
        .await;
    }
    if pc.spec.vip_manager == VipManager::KubeVip && !status.is_true(NETWORK_INFRASTRUCTURE_READY) {
        endpoint::ensure_bgp(metal, &pc.spec.project_id, ctx.config.bgp_local_asn).await?;
    }
    status.mark_true(NETWORK_INFRASTRUCTURE_READY, now);
    let domains = pc.spec.desired_failure_domains();
    status.failure_domains = (!domains.is_empty()).then_some(domains);
    status.set_provisioned(true);
    Ok(Action::requeue(ctx.config.sync_period))
}

/// Every `spec.failureDomains` entry needs a name: the v1beta2 failure domain list (and
/// Cluster API) refuse an empty one, and no device can be placed in it.
fn check_failure_domains(pc: &PacketCluster) -> Result<()> {
    let domains = pc.spec.failure_domains.as_deref().unwrap_or_default();
    match domains.iter().position(|d| d.name.trim().is_empty()) {
        Some(index) => Err(Error::InvalidSpec {
            field: "spec.failureDomains",
            message: format!(
                "entry {index} has an empty name; set it to a metro code (e.g. da) or remove the entry"
            ),
        }),
        None => Ok(()),
    }
}

async fn cleanup(ctx: &Context, pc: &PacketCluster, cluster: &Target) -> Result<()> {
    let account = match credentials::account(ctx, pc).await {
        Ok(account) => account,
        Err(e) => {
            // Without credentials nothing can be released; the condition says why.
            let now = Timestamp::now();
            let mut status = pc.status.clone().unwrap_or_default();
            status.mark_false(
                CREDENTIALS_AVAILABLE,
                e.reason(),
                Severity::Warning,
                &message_chain(&e),
                now,
            );
            apply_status(ctx, pc, &status).await?;
            return Err(e);
        }
    };
    endpoint::release_elastic_ip(account.metal.as_ref(), pc, &cluster.name).await
}

/// Per-object capped exponential backoff; terminal errors retry slowly.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run expects"
)]
pub fn error_policy(pc: Arc<PacketCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed(CONTROLLER, error.reason());
    let uid = pc.uid().unwrap_or_default();
    let wait = ctx
        .backoff
        .next(&uid, error.is_terminal(), error.retry_after());
    tracing::warn!(PacketCluster = %pc.name_any(), reason = error.reason(), error = %message_chain(error), ?wait, "Reconcile failed");
    ctx.requeue(wait)
}
