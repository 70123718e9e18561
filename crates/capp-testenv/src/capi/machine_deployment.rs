//! The emulated MachineDeployment controller (`internal/controllers/machinedeployment`): one
//! MachineSet per template revision, the RollingUpdate strategy (scale the new MachineSet up
//! within `maxSurge`, the old ones down within `maxUnavailable`), status and deletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use capi_types::common::ObjectMeta as TemplateMeta;
use capi_types::labels::{
    CLUSTER_NAME_LABEL, DISABLE_MACHINE_CREATE_ANNOTATION, MACHINE_DEPLOYMENT_NAME_LABEL,
};
use capi_types::machine::MachineTemplateSpec;
use capi_types::machine_deployment::{
    MachineDeployment, MachineDeploymentStrategy, MachineRollingUpdateDeployment,
};
use capi_types::machine_set::{MachineSet, MachineSetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};

use super::machine::get_cluster;
use super::machine_set::{default_machine_set, reconcile_template_reference};
use super::object::{
    controller_of, controller_ref, ensure_finalizer, ensure_owner_ref, is_not_found, key, kube_err,
    owner_ref, persist, remove_finalizer, selector,
};
use super::{
    Context, DESIRED_REPLICAS_ANNOTATION, Error, MACHINE_DEPLOYMENT_FINALIZER,
    MACHINE_TEMPLATE_HASH_LABEL, MAX_REPLICAS_ANNOTATION, REVISION_ANNOTATION, run_controller,
    watch_config,
};

mod rolling;

/// Annotations never copied from a MachineDeployment to its MachineSets (`annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: [&str; 5] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "machinedeployment.clusters.x-k8s.io/revision-history",
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
];

/// Runs the controller until aborted; the MachineSets it controls trigger it.
pub(super) async fn run(ctx: Arc<Context>) {
    let controller = Controller::new(
        Api::<MachineDeployment>::all(ctx.client.clone()),
        watch_config(),
    )
    .owns(Api::<MachineSet>::all(ctx.client.clone()), watch_config());
    run_controller(controller, ctx, reconcile).await;
}

fn replicas(ms: &MachineSet) -> i32 {
    ms.spec.replicas.unwrap_or(0)
}

fn status_of(ms: &MachineSet) -> (i32, i32, i32) {
    let s = ms.status.clone().unwrap_or_default();
    (
        s.replicas.unwrap_or(0),
        s.ready_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
    )
}

/// The MachineDeployment webhook's defaulting (`webhooks.MachineDeployment.Default`).
fn default_machine_deployment(md: &mut MachineDeployment) {
    let namespace = md.namespace().unwrap_or_default();
    let name = md.name_any();
    let cluster_name = md.spec.cluster_name.clone();
    md.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name.clone());
    let spec = &mut md.spec;
    spec.replicas.get_or_insert(1);
    spec.min_ready_seconds.get_or_insert(0);
    spec.revision_history_limit.get_or_insert(1);
    spec.progress_deadline_seconds.get_or_insert(600);
    let strategy = spec
        .strategy
        .get_or_insert_with(MachineDeploymentStrategy::default);
    if strategy
        .type_
        .get_or_insert_with(|| "RollingUpdate".to_owned())
        .as_str()
        == "RollingUpdate"
    {
        let rolling = strategy
            .rolling_update
            .get_or_insert_with(MachineRollingUpdateDeployment::default);
        rolling.max_surge.get_or_insert(IntOrString::Int(1));
        rolling.max_unavailable.get_or_insert(IntOrString::Int(0));
    }
    let template_labels = &mut spec
        .template
        .metadata
        .get_or_insert_with(TemplateMeta::default)
        .labels;
    let match_labels = spec.selector.match_labels.get_or_insert_with(BTreeMap::new);
    if match_labels.is_empty()
        && spec
            .selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
    {
        match_labels.insert(MACHINE_DEPLOYMENT_NAME_LABEL.to_owned(), name.clone());
        template_labels.insert(MACHINE_DEPLOYMENT_NAME_LABEL.to_owned(), name);
    }
    match_labels.insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name.clone());
    template_labels.insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
    let machine = spec.template.spec.get_or_insert_with(Default::default);
    if let Some(version) = machine.version.as_mut()
        && !version.starts_with('v')
    {
        *version = format!("v{version}");
    }
    if let Some(config_ref) = machine.bootstrap.config_ref.as_mut()
        && config_ref.namespace.as_deref().is_none_or(str::is_empty)
    {
        config_ref.namespace = Some(namespace.clone());
    }
    if machine
        .infrastructure_ref
        .namespace
        .as_deref()
        .is_none_or(str::is_empty)
    {
        machine.infrastructure_ref.namespace = Some(namespace);
    }
}

async fn reconcile(deployment: Arc<MachineDeployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = deployment.namespace().unwrap_or_default();
    let api: Api<MachineDeployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let poll = Action::requeue(ctx.options.poll_interval);
    if ensure_finalizer(&api, &deployment, MACHINE_DEPLOYMENT_FINALIZER).await? {
        return Ok(poll);
    }
    let cluster = get_cluster(
        &ctx,
        &namespace,
        &deployment.spec.cluster_name,
        "spec.clusterName",
    )
    .await?;
    if capi_types::is_paused(&cluster, deployment.as_ref()) {
        return Ok(poll);
    }
    let original = (*deployment).clone();
    let mut md = original.clone();
    default_machine_deployment(&mut md);
    // Like the deferred patch upstream, the MachineDeployment is written even when a step failed.
    let outcome = if md.metadata.deletion_timestamp.is_some() {
        reconcile_delete(&ctx, &mut md).await
    } else {
        reconcile_normal(&ctx, &cluster, &mut md).await
    };
    persist(&api, &original, &md).await?;
    outcome.map(|()| poll)
}

/// `reconcile`: cluster-name label and Cluster owner, template owners, MachineSets, then the
/// rollout strategy. A paused MachineDeployment is left as it is (upstream still scales it).
async fn reconcile_normal(
    ctx: &Context,
    cluster: &capi_types::cluster::Cluster,
    md: &mut MachineDeployment,
) -> Result<(), Error> {
    let cluster_name = md.spec.cluster_name.clone();
    md.labels_mut()
        .insert(CLUSTER_NAME_LABEL.to_owned(), cluster_name);
    ensure_owner_ref(
        md.metadata.owner_references.get_or_insert_with(Vec::new),
        owner_ref(cluster),
    );
    let template = md.spec.template.spec.clone().unwrap_or_default();
    reconcile_template_reference(ctx, cluster, &*md, Some(&template.infrastructure_ref)).await?;
    reconcile_template_reference(ctx, cluster, &*md, template.bootstrap.config_ref.as_ref())
        .await?;
    let sets = get_and_adopt_machine_sets(ctx, md).await?;
    if md.spec.paused == Some(true) {
        return Ok(());
    }
    match md.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
        Some("RollingUpdate") => rolling::rollout_rolling(ctx, md, sets).await,
        other => Err(Error::Invalid(format!(
            "MachineDeployment {}: spec.strategy.type {} is not emulated; use RollingUpdate",
            key(md),
            other.unwrap_or_default()
        ))),
    }
}

/// `getAndAdoptMachineSetsForDeployment`: the MachineSets matching the selector, adopting
/// orphans, with the deployment-name label ensured.
async fn get_and_adopt_machine_sets(
    ctx: &Context,
    md: &MachineDeployment,
) -> Result<Vec<MachineSet>, Error> {
    let namespace = md.namespace().unwrap_or_default();
    let api: Api<MachineSet> = Api::namespaced(ctx.client.clone(), &namespace);
    let query = selector(&md.spec.selector, "spec.selector")?.to_string();
    let uid = md.uid();
    let mut sets = Vec::new();
    for ms in api
        .list(&ListParams::default().labels(&query))
        .await
        .map_err(kube_err(format!(
            "list MachineSets of MachineDeployment {}",
            key(md)
        )))?
        .items
    {
        if controller_of(&ms.metadata).is_some_and(|c| Some(&c.uid) != uid.as_ref()) {
            continue;
        }
        let adopt = controller_of(&ms.metadata).is_none();
        let label_missing = ms.labels().get(MACHINE_DEPLOYMENT_NAME_LABEL) != Some(&md.name_any());
        if !adopt && !label_missing {
            sets.push(ms);
            continue;
        }
        let mut refs = ms.metadata.owner_references.clone().unwrap_or_default();
        if adopt {
            ensure_owner_ref(&mut refs, controller_ref(md));
        }
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": ms.metadata.resource_version,
            "ownerReferences": refs,
            "labels": {MACHINE_DEPLOYMENT_NAME_LABEL: md.name_any()},
        }});
        sets.push(
            api.patch(
                &ms.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(kube_err(format!("adopt MachineSet {}", key(&ms))))?,
        );
    }
    Ok(sets)
}

/// `reconcileDelete`: delete the MachineSets, remove the finalizer once none is left.
async fn reconcile_delete(ctx: &Context, md: &mut MachineDeployment) -> Result<(), Error> {
    let sets = get_and_adopt_machine_sets(ctx, md).await?;
    if sets.is_empty() {
        remove_finalizer(&mut md.metadata, MACHINE_DEPLOYMENT_FINALIZER);
        return Ok(());
    }
    for ms in sets
        .iter()
        .filter(|ms| ms.metadata.deletion_timestamp.is_none())
    {
        delete_machine_set(ctx, ms).await?;
    }
    Ok(())
}

async fn delete_machine_set(ctx: &Context, ms: &MachineSet) -> Result<(), Error> {
    let api: Api<MachineSet> =
        Api::namespaced(ctx.client.clone(), &ms.namespace().unwrap_or_default());
    match api.delete(&ms.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(kube_err(format!("delete MachineSet {}", key(ms)))(e)),
    }
}

/// `mdutil.MachineTemplateDeepCopyRolloutFields`: the template fields whose change rolls the
/// Machines out (no metadata, cluster name, readiness gates, node timeouts; references
/// without version and namespace).
fn rollout_fields(template: &MachineTemplateSpec) -> serde_json::Value {
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.cluster_name = String::new();
    spec.readiness_gates = Vec::new();
    spec.node_drain_timeout = None;
    spec.node_deletion_timeout = None;
    spec.node_volume_detach_timeout = None;
    let strip = |r: &mut capi_types::common::ObjectReference| {
        r.api_version = r
            .api_version
            .as_deref()
            .map(|v| super::object::group_of(v).to_owned());
        r.namespace = None;
    };
    strip(&mut spec.infrastructure_ref);
    if let Some(config_ref) = spec.bootstrap.config_ref.as_mut() {
        strip(config_ref);
    }
    serde_json::to_value(&spec).unwrap_or_default()
}

/// 32-bit FNV-1a of the rollout fields, the numeric part of `machine-template-hash`
/// (upstream hashes the Go value with `hash.Compute`; the number differs, the shape is the
/// same).
fn template_hash(template: &MachineTemplateSpec) -> u32 {
    let bytes = rollout_fields(template).to_string();
    bytes.bytes().fold(0x811c_9dc5_u32, |hash, b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `GetScaledValueFromIntOrPercent`.
fn scaled(value: Option<&IntOrString>, total: i32, round_up: bool) -> Result<i32, Error> {
    match value {
        None => Ok(0),
        Some(IntOrString::Int(n)) => Ok(*n),
        Some(IntOrString::String(s)) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::Invalid(format!("invalid value {s:?} for maxSurge/maxUnavailable: use an integer or a percentage such as \"25%\"")))?;
            let product = percent * i64::from(total);
            let value = if round_up {
                (product + 99) / 100
            } else {
                product / 100
            };
            Ok(i32::try_from(value).unwrap_or(i32::MAX))
        }
    }
}

/// `ResolveFenceposts` → (maxSurge, maxUnavailable), the latter capped at the replicas.
fn fenceposts(md: &MachineDeployment) -> Result<(i32, i32), Error> {
    let desired = md.spec.replicas.unwrap_or(1);
    let rolling = md
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.clone())
        .unwrap_or_default();
    let surge = scaled(rolling.max_surge.as_ref(), desired, true)?;
    let mut unavailable = scaled(rolling.max_unavailable.as_ref(), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((
        surge,
        if desired == 0 {
            0
        } else {
            unavailable.min(desired)
        },
    ))
}

/// `computeDesiredMachineSet`: name, labels (template labels + hash + deployment-name),
/// selector, annotations (revision, desired and max replicas) and the in-place fields.
fn desired_machine_set(
    md: &MachineDeployment,
    existing: Option<&MachineSet>,
    old: &[MachineSet],
) -> Result<MachineSet, Error> {
    let desired_replicas = md.spec.replicas.unwrap_or(1);
    let (surge, _) = fenceposts(md)?;
    let template_labels = md.spec.template.metadata.clone().unwrap_or_default().labels;
    let mut ms = if let Some(existing) = existing {
        existing.clone()
    } else {
        new_machine_set(md, old)?
    };
    let unique = ms.labels().get(MACHINE_TEMPLATE_HASH_LABEL).cloned().ok_or_else(|| {
        Error::Invalid(format!(
            "MachineSet {} has no {MACHINE_TEMPLATE_HASH_LABEL} label: restore it or delete the MachineSet",
            key(&ms)
        ))
    })?;
    ms.metadata.owner_references = Some(vec![controller_ref(md)]);
    let mut labels = template_labels.clone();
    labels.insert(MACHINE_TEMPLATE_HASH_LABEL.to_owned(), unique.clone());
    labels.insert(MACHINE_DEPLOYMENT_NAME_LABEL.to_owned(), md.name_any());
    ms.labels_mut().extend(labels);
    ms.spec.cluster_name.clone_from(&md.spec.cluster_name);
    let mut selector = md.spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(MACHINE_TEMPLATE_HASH_LABEL.to_owned(), unique.clone());
    ms.spec.selector = selector;
    // ComputeMachineSetAnnotations.
    let mut annotations: BTreeMap<String, String> = md
        .annotations()
        .iter()
        .filter(|(k, _)| !ANNOTATIONS_TO_SKIP.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let max_old_revision = old.iter().filter_map(revision).max().unwrap_or(0);
    let mut new_revision = max_old_revision + 1;
    if let Some(current) = existing.and_then(revision)
        && new_revision < current
    {
        new_revision = current;
    }
    annotations.insert(REVISION_ANNOTATION.to_owned(), new_revision.to_string());
    annotations.insert(
        DESIRED_REPLICAS_ANNOTATION.to_owned(),
        desired_replicas.to_string(),
    );
    annotations.insert(
        MAX_REPLICAS_ANNOTATION.to_owned(),
        (desired_replicas + surge).to_string(),
    );
    // Machine creation stays allowed on the MachineSets of a RollingUpdate deployment (the
    // only strategy emulated; CAPI writes "true" for OnDelete's old MachineSets only).
    annotations.insert(
        DISABLE_MACHINE_CREATE_ANNOTATION.to_owned(),
        "false".to_owned(),
    );
    ms.annotations_mut().extend(annotations);
    let template = ms
        .spec
        .template
        .get_or_insert_with(MachineTemplateSpec::default);
    let mut template_labels = template_labels;
    template_labels.insert(MACHINE_TEMPLATE_HASH_LABEL.to_owned(), unique);
    template.metadata = Some(TemplateMeta {
        labels: template_labels,
        annotations: md
            .spec
            .template
            .metadata
            .clone()
            .unwrap_or_default()
            .annotations,
    });
    let md_spec = md.spec.template.spec.clone().unwrap_or_default();
    let spec = template.spec.get_or_insert_with(Default::default);
    spec.readiness_gates = md_spec.readiness_gates;
    spec.node_drain_timeout = md_spec.node_drain_timeout;
    spec.node_deletion_timeout = md_spec.node_deletion_timeout;
    spec.node_volume_detach_timeout = md_spec.node_volume_detach_timeout;
    ms.spec.min_ready_seconds = Some(md.spec.min_ready_seconds.unwrap_or(0));
    ms.spec.delete_policy = md
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.delete_policy.clone());
    ms.spec
        .machine_naming_strategy
        .clone_from(&md.spec.machine_naming_strategy);
    default_machine_set(&mut ms);
    Ok(ms)
}

/// A new MachineSet's name (`computeNewMachineSetName`: `<md>-<5 random>`), its initial
/// replicas and its `machine-template-hash` label (`<hash>-<random suffix>`).
fn new_machine_set(md: &MachineDeployment, old: &[MachineSet]) -> Result<MachineSet, Error> {
    let base: String = format!("{}-", md.name_any()).chars().take(58).collect();
    let suffix = crate::util::random_suffix(5);
    // Not `MachineSet::new`: it copies the CRD's labels (the contract label
    // `cluster.x-k8s.io/v1beta1`) onto the object, which CAPI's MachineSets do not carry.
    let mut ms = MachineSet {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("{base}{suffix}")),
            namespace: md.namespace(),
            ..kube::api::ObjectMeta::default()
        },
        spec: MachineSetSpec {
            replicas: Some(new_ms_new_replicas(md, old.iter(), 0)?),
            template: Some(MachineTemplateSpec {
                metadata: None,
                spec: md.spec.template.spec.clone(),
            }),
            ..MachineSetSpec::default()
        },
        status: None,
    };
    ms.labels_mut().insert(
        MACHINE_TEMPLATE_HASH_LABEL.to_owned(),
        format!("{}-{suffix}", template_hash(&md.spec.template)),
    );
    Ok(ms)
}

/// The revision annotation of a MachineSet.
fn revision(ms: &MachineSet) -> Option<i64> {
    ms.annotations()
        .get(REVISION_ANNOTATION)
        .and_then(|r| r.parse().ok())
}

/// `mdutil.NewMSNewReplicas` for RollingUpdate: scale the new MachineSet up as far as
/// `maxSurge` allows, never past the desired replicas.
fn new_ms_new_replicas<'a>(
    md: &MachineDeployment,
    all: impl Iterator<Item = &'a MachineSet>,
    new_replicas: i32,
) -> Result<i32, Error> {
    let desired = md.spec.replicas.unwrap_or(1);
    let (surge, _) = fenceposts(md)?;
    // TotalMachineSetsReplicaSum: max(spec, status) per MachineSet.
    let current: i32 = all.map(|ms| replicas(ms).max(status_of(ms).0)).sum();
    let max_total = desired + surge;
    if current >= max_total {
        return Ok(new_replicas);
    }
    Ok(new_replicas + (max_total - current).min(desired - new_replicas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_types::machine_deployment::MachineDeploymentSpec;

    fn deployment(replicas: i32) -> MachineDeployment {
        let mut md = MachineDeployment::new(
            "workers",
            MachineDeploymentSpec {
                cluster_name: "prod".into(),
                replicas: Some(replicas),
                ..MachineDeploymentSpec::default()
            },
        );
        md.metadata.namespace = Some("default".into());
        default_machine_deployment(&mut md);
        md
    }

    #[test]
    fn the_webhook_defaults_select_machines_by_deployment_and_cluster_name() {
        let md = deployment(2);
        let labels = md.spec.selector.match_labels.clone().unwrap();
        assert_eq!(labels[MACHINE_DEPLOYMENT_NAME_LABEL], "workers");
        assert_eq!(labels[CLUSTER_NAME_LABEL], "prod");
        let rolling = md.spec.strategy.unwrap().rolling_update.unwrap();
        assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
        assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    }

    #[test]
    fn a_new_machine_set_is_labelled_named_and_annotated_like_upstream() {
        let md = deployment(2);
        let ms = desired_machine_set(&md, None, &[]).unwrap();
        assert!(
            ms.name_any().starts_with("workers-") && ms.name_any().len() == "workers-".len() + 5
        );
        let hash = &ms.labels()[MACHINE_TEMPLATE_HASH_LABEL];
        assert!(hash.ends_with(&ms.name_any()["workers-".len()..]), "{hash}");
        assert_eq!(ms.labels()[MACHINE_DEPLOYMENT_NAME_LABEL], "workers");
        assert_eq!(
            ms.spec.selector.match_labels.as_ref().unwrap()[MACHINE_TEMPLATE_HASH_LABEL],
            *hash
        );
        assert_eq!(ms.annotations()[REVISION_ANNOTATION], "1");
        assert_eq!(ms.annotations()[MAX_REPLICAS_ANNOTATION], "3");
        assert_eq!(ms.spec.replicas, Some(2));
        assert_eq!(
            controller_of(&ms.metadata).unwrap().kind,
            "MachineDeployment"
        );
    }

    #[test]
    fn percentages_round_surge_up_and_unavailability_down() {
        assert_eq!(
            scaled(Some(&IntOrString::String("25%".into())), 3, true).unwrap(),
            1
        );
        assert_eq!(
            scaled(Some(&IntOrString::String("25%".into())), 3, false).unwrap(),
            0
        );
        assert!(scaled(Some(&IntOrString::String("many".into())), 3, false).is_err());
    }
}
