//! Streaming watches: synthetic ADDED events for the current state (or a replay of the
//! bounded history from a resourceVersion), then live events, BOOKMARKs when asked for,
//! `410 Gone` (as an ERROR event) for a compacted resourceVersion, and `timeoutSeconds`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::http::{Body, Query};
use crate::registry::ResourceDef;
use crate::selector::matcher;
use crate::status::ApiError;
use crate::store::{Event, EventType, State};

/// The longest a watch runs (one year): also the default when no `timeoutSeconds` is given.
/// What a watch stream needs from the server: the store, the shutdown signal and the bookmark
/// period.
#[derive(Debug, Clone)]
pub(crate) struct WatchContext {
    /// The store.
    pub(crate) state: Arc<tokio::sync::Mutex<State>>,
    /// Flips to `true` when the server shuts down.
    pub(crate) shutdown: tokio::sync::watch::Receiver<bool>,
    /// How often a bookmark is sent when the client asked for bookmarks.
    pub(crate) bookmark_interval: Duration,
}

const MAX_WATCH_SECS: u64 = 60 * 60 * 24 * 365;

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Everything a watch stream needs to render events.
struct Stream {
    def: Arc<ResourceDef>,
    ns: Option<String>,
    matches: Box<dyn Fn(&Value) -> bool + Send + Sync>,
    table: bool,
    include: String,
}

impl Stream {
    fn render(&self, obj: &Value) -> Value {
        let o = State::render(&self.def, obj);
        if self.table {
            crate::table::table(&self.def, &[o], &json!({}), &self.include)
        } else {
            o
        }
    }

    /// The line to send for an event, if the watcher sees it.
    fn event(&self, ev: &Event) -> Option<Bytes> {
        if ev.group != self.def.storage_group() || ev.plural != self.def.plural {
            return None;
        }
        if let Some(ns) = &self.ns
            && self.def.namespaced
            && *ns != ev.namespace
        {
            return None;
        }
        let now = (self.matches)(&ev.object);
        let kind = match ev.kind {
            EventType::Added | EventType::Deleted if now => ev.kind,
            EventType::Modified => {
                let before = ev.old.as_ref().map_or(now, |o| (self.matches)(o));
                match (before, now) {
                    (true, true) => EventType::Modified,
                    (false, true) => EventType::Added,
                    (true, false) => EventType::Deleted,
                    (false, false) => return None,
                }
            }
            _ => return None,
        };
        Some(line(kind.as_str(), &self.render(&ev.object)))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": meta}),
        )
    }
}

/// Starts a watch and returns the streaming response.
#[allow(
    clippy::too_many_lines,
    reason = "parameter parsing, snapshot and the stream task belong together"
)]
pub(crate) async fn watch(
    server: WatchContext,
    def: Arc<ResourceDef>,
    ns: Option<String>,
    q: &Query,
    table: bool,
) -> Result<Response<Body>, ApiError> {
    let matches = matcher(q, &def)?;
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        // Clamped so that the deadline cannot overflow `Instant`.
        .map(|t| Duration::from_secs(t.min(MAX_WATCH_SECS)));
    let bookmarks = matches!(
        q.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let rv = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion \"{s}\": must be an integer"
            ))
        })?),
    };
    let stream = Stream {
        def,
        ns: ns.filter(|n| !n.is_empty()),
        matches: Box::new(matches),
        table,
        include: q
            .get("includeObject")
            .cloned()
            .unwrap_or_else(|| "PartialObjectMetadata".to_owned()),
    };
    let (tx, rx_body) = mpsc::channel::<Bytes>(256);
    let (initial, replay, rx, start_rv, gone) = {
        let state = server.state.lock().await;
        let rx = state.subscribe();
        let mut initial = Vec::new();
        let mut replay = Vec::new();
        let mut gone = None;
        if send_initial || rv.is_none_or(|r| r == 0) {
            let ns_filter = if stream.def.namespaced {
                stream.ns.as_deref()
            } else {
                None
            };
            for (_, o) in
                state.objects_of(stream.def.storage_group(), &stream.def.plural, ns_filter)
            {
                if (stream.matches)(o) {
                    initial.push(line("ADDED", &stream.render(o)));
                }
            }
        } else if let Some(r) = rv {
            match state.events_since(stream.def.storage_group(), &stream.def.plural, r) {
                Ok(events) => replay = events,
                Err(e) => gone = Some(e),
            }
        }
        (initial, replay, rx, state.rv(), gone)
    };
    let mut shutdown = server.shutdown.clone();
    let interval = server.bookmark_interval;
    tokio::spawn(async move {
        if let Some(e) = gone {
            let _ = tx.send(line("ERROR", &e.to_status())).await;
            return;
        }
        for l in initial {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        if send_initial && bookmarks && tx.send(stream.bookmark(start_rv, true)).await.is_err() {
            return;
        }
        let mut last_rv = start_rv;
        for ev in &replay {
            last_rv = last_rv.max(ev.rv);
            if let Some(l) = stream.event(ev)
                && tx.send(l).await.is_err()
            {
                return;
            }
        }
        run(
            &stream,
            rx,
            &tx,
            &mut shutdown,
            timeout,
            bookmarks.then_some(interval),
            last_rv,
        )
        .await;
    });
    let body =
        http_body_util::StreamBody::new(futures::stream::unfold(rx_body, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        }));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(body.boxed_unsync())
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn run(
    stream: &Stream,
    mut rx: broadcast::Receiver<Arc<Event>>,
    tx: &mpsc::Sender<Bytes>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    timeout: Option<Duration>,
    bookmark_every: Option<Duration>,
    mut last_rv: u64,
) {
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(MAX_WATCH_SECS)));
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(bookmark_every.unwrap_or(Duration::from_secs(3600)));
    ticker.tick().await;
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) => {
                    last_rv = last_rv.max(ev.rv);
                    if let Some(l) = stream.event(&ev)
                        && tx.send(l).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let e = ApiError::gone("the watcher fell too far behind; please re-list");
                    let _ = tx.send(line("ERROR", &e.to_status())).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = &mut deadline => return,
            _ = ticker.tick(), if bookmark_every.is_some() => {
                if tx.send(stream.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
            }
            _ = shutdown.changed() => return,
            () = tx.closed() => return,
        }
    }
}
