use super::*;
use crate::der::{P256_OID, P384_OID, read_tlv, sec1_curve, tlv};
use secrecy::ExposeSecret;

/// Extracts the SEC1 `ECPrivateKey` from a ring-generated PKCS#8 EC key (the OCTET STRING
/// at the end of `PrivateKeyInfo`).
fn sec1_of(key: &PrivateKey) -> Vec<u8> {
    let pem = pem::parse(key.to_pem().expose_secret()).unwrap();
    let (_, body, _) = read_tlv(pem.contents()).unwrap();
    let (_, _version, rest) = read_tlv(body).unwrap();
    let (_, _alg, rest) = read_tlv(rest).unwrap();
    let (tag, sec1, _) = read_tlv(rest).unwrap();
    assert_eq!(tag, 0x04);
    sec1.to_vec()
}

fn pem_of(label: &str, der: Vec<u8>) -> String {
    pem::encode(&pem::Pem::new(label, der))
}

#[test]
fn a_generated_key_round_trips_through_pkcs8_pem() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = key.to_pem();
    assert!(
        pem.expose_secret()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let loaded = PrivateKey::from_pem(pem.expose_secret(), "tls.key").unwrap();
    assert_eq!(loaded.kind(), KeyKind::EcdsaP256);
    assert_eq!(loaded.public_key_der(), key.public_key_der());
}

#[test]
fn a_p384_key_is_generated_and_reported_as_p384() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    assert_eq!(key.kind(), KeyKind::EcdsaP384);
}

#[test]
fn a_sec1_key_without_curve_parameters_loads_with_the_curve_inferred() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let sec1 = sec1_of(&key);
    let loaded = PrivateKey::from_pem(&pem_of("EC PRIVATE KEY", sec1), "tls.key").unwrap();
    assert_eq!(loaded.public_key_der(), key.public_key_der());
}

#[test]
fn a_sec1_key_with_named_curve_parameters_loads() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let sec1 = sec1_of(&key);
    // Re-encode as openssl writes it: version, key, [0] curve OID, [1] public key.
    let (_, body, _) = read_tlv(&sec1).unwrap();
    let (_, version, rest) = read_tlv(body).unwrap();
    let (_, private, rest) = read_tlv(rest).unwrap();
    let mut inner = tlv(0x02, version);
    inner.extend(tlv(0x04, private));
    inner.extend(tlv(0xa0, P384_OID));
    inner.extend_from_slice(rest);
    let with_params = tlv(0x30, &inner);
    assert_eq!(sec1_curve(&with_params), Some(P384_OID));
    let loaded = PrivateKey::from_pem(&pem_of("EC PRIVATE KEY", with_params), "k").unwrap();
    assert_eq!(loaded.kind(), KeyKind::EcdsaP384);
    assert_eq!(loaded.public_key_der(), key.public_key_der());
}

#[test]
fn a_sec1_key_whose_parameters_name_another_curve_is_rejected() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let sec1 = sec1_of(&key);
    let (_, body, _) = read_tlv(&sec1).unwrap();
    let (_, version, rest) = read_tlv(body).unwrap();
    let (_, private, rest) = read_tlv(rest).unwrap();
    let mut inner = tlv(0x02, version);
    inner.extend(tlv(0x04, private));
    inner.extend(tlv(0xa0, P256_OID));
    inner.extend_from_slice(rest);
    let err =
        PrivateKey::from_pem(&pem_of("EC PRIVATE KEY", tlv(0x30, &inner)), "tls.key").unwrap_err();
    assert!(
        matches!(err, Error::InvalidKey { ref field } if field == "tls.key"),
        "{err}"
    );
}

#[test]
fn an_encrypted_key_is_rejected_with_the_label_and_field_named() {
    let err = PrivateKey::from_pem(&pem_of("ENCRYPTED PRIVATE KEY", vec![1, 2, 3]), "ca.key")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ENCRYPTED PRIVATE KEY") && msg.contains("ca.key"),
        "{msg}"
    );
}

#[test]
fn pem_without_a_key_block_is_rejected() {
    let err = PrivateKey::from_pem(&pem_of("CERTIFICATE", vec![1, 2, 3]), "tls.key").unwrap_err();
    assert!(matches!(err, Error::MissingPemBlock { .. }), "{err}");
    let err = PrivateKey::from_pem("hello", "tls.key").unwrap_err();
    assert!(
        matches!(err, Error::MissingPemBlock { .. } | Error::Pem { .. }),
        "{err}"
    );
}

#[test]
fn garbage_inside_a_key_block_is_an_error_not_a_panic() {
    for label in ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] {
        let err = PrivateKey::from_pem(&pem_of(label, b"garbage".to_vec()), "tls.key").unwrap_err();
        assert!(matches!(err, Error::InvalidKey { .. }), "{label}: {err}");
    }
}

#[test]
fn debug_output_of_a_key_shows_no_key_material() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    let pem = key.to_pem();
    let body: String = pem
        .expose_secret()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!debug.contains(&body[..20]), "{debug}");
}
