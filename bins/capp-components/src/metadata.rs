//! `metadata.yaml`: the `clusterctl.cluster.x-k8s.io/v1alpha3` `Metadata` of a release,
//! mapping each release series (major.minor) to the Cluster API contract it implements.
//!
//! The contract is the one the CRDs declare with their contract label
//! ([`capp_api::CONTRACT_LABEL`], `cluster.x-k8s.io/v1beta1`): clusterctl reads the metadata at
//! `init`/`upgrade`, core controllers read the label at run time, and both must agree.

use serde_json::{Value, json};

use crate::Version;

/// The Cluster API contract of the CRDs: the version part of the contract label's key
/// (`cluster.x-k8s.io/v1beta1` → `v1beta1`).
#[must_use]
pub fn contract() -> &'static str {
    let key = capp_api::CONTRACT_LABEL.0;
    key.rsplit_once('/').map_or(key, |(_, version)| version)
}

/// The release series listed in the metadata: the series of `version` and of this build,
/// newest first, each mapped to [`contract`].
#[must_use]
pub fn release_series(version: Version) -> Vec<(u32, u32)> {
    let current = Version::current();
    let mut series = vec![
        (version.major, version.minor),
        (current.major, current.minor),
    ];
    series.sort_unstable_by(|a, b| b.cmp(a));
    series.dedup();
    series
}

/// The `Metadata` document for a release of `version`.
#[must_use]
pub fn metadata(version: Version) -> Value {
    let series: Vec<Value> = release_series(version)
        .into_iter()
        .map(|(major, minor)| json!({"major": major, "minor": minor, "contract": contract()}))
        .collect();
    json!({
        "apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3",
        "kind": "Metadata",
        "releaseSeries": series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_is_the_crds_contract_label() {
        assert_eq!(contract(), "v1beta1");
        assert_eq!(capp_api::CONTRACT_LABEL.1, contract());
    }

    #[test]
    fn a_future_version_adds_its_series_first() {
        let v = Version {
            major: 9,
            minor: 3,
            patch: 1,
        };
        assert_eq!(release_series(v)[0], (9, 3));
        assert_eq!(release_series(Version::current()).len(), 1);
    }
}
