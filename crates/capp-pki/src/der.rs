//! Minimal DER reading and writing: re-wrapping PKCS#1 and SEC1 keys into PKCS#8, and
//! re-encoding a certificate's subject (rcgen keeps one value per attribute type, but
//! Kubernetes client certificates carry one `O` per group).
//!
//! Only the handful of structures needed here are handled. The reader never panics on
//! malformed input: every access is bounds-checked and failure is reported as `None`.

/// DER of the `rsaEncryption` AlgorithmIdentifier: OID 1.2.840.113549.1.1.1 with NULL params.
const RSA_ALGORITHM_ID: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// DER of OID 1.2.840.10045.2.1 (`id-ecPublicKey`).
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// DER of OID 1.2.840.10045.3.1.7 (`prime256v1`, P-256).
pub(crate) const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// DER of OID 1.3.132.0.34 (`secp384r1`, P-384).
pub(crate) const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_CONTEXT_0: u8 = 0xa0;

/// Encodes one tag-length-value.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        // Short form: the length fits in seven bits.
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// Reads one tag-length-value from the front of `input`; returns (tag, content, rest).
pub(crate) fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (len_bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// Wraps a PKCS#1 `RSAPrivateKey` into a PKCS#8 `PrivateKeyInfo` (version 0).
pub(crate) fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = tlv(TAG_INTEGER, &[0]);
    body.extend_from_slice(RSA_ALGORITHM_ID);
    body.extend(tlv(TAG_OCTET_STRING, pkcs1));
    tlv(TAG_SEQUENCE, &body)
}

/// Finds the named-curve OID (full DER TLV) of a SEC1 `ECPrivateKey`:
/// `SEQUENCE { INTEGER 1, OCTET STRING key, [0] OID OPTIONAL, [1] BIT STRING OPTIONAL }`.
///
/// When the optional parameters are absent the curve is inferred from the private key length
/// (32 bytes: P-256, 48 bytes: P-384).
pub(crate) fn sec1_curve(sec1: &[u8]) -> Option<&'static [u8]> {
    let (tag, body, _) = read_tlv(sec1)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, version, rest) = read_tlv(body)?;
    if tag != TAG_INTEGER || version != [1] {
        return None;
    }
    let (tag, private_key, mut rest) = read_tlv(rest)?;
    if tag != TAG_OCTET_STRING {
        return None;
    }
    while let Some((tag, content, next)) = read_tlv(rest) {
        if tag == TAG_CONTEXT_0 {
            return [P256_OID, P384_OID].into_iter().find(|oid| *oid == content);
        }
        rest = next;
    }
    match private_key.len() {
        32 => Some(P256_OID),
        48 => Some(P384_OID),
        _ => None,
    }
}

/// Wraps a SEC1 `ECPrivateKey` into a PKCS#8 `PrivateKeyInfo` for the given curve OID.
pub(crate) fn sec1_to_pkcs8(sec1: &[u8], curve_oid: &[u8]) -> Vec<u8> {
    let mut alg = EC_PUBLIC_KEY_OID.to_vec();
    alg.extend_from_slice(curve_oid);
    let mut body = tlv(TAG_INTEGER, &[0]);
    body.extend(tlv(TAG_SEQUENCE, &alg));
    body.extend(tlv(TAG_OCTET_STRING, sec1));
    tlv(TAG_SEQUENCE, &body)
}

const TAG_SET: u8 = 0x31;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_BIT_STRING: u8 = 0x03;

/// DER of OID 2.5.4.10 (`organizationName`).
const ORGANIZATION_OID: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x0a];

/// DER of OID 2.5.4.3 (`commonName`).
const COMMON_NAME_OID: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];

/// Encodes a Name with one RDN per `O` (in order) followed by the `CN`, each a UTF8String,
/// which is how Go's `pkix.Name` (and so kubeadm) lays out a client certificate subject.
pub(crate) fn subject_name(organizations: &[String], common_name: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], value: &str| {
        let mut atv = oid.to_vec();
        atv.extend(tlv(TAG_UTF8_STRING, value.as_bytes()));
        tlv(TAG_SET, &tlv(TAG_SEQUENCE, &atv))
    };
    let mut body = Vec::new();
    for org in organizations {
        body.extend(rdn(ORGANIZATION_OID, org));
    }
    body.extend(rdn(COMMON_NAME_OID, common_name));
    tlv(TAG_SEQUENCE, &body)
}

/// Splits the first TLV off `input`, returning (the whole TLV, the rest).
fn split_tlv(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, rest) = read_tlv(input)?;
    let whole = input.get(..input.len() - rest.len())?;
    Some((whole, rest))
}

/// Replaces the subject of a DER certificate and re-signs its TBSCertificate with `sign`
/// (which must use the same key and algorithm as the original signature).
///
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }` and
/// `TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity,
/// subject, ... }`. Returns `None` if the input does not have that shape.
pub(crate) fn replace_subject<E>(
    certificate: &[u8],
    subject: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Option<Result<Vec<u8>, E>> {
    let (tag, cert_body, _) = read_tlv(certificate)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, tbs_body, after_tbs) = read_tlv(cert_body)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (signature_algorithm, _) = split_tlv(after_tbs)?;

    let mut fields = Vec::new();
    let mut rest = tbs_body;
    while !rest.is_empty() {
        let (field, next) = split_tlv(rest)?;
        fields.push(field);
        rest = next;
    }
    // With the explicit [0] version (always written for v3) the subject is the sixth field.
    let subject_index = if fields.first()?.first() == Some(&TAG_CONTEXT_0) {
        5
    } else {
        4
    };
    if fields.len() <= subject_index {
        return None;
    }
    let mut new_tbs_body = Vec::with_capacity(tbs_body.len() + subject.len());
    for (i, field) in fields.iter().enumerate() {
        if i == subject_index {
            new_tbs_body.extend_from_slice(subject);
        } else {
            new_tbs_body.extend_from_slice(field);
        }
    }
    let new_tbs = tlv(TAG_SEQUENCE, &new_tbs_body);
    let signature = match sign(&new_tbs) {
        Ok(signature) => signature,
        Err(e) => return Some(Err(e)),
    };
    let mut bit_string = vec![0u8];
    bit_string.extend(signature);
    let mut body = new_tbs;
    body.extend_from_slice(signature_algorithm);
    body.extend(tlv(TAG_BIT_STRING, &bit_string));
    Some(Ok(tlv(TAG_SEQUENCE, &body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_through_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(0x04, &content);
            let (tag, got, rest) = read_tlv(&encoded).expect("parses");
            assert_eq!(tag, 0x04);
            assert_eq!(got.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn truncated_or_garbage_input_is_rejected_without_panicking() {
        assert!(read_tlv(&[]).is_none());
        assert!(read_tlv(&[0x30]).is_none());
        assert!(read_tlv(&[0x30, 0x05, 1, 2]).is_none());
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(sec1_curve(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_none());
        assert!(sec1_curve(b"not der at all").is_none());
    }

    #[test]
    fn replacing_the_subject_of_something_that_is_not_a_certificate_gives_none() {
        let sign = |_: &[u8]| Ok::<_, ()>(vec![1, 2, 3]);
        assert!(replace_subject(&[], &[], sign).is_none());
        assert!(replace_subject(&tlv(0x30, &[]), &[], sign).is_none());
        // A TBS with too few fields.
        let tbs = tlv(0x30, &tlv(0x02, &[1]));
        let mut cert = tbs;
        cert.extend(tlv(0x30, &[]));
        assert!(replace_subject(&tlv(0x30, &cert), &[], sign).is_none());
    }

    #[test]
    fn a_subject_has_one_rdn_per_organisation_then_the_common_name() {
        let name = subject_name(&["a".to_owned(), "b".to_owned()], "c");
        let (tag, body, rest) = read_tlv(&name).unwrap();
        assert_eq!((tag, rest.len()), (0x30, 0));
        let mut rdns = Vec::new();
        let mut rest = body;
        while let Some((tag, set, next)) = read_tlv(rest) {
            assert_eq!(tag, 0x31);
            let (_, atv, _) = read_tlv(set).unwrap();
            let (_, oid, value) = read_tlv(atv).unwrap();
            let (_, text, _) = read_tlv(value).unwrap();
            rdns.push((oid.to_vec(), String::from_utf8(text.to_vec()).unwrap()));
            rest = next;
        }
        assert_eq!(
            rdns,
            [
                (vec![0x55, 0x04, 0x0a], "a".to_owned()),
                (vec![0x55, 0x04, 0x0a], "b".to_owned()),
                (vec![0x55, 0x04, 0x03], "c".to_owned()),
            ]
        );
    }
}
