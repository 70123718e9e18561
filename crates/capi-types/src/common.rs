//! Types shared by several Cluster API kinds: template metadata, the control plane endpoint,
//! object references, readiness gates, naming strategies and the v1beta2 status block.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as MetaCondition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to another Kubernetes object (`corev1.ObjectReference`), used for
/// `infrastructureRef`, `controlPlaneRef`, `bootstrap.configRef` and `nodeRef`.
pub use k8s_openapi::api::core::v1::ObjectReference;

/// The subset of Kubernetes object metadata that Cluster API copies from a template onto the
/// objects it creates (`labels` and `annotations`, CAPI's own `ObjectMeta`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Map of string keys and values that can be used to organize and categorize (scope and
    /// select) objects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Unstructured key value map stored with a resource that may be set by external tools to
    /// store and retrieve arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The endpoint to communicate with the control plane (`host` and `port`, both required).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// The hostname on which the API server is serving.
    #[schemars(length(max = 512))]
    pub host: String,
    /// The port on which the API server is serving.
    pub port: i32,
}

impl ApiEndpoint {
    /// Whether the endpoint is usable: a non-empty host and a non-zero port
    /// (CAPI's `APIEndpoint.IsValid`).
    ///
    /// ```
    /// use capi_types::common::ApiEndpoint;
    /// assert!(ApiEndpoint { host: "10.0.0.1".into(), port: 6443 }.is_valid());
    /// assert!(!ApiEndpoint::default().is_valid());
    /// ```
    #[must_use]
    pub fn is_valid(&self) -> bool {
        !self.host.is_empty() && self.port != 0
    }

    /// Whether both host and port are unset (CAPI's `APIEndpoint.IsZero`).
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.host.is_empty() && self.port == 0
    }
}

impl std::fmt::Display for ApiEndpoint {
    /// Formats the endpoint as `host:port`, bracketing IPv6 addresses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A condition that must be true for a Machine (or Cluster) to be considered ready or
/// available (`readinessGates[]` / `availabilityGates[]`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConditionGate {
    /// The type of a condition that must be set on the object.
    #[schemars(length(min = 1, max = 316))]
    #[schemars(extend("pattern" = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"))]
    pub condition_type: String,
    /// Polarity of the condition: `Positive` (default; true means ready) or `Negative`
    /// (false means ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Positive", "Negative"]))]
    pub polarity: Option<String>,
}

/// How names are generated for the Machines a MachineSet, MachineDeployment or
/// KubeadmControlPlane creates.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineNamingStrategy {
    /// A Go template for the Machine name, e.g. `{{ .machineSet.name }}-{{ .random }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub template: Option<String>,
}

/// The v1beta2 conditions a v1beta1 object carries in `status.v1beta2.conditions`
/// (standard `metav1.Condition`s, added in CAPI v1.9 to ease the move to v1beta2).
pub type V1Beta2Condition = MetaCondition;

/// Replica counters with v1beta2 semantics, as found in `status.v1beta2` of MachineSet,
/// MachineDeployment and KubeadmControlPlane.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct V1Beta2ReplicaStatus {
    /// Conditions in the v1beta2 format (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<V1Beta2Condition>,
    /// Number of Machines with the Ready condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Number of Machines with the Available condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Number of Machines with the UpToDate condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_date_replicas: Option<i32>,
}

/// A status block that only carries v1beta2 conditions (`status.v1beta2` of Machine and
/// KubeadmConfig).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct V1Beta2ConditionsStatus {
    /// Conditions in the v1beta2 format (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<V1Beta2Condition>,
}

/// A reference to a key in a Secret in the object's namespace (`files[].contentFrom.secret`,
/// `users[].passwdFrom.secret`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyReference {
    /// Name of the Secret in the object's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key in the Secret's data map.
    #[schemars(length(min = 1, max = 256))]
    pub key: String,
}

/// Schema for free-form JSON values that are kept verbatim
/// (`x-kubernetes-preserve-unknown-fields` without a type, as upstream uses for variable values).
pub(crate) fn preserve_any(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for free-form JSON objects that are kept verbatim.
pub(crate) fn preserve_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema of a `metav1.LabelSelector` with the map/list types upstream declares: the selector
/// and its `matchExpressions` (and their `values`) are atomic.
pub(crate) fn atomic_label_selector(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema =
        generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>();
    schema.insert("x-kubernetes-map-type".to_owned(), "atomic".into());
    if let Some(expressions) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("matchExpressions"))
    {
        expressions["x-kubernetes-list-type"] = "atomic".into();
        if let Some(values) = expressions
            .get_mut("items")
            .and_then(|i| i.get_mut("properties"))
            .and_then(|p| p.get_mut("values"))
        {
            values["x-kubernetes-list-type"] = "atomic".into();
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_print_as_host_port_with_ipv6_in_brackets() {
        let v4 = ApiEndpoint {
            host: "147.75.80.10".into(),
            port: 6443,
        };
        let v6 = ApiEndpoint {
            host: "2604:1380::1".into(),
            port: 443,
        };
        assert_eq!(v4.to_string(), "147.75.80.10:6443");
        assert_eq!(v6.to_string(), "[2604:1380::1]:443");
    }

    #[test]
    fn an_endpoint_needs_both_host_and_port_to_be_valid() {
        let host_only = ApiEndpoint {
            host: "h".into(),
            port: 0,
        };
        let port_only = ApiEndpoint {
            host: String::new(),
            port: 6443,
        };
        assert!(!host_only.is_valid() && !host_only.is_zero());
        assert!(!port_only.is_valid() && !port_only.is_zero());
        assert!(ApiEndpoint::default().is_zero());
    }

    #[test]
    fn empty_template_metadata_serialises_to_an_empty_object() {
        assert_eq!(
            serde_json::to_value(ObjectMeta::default()).unwrap(),
            serde_json::json!({})
        );
    }
}
