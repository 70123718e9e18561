//! The `meta.k8s.io/v1` `Table` format kubectl asks for, and the JSONPath subset used by
//! `additionalPrinterColumns`.

use serde_json::{Value, json};

use crate::registry::{PrinterColumn, ResourceDef};

/// One JSONPath step.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter(Vec<String>, bool, Value),
}

/// Parses the JSONPath subset Kubernetes printer columns use: `.a.b`, `.a['k.x']`, `.a[0]`,
/// `.a[*]` and `.a[?(@.type=="Ready")].status` (plus `!=`).
fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(p)
        .trim();
    let p = p.strip_prefix('$').unwrap_or(p);
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut steps = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    name.push(chars[i]);
                    i += 1;
                }
                if !name.is_empty() {
                    steps.push(Step::Field(name));
                }
            }
            '[' => {
                let close = find_close(&chars, i)?;
                let inner: String = chars[i + 1..close].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return Some(inner.to_owned());
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::All);
    }
    if let Ok(n) = inner.parse::<usize>() {
        return Some(Step::Index(n));
    }
    if let Some(k) = unquote(inner) {
        return Some(Step::Field(k));
    }
    let f = inner.strip_prefix("?(")?.strip_suffix(')')?.trim();
    let (lhs, eq, rhs) = if let Some((l, r)) = f.split_once("==") {
        (l, true, r)
    } else {
        let (l, r) = f.split_once("!=")?;
        (l, false, r)
    };
    let path: Vec<String> = lhs
        .trim()
        .strip_prefix("@.")?
        .split('.')
        .map(str::to_owned)
        .collect();
    let rhs = rhs.trim();
    let value = match unquote(rhs) {
        Some(s) => Value::String(s),
        None => serde_json::from_str(rhs).unwrap_or_else(|_| Value::String(rhs.to_owned())),
    };
    Some(Step::Filter(path, eq, value))
}

/// Evaluates a JSONPath expression, returning every match.
pub(crate) fn eval<'a>(path: &str, obj: &'a Value) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut cur = vec![obj];
    for s in &steps {
        let mut next = Vec::new();
        for v in cur {
            match s {
                Step::Field(f) => next.extend(v.get(f.as_str())),
                Step::Index(n) => next.extend(v.get(*n)),
                Step::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter(path, eq, want) => {
                    for item in v.as_array().into_iter().flatten() {
                        let mut x = Some(item);
                        for p in path {
                            x = x.and_then(|x| x.get(p.as_str()));
                        }
                        if x.is_some_and(|x| x == want) == *eq {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

/// Whether `def` is Events (core or `events.k8s.io`), printed by `printEvent`.
fn is_events(def: &ResourceDef) -> bool {
    def.plural == "events" && (def.group.is_empty() || def.group == "events.k8s.io")
}

/// The columns of `printEvent` (pkg/printers/internalversion): what `kubectl get events`
/// shows (`LAST SEEN TYPE REASON OBJECT MESSAGE`; the others are `-o wide`).
fn event_column_defs() -> Vec<Value> {
    [
        ("Last Seen", "string", 0),
        ("Type", "string", 0),
        ("Reason", "string", 0),
        ("Object", "string", 0),
        ("Subobject", "string", 1),
        ("Source", "string", 1),
        ("Message", "string", 0),
        ("First Seen", "string", 1),
        ("Count", "string", 1),
        ("Name", "string", 1),
    ]
    .iter()
    .map(|(name, ty, priority)| {
        json!({"name": name, "type": ty, "format": if *name == "Name" { "name" } else { "" }, "priority": priority, "description": ""})
    })
    .collect()
}

/// The cells of one event, read in its core v1 form.
fn event_cells(obj: &Value) -> Vec<Value> {
    let e = crate::events::to_core(obj);
    let s = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let age = |p: &str| {
        let t = s(p);
        if t.is_empty() {
            String::new()
        } else {
            crate::util::human_age(&t)
        }
    };
    let mut last = age("/lastTimestamp");
    if last.is_empty() {
        last = age("/eventTime");
    }
    if last.is_empty() {
        last = age("/metadata/creationTimestamp");
    }
    let object = format!(
        "{}/{}",
        s("/involvedObject/kind").to_lowercase(),
        s("/involvedObject/name")
    );
    let source = match (s("/source/component"), s("/reportingComponent")) {
        (c, _) if !c.is_empty() => c,
        (_, r) => r,
    };
    vec![
        json!(last),
        json!(s("/type")),
        json!(s("/reason")),
        json!(object),
        json!(s("/involvedObject/fieldPath")),
        json!(source),
        json!(s("/message")),
        json!(age("/firstTimestamp")),
        json!(e["count"].as_i64().unwrap_or(1).to_string()),
        json!(s("/metadata/name")),
    ]
}

fn column_defs(def: &ResourceDef) -> Vec<Value> {
    if is_events(def) {
        return event_column_defs();
    }
    let mut cols = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    if def.columns.is_empty() {
        cols.push(json!({
            "name": "Age", "type": "date", "format": "", "priority": 0,
            "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
        }));
    } else {
        for c in &def.columns {
            cols.push(json!({
                "name": c.name, "type": c.type_, "format": c.format,
                "description": c.description, "priority": c.priority,
            }));
        }
    }
    cols
}

fn cell(c: &PrinterColumn, obj: &Value) -> Value {
    let Some(v) = eval(&c.json_path, obj).into_iter().next() else {
        return Value::Null;
    };
    match c.type_.as_str() {
        "date" => v
            .as_str()
            .map_or(Value::Null, |s| Value::String(crate::util::human_age(s))),
        "integer" | "number" | "boolean" if !v.is_string() => v.clone(),
        _ => match v {
            Value::String(_) => v.clone(),
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        },
    }
}

/// One table row for an object.
fn row(def: &ResourceDef, obj: &Value, include_object: &str) -> Value {
    let mut cells = vec![obj["metadata"]["name"].clone()];
    if is_events(def) {
        cells = event_cells(obj);
    } else if def.columns.is_empty() {
        let created = obj["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default();
        cells.push(Value::String(crate::util::human_age(created)));
    } else {
        cells.extend(def.columns.iter().map(|c| cell(c, obj)));
    }
    let object = match include_object {
        "None" => Value::Null,
        "Object" => obj.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }),
    };
    let mut r = json!({"cells": cells});
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

/// A `Table` for a list of objects.
pub(crate) fn table(
    def: &ResourceDef,
    objs: &[Value],
    list_meta: &Value,
    include_object: &str,
) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": column_defs(def),
        "rows": objs.iter().map(|o| row(def, o, include_object)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_supports_fields_escapes_indexes_and_filters() {
        let o = json!({
            "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "c1"}},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Other", "status": "False"}
            ]},
            "spec": {"items": [{"n": 1}, {"n": 2}]}
        });
        assert_eq!(
            eval(".metadata.labels['cluster.x-k8s.io/cluster-name']", &o),
            [&json!("c1")]
        );
        assert_eq!(
            eval(".metadata.labels.cluster\\.x-k8s\\.io/cluster-name", &o),
            [&json!("c1")]
        );
        assert_eq!(
            eval(".status.conditions[?(@.type==\"Ready\")].status", &o),
            [&json!("True")]
        );
        assert_eq!(
            eval(".status.conditions[?(@.type!='Ready')].status", &o),
            [&json!("False")]
        );
        assert_eq!(eval("{.spec.items[1].n}", &o), [&json!(2)]);
        assert_eq!(eval(".spec.items[*].n", &o).len(), 2);
        assert!(eval(".nothing.here", &o).is_empty());
    }
}
