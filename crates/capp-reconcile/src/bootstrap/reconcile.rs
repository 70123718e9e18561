//! One reconcile of a PacketKubeadmConfig (see the module documentation of
//! [`crate::bootstrap`] for the flow).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use capi_types::conditions::{Conditions, Severity};
use capp_api::bootstrap::{
    self as api, CERTIFICATES_AVAILABLE, DATA_SECRET_AVAILABLE, PacketKubeadmConfig,
    PacketKubeadmConfigStatus,
};
use capp_api::core::{ClusterView, MachineView};
use capp_bootstrap::inputs::{CertificateAuthority, InitMaterial, ServiceAccountKeys};
use capp_bootstrap::{
    ApiEndpoint, ClusterSpec, JoinDiscovery, KubernetesVersion, MachineConfigMatrix, MachineQuery,
    NodeRole, UserdataRequest,
};
use capp_pki::capi::{CLUSTER_NAME_LABEL, CLUSTER_SECRET_TYPE};
use capp_pki::secrecy::{ExposeSecret, SecretString};
use capp_pki::{BootstrapToken, ClusterPki};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::BootstrapError;
use super::lock::{self, LockState};
use super::{
    BootstrapContext, CONTROLLER, FORMAT_CLOUD_CONFIG, MATRIX_FLAG, MATRIX_KEY, MatrixSource,
    WAIT_FOR_CONTROL_PLANE, pki, render, workload,
};
use crate::context::FIELD_MANAGER;
use crate::requeue::{STALLED, WAIT_FOR_OWNER};
use crate::status::{message_chain, publish, set_paused};

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// Reconciles one PacketKubeadmConfig.
#[tracing::instrument(skip_all, fields(PacketKubeadmConfig = %config.name_any(), namespace = config.namespace().unwrap_or_default()))]
pub(crate) async fn reconcile(
    config: Arc<PacketKubeadmConfig>,
    bctx: Arc<BootstrapContext>,
) -> Result<Action> {
    let started = std::time::Instant::now();
    let result = Box::pin(reconcile_inner(&config, &bctx)).await;
    bctx.ctx
        .metrics
        .reconciled(CONTROLLER, started.elapsed().as_secs_f64());
    if result.is_ok() {
        bctx.ctx.backoff.reset(&config.uid().unwrap_or_default());
    }
    result
}

/// Backs off after a failed reconcile (terminal errors wait for a change).
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run expects"
)]
pub(crate) fn error_policy(
    config: Arc<PacketKubeadmConfig>,
    error: &BootstrapError,
    bctx: Arc<BootstrapContext>,
) -> Action {
    let ctx = &bctx.ctx;
    ctx.metrics.failed(CONTROLLER, error.reason());
    let uid = config.uid().unwrap_or_default();
    let wait = ctx.backoff.next(&uid, error.is_terminal(), None);
    tracing::warn!(PacketKubeadmConfig = %config.name_any(), reason = error.reason(), error = %message_chain(error), ?wait, "Reconcile failed");
    Action::requeue(ctx.config.scaled(wait))
}

/// Everything one reconcile works with.
struct Scope<'a> {
    bctx: &'a BootstrapContext,
    config: &'a PacketKubeadmConfig,
    namespace: String,
    machine_obj: DynamicObject,
    machine: MachineView,
    cluster: ClusterView,
    cluster_owner: OwnerReference,
    status: PacketKubeadmConfigStatus,
}

impl Scope<'_> {
    fn client(&self) -> &kube::Client {
        &self.bctx.ctx.client
    }

    fn cluster_name(&self) -> &str {
        self.cluster.metadata.name.as_deref().unwrap_or_default()
    }

    fn cluster_id(&self) -> String {
        format!("{}/{}", self.namespace, self.cluster_name())
    }

    fn machine_name(&self) -> &str {
        self.machine.metadata.name.as_deref().unwrap_or_default()
    }

    fn requeue(&self, period: Duration) -> Action {
        self.bctx.ctx.requeue(period)
    }

    /// Sets `DataSecretAvailable` to False (waiting, `Info`) with `reason`.
    fn waiting(&mut self, reason: &str, message: &str) {
        self.status.mark_false(
            DATA_SECRET_AVAILABLE,
            reason,
            Severity::Info,
            message,
            jiff::Timestamp::now(),
        );
    }
}

/// The Machine owning the config (controller reference of kind Machine).
fn owner_machine(config: &PacketKubeadmConfig) -> Option<String> {
    config
        .owner_references()
        .iter()
        .find(|o| {
            o.kind == "Machine"
                && o.api_version.split('/').next() == Some(capi_types::labels::GROUP)
        })
        .map(|o| o.name.clone())
}

/// The owners of a config, or why the reconcile waits.
enum Fetched<'a> {
    Ready(Box<Scope<'a>>),
    Wait(Action),
}

/// Reads the owner Machine and its Cluster (CABPK's order); waits without error while one
/// is missing.
async fn fetch<'a>(
    config: &'a PacketKubeadmConfig,
    bctx: &'a BootstrapContext,
) -> Result<Fetched<'a>> {
    let ctx = &bctx.ctx;
    let namespace = config.namespace().unwrap_or_default();
    let Some(machine_name) = owner_machine(config) else {
        tracing::info!("Waiting for the Machine controller to set the owner reference");
        return Ok(Fetched::Wait(Action::await_change()));
    };
    let machines: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &ctx.core.machine);
    let Some(machine_obj) = machines
        .get_opt(&machine_name)
        .await
        .map_err(BootstrapError::kube("read the owner Machine"))?
    else {
        tracing::info!(machine = %machine_name, "Waiting for the owner Machine");
        return Ok(Fetched::Wait(ctx.requeue(WAIT_FOR_OWNER)));
    };
    let machine = ctx
        .core
        .machine_view(&machine_obj)
        .map_err(|e| BootstrapError::Invalid {
            field: format!("Machine {namespace}/{machine_name}"),
            message: message_chain(&e),
        })?;
    let clusters: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &ctx.core.cluster);
    let Some(cluster_obj) = clusters
        .get_opt(&machine.cluster_name)
        .await
        .map_err(BootstrapError::kube("read the Cluster"))?
    else {
        tracing::info!(cluster = %machine.cluster_name, "Waiting for the Cluster");
        return Ok(Fetched::Wait(ctx.requeue(WAIT_FOR_OWNER)));
    };
    let cluster = ctx
        .core
        .cluster_view(&cluster_obj)
        .map_err(|e| BootstrapError::Invalid {
            field: format!("Cluster {namespace}/{}", machine.cluster_name),
            message: message_chain(&e),
        })?;
    let cluster_owner = OwnerReference {
        api_version: cluster_obj.types.as_ref().map_or_else(
            || ctx.core.cluster.api_version.clone(),
            |t| t.api_version.clone(),
        ),
        kind: "Cluster".to_owned(),
        name: machine.cluster_name.clone(),
        uid: cluster_obj.uid().unwrap_or_default(),
        ..OwnerReference::default()
    };
    Ok(Fetched::Ready(Box::new(Scope {
        bctx,
        config,
        namespace,
        machine_obj,
        machine,
        cluster,
        cluster_owner,
        status: config.status.clone().unwrap_or_default(),
    })))
}

async fn reconcile_inner(config: &PacketKubeadmConfig, bctx: &BootstrapContext) -> Result<Action> {
    if config.metadata.deletion_timestamp.is_some() {
        // The data Secret is owned by the config and goes with it.
        return Ok(Action::await_change());
    }
    let mut scope = match fetch(config, bctx).await? {
        Fetched::Ready(scope) => *scope,
        Fetched::Wait(action) => return Ok(action),
    };
    let original = scope.status.clone();
    let now = jiff::Timestamp::now();
    if scope.cluster.pauses(config) {
        let message = if scope.cluster.spec_paused {
            "Cluster spec.paused is set to true"
        } else {
            "the cluster.x-k8s.io/paused annotation is set"
        };
        set_paused(&mut scope.status, Some(message), now);
        write_status(&scope, &original).await?;
        return Ok(scope.requeue(STALLED));
    }
    set_paused(&mut scope.status, None, now);

    let outcome = phases(&mut scope).await;
    if let Err(e) = &outcome {
        scope.status.mark_false(
            e.condition(),
            e.reason(),
            if e.is_terminal() {
                Severity::Error
            } else {
                Severity::Warning
            },
            &message_chain(e),
            jiff::Timestamp::now(),
        );
    }
    scope.status.set_summary_of(
        &[DATA_SECRET_AVAILABLE, CERTIFICATES_AVAILABLE],
        jiff::Timestamp::now(),
    );
    if outcome.is_ok() {
        scope.status.observed_generation = config.metadata.generation;
    }
    write_status(&scope, &original).await?;
    match outcome {
        Ok(action) => Ok(action),
        // Terminal: the condition says what to change; a change of the objects (or the
        // resync, for the matrix ConfigMap) brings us back.
        Err(e) if e.is_terminal() => {
            tracing::warn!(reason = e.reason(), error = %message_chain(&e), "Cannot render the bootstrap data");
            publish(
                &scope.bctx.ctx,
                config,
                EventType::Warning,
                e.reason(),
                "Bootstrap",
                message_chain(&e),
            )
            .await;
            Ok(scope.requeue(STALLED))
        }
        Err(e) => Err(e),
    }
}

/// Applies the status when it changed (server-side apply of `status` only).
async fn write_status(scope: &Scope<'_>, original: &PacketKubeadmConfigStatus) -> Result<()> {
    if &scope.status == original {
        return Ok(());
    }
    let api: Api<PacketKubeadmConfig> = Api::namespaced(scope.client().clone(), &scope.namespace);
    let body = json!({
        "apiVersion": PacketKubeadmConfig::api_version(&()),
        "kind": PacketKubeadmConfig::kind(&()),
        "status": scope.status,
    });
    api.patch_status(
        &scope.config.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(BootstrapError::kube("write the PacketKubeadmConfig status"))?;
    Ok(())
}

/// Whether the Machine has a Node (`status.nodeRef`, both versions).
fn joined(machine: &DynamicObject) -> bool {
    machine
        .data
        .pointer("/status/nodeRef/name")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|n| !n.is_empty())
}

async fn phases(scope: &mut Scope<'_>) -> Result<Action> {
    let data_secret = scope.config.name_any();
    let secrets: Api<Secret> = Api::namespaced(scope.client().clone(), &scope.namespace);
    if scope.status.data_secret_created()
        && let Some(existing) = secrets
            .get_opt(&data_secret)
            .await
            .map_err(BootstrapError::kube("read the bootstrap data Secret"))?
    {
        return after_data_secret(scope, &existing).await;
    }
    let Some(inputs) = inputs(scope).await? else {
        scope.waiting(
            api::WAITING_FOR_CONTROL_PLANE_ENDPOINT_REASON,
            "waiting for the Cluster's spec.controlPlaneEndpoint (the infrastructure provider sets it)",
        );
        return Ok(scope.requeue(WAIT_FOR_CONTROL_PLANE));
    };
    let control_plane = scope.machine.control_plane;
    render::check_selection(
        &inputs.matrix,
        &scope.config.spec,
        &MachineQuery {
            image: inputs.image.clone(),
            kubelet: inputs.version,
            control_plane: control_plane.then_some(inputs.version),
        },
    )?;
    let cluster_pki = cluster_pki(scope, &inputs.endpoint).await?;
    let workload_client = workload_client(scope).await?;
    let initialized = scope.cluster.control_plane_initialized
        || match &workload_client {
            Some(client) => workload::initialized(client).await,
            None => false,
        };
    let Some((role, token)) = role(scope, &cluster_pki, initialized, workload_client).await? else {
        return Ok(scope.requeue(WAIT_FOR_CONTROL_PLANE));
    };
    let role_name = role.name();
    let init = matches!(role, NodeRole::ControlPlaneInit(_));
    let request = UserdataRequest::new(
        inputs.image,
        inputs.version,
        role,
        cluster_spec(scope, inputs.endpoint),
        JoinDiscovery {
            token: SecretString::from(token.token().expose().to_owned()),
            ca_cert_hashes: vec![cluster_pki.ca_cert_hash()],
        },
    );
    let userdata = match render::render(&inputs.matrix, &scope.config.spec, &request) {
        Ok(userdata) => userdata,
        Err(e) => {
            if init {
                // This Machine cannot run kubeadm init: let another control plane do it.
                lock::release(scope.client(), &scope.namespace, scope.cluster_name()).await?;
            }
            return Err(e);
        }
    };
    write_data_secret(scope, &data_secret, &userdata).await?;
    scope.status.set_data_secret(&data_secret);
    scope
        .status
        .mark_true(DATA_SECRET_AVAILABLE, jiff::Timestamp::now());
    publish(
        &scope.bctx.ctx,
        scope.config,
        EventType::Normal,
        "BootstrapDataCreated",
        "Bootstrap",
        format!("Wrote the {role_name} bootstrap data to Secret {data_secret}"),
    )
    .await;
    tracing::info!(role = role_name, secret = %data_secret, "Bootstrap data written");
    Ok(if control_plane && !initialized {
        // The init lock is released once the control plane is initialized.
        scope.requeue(WAIT_FOR_CONTROL_PLANE)
    } else if control_plane {
        Action::await_change()
    } else {
        token_check(scope)
    })
}

/// What the userdata is rendered from, besides the role.
struct Inputs {
    endpoint: ApiEndpoint,
    version: KubernetesVersion,
    image: String,
    matrix: Arc<MachineConfigMatrix>,
}

/// The endpoint, Kubernetes version, OS and matrix; `None` while the Cluster has no
/// endpoint.
async fn inputs(scope: &Scope<'_>) -> Result<Option<Inputs>> {
    let Some(endpoint) = scope
        .cluster
        .control_plane_endpoint
        .clone()
        .filter(capi_types::common::ApiEndpoint::is_valid)
    else {
        return Ok(None);
    };
    let port = u16::try_from(endpoint.port).map_err(|_| BootstrapError::Invalid {
        field: "Cluster spec.controlPlaneEndpoint.port".to_owned(),
        message: format!("{} is not a TCP port", endpoint.port),
    })?;
    let version: KubernetesVersion = scope
        .machine
        .kubernetes_version
        .as_deref()
        .ok_or_else(|| BootstrapError::Invalid {
            field: "Machine spec.version".to_owned(),
            message: "is required: the matrix is selected by Kubernetes version (e.g. v1.33.1)"
                .to_owned(),
        })?
        .parse()
        .map_err(|e: capp_bootstrap::Error| BootstrapError::Invalid {
            field: "Machine spec.version".to_owned(),
            message: e.to_string(),
        })?;
    Ok(Some(Inputs {
        endpoint: ApiEndpoint {
            host: endpoint.host,
            port,
        },
        version,
        image: os(scope).await?,
        matrix: matrix(scope.bctx).await?,
    }))
}

/// The cluster's CAs (reused or created once) and its admin kubeconfig.
async fn cluster_pki(scope: &mut Scope<'_>, endpoint: &ApiEndpoint) -> Result<ClusterPki> {
    let cluster = scope.cluster_name().to_owned();
    let ensured = pki::ensure_pki(
        scope.client(),
        &scope.namespace,
        &cluster,
        &scope.cluster_owner,
    )
    .await?;
    if !ensured.created.is_empty() {
        publish(
            &scope.bctx.ctx,
            scope.config,
            EventType::Normal,
            "CertificatesCreated",
            "Bootstrap",
            format!(
                "Created the cluster CA Secrets {}",
                ensured.created.join(", ")
            ),
        )
        .await;
    }
    scope
        .status
        .mark_true(CERTIFICATES_AVAILABLE, jiff::Timestamp::now());
    let server = format!("https://{}:{}", endpoint.host, endpoint.port);
    pki::ensure_kubeconfig(
        scope.client(),
        &scope.namespace,
        &cluster,
        &server,
        &ensured.pki,
        &scope.cluster_owner,
    )
    .await?;
    Ok(ensured.pki)
}

/// The cluster settings of the kubeadm configuration, with the spec's overrides.
fn cluster_spec(scope: &Scope<'_>, endpoint: ApiEndpoint) -> ClusterSpec {
    let mut spec = ClusterSpec::new(scope.cluster_name(), endpoint);
    if let Some(overrides) = &scope.config.spec.kubeadm {
        if let Some(v) = &overrides.pod_subnet {
            spec.pod_subnet.clone_from(v);
        }
        if let Some(v) = &overrides.service_subnet {
            spec.service_subnet.clone_from(v);
        }
        if let Some(v) = &overrides.dns_domain {
            spec.dns_domain.clone_from(v);
        }
    }
    spec
}

/// The node's role and its token: join (with a token minted in the workload cluster) once
/// the control plane is initialized, else init for the holder of the lock. `None` (with the
/// waiting condition set) when this Machine has to wait.
async fn role(
    scope: &mut Scope<'_>,
    pki: &ClusterPki,
    initialized: bool,
    workload_client: Option<kube::Client>,
) -> Result<Option<(NodeRole, BootstrapToken)>> {
    let cluster = scope.cluster_name().to_owned();
    let control_plane = scope.machine.control_plane;
    if initialized {
        let Some(client) = workload_client else {
            return Err(BootstrapError::Invalid {
                field: format!("Secret {}/{cluster}-kubeconfig", scope.namespace),
                message: "is missing although the control plane is initialized".to_owned(),
            });
        };
        // The control plane exists: the init lock has done its job.
        lock::release(scope.client(), &scope.namespace, &cluster).await?;
        let token =
            workload::create_token(&client, &scope.cluster_id(), scope.bctx.settings.token_ttl)
                .await?;
        let role = if control_plane {
            NodeRole::ControlPlaneJoin {
                certificate_key: certificate_key(pki),
            }
        } else {
            NodeRole::Worker
        };
        return Ok(Some((role, token)));
    }
    if !control_plane {
        scope.waiting(
            api::WAITING_FOR_CONTROL_PLANE_AVAILABLE_REASON,
            "waiting for the control plane to be initialized before a worker can join",
        );
        return Ok(None);
    }
    let machines: Api<DynamicObject> = Api::namespaced_with(
        scope.client().clone(),
        &scope.namespace,
        &scope.bctx.ctx.core.machine,
    );
    let state = lock::acquire(
        scope.client(),
        &machines,
        &scope.namespace,
        &cluster,
        &scope.cluster_owner,
        scope.machine_name(),
    )
    .await?;
    if let LockState::HeldBy(holder) = state {
        let message = if holder.is_empty() {
            "another control-plane Machine is initializing the cluster; this one joins afterwards"
                .to_owned()
        } else {
            format!(
                "control-plane Machine {holder} is initializing the cluster; this one joins afterwards"
            )
        };
        scope.waiting(api::WAITING_FOR_INIT_LOCK_REASON, &message);
        return Ok(None);
    }
    // kubeadm init creates this token itself (InitConfiguration.bootstrapTokens).
    let token = {
        let mut rng = capp_pki::rand::rng();
        BootstrapToken::generate(&mut rng)
    };
    Ok(Some((
        NodeRole::ControlPlaneInit(Box::new(init_material(pki))),
        token,
    )))
}

/// How often a worker that has not joined checks its token (CABPK: TTL / 3).
fn token_check(scope: &Scope<'_>) -> Action {
    Action::requeue(scope.bctx.settings.token_ttl / 3)
}

/// After the data Secret exists: keep the worker's token valid until its Machine has a Node,
/// and release the init lock once the control plane is initialized.
async fn after_data_secret(scope: &mut Scope<'_>, secret: &Secret) -> Result<Action> {
    scope
        .status
        .mark_true(DATA_SECRET_AVAILABLE, jiff::Timestamp::now());
    let cluster = scope.cluster_name().to_owned();
    if scope.machine.control_plane {
        let locks: Api<ConfigMap> = Api::namespaced(scope.client().clone(), &scope.namespace);
        let held_by_us = locks
            .get_opt(&lock::lock_name(&cluster))
            .await
            .map_err(BootstrapError::kube("read the control-plane init lock"))?
            .and_then(|cm| cm.data?.get(lock::LOCK_INFORMATION_KEY).cloned())
            .is_some_and(|info| info.contains(&format!("\"{}\"", scope.machine_name())));
        if !held_by_us {
            return Ok(Action::await_change());
        }
        let initialized = scope.cluster.control_plane_initialized
            || match workload_client(scope).await? {
                Some(client) => workload::initialized(&client).await,
                None => false,
            };
        if initialized {
            lock::release(scope.client(), &scope.namespace, &cluster).await?;
            tracing::info!("Control plane initialized, released the init lock");
            return Ok(Action::await_change());
        }
        return Ok(scope.requeue(WAIT_FOR_CONTROL_PLANE));
    }
    if joined(&scope.machine_obj) {
        return Ok(Action::await_change());
    }
    let userdata = secret
        .data
        .as_ref()
        .and_then(|d| d.get("value"))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default();
    let Some(token) = render::join_token(&userdata)? else {
        return Ok(Action::await_change());
    };
    let Some(client) = workload_client(scope).await? else {
        return Ok(token_check(scope));
    };
    let refresh = workload::refresh_token(
        &client,
        &scope.cluster_id(),
        &token,
        scope.bctx.settings.token_ttl,
    )
    .await?;
    if refresh != workload::Refresh::Valid {
        tracing::info!(
            token_id = token.id(),
            ?refresh,
            "Refreshed the bootstrap token of a Machine that has not joined yet"
        );
        publish(
            &scope.bctx.ctx,
            scope.config,
            EventType::Normal,
            "BootstrapTokenRefreshed",
            "Bootstrap",
            format!(
                "Extended bootstrap token {} in the workload cluster",
                token.id()
            ),
        )
        .await;
    }
    Ok(token_check(scope))
}

/// A client for the workload cluster, when its kubeconfig exists.
async fn workload_client(scope: &Scope<'_>) -> Result<Option<kube::Client>> {
    let cluster = scope.cluster_name().to_owned();
    let Some(kubeconfig) = pki::read_kubeconfig(scope.client(), &scope.namespace, &cluster).await?
    else {
        return Ok(None);
    };
    workload::client(&kubeconfig, &scope.cluster_id())
        .await
        .map(Some)
}

/// The OS slug: `spec.os`, else the PacketMachine's `spec.os`.
async fn os(scope: &Scope<'_>) -> Result<String> {
    if let Some(os) = scope.config.spec.os.as_ref().filter(|s| !s.is_empty()) {
        return Ok(os.clone());
    }
    let missing = |why: String| BootstrapError::Invalid {
        field: "spec.os".to_owned(),
        message: format!("{why}; set spec.os to the Equinix Metal OS slug (e.g. ubuntu_24_04)"),
    };
    let Some(infra) = scope.machine.infrastructure_ref.as_ref() else {
        return Err(missing("the Machine has no infrastructureRef".to_owned()));
    };
    if infra.kind != "PacketMachine" || infra.api_group != capp_api::GROUP {
        return Err(missing(format!(
            "the Machine's infrastructure is a {}, not a PacketMachine",
            infra.kind
        )));
    }
    // Read in the served version (`spec.os` is the same field in v1beta1 and v1beta2).
    let machines: Api<DynamicObject> = Api::namespaced_with(
        scope.client().clone(),
        &scope.namespace,
        &scope.bctx.ctx.infra.packet_machine,
    );
    let pm = machines
        .get_opt(&infra.name)
        .await
        .map_err(BootstrapError::kube("read the PacketMachine"))?
        .ok_or_else(|| missing(format!("PacketMachine {} does not exist yet", infra.name)))?;
    Ok(pm.data["spec"]["os"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The matrix in effect: the built-in one, or the operator's ConfigMap.
async fn matrix(bctx: &BootstrapContext) -> Result<Arc<MachineConfigMatrix>> {
    let (namespace, name) = match &bctx.settings.matrix {
        MatrixSource::BuiltIn => return Ok(bctx.built_in.clone()),
        MatrixSource::ConfigMap { namespace, name } => (namespace, name),
    };
    let field = || format!("ConfigMap {namespace}/{name} ({MATRIX_FLAG})");
    let api: Api<ConfigMap> = Api::namespaced(bctx.ctx.client.clone(), namespace);
    let cm = api
        .get_opt(name)
        .await
        .map_err(BootstrapError::kube("read the matrix ConfigMap"))?
        .ok_or_else(|| BootstrapError::Invalid {
            field: field(),
            message: format!(
                "does not exist: create it with the key {MATRIX_KEY}, or start the manager without {MATRIX_FLAG} to use the built-in matrix"
            ),
        })?;
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(MATRIX_KEY))
        .ok_or_else(|| BootstrapError::Invalid {
            field: field(),
            message: format!("has no key {MATRIX_KEY}"),
        })?;
    MachineConfigMatrix::from_yaml(text)
        .map(Arc::new)
        .map_err(|e| BootstrapError::Invalid {
            field: format!("{} key {MATRIX_KEY}", field()),
            message: e.to_string(),
        })
}

/// The key `kubeadm init --upload-certs` encrypts the control-plane certificates with,
/// derived from the cluster CA key so that every control plane of the cluster gets the same
/// one without storing another secret (64 lowercase hex digits).
fn certificate_key(pki: &ClusterPki) -> SecretString {
    let mut hasher = Sha256::new();
    hasher.update(b"capp kubeadm certificate key\n");
    hasher.update(pki.ca.key_pem().expose_secret().as_bytes());
    let digest = hasher.finalize();
    let hex = digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    SecretString::from(hex)
}

/// What the first control plane needs to run `kubeadm init` with the cluster's CAs.
fn init_material(pki: &ClusterPki) -> InitMaterial {
    let ca = |ca: &capp_pki::CertificateAuthority| CertificateAuthority {
        cert_pem: ca.cert_pem().to_owned(),
        key_pem: ca.key_pem(),
    };
    InitMaterial {
        certificate_key: certificate_key(pki),
        ca: ca(&pki.ca),
        etcd_ca: ca(&pki.etcd_ca),
        front_proxy_ca: ca(&pki.front_proxy_ca),
        service_account: ServiceAccountKeys {
            public_pem: pki.service_account.public_key_pem(),
            private_pem: pki.service_account.private_key_pem(),
        },
    }
}

/// Creates the bootstrap data Secret as CABPK's `storeBootstrapData` does. An existing one
/// (from a reconcile whose status write failed) is kept.
async fn write_data_secret(scope: &Scope<'_>, name: &str, userdata: &str) -> Result<()> {
    let owner = OwnerReference {
        api_version: PacketKubeadmConfig::api_version(&()).into_owned(),
        kind: PacketKubeadmConfig::kind(&()).into_owned(),
        name: scope.config.name_any(),
        uid: scope.config.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    };
    let secret = capp_pki::Secret::new(&scope.namespace, name, CLUSTER_SECRET_TYPE)
        .with_label(CLUSTER_NAME_LABEL, scope.cluster_name())
        .with_data("value", userdata.as_bytes())
        .with_data("format", FORMAT_CLOUD_CONFIG);
    let api: Api<Secret> = Api::namespaced(scope.client().clone(), &scope.namespace);
    pki::create_or_existing(&api, &pki::to_k8s(&secret, Some(owner))).await?;
    Ok(())
}
