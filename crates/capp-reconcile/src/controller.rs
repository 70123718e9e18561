//! Wiring: the two kube-runtime `Controller`s, their watches and mappings.
//!
//! - PacketCluster: its own objects, and Clusters mapped through `spec.infrastructureRef`
//!   (unpause, owner reference set).
//! - PacketMachine: its own objects; Machines mapped through `spec.infrastructureRef`
//!   (bootstrap data appearing); PacketClusters and Clusters mapped to the PacketMachines of
//!   that cluster (infrastructure provisioned, unpause). Secrets are never watched.
//!
//! Every watch applies the `--namespace` and `--watch-filter` settings.

use std::future::Future;
use std::sync::Arc;

use capp_api::conversion::Project;
use capp_api::{PacketCluster, PacketMachine};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::oneshot;

use crate::context::Context;
use crate::infra::{InfraKind, InfraVersion};
use crate::{cluster, machine};

fn api<K>(ctx: &Context) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match &ctx.config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}

fn dynamic_api(ctx: &Context, resource: &kube::api::ApiResource) -> Api<DynamicObject> {
    match &ctx.config.namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, resource),
        None => Api::all_with(ctx.client.clone(), resource),
    }
}

fn watch_config(ctx: &Context) -> watcher::Config {
    let config = watcher::Config::default();
    match &ctx.config.watch_filter {
        Some(value) => config.labels(&format!(
            "{}={value}",
            capi_types::labels::WATCH_FILTER_LABEL
        )),
        None => config,
    }
}

/// Annotation `kubectl apply` leaves on objects: a JSON copy of the whole applied object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The watch stream of a kind the controllers keep in a reflector store, with what they never
/// read (managedFields, `kubectl apply`'s copy of the object) dropped before it is stored:
/// with 1,000 PacketMachines that is most of the store (our status apply alone records
/// about 1 KB of managedFields per object).
///
/// The kind is watched in the served version ([`crate::infra`]); `v1beta2` objects are
/// mapped to the v1beta1 type the controllers work with before they are stored.
fn pruned_store<K: InfraKind>(
    ctx: &Context,
    config: watcher::Config,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let events = match ctx.infra.version {
        InfraVersion::V1Beta1 => watcher(api::<K>(ctx), config).boxed(),
        InfraVersion::V1Beta2 => watcher(api::<K::V1Beta2>(ctx), config)
            .map_ok(|event| match event {
                watcher::Event::Apply(obj) => watcher::Event::Apply(obj.project()),
                watcher::Event::Delete(obj) => watcher::Event::Delete(obj.project()),
                watcher::Event::Init => watcher::Event::Init,
                watcher::Event::InitApply(obj) => watcher::Event::InitApply(obj.project()),
                watcher::Event::InitDone => watcher::Event::InitDone,
            })
            .boxed(),
    };
    let stream = events
        .default_backoff()
        .modify(|obj: &mut K| {
            obj.managed_fields_mut().clear();
            if let Some(annotations) = obj.meta_mut().annotations.as_mut() {
                annotations.remove(LAST_APPLIED);
            }
        })
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// The `spec.infrastructureRef` name of a Cluster or Machine when it points at `kind`.
fn infrastructure_ref(obj: &DynamicObject, kind: &str) -> Option<String> {
    let reference = obj.data.get("spec")?.get("infrastructureRef")?;
    (reference.get("kind")?.as_str()? == kind)
        .then(|| reference.get("name")?.as_str().map(str::to_owned))
        .flatten()
}

/// Runs both controllers until `shutdown` completes; in-flight reconciles finish first.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let (stop_clusters, clusters_stopped) = oneshot::channel::<()>();
    let (stop_machines, machines_stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_clusters.send(());
        let _ = stop_machines.send(());
    });
    let accounts_ctx = ctx.clone();
    ctx.metrics
        .set_device_source(Arc::new(move || accounts_ctx.accounts.device_states()));
    let wc = watch_config(&ctx);
    tracing::info!(
        version = %ctx.infra.version,
        "Watching PacketClusters and PacketMachines"
    );

    let (cluster_store, cluster_stream) = pruned_store::<PacketCluster>(&ctx, wc.clone());
    let clusters = Controller::for_stream(cluster_stream, cluster_store)
        .with_config(
            controller::Config::default().concurrency(ctx.config.packetcluster_concurrency),
        )
        .watches_with(
            dynamic_api(&ctx, &ctx.core.cluster),
            ctx.core.cluster.clone(),
            wc.clone(),
            |c| {
                let ns = c.namespace()?;
                infrastructure_ref(&c, "PacketCluster")
                    .map(|name| ObjectRef::<PacketCluster>::new(&name).within(&ns))
            },
        )
        .graceful_shutdown_on(async move {
            let _ = clusters_stopped.await;
        })
        .run(cluster::reconcile, cluster::error_policy, ctx.clone())
        .for_each(|_| async {});

    let (store, machine_stream) = pruned_store::<PacketMachine>(&ctx, wc.clone());
    let machine_controller = Controller::for_stream(machine_stream, store.clone());
    let by_cluster = move |ns: Option<String>, cluster: Option<String>| {
        let (Some(ns), Some(cluster)) = (ns, cluster) else {
            return Vec::new();
        };
        store
            .state()
            .iter()
            .filter(|pm| {
                pm.namespace().as_deref() == Some(ns.as_str())
                    && pm.cluster_name() == Some(cluster.as_str())
            })
            .map(|pm| ObjectRef::from_obj(pm.as_ref()))
            .collect::<Vec<_>>()
    };
    let for_packet_cluster = by_cluster.clone();
    // Machines waiting for a create slot, woken when a view refresh shows one free.
    let woken = ctx.create_gate.take_wakeups().map_or_else(
        || futures::stream::empty().boxed(),
        |rx| {
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) })
                .boxed()
        },
    );
    let machines = machine_controller
        .reconcile_on(woken)
        .with_config(
            controller::Config::default().concurrency(ctx.config.packetmachine_concurrency),
        )
        .watches_with(
            dynamic_api(&ctx, &ctx.core.machine),
            ctx.core.machine.clone(),
            wc.clone(),
            |m| {
                let ns = m.namespace()?;
                infrastructure_ref(&m, "PacketMachine")
                    .map(|name| ObjectRef::<PacketMachine>::new(&name).within(&ns))
            },
        )
        .watches_with(
            dynamic_api(&ctx, &ctx.infra.packet_cluster),
            ctx.infra.packet_cluster.clone(),
            wc.clone(),
            move |pc| {
                let cluster = pc
                    .labels()
                    .get(capp_api::common::CLUSTER_NAME_LABEL)
                    .cloned();
                for_packet_cluster(pc.namespace(), cluster)
            },
        )
        .watches_with(
            dynamic_api(&ctx, &ctx.core.cluster),
            ctx.core.cluster.clone(),
            wc,
            move |c| by_cluster(c.namespace(), Some(c.name_any())),
        )
        .graceful_shutdown_on(async move {
            let _ = machines_stopped.await;
        })
        .run(machine::reconcile, machine::error_policy, ctx.clone())
        .for_each(|_| async {});

    tokio::join!(clusters, machines);
}
