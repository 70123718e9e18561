//! The emulated MachineSet controller (`internal/controllers/machineset`): Machines for
//! `spec.replicas`, each with its bootstrap config and infrastructure machine cloned from the
//! templates, scale down by delete policy, and the replica counters.

use std::collections::BTreeMap;
use std::sync::Arc;

use capi_types::cluster::Cluster;
use capi_types::conditions::{
    Condition, Conditions as _, MACHINE_NODE_HEALTHY, READY, STATUS_FALSE, STATUS_TRUE, Severity,
};
use capi_types::labels::{
    CLUSTER_NAME_LABEL, DELETE_MACHINE_ANNOTATION, MACHINE_DEPLOYMENT_NAME_LABEL,
    MACHINE_FINALIZER, MACHINE_SET_NAME_LABEL,
};
use capi_types::machine::{Machine, MachineSpec, MachineTemplateSpec};
use capi_types::machine_set::{MachineSet, MachineSetStatus};
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};

use super::external::{CloneInput, create_from_template, delete_reference};
use super::machine::get_cluster;
use super::object::{
    controller_of, controller_ref, ensure_finalizer, ensure_owner_ref, has_core_owner,
    has_exact_owner_ref, has_labels, is_not_found, key, kube_err, now, owner_ref, persist,
    remove_finalizer, selector,
};
use super::workload;
use super::{Context, Error, MACHINE_SET_FINALIZER, run_controller, watch_config};

/// Condition: the MachineSet created its Machines.
const MACHINES_CREATED: &str = "MachinesCreated";
/// Condition: the MachineSet has its desired number of Machines.
const RESIZED: &str = "Resized";
/// Condition: the aggregate of the Machines' `Ready`.
const MACHINES_READY: &str = "MachinesReady";

/// Runs the controller until aborted; Machines the MachineSet controls trigger it.
pub(super) async fn run(ctx: Arc<Context>) {
    let controller = Controller::new(Api::<MachineSet>::all(ctx.client.clone()), watch_config())
        .owns(Api::<Machine>::all(ctx.client.clone()), watch_config());
    run_controller(controller, ctx, reconcile).await;
}

fn status(ms: &mut MachineSet) -> &mut MachineSetStatus {
    ms.status.get_or_insert_with(MachineSetStatus::default)
}

/// The MachineSet webhook's defaulting (`webhooks.MachineSet.Default`), also applied by the
/// MachineDeployment controller to the MachineSets it computes.
pub(super) fn default_machine_set(ms: &mut MachineSet) {
    let namespace = ms.namespace().unwrap_or_default();
    let name = ms.name_any();
    let cluster_name = ms.spec.cluster_name.clone();
    ms.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
    if ms.spec.replicas.is_none() {
        ms.spec.replicas = Some(1);
    }
    if ms.spec.delete_policy.as_deref().is_none_or(str::is_empty) {
        ms.spec.delete_policy = Some("Random".to_owned());
    }
    let template = ms
        .spec
        .template
        .get_or_insert_with(MachineTemplateSpec::default);
    let template_labels = &mut template
        .metadata
        .get_or_insert_with(Default::default)
        .labels;
    let match_labels = ms
        .spec
        .selector
        .match_labels
        .get_or_insert_with(BTreeMap::new);
    if match_labels.is_empty()
        && ms
            .spec
            .selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        match_labels.insert(MACHINE_SET_NAME_LABEL.to_owned(), name.clone());
        template_labels.insert(MACHINE_SET_NAME_LABEL.to_owned(), name);
    }
    let spec = template.spec.get_or_insert_with(MachineSpec::default);
    if let Some(config_ref) = spec.bootstrap.config_ref.as_mut()
        && config_ref.namespace.as_deref().is_none_or(str::is_empty)
    {
        config_ref.namespace = Some(namespace.clone());
    }
    if spec
        .infrastructure_ref
        .namespace
        .as_deref()
        .is_none_or(str::is_empty)
    {
        spec.infrastructure_ref.namespace = Some(namespace);
    }
    if let Some(version) = spec.version.as_mut()
        && !version.starts_with('v')
    {
        *version = format!("v{version}");
    }
}

async fn reconcile(machine_set: Arc<MachineSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = machine_set.namespace().unwrap_or_default();
    let api: Api<MachineSet> = Api::namespaced(ctx.client.clone(), &namespace);
    let poll = Action::requeue(ctx.options.poll_interval);
    if ensure_finalizer(&api, &machine_set, MACHINE_SET_FINALIZER).await? {
        return Ok(poll);
    }
    let cluster = get_cluster(
        &ctx,
        &namespace,
        &machine_set.spec.cluster_name,
        "spec.clusterName",
    )
    .await?;
    if capi_types::is_paused(&cluster, machine_set.as_ref()) {
        return Ok(poll);
    }
    let original = (*machine_set).clone();
    let mut ms = original.clone();
    default_machine_set(&mut ms);
    let mut outcome = Ok(());
    reconcile_owner_and_labels(&cluster, &mut ms);
    let template_spec = ms
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.clone())
        .unwrap_or_default();
    let mut results = vec![
        reconcile_template_reference(&ctx, &cluster, &ms, Some(&template_spec.infrastructure_ref))
            .await,
        reconcile_template_reference(
            &ctx,
            &cluster,
            &ms,
            template_spec.bootstrap.config_ref.as_ref(),
        )
        .await,
    ];
    let machines = get_and_adopt_machines(&ctx, &ms).await;
    let deleting = ms.metadata.deletion_timestamp.is_some();
    if let Ok(machines) = &machines {
        if deleting {
            results.push(reconcile_delete(&ctx, &mut ms, machines).await);
        } else {
            results.push(sync_replicas(&ctx, &mut ms, machines).await);
        }
    }
    for result in results {
        if outcome.is_ok() {
            outcome = result;
        }
    }
    // The deferred `reconcileStatus` and `patchMachineSet` (Ready summary).
    match machines {
        Ok(machines) => {
            let machines = list_machines(&ctx, &ms).await.unwrap_or(machines);
            reconcile_status(&ctx, &cluster, &mut ms, &machines).await;
        }
        Err(e) => {
            if outcome.is_ok() {
                outcome = Err(e);
            }
        }
    }
    status(&mut ms).set_summary_of(&[MACHINES_CREATED, RESIZED, MACHINES_READY], now());
    persist(&api, &original, &ms).await?;
    outcome.map(|()| poll)
}

/// `reconcileMachineSetOwnerAndLabels`: cluster-name label, Cluster owner for stand-alone
/// MachineSets, cluster-name in the selector and the template labels.
fn reconcile_owner_and_labels(cluster: &Cluster, ms: &mut MachineSet) {
    let cluster_name = ms.spec.cluster_name.clone();
    ms.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name.clone());
    // shouldAdopt: not when a MachineDeployment or a Cluster already owns it.
    if !has_core_owner(&ms.metadata, &["MachineDeployment", "Cluster"]) {
        ensure_owner_ref(
            ms.metadata.owner_references.get_or_insert_with(Vec::new),
            owner_ref(cluster),
        );
    }
    ms.spec
        .selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name.clone());
    ms.spec
        .template
        .get_or_insert_with(MachineTemplateSpec::default)
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
}

/// `reconcileExternalTemplateReference`: a referenced template (kind ending in `Template`) gets
/// the Cluster as an owner. A missing template is tolerated here; cloning reports it.
pub(super) async fn reconcile_template_reference(
    ctx: &Context,
    cluster: &Cluster,
    owner: &impl kube::Resource,
    reference: Option<&capi_types::common::ObjectReference>,
) -> Result<(), Error> {
    let Some(reference) = reference else {
        return Ok(());
    };
    if !reference
        .kind
        .as_deref()
        .unwrap_or_default()
        .ends_with("Template")
    {
        return Ok(());
    }
    let namespace = owner.meta().namespace.clone().unwrap_or_default();
    let Some(mut template) =
        super::external::get(ctx, reference, &namespace, "spec.template.spec reference").await?
    else {
        return Ok(());
    };
    let desired = owner_ref(cluster);
    let mut refs = template
        .obj
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    if has_exact_owner_ref(&refs, &desired) {
        return Ok(());
    }
    ensure_owner_ref(&mut refs, desired);
    let labels = template.obj.metadata.labels.clone().unwrap_or_default();
    template.patch_metadata(&refs, &labels).await
}

/// The Machines matching the selector that this MachineSet controls (or adopts, when they have
/// no controller) (`getAndAdoptMachinesForMachineSet`).
async fn get_and_adopt_machines(ctx: &Context, ms: &MachineSet) -> Result<Vec<Machine>, Error> {
    let machines = list_machines(ctx, ms).await?;
    let api: Api<Machine> =
        Api::namespaced(ctx.client.clone(), &ms.namespace().unwrap_or_default());
    let mut adopted = Vec::with_capacity(machines.len());
    for mut machine in machines {
        if controller_of(&machine.metadata).is_none() {
            let mut refs = machine
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default();
            ensure_owner_ref(&mut refs, controller_ref(ms));
            let patch = serde_json::json!({"metadata": {
                "resourceVersion": machine.metadata.resource_version,
                "ownerReferences": refs,
            }});
            machine = api
                .patch(
                    &machine.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(kube_err(format!("adopt Machine {}", key(&machine))))?;
        }
        adopted.push(machine);
    }
    Ok(adopted)
}

/// The Machines matching the MachineSet's selector that are not controlled by another object.
async fn list_machines(ctx: &Context, ms: &MachineSet) -> Result<Vec<Machine>, Error> {
    let api: Api<Machine> =
        Api::namespaced(ctx.client.clone(), &ms.namespace().unwrap_or_default());
    // LabelSelectorAsMap: the matchLabels part of the selector.
    let match_labels = ms.spec.selector.match_labels.clone().unwrap_or_default();
    let query = match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let uid = ms.uid();
    Ok(api
        .list(&ListParams::default().labels(&query))
        .await
        .map_err(kube_err(format!("list Machines of MachineSet {}", key(ms))))?
        .items
        .into_iter()
        // shouldExcludeMachine: controlled by someone else.
        .filter(|m| controller_of(&m.metadata).is_none_or(|c| Some(&c.uid) == uid.as_ref()))
        .collect())
}

/// `reconcileDelete`: delete every Machine, then remove the finalizer once none is left.
async fn reconcile_delete(
    ctx: &Context,
    ms: &mut MachineSet,
    machines: &[Machine],
) -> Result<(), Error> {
    if machines.is_empty() {
        remove_finalizer(&mut ms.metadata, MACHINE_SET_FINALIZER);
        return Ok(());
    }
    for machine in machines {
        delete_machine(ctx, machine).await?;
    }
    Ok(())
}

/// Deletes a Machine unless it is already being deleted.
async fn delete_machine(ctx: &Context, machine: &Machine) -> Result<(), Error> {
    if machine.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let api: Api<Machine> =
        Api::namespaced(ctx.client.clone(), &machine.namespace().unwrap_or_default());
    match api
        .delete(&machine.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(kube_err(format!("delete Machine {}", key(machine)))(e)),
    }
}

/// `machineLabelsFromMachineSet`: the template labels plus the set-name label and, when the
/// MachineSet has one, the deployment-name label.
fn machine_labels(ms: &MachineSet) -> BTreeMap<String, String> {
    let mut labels = ms
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(MACHINE_SET_NAME_LABEL.to_owned(), ms.name_any());
    if let Some(md) = ms.labels().get(MACHINE_DEPLOYMENT_NAME_LABEL) {
        labels.insert(MACHINE_DEPLOYMENT_NAME_LABEL.to_owned(), md.clone());
    }
    labels
}

/// `syncReplicas`: creates missing Machines (cloning the bootstrap and infrastructure templates
/// first, `computeDesiredMachine`) or deletes surplus ones by delete policy.
async fn sync_replicas(
    ctx: &Context,
    ms: &mut MachineSet,
    machines: &[Machine],
) -> Result<(), Error> {
    let desired = usize::try_from(ms.spec.replicas.unwrap_or(1)).unwrap_or(0);
    let now = now();
    if machines.len() < desired {
        // Only the value "true" disables creation (the MachineDeployment writes "false").
        if ms
            .annotations()
            .get(capi_types::labels::DISABLE_MACHINE_CREATE_ANNOTATION)
            .is_some_and(|v| v == "true")
        {
            return Ok(());
        }
        let mut first_error = None;
        for _ in machines.len()..desired {
            if let Err(e) = create_machine(ctx, ms).await {
                first_error.get_or_insert(e);
            }
        }
        return first_error.map_or(Ok(()), Err);
    }
    if machines.len() > desired {
        let policy = delete_priority(ms.spec.delete_policy.as_deref())?;
        let mut sorted: Vec<&Machine> = machines.iter().collect();
        sorted.sort_by(|a, b| {
            policy(b, now)
                .total_cmp(&policy(a, now))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        for machine in sorted.into_iter().take(machines.len() - desired) {
            delete_machine(ctx, machine).await?;
        }
    }
    Ok(())
}

/// Creates one Machine with its cloned bootstrap config and infrastructure machine.
async fn create_machine(ctx: &Context, ms: &mut MachineSet) -> Result<(), Error> {
    let namespace = ms.namespace().unwrap_or_default();
    let template = ms.spec.template.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    // computeDesiredMachine: name `{{ .machineSet.name }}-{{ .random }}`, the MachineSet as
    // controller, the Machine finalizer, labels and annotations from the template.
    let base: String = format!("{}-", ms.name_any()).chars().take(58).collect();
    let name = format!("{base}{}", crate::util::random_suffix(5));
    let labels = machine_labels(ms);
    let annotations = template
        .metadata
        .as_ref()
        .map(|m| m.annotations.clone())
        .unwrap_or_default();
    spec.cluster_name.clone_from(&ms.spec.cluster_name);
    let owner = Some(owner_ref(&*ms));
    let mut bootstrap_ref = None;
    let now = now();
    if let Some(config_ref) = &spec.bootstrap.config_ref {
        let input = CloneInput {
            template_ref: config_ref,
            namespace: &namespace,
            name: &name,
            cluster_name: &ms.spec.cluster_name,
            labels: &labels,
            annotations: &annotations,
            owner: owner.clone(),
        };
        match create_from_template(ctx, &input, "spec.template.spec.bootstrap.configRef").await {
            Ok(reference) => bootstrap_ref = Some(reference),
            Err(e) => {
                status(ms).mark_false(
                    MACHINES_CREATED,
                    "BootstrapTemplateCloningFailed",
                    Severity::Error,
                    &e.to_string(),
                    now,
                );
                return Err(e);
            }
        }
    }
    let input = CloneInput {
        template_ref: &spec.infrastructure_ref,
        namespace: &namespace,
        name: &name,
        cluster_name: &ms.spec.cluster_name,
        labels: &labels,
        annotations: &annotations,
        owner,
    };
    let infra_ref =
        match create_from_template(ctx, &input, "spec.template.spec.infrastructureRef").await {
            Ok(reference) => reference,
            Err(e) => {
                // "Cleanup the bootstrap resource if we can't create the InfraMachine."
                if let Some(reference) = &bootstrap_ref {
                    delete_reference(ctx, reference, &namespace).await?;
                }
                status(ms).mark_false(
                    MACHINES_CREATED,
                    "InfrastructureTemplateCloningFailed",
                    Severity::Error,
                    &e.to_string(),
                    now,
                );
                return Err(e);
            }
        };
    spec.infrastructure_ref = infra_ref.clone();
    spec.bootstrap.config_ref.clone_from(&bootstrap_ref);
    let mut machine = Machine::new(&name, spec);
    machine.metadata.namespace = Some(namespace.clone());
    machine.metadata.owner_references = Some(vec![controller_ref(&*ms)]);
    machine.metadata.labels = Some(labels);
    machine.metadata.annotations = Some(annotations);
    machine.metadata.finalizers = Some(vec![MACHINE_FINALIZER.to_owned()]);
    let api: Api<Machine> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Err(e) = api.create(&PostParams::default(), &machine).await {
        let error = kube_err(format!("create Machine {namespace}/{name}"))(e);
        status(ms).mark_false(
            MACHINES_CREATED,
            "MachineCreationFailed",
            Severity::Error,
            &error.to_string(),
            now,
        );
        // "Try to cleanup the external objects if the Machine creation failed."
        delete_reference(ctx, &infra_ref, &namespace).await?;
        if let Some(reference) = &bootstrap_ref {
            delete_reference(ctx, reference, &namespace).await?;
        }
        return Err(error);
    }
    Ok(())
}

/// A delete priority function (`machineset_delete_policy.go`); higher is deleted first.
type DeletePriority = fn(&Machine, jiff::Timestamp) -> f64;

/// `getDeletePriorityFunc`: Random (default), Newest or Oldest.
fn delete_priority(policy: Option<&str>) -> Result<DeletePriority, Error> {
    match policy.unwrap_or_default() {
        "" | "Random" => Ok(random_delete_priority),
        "Newest" => Ok(newest_delete_priority),
        "Oldest" => Ok(oldest_delete_priority),
        other => Err(Error::Invalid(format!(
            "unsupported delete policy {other}: spec.deletePolicy must be one of 'Random', 'Newest', or 'Oldest'"
        ))),
    }
}

const MUST_DELETE: f64 = 100.0;
const SHOULD_DELETE: f64 = 75.0;
const BETTER_DELETE: f64 = 50.0;
const COULD_DELETE: f64 = 20.0;
const MUST_NOT_DELETE: f64 = 0.0;
const SECONDS_PER_TEN_DAYS: f64 = 864_000.0;

/// The priorities shared by every policy: deleting, marked for deletion, unhealthy.
fn forced_priority(m: &Machine) -> Option<f64> {
    if m.metadata.deletion_timestamp.is_some() {
        Some(MUST_DELETE)
    } else if m.annotations().contains_key(DELETE_MACHINE_ANNOTATION) {
        Some(SHOULD_DELETE)
    } else if !is_machine_healthy(m) {
        Some(BETTER_DELETE)
    } else {
        None
    }
}

fn random_delete_priority(m: &Machine, _: jiff::Timestamp) -> f64 {
    forced_priority(m).unwrap_or(COULD_DELETE)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "machine ages in seconds fit an f64 mantissa"
)]
fn oldest_delete_priority(m: &Machine, now: jiff::Timestamp) -> f64 {
    if let Some(priority) = forced_priority(m) {
        return priority;
    }
    let Some(created) = m.metadata.creation_timestamp.as_ref() else {
        return MUST_NOT_DELETE;
    };
    let age = now.as_second() - created.0.as_second();
    if age < 0 {
        return MUST_NOT_DELETE;
    }
    BETTER_DELETE * (1.0 - (-(age as f64) / SECONDS_PER_TEN_DAYS).exp())
}

fn newest_delete_priority(m: &Machine, now: jiff::Timestamp) -> f64 {
    forced_priority(m).unwrap_or_else(|| BETTER_DELETE - oldest_delete_priority(m, now))
}

/// `isMachineHealthy`: a Node, no failure, NodeHealthy and HealthCheckSucceeded not False.
fn is_machine_healthy(m: &Machine) -> bool {
    let Some(status) = m.status.as_ref() else {
        return false;
    };
    status.node_ref.is_some()
        && status.failure_reason.is_none()
        && status.failure_message.is_none()
        && !status.is_false(MACHINE_NODE_HEALTHY)
        && !status.is_false("HealthCheckSucceeded")
}

/// `reconcileStatus`: replica counters from the Machines and their Nodes, `Resized`,
/// `MachinesCreated` and an aggregate `MachinesReady`.
async fn reconcile_status(
    ctx: &Context,
    cluster: &Cluster,
    ms: &mut MachineSet,
    machines: &[Machine],
) {
    let template_labels = ms
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .map(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready_seconds = ms.spec.min_ready_seconds.unwrap_or(0);
    let namespace = cluster.namespace().unwrap_or_default();
    let client = ctx
        .workload
        .client(&ctx.client, &namespace, &cluster.name_any())
        .await
        .ok()
        .flatten();
    let now = now();
    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    for machine in machines {
        if has_labels(machine.labels(), &template_labels) {
            fully_labeled += 1;
        }
        let Some(node_name) = machine
            .status
            .as_ref()
            .and_then(|s| s.node_ref.as_ref())
            .and_then(|r| r.name.as_deref())
        else {
            continue;
        };
        let Some(client) = &client else { continue };
        let Ok(Some(node)) = workload::get_node(client, &key(cluster), node_name).await else {
            continue;
        };
        if workload::is_node_ready(&node) {
            ready += 1;
            if workload::is_node_available(&node, min_ready_seconds, now) {
                available += 1;
            }
        }
    }
    let desired = if ms.metadata.deletion_timestamp.is_some() {
        0
    } else {
        ms.spec.replicas.unwrap_or(1)
    };
    let selector_string = selector(&ms.spec.selector, "spec.selector")
        .map(|s| s.to_string())
        .ok();
    let generation = ms.metadata.generation;
    let replicas = i32::try_from(machines.len()).unwrap_or(i32::MAX);
    let status = status(ms);
    status.selector = selector_string;
    status.replicas = Some(replicas);
    status.fully_labeled_replicas = Some(fully_labeled);
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.observed_generation = generation;
    match replicas.cmp(&desired) {
        std::cmp::Ordering::Less => {
            status.mark_false(
                RESIZED,
                "ScalingUp",
                Severity::Warning,
                &format!("Scaling up MachineSet to {desired} replicas (actual {replicas})"),
                now,
            );
        }
        std::cmp::Ordering::Greater => {
            status.mark_false(
                RESIZED,
                "ScalingDown",
                Severity::Warning,
                &format!("Scaling down MachineSet to {desired} replicas (actual {replicas})"),
                now,
            );
            status.mark_true(MACHINES_CREATED, now);
        }
        std::cmp::Ordering::Equal => {
            if ready == replicas {
                status.mark_true(RESIZED, now);
            }
            status.mark_true(MACHINES_CREATED, now);
        }
    }
    if let Some(aggregate) = aggregate_ready(machines, now) {
        status.set(aggregate);
    }
}

/// A simplified `conditions.SetAggregate` of the Machines' `Ready` conditions into
/// `MachinesReady`: True when all are True, else the worst one's status, reason and severity.
fn aggregate_ready(machines: &[Machine], now: jiff::Timestamp) -> Option<Condition> {
    let readies: Vec<Condition> = machines
        .iter()
        .filter_map(|m| m.status.as_ref().and_then(|s| s.get(READY)).cloned())
        .collect();
    if readies.is_empty() {
        return None;
    }
    let rank = |c: &Condition| match (c.status.as_str(), c.severity()) {
        (STATUS_FALSE, Severity::Error) => 0,
        (STATUS_FALSE, Severity::Warning) => 1,
        (STATUS_FALSE, _) => 2,
        (STATUS_TRUE, _) => 4,
        _ => 3,
    };
    let worst = readies.iter().min_by_key(|c| rank(c))?;
    Some(if worst.status == STATUS_TRUE {
        Condition::true_condition(MACHINES_READY, now)
    } else {
        Condition {
            type_: MACHINES_READY.to_owned(),
            message: None,
            last_transition_time: capi_types::conditions::format_time(now),
            ..worst.clone()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(name: &str, healthy: bool, created: &str) -> Machine {
        let mut m = Machine::new(name, MachineSpec::default());
        m.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            created.parse().unwrap(),
        ));
        if healthy {
            m.status = Some(capi_types::machine::MachineStatus {
                node_ref: Some(capi_types::common::ObjectReference::default()),
                ..Default::default()
            });
        }
        m
    }

    fn order(policy: &str, machines: &[Machine]) -> Vec<String> {
        let priority = delete_priority(Some(policy)).unwrap();
        let now: jiff::Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let mut sorted: Vec<&Machine> = machines.iter().collect();
        sorted.sort_by(|a, b| {
            priority(b, now)
                .total_cmp(&priority(a, now))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        sorted.iter().map(|m| m.name_any()).collect()
    }

    #[test]
    fn delete_policies_prefer_unhealthy_then_by_age_or_name_as_upstream() {
        let machines = [
            machine("b-old", true, "2026-01-01T00:00:00Z"),
            machine("a-new", true, "2026-01-09T00:00:00Z"),
            machine("c-sick", false, "2026-01-05T00:00:00Z"),
        ];
        assert_eq!(order("Random", &machines), ["c-sick", "a-new", "b-old"]);
        assert_eq!(order("Oldest", &machines), ["c-sick", "b-old", "a-new"]);
        assert_eq!(order("Newest", &machines), ["c-sick", "a-new", "b-old"]);
        assert!(
            delete_priority(Some("Largest"))
                .unwrap_err()
                .to_string()
                .contains("spec.deletePolicy")
        );
    }
}
