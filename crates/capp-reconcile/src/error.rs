//! The controllers' one error type, with bounded reasons and the transient/terminal split.
//!
//! Every variant says what this layer was doing; the cause is kept as `#[source]` and never
//! interpolated into the message (house style rule 20). [`Error::reason`] is a bounded,
//! CamelCase string used as a condition reason and as a metric label; [`Error::is_terminal`]
//! says whether retrying can help without a change to the objects.

use std::time::Duration;

use capp_api::conditions as reasons;

/// What can go wrong while reconciling a PacketCluster or PacketMachine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes API call failed (read, status write, spec patch, event).
    #[error("failed to {action}")]
    Kube {
        /// What was being done, e.g. `"write PacketMachine status"`.
        action: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// An Equinix Metal API call failed.
    #[error("equinix metal {operation} failed")]
    Metal {
        /// The Metal operation, e.g. `"createDevice"`.
        operation: &'static str,
        /// The client error, classified by its predicates (never by its text).
        #[source]
        source: capp_packet::Error,
    },
    /// The object's spec cannot be satisfied as written (a field names the fix).
    #[error("invalid {field}: {message}")]
    InvalidSpec {
        /// The field path, e.g. `"spec.hardwareReservationID"`.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The bootstrap data Secret exists but cannot be used as userdata.
    #[error("bootstrap data Secret {namespace}/{name}: {message}")]
    BootstrapData {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// What is wrong with it.
        message: String,
    },
    /// The bootstrap data uses a Go template construct we do not render, or `.apiKey`
    /// without the manager's opt-in flag.
    #[error("bootstrap data of Secret {name} cannot be rendered")]
    Template {
        /// Name of the Secret.
        name: String,
        /// The renderer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bootstrap data uses `{{ .apiKey }}` but the manager was not started with the
    /// opt-in flag that lets the Metal API token into userdata.
    #[error(
        "bootstrap data of Secret {name} uses {{{{ .apiKey }}}} (the Metal API token): start \
         the manager with {flag} to allow the token in userdata, or remove it from the template"
    )]
    ApiKeyRefused {
        /// Name of the Secret.
        name: String,
        /// The manager flag.
        flag: &'static str,
    },
    /// The Secret named by `spec.credentialsRef` is missing or lacks the key.
    #[error("credentials Secret {namespace}/{name}: {message}")]
    Credentials {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// What is missing.
        message: String,
    },
    /// The device failed to provision (state `failed`, or 403 after a failed provision).
    #[error("device {device_id} failed to provision")]
    ProvisioningFailed {
        /// The device.
        device_id: String,
    },
    /// The reconcile did not finish within [`Config::reconcile_timeout`](crate::Config::reconcile_timeout).
    #[error("reconcile did not finish within {after:?}; cancelled, it will be retried")]
    Timeout {
        /// The limit.
        after: Duration,
    },
    /// The cluster's Elastic IP is assigned to a device that does not belong to the cluster,
    /// so the control-plane endpoint would not reach it.
    #[error(
        "Elastic IP {address} (the control-plane endpoint) is assigned to a device outside \
         this cluster: unassign it in Equinix Metal, or set \
         PacketCluster spec.controlPlaneEndpoint to an address of this cluster"
    )]
    ElasticIpInUse {
        /// The address.
        address: String,
    },
    /// An object this controller needs is malformed (e.g. a Cluster without a name).
    #[error("{what} is malformed: {message}")]
    Malformed {
        /// The object kind.
        what: &'static str,
        /// What is missing.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a kube error with what was being done.
    pub(crate) fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> Error {
        move |source| Error::Kube { action, source }
    }

    /// Wraps a Metal error with the operation.
    pub(crate) fn metal(operation: &'static str) -> impl FnOnce(capp_packet::Error) -> Error {
        move |source| Error::Metal { operation, source }
    }

    /// The Metal client error underneath, if any (through the finalizer wrapper too).
    #[must_use]
    pub fn metal_source(&self) -> Option<&capp_packet::Error> {
        match self {
            Error::Metal { source, .. } => Some(source),
            _ => None,
        }
    }

    /// A bounded CamelCase reason for conditions, events and metric labels.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubernetesAPIError",
            Error::Metal { source, .. } => {
                if source.is_rate_limited() {
                    "RateLimited"
                } else if source.is_capacity_unavailable() {
                    reasons::INSUFFICIENT_CAPACITY_REASON
                } else if source.is_unauthorized() {
                    reasons::CREDENTIALS_INVALID_REASON
                } else if source.is_retryable() {
                    "MetalAPIUnavailable"
                } else {
                    "MetalAPIError"
                }
            }
            Error::InvalidSpec { .. } => reasons::INVALID_SPEC_REASON,
            Error::BootstrapData { .. } => "InvalidBootstrapData",
            Error::Template { .. } => "BootstrapTemplateError",
            Error::ApiKeyRefused { .. } => "APIKeyInUserdataRefused",
            Error::Credentials { .. } => reasons::CREDENTIALS_NOT_FOUND_REASON,
            Error::ProvisioningFailed { .. } => reasons::INSTANCE_PROVISION_FAILED_REASON,
            Error::Malformed { .. } => "MalformedObject",
            Error::ElasticIpInUse { .. } => "ElasticIPInUse",
            Error::Timeout { .. } => "ReconcileTimeout",
        }
    }

    /// Whether retrying without a change to the objects cannot help: an impossible spec, a
    /// template we cannot render, or a failed provision. Everything else (429, 5xx,
    /// capacity, network, conflicts, missing Secrets) is transient.
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        match self {
            Error::InvalidSpec { .. }
            | Error::Template { .. }
            | Error::ApiKeyRefused { .. }
            | Error::ProvisioningFailed { .. }
            | Error::ElasticIpInUse { .. }
            | Error::BootstrapData { .. } => true,
            // A 4xx that is none of the transient classes (422 validation of a create, 400)
            // means the request itself is wrong: the spec, not the moment.
            Error::Metal { source, .. } => {
                !(source.is_retryable()
                    || source.is_capacity_unavailable()
                    || source.is_not_found()
                    || source.is_forbidden()
                    || source.is_unauthorized()
                    || source.is_conflict()
                    || source.may_have_been_applied())
            }
            Error::Kube { .. }
            | Error::Credentials { .. }
            | Error::Malformed { .. }
            | Error::Timeout { .. } => false,
        }
    }

    /// A wait the server asked for (`Retry-After` / `X-RateLimit-Reset`), if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.metal_source()?.api()?.retry_after()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: &str) -> capp_packet::Error {
        capp_packet::Error::Api(Box::new(capp_packet::ApiError::new(
            "createDevice",
            http_status(status),
            vec![message.to_owned()],
        )))
    }

    fn http_status(code: u16) -> http::StatusCode {
        http::StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn rate_limits_capacity_and_server_errors_are_transient() {
        for (status, message, reason) in [
            (429, "slow down", "RateLimited"),
            (
                503,
                "There are no available hardware reservations",
                "InsufficientCapacity",
            ),
            (502, "bad gateway", "MetalAPIUnavailable"),
        ] {
            let e = Error::metal("createDevice")(api(status, message));
            assert!(!e.is_terminal(), "{status} must be transient");
            assert_eq!(e.reason(), reason);
        }
    }

    #[test]
    fn a_validation_error_on_create_is_terminal() {
        let e = Error::metal("createDevice")(api(422, "plan is not valid"));
        assert!(e.is_terminal());
        assert_eq!(e.reason(), "MetalAPIError");
    }

    #[test]
    fn messages_name_this_layer_only() {
        let e = Error::metal("createDevice")(api(500, "oh snap"));
        assert_eq!(e.to_string(), "equinix metal createDevice failed");
    }
}
