use serde_json::{Value, json};

use super::*;

fn attrs(verb: &str, group: &str, resource: &str, ns: Option<&str>) -> Attributes {
    Attributes {
        verb: verb.to_owned(),
        api_group: group.to_owned(),
        resource: resource.to_owned(),
        namespace: ns.map(str::to_owned),
        ..Attributes::default()
    }
}

fn user(name: &str, groups: &[&str]) -> Identity {
    Identity {
        username: name.to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn manager_snapshot() -> RbacSnapshot {
    RbacSnapshot {
        cluster_roles: vec![
            json!({"metadata": {"name": "capp-manager-role"}, "rules": [
                {"apiGroups": ["infrastructure.cluster.x-k8s.io"],
                 "resources": ["packetmachines", "packetmachines/status"],
                 "verbs": ["get", "list", "watch", "patch", "update"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                 "resourceNames": ["metal-credentials"]},
                {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]},
            ]}),
            json!({"metadata": {"name": "aggregate"}, "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"cluster.x-k8s.io/aggregate-to-manager": "true"}}]}}),
            json!({"metadata": {"name": "infra", "labels": {"cluster.x-k8s.io/aggregate-to-manager": "true"}},
                "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["patch"]}]}),
        ],
        cluster_role_bindings: vec![
            json!({"metadata": {"name": "capp-manager"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "capp-manager-role"},
                "subjects": [{"kind": "ServiceAccount", "name": "capp-manager", "namespace": "capp-system"}]}),
            json!({"metadata": {"name": "core"},
                "roleRef": {"kind": "ClusterRole", "name": "aggregate"},
                "subjects": [{"kind": "Group", "name": "capi-core"}]}),
        ],
        roles: vec![
            json!({"metadata": {"name": "leader-election", "namespace": "capp-system"},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]}]}),
        ],
        role_bindings: vec![
            json!({"metadata": {"name": "leader-election", "namespace": "capp-system"},
            "roleRef": {"kind": "Role", "name": "leader-election"},
            "subjects": [{"kind": "ServiceAccount", "name": "capp-manager"}]}),
        ],
    }
}

#[test]
fn service_account_is_allowed_what_its_cluster_role_grants() {
    let sa = Identity::service_account("capp-system", "capp-manager");
    let snap = manager_snapshot();
    let get = attrs(
        "get",
        "infrastructure.cluster.x-k8s.io",
        "packetmachines",
        Some("default"),
    );
    assert!(authorize(&snap, &sa, &get).is_allowed());
    let mut status = attrs(
        "patch",
        "infrastructure.cluster.x-k8s.io",
        "packetmachines",
        Some("a"),
    );
    status.subresource = Some("status".to_owned());
    assert!(authorize(&snap, &sa, &status).is_allowed());
}

#[test]
fn verbs_and_resources_outside_the_rules_are_denied_with_the_servers_message() {
    let sa = Identity::service_account("capp-system", "capp-manager");
    let snap = manager_snapshot();
    let mut delete = attrs(
        "delete",
        "infrastructure.cluster.x-k8s.io",
        "packetmachines",
        Some("ns1"),
    );
    delete.name = Some("m1".to_owned());
    assert_eq!(
        authorize(&snap, &sa, &delete),
        Decision::Deny(
            "packetmachines.infrastructure.cluster.x-k8s.io \"m1\" is forbidden: User \
             \"system:serviceaccount:capp-system:capp-manager\" cannot delete resource \
             \"packetmachines\" in API group \"infrastructure.cluster.x-k8s.io\" in the namespace \"ns1\""
                .to_owned()
        )
    );
    let nodes = attrs("list", "", "nodes", None);
    let Decision::Deny(msg) = authorize(&snap, &sa, &nodes) else {
        panic!("allowed")
    };
    assert!(msg.ends_with("at the cluster scope"), "{msg}");
}

#[test]
fn resource_names_restrict_a_rule_to_the_named_objects() {
    let sa = Identity::service_account("capp-system", "capp-manager");
    let snap = manager_snapshot();
    let mut get = attrs("get", "", "secrets", Some("default"));
    get.name = Some("metal-credentials".to_owned());
    assert!(authorize(&snap, &sa, &get).is_allowed());
    get.name = Some("other".to_owned());
    assert!(!authorize(&snap, &sa, &get).is_allowed());
    let list = attrs("list", "", "secrets", Some("default"));
    assert!(
        !authorize(&snap, &sa, &list).is_allowed(),
        "list cannot name an object"
    );
}

#[test]
fn role_bindings_grant_only_inside_their_namespace_and_default_the_subject_namespace() {
    let sa = Identity::service_account("capp-system", "capp-manager");
    let snap = manager_snapshot();
    let lease = attrs(
        "update",
        "coordination.k8s.io",
        "leases",
        Some("capp-system"),
    );
    assert!(authorize(&snap, &sa, &lease).is_allowed());
    let elsewhere = attrs(
        "update",
        "coordination.k8s.io",
        "leases",
        Some("kube-system"),
    );
    assert!(!authorize(&snap, &sa, &elsewhere).is_allowed());
    let other_sa = Identity::service_account("other", "capp-manager");
    assert!(!authorize(&snap, &other_sa, &lease).is_allowed());
}

#[test]
fn aggregated_cluster_roles_include_rules_of_matching_roles() {
    let snap = manager_snapshot();
    let core = user("capi", &["capi-core", "system:authenticated"]);
    let mut status = attrs("patch", "cluster.x-k8s.io", "machines", Some("default"));
    status.subresource = Some("status".to_owned());
    assert!(
        authorize(&snap, &core, &status).is_allowed(),
        "*/status via aggregation"
    );
    let main = attrs("patch", "cluster.x-k8s.io", "machines", Some("default"));
    assert!(
        !authorize(&snap, &core, &main).is_allowed(),
        "*/status is not the main resource"
    );
}

#[test]
fn non_resource_urls_match_exactly_or_by_prefix_star() {
    let sa = Identity::service_account("capp-system", "capp-manager");
    let snap = manager_snapshot();
    let path = |p: &str| Attributes {
        verb: "get".to_owned(),
        path: Some(p.to_owned()),
        ..Attributes::default()
    };
    assert!(authorize(&snap, &sa, &path("/metrics")).is_allowed());
    assert!(authorize(&snap, &sa, &path("/debug/pprof")).is_allowed());
    assert!(!authorize(&snap, &sa, &path("/metricsx")).is_allowed());
}

#[test]
fn system_masters_are_always_allowed_and_strangers_never() {
    let snap = RbacSnapshot::default();
    let any = attrs("delete", "", "namespaces", None);
    assert!(authorize(&snap, &user("admin", &[SYSTEM_MASTERS]), &any).is_allowed());
    assert!(!authorize(&snap, &user("eve", &["system:authenticated"]), &any).is_allowed());
}

#[test]
fn label_selector_expressions_follow_kubernetes_semantics() {
    let labels = json!({"tier": "infra", "env": "prod"});
    let sel = |v: Value| selector_matches(&v, Some(&labels));
    assert!(sel(
        json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["infra"]}]})
    ));
    assert!(!sel(
        json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]})
    ));
    assert!(sel(
        json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]})
    ));
    assert!(!sel(
        json!({"matchLabels": {"tier": "infra"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]})
    ));
    assert!(
        !sel(json!({})),
        "an empty aggregation selector selects nothing"
    );
}

#[test]
fn rules_for_lists_cluster_wide_and_namespace_rules_split_by_kind() {
    let snap = manager_snapshot();
    let sa = Identity::service_account("capp-system", "capp-manager");
    let (resource, non_resource) = rules_for(&snap, &sa, Some("capp-system"));
    let resources: Vec<&Value> = resource.iter().map(|r| &r["resources"]).collect();
    assert!(resources.contains(&&json!(["packetmachines", "packetmachines/status"])));
    assert!(resources.contains(&&json!(["secrets"])));
    assert!(resources.contains(&&json!(["leases"])), "{resource:?}");
    assert_eq!(
        non_resource,
        [json!({"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]})]
    );
    let (elsewhere, _) = rules_for(&snap, &sa, Some("default"));
    assert!(
        !elsewhere
            .iter()
            .any(|r| r["resources"] == json!(["leases"])),
        "the Role only applies in its namespace: {elsewhere:?}"
    );
    let (nothing, none) = rules_for(&snap, &user("stranger", &[]), Some("capp-system"));
    assert!(nothing.is_empty() && none.is_empty());
}
