//! The bootstrap provider's additions to the test world: its CRDs, its controller, Machines
//! whose bootstrap configRef points at a PacketKubeadmConfig, stand-ins for the two copies
//! CAPI core makes, the external tools (`cloud-init`, `kubectl`) with skip-or-fail, and the
//! userdata checks issue 13 asks for (`cloud-init schema` and capp-bootstrap's upstream kubeadm
//! type check).

#![allow(dead_code, reason = "each suite uses part of the harness")]

use std::time::Duration;

use capp_api::bootstrap::{PacketKubeadmConfig, PacketKubeadmConfigStatus};
use capp_api::core::CoreVersion;
use capp_bootstrap::CloudConfig;
use capp_bootstrap::kubeadm::upstream::check_config;
use capp_bootstrap::userdata::KUBEADM_CONFIG_PATH;
use capp_packet::{CreateDevice, IpAddressRequest, Location, Metal, RequestIpReservation};
use capp_reconcile::bootstrap::BootstrapSettings;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{NS, PATIENCE, World};

/// The bootstrap controller, running.
pub(crate) struct Bootstrap {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Bootstrap {
    /// Graceful stop.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(PATIENCE, self.task).await;
    }
}

/// Installs the bootstrap CRDs in the world's API server.
pub(crate) async fn install_crds(world: &World) {
    world
        .env
        .install_crds(&capp_api::bootstrap::crds())
        .await
        .unwrap();
}

/// Starts the bootstrap controller on the test configuration with `settings`.
pub(crate) fn start(world: &World, settings: BootstrapSettings) -> Bootstrap {
    let (ctx, _) = world.context(|_| {});
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(capp_reconcile::bootstrap::run(ctx, settings, async move {
        let _ = stopped.await;
    }));
    Bootstrap {
        stop: Some(stop),
        task,
    }
}

fn core_api_version(world: &World) -> String {
    format!("cluster.x-k8s.io/{}", world.core.version.as_str())
}

fn reference(world: &World, group: &str, version: &str, kind: &str, name: &str) -> Value {
    match world.core.version {
        CoreVersion::V1Beta1 => {
            json!({"apiVersion": format!("{group}/{version}"), "kind": kind, "name": name})
        }
        CoreVersion::V1Beta2 => json!({"apiGroup": group, "kind": kind, "name": name}),
    }
}

/// A Cluster with `spec.controlPlaneEndpoint` already set and no infrastructure object (for
/// tests of the bootstrap controller alone). Returns its UID.
pub(crate) async fn bare_cluster(world: &World, name: &str, endpoint: &str) -> String {
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": core_api_version(world), "kind": "Cluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "infrastructureRef": reference(world, capp_api::GROUP, capp_api::VERSION, "PacketCluster", name),
            "controlPlaneEndpoint": {"host": endpoint, "port": 6443},
        },
    }))
    .unwrap();
    Api::<DynamicObject>::namespaced_with(world.client.clone(), NS, &world.core.cluster)
        .create(&PostParams::default(), &cluster)
        .await
        .unwrap()
        .uid()
        .unwrap()
}

/// A Machine (control plane or worker) of `cluster` whose bootstrap configRef names a
/// PacketKubeadmConfig of the same name, owned by the Machine as CAPI core makes it, with
/// `spec`. With `packet_machine` the PacketMachine (owned by the Machine) is created too.
#[expect(clippy::too_many_arguments, reason = "a test fixture with every knob")]
pub(crate) async fn machine(
    world: &World,
    cluster: &str,
    cluster_uid: &str,
    name: &str,
    control_plane: bool,
    version: &str,
    spec: Value,
    packet_machine: Option<Value>,
) {
    let mut labels = json!({"cluster.x-k8s.io/cluster-name": cluster});
    if control_plane {
        labels["cluster.x-k8s.io/control-plane"] = json!("");
    }
    let machine: DynamicObject = serde_json::from_value(json!({
        "apiVersion": core_api_version(world), "kind": "Machine",
        "metadata": {"name": name, "namespace": NS, "labels": labels,
            "ownerReferences": [{"apiVersion": core_api_version(world), "kind": "Cluster",
                "name": cluster, "uid": cluster_uid}]},
        "spec": {
            "clusterName": cluster,
            "bootstrap": {"configRef": reference(world, capp_api::bootstrap::BOOTSTRAP_GROUP, "v1beta1", "PacketKubeadmConfig", name)},
            "infrastructureRef": reference(world, capp_api::GROUP, capp_api::VERSION, "PacketMachine", name),
            "version": version,
        },
    }))
    .unwrap();
    let machine =
        Api::<DynamicObject>::namespaced_with(world.client.clone(), NS, &world.core.machine)
            .create(&PostParams::default(), &machine)
            .await
            .unwrap();
    let owner = json!([{"apiVersion": core_api_version(world), "kind": "Machine",
        "name": name, "uid": machine.uid().unwrap(), "controller": true,
        "blockOwnerDeletion": true}]);
    if let Some(pm_spec) = packet_machine {
        world
            .create_infra(json!({
                "kind": "PacketMachine",
                "metadata": {"name": name, "namespace": NS, "labels": labels, "ownerReferences": owner},
                "spec": pm_spec,
            }))
            .await;
    }
    let config: PacketKubeadmConfig = serde_json::from_value(json!({
        "apiVersion": capp_api::bootstrap::BOOTSTRAP_API_VERSION, "kind": "PacketKubeadmConfig",
        "metadata": {"name": name, "namespace": NS, "labels": labels, "ownerReferences": owner},
        "spec": spec,
    }))
    .unwrap();
    Api::<PacketKubeadmConfig>::namespaced(world.client.clone(), NS)
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
}

/// Deletes a Machine (the config goes with it in a real cluster through garbage
/// collection; the test deletes the config itself, as the API server here has no GC).
pub(crate) async fn delete_machine(world: &World, name: &str) {
    Api::<DynamicObject>::namespaced_with(world.client.clone(), NS, &world.core.machine)
        .delete(name, &kube::api::DeleteParams::default())
        .await
        .unwrap();
    let _ = Api::<PacketKubeadmConfig>::namespaced(world.client.clone(), NS)
        .delete(name, &kube::api::DeleteParams::default())
        .await;
}

/// The config `name`.
pub(crate) async fn config(world: &World, name: &str) -> PacketKubeadmConfig {
    Api::<PacketKubeadmConfig>::namespaced(world.client.clone(), NS)
        .get(name)
        .await
        .unwrap()
}

/// Waits until the config's status satisfies `ok`.
pub(crate) async fn config_until(
    world: &World,
    name: &str,
    what: &str,
    ok: impl Fn(&PacketKubeadmConfigStatus) -> bool,
) -> PacketKubeadmConfig {
    let api = Api::<PacketKubeadmConfig>::namespaced(world.client.clone(), NS);
    let mut last = None;
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(config) = api.get_opt(name).await.unwrap() {
                if ok(&config.status.clone().unwrap_or_default()) {
                    return config;
                }
                last = config.status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {name} to be {what}; last: {last:#?}"))
}

/// The condition `type_` of a status, as `(status, reason, message)`.
pub(crate) fn condition(
    status: &PacketKubeadmConfigStatus,
    type_: &str,
) -> (String, String, String) {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

/// The reason of condition `type_`, or "".
pub(crate) fn reason(status: &PacketKubeadmConfigStatus, type_: &str) -> String {
    condition(status, type_).1
}

/// A Secret of the world's namespace, if it exists.
pub(crate) async fn secret(world: &World, name: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(world.client.clone(), NS)
        .get_opt(name)
        .await
        .unwrap()
}

/// A text key of a Secret.
pub(crate) fn text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

/// Stands in for CAPI core's Machine controller: once the config reports its data Secret,
/// copy `status.dataSecretName` into `Machine.spec.bootstrap.dataSecretName`.
pub(crate) async fn copy_data_secret_name(world: &World, name: &str) -> String {
    let config = config_until(
        world,
        name,
        "ready",
        PacketKubeadmConfigStatus::data_secret_created,
    )
    .await;
    let secret = config.status.unwrap().data_secret_name.unwrap();
    world.set_bootstrap(name, &secret).await;
    secret
}

/// Stands in for CAPI core's Cluster controller: copies the PacketCluster's
/// `spec.controlPlaneEndpoint` to the Cluster once the infrastructure controller set it.
pub(crate) async fn copy_control_plane_endpoint(world: &World, cluster: &str) -> String {
    let mut host = String::new();
    crate::support::eventually("the PacketCluster endpoint", || async {
        world
            .packet_cluster(cluster)
            .await
            .control_plane_endpoint()
            .is_some_and(|e| !e.host.is_empty())
    })
    .await;
    let endpoint = world
        .packet_cluster(cluster)
        .await
        .control_plane_endpoint()
        .cloned()
        .unwrap();
    host.push_str(&endpoint.host);
    Api::<DynamicObject>::namespaced_with(world.client.clone(), NS, &world.core.cluster)
        .patch(
            cluster,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"controlPlaneEndpoint": {"host": endpoint.host, "port": endpoint.port}}})),
        )
        .await
        .unwrap();
    format!("{host}:{}", endpoint.port)
}

/// Moves the simulator's address counters of `metro` past the addresses other test binaries
/// (capp-twin's, capp-sim's) use in the same metro, so that workload API servers of parallel
/// test processes never try to bind the same loopback address: one /27 Elastic IP block
/// and one device holding a /28 public block.
pub(crate) async fn skip_shared_addresses(world: &World, metro: &str) {
    let metal = world.metal();
    let project = world.sim.default_project_id();
    metal
        .request_ip_reservation(
            project,
            &RequestIpReservation::in_metro("public_ipv4", 32, metro),
        )
        .await
        .unwrap();
    let mut request = CreateDevice::new(
        Location::Metro(metro.to_owned()),
        "c3.small.x86",
        "ubuntu_24_04",
    );
    request.hostname = Some("address-spacer".to_owned());
    request.no_ssh_keys = Some(true);
    request.ip_addresses = vec![
        IpAddressRequest {
            address_family: 4,
            public: true,
            cidr: Some(28),
            ip_reservations: Vec::new(),
        },
        IpAddressRequest {
            address_family: 4,
            public: false,
            cidr: Some(28),
            ip_reservations: Vec::new(),
        },
    ];
    metal.create_device(project, &request).await.unwrap();
}

/// Whether an external tool is present; otherwise skip loudly, or fail under `CI=true`.
pub(crate) fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is required under CI=true but is missing"
    );
    eprintln!("SKIPPED: {what} is missing; this check did not run");
    false
}

/// The path of an executable on `PATH`, if any.
pub(crate) fn tool(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs `cloud-init schema` on `userdata`; `false` when cloud-init is missing (and not CI).
pub(crate) fn cloud_init_schema(userdata: &str, label: &str) -> bool {
    let Some(cloud_init) = tool("cloud-init") else {
        return require("cloud-init (apt-get install -y cloud-init)", false);
    };
    let dir = std::env::temp_dir().join(format!("capp-bootstrap-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{label}.yaml"));
    std::fs::write(&path, userdata).unwrap();
    let out = std::process::Command::new(cloud_init)
        .args(["schema", "--config-file"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "cloud-init schema rejects the {label} userdata: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// The kubeadm configuration a rendered userdata writes to [`KUBEADM_CONFIG_PATH`], as text.
///
/// The userdata is parsed as a [`CloudConfig`], which decodes `encoding: b64` (and rejects
/// encodings it does not know, such as `gz+b64`, with an error naming the path), so the
/// configuration is checked as cloud-init would write it, whatever its encoding.
pub(crate) fn kubeadm_yaml(userdata: &str) -> String {
    let cloud: CloudConfig = serde_saphyr::from_str(userdata).unwrap();
    let file = cloud
        .write_files
        .iter()
        .find(|f| f.path == KUBEADM_CONFIG_PATH)
        .expect("the kubeadm configuration is written");
    assert_eq!(file.permissions, "0600", "it holds the token");
    String::from_utf8(file.bytes().to_vec()).expect("the kubeadm configuration is UTF-8")
}

/// The kubeadm documents of a userdata we rendered.
pub(crate) fn kubeadm_documents(userdata: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(&kubeadm_yaml(userdata)).unwrap()
}

/// Checks a rendered userdata as issue 13's acceptance asks: its kubeadm configuration holds a
/// `kind` document and every key path passes capp-bootstrap's upstream kubeadm type check
/// (always run: it is pure), and the whole passes `cloud-init schema` (skip-or-fail).
pub(crate) fn check_userdata(userdata: &str, label: &str, kind: &str) {
    let paths = check_config(&kubeadm_yaml(userdata)).unwrap_or_else(|errors| {
        panic!(
            "the kubeadm configuration of the {label} userdata does not match the upstream \
             kubeadm types:\n{}",
            errors.join("\n")
        )
    });
    assert!(
        paths.iter().any(|p| p.contains(&format!(" {kind} .kind"))),
        "the {label} userdata has no {kind}: {paths:?}"
    );
    cloud_init_schema(userdata, label);
}
