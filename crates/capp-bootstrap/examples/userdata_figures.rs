//! Prints the size of the userdata rendered from the default matrix for every image, Kubernetes
//! minor and role, against the Equinix Metal limit, and the time one rendering takes.
//!
//! `cargo run --release -p capp-bootstrap --example userdata_figures`

#![allow(clippy::print_stdout, reason = "an example that reports figures")]

use std::time::Instant;

use capp_bootstrap::{
    ApiEndpoint, CertificateAuthority, ClusterSpec, InitMaterial, JoinDiscovery,
    METAL_USERDATA_LIMIT, MachineConfigMatrix, NodeRole, ServiceAccountKeys, UserdataRequest,
    render_userdata,
};

/// A PEM-shaped block of the size of a real P-256 certificate or key (the content is fake).
fn pem(label: &str, body_len: usize) -> String {
    let body: String = "A".repeat(body_len);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn ca() -> CertificateAuthority {
    CertificateAuthority {
        cert_pem: pem("CERTIFICATE", 700),
        key_pem: pem("EC PRIVATE KEY", 160).into(),
    }
}

fn roles() -> [NodeRole; 3] {
    let key = "0".repeat(64);
    [
        NodeRole::ControlPlaneInit(Box::new(InitMaterial {
            certificate_key: key.clone().into(),
            ca: ca(),
            etcd_ca: ca(),
            front_proxy_ca: ca(),
            service_account: ServiceAccountKeys {
                public_pem: pem("PUBLIC KEY", 120),
                private_pem: pem("PRIVATE KEY", 180).into(),
            },
        })),
        NodeRole::ControlPlaneJoin {
            certificate_key: key.into(),
        },
        NodeRole::Worker,
    ]
}

fn main() -> Result<(), capp_bootstrap::Error> {
    let matrix = MachineConfigMatrix::default_matrix()?;
    let cluster = ClusterSpec::new(
        "figures",
        ApiEndpoint {
            host: "203.0.113.10".to_owned(),
            port: 6443,
        },
    );
    let discovery = JoinDiscovery {
        token: "abcdef.0123456789abcdef".to_owned().into(),
        ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
    };
    println!(
        "{:<14} {:<6} {:<20} {:>7} {:>9} {:>10}",
        "image", "k8s", "role", "bytes", "of limit", "render µs"
    );
    let mut largest = 0;
    for entry in matrix.entries() {
        let image = &entry.params[0].image;
        for version in ["1.31.4", "1.32.4", "1.33.4", "1.34.1"] {
            for role in roles() {
                let name = role.name();
                let request = UserdataRequest::new(
                    image.clone(),
                    version.parse()?,
                    role,
                    cluster.clone(),
                    discovery.clone(),
                );
                let rounds = 200u32;
                let start = Instant::now();
                let mut size = 0;
                for _ in 0..rounds {
                    size = render_userdata(&matrix, &request)?.as_str().len();
                }
                let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
                largest = largest.max(size);
                #[allow(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
                let share = size as f64 * 100.0 / METAL_USERDATA_LIMIT as f64;
                println!(
                    "{image:<14} {version:<6} {name:<20} {size:>7} {share:>8.1}% {micros:>10.1}"
                );
            }
        }
    }
    println!("largest userdata: {largest} bytes of {METAL_USERDATA_LIMIT} allowed");
    Ok(())
}
