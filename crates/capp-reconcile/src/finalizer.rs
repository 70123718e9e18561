//! Adding and removing our finalizer.
//!
//! kube's `finalizer` helper releases the object as soon as cleanup returns `Ok`, whatever
//! the `Action`; deleting a device is a wait of minutes that is not an error, so the
//! controllers manage the finalizer themselves: add it (only once the owner reference exists)
//! before creating anything, remove it only when cleanup reports the infrastructure gone.
//! Both writes are merge patches carrying the observed `resourceVersion`, so a concurrent
//! change to the list conflicts instead of being overwritten.

use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::context::Context;
use crate::error::Result;
use crate::infra::InfraKind;

/// Whether `obj` carries `name`.
pub(crate) fn has<K: Resource>(obj: &K, name: &str) -> bool {
    obj.finalizers().iter().any(|f| f == name)
}

async fn write<K>(
    ctx: &Context,
    obj: &K,
    finalizers: Vec<String>,
    action: &'static str,
) -> Result<()>
where
    K: InfraKind,
{
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": obj.resource_version(),
    }});
    crate::status::merge_patch(ctx, obj, patch, action).await
}

/// Adds `name` to the object's finalizers.
pub(crate) async fn add<K>(ctx: &Context, obj: &K, name: &str) -> Result<()>
where
    K: InfraKind,
{
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(name.to_owned());
    write(ctx, obj, finalizers, "add the finalizer").await
}

/// Removes `name` from the object's finalizers.
pub(crate) async fn remove<K>(ctx: &Context, obj: &K, name: &str) -> Result<()>
where
    K: InfraKind,
{
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != name)
        .cloned()
        .collect();
    write(ctx, obj, finalizers, "remove the finalizer").await
}
