//! The crate's error type.

/// Everything that can go wrong while generating, loading or rendering PKI material.
///
/// Messages describe this layer only; the underlying cause (if any) is available through
/// [`std::error::Error::source`]. No variant ever carries private key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The crypto backend could not generate a new private key.
    #[error("could not generate a {algorithm} private key")]
    KeyGeneration {
        /// The requested algorithm.
        algorithm: &'static str,
        /// The backend's error.
        #[source]
        source: rcgen::Error,
    },

    /// A PEM document could not be parsed at all.
    #[error("`{field}` is not valid PEM; expected `-----BEGIN ...-----` armoured base64")]
    Pem {
        /// Which input was being parsed (for example `tls.key`).
        field: String,
        /// The PEM parser's error.
        #[source]
        source: pem::PemError,
    },

    /// A PEM document held no block of the expected kind.
    #[error("`{field}` contains no {expected} PEM block")]
    MissingPemBlock {
        /// Which input was being parsed.
        field: String,
        /// The block label that was looked for (for example `CERTIFICATE`).
        expected: &'static str,
    },

    /// A private key PEM block has a label this crate cannot read (for example an encrypted key).
    #[error(
        "`{field}` holds a `{label}` block; expected an unencrypted `PRIVATE KEY` (PKCS#8), \
         `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1)"
    )]
    UnsupportedKeyFormat {
        /// Which input was being parsed.
        field: String,
        /// The PEM label that was found.
        label: String,
    },

    /// A private key was structurally valid PEM but its DER contents could not be loaded
    /// (corrupt data, or an algorithm or key size the ring backend does not support:
    /// supported are ECDSA P-256/P-384, Ed25519 and RSA 2048-8192 bits).
    #[error(
        "`{field}` is not a usable private key (supported: ECDSA P-256/P-384, Ed25519, RSA 2048-8192)"
    )]
    InvalidKey {
        /// Which input was being parsed.
        field: String,
    },

    /// A `PUBLIC KEY` PEM block does not hold a DER `SubjectPublicKeyInfo`.
    #[error("`{field}` is not a valid public key (expected a `PUBLIC KEY` SubjectPublicKeyInfo)")]
    InvalidPublicKey {
        /// Which input was being parsed.
        field: String,
    },

    /// The `tls.crt` of a service-account Secret is not the public half of its `tls.key`.
    #[error(
        "Secret `{secret}`: `tls.crt` is not the public key of `tls.key`; \
         write the public half of `tls.key` (`openssl pkey -in tls.key -pubout`) to `tls.crt`"
    )]
    ServiceAccountKeyMismatch {
        /// The Secret name.
        secret: String,
    },

    /// DER contents of a certificate could not be parsed as X.509.
    #[error("`{field}` is not a valid X.509 certificate")]
    InvalidCertificate {
        /// Which input was being parsed.
        field: String,
    },

    /// A certificate given as a CA is not marked as one (`basicConstraints CA:TRUE` missing).
    #[error("`{field}` is not a CA certificate (basicConstraints CA:TRUE is missing)")]
    NotACa {
        /// Which input was being parsed.
        field: String,
    },

    /// A CA certificate's subject cannot be reproduced as an issuer name (for example a
    /// multi-valued RDN), so it could not sign leaves.
    #[error("`{field}` cannot be used as an issuer (unsupported subject encoding)")]
    UnsupportedCa {
        /// Which input was being parsed.
        field: String,
    },

    /// The private key does not belong to the certificate it was paired with.
    #[error("the private key `{field}` does not match the certificate's public key")]
    KeyMismatch {
        /// Which key input was being checked.
        field: String,
    },

    /// A requested validity period does not fit in an X.509 certificate (year 9999 at most),
    /// or the given `now` lies before 1970.
    #[error("certificate validity from {now} for {days} days is outside the years 1970-9999")]
    ValidityOutOfRange {
        /// The `now` that was passed in.
        now: jiff::Timestamp,
        /// The requested validity in whole days.
        days: u64,
    },

    /// A subject alternative name or distinguished-name value was rejected.
    #[error("`{value}` is not a valid subject alternative name or name value")]
    InvalidName {
        /// The offending value.
        value: String,
    },

    /// rcgen refused to build or sign the certificate.
    #[error("could not build or sign the certificate for `{common_name}`")]
    Sign {
        /// Common name of the certificate being issued.
        common_name: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },

    /// A service CIDR (for the apiserver's service IP SAN) could not be parsed.
    #[error(
        "service CIDR `{value}` is invalid; expected for example `10.96.0.0/12` or `fd00::/108`"
    )]
    InvalidServiceCidr {
        /// The offending value.
        value: String,
    },

    /// A Kubernetes version string could not be parsed.
    #[error("Kubernetes version `{value}` is invalid; expected for example `v1.31.2` or `1.31`")]
    InvalidKubernetesVersion {
        /// The offending value.
        value: String,
    },

    /// A bootstrap token did not match `[a-z0-9]{6}.[a-z0-9]{16}`.
    #[error("bootstrap token is invalid: {reason}; expected `[a-z0-9]{{6}}.[a-z0-9]{{16}}`")]
    InvalidToken {
        /// What is wrong (never contains the token secret).
        reason: &'static str,
    },

    /// A kubeconfig could not be serialised to YAML.
    #[error("could not serialise the kubeconfig to YAML")]
    KubeconfigSerialize(#[source] serde_saphyr::SerializeError),

    /// A kubeconfig YAML document could not be parsed. The parser's message is deliberately
    /// not kept because it may quote key material.
    #[error("kubeconfig YAML is invalid (not a v1 Config document)")]
    KubeconfigParse,

    /// A kubeconfig is missing an entry that was asked for.
    #[error("kubeconfig has no {kind} named `{name}`")]
    KubeconfigEntryMissing {
        /// `cluster`, `user` or `context`.
        kind: &'static str,
        /// The name looked for.
        name: String,
    },

    /// A base64 field (in a kubeconfig) could not be decoded.
    #[error("`{field}` is not valid base64")]
    Base64 {
        /// The offending field.
        field: String,
    },

    /// A required Secret was not among those given.
    #[error("Secret `{name}` is missing")]
    MissingSecret {
        /// The expected Secret name.
        name: String,
    },

    /// A Secret lacks a required data key.
    #[error("Secret `{secret}` has no data key `{key}`")]
    MissingSecretKey {
        /// The Secret name.
        secret: String,
        /// The missing key (for example `tls.crt`).
        key: &'static str,
    },

    /// A Secret value that must be text is not UTF-8.
    #[error("Secret `{secret}` key `{key}` is not UTF-8 text")]
    SecretNotUtf8 {
        /// The Secret name.
        secret: String,
        /// The offending key.
        key: String,
    },

    /// A bootstrap token Secret has an unparsable `expiration`.
    #[error("Secret `{secret}` key `expiration` is not an RFC 3339 timestamp")]
    InvalidExpiration {
        /// The Secret name.
        secret: String,
    },
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
