//! Bootstrap data written for the Go provider renders to the userdata the Go provider sent:
//! golden files for every flavor (CPEM, kube-vip, EMLB) × role (first control plane, joining
//! control plane, worker) (`UPDATE_GOLDEN=1` regenerates them), each also compared byte for
//! byte with Go's own `text/template` (`tests/support/go_template_oracle`) when `go` is
//! installed. Without the opt-in, `{{ .apiKey }}` is refused; constructs outside the subset
//! are refused even though Go would have accepted them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use capp_bootstrap::{
    Error, GoApiKey, GoMachineInputs, GoTemplateValues, MetalApiTokenOptIn, render_go_template,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

const FLAVORS: [&str; 3] = ["cpem", "kube-vip", "emlb"];
const ROLES: [&str; 3] = ["control-plane-init", "control-plane-join", "worker"];
const TOKEN: &str = "metal-api-token-written-by-opt-in";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(manifest_dir().join("tests/fixtures/go-provider").join(name)).unwrap()
}

fn golden_dir() -> PathBuf {
    manifest_dir().join("tests/golden/go-provider")
}

fn opt_in() -> MetalApiTokenOptIn {
    MetalApiTokenOptIn {
        token: SecretString::from(TOKEN.to_owned()),
    }
}

/// The values the Go provider's controller passed for this flavor and role
/// (`packetmachine_controller.go` and `NewDevice`).
fn values(flavor: &str, role: &str, opt_in: Option<&MetalApiTokenOptIn>) -> GoTemplateValues {
    let (endpoint, cpem_config, emlb_id) = match flavor {
        // CPEM and KUBE_VIP: the Elastic IP reserved for the cluster.
        "cpem" => (Some("147.75.80.10"), None, None),
        "kube-vip" => (Some("147.75.80.20"), None, None),
        // EMLB: the load balancer's address from Cluster.spec.controlPlaneEndpoint.host.
        "emlb" => (
            Some("139.178.88.17"),
            Some("emlb:///da"),
            Some("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"),
        ),
        other => panic!("unknown flavor {other}"),
    };
    GoTemplateValues::for_machine(&GoMachineInputs {
        control_plane: role != "worker",
        kubernetes_version: Some("v1.32.3"),
        control_plane_endpoint: endpoint,
        cpem_config,
        emlb_id,
        api_key_opt_in: opt_in,
    })
}

fn cases() -> Vec<(String, String, GoTemplateValues)> {
    let opt_in = opt_in();
    let mut out = Vec::new();
    for flavor in FLAVORS {
        for role in ROLES {
            let name = format!("{flavor}-{role}.yaml");
            out.push((
                name.clone(),
                fixture(&name),
                values(flavor, role, Some(&opt_in)),
            ));
        }
    }
    out
}

#[test]
fn go_provider_bootstrap_data_renders_to_the_golden_userdata() {
    let dir = golden_dir();
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut mismatches = Vec::new();
    let cases = cases();
    for (name, template, values) in &cases {
        let rendered =
            render_go_template(template, values).unwrap_or_else(|e| panic!("{name}: {e}"));
        // What cloud-init sees: its own jinja, no Go template left, no missing value.
        assert!(
            rendered.contains("equinixmetal://{{ v1.instance_id }}"),
            "{name}"
        );
        assert!(!rendered.contains("{{ ."), "{name}");
        assert!(!rendered.contains("{{ `"), "{name}");
        assert!(!rendered.contains("<no value>"), "{name}");
        if name.contains("control-plane") {
            assert!(rendered.contains(TOKEN), "{name}: the opted-in token");
        } else {
            assert!(
                !rendered.contains(TOKEN),
                "{name}: workers never get the token"
            );
        }
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &rendered).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == rendered => {}
            Ok(_) => mismatches.push(format!("{name} differs")),
            Err(e) => mismatches.push(format!("{name}: {e}")),
        }
    }
    let expected: BTreeSet<String> = cases.iter().map(|(n, _, _)| n.clone()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected.contains(&file) {
            mismatches.push(format!("{file} is not rendered by any case (stale)"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden files out of date (run with UPDATE_GOLDEN=1 and review the diff):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_emlb_values_land_where_the_go_templates_put_them() {
    let rendered = render_go_template(
        &fixture("emlb-control-plane-init.yaml"),
        &values("emlb", "control-plane-init", Some(&opt_in())),
    )
    .unwrap();
    assert!(rendered.contains(
        r#"\"apiKey\": \"metal-api-token-written-by-opt-in\",\"projectID\": \"7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e\",\"loadbalancer\": \"emlb:///da\",\"loadBalancerID\": \"1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed\""#
    ));
    assert!(rendered.contains("ip addr add 139.178.88.17 dev lo"));
    assert!(rendered.contains("MINOR_KUBERNETES_VERSION=$(echo v1.32.3 | cut -d. -f1-2 )"));
}

#[test]
fn without_the_opt_in_control_planes_are_refused_and_workers_render() {
    for flavor in FLAVORS {
        for role in ROLES {
            let name = format!("{flavor}-{role}.yaml");
            let template = fixture(&name);
            let result = render_go_template(&template, &values(flavor, role, None));
            if role == "worker" {
                let rendered = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                let opted_in =
                    render_go_template(&template, &values(flavor, role, Some(&opt_in())));
                assert_eq!(rendered, opted_in.unwrap(), "{name}");
                continue;
            }
            let err = result.unwrap_err();
            let Error::GoTemplateApiKeyRefused { line, column } = err else {
                panic!("{name}: unexpected {err}");
            };
            // The position is the first `{{ .apiKey }}` of the fixture.
            let text_line = template.lines().nth(line - 1).unwrap();
            let at: String = text_line.chars().skip(column - 1).take(13).collect();
            assert_eq!(at, "{{ .apiKey }}", "{name}: line {line}, column {column}");
            assert!(err.to_string().contains("opt-in flag"), "{name}");
        }
    }
}

#[test]
fn constructs_go_accepts_but_the_go_provider_never_used_are_refused() {
    let template = fixture("cpem-worker.yaml").replace(
        "runcmd:",
        "runcmd:{{ range .VLANs }}\n  - echo {{ .ID }}{{ end }}",
    );
    let err = render_go_template(&template, &values("cpem", "worker", None)).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::UnsupportedGoTemplate { .. }),
        "{message}"
    );
    assert!(message.contains("`{{ range .VLANs }}`"), "{message}");
    assert!(
        message.contains("`range` action is not supported"),
        "{message}"
    );
    assert!(message.contains("line "), "{message}");
}

/// Values as the Go map the oracle executes with: only the keys that are set.
fn go_values_json(values: &GoTemplateValues) -> String {
    let mut map = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            map.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("kubernetesVersion", values.kubernetes_version.as_deref());
    put(
        "controlPlaneEndpoint",
        values.control_plane_endpoint.as_deref(),
    );
    put("cpemConfig", values.cpem_config.as_deref());
    put("emlbID", values.emlb_id.as_deref());
    if let GoApiKey::Token(opt_in) = &values.api_key {
        put("apiKey", Some(opt_in.token.expose_secret()));
    }
    Value::Object(map).to_string()
}

/// Builds the Go oracle, or `None` (loudly) when `go` is missing.
fn go_oracle() -> Option<PathBuf> {
    if !tools::available("Go (the text/template oracle)", "go", &["version"]) {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("capp-go-template-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("oracle");
    let source = manifest_dir().join("tests/support/go_template_oracle/main.go");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building the Go oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(binary)
}

fn go_render(oracle: &Path, template: &str, values: &GoTemplateValues) -> String {
    let file = oracle.with_file_name(format!("template-{}", rand_suffix(template)));
    std::fs::write(&file, template).unwrap();
    let output = Command::new(oracle)
        .arg(&file)
        .arg(go_values_json(values))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "Go rejected {template:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A file name suffix from the template's content (no randomness needed).
fn rand_suffix(template: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    template.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

#[test]
fn our_rendering_is_byte_for_byte_what_go_text_template_renders() {
    let Some(oracle) = go_oracle() else {
        return;
    };
    for (name, template, values) in cases() {
        assert_eq!(
            render_go_template(&template, &values).unwrap(),
            go_render(&oracle, &template, &values),
            "{name}"
        );
    }
    // The edges of the subset: missing keys, empty values, trim markers, raw strings with
    // delimiters and newlines, spacing inside actions.
    let worker = values("emlb", "worker", Some(&opt_in()));
    let control_plane = values("emlb", "control-plane-init", Some(&opt_in()));
    for template in [
        "{{ .controlPlaneEndpoint }}|{{ .cpemConfig }}|{{ .emlbID }}|{{ .apiKey }}",
        "a \n\t{{- .kubernetesVersion -}} \r\n b",
        "a  {{- .kubernetesVersion }}  b {{ .kubernetesVersion -}}\n\n c",
        "x {{- `y` -}}\n{{- `z` }}",
        "{{`a}}\nb`}}{{ `` }}{{`{{`}}",
        "{{.kubernetesVersion}}{{ \t.emlbID\n }}",
        "}} { {{ .kubernetesVersion }} }}",
        "é ü {{ .apiKey }} 😀",
    ] {
        for values in [&worker, &control_plane] {
            assert_eq!(
                render_go_template(template, values).unwrap(),
                go_render(&oracle, template, values),
                "{template:?}"
            );
        }
    }
    let empty = GoTemplateValues {
        kubernetes_version: Some(String::new()),
        api_key: GoApiKey::Unset,
        ..GoTemplateValues::default()
    };
    assert_eq!(
        render_go_template("[{{ .kubernetesVersion }}]", &empty).unwrap(),
        go_render(&oracle, "[{{ .kubernetesVersion }}]", &empty)
    );
    let _ = std::fs::remove_dir_all(oracle.parent().unwrap());
}
