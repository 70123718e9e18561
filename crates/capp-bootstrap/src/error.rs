//! The crate's error type.
//!
//! Every variant says which input was wrong and, where it helps, how to fix it. Messages are
//! lowercase and never interpolate their `#[source]`, so callers can print the whole chain.

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while selecting, rendering or composing userdata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The machine-config matrix document is not YAML, or does not have the matrix shape
    /// (`items:` list of entries with `name`, `machineParams` and `userdata`).
    #[error("machine-config matrix is not a valid matrix document")]
    MatrixSyntax(#[source] serde_saphyr::Error),

    /// An entry of the machine-config matrix is well-formed YAML but not usable (duplicate
    /// name, no `machineParams`, bad version pattern, empty image ...).
    #[error("machine-config matrix entry `{entry}` is invalid: {reason}")]
    InvalidMatrixEntry {
        /// Name of the entry (or its position when it has no usable name).
        entry: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The userdata template of a matrix entry is not valid Handlebars.
    #[error("userdata template of matrix entry `{entry}` does not parse")]
    TemplateSyntax {
        /// Name of the entry.
        entry: String,
        /// The Handlebars parse error (line and column).
        #[source]
        source: Box<handlebars::TemplateError>,
    },

    /// No matrix entry serves the requested image and versions.
    #[error(
        "no machine-config matrix entry matches {query}; available: {}",
        available.join(", ")
    )]
    NoMatchingMachineConfig {
        /// The request, e.g. `image ubuntu_24_04, kubelet 1.31.4, control plane 1.31.4`.
        query: String,
        /// Every `entry: image kubelet/controlPlane` combination the matrix offers.
        available: Vec<String>,
    },

    /// More than one matrix entry serves the requested image and versions; exactly one must.
    #[error(
        "machine-config matrix is ambiguous for {query}: entries {} all match; make their machineParams disjoint",
        entries.join(", ")
    )]
    AmbiguousMachineConfig {
        /// The request.
        query: String,
        /// Names of the matching entries, in document order.
        entries: Vec<String>,
    },

    /// A template refers to a variable the rendering context does not have (strict mode).
    #[error("userdata template of matrix entry `{entry}` uses the undefined variable `{variable}`")]
    MissingTemplateVariable {
        /// Name of the entry.
        entry: String,
        /// The variable path as written in the template, e.g. `kubernetes.verison`.
        variable: String,
    },

    /// Rendering a template failed for another reason than a missing variable (a helper got
    /// the wrong type, an unknown helper was used ...).
    #[error("userdata template of matrix entry `{entry}` failed to render")]
    TemplateRender {
        /// Name of the entry.
        entry: String,
        /// The Handlebars render error.
        #[source]
        source: Box<handlebars::RenderError>,
    },

    /// A Kubernetes version or version pattern could not be parsed.
    #[error("`{input}` is not a valid {what}; expected {expected}")]
    InvalidVersion {
        /// The text that was given.
        input: String,
        /// What was being parsed (`Kubernetes version`, `version pattern`).
        what: &'static str,
        /// The accepted forms.
        expected: &'static str,
    },

    /// An input field of a userdata request is not acceptable.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// The field, spelled as in the Rust API (`cluster.name`, `discovery.token`).
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// Serialising generated YAML (cloud-config or kubeadm configuration) failed.
    #[error("could not serialise generated {what} as YAML")]
    Serialize {
        /// What was being serialised.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_saphyr::ser::Error,
    },

    /// The rendered userdata is larger than the limit Equinix Metal accepts. It is never
    /// truncated: shrink the template or the payload, or move large files elsewhere.
    #[error("userdata is {size} bytes, over the limit of {limit} bytes; it is not truncated")]
    UserdataTooLarge {
        /// Size of the rendered userdata in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// An existing bootstrap payload (from a CAPI bootstrap provider) cannot be read or cannot
    /// be extended safely.
    #[error("{format} bootstrap payload cannot be composed: {reason}")]
    InvalidBootstrapPayload {
        /// `cloud-config` or `ignition`.
        format: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// Bootstrap data written for the Go provider uses a Go `text/template` construct outside
    /// the subset the Go provider's templates used (`{{ .key }}` of its five keys and raw
    /// string literals); see [`go_template`](crate::go_template).
    #[error(
        "bootstrap data line {line}, column {column}: unsupported Go template construct `{construct}`: {reason}"
    )]
    UnsupportedGoTemplate {
        /// 1-based line of the action's `{{`.
        line: usize,
        /// 1-based column (in characters) of the action's `{{`.
        column: usize,
        /// The action as written (shortened).
        construct: String,
        /// What is not supported and what is.
        reason: String,
    },

    /// Bootstrap data written for the Go provider uses `{{ .apiKey }}` (the Go provider put
    /// its Metal API token there), but the caller did not opt in to writing the token into
    /// userdata.
    #[error(
        "bootstrap data line {line}, column {column} uses {{{{ .apiKey }}}}, the Metal API token: \
         it is written into userdata only when the manager runs with the explicit opt-in flag; \
         otherwise remove {{{{ .apiKey }}}} from the bootstrap template and give the cloud \
         provider its token through a Secret"
    )]
    GoTemplateApiKeyRefused {
        /// 1-based line of the action's `{{`.
        line: usize,
        /// 1-based column (in characters) of the action's `{{`.
        column: usize,
    },

    /// The Packet additions would overwrite something the original payload already defines
    /// (a file path or a systemd unit name).
    #[error("{format} bootstrap payload already defines {what} `{name}`; refusing to overwrite it")]
    CompositionConflict {
        /// `cloud-config` or `ignition`.
        format: &'static str,
        /// `file` or `systemd unit`.
        what: &'static str,
        /// The conflicting path or name.
        name: String,
    },
}
