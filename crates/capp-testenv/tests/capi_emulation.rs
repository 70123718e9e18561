//! The Cluster API core emulation (`capp_testenv::capi`) against capp-testenv: a Cluster and
//! its infrastructure cluster, a Machine through its phases and deletion order, and a
//! MachineDeployment that clones templates, scales up and down and goes away with its Cluster.
//! The test plays the providers (tiny CRDs whose status it patches) and the kubelet (Nodes in a
//! second capp-testenv acting as the workload cluster).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]
#![allow(
    clippy::too_many_lines,
    reason = "each test is one story told step by step"
)]

#[path = "support/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use capi_types::cluster::Cluster;
use capi_types::machine::Machine;
use capi_types::machine_deployment::MachineDeployment;
use capi_types::machine_set::MachineSet;
use capp_testenv::TestEnv;
use capp_testenv::capi::{CoreEmulation, Options};
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const NS: &str = "default";
const INFRA: &str = "infrastructure.cluster.x-k8s.io";
const BOOTSTRAP: &str = "bootstrap.cluster.x-k8s.io";
/// Finalizer the test puts on provider objects to observe the deletion order.
const HOLD: &str = "test.capp.dev/hold";

/// A namespaced, schemaless v1beta1 CRD with a status subresource, labelled for the contract.
fn crd(group: &str, kind: &str) -> Value {
    let plural = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}"), "labels": {"cluster.x-k8s.io/v1beta1": "v1beta1"}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

fn resource(group: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, "v1beta1", kind),
        &format!("{}s", kind.to_lowercase()),
    )
}

/// The management cluster, the workload cluster and the running emulation.
struct World {
    mgmt: TestEnv,
    workload: TestEnv,
    client: Client,
    _core: CoreEmulation,
}

impl World {
    async fn start() -> World {
        let mgmt = support::start().await;
        let workload = support::start().await;
        mgmt.install_crds(&capi_types::core_crds()).await.unwrap();
        let kinds = [
            (INFRA, "TestCluster"),
            (INFRA, "TestMachine"),
            (INFRA, "TestMachineTemplate"),
            (BOOTSTRAP, "TestConfig"),
            (BOOTSTRAP, "TestConfigTemplate"),
        ];
        let crds: Vec<Value> = kinds.iter().map(|(g, k)| crd(g, k)).collect();
        mgmt.install_crds(&crds).await.unwrap();
        let client = mgmt.client().unwrap();
        let core = CoreEmulation::start(
            client.clone(),
            Options::default().with_poll_interval(Duration::from_millis(150)),
        );
        World {
            mgmt,
            workload,
            client,
            _core: core,
        }
    }

    fn dynamic(&self, group: &str, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), NS, &resource(group, kind))
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.workload.client().unwrap())
    }

    async fn apply(&self, yaml: &str) {
        self.mgmt.apply_manifest(yaml).await.unwrap();
    }

    /// The workload cluster's kubeconfig as `<cluster>-kubeconfig`, as the bootstrap provider
    /// would write it.
    async fn write_kubeconfig(&self, cluster: &str) {
        let kubeconfig = std::fs::read_to_string(self.workload.kubeconfig_path()).unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("{cluster}-kubeconfig"), "namespace": NS,
                         "labels": {"cluster.x-k8s.io/cluster-name": cluster}},
            "type": "cluster.x-k8s.io/secret",
            "stringData": {"value": kubeconfig}
        }))
        .unwrap();
        self.api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// A test provider object's status.
    async fn set_status(&self, group: &str, kind: &str, name: &str, status: Value) {
        self.dynamic(group, kind)
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap();
    }

    async fn patch(&self, group: &str, kind: &str, name: &str, patch: Value) {
        self.dynamic(group, kind)
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    /// A Ready Node in the workload cluster with the given providerID.
    async fn create_node(&self, name: &str, provider_id: &str) {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"providerID": provider_id,
                     "taints": [{"key": "node.cluster.x-k8s.io/uninitialized", "effect": "NoSchedule"}]}
        }))
        .unwrap();
        self.nodes()
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
        let status = json!({"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.8",
                         "osImage": "Ubuntu 24.04", "containerRuntimeVersion": "containerd://1.7",
                         "kubeletVersion": "v1.33.0", "kubeProxyVersion": "", "operatingSystem": "linux",
                         "architecture": "amd64"}
        }});
        self.nodes()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }

    /// Plays the providers and the kubelet until aborted: infrastructure machines get a
    /// providerID and become ready, bootstrap configs get a data Secret, and every Machine with
    /// a providerID that is not being deleted gets a Ready Node.
    fn play_providers(&self) -> JoinHandle<()> {
        let machines = self.dynamic(INFRA, "TestMachine");
        let configs = self.dynamic(BOOTSTRAP, "TestConfig");
        let core: Api<Machine> = self.api();
        let secrets: Api<Secret> = self.api();
        let nodes = self.nodes();
        tokio::spawn(async move {
            loop {
                for m in machines.list(&ListParams::default()).await.unwrap().items {
                    let name = m.name_any();
                    if m.metadata.deletion_timestamp.is_none()
                        && m.data["spec"]["providerID"].is_null()
                    {
                        let provider_id = format!("test:///{name}");
                        let _ = machines
                            .patch(
                                &name,
                                &PatchParams::default(),
                                &Patch::Merge(json!({"spec": {"providerID": provider_id}})),
                            )
                            .await;
                        let status = json!({"status": {"ready": true, "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}]}});
                        let _ = machines
                            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                            .await;
                    }
                }
                for c in configs.list(&ListParams::default()).await.unwrap().items {
                    let name = c.name_any();
                    if c.metadata.deletion_timestamp.is_none()
                        && c.data["status"]["ready"].is_null()
                    {
                        let secret: Secret = serde_json::from_value(json!({
                            "metadata": {"name": name, "namespace": NS},
                            "stringData": {"value": "#cloud-config\n", "format": "cloud-config"}
                        }))
                        .unwrap();
                        let _ = secrets.create(&PostParams::default(), &secret).await;
                        let status = json!({"status": {"ready": true, "dataSecretName": name}});
                        let _ = configs
                            .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                            .await;
                    }
                }
                for m in core.list(&ListParams::default()).await.unwrap().items {
                    if let (Some(provider_id), None) = (
                        m.spec.provider_id.clone(),
                        m.metadata.deletion_timestamp.as_ref(),
                    ) && nodes.get_opt(&m.name_any()).await.unwrap().is_none()
                    {
                        let node: Node = serde_json::from_value(json!({
                            "metadata": {"name": m.name_any()}, "spec": {"providerID": provider_id}
                        }))
                        .unwrap();
                        if nodes.create(&PostParams::default(), &node).await.is_ok() {
                            let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
                                "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
                            let _ = nodes
                                .patch_status(
                                    &m.name_any(),
                                    &PatchParams::default(),
                                    &Patch::Merge(status),
                                )
                                .await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }
}

/// Polls `check` until it returns `Some`, failing with `what` after `seconds`.
async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn labels(obj: &DynamicObject) -> BTreeMap<String, String> {
    obj.labels().clone()
}

fn condition<'a>(
    conditions: &'a [capi_types::conditions::Condition],
    type_: &str,
) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

const CLUSTER: &str = r"
apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: prod, namespace: default}
spec:
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TestCluster, name: prod}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: TestCluster
metadata: {name: prod, namespace: default}
spec: {}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_owns_its_infrastructure_cluster_becomes_provisioned_and_gets_a_kubeconfig() {
    let world = World::start().await;
    world.apply(CLUSTER).await;
    let clusters: Api<Cluster> = world.api();
    let infra = world.dynamic(INFRA, "TestCluster");

    // ensureOwnerRefAndLabel: a Cluster without a topology owns the infrastructure cluster by a
    // plain ownerReference (no controller flag, as CAPI v1.14 writes it), and labels it.
    let owned = eventually("the TestCluster to be owned", 10, || async {
        let obj = infra.get("prod").await.unwrap();
        (!obj.owner_references().is_empty()).then_some(obj)
    })
    .await;
    let reference = &owned.owner_references()[0];
    assert_eq!(
        (
            reference.kind.as_str(),
            reference.name.as_str(),
            reference.controller
        ),
        ("Cluster", "prod", None)
    );
    assert_eq!(labels(&owned)["cluster.x-k8s.io/cluster-name"], "prod");
    let provisioning = eventually("the Cluster to be Provisioning", 10, || async {
        let c = clusters.get("prod").await.unwrap();
        (c.status.as_ref()?.phase.as_deref() == Some("Provisioning")).then_some(c)
    })
    .await;
    assert!(
        provisioning
            .finalizers()
            .contains(&"cluster.cluster.x-k8s.io".to_owned())
    );
    let status = provisioning.status.unwrap();
    assert_eq!(
        condition(&status.conditions, "InfrastructureReady"),
        Some("False")
    );
    assert_eq!(
        status
            .conditions
            .iter()
            .find(|c| c.type_ == "InfrastructureReady")
            .unwrap()
            .reason
            .as_deref(),
        Some("WaitingForInfrastructure")
    );

    // The provider reports the endpoint and readiness; both are copied back.
    world
        .patch(
            INFRA,
            "TestCluster",
            "prod",
            json!({"spec": {"controlPlaneEndpoint": {"host": "10.1.2.3", "port": 6443}}}),
        )
        .await;
    world
        .set_status(
            INFRA,
            "TestCluster",
            "prod",
            json!({"ready": true, "failureDomains": {"da": {"controlPlane": true}}}),
        )
        .await;
    let provisioned = eventually("the Cluster to be Provisioned", 10, || async {
        let c = clusters.get("prod").await.unwrap();
        (c.status.as_ref()?.phase.as_deref() == Some("Provisioned")).then_some(c)
    })
    .await;
    let endpoint = provisioned.spec.control_plane_endpoint.clone().unwrap();
    assert_eq!((endpoint.host.as_str(), endpoint.port), ("10.1.2.3", 6443));
    let status = provisioned.status.unwrap();
    assert_eq!(status.infrastructure_ready, Some(true));
    assert!(status.failure_domains.get("da").is_some());
    assert_eq!(
        condition(&status.conditions, "InfrastructureReady"),
        Some("True")
    );
    assert_eq!(condition(&status.conditions, "Ready"), Some("True"));
    assert_eq!(
        condition(&status.conditions, "ControlPlaneInitialized"),
        Some("False")
    );
    // Without a control plane provider upstream never sets controlPlaneReady.
    assert_eq!(status.control_plane_ready, None);

    // reconcileKubeconfig: no kubeconfig without the cluster CA; with it, the admin kubeconfig.
    let secrets: Api<Secret> = world.api();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(secrets.get_opt("prod-kubeconfig").await.unwrap().is_none());
    let ca = capp_pki::CertificateAuthority::generate(
        &capp_pki::CaOptions::new("kubernetes"),
        jiff::Timestamp::now(),
        &mut rand::rng(),
    )
    .unwrap();
    let ca_secret = ca.to_capi_secret("prod", NS, capp_pki::Purpose::ClusterCa);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": ca_secret.name, "namespace": NS, "labels": ca_secret.labels},
        "type": ca_secret.type_,
        "stringData": {"tls.crt": ca.cert_pem(), "tls.key": capp_pki::secrecy::ExposeSecret::expose_secret(&ca.key_pem())}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let kubeconfig = eventually("the kubeconfig Secret", 10, || async {
        secrets.get_opt("prod-kubeconfig").await.unwrap()
    })
    .await;
    assert_eq!(kubeconfig.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
    assert_eq!(kubeconfig.labels()["cluster.x-k8s.io/cluster-name"], "prod");
    assert_eq!(kubeconfig.owner_references()[0].kind, "Cluster");
    let text = String::from_utf8(kubeconfig.data.unwrap()["value"].0.clone()).unwrap();
    let parsed = capp_pki::Kubeconfig::from_yaml(&text).unwrap();
    assert_eq!(parsed.current_context, "prod-admin@prod");
    assert_eq!(
        parsed.cluster("prod").unwrap().server,
        "https://10.1.2.3:6443"
    );
}

/// A ready Cluster with its TestCluster, reachable workload cluster included.
async fn ready_cluster(world: &World) {
    world.apply(CLUSTER).await;
    world
        .patch(
            INFRA,
            "TestCluster",
            "prod",
            json!({"spec": {"controlPlaneEndpoint": {"host": "10.1.2.3", "port": 6443}}}),
        )
        .await;
    world
        .set_status(INFRA, "TestCluster", "prod", json!({"ready": true}))
        .await;
    world.write_kubeconfig("prod").await;
}

const CONTROL_PLANE_MACHINE: &str = r#"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: TestMachine
metadata: {name: cp-0, namespace: default, finalizers: ["test.capp.dev/hold"]}
spec: {}
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta1
kind: TestConfig
metadata: {name: cp-0, namespace: default, finalizers: ["test.capp.dev/hold"]}
spec: {}
---
apiVersion: cluster.x-k8s.io/v1beta1
kind: Machine
metadata:
  name: cp-0
  namespace: default
  labels: {cluster.x-k8s.io/control-plane: ""}
spec:
  clusterName: prod
  version: 1.33.0
  bootstrap:
    configRef: {apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: TestConfig, name: cp-0}
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TestMachine, name: cp-0}
"#;

fn phase(m: &Machine) -> Option<&str> {
    m.status.as_ref()?.phase.as_deref()
}

async fn wait_phase(machines: &Api<Machine>, name: &str, want: &str) -> Machine {
    eventually(&format!("Machine {name} to be {want}"), 10, || async {
        let m = machines.get(name).await.unwrap();
        (phase(&m) == Some(want)).then_some(m)
    })
    .await
}

async fn release(api: &Api<DynamicObject>, name: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_goes_from_pending_to_running_and_is_deleted_infrastructure_first() {
    let world = World::start().await;
    ready_cluster(&world).await;
    world.apply(CONTROL_PLANE_MACHINE).await;
    let machines: Api<Machine> = world.api();
    let infra = world.dynamic(INFRA, "TestMachine");
    let bootstrap = world.dynamic(BOOTSTRAP, "TestConfig");

    let pending = wait_phase(&machines, "cp-0", "Pending").await;
    assert!(
        pending
            .finalizers()
            .contains(&"machine.cluster.x-k8s.io".to_owned())
    );
    assert_eq!(
        pending.owner_references()[0].kind,
        "Cluster",
        "a stand-alone Machine is owned by its Cluster"
    );
    assert_eq!(
        pending.spec.version.as_deref(),
        Some("v1.33.0"),
        "the webhook default adds the v"
    );
    let status = pending.status.clone().unwrap();
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.message.as_deref(), Some("0 of 2 completed"));
    for (api, what) in [(&infra, "TestMachine"), (&bootstrap, "TestConfig")] {
        let obj = eventually(
            &format!("{what} to be owned by the Machine"),
            10,
            || async {
                let obj = api.get("cp-0").await.unwrap();
                (!obj.owner_references().is_empty()).then_some(obj)
            },
        )
        .await;
        let owner = &obj.owner_references()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("Machine", Some(true), Some(true))
        );
        assert_eq!(labels(&obj)["cluster.x-k8s.io/cluster-name"], "prod");
    }

    // Bootstrap data: dataSecretName propagates, the Machine is Provisioning.
    world
        .set_status(
            BOOTSTRAP,
            "TestConfig",
            "cp-0",
            json!({"ready": true, "dataSecretName": "cp-0-userdata"}),
        )
        .await;
    let provisioning = wait_phase(&machines, "cp-0", "Provisioning").await;
    assert_eq!(
        provisioning.spec.bootstrap.data_secret_name.as_deref(),
        Some("cp-0-userdata")
    );
    assert_eq!(provisioning.status.unwrap().bootstrap_ready, Some(true));

    // Infrastructure: providerID, addresses and failure domain propagate, Provisioned.
    world
        .patch(
            INFRA,
            "TestMachine",
            "cp-0",
            json!({"spec": {"providerID": "test:///cp-0", "failureDomain": "da"}}),
        )
        .await;
    world
        .set_status(
            INFRA,
            "TestMachine",
            "cp-0",
            json!({"ready": true, "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}),
        )
        .await;
    let provisioned = wait_phase(&machines, "cp-0", "Provisioned").await;
    assert_eq!(
        provisioned.spec.provider_id.as_deref(),
        Some("test:///cp-0")
    );
    assert_eq!(provisioned.spec.failure_domain.as_deref(), Some("da"));
    let status = provisioned.status.unwrap();
    assert_eq!(status.addresses[0].address, "10.0.0.5");
    assert_eq!(status.infrastructure_ready, Some(true));

    // The Node appears in the workload cluster: nodeRef, Running, bookkeeping on the Node.
    world.create_node("node-a", "test:///cp-0").await;
    wait_phase(&machines, "cp-0", "Running").await;
    // The kubelet reports nodeInfo just after creating the Node; the next pass copies it.
    let running = eventually("the Node's nodeInfo on the Machine", 10, || async {
        let m = machines.get("cp-0").await.unwrap();
        m.status.as_ref()?.node_info.as_ref()?;
        Some(m)
    })
    .await;
    let status = running.status.unwrap();
    assert_eq!(status.node_ref.unwrap().name.as_deref(), Some("node-a"));
    assert_eq!(status.node_info.unwrap().kubelet_version, "v1.33.0");
    assert_eq!(condition(&status.conditions, "NodeHealthy"), Some("True"));
    assert_eq!(condition(&status.conditions, "Ready"), Some("True"));
    let node = eventually("the Node bookkeeping", 10, || async {
        let node = world.nodes().get("node-a").await.unwrap();
        node.annotations()
            .contains_key("cluster.x-k8s.io/machine")
            .then_some(node)
    })
    .await;
    assert_eq!(node.annotations()["cluster.x-k8s.io/machine"], "cp-0");
    assert_eq!(
        node.annotations()["cluster.x-k8s.io/cluster-namespace"],
        "default"
    );
    let clusters: Api<Cluster> = world.api();
    eventually("ControlPlaneInitialized", 10, || async {
        let c = clusters.get("prod").await.unwrap();
        (condition(&c.status?.conditions, "ControlPlaneInitialized") == Some("True")).then_some(())
    })
    .await;
    eventually("the uninitialized taint to be removed", 10, || async {
        let node = world.nodes().get("node-a").await.unwrap();
        node.spec?
            .taints
            .unwrap_or_default()
            .is_empty()
            .then_some(())
    })
    .await;

    // Steady state: nothing is rewritten while nothing changes (no status churn).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = world.mgmt.resource_version().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        world.mgmt.resource_version().await,
        before,
        "the emulation rewrote objects while nothing changed"
    );

    // Deletion: the infrastructure machine goes first, the bootstrap config only after it.
    machines
        .delete("cp-0", &DeleteParams::default())
        .await
        .unwrap();
    wait_phase(&machines, "cp-0", "Deleting").await;
    eventually("the TestMachine to be deleted", 10, || async {
        infra
            .get("cp-0")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        bootstrap
            .get("cp-0")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none(),
        "the bootstrap config waits for the infrastructure machine"
    );
    release(&infra, "cp-0").await;
    eventually("the TestConfig to be deleted", 10, || async {
        bootstrap
            .get("cp-0")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    assert!(
        machines.get_opt("cp-0").await.unwrap().is_some(),
        "the Machine waits for its bootstrap config"
    );
    release(&bootstrap, "cp-0").await;
    eventually("the Machine to be gone", 10, || async {
        machines
            .get_opt("cp-0")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // isDeleteNodeAllowed: the last control plane Machine's Node is not deleted (upstream).
    assert!(world.nodes().get_opt("node-a").await.unwrap().is_some());
}

const WORKERS: &str = r"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: TestMachineTemplate
metadata: {name: workers, namespace: default}
spec: {template: {metadata: {labels: {from-template: infra}}, spec: {plan: small}}}
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta1
kind: TestConfigTemplate
metadata: {name: workers, namespace: default}
spec: {template: {spec: {format: cloud-config}}}
---
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata: {name: workers, namespace: default}
spec:
  clusterName: prod
  replicas: 2
  selector: {}
  template:
    spec:
      clusterName: prod
      version: v1.33.0
      bootstrap:
        configRef: {apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: TestConfigTemplate, name: workers}
      infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TestMachineTemplate, name: workers}
";

/// The Machines of the MachineDeployment, by name.
async fn workers(machines: &Api<Machine>) -> Vec<Machine> {
    let mut list = machines
        .list(&ListParams::default().labels("cluster.x-k8s.io/deployment-name=workers"))
        .await
        .unwrap()
        .items;
    list.sort_by_key(ResourceExt::name_any);
    list
}

/// Waits until the MachineDeployment has `n` Machines, all Running, and reports them ready.
async fn wait_running_workers(world: &World, n: usize) -> Vec<Machine> {
    let machines: Api<Machine> = world.api();
    let deployments: Api<MachineDeployment> = world.api();
    eventually(&format!("{n} Running workers"), 20, || async {
        let list = workers(&machines).await;
        let md = deployments.get("workers").await.unwrap();
        let status = md.status.unwrap_or_default();
        let ready = list.len() == n
            && list.iter().all(|m| phase(m) == Some("Running"))
            && status.ready_replicas == Some(i32::try_from(n).unwrap())
            && status.replicas == Some(i32::try_from(n).unwrap())
            && status.phase.as_deref() == Some("Running");
        ready.then_some(list)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_deployment_clones_templates_scales_and_goes_away_with_its_cluster() {
    let world = World::start().await;
    ready_cluster(&world).await;
    let providers = world.play_providers();
    world
        .apply(
            &CONTROL_PLANE_MACHINE
                .replace("finalizers: [\"test.capp.dev/hold\"]", "finalizers: []"),
        )
        .await;
    world.apply(WORKERS).await;
    let machines: Api<Machine> = world.api();
    let sets: Api<MachineSet> = world.api();
    let infra = world.dynamic(INFRA, "TestMachine");
    let bootstrap = world.dynamic(BOOTSTRAP, "TestConfig");

    let running = wait_running_workers(&world, 2).await;
    let ms_list = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(ms_list.len(), 1);
    let ms = &ms_list[0];
    let ms_name = ms.name_any();
    assert!(
        ms_name.starts_with("workers-") && ms_name.len() == "workers-".len() + 5,
        "{ms_name}"
    );
    let hash = ms.labels()["machine-template-hash"].clone();
    assert!(
        hash.ends_with(&ms_name["workers-".len()..]),
        "the hash label ends with the name suffix: {hash}"
    );
    assert_eq!(ms.labels()["cluster.x-k8s.io/deployment-name"], "workers");
    assert_eq!(
        ms.annotations()["machinedeployment.clusters.x-k8s.io/revision"],
        "1"
    );
    assert_eq!(ms.owner_references()[0].kind, "MachineDeployment");
    assert_eq!(ms.spec.delete_policy.as_deref(), Some("Random"));

    for m in &running {
        let name = m.name_any();
        assert!(name.starts_with(&format!("{ms_name}-")), "{name}");
        for (key, value) in [
            ("cluster.x-k8s.io/cluster-name", "prod"),
            ("cluster.x-k8s.io/deployment-name", "workers"),
            ("cluster.x-k8s.io/set-name", ms_name.as_str()),
            ("machine-template-hash", hash.as_str()),
        ] {
            assert_eq!(
                m.labels().get(key).map(String::as_str),
                Some(value),
                "{name} label {key}"
            );
        }
        let owner = &m.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("MachineSet", ms_name.as_str(), Some(true))
        );
        assert_eq!(
            m.spec.bootstrap.data_secret_name.as_deref(),
            Some(name.as_str())
        );
        assert_eq!(
            m.spec.provider_id.as_deref(),
            Some(format!("test:///{name}").as_str())
        );
        assert_eq!(
            m.status
                .as_ref()
                .unwrap()
                .node_ref
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some(name.as_str())
        );
        for (api, template_kind) in [
            (
                &infra,
                "TestMachineTemplate.infrastructure.cluster.x-k8s.io",
            ),
            (&bootstrap, "TestConfigTemplate.bootstrap.cluster.x-k8s.io"),
        ] {
            let clone = api.get(&name).await.unwrap();
            assert_eq!(
                clone.annotations()["cluster.x-k8s.io/cloned-from-name"],
                "workers"
            );
            assert_eq!(
                clone.annotations()["cluster.x-k8s.io/cloned-from-groupkind"],
                template_kind
            );
            assert_eq!(labels(&clone)["cluster.x-k8s.io/set-name"], ms_name);
            assert_eq!(
                labels(&clone)["cluster.x-k8s.io/deployment-name"],
                "workers"
            );
            assert_eq!(labels(&clone)["machine-template-hash"], hash);
            let refs = clone.owner_references();
            assert_eq!(
                refs.len(),
                1,
                "the MachineSet owner is replaced by the Machine: {refs:?}"
            );
            assert_eq!(
                (
                    refs[0].kind.as_str(),
                    refs[0].name.as_str(),
                    refs[0].controller
                ),
                ("Machine", name.as_str(), Some(true))
            );
        }
        assert_eq!(
            labels(&infra.get(&name).await.unwrap())["from-template"],
            "infra"
        );
        let node = world.nodes().get(&name).await.unwrap();
        assert_eq!(
            node.annotations()
                .get("cluster.x-k8s.io/owner-kind")
                .map(String::as_str),
            Some("MachineSet")
        );
    }
    let template = world
        .dynamic(INFRA, "TestMachineTemplate")
        .get("workers")
        .await
        .unwrap();
    assert!(
        template
            .owner_references()
            .iter()
            .any(|r| r.kind == "Cluster" && r.name == "prod")
    );

    // Scale up to 3, then down to 1: surplus Machines, their clones and Nodes go away.
    let deployments: Api<MachineDeployment> = world.api();
    let scale = |n: i32| json!({"spec": {"replicas": n}});
    deployments
        .patch("workers", &PatchParams::default(), &Patch::Merge(scale(3)))
        .await
        .unwrap();
    let three = wait_running_workers(&world, 3).await;
    deployments
        .patch("workers", &PatchParams::default(), &Patch::Merge(scale(1)))
        .await
        .unwrap();
    let one = wait_running_workers(&world, 1).await;
    for gone in three.iter().filter(|m| m.name_any() != one[0].name_any()) {
        let name = gone.name_any();
        eventually(
            &format!("{name}'s clones and Node to be deleted"),
            10,
            || async {
                let left = infra.get_opt(&name).await.unwrap().is_some()
                    || bootstrap.get_opt(&name).await.unwrap().is_some()
                    || world.nodes().get_opt(&name).await.unwrap().is_some();
                (!left).then_some(())
            },
        )
        .await;
    }

    // Deleting the Cluster deletes the descendants first, then the infrastructure cluster.
    world
        .patch(
            INFRA,
            "TestCluster",
            "prod",
            json!({"metadata": {"finalizers": [HOLD]}}),
        )
        .await;
    let clusters: Api<Cluster> = world.api();
    clusters
        .delete("prod", &DeleteParams::default())
        .await
        .unwrap();
    let test_clusters = world.dynamic(INFRA, "TestCluster");
    eventually("the TestCluster to be deleted", 20, || async {
        test_clusters
            .get("prod")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    assert!(
        machines
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "Machines go before the infrastructure cluster"
    );
    assert_eq!(
        clusters
            .get("prod")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Deleting")
    );
    release(&test_clusters, "prod").await;
    eventually("the Cluster to be gone", 10, || async {
        clusters
            .get_opt("prod")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    providers.abort();
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        sets.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    for (group, kind) in [
        (INFRA, "TestCluster"),
        (INFRA, "TestMachine"),
        (BOOTSTRAP, "TestConfig"),
        (INFRA, "TestMachineTemplate"),
        (BOOTSTRAP, "TestConfigTemplate"),
    ] {
        let left: Vec<String> = world
            .dynamic(group, kind)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        assert!(left.is_empty(), "{kind} left behind: {left:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_rolls_the_machines_out_to_a_new_machine_set() {
    let world = World::start().await;
    ready_cluster(&world).await;
    let _providers = world.play_providers();
    world
        .apply(
            &CONTROL_PLANE_MACHINE
                .replace("finalizers: [\"test.capp.dev/hold\"]", "finalizers: []"),
        )
        .await;
    world.apply(WORKERS).await;
    let machines: Api<Machine> = world.api();
    let sets: Api<MachineSet> = world.api();
    let deployments: Api<MachineDeployment> = world.api();
    let infra = world.dynamic(INFRA, "TestMachine");
    let before = wait_running_workers(&world, 2).await;
    let ms_name = before[0].labels()["cluster.x-k8s.io/set-name"].clone();

    // maxSurge 1, maxUnavailable 0: one new Machine at a time, an old one goes once it is up.
    world
        .apply("apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: TestMachineTemplate\nmetadata: {name: workers-v2, namespace: default}\nspec: {template: {spec: {plan: large}}}\n")
        .await;
    let rollout =
        json!({"spec": {"template": {"spec": {"infrastructureRef": {"name": "workers-v2"}}}}});
    deployments
        .patch("workers", &PatchParams::default(), &Patch::Merge(rollout))
        .await
        .unwrap();
    let rolled = eventually("the rollout to complete", 25, || async {
        let list = workers(&machines).await;
        let done = list.len() == 2
            && list.iter().all(|m| {
                m.labels()["cluster.x-k8s.io/set-name"] != ms_name && phase(m) == Some("Running")
            });
        done.then_some(list)
    })
    .await;
    let new_ms = sets
        .get(&rolled[0].labels()["cluster.x-k8s.io/set-name"])
        .await
        .unwrap();
    assert_eq!(
        new_ms.annotations()["machinedeployment.clusters.x-k8s.io/revision"],
        "2"
    );
    assert_ne!(
        new_ms.labels()["machine-template-hash"],
        before[0].labels()["machine-template-hash"]
    );
    eventually("the old MachineSet to be scaled to 0", 10, || async {
        (sets.get(&ms_name).await.unwrap().spec.replicas == Some(0)).then_some(())
    })
    .await;
    for m in &rolled {
        assert_eq!(
            infra.get(&m.name_any()).await.unwrap().annotations()["cluster.x-k8s.io/cloned-from-name"],
            "workers-v2"
        );
    }
}
