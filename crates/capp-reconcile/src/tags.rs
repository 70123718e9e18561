//! Device and Elastic IP tags: how devices and addresses are found again.
//!
//! Devices carry the Go provider's three identity tags, so devices it created are adopted on
//! migration, plus one tag unique to the PacketMachine UID, which tells our devices apart from
//! a Go-created device of a Machine that was deleted and re-created with the same name.

use capp_packet::{Device, IpReservation};

/// Prefix of the cluster tag (the Go provider's `capp:cluster-id:<cluster name>`).
pub const CLUSTER_TAG_PREFIX: &str = "capp:cluster-id:";
/// Prefix of the Go provider's machine tag (`capp:machine-uid:<Machine name>`, despite the name).
pub const MACHINE_TAG_PREFIX: &str = "capp:machine-uid:";
/// Prefix of the namespace tag.
pub const NAMESPACE_TAG_PREFIX: &str = "capp:namespace:";
/// Prefix of our own per-PacketMachine tag.
pub const PACKETMACHINE_TAG_PREFIX: &str = "capp:packetmachine-uid:";
/// Role tag of control plane devices (as the Go provider).
pub const CONTROL_PLANE_ROLE_TAG: &str = "kubernetes.io/role:master";
/// Role tag of worker devices (as the Go provider).
pub const WORKER_ROLE_TAG: &str = "kubernetes.io/role:node";
/// Prefix of the Elastic IP tag (the Go provider's).
pub const ELASTIC_IP_TAG_PREFIX: &str = "cluster-api-provider-packet:cluster-id:";

/// The tag every device of a cluster carries (the device view's filter).
#[must_use]
pub fn cluster_tag(cluster: &str) -> String {
    format!("{CLUSTER_TAG_PREFIX}{cluster}")
}

/// The identity of one machine's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineTags {
    /// `capp:cluster-id:<cluster>`.
    pub cluster: String,
    /// `capp:machine-uid:<Machine name>`.
    pub machine: String,
    /// `capp:namespace:<namespace>`.
    pub namespace: String,
    /// `capp:packetmachine-uid:<PacketMachine uid>`.
    pub packet_machine: String,
}

impl MachineTags {
    /// The tags of the device of `machine` (a Machine name) in `cluster`/`namespace`, backing
    /// the PacketMachine with UID `uid`.
    #[must_use]
    pub fn new(namespace: &str, cluster: &str, machine: &str, uid: &str) -> Self {
        Self {
            cluster: cluster_tag(cluster),
            machine: format!("{MACHINE_TAG_PREFIX}{machine}"),
            namespace: format!("{NAMESPACE_TAG_PREFIX}{namespace}"),
            packet_machine: format!("{PACKETMACHINE_TAG_PREFIX}{uid}"),
        }
    }

    /// Identity tags in the order sent (the most selective first).
    #[must_use]
    pub fn all(&self) -> Vec<String> {
        vec![
            self.packet_machine.clone(),
            self.cluster.clone(),
            self.machine.clone(),
            self.namespace.clone(),
        ]
    }

    /// Whether `device` is this machine's: it carries our UID tag, or (a Go-provider device,
    /// which has no UID tag at all) the three Go identity tags.
    #[must_use]
    pub fn matches(&self, device: &Device) -> bool {
        if device.tags.iter().any(|t| t == &self.packet_machine) {
            return true;
        }
        let has_any_uid = device
            .tags
            .iter()
            .any(|t| t.starts_with(PACKETMACHINE_TAG_PREFIX));
        !has_any_uid && device.has_tags(&[&self.cluster, &self.machine, &self.namespace])
    }

    /// The machine's device among `devices` (the oldest if, against every guarantee here,
    /// there are several: the others are reported, never silently adopted twice).
    #[must_use]
    pub fn find<'a>(&self, devices: &'a [Device]) -> Option<&'a Device> {
        devices
            .iter()
            .filter(|d| self.matches(d))
            .min_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)))
    }
}

/// The tags of a cluster's Elastic IP.
#[must_use]
pub fn elastic_ip_tags(namespace: &str, cluster: &str) -> Vec<String> {
    vec![
        format!("{ELASTIC_IP_TAG_PREFIX}{cluster}"),
        format!("{NAMESPACE_TAG_PREFIX}{namespace}"),
    ]
}

/// Whether `reservation` is the Elastic IP of `cluster` in `namespace`: it carries both our
/// tags, or (one the Go provider reserved) the Go tag and no namespace tag at all.
#[must_use]
pub fn is_cluster_elastic_ip(reservation: &IpReservation, namespace: &str, cluster: &str) -> bool {
    let cluster_tag = format!("{ELASTIC_IP_TAG_PREFIX}{cluster}");
    let namespace_tag = format!("{NAMESPACE_TAG_PREFIX}{namespace}");
    let has = |t: &str| reservation.tags.iter().any(|x| x == t);
    if !has(&cluster_tag) {
        return false;
    }
    has(&namespace_tag)
        || !reservation
            .tags
            .iter()
            .any(|t| t.starts_with(NAMESPACE_TAG_PREFIX))
}

/// Whether we reserved this Elastic IP (it carries our namespace tag); the Go provider's
/// are never released by us.
#[must_use]
pub fn reserved_by_us(reservation: &IpReservation, namespace: &str) -> bool {
    let tag = format!("{NAMESPACE_TAG_PREFIX}{namespace}");
    reservation.tags.contains(&tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, tags: &[&str]) -> Device {
        Device {
            id: id.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..Device::default()
        }
    }

    #[test]
    fn a_go_provider_device_is_recognised_by_its_three_tags() {
        let t = MachineTags::new("default", "prod", "prod-cp-0", "uid-1");
        let go = device(
            "go",
            &[
                "capp:cluster-id:prod",
                "capp:machine-uid:prod-cp-0",
                "capp:namespace:default",
            ],
        );
        assert!(t.matches(&go));
        let other_ns = device(
            "x",
            &[
                "capp:cluster-id:prod",
                "capp:machine-uid:prod-cp-0",
                "capp:namespace:other",
            ],
        );
        assert!(!t.matches(&other_ns));
    }

    #[test]
    fn a_device_of_another_packetmachine_with_the_same_machine_name_is_not_ours() {
        let t = MachineTags::new("default", "prod", "prod-cp-0", "uid-2");
        let previous = device(
            "old",
            &[
                "capp:packetmachine-uid:uid-1",
                "capp:cluster-id:prod",
                "capp:machine-uid:prod-cp-0",
                "capp:namespace:default",
            ],
        );
        assert!(!t.matches(&previous));
        let mine = device("new", &["capp:packetmachine-uid:uid-2"]);
        assert_eq!(
            t.find(&[previous, mine]).map(|d| d.id.as_str()),
            Some("new")
        );
    }

    #[test]
    fn elastic_ips_are_matched_by_cluster_and_namespace() {
        let ours = IpReservation {
            tags: elastic_ip_tags("default", "prod"),
            ..IpReservation::default()
        };
        let go = IpReservation {
            tags: vec!["cluster-api-provider-packet:cluster-id:prod".to_owned()],
            ..IpReservation::default()
        };
        let other_ns = IpReservation {
            tags: elastic_ip_tags("other", "prod"),
            ..IpReservation::default()
        };
        assert!(is_cluster_elastic_ip(&ours, "default", "prod"));
        assert!(is_cluster_elastic_ip(&go, "default", "prod"));
        assert!(!is_cluster_elastic_ip(&other_ns, "default", "prod"));
        assert!(reserved_by_us(&ours, "default"));
        assert!(!reserved_by_us(&go, "default"));
    }
}
