//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while starting the simulator or loading the OpenAPI spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound (port in use, permission denied, ...).
    #[error("cannot bind the simulator to {addr}")]
    Bind {
        /// The address that was requested.
        addr: std::net::SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket did not report its local address.
    #[error("cannot read the simulator's local address")]
    LocalAddr(#[source] std::io::Error),
    /// The configuration is inconsistent (for example a rate outside `0.0..=1.0`).
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The OpenAPI spec file could not be read.
    #[error("cannot read the OpenAPI spec at {path}")]
    SpecRead {
        /// The path that was given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The OpenAPI spec file is not valid YAML (or JSON).
    #[error("cannot parse the OpenAPI spec at {path}")]
    SpecParse {
        /// The path that was given.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// The document parsed but is not shaped like an OpenAPI 3 document (no `paths` or
    /// `components.schemas`).
    #[error("the OpenAPI document is malformed: {0}")]
    SpecShape(String),
    /// A value handed to a [`Simulator`](crate::Simulator) method was refused, for the reason
    /// the API itself would give (for example an SSH key that is not an OpenSSH public key).
    #[error("the simulator refused the input: {0}")]
    Refused(String),
    /// A schema, operation or response asked of the spec does not exist in it.
    #[error("not in the OpenAPI spec: {0}")]
    NotInSpec(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
