//! One workload cluster's API server: a capp-testenv instance behind TLS fronts that listen
//! on the control-plane endpoint and on each control-plane device's address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use capp_pki::{CertificateAuthority, LeafSpec};
use capp_testenv::{Config, Identity, TestEnv};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::front::{Backend, Front};
use crate::objects::{self, NodeSpec};
use crate::{Error, Result, tokens};

/// The field manager of everything the twin writes, as kubeadm's own client.
const FIELD_MANAGER: &str = "kubeadm";

/// A running workload API server.
pub(crate) struct WorkloadApi {
    pub(crate) name: String,
    /// `controlPlaneEndpoint` as written (`host:port`).
    pub(crate) endpoint: String,
    pub(crate) kubernetes_version: String,
    pub(crate) ca: Arc<CertificateAuthority>,
    pub(crate) cert_sans: Vec<String>,
    env: Arc<TestEnv>,
    pub(crate) admin: kube::Client,
    backend: Arc<Backend>,
    fronts: BTreeMap<SocketAddr, Front>,
    /// Devices running a control plane of this cluster.
    pub(crate) control_planes: BTreeSet<String>,
    /// Device id → Node name, for every node of this cluster.
    pub(crate) nodes: BTreeMap<String, String>,
    /// Control-plane device id → the address of its own API endpoint.
    device_addresses: BTreeMap<String, SocketAddr>,
}

impl std::fmt::Debug for WorkloadApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadApi")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("addresses", &self.fronts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WorkloadApi {
    /// Starts the API server behind no address yet (see [`WorkloadApi::listen`]).
    pub(crate) async fn start(
        name: String,
        endpoint: String,
        kubernetes_version: String,
        ca: CertificateAuthority,
        cert_sans: Vec<String>,
    ) -> Result<Self> {
        let env = TestEnv::start(Config::default().with_tls(false).with_rbac(true))
            .await
            .map_err(Error::TestEnv)?;
        let admin = env.client().map_err(Error::TestEnv)?;
        let env = Arc::new(env);
        let backend = Arc::new(Backend::new(Arc::clone(&env), admin.clone()));
        Ok(Self {
            name,
            endpoint,
            kubernetes_version,
            ca: Arc::new(ca),
            cert_sans,
            env,
            admin,
            backend,
            fronts: BTreeMap::new(),
            control_planes: BTreeSet::new(),
            nodes: BTreeMap::new(),
            device_addresses: BTreeMap::new(),
        })
    }

    /// Whether `endpoint` (`host:port`) reaches this API server.
    pub(crate) fn serves(&self, endpoint: &str) -> bool {
        self.endpoint == endpoint
            || endpoint
                .parse::<SocketAddr>()
                .is_ok_and(|addr| self.fronts.contains_key(&addr))
    }

    /// Listens on `addr` too, with a serving certificate (signed by the cluster CA) naming
    /// the endpoint, `addr` and the usual in-cluster names. `device` is the control-plane
    /// device whose own address it is (closed again when that device goes).
    pub(crate) async fn listen(&mut self, addr: SocketAddr, device: Option<&str>) -> Result<()> {
        if let Some(device) = device {
            self.device_addresses.insert(device.to_owned(), addr);
        }
        if self.fronts.contains_key(&addr) {
            return Ok(());
        }
        let tls = self.server_config(addr.ip())?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let front = Front::serve(listener, tls, Arc::clone(&self.backend));
        self.fronts.insert(addr, front);
        tracing::info!(cluster = %self.name, %addr, "Workload API server listening");
        Ok(())
    }

    fn server_config(&self, ip: IpAddr) -> Result<Arc<rustls::ServerConfig>> {
        let mut spec = LeafSpec::server("kube-apiserver")
            .with_ip_address(ip)
            .with_ip_address(IpAddr::from([127, 0, 0, 1]))
            .with_dns_name("localhost");
        for name in [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            spec = spec.with_dns_name(name);
        }
        let host = self
            .endpoint
            .rsplit_once(':')
            .map_or(self.endpoint.as_str(), |(h, _)| h);
        spec = spec.with_san(host.trim_matches(['[', ']']));
        for san in &self.cert_sans {
            spec = spec.with_san(san);
        }
        let mut rng = capp_pki::rand::rng();
        let leaf = self
            .ca
            .issue(&spec, jiff::Timestamp::now(), &mut rng)
            .map_err(Error::Pki)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca.certificate().der().to_vec()))
            .map_err(Error::Tls)?;
        // kube-apiserver asks for a client certificate but lets callers without one in (they
        // may carry a token or be anonymous); one that is presented must chain to the CA.
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Tls(rustls::Error::General(e.to_string())))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            leaf.key.to_pkcs8_der().expose_secret().to_vec(),
        ));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(leaf.certificate.der().to_vec())],
                key,
            )
            .map_err(Error::Tls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Creates or updates an object (server-side apply as `kubeadm`).
    pub(crate) async fn apply(&self, object: &Value) -> Result<Value> {
        let api_version = object["apiVersion"].as_str().unwrap_or("v1");
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        // The kinds written here all pluralise the API server's default way.
        let plural = format!("{}s", kind.to_lowercase());
        let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(self.admin.clone(), ns, &resource),
            None => Api::all_with(self.admin.clone(), &resource),
        };
        let applied = api
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
            .map_err(Error::Kube)?;
        serde_json::to_value(applied).map_err(|e| Error::Kube(kube::Error::SerdeError(e)))
    }

    /// `kubeadm init`'s uploads: RBAC, `kubeadm-config`, `cluster-info`, bootstrap tokens.
    pub(crate) async fn upload_init_objects(
        &self,
        cluster_configuration_yaml: &str,
        token_secrets: &[Value],
    ) -> Result<()> {
        for object in objects::rbac() {
            self.apply(&object).await?;
        }
        self.apply(&objects::kubeadm_config(cluster_configuration_yaml))
            .await?;
        let kubeconfig = objects::cluster_info_kubeconfig(
            &format!("https://{}", self.endpoint),
            self.ca.cert_pem(),
        );
        self.apply(&objects::cluster_info(&kubeconfig)).await?;
        for secret in token_secrets {
            self.apply(secret).await?;
        }
        Ok(())
    }

    /// Does what the bootstrap signer does: signs `cluster-info` with every unexpired
    /// signing token and drops the signatures of the others. Returns the ConfigMap's data.
    pub(crate) async fn sign_cluster_info(&self) -> Result<BTreeMap<String, String>> {
        let configmaps: Api<ConfigMap> = Api::namespaced(self.admin.clone(), "kube-public");
        let current = configmaps.get("cluster-info").await.map_err(Error::Kube)?;
        let mut data = current.data.clone().unwrap_or_default();
        let kubeconfig = data.get("kubeconfig").cloned().unwrap_or_default();
        let now = jiff::Timestamp::now();
        data.retain(|k, _| !k.starts_with(tokens::JWS_PREFIX));
        for token in tokens::all(&self.admin).await.map_err(Error::Kube)? {
            if token.signing && !token.expired(now) {
                data.insert(
                    format!("{}{}", tokens::JWS_PREFIX, token.id),
                    tokens::detached_jws(&kubeconfig, &token.id, &token.secret),
                );
            }
        }
        let mut updated = current.clone();
        updated.data = Some(data.clone());
        configmaps
            .replace("cluster-info", &PostParams::default(), &updated)
            .await
            .map_err(Error::Kube)?;
        Ok(data)
    }

    /// Whether a Node with this name exists and is Ready.
    pub(crate) async fn ready_node_exists(&self, name: &str) -> bool {
        let nodes: Api<Node> = Api::all(self.admin.clone());
        nodes.get_opt(name).await.ok().flatten().is_some_and(|n| {
            n.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    }

    /// Registers a Node as its kubelet would (and, on control-plane nodes, the mirror pods
    /// of the static pods), all Ready.
    pub(crate) async fn register_node(&mut self, spec: &NodeSpec) -> Result<()> {
        let now = format!("{:.0}", jiff::Timestamp::now());
        let node = self.apply(&objects::node(spec)).await?;
        let nodes: Api<Node> = Api::all(self.admin.clone());
        nodes
            .patch_status(
                &spec.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": objects::node_status(spec, &now)})),
            )
            .await
            .map_err(Error::Kube)?;
        if spec.control_plane {
            let uid = node["metadata"]["uid"].as_str();
            let pods: Api<Pod> = Api::namespaced(self.admin.clone(), "kube-system");
            for pod in objects::static_pods(spec, uid) {
                self.apply(&pod).await?;
                let name = pod["metadata"]["name"].as_str().unwrap_or_default();
                pods.patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": objects::pod_status(spec, &pod, &now)})),
                )
                .await
                .map_err(Error::Kube)?;
            }
            self.control_planes.insert(spec.device_id.clone());
        }
        self.nodes.insert(spec.device_id.clone(), spec.name.clone());
        Ok(())
    }

    /// Removes a device's Node and its mirror pods. Returns whether it was a control plane.
    pub(crate) async fn remove_device(&mut self, device_id: &str) -> Result<bool> {
        let Some(name) = self.nodes.remove(device_id) else {
            return Ok(false);
        };
        let nodes: Api<Node> = Api::all(self.admin.clone());
        match nodes.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(Error::Kube(e)),
        }
        let pods: Api<Pod> = Api::namespaced(self.admin.clone(), "kube-system");
        for component in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "etcd",
        ] {
            let _ = pods
                .delete(&format!("{component}-{name}"), &DeleteParams::default())
                .await;
        }
        let endpoint_addr = self.endpoint.parse::<SocketAddr>().ok();
        if let Some(addr) = self.device_addresses.remove(device_id)
            && Some(addr) != endpoint_addr
            && let Some(front) = self.fronts.remove(&addr)
        {
            front.stop().await;
        }
        Ok(self.control_planes.remove(device_id))
    }

    /// A client certificate kubeconfig for `identity`, signed by the cluster CA, pointing at
    /// the control-plane endpoint.
    pub(crate) fn kubeconfig_for(&self, identity: &Identity) -> Result<capp_pki::Kubeconfig> {
        let mut spec = LeafSpec::client(identity.username.clone());
        for group in identity
            .groups
            .iter()
            .filter(|g| g.as_str() != "system:authenticated")
        {
            spec = spec.with_organization(group.clone());
        }
        let mut rng = capp_pki::rand::rng();
        let client = self
            .ca
            .issue(&spec, jiff::Timestamp::now(), &mut rng)
            .map_err(Error::Pki)?;
        Ok(capp_pki::Kubeconfig::with_client_certificate(
            &self.name,
            &identity.username,
            &format!("https://{}", self.endpoint),
            self.ca.certificate(),
            &client,
        ))
    }

    /// Closes every address and stops the API server.
    pub(crate) async fn stop(self) {
        let Self {
            fronts,
            env,
            backend,
            ..
        } = self;
        for front in fronts.into_values() {
            front.stop().await;
        }
        drop(backend);
        if let Ok(env) = Arc::try_unwrap(env) {
            env.shutdown().await;
        }
    }
}
