//! The field mapping of each kind between v1beta1 and v1beta2 ([`Project`]), and the
//! lossless `TryFrom` conversions built on it with [`convert`].

use capi_types::common::V1Beta2ConditionsStatus;
use capi_types::conditions::Condition;
use capi_types::failure_domains::{FailureDomainSpec, FailureDomains};
use capi_types::v1beta2::cluster::FailureDomain;
use capi_types::v1beta2::{DeprecatedStatus, V1Beta1DeprecatedStatus};

use super::{Project, convert};
use crate::common::Initialization;
use crate::{Error, v1beta2};

/// v1beta2 readiness from v1beta1's two fields: provisioned once either says so.
fn initialization_from_v1beta1(
    ready: bool,
    initialization: Option<&Initialization>,
) -> Option<Initialization> {
    if ready {
        Some(Initialization {
            provisioned: Some(true),
        })
    } else {
        initialization.cloned()
    }
}

/// v1beta1 `ready` from v1beta2's `initialization.provisioned`.
fn ready_from_v1beta2(initialization: Option<&Initialization>) -> bool {
    initialization.and_then(|i| i.provisioned) == Some(true)
}

/// The v1beta1 fields v1beta2 keeps under `status.deprecated.v1beta1`; `None` when all are
/// unset.
fn deprecated(
    conditions: &[Condition],
    failure_reason: Option<&String>,
    failure_message: Option<&String>,
) -> Option<DeprecatedStatus> {
    if conditions.is_empty() && failure_reason.is_none() && failure_message.is_none() {
        return None;
    }
    Some(DeprecatedStatus {
        v1beta1: Some(V1Beta1DeprecatedStatus {
            conditions: conditions.to_vec(),
            failure_reason: failure_reason.cloned(),
            failure_message: failure_message.cloned(),
        }),
    })
}

/// The v1beta1 block of `status.deprecated`, when there is one.
fn deprecated_v1beta1(deprecated: Option<&DeprecatedStatus>) -> Option<&V1Beta1DeprecatedStatus> {
    deprecated?.v1beta1.as_ref()
}

/// `status.v1beta2` of a v1beta1 object from v1beta2's `status.conditions`.
fn v1beta2_block(
    conditions: &[capi_types::common::V1Beta2Condition],
) -> Option<V1Beta2ConditionsStatus> {
    (!conditions.is_empty()).then(|| V1Beta2ConditionsStatus {
        conditions: conditions.to_vec(),
    })
}

impl Project<v1beta2::PacketCluster> for crate::PacketCluster {
    fn project(&self) -> v1beta2::PacketCluster {
        v1beta2::PacketCluster {
            metadata: self.metadata.clone(),
            spec: v1beta2::PacketClusterSpec(self.spec.clone()),
            status: self.status.as_ref().map(|s| v1beta2::PacketClusterStatus {
                initialization: initialization_from_v1beta1(s.ready, s.initialization.as_ref()),
                conditions: s
                    .v1beta2
                    .as_ref()
                    .map(|v| v.conditions.clone())
                    .unwrap_or_default(),
                failure_domains: s
                    .failure_domains
                    .iter()
                    .flat_map(|fds| &fds.0)
                    .map(|(name, spec)| FailureDomain {
                        name: name.clone(),
                        control_plane: spec.control_plane,
                        attributes: spec.attributes.clone(),
                    })
                    .collect(),
                deprecated: deprecated(
                    &s.conditions,
                    s.failure_reason.as_ref(),
                    s.failure_message.as_ref(),
                ),
            }),
        }
    }
}

impl Project<crate::PacketCluster> for v1beta2::PacketCluster {
    fn project(&self) -> crate::PacketCluster {
        crate::PacketCluster {
            metadata: self.metadata.clone(),
            spec: self.spec.0.clone(),
            status: self.status.as_ref().map(|s| {
                let old = deprecated_v1beta1(s.deprecated.as_ref());
                crate::PacketClusterStatus {
                    ready: ready_from_v1beta2(s.initialization.as_ref()),
                    initialization: s.initialization.clone(),
                    failure_domains: (!s.failure_domains.is_empty()).then(|| {
                        FailureDomains(
                            s.failure_domains
                                .iter()
                                .map(|fd| {
                                    (
                                        fd.name.clone(),
                                        FailureDomainSpec {
                                            control_plane: fd.control_plane,
                                            attributes: fd.attributes.clone(),
                                        },
                                    )
                                })
                                .collect(),
                        )
                    }),
                    failure_reason: old.and_then(|o| o.failure_reason.clone()),
                    failure_message: old.and_then(|o| o.failure_message.clone()),
                    conditions: old.map(|o| o.conditions.clone()).unwrap_or_default(),
                    v1beta2: v1beta2_block(&s.conditions),
                }
            }),
        }
    }
}

fn machine_spec_to_v1beta2(spec: &crate::PacketMachineSpec) -> v1beta2::PacketMachineSpec {
    let crate::PacketMachineSpec {
        os,
        billing_cycle,
        machine_type,
        ssh_keys,
        facility,
        metro,
        ipxe_url,
        hardware_reservation_id,
        provider_id,
        tags,
        spot_instance,
        spot_price_max,
        termination_time,
    } = spec.clone();
    v1beta2::PacketMachineSpec {
        os,
        billing_cycle,
        machine_type,
        ssh_keys,
        facility,
        metro,
        ipxe_url,
        hardware_reservation_id,
        provider_id: provider_id.unwrap_or_default(),
        tags,
        spot_instance,
        spot_price_max,
        termination_time,
    }
}

fn machine_spec_to_v1beta1(spec: &v1beta2::PacketMachineSpec) -> crate::PacketMachineSpec {
    let v1beta2::PacketMachineSpec {
        os,
        billing_cycle,
        machine_type,
        ssh_keys,
        facility,
        metro,
        ipxe_url,
        hardware_reservation_id,
        provider_id,
        tags,
        spot_instance,
        spot_price_max,
        termination_time,
    } = spec.clone();
    crate::PacketMachineSpec {
        os,
        billing_cycle,
        machine_type,
        ssh_keys,
        facility,
        metro,
        ipxe_url,
        hardware_reservation_id,
        provider_id: (!provider_id.is_empty()).then_some(provider_id),
        tags,
        spot_instance,
        spot_price_max,
        termination_time,
    }
}

impl Project<v1beta2::PacketMachine> for crate::PacketMachine {
    fn project(&self) -> v1beta2::PacketMachine {
        v1beta2::PacketMachine {
            metadata: self.metadata.clone(),
            spec: machine_spec_to_v1beta2(&self.spec),
            status: self.status.as_ref().map(|s| v1beta2::PacketMachineStatus {
                initialization: initialization_from_v1beta1(s.ready, s.initialization.as_ref()),
                addresses: s.addresses.clone(),
                instance_status: s.instance_status.clone(),
                failure_domain: s.failure_domain.clone(),
                conditions: s
                    .v1beta2
                    .as_ref()
                    .map(|v| v.conditions.clone())
                    .unwrap_or_default(),
                deprecated: deprecated(
                    &s.conditions,
                    s.failure_reason.as_ref(),
                    s.failure_message.as_ref(),
                ),
            }),
        }
    }
}

impl Project<crate::PacketMachine> for v1beta2::PacketMachine {
    fn project(&self) -> crate::PacketMachine {
        crate::PacketMachine {
            metadata: self.metadata.clone(),
            spec: machine_spec_to_v1beta1(&self.spec),
            status: self.status.as_ref().map(|s| {
                let old = deprecated_v1beta1(s.deprecated.as_ref());
                crate::PacketMachineStatus {
                    ready: ready_from_v1beta2(s.initialization.as_ref()),
                    initialization: s.initialization.clone(),
                    addresses: s.addresses.clone(),
                    instance_status: s.instance_status.clone(),
                    failure_domain: s.failure_domain.clone(),
                    failure_reason: old.and_then(|o| o.failure_reason.clone()),
                    failure_message: old.and_then(|o| o.failure_message.clone()),
                    conditions: old.map(|o| o.conditions.clone()).unwrap_or_default(),
                    v1beta2: v1beta2_block(&s.conditions),
                }
            }),
        }
    }
}

impl Project<v1beta2::PacketMachineTemplate> for crate::PacketMachineTemplate {
    fn project(&self) -> v1beta2::PacketMachineTemplate {
        v1beta2::PacketMachineTemplate {
            metadata: self.metadata.clone(),
            spec: v1beta2::PacketMachineTemplateSpec {
                template: v1beta2::PacketMachineTemplateResource {
                    metadata: self.spec.template.metadata.clone(),
                    spec: machine_spec_to_v1beta2(&self.spec.template.spec),
                },
            },
        }
    }
}

impl Project<crate::PacketMachineTemplate> for v1beta2::PacketMachineTemplate {
    fn project(&self) -> crate::PacketMachineTemplate {
        crate::PacketMachineTemplate {
            metadata: self.metadata.clone(),
            spec: crate::PacketMachineTemplateSpec {
                template: crate::machine_template::PacketMachineTemplateResource {
                    metadata: self.spec.template.metadata.clone(),
                    spec: machine_spec_to_v1beta1(&self.spec.template.spec),
                },
            },
        }
    }
}

impl Project<v1beta2::PacketClusterTemplate> for crate::PacketClusterTemplate {
    fn project(&self) -> v1beta2::PacketClusterTemplate {
        v1beta2::PacketClusterTemplate {
            metadata: self.metadata.clone(),
            spec: v1beta2::PacketClusterTemplateSpec {
                template: v1beta2::PacketClusterTemplateResource {
                    metadata: self.spec.template.metadata.clone(),
                    spec: v1beta2::PacketClusterSpec(self.spec.template.spec.clone()),
                },
            },
        }
    }
}

impl Project<crate::PacketClusterTemplate> for v1beta2::PacketClusterTemplate {
    fn project(&self) -> crate::PacketClusterTemplate {
        crate::PacketClusterTemplate {
            metadata: self.metadata.clone(),
            spec: crate::PacketClusterTemplateSpec {
                template: crate::cluster_template::PacketClusterTemplateResource {
                    metadata: self.spec.template.metadata.clone(),
                    spec: self.spec.template.spec.0.clone(),
                },
            },
        }
    }
}

/// `TryFrom` both ways for one kind, through [`convert`].
macro_rules! lossless {
    ($($old:ty => $new:ty),* $(,)?) => {$(
        impl TryFrom<&$old> for $new {
            type Error = Error;

            /// Converts v1beta1 to v1beta2 without loss ([`convert`]).
            fn try_from(object: &$old) -> Result<Self, Error> {
                convert(object)
            }
        }

        impl TryFrom<&$new> for $old {
            type Error = Error;

            /// Converts v1beta2 to v1beta1 without loss ([`convert`]).
            fn try_from(object: &$new) -> Result<Self, Error> {
                convert(object)
            }
        }
    )*};
}

lossless!(
    crate::PacketCluster => v1beta2::PacketCluster,
    crate::PacketMachine => v1beta2::PacketMachine,
    crate::PacketMachineTemplate => v1beta2::PacketMachineTemplate,
    crate::PacketClusterTemplate => v1beta2::PacketClusterTemplate,
);
