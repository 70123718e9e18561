//! `infrastructure.cluster.x-k8s.io/v1beta2`: PacketCluster, PacketMachine,
//! PacketMachineTemplate and PacketClusterTemplate in the shape of the Cluster API v1beta2
//! contract (Cluster API v1.11+).
//!
//! What differs from v1beta1 ([`crate::cluster`], [`crate::machine`], the templates):
//!
//! - readiness is `status.initialization.provisioned` only (no `status.ready`);
//! - `status.conditions` are standard `metav1.Condition`s (v1beta1 keeps them under
//!   `status.v1beta2.conditions`); the v1beta1 conditions with severity, `failureReason` and
//!   `failureMessage` move to `status.deprecated.v1beta1`, where they are no longer terminal;
//! - PacketCluster `status.failureDomains` is a list of `{name, controlPlane, attributes}`
//!   (v1beta1: a map keyed by name);
//! - PacketMachine `spec.providerID` is a plain string (empty until the device exists).
//!
//! Every other field is the v1beta1 field, with the same name, type, default and rule. The
//! PacketCluster spec is literally the v1beta1 type ([`PacketClusterSpec`] wraps it).
//!
//! [`crate::conversion`] converts each kind both ways without loss; [`crds_multiversion`]
//! builds CRDs serving both versions with a conversion webhook.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, WebhookClientConfig, WebhookConversion,
};
use kube::CustomResourceExt;

pub mod cluster;
pub mod machine;
pub mod templates;

pub use cluster::{PacketCluster, PacketClusterSpec, PacketClusterStatus};
pub use machine::{PacketMachine, PacketMachineSpec, PacketMachineStatus};
pub use templates::{
    PacketClusterTemplate, PacketClusterTemplateResource, PacketClusterTemplateSpec,
    PacketMachineTemplate, PacketMachineTemplateResource, PacketMachineTemplateSpec,
};

/// The API version of the kinds in this module.
pub const VERSION: &str = "v1beta2";

/// `apiVersion` of the kinds in this module (`infrastructure.cluster.x-k8s.io/v1beta2`).
pub const API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta2";

/// The contract label a CRD serving this version carries (`cluster.x-k8s.io/v1beta2:
/// v1beta2`), beside [`crate::CONTRACT_LABEL`]. Cluster API v1.11+ picks the newest contract
/// it finds a label for, and reads the objects through the version that label names.
pub const CONTRACT_LABEL: (&str, &str) = ("cluster.x-k8s.io/v1beta2", "v1beta2");

/// The version the API server stores objects in, when both versions are served:
/// **v1beta2**.
///
/// - It is the version the v1beta2 contract reads: Cluster API v1.11+ and our
///   own controllers read and write v1beta2, so the busy paths need no conversion call.
/// - Cluster API stops serving v1beta1 in April 2027 (v1.16). A version can only be removed
///   from a CRD once no object is stored in it (`status.storedVersions`); storing v1beta2 now
///   means objects move as they are written.
/// - Nothing is lost for v1beta1 clients: [`crate::conversion`] round-trips every v1beta1
///   object exactly, keeping what v1beta2 cannot hold in the
///   [`crate::conversion::DATA_ANNOTATION`] annotation.
///
/// Objects stored as v1beta1 before the switch stay readable: the API server converts them on
/// read.
pub const STORAGE_VERSION: &str = VERSION;

/// The four CRDs serving both `v1beta1` and `v1beta2` (stored as [`STORAGE_VERSION`]), in
/// the order of [`crate::crds`], with a `Webhook` conversion strategy calling `conversion`
/// (ConversionReview `v1`, see [`crate::conversion::review`]) and both contract labels.
///
/// The `v1beta1` entry of each CRD is exactly the single version [`crate::crds`] returns.
///
/// ```
/// use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::WebhookClientConfig;
///
/// let crds = capp_api::v1beta2::crds_multiversion(&WebhookClientConfig {
///     url: Some("https://capp-webhook.capp-system.svc:9443/convert".into()),
///     ..Default::default()
/// });
/// for crd in &crds {
///     let versions: Vec<(&str, bool)> =
///         crd.spec.versions.iter().map(|v| (v.name.as_str(), v.storage)).collect();
///     assert_eq!(versions, [("v1beta1", false), ("v1beta2", true)]);
///     assert_eq!(crd.spec.conversion.as_ref().unwrap().strategy, "Webhook");
/// }
/// ```
#[must_use]
pub fn crds_multiversion(conversion: &WebhookClientConfig) -> Vec<CustomResourceDefinition> {
    let v1beta2 = [
        crate::complete_crd(PacketCluster::crd()),
        crate::complete_crd(PacketMachine::crd()),
        crate::without_transition_rules(crate::complete_crd(PacketMachineTemplate::crd())),
        crate::without_transition_rules(crate::complete_crd(PacketClusterTemplate::crd())),
    ];
    crate::crds()
        .into_iter()
        .zip(v1beta2)
        .map(|(mut crd, newer)| {
            for version in &mut crd.spec.versions {
                version.storage = version.name == STORAGE_VERSION;
            }
            crd.spec
                .versions
                .extend(newer.spec.versions.into_iter().map(|mut version| {
                    version.storage = version.name == STORAGE_VERSION;
                    version
                }));
            let labels = crd.metadata.labels.get_or_insert_with(Default::default);
            for (key, value) in [crate::CONTRACT_LABEL, CONTRACT_LABEL] {
                labels.insert(key.to_owned(), value.to_owned());
            }
            crd.spec.conversion = Some(CustomResourceConversion {
                strategy: "Webhook".to_owned(),
                webhook: Some(WebhookConversion {
                    client_config: Some(conversion.clone()),
                    conversion_review_versions: vec!["v1".to_owned()],
                }),
            });
            crd
        })
        .collect()
}

/// The four CRDs serving **only** `v1beta2` (stored), with both contract labels and no
/// conversion: [`crds_multiversion`] with the `v1beta1` version and the webhook dropped.
///
/// For tests and installations that have no conversion webhook: an API server (such as
/// capp-testenv, which calls no conversion webhook) serves them without converting anything,
/// and the controllers then read and write v1beta2 (they discover the served version at
/// start-up). v1beta1 clients (the Go provider's manifests, Cluster API v1.10) cannot use
/// them; install [`crate::crds`] or [`crds_multiversion`] for those.
///
/// ```
/// for crd in capp_api::v1beta2::crds_v1beta2_only() {
///     let versions: Vec<(&str, bool)> =
///         crd.spec.versions.iter().map(|v| (v.name.as_str(), v.storage)).collect();
///     assert_eq!(versions, [("v1beta2", true)]);
///     assert!(crd.spec.conversion.is_none());
/// }
/// ```
#[must_use]
pub fn crds_v1beta2_only() -> Vec<CustomResourceDefinition> {
    crds_multiversion(&WebhookClientConfig::default())
        .into_iter()
        .map(|mut crd| {
            crd.spec.versions.retain(|v| v.name == VERSION);
            crd.spec.conversion = None;
            crd
        })
        .collect()
}
