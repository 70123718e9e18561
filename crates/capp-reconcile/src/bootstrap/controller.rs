//! Wiring: the PacketKubeadmConfig controller, its watches and mappings.
//!
//! - its own objects;
//! - Machines mapped through `spec.bootstrap.configRef` (owner reference set, Machine gone
//!   and so the init lock free, `status.nodeRef` appearing);
//! - Clusters mapped to every config labelled with their name (endpoint set, control plane
//!   initialized, unpause).
//!
//! Every watch applies the `--namespace` and `--watch-filter` settings.

use std::future::Future;
use std::sync::Arc;

use capp_api::bootstrap::PacketKubeadmConfig;
use capp_bootstrap::MachineConfigMatrix;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::{BootstrapContext, BootstrapSettings, reconcile};
use crate::context::Context;

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

fn dynamic_api(ctx: &Context, resource: &kube::api::ApiResource) -> Api<DynamicObject> {
    match &ctx.config.namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, resource),
        None => Api::all_with(ctx.client.clone(), resource),
    }
}

/// The `spec.bootstrap.configRef` name of a Machine when it points at our kind.
fn config_ref(machine: &DynamicObject) -> Option<String> {
    let reference = machine
        .data
        .get("spec")?
        .get("bootstrap")?
        .get("configRef")?;
    (reference.get("kind")?.as_str()? == "PacketKubeadmConfig")
        .then(|| reference.get("name")?.as_str().map(str::to_owned))
        .flatten()
}

/// Runs the PacketKubeadmConfig controller until `shutdown` completes.
///
/// # Panics
/// Never: the built-in matrix is checked by capp-bootstrap's tests; should it fail to parse,
/// the controller logs the error and does not start.
pub async fn run(
    ctx: Arc<Context>,
    settings: BootstrapSettings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let built_in = match MachineConfigMatrix::default_matrix() {
        Ok(matrix) => Arc::new(matrix),
        Err(e) => {
            tracing::error!(error = %e, "The built-in machine-config matrix does not parse; the bootstrap controller does not start");
            return;
        }
    };
    let wc = watch_config(&ctx);
    let configs: Api<PacketKubeadmConfig> = match &ctx.config.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let concurrency = settings.concurrency;
    let bctx = Arc::new(BootstrapContext {
        ctx: ctx.clone(),
        settings,
        built_in,
    });
    let controller = Controller::new(configs, wc.clone());
    let store = controller.store();
    controller
        .with_config(controller::Config::default().concurrency(concurrency))
        .watches_with(
            dynamic_api(&ctx, &ctx.core.machine),
            ctx.core.machine.clone(),
            wc.clone(),
            |m| {
                let ns = m.namespace()?;
                config_ref(&m).map(|name| ObjectRef::<PacketKubeadmConfig>::new(&name).within(&ns))
            },
        )
        .watches_with(
            dynamic_api(&ctx, &ctx.core.cluster),
            ctx.core.cluster.clone(),
            wc,
            move |c| {
                let ns = c.namespace();
                let name = c.name_any();
                store
                    .state()
                    .iter()
                    .filter(|cfg| {
                        cfg.namespace() == ns
                            && cfg.labels().get(capi_types::labels::CLUSTER_NAME_LABEL)
                                == Some(&name)
                    })
                    .map(|cfg| ObjectRef::from_obj(cfg.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, bctx)
        .for_each(|_| async {})
        .await;
}
