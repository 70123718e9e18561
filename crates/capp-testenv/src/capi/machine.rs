//! The emulated Machine controller (`internal/controllers/machine`): ownership and labels of
//! the bootstrap and infrastructure objects, `dataSecretName` and `providerID` propagation,
//! the Node reference from the workload cluster, phases and the deletion order.

use std::fmt::Write as _;
use std::sync::Arc;

use capi_types::cluster::Cluster;
use capi_types::common::ObjectReference;
use capi_types::conditions::{
    BOOTSTRAP_READY, Conditions as _, DELETING_REASON, INFRASTRUCTURE_READY, MACHINE_NODE_HEALTHY,
    READY, STATUS_TRUE, Severity, WAITING_FOR_DATA_SECRET_REASON,
    WAITING_FOR_INFRASTRUCTURE_REASON,
};
use capi_types::labels::{
    CLUSTER_NAME_LABEL, MACHINE_CONTROL_PLANE_NAME_LABEL, MACHINE_FINALIZER,
    MACHINE_POOL_NAME_LABEL, MACHINE_SET_NAME_LABEL,
};
use capi_types::machine::{Machine, MachineStatus};
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use kube::runtime::controller::{Action, Controller};

use super::external::{External, set_mirror};
use super::object::{
    controller_ref, ensure_finalizer, group_of, has_core_owner, has_exact_owner_ref, key, kube_err,
    meta_now, now, owner_ref, persist, set_controller_reference,
};
use super::workload::{self, patch_node};

mod delete;
use super::{Context, Error, run_controller, watch_config};

/// Condition: the pre-drain delete hooks succeeded.
const PRE_DRAIN_DELETE_HOOK_SUCCEEDED: &str = "PreDrainDeleteHookSucceeded";
/// Condition: the pre-terminate delete hooks succeeded.
const PRE_TERMINATE_DELETE_HOOK_SUCCEEDED: &str = "PreTerminateDeleteHookSucceeded";
/// Condition: draining the Node succeeded.
const DRAINING_SUCCEEDED: &str = "DrainingSucceeded";
/// Condition: the Node's volumes are detached.
const VOLUME_DETACH_SUCCEEDED: &str = "VolumeDetachSucceeded";
/// Condition types summarised into `Ready` (`patchMachine`).
const SUMMARY: [&str; 5] = [
    INFRASTRUCTURE_READY,
    BOOTSTRAP_READY,
    "HealthCheckSucceeded",
    "OwnerRemediated",
    DRAINING_SUCCEEDED,
];
/// Annotation excluding a Machine's Node from draining.
const EXCLUDE_NODE_DRAINING_ANNOTATION: &str = "machine.cluster.x-k8s.io/exclude-node-draining";
/// Default `nodeDeletionTimeout` of the Machine webhook.
const DEFAULT_NODE_DELETION_TIMEOUT: &str = "10s";

/// Runs the controller until aborted.
pub(super) async fn run(ctx: Arc<Context>) {
    let api: Api<Machine> = Api::all(ctx.client.clone());
    run_controller(Controller::new(api, watch_config()), ctx, reconcile).await;
}

/// What one pass found (CAPI's machine `scope`).
#[derive(Debug, Default)]
struct Scope {
    bootstrap: Option<External>,
    bootstrap_not_found: bool,
    infra: Option<External>,
    infra_not_found: bool,
}

/// The status of `m`, created when missing.
fn status(m: &mut Machine) -> &mut MachineStatus {
    m.status.get_or_insert_with(MachineStatus::default)
}

/// Fetches the Machine's Cluster (`util.GetClusterByName`).
pub(super) async fn get_cluster(
    ctx: &Context,
    namespace: &str,
    name: &str,
    field: &str,
) -> Result<Cluster, Error> {
    if name.is_empty() {
        return Err(Error::Invalid(format!(
            "{field} is empty: set it to the name of the Cluster in namespace {namespace}"
        )));
    }
    let api: Api<Cluster> = Api::namespaced(ctx.client.clone(), namespace);
    api.get_opt(name)
        .await
        .map_err(kube_err(format!("get Cluster {namespace}/{name}")))?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "Cluster {namespace}/{name} (from {field}) does not exist: create it or fix {field}"
            ))
        })
}

async fn reconcile(machine: Arc<Machine>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = machine.namespace().unwrap_or_default();
    let api: Api<Machine> = Api::namespaced(ctx.client.clone(), &namespace);
    let poll = Action::requeue(ctx.options.poll_interval);
    // Reconcile: "Add finalizer first if not set to avoid the race condition between init and
    // delete."
    if ensure_finalizer(&api, &machine, MACHINE_FINALIZER).await? {
        return Ok(poll);
    }
    let cluster = get_cluster(
        &ctx,
        &namespace,
        &machine.spec.cluster_name,
        "spec.clusterName",
    )
    .await?;
    // paused.EnsurePausedCondition: a paused Cluster or Machine is left alone.
    if capi_types::is_paused(&cluster, machine.as_ref()) {
        return Ok(poll);
    }
    let original = (*machine).clone();
    let mut m = original.clone();
    default_machine(&mut m);
    let mut scope = Scope::default();
    let deleting = m.metadata.deletion_timestamp.is_some();
    // Reconcile's `alwaysReconcile` phases, then `reconcileDelete` when deleting; like
    // `doReconcile`, every phase runs and the first error is returned.
    let mut outcome = Ok(());
    reconcile_owner_and_labels(&cluster, &mut m);
    for result in [
        reconcile_bootstrap(&ctx, &cluster, &mut m, &mut scope).await,
        reconcile_infrastructure(&ctx, &cluster, &mut m, &mut scope).await,
        reconcile_node(&ctx, &cluster, &mut m, &scope).await,
    ] {
        if outcome.is_ok() {
            outcome = result;
        }
    }
    if deleting {
        let result = delete::reconcile_delete(&ctx, &cluster, &mut m, &scope).await;
        if outcome.is_ok() {
            outcome = result;
        }
    }
    // The deferred `updateStatus` (phase) and `patchMachine` (Ready summary).
    set_phase_and_last_updated(&mut m);
    set_summary(&mut m);
    if outcome.is_ok() {
        status(&mut m).observed_generation = m.metadata.generation;
    }
    persist(&api, &original, &m).await?;
    outcome.map(|()| poll)
}

/// The Machine webhook's defaulting (`webhooks.Machine.Default`), which no webhook applies
/// here.
fn default_machine(m: &mut Machine) {
    let namespace = m.namespace().unwrap_or_default();
    let cluster_name = m.spec.cluster_name.clone();
    m.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
    if let Some(config_ref) = m.spec.bootstrap.config_ref.as_mut()
        && config_ref.namespace.as_deref().is_none_or(str::is_empty)
    {
        config_ref.namespace = Some(namespace.clone());
    }
    if m.spec
        .infrastructure_ref
        .namespace
        .as_deref()
        .is_none_or(str::is_empty)
    {
        m.spec.infrastructure_ref.namespace = Some(namespace);
    }
    if let Some(version) = m.spec.version.as_mut()
        && !version.starts_with('v')
    {
        *version = format!("v{version}");
    }
    if m.spec.node_deletion_timeout.is_none() {
        m.spec.node_deletion_timeout = Some(DEFAULT_NODE_DELETION_TIMEOUT.to_owned());
    }
}

/// `reconcileMachineOwnerAndLabels`: stand-alone Machines are owned by their Cluster; every
/// Machine has the cluster-name label.
fn reconcile_owner_and_labels(cluster: &Cluster, m: &mut Machine) {
    // shouldAdopt: not when a controller, a Cluster owner or a MachineSet, MachinePool or
    // control plane label says someone else manages the Machine.
    let labels = m.labels();
    let should_adopt = super::object::controller_of(&m.metadata).is_none()
        && !has_core_owner(&m.metadata, &["Cluster"])
        && ![
            MACHINE_SET_NAME_LABEL,
            MACHINE_POOL_NAME_LABEL,
            MACHINE_CONTROL_PLANE_NAME_LABEL,
        ]
        .iter()
        .any(|l| labels.contains_key(*l));
    if should_adopt {
        let refs = m.metadata.owner_references.get_or_insert_with(Vec::new);
        super::object::ensure_owner_ref(refs, owner_ref(cluster));
    }
    let cluster_name = m.spec.cluster_name.clone();
    m.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
}

/// `reconcileExternal` + `ensureExternalOwnershipAndWatch`: reads the referenced object, makes
/// the Machine its controller (dropping the MachineSet or control plane owner it was created
/// with, `removeOnCreateOwnerRefs`), labels it with the cluster name and copies its failure
/// fields to the Machine.
async fn reconcile_external(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    reference: &ObjectReference,
    field: &str,
) -> Result<Option<External>, Error> {
    let namespace = m.namespace().unwrap_or_default();
    let Some(mut ext) = super::external::get(ctx, reference, &namespace, field).await? else {
        return Ok(None);
    };
    let desired = controller_ref(&*m);
    let control_plane = cluster.spec.control_plane_ref.as_ref().map(|r| {
        (
            group_of(r.api_version.as_deref().unwrap_or_default()).to_owned(),
            r.kind.clone().unwrap_or_default(),
        )
    });
    let is_on_create_owner =
        |r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference| {
            let group = group_of(&r.api_version);
            (group == capi_types::labels::GROUP && r.kind == "MachineSet")
                || control_plane
                    .as_ref()
                    .is_some_and(|(g, k)| g == group && *k == r.kind)
        };
    let refs = ext
        .obj
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    let mut labels = ext.obj.metadata.labels.clone().unwrap_or_default();
    let up_to_date = !refs.iter().any(is_on_create_owner)
        && has_exact_owner_ref(&refs, &desired)
        && labels.get(CLUSTER_NAME_LABEL) == Some(&m.spec.cluster_name);
    if !up_to_date {
        let mut new_refs: Vec<_> = refs
            .into_iter()
            .filter(|r| !is_on_create_owner(r))
            .collect();
        set_controller_reference(&mut new_refs, desired, &ext.describe())?;
        labels.insert(CLUSTER_NAME_LABEL.to_owned(), m.spec.cluster_name.clone());
        ext.patch_metadata(&new_refs, &labels).await?;
    }
    let (reason, message) = ext.failures()?;
    if let Some(reason) = reason {
        status(m).failure_reason = Some(reason);
    }
    if let Some(message) = message {
        let gvk = format!(
            "{}, Kind={}",
            ext.obj
                .types
                .as_ref()
                .map(|t| t.api_version.as_str())
                .unwrap_or_default(),
            ext.kind()
        );
        let name = ext.obj.metadata.name.clone().unwrap_or_default();
        status(m).failure_message = Some(format!(
            "Failure detected from referenced resource {gvk} with name {name:?}: {message}"
        ));
    }
    Ok(Some(ext))
}

/// `reconcileBootstrap`: mirrors the bootstrap config's readiness and copies its
/// `status.dataSecretName` to `spec.bootstrap.dataSecretName`.
async fn reconcile_bootstrap(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    scope: &mut Scope,
) -> Result<(), Error> {
    let Some(config_ref) = m.spec.bootstrap.config_ref.clone() else {
        return Ok(());
    };
    let Some(ext) =
        reconcile_external(ctx, cluster, m, &config_ref, "spec.bootstrap.configRef").await?
    else {
        // Not found: requeue (the poll) unless deleting.
        scope.bootstrap_not_found = true;
        return Ok(());
    };
    scope.bootstrap = Some(ext.clone());
    let now = now();
    if m.spec.bootstrap.data_secret_name.is_some() {
        let status = status(m);
        status.bootstrap_ready = Some(true);
        status.mark_true(BOOTSTRAP_READY, now);
        return Ok(());
    }
    let ready = ext.is_ready("dataSecretCreated")?;
    let fallback = if m.metadata.deletion_timestamp.is_some() {
        DELETING_REASON
    } else {
        WAITING_FOR_DATA_SECRET_REASON
    };
    set_mirror(status(m), BOOTSTRAP_READY, &ext, ready, fallback, now);
    if ext.is_deleting() || !ready {
        return Ok(());
    }
    let secret_name = ext
        .string_field(&["status", "dataSecretName"])?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "retrieved empty dataSecretName from bootstrap provider for Machine {}: {} reports ready without status.dataSecretName",
                key(m),
                ext.describe()
            ))
        })?;
    m.spec.bootstrap.data_secret_name = Some(secret_name);
    status(m).bootstrap_ready = Some(true);
    Ok(())
}

/// `reconcileInfrastructure`: mirrors the infrastructure machine's readiness and, once ready,
/// copies `spec.providerID`, `status.addresses` and `spec.failureDomain` to the Machine.
async fn reconcile_infrastructure(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    scope: &mut Scope,
) -> Result<(), Error> {
    let infra_ref = m.spec.infrastructure_ref.clone();
    let deleting = m.metadata.deletion_timestamp.is_some();
    let Some(ext) =
        reconcile_external(ctx, cluster, m, &infra_ref, "spec.infrastructureRef").await?
    else {
        scope.infra_not_found = true;
        let was_ready = m.status.as_ref().and_then(|s| s.infrastructure_ready) == Some(true);
        if !deleting && was_ready {
            let kind = infra_ref.kind.clone().unwrap_or_default();
            let name = infra_ref.name.clone().unwrap_or_default();
            let status = status(m);
            status.failure_reason = Some("InvalidConfiguration".to_owned());
            status.failure_message = Some(format!(
                "Machine infrastructure resource {kind} with name {name:?} has been deleted after being ready"
            ));
            return Err(Error::Invalid(format!(
                "could not find {kind} {name:?} for Machine {}: it was deleted after being ready",
                key(m)
            )));
        }
        return Ok(());
    };
    scope.infra = Some(ext.clone());
    let ready = ext.is_ready("provisioned")?;
    let fallback = if deleting {
        DELETING_REASON
    } else {
        WAITING_FOR_INFRASTRUCTURE_REASON
    };
    set_mirror(
        status(m),
        INFRASTRUCTURE_READY,
        &ext,
        ready,
        fallback,
        now(),
    );
    let was_ready = m.status.as_ref().and_then(|s| s.infrastructure_ready) == Some(true);
    if ext.is_deleting() || (!ready && !was_ready) {
        return Ok(());
    }
    let provider_id = ext
        .string_field(&["spec", "providerID"])?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "retrieved empty spec.providerID from infrastructure provider for Machine {}: {} reports ready without spec.providerID",
                key(m),
                ext.describe()
            ))
        })?;
    if let Some(addresses) = ext.typed_field(&["status", "addresses"])? {
        status(m).addresses = addresses;
    }
    if let Some(failure_domain) = ext.string_field(&["spec", "failureDomain"])? {
        m.spec.failure_domain = Some(failure_domain);
    }
    m.spec.provider_id = Some(provider_id);
    status(m).infrastructure_ready = Some(true);
    Ok(())
}

/// `reconcileNode`: finds the workload Node by providerID, sets `status.nodeRef` and
/// `status.nodeInfo`, syncs the Node's bookkeeping metadata and sets `NodeHealthy`.
async fn reconcile_node(
    ctx: &Context,
    cluster: &Cluster,
    m: &mut Machine,
    scope: &Scope,
) -> Result<(), Error> {
    let now = now();
    let Some(provider_id) = m.spec.provider_id.clone().filter(|p| !p.is_empty()) else {
        status(m).mark_false(
            MACHINE_NODE_HEALTHY,
            "WaitingForNodeRef",
            Severity::Info,
            "",
            now,
        );
        return Ok(());
    };
    let cluster_key = key(cluster);
    let namespace = cluster.namespace().unwrap_or_default();
    // ClusterCache.GetClient: no kubeconfig yet means the workload cluster is not reachable.
    let Some(client) = ctx
        .workload
        .client(&ctx.client, &namespace, &cluster.name_any())
        .await?
    else {
        return Ok(());
    };
    let Some(node) = workload::node_by_provider_id(&client, &cluster_key, &provider_id).await?
    else {
        if m.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        if m.status.as_ref().is_some_and(|s| s.node_ref.is_some()) {
            status(m).mark_false(
                MACHINE_NODE_HEALTHY,
                "NodeNotFound",
                Severity::Error,
                "",
                now,
            );
            return Err(Error::Invalid(format!(
                "no matching Node for Machine {} (providerID {provider_id}) in the workload cluster {cluster_key}",
                key(m)
            )));
        }
        status(m).mark_false(
            MACHINE_NODE_HEALTHY,
            "NodeProvisioning",
            Severity::Warning,
            "Waiting for a node with matching ProviderID to exist",
            now,
        );
        return Ok(());
    };
    let status_ref = status(m);
    if status_ref.node_ref.is_none() {
        status_ref.node_ref = Some(node_reference(&node));
    }
    if let Some(info) = node.status.as_ref().and_then(|s| s.node_info.as_ref()) {
        status_ref.node_info = serde_json::to_value(info)
            .and_then(serde_json::from_value)
            .ok();
    }
    patch_node(&client, &cluster_key, &node, m).await?;
    if scope.infra.as_ref().is_none_or(External::is_deleting) {
        status(m).mark_false(
            MACHINE_NODE_HEALTHY,
            DELETING_REASON,
            Severity::Info,
            "",
            now,
        );
        return Ok(());
    }
    let (node_status, message) = summarize_node_conditions(&node);
    let status = status(m);
    match node_status {
        NodeStatus::False => {
            status.mark_false(
                MACHINE_NODE_HEALTHY,
                "NodeConditionsFailed",
                Severity::Warning,
                &message,
                now,
            );
        }
        NodeStatus::Unknown => {
            status.mark_unknown(MACHINE_NODE_HEALTHY, "NodeConditionsFailed", &message, now);
        }
        NodeStatus::True => {
            status.mark_true(MACHINE_NODE_HEALTHY, now);
        }
    }
    Ok(())
}

/// The `nodeRef` of a Node (`corev1.ObjectReference{APIVersion: v1, Kind: Node, Name, UID}`).
fn node_reference(node: &k8s_openapi::api::core::v1::Node) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Node".to_owned()),
        name: node.metadata.name.clone(),
        uid: node.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// The summarised health of a Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeStatus {
    True,
    False,
    Unknown,
}

/// `summarizeNodeConditions`: `Ready` must be True and the pressure conditions False.
fn summarize_node_conditions(node: &k8s_openapi::api::core::v1::Node) -> (NodeStatus, String) {
    let mut semantically_false = 0;
    let mut unknown = 0;
    let mut message = String::new();
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    for condition in conditions {
        let healthy = match condition.type_.as_str() {
            "MemoryPressure" | "DiskPressure" | "PIDPressure" => "False",
            "Ready" => "True",
            _ => continue,
        };
        if condition.status != healthy {
            let _ = write!(
                message,
                "Node condition {} is {}. ",
                condition.type_, condition.status
            );
            if condition.status == "Unknown" {
                unknown += 1;
            } else {
                semantically_false += 1;
            }
        }
    }
    let message = message.strip_suffix(". ").unwrap_or(&message).to_owned();
    if semantically_false > 0 {
        (NodeStatus::False, message)
    } else if semantically_false + unknown < 4 {
        (NodeStatus::True, message)
    } else {
        (NodeStatus::Unknown, message)
    }
}

/// Number of control plane Machines of the Cluster that are not being deleted.
pub(super) async fn active_control_plane_machines(
    ctx: &Context,
    cluster: &Cluster,
) -> Result<usize, Error> {
    Ok(list_cluster_machines(ctx, cluster)
        .await?
        .iter()
        .filter(|m| m.metadata.deletion_timestamp.is_none() && m.is_control_plane())
        .count())
}

/// The Machines labelled with the Cluster's name (`GetFilteredMachinesForCluster`).
pub(super) async fn list_cluster_machines(
    ctx: &Context,
    cluster: &Cluster,
) -> Result<Vec<Machine>, Error> {
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Machine> = Api::namespaced(ctx.client.clone(), &namespace);
    let selector = format!("{CLUSTER_NAME_LABEL}={}", cluster.name_any());
    Ok(api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(kube_err(format!(
            "list Machines of Cluster {}",
            key(cluster)
        )))?
        .items)
}

/// `setMachinePhaseAndLastUpdated`.
fn set_phase_and_last_updated(m: &mut Machine) {
    let deleting = m.metadata.deletion_timestamp.is_some();
    let provider_id = m.spec.provider_id.is_some();
    let status = status(m);
    let original = status.phase.clone();
    let bootstrap_ready = status.bootstrap_ready == Some(true);
    let infra_ready = status.infrastructure_ready == Some(true);
    let mut phase = original.clone().unwrap_or_else(|| "Pending".to_owned());
    if bootstrap_ready && !infra_ready {
        "Provisioning".clone_into(&mut phase);
    }
    if provider_id {
        "Provisioned".clone_into(&mut phase);
    }
    if status.node_ref.is_some() && infra_ready {
        "Running".clone_into(&mut phase);
    }
    if status.failure_reason.is_some() || status.failure_message.is_some() {
        "Failed".clone_into(&mut phase);
    }
    if deleting {
        "Deleting".clone_into(&mut phase);
    }
    if original.as_deref() != Some(phase.as_str()) {
        status.phase = Some(phase);
        status.last_updated = Some(meta_now());
    }
}

/// The `Ready` summary of `patchMachine`, with the "N of 2 completed" step counter while the
/// Machine is being provisioned.
fn set_summary(m: &mut Machine) {
    let step_counter = m.metadata.deletion_timestamp.is_none() && m.spec.provider_id.is_none();
    let status = status(m);
    status.set_summary_of(&SUMMARY, now());
    if step_counter && !status.is_true(READY) {
        let done = [BOOTSTRAP_READY, INFRASTRUCTURE_READY]
            .iter()
            .filter(|t| status.get(t).is_some_and(|c| c.status == STATUS_TRUE))
            .count();
        if let Some(ready) = status.conditions.iter_mut().find(|c| c.type_ == READY) {
            ready.message = Some(format!("{done} of 2 completed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_types::machine::MachineSpec;

    #[test]
    fn phases_follow_bootstrap_infrastructure_provider_id_and_node_ref_like_upstream() {
        let mut m = Machine::new("m", MachineSpec::default());
        set_phase_and_last_updated(&mut m);
        assert_eq!(m.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
        status(&mut m).bootstrap_ready = Some(true);
        set_phase_and_last_updated(&mut m);
        assert_eq!(
            m.status.as_ref().unwrap().phase.as_deref(),
            Some("Provisioning")
        );
        m.spec.provider_id = Some("test://1".into());
        status(&mut m).infrastructure_ready = Some(true);
        set_phase_and_last_updated(&mut m);
        assert_eq!(
            m.status.as_ref().unwrap().phase.as_deref(),
            Some("Provisioned")
        );
        status(&mut m).node_ref = Some(ObjectReference::default());
        set_phase_and_last_updated(&mut m);
        assert_eq!(m.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
        m.metadata.deletion_timestamp = Some(meta_now());
        set_phase_and_last_updated(&mut m);
        assert_eq!(
            m.status.as_ref().unwrap().phase.as_deref(),
            Some("Deleting")
        );
    }

    #[test]
    fn a_node_with_pressure_is_unhealthy_and_one_without_conditions_healthy() {
        let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "True"}
            ]}
        }))
        .unwrap();
        let (status, message) = summarize_node_conditions(&node);
        assert_eq!(status, NodeStatus::False);
        assert_eq!(message, "Node condition DiskPressure is True");
        let bare = k8s_openapi::api::core::v1::Node::default();
        assert_eq!(summarize_node_conditions(&bare).0, NodeStatus::True);
    }
}
