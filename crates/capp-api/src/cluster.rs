//! `PacketCluster`: the Cluster API infrastructure cluster for Equinix Metal.
//!
//! A PacketCluster names the Equinix Metal project and location of a cluster and owns the
//! control plane endpoint: an Elastic IP (managed by CPEM or kube-vip) or an Equinix Metal
//! Load Balancer (EMLB), chosen by [`PacketClusterSpec::vip_manager`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    ApiEndpoint, CLUSTER_NAME_LABEL, Condition, FailureDomainSpec, FailureDomains, Initialization,
    V1Beta2ConditionsStatus,
};

/// Finalizer the provider puts on a PacketCluster until its Elastic IP or load balancer has
/// been dealt with (same name as the Go provider, so clusters can move between them).
pub const FINALIZER: &str = "packetcluster.infrastructure.cluster.x-k8s.io";

/// Annotation the Go provider used to remember the EMLB load balancer ID.
pub const LOAD_BALANCER_ID_ANNOTATION: &str = "equinix.com/loadbalancerID";
/// Annotation the Go provider used to remember the EMLB listener port number.
pub const LOAD_BALANCER_PORT_NUMBER_ANNOTATION: &str = "equinix.com/loadbalancerPortNumber";
/// Annotation the Go provider used to remember the EMLB metro.
pub const LOAD_BALANCER_METRO_ANNOTATION: &str = "equinix.com/loadbalancerMetro";

/// The default key of the API token in the Secret named by
/// [`PacketClusterSpec::credentials_ref`].
pub const DEFAULT_CREDENTIALS_KEY: &str = "apiKey";

/// The failure domain attribute holding a metro code.
pub const METRO_ATTRIBUTE: &str = "metro";
/// The failure domain attribute holding a (legacy) facility code.
pub const FACILITY_ATTRIBUTE: &str = "facility";

/// Desired state of a PacketCluster.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketCluster",
    schema = "manual",
    plural = "packetclusters",
    namespaced,
    status = "PacketClusterStatus",
    doc = "PacketCluster is the Schema for the packetclusters API: the Equinix Metal project, \
           location and control plane endpoint of one Cluster API cluster.",
    shortname = "pcl",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".metadata.labels.cluster\\.x-k8s\\.io/cluster-name","description":"Cluster to which this PacketCluster belongs"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready","description":"PacketCluster ready status"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.controlPlaneEndpoint.host","description":"Control plane endpoint host","priority":1}"#,
    printcolumn = r#"{"name":"VIP Manager","type":"string","jsonPath":".spec.vipManager","description":"Who manages the control plane VIP","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketCluster was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "PacketClusterSpec")]
pub struct PacketClusterSpec {
    /// ProjectID represents the Packet Project where this cluster will be placed into.
    /// Immutable.
    #[serde(rename = "projectID")]
    #[schemars(extend("x-kubernetes-validations" = [{"message": "projectID is immutable", "rule": "self == oldSelf"}]))]
    pub project_id: String,

    /// Facility represents the Packet facility for this cluster. Legacy: facilities are
    /// deprecated by Equinix Metal in favour of metros; used only when `metro` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<String>,

    /// Metro represents the Packet metro for this cluster (e.g. `da`, `sv`). Required for
    /// the `EMLB` VIP manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metro: Option<String>,

    /// ControlPlaneEndpoint represents the endpoint used to communicate with the control
    /// plane. Filled in by the provider (Elastic IP or load balancer address, port 6443)
    /// unless set by the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,

    /// VIPManager represents whether this cluster uses CPEM or kube-vip or Equinix Metal
    /// Load Balancer to manage its VIP for the API server IP. Immutable.
    #[serde(default, rename = "vipManager")]
    #[schemars(extend("x-kubernetes-validations" = [{"message": "vipManager is immutable", "rule": "self == oldSelf"}]))]
    pub vip_manager: VipManager,

    /// CredentialsRef names a Secret in the PacketCluster's namespace that holds the Equinix
    /// Metal API token used for this cluster's devices, IPs and load balancers (under
    /// `key`, default `apiKey`). When unset the manager's own token is used. This lets one
    /// manager serve several projects or organisations (per-cluster credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsReference>,

    /// ElasticIPReclaimPolicy says what happens to the control plane Elastic IP when the
    /// cluster is deleted: `Retain` (default; the behaviour of the Go provider, so a
    /// re-created cluster of the same name gets the same address) or `Delete` (release it
    /// back to Equinix Metal).
    #[serde(default, rename = "elasticIPReclaimPolicy")]
    pub elastic_ip_reclaim_policy: ReclaimPolicy,

    /// FailureDomains lists the metros (or, legacy, facilities) that Machines of this cluster
    /// may be spread over. Each entry becomes a key of `status.failureDomains`, which
    /// Cluster API uses to place Machines. When empty, the cluster's own metro (or
    /// facility) is the single failure domain, eligible for control plane Machines. At most
    /// 100 entries, one per name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 100),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub failure_domains: Option<Vec<PacketFailureDomain>>,
}

capi_types::optional_spec!(
    PacketCluster,
    PacketClusterSpec,
    status = PacketClusterStatus,
    description = "PacketCluster is the Schema for the packetclusters API: the Equinix Metal project, \
           location and control plane endpoint of one Cluster API cluster.",
);

/// Who manages the control plane virtual IP.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum VipManager {
    /// An Elastic IP reserved by the provider and moved between control plane nodes by the
    /// Cloud Provider for Equinix Metal (CPEM).
    #[default]
    #[serde(rename = "CPEM")]
    Cpem,
    /// An Elastic IP announced over BGP by kube-vip on the control plane nodes.
    #[serde(rename = "KUBE_VIP")]
    KubeVip,
    /// An Equinix Metal Load Balancer in front of the control plane nodes.
    #[serde(rename = "EMLB")]
    Emlb,
}

impl VipManager {
    /// The wire spelling (`CPEM`, `KUBE_VIP`, `EMLB`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            VipManager::Cpem => "CPEM",
            VipManager::KubeVip => "KUBE_VIP",
            VipManager::Emlb => "EMLB",
        }
    }

    /// Whether the control plane endpoint is an Elastic IP reserved by the provider
    /// (`CPEM` and `KUBE_VIP`), as opposed to a load balancer address.
    #[must_use]
    pub fn uses_elastic_ip(self) -> bool {
        matches!(self, VipManager::Cpem | VipManager::KubeVip)
    }
}

/// What happens to an Equinix Metal resource when the object that created it is deleted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum ReclaimPolicy {
    /// Keep the resource (and keep paying for it).
    #[default]
    Retain,
    /// Release the resource.
    Delete,
}

/// A reference to the Secret holding a cluster's Equinix Metal API token.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsReference {
    /// Name of the Secret, in the namespace of the PacketCluster (cross-namespace references
    /// are not allowed, so a namespace's users cannot borrow another namespace's token).
    pub name: String,
    /// Key of the API token in the Secret's data. Defaults to `apiKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl CredentialsReference {
    /// The key of the API token in the Secret, `apiKey` unless set.
    #[must_use]
    pub fn key_or_default(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_CREDENTIALS_KEY)
    }
}

/// One failure domain of a cluster: a metro (or facility) Machines can be placed in.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PacketFailureDomain {
    /// Name of the failure domain: a metro code such as `da` (or a legacy facility code
    /// such as `dc13`, see `facility`). Machines placed in it are created in that metro.
    pub name: String,
    /// Whether the name is a facility code rather than a metro code. Facilities are
    /// deprecated by Equinix Metal; prefer metros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<bool>,
    /// Whether control plane Machines may be placed here. Defaults to true. With the `CPEM`
    /// and `KUBE_VIP` VIP managers the Elastic IP belongs to one metro, so only the cluster
    /// metro should allow control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<bool>,
}

/// Observed state of a PacketCluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketClusterStatus {
    /// Ready denotes that the cluster (infrastructure) is ready: the control plane endpoint
    /// exists (v1beta1 contract).
    #[serde(default)]
    #[schemars(transform = crate::common::no_default)]
    pub ready: bool,

    /// Initialization carries readiness in the v1beta2 contract
    /// (`initialization.provisioned`, kept equal to `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<Initialization>,

    /// FailureDomains is the set of metros (or facilities) Cluster API may place Machines
    /// in, keyed by name, with attributes `metro` or `facility` (v1beta1 map shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domains: Option<FailureDomains>,

    /// FailureReason is set when there is a terminal problem reconciling the PacketCluster,
    /// as a short machine-readable string (Cluster API `ClusterStatusError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,

    /// FailureMessage is set when there is a terminal problem reconciling the PacketCluster,
    /// as a more verbose string suitable for logging and human consumption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,

    /// Conditions defines current service state of the PacketCluster (Cluster API v1beta1
    /// conditions, with severity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// V1Beta2 groups the v1beta2 view of the status (standard `metav1.Condition`s), as
    /// Cluster API v1beta1 kinds do to ease the move to v1beta2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<V1Beta2ConditionsStatus>,
}

impl PacketClusterStatus {
    /// Sets readiness in both contracts: `ready` (v1beta1) and
    /// `initialization.provisioned` (v1beta2). Provisioning never goes back to false once
    /// true (the contract says core never un-sets it either), so `false` after `true` only
    /// clears `ready`.
    pub fn set_provisioned(&mut self, provisioned: bool) {
        crate::common::set_provisioned(&mut self.ready, &mut self.initialization, provisioned);
    }

    /// Whether the infrastructure is provisioned by either contract's field.
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        crate::common::is_provisioned(self.ready, self.initialization.as_ref())
    }
}

impl capi_types::conditions::Conditions for PacketClusterStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
}

impl PacketClusterSpec {
    /// The failure domains this spec asks for, in the shape `status.failureDomains` takes.
    ///
    /// Each entry of `spec.failureDomains` becomes one domain with attribute `metro` (or
    /// `facility`); without entries the cluster's metro, else its facility, is the only
    /// domain, eligible for control plane Machines. Empty when no location is set at all.
    ///
    /// ```
    /// use capp_api::PacketClusterSpec;
    /// let spec = PacketClusterSpec { metro: Some("da".into()), ..Default::default() };
    /// let fds = spec.desired_failure_domains();
    /// assert_eq!(fds.control_plane_names().collect::<Vec<_>>(), ["da"]);
    /// ```
    #[must_use]
    pub fn desired_failure_domains(&self) -> FailureDomains {
        let mut out = FailureDomains::default();
        let entries: Vec<PacketFailureDomain> = match &self.failure_domains {
            Some(list) if !list.is_empty() => list.clone(),
            _ => match (
                non_empty(self.metro.as_deref()),
                non_empty(self.facility.as_deref()),
            ) {
                (Some(metro), _) => vec![PacketFailureDomain {
                    name: metro.to_owned(),
                    ..PacketFailureDomain::default()
                }],
                (None, Some(facility)) => vec![PacketFailureDomain {
                    name: facility.to_owned(),
                    facility: Some(true),
                    ..PacketFailureDomain::default()
                }],
                (None, None) => Vec::new(),
            },
        };
        for entry in entries {
            let attribute = if entry.facility == Some(true) {
                FACILITY_ATTRIBUTE
            } else {
                METRO_ATTRIBUTE
            };
            let spec = FailureDomainSpec {
                control_plane: Some(entry.control_plane.unwrap_or(true)),
                attributes: BTreeMap::from([(attribute.to_owned(), entry.name.clone())]),
            };
            out.insert(entry.name, spec);
        }
        out
    }
}

impl PacketCluster {
    /// The name of the Cluster this PacketCluster belongs to (label
    /// `cluster.x-k8s.io/cluster-name`, set by Cluster API).
    #[must_use]
    pub fn cluster_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(CLUSTER_NAME_LABEL)
            .map(String::as_str)
    }

    /// Whether the infrastructure is provisioned (either contract's status field).
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(PacketClusterStatus::is_provisioned)
    }

    /// The control plane endpoint, if it has been set to a usable value.
    #[must_use]
    pub fn control_plane_endpoint(&self) -> Option<&ApiEndpoint> {
        self.spec
            .control_plane_endpoint
            .as_ref()
            .filter(|e| e.is_valid())
    }
}

pub(crate) fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
