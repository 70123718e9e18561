//! Workload-cluster access (CAPI's `ClusterCache`): a client built from the
//! `<cluster>-kubeconfig` Secret, Node lookup by providerID and the Node bookkeeping the
//! Machine controller does (`machine_controller_noderef.go`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use capi_types::labels as capi;
use capi_types::machine::Machine;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::Error;
use super::object::{controller_of, is_not_found, kube_err};

/// Annotation on Nodes listing the labels synced from the Machine.
const LABELS_FROM_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/labels-from-machine";
/// Annotation on Nodes listing the annotations synced from the Machine.
const ANNOTATIONS_FROM_MACHINE_ANNOTATION: &str = "cluster.x-k8s.io/annotations-from-machine";
/// Taint the bootstrap provider may put on new Nodes; the Machine controller removes it.
const NODE_UNINITIALIZED_TAINT: &str = "node.cluster.x-k8s.io/uninitialized";
/// Label domains always synced from a Machine to its Node (`labels.GetManagedLabels`).
const NODE_ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io";
const NODE_RESTRICTION_LABEL_DOMAIN: &str = "node-restriction.kubernetes.io";
const MANAGED_NODE_DOMAIN: &str = "node.cluster.x-k8s.io";
/// Annotations CAPI always writes on Nodes (`CommonNodeAnnotations`).
const COMMON_NODE_ANNOTATIONS: [&str; 5] = [
    capi::CLUSTER_NAME_ANNOTATION,
    capi::CLUSTER_NAMESPACE_ANNOTATION,
    capi::MACHINE_ANNOTATION,
    capi::OWNER_KIND_ANNOTATION,
    capi::OWNER_NAME_ANNOTATION,
];

/// Clients of workload clusters, rebuilt when their kubeconfig changes.
#[derive(Default)]
pub(crate) struct WorkloadClients {
    cache: Mutex<HashMap<(String, String), (String, kube::Client)>>,
}

impl std::fmt::Debug for WorkloadClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clusters: Vec<_> = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        f.debug_struct("WorkloadClients")
            .field("clusters", &clusters)
            .finish()
    }
}

impl WorkloadClients {
    /// A client of the workload cluster `namespace/cluster`, built from the `value` key of the
    /// `<cluster>-kubeconfig` Secret; `None` while that Secret does not exist.
    pub(crate) async fn client(
        &self,
        management: &kube::Client,
        namespace: &str,
        cluster: &str,
    ) -> Result<Option<kube::Client>, Error> {
        let name = format!("{cluster}-kubeconfig");
        let secrets: Api<Secret> = Api::namespaced(management.clone(), namespace);
        let secret = match secrets.get(&name).await {
            Ok(secret) => secret,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(kube_err(format!("get Secret {namespace}/{name}"))(e)),
        };
        let invalid = |message: String| Error::Kubeconfig {
            secret: format!("{namespace}/{name}"),
            message,
        };
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get("value"))
            .ok_or_else(|| {
                invalid(
                    "it has no data key \"value\"; write the kubeconfig under \"value\"".to_owned(),
                )
            })?;
        let text = String::from_utf8(value.0.clone())
            .map_err(|_| invalid("data key \"value\" is not UTF-8 text".to_owned()))?;
        let cache_key = (namespace.to_owned(), cluster.to_owned());
        if let Some((cached_text, client)) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cache_key)
            && *cached_text == text
        {
            return Ok(Some(client.clone()));
        }
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text)
            .map_err(|e| invalid(format!("data key \"value\" is not a kubeconfig: {e}")))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| invalid(format!("the kubeconfig cannot be used: {e}")))?;
        let client = kube::Client::try_from(config)
            .map_err(|e| invalid(format!("no client can be built from the kubeconfig: {e}")))?;
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cache_key, (text, client.clone()));
        Ok(Some(client))
    }
}

/// The workload error for `action` in `cluster`.
pub(crate) fn workload_err(
    cluster: &str,
    action: impl Into<String>,
) -> impl FnOnce(kube::Error) -> Error {
    let cluster = cluster.to_owned();
    let action = action.into();
    move |source| Error::Workload {
        cluster,
        action,
        source,
    }
}

/// The Node whose `spec.providerID` is `provider_id` (`getNode`); more than one is an error.
pub(crate) async fn node_by_provider_id(
    client: &kube::Client,
    cluster: &str,
    provider_id: &str,
) -> Result<Option<Node>, Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(workload_err(cluster, "list Nodes"))?;
    let mut matching = list
        .items
        .into_iter()
        .filter(|n| n.spec.as_ref().and_then(|s| s.provider_id.as_deref()) == Some(provider_id));
    let first = matching.next();
    if matching.next().is_some() {
        return Err(Error::Invalid(format!(
            "unexpectedly found more than one Node matching the providerID {provider_id} in the workload cluster {cluster}"
        )));
    }
    Ok(first)
}

/// The Node named `name`, if it exists.
pub(crate) async fn get_node(
    client: &kube::Client,
    cluster: &str,
    name: &str,
) -> Result<Option<Node>, Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .get_opt(name)
        .await
        .map_err(workload_err(cluster, format!("get Node {name}")))
}

/// Deletes the Node named `name` (`deleteNode`); a missing Node counts as deleted.
pub(crate) async fn delete_node(
    client: &kube::Client,
    cluster: &str,
    name: &str,
) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(workload_err(cluster, format!("delete Node {name}"))(e)),
    }
}

/// Whether the Node's `Ready` condition is `True` (`noderefutil.IsNodeReady`).
pub(crate) fn is_node_ready(node: &Node) -> bool {
    ready_since(node).is_some()
}

/// When the Node's `Ready` condition last became `True`, if it is `True`.
fn ready_since(node: &Node) -> Option<jiff::Timestamp> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(jiff::Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

/// Whether the Node has been ready for `min_ready_seconds` (`noderefutil.IsNodeAvailable`).
pub(crate) fn is_node_available(node: &Node, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    let Some(since) = ready_since(node) else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now
}

/// Whether a label or annotation key is in `domain` or one of its subdomains.
fn in_domain(key: &str, domain: &str) -> bool {
    let prefix = key.split('/').next().unwrap_or_default();
    prefix == domain || prefix.ends_with(&format!(".{domain}"))
}

/// The Machine labels synced to its Node (`labels.GetManagedLabels` without extra regexes).
fn managed_labels(machine: &Machine) -> BTreeMap<String, String> {
    machine
        .labels()
        .iter()
        .filter(|(k, _)| {
            k.split('/').next() == Some(NODE_ROLE_LABEL_PREFIX)
                || in_domain(k, NODE_RESTRICTION_LABEL_DOMAIN)
                || in_domain(k, MANAGED_NODE_DOMAIN)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The Machine annotations synced to its Node (`annotations.GetManagedAnnotations`).
fn managed_annotations(machine: &Machine) -> BTreeMap<String, String> {
    let mut managed = BTreeMap::from([
        (
            capi::CLUSTER_NAME_ANNOTATION.to_owned(),
            machine.spec.cluster_name.clone(),
        ),
        (
            capi::CLUSTER_NAMESPACE_ANNOTATION.to_owned(),
            machine.namespace().unwrap_or_default(),
        ),
        (capi::MACHINE_ANNOTATION.to_owned(), machine.name_any()),
    ]);
    if let Some(owner) = controller_of(&machine.metadata) {
        managed.insert(capi::OWNER_KIND_ANNOTATION.to_owned(), owner.kind.clone());
        managed.insert(capi::OWNER_NAME_ANNOTATION.to_owned(), owner.name.clone());
    }
    for (k, v) in machine.annotations() {
        if in_domain(k, MANAGED_NODE_DOMAIN) {
            managed.insert(k.clone(), v.clone());
        }
    }
    managed
}

/// Syncs the Machine's bookkeeping annotations and managed labels to its Node and removes the
/// uninitialized taint (`patchNode`, without the outdated-revision taint).
pub(crate) async fn patch_node(
    client: &kube::Client,
    cluster: &str,
    node: &Node,
    machine: &Machine,
) -> Result<(), Error> {
    let annotations = node.annotations();
    let labels = node.labels();
    let new_annotations = managed_annotations(machine);
    let new_labels = managed_labels(machine);
    let mut annotation_patch = serde_json::Map::new();
    let mut label_patch = serde_json::Map::new();
    let previous = |key: &str| -> Vec<String> {
        annotations
            .get(key)
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut previous_annotations = previous(ANNOTATIONS_FROM_MACHINE_ANNOTATION);
    previous_annotations.extend(COMMON_NODE_ANNOTATIONS.iter().map(|s| (*s).to_owned()));
    for (k, v) in &new_annotations {
        if annotations.get(k) != Some(v) {
            annotation_patch.insert(k.clone(), json!(v));
        }
    }
    for k in previous_annotations {
        if k != ANNOTATIONS_FROM_MACHINE_ANNOTATION
            && !new_annotations.contains_key(&k)
            && annotations.contains_key(&k)
        {
            annotation_patch.insert(k, Value::Null);
        }
    }
    for (k, v) in &new_labels {
        if labels.get(k) != Some(v) {
            label_patch.insert(k.clone(), json!(v));
        }
    }
    for k in previous(LABELS_FROM_MACHINE_ANNOTATION) {
        if !new_labels.contains_key(&k) && labels.contains_key(&k) {
            label_patch.insert(k, Value::Null);
        }
    }
    let synced_annotations: Vec<&str> = new_annotations
        .keys()
        .map(String::as_str)
        .filter(|k| !COMMON_NODE_ANNOTATIONS.contains(k))
        .collect();
    let synced_labels: Vec<&str> = new_labels.keys().map(String::as_str).collect();
    for (key, value) in [
        (LABELS_FROM_MACHINE_ANNOTATION, synced_labels.join(",")),
        (
            ANNOTATIONS_FROM_MACHINE_ANNOTATION,
            synced_annotations.join(","),
        ),
    ] {
        if annotations.get(key) != Some(&value) {
            annotation_patch.insert(key.to_owned(), json!(value));
        }
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let kept: Vec<_> = taints
        .iter()
        .filter(|t| !(t.key == NODE_UNINITIALIZED_TAINT && t.effect == "NoSchedule"))
        .cloned()
        .collect();
    if annotation_patch.is_empty() && label_patch.is_empty() && kept.len() == taints.len() {
        return Ok(());
    }
    let mut patch = json!({"metadata": {
        "resourceVersion": node.metadata.resource_version,
        "annotations": annotation_patch,
        "labels": label_patch,
    }});
    if kept.len() != taints.len() {
        patch["spec"] = json!({"taints": kept});
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let name = node.name_any();
    nodes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(workload_err(cluster, format!("update Node {name}")))?;
    Ok(())
}
