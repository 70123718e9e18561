//! Condition types and reasons the provider sets on PacketClusters and PacketMachines
//! (in the style of CAPH's `conditions_const.go`).
//!
//! Types are CamelCase nouns that read as "is it ready?"; reasons are CamelCase and explain a
//! `False` (or `Unknown`) status. The generic `Ready` and `Paused` types come from
//! [`capi_types::conditions`].

// PacketCluster.

/// The control plane endpoint (Elastic IP or load balancer) and, for `KUBE_VIP`, project
/// BGP are in place. Same type as the Go provider.
pub const NETWORK_INFRASTRUCTURE_READY: &str = "NetworkInfrastructureReady";

/// The Equinix Metal credentials of the cluster could be read and were accepted.
pub const CREDENTIALS_AVAILABLE: &str = "CredentialsAvailable";

/// The Secret named by `spec.credentialsRef` does not exist or lacks the key.
pub const CREDENTIALS_NOT_FOUND_REASON: &str = "CredentialsNotFound";
/// Equinix Metal rejected the credentials (401/403).
pub const CREDENTIALS_INVALID_REASON: &str = "CredentialsInvalid";
/// Reserving the control plane Elastic IP failed.
pub const ELASTIC_IP_RESERVATION_FAILED_REASON: &str = "ElasticIPReservationFailed";
/// Releasing the control plane Elastic IP failed (reclaim policy `Delete`).
pub const ELASTIC_IP_RELEASE_FAILED_REASON: &str = "ElasticIPReleaseFailed";
/// Creating or updating the EMLB load balancer failed.
pub const LOAD_BALANCER_FAILED_REASON: &str = "LoadBalancerProvisioningFailed";
/// Deleting the EMLB load balancer failed.
pub const LOAD_BALANCER_DELETE_FAILED_REASON: &str = "LoadBalancerDeletionFailed";
/// Enabling BGP on the project (needed by `KUBE_VIP`) failed.
pub const BGP_CONFIGURATION_FAILED_REASON: &str = "BGPConfigurationFailed";
/// The spec is invalid (e.g. neither metro nor facility, or `EMLB` without a metro).
pub const INVALID_SPEC_REASON: &str = "InvalidSpec";

// PacketMachine.

/// The device exists and is active. Same type as the Go provider.
pub const INSTANCE_READY: &str = "InstanceReady";

/// The control plane endpoint points at this device (Elastic IP assigned, or the device
/// added to the load balancer pool); only for control plane machines.
pub const CONTROL_PLANE_ENDPOINT_READY: &str = "ControlPlaneEndpointReady";

/// The PacketCluster is not provisioned yet. Same reason as the Go provider.
pub const WAITING_FOR_CLUSTER_INFRASTRUCTURE_REASON: &str = "WaitingForClusterInfrastructure";
/// The Machine has no bootstrap data Secret yet. Same reason as the Go provider.
pub const WAITING_FOR_BOOTSTRAP_DATA_REASON: &str = "WaitingForBootstrapData";
/// The device creation request was sent. Same reason as the Go provider.
pub const INSTANCE_PROVISION_STARTED_REASON: &str = "InstanceProvisionStarted";
/// Creating the device failed. Same reason as the Go provider.
pub const INSTANCE_PROVISION_FAILED_REASON: &str = "InstanceProvisionFailed";
/// The device named by `spec.providerID` no longer exists. Same reason as the Go provider.
pub const INSTANCE_NOT_FOUND_REASON: &str = "InstanceNotFound";
/// The device was terminated (e.g. a spot device that was outbid).
pub const INSTANCE_TERMINATED_REASON: &str = "InstanceTerminated";
/// The device is powered off.
pub const INSTANCE_STOPPED_REASON: &str = "InstanceStopped";
/// The device exists but is not active yet (queued, provisioning, reinstalling, ...).
pub const INSTANCE_NOT_READY_REASON: &str = "InstanceNotReady";
/// Equinix Metal has no capacity for the plan in the location (or no free reservation);
/// the provider keeps retrying.
pub const INSUFFICIENT_CAPACITY_REASON: &str = "InsufficientCapacity";
/// The device is being deleted.
pub const INSTANCE_DELETING_REASON: &str = "InstanceDeleting";
/// Deleting the device failed; the provider keeps retrying.
pub const INSTANCE_DELETION_FAILED_REASON: &str = "InstanceDeletionFailed";
/// Assigning the Elastic IP to the device, or adding it to the load balancer, failed.
pub const CONTROL_PLANE_ENDPOINT_FAILED_REASON: &str = "ControlPlaneEndpointFailed";
