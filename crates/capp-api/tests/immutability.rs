//! Immutability without a webhook: the `x-kubernetes-validations` transition rules of our
//! CRDs, evaluated with a CEL interpreter the way the API server evaluates them on update,
//! reject exactly the changes the Go provider's webhooks rejected. The template CRDs carry no
//! transition rule at all: their immutability is the admission policy of `capp_api::policy`
//! (tested through kubectl in capp-envtest's `template_policy`), which lets Cluster API's
//! topology dry run through, and a rule inside the schema would refuse it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

use serde_json::{Value, json};

fn schema_of(kind: &str) -> Value {
    capp_api::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .find(|c| c["spec"]["names"]["kind"] == kind)
        .map_or_else(
            || panic!("no CRD for {kind}"),
            |c| c["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
        )
}

fn eval(rule: &str, new: &Value, old: &Value) -> bool {
    let program = cel::Program::compile(rule).unwrap_or_else(|e| panic!("{rule}: {e:?}"));
    let mut ctx = cel::Context::default();
    ctx.add_variable_from_value("self", cel::to_value(new).unwrap());
    ctx.add_variable_from_value("oldSelf", cel::to_value(old).unwrap());
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(ok)) => ok,
        other => panic!("{rule} evaluated to {other:?}"),
    }
}

/// Messages of the rules an update from `old` to `new` breaks. Like the API server, rules
/// run where both the old and the new value exist (transition rules).
fn update_violations(schema: &Value, new: &Value, old: &Value, out: &mut Vec<String>) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if !eval(rule["rule"].as_str().unwrap(), new, old) {
            out.push(rule["message"].as_str().unwrap().to_owned());
        }
    }
    if let (Some(props), Some(n), Some(o)) = (
        schema["properties"].as_object(),
        new.as_object(),
        old.as_object(),
    ) {
        for (name, sub) in props {
            if let (Some(nv), Some(ov)) = (n.get(name), o.get(name)) {
                update_violations(sub, nv, ov, out);
            }
        }
    }
}

fn update(kind: &str, old_spec: &Value, new_spec: &Value) -> Vec<String> {
    let wrap = |spec: &Value| {
        json!({"apiVersion": capp_api::API_VERSION, "kind": kind,
                                     "metadata": {"name": "x"}, "spec": spec})
    };
    let mut out = Vec::new();
    update_violations(&schema_of(kind), &wrap(new_spec), &wrap(old_spec), &mut out);
    out
}

fn with(base: &Value, patch: &Value) -> Value {
    let mut v = base.clone();
    for (k, val) in patch.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    v
}

fn cluster_spec() -> Value {
    json!({"projectID": "p-1", "metro": "da", "vipManager": "CPEM",
           "elasticIPReclaimPolicy": "Retain"})
}

#[test]
fn changing_the_project_of_a_packet_cluster_is_rejected() {
    let old = cluster_spec();
    assert_eq!(
        update(
            "PacketCluster",
            &old,
            &with(&old, &json!({"projectID": "p-2"}))
        ),
        ["projectID is immutable"]
    );
}

#[test]
fn changing_the_vip_manager_of_a_packet_cluster_is_rejected() {
    let old = cluster_spec();
    assert_eq!(
        update(
            "PacketCluster",
            &old,
            &with(&old, &json!({"vipManager": "KUBE_VIP"}))
        ),
        ["vipManager is immutable"]
    );
}

#[test]
fn a_packet_cluster_location_endpoint_and_policy_stay_mutable() {
    let old = cluster_spec();
    let new = with(
        &old,
        &json!({"metro": "sv", "facility": "sv15", "elasticIPReclaimPolicy": "Delete",
                "controlPlaneEndpoint": {"host": "147.28.1.10", "port": 6443}}),
    );
    assert!(update("PacketCluster", &old, &new).is_empty());
}

fn machine_spec() -> Value {
    json!({"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly",
           "hardwareReservationID": "next-available", "sshKeys": ["ssh-ed25519 AAAA a@b"],
           "spotInstance": true, "spotPriceMax": 0.5})
}

const MACHINE_MESSAGE: &str = "spec is immutable except providerID, tags, facility and metro";

#[test]
fn the_provider_may_set_the_provider_id_and_users_may_change_tags_and_location() {
    let old = machine_spec();
    let new = with(
        &old,
        &json!({"providerID": "equinixmetal://d-1", "tags": ["a"], "metro": "sv",
                "facility": "sv15"}),
    );
    assert!(update("PacketMachine", &old, &new).is_empty());
    assert!(update("PacketMachine", &old, &old).is_empty());
}

#[test]
fn changing_any_other_packet_machine_field_is_rejected() {
    let old = machine_spec();
    for patch in [
        json!({"os": "flatcar_stable"}),
        json!({"machineType": "m3.large.x86"}),
        json!({"billingCycle": "daily"}),
        json!({"hardwareReservationID": "r-1"}),
        json!({"sshKeys": ["ssh-ed25519 BBBB c@d"]}),
        json!({"spotPriceMax": 0.75}),
        json!({"spotInstance": false}),
    ] {
        let new = with(&old, &patch);
        assert_eq!(
            update("PacketMachine", &old, &new),
            [MACHINE_MESSAGE],
            "{patch}"
        );
    }
}

#[test]
fn adding_or_removing_an_optional_packet_machine_field_is_rejected() {
    let old = machine_spec();
    for patch in [
        json!({"ipxeURL": "https://boot.example.com/x"}),
        json!({"terminationTime": "2030-01-01T00:00:00Z"}),
        json!({"hardwareReservationID": null}),
        json!({"sshKeys": null}),
        json!({"billingCycle": null}),
    ] {
        let new = with(&old, &patch);
        assert_eq!(
            update("PacketMachine", &old, &new),
            [MACHINE_MESSAGE],
            "{patch}"
        );
    }
}

#[test]
fn a_machine_template_spec_edit_passes_the_schema_since_the_policy_guards_it() {
    let old = json!({"template": {"metadata": {"labels": {"a": "1"}}, "spec": machine_spec()}});
    let mut new = old.clone();
    new["template"]["spec"]["machineType"] = json!("m3.large.x86");
    new["template"]["spec"]["os"] = json!("flatcar_stable");
    assert_eq!(
        update("PacketMachineTemplate", &old, &new),
        Vec::<String>::new(),
        "the PacketMachine rule does not apply inside a template"
    );
}

#[test]
fn a_cluster_template_spec_edit_passes_the_schema_since_the_policy_guards_it() {
    let old = json!({"template": {"spec": cluster_spec()}});
    let mut new = old.clone();
    new["template"]["spec"]["projectID"] = json!("p-2");
    new["template"]["spec"]["vipManager"] = json!("KUBE_VIP");
    assert_eq!(
        update("PacketClusterTemplate", &old, &new),
        Vec::<String>::new(),
        "projectID and vipManager are immutable on a PacketCluster, not in its template"
    );
}

#[test]
fn the_machine_rule_covers_every_spec_field_except_the_mutable_four() {
    // Guards against a new PacketMachine field silently becoming mutable: each property of
    // the generated spec schema is either one of the fields the Go webhook let change or is
    // compared by the rule.
    let schema = schema_of("PacketMachine");
    let spec = &schema["properties"]["spec"];
    let rule = spec["x-kubernetes-validations"][0]["rule"]
        .as_str()
        .unwrap();
    let mutable = ["providerID", "tags", "facility", "metro"];
    let properties = spec["properties"].as_object().unwrap();
    assert!(properties.len() > mutable.len());
    for name in properties.keys() {
        let compared = rule.contains(&format!("self.{name} == oldSelf.{name}"));
        assert_eq!(
            compared,
            !mutable.contains(&name.as_str()),
            "spec.{name}: compared by the rule = {compared}"
        );
    }
}

/// Admits `new` as an update of `old` with our CRD, as the API server does (capp-testenv:
/// defaulting, pruning, ratcheting validation, transition rules). Returns the messages.
fn admit_update(kind: &str, old_spec: &Value, new_spec: &Value) -> Vec<String> {
    let schema = capp_testenv::schema::CrdSchema::compile(&schema_of(kind))
        .unwrap_or_else(|c| panic!("{kind} schema: {c:?}"));
    let object = |spec: &Value| {
        json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": kind,
               "metadata": {"name": "x", "namespace": "default"}, "spec": spec})
    };
    let mut old = object(old_spec);
    schema.admit(&mut old, None).unwrap();
    let mut new = object(new_spec);
    match schema.admit(&mut new, Some(&old)) {
        Ok(_) => Vec::new(),
        Err(causes) => causes.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_api_server_style_admission_enforces_the_same_rules() {
    let old = machine_spec();
    let allowed = with(
        &old,
        &json!({"providerID": "equinixmetal://d-1", "tags": ["a"]}),
    );
    assert_eq!(
        admit_update("PacketMachine", &old, &allowed),
        Vec::<String>::new()
    );
    let changed = with(&old, &json!({"os": "flatcar_stable"}));
    let errors = admit_update("PacketMachine", &old, &changed);
    assert!(
        errors.iter().any(|e| e.contains(MACHINE_MESSAGE)),
        "{errors:?}"
    );

    let cluster = cluster_spec();
    let moved = with(&cluster, &json!({"projectID": "another-project"}));
    let errors = admit_update("PacketCluster", &cluster, &moved);
    assert!(
        errors.iter().any(|e| e.contains("projectID is immutable")),
        "{errors:?}"
    );
    let relocated = with(&cluster, &json!({"metro": "sv"}));
    assert_eq!(
        admit_update("PacketCluster", &cluster, &relocated),
        Vec::<String>::new()
    );

    // Templates: the schema alone admits the edit (the admission policy refuses it unless
    // it is Cluster API's topology dry run).
    let template = json!({"template": {"spec": machine_spec()}});
    let mut edited = template.clone();
    edited["template"]["spec"]["machineType"] = json!("m3.large.x86");
    assert_eq!(
        admit_update("PacketMachineTemplate", &template, &edited),
        Vec::<String>::new()
    );
    let template = json!({"template": {"spec": cluster_spec()}});
    let moved = with(
        &template,
        &json!({"template": {"spec": with(&cluster_spec(), &json!({"projectID": "p-9"}))}}),
    );
    assert_eq!(
        admit_update("PacketClusterTemplate", &template, &moved),
        Vec::<String>::new()
    );
}
