//! Test fixtures: builders for PacketClusters and PacketMachines in the states reconciler
//! tests need (`PacketMachine::test("m").with_provider_id("d-1").deleting()`).
//!
//! Compiled for this crate's tests and, for other crates, with the `test-util` feature
//! (enable it in `[dev-dependencies]` only). Builders never panic; values are plausible
//! defaults (project `f5e7b2c4-...`, metro `da`, plan `c3.small.x86`, OS `ubuntu_24_04`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use crate::ProviderId;
use crate::cluster::{PacketClusterStatus, VipManager};
use crate::common::{ApiEndpoint, CLUSTER_NAME_LABEL, MachineAddress, MachineAddressType};
use crate::machine::PacketMachineStatus;
use crate::{PacketCluster, PacketClusterSpec, PacketMachine, PacketMachineSpec};

/// The project ID fixtures use.
pub const PROJECT_ID: &str = "f5e7b2c4-1d3a-4e8f-9b60-7c2d1a0e9f43";
/// The namespace fixtures live in.
pub const NAMESPACE: &str = "default";
/// The Cluster name fixtures belong to.
pub const CLUSTER_NAME: &str = "prod";

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        uid: Some(format!("uid-{name}")),
        generation: Some(1),
        labels: Some(BTreeMap::from([(
            CLUSTER_NAME_LABEL.to_owned(),
            CLUSTER_NAME.to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

fn owner(api_version: &str, kind: &str, name: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: format!("uid-{name}"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

impl PacketCluster {
    /// A PacketCluster in namespace `default`, labelled for Cluster `prod`, in metro `da`
    /// with the default VIP manager, not yet owned or reconciled.
    #[must_use]
    pub fn test(name: &str) -> PacketCluster {
        PacketCluster {
            metadata: meta(name),
            spec: PacketClusterSpec {
                project_id: PROJECT_ID.to_owned(),
                metro: Some("da".to_owned()),
                ..PacketClusterSpec::default()
            },
            status: None,
        }
    }

    /// Owned by the Cluster `cluster` (`cluster.x-k8s.io/v1beta1`).
    #[must_use]
    pub fn owned_by_cluster(mut self, cluster: &str) -> PacketCluster {
        self.metadata
            .owner_references
            .get_or_insert_with(Vec::new)
            .push(owner("cluster.x-k8s.io/v1beta1", "Cluster", cluster));
        self
    }

    /// With this VIP manager.
    #[must_use]
    pub fn with_vip_manager(mut self, vip_manager: VipManager) -> PacketCluster {
        self.spec.vip_manager = vip_manager;
        self
    }

    /// With this control plane endpoint.
    #[must_use]
    pub fn with_endpoint(mut self, host: &str, port: i32) -> PacketCluster {
        self.spec.control_plane_endpoint = Some(ApiEndpoint {
            host: host.to_owned(),
            port,
        });
        self
    }

    /// With the provider's finalizer.
    #[must_use]
    pub fn finalized(mut self) -> PacketCluster {
        self.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(crate::cluster::FINALIZER.to_owned());
        self
    }

    /// Marked provisioned in both contracts.
    #[must_use]
    pub fn provisioned(mut self) -> PacketCluster {
        self.status
            .get_or_insert_with(PacketClusterStatus::default)
            .set_provisioned(true);
        self
    }

    /// Being deleted (deletion timestamp set, finalizer kept).
    #[must_use]
    pub fn deleting(self) -> PacketCluster {
        let mut this = self.finalized();
        this.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        this
    }
}

impl PacketMachine {
    /// A PacketMachine in namespace `default`, labelled for Cluster `prod`, plan
    /// `c3.small.x86`, OS `ubuntu_24_04`, hourly, without a device yet.
    #[must_use]
    pub fn test(name: &str) -> PacketMachine {
        PacketMachine {
            metadata: meta(name),
            spec: PacketMachineSpec {
                os: "ubuntu_24_04".to_owned(),
                machine_type: "c3.small.x86".to_owned(),
                billing_cycle: Some("hourly".to_owned()),
                ..PacketMachineSpec::default()
            },
            status: None,
        }
    }

    /// Owned by the Machine `machine` (`cluster.x-k8s.io/v1beta1`), as the Machine
    /// controller sets it.
    #[must_use]
    pub fn owned_by_machine(mut self, machine: &str) -> PacketMachine {
        self.metadata
            .owner_references
            .get_or_insert_with(Vec::new)
            .push(owner("cluster.x-k8s.io/v1beta1", "Machine", machine));
        self
    }

    /// Labelled as a control plane machine (`cluster.x-k8s.io/control-plane`).
    #[must_use]
    pub fn control_plane(mut self) -> PacketMachine {
        self.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("cluster.x-k8s.io/control-plane".to_owned(), String::new());
        self
    }

    /// With `spec.providerID` pointing at this device (`equinixmetal://<device_id>`).
    ///
    /// Panics when `device_id` cannot be a device ID (empty, `/` or whitespace): fixtures take
    /// literals.
    #[must_use]
    #[expect(clippy::expect_used, reason = "fixture: device IDs are test literals")]
    pub fn with_provider_id(mut self, device_id: &str) -> PacketMachine {
        let id = ProviderId::new(device_id).expect("a valid device ID");
        self.spec.provider_id = Some(id.to_string());
        self
    }

    /// With this `hardwareReservationID`.
    #[must_use]
    pub fn with_hardware_reservation(mut self, value: &str) -> PacketMachine {
        self.spec.hardware_reservation_id = Some(value.to_owned());
        self
    }

    /// With its own metro (overriding the cluster's location).
    #[must_use]
    pub fn in_metro(mut self, metro: &str) -> PacketMachine {
        self.spec.metro = Some(metro.to_owned());
        self
    }

    /// With the provider's finalizer.
    #[must_use]
    pub fn finalized(mut self) -> PacketMachine {
        self.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(crate::machine::FINALIZER.to_owned());
        self
    }

    /// With this device state in `status.instanceStatus`.
    #[must_use]
    pub fn with_instance_status(mut self, state: &str) -> PacketMachine {
        self.status
            .get_or_insert_with(PacketMachineStatus::default)
            .instance_status = Some(state.to_owned());
        self
    }

    /// Provisioned in both contracts, device active, with one public and one private IP.
    #[must_use]
    pub fn provisioned(self) -> PacketMachine {
        let mut this = self.with_instance_status(crate::machine::INSTANCE_STATUS_ACTIVE);
        let status = this.status.get_or_insert_with(PacketMachineStatus::default);
        status.set_provisioned(true);
        status.addresses = vec![
            MachineAddress::new(MachineAddressType::ExternalIp, "147.28.1.21"),
            MachineAddress::new(MachineAddressType::InternalIp, "10.70.2.131"),
        ];
        this
    }

    /// Being deleted (deletion timestamp set, finalizer kept).
    #[must_use]
    pub fn deleting(self) -> PacketMachine {
        let mut this = self.finalized();
        this.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        this
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleting_machine_keeps_its_finalizer_and_device() {
        let m = PacketMachine::test("m-0")
            .with_provider_id("d-1")
            .owned_by_machine("m")
            .deleting();
        assert!(m.metadata.deletion_timestamp.is_some());
        assert_eq!(
            m.metadata.finalizers.as_deref(),
            Some(&[crate::machine::FINALIZER.to_owned()][..])
        );
        assert_eq!(m.device_id(), Some("d-1"));
        assert_eq!(m.cluster_name(), Some(CLUSTER_NAME));
        assert_eq!(
            m.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Machine"
        );
    }

    #[test]
    fn a_provisioned_cluster_reads_as_provisioned_and_serialises_like_a_real_object() {
        let c = PacketCluster::test("prod")
            .owned_by_cluster("prod")
            .with_vip_manager(VipManager::Emlb)
            .with_endpoint("147.28.1.10", 6443)
            .provisioned();
        assert!(c.is_provisioned());
        assert!(c.control_plane_endpoint().is_some());
        let wire = serde_json::to_value(&c).unwrap();
        assert_eq!(wire["spec"]["vipManager"], "EMLB");
        assert_eq!(wire["status"]["initialization"]["provisioned"], true);
    }
}
