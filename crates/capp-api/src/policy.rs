//! Template immutability as a `ValidatingAdmissionPolicy` (`admissionregistration.k8s.io/v1`,
//! GA since Kubernetes 1.30), so no admission webhook has to run.
//!
//! Cluster API expects infrastructure templates to be immutable: to change machines, create a
//! new template and point the owner at it. The ClusterClass topology controller, however,
//! checks a changed template with a server-side-apply *dry run* of the new spec against the
//! current template, annotated `topology.cluster.x-k8s.io/dry-run`, before it rotates the
//! template; providers must let that through (`IsDryRunRequest` of Cluster API's
//! `util/topology`: the request is a dry run AND the object carries the annotation, with any
//! value). A CRD transition rule cannot see the request or that annotation; a policy can.
//!
//! The policy matches UPDATE of `packetmachinetemplates` and `packetclustertemplates` in every
//! served version, skips the topology dry run with a match condition, and otherwise denies a
//! change of `spec.template.spec` with Cluster API's wording
//! (`<Kind> spec.template.spec field is immutable. Please create a new resource instead.`,
//! as the webhook of CAPI's `DockerMachineTemplate` says). `spec.template.metadata` and the
//! object's own metadata stay mutable (ClusterClass updates template labels in place).
//!
//! ```
//! let [policy, binding] = capp_api::policy::objects();
//! assert_eq!(policy["kind"], "ValidatingAdmissionPolicy");
//! assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
//! assert_eq!(binding["spec"]["validationActions"][0], "Deny");
//! ```

use capi_types::labels::TOPOLOGY_DRY_RUN_ANNOTATION;
use serde_json::{Value, json};

use crate::{GROUP, PacketClusterTemplate, PacketMachineTemplate, crds};

/// Name of the policy and of its binding (both cluster-scoped).
pub const POLICY_NAME: &str = "cluster-api-provider-packet-template-immutability";

/// The fixed part of the denial message; the full message starts with the kind
/// (`PacketMachineTemplate spec.template.spec field is immutable. ...`).
pub const IMMUTABLE_TEMPLATE_MESSAGE: &str =
    "spec.template.spec field is immutable. Please create a new resource instead.";

/// `apiVersion` of the policy and the binding.
pub const POLICY_API_VERSION: &str = "admissionregistration.k8s.io/v1";

/// The match condition that exempts Cluster API's topology dry run: the request is a dry run
/// and the new object carries [`TOPOLOGY_DRY_RUN_ANNOTATION`] (any value), as
/// `IsDryRunRequest` of Cluster API decides.
#[must_use]
pub fn not_topology_dry_run() -> String {
    format!(
        "!(request.dryRun == true && has(object.metadata.annotations) && \
         '{TOPOLOGY_DRY_RUN_ANNOTATION}' in object.metadata.annotations)"
    )
}

/// The validation: `spec.template.spec` is unchanged (an absent `spec` on both sides counts
/// as unchanged; the schema requires `template.spec` whenever `spec` is present).
pub const SPEC_UNCHANGED: &str = "has(object.spec) == has(oldObject.spec) && \
     (!has(object.spec) || object.spec.template.spec == oldObject.spec.template.spec)";

/// The resources (plurals) the policy guards.
#[must_use]
pub fn template_resources() -> [String; 2] {
    use kube::Resource;
    [
        PacketMachineTemplate::plural(&()).into_owned(),
        PacketClusterTemplate::plural(&()).into_owned(),
    ]
}

/// The served versions of the template CRDs, from [`crds`], sorted and deduplicated.
fn served_template_versions() -> Vec<String> {
    let resources = template_resources();
    let mut versions: Vec<String> = crds()
        .into_iter()
        .filter(|c| resources.contains(&c.spec.names.plural))
        .flat_map(|c| c.spec.versions)
        .filter(|v| v.served)
        .map(|v| v.name)
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// The `ValidatingAdmissionPolicy`.
#[must_use]
pub fn policy() -> Value {
    json!({
        "apiVersion": POLICY_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [{
                    "apiGroups": [GROUP],
                    "apiVersions": served_template_versions(),
                    "operations": ["UPDATE"],
                    "resources": template_resources(),
                }],
            },
            "matchConditions": [{
                "name": "not-a-topology-dry-run",
                "expression": not_topology_dry_run(),
            }],
            "validations": [{
                "expression": SPEC_UNCHANGED,
                "message": IMMUTABLE_TEMPLATE_MESSAGE,
                "messageExpression": format!("object.kind + ' {IMMUTABLE_TEMPLATE_MESSAGE}'"),
                "reason": "Invalid",
            }],
        },
    })
}

/// The `ValidatingAdmissionPolicyBinding` that makes [`policy`] deny (cluster-wide).
#[must_use]
pub fn binding() -> Value {
    json!({
        "apiVersion": POLICY_API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "policyName": POLICY_NAME,
            "validationActions": ["Deny"],
        },
    })
}

/// The policy and its binding, in install order.
#[must_use]
pub fn objects() -> [Value; 2] {
    [policy(), binding()]
}
