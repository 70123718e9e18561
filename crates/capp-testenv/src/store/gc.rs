//! The garbage collector, namespace deletion and CRD cleanup, run to a fixpoint after writes.

use super::{
    CRD_CLEANUP, DeleteOpts, EventType, FOREGROUND, ORPHAN, ObjectKey, State, Value, finalizers,
    is_deleting, meta, meta_mut, set_finalizers, str_field,
};

impl State {
    // ---------------------------------------------------------------- garbage collection

    /// After a write: runs the garbage collector, namespace and CRD cleanup to a fixpoint, or
    /// leaves that to the next [`State::gc_tick`] when collection is deferred.
    pub(crate) fn gc(&mut self) {
        if self.gc_deferred {
            self.gc_pending = true;
        } else {
            self.collect();
        }
    }

    /// Runs collection in the background from now on (the real garbage collector, namespace
    /// and CRD finalizers are controllers that act some time after the write).
    pub(crate) fn defer_gc(&mut self) {
        self.gc_deferred = true;
    }

    /// One background collection, if anything was written since the last one.
    pub(crate) fn gc_tick(&mut self) {
        if std::mem::take(&mut self.gc_pending) {
            self.collect();
        }
    }

    /// Runs the garbage collector, namespace and CRD cleanup to a fixpoint.
    fn collect(&mut self) {
        for _ in 0..100_000 {
            if !self.gc_step() {
                break;
            }
        }
    }

    pub(super) fn delete_key(&mut self, key: &ObjectKey, propagation: &str) {
        let Some(def) = self.find_def_any(&key.group, &key.plural) else {
            // No longer served (CRD gone): drop directly.
            self.remove(key);
            return;
        };
        let opts = DeleteOpts {
            propagation: Some(propagation.to_owned()),
            ..DeleteOpts::default()
        };
        let _ = self.delete(&def, &key.namespace, &key.name, &opts);
    }

    /// Writes an object whose finalizers changed, removing it if it is being deleted and has
    /// none left.
    pub(super) fn store_finalized(&mut self, key: &ObjectKey, obj: Value) {
        let is_ns = key.group.is_empty() && key.plural == "namespaces";
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
    pub(super) fn gc_step(&mut self) -> bool {
        #[derive(PartialEq)]
        enum Owner {
            Absent,
            Alive,
            Foreground,
            Orphaning,
        }
        let state_of = |o: &Value| {
            if is_deleting(o) && finalizers(o).iter().any(|f| f == ORPHAN) {
                Owner::Orphaning
            } else if is_deleting(o) && finalizers(o).iter().any(|f| f == FOREGROUND) {
                Owner::Foreground
            } else {
                Owner::Alive
            }
        };
        // `GarbageCollector.isDangling`: an owner is looked up by its coordinates (the
        // resource its apiVersion and kind map to, the dependent's namespace when that resource
        // is namespaced, its name) and is absent unless the object found there has the
        // reference's uid. A kind no served resource maps to is never dangling: the real
        // collector keeps retrying the lookup and leaves the dependent alone.
        let classify = |r: &Value, dependent_ns: &str| {
            let s = |f: &str| r[f].as_str().unwrap_or_default();
            let Some(def) = self.find_def_by_kind(s("apiVersion"), s("kind")) else {
                return Owner::Alive;
            };
            match self.objects.get(&Self::key(&def, dependent_ns, s("name"))) {
                Some(o) if str_field(o, "uid") == s("uid") => state_of(o),
                _ => Owner::Absent,
            }
        };
        // Dependents.
        let mut action: Option<(ObjectKey, Option<Value>, Option<&'static str>)> = None;
        for (k, v) in self.objects.iter().map(|(k, v)| (k, &**v)) {
            let Some(refs) = meta(v)["ownerReferences"].as_array() else {
                continue;
            };
            if refs.is_empty() {
                continue;
            }
            let states: Vec<Owner> = refs.iter().map(|r| classify(r, &k.namespace)).collect();
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
        let mut todo: Option<(ObjectKey, Value)> = None;
        let mut delete: Option<ObjectKey> = None;
        let mut remove_ns: Option<ObjectKey> = None;
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
            if k.group.is_empty() && k.plural == "namespaces" {
                let ns = &k.name;
                if let Some((ck, _)) = self
                    .objects
                    .iter()
                    .find(|(ck, cv)| ck.namespace == *ns && !is_deleting(cv))
                {
                    delete = Some(ck.clone());
                    break;
                }
                if !self.objects.keys().any(|ck| ck.namespace == *ns) && fins.is_empty() {
                    remove_ns = Some(k.clone());
                    break;
                }
            }
            if k.group == "apiextensions.k8s.io"
                && k.plural == "customresourcedefinitions"
                && fins.iter().any(|f| f == CRD_CLEANUP)
            {
                let group = v["spec"]["group"].as_str().unwrap_or_default();
                let plural = v["spec"]["names"]["plural"].as_str().unwrap_or_default();
                let mut remaining = self
                    .objects
                    .iter()
                    .filter(|(ck, _)| ck.group == group && ck.plural == plural);
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
}
