//! A version-independent view of the core Cluster API objects an infrastructure provider
//! reads: [`ClusterView`] and [`MachineView`], built from a `cluster.x-k8s.io` `v1beta1` or
//! `v1beta2` object.
//!
//! Cluster API v1.11+ stores `v1beta2` and stops serving `v1beta1` in v1.16; v1.10 and older
//! serve only `v1beta1`. A controller picks the newest version the API server serves at
//! start-up ([`CoreVersion::newest_served`]), reads Clusters and Machines as
//! [`DynamicObject`]s of that version ([`CoreVersion::cluster_resource`],
//! [`CoreVersion::machine_resource`]) and parses them into these views, so no other code
//! depends on either shape.
//!
//! | view field | `v1beta1` | `v1beta2` |
//! |---|---|---|
//! | [`ClusterView::spec_paused`] | `spec.paused` (`bool`) | `spec.paused` (`*bool`) |
//! | [`ClusterView::infrastructure_ref`], [`ClusterView::control_plane_ref`] | `ObjectReference` (`apiVersion`, `kind`, `name`, `namespace`) | `ContractVersionedObjectReference` (`apiGroup`, `kind`, `name`) |
//! | [`ClusterView::infrastructure_provisioned`] | `status.infrastructureReady` | `status.initialization.infrastructureProvisioned` |
//! | [`ClusterView::control_plane_initialized`] | `status.controlPlaneReady` or the `ControlPlaneInitialized` condition | `status.initialization.controlPlaneInitialized` |
//! | [`MachineView::bootstrap_data_ready`] | `status.bootstrapReady` | `status.initialization.bootstrapDataSecretCreated` |
//! | [`MachineView::infrastructure_provisioned`] | `status.infrastructureReady` | `status.initialization.infrastructureProvisioned` |
//!
//! The views implement [`kube::Resource`] (dynamic type: the [`CoreVersion`]), so
//! `kube::ResourceExt` accessors (`name_any`, `namespace`, `uid`, `labels`, `annotations`,
//! `owner_references`) and the capi-types predicates and owner lookups work on them.
//! A field of the wrong type is an [`Error::InvalidCoreObject`] naming the field; absent
//! fields are `None`/`false`, as the Go types' zero values.
//!
//! ```
//! use capp_api::core::{ClusterView, CoreVersion};
//!
//! let version = CoreVersion::newest_served(["v1beta1", "v1beta2"])?;
//! assert_eq!(version, CoreVersion::V1Beta2);
//! let cluster = ClusterView::from_value(&serde_json::json!({
//!     "apiVersion": "cluster.x-k8s.io/v1beta2",
//!     "kind": "Cluster",
//!     "metadata": {"name": "prod", "namespace": "default", "uid": "6b1c3e0a"},
//!     "spec": {
//!         "infrastructureRef": {
//!             "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketCluster", "name": "prod"
//!         }
//!     },
//!     "status": {"initialization": {"infrastructureProvisioned": true}}
//! }), version)?;
//! assert!(cluster.infrastructure_provisioned);
//! assert_eq!(cluster.infrastructure_ref.unwrap().name, "prod");
//! # Ok::<(), capp_api::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use capi_types::common::ApiEndpoint;
use capi_types::labels::GROUP as CORE_GROUP;
use capi_types::predicates::{is_control_plane_machine, is_paused_by};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde::Deserialize;
use serde_json::Value;

use crate::{Error, Result};

/// A version of the core Cluster API (`cluster.x-k8s.io`) this provider can read.
///
/// Ordered oldest first, so `max` is the newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CoreVersion {
    /// `cluster.x-k8s.io/v1beta1`: the only version of Cluster API v1.10 and older; served
    /// (not stored) by v1.11 to v1.15.
    V1Beta1,
    /// `cluster.x-k8s.io/v1beta2`: stored by Cluster API v1.11 and newer.
    V1Beta2,
}

impl CoreVersion {
    /// Every version this provider reads, oldest first.
    pub const ALL: [CoreVersion; 2] = [CoreVersion::V1Beta1, CoreVersion::V1Beta2];

    /// The version as written after the group (`v1beta1`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CoreVersion::V1Beta1 => "v1beta1",
            CoreVersion::V1Beta2 => "v1beta2",
        }
    }

    /// The full `apiVersion` (`cluster.x-k8s.io/v1beta1`).
    #[must_use]
    pub fn api_version(self) -> &'static str {
        match self {
            CoreVersion::V1Beta1 => "cluster.x-k8s.io/v1beta1",
            CoreVersion::V1Beta2 => "cluster.x-k8s.io/v1beta2",
        }
    }

    /// The newest version this provider reads among the versions discovery lists for the
    /// `cluster.x-k8s.io` group (e.g. `kube::discovery::ApiGroup::versions()`). Unknown
    /// versions are ignored; none known is [`Error::NoServedCoreVersion`].
    ///
    /// ```
    /// use capp_api::core::CoreVersion;
    /// assert_eq!(CoreVersion::newest_served(["v1beta1"])?, CoreVersion::V1Beta1);
    /// assert_eq!(CoreVersion::newest_served(["v1beta2", "v1beta1"])?, CoreVersion::V1Beta2);
    /// assert!(CoreVersion::newest_served(["v1alpha4"]).is_err());
    /// # Ok::<(), capp_api::Error>(())
    /// ```
    pub fn newest_served<I, S>(served: I) -> Result<CoreVersion>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let served: Vec<String> = served.into_iter().map(|v| v.as_ref().to_owned()).collect();
        served
            .iter()
            .filter_map(|v| CoreVersion::from_version(v))
            .max()
            .ok_or(Error::NoServedCoreVersion { served })
    }

    /// The version named `version` (`v1beta1`), if this provider reads it.
    #[must_use]
    pub fn from_version(version: &str) -> Option<CoreVersion> {
        CoreVersion::ALL.into_iter().find(|v| v.as_str() == version)
    }

    /// The version of an `apiVersion` in the `cluster.x-k8s.io` group.
    fn from_api_version(api_version: &str) -> Option<CoreVersion> {
        CoreVersion::ALL
            .into_iter()
            .find(|v| v.api_version() == api_version)
    }

    /// The resource to read Clusters of this version as [`DynamicObject`]s
    /// (`kube::Api::<DynamicObject>::all_with(client, &resource)`).
    #[must_use]
    pub fn cluster_resource(self) -> ApiResource {
        self.resource("Cluster", "clusters")
    }

    /// The resource to read Machines of this version as [`DynamicObject`]s.
    #[must_use]
    pub fn machine_resource(self) -> ApiResource {
        self.resource("Machine", "machines")
    }

    fn resource(self, kind: &str, plural: &str) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(CORE_GROUP, self.as_str(), kind),
            plural,
        )
    }
}

impl fmt::Display for CoreVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference from a core object to a provider object (`infrastructureRef`,
/// `controlPlaneRef`), whichever version wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRef {
    /// The API group (`infrastructure.cluster.x-k8s.io`); from `apiGroup` (v1beta2) or the
    /// group part of `apiVersion` (v1beta1).
    pub api_group: String,
    /// The kind (`PacketCluster`).
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The full `apiVersion` (v1beta1 only; v1beta2 references carry no version, the
    /// contract label of the CRD decides it).
    pub api_version: Option<String>,
    /// The namespace (v1beta1 only; always the referrer's namespace in practice).
    pub namespace: Option<String>,
}

impl CoreRef {
    /// Whether this references a `kind` in `group`, any version.
    #[must_use]
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.api_group == group && self.kind == kind
    }
}

/// What an infrastructure provider reads from a `Cluster`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterView {
    /// The version the object was read in.
    pub api_version: CoreVersion,
    /// The object's metadata (`metadata.name` is always set).
    pub metadata: ObjectMeta,
    /// `spec.paused`.
    pub spec_paused: bool,
    /// `spec.infrastructureRef`, when set.
    pub infrastructure_ref: Option<CoreRef>,
    /// `spec.controlPlaneRef`, when set.
    pub control_plane_ref: Option<CoreRef>,
    /// `spec.controlPlaneEndpoint`, when host or port is set (check
    /// [`ApiEndpoint::is_valid`] before using it).
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// Whether core marked the cluster infrastructure provisioned (see the module table).
    pub infrastructure_provisioned: bool,
    /// Whether the control plane is initialized (see the module table).
    pub control_plane_initialized: bool,
}

impl ClusterView {
    /// Parses a Cluster read as a [`DynamicObject`]. The object's own `apiVersion` decides
    /// the shape when present (it must be `cluster.x-k8s.io/v1beta1` or `v1beta2`);
    /// otherwise `requested`, the version it was read with.
    pub fn from_dynamic(obj: &DynamicObject, requested: CoreVersion) -> Result<ClusterView> {
        let (api_version, name) = header(obj, "Cluster", requested)?;
        let f = Fields {
            kind: "Cluster",
            name: &name,
            root: &obj.data,
        };
        let spec_paused = f.bool(&["spec", "paused"])?.unwrap_or(false);
        let (infrastructure_provisioned, control_plane_initialized) = match api_version {
            CoreVersion::V1Beta1 => (
                f.bool(&["status", "infrastructureReady"])?.unwrap_or(false),
                f.bool(&["status", "controlPlaneReady"])?.unwrap_or(false)
                    || f.condition_true("ControlPlaneInitialized")?,
            ),
            CoreVersion::V1Beta2 => (
                f.bool(&["status", "initialization", "infrastructureProvisioned"])?
                    .unwrap_or(false),
                f.bool(&["status", "initialization", "controlPlaneInitialized"])?
                    .unwrap_or(false),
            ),
        };
        let control_plane_endpoint = {
            let host = f.str(&["spec", "controlPlaneEndpoint", "host"])?;
            let port = f.i32(&["spec", "controlPlaneEndpoint", "port"])?;
            (host.is_some() || port.is_some()).then(|| ApiEndpoint {
                host: host.unwrap_or_default().to_owned(),
                port: port.unwrap_or_default(),
            })
        };
        Ok(ClusterView {
            api_version,
            metadata: obj.metadata.clone(),
            spec_paused,
            infrastructure_ref: f.reference(api_version, &["spec", "infrastructureRef"])?,
            control_plane_ref: f.reference(api_version, &["spec", "controlPlaneRef"])?,
            control_plane_endpoint,
            infrastructure_provisioned,
            control_plane_initialized,
        })
    }

    /// [`ClusterView::from_dynamic`] for a JSON object.
    pub fn from_value(value: &Value, requested: CoreVersion) -> Result<ClusterView> {
        ClusterView::from_dynamic(&dynamic(value, "Cluster")?, requested)
    }

    /// The Cluster's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Whether reconciliation of `obj` (an object of this cluster) must stop: the Cluster has
    /// `spec.paused` or `obj` carries the `cluster.x-k8s.io/paused` annotation (CAPI's
    /// `annotations.IsPaused(cluster, obj)`).
    #[must_use]
    pub fn pauses(&self, obj: &impl Resource) -> bool {
        is_paused_by(self.spec_paused, obj)
    }

    /// Whether the Cluster itself is paused: `spec.paused` or its own paused annotation.
    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.pauses(self)
    }
}

/// What an infrastructure provider reads from a `Machine`.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineView {
    /// The version the object was read in.
    pub api_version: CoreVersion,
    /// The object's metadata (`metadata.name` is always set).
    pub metadata: ObjectMeta,
    /// `spec.clusterName` (required by both versions).
    pub cluster_name: String,
    /// `spec.bootstrap.dataSecretName`: the Secret holding the bootstrap data, once the
    /// bootstrap provider wrote it.
    pub bootstrap_data_secret_name: Option<String>,
    /// `spec.failureDomain`, when set and non-empty.
    pub failure_domain: Option<String>,
    /// `spec.version`: the Kubernetes version, when set and non-empty.
    pub kubernetes_version: Option<String>,
    /// `spec.providerID`, when set and non-empty.
    pub provider_id: Option<String>,
    /// `spec.infrastructureRef`, when set.
    pub infrastructure_ref: Option<CoreRef>,
    /// Whether the Machine carries the `cluster.x-k8s.io/control-plane` label.
    pub control_plane: bool,
    /// Whether core reports the bootstrap data ready (see the module table).
    pub bootstrap_data_ready: bool,
    /// Whether core marked the Machine's infrastructure provisioned (see the module table).
    pub infrastructure_provisioned: bool,
}

impl MachineView {
    /// Parses a Machine read as a [`DynamicObject`]; see [`ClusterView::from_dynamic`] for
    /// how the version is chosen.
    pub fn from_dynamic(obj: &DynamicObject, requested: CoreVersion) -> Result<MachineView> {
        let (api_version, name) = header(obj, "Machine", requested)?;
        let f = Fields {
            kind: "Machine",
            name: &name,
            root: &obj.data,
        };
        let cluster_name = f
            .str(&["spec", "clusterName"])?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| f.invalid(&["spec", "clusterName"], "is required".to_owned()))?
            .to_owned();
        let non_empty = |path: &[&str]| -> Result<Option<String>> {
            Ok(f.str(path)?.filter(|s| !s.is_empty()).map(str::to_owned))
        };
        let (bootstrap_data_ready, infrastructure_provisioned) = match api_version {
            CoreVersion::V1Beta1 => (
                f.bool(&["status", "bootstrapReady"])?.unwrap_or(false),
                f.bool(&["status", "infrastructureReady"])?.unwrap_or(false),
            ),
            CoreVersion::V1Beta2 => (
                f.bool(&["status", "initialization", "bootstrapDataSecretCreated"])?
                    .unwrap_or(false),
                f.bool(&["status", "initialization", "infrastructureProvisioned"])?
                    .unwrap_or(false),
            ),
        };
        let control_plane = is_control_plane_machine(obj);
        Ok(MachineView {
            api_version,
            metadata: obj.metadata.clone(),
            cluster_name,
            bootstrap_data_secret_name: non_empty(&["spec", "bootstrap", "dataSecretName"])?,
            failure_domain: non_empty(&["spec", "failureDomain"])?,
            kubernetes_version: non_empty(&["spec", "version"])?,
            provider_id: non_empty(&["spec", "providerID"])?,
            infrastructure_ref: f.reference(api_version, &["spec", "infrastructureRef"])?,
            control_plane,
            bootstrap_data_ready,
            infrastructure_provisioned,
        })
    }

    /// [`MachineView::from_dynamic`] for a JSON object.
    pub fn from_value(value: &Value, requested: CoreVersion) -> Result<MachineView> {
        MachineView::from_dynamic(&dynamic(value, "Machine")?, requested)
    }

    /// The Machine's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}

macro_rules! core_resource {
    ($view:ty, $kind:literal, $plural:literal) => {
        impl Resource for $view {
            type DynamicType = CoreVersion;
            type Scope = NamespaceResourceScope;

            fn kind(_: &CoreVersion) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }

            fn group(_: &CoreVersion) -> Cow<'_, str> {
                Cow::Borrowed(CORE_GROUP)
            }

            fn version(version: &CoreVersion) -> Cow<'_, str> {
                Cow::Borrowed(version.as_str())
            }

            fn plural(_: &CoreVersion) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

core_resource!(ClusterView, "Cluster", "clusters");
core_resource!(MachineView, "Machine", "machines");

/// The version and `namespace/name` of a core object, checking `apiVersion`, `kind` and
/// `metadata.name`.
fn header(
    obj: &DynamicObject,
    kind: &'static str,
    requested: CoreVersion,
) -> Result<(CoreVersion, String)> {
    let name = match (&obj.metadata.namespace, &obj.metadata.name) {
        (_, None) => String::new(),
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.clone(),
    };
    let invalid = |field: &str, problem: String| Error::InvalidCoreObject {
        kind,
        name: name.clone(),
        field: field.to_owned(),
        problem,
    };
    if obj.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("metadata.name", "is required".to_owned()));
    }
    let Some(types) = &obj.types else {
        return Ok((requested, name));
    };
    if !types.kind.is_empty() && types.kind != kind {
        return Err(invalid(
            "kind",
            format!("must be {kind}, got {:?}", types.kind),
        ));
    }
    let version = if types.api_version.is_empty() {
        requested
    } else {
        CoreVersion::from_api_version(&types.api_version).ok_or_else(|| {
            invalid(
                "apiVersion",
                format!(
                    "must be cluster.x-k8s.io/v1beta1 or cluster.x-k8s.io/v1beta2, got {:?}",
                    types.api_version
                ),
            )
        })?
    };
    Ok((version, name))
}

fn dynamic(value: &Value, kind: &'static str) -> Result<DynamicObject> {
    DynamicObject::deserialize(value).map_err(|e| Error::InvalidCoreObject {
        kind,
        name: value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        field: "metadata".to_owned(),
        problem: e.to_string(),
    })
}

/// A typed walk over the JSON of a core object that names the field on every error.
struct Fields<'a> {
    kind: &'static str,
    name: &'a str,
    root: &'a Value,
}

impl<'a> Fields<'a> {
    fn invalid(&self, path: &[&str], problem: String) -> Error {
        Error::InvalidCoreObject {
            kind: self.kind,
            name: self.name.to_owned(),
            field: path.join("."),
            problem,
        }
    }

    /// The value at `path`; `None` when any step is absent or `null`, an error when a step
    /// is not an object.
    fn get(&self, path: &[&str]) -> Result<Option<&'a Value>> {
        let mut current = self.root;
        for (i, key) in path.iter().enumerate() {
            match current {
                Value::Null => return Ok(None),
                Value::Object(map) => match map.get(*key) {
                    None | Some(Value::Null) => return Ok(None),
                    Some(next) => current = next,
                },
                other => {
                    return Err(self.invalid(
                        &path[..i],
                        format!("must be an object, got {}", describe(other)),
                    ));
                }
            }
        }
        Ok(Some(current))
    }

    fn str(&self, path: &[&str]) -> Result<Option<&'a str>> {
        match self.get(path)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(self.invalid(path, format!("must be a string, got {}", describe(other))))
            }
        }
    }

    fn bool(&self, path: &[&str]) -> Result<Option<bool>> {
        match self.get(path)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.invalid(path, format!("must be a boolean, got {}", describe(other))))
            }
        }
    }

    fn i32(&self, path: &[&str]) -> Result<Option<i32>> {
        match self.get(path)? {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    self.invalid(
                        path,
                        format!("must be a 32-bit integer, got {}", describe(value)),
                    )
                }),
        }
    }

    /// Whether the v1beta1 condition `type_` in `status.conditions` has status `True`.
    fn condition_true(&self, type_: &str) -> Result<bool> {
        let path = ["status", "conditions"];
        let Some(conditions) = self.get(&path)? else {
            return Ok(false);
        };
        let Value::Array(conditions) = conditions else {
            return Err(self.invalid(
                &path,
                format!("must be a list, got {}", describe(conditions)),
            ));
        };
        Ok(conditions.iter().any(|c| {
            c.get("type").and_then(Value::as_str) == Some(type_)
                && c.get("status").and_then(Value::as_str) == Some("True")
        }))
    }

    /// A reference in the shape of `version`; `None` when absent or an empty object.
    fn reference(&self, version: CoreVersion, path: &[&str]) -> Result<Option<CoreRef>> {
        match self.get(path)? {
            None => return Ok(None),
            Some(Value::Object(map)) if map.is_empty() => return Ok(None),
            Some(Value::Object(_)) => {}
            Some(other) => {
                return Err(
                    self.invalid(path, format!("must be an object, got {}", describe(other)))
                );
            }
        }
        let field = |key: &'static str| {
            let mut full = path.to_vec();
            full.push(key);
            full
        };
        let required = |key: &'static str| -> Result<String> {
            let path = field(key);
            self.str(&path)?
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| self.invalid(&path, "is required".to_owned()))
        };
        let kind = required("kind")?;
        let name = required("name")?;
        Ok(Some(match version {
            CoreVersion::V1Beta1 => {
                let api_version = required("apiVersion")?;
                let api_group = capi_types::owner::api_group(&api_version)
                    .map_err(|e| self.invalid(&field("apiVersion"), e.to_string()))?
                    .to_owned();
                CoreRef {
                    api_group,
                    kind,
                    name,
                    api_version: Some(api_version),
                    namespace: self
                        .str(&field("namespace"))?
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                }
            }
            CoreVersion::V1Beta2 => CoreRef {
                api_group: required("apiGroup")?,
                kind,
                name,
                api_version: None,
                namespace: None,
            },
        }))
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests;
