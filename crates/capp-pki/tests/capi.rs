//! CAPI Secret conventions (`<cluster>-ca`, `-etcd`, `-proxy`, `-sa`, `-kubeconfig`) round
//! trip, loading accepts what CAPI's kubeadm providers write (RSA PKCS#1 keys, `kubernetes.io/tls`
//! Secrets), kubeconfig YAML has client-go's shape, expiry inspection, and no Debug leaks.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

#[path = "support/openssl.rs"]
mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capp_pki::capi::{CLUSTER_NAME_LABEL, CLUSTER_SECRET_TYPE};
use capp_pki::kubeconfig::Kubeconfig;
use capp_pki::secrecy::ExposeSecret;
use capp_pki::{
    BootstrapToken, CaOptions, CertificateAuthority, ClusterPki, ClusterPkiOptions, KeyKind,
    Purpose, Secret, SecretValue, expiring_within,
};
use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{TempDir, openssl_available, openssl_ok};

fn now() -> Timestamp {
    "2026-11-21T08:00:00Z".parse().unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(11)
}

fn generated() -> ClusterPki {
    ClusterPki::generate(&ClusterPkiOptions::default(), now(), &mut rng()).unwrap()
}

#[test]
fn the_four_pki_secrets_follow_capi_naming_type_and_label() {
    let pki = generated();
    let secrets = pki.to_capi_secrets("demo", "team-a");
    let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["demo-ca", "demo-etcd", "demo-proxy", "demo-sa"]);
    assert_eq!(Purpose::Kubeconfig.secret_name("demo"), "demo-kubeconfig");
    for s in &secrets {
        assert_eq!(s.namespace, "team-a");
        assert_eq!(s.type_, CLUSTER_SECRET_TYPE);
        assert_eq!(
            s.labels.get(CLUSTER_NAME_LABEL).map(String::as_str),
            Some("demo")
        );
        let keys: Vec<&str> = s.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["tls.crt", "tls.key"], "{}", s.name);
    }
    assert!(
        secrets[0]
            .get_str("tls.crt")
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(
        secrets[0]
            .get_str("tls.key")
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        secrets[3]
            .get_str("tls.crt")
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
}

#[test]
fn the_pki_round_trips_through_capi_secrets() {
    let pki = generated();
    let mut secrets = pki.to_capi_secrets("demo", "default");
    // Unrelated Secrets are ignored.
    secrets.push(Secret::new("default", "other-ca", "Opaque").with_data("tls.crt", "x"));
    let back = ClusterPki::from_capi_secrets("demo", &secrets).unwrap();
    assert_eq!(back.ca.certificate(), pki.ca.certificate());
    assert_eq!(back.etcd_ca.certificate(), pki.etcd_ca.certificate());
    assert_eq!(
        back.front_proxy_ca.certificate(),
        pki.front_proxy_ca.certificate()
    );
    assert_eq!(
        back.ca.key_pem().expose_secret(),
        pki.ca.key_pem().expose_secret()
    );
    assert_eq!(
        back.service_account.public_key_pem(),
        pki.service_account.public_key_pem()
    );
    assert_eq!(back.ca_cert_hash(), pki.ca_cert_hash());
    // And writing it again gives identical Secrets.
    assert_eq!(
        back.to_capi_secrets("demo", "default"),
        pki.to_capi_secrets("demo", "default")
    );
}

#[test]
fn a_missing_secret_or_key_is_reported_by_name() {
    let pki = generated();
    let mut secrets = pki.to_capi_secrets("demo", "default");
    secrets.retain(|s| s.name != "demo-proxy");
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert_eq!(err.to_string(), "Secret `demo-proxy` is missing");

    let mut secrets = pki.to_capi_secrets("demo", "default");
    secrets[1].data.remove("tls.key");
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secret `demo-etcd` has no data key `tls.key`"
    );

    let mut secrets = pki.to_capi_secrets("demo", "default");
    secrets[0]
        .data
        .insert("tls.crt".into(), b"not pem".to_vec());
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert!(err.to_string().contains("demo-ca/tls.crt"), "{err}");

    // Certificate and key from different CAs.
    let mut secrets = pki.to_capi_secrets("demo", "default");
    let etcd_key = secrets[1].data["tls.key"].clone();
    secrets[0].data.insert("tls.key".into(), etcd_key);
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn a_service_account_secret_whose_public_key_is_not_its_private_key_is_rejected() {
    // CABPK writes `tls.crt` to `sa.pub` (API server, verifies tokens) and `tls.key` to
    // `sa.key` (controller manager, signs them): a mismatched pair breaks every token.
    let pki = generated();
    let other = generated();
    let mut secrets = pki.to_capi_secrets("demo", "default");
    let foreign_public = other.service_account.public_key_pem();
    secrets[3]
        .data
        .insert("tls.crt".into(), foreign_public.into_bytes());
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secret `demo-sa`: `tls.crt` is not the public key of `tls.key`; write the public half \
         of `tls.key` (`openssl pkey -in tls.key -pubout`) to `tls.crt`"
    );

    // A certificate where the public key belongs is named, too.
    secrets[3]
        .data
        .insert("tls.crt".into(), pki.ca.cert_pem().as_bytes().to_vec());
    let err = ClusterPki::from_capi_secrets("demo", &secrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`demo-sa/tls.crt` contains no PUBLIC KEY PEM block"
    );

    // Without `tls.crt` the public key is derived from `tls.key`.
    secrets[3].data.remove("tls.crt");
    let loaded = ClusterPki::from_capi_secrets("demo", &secrets).unwrap();
    assert_eq!(
        loaded.service_account.public_key_pem(),
        pki.service_account.public_key_pem()
    );
}

#[test]
fn secrets_written_by_capi_kubeadm_providers_with_rsa_pkcs1_keys_load() {
    if !openssl_available("secrets_written_by_capi_kubeadm_providers_with_rsa_pkcs1_keys_load") {
        return;
    }
    // CABPK/KCP write RSA-2048 CAs with `RSA PRIVATE KEY` (PKCS#1) keys and an RSA `sa` pair
    // (`tls.crt` = `PUBLIC KEY`); users may supply `kubernetes.io/tls` Secrets.
    let dir = TempDir::new("capi-rsa");
    dir.write(
        "ca.cnf",
        "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n[dn]\nCN = kubernetes\n\
         [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,digitalSignature,keyEncipherment,keyCertSign\n\
         subjectKeyIdentifier = hash\n",
    );
    openssl_ok(
        dir.path(),
        &["genrsa", "-traditional", "-out", "ca.key", "2048"],
    );
    openssl_ok(
        dir.path(),
        &[
            "req", "-x509", "-new", "-key", "ca.key", "-config", "ca.cnf", "-days", "3650", "-out",
            "ca.crt",
        ],
    );
    openssl_ok(
        dir.path(),
        &["genrsa", "-traditional", "-out", "sa.key", "2048"],
    );
    openssl_ok(
        dir.path(),
        &["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
    );
    assert!(
        dir.read("sa.key")
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );

    let pki = generated();
    let mut secrets = pki.to_capi_secrets("demo", "default");
    secrets[0] = Secret::new("default", "demo-ca", "kubernetes.io/tls")
        .with_label(CLUSTER_NAME_LABEL, "demo")
        .with_data("tls.crt", dir.read("ca.crt"))
        .with_data("tls.key", dir.read("ca.key"));
    secrets[3] = Secret::new("default", "demo-sa", CLUSTER_SECRET_TYPE)
        .with_data("tls.crt", dir.read("sa.pub"))
        .with_data("tls.key", dir.read("sa.key"));
    let loaded = ClusterPki::from_capi_secrets("demo", &secrets).unwrap();
    assert_eq!(loaded.ca.key().kind(), KeyKind::Rsa);
    assert_eq!(loaded.service_account.key().kind(), KeyKind::Rsa);
    assert_eq!(loaded.service_account.public_key_pem(), dir.read("sa.pub"));

    // The loaded RSA CA issues a working kubeconfig.
    let kubeconfig = loaded
        .admin_kubeconfig(
            "demo",
            "https://10.0.0.1:6443",
            Timestamp::now(),
            &mut rng(),
        )
        .unwrap();
    let user = kubeconfig.user("demo-admin").unwrap();
    let cert = String::from_utf8(
        STANDARD
            .decode(user.client_certificate_data.as_deref().unwrap())
            .unwrap(),
    )
    .unwrap();
    dir.write("admin.crt", &cert);
    let out = openssl_ok(dir.path(), &["verify", "-CAfile", "ca.crt", "admin.crt"]);
    assert_eq!(out.trim(), "admin.crt: OK");
}

#[test]
fn the_admin_kubeconfig_has_client_gos_shape() {
    let pki = generated();
    let kubeconfig = pki
        .admin_kubeconfig(
            "demo",
            "https://api.demo.example.com:6443",
            now(),
            &mut rng(),
        )
        .unwrap();
    let yaml = kubeconfig.to_yaml().unwrap();
    // Parse as untyped YAML, independently of our own types.
    let doc: serde_json::Value = serde_saphyr::from_str(yaml.expose()).unwrap();
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "demo-admin@demo");
    assert_eq!(doc["clusters"][0]["name"], "demo");
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"],
        "https://api.demo.example.com:6443"
    );
    assert_eq!(doc["contexts"][0]["name"], "demo-admin@demo");
    assert_eq!(doc["contexts"][0]["context"]["cluster"], "demo");
    assert_eq!(doc["contexts"][0]["context"]["user"], "demo-admin");
    assert_eq!(doc["users"][0]["name"], "demo-admin");

    let b64 = |v: &serde_json::Value| {
        String::from_utf8(STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
    };
    let ca_pem = b64(&doc["clusters"][0]["cluster"]["certificate-authority-data"]);
    assert_eq!(ca_pem, pki.ca.cert_pem());
    let cert_pem = b64(&doc["users"][0]["user"]["client-certificate-data"]);
    let key_pem = b64(&doc["users"][0]["user"]["client-key-data"]);
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let cert = capp_pki::Certificate::from_pem(&cert_pem, "client-certificate-data").unwrap();
    assert_eq!(cert.common_name(), Some("kubernetes-admin"));
    assert_eq!(cert.info().organizations, ["system:masters"]);
    assert_eq!(
        cert.info().issuer_common_name.as_deref(),
        Some("kubernetes")
    );
    // The key belongs to the certificate.
    let key = capp_pki::PrivateKey::from_pem(&key_pem, "client-key-data").unwrap();
    assert_eq!(key.public_key_der(), cert.info().subject_public_key_info);

    // Typed round trip, and through the `<cluster>-kubeconfig` Secret.
    assert_eq!(Kubeconfig::from_yaml(yaml.expose()).unwrap(), kubeconfig);
    let secret = kubeconfig.to_capi_secret("demo", "default").unwrap();
    assert_eq!(secret.name, "demo-kubeconfig");
    assert_eq!(secret.type_, CLUSTER_SECRET_TYPE);
    assert_eq!(secret.labels[CLUSTER_NAME_LABEL], "demo");
    assert_eq!(secret.data.keys().collect::<Vec<_>>(), ["value"]);
    let back = Kubeconfig::from_capi_secret(&secret).unwrap();
    assert_eq!(back, kubeconfig);
    assert_eq!(back.current_ca().unwrap(), *pki.ca.certificate());
}

#[test]
fn the_token_kubeconfig_carries_the_token_and_no_client_certificate() {
    let pki = generated();
    let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
    let kubeconfig = Kubeconfig::with_token(
        "demo",
        "tls-bootstrap-token-user",
        "https://10.0.0.1:6443",
        pki.ca.certificate(),
        token.token(),
    );
    let yaml = kubeconfig.to_yaml().unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(yaml.expose()).unwrap();
    assert_eq!(doc["users"][0]["user"]["token"], "abcdef.0123456789abcdef");
    assert!(doc["users"][0]["user"].get("client-key-data").is_none());
    assert_eq!(doc["current-context"], "tls-bootstrap-token-user@demo");
    assert!(!format!("{kubeconfig:?}").contains("0123456789abcdef"));
}

#[test]
fn kubeconfig_yaml_that_is_not_a_v1_config_is_rejected_without_echoing_it() {
    for bad in [
        "apiVersion: v2\nkind: Config\n",
        "kind: Config\n",
        "- just\n- a list\n",
        "client-key-data: c2VjcmV0LWtleS1tYXRlcmlhbA==\n: : :",
    ] {
        let err = Kubeconfig::from_yaml(bad).unwrap_err();
        let rendered = format!("{err} {err:?}");
        assert!(!rendered.contains("c2VjcmV0"), "{rendered}");
    }
}

#[test]
fn certificates_expiring_within_the_horizon_are_listed_soonest_first() {
    let mut rng = rng();
    let short = CertificateAuthority::generate(
        &CaOptions::new("short").with_validity(Duration::from_secs(10 * 86_400)),
        now(),
        &mut rng,
    )
    .unwrap();
    let medium = CertificateAuthority::generate(
        &CaOptions::new("medium").with_validity(Duration::from_secs(60 * 86_400)),
        now(),
        &mut rng,
    )
    .unwrap();
    let pki = generated();
    let admin = pki.admin_client(now(), &mut rng).unwrap();
    let certs = [
        ("medium", medium.certificate()),
        ("short", short.certificate()),
        ("admin", &admin.certificate),
        ("ca", pki.ca.certificate()),
    ];

    let soon = expiring_within(certs, now(), 30);
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].name, "short");
    assert_eq!(soon[0].common_name.as_deref(), Some("short"));
    assert_eq!(soon[0].remaining, SignedDuration::from_hours(10 * 24));
    assert!(!soon[0].is_expired());

    let names: Vec<String> = expiring_within(certs, now(), 400)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["short", "medium", "admin"]);

    // Fifty days on, `short` has expired and is still listed, first.
    let later = now() + SignedDuration::from_hours(50 * 24);
    let soon = expiring_within(certs, later, 30);
    assert_eq!(
        soon.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["short", "medium"]
    );
    assert!(soon[0].is_expired());
    assert!(soon[0].remaining.is_negative());

    // The cluster CAs (ten years) are not expiring within a year, but are within eleven.
    assert!(pki.expiring_within(now(), 365).is_empty());
    assert_eq!(pki.expiring_within(now(), 11 * 365).len(), 3);
}

#[test]
fn validity_and_backdating_follow_the_options() {
    let pki = ClusterPki::generate(
        &ClusterPkiOptions::default()
            .with_ca_validity(Duration::from_secs(20 * 365 * 86_400))
            .with_leaf_validity(Duration::from_secs(90 * 86_400)),
        now(),
        &mut rng(),
    )
    .unwrap();
    let ca = pki.ca.certificate().info();
    assert_eq!(ca.not_before, now() - SignedDuration::from_mins(5));
    assert_eq!(
        ca.not_after,
        now() + SignedDuration::from_hours(20 * 365 * 24)
    );
    assert!(ca.is_ca);
    let leaf = pki.front_proxy_client(now(), &mut rng()).unwrap();
    assert_eq!(
        leaf.certificate.not_after(),
        now() + SignedDuration::from_hours(90 * 24)
    );
    assert!(!leaf.certificate.info().is_ca);
}

#[test]
fn a_validity_beyond_the_year_9999_is_an_error() {
    let err = CertificateAuthority::generate(
        &CaOptions::new("forever").with_validity(Duration::from_secs(9_000 * 365 * 86_400)),
        now(),
        &mut rng(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("outside the years 1970-9999"),
        "{err}"
    );
}

#[test]
fn serial_numbers_come_from_the_injected_rng() {
    let pki = generated();
    let a = pki
        .admin_client(now(), &mut StdRng::seed_from_u64(5))
        .unwrap();
    let b = pki
        .admin_client(now(), &mut StdRng::seed_from_u64(5))
        .unwrap();
    let c = pki
        .admin_client(now(), &mut StdRng::seed_from_u64(6))
        .unwrap();
    assert_eq!(
        a.certificate.info().serial_hex,
        b.certificate.info().serial_hex
    );
    assert_ne!(
        a.certificate.info().serial_hex,
        c.certificate.info().serial_hex
    );
    assert_eq!(a.certificate.info().serial_hex.len(), 32);
}

#[test]
fn no_private_material_appears_in_debug_output() {
    let pki = generated();
    let admin = pki.admin_client(now(), &mut rng()).unwrap();
    let kubeconfig = pki
        .admin_kubeconfig("demo", "https://10.0.0.1:6443", now(), &mut rng())
        .unwrap();
    let secrets = pki.to_capi_secrets("demo", "default");
    let kubeconfig_secret = kubeconfig.to_capi_secret("demo", "default").unwrap();
    let debug = format!(
        "{pki:?}\n{admin:?}\n{kubeconfig:?}\n{secrets:?}\n{kubeconfig_secret:?}\n{:?}\n{:?}",
        kubeconfig.to_yaml().unwrap(),
        SecretValue::new("hunter2"),
    );
    let secret_texts = [
        pki.ca.key_pem().expose_secret().to_owned(),
        pki.etcd_ca.key_pem().expose_secret().to_owned(),
        pki.front_proxy_ca.key_pem().expose_secret().to_owned(),
        pki.service_account
            .private_key_pem()
            .expose_secret()
            .to_owned(),
        admin.key_pem().expose_secret().to_owned(),
    ];
    for pem in &secret_texts {
        // Any 16-character run of the key's base64 body would be a leak.
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for chunk in body.as_bytes().chunks(16).filter(|c| c.len() == 16) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(!debug.contains(chunk), "leaked {chunk} in\n{debug}");
        }
        let b64 = STANDARD.encode(pem);
        assert!(!debug.contains(&b64[40..80]));
    }
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("[REDACTED]"));
    // Public facts stay visible for debugging.
    assert!(debug.contains("kubernetes-admin") && debug.contains("demo-ca"));
}
