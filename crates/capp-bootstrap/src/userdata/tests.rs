use secrecy::SecretString;

use super::*;
use crate::Error;
use crate::cloudinit::FileContent;
use crate::inputs::ApiEndpoint;

const MATRIX: &str = r"
items:
- name: custom
  machineParams:
  - image: ubuntu_24_04
    versions: {kubelet: 1.30.x}
    containerRuntime: containerd
  - image: ubuntu_24_04
    versions: {kubelet: 1.31.x}
    containerRuntime: containerd
  userdata: |
    #!/bin/sh
    echo {{shell_quote vars.greeting}} {{kubernetes.minor_tag}} {{node.provider_id}} {{runtime_package}}
- name: typo
  machineParams:
  - image: debian_12
    versions: {kubelet: 1.31.x}
    containerRuntime: containerd
  userdata: 'echo {{kubernetes.verison}}'
";

fn request(image: &str, version: &str) -> UserdataRequest {
    let mut request = UserdataRequest::new(
        image,
        version.parse().unwrap(),
        NodeRole::Worker,
        ClusterSpec::new(
            "demo",
            ApiEndpoint {
                host: "203.0.113.10".to_owned(),
                port: 6443,
            },
        ),
        JoinDiscovery {
            token: SecretString::from("abcdef.0123456789abcdef".to_owned()),
            ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
        },
    );
    request
        .template_vars
        .insert("greeting".to_owned(), "hello world".to_owned());
    request
}

fn file<'a>(rendered: &'a RenderedUserdata, path: &str) -> Option<&'a str> {
    rendered
        .cloud_config
        .write_files
        .iter()
        .find(|f| f.path == path)
        .map(|f| match &f.content {
            FileContent::Text(t) => t.as_str(),
            FileContent::Binary(_) => panic!("binary"),
        })
}

#[test]
fn the_template_sees_template_vars_versions_identity_and_runtime() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let rendered = render_userdata(&matrix, &request("ubuntu_24_04", "1.31.2")).unwrap();
    assert_eq!(
        file(&rendered, SETUP_SCRIPT_PATH).unwrap(),
        "#!/bin/sh\necho 'hello world' v1.31 equinixmetal://__CAPP_METAL_DEVICE_ID__ containerd\n"
    );
}

#[test]
fn a_static_identity_is_written_literally_and_needs_no_metadata_script() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let mut req = request("ubuntu_24_04", "1.31.2");
    req.identity = NodeIdentity::Static {
        device_id: "6f0c2b4e-1111-4222-8333-944455556666".to_owned(),
        node_ip: "10.70.1.5".parse().unwrap(),
    };
    let rendered = render_userdata(&matrix, &req).unwrap();
    assert!(file(&rendered, METAL_IDENTITY_SCRIPT_PATH).is_none());
    let kubeadm = file(&rendered, KUBEADM_CONFIG_PATH).unwrap();
    assert!(kubeadm.contains("value: equinixmetal://6f0c2b4e-1111-4222-8333-944455556666\n"));
    assert!(!kubeadm.contains("__CAPP_METAL"));
    assert!(
        !rendered
            .cloud_config
            .runcmd
            .contains(&RunCmd::argv(&[METAL_IDENTITY_SCRIPT_PATH]))
    );
}

#[test]
fn kubernetes_below_1_31_gets_kubeadm_v1beta3() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let rendered = render_userdata(&matrix, &request("ubuntu_24_04", "1.30.9")).unwrap();
    assert_eq!(rendered.kubeadm_api_version, KubeadmApiVersion::V1Beta3);
    let kubeadm = file(&rendered, KUBEADM_CONFIG_PATH).unwrap();
    assert!(kubeadm.starts_with("apiVersion: kubeadm.k8s.io/v1beta3\n"));
    assert!(
        kubeadm.contains("    cloud-provider: external\n"),
        "{kubeadm}"
    );
}

#[test]
fn a_misspelt_template_variable_fails_naming_entry_and_variable() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let err = render_userdata(&matrix, &request("debian_12", "1.31.2")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "userdata template of matrix entry `typo` uses the undefined variable `kubernetes.verison`"
    );
}

#[test]
fn the_metal_api_token_is_written_only_on_explicit_opt_in() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let mut req = request("ubuntu_24_04", "1.31.2");
    let without = render_userdata(&matrix, &req).unwrap();
    assert!(file(&without, MetalApiTokenOptIn::PATH).is_none());
    assert!(!without.as_str().contains("metal-api-token"));

    req.metal_api_token = Some(MetalApiTokenOptIn {
        token: SecretString::from("metal-token-for-tests".to_owned()),
    });
    let with = render_userdata(&matrix, &req).unwrap();
    let token = with
        .cloud_config
        .write_files
        .iter()
        .find(|f| f.path == MetalApiTokenOptIn::PATH)
        .unwrap();
    assert_eq!(token.permissions, "0600");
    assert_eq!(token.bytes(), b"metal-token-for-tests");
    assert!(!format!("{with:?}").contains("metal-token-for-tests"));
}

#[test]
fn userdata_over_the_size_limit_is_an_error_with_both_numbers() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let mut req = request("ubuntu_24_04", "1.31.2");
    req.template_vars
        .insert("greeting".to_owned(), "x".repeat(METAL_USERDATA_LIMIT));
    let err = render_userdata(&matrix, &req).unwrap_err();
    let Error::UserdataTooLarge { size, limit } = err else {
        panic!("unexpected {err}")
    };
    assert!(size > METAL_USERDATA_LIMIT);
    assert_eq!(limit, METAL_USERDATA_LIMIT);
}

#[test]
fn the_sentinel_is_written_last_and_only_after_set_e() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let rendered = render_userdata(&matrix, &request("ubuntu_24_04", "1.31.2")).unwrap();
    let cmds = &rendered.cloud_config.runcmd;
    assert_eq!(cmds.first(), Some(&stop_on_error()));
    assert_eq!(cmds.last(), Some(&write_sentinel()));
    assert_eq!(
        cmds[cmds.len() - 2],
        RunCmd::argv(&["kubeadm", "join", "--config", KUBEADM_CONFIG_PATH])
    );
}

#[test]
fn invalid_inputs_are_reported_before_matrix_selection() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let mut req = request("no_such_image", "1.31.2");
    req.cluster.service_subnet = "not a cidr".to_owned();
    let err = render_userdata(&matrix, &req).unwrap_err();
    assert!(err.to_string().contains("cluster.service_subnet"), "{err}");
}

#[test]
fn debug_output_of_rendered_userdata_shows_no_content() {
    let matrix = MachineConfigMatrix::from_yaml(MATRIX).unwrap();
    let rendered = render_userdata(&matrix, &request("ubuntu_24_04", "1.31.2")).unwrap();
    let debug = format!("{rendered:?}");
    assert!(!debug.contains("abcdef.0123456789abcdef"), "{debug}");
    assert!(debug.contains("custom"), "{debug}");
}

/// The position of the first `runcmd` item equal to `cmd`.
fn position(rendered: &RenderedUserdata, cmd: &RunCmd) -> Option<usize> {
    rendered.cloud_config.runcmd.iter().position(|c| c == cmd)
}

#[test]
fn the_endpoint_is_bound_before_kubeadm_init_after_kubeadm_join_and_never_on_workers_or_dns_names()
{
    use crate::inputs::{CertificateAuthority, InitMaterial, ServiceAccountKeys};
    let pem = |label: &str| format!("-----BEGIN {label}-----\nZmFrZQ==\n-----END {label}-----\n");
    let ca = || CertificateAuthority {
        cert_pem: pem("CERTIFICATE"),
        key_pem: SecretString::from(pem("EC PRIVATE KEY")),
    };
    let init = NodeRole::ControlPlaneInit(Box::new(InitMaterial {
        certificate_key: SecretString::from("c".repeat(64)),
        ca: ca(),
        etcd_ca: ca(),
        front_proxy_ca: ca(),
        service_account: ServiceAccountKeys {
            public_pem: pem("PUBLIC KEY"),
            private_pem: SecretString::from(pem("PRIVATE KEY")),
        },
    }));
    let join = NodeRole::ControlPlaneJoin {
        certificate_key: SecretString::from("d".repeat(64)),
    };
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let render = |role: &NodeRole, host: &str| {
        let mut req = request("ubuntu_24_04", "1.33.4");
        req.role = role.clone();
        req.cluster.control_plane_endpoint.host = host.to_owned();
        render_userdata(&matrix, &req).unwrap()
    };
    let unit_path = format!("/etc/systemd/system/{CONTROL_PLANE_ENDPOINT_UNIT}");
    let bind = RunCmd::argv(&["systemctl", "enable", "--now", CONTROL_PLANE_ENDPOINT_UNIT]);
    let reload = RunCmd::argv(&["systemctl", "daemon-reload"]);
    let kubeadm = |rendered: &RenderedUserdata, verb: &str| {
        rendered
            .cloud_config
            .runcmd
            .iter()
            .position(|c| matches!(c, RunCmd::Argv(a) if a[0] == "kubeadm" && a[1] == verb))
            .unwrap()
    };

    let rendered = render(&init, "203.0.113.10");
    let unit = file(&rendered, &unit_path).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/sbin/ip addr replace 203.0.113.10/32 dev lo\n"),
        "{unit}"
    );
    assert!(unit.contains("WantedBy=multi-user.target\n"), "{unit}");
    let init_at = kubeadm(&rendered, "init");
    assert_eq!(position(&rendered, &reload), Some(init_at - 2));
    assert_eq!(position(&rendered, &bind), Some(init_at - 1));

    // Bound before `kubeadm join`, the endpoint would send the join to the node itself.
    let rendered = render(&join, "203.0.113.10");
    assert!(file(&rendered, &unit_path).is_some());
    let join_at = kubeadm(&rendered, "join");
    assert_eq!(position(&rendered, &reload), Some(join_at + 1));
    assert_eq!(position(&rendered, &bind), Some(join_at + 2));
    assert_eq!(rendered.cloud_config.runcmd.last(), Some(&write_sentinel()));
    let setup = file(&rendered, SETUP_SCRIPT_PATH).unwrap();
    assert!(
        !setup.contains("dev lo"),
        "the setup script must not bind it early"
    );

    for (role, host) in [
        (&NodeRole::Worker, "203.0.113.10"),
        (&init, "api.demo.example.com"),
        (&join, "2001:db8::10"),
    ] {
        let rendered = render(role, host);
        assert!(
            file(&rendered, &unit_path).is_none(),
            "{} {host}",
            role.name()
        );
        assert_eq!(position(&rendered, &bind), None, "{} {host}", role.name());
    }
}
