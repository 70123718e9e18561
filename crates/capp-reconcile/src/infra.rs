//! Our own kinds (PacketCluster, PacketMachine) read and written in the version the API
//! server serves.
//!
//! With the Go provider's CRDs (or [`capp_api::crds`]) only `v1beta1` is served; with
//! [`capp_api::v1beta2::crds_multiversion`] or [`capp_api::v1beta2::crds_v1beta2_only`]
//! `v1beta2` is (the v1beta2 contract of Cluster API v1.11+). Discovery at start-up picks the
//! version ([`InfraApi::discover`]). In `v1beta2` the controllers watch, read and patch
//! `v1beta2` objects and apply their status in the v1beta2 shape; in memory every object is
//! the v1beta1 type (the plain field mapping of [`capp_api::conversion::Project`]), so the
//! reconcile logic is the same for both versions and needs no conversion webhook.

use std::fmt;

use capi_types::common::V1Beta2Condition;
use capp_api::conversion::Project;
use capp_api::{PacketCluster, PacketClusterStatus, PacketMachine, PacketMachineStatus, v1beta2};
use kube::api::{Api, ApiResource};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The served version of our kinds the controllers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InfraVersion {
    /// `infrastructure.cluster.x-k8s.io/v1beta1` (the Go provider's CRDs).
    #[default]
    V1Beta1,
    /// `infrastructure.cluster.x-k8s.io/v1beta2` (v1beta2 contract).
    V1Beta2,
}

impl InfraVersion {
    /// The version name (`v1beta1`, `v1beta2`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            InfraVersion::V1Beta1 => capp_api::VERSION,
            InfraVersion::V1Beta2 => v1beta2::VERSION,
        }
    }

    /// `apiVersion` of objects in this version.
    #[must_use]
    pub fn api_version(self) -> &'static str {
        match self {
            InfraVersion::V1Beta1 => capp_api::API_VERSION,
            InfraVersion::V1Beta2 => v1beta2::API_VERSION,
        }
    }
}

impl fmt::Display for InfraVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API resources of PacketCluster and PacketMachine in the version the controllers use.
#[derive(Clone, Debug)]
pub struct InfraApi {
    /// The version.
    pub version: InfraVersion,
    /// `packetclusters.infrastructure.cluster.x-k8s.io`.
    pub packet_cluster: ApiResource,
    /// `packetmachines.infrastructure.cluster.x-k8s.io`.
    pub packet_machine: ApiResource,
}

impl Default for InfraApi {
    fn default() -> Self {
        Self::new(InfraVersion::V1Beta1)
    }
}

impl InfraApi {
    /// The resources of `version`.
    #[must_use]
    pub fn new(version: InfraVersion) -> Self {
        match version {
            InfraVersion::V1Beta1 => Self {
                version,
                packet_cluster: ApiResource::erase::<PacketCluster>(&()),
                packet_machine: ApiResource::erase::<PacketMachine>(&()),
            },
            InfraVersion::V1Beta2 => Self {
                version,
                packet_cluster: ApiResource::erase::<v1beta2::PacketCluster>(&()),
                packet_machine: ApiResource::erase::<v1beta2::PacketMachine>(&()),
            },
        }
    }

    /// Asks the API server whether it serves `packetclusters` and `packetmachines` in
    /// `v1beta2`: then [`InfraVersion::V1Beta2`], else [`InfraVersion::V1Beta1`] (also when
    /// the group is not served yet: the watches then wait for the CRDs, as today). Other
    /// providers' kinds share the group, so the check is per resource.
    ///
    /// # Errors
    ///
    /// [`Error::Kube`](crate::Error) when the API server cannot be asked.
    pub async fn discover(client: &Client) -> Result<Self> {
        let group = match kube::discovery::group(client, capp_api::GROUP).await {
            Ok(group) => group,
            Err(kube::Error::Discovery(kube::error::DiscoveryError::MissingApiGroup(_))) => {
                tracing::warn!(
                    group = capp_api::GROUP,
                    "API group not served (CRDs not installed?); using v1beta1"
                );
                return Ok(Self::new(InfraVersion::V1Beta1));
            }
            Err(e) => {
                return Err(Error::kube(
                    "discover the infrastructure.cluster.x-k8s.io API group",
                )(e));
            }
        };
        let served: Vec<String> = group
            .versioned_resources(v1beta2::VERSION)
            .into_iter()
            .map(|(resource, _)| resource.plural)
            .collect();
        let both = ["packetclusters", "packetmachines"]
            .iter()
            .all(|plural| served.iter().any(|s| s == plural));
        Ok(Self::new(if both {
            InfraVersion::V1Beta2
        } else {
            InfraVersion::V1Beta1
        }))
    }

    /// Reads the PacketCluster `name` in `ns` in the served version, as the v1beta1 type.
    pub(crate) async fn get_packet_cluster(
        &self,
        client: &Client,
        ns: &str,
        name: &str,
    ) -> Result<Option<PacketCluster>> {
        get::<PacketCluster>(self, client, ns, name).await
    }
}

async fn get<K: InfraKind>(
    infra: &InfraApi,
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Option<K>> {
    let action = K::GET_ACTION;
    match infra.version {
        InfraVersion::V1Beta1 => Api::<K>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(Error::kube(action)),
        InfraVersion::V1Beta2 => Ok(Api::<K::V1Beta2>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(Error::kube(action))?
            .map(|obj| obj.project())),
    }
}

/// PacketCluster or PacketMachine (v1beta1 types, the controllers' in-memory shape), with
/// what the controllers need to serve them in either version.
pub(crate) trait InfraKind:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The v1beta1 status type.
    type Status: Clone + Default + PartialEq + Serialize;
    /// The v1beta2 kind.
    type V1Beta2: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + fmt::Debug
        + Send
        + Sync
        + 'static
        + Project<Self>;
    /// What a failed read is called in errors.
    const GET_ACTION: &'static str;

    /// The status, when the object has one.
    fn status(&self) -> Option<&Self::Status>;
    /// The v1beta1 conditions of a status.
    fn conditions(status: &Self::Status) -> &[capi_types::conditions::Condition];
    /// `status.v1beta2.conditions` of a status, created when missing.
    fn v1beta2_conditions_mut(status: &mut Self::Status) -> &mut Vec<V1Beta2Condition>;
    /// The resource of this kind in `infra`'s version.
    fn resource(infra: &InfraApi) -> &ApiResource;
    /// `status` in the v1beta2 shape (the plain field mapping of the whole object).
    fn v1beta2_status(&self, status: &Self::Status) -> serde_json::Value;
}

/// The two kinds' `InfraKind` impls: the same fields under the same names, only the types
/// and the resource differ.
macro_rules! infra_kind {
    ($kind:ident, $status:ty, $action:literal, $resource:ident) => {
        impl InfraKind for $kind {
            type Status = $status;
            type V1Beta2 = v1beta2::$kind;
            const GET_ACTION: &'static str = $action;

            fn status(&self) -> Option<&Self::Status> {
                self.status.as_ref()
            }

            fn conditions(status: &Self::Status) -> &[capi_types::conditions::Condition] {
                &status.conditions
            }

            fn v1beta2_conditions_mut(status: &mut Self::Status) -> &mut Vec<V1Beta2Condition> {
                &mut status
                    .v1beta2
                    .get_or_insert_with(Default::default)
                    .conditions
            }

            fn resource(infra: &InfraApi) -> &ApiResource {
                &infra.$resource
            }

            fn v1beta2_status(&self, status: &Self::Status) -> serde_json::Value {
                let mut obj = self.clone();
                obj.status = Some(status.clone());
                let newer: v1beta2::$kind = obj.project();
                serde_json::to_value(newer.status.unwrap_or_default()).unwrap_or_default()
            }
        }
    };
}

infra_kind!(
    PacketCluster,
    PacketClusterStatus,
    "get PacketCluster",
    packet_cluster
);
infra_kind!(
    PacketMachine,
    PacketMachineStatus,
    "get PacketMachine",
    packet_machine
);
