//! The test world: capp-testenv (Kubernetes API) and capp-sim (Equinix Metal) in-process on
//! loopback, with the real controllers running against them.

#![allow(
    dead_code,
    clippy::unused_async,
    reason = "each suite uses part of the harness; starting controllers stays async for callers"
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use capp_api::core::CoreVersion;
use capp_api::{PacketCluster, PacketMachine, v1beta2};
use capp_packet::{ClientConfig, CreateSshKey, Metal, MetalClient, RetryPolicy};
use capp_reconcile::context::Config;
use capp_reconcile::core::CoreApi;
use capp_reconcile::infra::{InfraApi, InfraVersion};
use capp_reconcile::metrics::Metrics;
use capp_reconcile::{Accounts, Context};
use capp_sim::{ClockMode, SimConfig, Simulator, Timings};
use capp_testenv::TestEnv;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::ResourceExt;
use kube::api::Resource;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bootstrap data of a worker: a cloud-config that joins with kubeadm.
pub(crate) const BOOT: &str = "#cloud-config\nruncmd: [kubeadm join]\n";

/// How long any wait in a test may take.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);
/// The namespace of every test object.
pub(crate) const NS: &str = "default";
/// Compressed timeline: controllers and simulator run 100x faster than real time.
pub(crate) const TIME_SCALE: f64 = 0.01;

/// A public key the simulator project knows (it refuses creates without any key).
pub(crate) const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvF3v3w8Qq3vQ8R0mZp2cTtJxH0l6q0m8B9nJ2w1Xy2 test@capp";

/// The running controllers.
pub(crate) struct Controllers {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    pub(crate) ctx: Arc<Context>,
    pub(crate) metal: MetalClient,
}

impl Controllers {
    /// Graceful stop (in-flight reconciles finish).
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(PATIENCE, self.task).await;
    }

    /// A crash: the controllers stop at once, mid-reconcile.
    pub(crate) fn kill(self) {
        self.task.abort();
    }
}

/// The Kubernetes API, the Metal API, and a way to run controllers against them.
pub(crate) struct World {
    pub(crate) env: TestEnv,
    pub(crate) sim: Simulator,
    pub(crate) client: kube::Client,
    pub(crate) core: CoreApi,
    /// The version of PacketCluster and PacketMachine installed (and used by the controllers).
    pub(crate) infra: InfraVersion,
}

/// The simulator's device timeline on the compressed clock: 4.8 s queued+provisioning and
/// 0.5 s deprovisioning in real time stand for 8 minutes and 50 seconds.
pub(crate) fn sim_config() -> SimConfig {
    SimConfig::default()
        .with_clock(ClockMode::Real)
        .with_timings(Timings {
            queued: Duration::from_millis(600),
            provisioning: Duration::from_millis(4200),
            deprovisioning: Duration::from_millis(500),
        })
}

impl World {
    /// Starts both servers with core objects served in `version`.
    pub(crate) async fn start(version: CoreVersion) -> World {
        Self::start_with(version, sim_config()).await
    }

    pub(crate) async fn start_with(version: CoreVersion, sim: SimConfig) -> World {
        Self::start_with_env(version, sim, capp_testenv::Config::default()).await
    }

    /// [`World::start_with`] on a capp-testenv configured by `env` (e.g. with RBAC on).
    pub(crate) async fn start_with_env(
        version: CoreVersion,
        sim: SimConfig,
        env: capp_testenv::Config,
    ) -> World {
        Self::start_full(version, sim, env, InfraVersion::V1Beta1).await
    }

    /// [`World::start`] with our CRDs serving only v1beta2
    /// (`capp_api::v1beta2::crds_v1beta2_only`): the controllers use v1beta2.
    pub(crate) async fn start_v1beta2(version: CoreVersion) -> World {
        Self::start_full(
            version,
            sim_config(),
            capp_testenv::Config::default(),
            InfraVersion::V1Beta2,
        )
        .await
    }

    async fn start_full(
        version: CoreVersion,
        sim: SimConfig,
        env: capp_testenv::Config,
        infra: InfraVersion,
    ) -> World {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "capp_reconcile=info".into()),
            )
            .with_test_writer()
            .try_init();
        let env = TestEnv::start(env).await.unwrap();
        match version {
            CoreVersion::V1Beta1 => env.install_crds(&capi_types::crds()).await.unwrap(),
            CoreVersion::V1Beta2 => env
                .install_crds(&capi_types::v1beta2::crds())
                .await
                .unwrap(),
        }
        match infra {
            InfraVersion::V1Beta1 => env.install_crds(&capp_api::crds()).await.unwrap(),
            InfraVersion::V1Beta2 => env
                .install_crds(&v1beta2::crds_v1beta2_only())
                .await
                .unwrap(),
        }
        let sim = Simulator::start(sim).await.unwrap();
        let client = env.client().unwrap();
        let world = World {
            env,
            sim,
            client,
            core: CoreApi::new(version),
            infra,
        };
        world
            .metal()
            .create_project_ssh_key(
                world.sim.default_project_id(),
                &CreateSshKey {
                    label: "test".into(),
                    key: SSH_KEY.into(),
                    ..CreateSshKey::default()
                },
            )
            .await
            .unwrap();
        world
    }

    /// A Metal client for the simulator (each has its own rate limiter and counters).
    pub(crate) fn metal(&self) -> MetalClient {
        MetalClient::new(
            ClientConfig::new(self.sim.token())
                .with_base_url(self.sim.base_url())
                .with_retry(RetryPolicy {
                    base_delay: Duration::from_millis(20),
                    max_delay: Duration::from_millis(200),
                    ..RetryPolicy::default()
                }),
        )
        .unwrap()
    }

    /// Starts the controllers with the test configuration.
    pub(crate) async fn controllers(&self) -> Controllers {
        self.controllers_with(|_| {}).await
    }

    /// A controller context on the test configuration (not running).
    pub(crate) fn context(&self, tweak: impl FnOnce(&mut Config)) -> (Arc<Context>, MetalClient) {
        self.context_with_client(self.client.clone(), tweak)
    }

    /// [`World::context`] with the controllers talking to Kubernetes through `client`.
    pub(crate) fn context_with_client(
        &self,
        client: kube::Client,
        tweak: impl FnOnce(&mut Config),
    ) -> (Arc<Context>, MetalClient) {
        let metal = self.metal();
        let base_url = self.sim.base_url();
        let factory: capp_reconcile::MetalFactory = Arc::new(move |token: &str| {
            Ok(Arc::new(MetalClient::new(
                ClientConfig::new(token).with_base_url(base_url.clone()),
            )?) as Arc<dyn Metal>)
        });
        let mut config = Config {
            time_scale: TIME_SCALE,
            sync_period: Duration::from_secs(6),
            ..Config::default()
        };
        tweak(&mut config);
        let ctx = Arc::new(
            Context::new(
                client,
                Accounts::new(Arc::new(metal.clone()), factory),
                Some(self.sim.token().to_owned()),
                self.core.clone(),
                config,
                Arc::new(Metrics::default()),
            )
            .with_infra(InfraApi::new(self.infra)),
        );
        (ctx, metal)
    }

    pub(crate) async fn controllers_with(&self, tweak: impl FnOnce(&mut Config)) -> Controllers {
        let (ctx, metal) = self.context(tweak);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(capp_reconcile::controller::run(ctx.clone(), async move {
            let _ = stopped.await;
        }));
        Controllers {
            stop: Some(stop),
            task,
            ctx,
            metal,
        }
    }

    fn dynamic(&self, resource: &kube::api::ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), NS, resource)
    }

    /// PacketClusters or PacketMachines in the installed version.
    pub(crate) fn infra_api(&self, kind: &str) -> Api<DynamicObject> {
        let infra = InfraApi::new(self.infra);
        let resource = if kind == "PacketCluster" {
            infra.packet_cluster
        } else {
            infra.packet_machine
        };
        Api::namespaced_with(self.client.clone(), NS, &resource)
    }

    /// Creates `obj` (a PacketCluster or PacketMachine as JSON, without `apiVersion`) in the
    /// installed version.
    pub(crate) async fn create_infra(&self, mut obj: Value) {
        obj["apiVersion"] = json!(self.infra.api_version());
        let kind = obj["kind"].as_str().unwrap().to_owned();
        match self.infra {
            // Through the typed v1beta1 kinds: their serde defaults are what users send.
            InfraVersion::V1Beta1 if kind == "PacketCluster" => {
                let pc: PacketCluster = serde_json::from_value(obj).unwrap();
                Api::<PacketCluster>::namespaced(self.client.clone(), NS)
                    .create(&PostParams::default(), &pc)
                    .await
                    .unwrap();
            }
            InfraVersion::V1Beta1 => {
                let pm: PacketMachine = serde_json::from_value(obj).unwrap();
                Api::<PacketMachine>::namespaced(self.client.clone(), NS)
                    .create(&PostParams::default(), &pm)
                    .await
                    .unwrap();
            }
            InfraVersion::V1Beta2 if kind == "PacketCluster" => {
                let pc: v1beta2::PacketCluster = serde_json::from_value(obj).unwrap();
                Api::<v1beta2::PacketCluster>::namespaced(self.client.clone(), NS)
                    .create(&PostParams::default(), &pc)
                    .await
                    .unwrap();
            }
            InfraVersion::V1Beta2 => {
                let pm: v1beta2::PacketMachine = serde_json::from_value(obj).unwrap();
                Api::<v1beta2::PacketMachine>::namespaced(self.client.clone(), NS)
                    .create(&PostParams::default(), &pm)
                    .await
                    .unwrap();
            }
        }
    }

    fn core_api_version(&self) -> String {
        format!("cluster.x-k8s.io/{}", self.core.version.as_str())
    }

    fn infra_ref(&self, kind: &str, name: &str) -> Value {
        match self.core.version {
            CoreVersion::V1Beta1 => {
                json!({"apiVersion": capp_api::API_VERSION, "kind": kind, "name": name})
            }
            CoreVersion::V1Beta2 => {
                json!({"apiGroup": capp_api::GROUP, "kind": kind, "name": name})
            }
        }
    }

    /// A Cluster `name` whose infrastructure is the PacketCluster of the same name, with its
    /// PacketCluster (owned by it). Returns the Cluster's UID.
    pub(crate) async fn cluster(&self, name: &str, packet_cluster_spec: Value) -> String {
        self.annotated_cluster(name, packet_cluster_spec, json!({}))
            .await
    }

    /// [`World::cluster`] with annotations on the PacketCluster.
    pub(crate) async fn annotated_cluster(
        &self,
        name: &str,
        packet_cluster_spec: Value,
        annotations: Value,
    ) -> String {
        let cluster: DynamicObject = serde_json::from_value(json!({
            "apiVersion": self.core_api_version(), "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"infrastructureRef": self.infra_ref("PacketCluster", name)},
        }))
        .unwrap();
        let cluster = self
            .dynamic(&self.core.cluster)
            .create(&PostParams::default(), &cluster)
            .await
            .unwrap();
        let uid = cluster.uid().unwrap();
        let mut spec = json!({"projectID": self.sim.default_project_id(), "metro": "da"});
        merge(&mut spec, packet_cluster_spec);
        self.create_infra(json!({
            "kind": "PacketCluster",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations,
                "labels": {"cluster.x-k8s.io/cluster-name": name},
                "ownerReferences": [{"apiVersion": self.core_api_version(), "kind": "Cluster",
                    "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": spec,
        }))
        .await;
        uid
    }

    /// A Machine and its PacketMachine in `cluster`; `bootstrap` names the data Secret.
    pub(crate) async fn machine(
        &self,
        cluster: &str,
        cluster_uid: &str,
        name: &str,
        control_plane: bool,
        bootstrap: Option<&str>,
        packet_machine_spec: Value,
    ) {
        self.machine_in(
            cluster,
            cluster_uid,
            name,
            control_plane,
            bootstrap,
            packet_machine_spec,
            None,
        )
        .await;
    }

    /// [`World::machine`] in the failure domain CAPI chose.
    #[expect(clippy::too_many_arguments, reason = "a test fixture with every knob")]
    pub(crate) async fn machine_in(
        &self,
        cluster: &str,
        cluster_uid: &str,
        name: &str,
        control_plane: bool,
        bootstrap: Option<&str>,
        packet_machine_spec: Value,
        failure_domain: Option<&str>,
    ) {
        let mut labels = json!({"cluster.x-k8s.io/cluster-name": cluster});
        if control_plane {
            labels["cluster.x-k8s.io/control-plane"] = json!("");
        }
        let mut spec = json!({
            "clusterName": cluster,
            "bootstrap": {},
            "infrastructureRef": self.infra_ref("PacketMachine", name),
            "version": "v1.33.1",
        });
        if let Some(secret) = bootstrap {
            spec["bootstrap"]["dataSecretName"] = json!(secret);
        }
        if let Some(domain) = failure_domain {
            spec["failureDomain"] = json!(domain);
        }
        if self.core.version == CoreVersion::V1Beta1 {
            spec["bootstrap"]["configRef"] = Value::Null;
            spec["bootstrap"]
                .as_object_mut()
                .unwrap()
                .remove("configRef");
        }
        let machine: DynamicObject = serde_json::from_value(json!({
            "apiVersion": self.core_api_version(), "kind": "Machine",
            "metadata": {"name": name, "namespace": NS, "labels": labels,
                "ownerReferences": [{"apiVersion": self.core_api_version(), "kind": "Cluster",
                    "name": cluster, "uid": cluster_uid}]},
            "spec": spec,
        }))
        .unwrap();
        let machine = self
            .dynamic(&self.core.machine)
            .create(&PostParams::default(), &machine)
            .await
            .unwrap();
        let mut pm_spec =
            json!({"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly"});
        merge(&mut pm_spec, packet_machine_spec);
        self.create_infra(json!({
            "kind": "PacketMachine",
            "metadata": {"name": name, "namespace": NS, "labels": labels,
                "ownerReferences": [{"apiVersion": self.core_api_version(), "kind": "Machine",
                    "name": name, "uid": machine.uid().unwrap(), "controller": true,
                    "blockOwnerDeletion": true}]},
            "spec": pm_spec,
        }))
        .await;
    }

    /// The bootstrap data Secret `name` with `value`.
    pub(crate) async fn bootstrap_secret(&self, name: &str, value: &str) {
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NS},
            "type": "cluster.x-k8s.io/secret",
            "stringData": {"value": value, "format": "cloud-config"},
        }))
        .unwrap();
        Api::<Secret>::namespaced(self.client.clone(), NS)
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }

    /// Sets the Machine's `spec.bootstrap.dataSecretName`, as the bootstrap provider does.
    pub(crate) async fn set_bootstrap(&self, machine: &str, secret: &str) {
        self.dynamic(&self.core.machine)
            .patch(
                machine,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"bootstrap": {"dataSecretName": secret}}})),
            )
            .await
            .unwrap();
    }

    /// Sets `Cluster.spec.paused`.
    pub(crate) async fn pause(&self, cluster: &str, paused: bool) {
        self.dynamic(&self.core.cluster)
            .patch(
                cluster,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"paused": paused}})),
            )
            .await
            .unwrap();
    }

    /// The object `name` of kind `K` in the test namespace, in `K`'s version.
    pub(crate) async fn get<K>(&self, name: &str) -> K
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        Api::<K>::namespaced(self.client.clone(), NS)
            .get(name)
            .await
            .unwrap()
    }

    pub(crate) async fn packet_machine(&self, name: &str) -> PacketMachine {
        self.get(name).await
    }

    pub(crate) async fn packet_cluster(&self, name: &str) -> PacketCluster {
        self.get(name).await
    }

    /// Deletes a PacketMachine (as the Machine controller does) and waits until it is gone.
    pub(crate) async fn delete_packet_machine(&self, name: &str) {
        let api = self.infra_api("PacketMachine");
        api.delete(name, &DeleteParams::default()).await.unwrap();
        eventually(&format!("PacketMachine {name} to be gone"), || async {
            api.get_opt(name).await.unwrap().is_none()
        })
        .await;
    }

    /// Deletes a PacketCluster and waits until it is gone.
    pub(crate) async fn delete_packet_cluster(&self, name: &str) {
        let api = self.infra_api("PacketCluster");
        api.delete(name, &DeleteParams::default()).await.unwrap();
        eventually(&format!("PacketCluster {name} to be gone"), || async {
            api.get_opt(name).await.unwrap().is_none()
        })
        .await;
    }

    /// Waits until the object `name` of kind `K` (in `K`'s version) satisfies `ok`.
    pub(crate) async fn until<K>(&self, name: &str, what: &str, ok: impl Fn(&K) -> bool) -> K
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api = Api::<K>::namespaced(self.client.clone(), NS);
        let mut last = None;
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(obj) = api.get_opt(name).await.unwrap() {
                    if ok(&obj) {
                        return obj;
                    }
                    last = Some(obj);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!("timed out waiting for {name} to be {what}; last: {last:#?}")
        })
    }

    /// Waits until the PacketMachine satisfies `ok`.
    pub(crate) async fn machine_until(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&PacketMachine) -> bool,
    ) -> PacketMachine {
        self.until(name, what, ok).await
    }

    pub(crate) async fn shutdown(self) {
        self.sim.shutdown().await;
        self.env.shutdown().await;
    }
}

/// Waits until `check` holds.
pub(crate) async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    tokio::time::timeout(PATIENCE, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

/// Status condition `type_` of a PacketMachine.
pub(crate) fn condition<'a>(
    pm: &'a PacketMachine,
    type_: &str,
) -> Option<&'a capi_types::conditions::Condition> {
    pm.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

/// The reason of condition `type_`, or "".
pub(crate) fn reason(pm: &PacketMachine, type_: &str) -> String {
    condition(pm, type_)
        .and_then(|c| c.reason.clone())
        .unwrap_or_default()
}
