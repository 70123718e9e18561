//! Outside input never panics the loaders: arbitrary and corrupted PEM/DER keys and
//! certificates, arbitrary kubeconfig YAML and Secrets all yield errors, not panics.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

use std::sync::LazyLock;

use capp_pki::kubeconfig::Kubeconfig;
use capp_pki::secrecy::ExposeSecret;
use capp_pki::{
    Certificate, CertificateAuthority, ClusterPki, ClusterPkiOptions, KeyAlgorithm, PrivateKey,
    Secret,
};
use proptest::prelude::*;
use rand::SeedableRng;

static VALID: LazyLock<(Vec<u8>, Vec<u8>)> = LazyLock::new(|| {
    let pki = ClusterPki::generate(
        &ClusterPkiOptions::default(),
        "2026-11-21T08:00:00Z".parse().unwrap(),
        &mut rand::rngs::StdRng::seed_from_u64(3),
    )
    .unwrap();
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    (
        pki.ca.certificate().der().to_vec(),
        key.to_pkcs8_der().expose_secret().to_vec(),
    )
});

fn armour(label: &str, der: Vec<u8>) -> String {
    pem::encode(&pem::Pem::new(label, der))
}

proptest! {
    #[test]
    fn arbitrary_bytes_in_any_key_block_are_an_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        label in prop::sample::select(vec!["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]),
    ) {
        prop_assert!(PrivateKey::from_pem(&armour(label, bytes), "tls.key").is_err());
    }

    #[test]
    fn corrupting_one_byte_of_a_valid_key_or_certificate_never_panics(
        pos in any::<prop::sample::Index>(),
        value in any::<u8>(),
        truncate in any::<bool>(),
    ) {
        let (cert, key) = &*VALID;
        for (label, der) in [("CERTIFICATE", cert), ("PRIVATE KEY", key)] {
            let mut der = der.clone();
            let i = pos.index(der.len());
            if truncate { der.truncate(i) } else { der[i] = value }
            // Any outcome but a panic is fine; some corruptions stay valid.
            let _ = Certificate::from_der(der.clone(), "tls.crt");
            let _ = PrivateKey::from_pem(&armour(label, der.clone()), "tls.key");
            let _ = PrivateKey::from_pem(&armour("EC PRIVATE KEY", der), "tls.key");
        }
    }

    #[test]
    fn arbitrary_text_as_kubeconfig_or_pem_is_an_error_or_ok_never_a_panic(text in "\\PC{0,200}") {
        let _ = Kubeconfig::from_yaml(&text);
        let _ = Certificate::from_pem(&text, "tls.crt");
        let _ = PrivateKey::from_pem(&text, "tls.key");
        let secret = Secret::new("ns", "demo-ca", "Opaque")
            .with_data("tls.crt", text.clone())
            .with_data("tls.key", text);
        prop_assert!(CertificateAuthority::from_capi_secret(&secret).is_err());
    }
}
