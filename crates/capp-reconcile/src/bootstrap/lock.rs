//! The control-plane init lock: exactly one control-plane Machine of a cluster runs
//! `kubeadm init`, however many are created at once.
//!
//! The lock is CABPK's (`internal/locking/control_plane_init_mutex.go`), so the two
//! providers exclude each other too: a ConfigMap `<cluster>-lock` in the Cluster's namespace,
//! owned by the Cluster, whose `lock-information` key holds `{"machineName": "<machine>"}`.
//! Creating it is the atomic step (the API server refuses a second create). A lock whose
//! Machine no longer exists is deleted and taken again; the lock is released once the control
//! plane is initialized.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams, Preconditions};
use serde::{Deserialize, Serialize};

use super::error::BootstrapError;

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// The ConfigMap key holding the lock's owner.
pub const LOCK_INFORMATION_KEY: &str = "lock-information";

/// The lock's name for a cluster: `<cluster>-lock`.
#[must_use]
pub fn lock_name(cluster: &str) -> String {
    format!("{cluster}-lock")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Information {
    machine_name: String,
}

/// Who holds the lock now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// This Machine holds it: it may run `kubeadm init`.
    Acquired,
    /// Another Machine (named) holds it.
    HeldBy(String),
}

/// Takes the init lock for `machine`, or says who holds it. `machines` reads Machines of the
/// cluster's namespace (to release a lock whose Machine is gone).
pub async fn acquire(
    client: &kube::Client,
    machines: &Api<DynamicObject>,
    namespace: &str,
    cluster: &str,
    cluster_owner: &OwnerReference,
    machine: &str,
) -> Result<LockState> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let name = lock_name(cluster);
    // Two rounds: the second one follows the release of a lock left by a deleted Machine.
    for _ in 0..2 {
        if let Some(existing) = api
            .get_opt(&name)
            .await
            .map_err(BootstrapError::kube("read the control-plane init lock"))?
        {
            let holder = existing
                .data
                .as_ref()
                .and_then(|d| d.get(LOCK_INFORMATION_KEY))
                .and_then(|text| serde_json::from_str::<Information>(text).ok())
                .map(|i| i.machine_name);
            if holder.as_deref() == Some(machine) {
                return Ok(LockState::Acquired);
            }
            let alive = match &holder {
                Some(holder) => machines
                    .get_opt(holder)
                    .await
                    .map_err(BootstrapError::kube(
                        "read the Machine holding the init lock",
                    ))?
                    .is_some_and(|m| m.metadata.deletion_timestamp.is_none()),
                None => false,
            };
            if alive {
                return Ok(LockState::HeldBy(holder.unwrap_or_default()));
            }
            tracing::info!(
                ?holder,
                "Releasing the control-plane init lock of a Machine that is gone"
            );
            let delete = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: existing.metadata.uid.clone(),
                    resource_version: existing.metadata.resource_version.clone(),
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &delete).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(BootstrapError::kube("release a stale init lock")(e)),
            }
            continue;
        }
        let info = serde_json::to_string(&Information {
            machine_name: machine.to_owned(),
        })
        .unwrap_or_default();
        let lock = ConfigMap {
            metadata: kube::core::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_owned()),
                owner_references: Some(vec![cluster_owner.clone()]),
                ..kube::core::ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(LOCK_INFORMATION_KEY.to_owned(), info)])),
            ..ConfigMap::default()
        };
        return match api.create(&PostParams::default(), &lock).await {
            Ok(_) => Ok(LockState::Acquired),
            // Someone else created it between our read and our create.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(LockState::HeldBy(String::new())),
            Err(e) => Err(BootstrapError::kube("create the control-plane init lock")(
                e,
            )),
        };
    }
    Ok(LockState::HeldBy(String::new()))
}

/// Releases the lock if it is held (once the control plane is initialized).
pub async fn release(client: &kube::Client, namespace: &str, cluster: &str) -> Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api
        .delete(&lock_name(cluster), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(BootstrapError::kube("release the control-plane init lock")(
            e,
        )),
    }
}
