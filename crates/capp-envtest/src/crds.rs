//! Installing CustomResourceDefinitions (and other manifests) and waiting until they are served.

use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use crate::controlplane::ControlPlane;
use crate::{Error, Result};

/// The field manager of everything the harness applies.
pub(crate) const FIELD_MANAGER: &str = "capp-envtest";

/// How long a CRD may take to become established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Every YAML document in `path` (empty documents skipped).
pub fn load_yaml_documents(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::workdir::io(path, source))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| Error::Manifest {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// `metadata.name` of a manifest.
#[must_use]
pub fn crd_name(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

fn crd_resource() -> ApiResource {
    ApiResource {
        group: "apiextensions.k8s.io".to_owned(),
        version: "v1".to_owned(),
        api_version: "apiextensions.k8s.io/v1".to_owned(),
        kind: "CustomResourceDefinition".to_owned(),
        plural: "customresourcedefinitions".to_owned(),
    }
}

/// The [`ApiResource`] of a manifest's kind for the few cluster-scoped kinds the harness applies.
fn resource_of(object: &Value) -> Result<ApiResource> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "CustomResourceDefinition" => "customresourcedefinitions",
        "MutatingWebhookConfiguration" => "mutatingwebhookconfigurations",
        "ValidatingWebhookConfiguration" => "validatingwebhookconfigurations",
        other => {
            return Err(Error::Manifest {
                path: format!("{api_version} {other}"),
                message: "the harness applies only CRDs and webhook configurations".to_owned(),
            });
        }
    };
    Ok(ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    })
}

impl ControlPlane {
    /// Server-side applies cluster-scoped manifests (CRDs, webhook configurations) as the admin.
    pub async fn apply_cluster_objects(&self, objects: &[Value]) -> Result<()> {
        for object in objects {
            let resource = resource_of(object)?;
            let name = crd_name(object).ok_or_else(|| Error::Manifest {
                path: resource.kind.clone(),
                message: "metadata.name is missing".to_owned(),
            })?;
            let api: Api<DynamicObject> = Api::all_with(self.client(), &resource);
            api.patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await
            .map_err(|source| Error::Api {
                what: format!("apply {} {name}", resource.kind),
                source,
            })?;
        }
        Ok(())
    }

    /// Installs (server-side applies) CustomResourceDefinitions and waits until each is
    /// `Established` and `NamesAccepted`.
    pub async fn install_crds(&self, crds: &[Value]) -> Result<()> {
        self.apply_cluster_objects(crds).await?;
        let api: Api<DynamicObject> = Api::all_with(self.client(), &crd_resource());
        for crd in crds {
            let name = crd_name(crd).unwrap_or_default();
            let deadline = Instant::now() + ESTABLISH_TIMEOUT;
            loop {
                let current = api.get(name).await.map_err(|source| Error::Api {
                    what: format!("get CRD {name}"),
                    source,
                })?;
                let conditions = current
                    .data
                    .pointer("/status/conditions")
                    .cloned()
                    .unwrap_or(Value::Null);
                let is_true = |kind: &str| {
                    conditions.as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == kind && c["status"] == "True")
                    })
                };
                if is_true("Established") && is_true("NamesAccepted") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(Error::NotEstablished {
                        name: name.to_owned(),
                        seconds: ESTABLISH_TIMEOUT.as_secs(),
                        conditions: conditions.to_string(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}
