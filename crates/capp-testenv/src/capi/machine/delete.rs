//! Machine deletion (`reconcileDelete` of the Machine controller): delete hooks, the
//! infrastructure machine, the bootstrap config, then the workload Node.

use capi_types::cluster::Cluster;
use capi_types::conditions::{
    BOOTSTRAP_READY, Conditions as _, DELETED_REASON, INFRASTRUCTURE_READY, MACHINE_NODE_HEALTHY,
    Severity,
};
use capi_types::labels::{
    MACHINE_FINALIZER, PRE_DRAIN_DELETE_HOOK_ANNOTATION_PREFIX,
    PRE_TERMINATE_DELETE_HOOK_ANNOTATION_PREFIX,
};
use capi_types::machine::{Machine, MachineDeletionStatus};
use kube::ResourceExt as _;

use super::super::object::{key, meta_now, now, remove_finalizer};
use super::super::workload;
use super::super::{Context, Error};
use super::{
    DEFAULT_NODE_DELETION_TIMEOUT, DRAINING_SUCCEEDED, EXCLUDE_NODE_DRAINING_ANNOTATION,
    PRE_DRAIN_DELETE_HOOK_SUCCEEDED, PRE_TERMINATE_DELETE_HOOK_SUCCEEDED, Scope,
    VOLUME_DETACH_SUCCEEDED, active_control_plane_machines, node_reference, status,
};

/// `isDeleteNodeAllowed`: the Node is deleted unless the Cluster is being deleted, the Machine
/// has no Node, or no control plane Machine would remain.
async fn is_delete_node_allowed(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    scope: &Scope,
) -> Result<bool, Error> {
    if cluster.metadata.deletion_timestamp.is_some() {
        return Ok(false);
    }
    let provider_id = match m.spec.provider_id.clone() {
        Some(id) => Some(id),
        None => match &scope.infra {
            Some(infra) => infra.string_field(&["spec", "providerID"])?,
            None => None,
        },
    }
    .filter(|id| !id.is_empty());
    if m.status.as_ref().is_none_or(|s| s.node_ref.is_none())
        && let Some(provider_id) = provider_id
    {
        let namespace = cluster.namespace().unwrap_or_default();
        if let Ok(Some(client)) = ctx
            .workload
            .client(&ctx.client, &namespace, &cluster.name_any())
            .await
            && let Ok(Some(node)) =
                workload::node_by_provider_id(&client, &key(cluster), &provider_id).await
        {
            status(m).node_ref = Some(node_reference(&node));
        }
    }
    if m.status.as_ref().is_none_or(|s| s.node_ref.is_none()) {
        return Ok(false);
    }
    // collections.ActiveMachines filtered by ControlPlaneMachines: none left means the control
    // plane is gone and the Node cannot (and need not) be deleted.
    let control_plane = active_control_plane_machines(ctx, cluster).await?;
    Ok(control_plane > 0)
}

/// Sorted annotation keys with `prefix` (the delete hooks).
fn hooks(m: &Machine, prefix: &str) -> Vec<String> {
    let mut hooks: Vec<String> = m
        .annotations()
        .keys()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect();
    hooks.sort();
    hooks
}

/// `reconcileDelete`: pre-drain hooks, (drain and volume detach are not emulated: they
/// succeed at once), pre-terminate hooks, delete the infrastructure machine, then the bootstrap
/// config, waiting for each to be gone, then the Node (best effort within
/// `nodeDeletionTimeout`), then remove the finalizer.
pub(super) async fn reconcile_delete(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    scope: &Scope,
) -> Result<(), Error> {
    let now = now();
    let delete_node_allowed = is_delete_node_allowed(ctx, cluster, m, scope).await?;
    if !pre_terminate(m, delete_node_allowed, now) {
        return Ok(());
    }
    // reconcileDeleteInfrastructure, then reconcileDeleteBootstrap.
    match &scope.infra {
        None if scope.infra_not_found => {
            status(m).mark_false(
                INFRASTRUCTURE_READY,
                DELETED_REASON,
                Severity::Info,
                "",
                now,
            );
        }
        Some(infra) => {
            if !infra.is_deleting() {
                infra.delete().await?;
            }
            return Ok(());
        }
        None => return Ok(()),
    }
    if m.spec.bootstrap.config_ref.is_some() {
        match &scope.bootstrap {
            None if scope.bootstrap_not_found => {
                status(m).mark_false(BOOTSTRAP_READY, DELETED_REASON, Severity::Info, "", now);
            }
            Some(bootstrap) => {
                if !bootstrap.is_deleting() {
                    bootstrap.delete().await?;
                }
                return Ok(());
            }
            None => return Ok(()),
        }
    }
    if delete_node_allowed {
        delete_node(ctx, cluster, m, now).await?;
    }
    remove_finalizer(&mut m.metadata, MACHINE_FINALIZER);
    Ok(())
}

/// The steps of `reconcileDelete` before the infrastructure is deleted: pre-drain hooks,
/// drain and volume detach (not emulated: they succeed at once) when the Node may be deleted,
/// then pre-terminate hooks. Returns whether deletion may proceed.
fn pre_terminate(m: &mut Machine, delete_node_allowed: bool, now: jiff::Timestamp) -> bool {
    let waiting_hook = |m: &mut Machine, condition: &str| {
        status(m).mark_false(condition, "WaitingExternalHook", Severity::Info, "", now);
        false
    };
    if delete_node_allowed {
        if !hooks(m, PRE_DRAIN_DELETE_HOOK_ANNOTATION_PREFIX).is_empty() {
            return waiting_hook(m, PRE_DRAIN_DELETE_HOOK_SUCCEEDED);
        }
        status(m).mark_true(PRE_DRAIN_DELETE_HOOK_SUCCEEDED, now);
        // isNodeDrainAllowed: unless excluded (the drain timeout is not emulated).
        let drain = !m
            .annotations()
            .contains_key(EXCLUDE_NODE_DRAINING_ANNOTATION);
        let status = status(m);
        let deletion = status
            .deletion
            .get_or_insert_with(MachineDeletionStatus::default);
        if drain {
            deletion.node_drain_start_time.get_or_insert_with(meta_now);
        }
        deletion
            .wait_for_node_volume_detach_start_time
            .get_or_insert_with(meta_now);
        if drain {
            status.mark_true(DRAINING_SUCCEEDED, now);
        }
        status.mark_true(VOLUME_DETACH_SUCCEEDED, now);
    }
    if !hooks(m, PRE_TERMINATE_DELETE_HOOK_ANNOTATION_PREFIX).is_empty() {
        return waiting_hook(m, PRE_TERMINATE_DELETE_HOOK_SUCCEEDED);
    }
    status(m).mark_true(PRE_TERMINATE_DELETE_HOOK_SUCCEEDED, now);
    true
}

/// Deletes the Machine's Node in the workload cluster (`deleteNode`); a failure is returned
/// (and retried) until `nodeDeletionTimeout` has passed, then ignored.
async fn delete_node(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    now: jiff::Timestamp,
) -> Result<(), Error> {
    let Some(node_name) = m
        .status
        .as_ref()
        .and_then(|s| s.node_ref.as_ref())
        .and_then(|r| r.name.clone())
    else {
        return Ok(());
    };
    let namespace = cluster.namespace().unwrap_or_default();
    let result = match ctx
        .workload
        .client(&ctx.client, &namespace, &cluster.name_any())
        .await?
    {
        Some(client) => workload::delete_node(&client, &key(cluster), &node_name).await,
        None => Err(Error::Invalid(format!(
            "failed deleting Node {node_name} because the workload cluster {} has no kubeconfig Secret",
            key(cluster)
        ))),
    };
    if let Err(error) = result {
        status(m).mark_false(
            MACHINE_NODE_HEALTHY,
            capi_types::conditions::DELETION_FAILED_REASON,
            Severity::Warning,
            "",
            now,
        );
        if !node_deletion_timed_out(m) {
            return Err(error);
        }
    }
    Ok(())
}

/// Whether `nodeDeletionTimeout` (0 = forever) has passed since the deletion started.
fn node_deletion_timed_out(m: &Machine) -> bool {
    let timeout = m
        .spec
        .node_deletion_timeout
        .as_deref()
        .unwrap_or(DEFAULT_NODE_DELETION_TIMEOUT)
        .parse::<jiff::SignedDuration>()
        .unwrap_or(jiff::SignedDuration::from_secs(10));
    if timeout.is_zero() {
        return false;
    }
    m.metadata
        .deletion_timestamp
        .as_ref()
        .is_some_and(|t| t.0 + timeout < now())
}
