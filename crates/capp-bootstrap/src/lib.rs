//! Userdata, cloud-init and kubeadm configuration rendering for Cluster API nodes on Equinix
//! Metal (pure: no I/O, no clock, no randomness).
//!
//! The crate is a leaf: certificates, CA hashes, tokens and keys come in as plain strings, so
//! it can be used with any PKI library and by operators other than capp.
//!
//! - [`matrix`]: the machine-config matrix (OS image × Kubernetes versions → runtime package
//!   and setup-script template), exactly-one selection with precise errors, and the shipped
//!   default for `ubuntu_22_04`, `ubuntu_24_04` and `debian_12` × Kubernetes 1.31 – 1.34;
//! - [`template`]: Handlebars in strict mode with HTML escaping off;
//! - [`kubeadm`]: typed `InitConfiguration` / `ClusterConfiguration` / `JoinConfiguration`
//!   in `v1beta3` or `v1beta4`, CA-hash discovery only, `equinixmetal://` provider IDs;
//! - [`cloudinit`]: `#cloud-config` with `write_files`, `runcmd`, the CAPI bootstrap sentinel,
//!   YAML 1.1-safe quoting and the userdata size limit;
//! - [`userdata`]: the whole pipeline for one node ([`render_userdata`]);
//! - [`go_template`]: bootstrap data written for the Go provider, rendered with the subset
//!   of Go's `text/template` it used (`{{ .kubernetesVersion }}`, ``{{ `raw` }}``, ...),
//!   `.apiKey` only with the caller's opt-in;
//! - [`compose`](mod@compose): adding the Packet specifics to a payload from another CAPI bootstrap
//!   provider (`cloud-config` or `ignition`) without breaking it.
//!
//! # Security
//! Userdata on Equinix Metal is served without authentication by the metadata service to
//! anything running on the device, so this crate keeps it as small a secret as it can:
//! - the Equinix Metal API token is never written unless the caller passes
//!   [`MetalApiTokenOptIn`] (the Go provider put it into every control-plane userdata);
//! - joining nodes get a bootstrap token and the CA public-key hash only, never
//!   `unsafeSkipCAVerification`; joining control-plane nodes get the certificate key and fetch
//!   the control-plane certificates encrypted from the cluster;
//! - only the first control-plane node receives CA private keys (kubeadm needs them to run
//!   `init` against an existing PKI, as with CAPI's kubeadm bootstrap provider); callers
//!   should clear the device's userdata once it has bootstrapped;
//! - secrets are [`secrecy::SecretString`]s, and `Debug` of files and rendered userdata shows
//!   sizes, not content.
//!
//! # Example
//! ```
//! use capp_bootstrap::{
//!     render_userdata, ApiEndpoint, ClusterSpec, JoinDiscovery, MachineConfigMatrix, NodeRole,
//!     UserdataRequest,
//! };
//!
//! let matrix = MachineConfigMatrix::default_matrix()?;
//! let cluster = ClusterSpec::new("demo", ApiEndpoint { host: "203.0.113.10".into(), port: 6443 });
//! let discovery = JoinDiscovery {
//!     token: "abcdef.0123456789abcdef".to_owned().into(),
//!     ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
//! };
//! let request = UserdataRequest::new(
//!     "ubuntu_24_04",
//!     "v1.33.2".parse()?,
//!     NodeRole::Worker,
//!     cluster,
//!     discovery,
//! );
//! let userdata = render_userdata(&matrix, &request)?;
//! assert_eq!(userdata.entry, "ubuntu_24_04");
//! assert!(userdata.as_str().starts_with("#cloud-config\n"));
//! assert!(userdata.as_str().contains("https://pkgs.k8s.io/core:/stable:/v1.33/deb/"));
//! assert!(userdata.as_str().contains("/run/cluster-api/bootstrap-success.complete"));
//!
//! // A node the matrix does not serve is a precise error, not a guess.
//! let mut flatcar = request.clone();
//! flatcar.image = "flatcar_stable".into();
//! let err = render_userdata(&matrix, &flatcar).unwrap_err();
//! assert!(err.to_string().contains("no machine-config matrix entry matches image flatcar_stable"));
//! # Ok::<(), capp_bootstrap::Error>(())
//! ```

pub mod cloudinit;
pub mod compose;
mod error;
pub mod go_template;
pub mod inputs;
pub mod kubeadm;
pub mod matrix;
pub mod template;
pub mod userdata;
pub mod version;
mod yaml;

pub use cloudinit::{
    BOOTSTRAP_SENTINEL, CloudConfig, FileContent, METAL_USERDATA_LIMIT, RunCmd, WriteFile,
    check_userdata_size,
};
pub use compose::{BootstrapFormat, PacketAdditions, compose};
pub use error::{Error, Result};
pub use go_template::{GoApiKey, GoMachineInputs, GoTemplateValues, render_go_template};
pub use inputs::{
    ApiEndpoint, CertificateAuthority, ClusterSpec, InitMaterial, JoinDiscovery,
    MetalApiTokenOptIn, NodeIdentity, NodeRole, ServiceAccountKeys,
};
pub use kubeadm::{KubeadmApiVersion, KubeadmInput};
pub use matrix::{MachineConfig, MachineConfigMatrix, MachineParams, MachineQuery, Selection};
pub use template::shell_quote;
pub use userdata::{RenderedUserdata, UserdataRequest, render_userdata};
pub use version::{KubernetesVersion, VersionPattern};
