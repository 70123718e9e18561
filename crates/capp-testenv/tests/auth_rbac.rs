//! Transport and identity: HTTPS with the generated CA, bearer tokens, client certificates
//! (CN = user, O = groups), kubeconfigs per identity, plain HTTP, and optional RBAC
//! enforcement through stored Roles, ClusterRoles and bindings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_testenv::{Config, Identity, TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

async fn client_from_kubeconfig(path: &std::path::Path) -> kube::Client {
    let kc = Kubeconfig::read_from(path).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

fn status_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn https_serves_with_the_generated_ca_and_rejects_unknown_tokens() {
    let env = support::start().await;
    assert!(env.url().starts_with("https://127.0.0.1:"));
    assert!(env.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let version = env.client().unwrap().apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );

    let mut cfg = kube::Config::new(env.url().parse().unwrap());
    cfg.root_cert = Some(vec![pem_to_der(env.ca_pem().unwrap())]);
    cfg.auth_info.token = Some("not-a-token".to_owned().into());
    let stranger = kube::Client::try_from(cfg).unwrap();
    let err = Api::<ConfigMap>::default_namespaced(stranger)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(&err), 401);
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[tokio::test]
async fn plain_http_works_with_token_kubeconfigs() {
    let env = TestEnv::start(Config::default().with_tls(false))
        .await
        .unwrap();
    assert!(env.url().starts_with("http://"));
    assert!(env.ca_pem().is_none());
    let client = client_from_kubeconfig(env.kubeconfig_path()).await;
    Api::<ConfigMap>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn without_rbac_every_authenticated_identity_is_allowed() {
    let env = support::start().await;
    let path = env.kubeconfig_for(&Identity::user("bob", &[])).unwrap();
    let client = client_from_kubeconfig(&path).await;
    Api::<ConfigMap>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn rbac_denies_until_a_role_binding_grants_a_client_certificate_group() {
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let path = env
        .kubeconfig_for(&Identity::user("alice", &["devs"]))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("client-certificate-data"),
        "users authenticate with a client certificate"
    );
    let alice = client_from_kubeconfig(&path).await;
    let api = Api::<ConfigMap>::namespaced(alice, "default");
    let err = api.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(status_code(&err), 403);
    let kube::Error::Api(status) = err else {
        unreachable!()
    };
    assert_eq!(status.reason, "Forbidden");
    assert!(
        status
            .message
            .contains("User \"alice\" cannot list resource \"configmaps\""),
        "{}",
        status.message
    );

    let admin = env.client().unwrap();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    })).unwrap();
    Api::<Role>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "devs-read"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin, "default")
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    api.list(&ListParams::default()).await.unwrap();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    assert_eq!(
        status_code(&api.create(&PostParams::default(), &cm).await.unwrap_err()),
        403,
        "the role only reads"
    );
}

#[tokio::test]
async fn rbac_authorizes_service_account_tokens_through_cluster_role_bindings() {
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let sa = Identity::service_account("capp-system", "manager");
    let path = env.kubeconfig_for(&sa).unwrap();
    assert!(
        std::fs::read_to_string(&path).unwrap().contains("token:"),
        "service accounts use tokens"
    );
    let client = client_from_kubeconfig(&path).await;
    let all = Api::<ConfigMap>::all(client.clone());
    assert_eq!(
        status_code(&all.list(&ListParams::default()).await.unwrap_err()),
        403
    );

    let admin = env.client().unwrap();
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "cm-admin"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    }))
    .unwrap();
    Api::<ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "manager"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "manager", "namespace": "capp-system"}]
    })).unwrap();
    Api::<ClusterRoleBinding>::all(admin)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    all.list(&ListParams::default()).await.unwrap();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let other = env
        .client_for(&Identity::service_account("capp-system", "other"))
        .unwrap();
    assert_eq!(
        status_code(
            &Api::<ConfigMap>::all(other)
                .list(&ListParams::default())
                .await
                .unwrap_err()
        ),
        403
    );
}

#[tokio::test]
async fn the_admin_identity_always_passes_rbac() {
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let admin = client_from_kubeconfig(env.kubeconfig_path()).await;
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    Api::<ConfigMap>::namespaced(admin, "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
}

#[tokio::test]
async fn access_reviews_answer_what_rbac_allows() {
    use k8s_openapi::api::authorization::v1::{SelfSubjectAccessReview, SubjectAccessReview};
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let admin = env.client().unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "viewers"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-view"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "viewers"}]
    }))
    .unwrap();
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "cm-view"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }))
    .unwrap();
    Api::<ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let review = |verb: &str| -> SubjectAccessReview {
        serde_json::from_value(json!({"spec": {
            "user": "carol", "groups": ["viewers"],
            "resourceAttributes": {"verb": verb, "resource": "configmaps", "namespace": "default"}
        }}))
        .unwrap()
    };
    let sars = Api::<SubjectAccessReview>::all(admin);
    assert!(
        sars.create(&PostParams::default(), &review("list"))
            .await
            .unwrap()
            .status
            .unwrap()
            .allowed
    );
    assert!(
        !sars
            .create(&PostParams::default(), &review("delete"))
            .await
            .unwrap()
            .status
            .unwrap()
            .allowed
    );

    let carol = env
        .client_for(&Identity::user("carol", &["viewers"]))
        .unwrap();
    let ssar: SelfSubjectAccessReview = serde_json::from_value(json!({"spec": {
        "resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": "default"}
    }}))
    .unwrap();
    let answer = Api::<SelfSubjectAccessReview>::all(carol)
        .create(&PostParams::default(), &ssar)
        .await
        .unwrap();
    assert!(answer.status.unwrap().allowed);
}

const INSTALL: &str = r"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: manager}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: manager}
subjects: [{kind: ServiceAccount, name: manager, namespace: capp-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: manager}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch, patch]}
- {apiGroups: [example.com], resources: [widgets/status], verbs: [patch, update]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: manager, namespace: capp-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: capp-system}
";

#[tokio::test]
async fn a_manager_runs_with_exactly_the_permissions_its_install_manifest_grants() {
    use kube::core::{DynamicObject, GroupVersionKind};
    use kube::discovery::ApiResource;
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let crd = serde_saphyr::to_string(&support::widget_crd()).unwrap();
    let applied = env
        .apply_manifest(&format!("{INSTALL}---\n{crd}"))
        .await
        .unwrap();
    assert_eq!(applied.len(), 5);
    assert_eq!(
        applied[0]["kind"], "CustomResourceDefinition",
        "CRDs go first"
    );
    env.apply_manifest(INSTALL)
        .await
        .expect("re-applying replaces");

    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let admin: Api<DynamicObject> = Api::namespaced_with(env.client().unwrap(), "default", &ar);
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}
    }))
    .unwrap();
    admin.create(&PostParams::default(), &w).await.unwrap();

    let manager = env
        .client_for(&Identity::service_account("capp-system", "manager"))
        .unwrap();
    let widgets: Api<DynamicObject> = Api::namespaced_with(manager.clone(), "default", &ar);
    widgets.get("w").await.unwrap();
    let status = kube::api::Patch::Merge(json!({"status": {"ready": true}}));
    widgets
        .patch_status("w", &kube::api::PatchParams::default(), &status)
        .await
        .unwrap();
    assert_eq!(
        status_code(
            &widgets
                .delete("w", &kube::api::DeleteParams::default())
                .await
                .unwrap_err()
        ),
        403
    );
    assert_eq!(
        status_code(
            &widgets
                .create(&PostParams::default(), &w)
                .await
                .unwrap_err()
        ),
        403
    );
    let cms = Api::<ConfigMap>::namespaced(manager, "default");
    assert_eq!(
        status_code(&cms.list(&ListParams::default()).await.unwrap_err()),
        403
    );

    let err = env
        .apply_manifest("apiVersion: example.com/v9\nkind: Nope\nmetadata: {name: x}\n")
        .await
        .unwrap_err();
    assert!(
        matches!(err, capp_testenv::Error::ManifestObject { index: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_server_can_listen_on_a_chosen_loopback_port() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let env = TestEnv::start(Config::default().with_bind_address(free))
        .await
        .unwrap();
    assert_eq!(env.url(), format!("https://{free}"));
    env.client().unwrap().apiserver_version().await.unwrap();
}

#[tokio::test]
async fn debug_output_never_shows_tokens() {
    let env = support::start().await;
    let token = env.token_for(&Identity::user("dave", &[]));
    let shown = format!("{env:?} {token:?}");
    assert!(
        !shown.contains(capp_pki::secrecy::ExposeSecret::expose_secret(&token)),
        "{shown}"
    );
}

#[tokio::test]
async fn requests_without_credentials_are_system_anonymous_and_forbidden_under_rbac() {
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let mut config = kube::Config::new(env.url().parse().unwrap());
    config.root_cert = Some(vec![pem_to_der(env.ca_pem().unwrap())]);
    let anonymous = kube::Client::try_from(config).unwrap();
    let err = Api::<ConfigMap>::namespaced(anonymous.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("expected an API error, got {err:?}")
    };
    assert_eq!(s.code, 403);
    assert!(
        s.message
            .contains("User \"system:anonymous\" cannot list resource \"configmaps\""),
        "{}",
        s.message
    );
    // A binding to system:unauthenticated opens what it grants, as on a real server.
    env.apply_manifest(
        r"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: read-configmaps}
rules: [{apiGroups: [''], resources: [configmaps], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: anonymous-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: read-configmaps}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: 'system:unauthenticated'}]
",
    )
    .await
    .unwrap();
    Api::<ConfigMap>::namespaced(anonymous, "default")
        .list(&ListParams::default())
        .await
        .unwrap();
}
