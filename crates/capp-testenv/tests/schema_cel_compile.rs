//! CEL rules at CRD creation, as kube-apiserver checks them (`apiextensions-apiserver`
//! `validateCustomResourceDefinitionOpenAPISchema` → `cel.Compile`): cel-go's type checker
//! against the schema's declared types, the estimated cost against the per-rule
//! (`StaticEstimatedCostLimit`) and per-CRD (`StaticEstimatedCRDCostLimit`) budgets, and the
//! Kubernetes CEL libraries (`quantity`, `url`, `ip`, `cidr`, `format`) in rules.
//! `crates/capp-envtest/tests/differential_cel.rs` runs the same shapes against the real
//! kube-apiserver.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use capp_testenv::schema::{CrdSchema, FieldCause};
use serde_json::{Value, json};

/// A root schema whose `spec` has `props` and the rule `rule` on `spec`.
fn spec_schema(props: &Value, rule: &str) -> Value {
    json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "properties": props,
            "x-kubernetes-validations": [{"rule": rule}]
        }}
    })
}

fn props() -> Value {
    json!({
        "name": {"type": "string", "maxLength": 63},
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "items": {"type": "array", "maxItems": 10, "items": {"type": "integer"}},
        "labels": {"type": "object", "maxProperties": 10,
                   "additionalProperties": {"type": "string", "maxLength": 63}},
        "port": {"x-kubernetes-int-or-string": true},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "memory": {"type": "string", "maxLength": 20},
        "endpoint": {"type": "string", "maxLength": 256},
        "address": {"type": "string", "maxLength": 64},
        "network": {"type": "string", "maxLength": 64}
    })
}

fn compile(rule: &str) -> Result<CrdSchema, Vec<FieldCause>> {
    CrdSchema::compile(&spec_schema(&props(), rule))
}

/// The single cause of a rule refused at compile time.
fn refusal(rule: &str) -> FieldCause {
    let causes = compile(rule).expect_err(rule);
    assert_eq!(causes.len(), 1, "{rule}: {causes:?}");
    causes.into_iter().next().unwrap()
}

const RULE_PATH: &str = "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule";

#[test]
fn overloads_are_checked_against_the_schema_types() {
    // (rule, what cel-go's checker reports)
    let cases = [
        (
            "self.name.size() > 'a'",
            "ERROR: <input>:1:18: found no matching overload for '_>_' applied to '(int, string)'",
        ),
        (
            "self.name + 1 == 'x'",
            "ERROR: <input>:1:11: found no matching overload for '_+_' applied to '(string, int)'",
        ),
        (
            "self.replicas.startsWith('x')",
            "ERROR: <input>:1:25: found no matching overload for 'startsWith' applied to 'int.(string)'",
        ),
        (
            "self.items.all(x, x > 'a')",
            "ERROR: <input>:1:21: found no matching overload for '_>_' applied to '(int, string)'",
        ),
        (
            "self.labels.exists(k, k > 1)",
            "ERROR: <input>:1:25: found no matching overload for '_>_' applied to '(string, int)'",
        ),
        (
            "self.items.map(x, x + 1).exists(y, y == 'z')",
            "ERROR: <input>:1:38: found no matching overload for '_==_' applied to '(int, string)'",
        ),
        (
            "self.replicas.all(x, true)",
            "ERROR: <input>:1:5: expression of type 'int' cannot be range of a comprehension (must be list, map, or dynamic)",
        ),
        (
            "self.name.foo == 'x'",
            "ERROR: <input>:1:10: type 'string' does not support field selection",
        ),
        (
            "self.free.missing == 1",
            "ERROR: <input>:1:10: undefined field 'missing'",
        ),
    ];
    for (rule, error) in cases {
        let cause = refusal(rule);
        assert_eq!(cause.field, RULE_PATH, "{rule}");
        assert_eq!(cause.reason, "FieldValueInvalid", "{rule}");
        let column = error.split(':').nth(3).unwrap().parse::<usize>().unwrap();
        let want = format!(
            "Invalid value: {}: compilation failed: {error}\n | {rule}\n | {}^",
            rule_json(rule),
            ".".repeat(column - 1)
        );
        assert_eq!(cause.message, want, "{rule}");
    }
}

/// How kube-apiserver prints a rule as the bad value: the JSON of its `ValidationRule`, with
/// Go's escaping of `<`, `>` and `&`.
fn rule_json(rule: &str) -> String {
    let rule = Value::String(rule.to_owned()).to_string();
    format!(
        "{{\"Rule\":{rule},\"Message\":\"\",\"MessageExpression\":\"\",\"Reason\":null,\"FieldPath\":\"\",\"OptionalOldSelf\":null}}"
    )
    .replace('>', "\\u003e")
    .replace('<', "\\u003c")
}

#[test]
fn a_rule_must_evaluate_to_a_bool() {
    for rule in ["self.name", "self.items.map(x, x * 2)", "self.replicas + 1"] {
        let cause = refusal(rule);
        assert_eq!(cause.field, RULE_PATH);
        assert!(
            cause
                .message
                .ends_with(": cel expression must evaluate to a bool"),
            "{rule}: {}",
            cause.message
        );
    }
}

#[test]
fn well_typed_and_dynamic_rules_compile() {
    for rule in [
        "self.name.size() <= 63 && self.name.startsWith('a')",
        "self.items.all(x, x > 0) && self.items.exists(x, x == 1)",
        "self.items.map(x, x * 2).all(y, y < 100)",
        "self.items.filter(x, x > 1).size() < 5",
        "self.labels.all(k, self.labels[k].size() < 10)",
        "self.replicas == 1.0 || self.ratio < 2",
        // int-or-string is dyn: anything goes until runtime.
        "self.port > 0 || self.port.matches('^[0-9]+%$')",
        "self.port == 'http' || self.port == 80",
        "!has(self.name) || self.name != ''",
        "self.items.size() == 0 || self.items[0] >= 0",
        "'a' in self.labels",
        "self.labels.?missing.orValue('') == ''",
        "isQuantity(self.memory) && quantity(self.memory).isLessThan(quantity('1Gi'))",
        "!format.dns1123Label().validate(self.name).hasValue()",
    ] {
        if let Err(causes) = compile(rule) {
            panic!("{rule}: {causes:?}");
        }
    }
}

/// A list of strings under `spec.tags` with the given bounds and the rule on the list.
fn tags_schema(max_items: Option<u64>, max_length: Option<u64>, rule: &str) -> Value {
    let mut item = json!({"type": "string"});
    if let Some(l) = max_length {
        item["maxLength"] = json!(l);
    }
    let mut tags =
        json!({"type": "array", "items": item, "x-kubernetes-validations": [{"rule": rule}]});
    if let Some(n) = max_items {
        tags["maxItems"] = json!(n);
    }
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"tags": tags}}}})
}

const MATCHES: &str = "self.all(x, x.matches('^[a-z]+$'))";
const TAGS_RULE: &str =
    "openAPIV3Schema.properties[spec].properties[tags].x-kubernetes-validations[0].rule";
const HINT: &str = "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)";

#[test]
fn unbounded_lists_of_unbounded_strings_exceed_the_rule_budget() {
    let causes = CrdSchema::compile(&tags_schema(None, None, MATCHES)).unwrap_err();
    let fields: Vec<(&str, &str)> = causes
        .iter()
        .map(|c| (c.field.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            (
                TAGS_RULE,
                &*format!(
                    "Forbidden: estimated rule cost exceeds budget by factor of more than 100x {HINT}"
                )
            ),
            (
                TAGS_RULE,
                "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
            ),
            (
                "openAPIV3Schema",
                &*format!(
                    "Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x {HINT}"
                )
            ),
        ]
    );
}

#[test]
fn bounded_lists_and_strings_fit_the_budget() {
    CrdSchema::compile(&tags_schema(Some(100), Some(63), MATCHES)).unwrap();
    // Bounding only one of the two is not enough for a regex over every item.
    CrdSchema::compile(&tags_schema(Some(100), None, MATCHES)).unwrap_err();
    CrdSchema::compile(&tags_schema(None, Some(63), MATCHES)).unwrap_err();
    // A cheap rule on an unbounded list is fine.
    CrdSchema::compile(&tags_schema(None, None, "self.size() < 5")).unwrap();
}

#[test]
fn nested_comprehensions_over_unbounded_lists_are_refused() {
    let causes = CrdSchema::compile(&tags_schema(
        None,
        Some(10),
        "self.all(x, self.exists(y, x == y))",
    ))
    .unwrap_err();
    assert!(
        causes[0]
            .message
            .contains("estimated rule cost exceeds budget"),
        "{causes:?}"
    );
    CrdSchema::compile(&tags_schema(
        Some(50),
        Some(10),
        "self.all(x, self.exists(y, x == y))",
    ))
    .unwrap();
}

#[test]
fn a_rule_under_an_unbounded_list_runs_once_per_item() {
    // `x.matches` on a 63-character name is cheap once, but the rule sits on the items of an
    // unbounded list of objects: it can run about a million times per request.
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "hosts": {"type": "array", "items": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 253}},
            "x-kubernetes-validations": [{"rule": "self.name.matches('^[a-z0-9.-]+$')"}]
        }}
    }}}});
    let causes = CrdSchema::compile(&schema).unwrap_err();
    assert_eq!(
        causes[0].field,
        "openAPIV3Schema.properties[spec].properties[hosts].items.x-kubernetes-validations[0].rule"
    );
    let mut bounded = schema;
    bounded["properties"]["spec"]["properties"]["hosts"]["maxItems"] = json!(100);
    CrdSchema::compile(&bounded).unwrap();
}

#[test]
fn many_affordable_rules_can_exceed_the_crd_budget() {
    // Each rule is under the per-rule limit; twenty of them are not under the CRD's.
    let mut props = serde_json::Map::new();
    for i in 0..20 {
        props.insert(
            format!("f{i}"),
            json!({"type": "array", "maxItems": 90000, "items": {"type": "string", "maxLength": 128},
                   "x-kubernetes-validations": [{"rule": "self.all(x, x.matches('^[a-z]+$'))"}]}),
        );
    }
    let schema =
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": props}}});
    let causes = CrdSchema::compile(&schema).unwrap_err();
    assert!(
        causes
            .iter()
            .all(|c| !c.message.contains("estimated rule cost exceeds")),
        "{causes:?}"
    );
    let total = causes.last().unwrap();
    assert_eq!(total.field, "openAPIV3Schema");
    assert!(total.message.starts_with("Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of "), "{}", total.message);
    // At most the four most expensive rules are named.
    assert_eq!(causes.len(), 5, "{causes:?}");
}

/// Admits `spec` against the schema with the rule and returns the failure messages.
fn admit(rule: &str, spec: &Value) -> Vec<String> {
    let schema = compile(rule).unwrap_or_else(|c| panic!("{rule}: {c:?}"));
    let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": spec});
    match schema.admit(&mut obj, None) {
        Ok(_) => Vec::new(),
        Err(causes) => causes.into_iter().map(|c| c.message).collect(),
    }
}

#[test]
fn the_kubernetes_libraries_evaluate_in_rules() {
    let holds = |rule: &str, spec: Value| {
        let failures = admit(rule, &spec);
        assert!(failures.is_empty(), "{rule} on {spec}: {failures:?}");
    };
    let fails = |rule: &str, spec: Value| {
        let failures = admit(rule, &spec);
        assert_eq!(failures.len(), 1, "{rule} on {spec}: {failures:?}");
    };
    // quantity
    let q = "quantity(self.memory).isLessThan(quantity('1Gi')) && quantity(self.memory).compareTo(quantity('1Mi')) >= 0";
    holds(q, json!({"memory": "512Mi"}));
    fails(q, json!({"memory": "2Gi"}));
    holds(
        "quantity(self.memory).add(quantity('500m')).asApproximateFloat() == 1.5",
        json!({"memory": "1"}),
    );
    holds(
        "quantity(self.memory).sub(1).sign() == -1 && !quantity(self.memory).isInteger()",
        json!({"memory": "100m"}),
    );
    holds(
        "quantity(self.memory).asInteger() == 2048 && quantity(self.memory).isGreaterThan(quantity('2k'))",
        json!({"memory": "2Ki"}),
    );
    // url
    let u = "url(self.endpoint).getScheme() == 'https' && url(self.endpoint).getHostname() == 'example.com' && url(self.endpoint).getPort() == '8443' && url(self.endpoint).getHost() == 'example.com:8443' && url(self.endpoint).getEscapedPath() == '/a/b' && url(self.endpoint).getQuery()['x'] == ['1', '2']";
    holds(
        u,
        json!({"endpoint": "https://example.com:8443/a/b?x=1&x=2"}),
    );
    fails(u, json!({"endpoint": "http://example.com/a/b"}));
    // ip
    holds(
        "ip(self.address).family() == 4 && ip(self.address).isLoopback()",
        json!({"address": "127.0.0.1"}),
    );
    holds(
        "ip(self.address).family() == 6 && ip(self.address).isLinkLocalUnicast() && !ip(self.address).isGlobalUnicast()",
        json!({"address": "fe80::1"}),
    );
    holds(
        "ip(self.address).isGlobalUnicast() && !ip(self.address).isUnspecified() && !ip(self.address).isLinkLocalMulticast()",
        json!({"address": "8.8.8.8"}),
    );
    holds(
        "ip(self.address).isLinkLocalMulticast()",
        json!({"address": "224.0.0.1"}),
    );
    holds(
        "!ip.isCanonical(self.address)",
        json!({"address": "2001:DB8::1"}),
    );
    // cidr
    let c = "cidr(self.network).containsIP(self.address) && cidr(self.network).containsCIDR('10.0.0.0/24') && cidr(self.network).prefixLength() == 8 && string(cidr(self.network).masked()) == '10.0.0.0/8' && string(cidr(self.network).ip()) == '10.1.2.3'";
    holds(c, json!({"network": "10.1.2.3/8", "address": "10.9.9.9"}));
    fails(c, json!({"network": "10.1.2.3/8", "address": "11.0.0.1"}));
    holds(
        "cidr(self.network).containsIP(ip(self.address))",
        json!({"network": "2001:db8::/32", "address": "2001:db8::7"}),
    );
    // format
    let f = "!format.dns1123Label().validate(self.name).hasValue()";
    holds(f, json!({"name": "my-name"}));
    fails(f, json!({"name": "My_Name"}));
    holds(
        "format.dns1123Label().validate(self.name).value() == ['must not contain dots']",
        json!({"name": "a.b"}),
    );
    for (format, good, bad) in [
        ("dns1123Subdomain", "a.example.com", "-bad"),
        ("dns1035Label", "abc", "1abc"),
        ("qualifiedName", "example.com/Name", "a/b/c"),
        ("labelValue", "v1.2", "-x"),
        ("uri", "https://example.com/x", "not a uri"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123"),
        ("byte", "aGVsbG8=", "%%%"),
        ("date", "2021-01-01", "2021-13-01"),
        ("datetime", "2021-01-01T00:00:00Z", "yesterday"),
    ] {
        let rule = format!("!format.{format}().validate(self.name).hasValue()");
        holds(&rule, json!({"name": good}));
        fails(&rule, json!({"name": bad}));
    }
    holds(
        "format.named('dns1035Label').hasValue() && !format.named('nope').hasValue()",
        json!({}),
    );
}
