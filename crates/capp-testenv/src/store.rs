//! The in-memory object store: objects, the global resourceVersion, the bounded event
//! history watchers replay from, and the write paths with Kubernetes semantics (create,
//! update, patch, delete, finalizers, garbage collection, CRD registration).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::patch::{self, ApplyError, ApplyOptions};
use crate::registry::{self, ResourceDef};
use crate::schema;
use crate::status::{ApiError, Cause, cause};
use crate::util;

mod admission;
mod builtin_rules;
mod crd;
mod gc;
mod list;
mod policy;
mod write;

/// Where an object is stored: its resource (group and plural) and its coordinates (namespace,
/// empty for cluster-scoped objects, and name). Ordered like the apiserver's etcd keys
/// (`/<group>/<resource>/<namespace>/<name>`), so a range of keys is a list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    /// API group, empty for the core group.
    pub(crate) group: String,
    /// Resource plural.
    pub(crate) plural: String,
    /// Namespace; empty for cluster-scoped resources.
    pub(crate) namespace: String,
    /// Object name.
    pub(crate) name: String,
}

impl ObjectKey {
    /// The key of a cluster-scoped object.
    pub(crate) fn cluster_scoped(group: &str, plural: &str, name: &str) -> Self {
        Self {
            group: group.to_owned(),
            plural: plural.to_owned(),
            namespace: String::new(),
            name: name.to_owned(),
        }
    }
}

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
    /// Who writes, for admission policies (`request.userInfo`); `None` for writes of the
    /// library API.
    pub(crate) user: Option<crate::identity::Identity>,
}

/// Whether an update must name the `resourceVersion` it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RvPrecondition {
    /// A PUT: an empty `metadata.resourceVersion` is refused, unless the kind allows
    /// unconditional updates (`AllowUnconditionalUpdate` of the resource's strategy).
    Required,
    /// A patch: the patched object carries the live version, or none (last writer wins).
    Optional,
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
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Events with `rv <= compacted` are no longer in the history.
    compacted: u64,
    defs: Vec<Arc<ResourceDef>>,
    tx: broadcast::Sender<Arc<Event>>,
    /// Whether the garbage collector runs in the background ([`State::gc_tick`]) instead of
    /// after each write.
    gc_deferred: bool,
    /// Whether a write happened since the last background collection.
    gc_pending: bool,
    /// The CEL environment of ValidatingAdmissionPolicies.
    policy_cel: schema::cel::CelEnv,
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

/// Drops empty metadata lists and maps: Go's `ObjectMeta` declares them `omitempty`, so a
/// real server never stores or returns `finalizers: []` or `labels: {}`.
fn omit_empty_metadata(obj: &mut Value) {
    let m = meta_mut(obj);
    for f in [
        "finalizers",
        "ownerReferences",
        "managedFields",
        "labels",
        "annotations",
    ] {
        let empty = match m.get(f) {
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            m.remove(f);
        }
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
            gc_deferred: false,
            gc_pending: false,
            policy_cel: schema::cel::CelEnv::new(),
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
        let mut o = if crate::events::is_events_view(&def.group, &def.plural) {
            crate::events::to_events_v1(obj)
        } else {
            obj.clone()
        };
        // A custom resource read in a version is converted to it (`None` strategy: only
        // `apiVersion` changes), then defaulted and pruned with that version's schema, as the
        // apiextensions server does on every read and conversion.
        if let Some(schema) = &def.schema {
            schema.default_and_prune(&mut o);
        }
        if let Some(m) = o.as_object_mut() {
            m.insert("apiVersion".into(), Value::String(def.api_version()));
            m.insert("kind".into(), Value::String(def.kind.clone()));
        }
        o
    }

    fn key(def: &ResourceDef, ns: &str, name: &str) -> ObjectKey {
        ObjectKey {
            group: def.storage_group().to_owned(),
            plural: def.plural.clone(),
            namespace: if def.namespaced {
                ns.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
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

    fn commit(&mut self, key: &ObjectKey, mut obj: Value, kind: EventType) -> Arc<Value> {
        omit_empty_metadata(&mut obj);
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        let obj = Arc::new(obj);
        let old = self.objects.insert(key.clone(), obj.clone());
        self.push_event(Event {
            rv: self.rv,
            group: key.group.clone(),
            plural: key.plural.clone(),
            namespace: key.namespace.clone(),
            kind,
            object: obj.clone(),
            old,
        });
        if key.group == "apiextensions.k8s.io" && key.plural == "customresourcedefinitions" {
            self.register_crd(&obj);
        }
        obj
    }

    fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let prev = self.objects.remove(key)?;
        let mut obj = (*prev).clone();
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        self.push_event(Event {
            rv: self.rv,
            group: key.group.clone(),
            plural: key.plural.clone(),
            namespace: key.namespace.clone(),
            kind: EventType::Deleted,
            object: Arc::new(obj.clone()),
            // The state before deletion, so that lists at older resourceVersions can be rebuilt.
            old: Some(prev),
        });
        if key.group == "apiextensions.k8s.io" && key.plural == "customresourcedefinitions" {
            self.defs
                .retain(|d| d.crd.as_deref() != Some(key.name.as_str()));
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
}
