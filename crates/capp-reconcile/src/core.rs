//! Cluster API core objects (`Cluster`, `Machine`) read in whichever version the API server
//! serves newest, through small version-independent views.
//!
//! CAPI v1.11+ stores `v1beta2` and stops serving `v1beta1` in v1.16; v1.10 serves only
//! `v1beta1`. The controllers read core objects as [`DynamicObject`]s of the version found by
//! discovery at start-up and look only at the fields both versions share (by path).

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::error::{Error, Result};

/// The `cluster.x-k8s.io` version the controllers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreVersion {
    /// CAPI v1.10 and older (and v1.11-v1.15 when asked explicitly).
    V1Beta1,
    /// CAPI v1.11 and newer.
    V1Beta2,
}

impl CoreVersion {
    /// `v1beta1` or `v1beta2`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CoreVersion::V1Beta1 => "v1beta1",
            CoreVersion::V1Beta2 => "v1beta2",
        }
    }
}

/// API resources of `Cluster` and `Machine` in one version.
#[derive(Debug, Clone)]
pub struct CoreApi {
    /// The version.
    pub version: CoreVersion,
    /// `clusters.cluster.x-k8s.io`.
    pub cluster: ApiResource,
    /// `machines.cluster.x-k8s.io`.
    pub machine: ApiResource,
}

impl CoreApi {
    /// The resources of `version`.
    #[must_use]
    pub fn new(version: CoreVersion) -> Self {
        let gvk = |kind| GroupVersionKind::gvk(capi_types::labels::GROUP, version.as_str(), kind);
        Self {
            version,
            cluster: ApiResource::from_gvk_with_plural(&gvk("Cluster"), "clusters"),
            machine: ApiResource::from_gvk_with_plural(&gvk("Machine"), "machines"),
        }
    }

    /// Asks the API server which versions of `cluster.x-k8s.io` it serves and picks the
    /// newest one the controllers understand.
    pub async fn discover(client: &Client) -> Result<Self> {
        let group = kube::discovery::group(client, capi_types::labels::GROUP)
            .await
            .map_err(Error::kube("discover the cluster.x-k8s.io API group"))?;
        let served: Vec<String> = group.versions().map(str::to_owned).collect();
        if served.iter().any(|v| v == "v1beta2") {
            Ok(Self::new(CoreVersion::V1Beta2))
        } else if served.iter().any(|v| v == "v1beta1") {
            Ok(Self::new(CoreVersion::V1Beta1))
        } else {
            Err(Error::Malformed {
                what: "cluster.x-k8s.io API group",
                message: format!(
                    "serves {served:?}; install Cluster API v1.10 or newer (v1beta1 or v1beta2)"
                ),
            })
        }
    }
}

fn path<'a>(obj: &'a DynamicObject, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(&obj.data, |v, k| v.get(*k))
}

fn string(obj: &DynamicObject, keys: &[&str]) -> Option<String> {
    path(obj, keys)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The fields of a `Cluster` the controllers read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.paused` (a `bool` in v1beta1, a `*bool` in v1beta2).
    pub paused: bool,
    /// `spec.infrastructureRef.kind`.
    pub infrastructure_kind: Option<String>,
    /// `spec.infrastructureRef.name`.
    pub infrastructure_name: Option<String>,
    /// `spec.controlPlaneEndpoint.host`, when set.
    pub control_plane_host: Option<String>,
}

impl ClusterView {
    /// Reads the view from a Cluster of either version.
    #[must_use]
    pub fn from_object(obj: &DynamicObject) -> Self {
        Self {
            name: obj.name_any(),
            namespace: obj.namespace().unwrap_or_default(),
            paused: path(obj, &["spec", "paused"])
                .and_then(Value::as_bool)
                .unwrap_or(false),
            infrastructure_kind: string(obj, &["spec", "infrastructureRef", "kind"]),
            infrastructure_name: string(obj, &["spec", "infrastructureRef", "name"]),
            control_plane_host: string(obj, &["spec", "controlPlaneEndpoint", "host"]),
        }
    }
}

/// The fields of a `Machine` the controllers read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineView {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.clusterName`.
    pub cluster_name: Option<String>,
    /// `spec.bootstrap.dataSecretName`.
    pub bootstrap_data_secret_name: Option<String>,
    /// `spec.failureDomain`.
    pub failure_domain: Option<String>,
    /// `spec.version` (Kubernetes version).
    pub version: Option<String>,
    /// `spec.infrastructureRef.name`.
    pub infrastructure_name: Option<String>,
    /// The `cluster.x-k8s.io/control-plane` label is present.
    pub control_plane: bool,
}

impl MachineView {
    /// Reads the view from a Machine of either version.
    #[must_use]
    pub fn from_object(obj: &DynamicObject) -> Self {
        Self {
            name: obj.name_any(),
            namespace: obj.namespace().unwrap_or_default(),
            cluster_name: string(obj, &["spec", "clusterName"]),
            bootstrap_data_secret_name: string(obj, &["spec", "bootstrap", "dataSecretName"]),
            failure_domain: string(obj, &["spec", "failureDomain"]),
            version: string(obj, &["spec", "version"]),
            infrastructure_name: string(obj, &["spec", "infrastructureRef", "name"]),
            control_plane: obj
                .labels()
                .contains_key(capi_types::labels::MACHINE_CONTROL_PLANE_LABEL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(api_version: &str, kind: &str, spec: Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": "prod", "namespace": "default",
                          "labels": {"cluster.x-k8s.io/control-plane": ""}},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn clusters_of_both_versions_read_the_same() {
        let v1 = object(
            "cluster.x-k8s.io/v1beta1",
            "Cluster",
            serde_json::json!({"paused": true, "infrastructureRef": {
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketCluster", "name": "prod"}}),
        );
        let v2 = object(
            "cluster.x-k8s.io/v1beta2",
            "Cluster",
            serde_json::json!({"paused": true, "infrastructureRef": {
                "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketCluster", "name": "prod"}}),
        );
        assert_eq!(ClusterView::from_object(&v1), ClusterView::from_object(&v2));
        assert!(ClusterView::from_object(&v2).paused);
        assert_eq!(
            ClusterView::from_object(&v2).infrastructure_name.as_deref(),
            Some("prod")
        );
    }

    #[test]
    fn machines_of_both_versions_read_the_same() {
        let spec = serde_json::json!({"clusterName": "prod", "version": "v1.33.1",
            "failureDomain": "da", "bootstrap": {"dataSecretName": "boot"}});
        let v1 =
            MachineView::from_object(&object("cluster.x-k8s.io/v1beta1", "Machine", spec.clone()));
        let v2 = MachineView::from_object(&object("cluster.x-k8s.io/v1beta2", "Machine", spec));
        assert_eq!(v1, v2);
        assert_eq!(v2.bootstrap_data_secret_name.as_deref(), Some("boot"));
        assert!(v2.control_plane);
    }
}
