//! The real `openssl` tool verifies every certificate chain of a generated cluster PKI and
//! shows the expected subjects, SANs, key usages and extended key usages; it also checks the
//! kubeadm discovery hash and that CAs written by openssl (RSA and EC, PKCS#1/PKCS#8/SEC1)
//! load and sign leaves that verify.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

#[path = "support/openssl.rs"]
mod support;

use std::net::IpAddr;

use capp_pki::secrecy::ExposeSecret;
use capp_pki::{
    ApiServerSans, CertificateAuthority, ClusterPki, ClusterPkiOptions, IssuedCertificate, KeyKind,
    LeafSpec,
};
use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{TempDir, openssl_available, openssl_in, openssl_ok, sh_ok};

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5eed)
}

/// openssl checks validity against the system clock, so certificates are issued "now".
fn now() -> Timestamp {
    Timestamp::now()
}

/// Writes CA and leaf, runs `openssl verify` (with a purpose) and returns `x509 -text`.
fn verify_and_text(
    dir: &TempDir,
    name: &str,
    ca: &CertificateAuthority,
    leaf: &IssuedCertificate,
    purpose: &str,
) -> String {
    let ca_file = format!("{name}-ca.crt");
    let leaf_file = format!("{name}.crt");
    dir.write(&ca_file, ca.cert_pem());
    dir.write(&leaf_file, leaf.cert_pem());
    let out = openssl_ok(
        dir.path(),
        &[
            "verify", "-purpose", purpose, "-CAfile", &ca_file, &leaf_file,
        ],
    );
    assert_eq!(out.trim(), format!("{leaf_file}: OK"), "{name}");
    // The key written next to the certificate is the certificate's key.
    let key_file = format!("{name}.key");
    dir.write(&key_file, leaf.key_pem().expose_secret());
    let cert_pub = openssl_ok(
        dir.path(),
        &["x509", "-in", &leaf_file, "-noout", "-pubkey"],
    );
    let key_pub = openssl_ok(dir.path(), &["pkey", "-in", &key_file, "-pubout"]);
    assert_eq!(
        cert_pub, key_pub,
        "{name}: key does not belong to certificate"
    );
    openssl_ok(dir.path(), &["x509", "-in", &leaf_file, "-noout", "-text"])
}

/// The value lines following a header line in `openssl x509 -text` output.
fn extension(text: &str, header: &str) -> String {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().starts_with(header) {
            return lines.next().unwrap_or_default().trim().to_owned();
        }
    }
    panic!("no `{header}` in:\n{text}")
}

fn subject(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Subject: "))
        .unwrap_or_else(|| panic!("no subject in:\n{text}"))
        .to_owned()
}

fn setup(test: &str) -> Option<(TempDir, ClusterPki, Timestamp, StdRng)> {
    if !openssl_available(test) {
        return None;
    }
    let (now, mut rng) = (now(), rng());
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, &mut rng).unwrap();
    let dir = TempDir::new(test);
    // Every CA file is present for negative checks.
    dir.write("ca.crt", pki.ca.cert_pem());
    dir.write("etcd-ca.crt", pki.etcd_ca.cert_pem());
    dir.write("front-proxy-ca.crt", pki.front_proxy_ca.cert_pem());
    Some((dir, pki, now, rng))
}

#[test]
fn openssl_accepts_the_three_cas_with_kubeadm_subjects_usages_and_validity() {
    let Some((dir, pki, now, _)) = setup("cas") else {
        return;
    };
    // Self-signed, CA:TRUE, kubeadm's key usages, a subject key identifier.
    for (name, cn) in [
        ("ca", "kubernetes"),
        ("etcd-ca", "etcd-ca"),
        ("front-proxy-ca", "front-proxy-ca"),
    ] {
        let file = format!("{name}.crt");
        let out = openssl_ok(dir.path(), &["verify", "-CAfile", &file, &file]);
        assert_eq!(out.trim(), format!("{file}: OK"));
        let text = openssl_ok(dir.path(), &["x509", "-in", &file, "-noout", "-text"]);
        assert_eq!(subject(&text), format!("CN = {cn}"));
        assert_eq!(extension(&text, "X509v3 Basic Constraints"), "CA:TRUE");
        assert!(
            text.contains("X509v3 Basic Constraints: critical"),
            "{text}"
        );
        assert_eq!(
            extension(&text, "X509v3 Key Usage"),
            "Digital Signature, Key Encipherment, Certificate Sign"
        );
        assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
        assert!(text.contains("ecdsa-with-SHA256"), "{text}");
        assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
        // Ten years by default.
        let end = openssl_ok(dir.path(), &["x509", "-in", &file, "-noout", "-enddate"]);
        let year = now.to_zoned(jiff::tz::TimeZone::UTC).year() + 10;
        assert!(end.contains(&year.to_string()), "{end}");
    }
    // sa.pub / sa.key are a matching pair openssl can read.
    dir.write(
        "sa.key",
        pki.service_account.private_key_pem().expose_secret(),
    );
    let derived = openssl_ok(dir.path(), &["pkey", "-in", "sa.key", "-pubout"]);
    assert_eq!(derived, pki.service_account.public_key_pem());
}

#[test]
fn openssl_verifies_the_apiserver_certificate_and_sees_every_kubeadm_san() {
    let Some((dir, pki, now, mut rng)) = setup("apiserver") else {
        return;
    };
    let sans = ApiServerSans::new("cp-0", "147.75.1.2".parse().unwrap())
        .with_extra_san("api.demo.example.com")
        .with_extra_san("203.0.113.10");
    let apiserver = pki.apiserver(&sans, now, &mut rng).unwrap();
    let text = verify_and_text(&dir, "apiserver", &pki.ca, &apiserver, "sslserver");
    assert_eq!(subject(&text), "CN = kube-apiserver");
    assert_eq!(
        extension(&text, "X509v3 Subject Alternative Name"),
        "DNS:cp-0, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, \
         DNS:kubernetes.default.svc.cluster.local, DNS:api.demo.example.com, \
         IP Address:10.96.0.1, IP Address:147.75.1.2, IP Address:203.0.113.10"
    );
    assert_eq!(
        extension(&text, "X509v3 Extended Key Usage"),
        "TLS Web Server Authentication"
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        "Digital Signature, Key Encipherment"
    );
    assert_eq!(extension(&text, "X509v3 Basic Constraints"), "CA:FALSE");
    // The authority key identifier names the CA's subject key identifier.
    let ca_text = openssl_ok(dir.path(), &["x509", "-in", "ca.crt", "-noout", "-text"]);
    let ski = extension(&ca_text, "X509v3 Subject Key Identifier");
    let aki = extension(&text, "X509v3 Authority Key Identifier");
    assert!(aki.contains(&ski), "AKI {aki} vs SKI {ski}");
    // One year by default.
    let end = openssl_ok(
        dir.path(),
        &["x509", "-in", "apiserver.crt", "-noout", "-enddate"],
    );
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year() + 1;
    assert!(end.contains(&year.to_string()), "{end}");
    // It does not verify against another CA of the same cluster, nor as a client cert.
    let wrong = openssl_in(
        dir.path(),
        &["verify", "-CAfile", "etcd-ca.crt", "apiserver.crt"],
    );
    assert!(!wrong.status.success());
    let wrong = openssl_in(
        dir.path(),
        &[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "ca.crt",
            "apiserver.crt",
        ],
    );
    assert!(!wrong.status.success());
}

#[test]
fn openssl_verifies_the_client_certificates_with_kubeadm_subjects() {
    let Some((dir, pki, now, mut rng)) = setup("clients") else {
        return;
    };
    let kubelet_client = pki
        .apiserver_kubelet_client("v1.31.2", now, &mut rng)
        .unwrap();
    let text = verify_and_text(
        &dir,
        "kubelet-client",
        &pki.ca,
        &kubelet_client,
        "sslclient",
    );
    assert_eq!(
        subject(&text),
        "O = kubeadm:cluster-admins, CN = kube-apiserver-kubelet-client"
    );
    assert_eq!(
        extension(&text, "X509v3 Extended Key Usage"),
        "TLS Web Client Authentication"
    );
    let old = pki.apiserver_kubelet_client("1.28", now, &mut rng).unwrap();
    let text = verify_and_text(&dir, "kubelet-client-128", &pki.ca, &old, "sslclient");
    assert_eq!(
        subject(&text),
        "O = system:masters, CN = kube-apiserver-kubelet-client"
    );

    let admin = pki.admin_client(now, &mut rng).unwrap();
    let text = verify_and_text(&dir, "admin", &pki.ca, &admin, "sslclient");
    assert_eq!(subject(&text), "O = system:masters, CN = kubernetes-admin");
    assert!(!text.contains("Subject Alternative Name"), "{text}");
    let wrong = openssl_in(
        dir.path(),
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            "ca.crt",
            "admin.crt",
        ],
    );
    assert!(!wrong.status.success());

    // A user in several groups: one `O` per group, in order (as Go's pkix.Name writes them).
    let multi = pki
        .ca
        .issue(
            &LeafSpec::client("jane")
                .with_organization("system:authenticated")
                .with_organization("team-a")
                .with_organization("kubeadm:cluster-admins"),
            now,
            &mut rng,
        )
        .unwrap();
    let text = verify_and_text(&dir, "jane", &pki.ca, &multi, "sslclient");
    assert_eq!(
        subject(&text),
        "O = system:authenticated, O = team-a, O = kubeadm:cluster-admins, CN = jane"
    );
    assert_eq!(
        multi.certificate.info().organizations,
        ["system:authenticated", "team-a", "kubeadm:cluster-admins"]
    );
    assert_eq!(
        extension(&text, "X509v3 Extended Key Usage"),
        "TLS Web Client Authentication"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");

    let front_proxy = pki.front_proxy_client(now, &mut rng).unwrap();
    let text = verify_and_text(
        &dir,
        "front-proxy-client",
        &pki.front_proxy_ca,
        &front_proxy,
        "sslclient",
    );
    assert_eq!(subject(&text), "CN = front-proxy-client");

    let healthcheck = pki.etcd_healthcheck_client(now, &mut rng).unwrap();
    let text = verify_and_text(
        &dir,
        "etcd-healthcheck",
        &pki.etcd_ca,
        &healthcheck,
        "sslclient",
    );
    assert_eq!(subject(&text), "CN = kube-etcd-healthcheck-client");

    let etcd_client = pki.apiserver_etcd_client(now, &mut rng).unwrap();
    let text = verify_and_text(
        &dir,
        "apiserver-etcd-client",
        &pki.etcd_ca,
        &etcd_client,
        "sslclient",
    );
    assert_eq!(subject(&text), "CN = kube-apiserver-etcd-client");
}

#[test]
fn openssl_verifies_etcd_server_and_peer_certificates_for_both_purposes() {
    let Some((dir, pki, now, mut rng)) = setup("etcd") else {
        return;
    };
    let advertise: IpAddr = "147.75.1.2".parse().unwrap();
    for (name, leaf) in [
        (
            "etcd-server",
            pki.etcd_server("cp-0", advertise, now, &mut rng).unwrap(),
        ),
        (
            "etcd-peer",
            pki.etcd_peer("cp-0", advertise, now, &mut rng).unwrap(),
        ),
    ] {
        let text = verify_and_text(&dir, name, &pki.etcd_ca, &leaf, "sslserver");
        let out = openssl_ok(
            dir.path(),
            &[
                "verify",
                "-purpose",
                "sslclient",
                "-CAfile",
                "etcd-ca.crt",
                &format!("{name}.crt"),
            ],
        );
        assert!(out.trim().ends_with("OK"), "{out}");
        assert_eq!(subject(&text), "CN = cp-0");
        assert_eq!(
            extension(&text, "X509v3 Subject Alternative Name"),
            "DNS:cp-0, DNS:localhost, IP Address:147.75.1.2, IP Address:127.0.0.1, \
             IP Address:0:0:0:0:0:0:0:1"
        );
        assert_eq!(
            extension(&text, "X509v3 Extended Key Usage"),
            "TLS Web Server Authentication, TLS Web Client Authentication"
        );
    }
}

#[test]
fn the_discovery_hash_equals_the_openssl_pipeline_kubeadm_documents() {
    if !openssl_available("the_discovery_hash_equals_the_openssl_pipeline") {
        return;
    }
    let dir = TempDir::new("hash");
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now(), &mut rng()).unwrap();
    dir.write("ca.crt", pki.ca.cert_pem());
    let out = sh_ok(
        dir.path(),
        "openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum",
    );
    let hex = out.split_whitespace().next().unwrap();
    assert_eq!(pki.ca_cert_hash(), format!("sha256:{hex}"));
    assert_ne!(pki.ca_cert_hash(), pki.etcd_ca.public_key_hash());
}

const CA_CONFIG: &str = "\
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = kubernetes
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
";

/// Creates `ca.key` with the given openssl command, self-signs `ca.crt`, loads both, issues
/// a server leaf and verifies it with openssl. Returns the loaded key's kind.
fn openssl_ca_signs_a_verifiable_leaf(
    tag: &str,
    keygen: &[&str],
    expected_header: &str,
) -> KeyKind {
    let dir = TempDir::new(tag);
    openssl_ok(dir.path(), keygen);
    let key_pem = dir.read("ca.key");
    assert!(
        key_pem.starts_with(expected_header),
        "{tag}: openssl wrote {}",
        key_pem.lines().next().unwrap_or_default()
    );
    dir.write("ca.cnf", CA_CONFIG);
    openssl_ok(
        dir.path(),
        &[
            "req", "-x509", "-new", "-key", "ca.key", "-config", "ca.cnf", "-days", "3650", "-out",
            "ca.crt",
        ],
    );
    let ca = CertificateAuthority::from_pem(&dir.read("ca.crt"), &key_pem).unwrap();
    // The re-encoded (PKCS#8) key is the same key openssl wrote.
    dir.write("reencoded.key", ca.key_pem().expose_secret());
    assert_eq!(
        openssl_ok(dir.path(), &["pkey", "-in", "reencoded.key", "-pubout"]),
        openssl_ok(dir.path(), &["pkey", "-in", "ca.key", "-pubout"]),
        "{tag}"
    );
    let leaf = ca
        .issue(
            // Two organisations: the subject is re-encoded and re-signed with the loaded key.
            &LeafSpec::server("kube-apiserver")
                .with_organization("example")
                .with_organization("system:nodes")
                .with_san("kubernetes")
                .with_san("10.96.0.1"),
            now(),
            &mut rng(),
        )
        .unwrap();
    let text = verify_and_text(&dir, "leaf", &ca, &leaf, "sslserver");
    assert_eq!(
        subject(&text),
        "O = example, O = system:nodes, CN = kube-apiserver"
    );
    assert_eq!(
        extension(&text, "X509v3 Subject Alternative Name"),
        "DNS:kubernetes, IP Address:10.96.0.1"
    );
    let ca_text = openssl_ok(dir.path(), &["x509", "-in", "ca.crt", "-noout", "-text"]);
    let ski = extension(&ca_text, "X509v3 Subject Key Identifier");
    assert!(extension(&text, "X509v3 Authority Key Identifier").contains(&ski));
    ca.key().kind()
}

#[test]
fn an_rsa_ca_with_a_pkcs1_key_from_openssl_genrsa_signs_leaves_openssl_accepts() {
    if !openssl_available("an_rsa_ca_with_a_pkcs1_key") {
        return;
    }
    let kind = openssl_ca_signs_a_verifiable_leaf(
        "rsa-pkcs1",
        &["genrsa", "-traditional", "-out", "ca.key", "2048"],
        "-----BEGIN RSA PRIVATE KEY-----",
    );
    assert_eq!(kind, KeyKind::Rsa);
}

#[test]
fn an_rsa_ca_with_a_pkcs8_key_signs_leaves_openssl_accepts() {
    if !openssl_available("an_rsa_ca_with_a_pkcs8_key") {
        return;
    }
    let kind = openssl_ca_signs_a_verifiable_leaf(
        "rsa-pkcs8",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "ca.key",
        ],
        "-----BEGIN PRIVATE KEY-----",
    );
    assert_eq!(kind, KeyKind::Rsa);
}

#[test]
fn an_ec_ca_with_a_sec1_key_from_openssl_ecparam_signs_leaves_openssl_accepts() {
    if !openssl_available("an_ec_ca_with_a_sec1_key") {
        return;
    }
    let kind = openssl_ca_signs_a_verifiable_leaf(
        "ec-sec1",
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
        "-----BEGIN EC PRIVATE KEY-----",
    );
    assert_eq!(kind, KeyKind::EcdsaP256);
}

#[test]
fn a_p384_ca_with_a_sec1_key_signs_leaves_openssl_accepts() {
    if !openssl_available("a_p384_ca_with_a_sec1_key") {
        return;
    }
    let kind = openssl_ca_signs_a_verifiable_leaf(
        "ec384-sec1",
        &[
            "ecparam",
            "-name",
            "secp384r1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
        "-----BEGIN EC PRIVATE KEY-----",
    );
    assert_eq!(kind, KeyKind::EcdsaP384);
}

#[test]
fn an_ec_ca_with_a_pkcs8_key_signs_leaves_openssl_accepts() {
    if !openssl_available("an_ec_ca_with_a_pkcs8_key") {
        return;
    }
    let kind = openssl_ca_signs_a_verifiable_leaf(
        "ec-pkcs8",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ca.key",
        ],
        "-----BEGIN PRIVATE KEY-----",
    );
    assert_eq!(kind, KeyKind::EcdsaP256);
}

#[test]
fn a_ca_paired_with_a_foreign_key_or_a_leaf_is_refused() {
    if !openssl_available("a_ca_paired_with_a_foreign_key") {
        return;
    }
    let dir = TempDir::new("mismatch");
    openssl_ok(
        dir.path(),
        &["genrsa", "-traditional", "-out", "ca.key", "2048"],
    );
    openssl_ok(
        dir.path(),
        &["genrsa", "-traditional", "-out", "other.key", "2048"],
    );
    dir.write("ca.cnf", CA_CONFIG);
    openssl_ok(
        dir.path(),
        &[
            "req", "-x509", "-new", "-key", "ca.key", "-config", "ca.cnf", "-days", "30", "-out",
            "ca.crt",
        ],
    );
    let err =
        CertificateAuthority::from_pem(&dir.read("ca.crt"), &dir.read("other.key")).unwrap_err();
    assert!(matches!(err, capp_pki::Error::KeyMismatch { .. }), "{err}");

    // A leaf is not a CA.
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now(), &mut rng()).unwrap();
    let admin = pki.admin_client(now(), &mut rng()).unwrap();
    let err = CertificateAuthority::from_pem(admin.cert_pem(), admin.key_pem().expose_secret())
        .unwrap_err();
    assert!(matches!(err, capp_pki::Error::NotACa { .. }), "{err}");
}
