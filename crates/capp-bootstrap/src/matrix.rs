//! The machine-config matrix: which node setup script serves which OS image and Kubernetes
//! versions.
//!
//! This is the successor of the v0.1.0 Packet provider's `machine_configs.yaml`. A matrix is a
//! YAML document with a list of entries; each entry has a unique `name`, a list of
//! `machineParams` (the image × versions combinations it serves, and the container runtime
//! package to install for them) and one Handlebars `userdata` template that renders the node
//! setup script:
//!
//! ```yaml
//! items:
//! - name: ubuntu_24_04
//!   machineParams:
//!   - image: ubuntu_24_04               # Equinix Metal operating system slug
//!     versions: {kubelet: 1.31.x}       # a worker
//!     containerRuntime: containerd
//!   - image: ubuntu_24_04
//!     versions: {kubelet: 1.31.x, controlPlane: 1.31.x}   # a control-plane node
//!     containerRuntime: containerd
//!   userdata: |
//!     #!/bin/bash
//!     apt-get install -y {{shell_quote runtime_package}}
//! ```
//!
//! Versions are exact (`1.31.4`) or whole minors (`1.31.x`). A control-plane request
//! (kubelet and control-plane versions) only matches params that name both; a worker request
//! only matches params without `controlPlane`, as in the original design.
//!
//! [`MachineConfigMatrix::select`] returns exactly one entry or an error: no match lists
//! everything the matrix offers, an ambiguous match names the entries.
//!
//! The shipped [`MachineConfigMatrix::default_matrix`] covers `ubuntu_22_04`, `ubuntu_24_04`
//! and `debian_12` with Kubernetes 1.31 to 1.34 and containerd, installing Kubernetes from
//! the community repositories at `pkgs.k8s.io`.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::template::TemplateEngine;
use crate::version::{KubernetesVersion, VersionPattern};

/// The YAML source of the default matrix, embedded in the binary.
pub const DEFAULT_MATRIX_YAML: &str = include_str!("default_matrix.yaml");

/// One image × versions combination served by a matrix entry (`machineParams` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineParams {
    /// Equinix Metal operating system slug, e.g. `ubuntu_24_04`.
    pub image: String,
    /// Kubelet versions served.
    pub kubelet: VersionPattern,
    /// Control-plane versions served; `None` for worker params.
    pub control_plane: Option<VersionPattern>,
    /// The container runtime package the template installs (`containerRuntime`).
    pub container_runtime: String,
}

impl MachineParams {
    /// Whether these params serve `query`.
    #[must_use]
    pub fn matches(&self, query: &MachineQuery) -> bool {
        self.image == query.image
            && self.kubelet.matches(&query.kubelet)
            && match (&self.control_plane, &query.control_plane) {
                (None, None) => true,
                (Some(pattern), Some(version)) => pattern.matches(version),
                _ => false,
            }
    }
}

impl fmt::Display for MachineParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} kubelet {}", self.image, self.kubelet)?;
        if let Some(cp) = &self.control_plane {
            write!(f, " controlPlane {cp}")?;
        }
        Ok(())
    }
}

/// One matrix entry: the combinations it serves and its userdata template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineConfig {
    /// Unique entry name, used in errors and in [`crate::RenderedUserdata::entry`].
    pub name: String,
    /// The combinations served (never empty).
    pub params: Vec<MachineParams>,
    /// The Handlebars source of the node setup script.
    pub userdata_template: String,
}

/// What a node needs: its image and versions. Build it from the request you render for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineQuery {
    /// Equinix Metal operating system slug.
    pub image: String,
    /// Kubelet version.
    pub kubelet: KubernetesVersion,
    /// Control-plane version for control-plane nodes, `None` for workers.
    pub control_plane: Option<KubernetesVersion>,
}

impl fmt::Display for MachineQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "image {}, kubelet {}", self.image, self.kubelet)?;
        match &self.control_plane {
            Some(cp) => write!(f, ", control plane {cp}"),
            None => write!(f, ", no control plane (worker)"),
        }
    }
}

/// The result of [`MachineConfigMatrix::select`]: the entry and the params that matched.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The selected entry.
    pub entry: &'a MachineConfig,
    /// The first params of that entry that matched (document order).
    pub params: &'a MachineParams,
}

/// A parsed and validated machine-config matrix with its templates compiled.
#[derive(Debug)]
pub struct MachineConfigMatrix {
    entries: Vec<MachineConfig>,
    engine: TemplateEngine,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    items: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEntry {
    name: String,
    machine_params: Vec<RawParams>,
    userdata: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawParams {
    image: String,
    versions: RawVersions,
    container_runtime: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawVersions {
    kubelet: String,
    control_plane: Option<String>,
}

fn entry_error(entry: &str, reason: impl Into<String>) -> Error {
    Error::InvalidMatrixEntry {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

fn pattern(entry: &str, index: usize, field: &str, text: &str) -> Result<VersionPattern> {
    text.parse().map_err(|_| {
        entry_error(
            entry,
            format!("machineParams[{index}].versions.{field} `{text}` is not `1.31.4` or `1.31.x`"),
        )
    })
}

impl MachineConfigMatrix {
    /// Parses and validates a matrix document and compiles every template.
    ///
    /// Fails on YAML or shape errors, duplicate or empty entry names, entries without
    /// `machineParams`, bad version patterns, empty images or runtime packages, and templates
    /// that do not parse.
    pub fn from_yaml(yaml: &str) -> Result<Self> {
        let raw: RawMatrix = serde_saphyr::from_str(yaml).map_err(Error::MatrixSyntax)?;
        let mut names = BTreeSet::new();
        let mut entries = Vec::with_capacity(raw.items.len());
        let mut engine = TemplateEngine::new();
        for (position, item) in raw.items.into_iter().enumerate() {
            let name = item.name.trim().to_owned();
            if name.is_empty() {
                return Err(entry_error(
                    &format!("items[{position}]"),
                    "`name` is empty; give every entry a unique name",
                ));
            }
            if !names.insert(name.clone()) {
                return Err(entry_error(
                    &name,
                    "the name is used by more than one entry",
                ));
            }
            if item.machine_params.is_empty() {
                return Err(entry_error(
                    &name,
                    "`machineParams` is empty; list what it serves",
                ));
            }
            let mut params = Vec::with_capacity(item.machine_params.len());
            for (index, raw) in item.machine_params.into_iter().enumerate() {
                if raw.image.trim().is_empty() {
                    return Err(entry_error(
                        &name,
                        format!("machineParams[{index}].image is empty"),
                    ));
                }
                if raw.container_runtime.trim().is_empty() {
                    return Err(entry_error(
                        &name,
                        format!("machineParams[{index}].containerRuntime is empty"),
                    ));
                }
                params.push(MachineParams {
                    image: raw.image,
                    kubelet: pattern(&name, index, "kubelet", &raw.versions.kubelet)?,
                    control_plane: raw
                        .versions
                        .control_plane
                        .as_deref()
                        .map(|cp| pattern(&name, index, "controlPlane", cp))
                        .transpose()?,
                    container_runtime: raw.container_runtime,
                });
            }
            engine.register(&name, &item.userdata)?;
            entries.push(MachineConfig {
                name,
                params,
                userdata_template: item.userdata,
            });
        }
        Ok(Self { entries, engine })
    }

    /// The shipped matrix ([`DEFAULT_MATRIX_YAML`]): `ubuntu_22_04`, `ubuntu_24_04` and
    /// `debian_12` × Kubernetes 1.31 – 1.34 with containerd and `pkgs.k8s.io` packages.
    pub fn default_matrix() -> Result<Self> {
        Self::from_yaml(DEFAULT_MATRIX_YAML)
    }

    /// The entries in document order.
    #[must_use]
    pub fn entries(&self) -> &[MachineConfig] {
        &self.entries
    }

    /// Selects the single entry serving `query`.
    ///
    /// Returns [`Error::NoMatchingMachineConfig`] (listing every combination offered) when no
    /// entry matches and [`Error::AmbiguousMachineConfig`] (naming the entries) when more
    /// than one does. Inside one entry the first matching params win; if several params of
    /// the one matching entry disagree on the runtime package that is ambiguous too.
    pub fn select(&self, query: &MachineQuery) -> Result<Selection<'_>> {
        let mut matching: Vec<(&MachineConfig, Vec<&MachineParams>)> = Vec::new();
        for entry in &self.entries {
            let params: Vec<_> = entry.params.iter().filter(|p| p.matches(query)).collect();
            if !params.is_empty() {
                matching.push((entry, params));
            }
        }
        match matching.as_slice() {
            [] => Err(Error::NoMatchingMachineConfig {
                query: query.to_string(),
                available: self
                    .entries
                    .iter()
                    .flat_map(|e| e.params.iter().map(move |p| format!("{}: {p}", e.name)))
                    .collect(),
            }),
            [(entry, params)] => {
                let first = params[0];
                if params
                    .iter()
                    .any(|p| p.container_runtime != first.container_runtime)
                {
                    return Err(Error::AmbiguousMachineConfig {
                        query: query.to_string(),
                        entries: params
                            .iter()
                            .map(|p| format!("{} ({p}: {})", entry.name, p.container_runtime))
                            .collect(),
                    });
                }
                Ok(Selection {
                    entry,
                    params: first,
                })
            }
            several => Err(Error::AmbiguousMachineConfig {
                query: query.to_string(),
                entries: several.iter().map(|(e, _)| e.name.clone()).collect(),
            }),
        }
    }

    /// Renders the userdata template of the entry named `entry` with `context` (strict mode,
    /// no escaping). [`crate::render_userdata`] does this with the context described in
    /// [`crate::userdata`]; this is for callers that build their own context.
    ///
    /// ```
    /// use capp_bootstrap::MachineConfigMatrix;
    /// let matrix = MachineConfigMatrix::from_yaml(
    ///     "items:\n- name: tiny\n  machineParams:\n  - image: debian_12\n    versions: {kubelet: 1.31.x}\n    containerRuntime: containerd\n  userdata: 'apt-get install -y {{shell_quote runtime_package}}'\n",
    /// )?;
    /// let script = matrix.render_template("tiny", &serde_json::json!({"runtime_package": "containerd"}))?;
    /// assert_eq!(script, "apt-get install -y containerd");
    /// assert!(matrix.render_template("tiny", &serde_json::json!({})).is_err());
    /// # Ok::<(), capp_bootstrap::Error>(())
    /// ```
    pub fn render_template(&self, entry: &str, context: &serde_json::Value) -> Result<String> {
        self.engine.render(entry, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ENTRIES: &str = r"
items:
- name: jammy
  machineParams:
  - image: ubuntu_22_04
    versions: {kubelet: 1.31.x}
    containerRuntime: containerd
  - image: ubuntu_22_04
    versions: {kubelet: 1.31.x, controlPlane: 1.31.x}
    containerRuntime: containerd
  userdata: 'echo {{runtime_package}}'
- name: jammy-pinned
  machineParams:
  - image: ubuntu_22_04
    versions: {kubelet: 1.31.4}
    containerRuntime: containerd=1.7.12-0ubuntu2
  userdata: 'echo pinned'
";

    fn query(image: &str, kubelet: &str, cp: Option<&str>) -> MachineQuery {
        MachineQuery {
            image: image.to_owned(),
            kubelet: kubelet.parse().unwrap(),
            control_plane: cp.map(|c| c.parse().unwrap()),
        }
    }

    #[test]
    fn a_control_plane_request_selects_params_with_both_versions() {
        let m = MachineConfigMatrix::from_yaml(TWO_ENTRIES).unwrap();
        let s = m
            .select(&query("ubuntu_22_04", "1.31.2", Some("1.31.2")))
            .unwrap();
        assert_eq!(s.entry.name, "jammy");
        assert!(s.params.control_plane.is_some());
    }

    #[test]
    fn an_unserved_request_lists_what_the_matrix_offers() {
        let m = MachineConfigMatrix::from_yaml(TWO_ENTRIES).unwrap();
        let err = m
            .select(&query("debian_12", "1.31.2", None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("image debian_12, kubelet 1.31.2"), "{err}");
        assert!(
            err.contains("jammy: ubuntu_22_04 kubelet 1.31.x controlPlane 1.31.x"),
            "{err}"
        );
        assert!(
            err.contains("jammy-pinned: ubuntu_22_04 kubelet 1.31.4"),
            "{err}"
        );
    }

    #[test]
    fn overlapping_entries_are_reported_by_name() {
        let m = MachineConfigMatrix::from_yaml(TWO_ENTRIES).unwrap();
        let err = m
            .select(&query("ubuntu_22_04", "1.31.4", None))
            .unwrap_err();
        match err {
            Error::AmbiguousMachineConfig { entries, .. } => {
                assert_eq!(entries, ["jammy", "jammy-pinned"]);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn duplicate_entry_names_are_rejected() {
        let yaml = TWO_ENTRIES.replace("jammy-pinned", "jammy");
        let err = MachineConfigMatrix::from_yaml(&yaml)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`jammy`") && err.contains("more than one entry"),
            "{err}"
        );
    }

    #[test]
    fn a_bare_minor_version_in_the_matrix_is_rejected_with_the_fix() {
        let yaml = TWO_ENTRIES.replace("kubelet: 1.31.4", "kubelet: 1.31");
        let err = MachineConfigMatrix::from_yaml(&yaml)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("machineParams[0].versions.kubelet `1.31`"),
            "{err}"
        );
        assert!(err.contains("1.31.x"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let yaml = TWO_ENTRIES.replace(
            "containerRuntime: containerd\n",
            "containerRuntim: containerd\n",
        );
        assert!(matches!(
            MachineConfigMatrix::from_yaml(&yaml),
            Err(Error::MatrixSyntax(_))
        ));
    }

    #[test]
    fn a_template_that_does_not_parse_names_its_entry() {
        let yaml = TWO_ENTRIES.replace("echo pinned", "echo {{#if}}");
        let err = MachineConfigMatrix::from_yaml(&yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`jammy-pinned`"), "{err}");
    }

    #[test]
    fn the_default_matrix_serves_every_supported_os_and_minor() {
        let m = MachineConfigMatrix::default_matrix().unwrap();
        for image in ["ubuntu_22_04", "ubuntu_24_04", "debian_12"] {
            for minor in 31..=34 {
                let v = format!("1.{minor}.3");
                let worker = m.select(&query(image, &v, None)).unwrap();
                let cp = m.select(&query(image, &v, Some(&v))).unwrap();
                assert_eq!(worker.entry.name, cp.entry.name);
                assert_eq!(worker.params.container_runtime, "containerd");
            }
            assert!(m.select(&query(image, "1.30.5", None)).is_err());
            assert!(m.select(&query(image, "1.35.0", None)).is_err());
        }
    }
}
