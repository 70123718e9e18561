//! Cluster templates (`cluster-template[-FLAVOR].yaml`) for `clusterctl generate cluster`.
//!
//! Every flavor is a KubeadmControlPlane (CABPK) and a MachineDeployment with a
//! KubeadmConfigTemplate, on a PacketCluster, with the standard clusterctl variables and the
//! Go provider's, so a Go-provider user's environment works unchanged:
//!
//! | flavor | control-plane endpoint | CNI |
//! |---|---|---|
//! | (default) | Elastic IP moved by cloud-provider-equinix-metal (`vipManager: CPEM`) | none |
//! | `kube-vip` | Elastic IP announced over BGP by kube-vip (`vipManager: KUBE_VIP`) | none |
//! | `crs-cni` | as the default | flannel, by a ClusterResourceSet |
//! | `kube-vip-crs-cni` | as `kube-vip` | flannel, by a ClusterResourceSet |
//! | `clusterclass` | as the default, through a ClusterClass and a Cluster `topology` | none |
//!
//! Nodes are prepared by the scripts of capp-bootstrap's machine-config matrix
//! ([`node_setup`]). cloud-provider-equinix-metal (CPEM) gets its credentials from a
//! ClusterResourceSet Secret created from `${PACKET_API_KEY}` on the management cluster: the
//! API token is never in userdata. Shell scripts travel as base64 `files`, so no template
//! holds a `$` outside a clusterctl variable reference.

use serde_json::{Value, json};

use crate::{Error, Result};

mod clusterclass;
mod cni;
pub mod node_setup;

use node_setup::{NodeKind, base64_file};

/// Where the helper scripts of the templates are written on the node.
pub const SCRIPT_DIR: &str = "/etc/capp";

const CAPI: &str = "cluster.x-k8s.io/v1beta1";
const CONTROL_PLANE_API: &str = "controlplane.cluster.x-k8s.io/v1beta1";
const BOOTSTRAP_API: &str = "bootstrap.cluster.x-k8s.io/v1beta1";
const ADDONS_API: &str = "addons.cluster.x-k8s.io/v1beta1";

/// `${CLUSTER_NAME}`.
const CLUSTER_NAME: &str = "${CLUSTER_NAME}";
/// `${NAMESPACE}`.
const NAMESPACE: &str = "${NAMESPACE}";
/// `${KUBERNETES_VERSION}`.
const KUBERNETES_VERSION: &str = "${KUBERNETES_VERSION}";

/// A cluster template flavor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flavor {
    /// `cluster-template.yaml`: CPEM moves the control-plane Elastic IP.
    Default,
    /// `cluster-template-kube-vip.yaml`: kube-vip announces the Elastic IP over BGP.
    KubeVip,
    /// `cluster-template-crs-cni.yaml`: the default plus flannel by a ClusterResourceSet.
    CrsCni,
    /// `cluster-template-kube-vip-crs-cni.yaml`: kube-vip plus flannel.
    KubeVipCrsCni,
    /// `cluster-template-clusterclass.yaml`: a ClusterClass and a Cluster using it.
    ClusterClass,
}

/// Every flavor, default first.
pub const FLAVORS: [Flavor; 5] = [
    Flavor::Default,
    Flavor::KubeVip,
    Flavor::CrsCni,
    Flavor::KubeVipCrsCni,
    Flavor::ClusterClass,
];

impl Flavor {
    /// The flavor name clusterctl takes (`--flavor NAME`); empty for the default.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Default => "",
            Flavor::KubeVip => "kube-vip",
            Flavor::CrsCni => "crs-cni",
            Flavor::KubeVipCrsCni => "kube-vip-crs-cni",
            Flavor::ClusterClass => "clusterclass",
        }
    }

    /// The file name clusterctl reads: `cluster-template[-NAME].yaml`.
    #[must_use]
    pub fn file_name(self) -> String {
        match self.name() {
            "" => "cluster-template.yaml".to_owned(),
            name => format!("cluster-template-{name}.yaml"),
        }
    }

    /// The flavor called `name` (`""` or `default` for the default one); an unknown name is
    /// an error listing the flavors.
    pub fn from_name(name: &str) -> Result<Flavor> {
        if name == "default" {
            return Ok(Flavor::Default);
        }
        FLAVORS
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| Error::UnknownFlavor {
                name: name.to_owned(),
                known: FLAVORS
                    .iter()
                    .map(|f| match f.name() {
                        "" => "default".to_owned(),
                        n => n.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn kube_vip(self) -> bool {
        matches!(self, Flavor::KubeVip | Flavor::KubeVipCrsCni)
    }

    fn cni(self) -> bool {
        matches!(self, Flavor::CrsCni | Flavor::KubeVipCrsCni)
    }
}

/// `metadata` with `name` in `${NAMESPACE}`.
fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": NAMESPACE})
}

fn script_file(name: &str, content: &str) -> Value {
    base64_file(&format!("{SCRIPT_DIR}/{name}"), "0700", content)
}

fn run_script(name: &str, args: &str) -> String {
    format!("/bin/bash {SCRIPT_DIR}/{name} {args}")
}

/// The kubelet's registration: external cloud provider, and the provider ID from the Metal
/// instance ID (the provider's Go template turns ``{{ `{{ v1.instance_id }}` }}`` into
/// cloud-init's Jinja `{{ v1.instance_id }}`).
fn node_registration() -> Value {
    json!({
        "kubeletExtraArgs": {
            "cloud-provider": "external",
            "provider-id": "equinixmetal://{{ `{{ v1.instance_id }}` }}",
        },
    })
}

/// The control plane's KubeadmConfigSpec for `flavor`.
fn control_plane_config(flavor: Flavor) -> Result<Value> {
    let matrix = capp_bootstrap::MachineConfigMatrix::default_matrix().map_err(Error::Matrix)?;
    let setup = node_setup::node_setup(&matrix, NodeKind::ControlPlane)?;
    let mut files = setup.files;
    let mut pre = vec![setup.command];
    let mut post = Vec::new();
    let endpoint = "{{ .controlPlaneEndpoint }}";
    if flavor.kube_vip() {
        files.push(script_file(
            "kube-vip.sh",
            include_str!("templates/scripts/kube-vip.sh"),
        ));
        let version = "${KUBE_VIP_VERSION:=v0.8.1}";
        pre.push(run_script(
            "kube-vip.sh",
            &format!("pre-kubeadm {endpoint} {version}"),
        ));
        post.push(run_script(
            "kube-vip.sh",
            &format!("post-kubeadm {endpoint} {version}"),
        ));
    } else {
        files.push(script_file(
            "control-plane-endpoint.sh",
            include_str!("templates/scripts/control-plane-endpoint.sh"),
        ));
        pre.push(run_script(
            "control-plane-endpoint.sh",
            &format!("pre-kubeadm {endpoint}"),
        ));
        post.push(run_script(
            "control-plane-endpoint.sh",
            &format!("post-kubeadm {endpoint}"),
        ));
    }
    files.push(script_file(
        "cpem.sh",
        include_str!("templates/scripts/cpem.sh"),
    ));
    post.push(run_script("cpem.sh", "${CPEM_VERSION:=v3.7.0}"));
    let mut init_registration = node_registration();
    if flavor.kube_vip() {
        // kube-vip's static pod is in the manifests directory before `kubeadm init`.
        init_registration["ignorePreflightErrors"] =
            json!(["DirAvailable--etc-kubernetes-manifests"]);
    }
    Ok(json!({
        "files": files,
        "initConfiguration": {"nodeRegistration": init_registration},
        "joinConfiguration": {"nodeRegistration": node_registration()},
        "preKubeadmCommands": pre,
        "postKubeadmCommands": post,
    }))
}

/// The workers' KubeadmConfigSpec.
fn worker_config() -> Result<Value> {
    let matrix = capp_bootstrap::MachineConfigMatrix::default_matrix().map_err(Error::Matrix)?;
    let setup = node_setup::node_setup(&matrix, NodeKind::Worker)?;
    Ok(json!({
        "files": setup.files,
        "joinConfiguration": {"nodeRegistration": node_registration()},
        "preKubeadmCommands": [setup.command],
    }))
}

/// A PacketMachineTemplate `spec.template.spec` for machines of `${type_variable}`.
fn machine_spec(type_variable: &str) -> Value {
    json!({
        "billingCycle": "hourly",
        "machineType": format!("${{{type_variable}}}"),
        "os": "${NODE_OS:=ubuntu_24_04}",
        "sshKeys": ["${SSH_KEY}"],
        "tags": [],
    })
}

fn packet_machine_template(name: &str, type_variable: &str) -> Value {
    json!({
        "apiVersion": capp_api::API_VERSION,
        "kind": "PacketMachineTemplate",
        "metadata": meta(name),
        "spec": {"template": {"spec": machine_spec(type_variable)}},
    })
}

/// A PacketCluster `spec` (also a PacketClusterTemplate's `spec.template.spec`).
fn packet_cluster_spec(flavor: Flavor) -> Value {
    json!({
        "projectID": "${PROJECT_ID}",
        "metro": "${METRO}",
        "vipManager": if flavor.kube_vip() { "KUBE_VIP" } else { "CPEM" },
    })
}

/// The Cluster's `spec.clusterNetwork`.
fn cluster_network() -> Value {
    json!({
        "pods": {"cidrBlocks": ["${POD_CIDR:=192.168.0.0/16}"]},
        "services": {"cidrBlocks": ["${SERVICE_CIDR:=172.26.0.0/16}"]},
    })
}

/// The label a Cluster carries to receive the ClusterResourceSets of its template.
fn crs_labels(flavor: Flavor) -> Value {
    let mut labels = json!({"cpem": format!("{CLUSTER_NAME}-crs-cpem")});
    if flavor.cni() {
        labels["cni"] = json!(format!("{CLUSTER_NAME}-crs-cni"));
    }
    labels
}

fn cluster_resource_set(name: &str, label: &str, kind: &str, resource: &str) -> Value {
    json!({
        "apiVersion": ADDONS_API,
        "kind": "ClusterResourceSet",
        "metadata": meta(name),
        "spec": {
            "clusterSelector": {"matchLabels": {label: name}},
            "resources": [{"kind": kind, "name": resource}],
            "strategy": "ApplyOnce",
        },
    })
}

/// CPEM's `cloud-sa.json`: the API token, project, metro and the endpoint mode.
fn cpem_cloud_config(flavor: Flavor) -> Result<String> {
    let mut config = json!({
        "apiKey": "${PACKET_API_KEY}",
        "projectID": "${PROJECT_ID}",
        "metro": "${METRO}",
    });
    if flavor.kube_vip() {
        config["loadbalancer"] = json!("kube-vip://");
    } else {
        config["eipTag"] = json!(format!(
            "{}{CLUSTER_NAME}",
            capp_reconcile::tags::ELASTIC_IP_TAG_PREFIX
        ));
        config["eipHealthCheckUseHostIP"] = json!(true);
    }
    serde_json::to_string(&config).map_err(Error::Serialize)
}

/// The ClusterResourceSet Secret creating CPEM's `kube-system/metal-cloud-config` in the
/// workload cluster, and the set applying it.
fn cpem_resources(flavor: Flavor) -> Result<Vec<Value>> {
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "metal-cloud-config", "namespace": "kube-system"},
        "stringData": {"cloud-sa.json": cpem_cloud_config(flavor)?},
    });
    let name = format!("{CLUSTER_NAME}-crs-cpem");
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(&name),
            "type": "addons.cluster.x-k8s.io/resource-set",
            "stringData": {"metal-cloud-config.yaml": crate::to_yaml(&[secret])?},
        }),
        cluster_resource_set(&name, "cpem", "Secret", &name),
    ])
}

/// The CNI ConfigMap and the set applying it.
fn cni_resources() -> Result<Vec<Value>> {
    let name = format!("{CLUSTER_NAME}-crs-cni");
    Ok(vec![
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(&name),
            "data": {"flannel.yaml": crate::to_yaml(&cni::objects()?)?},
        }),
        cluster_resource_set(&name, "cni", "ConfigMap", &name),
    ])
}

/// The objects of `flavor`, in the order clusterctl applies them.
pub fn template(flavor: Flavor) -> Result<Vec<Value>> {
    if flavor == Flavor::ClusterClass {
        let mut objects = clusterclass::objects(
            &packet_cluster_spec(flavor),
            &control_plane_config(flavor)?,
            &worker_config()?,
            &machine_spec("CONTROLPLANE_NODE_TYPE"),
            &machine_spec("WORKER_NODE_TYPE"),
            &cluster_network(),
            &crs_labels(flavor),
        );
        objects.extend(cpem_resources(flavor)?);
        return Ok(objects);
    }
    let control_plane = format!("{CLUSTER_NAME}-control-plane");
    let workers = format!("{CLUSTER_NAME}-worker-a");
    let pool = json!({"cluster.x-k8s.io/cluster-name": CLUSTER_NAME, "pool": "worker-a"});
    let mut objects = vec![
        json!({
            "apiVersion": CAPI,
            "kind": "Cluster",
            "metadata": {"name": CLUSTER_NAME, "namespace": NAMESPACE, "labels": crs_labels(flavor)},
            "spec": {
                "clusterNetwork": cluster_network(),
                "controlPlaneRef": {"apiVersion": CONTROL_PLANE_API, "kind": "KubeadmControlPlane", "name": control_plane},
                "infrastructureRef": {"apiVersion": capp_api::API_VERSION, "kind": "PacketCluster", "name": CLUSTER_NAME},
            },
        }),
        json!({
            "apiVersion": capp_api::API_VERSION,
            "kind": "PacketCluster",
            "metadata": meta(CLUSTER_NAME),
            "spec": packet_cluster_spec(flavor),
        }),
        json!({
            "apiVersion": CONTROL_PLANE_API,
            "kind": "KubeadmControlPlane",
            "metadata": meta(&control_plane),
            "spec": {
                "kubeadmConfigSpec": control_plane_config(flavor)?,
                "machineTemplate": {"infrastructureRef": {
                    "apiVersion": capp_api::API_VERSION, "kind": "PacketMachineTemplate", "name": control_plane,
                }},
                "replicas": "${CONTROL_PLANE_MACHINE_COUNT:=1}",
                "version": KUBERNETES_VERSION,
            },
        }),
        packet_machine_template(&control_plane, "CONTROLPLANE_NODE_TYPE"),
        json!({
            "apiVersion": CAPI,
            "kind": "MachineDeployment",
            "metadata": {"name": workers, "namespace": NAMESPACE, "labels": pool},
            "spec": {
                "clusterName": CLUSTER_NAME,
                "replicas": "${WORKER_MACHINE_COUNT:=0}",
                "selector": {"matchLabels": pool},
                "template": {
                    "metadata": {"labels": pool},
                    "spec": {
                        "bootstrap": {"configRef": {"apiVersion": BOOTSTRAP_API, "kind": "KubeadmConfigTemplate", "name": workers}},
                        "clusterName": CLUSTER_NAME,
                        "infrastructureRef": {"apiVersion": capp_api::API_VERSION, "kind": "PacketMachineTemplate", "name": workers},
                        "version": KUBERNETES_VERSION,
                    },
                },
            },
        }),
        packet_machine_template(&workers, "WORKER_NODE_TYPE"),
        json!({
            "apiVersion": BOOTSTRAP_API,
            "kind": "KubeadmConfigTemplate",
            "metadata": meta(&workers),
            "spec": {"template": {"spec": worker_config()?}},
        }),
    ];
    objects.extend(cpem_resources(flavor)?);
    if flavor.cni() {
        objects.extend(cni_resources()?);
    }
    Ok(objects)
}

/// The fields whose values are integers once clusterctl substituted them. YAML output
/// writes their variable references unquoted (`replicas: ${WORKER_MACHINE_COUNT:=0}`), as
/// clusterctl's templates do, so the substituted value is an integer.
const INTEGER_VARIABLES: [&str; 2] = [
    "${CONTROL_PLANE_MACHINE_COUNT:=1}",
    "${WORKER_MACHINE_COUNT:=0}",
];

/// `flavor` as the YAML text of its file.
pub fn render(flavor: Flavor) -> Result<String> {
    // Single-line strings (commands, base64 scripts) stay on one line: folded, a command
    // would be split inside its `{{ ... }}` values.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    let mut text = crate::to_yaml_with(&template(flavor)?, &options)?;
    for variable in INTEGER_VARIABLES {
        for quote in ['\'', '"'] {
            text = text.replace(&format!("{quote}{variable}{quote}"), variable);
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_names_round_trip_and_unknown_names_list_the_flavors() {
        for flavor in FLAVORS {
            assert_eq!(Flavor::from_name(flavor.name()).unwrap(), flavor);
        }
        assert_eq!(Flavor::from_name("default").unwrap(), Flavor::Default);
        let err = Flavor::from_name("emlb").unwrap_err().to_string();
        assert!(
            err.contains("emlb")
                && err.contains("default, kube-vip, crs-cni, kube-vip-crs-cni, clusterclass"),
            "{err}"
        );
    }

    #[test]
    fn replica_counts_are_written_unquoted() {
        let text = render(Flavor::Default).unwrap();
        assert!(
            text.contains("replicas: ${CONTROL_PLANE_MACHINE_COUNT:=1}\n"),
            "{text}"
        );
        assert!(
            text.contains("replicas: ${WORKER_MACHINE_COUNT:=0}\n"),
            "{text}"
        );
    }

    #[test]
    fn the_api_token_reaches_only_the_cluster_resource_set_secret() {
        for flavor in FLAVORS {
            for object in template(flavor).unwrap() {
                let text = object.to_string();
                let is_crs_secret = object["type"] == "addons.cluster.x-k8s.io/resource-set";
                assert_eq!(
                    text.contains("PACKET_API_KEY"),
                    is_crs_secret,
                    "{flavor:?}: {}",
                    object["kind"]
                );
                assert!(!text.contains(".apiKey"), "{flavor:?}: {text}");
            }
        }
    }
}
