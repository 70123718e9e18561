//! The upstream kubeadm configuration types, as shapes, and a checker that every key path of a
//! kubeadm configuration exists in them with the right shape.
//!
//! There is no kubeadm binary at build or test time, so the upstream Go types are encoded by
//! hand from `kubernetes/kubernetes`:
//! - `cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go`,
//! - `cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go`,
//! - `cmd/kubeadm/app/apis/bootstraptoken/v1/types.go` (`BootstrapToken`),
//! - `k8s.io/api/core/v1` `Taint` (`key`, `value`, `effect`, `timeAdded`).
//!
//! Only the structs on the paths [`kubeadm_config`](super::kubeadm_config) can reach are
//! encoded, with their JSON names as written in the `json:"..."` tags. Upstream fields left out
//! (`patches`, `etcd`, `dns`, `timeouts` ...) make the check stricter, not weaker: a
//! configuration using one of them is reported. The check is about names and shapes; it does
//! not validate values (kubeadm's own validation does that at `init` / `join`).
//!
//! The version is picked per document by its `apiVersion` (`kubeadm.k8s.io/v1beta3` or
//! `kubeadm.k8s.io/v1beta4`) and `kind` (`InitConfiguration`, `ClusterConfiguration`,
//! `JoinConfiguration`).
//!
//! # Example
//! ```
//! use capp_bootstrap::kubeadm::upstream::check_config;
//!
//! let good = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n\
//!             nodeRegistration:\n  kubeletExtraArgs:\n  - name: node-ip\n    value: 10.0.0.1\n";
//! let paths = check_config(good).unwrap();
//! assert!(paths.contains(&"kubeadm.k8s.io/v1beta4 JoinConfiguration .nodeRegistration.kubeletExtraArgs".to_owned()));
//!
//! // v1beta4 extra arguments are a list of {name, value}, not a map.
//! let bad = good.replace("  - name: node-ip\n    value: 10.0.0.1", "    node-ip: 10.0.0.1");
//! let errors = check_config(&bad).unwrap_err();
//! assert_eq!(
//!     errors,
//!     ["document 1 (kubeadm.k8s.io/v1beta4 JoinConfiguration): .nodeRegistration.kubeletExtraArgs: \
//!       upstream type is a list, found a mapping"]
//! );
//! ```

use serde_json::Value;

/// The shape of a JSON field in a Go API type.
#[derive(Debug)]
enum Ty {
    /// `string` (also `metav1.Duration`, `metav1.Time` and `BootstrapTokenString`, which
    /// marshal as strings).
    Str,
    /// `int32`.
    Int,
    /// `bool`.
    Bool,
    /// A struct: its JSON field names and their shapes.
    Obj(&'static [(&'static str, Ty)]),
    /// A slice.
    List(&'static Ty),
    /// A `map[string]T`.
    Map(&'static Ty),
}

use Ty::{Bool, Int, List, Map, Obj, Str};

impl Ty {
    fn describe(&self) -> &'static str {
        match self {
            Str => "a string",
            Int => "an integer",
            Bool => "a boolean",
            Obj(_) => "an object",
            List(_) => "a list",
            Map(_) => "a map",
        }
    }
}

/// What a YAML value is, for messages (never the value itself: it may be a token or key).
fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

// --- shared by v1beta3 and v1beta4 ------------------------------------------------------

/// `APIEndpoint`.
const API_ENDPOINT: Ty = Obj(&[("advertiseAddress", Str), ("bindPort", Int)]);

/// `bootstraptokenv1.BootstrapToken`.
const BOOTSTRAP_TOKEN: Ty = Obj(&[
    ("token", Str),
    ("description", Str),
    ("ttl", Str),
    ("expires", Str),
    ("usages", List(&Str)),
    ("groups", List(&Str)),
]);

/// `corev1.Taint`.
const TAINT: Ty = Obj(&[
    ("key", Str),
    ("value", Str),
    ("effect", Str),
    ("timeAdded", Str),
]);

/// `Networking`.
const NETWORKING: Ty = Obj(&[
    ("serviceSubnet", Str),
    ("podSubnet", Str),
    ("dnsDomain", Str),
]);

/// `BootstrapTokenDiscovery`.
const BOOTSTRAP_TOKEN_DISCOVERY: Ty = Obj(&[
    ("token", Str),
    ("apiServerEndpoint", Str),
    ("caCertHashes", List(&Str)),
    ("unsafeSkipCAVerification", Bool),
]);

/// `FileDiscovery`.
const FILE_DISCOVERY: Ty = Obj(&[("kubeConfigPath", Str)]);

/// `Discovery` (the `timeout` field moved between versions and is not encoded).
const DISCOVERY: Ty = Obj(&[
    ("bootstrapToken", BOOTSTRAP_TOKEN_DISCOVERY),
    ("file", FILE_DISCOVERY),
    ("tlsBootstrapToken", Str),
]);

/// `JoinControlPlane`.
const JOIN_CONTROL_PLANE: Ty = Obj(&[("localAPIEndpoint", API_ENDPOINT), ("certificateKey", Str)]);

// --- v1beta3: extra arguments are `map[string]string` -----------------------------------

const V1BETA3_NODE_REGISTRATION: Ty = Obj(&[
    ("name", Str),
    ("criSocket", Str),
    ("taints", List(&TAINT)),
    ("kubeletExtraArgs", Map(&Str)),
    ("ignorePreflightErrors", List(&Str)),
    ("imagePullPolicy", Str),
]);

const V1BETA3_API_SERVER: Ty = Obj(&[
    ("extraArgs", Map(&Str)),
    ("certSANs", List(&Str)),
    ("timeoutForControlPlane", Str),
]);

const V1BETA3_INIT: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("bootstrapTokens", List(&BOOTSTRAP_TOKEN)),
    ("nodeRegistration", V1BETA3_NODE_REGISTRATION),
    ("localAPIEndpoint", API_ENDPOINT),
    ("certificateKey", Str),
    ("skipPhases", List(&Str)),
]);

const V1BETA3_CLUSTER: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("networking", NETWORKING),
    ("kubernetesVersion", Str),
    ("controlPlaneEndpoint", Str),
    ("apiServer", V1BETA3_API_SERVER),
    ("certificatesDir", Str),
    ("imageRepository", Str),
    ("featureGates", Map(&Bool)),
    ("clusterName", Str),
]);

const V1BETA3_JOIN: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("nodeRegistration", V1BETA3_NODE_REGISTRATION),
    ("caCertPath", Str),
    ("discovery", DISCOVERY),
    ("controlPlane", JOIN_CONTROL_PLANE),
    ("skipPhases", List(&Str)),
]);

// --- v1beta4: extra arguments are `[]Arg{name, value}` ----------------------------------

/// `Arg`.
const ARG: Ty = Obj(&[("name", Str), ("value", Str)]);

const V1BETA4_NODE_REGISTRATION: Ty = Obj(&[
    ("name", Str),
    ("criSocket", Str),
    ("taints", List(&TAINT)),
    ("kubeletExtraArgs", List(&ARG)),
    ("ignorePreflightErrors", List(&Str)),
    ("imagePullPolicy", Str),
]);

const V1BETA4_API_SERVER: Ty = Obj(&[("extraArgs", List(&ARG)), ("certSANs", List(&Str))]);

const V1BETA4_INIT: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("bootstrapTokens", List(&BOOTSTRAP_TOKEN)),
    ("dryRun", Bool),
    ("nodeRegistration", V1BETA4_NODE_REGISTRATION),
    ("localAPIEndpoint", API_ENDPOINT),
    ("certificateKey", Str),
    ("skipPhases", List(&Str)),
]);

const V1BETA4_CLUSTER: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("networking", NETWORKING),
    ("kubernetesVersion", Str),
    ("controlPlaneEndpoint", Str),
    ("apiServer", V1BETA4_API_SERVER),
    ("certificatesDir", Str),
    ("imageRepository", Str),
    ("featureGates", Map(&Bool)),
    ("clusterName", Str),
]);

const V1BETA4_JOIN: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("dryRun", Bool),
    ("nodeRegistration", V1BETA4_NODE_REGISTRATION),
    ("caCertPath", Str),
    ("discovery", DISCOVERY),
    ("controlPlane", JOIN_CONTROL_PLANE),
    ("skipPhases", List(&Str)),
]);

/// Every `(apiVersion, kind)` the checker knows, with its upstream shape.
const DOCUMENTS: [(&str, &str, &Ty); 6] = [
    ("kubeadm.k8s.io/v1beta3", "InitConfiguration", &V1BETA3_INIT),
    (
        "kubeadm.k8s.io/v1beta3",
        "ClusterConfiguration",
        &V1BETA3_CLUSTER,
    ),
    ("kubeadm.k8s.io/v1beta3", "JoinConfiguration", &V1BETA3_JOIN),
    ("kubeadm.k8s.io/v1beta4", "InitConfiguration", &V1BETA4_INIT),
    (
        "kubeadm.k8s.io/v1beta4",
        "ClusterConfiguration",
        &V1BETA4_CLUSTER,
    ),
    ("kubeadm.k8s.io/v1beta4", "JoinConfiguration", &V1BETA4_JOIN),
];

/// Checks a (multi-document) kubeadm configuration against the upstream `v1beta3` / `v1beta4`
/// types.
///
/// On success, returns every key path it checked, as `"<apiVersion> <kind> <path>"` (for
/// example `"kubeadm.k8s.io/v1beta4 JoinConfiguration .discovery.bootstrapToken.caCertHashes"`),
/// so that a caller can also assert that what it expects was there.
///
/// # Errors
/// Every problem found, each naming the document (1-based) and the key path: YAML that does
/// not parse, no document at all, a document that is not a mapping, a missing or unknown
/// `apiVersion` / `kind`, a key that does not exist upstream (`no such field upstream`) and a
/// value of the wrong shape (`upstream type is a list, found a mapping`). Values are never
/// quoted in the messages (they may be tokens or keys).
pub fn check_config(yaml: &str) -> Result<Vec<String>, Vec<String>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| vec![format!("the kubeadm configuration is not valid YAML: {e}")])?;
    if docs.is_empty() {
        return Err(vec![
            "the kubeadm configuration has no document; kubeadm needs an InitConfiguration or a \
             JoinConfiguration"
                .to_owned(),
        ]);
    }
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let number = index + 1;
        let api_version = doc.get("apiVersion").and_then(Value::as_str);
        let kind = doc.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            errors.push(format!(
                "document {number}: is {} without string `apiVersion` and `kind`; set \
                 `apiVersion: kubeadm.k8s.io/v1beta4` (or v1beta3) and the kind",
                found(doc)
            ));
            continue;
        };
        let Some((_, _, ty)) = DOCUMENTS
            .iter()
            .find(|(a, k, _)| *a == api_version && *k == kind)
        else {
            let known: Vec<String> = DOCUMENTS
                .iter()
                .map(|(a, k, _)| format!("{a} {k}"))
                .collect();
            errors.push(format!(
                "document {number}: `{api_version} {kind}` is not a kubeadm configuration this \
                 check knows; use one of: {}",
                known.join(", ")
            ));
            continue;
        };
        let mut doc_paths = Vec::new();
        let mut doc_errors = Vec::new();
        check(doc, ty, "", &mut doc_paths, &mut doc_errors);
        paths.extend(
            doc_paths
                .into_iter()
                .map(|p| format!("{api_version} {kind} {p}")),
        );
        errors.extend(
            doc_errors
                .into_iter()
                .map(|e| format!("document {number} ({api_version} {kind}): {e}")),
        );
    }
    if errors.is_empty() {
        Ok(paths)
    } else {
        Err(errors)
    }
}

/// Checks `value` against `ty`, collecting every key path it visits into `paths`.
fn check(value: &Value, ty: &Ty, path: &str, paths: &mut Vec<String>, errors: &mut Vec<String>) {
    match (ty, value) {
        (Str, Value::String(_)) | (Bool, Value::Bool(_)) => {}
        (Int, Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        (Obj(fields), Value::Object(map)) => {
            for (key, item) in map {
                let child = format!("{path}.{key}");
                paths.push(child.clone());
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, field_ty)) => check(item, field_ty, &child, paths, errors),
                    None => errors.push(format!("{child}: no such field upstream")),
                }
            }
        }
        (List(item_ty), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(item, item_ty, &format!("{path}[{i}]"), paths, errors);
            }
        }
        (Map(item_ty), Value::Object(map)) => {
            for (key, item) in map {
                check(item, item_ty, &format!("{path}[{key}]"), paths, errors);
            }
        }
        (ty, value) => errors.push(format!(
            "{path}: upstream type is {}, found {}",
            ty.describe(),
            found(value)
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use super::check_config;

    const JOIN: &str = "apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  criSocket: unix:///var/run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: 10.0.0.1
discovery:
  bootstrapToken:
    token: abcdef.0123456789abcdef
    apiServerEndpoint: 203.0.113.10:6443
    caCertHashes:
    - sha256:abab
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 10.0.0.1
    bindPort: 6443
";

    #[test]
    fn a_valid_join_passes_and_reports_the_paths_it_checked() {
        let paths = check_config(JOIN).unwrap();
        for expected in [
            ".nodeRegistration.kubeletExtraArgs",
            ".discovery.bootstrapToken.caCertHashes",
            ".controlPlane.localAPIEndpoint.bindPort",
        ] {
            let full = format!("kubeadm.k8s.io/v1beta4 JoinConfiguration {expected}");
            assert!(paths.contains(&full), "{full} not in {paths:?}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_reported_with_their_path() {
        let bad = JOIN
            .replace("caCertHashes:", "caCertHashs:")
            .replace("bindPort: 6443", "bindPort: \"6443\"");
        // Keys are checked in sorted order.
        let errors = check_config(&bad).unwrap_err();
        let prefix = "document 1 (kubeadm.k8s.io/v1beta4 JoinConfiguration)";
        assert_eq!(
            errors,
            [
                format!(
                    "{prefix}: .controlPlane.localAPIEndpoint.bindPort: upstream type is an \
                     integer, found a string"
                ),
                format!("{prefix}: .discovery.bootstrapToken.caCertHashs: no such field upstream"),
            ]
        );
    }

    #[test]
    fn the_version_is_chosen_by_api_version() {
        // A v1beta3 map of kubelet arguments is right in v1beta3 and wrong in v1beta4.
        let v1beta3 = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n\
                       nodeRegistration:\n  kubeletExtraArgs:\n    node-ip: 10.0.0.1\n";
        check_config(v1beta3).unwrap();
        let v1beta4 = v1beta3.replace("v1beta3", "v1beta4");
        let errors = check_config(&v1beta4).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with(
                ".nodeRegistration.kubeletExtraArgs: upstream type is a list, found a mapping"
            ),
            "{errors:?}"
        );
    }

    #[test]
    fn every_document_is_checked_and_unknown_documents_are_named() {
        let yaml = format!(
            "{JOIN}---\napiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n---\n\
             apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetwork: {{}}\n---\n\
             - just\n- a list\n"
        );
        let errors = check_config(&yaml).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "document 2: `kubeadm.k8s.io/v1beta2 ClusterConfiguration` is not a kubeadm \
                 configuration this check knows; use one of: kubeadm.k8s.io/v1beta3"
            ),
            "{errors:?}"
        );
        assert_eq!(
            errors[1],
            "document 3 (kubeadm.k8s.io/v1beta4 ClusterConfiguration): .network: no such field \
             upstream"
        );
        assert!(
            errors[2].starts_with("document 4: is a list without string `apiVersion` and `kind`"),
            "{errors:?}"
        );
    }

    #[test]
    fn no_document_or_broken_yaml_is_an_error_not_a_pass() {
        assert!(check_config("").is_err());
        let errors = check_config("kind: [unclosed").unwrap_err();
        assert!(
            errors[0].starts_with("the kubeadm configuration is not valid YAML"),
            "{errors:?}"
        );
    }

    #[test]
    fn messages_never_quote_values() {
        let bad = JOIN.replace(
            "token: abcdef.0123456789abcdef",
            "token: [abcdef.0123456789abcdef]",
        );
        let errors = check_config(&bad).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with("upstream type is a string, found a list"),
            "{errors:?}"
        );
        assert!(!errors[0].contains("0123456789abcdef"), "{errors:?}");
    }
}
