//! Cluster API core objects (`Cluster`, `Machine`) read in the newest version the API server
//! serves, through capp-api's version-independent views ([`ClusterView`], [`MachineView`]).
//!
//! CAPI v1.11+ stores `v1beta2` and stops serving `v1beta1` in v1.16; v1.10 serves only
//! `v1beta1`. Discovery at start-up picks the version ([`CoreApi::discover`]); the
//! controllers read core objects as `DynamicObject`s of it and never depend on one shape.

use capp_api::core::{ClusterView, CoreVersion, MachineView};
use kube::Client;
use kube::api::{ApiResource, DynamicObject};

use crate::error::{Error, Result};

/// The API resources of `Cluster` and `Machine` in the version the controllers read.
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
        Self {
            version,
            cluster: version.cluster_resource(),
            machine: version.machine_resource(),
        }
    }

    /// Asks the API server which versions of `cluster.x-k8s.io` it serves and picks the
    /// newest one the controllers understand.
    pub async fn discover(client: &Client) -> Result<Self> {
        let group = kube::discovery::group(client, capi_types::labels::GROUP)
            .await
            .map_err(Error::kube("discover the cluster.x-k8s.io API group"))?;
        let version =
            CoreVersion::newest_served(group.versions()).map_err(|e| Error::Malformed {
                what: "cluster.x-k8s.io API group",
                message: e.to_string(),
            })?;
        Ok(Self::new(version))
    }

    /// The view of a Cluster read through [`CoreApi::cluster`].
    pub fn cluster_view(&self, obj: &DynamicObject) -> Result<ClusterView> {
        ClusterView::from_dynamic(obj, self.version).map_err(|e| Error::Malformed {
            what: "Cluster",
            message: e.to_string(),
        })
    }

    /// The view of a Machine read through [`CoreApi::machine`].
    pub fn machine_view(&self, obj: &DynamicObject) -> Result<MachineView> {
        MachineView::from_dynamic(obj, self.version).map_err(|e| Error::Malformed {
            what: "Machine",
            message: e.to_string(),
        })
    }
}
