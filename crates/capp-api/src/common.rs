//! Types shared by the Packet kinds: the v1beta2 initialization block and re-exports of the
//! Cluster API types the kinds embed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use capi_types::addresses::{MachineAddress, MachineAddressType};
pub use capi_types::common::{ApiEndpoint, ObjectMeta, V1Beta2ConditionsStatus};
pub use capi_types::conditions::Condition;
pub use capi_types::failure_domains::{FailureDomainSpec, FailureDomains};

/// The label Cluster API puts on every object of a cluster, naming the Cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// Readiness in the v1beta2 contract (`status.initialization`).
///
/// Core Cluster API v1.11+ reads `status.initialization.provisioned` when the CRD carries the
/// `cluster.x-k8s.io/v1beta2` contract label; v1.10 and older read `status.ready`. The
/// provider sets both, so either generation of core sees the same answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Initialization {
    /// Whether the infrastructure is fully provisioned (the v1beta2 equivalent of
    /// `status.ready`). Once true it never goes back to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<bool>,
}

/// Records readiness in both contracts' fields: `ready` (v1beta1) and
/// `initialization.provisioned` (v1beta2). Provisioning never goes back to false once true (the
/// contract says core never un-sets it either), so `false` after `true` only clears `ready`.
pub(crate) fn set_provisioned(
    ready: &mut bool,
    initialization: &mut Option<Initialization>,
    provisioned: bool,
) {
    *ready = provisioned;
    let init = initialization.get_or_insert_with(Initialization::default);
    if provisioned || init.provisioned != Some(true) {
        init.provisioned = Some(provisioned);
    }
}

/// Whether either contract's field says the infrastructure is provisioned.
pub(crate) fn is_provisioned(ready: bool, initialization: Option<&Initialization>) -> bool {
    ready || initialization.and_then(|i| i.provisioned) == Some(true)
}

/// Removes the `default` schemars derives from `#[serde(default)]`: status fields such as
/// `ready` have no default in the Go provider's CRDs, and a schema default on status would
/// make the API server write `false` into every status it stores.
pub(crate) fn no_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}
