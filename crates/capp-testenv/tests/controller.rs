//! kube-runtime against the test server: a `Controller` with kube's `finalizer` helper and
//! server-side apply of status reconciles on create, update and delete; status apply with
//! `force`; and Lease-based leader election with resourceVersion conflicts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher::{self, watcher};
use kube::{CustomResource, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    schema = "disabled"
)]
struct WidgetSpec {
    size: i64,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default)]
struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ready: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("reconcile failed")]
struct ReconcileError(#[source] kube::Error);

struct Ctx {
    api: Api<Widget>,
    seen: mpsc::UnboundedSender<String>,
}

const FINALIZER: &str = "widgets.example.com/cleanup";

async fn reconcile(
    w: Arc<Widget>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::runtime::finalizer::Error<ReconcileError>> {
    let api = ctx.api.clone();
    let seen = ctx.seen.clone();
    finalizer(&ctx.api, FINALIZER, w, |ev| async move {
        match ev {
            Event::Apply(w) => {
                let generation = w.metadata.generation.unwrap_or_default();
                let status = json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"observed": generation, "ready": true}});
                api.patch_status(&w.name_any(), &PatchParams::apply("widget-controller").force(), &Patch::Apply(status))
                    .await
                    .map_err(ReconcileError)?;
                let _ = seen.send(format!("apply {} gen={generation}", w.name_any()));
                Ok(Action::await_change())
            }
            Event::Cleanup(w) => {
                let _ = seen.send(format!("cleanup {}", w.name_any()));
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(
    _: Arc<Widget>,
    _: &kube::runtime::finalizer::Error<ReconcileError>,
    _: Arc<Ctx>,
) -> Action {
    Action::requeue(Duration::from_millis(100))
}

async fn expect(rx: &mut mpsc::UnboundedReceiver<String>, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {want:?}"));
        if got.as_deref() == Some(want) {
            return;
        }
    }
}

#[tokio::test]
async fn a_controller_with_a_finalizer_reconciles_create_update_and_delete() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let api: Api<Widget> = Api::namespaced(client.clone(), "default");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        seen: tx,
    });
    let controller = tokio::spawn(
        Controller::new(api.clone(), watcher::Config::default())
            .graceful_shutdown_on(async move {
                let _ = stop_rx.await;
            })
            .run(reconcile, error_policy, ctx)
            .for_each(|r| async move { eprintln!("controller: {r:?}") }),
    );

    api.create(
        &PostParams::default(),
        &Widget::new("w1", WidgetSpec { size: 1 }),
    )
    .await
    .unwrap();
    expect(&mut rx, "apply w1 gen=1").await;
    let w = api.get("w1").await.unwrap();
    assert_eq!(w.finalizers(), [FINALIZER]);
    assert_eq!(w.status.as_ref().and_then(|s| s.observed), Some(1));

    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await
    .unwrap();
    expect(&mut rx, "apply w1 gen=2").await;

    api.delete("w1", &DeleteParams::default()).await.unwrap();
    expect(&mut rx, "cleanup w1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.get_opt("w1").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the widget is removed once the finalizer is gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(30), controller)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn status_apply_with_force_takes_over_fields_owned_by_another_manager() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api: Api<Widget> = Api::namespaced(env.client().unwrap(), "default");
    api.create(
        &PostParams::default(),
        &Widget::new("w", WidgetSpec { size: 1 }),
    )
    .await
    .unwrap();
    let status = |ready: bool| {
        Patch::Apply(
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"ready": ready}}),
        )
    };
    api.patch_status("w", &PatchParams::apply("first"), &status(true))
        .await
        .unwrap();
    let err = api
        .patch_status("w", &PatchParams::apply("second"), &status(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409),
        "{err:?}"
    );
    let missing = api
        .patch_status("nope", &PatchParams::apply("first"), &status(true))
        .await;
    assert!(
        matches!(&missing, Err(kube::Error::Api(s)) if s.code == 404),
        "status apply never creates: {missing:?}"
    );
    let w = api
        .patch_status("w", &PatchParams::apply("second").force(), &status(false))
        .await
        .unwrap();
    assert_eq!(w.status.unwrap().ready, Some(false));
    assert_eq!(w.spec.size, 1, "status apply leaves spec alone");
}

/// A minimal Lease-based elector: take the lease when it is absent, expired or ours, using
/// the lease's resourceVersion so that concurrent candidates conflict.
async fn try_acquire(api: &Api<Lease>, me: &str, duration_secs: i32) -> Result<bool, kube::Error> {
    let now = MicroTime(jiff::Timestamp::now());
    match api.get_opt("leader").await? {
        None => {
            let lease = Lease {
                metadata: kube::api::ObjectMeta {
                    name: Some("leader".into()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.into()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    ..Default::default()
                }),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(Default::default);
            let holder = spec.holder_identity.clone().unwrap_or_default();
            let renewed = spec
                .renew_time
                .as_ref()
                .map_or(jiff::Timestamp::UNIX_EPOCH, |t| t.0);
            let expired = jiff::Timestamp::now().as_millisecond() - renewed.as_millisecond()
                > i64::from(spec.lease_duration_seconds.unwrap_or(0)) * 1000;
            if holder != me && !expired {
                return Ok(false);
            }
            if holder != me {
                spec.acquire_time = Some(now.clone());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.holder_identity = Some(me.into());
            spec.renew_time = Some(now);
            match api.replace("leader", &PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

#[tokio::test]
async fn lease_leader_election_hands_over_only_after_expiry_and_races_conflict() {
    let env = support::start().await;
    let api: Api<Lease> = Api::namespaced(env.client().unwrap(), "kube-system");
    // A long lease first, so that "held" does not depend on how fast a loaded machine runs.
    assert!(
        try_acquire(&api, "a", 60).await.unwrap(),
        "the first candidate takes the free lease"
    );
    assert!(
        !try_acquire(&api, "b", 60).await.unwrap(),
        "a held lease is not taken"
    );
    assert!(
        try_acquire(&api, "a", 60).await.unwrap(),
        "the holder renews"
    );
    api.patch(
        "leader",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"leaseDurationSeconds": 1}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        try_acquire(&api, "b", 1).await.unwrap(),
        "an expired lease is taken over"
    );
    let lease = api.get("leader").await.unwrap();
    assert_eq!(
        lease.spec.as_ref().unwrap().holder_identity.as_deref(),
        Some("b")
    );
    assert_eq!(lease.spec.as_ref().unwrap().lease_transitions, Some(1));

    // Two candidates racing from the same read: exactly one write wins.
    let stale = api.get("leader").await.unwrap();
    let mut first = stale.clone();
    first.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let mut second = stale;
    second.spec.as_mut().unwrap().holder_identity = Some("d".into());
    api.replace("leader", &PostParams::default(), &first)
        .await
        .unwrap();
    let err = api
        .replace("leader", &PostParams::default(), &second)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_event_recorder_publishes_events_k8s_io_events() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::api::events::v1::Event as K8sEvent;
    use kube::runtime::events::{Event as RecorderEvent, EventType, Recorder, Reporter};
    let env = support::start().await;
    let client = env.client().unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "test".into(),
            instance: None,
        },
    );
    let event = RecorderEvent {
        type_: EventType::Normal,
        reason: "Created".into(),
        note: Some("made it".into()),
        action: "Create".into(),
        secondary: None,
    };
    let reference = kube::Resource::object_ref(&cm, &());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let events = Api::<K8sEvent>::namespaced(client, "default")
        .list(&kube::api::ListParams::default())
        .await
        .unwrap();
    assert_eq!(
        events.items.len(),
        1,
        "a repeated event becomes a series, not a second object"
    );
    let e = &events.items[0];
    assert_eq!(e.reason.as_deref(), Some("Created"));
    assert_eq!(
        e.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("x")
    );
}

#[tokio::test]
async fn the_watcher_works_with_list_watch_and_with_streaming_lists() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::watcher::Event as WEvent;
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
    };
    api.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();
    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut stream = watcher(api.clone(), config).boxed();
        let mut initial = Vec::new();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            match ev {
                WEvent::Init => {}
                WEvent::InitApply(o) => initial.push(o.name_any()),
                WEvent::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(initial.contains(&"before".to_owned()), "{initial:?}");
        let name = format!("after-{}", initial.len());
        api.create(&PostParams::default(), &cm(&name))
            .await
            .unwrap();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let WEvent::Apply(o) = ev {
                assert_eq!(o.name_any(), name);
                break;
            }
        }
    }
}

#[tokio::test]
async fn injected_api_failures_are_retried_by_the_controller() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    env.inject_fault(
        capp_testenv::Fault::new("/widgets/w1/status", 500)
            .with_method(http::Method::PATCH)
            .times(2),
    );
    let api: Api<Widget> = Api::namespaced(env.client().unwrap(), "default");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        seen: tx,
    });
    let (errors_tx, mut errors_rx) = mpsc::unbounded_channel();
    let controller = tokio::spawn(
        Controller::new(api.clone(), watcher::Config::default())
            .graceful_shutdown_on(async move {
                let _ = stop_rx.await;
            })
            .run(reconcile, error_policy, ctx)
            .for_each(move |r| {
                if r.is_err() {
                    let _ = errors_tx.send(());
                }
                async {}
            }),
    );
    api.create(
        &PostParams::default(),
        &Widget::new("w1", WidgetSpec { size: 1 }),
    )
    .await
    .unwrap();
    expect(&mut rx, "apply w1 gen=1").await;
    let mut failures = 0;
    while errors_rx.try_recv().is_ok() {
        failures += 1;
    }
    assert_eq!(failures, 2, "both injected failures reached the controller");
    assert_eq!(
        api.get("w1").await.unwrap().status.and_then(|s| s.observed),
        Some(1)
    );
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_watcher_relists_after_its_resource_version_is_compacted() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::runtime::watcher::Event as WEvent;
    let env = capp_testenv::TestEnv::start(capp_testenv::Config::default().with_watch_history(3))
        .await
        .unwrap();
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
    };
    api.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();
    // Without bookmarks the watcher's resourceVersion only moves with ConfigMap events, and a
    // one-second watch timeout makes it reconnect from that resourceVersion.
    let config = watcher::Config::default().timeout(1).disable_bookmarks();
    let mut stream = watcher(api.clone(), config).boxed();
    let mut inits = 0;
    let mut errors = Vec::new();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the watcher yields within 30s")
            .expect("the watcher never ends")
    };
    loop {
        match next().await {
            Ok(WEvent::InitDone) => break,
            Ok(WEvent::Init) => inits += 1,
            Ok(_) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    // Writes to another resource push the watcher's resourceVersion out of the history.
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    for i in 0..5 {
        let s: Secret =
            serde_json::from_value(json!({"metadata": {"name": format!("s{i}")}})).unwrap();
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    // While the watcher is cut off, a ConfigMap appears: only a relist can deliver it.
    api.create(&PostParams::default(), &cm("during"))
        .await
        .unwrap();
    // The relist may happen before or after "during" exists (the watcher reconnects on its
    // own schedule): either the relist or a later event must deliver it.
    let mut relisted = Vec::new();
    let mut relist_done = false;
    let mut saw_during = false;
    while !(relist_done && saw_during) {
        match next().await {
            Ok(WEvent::Init) => {
                inits += 1;
                relisted.clear();
            }
            Ok(WEvent::InitApply(o)) => {
                saw_during |= o.name_any() == "during";
                relisted.push(o.name_any());
            }
            Ok(WEvent::InitDone) => relist_done = inits >= 2,
            Ok(WEvent::Apply(o)) if o.name_any() == "during" => {
                saw_during = true;
                if inits < 2 {
                    // The live watch delivered it: compact the history past it again.
                    for i in 5..10 {
                        let s: Secret =
                            serde_json::from_value(json!({"metadata": {"name": format!("s{i}")}}))
                                .unwrap();
                        secrets.create(&PostParams::default(), &s).await.unwrap();
                    }
                }
            }
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors
            .iter()
            .any(|e| e.contains("410") || e.contains("Expired") || e.contains("too old")),
        "the watcher saw the 410: {errors:?}"
    );
    assert!(relisted.contains(&"before".to_owned()), "{relisted:?}");
}
