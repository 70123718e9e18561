//! kubeadm's configuration files, read the way kubeadm reads them (`v1beta3` and `v1beta4`),
//! and the pure parts of its judgement: bootstrap-token validity, CA pinning, durations.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// API versions kubeadm 1.31 – 1.34 accepts.
const KUBEADM_API_VERSIONS: &[&str] = &["kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"];

/// Default API server port (`localAPIEndpoint.bindPort`).
pub const DEFAULT_API_PORT: u16 = 6443;

/// `ClusterConfiguration`, the fields the twin uses. The original document is kept for the
/// `kubeadm-config` ConfigMap.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClusterConfiguration {
    pub(crate) cluster_name: String,
    pub(crate) kubernetes_version: String,
    pub(crate) control_plane_endpoint: Option<String>,
    pub(crate) cert_sans: Vec<String>,
    pub(crate) document: Value,
}

/// A `bootstrapTokens` entry of an `InitConfiguration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BootstrapTokenSpec {
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) ttl: Option<String>,
    #[serde(default)]
    pub(crate) usages: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) groups: Option<Vec<String>>,
}

/// `nodeRegistration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeRegistration {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) cri_socket: Option<String>,
    /// A map in `v1beta3`, a list of `{name, value}` in `v1beta4`.
    #[serde(default)]
    pub(crate) kubelet_extra_args: Value,
    /// `None` means kubeadm's default (the control-plane taint on control-plane nodes).
    #[serde(default)]
    pub(crate) taints: Option<Vec<Value>>,
}

impl NodeRegistration {
    /// `kubeletExtraArgs` as name → value (the last one wins, as the kubelet sees them).
    pub(crate) fn kubelet_args(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match &self.kubelet_extra_args {
            Value::Object(map) => {
                for (k, v) in map {
                    out.insert(k.clone(), scalar(v));
                }
            }
            Value::Array(list) => {
                for arg in list {
                    if let Some(name) = arg.get("name").and_then(Value::as_str) {
                        out.insert(
                            name.to_owned(),
                            arg.get("value").map(scalar).unwrap_or_default(),
                        );
                    }
                }
            }
            _ => {}
        }
        out
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `InitConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InitConfiguration {
    #[serde(default)]
    pub(crate) bootstrap_tokens: Vec<BootstrapTokenSpec>,
    #[serde(default)]
    pub(crate) node_registration: NodeRegistration,
    #[serde(default)]
    pub(crate) local_api_endpoint: Option<LocalApiEndpoint>,
    /// The key `--upload-certs` encrypts the shared certificates with.
    #[serde(default)]
    pub(crate) certificate_key: Option<String>,
}

/// `localAPIEndpoint` / `controlPlane.localAPIEndpoint`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LocalApiEndpoint {
    #[serde(default)]
    pub(crate) bind_port: Option<u16>,
}

/// `discovery.bootstrapToken`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BootstrapTokenDiscovery {
    #[serde(default)]
    pub(crate) token: String,
    #[serde(default)]
    pub(crate) api_server_endpoint: String,
    #[serde(default)]
    pub(crate) ca_cert_hashes: Vec<String>,
    #[serde(default)]
    pub(crate) unsafe_skip_ca_verification: bool,
}

/// `discovery`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Discovery {
    #[serde(default)]
    pub(crate) bootstrap_token: Option<BootstrapTokenDiscovery>,
    #[serde(default)]
    pub(crate) file: Option<Value>,
    #[serde(default)]
    pub(crate) tls_bootstrap_token: Option<String>,
}

/// `JoinConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JoinConfiguration {
    #[serde(default)]
    pub(crate) node_registration: NodeRegistration,
    #[serde(default)]
    pub(crate) discovery: Discovery,
    /// Present on control-plane joins.
    #[serde(default)]
    pub(crate) control_plane: Option<Value>,
}

/// Every kubeadm document of a `--config` file.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeadmDocuments {
    pub(crate) cluster: Option<ClusterConfiguration>,
    pub(crate) init: Option<InitConfiguration>,
    pub(crate) join: Option<JoinConfiguration>,
}

/// Parses a multi-document kubeadm configuration, refusing what kubeadm would refuse.
pub(crate) fn parse(path: &str, text: &str) -> Result<KubeadmDocuments, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| format!("unable to read config from {path:?}: {e}"))?;
    let mut out = KubeadmDocuments::default();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let api_version = doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind.is_empty() {
            return Err(format!(
                "unable to read config from {path:?}: Object 'Kind' is missing in a document"
            ));
        }
        if api_version.starts_with("kubeadm.k8s.io/")
            && !KUBEADM_API_VERSIONS.contains(&api_version.as_str())
        {
            return Err(format!(
                "no kind {kind:?} is registered for version {api_version:?} in scheme \"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31\""
            ));
        }
        let decode_error = |e: serde_json::Error| format!("{path}: {kind} is invalid: {e}");
        match kind.as_str() {
            "ClusterConfiguration" => {
                let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
                let cert_sans = doc
                    .pointer("/apiServer/certSANs")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                out.cluster = Some(ClusterConfiguration {
                    // kubeadm's default cluster name.
                    cluster_name: text("clusterName").unwrap_or_else(|| "kubernetes".to_owned()),
                    // kubeadm resolves `stable-1` online; offline, the version testenv reports.
                    kubernetes_version: text("kubernetesVersion")
                        .unwrap_or_else(|| "v1.33.0".to_owned()),
                    control_plane_endpoint: text("controlPlaneEndpoint").filter(|s| !s.is_empty()),
                    cert_sans,
                    document: doc,
                });
            }
            "InitConfiguration" => {
                out.init = Some(serde_json::from_value(doc).map_err(decode_error)?);
            }
            "JoinConfiguration" => {
                out.join = Some(serde_json::from_value(doc).map_err(decode_error)?);
            }
            // KubeletConfiguration, KubeProxyConfiguration...: the kubelet's business.
            _ => {}
        }
    }
    Ok(out)
}

/// Parses a Go duration (`24h0m0s`, `15m`, `1h30m`, `90s`). `0` and `0s` are zero.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(Duration::try_from_secs_f64(number * seconds).ok()?)?;
    }
    Some(total)
}

/// kubeadm's `pubkeypin.Set.CheckAny`: whether `hash` (`sha256:<hex>`) pins the CA.
/// Returns kubeadm's error text when the hashes are malformed or none matches.
pub(crate) fn check_ca_pins(pins: &[String], ca_hash: &str) -> Result<(), String> {
    for pin in pins {
        let Some((algorithm, hex)) = pin.split_once(':') else {
            return Err(format!(
                "invalid discovery token CA certificate hash: invalid hash {pin:?}, expected \"format:hex-value\". Known format(s) are: sha256"
            ));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "invalid discovery token CA certificate hash: unknown hash format {algorithm:?}. Known format(s) are: sha256"
            ));
        }
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "invalid discovery token CA certificate hash: invalid hash {pin:?}"
            ));
        }
    }
    if pins.iter().any(|p| p.eq_ignore_ascii_case(ca_hash)) {
        Ok(())
    } else {
        Err(format!(
            "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys {ca_hash:?} are pinned"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_kubeadm_writes_them() {
        assert_eq!(
            parse_go_duration("24h0m0s"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_go_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("forever"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("1e300h"), None, "no overflow panic");
        let huge = format!("{}h{}h", u64::MAX / 5000, u64::MAX / 5000);
        assert_eq!(
            parse_go_duration(&huge),
            None,
            "no overflow panic on the sum"
        );
    }

    #[test]
    fn kubelet_args_read_both_the_v1beta3_map_and_the_v1beta4_list() {
        let v3: NodeRegistration = serde_json::from_value(
            serde_json::json!({"kubeletExtraArgs": {"provider-id": "equinixmetal://a"}}),
        )
        .unwrap();
        let v4: NodeRegistration = serde_json::from_value(serde_json::json!({
            "kubeletExtraArgs": [{"name": "provider-id", "value": "equinixmetal://b"}]
        }))
        .unwrap();
        assert_eq!(v3.kubelet_args()["provider-id"], "equinixmetal://a");
        assert_eq!(v4.kubelet_args()["provider-id"], "equinixmetal://b");
    }

    #[test]
    fn ca_pins_must_be_well_formed_and_match() {
        let hash = format!("sha256:{}", "ab".repeat(32));
        assert!(check_ca_pins(std::slice::from_ref(&hash), &hash).is_ok());
        let other = format!("sha256:{}", "cd".repeat(32));
        let err = check_ca_pins(&[other], &hash).unwrap_err();
        assert!(err.contains("are pinned"), "{err}");
        let err = check_ca_pins(&["md5:00".to_owned()], &hash).unwrap_err();
        assert!(err.contains("unknown hash format"), "{err}");
    }

    #[test]
    fn an_old_kubeadm_api_version_is_refused_like_kubeadm() {
        let err = parse(
            "/run/kubeadm/kubeadm.yaml",
            "apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n",
        )
        .unwrap_err();
        assert!(
            err.contains("no kind \"InitConfiguration\" is registered"),
            "{err}"
        );
    }
}
