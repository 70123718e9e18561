//! Server-side apply and the `managedFields` bookkeeping of plain writes (structured-merge-diff
//! semantics on JSON; see the parent module for what is and is not emulated).

use super::*;

/// Finds the sub-schema at a field path (list elements are transparent in `path`).
pub(super) fn schema_at<'s>(schema: &'s Value, path: &[String]) -> Option<&'s Value> {
    let mut node = schema;
    for field in path {
        while node.get("type").and_then(Value::as_str) == Some("array") {
            node = node.get("items")?;
        }
        node = node
            .get("properties")
            .and_then(|p| p.get(field))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?;
    }
    Some(node)
}

/// Resolves list kinds during apply: metadata and built-ins from the Go types, CRDs from their
/// schema.
#[derive(Clone, Copy)]
pub(super) struct ListTypes<'a> {
    schema: Option<&'a Value>,
}

impl ListTypes<'_> {
    fn kind(self, path: &[String], items: &[Value]) -> ListKind {
        let in_metadata = path.first().is_some_and(|p| p == "metadata");
        match self.schema {
            Some(schema) if !in_metadata => {
                schema_at(schema, path).map_or(ListKind::Atomic, schema_list_kind)
            }
            _ => builtin_list_kind(path, items),
        }
    }

    /// Whether the map or struct at `path` is atomic (`x-kubernetes-map-type: atomic`, what
    /// Go's `+mapType=atomic` and `+structType=atomic` markers produce): one owned field,
    /// replaced whole by an apply.
    fn is_atomic_map(self, path: &[String]) -> bool {
        let in_metadata = path.first().is_some_and(|p| p == "metadata");
        !path.is_empty()
            && !in_metadata
            && self
                .schema
                .and_then(|s| schema_at(s, path))
                .and_then(|s| s.get("x-kubernetes-map-type"))
                .is_some_and(|t| t == "atomic")
    }
}

/// A field path in FieldsV1 elements: `f:<name>`, `k:<json keys>`, `v:<json value>`, `.`.
pub(super) type FieldPath = Vec<String>;

/// Metadata fields the server owns; they never appear in managed fields.
pub(super) const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// The part of an object a write through `subresource` may touch, as a filtered copy.
pub(super) fn writable_part(
    obj: &Value,
    subresource: Option<&str>,
    status_subresource: bool,
) -> Value {
    let Some(map) = obj.as_object() else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (k, v) in map {
        let keep = match k.as_str() {
            "apiVersion" | "kind" => false,
            "status" => {
                subresource == Some("status") || (subresource.is_none() && !status_subresource)
            }
            _ => subresource.is_none(),
        };
        if !keep {
            continue;
        }
        if k == "metadata" {
            let mut md = v.as_object().cloned().unwrap_or_default();
            md.retain(|mk, _| !SERVER_METADATA.contains(&mk.as_str()));
            if !md.is_empty() {
                out.insert(k.clone(), Value::Object(md));
            }
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Collects the leaf field paths of `value` into `out`.
pub(super) fn collect_fields(
    value: &Value,
    names: &mut Vec<String>,
    path: &mut FieldPath,
    types: ListTypes<'_>,
    out: &mut BTreeSet<FieldPath>,
) {
    match value {
        Value::Object(map) if !map.is_empty() && !types.is_atomic_map(names) => {
            for (k, v) in map {
                names.push(k.clone());
                path.push(format!("f:{k}"));
                collect_fields(v, names, path, types, out);
                path.pop();
                names.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match types.kind(names, items) {
            ListKind::Atomic => {
                out.insert(path.clone());
            }
            ListKind::Set => {
                for item in items {
                    let mut p = path.clone();
                    p.push(format!("v:{}", canonical_json(item)));
                    out.insert(p);
                }
            }
            ListKind::Map(keys) => {
                for item in items {
                    let Some(key) = element_key(item, &keys) else {
                        // An element without its keys cannot be tracked; own the list whole.
                        out.insert(path.clone());
                        continue;
                    };
                    path.push(key);
                    let mut dot = path.clone();
                    dot.push(".".to_owned());
                    out.insert(dot);
                    if let Value::Object(fields) = item {
                        for (k, v) in fields {
                            names.push(k.clone());
                            path.push(format!("f:{k}"));
                            collect_fields(v, names, path, types, out);
                            path.pop();
                            names.pop();
                        }
                    }
                    path.pop();
                }
            }
        },
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

/// The `k:` element of a map-list item, with its key fields in sorted order as Go writes them.
pub(super) fn element_key(item: &Value, keys: &[String]) -> Option<String> {
    let obj = item.as_object()?;
    let present: BTreeMap<&str, &Value> = keys
        .iter()
        .filter_map(|k| obj.get(k).map(|v| (k.as_str(), v)))
        .collect();
    if present.is_empty() {
        return None;
    }
    let body: Vec<String> = present
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                canonical_json(&Value::String((*k).to_owned())),
                canonical_json(v)
            )
        })
        .collect();
    Some(format!("k:{{{}}}", body.join(",")))
}

/// JSON with object keys sorted, independent of serde_json's map ordering feature.
pub(super) fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            let body: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(canonical_json)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        other => other.to_string(),
    }
}

/// The value at a field path, if present.
pub(super) fn value_at<'v>(obj: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut node = obj;
    for el in path {
        node = step(node, el)?;
    }
    Some(node)
}

pub(super) fn step<'v>(node: &'v Value, el: &str) -> Option<&'v Value> {
    if el == "." {
        return Some(node);
    }
    if let Some(field) = el.strip_prefix("f:") {
        return node.get(field);
    }
    let items = node.as_array()?;
    if let Some(key) = el.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        return items
            .iter()
            .find(|i| key.iter().all(|(k, v)| i.get(k) == Some(v)));
    }
    let wanted: Value = serde_json::from_str(el.strip_prefix("v:")?).ok()?;
    items.iter().find(|i| **i == wanted)
}

/// Removes the node at `path` from `obj` (a `.` path removes the list element).
pub(super) fn remove_at(obj: &mut Value, path: &[String]) {
    let (target, parent) = match path {
        [parent @ .., el, dot] if dot == "." => (el, parent),
        [parent @ .., el] => (el, parent),
        [] => return,
    };
    let mut node = obj;
    for el in parent {
        let next = match el.strip_prefix("f:") {
            Some(field) => node.get_mut(field),
            None => index_of(node, el).and_then(|i| node.get_mut(i)),
        };
        let Some(next) = next else { return };
        node = next;
    }
    if let Some(field) = target.strip_prefix("f:") {
        if let Some(map) = node.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(i) = index_of(node, target)
        && let Some(items) = node.as_array_mut()
    {
        items.remove(i);
    }
}

pub(super) fn index_of(node: &Value, el: &str) -> Option<usize> {
    let found = step(node, el)?;
    node.as_array()?.iter().position(|i| std::ptr::eq(i, found))
}

/// Merges an applied configuration into the live object.
pub(super) fn merge_applied(
    live: &mut Value,
    applied: &Value,
    names: &mut Vec<String>,
    types: ListTypes<'_>,
) {
    match (live, applied) {
        (live @ Value::Object(_), Value::Object(_)) if types.is_atomic_map(names) => {
            *live = applied.clone();
        }
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                names.push(k.clone());
                match l.get_mut(k) {
                    Some(lv) => merge_applied(lv, av, names, types),
                    None => {
                        l.insert(k.clone(), av.clone());
                    }
                }
                names.pop();
            }
        }
        (Value::Array(l), Value::Array(a)) => match types.kind(names, a) {
            ListKind::Atomic => l.clone_from(a),
            ListKind::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListKind::Map(keys) => {
                for item in a {
                    match l.iter_mut().find(|e| same_key(e, item, &keys)) {
                        Some(existing) => merge_applied(existing, item, names, types),
                        None => l.push(item.clone()),
                    }
                }
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}

/// One `metadata.managedFields` entry, with its field set decoded.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: BTreeSet<FieldPath>,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".to_owned(), Value::String(self.manager.clone()));
        m.insert(
            "operation".to_owned(),
            Value::String(self.operation.clone()),
        );
        m.insert(
            "apiVersion".to_owned(),
            Value::String(self.api_version.clone()),
        );
        m.insert("time".to_owned(), Value::String(self.time.clone()));
        m.insert(
            "fieldsType".to_owned(),
            Value::String("FieldsV1".to_owned()),
        );
        m.insert("fieldsV1".to_owned(), encode_fields(&self.fields));
        if let Some(sub) = &self.subresource {
            m.insert("subresource".to_owned(), Value::String(sub.clone()));
        }
        Value::Object(m)
    }
}

pub(super) fn read_entries(obj: Option<&Value>) -> Vec<Entry> {
    let Some(items) = obj
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    items
        .iter()
        .map(|e| {
            let s = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut fields = BTreeSet::new();
            if let Some(f) = e.get("fieldsV1") {
                decode_fields(f, &mut Vec::new(), &mut fields);
            }
            Entry {
                manager: s("manager"),
                operation: s("operation"),
                api_version: s("apiVersion"),
                time: s("time"),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                fields,
            }
        })
        .collect()
}

pub(super) fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            md.remove("managedFields");
        } else {
            md.insert("managedFields".to_owned(), Value::Array(list));
        }
    }
}

/// Encodes a set of leaf paths as a FieldsV1 tree.
pub(super) fn encode_fields(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for el in path {
            let child = node
                .entry(el.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = child else { break };
            node = next;
        }
    }
    Value::Object(root)
}

pub(super) fn decode_fields(node: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let Some(map) = node.as_object() else { return };
    if map.is_empty() {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, v) in map {
        path.push(k.clone());
        decode_fields(v, path, out);
        path.pop();
    }
}

/// A field path in the apiserver's conflict notation: `.spec.ports[port=80,protocol="TCP"]`.
pub(super) fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if el == "." {
            continue;
        }
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(out, "[{}]", parts.join(","));
        } else if let Some(v) = el.strip_prefix("v:") {
            let _ = write!(out, "[={v}]");
        }
    }
    out
}

/// The fields of `applied_set` whose applied value differs from the live one while another
/// manager owns them, with the owners.
pub(super) fn conflicts(
    applied_set: &BTreeSet<FieldPath>,
    applied: &Value,
    live: &Value,
    entries: &[Entry],
    manager: &str,
) -> BTreeMap<FieldPath, Vec<Conflict>> {
    let mut out: BTreeMap<FieldPath, Vec<Conflict>> = BTreeMap::new();
    for path in applied_set {
        if path.last().is_some_and(|el| el == ".") {
            continue;
        }
        let Some(live_value) = value_at(live, path) else {
            continue;
        };
        if value_at(applied, path) == Some(live_value) {
            continue;
        }
        for e in entries
            .iter()
            .filter(|e| e.manager != manager && e.fields.contains(path))
        {
            out.entry(path.clone()).or_default().push(Conflict {
                manager: e.manager.clone(),
                field: display_path(path),
            });
        }
    }
    out
}

/// The object a create-by-apply starts from: the applied identity, nothing else.
pub(super) fn skeleton(applied: &Value) -> Value {
    let mut base = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = applied.get(k) {
            base.insert(k.to_owned(), v.clone());
        }
    }
    let mut md = Map::new();
    for k in ["name", "namespace", "generateName"] {
        if let Some(v) = applied.pointer(&format!("/metadata/{k}")) {
            md.insert(k.to_owned(), v.clone());
        }
    }
    base.insert("metadata".to_owned(), Value::Object(md));
    Value::Object(base)
}

/// Server-side apply: merges `applied` into `live` (or creates the object when `live` is
/// `None`) for `opts.manager`, and returns the new object with updated `managedFields`.
///
/// The server keeps the identity fields (uid, resourceVersion, ...) of `live`; on create the
/// result carries only what was applied plus `managedFields`.
pub(crate) fn apply(
    live: Option<&Value>,
    applied: &Value,
    opts: &ApplyOptions<'_>,
) -> Result<Value, ApplyError> {
    let Some(applied_map) = applied.as_object() else {
        return Err(ApplyError::Invalid("the body must be an object".to_owned()));
    };
    for field in ["apiVersion", "kind"] {
        if applied_map
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApplyError::Invalid(format!("{field} must be set")));
        }
    }
    let types = ListTypes {
        schema: opts.schema,
    };
    let sub = opts.subresource.as_deref();
    let part = writable_part(applied, sub, opts.status_subresource);
    let mut applied_set = BTreeSet::new();
    collect_fields(
        &part,
        &mut Vec::new(),
        &mut Vec::new(),
        types,
        &mut applied_set,
    );

    let empty = Value::Object(Map::new());
    let live_obj = live.unwrap_or(&empty);
    let mut entries = read_entries(live);
    let prev: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| e.is(&opts.manager, "Apply", sub))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    let taken = conflicts(&applied_set, &part, live_obj, &entries, &opts.manager);
    if !taken.is_empty() && !opts.force {
        return Err(ApplyError::Conflict(
            taken.into_values().flatten().collect(),
        ));
    }
    for e in entries.iter_mut().filter(|e| e.manager != opts.manager) {
        e.fields.retain(|p| !taken.contains_key(p));
    }

    let mut out = live.cloned().unwrap_or_else(|| skeleton(applied));
    if let (Some(o), Some(v)) = (out.as_object_mut(), applied_map.get("apiVersion")) {
        o.insert("apiVersion".to_owned(), v.clone());
    }
    merge_applied(&mut out, &part, &mut Vec::new(), types);

    // Fields this manager applied before and no longer applies go, unless someone else owns them.
    let others: BTreeSet<&FieldPath> = entries
        .iter()
        .filter(|e| !e.is(&opts.manager, "Apply", sub))
        .flat_map(|e| e.fields.iter())
        .collect();
    let mut dropped: Vec<&FieldPath> = prev
        .iter()
        .filter(|p| !applied_set.contains(*p) && !others.contains(p))
        .filter(|p| {
            // An element is only removed when nobody else owns anything inside it.
            let prefix = &p[..p.len().saturating_sub(1)];
            let is_element = p.last().is_some_and(|el| el == ".");
            let still_used = others
                .iter()
                .any(|o| o.starts_with(prefix) && o.len() > prefix.len())
                || applied_set.iter().any(|o| o.starts_with(prefix));
            !is_element || !still_used
        })
        .collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in &dropped {
        remove_at(&mut out, path);
    }
    prune_empty_containers(&mut out, &dropped, &applied_set, &others);

    let api_version = applied_map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match entries
        .iter_mut()
        .find(|e| e.is(&opts.manager, "Apply", sub))
    {
        Some(e) => {
            e.fields = applied_set;
            e.time.clone_from(&opts.now);
            e.api_version = api_version;
        }
        None => entries.push(Entry {
            manager: opts.manager.clone(),
            operation: "Apply".to_owned(),
            api_version,
            time: opts.now.clone(),
            subresource: opts.subresource.clone(),
            fields: applied_set,
        }),
    }
    write_entries(&mut out, &entries);
    Ok(out)
}

/// Removes the containers that removing `dropped` left empty, unless applied (an explicitly
/// applied `{}` stays) or owned by another manager: structured-merge-diff removes the whole
/// subtree a manager stops applying.
fn prune_empty_containers(
    out: &mut Value,
    dropped: &[&FieldPath],
    applied: &BTreeSet<FieldPath>,
    others: &BTreeSet<&FieldPath>,
) {
    for path in dropped {
        for depth in (1..path.len()).rev() {
            let parent = &path[..depth];
            if !parent.last().is_some_and(|el| el.starts_with("f:")) {
                break;
            }
            let kept = applied
                .iter()
                .chain(others.iter().copied())
                .any(|o| o.starts_with(parent));
            let empty = value_at(out, parent).is_some_and(|v| {
                v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty)
            });
            if kept || !empty {
                break;
            }
            remove_at(out, parent);
        }
    }
}

/// Records a non-apply write (create, update, patch) by `manager` in `new`'s `managedFields`.
///
/// The manager's `Update` entry gains every field whose value it changed or added, other
/// managers lose those fields, and fields that no longer exist are forgotten. Existing entries are
/// read from `old` (the stored object); whatever `managedFields` the request carried is replaced.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
    schema: Option<&Value>,
) {
    let types = ListTypes { schema };
    let part = writable_part(new, None, false);
    let mut new_set = BTreeSet::new();
    collect_fields(&part, &mut Vec::new(), &mut Vec::new(), types, &mut new_set);
    let empty = Value::Object(Map::new());
    let old_obj = old.unwrap_or(&empty);
    let changed: BTreeSet<FieldPath> = new_set
        .iter()
        .filter(|p| {
            let new_element = p.last().is_some_and(|el| el == ".")
                && value_at(old_obj, &p[..p.len() - 1]).is_none();
            new_element || value_at(old_obj, p) != value_at(&part, p)
        })
        .cloned()
        .collect();
    let mut entries = read_entries(old);
    for e in &mut entries {
        e.fields.retain(|p| new_set.contains(p));
        if !e.is(manager, "Update", subresource) {
            e.fields.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        let api_version = new
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match entries
            .iter_mut()
            .find(|e| e.is(manager, "Update", subresource))
        {
            Some(e) => {
                e.fields.extend(changed);
                now.clone_into(&mut e.time);
                api_version.clone_into(&mut e.api_version);
            }
            None => entries.push(Entry {
                manager: manager.to_owned(),
                operation: "Update".to_owned(),
                api_version: api_version.to_owned(),
                time: now.to_owned(),
                subresource: subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    write_entries(new, &entries);
}
