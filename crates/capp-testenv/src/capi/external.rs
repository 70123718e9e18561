//! Referenced provider objects (infrastructure, bootstrap, templates) of any kind, read and
//! written as dynamic objects, and template cloning (CAPI `controllers/external/util.go`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use capi_types::common::ObjectReference;
use capi_types::conditions::{Condition, Conditions, READY, STATUS_TRUE, Severity};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

use super::object::{is_not_found, kube_err};
use super::{Context, Error};

/// Suffix of template kinds (`TemplateSuffix`).
const TEMPLATE_SUFFIX: &str = "Template";

/// Resolved kinds (apiVersion, kind) → resource, so each kind is discovered once.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    cache: Mutex<HashMap<(String, String), ApiResource>>,
}

impl Discovery {
    /// The API resource serving `kind` in `api_version`.
    async fn resource(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Result<ApiResource, Error> {
        let cache_key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cache_key)
        {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .map_err(kube_err(format!(
                "discover the resource of {kind} in {api_version}"
            )))?;
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cache_key, resource.clone());
        Ok(resource)
    }
}

/// A referenced object and the API to write it.
#[derive(Debug, Clone)]
pub(crate) struct External {
    /// The object as read.
    pub(crate) obj: DynamicObject,
    api: Api<DynamicObject>,
    kind: String,
}

/// Checks that a reference names an object: apiVersion, kind and name are required.
fn check_reference(
    reference: &ObjectReference,
    field: &str,
) -> Result<(String, String, String), Error> {
    let required = |value: &Option<String>, part: &str, hint: &str| {
        value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Invalid(format!("{field}.{part} is empty: set it to {hint}")))
    };
    Ok((
        required(
            &reference.api_version,
            "apiVersion",
            "the referenced object's group/version",
        )?,
        required(&reference.kind, "kind", "the referenced object's kind")?,
        required(&reference.name, "name", "the referenced object's name")?,
    ))
}

/// Reads the object `reference` points at (`external.Get`); `None` when it does not exist.
/// An empty reference namespace means `namespace` (the referrer's).
pub(crate) async fn get(
    ctx: &Context,
    reference: &ObjectReference,
    namespace: &str,
    field: &str,
) -> Result<Option<External>, Error> {
    let (api_version, kind, name) = check_reference(reference, field)?;
    let namespace = reference
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(namespace);
    let resource = ctx
        .discovery
        .resource(&ctx.client, &api_version, &kind)
        .await?;
    let api = Api::<DynamicObject>::namespaced_with(ctx.client.clone(), namespace, &resource);
    match api.get(&name).await {
        Ok(mut obj) => {
            obj.types = Some(kube::api::TypeMeta {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
            });
            Ok(Some(External { obj, api, kind }))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(kube_err(format!("get {kind} {namespace}/{name}"))(e)),
    }
}

impl External {
    /// `kind namespace/name`, for messages.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {}/{}",
            self.kind,
            self.obj.metadata.namespace.as_deref().unwrap_or_default(),
            self.obj.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// The object's kind.
    pub(crate) fn kind(&self) -> &str {
        &self.kind
    }

    /// The value at `path`, if present and not null.
    pub(crate) fn field(&self, path: &[&str]) -> Option<&Value> {
        let mut value = &self.obj.data;
        for part in path {
            value = value.get(part)?;
        }
        (!value.is_null()).then_some(value)
    }

    /// A boolean field; a value of another type is an error naming the field.
    pub(crate) fn bool_field(&self, path: &[&str]) -> Result<Option<bool>, Error> {
        self.field(path)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: {} must be a boolean, not {v}",
                        self.describe(),
                        path.join(".")
                    ))
                })
            })
            .transpose()
    }

    /// A string field; a value of another type is an error naming the field.
    pub(crate) fn string_field(&self, path: &[&str]) -> Result<Option<String>, Error> {
        self.field(path)
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: {} must be a string, not {v}",
                        self.describe(),
                        path.join(".")
                    ))
                })
            })
            .transpose()
    }

    /// A field decoded into `T`; a value of another shape is an error naming the field
    /// (`util.UnstructuredUnmarshalField`).
    pub(crate) fn typed_field<T: serde::de::DeserializeOwned>(
        &self,
        path: &[&str],
    ) -> Result<Option<T>, Error> {
        self.field(path)
            .map(|v| {
                serde_json::from_value(v.clone()).map_err(|e| {
                    Error::Invalid(format!(
                        "{}: {} has an unexpected shape: {e}",
                        self.describe(),
                        path.join(".")
                    ))
                })
            })
            .transpose()
    }

    /// Whether the provider reports the object ready: `status.ready` (v1beta1 contract,
    /// `external.IsReady`) or `status.initialization.<v1beta2_field>` (v1beta2 contract).
    pub(crate) fn is_ready(&self, v1beta2_field: &str) -> Result<bool, Error> {
        Ok(self.bool_field(&["status", "ready"])?.unwrap_or(false)
            || self
                .bool_field(&["status", "initialization", v1beta2_field])?
                .unwrap_or(false))
    }

    /// `status.failureReason` and `status.failureMessage` (`external.FailuresFrom`).
    pub(crate) fn failures(&self) -> Result<(Option<String>, Option<String>), Error> {
        Ok((
            self.string_field(&["status", "failureReason"])?
                .filter(|s| !s.is_empty()),
            self.string_field(&["status", "failureMessage"])?
                .filter(|s| !s.is_empty()),
        ))
    }

    /// Whether the object is being deleted.
    pub(crate) fn is_deleting(&self) -> bool {
        self.obj.metadata.deletion_timestamp.is_some()
    }

    /// The object's `Ready` condition (v1beta1 or metav1 shape), if any.
    fn ready_condition(&self) -> Option<Condition> {
        let conditions = self.field(&["status", "conditions"])?.as_array()?;
        conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(READY))
            .and_then(|c| serde_json::from_value(c.clone()).ok())
    }

    /// Writes new ownerReferences and labels, guarded by the read resourceVersion.
    pub(crate) async fn patch_metadata(
        &mut self,
        owner_references: &[OwnerReference],
        labels: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let name = self.obj.metadata.name.clone().unwrap_or_default();
        let patch = json!({
            "metadata": {
                "resourceVersion": self.obj.metadata.resource_version,
                "ownerReferences": owner_references,
                "labels": labels,
            }
        });
        let written = self
            .api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(kube_err(format!("update {}", self.describe())))?;
        self.obj.metadata = written.metadata;
        Ok(())
    }

    /// Deletes the object (a missing object counts as deleted).
    pub(crate) async fn delete(&self) -> Result<(), Error> {
        let name = self.obj.metadata.name.clone().unwrap_or_default();
        match self.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(kube_err(format!("delete {}", self.describe()))(e)),
        }
    }
}

/// Mirrors the referenced object's `Ready` condition into `type_` of `target`, or, when it has
/// none, sets `type_` from `ready` with the fallback reason (CAPI's `conditions.SetMirror`
/// with `WithFallbackValue(ready, reason, Info, "")`).
pub(crate) fn set_mirror(
    target: &mut impl Conditions,
    type_: &str,
    source: &External,
    ready: bool,
    fallback_reason: &str,
    now: jiff::Timestamp,
) {
    match source.ready_condition() {
        Some(mirrored) => {
            let condition = Condition {
                type_: type_.to_owned(),
                ..mirrored
            };
            if condition.status == STATUS_TRUE {
                target.mark_true(type_, now);
            } else {
                target.set(Condition {
                    last_transition_time: capi_types::conditions::format_time(now),
                    ..condition
                });
            }
        }
        None if ready => {
            target.mark_true(type_, now);
        }
        None => {
            target.mark_false(type_, fallback_reason, Severity::Info, "", now);
        }
    }
}

/// What to clone a template into (`GenerateTemplateInput`).
#[derive(Debug, Clone)]
pub(crate) struct CloneInput<'a> {
    /// The reference to the template (`TemplateRef`).
    pub(crate) template_ref: &'a ObjectReference,
    /// Namespace of the clone.
    pub(crate) namespace: &'a str,
    /// Name of the clone (upstream passes the Machine's name).
    pub(crate) name: &'a str,
    /// Cluster name, written to the cluster-name label.
    pub(crate) cluster_name: &'a str,
    /// Labels added to the clone.
    pub(crate) labels: &'a BTreeMap<String, String>,
    /// Annotations added to the clone.
    pub(crate) annotations: &'a BTreeMap<String, String>,
    /// The single ownerReference of the clone.
    pub(crate) owner: Option<OwnerReference>,
}

/// Builds the clone of `template` (`external.GenerateTemplate`): `spec.template` with the
/// given name and namespace, the input's annotations plus `cloned-from-name` and
/// `cloned-from-groupkind`, the input's labels plus the cluster-name label, the given owner,
/// and the template's apiVersion and kind minus `Template` when the template sets none.
pub(crate) fn generate_template(
    template: &DynamicObject,
    input: &CloneInput<'_>,
) -> Result<Value, Error> {
    use capi_types::labels::{
        CLUSTER_NAME_LABEL, TEMPLATE_CLONED_FROM_GROUP_KIND_ANNOTATION,
        TEMPLATE_CLONED_FROM_NAME_ANNOTATION,
    };
    let types = template.types.clone().unwrap_or_default();
    let template_name = template.metadata.name.as_deref().unwrap_or_default();
    let invalid =
        |message: &str| Error::Invalid(format!("{} {template_name}: {message}", types.kind));
    let Some(Value::Object(mut to)) = template
        .data
        .get("spec")
        .and_then(|s| s.get("template"))
        .cloned()
    else {
        return Err(invalid(
            "missing spec.template; a template must have spec.template",
        ));
    };
    let mut meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
        match to.remove("metadata") {
            Some(value) => serde_json::from_value(value).map_err(|e| {
                invalid(&format!(
                    "spec.template.metadata is not valid object metadata: {e}"
                ))
            })?,
            None => k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta::default(),
        };
    meta.resource_version = None;
    meta.finalizers = None;
    meta.uid = None;
    meta.self_link = None;
    meta.name = Some(input.name.to_owned());
    meta.namespace = Some(input.namespace.to_owned());
    let mut annotations = meta.annotations.take().unwrap_or_default();
    annotations.extend(input.annotations.clone());
    annotations.insert(
        TEMPLATE_CLONED_FROM_NAME_ANNOTATION.to_owned(),
        input.template_ref.name.clone().unwrap_or_default(),
    );
    // `GroupVersionKind().GroupKind().String()`: `Kind.group` (just `Kind` for the core group).
    let group = super::object::group_of(
        input
            .template_ref
            .api_version
            .as_deref()
            .unwrap_or_default(),
    );
    let kind = input.template_ref.kind.clone().unwrap_or_default();
    let group_kind = if group.is_empty() {
        kind
    } else {
        format!("{kind}.{group}")
    };
    annotations.insert(
        TEMPLATE_CLONED_FROM_GROUP_KIND_ANNOTATION.to_owned(),
        group_kind,
    );
    meta.annotations = Some(annotations);
    let mut labels = meta.labels.take().unwrap_or_default();
    labels.extend(input.labels.clone());
    labels.insert(CLUSTER_NAME_LABEL.to_owned(), input.cluster_name.to_owned());
    meta.labels = Some(labels);
    if let Some(owner) = &input.owner {
        meta.owner_references = Some(vec![owner.clone()]);
    }
    let metadata = serde_json::to_value(&meta).map_err(|source| Error::Json {
        what: format!("the clone of {} {template_name}", types.kind),
        source,
    })?;
    to.insert("metadata".to_owned(), metadata);
    if to
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        to.insert("apiVersion".to_owned(), json!(types.api_version));
    }
    if to
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let kind = types
            .kind
            .strip_suffix(TEMPLATE_SUFFIX)
            .unwrap_or(&types.kind);
        to.insert("kind".to_owned(), json!(kind));
    }
    Ok(Value::Object(to))
}

/// Clones the template `input.template_ref` points at and creates the clone
/// (`external.CreateFromTemplate`); returns the reference to the clone.
pub(crate) async fn create_from_template(
    ctx: &Context,
    input: &CloneInput<'_>,
    field: &str,
) -> Result<ObjectReference, Error> {
    let template = get(ctx, input.template_ref, input.namespace, field)
        .await?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{field} points at {} {}/{}, which does not exist: create it or fix the reference",
                input.template_ref.kind.as_deref().unwrap_or_default(),
                input.namespace,
                input.template_ref.name.as_deref().unwrap_or_default()
            ))
        })?;
    let clone = generate_template(&template.obj, input)?;
    let api_version = clone["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = clone["kind"].as_str().unwrap_or_default().to_owned();
    let resource = ctx
        .discovery
        .resource(&ctx.client, &api_version, &kind)
        .await?;
    let api = Api::<DynamicObject>::namespaced_with(ctx.client.clone(), input.namespace, &resource);
    let object: DynamicObject = serde_json::from_value(clone).map_err(|source| Error::Json {
        what: format!("{kind} {}/{}", input.namespace, input.name),
        source,
    })?;
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .map_err(kube_err(format!(
            "create {kind} {}/{}",
            input.namespace, input.name
        )))?;
    Ok(ObjectReference {
        api_version: Some(api_version),
        kind: Some(kind),
        name: created.metadata.name,
        namespace: created.metadata.namespace,
        uid: created.metadata.uid,
        ..ObjectReference::default()
    })
}

/// Deletes the object `reference` points at, if it exists (used to clean up after a failed
/// Machine creation, as `syncReplicas` does).
pub(crate) async fn delete_reference(
    ctx: &Context,
    reference: &ObjectReference,
    namespace: &str,
) -> Result<(), Error> {
    if let Some(found) = get(ctx, reference, namespace, "reference").await? {
        found.delete().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
            "kind": "PacketMachineTemplate",
            "metadata": {"name": "workers", "namespace": "default", "uid": "t-uid", "resourceVersion": "7"},
            "spec": {"template": {
                "metadata": {"labels": {"from-template": "yes"}, "annotations": {"a": "1"}},
                "spec": {"plan": "c3.small.x86"}
            }}
        }))
        .unwrap()
    }

    #[test]
    fn a_clone_is_named_labelled_annotated_and_owned_as_generate_template_does() {
        let reference = ObjectReference {
            api_version: Some("infrastructure.cluster.x-k8s.io/v1beta1".into()),
            kind: Some("PacketMachineTemplate".into()),
            name: Some("workers".into()),
            ..ObjectReference::default()
        };
        let labels = BTreeMap::from([("cluster.x-k8s.io/set-name".to_owned(), "ms".to_owned())]);
        let owner = OwnerReference {
            api_version: "cluster.x-k8s.io/v1beta1".into(),
            kind: "MachineSet".into(),
            name: "ms".into(),
            uid: "ms-uid".into(),
            ..OwnerReference::default()
        };
        let clone = generate_template(
            &template(),
            &CloneInput {
                template_ref: &reference,
                namespace: "default",
                name: "ms-abcde",
                cluster_name: "prod",
                labels: &labels,
                annotations: &BTreeMap::new(),
                owner: Some(owner),
            },
        )
        .unwrap();
        assert_eq!(
            clone["apiVersion"],
            "infrastructure.cluster.x-k8s.io/v1beta1"
        );
        assert_eq!(clone["kind"], "PacketMachine");
        assert_eq!(clone["metadata"]["name"], "ms-abcde");
        assert_eq!(clone["metadata"]["labels"]["from-template"], "yes");
        assert_eq!(
            clone["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"],
            "prod"
        );
        assert_eq!(
            clone["metadata"]["labels"]["cluster.x-k8s.io/set-name"],
            "ms"
        );
        assert_eq!(clone["metadata"]["annotations"]["a"], "1");
        assert_eq!(
            clone["metadata"]["annotations"]["cluster.x-k8s.io/cloned-from-name"],
            "workers"
        );
        assert_eq!(
            clone["metadata"]["annotations"]["cluster.x-k8s.io/cloned-from-groupkind"],
            "PacketMachineTemplate.infrastructure.cluster.x-k8s.io"
        );
        assert_eq!(
            clone["metadata"]["ownerReferences"][0]["kind"],
            "MachineSet"
        );
        assert_eq!(clone["spec"]["plan"], "c3.small.x86");
        assert!(
            clone["metadata"].get("uid").is_none()
                && clone["metadata"].get("resourceVersion").is_none()
        );
    }

    #[test]
    fn a_template_without_spec_template_is_refused_with_the_field_named() {
        let mut bad = template();
        bad.data = json!({"spec": {}});
        let reference = ObjectReference::default();
        let err = generate_template(
            &bad,
            &CloneInput {
                template_ref: &reference,
                namespace: "default",
                name: "x",
                cluster_name: "prod",
                labels: &BTreeMap::new(),
                annotations: &BTreeMap::new(),
                owner: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("spec.template"), "{err}");
    }
}
