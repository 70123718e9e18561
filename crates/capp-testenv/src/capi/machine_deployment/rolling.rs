//! The RollingUpdate strategy of the MachineDeployment controller
//! (`machinedeployment_rolling.go`, `machinedeployment_sync.go`).

use capi_types::conditions::{Conditions as _, READY, Severity};
use capi_types::machine_deployment::{MachineDeployment, MachineDeploymentStatus};
use capi_types::machine_set::MachineSet;
use kube::ResourceExt as _;
use kube::api::{Api, PostParams};

use super::super::object::{key, kube_err, now, selector};
use super::super::{
    Context, DESIRED_REPLICAS_ANNOTATION, Error, MAX_REPLICAS_ANNOTATION, REVISION_ANNOTATION,
};
use super::{
    delete_machine_set, desired_machine_set, fenceposts, new_ms_new_replicas, replicas,
    rollout_fields, status_of,
};

/// `scaleMachineSet`: new replicas plus the desired/max replicas annotations.
async fn scale_machine_set(
    ctx: &Context,
    ms: &mut MachineSet,
    to: i32,
    md: &MachineDeployment,
) -> Result<(), Error> {
    let desired = md.spec.replicas.unwrap_or(1);
    let (surge, _) = fenceposts(md)?;
    let mut desired_ms = ms.clone();
    desired_ms.spec.replicas = Some(to);
    desired_ms
        .annotations_mut()
        .insert(DESIRED_REPLICAS_ANNOTATION.to_owned(), desired.to_string());
    desired_ms.annotations_mut().insert(
        MAX_REPLICAS_ANNOTATION.to_owned(),
        (desired + surge).to_string(),
    );
    if desired_ms == *ms {
        return Ok(());
    }
    let api: Api<MachineSet> =
        Api::namespaced(ctx.client.clone(), &ms.namespace().unwrap_or_default());
    *ms = api
        .replace(&ms.name_any(), &PostParams::default(), &desired_ms)
        .await
        .map_err(kube_err(format!("scale MachineSet {}", key(ms))))?;
    Ok(())
}

/// `rolloutRolling`: find or create the new MachineSet, scale it up, scale the old ones down,
/// update the status, and clean up old MachineSets once the rollout completed.
pub(super) async fn rollout_rolling(
    ctx: &Context,
    md: &mut MachineDeployment,
    mut sets: Vec<MachineSet>,
) -> Result<(), Error> {
    let namespace = md.namespace().unwrap_or_default();
    let api: Api<MachineSet> = Api::namespaced(ctx.client.clone(), &namespace);
    // FindNewMachineSet: the up-to-date MachineSet with most replicas (then oldest, then name).
    sets.sort_by(|a, b| {
        replicas(b)
            .cmp(&replicas(a))
            .then_with(|| {
                a.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            })
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    let wanted = rollout_fields(&md.spec.template);
    let new_index = sets.iter().position(|ms| {
        ms.spec
            .template
            .as_ref()
            .is_some_and(|t| rollout_fields(t) == wanted)
    });
    let new_existing = new_index.map(|i| sets.remove(i));
    let mut old = sets;
    // getNewMachineSet: update the existing one in place, or create it.
    let mut new_ms = if let Some(existing) = new_existing {
        let desired = desired_machine_set(md, Some(&existing), &old)?;
        if desired == existing {
            existing
        } else {
            api.replace(&existing.name_any(), &PostParams::default(), &desired)
                .await
                .map_err(kube_err(format!("update MachineSet {}", key(&existing))))?
        }
    } else {
        let desired = desired_machine_set(md, None, &old)?;
        api.create(&PostParams::default(), &desired)
            .await
            .map_err(kube_err(format!("create MachineSet {}", key(&desired))))?
    };
    // Surface the new MachineSet's revision annotation on the MachineDeployment (written by
    // the deferred patch of `reconcile`).
    if let Some(revision) = new_ms.annotations().get(REVISION_ANNOTATION).cloned() {
        md.annotations_mut()
            .insert(REVISION_ANNOTATION.to_owned(), revision);
    }
    // reconcileNewMachineSet.
    let desired = md.spec.replicas.unwrap_or(1);
    if replicas(&new_ms) > desired {
        scale_machine_set(ctx, &mut new_ms, desired, md).await?;
    } else if replicas(&new_ms) < desired {
        let all = old.iter().chain(std::iter::once(&new_ms));
        let to = new_ms_new_replicas(md, all, replicas(&new_ms))?;
        scale_machine_set(ctx, &mut new_ms, to, md).await?;
    }
    // reconcileOldMachineSets.
    reconcile_old_machine_sets(ctx, md, &mut old, &new_ms).await?;
    let status = sync_status(md, &old, &new_ms);
    // cleanupDeployment once DeploymentComplete.
    let complete = status.updated_replicas == Some(desired)
        && status.replicas == Some(desired)
        && status.available_replicas == Some(desired)
        && status.observed_generation >= md.metadata.generation;
    md.status = Some(status);
    if complete {
        cleanup_deployment(ctx, md, &old).await?;
    }
    Ok(())
}

/// `reconcileOldMachineSets`: scale old MachineSets down, first their unhealthy replicas
/// (`cleanupUnhealthyReplicas`), then as far as `maxUnavailable` allows
/// (`scaleDownOldMachineSetsForRollingUpdate`), oldest first.
async fn reconcile_old_machine_sets(
    ctx: &Context,
    md: &MachineDeployment,
    old: &mut [MachineSet],
    new_ms: &MachineSet,
) -> Result<(), Error> {
    let old_count: i32 = old.iter().map(replicas).sum();
    if old_count == 0 {
        return Ok(());
    }
    let desired = md.spec.replicas.unwrap_or(1);
    let all_count = old_count + replicas(new_ms);
    let (_, max_unavailable) = fenceposts(md)?;
    let min_available = desired - max_unavailable;
    let new_unavailable = replicas(new_ms) - status_of(new_ms).2;
    let max_scaled_down = all_count - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(());
    }
    old.sort_by_key(|ms| {
        (
            ms.metadata.creation_timestamp.as_ref().map(|t| t.0),
            ms.name_any(),
        )
    });
    let mut cleaned = 0;
    for ms in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        let (count, available) = (replicas(ms), status_of(ms).2);
        if count == 0 || count == available {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(count - available);
        scale_machine_set(ctx, ms, count - down, md).await?;
        cleaned += down;
    }
    let available: i32 = old
        .iter()
        .chain(std::iter::once(new_ms))
        .map(|ms| status_of(ms).2)
        .sum();
    if available <= min_available {
        return Ok(());
    }
    let total = available - min_available;
    let mut scaled_down = 0;
    for ms in old.iter_mut() {
        if scaled_down >= total {
            break;
        }
        let count = replicas(ms);
        if count == 0 {
            continue;
        }
        let down = count.min(total - scaled_down);
        scale_machine_set(ctx, ms, count - down, md).await?;
        scaled_down += down;
    }
    Ok(())
}

/// `cleanupDeployment`: deletes old MachineSets without replicas beyond `revisionHistoryLimit`.
async fn cleanup_deployment(
    ctx: &Context,
    md: &MachineDeployment,
    old: &[MachineSet],
) -> Result<(), Error> {
    let limit = usize::try_from(md.spec.revision_history_limit.unwrap_or(1)).unwrap_or(0);
    let mut cleanable: Vec<&MachineSet> = old
        .iter()
        .filter(|ms| {
            ms.metadata.deletion_timestamp.is_none() && replicas(ms) == 0 && status_of(ms).0 == 0
        })
        .collect();
    if cleanable.len() <= limit {
        return Ok(());
    }
    cleanable.sort_by_key(|ms| {
        (
            ms.metadata.creation_timestamp.as_ref().map(|t| t.0),
            ms.name_any(),
        )
    });
    let excess = cleanable.len() - limit;
    for ms in cleanable.into_iter().take(excess) {
        delete_machine_set(ctx, ms).await?;
    }
    Ok(())
}

/// `syncDeploymentStatus` + `calculateStatus`: counters from the MachineSets, phase,
/// `Available` and `MachineSetReady` conditions.
fn sync_status(
    md: &MachineDeployment,
    old: &[MachineSet],
    new_ms: &MachineSet,
) -> MachineDeploymentStatus {
    let all = || old.iter().chain(std::iter::once(new_ms));
    let desired = md.spec.replicas.unwrap_or(1);
    let available: i32 = all().map(|ms| status_of(ms).2).sum();
    let total: i32 = all().map(replicas).sum();
    let ready: i32 = all().map(|ms| status_of(ms).1).sum();
    let mut status = md.status.clone().unwrap_or_default();
    status.observed_generation = md.metadata.generation;
    status.selector = selector(&md.spec.selector, "spec.selector")
        .map(|s| s.to_string())
        .ok();
    status.replicas = Some(all().map(|ms| status_of(ms).0).sum());
    status.updated_replicas = Some(status_of(new_ms).0);
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.unavailable_replicas = Some((total - available).max(0));
    let mut phase = status.phase.clone();
    if desired == ready {
        phase = Some("Running".to_owned());
    }
    if desired > ready {
        phase = Some("ScalingUp".to_owned());
    }
    if total - available < 0 {
        phase = Some("ScalingDown".to_owned());
    }
    if all().any(|ms| {
        ms.status
            .as_ref()
            .is_some_and(|s| s.failure_reason.is_some() || s.failure_message.is_some())
    }) {
        phase = Some("Failed".to_owned());
    }
    status.phase = phase;
    let now = now();
    let (_, max_unavailable) = fenceposts(md).unwrap_or((1, 0));
    let min_needed = desired - max_unavailable;
    if available >= min_needed {
        status.mark_true("Available", now);
    } else {
        status.mark_false(
            "Available",
            "WaitingForAvailableMachines",
            Severity::Warning,
            &format!(
                "Minimum availability requires {min_needed} replicas, current {available} available"
            ),
            now,
        );
    }
    // SetMirror of the new MachineSet's Ready into MachineSetReady.
    match new_ms.status.as_ref().and_then(|s| s.get(READY)) {
        Some(ready) => {
            status.set(capi_types::conditions::Condition {
                type_: "MachineSetReady".to_owned(),
                last_transition_time: capi_types::conditions::format_time(now),
                ..ready.clone()
            });
        }
        None => {
            status.mark_false(
                "MachineSetReady",
                "WaitingForMachineSet",
                Severity::Info,
                "",
                now,
            );
        }
    }
    status.set_summary_of(&["Available"], now);
    status
}
