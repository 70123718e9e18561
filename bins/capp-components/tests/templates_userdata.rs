//! The node userdata of every flavor, as it reaches a device: the template's variables
//! substituted, the KubeadmConfigSpec rendered into cloud-config as CABPK renders it
//! (`support/cabpk.rs`), the provider's Go template applied (`{{ .kubernetesVersion }}`,
//! `{{ .controlPlaneEndpoint }}`, without the API-token opt-in) and cloud-init's Jinja
//! rendered. For every flavor, role (first control plane, joining control plane, worker) and
//! OS of the matrix: `cloud-init schema` accepts it, the API token is not in it, every
//! script in it passes `bash -n`, and the node-setup dispatcher, run as the userdata runs it
//! (against a fake `/etc/os-release`, in dry-run mode), produces exactly the script
//! capp-bootstrap renders for that OS, version and role from the matrix.
//!
//! Skips loudly without cloud-init or bash; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/cabpk.rs"]
mod cabpk;
#[path = "../../../crates/capp-bootstrap/tests/support/tools.rs"]
mod tools;
#[path = "support/values.rs"]
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use cabpk::{ClusterFacts, Role};
use capp_bootstrap::{
    GoMachineInputs, GoTemplateValues, MachineConfigMatrix, MachineQuery, render_go_template,
};
use capp_components::templates::node_setup::{NodeKind, node_setup};
use capp_components::templates::{FLAVORS, Flavor, render};
use serde_json::{Value, json};

const ENDPOINT: &str = "147.75.80.10";

/// The OS slugs the default matrix serves.
fn matrix_images() -> Vec<String> {
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let images: BTreeSet<String> = matrix
        .entries()
        .iter()
        .flat_map(|e| e.params.iter().map(|p| p.image.clone()))
        .collect();
    images.into_iter().collect()
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "capp-templates-userdata-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The flavor's KubeadmConfigSpecs with the roles they serve, variables substituted.
fn kubeadm_specs(flavor: Flavor, node_os: &str) -> Vec<(Role, Value)> {
    let text = capp_components::variables::substitute(
        &render(flavor).unwrap(),
        &values::values("default", node_os),
    )
    .unwrap();
    let objects: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let mut specs = Vec::new();
    for object in objects {
        match object["kind"].as_str().unwrap() {
            "KubeadmControlPlane" | "KubeadmControlPlaneTemplate" => {
                let spec = if object["kind"] == "KubeadmControlPlane" {
                    object["spec"]["kubeadmConfigSpec"].clone()
                } else {
                    object["spec"]["template"]["spec"]["kubeadmConfigSpec"].clone()
                };
                specs.push((Role::ControlPlaneInit, spec.clone()));
                specs.push((Role::ControlPlaneJoin, spec));
            }
            "KubeadmConfigTemplate" => {
                specs.push((Role::Worker, object["spec"]["template"]["spec"].clone()));
            }
            _ => {}
        }
    }
    assert_eq!(specs.len(), 3, "{flavor:?}");
    specs
}

/// The userdata capp sends for `spec` and `role`: CABPK's payload through the provider's
/// Go template, without the API-token opt-in.
fn userdata(spec: &Value, role: Role) -> String {
    let payload = cabpk::render(
        spec,
        role,
        &ClusterFacts {
            name: "demo",
            endpoint: &format!("{ENDPOINT}:6443"),
            version: values::KUBERNETES_VERSION,
        },
    );
    let control_plane = role != Role::Worker;
    render_go_template(
        &payload,
        &GoTemplateValues::for_machine(&GoMachineInputs {
            control_plane,
            kubernetes_version: Some(values::KUBERNETES_VERSION),
            control_plane_endpoint: Some(ENDPOINT),
            cpem_config: None,
            emlb_id: None,
            api_key_opt_in: None,
        }),
    )
    .unwrap_or_else(|e| panic!("{role:?}: the provider refuses the payload: {e}\n{payload}"))
}

/// cloud-init's own Jinja rendering of a `## template: jinja` payload, with instance data.
fn jinja(python: &str, payload: &str) -> String {
    let mut child = Command::new(python)
        .args([
            "-c",
            "import sys\nfrom cloudinit.handlers.jinja_template import render_jinja_payload\n\
             data = {'v1': {'instance_id': 'i-0123'}, 'ds': {'meta_data': {'hostname': 'n-0', 'local_hostname': 'n-0'}}}\n\
             sys.stdout.write(render_jinja_payload(sys.stdin.read(), 'user-data', data))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(payload.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `/etc/os-release` of the OS with Equinix Metal slug `image` (`ubuntu_24_04`).
fn os_release(image: &str) -> String {
    let (id, version) = image.split_once('_').unwrap();
    format!(
        "NAME=\"test\"\nID={id}\nVERSION_ID=\"{}\"\n",
        version.replace('_', ".")
    )
}

/// Writes the base64 `write_files` of a cloud-config under `root`; returns (path, text).
fn materialise(doc: &Value, root: &Path) -> Vec<(String, String)> {
    let mut written = Vec::new();
    for file in doc["write_files"].as_array().unwrap() {
        if file["encoding"] != "base64" {
            continue;
        }
        let path = file["path"].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file["content"].as_str().unwrap().trim())
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let target = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, &text).unwrap();
        written.push((path.to_owned(), text));
    }
    written
}

/// Runs a userdata command (`/bin/bash /etc/capp/... args`) against `root` in dry-run mode.
fn run_dry(command: &str, root: &Path, image: &str, init: bool) -> Result<String, String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "/bin/bash", "{command}");
    let etc = root.join("fake-etc");
    let kubeadm = root.join("run/kubeadm");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&kubeadm).unwrap();
    std::fs::write(etc.join("os-release"), os_release(image)).unwrap();
    let _ = std::fs::remove_file(kubeadm.join("kubeadm.yaml"));
    if init {
        std::fs::write(kubeadm.join("kubeadm.yaml"), "").unwrap();
    }
    let out = Command::new("bash")
        .arg(root.join(words[1].trim_start_matches('/')))
        .args(&words[2..])
        .env("CAPP_OS_RELEASE", etc.join("os-release"))
        .env("CAPP_KUBEADM_DIR", &kubeadm)
        .env("CAPP_RUN_DIR", root.join("run/capp"))
        .env("CAPP_NODE_SETUP_DRY_RUN", "1")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The script capp-bootstrap renders from the matrix for this node, with the context keys
/// `capp_bootstrap::userdata` documents for them.
fn matrix_script(image: &str, version: &str, role: Role) -> String {
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let v: capp_bootstrap::KubernetesVersion = version.parse().unwrap();
    let control_plane = role != Role::Worker;
    let selection = matrix
        .select(&MachineQuery {
            image: image.to_owned(),
            kubelet: v,
            control_plane: control_plane.then_some(v),
        })
        .unwrap();
    let role_name = match role {
        Role::ControlPlaneInit => "control-plane-init",
        Role::ControlPlaneJoin => "control-plane-join",
        Role::Worker => "worker",
    };
    let context = json!({
        "entry": selection.entry.name,
        "image": image,
        "runtime_package": selection.params.container_runtime,
        "role": role_name,
        "control_plane": control_plane,
        "kubernetes": {
            "version": v.to_string(),
            "tag": v.tag(),
            "minor_tag": v.minor_tag(),
            "major": v.major,
            "minor": v.minor,
            "patch": v.patch,
        },
    });
    matrix
        .render_template(&selection.entry.name, &context)
        .unwrap()
}

#[test]
fn every_flavor_role_and_os_gets_valid_userdata_without_the_token() {
    if !tools::cloud_init_available() || !tools::bash_available() {
        return;
    }
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let scratch = Scratch::new("all");
    let images = matrix_images();
    // Rendered and read payload -> (the flavor and role it was first seen for).
    let mut validated: BTreeMap<String, (Flavor, Role)> = BTreeMap::new();
    // cloud-init's Jinja, once per distinct payload (a Python start each).
    let mut jinja_cache: BTreeMap<String, String> = BTreeMap::new();
    for flavor in FLAVORS {
        let specs = kubeadm_specs(flavor, &images[0]);
        for image in &images[1..] {
            // NODE_OS changes the PacketMachineTemplates only: the userdata is the same.
            assert_eq!(kubeadm_specs(flavor, image), specs, "{flavor:?} {image}");
        }
        for (role, spec) in specs {
            let data = userdata(&spec, role);
            assert!(
                !data.contains(values::TOKEN),
                "{flavor:?} {role:?}: the API token"
            );
            // CABPK adds the cluster's certificates and keys to the first control plane's
            // payload (about 10 KiB, not rendered by the port): leave room for them.
            capp_bootstrap::check_userdata_size(
                &data,
                capp_bootstrap::METAL_USERDATA_LIMIT - 16 * 1024,
            )
            .unwrap_or_else(|e| panic!("{flavor:?} {role:?}: {e}"));
            let rendered = jinja_cache
                .entry(data.clone())
                .or_insert_with(|| jinja(&python, &data))
                .clone();
            assert!(rendered.starts_with("#cloud-config\n"), "{rendered}");
            assert!(
                rendered.contains("equinixmetal://i-0123"),
                "{flavor:?} {role:?}"
            );
            if validated.contains_key(&rendered) {
                continue;
            }
            validated.insert(rendered.clone(), (flavor, role));
            let path = scratch.0.join(format!("userdata-{}.yaml", validated.len()));
            std::fs::write(&path, &rendered).unwrap();
            tools::cloud_init_schema(&path)
                .unwrap_or_else(|e| panic!("{flavor:?} {role:?}: {e}\n{rendered}"));
            let doc = &tools::pyyaml_load(std::slice::from_ref(&rendered), false)[0];
            let root = scratch.0.join("root");
            let _ = std::fs::remove_dir_all(&root);
            for (path, text) in materialise(doc, &root) {
                if Path::new(&path).extension().is_some_and(|e| e == "sh") {
                    tools::bash_syntax(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
                }
            }
            let commands: Vec<String> = doc["runcmd"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            let setup: Vec<_> = commands
                .iter()
                .filter(|c| c.contains("node-setup.sh"))
                .collect();
            assert_eq!(setup.len(), 1, "{flavor:?} {role:?}: {commands:?}");
            let kubeadm = commands
                .iter()
                .position(|c| c.starts_with("kubeadm "))
                .unwrap();
            assert!(
                commands
                    .iter()
                    .position(|c| c.contains("node-setup.sh"))
                    .unwrap()
                    < kubeadm,
                "node setup runs before kubeadm: {commands:?}"
            );
            for image in &images {
                let script = run_dry(setup[0], &root, image, role == Role::ControlPlaneInit)
                    .unwrap_or_else(|e| panic!("{flavor:?} {role:?} {image}: {e}"));
                assert_eq!(
                    script,
                    matrix_script(
                        image,
                        values::KUBERNETES_VERSION.trim_start_matches('v'),
                        role
                    ),
                    "{flavor:?} {role:?} {image}"
                );
                tools::bash_syntax(&script).unwrap();
            }
        }
    }
    // First control plane, joining control plane and workers; CPEM and kube-vip differ on
    // the control plane, the -crs-cni and clusterclass flavors share those payloads.
    let seen: Vec<_> = validated.values().collect();
    assert_eq!(validated.len(), 5, "{seen:?}");
}

#[test]
fn the_dispatcher_reproduces_the_matrix_for_every_os_minor_and_role() {
    if !tools::bash_available() {
        return;
    }
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let scratch = Scratch::new("matrix");
    for (kind, roles) in [
        (
            NodeKind::ControlPlane,
            &[Role::ControlPlaneInit, Role::ControlPlaneJoin][..],
        ),
        (NodeKind::Worker, &[Role::Worker][..]),
    ] {
        let setup = node_setup(&matrix, kind).unwrap();
        let root = scratch.0.join(kind.as_str());
        materialise(&json!({"write_files": setup.files}), &root);
        for image in matrix_images() {
            for minor in 31..=34 {
                let version = format!("1.{minor}.7");
                let command = setup
                    .command
                    .replace("{{ .kubernetesVersion }}", &format!("v{version}"));
                for &role in roles {
                    let script = run_dry(&command, &root, &image, role == Role::ControlPlaneInit)
                        .unwrap_or_else(|e| panic!("{image} {version} {role:?}: {e}"));
                    assert_eq!(
                        script,
                        matrix_script(&image, &version, role),
                        "{image} {version} {role:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_dispatcher_refuses_an_unserved_os_or_version_listing_what_the_matrix_offers() {
    if !tools::bash_available() {
        return;
    }
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let setup = node_setup(&matrix, NodeKind::Worker).unwrap();
    let scratch = Scratch::new("refuse");
    materialise(&json!({"write_files": setup.files}), &scratch.0);
    let command = |v: &str| setup.command.replace("{{ .kubernetesVersion }}", v);
    // The Go provider's old default OS is not in the matrix.
    let err = run_dry(&command("v1.33.1"), &scratch.0, "ubuntu_20_04", false).unwrap_err();
    assert!(
        err.contains("no machine-config matrix entry matches image ubuntu_20_04, kubelet 1.33.1"),
        "{err}"
    );
    assert!(err.contains("debian_12: debian_12 kubelet 1.34.x"), "{err}");
    let err = run_dry(&command("v1.35.0"), &scratch.0, "ubuntu_24_04", false).unwrap_err();
    assert!(err.contains("kubelet 1.35.0"), "{err}");
    let err = run_dry(&command("latest"), &scratch.0, "ubuntu_24_04", false).unwrap_err();
    assert!(err.contains("'latest' is not vMAJOR.MINOR.PATCH"), "{err}");
}
