//! Shared helpers for tests that need external tools (`cloud-init`, Python with PyYAML) and
//! for the fixed, clearly fake inputs of the golden tests.
//!
//! A missing tool skips the test with a loud message, except under `CI=true`, where it fails.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure here is a test failure"
)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use capp_bootstrap::{
    ApiEndpoint, CertificateAuthority, ClusterSpec, InitMaterial, JoinDiscovery, NodeRole,
    ServiceAccountKeys,
};

/// Whether the tool is usable. Prints a loud skip message when it is not; panics under
/// `CI=true`.
pub(crate) fn available(what: &str, program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let install = match program {
        "go" => "install Go 1.22 or newer",
        _ => "install it (`apt-get install -y cloud-init python3-yaml`)",
    };
    let hint = format!(
        "{what} is not available (`{program} {}` failed); {install}",
        args.join(" ")
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: {hint}"
    );
    eprintln!("\n!!!!!!!! SKIPPING: {hint} !!!!!!!!\n");
    false
}

/// `cloud-init` is installed.
pub(crate) fn cloud_init_available() -> bool {
    available("cloud-init", "cloud-init", &["--version"])
}

/// The interpreter of the installed `cloud-init` (its `#!` line), when there is one.
pub(crate) fn cloud_init_python() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    let script = std::env::split_paths(&path)
        .map(|dir| dir.join("cloud-init"))
        .find(|p| p.is_file())?;
    let text = std::fs::read_to_string(script).ok()?;
    let interpreter = text.lines().next()?.strip_prefix("#!")?.trim();
    Some(interpreter.split_whitespace().next()?.to_owned())
}

/// The Python that reads YAML in these tests: cloud-init's own interpreter when it has PyYAML
/// (so the very PyYAML cloud-init uses), otherwise `python3` from `PATH`.
fn yaml_python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            cloud_init_python()
                .filter(|python| {
                    Command::new(python)
                        .args(["-c", "import yaml"])
                        .status()
                        .is_ok_and(|s| s.success())
                })
                .unwrap_or_else(|| "python3".to_owned())
        })
        .clone()
}

/// Python 3 with PyYAML (the YAML 1.1 parser cloud-init uses) is installed.
pub(crate) fn pyyaml_available() -> bool {
    available("PyYAML", &yaml_python(), &["-c", "import yaml"])
}

/// cloud-init's Python modules are importable by its interpreter (for `util.shellify`).
pub(crate) fn cloud_init_modules_available() -> Option<String> {
    let python = cloud_init_python().unwrap_or_else(|| "python3".to_owned());
    available(
        "cloud-init's Python modules",
        &python,
        &["-c", "import cloudinit.util"],
    )
    .then_some(python)
}

/// `bash` is installed (for syntax checks of generated scripts).
pub(crate) fn bash_available() -> bool {
    available("bash", "bash", &["-c", "true"])
}

/// Checks `script` with `bash -n` (parse only, nothing runs); returns bash's message on failure.
pub(crate) fn bash_syntax(script: &str) -> Result<(), String> {
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `cloud-init schema --config-file <path>`; returns the combined output on failure.
pub(crate) fn cloud_init_schema(path: &Path) -> Result<(), String> {
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("Valid cloud-config") {
        Ok(())
    } else {
        Err(text)
    }
}

/// Reads each input with PyYAML `safe_load` (YAML 1.1, as cloud-init does) and returns the
/// result as JSON. Values JSON cannot hold (dates, bytes, ...) come back as
/// `{"!python": "<type>: <repr>"}`, so they never compare equal to a string.
///
/// With `multi`, each input is read with `safe_load_all` and a list of documents is returned.
pub(crate) fn pyyaml_load(inputs: &[String], multi: bool) -> Vec<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, sys, yaml
def default(o):
    return {"!python": type(o).__name__ + ": " + repr(o)}
out = []
for text in json.load(sys.stdin)["inputs"]:
    if sys.argv[1] == "multi":
        out.append(list(yaml.safe_load_all(text)))
    else:
        out.append(yaml.safe_load(text))
json.dump(out, sys.stdout, default=default)
"#;
    let mut child = Command::new(yaml_python())
        .args(["-c", SCRIPT, if multi { "multi" } else { "single" }])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let input = serde_json::json!({ "inputs": inputs }).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML could not read the YAML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The fixed fake CA public-key hash of the golden tests.
pub(crate) const FAKE_CA_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000fa4e00";
/// The fixed fake bootstrap token of the golden tests.
pub(crate) const FAKE_TOKEN: &str = "fake00.fakefakefakefake";
/// The fixed fake certificate key of the golden tests.
pub(crate) const FAKE_CERTIFICATE_KEY: &str =
    "fa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4efa4e";

fn fake_pem(label: &str, what: &str) -> String {
    // The base64 body decodes to an ASCII note, not to key material.
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(format!(
        "FAKE {what} FOR CAPP-BOOTSTRAP GOLDEN TESTS - NOT A REAL KEY"
    ));
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

fn fake_ca(what: &str) -> CertificateAuthority {
    CertificateAuthority {
        cert_pem: fake_pem("CERTIFICATE", &format!("{what} CERTIFICATE")),
        key_pem: fake_pem("EC PRIVATE KEY", &format!("{what} PRIVATE KEY")).into(),
    }
}

/// The fake cluster: `golden` behind the TEST-NET-3 address 203.0.113.10:6443.
pub(crate) fn fake_cluster() -> ClusterSpec {
    ClusterSpec::new(
        "golden",
        ApiEndpoint {
            host: "203.0.113.10".to_owned(),
            port: 6443,
        },
    )
}

/// Fake discovery: [`FAKE_TOKEN`] and [`FAKE_CA_HASH`].
pub(crate) fn fake_discovery() -> JoinDiscovery {
    JoinDiscovery {
        token: FAKE_TOKEN.to_owned().into(),
        ca_cert_hashes: vec![FAKE_CA_HASH.to_owned()],
    }
}

/// The three roles, with fake PKI material for init.
pub(crate) fn fake_roles() -> Vec<NodeRole> {
    vec![
        NodeRole::ControlPlaneInit(Box::new(InitMaterial {
            certificate_key: FAKE_CERTIFICATE_KEY.to_owned().into(),
            ca: fake_ca("CLUSTER CA"),
            etcd_ca: fake_ca("ETCD CA"),
            front_proxy_ca: fake_ca("FRONT PROXY CA"),
            service_account: ServiceAccountKeys {
                public_pem: fake_pem("PUBLIC KEY", "SERVICE ACCOUNT PUBLIC KEY"),
                private_pem: fake_pem("PRIVATE KEY", "SERVICE ACCOUNT PRIVATE KEY").into(),
            },
        })),
        NodeRole::ControlPlaneJoin {
            certificate_key: FAKE_CERTIFICATE_KEY.to_owned().into(),
        },
        NodeRole::Worker,
    ]
}
