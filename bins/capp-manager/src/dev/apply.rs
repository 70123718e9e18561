//! `--apply FILE`: server-side apply of every object of a manifest, as `kubectl apply
//! --server-side` does (field manager `capp-manager-dev`, conflicts forced), with the
//! resource of each kind found through discovery.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;
use serde_json::Value;

/// Field manager of the objects dev mode applies.
const FIELD_MANAGER: &str = "capp-manager-dev";

/// How long a kind may take to appear in discovery (a CRD the real kube-apiserver has just
/// established is served a moment later).
const DISCOVERY_PATIENCE: Duration = Duration::from_secs(30);

/// The documents of one manifest file.
#[derive(Debug)]
pub(super) struct Manifest {
    path: PathBuf,
    documents: Vec<Value>,
}

/// Reads and parses every `--apply` file; an unreadable file, invalid YAML or a document
/// without `apiVersion`, `kind` or `metadata.name` is an error naming the file and document.
pub(super) fn read_manifests(paths: &[PathBuf]) -> anyhow::Result<Vec<Manifest>> {
    paths.iter().map(|path| read_manifest(path)).collect()
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --apply {}", path.display()))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .with_context(|| format!("--apply {} is not valid YAML", path.display()))?;
    let documents: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    for (index, doc) in documents.iter().enumerate() {
        let field = |name: &str| doc.pointer(name).and_then(Value::as_str).unwrap_or("");
        for (pointer, what) in [
            ("/apiVersion", "apiVersion"),
            ("/kind", "kind"),
            ("/metadata/name", "metadata.name"),
        ] {
            if field(pointer).is_empty() {
                bail!(
                    "--apply {}: document {} has no {what}; every object needs apiVersion, kind and metadata.name",
                    path.display(),
                    index + 1
                );
            }
        }
    }
    Ok(Manifest {
        path: path.to_owned(),
        documents,
    })
}

/// One applied object, printed as kubectl prints it (`cluster.cluster.x-k8s.io/demo
/// serverside-applied`).
#[derive(Debug, Clone)]
pub(super) struct Applied {
    group: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl Applied {
    /// Whether the object is a Cluster API Cluster (whose progress is followed).
    pub(super) fn is_cluster(&self) -> bool {
        self.group == "cluster.x-k8s.io" && self.kind == "Cluster"
    }

    /// `(namespace, name)`.
    pub(super) fn key(&self) -> (String, String) {
        (
            self.namespace.clone().unwrap_or_default(),
            self.name.clone(),
        )
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_lowercase();
        if self.group.is_empty() {
            write!(f, "{kind}/{} serverside-applied", self.name)
        } else {
            write!(f, "{kind}.{}/{} serverside-applied", self.group, self.name)
        }
    }
}

/// Applies every document of `manifest` in order; namespaced objects without a namespace go
/// to `default`.
pub(super) async fn apply(
    client: &kube::Client,
    manifest: &Manifest,
) -> anyhow::Result<Vec<Applied>> {
    let mut applied = Vec::new();
    for (index, doc) in manifest.documents.iter().enumerate() {
        let at = || format!("--apply {} document {}", manifest.path.display(), index + 1);
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let name = doc["metadata"]["name"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = discover(client, &gvk).await.with_context(|| {
            format!(
                "{}: the API server does not serve {api_version} {kind}",
                at()
            )
        })?;
        let namespace = (capabilities.scope == Scope::Namespaced).then(|| {
            doc["metadata"]["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_owned()
        });
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let mut object = doc.clone();
        if let Some(ns) = &namespace {
            object["metadata"]["namespace"] = Value::from(ns.as_str());
        }
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .with_context(|| format!("{}: {kind} {name} was refused", at()))?;
        applied.push(Applied {
            group: group.to_owned(),
            kind: kind.to_owned(),
            namespace,
            name: name.to_owned(),
        });
    }
    Ok(applied)
}

/// The resource serving `gvk`, retried for [`DISCOVERY_PATIENCE`].
async fn discover(
    client: &kube::Client,
    gvk: &GroupVersionKind,
) -> Result<
    (
        kube::discovery::ApiResource,
        kube::discovery::ApiCapabilities,
    ),
    kube::Error,
> {
    let deadline = tokio::time::Instant::now() + DISCOVERY_PATIENCE;
    loop {
        match kube::discovery::pinned_kind(client, gvk).await {
            Ok(found) => return Ok(found),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("capp-dev-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_document_without_a_kind_is_refused_naming_the_file_and_document() {
        let path = write(
            "nokind.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
        );
        let error = read_manifests(std::slice::from_ref(&path))
            .unwrap_err()
            .to_string();
        let _ = std::fs::remove_file(&path);
        assert!(error.contains("document 2 has no kind"), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = read_manifests(&[PathBuf::from("/nonexistent/cluster.yaml")])
            .unwrap_err()
            .to_string();
        assert_eq!(error, "cannot read --apply /nonexistent/cluster.yaml");
    }

    #[test]
    fn the_example_cluster_parses_into_its_eight_objects() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster.yaml");
        let manifests = read_manifests(&[path]).unwrap();
        let kinds: Vec<&str> = manifests[0]
            .documents
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "Cluster",
                "PacketCluster",
                "Machine",
                "PacketKubeadmConfig",
                "PacketMachine",
                "MachineDeployment",
                "PacketKubeadmConfigTemplate",
                "PacketMachineTemplate"
            ]
        );
    }
}
