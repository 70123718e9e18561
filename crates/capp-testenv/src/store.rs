//! The in-memory object store: objects, the global resourceVersion, the bounded event
//! history watchers replay from, and the write paths with Kubernetes semantics (create,
//! update, patch, delete, finalizers, garbage collection, CRD registration).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::compat;
use crate::registry::{self, ResourceDef};
use crate::status::{ApiError, Cause, cause};
use crate::util;

/// Store key: (group, plural, namespace, name). The namespace is empty for cluster-scoped
/// objects.
pub(crate) type Key = (String, String, String, String);

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history and fanned out to watchers.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) group: String,
    pub(crate) plural: String,
    pub(crate) namespace: String,
    pub(crate) kind: EventType,
    pub(crate) object: Arc<Value>,
    /// The previous state for MODIFIED events (used to turn selector transitions into
    /// ADDED/DELETED as the real server does).
    pub(crate) old: Option<Arc<Value>>,
}

/// How unknown fields are reported (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FieldValidation {
    Strict,
    #[default]
    Warn,
    Ignore,
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOpts {
    pub(crate) dry_run: bool,
    pub(crate) field_manager: String,
    pub(crate) field_validation: FieldValidation,
    pub(crate) force: bool,
    /// The write is a server-side apply (managedFields already recorded).
    pub(crate) applied: bool,
}

/// The result of a write.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) object: Value,
    pub(crate) warnings: Vec<String>,
    pub(crate) created: bool,
}

/// How a patch body is to be interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// Delete options.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOpts {
    pub(crate) propagation: Option<String>,
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
    pub(crate) dry_run: bool,
}

/// A page of a list.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) items: Vec<Value>,
    pub(crate) rv: u64,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining: Option<usize>,
}

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";
const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The whole mutable state, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    rv: u64,
    /// Objects are shared with the history (`Arc`), so an unchanged object is kept once.
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Events with `rv <= compacted` are no longer in the history.
    compacted: u64,
    defs: Vec<Arc<ResourceDef>>,
    tx: broadcast::Sender<Arc<Event>>,
}

fn meta(obj: &Value) -> &Value {
    &obj["metadata"]
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = Value::Object(Map::new());
    }
    // Both levels were just made objects, so this cannot fail.
    obj.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| unreachable!())
}

fn str_field<'a>(obj: &'a Value, f: &str) -> &'a str {
    obj["metadata"][f].as_str().unwrap_or_default()
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn set_finalizers(obj: &mut Value, f: &[String]) {
    let m = meta_mut(obj);
    if f.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(f));
    }
}

fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// The object without metadata (and without status when `drop_status`): what drives
/// `metadata.generation`.
fn generation_content(obj: &Value, drop_status: bool) -> Value {
    let mut c = obj.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if drop_status {
            m.remove("status");
        }
    }
    c
}

/// The object minus fields that do not make a write "real" (resourceVersion, managedFields
/// timestamps).
fn noop_view(obj: &Value) -> Value {
    let mut c = obj.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(Value::Array(mf)) = m.get_mut("managedFields") {
            for e in mf {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    if let Some(m) = c.as_object_mut() {
        m.remove("apiVersion");
    }
    c
}

impl State {
    /// A store holding the built-in resources and the default namespaces.
    pub(crate) fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(16_384);
        let mut s = Self {
            rv: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            defs: registry::builtins(),
            tx,
        };
        for ns in PROTECTED_NAMESPACES {
            if let Some(def) = s.find_def("", "v1", "namespaces") {
                let _ = s.create(
                    &def,
                    "",
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                    &WriteOpts::default(),
                );
            }
        }
        s
    }

    /// The current global resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// All served resources.
    pub(crate) fn defs(&self) -> &[Arc<ResourceDef>] {
        &self.defs
    }

    /// Looks up a served resource.
    pub(crate) fn find_def(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
            .cloned()
    }

    /// Looks up a served resource by `apiVersion` and kind.
    pub(crate) fn find_def_by_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.api_version() == api_version && d.kind == kind)
            .cloned()
    }

    /// Looks up a served resource by group and plural (any version).
    fn find_def_any(&self, group: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|d| d.group == group && d.plural == plural)
            .cloned()
    }

    /// Renders a stored object for a resource version (sets apiVersion and kind).
    pub(crate) fn render(def: &ResourceDef, obj: &Value) -> Value {
        let mut o = obj.clone();
        if let Some(m) = o.as_object_mut() {
            m.insert("apiVersion".into(), Value::String(def.api_version()));
            m.insert("kind".into(), Value::String(def.kind.clone()));
        }
        o
    }

    fn key(def: &ResourceDef, ns: &str, name: &str) -> Key {
        (
            def.group.clone(),
            def.plural.clone(),
            if def.namespaced {
                ns.to_owned()
            } else {
                String::new()
            },
            name.to_owned(),
        )
    }

    /// Subscribes to future events.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    fn push_event(&mut self, ev: Event) {
        let ev = Arc::new(ev);
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.compacted = e.rv;
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(ev);
    }

    fn commit(&mut self, key: &Key, mut obj: Value, kind: EventType) -> Arc<Value> {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let obj = Arc::new(obj);
        let old = self.objects.insert(key.clone(), obj.clone());
        self.push_event(Event {
            rv: self.rv,
            group: key.0.clone(),
            plural: key.1.clone(),
            namespace: key.2.clone(),
            kind,
            object: obj.clone(),
            old,
        });
        if key.0 == "apiextensions.k8s.io" && key.1 == "customresourcedefinitions" {
            self.register_crd(&obj);
        }
        obj
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        let prev = self.objects.remove(key)?;
        let mut obj = (*prev).clone();
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        self.push_event(Event {
            rv: self.rv,
            group: key.0.clone(),
            plural: key.1.clone(),
            namespace: key.2.clone(),
            kind: EventType::Deleted,
            object: Arc::new(obj.clone()),
            // The state before deletion, so that lists at older resourceVersions can be rebuilt.
            old: Some(prev),
        });
        if key.0 == "apiextensions.k8s.io" && key.1 == "customresourcedefinitions" {
            self.defs
                .retain(|d| d.crd.as_deref() != Some(key.3.as_str()));
        }
        Some(obj)
    }

    /// A stored object, raw.
    pub(crate) fn get_raw(&self, def: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&Self::key(def, ns, name))
            .map(AsRef::as_ref)
    }

    /// GET.
    pub(crate) fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.get_raw(def, ns, name)
            .map(|o| Self::render(def, o))
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    /// Objects of a resource, optionally in one namespace, in key order.
    pub(crate) fn objects_of<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| {
                k.0 == group && k.1 == plural && ns.is_none_or(|n| n.is_empty() || k.2 == n)
            })
            .map(|(k, v)| (k, &**v))
    }

    /// LIST with selectors and paging. Every page of a paged list shows the state at the first
    /// page's resourceVersion (carried in the continue token), as etcd does; `at` asks for the
    /// state at an exact resourceVersion (`resourceVersionMatch=Exact`). Both are rebuilt from
    /// the watch history and give 410 Expired once it no longer reaches back that far.
    pub(crate) fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        matches: &dyn Fn(&Value) -> bool,
        limit: Option<usize>,
        continue_token: Option<&str>,
        at: Option<u64>,
    ) -> Result<Page, ApiError> {
        let token = match continue_token.filter(|c| !c.is_empty()) {
            Some(c) => Some(decode_continue(c)?),
            None => None,
        };
        let snapshot_rv = token.as_ref().and_then(|t| t.rv).or(at);
        let snapshot = match snapshot_rv {
            Some(rv) if rv != self.rv => Some(self.snapshot(def, rv, token.is_some())?),
            _ => None,
        };
        let in_ns = |k_ns: &str| ns.is_none_or(|n| n.is_empty() || k_ns == n);
        let candidates: Box<dyn Iterator<Item = (&str, &str, &Value)>> = match &snapshot {
            Some(snap) => Box::new(
                snap.iter()
                    .filter(|(k, _)| in_ns(&k.0))
                    .map(|(k, v)| (k.0.as_str(), k.1.as_str(), &**v)),
            ),
            None => Box::new(
                self.objects_of(&def.group, &def.plural, ns)
                    .map(|(k, v)| (k.2.as_str(), k.3.as_str(), v)),
            ),
        };
        let mut items = Vec::new();
        let mut last: Option<(&str, &str)> = None;
        let mut remaining = 0usize;
        for (k_ns, k_name, v) in candidates {
            if let Some(t) = &token
                && (k_ns, k_name) <= (t.ns.as_str(), t.name.as_str())
            {
                continue;
            }
            if !matches(v) {
                continue;
            }
            if limit.is_some_and(|l| l > 0 && items.len() >= l) {
                remaining += 1;
                continue;
            }
            last = Some((k_ns, k_name));
            items.push(Self::render(def, v));
        }
        let rv = snapshot_rv.unwrap_or(self.rv);
        let continue_token = if remaining > 0 {
            last.map(|(n, m)| encode_continue(n, m, rv))
        } else {
            None
        };
        Ok(Page {
            items,
            rv,
            remaining: continue_token.as_ref().map(|_| remaining),
            continue_token,
        })
    }

    /// The objects of a resource as they were at `rv`, keyed by (namespace, name), rebuilt by
    /// undoing the history's later events.
    fn snapshot(
        &self,
        def: &ResourceDef,
        rv: u64,
        continuing: bool,
    ) -> Result<BTreeMap<(String, String), Arc<Value>>, ApiError> {
        if rv > self.rv {
            return Err(ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {rv}, current: {}", self.rv),
            ));
        }
        if rv < self.compacted {
            return Err(ApiError::gone(if continuing {
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter."
                    .to_owned()
            } else {
                format!("The resourceVersion for the provided list is too old: {rv}")
            }));
        }
        let mut snap: BTreeMap<(String, String), Arc<Value>> = self
            .objects
            .iter()
            .filter(|(k, _)| k.0 == def.group && k.1 == def.plural)
            .map(|(k, v)| ((k.2.clone(), k.3.clone()), v.clone()))
            .collect();
        for ev in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if ev.group != def.group || ev.plural != def.plural {
                continue;
            }
            let name = ev.object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = (ev.namespace.clone(), name);
            match (ev.kind, &ev.old) {
                (EventType::Added, _) => {
                    snap.remove(&key);
                }
                (EventType::Modified | EventType::Deleted, Some(old)) => {
                    snap.insert(key, old.clone());
                }
                (EventType::Deleted, None) => {
                    snap.insert(key, ev.object.clone());
                }
                (_, None) => {}
            }
        }
        Ok(snap)
    }

    /// Events after `rv` (exclusive) for a resource, or 410 Gone when compacted.
    pub(crate) fn events_since(
        &self,
        group: &str,
        plural: &str,
        rv: u64,
    ) -> Result<Vec<Arc<Event>>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                self.compacted + 1
            )));
        }
        Ok(self
            .history
            .iter()
            .filter(|e| e.rv > rv && e.group == group && e.plural == plural)
            .cloned()
            .collect())
    }

    // ---------------------------------------------------------------- validation

    fn check_type(def: &ResourceDef, body: &Value) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let kind = body["kind"].as_str().unwrap_or_default();
        if !kind.is_empty() && kind != def.kind {
            return Err(ApiError::bad_request(format!(
                "the kind of the object ({kind}) does not match the kind of the resource ({})",
                def.kind
            )));
        }
        let av = body["apiVersion"].as_str().unwrap_or_default();
        if !av.is_empty() {
            let group = av.rsplit_once('/').map_or("", |(g, _)| g);
            if group != def.group {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({})",
                    def.api_version()
                )));
            }
        }
        Ok(())
    }

    fn validate_meta(def: &ResourceDef, obj: &Value) -> Vec<Cause> {
        let mut causes = Vec::new();
        let name = str_field(obj, "name");
        let ok = if def.group == "rbac.authorization.k8s.io" {
            util::is_path_segment_name(name)
        } else if def.plural == "namespaces" {
            util::is_dns_label(name)
        } else {
            util::is_dns_subdomain(name)
        };
        if !ok {
            let why = if def.plural == "namespaces" {
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
            } else {
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            };
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {why}"),
            ));
        }
        if let Some(labels) = meta(obj)["labels"].as_object() {
            for (k, v) in labels {
                if !util::is_qualified_name(k) {
                    causes.push(cause("FieldValueInvalid", "metadata.labels", format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'")));
                }
                match v.as_str() {
                    Some(s) if util::is_label_value(s) => {}
                    _ => causes.push(cause("FieldValueInvalid", "metadata.labels", format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))),
                }
            }
        } else if !meta(obj)["labels"].is_null() {
            causes.push(cause(
                "FieldValueTypeInvalid",
                "metadata.labels",
                "Invalid value: must be a map of strings",
            ));
        }
        if let Some(ann) = meta(obj)["annotations"].as_object() {
            for (k, v) in ann {
                if !util::is_qualified_name(k) || !v.is_string() {
                    causes.push(cause(
                        "FieldValueInvalid",
                        "metadata.annotations",
                        format!("Invalid value: \"{k}\": annotations must be string to string"),
                    ));
                }
            }
        }
        for (i, f) in meta(obj)["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ok = f.as_str().is_some_and(|s| {
                util::is_qualified_name(s)
                    && (s.contains('/')
                        || [FOREGROUND, ORPHAN, "kubernetes"].contains(&s)
                        || s.contains('.'))
            });
            if !ok {
                causes.push(cause("FieldValueInvalid", &format!("metadata.finalizers[{i}]"), format!("Invalid value: {f}: name is neither a standard finalizer name nor is it fully qualified")));
            }
        }
        for (i, r) in meta(obj)["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for f in ["apiVersion", "kind", "name", "uid"] {
                if r[f].as_str().is_none_or(str::is_empty) {
                    causes.push(cause(
                        "FieldValueRequired",
                        &format!("metadata.ownerReferences[{i}].{f}"),
                        "Required value",
                    ));
                }
            }
        }
        causes
    }

    /// Decodes built-in kinds into their types: wrong types are a 400, unknown fields are
    /// rejected, warned about or dropped per `fieldValidation`. Returns warnings.
    fn decode_builtin(
        def: &ResourceDef,
        obj: &mut Value,
        opts: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        if def.crd.is_some() {
            return Ok(Vec::new());
        }
        let name = str_field(obj, "name").to_owned();
        let unknown = match crate::builtin::check(&def.group, &def.plural, obj) {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {e}",
                    def.kind, def.version, def.kind
                )));
            }
        };
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field \"{}\"", u.display))
            .collect();
        if opts.field_validation == FieldValidation::Strict {
            return Err(ApiError::bad_request(format!(
                "{} \"{name}\": strict decoding error: {}",
                def.kind,
                list.join(", ")
            )));
        }
        crate::builtin::prune(obj, &unknown);
        Ok(if opts.field_validation == FieldValidation::Warn {
            list
        } else {
            Vec::new()
        })
    }

    /// Schema admission for custom resources; returns warnings.
    fn admit(
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
        opts: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        let Some(schema) = &def.schema else {
            return Ok(warnings);
        };
        let name = str_field(obj, "name").to_owned();
        let admitted = compat::admit(schema, obj, old)
            .map_err(|causes| ApiError::invalid(&def.kind, &def.group, &name, causes))?;
        // Rule failures on values the update left unchanged are let through (ratcheting) and
        // reported as warnings, whatever the fieldValidation mode.
        warnings.extend(admitted.warnings);
        let pruned = admitted.pruned;
        if pruned.is_empty() {
            return Ok(warnings);
        }
        let unknown = pruned.iter().map(|p| format!("unknown field \"{p}\""));
        match opts.field_validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "{}.{} \"{name}\": strict decoding error: {}",
                    def.kind,
                    def.group,
                    unknown.collect::<Vec<_>>().join(", ")
                )));
            }
            FieldValidation::Warn => warnings.extend(unknown),
            FieldValidation::Ignore => {}
        }
        Ok(warnings)
    }

    // ---------------------------------------------------------------- create

    /// POST: creates an object.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver create rules"
    )]
    pub(crate) fn create(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        Self::check_type(def, &obj)?;
        if let Some(crd) = &def.crd
            && self.crd_terminating(crd)
        {
            return Err(ApiError::method_not_allowed("create").with_details(
                &def.group,
                &def.plural,
                "",
            ));
        }
        let now = util::now();
        {
            let m = meta_mut(&mut obj);
            if def.namespaced {
                let body_ns = m
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                m.insert("namespace".into(), Value::String(ns.to_owned()));
            } else {
                m.remove("namespace");
            }
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if name.is_empty() {
                let prefix = m
                    .get("generateName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if prefix.is_empty() {
                    return Err(ApiError::invalid(
                        &def.kind,
                        &def.group,
                        "",
                        vec![cause(
                            "FieldValueRequired",
                            "metadata.name",
                            "Required value: name or generateName is required",
                        )],
                    ));
                }
                let generated = format!("{prefix}{}", util::random_suffix(5));
                m.insert("name".into(), Value::String(generated));
            }
            for f in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                m.remove(f);
            }
            m.insert("uid".into(), Value::String(util::uid()));
            m.insert("creationTimestamp".into(), Value::String(now.clone()));
            if def.tracks_generation {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        obj["apiVersion"] = Value::String(def.api_version());
        obj["kind"] = Value::String(def.kind.clone());
        let name = str_field(&obj, "name").to_owned();
        if def.namespaced {
            let ns_obj = self.objects.get(&(
                String::new(),
                "namespaces".into(),
                String::new(),
                ns.to_owned(),
            ));
            match ns_obj {
                None => return Err(ApiError::not_found("", "namespaces", ns)),
                Some(n) if is_deleting(n) => {
                    return Err(ApiError::forbidden(format!("{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", def.plural)).with_details(&def.group, &def.plural, &name));
                }
                Some(_) => {}
            }
        }
        let causes = Self::validate_meta(def, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, &def.group, &name, causes));
        }
        let key = Self::key(def, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&def.group, &def.plural, &name));
        }
        if def.status_subresource
            && def.plural != "namespaces"
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let mut warnings = Self::decode_builtin(def, &mut obj, opts)?;
        self.builtin_defaults(def, &mut obj, None)?;
        warnings.extend(Self::admit(def, &mut obj, None, opts)?);
        if !opts.applied {
            compat::record_update(
                None,
                &mut obj,
                &opts.field_manager,
                None,
                &now,
                def.raw_schema.as_ref(),
            );
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
                created: true,
            });
        }
        let owned = meta(&obj)["ownerReferences"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        let stored = self.commit(&key, obj, EventType::Added);
        if owned {
            // A dependent whose owners are all gone is collected, as the real GC would.
            self.gc();
        }
        Ok(Written {
            object: Self::render(def, &stored),
            warnings,
            created: true,
        })
    }

    /// Type-specific server behaviour for built-ins (namespaces, secrets, CRDs).
    fn builtin_defaults(
        &self,
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        match (def.group.as_str(), def.plural.as_str()) {
            ("", "namespaces") => {
                let name = str_field(obj, "name").to_owned();
                let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
                }
                if old.is_none() {
                    obj["spec"] = json!({"finalizers": ["kubernetes"]});
                }
                let phase = if is_deleting(obj) {
                    "Terminating"
                } else {
                    "Active"
                };
                obj["status"] = json!({"phase": phase});
            }
            ("", "secrets") => {
                if let Some(sd) = obj.get("stringData").and_then(Value::as_object).cloned() {
                    use base64::Engine as _;
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        obj["data"][k] =
                            Value::String(base64::engine::general_purpose::STANDARD.encode(s));
                    }
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("stringData");
                    }
                }
                if obj["type"].is_null() {
                    obj["type"] = json!("Opaque");
                }
            }
            ("apiextensions.k8s.io", "customresourcedefinitions") => self.prepare_crd(obj, old)?,
            _ => {}
        }
        // Go declares these kinds' `spec` and `status` as plain structs, which `omitempty`
        // never drops: the real server always answers with at least `{}` for them, and
        // clients may rely on it (kube-lease-manager creates a Lease without a spec).
        let (spec, status) = match (def.group.as_str(), def.plural.as_str()) {
            ("coordination.k8s.io", "leases") => (true, false),
            ("", "services" | "pods" | "nodes") | ("apps", "deployments") => (true, true),
            _ => (false, false),
        };
        if let Some(map) = obj.as_object_mut() {
            if spec && map.get("spec").is_none_or(Value::is_null) {
                map.insert("spec".to_owned(), json!({}));
            }
            if status && map.get("status").is_none_or(Value::is_null) {
                map.insert("status".to_owned(), json!({}));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- update

    /// PUT (and the second half of PATCH): replaces an object.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver update rules"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PUT request parameters"
    )]
    pub(crate) fn update(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut new: Value,
        opts: &WriteOpts,
        subresource: Option<&str>,
        require_rv: bool,
    ) -> Result<Written, ApiError> {
        Self::check_type(def, &new)?;
        let key = Self::key(def, ns, name);
        let Some(old) = self.objects.get(&key).map(|v| Value::clone(v)) else {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        };
        let body_name = str_field(&new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if def.namespaced {
            let body_ns = str_field(&new, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let rv = str_field(&new, "resourceVersion").to_owned();
        if rv.is_empty() {
            if require_rv && !def.unconditional_update {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )],
                ));
            }
        } else if rv != str_field(&old, "resourceVersion") {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let now = util::now();
        if subresource == Some("status") {
            // Only status (and managedFields) may change through /status.
            let status = new.get("status").cloned();
            let managed = meta(&new)["managedFields"].clone();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            if !managed.is_null() {
                meta_mut(&mut merged).insert("managedFields".into(), managed);
            }
            new = merged;
        } else if def.status_subresource && def.plural != "namespaces" {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        {
            let om = meta(&old).clone();
            let m = meta_mut(&mut new);
            for f in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
            ] {
                match om.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            m.insert("name".into(), Value::String(name.to_owned()));
            m.insert("resourceVersion".into(), om["resourceVersion"].clone());
        }
        new["apiVersion"] = Value::String(def.api_version());
        new["kind"] = Value::String(def.kind.clone());
        if is_deleting(&old) {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![cause(
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                    )],
                ));
            }
        }
        let causes = Self::validate_meta(def, &new);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, &def.group, name, causes));
        }
        let mut warnings = Self::decode_builtin(def, &mut new, opts)?;
        self.builtin_defaults(def, &mut new, Some(&old))?;
        warnings.extend(Self::admit(def, &mut new, Some(&old), opts)?);
        if def.tracks_generation
            && generation_content(&old, def.status_subresource)
                != generation_content(&new, def.status_subresource)
        {
            let g = meta(&old)["generation"].as_i64().unwrap_or(0) + 1;
            meta_mut(&mut new).insert("generation".into(), json!(g));
        }
        if !opts.applied {
            compat::record_update(
                Some(&old),
                &mut new,
                &opts.field_manager,
                subresource,
                &now,
                def.raw_schema.as_ref(),
            );
        }
        let is_ns = def.group.is_empty() && def.plural == "namespaces";
        let finished = is_deleting(&new) && finalizers(&new).is_empty() && !is_ns;
        if opts.dry_run {
            return Ok(Written {
                object: Self::render(def, &new),
                warnings,
                created: false,
            });
        }
        if finished {
            let gone = self.remove(&key).unwrap_or(new);
            self.gc();
            return Ok(Written {
                object: Self::render(def, &gone),
                warnings,
                created: false,
            });
        }
        if noop_view(&new) == noop_view(&old) {
            return Ok(Written {
                object: Self::render(def, &old),
                warnings,
                created: false,
            });
        }
        // Only deletion state and owner references feed the garbage collector; skipping it for
        // other writes keeps updates O(1) in the number of stored objects.
        let needs_gc =
            is_deleting(&new) || meta(&new)["ownerReferences"] != meta(&old)["ownerReferences"];
        let stored = self.commit(&key, new, EventType::Modified);
        if needs_gc {
            self.gc();
        }
        Ok(Written {
            object: Self::render(def, &stored),
            warnings,
            created: false,
        })
    }

    // ---------------------------------------------------------------- patch

    /// The server-side apply half of PATCH: the object the apply produces.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PATCH request parameters"
    )]
    fn apply_body(
        def: &ResourceDef,
        ns: &str,
        name: &str,
        body: &Value,
        live: Option<&Value>,
        opts: &WriteOpts,
        subresource: Option<&str>,
        now: &str,
    ) -> Result<Value, ApiError> {
        if opts.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        Self::check_type(def, body)?;
        if body["apiVersion"].as_str().is_none_or(str::is_empty)
            || body["kind"].as_str().is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(
                "apply patches must include apiVersion and kind",
            ));
        }
        let mut applied = body.clone();
        if live.is_none() {
            let m = meta_mut(&mut applied);
            m.entry("name")
                .or_insert_with(|| Value::String(name.to_owned()));
            if def.namespaced {
                m.entry("namespace")
                    .or_insert_with(|| Value::String(ns.to_owned()));
            }
        }
        let shape = compat::Shape {
            status_subresource: def.status_subresource,
            schema: def.raw_schema.as_ref(),
        };
        match compat::apply(
            live,
            &applied,
            &opts.field_manager,
            opts.force,
            subresource,
            now,
            shape,
        ) {
            Ok(v) => Ok(v),
            Err(compat::ApplyFailure::Conflict(c, message)) => {
                let causes: Vec<Cause> = c
                    .iter()
                    .map(|(m, f)| {
                        cause("FieldManagerConflict", f, format!("conflict with \"{m}\""))
                    })
                    .collect();
                Err(ApiError::new(409, "Conflict", message)
                    .with_details(&def.group, &def.plural, name)
                    .with_causes(causes))
            }
            Err(compat::ApplyFailure::Invalid(m)) => Err(ApiError::bad_request(m)),
        }
    }

    /// PATCH (all four types).
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PATCH request parameters"
    )]
    pub(crate) fn patch(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        ptype: PatchType,
        body: &Value,
        opts: &WriteOpts,
        subresource: Option<&str>,
    ) -> Result<Written, ApiError> {
        let live = self.get_raw(def, ns, name).map(|o| Self::render(def, o));
        // Subresources never create their object (apply to `/status` of a missing object is 404).
        if live.is_none() && subresource.is_some() {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        }
        let now = util::now();
        let mut new = match (ptype, &live) {
            (PatchType::Apply, _) => {
                Self::apply_body(def, ns, name, body, live.as_ref(), opts, subresource, &now)?
            }
            (_, None) => return Err(ApiError::not_found(&def.group, &def.plural, name)),
            (PatchType::Json, Some(l)) => compat::json_patch(l, body).map_err(|m| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {m}"),
                )
                .with_details(&def.group, &def.plural, name)
            })?,
            (PatchType::Merge, Some(l)) => {
                if !body.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                compat::merge_patch(l, body)
            }
            (PatchType::Strategic, Some(l)) => {
                if def.crd.is_some() {
                    return Err(ApiError::unsupported_media_type(
                        "application/strategic-merge-patch+json (strategic merge patch is not supported for custom resources)",
                    ));
                }
                compat::strategic_merge_patch(l, body, &def.api_version(), &def.kind).map_err(
                    |m| ApiError::bad_request(format!("invalid strategic merge patch: {m}")),
                )?
            }
        };
        let applied_opts = WriteOpts {
            applied: ptype == PatchType::Apply,
            ..opts.clone()
        };
        let opts = &applied_opts;
        if live.is_none() {
            let mut w = self.create(def, ns, new, opts)?;
            w.created = true;
            return Ok(w);
        }
        // Apply never carries a resourceVersion precondition unless the user set one.
        if ptype == PatchType::Apply
            && body["metadata"]["resourceVersion"]
                .as_str()
                .is_none_or(str::is_empty)
            && let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("resourceVersion");
        }
        self.update(def, ns, name, new, opts, subresource, false)
    }

    // ---------------------------------------------------------------- delete

    /// DELETE.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver delete rules"
    )]
    pub(crate) fn delete(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, ApiError> {
        let key = Self::key(def, ns, name);
        let Some(mut obj) = self.objects.get(&key).map(|v| Value::clone(v)) else {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        };
        if let Some(uid) = &opts.uid
            && uid != str_field(&obj, "uid")
        {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    str_field(&obj, "uid")
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != str_field(&obj, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    str_field(&obj, "resourceVersion")
                ),
            ));
        }
        let is_ns = def.group.is_empty() && def.plural == "namespaces";
        if is_ns && PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ))
            .with_details("", "namespaces", name));
        }
        let mut fins = finalizers(&obj);
        match opts.propagation.as_deref() {
            Some("Foreground") => {
                if !fins.iter().any(|f| f == FOREGROUND) {
                    fins.push(FOREGROUND.to_owned());
                }
                fins.retain(|f| f != ORPHAN);
            }
            Some("Orphan") => {
                if !fins.iter().any(|f| f == ORPHAN) {
                    fins.push(ORPHAN.to_owned());
                }
                fins.retain(|f| f != FOREGROUND);
            }
            Some("Background") | None => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    "DeleteOptions",
                    "meta.k8s.io",
                    "",
                    vec![cause(
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        format!(
                            "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                        ),
                    )],
                ));
            }
        }
        if opts.dry_run {
            return Ok(Self::render(def, &obj));
        }
        let deferred = !fins.is_empty() || is_ns;
        if !deferred {
            let gone = self.remove(&key).unwrap_or(obj);
            self.gc();
            return Ok(Self::render(def, &gone));
        }
        let changed = !is_deleting(&obj) || fins != finalizers(&obj);
        if changed {
            set_finalizers(&mut obj, &fins);
            if !is_deleting(&obj) {
                let m = meta_mut(&mut obj);
                m.insert("deletionTimestamp".into(), Value::String(util::now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                if let Some(g) = m.get("generation").and_then(Value::as_i64) {
                    m.insert("generation".into(), json!(g + 1));
                }
            }
            if is_ns {
                obj["status"] = json!({"phase": "Terminating"});
            }
            if def.group == "apiextensions.k8s.io" && def.plural == "customresourcedefinitions" {
                // Adds the Terminating condition; the CRD itself was valid when stored.
                let before = obj.clone();
                let _ = self.prepare_crd(&mut obj, Some(&before));
            }
            self.commit(&key, obj, EventType::Modified);
        }
        self.gc();
        Ok(self.objects.get(&key).map_or_else(
            || {
                let mut o = json!({"metadata": {"name": name}});
                if def.namespaced {
                    o["metadata"]["namespace"] = json!(ns);
                }
                Self::render(def, &o)
            },
            |o| Self::render(def, o),
        ))
    }

    // ---------------------------------------------------------------- garbage collection

    /// Runs the garbage collector, namespace and CRD cleanup to a fixpoint.
    pub(crate) fn gc(&mut self) {
        for _ in 0..100_000 {
            if !self.gc_step() {
                break;
            }
        }
    }

    fn delete_key(&mut self, key: &Key, propagation: &str) {
        let Some(def) = self.find_def_any(&key.0, &key.1) else {
            // No longer served (CRD gone): drop directly.
            self.remove(key);
            return;
        };
        let opts = DeleteOpts {
            propagation: Some(propagation.to_owned()),
            ..DeleteOpts::default()
        };
        let _ = self.delete(&def, &key.2, &key.3, &opts);
    }

    /// Writes an object whose finalizers changed, removing it if it is being deleted and has
    /// none left.
    fn store_finalized(&mut self, key: &Key, obj: Value) {
        let is_ns = key.0.is_empty() && key.1 == "namespaces";
        if is_deleting(&obj) && finalizers(&obj).is_empty() && !is_ns {
            self.remove(key);
        } else {
            self.commit(key, obj, EventType::Modified);
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one pass over the GC rules, in order"
    )]
    fn gc_step(&mut self) -> bool {
        #[derive(PartialEq)]
        enum Owner {
            Absent,
            Alive,
            Foreground,
            Orphaning,
        }
        let mut by_uid: HashMap<&str, &Value> = HashMap::new();
        for v in self.objects.values().map(AsRef::as_ref) {
            by_uid.insert(str_field(v, "uid"), v);
        }
        let classify = |uid: &str| match by_uid.get(uid) {
            None => Owner::Absent,
            Some(o) if is_deleting(o) && finalizers(o).iter().any(|f| f == ORPHAN) => {
                Owner::Orphaning
            }
            Some(o) if is_deleting(o) && finalizers(o).iter().any(|f| f == FOREGROUND) => {
                Owner::Foreground
            }
            Some(_) => Owner::Alive,
        };
        // Dependents.
        let mut action: Option<(Key, Option<Value>, Option<&'static str>)> = None;
        for (k, v) in self.objects.iter().map(|(k, v)| (k, &**v)) {
            let Some(refs) = meta(v)["ownerReferences"].as_array() else {
                continue;
            };
            if refs.is_empty() {
                continue;
            }
            let states: Vec<Owner> = refs
                .iter()
                .map(|r| classify(r["uid"].as_str().unwrap_or_default()))
                .collect();
            if states.contains(&Owner::Orphaning) {
                let keep: Vec<Value> = refs
                    .iter()
                    .zip(&states)
                    .filter(|(_, s)| **s != Owner::Orphaning)
                    .map(|(r, _)| r.clone())
                    .collect();
                let mut o = v.clone();
                if keep.is_empty() {
                    meta_mut(&mut o).remove("ownerReferences");
                } else {
                    meta_mut(&mut o).insert("ownerReferences".into(), Value::Array(keep));
                }
                action = Some((k.clone(), Some(o), None));
                break;
            }
            if states
                .iter()
                .all(|s| *s == Owner::Absent || *s == Owner::Foreground)
            {
                if is_deleting(v) {
                    continue;
                }
                let policy = if states.contains(&Owner::Foreground) {
                    "Foreground"
                } else {
                    "Background"
                };
                action = Some((k.clone(), None, Some(policy)));
                break;
            }
            if states.contains(&Owner::Absent) {
                let keep: Vec<Value> = refs
                    .iter()
                    .zip(&states)
                    .filter(|(_, s)| **s != Owner::Absent)
                    .map(|(r, _)| r.clone())
                    .collect();
                let mut o = v.clone();
                meta_mut(&mut o).insert("ownerReferences".into(), Value::Array(keep));
                action = Some((k.clone(), Some(o), None));
                break;
            }
        }
        if let Some((k, o, policy)) = action {
            match (o, policy) {
                (Some(o), _) => {
                    self.commit(&k, o, EventType::Modified);
                }
                (None, Some(p)) => self.delete_key(&k, p),
                (None, None) => {}
            }
            return true;
        }
        // Owners waiting on dependents, terminating namespaces and CRDs.
        let mut todo: Option<(Key, Value)> = None;
        let mut delete: Option<Key> = None;
        let mut remove_ns: Option<Key> = None;
        for (k, v) in self.objects.iter().map(|(k, v)| (k, &**v)) {
            if !is_deleting(v) {
                continue;
            }
            let uid = str_field(v, "uid");
            let fins = finalizers(v);
            let dependents = || {
                self.objects.values().map(AsRef::as_ref).filter(move |d| {
                    meta(d)["ownerReferences"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|r| r["uid"] == uid))
                })
            };
            if fins.iter().any(|f| f == FOREGROUND)
                && !dependents().any(|d| {
                    meta(d)["ownerReferences"].as_array().is_some_and(|rs| {
                        rs.iter().any(|r| {
                            r["uid"] == uid && r["blockOwnerDeletion"] == Value::Bool(true)
                        })
                    })
                })
            {
                let mut o = v.clone();
                let f: Vec<String> = fins.iter().filter(|f| *f != FOREGROUND).cloned().collect();
                set_finalizers(&mut o, &f);
                todo = Some((k.clone(), o));
                break;
            }
            if fins.iter().any(|f| f == ORPHAN) && dependents().next().is_none() {
                let mut o = v.clone();
                let f: Vec<String> = fins.iter().filter(|f| *f != ORPHAN).cloned().collect();
                set_finalizers(&mut o, &f);
                todo = Some((k.clone(), o));
                break;
            }
            if k.0.is_empty() && k.1 == "namespaces" {
                let ns = &k.3;
                if let Some((ck, _)) = self
                    .objects
                    .iter()
                    .find(|(ck, cv)| ck.2 == *ns && !is_deleting(cv))
                {
                    delete = Some(ck.clone());
                    break;
                }
                if !self.objects.keys().any(|ck| ck.2 == *ns) && fins.is_empty() {
                    remove_ns = Some(k.clone());
                    break;
                }
            }
            if k.0 == "apiextensions.k8s.io"
                && k.1 == "customresourcedefinitions"
                && fins.iter().any(|f| f == CRD_CLEANUP)
            {
                let group = v["spec"]["group"].as_str().unwrap_or_default();
                let plural = v["spec"]["names"]["plural"].as_str().unwrap_or_default();
                let mut remaining = self
                    .objects
                    .iter()
                    .filter(|(ck, _)| ck.0 == group && ck.1 == plural);
                if let Some((ck, _)) = remaining.clone().find(|(_, cv)| !is_deleting(cv)) {
                    delete = Some(ck.clone());
                    break;
                }
                if remaining.next().is_none() {
                    let mut o = v.clone();
                    let f: Vec<String> =
                        fins.iter().filter(|f| *f != CRD_CLEANUP).cloned().collect();
                    set_finalizers(&mut o, &f);
                    todo = Some((k.clone(), o));
                    break;
                }
            }
        }
        if let Some((k, o)) = todo {
            self.store_finalized(&k, o);
            return true;
        }
        if let Some(k) = delete {
            self.delete_key(&k, "Background");
            return true;
        }
        if let Some(k) = remove_ns {
            self.remove(&k);
            return true;
        }
        false
    }

    // ---------------------------------------------------------------- CRDs

    fn crd_terminating(&self, crd: &str) -> bool {
        self.objects
            .get(&(
                "apiextensions.k8s.io".into(),
                "customresourcedefinitions".into(),
                String::new(),
                crd.to_owned(),
            ))
            .is_some_and(|o| is_deleting(o))
    }

    /// Validates a CRD and sets its status (acceptedNames, conditions, storedVersions).
    #[allow(
        clippy::too_many_lines,
        reason = "the CRD validation and status rules, in order"
    )]
    fn prepare_crd(&self, crd: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        let name = str_field(crd, "name").to_owned();
        let invalid = |causes: Vec<Cause>| {
            ApiError::invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                &name,
                causes,
            )
        };
        compat::validate_crd(crd).map_err(invalid)?;
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_owned();
        let plural = spec["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut causes = Vec::new();
        if group.is_empty() || !group.contains('.') {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.group",
                format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
            ));
        }
        if plural.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.names.plural",
                "Required value",
            ));
        }
        if kind.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.names.kind",
                "Required value",
            ));
        }
        if name != format!("{plural}.{group}") {
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
            causes.push(cause(
                "FieldValueNotSupported",
                "spec.scope",
                "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            ));
        }
        let versions = spec["versions"].as_array().cloned().unwrap_or_default();
        if versions.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        } else if versions
            .iter()
            .filter(|v| v["storage"] == Value::Bool(true))
            .count()
            != 1
        {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            ));
        }
        if !causes.is_empty() {
            return Err(invalid(causes));
        }
        if let Some(o) = old
            && (o["spec"]["group"] != spec["group"]
                || o["spec"]["names"]["plural"] != spec["names"]["plural"])
        {
            return Err(invalid(vec![cause(
                "FieldValueInvalid",
                "spec.group",
                "Invalid value: field is immutable",
            )]));
        }
        registry::from_crd(crd).map_err(invalid)?;
        // Names: conflicts with other served resources in the same group.
        let conflict = self.defs.iter().find(|d| {
            d.group == group
                && d.crd.as_deref() != Some(name.as_str())
                && (d.plural == plural || d.kind == kind)
        });
        let mut accepted = spec["names"].clone();
        if accepted["singular"].as_str().is_none_or(str::is_empty) {
            accepted["singular"] = json!(kind.to_lowercase());
        }
        if accepted["listKind"].as_str().is_none_or(str::is_empty) {
            accepted["listKind"] = json!(format!("{kind}List"));
        }
        let now = util::now();
        let prev = old.map_or(Value::Null, |o| o["status"]["conditions"].clone());
        let cond = |t: &str, ok: bool, reason: &str, msg: &str| {
            let status = if ok { "True" } else { "False" };
            let ltt = prev
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == t && c["status"] == status))
                .map_or_else(|| json!(now), |c| c["lastTransitionTime"].clone());
            json!({"type": t, "status": status, "lastTransitionTime": ltt, "reason": reason, "message": msg})
        };
        let mut conditions = match conflict {
            None => vec![
                cond("NamesAccepted", true, "NoConflicts", "no conflicts found"),
                cond(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                ),
            ],
            Some(d) => vec![
                cond(
                    "NamesAccepted",
                    false,
                    if d.plural == plural {
                        "PluralConflict"
                    } else {
                        "KindConflict"
                    },
                    &format!("\"{plural}\" or \"{kind}\" is already in use"),
                ),
                cond(
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                ),
            ],
        };
        if is_deleting(crd) {
            conditions.push(cond(
                "Terminating",
                true,
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            ));
        }
        let mut stored: Vec<String> = old
            .and_then(|o| o["status"]["storedVersions"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(sv) = registry::storage_version(crd)
            && !stored.contains(&sv)
        {
            stored.push(sv);
        }
        crd["status"] = json!({
            "acceptedNames": if conflict.is_none() { accepted } else { json!({"plural": "", "kind": ""}) },
            "conditions": conditions,
            "storedVersions": stored,
        });
        if old.is_none() {
            let mut f = finalizers(crd);
            if !f.iter().any(|x| x == CRD_CLEANUP) {
                f.push(CRD_CLEANUP.to_owned());
            }
            set_finalizers(crd, &f);
        }
        Ok(())
    }

    /// (Re)registers the resources a stored CRD serves.
    fn register_crd(&mut self, crd: &Value) {
        let name = str_field(crd, "name").to_owned();
        let established = crd["status"]["conditions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        self.defs
            .retain(|d| d.crd.as_deref() != Some(name.as_str()));
        if !established {
            return;
        }
        if let Ok(defs) = registry::from_crd(crd) {
            self.defs.extend(defs);
        }
    }
}

/// A decoded continue token: the last key returned and the list's resourceVersion.
struct ContinueToken {
    ns: String,
    name: String,
    rv: Option<u64>,
}

fn encode_continue(ns: &str, name: &str, rv: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"ns": ns, "name": name, "rv": rv}).to_string())
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    use base64::Engine as _;
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: the token was not produced by this server",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(ContinueToken {
        ns: v["ns"].as_str().ok_or_else(bad)?.to_owned(),
        name: v["name"].as_str().ok_or_else(bad)?.to_owned(),
        rv: v["rv"].as_u64(),
    })
}
