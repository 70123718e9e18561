//! Writing core objects back and ownerReference bookkeeping, as CAPI's `util` package and
//! controller-runtime's `controllerutil` do it.

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use kube::core::Selector;
use kube::{Resource, ResourceExt as _};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;

/// `namespace/name` of an object, for messages.
pub(crate) fn key(obj: &impl Resource) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Wraps a kube error with what was being done.
pub(crate) fn kube_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Kube { action, source }
}

/// Whether a kube error is a 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Writes `desired` back the way CAPI's deferred `patch.Helper.Patch` does: metadata and spec
/// when they changed (with the read resourceVersion, so concurrent writers conflict instead
/// of being overwritten), then the status subresource when it changed. A write that removes
/// the last finalizer of a deleted object ends the object; the status write is then skipped.
pub(crate) async fn persist<K>(api: &Api<K>, original: &K, desired: &K) -> Result<(), Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.name_any();
    let to_json = |obj: &K| {
        serde_json::to_value(obj).map_err(|source| Error::Json {
            what: key(obj),
            source,
        })
    };
    let mut before = to_json(original)?;
    let mut after = to_json(desired)?;
    let status_before = before.as_object_mut().and_then(|o| o.remove("status"));
    let status_after = after.as_object_mut().and_then(|o| o.remove("status"));
    let mut resource_version = desired.meta().resource_version.clone();
    if before != after {
        match api.replace(&name, &PostParams::default(), desired).await {
            Ok(written) => resource_version.clone_from(&written.meta().resource_version),
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(kube_err(format!("update {}", key(desired)))(e)),
        }
        let finalizers_gone = desired.meta().deletion_timestamp.is_some()
            && desired.meta().finalizers.as_ref().is_none_or(Vec::is_empty);
        if finalizers_gone {
            return Ok(());
        }
    }
    if status_before != status_after {
        let mut body = desired.clone();
        body.meta_mut().resource_version = resource_version;
        match api
            .replace_status(&name, &PostParams::default(), &body)
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(kube_err(format!("update the status of {}", key(desired)))(
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Adds `finalizer` and writes the object when it is missing (CAPI's
/// `finalizers.EnsureFinalizer`). Returns whether it was added; the caller then returns and
/// reconciles again, as upstream does, to avoid racing the first reconcile with a deletion.
pub(crate) async fn ensure_finalizer<K>(
    api: &Api<K>,
    obj: &K,
    finalizer: &str,
) -> Result<bool, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    if obj.meta().deletion_timestamp.is_some() || obj.finalizers().iter().any(|f| f == finalizer) {
        return Ok(false);
    }
    let mut desired = obj.clone();
    desired.finalizers_mut().push(finalizer.to_owned());
    persist(api, obj, &desired).await?;
    Ok(true)
}

/// Removes `finalizer` (controllerutil `RemoveFinalizer`).
pub(crate) fn remove_finalizer(meta: &mut ObjectMeta, finalizer: &str) {
    if let Some(finalizers) = meta.finalizers.as_mut() {
        finalizers.retain(|f| f != finalizer);
    }
}

/// The group of an `apiVersion` (`""` for `v1`).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// Whether two references point at the same object: same group (any version), kind and name
/// (controllerutil's `referSameObject`).
fn refer_same_object(a: &OwnerReference, b: &OwnerReference) -> bool {
    group_of(&a.api_version) == group_of(&b.api_version) && a.kind == b.kind && a.name == b.name
}

/// A plain ownerReference to `owner` (no controller flag), as CAPI writes
/// `metav1.OwnerReference{APIVersion, Kind, Name, UID}`.
pub(crate) fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    }
}

/// A controller reference to `owner` (`metav1.NewControllerRef`: controller and
/// blockOwnerDeletion set).
pub(crate) fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        controller: Some(true),
        block_owner_deletion: Some(true),
        ..owner_ref(owner)
    }
}

/// Adds `reference` or replaces the reference to the same object (CAPI's
/// `util.EnsureOwnerRef`).
pub(crate) fn ensure_owner_ref(refs: &mut Vec<OwnerReference>, reference: OwnerReference) {
    match refs.iter_mut().find(|r| refer_same_object(r, &reference)) {
        Some(existing) => *existing = reference,
        None => refs.push(reference),
    }
}

/// Whether `refs` holds exactly `reference` (CAPI's `util.HasExactOwnerRef`).
pub(crate) fn has_exact_owner_ref(refs: &[OwnerReference], reference: &OwnerReference) -> bool {
    refs.iter().any(|r| r == reference)
}

/// Makes `owner` the controller of the object (controllerutil `SetControllerReference`):
/// fails when another object already is its controller.
pub(crate) fn set_controller_reference(
    refs: &mut Vec<OwnerReference>,
    owner: OwnerReference,
    what: &str,
) -> Result<(), Error> {
    if let Some(other) = refs
        .iter()
        .find(|r| r.controller == Some(true) && !refer_same_object(r, &owner))
    {
        return Err(Error::Invalid(format!(
            "{what} is already controlled by {} {}; remove that controller ownerReference to let {} {} own it",
            other.kind, other.name, owner.kind, owner.name
        )));
    }
    ensure_owner_ref(refs, owner);
    Ok(())
}

/// The controller ownerReference of an object (`metav1.GetControllerOf`).
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether the object has an ownerReference of `kind` in the core group (CAPI's
/// `util.HasOwner` with `cluster.x-k8s.io`).
pub(crate) fn has_core_owner(meta: &ObjectMeta, kinds: &[&str]) -> bool {
    meta.owner_references.iter().flatten().any(|r| {
        group_of(&r.api_version) == capi_types::labels::GROUP && kinds.contains(&r.kind.as_str())
    })
}

/// A label selector as the API's query string and matcher (`metav1.LabelSelectorAsSelector`).
pub(crate) fn selector(selector: &LabelSelector, field: &str) -> Result<Selector, Error> {
    Selector::try_from(selector.clone())
        .map_err(|e| Error::Invalid(format!("{field} is not a valid label selector: {e}")))
}

/// Whether `labels` has every key/value of `subset` (`labels.Set(subset).Matches`).
pub(crate) fn has_labels(
    labels: &BTreeMap<String, String>,
    subset: &BTreeMap<String, String>,
) -> bool {
    subset.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The current time for conditions (`metav1.Now`).
pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The current time as a Kubernetes `Time`.
pub(crate) fn meta_now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(api_version: &str, kind: &str, name: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            uid: format!("uid-{name}"),
            controller: controller.then_some(true),
            block_owner_deletion: controller.then_some(true),
        }
    }

    #[test]
    fn ensure_owner_ref_replaces_a_reference_to_the_same_object_whatever_its_version() {
        let mut refs = vec![reference(
            "cluster.x-k8s.io/v1alpha4",
            "Cluster",
            "c",
            false,
        )];
        ensure_owner_ref(
            &mut refs,
            reference("cluster.x-k8s.io/v1beta1", "Cluster", "c", false),
        );
        ensure_owner_ref(
            &mut refs,
            reference("cluster.x-k8s.io/v1beta1", "MachineSet", "ms", false),
        );
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].api_version, "cluster.x-k8s.io/v1beta1");
    }

    #[test]
    fn a_second_controller_is_refused_with_a_message_naming_both() {
        let mut refs = vec![reference("cluster.x-k8s.io/v1beta1", "Machine", "m1", true)];
        let err = set_controller_reference(
            &mut refs,
            reference("cluster.x-k8s.io/v1beta1", "Machine", "m2", true),
            "TestMachine default/m1",
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("Machine m1") && message.contains("Machine m2"),
            "{message}"
        );
        set_controller_reference(
            &mut refs,
            reference("cluster.x-k8s.io/v1beta1", "Machine", "m1", true),
            "TestMachine default/m1",
        )
        .unwrap();
        assert_eq!(refs.len(), 1);
    }
}
