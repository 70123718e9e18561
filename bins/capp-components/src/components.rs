//! `infrastructure-components.yaml`: every object `clusterctl init --infrastructure packet`
//! installs, in install order.
//!
//! - one Namespace, [`NAMESPACE`], holding every namespaced object (clusterctl refuses more
//!   than one Namespace);
//! - the CRDs of [`capp_api::v1beta2::crds_multiversion`] (v1beta1 and v1beta2, v1beta2
//!   stored) converting through the manager's webhook ([`webhook`]);
//! - the ValidatingAdmissionPolicy and its binding of [`capp_api::policy`] (cluster-scoped),
//!   which keep `spec.template.spec` of the template kinds immutable while letting Cluster
//!   API's topology dry run through;
//! - the manager's ServiceAccount, a ClusterRole holding the rules of
//!   [`capp_reconcile::rbac::rules`] except the Lease rule, which goes to the namespaced
//!   leader-election Role (the Lease lives in the manager's namespace), and their bindings: each
//!   rule of `rbac.rs` appears exactly once, nothing else is granted;
//! - the credentials Secret holding `${PACKET_API_KEY}`;
//! - the webhook Service and the cert-manager Issuer and Certificate of its serving
//!   certificate ([`webhook`]);
//! - the manager Deployment: container `manager` (the name clusterctl's image overrides look
//!   for), flags of `capp-manager` with clusterctl variables for the tunables, probes on the
//!   health port, a metrics port, the webhook port with the serving certificate Secret
//!   mounted read-only at the manager's certificate directory, non-root with a read-only root filesystem, every capability
//!   dropped, seccomp `RuntimeDefault`, and tolerations for control-plane taints.
//!
//! Every object carries `cluster.x-k8s.io/provider: infrastructure-packet`.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Map, Value, json};

use crate::{Error, NAME_PREFIX, NAMESPACE, PROVIDER_LABEL, PROVIDER_LABEL_KEY, Release, Result};

pub mod webhook;

/// Port of `/healthz` and `/readyz` (`--health-probe-bind-address`).
pub const HEALTH_PORT: u16 = 9440;

/// Port of `/metrics` (`--metrics-bind-address`).
pub const METRICS_PORT: u16 = 8080;

/// Key of the API token in the credentials Secret, and the environment variable the manager
/// reads it from (the Go provider's name, so existing `clusterctl.yaml` files work).
pub const TOKEN_VARIABLE: &str = "PACKET_API_KEY";

/// The API group of the Lease the manager holds while leader.
const LEASE_GROUP: &str = "coordination.k8s.io";

/// `NAME_PREFIX` + `name`.
#[must_use]
pub fn object_name(name: &str) -> String {
    format!("{NAME_PREFIX}{name}")
}

/// The arguments of the `manager` container: `capp-manager`'s own flag names, with a
/// clusterctl variable (and its default) for each tunable.
#[must_use]
pub fn manager_args() -> Vec<String> {
    vec![
        "--leader-elect".to_owned(),
        format!("--metrics-bind-address=:{METRICS_PORT}"),
        format!("--health-probe-bind-address=:{HEALTH_PORT}"),
        format!("--webhook-port={}", webhook::WEBHOOK_PORT),
        format!("--webhook-cert-dir={}", webhook::CERT_DIR),
        "--sync-period=${CAPP_SYNC_PERIOD:=10m}".to_owned(),
        "--packetcluster-concurrency=${CAPP_PACKETCLUSTER_CONCURRENCY:=10}".to_owned(),
        "--packetmachine-concurrency=${CAPP_PACKETMACHINE_CONCURRENCY:=10}".to_owned(),
        "--log-format=${CAPP_LOG_FORMAT:=json}".to_owned(),
    ]
}

/// The labels of every object (and the Deployment's selector).
fn labels() -> Value {
    json!({ PROVIDER_LABEL_KEY: PROVIDER_LABEL })
}

/// `metadata` of a namespaced object.
fn namespaced(name: &str) -> Value {
    json!({"name": object_name(name), "namespace": NAMESPACE, "labels": labels()})
}

fn rules_json(rules: &[PolicyRule]) -> Result<Vec<Value>> {
    rules
        .iter()
        .map(|r| serde_json::to_value(r).map_err(Error::Serialize))
        .collect()
}

/// The ClusterRole rules and the leader-election Role rules: [`capp_reconcile::rbac::rules`]
/// split by whether a rule is about the Lease.
#[must_use]
pub fn split_rules() -> (Vec<PolicyRule>, Vec<PolicyRule>) {
    capp_reconcile::rbac::rules()
        .into_iter()
        .partition(|r| r.api_groups.as_deref() != Some(&[LEASE_GROUP.to_owned()][..]))
}

/// The CRDs as shipped ([`webhook::crds`]): both versions, converting through the manager's
/// webhook, each with the provider label.
pub fn crds() -> Result<Vec<Value>> {
    webhook::crds()
}

fn add_label(object: &mut Value) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(PROVIDER_LABEL_KEY.to_owned(), PROVIDER_LABEL.into());
    }
}

/// Every object of `infrastructure-components.yaml`, in install order.
pub fn components(release: &Release) -> Result<Vec<Value>> {
    let (cluster_rules, lease_rules) = split_rules();
    let service_account = object_name("manager");
    let subject =
        json!([{"kind": "ServiceAccount", "name": service_account, "namespace": NAMESPACE}]);
    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels()},
    })];
    objects.extend(crds()?);
    objects.extend(capp_api::policy::objects().into_iter().map(|mut object| {
        add_label(&mut object);
        object
    }));
    objects.extend([
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": namespaced("manager")}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": object_name("manager-role"), "labels": labels()},
            "rules": rules_json(&cluster_rules)?,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": object_name("manager-rolebinding"), "labels": labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": object_name("manager-role")},
            "subjects": subject,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": namespaced("leader-election-role"),
            "rules": rules_json(&lease_rules)?,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": namespaced("leader-election-rolebinding"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": object_name("leader-election-role")},
            "subjects": subject,
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": namespaced("manager-api-credentials"),
            "type": "Opaque",
            "stringData": { TOKEN_VARIABLE: format!("${{{TOKEN_VARIABLE}}}") },
        }),
    ]);
    objects.extend(webhook::objects());
    objects.push(deployment(release));
    Ok(objects)
}

/// The manager Deployment.
fn deployment(release: &Release) -> Value {
    let field_env = |name: &str, path: &str| json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": namespaced("controller-manager"),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels()},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {
                    "serviceAccountName": object_name("manager"),
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "manager",
                        "image": release.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/capp-manager"],
                        "args": manager_args(),
                        "env": [
                            {
                                "name": TOKEN_VARIABLE,
                                "valueFrom": {"secretKeyRef": {
                                    "name": object_name("manager-api-credentials"),
                                    "key": TOKEN_VARIABLE,
                                }},
                            },
                            field_env("POD_NAMESPACE", "metadata.namespace"),
                            field_env("POD_NAME", "metadata.name"),
                        ],
                        "ports": [
                            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                            {"name": "healthz", "containerPort": HEALTH_PORT, "protocol": "TCP"},
                            webhook::container_port(),
                        ],
                        "volumeMounts": [webhook::volume_mount()],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "healthz"},
                            "initialDelaySeconds": 15,
                            "periodSeconds": 20,
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/readyz", "port": "healthz"},
                            "periodSeconds": 10,
                        },
                        // Measured peak RSS (capp-manager's converge bench): 37.1 MiB for
                        // 200 machines, 55.0 MiB for 1,000; docs/clusterctl.md, Resources.
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "64Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "privileged": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "runAsUser": 65532,
                            "runAsGroup": 65532,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }],
                    "volumes": [webhook::volume()],
                    "tolerations": [
                        {"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"},
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    ],
                },
            },
        },
    })
}
