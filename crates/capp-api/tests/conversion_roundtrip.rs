//! Property tests: random valid objects of each kind and version convert to the other
//! version and back unchanged (spec, status, metadata, annotations), and a second round trip
//! of an object that carries the conversion-data annotation is stable too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

use std::collections::BTreeMap;

use capi_types::common::{ApiEndpoint, ObjectMeta as TemplateMeta, V1Beta2ConditionsStatus};
use capi_types::conditions::Condition;
use capi_types::failure_domains::{FailureDomainSpec, FailureDomains};
use capi_types::v1beta2::cluster::FailureDomain;
use capi_types::v1beta2::{DeprecatedStatus, V1Beta1DeprecatedStatus};
use capp_api::cluster::{CredentialsReference, PacketFailureDomain, ReclaimPolicy, VipManager};
use capp_api::common::{Initialization, MachineAddress, MachineAddressType};
use capp_api::conversion::DATA_ANNOTATION;
use capp_api::{Error, cluster_template, machine_template, v1beta2};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    Condition as MetaCondition, ObjectMeta, Time,
};
use k8s_openapi::jiff::Timestamp;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use serde::Serialize;

// ---- building blocks ----

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9./~-]{0,8}"
}

fn key() -> impl Strategy<Value = String> {
    // Map keys with `/` and `~` check that saved paths are not JSON pointers.
    "[a-z][a-z0-9./~-]{0,10}"
}

fn time() -> impl Strategy<Value = String> {
    (0i64..4_000_000_000).prop_map(|s| Timestamp::from_second(s).unwrap().to_string())
}

fn string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(key(), text(), 0..3)
}

fn metadata() -> impl Strategy<Value = ObjectMeta> {
    (
        "[a-z][a-z0-9-]{0,10}",
        of("[a-z]{1,6}"),
        of(string_map()),
        of(btree_map(key(), text(), 0..3)),
        of(0i64..10),
        of("[0-9]{1,4}"),
    )
        .prop_map(
            |(name, namespace, labels, annotations, generation, resource_version)| ObjectMeta {
                name: Some(name),
                namespace,
                labels,
                // The API server never sends an empty annotation map (Go's `omitempty`), and
                // a client does not send the conversion annotation on a new object.
                annotations: annotations
                    .map(|mut a| {
                        a.remove(DATA_ANNOTATION);
                        a
                    })
                    .filter(|a| !a.is_empty()),
                generation,
                resource_version,
                ..ObjectMeta::default()
            },
        )
}

fn template_meta() -> impl Strategy<Value = Option<TemplateMeta>> {
    of(
        (string_map(), string_map()).prop_map(|(labels, annotations)| TemplateMeta {
            labels,
            annotations,
        }),
    )
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        "[A-Z][a-zA-Z]{0,8}",
        prop::sample::select(vec!["True", "False", "Unknown"]),
        of(prop::sample::select(vec!["Error", "Warning", "Info", ""])),
        time(),
        of(text()),
        of(text()),
    )
        .prop_map(
            |(type_, status, severity, last_transition_time, reason, message)| Condition {
                type_,
                status: status.to_owned(),
                severity: severity.map(str::to_owned),
                last_transition_time,
                reason,
                message,
            },
        )
}

fn meta_condition() -> impl Strategy<Value = MetaCondition> {
    (
        "[A-Z][a-zA-Z]{0,8}",
        prop::sample::select(vec!["True", "False", "Unknown"]),
        0i64..4_000_000_000,
        text(),
        text(),
        of(0i64..10),
    )
        .prop_map(
            |(type_, status, seconds, reason, message, observed_generation)| MetaCondition {
                type_,
                status: status.to_owned(),
                last_transition_time: Time(Timestamp::from_second(seconds).unwrap()),
                reason,
                message,
                observed_generation,
            },
        )
}

fn initialization() -> impl Strategy<Value = Option<Initialization>> {
    of(of(any::<bool>()).prop_map(|provisioned| Initialization { provisioned }))
}

fn failure_domain_spec() -> impl Strategy<Value = FailureDomainSpec> {
    (of(any::<bool>()), string_map()).prop_map(|(control_plane, attributes)| FailureDomainSpec {
        control_plane,
        attributes,
    })
}

fn deprecated() -> impl Strategy<Value = Option<DeprecatedStatus>> {
    of(
        of((vec(condition(), 0..3), of(text()), of(text())).prop_map(
            |(conditions, failure_reason, failure_message)| V1Beta1DeprecatedStatus {
                conditions,
                failure_reason,
                failure_message,
            },
        ))
        .prop_map(|v1beta1| DeprecatedStatus { v1beta1 }),
    )
}

fn v1beta2_block() -> impl Strategy<Value = Option<V1Beta2ConditionsStatus>> {
    of(vec(meta_condition(), 0..3).prop_map(|conditions| V1Beta2ConditionsStatus { conditions }))
}

fn address() -> impl Strategy<Value = MachineAddress> {
    (
        prop::sample::select(vec![
            MachineAddressType::Hostname,
            MachineAddressType::ExternalIp,
            MachineAddressType::InternalIp,
            MachineAddressType::ExternalDns,
            MachineAddressType::InternalDns,
        ]),
        text(),
    )
        .prop_map(|(type_, address)| MachineAddress { type_, address })
}

// ---- specs ----

fn cluster_spec() -> impl Strategy<Value = capp_api::PacketClusterSpec> {
    (
        text(),
        of(text()),
        of(text()),
        of((text(), any::<i32>()).prop_map(|(host, port)| ApiEndpoint { host, port })),
        prop::sample::select(vec![
            VipManager::Cpem,
            VipManager::KubeVip,
            VipManager::Emlb,
        ]),
        of((text(), of(text())).prop_map(|(name, key)| CredentialsReference { name, key })),
        prop::sample::select(vec![ReclaimPolicy::Retain, ReclaimPolicy::Delete]),
        of(vec(
            (text(), of(any::<bool>()), of(any::<bool>())).prop_map(
                |(name, facility, control_plane)| PacketFailureDomain {
                    name,
                    facility,
                    control_plane,
                },
            ),
            0..3,
        )),
    )
        .prop_map(
            |(
                project_id,
                facility,
                metro,
                control_plane_endpoint,
                vip_manager,
                credentials_ref,
                elastic_ip_reclaim_policy,
                failure_domains,
            )| capp_api::PacketClusterSpec {
                project_id,
                facility,
                metro,
                control_plane_endpoint,
                vip_manager,
                credentials_ref,
                elastic_ip_reclaim_policy,
                failure_domains,
            },
        )
}

/// The v1beta1 machine spec; the v1beta2 one is generated from it with `provider_id` a plain
/// string (`plain_provider_id`).
fn machine_spec() -> impl Strategy<Value = capp_api::PacketMachineSpec> {
    (
        (
            text(),
            of(text()),
            text(),
            of(vec(text(), 0..3)),
            of(text()),
        ),
        (of(text()), of(text()), of(text()), of(text())),
        (
            of(vec(text(), 0..3)),
            of(any::<bool>()),
            of((-100_000i32..100_000).prop_map(|c| f64::from(c) / 100.0)),
            of(time()),
        ),
    )
        .prop_map(
            |(
                (os, billing_cycle, machine_type, ssh_keys, facility),
                (metro, ipxe_url, hardware_reservation_id, provider_id),
                (tags, spot_instance, spot_price_max, termination_time),
            )| capp_api::PacketMachineSpec {
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
            },
        )
}

fn machine_spec_v1beta2() -> impl Strategy<Value = v1beta2::PacketMachineSpec> {
    machine_spec().prop_map(|s| v1beta2::PacketMachineSpec {
        os: s.os,
        billing_cycle: s.billing_cycle,
        machine_type: s.machine_type,
        ssh_keys: s.ssh_keys,
        facility: s.facility,
        metro: s.metro,
        ipxe_url: s.ipxe_url,
        hardware_reservation_id: s.hardware_reservation_id,
        provider_id: s.provider_id.unwrap_or_default(),
        tags: s.tags,
        spot_instance: s.spot_instance,
        spot_price_max: s.spot_price_max,
        termination_time: s.termination_time,
    })
}

// ---- the kinds, v1beta1 ----

fn cluster_v1beta1() -> impl Strategy<Value = capp_api::PacketCluster> {
    let status = (
        any::<bool>(),
        initialization(),
        of(btree_map(text(), failure_domain_spec(), 0..3).prop_map(FailureDomains)),
        of(text()),
        of(text()),
        vec(condition(), 0..3),
        v1beta2_block(),
    )
        .prop_map(
            |(
                ready,
                initialization,
                failure_domains,
                failure_reason,
                failure_message,
                conditions,
                v1beta2,
            )| {
                capp_api::PacketClusterStatus {
                    ready,
                    initialization,
                    failure_domains,
                    failure_reason,
                    failure_message,
                    conditions,
                    v1beta2,
                }
            },
        );
    (metadata(), cluster_spec(), of(status)).prop_map(|(metadata, spec, status)| {
        capp_api::PacketCluster {
            metadata,
            spec,
            status,
        }
    })
}

fn machine_v1beta1() -> impl Strategy<Value = capp_api::PacketMachine> {
    let status = (
        (
            any::<bool>(),
            initialization(),
            vec(address(), 0..3),
            of(text()),
            of(text()),
        ),
        (
            of(text()),
            of(text()),
            vec(condition(), 0..3),
            v1beta2_block(),
        ),
    )
        .prop_map(
            |(
                (ready, initialization, addresses, instance_status, failure_domain),
                (failure_reason, failure_message, conditions, v1beta2),
            )| capp_api::PacketMachineStatus {
                ready,
                initialization,
                addresses,
                instance_status,
                failure_domain,
                failure_reason,
                failure_message,
                conditions,
                v1beta2,
            },
        );
    (metadata(), machine_spec(), of(status)).prop_map(|(metadata, spec, status)| {
        capp_api::PacketMachine {
            metadata,
            spec,
            status,
        }
    })
}

fn machine_template_v1beta1() -> impl Strategy<Value = capp_api::PacketMachineTemplate> {
    (metadata(), template_meta(), machine_spec()).prop_map(|(metadata, meta, spec)| {
        capp_api::PacketMachineTemplate {
            metadata,
            spec: capp_api::PacketMachineTemplateSpec {
                template: machine_template::PacketMachineTemplateResource {
                    metadata: meta,
                    spec,
                },
            },
        }
    })
}

fn cluster_template_v1beta1() -> impl Strategy<Value = capp_api::PacketClusterTemplate> {
    (metadata(), template_meta(), cluster_spec()).prop_map(|(metadata, meta, spec)| {
        capp_api::PacketClusterTemplate {
            metadata,
            spec: capp_api::PacketClusterTemplateSpec {
                template: cluster_template::PacketClusterTemplateResource {
                    metadata: meta,
                    spec,
                },
            },
        }
    })
}

// ---- the kinds, v1beta2 ----

fn cluster_v1beta2() -> impl Strategy<Value = v1beta2::PacketCluster> {
    let status = (
        initialization(),
        vec(meta_condition(), 0..3),
        // Names may repeat and come in any order: neither fits the v1beta1 map.
        vec(
            (
                prop::sample::select(vec!["da", "sv", "ny", "dc13"]),
                failure_domain_spec(),
            )
                .prop_map(|(name, spec)| FailureDomain {
                    name: name.to_owned(),
                    control_plane: spec.control_plane,
                    attributes: spec.attributes,
                }),
            0..4,
        ),
        deprecated(),
    )
        .prop_map(
            |(initialization, conditions, failure_domains, deprecated)| {
                v1beta2::PacketClusterStatus {
                    initialization,
                    conditions,
                    failure_domains,
                    deprecated,
                }
            },
        );
    (metadata(), cluster_spec(), of(status)).prop_map(|(metadata, spec, status)| {
        v1beta2::PacketCluster {
            metadata,
            spec: spec.into(),
            status,
        }
    })
}

fn machine_v1beta2() -> impl Strategy<Value = v1beta2::PacketMachine> {
    let status = (
        initialization(),
        vec(address(), 0..3),
        of(text()),
        of(text()),
        vec(meta_condition(), 0..3),
        deprecated(),
    )
        .prop_map(
            |(
                initialization,
                addresses,
                instance_status,
                failure_domain,
                conditions,
                deprecated,
            )| {
                v1beta2::PacketMachineStatus {
                    initialization,
                    addresses,
                    instance_status,
                    failure_domain,
                    conditions,
                    deprecated,
                }
            },
        );
    (metadata(), machine_spec_v1beta2(), of(status)).prop_map(|(metadata, spec, status)| {
        v1beta2::PacketMachine {
            metadata,
            spec,
            status,
        }
    })
}

fn machine_template_v1beta2() -> impl Strategy<Value = v1beta2::PacketMachineTemplate> {
    (metadata(), template_meta(), machine_spec_v1beta2()).prop_map(|(metadata, meta, spec)| {
        v1beta2::PacketMachineTemplate {
            metadata,
            spec: v1beta2::PacketMachineTemplateSpec {
                template: v1beta2::PacketMachineTemplateResource {
                    metadata: meta,
                    spec,
                },
            },
        }
    })
}

fn cluster_template_v1beta2() -> impl Strategy<Value = v1beta2::PacketClusterTemplate> {
    (metadata(), template_meta(), cluster_spec()).prop_map(|(metadata, meta, spec)| {
        v1beta2::PacketClusterTemplate {
            metadata,
            spec: v1beta2::PacketClusterTemplateSpec {
                template: v1beta2::PacketClusterTemplateResource {
                    metadata: meta,
                    spec: spec.into(),
                },
            },
        }
    })
}

// ---- the properties ----

/// `object → other version → back` is `object`, compared as the JSON the API server stores
/// (every field of the Rust types serialises); the way back drops the annotation. Then a second trip of the
/// converted object (which may carry the annotation) reproduces it.
fn round_trips<A, B>(object: &A) -> Result<(), TestCaseError>
where
    A: Serialize,
    B: Serialize,
    for<'a> B: TryFrom<&'a A, Error = Error>,
    for<'a> A: TryFrom<&'a B, Error = Error>,
{
    let other = B::try_from(object).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = A::try_from(&other).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(object).unwrap()
    );
    let again = B::try_from(&back).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&other).unwrap()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn packet_cluster_v1beta1_to_v1beta2_and_back_is_unchanged(object in cluster_v1beta1()) {
        round_trips::<_, v1beta2::PacketCluster>(&object)?;
    }

    #[test]
    fn packet_cluster_v1beta2_to_v1beta1_and_back_is_unchanged(object in cluster_v1beta2()) {
        round_trips::<_, capp_api::PacketCluster>(&object)?;
    }

    #[test]
    fn packet_machine_v1beta1_to_v1beta2_and_back_is_unchanged(object in machine_v1beta1()) {
        round_trips::<_, v1beta2::PacketMachine>(&object)?;
    }

    #[test]
    fn packet_machine_v1beta2_to_v1beta1_and_back_is_unchanged(object in machine_v1beta2()) {
        round_trips::<_, capp_api::PacketMachine>(&object)?;
    }

    #[test]
    fn packet_machine_template_v1beta1_to_v1beta2_and_back_is_unchanged(object in machine_template_v1beta1()) {
        round_trips::<_, v1beta2::PacketMachineTemplate>(&object)?;
    }

    #[test]
    fn packet_machine_template_v1beta2_to_v1beta1_and_back_is_unchanged(object in machine_template_v1beta2()) {
        round_trips::<_, capp_api::PacketMachineTemplate>(&object)?;
    }

    #[test]
    fn packet_cluster_template_v1beta1_to_v1beta2_and_back_is_unchanged(object in cluster_template_v1beta1()) {
        round_trips::<_, v1beta2::PacketClusterTemplate>(&object)?;
    }

    #[test]
    fn packet_cluster_template_v1beta2_to_v1beta1_and_back_is_unchanged(object in cluster_template_v1beta2()) {
        round_trips::<_, capp_api::PacketClusterTemplate>(&object)?;
    }
}
