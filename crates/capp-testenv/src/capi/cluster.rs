//! The emulated Cluster controller (`internal/controllers/cluster`): ownership and label of the
//! infrastructure cluster, endpoint and readiness copied back, the admin kubeconfig when there
//! is no control plane provider, `ControlPlaneInitialized`, phase, and deletion of the
//! descendants before the infrastructure cluster.

use std::sync::Arc;

use capi_types::cluster::{Cluster, ClusterStatus};
use capi_types::common::{ApiEndpoint, ObjectReference};
use capi_types::conditions::{
    CONTROL_PLANE_INITIALIZED, CONTROL_PLANE_READY, Conditions as _, DELETED_REASON,
    DELETING_REASON, INFRASTRUCTURE_READY, Severity, WAITING_FOR_INFRASTRUCTURE_REASON,
};
use capi_types::failure_domains::FailureDomains;
use capi_types::labels::{CLUSTER_FINALIZER, CLUSTER_NAME_LABEL, CLUSTER_SECRET_TYPE};
use capi_types::machine::Machine;
use capi_types::machine_deployment::MachineDeployment;
use capi_types::machine_set::MachineSet;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::external::{External, set_mirror};
use super::machine::list_cluster_machines;
use super::object::{
    controller_ref, ensure_finalizer, ensure_owner_ref, group_of, has_exact_owner_ref,
    is_not_found, key, kube_err, now, owner_ref, persist, remove_finalizer,
    set_controller_reference,
};
use super::{Context, Error, run_controller, watch_config};

/// Runs the controller until aborted. Besides Clusters it watches the Machines,
/// MachineSets and MachineDeployments of each Cluster, whose changes decide
/// `ControlPlaneInitialized` and the progress of a deletion.
pub(super) async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let controller = Controller::new(Api::<Cluster>::all(client.clone()), watch_config())
        .watches(Api::<Machine>::all(client.clone()), watch_config(), |m| {
            to_cluster(&m, &m.spec.cluster_name)
        })
        .watches(
            Api::<MachineSet>::all(client.clone()),
            watch_config(),
            |ms| to_cluster(&ms, &ms.spec.cluster_name),
        )
        .watches(
            Api::<MachineDeployment>::all(client),
            watch_config(),
            |md| to_cluster(&md, &md.spec.cluster_name),
        );
    run_controller(controller, ctx, reconcile).await;
}

/// The Cluster an object names in `spec.clusterName`.
fn to_cluster(obj: &impl Resource, cluster_name: &str) -> Option<ObjectRef<Cluster>> {
    let namespace = obj.meta().namespace.as_deref()?;
    (!cluster_name.is_empty()).then(|| ObjectRef::new(cluster_name).within(namespace))
}

/// What one pass found (CAPI's cluster `scope`).
#[derive(Debug, Default)]
struct Scope {
    infra: Option<External>,
    infra_not_found: bool,
    control_plane: Option<External>,
    control_plane_not_found: bool,
}

fn status(c: &mut Cluster) -> &mut ClusterStatus {
    c.status.get_or_insert_with(ClusterStatus::default)
}

async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Cluster> = Api::namespaced(ctx.client.clone(), &namespace);
    let poll = Action::requeue(ctx.options.poll_interval);
    if ensure_finalizer(&api, &cluster, CLUSTER_FINALIZER).await? {
        return Ok(poll);
    }
    if capi_types::is_paused(&cluster, cluster.as_ref()) {
        return Ok(poll);
    }
    let original = (*cluster).clone();
    let mut c = original.clone();
    default_cluster(&mut c);
    let mut scope = Scope::default();
    let deleting = c.metadata.deletion_timestamp.is_some();
    let mut outcome = Ok(());
    // `alwaysReconcile`, then `reconcileDelete` or `reconcileKubeconfig` +
    // `reconcileControlPlaneInitialized`; every phase runs, the first error is returned.
    let mut results = vec![
        reconcile_infrastructure(&ctx, &mut c, &mut scope).await,
        reconcile_control_plane(&ctx, &mut c, &mut scope).await,
    ];
    if deleting {
        results.push(reconcile_delete(&ctx, &mut c, &scope).await);
    } else {
        results.push(reconcile_kubeconfig(&ctx, &c).await);
        results.push(reconcile_control_plane_initialized(&ctx, &mut c).await);
    }
    for result in results {
        if outcome.is_ok() {
            outcome = result;
        }
    }
    // The deferred `updateStatus` (`reconcilePhase`) and `patchCluster` (Ready summary).
    reconcile_phase(&mut c);
    status(&mut c).set_summary_of(&[CONTROL_PLANE_READY, INFRASTRUCTURE_READY], now());
    if outcome.is_ok() {
        status(&mut c).observed_generation = c.metadata.generation;
    }
    persist(&api, &original, &c).await?;
    outcome.map(|()| poll)
}

/// The Cluster webhook's defaulting of the references (`webhooks.Cluster.Default`): an empty
/// `infrastructureRef` or `controlPlaneRef` namespace is the Cluster's.
fn default_cluster(c: &mut Cluster) {
    let namespace = c.namespace().unwrap_or_default();
    for reference in [
        c.spec.infrastructure_ref.as_mut(),
        c.spec.control_plane_ref.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        if reference.namespace.as_deref().is_none_or(str::is_empty) {
            reference.namespace = Some(namespace.clone());
        }
    }
}

/// `reconcileExternal` + `ensureOwnerRefAndLabel`: the Cluster controls the referenced object,
/// which carries the cluster-name label; its failure fields are copied to the Cluster.
async fn reconcile_external(
    ctx: &Context,
    c: &mut Cluster,
    reference: &ObjectReference,
    field: &str,
) -> Result<Option<External>, Error> {
    let namespace = c.namespace().unwrap_or_default();
    let Some(mut ext) = super::external::get(ctx, reference, &namespace, field).await? else {
        return Ok(None);
    };
    // `ensureOwnerRefAndLabel`: a controller reference only for a Cluster with a topology,
    // else a plain ownerReference (so other tools may control the object).
    let topology = c.spec.topology.is_some();
    let desired = if topology {
        controller_ref(&*c)
    } else {
        owner_ref(&*c)
    };
    let mut refs = ext
        .obj
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    let mut labels = ext.obj.metadata.labels.clone().unwrap_or_default();
    let name = c.name_any();
    if !has_exact_owner_ref(&refs, &desired) || labels.get(CLUSTER_NAME_LABEL) != Some(&name) {
        if topology {
            set_controller_reference(&mut refs, desired, &ext.describe())?;
        } else {
            ensure_owner_ref(&mut refs, desired);
        }
        labels.insert(CLUSTER_NAME_LABEL.to_owned(), name);
        ext.patch_metadata(&refs, &labels).await?;
    }
    let (reason, message) = ext.failures()?;
    if let Some(reason) = reason {
        status(c).failure_reason = Some(reason);
    }
    if let Some(message) = message {
        let api_version = ext
            .obj
            .types
            .as_ref()
            .map(|t| t.api_version.clone())
            .unwrap_or_default();
        let name = ext.obj.metadata.name.clone().unwrap_or_default();
        status(c).failure_message = Some(format!(
            "Failure detected from referenced resource {api_version}, Kind={} with name {name:?}: {message}",
            ext.kind()
        ));
    }
    Ok(Some(ext))
}

/// `reconcileInfrastructure`: mirrors the infrastructure cluster's readiness; once ready,
/// copies `spec.controlPlaneEndpoint` (unless already set) and `status.failureDomains`.
async fn reconcile_infrastructure(
    ctx: &Context,
    c: &mut Cluster,
    scope: &mut Scope,
) -> Result<(), Error> {
    let deleting = c.metadata.deletion_timestamp.is_some();
    let Some(infra_ref) = c.spec.infrastructure_ref.clone() else {
        if !deleting {
            let status = status(c);
            status.infrastructure_ready = Some(true);
            status.mark_true(INFRASTRUCTURE_READY, now());
        }
        return Ok(());
    };
    let Some(ext) = reconcile_external(ctx, c, &infra_ref, "spec.infrastructureRef").await? else {
        scope.infra_not_found = true;
        let was_ready = c.status.as_ref().and_then(|s| s.infrastructure_ready) == Some(true);
        if !deleting && was_ready {
            return Err(Error::Invalid(format!(
                "{} {} has been deleted after being ready",
                infra_ref.kind.as_deref().unwrap_or_default(),
                infra_ref.name.as_deref().unwrap_or_default()
            )));
        }
        return Ok(());
    };
    scope.infra = Some(ext.clone());
    let ready = ext.is_ready("provisioned")?;
    let now = now();
    if deleting {
        set_mirror(
            status(c),
            INFRASTRUCTURE_READY,
            &ext,
            false,
            DELETING_REASON,
            now,
        );
    } else {
        set_mirror(
            status(c),
            INFRASTRUCTURE_READY,
            &ext,
            ready,
            WAITING_FOR_INFRASTRUCTURE_REASON,
            now,
        );
    }
    let was_ready = c.status.as_ref().and_then(|s| s.infrastructure_ready) == Some(true);
    if ext.is_deleting() || (!ready && !was_ready) {
        return Ok(());
    }
    if !c
        .spec
        .control_plane_endpoint
        .as_ref()
        .is_some_and(ApiEndpoint::is_valid)
        && let Some(endpoint) = ext.typed_field::<ApiEndpoint>(&["spec", "controlPlaneEndpoint"])?
    {
        c.spec.control_plane_endpoint = Some(endpoint);
    }
    let failure_domains: FailureDomains = ext
        .typed_field(&["status", "failureDomains"])?
        .unwrap_or_default();
    let status = status(c);
    status.failure_domains = failure_domains;
    status.infrastructure_ready = Some(true);
    Ok(())
}

/// `reconcileControlPlane` for Clusters that reference a control plane provider: ownership,
/// label, `status.ready` → `controlPlaneReady`, `status.initialized` →
/// `ControlPlaneInitialized`, endpoint copied back. Without a reference nothing is done (the
/// Machine-based control plane is handled by [`reconcile_control_plane_initialized`]).
async fn reconcile_control_plane(
    ctx: &Context,
    c: &mut Cluster,
    scope: &mut Scope,
) -> Result<(), Error> {
    let Some(cp_ref) = c.spec.control_plane_ref.clone() else {
        return Ok(());
    };
    let deleting = c.metadata.deletion_timestamp.is_some();
    let Some(ext) = reconcile_external(ctx, c, &cp_ref, "spec.controlPlaneRef").await? else {
        scope.control_plane_not_found = true;
        return Ok(());
    };
    scope.control_plane = Some(ext.clone());
    let ready = ext.bool_field(&["status", "ready"])?.unwrap_or(false);
    let initialized = ext.bool_field(&["status", "initialized"])?.unwrap_or(false);
    let now = now();
    if deleting {
        set_mirror(
            status(c),
            CONTROL_PLANE_READY,
            &ext,
            false,
            DELETING_REASON,
            now,
        );
    } else {
        set_mirror(
            status(c),
            CONTROL_PLANE_READY,
            &ext,
            ready,
            "WaitingForControlPlane",
            now,
        );
    }
    if ext.is_deleting() {
        return Ok(());
    }
    if initialized {
        status(c).mark_true(CONTROL_PLANE_INITIALIZED, now);
    } else {
        status(c).mark_false(
            CONTROL_PLANE_INITIALIZED,
            "WaitingForControlPlaneProviderInitialized",
            Severity::Info,
            "Waiting for control plane provider to indicate the control plane has been initialized",
            now,
        );
    }
    if ready {
        status(c).control_plane_ready = Some(true);
    }
    if !c
        .spec
        .control_plane_endpoint
        .as_ref()
        .is_some_and(ApiEndpoint::is_valid)
        && let Some(endpoint) = ext.typed_field::<ApiEndpoint>(&["spec", "controlPlaneEndpoint"])?
    {
        c.spec.control_plane_endpoint = Some(endpoint);
    }
    Ok(())
}

/// `reconcileKubeconfig`: without a control plane provider, once the endpoint is known, the
/// core writes `<cluster>-kubeconfig` from the `<cluster>-ca` Secret (`kubeconfig.CreateSecret`)
/// unless it exists. It waits while the CA Secret is missing (the bootstrap provider creates
/// it for the first control plane Machine).
async fn reconcile_kubeconfig(ctx: &Context, c: &Cluster) -> Result<(), Error> {
    let Some(endpoint) = c
        .spec
        .control_plane_endpoint
        .as_ref()
        .filter(|e| e.is_valid())
    else {
        return Ok(());
    };
    if c.spec.control_plane_ref.is_some() {
        return Ok(());
    }
    let namespace = c.namespace().unwrap_or_default();
    let name = c.name_any();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let kubeconfig_name = capp_pki::Purpose::Kubeconfig.secret_name(&name);
    if secrets
        .get_opt(&kubeconfig_name)
        .await
        .map_err(kube_err(format!(
            "get Secret {namespace}/{kubeconfig_name}"
        )))?
        .is_some()
    {
        return Ok(());
    }
    let ca_name = capp_pki::Purpose::ClusterCa.secret_name(&name);
    let Some(ca) = secrets
        .get_opt(&ca_name)
        .await
        .map_err(kube_err(format!("get Secret {namespace}/{ca_name}")))?
    else {
        return Ok(());
    };
    let mut secret = admin_kubeconfig_secret(c, endpoint, &ca)?;
    secret.metadata.owner_references = Some(vec![owner_ref(c)]);
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(kube_err(format!(
            "create Secret {namespace}/{kubeconfig_name}"
        ))(e)),
    }
}

/// The `<cluster>-kubeconfig` Secret (`kubeconfig.New` + `GenerateSecretWithOwner`): user
/// `<cluster>-admin` with a client certificate `CN=kubernetes-admin, O=system:masters` signed
/// by the cluster CA, server `https://<endpoint>`.
fn admin_kubeconfig_secret(
    c: &Cluster,
    endpoint: &ApiEndpoint,
    ca: &Secret,
) -> Result<Secret, Error> {
    let name = c.name_any();
    let namespace = c.namespace().unwrap_or_default();
    let pki_err = |source| Error::Pki {
        cluster: key(c),
        source,
    };
    let mut ca_secret = capp_pki::Secret::new(
        namespace.clone(),
        ca.metadata.name.clone().unwrap_or_default(),
        ca.type_.clone().unwrap_or_default(),
    );
    for (k, v) in ca.data.iter().flatten() {
        ca_secret = ca_secret.with_data(k.clone(), v.0.clone());
    }
    let authority =
        capp_pki::CertificateAuthority::from_capi_secret(&ca_secret).map_err(pki_err)?;
    let spec = capp_pki::LeafSpec::client("kubernetes-admin").with_organization("system:masters");
    let issued = authority
        .issue(&spec, now(), &mut rand::rng())
        .map_err(pki_err)?;
    let kubeconfig = capp_pki::Kubeconfig::admin(
        &name,
        &format!("https://{endpoint}"),
        authority.certificate(),
        &issued,
    );
    let rendered = kubeconfig
        .to_capi_secret(&name, &namespace)
        .map_err(pki_err)?;
    Ok(Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(rendered.name.clone()),
            namespace: Some(namespace),
            labels: Some(rendered.labels.clone()),
            ..Default::default()
        },
        data: Some(
            rendered
                .data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                .collect(),
        ),
        type_: Some(CLUSTER_SECRET_TYPE.to_owned()),
        ..Secret::default()
    })
}

/// `reconcileControlPlaneInitialized`: without a control plane provider, the control plane is
/// initialized once a control plane Machine that is not being deleted has a nodeRef.
async fn reconcile_control_plane_initialized(ctx: &Context, c: &mut Cluster) -> Result<(), Error> {
    if c.spec.control_plane_ref.is_some()
        || c.status
            .as_ref()
            .is_some_and(|s| s.is_true(CONTROL_PLANE_INITIALIZED))
    {
        return Ok(());
    }
    let machines = list_cluster_machines(ctx, c).await?;
    let initialized = machines.iter().any(|m| {
        m.metadata.deletion_timestamp.is_none()
            && m.is_control_plane()
            && m.status.as_ref().is_some_and(|s| s.node_ref.is_some())
    });
    let now = now();
    if initialized {
        status(c).mark_true(CONTROL_PLANE_INITIALIZED, now);
    } else {
        status(c).mark_false(
            CONTROL_PLANE_INITIALIZED,
            "MissingNodeRef",
            Severity::Info,
            "Waiting for the first control plane machine to have its status.nodeRef set",
            now,
        );
    }
    Ok(())
}

/// Whether `obj` has an ownerReference to the Cluster (`util.IsOwnedByObject`).
fn owned_by(obj: &impl Resource, c: &Cluster) -> bool {
    obj.meta().owner_references.iter().flatten().any(|r| {
        group_of(&r.api_version) == capi_types::labels::GROUP
            && r.kind == "Cluster"
            && Some(&r.name) == c.metadata.name.as_ref()
    })
}

/// Deletes an object the Cluster owns unless it is already being deleted.
async fn delete_child<K>(ctx: &Context, child: &K) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    if child.meta().deletion_timestamp.is_some() {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(
        ctx.client.clone(),
        child.meta().namespace.as_deref().unwrap_or_default(),
    );
    match api
        .delete(
            child.meta().name.as_deref().unwrap_or_default(),
            &DeleteParams::default(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(kube_err(format!("delete {} {}", K::kind(&()), key(child)))(
            e,
        )),
    }
}

/// `getDescendants` + `reconcileDelete`: deletes the MachineDeployments, MachineSets and Machines
/// the Cluster owns directly, waits until no descendant is left, then deletes the control
/// plane object and the infrastructure cluster, waits for them, and removes the finalizer.
async fn reconcile_delete(ctx: &Context, c: &mut Cluster, scope: &Scope) -> Result<(), Error> {
    let namespace = c.namespace().unwrap_or_default();
    let selector = ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={}", c.name_any()));
    let deployments = Api::<MachineDeployment>::namespaced(ctx.client.clone(), &namespace)
        .list(&selector)
        .await
        .map_err(kube_err(format!(
            "list MachineDeployments of Cluster {}",
            key(c)
        )))?
        .items;
    let sets = Api::<MachineSet>::namespaced(ctx.client.clone(), &namespace)
        .list(&selector)
        .await
        .map_err(kube_err(format!("list MachineSets of Cluster {}", key(c))))?
        .items;
    let mut machines = list_cluster_machines(ctx, c).await?;
    machines.sort_by_key(ResourceExt::name_any);
    let (control_plane, workers): (Vec<_>, Vec<_>) =
        machines.into_iter().partition(Machine::is_control_plane);
    let machine_based_control_plane = c.spec.control_plane_ref.is_none();
    // filterOwnedDescendants: MachineDeployments, MachineSets, worker Machines, then control
    // plane Machines when there is no control plane provider.
    for md in deployments.iter().filter(|o| owned_by(*o, c)) {
        delete_child(ctx, md).await?;
    }
    for ms in sets.iter().filter(|o| owned_by(*o, c)) {
        delete_child(ctx, ms).await?;
    }
    for m in workers.iter().filter(|o| owned_by(*o, c)) {
        delete_child(ctx, m).await?;
    }
    if machine_based_control_plane {
        for m in control_plane.iter().filter(|o| owned_by(*o, c)) {
            delete_child(ctx, m).await?;
        }
    }
    let pending = deployments.len()
        + sets.len()
        + workers.len()
        + if machine_based_control_plane {
            control_plane.len()
        } else {
            0
        };
    if pending > 0 {
        return Ok(());
    }
    let now = now();
    if c.spec.control_plane_ref.is_some() {
        match &scope.control_plane {
            Some(cp) => {
                if !cp.is_deleting() {
                    cp.delete().await?;
                }
                return Ok(());
            }
            None if scope.control_plane_not_found => {
                status(c).mark_false(CONTROL_PLANE_READY, DELETED_REASON, Severity::Info, "", now);
            }
            None => return Ok(()),
        }
    }
    if c.spec.infrastructure_ref.is_some() {
        match &scope.infra {
            Some(infra) => {
                if !infra.is_deleting() {
                    infra.delete().await?;
                }
                return Ok(());
            }
            None if scope.infra_not_found => {
                status(c).mark_false(
                    INFRASTRUCTURE_READY,
                    DELETED_REASON,
                    Severity::Info,
                    "",
                    now,
                );
            }
            None => return Ok(()),
        }
    }
    remove_finalizer(&mut c.metadata, CLUSTER_FINALIZER);
    Ok(())
}

/// `reconcilePhase`.
fn reconcile_phase(c: &mut Cluster) {
    let has_refs = c.spec.infrastructure_ref.is_some() || c.spec.control_plane_ref.is_some();
    let endpoint_valid = c
        .spec
        .control_plane_endpoint
        .as_ref()
        .is_some_and(ApiEndpoint::is_valid);
    let deleting = c.metadata.deletion_timestamp.is_some();
    let status = status(c);
    let mut phase = status.phase.clone().unwrap_or_else(|| "Pending".to_owned());
    if has_refs {
        "Provisioning".clone_into(&mut phase);
    }
    if status.infrastructure_ready == Some(true) && endpoint_valid {
        "Provisioned".clone_into(&mut phase);
    }
    if status.failure_reason.is_some() || status.failure_message.is_some() {
        "Failed".clone_into(&mut phase);
    }
    if deleting {
        "Deleting".clone_into(&mut phase);
    }
    status.phase = Some(phase);
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_types::cluster::ClusterSpec;

    #[test]
    fn a_cluster_is_provisioned_once_infrastructure_is_ready_and_the_endpoint_valid() {
        let mut c = Cluster::new("prod", ClusterSpec::default());
        reconcile_phase(&mut c);
        assert_eq!(c.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
        c.spec.infrastructure_ref = Some(ObjectReference::default());
        reconcile_phase(&mut c);
        assert_eq!(
            c.status.as_ref().unwrap().phase.as_deref(),
            Some("Provisioning")
        );
        status(&mut c).infrastructure_ready = Some(true);
        reconcile_phase(&mut c);
        assert_eq!(
            c.status.as_ref().unwrap().phase.as_deref(),
            Some("Provisioning")
        );
        c.spec.control_plane_endpoint = Some(ApiEndpoint {
            host: "10.0.0.1".into(),
            port: 6443,
        });
        reconcile_phase(&mut c);
        assert_eq!(
            c.status.as_ref().unwrap().phase.as_deref(),
            Some("Provisioned")
        );
    }
}
