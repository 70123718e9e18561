//! Through the running server: a custom resource that fails its OpenAPI schema with a type,
//! required, enum or size error gets no CEL causes, only the schema causes and the apiserver's
//! "some validation rules were not checked" cause; other schema errors let the rules run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use kube::api::{Api, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

const NOT_CHECKED: &str = "Invalid value: null: some validation rules were not checked because \
                           the object was invalid; correct the existing errors to complete validation";

/// A namespaced `Gadget` whose `spec` has an integer `replicas`, an enum `mode`, a patterned
/// `name`, and a CEL rule bounding `replicas`.
fn gadget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "x-kubernetes-validations": [
                            {"rule": "self.replicas <= 5", "message": "at most 5 replicas"}
                        ],
                        "required": ["replicas"],
                        "properties": {
                            "replicas": {"type": "integer"},
                            "mode": {"type": "string", "enum": ["fast", "slow"]},
                            "name": {"type": "string", "pattern": "^[a-z]+$"}
                        }
                    }}
                }}
            }]
        }
    })
}

/// `(reason, field, message)` of every cause of `err`, which must be a 422 Invalid.
fn causes(err: kube::Error) -> Vec<(String, String, String)> {
    match err {
        kube::Error::Api(s) if s.code == 422 => {
            assert_eq!(s.reason, "Invalid");
            s.details
                .expect("a 422 has details")
                .causes
                .into_iter()
                .map(|c| (c.reason, c.field, c.message))
                .collect()
        }
        other => panic!("expected a 422 Invalid, got {other:?}"),
    }
}

async fn create(api: &Api<DynamicObject>, name: &str, spec: Value) -> Result<(), kube::Error> {
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &obj).await.map(|_| ())
}

#[tokio::test]
async fn a_string_for_an_integer_field_gets_the_type_error_and_the_not_checked_cause_but_no_cel_error()
 {
    let env = support::start().await;
    env.install_crds(&[gadget_crd()]).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(env.client().unwrap(), "default", &ar);

    let got = causes(
        create(&api, "typed", json!({"replicas": "5"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        got,
        vec![
            (
                "FieldValueTypeInvalid".to_owned(),
                "spec.replicas".to_owned(),
                r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
                    .to_owned(),
            ),
            ("FieldValueInvalid".to_owned(), "<nil>".to_owned(), NOT_CHECKED.to_owned()),
        ]
    );

    // An enum error elsewhere in the object keeps the (failing) replicas rule from running.
    let got = causes(
        create(&api, "enum", json!({"replicas": 9, "mode": "warp"}))
            .await
            .unwrap_err(),
    );
    let fields: Vec<&str> = got.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(fields, vec!["spec.mode", "<nil>"], "{got:#?}");
    assert_eq!(got[0].0, "FieldValueNotSupported");
    assert_eq!(got[1].2, NOT_CHECKED);

    // A pattern error does not block the rules: both are reported, without the extra cause.
    let got = causes(
        create(&api, "pattern", json!({"replicas": 9, "name": "UPPER"}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        got.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        vec!["spec.name", "spec"],
        "{got:#?}"
    );
    assert_eq!(got[1].2, "Invalid value: at most 5 replicas");

    // A valid object is created.
    create(
        &api,
        "fine",
        json!({"replicas": 3, "mode": "fast", "name": "ok"}),
    )
    .await
    .unwrap();
}
