//! Failure domains as the v1beta1 contract carries them: a map from name to spec
//! (`Cluster.status.failureDomains`, infrastructure cluster `status.failureDomains`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What is known about one failure domain.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailureDomainSpec {
    /// Whether control plane Machines may be placed in this failure domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<bool>,
    /// Free-form provider attributes of the failure domain (e.g. the metro or facility).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// Failure domains by name (CAPI v1beta1 `FailureDomains`). Iteration is in name order,
/// which is also the order CAPI uses when it spreads Machines.
///
/// ```
/// use capi_types::failure_domains::{FailureDomains, FailureDomainSpec};
/// let mut fds = FailureDomains::default();
/// fds.insert("sv", FailureDomainSpec { control_plane: Some(true), ..Default::default() });
/// fds.insert("da", FailureDomainSpec::default());
/// assert_eq!(fds.control_plane_names().collect::<Vec<_>>(), ["sv"]);
/// assert_eq!(serde_json::to_string(&fds).unwrap(), r#"{"da":{},"sv":{"controlPlane":true}}"#);
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(transparent)]
pub struct FailureDomains(pub BTreeMap<String, FailureDomainSpec>);

impl FailureDomains {
    /// Adds or replaces a failure domain.
    pub fn insert(&mut self, name: impl Into<String>, spec: FailureDomainSpec) {
        self.0.insert(name.into(), spec);
    }

    /// The failure domain with this name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&FailureDomainSpec> {
        self.0.get(name)
    }

    /// Whether there are no failure domains.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Names of the domains that accept control plane Machines, sorted
    /// (CAPI's `FailureDomains.FilterControlPlane`).
    pub fn control_plane_names(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, spec)| spec.control_plane == Some(true))
            .map(|(name, _)| name.as_str())
    }

    /// A copy holding only the control plane domains.
    #[must_use]
    pub fn filter_control_plane(&self) -> FailureDomains {
        FailureDomains(
            self.0
                .iter()
                .filter(|(_, spec)| spec.control_plane == Some(true))
                .map(|(name, spec)| (name.clone(), spec.clone()))
                .collect(),
        )
    }
}

impl FromIterator<(String, FailureDomainSpec)> for FailureDomains {
    fn from_iter<I: IntoIterator<Item = (String, FailureDomainSpec)>>(iter: I) -> Self {
        FailureDomains(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(cp: Option<bool>) -> FailureDomainSpec {
        FailureDomainSpec {
            control_plane: cp,
            attributes: BTreeMap::from([("metro".to_owned(), "sv".to_owned())]),
        }
    }

    #[test]
    fn only_domains_explicitly_marked_for_the_control_plane_are_control_plane_domains() {
        let fds: FailureDomains = [
            ("a".to_owned(), domain(Some(true))),
            ("b".to_owned(), domain(Some(false))),
            ("c".to_owned(), domain(None)),
            ("d".to_owned(), domain(Some(true))),
        ]
        .into_iter()
        .collect();
        assert_eq!(fds.control_plane_names().collect::<Vec<_>>(), ["a", "d"]);
        assert_eq!(
            fds.filter_control_plane().names().collect::<Vec<_>>(),
            ["a", "d"]
        );
        assert_eq!(fds.names().count(), 4);
    }

    #[test]
    fn failure_domains_round_trip_as_a_plain_map() {
        let json = serde_json::json!({"ewr1": {"controlPlane": true, "attributes": {"metro": "ny"}}, "sv15": {}});
        let fds: FailureDomains = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(fds.get("ewr1").unwrap().attributes["metro"], "ny");
        assert_eq!(serde_json::to_value(&fds).unwrap(), json);
    }
}
