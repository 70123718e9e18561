//! ObjectMeta of embedded resources.

use super::cel::NOT_CHECKED;
use super::*;

// ---------------------------------------------------------------------------------------------
// ObjectMeta of embedded resources

fn embedded_template() -> CrdSchema {
    compile(&json!({
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
            "templates": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": true,
                    "x-kubernetes-preserve-unknown-fields": true,
                },
            },
            "n": {"type": "integer"},
        },
        "x-kubernetes-validations": [{"rule": "!has(self.n) || self.n < 5", "message": "n < 5"}],
    }))
}

fn template(metadata: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
}

#[test]
fn embedded_metadata_with_valid_names_labels_annotations_and_finalizers_is_accepted() {
    let s = embedded_template();
    let meta = json!({
        "name": "Any:Name_is@fine", "generateName": "gen-", "namespace": "team-a",
        "labels": {"app.kubernetes.io/name": "web", "tier": "", "A_b": "x.Y-z"},
        "annotations": {"Example.COM/Note": "any text at all / %"},
        "finalizers": ["example.com/cleanup", "kubernetes"],
        "generation": 3,
    });
    assert!(admit(&s, &json!({"template": template(&meta)})).is_ok());
}

#[test]
fn embedded_metadata_names_and_namespaces_are_checked_with_the_apiserver_messages() {
    let s = embedded_template();
    let meta =
        json!({"name": "a/b%", "generateName": "x/", "namespace": "Team_A", "generation": -1});
    let causes = rejected(admit(&s, &json!({"template": template(&meta)})));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.generateName: Invalid value: "x/": may not contain '/'"#,
            r#"spec.template.metadata.name: Invalid value: "a/b%": may not contain '/'"#,
            r#"spec.template.metadata.name: Invalid value: "a/b%": may not contain '%'"#,
            "spec.template.metadata.namespace: Invalid value: \"Team_A\": a lowercase RFC 1123 \
             label must consist of lower case alphanumeric characters or '-', and must start and \
             end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for \
             validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.template.metadata.generation: Invalid value: -1: must be greater than or equal to 0",
        ]
    );
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"name": "..", "namespace": "a.b"}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.name: Invalid value: "..": may not be '..'"#,
            r#"spec.template.metadata.namespace: Invalid value: "a.b": must not contain dots"#,
        ]
    );
}

#[test]
fn embedded_metadata_labels_annotations_and_finalizers_must_be_qualified_names() {
    let s = embedded_template();
    let meta = json!({
        "labels": {"bad key": "-x"},
        "annotations": {"a/b/c": "v"},
        "finalizers": ["Example_com/x"],
    });
    let causes = rejected(admit(&s, &json!({"template": template(&meta)})));
    assert_eq!(
        shown(&causes),
        vec![
            "spec.template.metadata.labels: Invalid value: \"bad key\": name part must consist \
             of alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used \
             for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.template.metadata.labels: Invalid value: \"-x\": a valid label must be an \
             empty string or consist of alphanumeric characters, '-', '_' or '.', and must \
             start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or \
             '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "spec.template.metadata.annotations: Invalid value: \"a/b/c\": a qualified name \
             must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
             with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex \
             used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an \
             optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            "spec.template.metadata.finalizers: Invalid value: \"Example_com/x\": prefix part \
             a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character \
             (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]
    );
    let long = "x".repeat(64);
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"labels": {long.clone(): "v"}, "finalizers": ["orphan", "foregroundDeletion"]}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            format!(
                "spec.template.metadata.labels: Invalid value: \"{long}\": name part must be no \
                 more than 63 characters"
            ),
            r#"spec.template.metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set"#.to_owned(),
        ]
    );
}

#[test]
fn embedded_resources_in_additional_properties_are_addressed_by_key() {
    let s = embedded_template();
    let causes = rejected(admit(
        &s,
        &json!({"templates": {"a": template(&json!({"name": "x/y"}))}}),
    ));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.templates[a].metadata.name: Invalid value: "x/y": may not contain '/'"#]
    );
}

#[test]
fn embedded_metadata_is_checked_on_every_update_even_when_unchanged() {
    let s = embedded_template();
    let spec = json!({"template": template(&json!({"name": "x/y"})), "n": 1});
    let causes = rejected(update(
        &s,
        &spec,
        &json!({"template": spec["template"], "n": 2}),
    ));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.template.metadata.name: Invalid value: "x/y": may not contain '/'"#]
    );
}

#[test]
fn an_invalid_embedded_label_lets_the_rules_run_but_too_large_annotations_block_them() {
    let s = embedded_template();
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"labels": {"a": "-"}})), "n": 9}),
    ));
    assert_eq!(causes.len(), 2, "{causes:#?}");
    assert_eq!(causes[1].to_string(), "spec: Invalid value: n < 5");

    let big = "v".repeat(256 * 1024);
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"annotations": {"a": big}})), "n": 9}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            "spec.template.metadata.annotations: Too long: may not be more than 262144 bytes"
                .to_owned(),
            format!("<nil>: {NOT_CHECKED}"),
        ]
    );
}

#[test]
fn embedded_owner_references_need_a_version_kind_name_and_uid() {
    let s = embedded_template();
    let good = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "1"});
    assert!(
        admit(
            &s,
            &json!({"template": template(&json!({"ownerReferences": [good]}))})
        )
        .is_ok()
    );
    let bad = json!({"apiVersion": "apps/", "kind": "", "name": "d"});
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"ownerReferences": [good, bad]}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty"#,
            r#"spec.template.metadata.ownerReferences.kind: Invalid value: "": kind must not be empty"#,
            r#"spec.template.metadata.ownerReferences.uid: Invalid value: "": uid must not be empty"#,
        ]
    );
}
