//! Reads: listing with selectors and paging, snapshots at an old resourceVersion rebuilt from
//! the watch history, and the events a watch replays.

use super::{
    ApiError, Arc, BTreeMap, Event, EventType, ObjectKey, Page, ResourceDef, State, Value, json,
};

impl State {
    /// Objects of a resource, optionally in one namespace, in key order.
    pub(crate) fn objects_of<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| {
                k.group == group
                    && k.plural == plural
                    && ns.is_none_or(|n| n.is_empty() || k.namespace == n)
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
                self.objects_of(def.storage_group(), &def.plural, ns)
                    .map(|(k, v)| (k.namespace.as_str(), k.name.as_str(), v)),
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
    pub(super) fn snapshot(
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
            .filter(|(k, _)| k.group == def.storage_group() && k.plural == def.plural)
            .map(|(k, v)| ((k.namespace.clone(), k.name.clone()), v.clone()))
            .collect();
        for ev in self.history.iter().rev().take_while(|e| e.rv > rv) {
            if ev.group != def.storage_group() || ev.plural != def.plural {
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
}

/// A decoded continue token: the last key returned and the list's resourceVersion.
pub(super) struct ContinueToken {
    ns: String,
    name: String,
    rv: Option<u64>,
}

pub(super) fn encode_continue(ns: &str, name: &str, rv: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"ns": ns, "name": name, "rv": rv}).to_string())
}

pub(super) fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
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
