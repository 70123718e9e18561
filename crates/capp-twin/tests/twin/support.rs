//! Shared helpers: a loopback-mode simulator with a twin, the real Metal client, userdata
//! rendered by capp-bootstrap or from CABPK-layout fixtures, and workload-cluster clients.

#![allow(dead_code, reason = "each test uses a different subset of the helpers")]

use std::time::Duration;

use capp_bootstrap::{
    ApiEndpoint, ClusterSpec, JoinDiscovery, MachineConfigMatrix, NodeRole, UserdataRequest,
    render_userdata,
};
use capp_packet::{
    ClientConfig, CreateDevice, Location, Metal, MetalClient, RequestIpReservation, RetryPolicy,
    Userdata,
};
use capp_pki::rand::SeedableRng;
use capp_pki::{BootstrapToken, ClusterPki, ClusterPkiOptions};
use capp_sim::{SimConfig, Simulator};
use capp_twin::{Outcome, Twin};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

/// How long a test waits for the twin to judge a device.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Kubernetes version of the rendered userdata.
pub(crate) const VERSION: &str = "v1.33.4";

/// A simulator in loopback mode, its Metal client and a twin watching it.
pub(crate) struct World {
    pub(crate) sim: Simulator,
    pub(crate) metal: MetalClient,
    pub(crate) twin: Twin,
    /// Every test uses its own metro, so parallel tests never share loopback addresses.
    pub(crate) metro: &'static str,
}

impl World {
    pub(crate) async fn start(metro: &'static str) -> Self {
        let sim = Simulator::start(SimConfig::for_tests().with_loopback_addresses(true))
            .await
            .expect("the simulator starts");
        let metal = MetalClient::new(
            ClientConfig::new(sim.token())
                .with_base_url(sim.base_url())
                .with_retry(RetryPolicy {
                    max_attempts: 2,
                    base_delay: Duration::from_millis(5),
                    max_delay: Duration::from_millis(20),
                    max_retry_after: Duration::from_secs(1),
                })
                .with_rate_limit(None),
        )
        .expect("the client accepts the simulator's URL");
        let twin = Twin::start(&sim);
        Self {
            sim,
            metal,
            twin,
            metro,
        }
    }

    /// Reserves an Elastic IP for the control plane, as the provider does; returns
    /// `address:6443`.
    pub(crate) async fn reserve_endpoint(&self) -> String {
        let reservation = self
            .metal
            .request_ip_reservation(
                self.sim.default_project_id(),
                &RequestIpReservation::in_metro("public_ipv4", 1, self.metro),
            )
            .await
            .expect("an Elastic IP");
        let address = reservation.address.expect("the reservation has an address");
        assert!(
            address.starts_with("127."),
            "loopback mode hands out loopback Elastic IPs: {address}"
        );
        format!("{address}:6443")
    }

    /// Creates a device through the Metal API, lets it boot and waits for the twin.
    pub(crate) async fn boot(&self, hostname: &str, userdata: &str) -> (String, Outcome) {
        let mut request = CreateDevice::new(
            Location::Metro(self.metro.to_owned()),
            "c3.small.x86",
            "ubuntu_24_04",
        );
        request.hostname = Some(hostname.to_owned());
        request.userdata = Some(Userdata::new(userdata));
        request.no_ssh_keys = Some(true);
        let device = self
            .metal
            .create_device(self.sim.default_project_id(), &request)
            .await
            .expect("the device is created");
        self.sim.finish_provisioning();
        let outcome = self
            .twin
            .wait_for(&device.id, WAIT)
            .await
            .unwrap_or_else(|| panic!("the twin judged {hostname} within {WAIT:?}"));
        (device.id, outcome)
    }

    /// Deletes a device through the Metal API and waits for the twin to notice.
    pub(crate) async fn delete(&self, device_id: &str) -> Outcome {
        self.metal
            .delete_device(device_id, false)
            .await
            .expect("the device is deleted");
        self.twin
            .wait_until(device_id, WAIT, |o| matches!(o, Outcome::Deleted { .. }))
            .await
            .expect("the twin saw the deletion")
    }

    /// The state the Metal API reports for a device.
    pub(crate) async fn state(&self, device_id: &str) -> String {
        let device = self.metal.get_device(device_id).await.expect("the device");
        format!("{:?}", device.state).to_lowercase()
    }
}

/// A cluster's PKI and its bootstrap token, as CAPI would generate them.
pub(crate) struct ClusterSecrets {
    pub(crate) pki: ClusterPki,
    pub(crate) token: BootstrapToken,
}

impl ClusterSecrets {
    pub(crate) fn generate(seed: u64) -> Self {
        let mut rng = capp_pki::rand::rngs::StdRng::seed_from_u64(seed);
        let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now(), &mut rng)
            .expect("cluster PKI");
        Self {
            pki,
            token: BootstrapToken::generate(&mut rng),
        }
    }

    /// A kubeadm discovery hash of this cluster's CA.
    pub(crate) fn ca_hash(&self) -> String {
        self.pki.ca_cert_hash()
    }

    /// The `<cluster>-kubeconfig` CAPI writes (client cert CN kubernetes-admin,
    /// O system:masters), as a kube client.
    pub(crate) async fn admin_client(&self, cluster: &str, endpoint: &str) -> kube::Client {
        let mut rng = capp_pki::rand::rngs::StdRng::seed_from_u64(99);
        let kubeconfig = self
            .pki
            .admin_kubeconfig(cluster, &format!("https://{endpoint}"), now(), &mut rng)
            .expect("admin kubeconfig");
        client_from_yaml(kubeconfig.to_yaml().expect("yaml").expose()).await
    }
}

pub(crate) async fn client_from_yaml(yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}

pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn secret_ca(ca: &capp_pki::CertificateAuthority) -> capp_bootstrap::CertificateAuthority {
    capp_bootstrap::CertificateAuthority {
        cert_pem: ca.cert_pem().to_owned(),
        key_pem: ca.key_pem(),
    }
}

/// capp-bootstrap userdata for `role` in cluster `name` behind `endpoint` (`host:port`).
pub(crate) fn capp_userdata(
    secrets: &ClusterSecrets,
    name: &str,
    endpoint: &str,
    role: &str,
    token: &str,
    ca_hash: &str,
) -> String {
    let (host, port) = endpoint.rsplit_once(':').expect("host:port");
    let cluster = ClusterSpec::new(
        name,
        ApiEndpoint {
            host: host.to_owned(),
            port: port.parse().expect("port"),
        },
    );
    let role = match role {
        "init" => NodeRole::ControlPlaneInit(Box::new(capp_bootstrap::InitMaterial {
            certificate_key: SecretString::from("ab".repeat(32)),
            ca: secret_ca(&secrets.pki.ca),
            etcd_ca: secret_ca(&secrets.pki.etcd_ca),
            front_proxy_ca: secret_ca(&secrets.pki.front_proxy_ca),
            service_account: capp_bootstrap::ServiceAccountKeys {
                public_pem: secrets.pki.service_account.public_key_pem(),
                private_pem: secrets.pki.service_account.private_key_pem(),
            },
        })),
        "control-plane-join" => NodeRole::ControlPlaneJoin {
            certificate_key: SecretString::from("ab".repeat(32)),
        },
        "control-plane-join-other-key" => NodeRole::ControlPlaneJoin {
            certificate_key: SecretString::from("cd".repeat(32)),
        },
        _ => NodeRole::Worker,
    };
    let request = UserdataRequest::new(
        "ubuntu_24_04",
        VERSION.parse().expect("version"),
        role,
        cluster,
        JoinDiscovery {
            token: SecretString::from(token.to_owned()),
            ca_cert_hashes: vec![ca_hash.to_owned()],
        },
    );
    let matrix = MachineConfigMatrix::default_matrix().expect("default matrix");
    render_userdata(&matrix, &request)
        .expect("capp-bootstrap renders the userdata")
        .as_str()
        .to_owned()
}

/// A CABPK-layout fixture with `${NAME}` placeholders filled.
pub(crate) fn fixture(name: &str, vars: &[(&str, String)]) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (key, value) in vars {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    assert!(!text.contains("${"), "unfilled placeholder in {name}");
    text
}

/// Indents every line of `text` by `n` spaces (for YAML block scalars in fixtures).
pub(crate) fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stores a bootstrap token in the workload cluster the way CABPK does (through the
/// workload kubeconfig), valid for `ttl`.
pub(crate) async fn create_token(client: &kube::Client, token: &BootstrapToken, ttl: Duration) {
    let secret = token.to_secret(now(), ttl).expect("token secret");
    let object = Secret {
        metadata: kube::core::ObjectMeta {
            name: Some(secret.name.clone()),
            namespace: Some(secret.namespace.clone()),
            ..Default::default()
        },
        type_: Some(secret.type_.clone()),
        data: Some(
            secret
                .data
                .iter()
                .map(|(k, v)| (k.clone(), k8s_openapi::ByteString(v.clone())))
                .collect(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), "kube-system")
        .create(&kube::api::PostParams::default(), &object)
        .await
        .expect("the token Secret is created");
}

/// `<id>.<secret>` of a token.
pub(crate) fn token_text(token: &BootstrapToken) -> String {
    token.token().expose().to_owned()
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

/// The kubectl binary, if installed.
pub(crate) fn kubectl_path() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    })
}

/// A client that trusts the cluster CA but presents no credentials (`system:anonymous`).
pub(crate) fn anonymous_client(endpoint: &str, ca_pem: &str) -> kube::Client {
    let mut config = kube::Config::new(format!("https://{endpoint}").parse().expect("url"));
    let ca = capp_pki::Certificate::from_pem(ca_pem, "ca").expect("CA");
    config.root_cert = Some(vec![ca.der().to_vec()]);
    kube::Client::try_from(config).expect("kube client")
}
