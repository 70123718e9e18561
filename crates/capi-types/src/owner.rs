//! Finding an object's Cluster API owners from its `ownerReferences`, as CAPI's
//! `util.GetOwnerCluster` / `util.GetOwnerMachine` do, without any API call.
//!
//! Owners are matched by kind and API group; the version is ignored, so references written
//! with an older or newer API version still match. The ownerReference does not need to be
//! the controller reference (core sets plain references since v1.13).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use crate::Error;
use crate::labels::{CLUSTER_NAME_LABEL, GROUP};

/// The group part of an `apiVersion` (`""` for core `v1`). Fails on more than one `/`, like
/// Go's `schema.ParseGroupVersion`.
pub fn api_group(api_version: &str) -> Result<&str, Error> {
    match api_version.split_once('/') {
        None => Ok(""),
        Some((_, version)) if version.contains('/') => Err(Error::InvalidApiVersion {
            api_version: api_version.to_owned(),
        }),
        Some((group, _)) => Ok(group),
    }
}

/// The first ownerReference of `obj` with the given kind whose apiVersion is in `group`
/// (any version). A malformed apiVersion on a reference of that kind is an error, as in CAPI.
pub fn find_owner<'a>(
    obj: &'a impl Resource,
    group: &str,
    kind: &str,
) -> Result<Option<&'a OwnerReference>, Error> {
    for reference in obj.meta().owner_references.iter().flatten() {
        if reference.kind != kind {
            continue;
        }
        if api_group(&reference.api_version)? == group {
            return Ok(Some(reference));
        }
    }
    Ok(None)
}

/// The owning `Cluster` (kind `Cluster`, group `cluster.x-k8s.io`), if any. The Cluster is in
/// the object's namespace; fetch it by the reference's `name`.
///
/// ```
/// use capi_types::owner::owner_cluster;
/// use capi_types::machine::{Machine, MachineSpec};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
///
/// let mut m = Machine::new("m1", MachineSpec::default());
/// m.metadata.owner_references = Some(vec![OwnerReference {
///     api_version: "cluster.x-k8s.io/v1beta2".into(),
///     kind: "Cluster".into(),
///     name: "prod".into(),
///     uid: "u1".into(),
///     ..Default::default()
/// }]);
/// assert_eq!(owner_cluster(&m).unwrap().map(|r| r.name.as_str()), Some("prod"));
/// ```
pub fn owner_cluster(obj: &impl Resource) -> Result<Option<&OwnerReference>, Error> {
    find_owner(obj, GROUP, "Cluster")
}

/// The owning `Machine` (kind `Machine`, group `cluster.x-k8s.io`), if any.
pub fn owner_machine(obj: &impl Resource) -> Result<Option<&OwnerReference>, Error> {
    find_owner(obj, GROUP, "Machine")
}

/// The Cluster name from the `cluster.x-k8s.io/cluster-name` label (how CAPI's
/// `util.GetClusterFromMetadata` finds the Cluster of Machines and their infrastructure).
#[must_use]
pub fn cluster_name_from_label(obj: &impl Resource) -> Option<&str> {
    obj.meta()
        .labels
        .as_ref()
        .and_then(|l| l.get(CLUSTER_NAME_LABEL))
        .map(String::as_str)
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::machine::{Machine, MachineSpec};

    fn owned_by(refs: &[(&str, &str, &str)]) -> Machine {
        let mut m = Machine::new("m1", MachineSpec::default());
        m.metadata.owner_references = Some(
            refs.iter()
                .map(|(api_version, kind, name)| OwnerReference {
                    api_version: (*api_version).to_owned(),
                    kind: (*kind).to_owned(),
                    name: (*name).to_owned(),
                    uid: format!("uid-{name}"),
                    ..OwnerReference::default()
                })
                .collect(),
        );
        m
    }

    #[test]
    fn the_owner_cluster_is_found_whatever_the_api_version_and_controller_flag() {
        for version in ["v1alpha3", "v1beta1", "v1beta2"] {
            let m = owned_by(&[
                (
                    "infrastructure.cluster.x-k8s.io/v1beta1",
                    "Cluster",
                    "not-capi",
                ),
                (&format!("cluster.x-k8s.io/{version}"), "Cluster", "prod"),
            ]);
            let owner = owner_cluster(&m).unwrap().unwrap();
            assert_eq!(owner.name, "prod");
            assert_eq!(owner.controller, None);
        }
    }

    #[test]
    fn owners_of_another_kind_or_group_are_not_returned() {
        let m = owned_by(&[
            ("cluster.x-k8s.io/v1beta1", "MachineSet", "ms"),
            ("example.com/v1", "Machine", "other"),
        ]);
        assert_eq!(owner_cluster(&m).unwrap(), None);
        assert_eq!(owner_machine(&m).unwrap(), None);
        let with_machine = owned_by(&[("cluster.x-k8s.io/v1beta1", "Machine", "m0")]);
        assert_eq!(owner_machine(&with_machine).unwrap().unwrap().name, "m0");
        let none = Machine::new("m1", MachineSpec::default());
        assert_eq!(owner_machine(&none).unwrap(), None);
    }

    #[test]
    fn a_malformed_api_version_on_a_matching_kind_is_an_error() {
        let m = owned_by(&[("cluster.x-k8s.io/v1beta1/extra", "Cluster", "prod")]);
        let err = owner_cluster(&m).unwrap_err();
        assert!(err.to_string().contains("cluster.x-k8s.io/v1beta1/extra"));
        // The same reference is ignored when looking for another kind.
        assert_eq!(owner_machine(&m).unwrap(), None);
    }

    #[test]
    fn api_groups_are_parsed_like_kubernetes_does() {
        assert_eq!(api_group("v1").unwrap(), "");
        assert_eq!(api_group("").unwrap(), "");
        assert_eq!(
            api_group("cluster.x-k8s.io/v1beta1").unwrap(),
            "cluster.x-k8s.io"
        );
        assert!(api_group("a/b/c").is_err());
    }

    #[test]
    fn the_cluster_name_label_names_the_cluster_unless_empty() {
        let mut m = Machine::new("m1", MachineSpec::default());
        assert_eq!(cluster_name_from_label(&m), None);
        m.metadata.labels = Some(BTreeMap::from([(
            CLUSTER_NAME_LABEL.to_owned(),
            String::new(),
        )]));
        assert_eq!(cluster_name_from_label(&m), None);
        m.metadata.labels = Some(BTreeMap::from([(
            CLUSTER_NAME_LABEL.to_owned(),
            "prod".to_owned(),
        )]));
        assert_eq!(cluster_name_from_label(&m), Some("prod"));
    }
}
