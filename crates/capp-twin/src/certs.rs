//! `kubeadm init --upload-certs` and the download of a control-plane `kubeadm join`: the
//! shared certificate authorities travel in `kube-system/kubeadm-certs`, each file encrypted
//! with AES-GCM under the certificate key (kubeadm's `copycerts` and `cryptoutil`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

/// The Secret's name.
pub(crate) const KUBEADM_CERTS: &str = "kubeadm-certs";

/// The files kubeadm uploads, by their path under `/etc/kubernetes/pki`.
const SHARED_FILES: &[&str] = &[
    "ca.crt",
    "ca.key",
    "front-proxy-ca.crt",
    "front-proxy-ca.key",
    "etcd/ca.crt",
    "etcd/ca.key",
    "sa.key",
    "sa.pub",
];

fn cipher(certificate_key: &str) -> Result<LessSafeKey, String> {
    let key = hex::decode(certificate_key)
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            "certificateKey: Invalid value: the certificate key must be 64 hex digits (AES-256)"
                .to_owned()
        })?;
    UnboundKey::new(&AES_256_GCM, &key)
        .map(LessSafeKey::new)
        .map_err(|_| "certificateKey: Invalid value: not an AES-256 key".to_owned())
}

/// The `kubeadm-certs` Secret for the shared files found in `files` (`/etc/kubernetes/pki/*`).
pub(crate) fn upload(
    files: &BTreeMap<String, String>,
    certificate_key: &str,
) -> Result<Value, String> {
    let key = cipher(certificate_key)?;
    let rng = SystemRandom::new();
    let mut data = BTreeMap::new();
    for name in SHARED_FILES {
        let Some(content) = files.get(&format!("/etc/kubernetes/pki/{name}")) else {
            continue;
        };
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)
            .map_err(|_| "cannot draw a nonce".to_owned())?;
        let mut sealed = content.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| "cannot encrypt the certificates".to_owned())?;
        // Go's gcm.Seal(nonce, nonce, data, nil): the nonce, then ciphertext and tag.
        let mut value = nonce.to_vec();
        value.extend_from_slice(&sealed);
        data.insert(name.replace('/', "-"), STANDARD.encode(value));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KUBEADM_CERTS, "namespace": "kube-system"},
        "type": "Opaque",
        "data": data,
    }))
}

/// Decrypts the CA certificate of a downloaded `kubeadm-certs` Secret's `data` with the
/// joining node's certificate key; kubeadm's error text otherwise.
pub(crate) fn download_ca(
    data: &BTreeMap<String, Vec<u8>>,
    certificate_key: &str,
) -> Result<String, String> {
    let key = cipher(certificate_key)?;
    let sealed = data
        .get("ca.crt")
        .ok_or("error downloading certs: the Secret has no ca.crt")?;
    let failed = || {
        "error downloading certs: error decoding secret data with provided key: cipher: message authentication failed"
            .to_owned()
    };
    if sealed.len() < NONCE_LEN {
        return Err(failed());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
    let mut buffer = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::empty(), &mut buffer)
        .map_err(|_| failed())?;
    String::from_utf8(plain.to_vec()).map_err(|_| failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(secret: &Value) -> BTreeMap<String, Vec<u8>> {
        secret["data"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), STANDARD.decode(v.as_str().unwrap()).unwrap()))
            .collect()
    }

    #[test]
    fn uploaded_certificates_open_only_with_the_certificate_key() {
        let files = BTreeMap::from([
            ("/etc/kubernetes/pki/ca.crt".to_owned(), "CA PEM".to_owned()),
            (
                "/etc/kubernetes/pki/etcd/ca.key".to_owned(),
                "ETCD KEY".to_owned(),
            ),
        ]);
        let key = "ab".repeat(32);
        let secret = upload(&files, &key).unwrap();
        let data = decode(&secret);
        assert!(data.contains_key("etcd-ca.key"), "{data:?}");
        assert_eq!(download_ca(&data, &key).unwrap(), "CA PEM");
        let err = download_ca(&data, &"cd".repeat(32)).unwrap_err();
        assert!(err.contains("message authentication failed"), "{err}");
        assert!(upload(&files, "short").is_err());
    }
}
