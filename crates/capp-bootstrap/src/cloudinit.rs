//! `#cloud-config` documents: `write_files`, `runcmd`, `packages`, the CAPI bootstrap sentinel
//! and the Equinix Metal size limit.
//!
//! Documents are typed structs serialised with serde-saphyr, which quotes every string that a
//! YAML 1.1 reader (cloud-init uses PyYAML) would otherwise turn into a boolean, number, null
//! or timestamp: `yes`, `no`, `on`, `off`, `0755`, `1.30`, `~`, `null`, `012` all stay
//! strings. File modes are strings (`'0600'`), never integers.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file a successful bootstrap creates, so that infrastructure providers can tell a node
/// that bootstrapped from one that did not (CAPI bootstrap contract, "Sentinel file").
pub const BOOTSTRAP_SENTINEL: &str = "/run/cluster-api/bootstrap-success.complete";

/// The largest userdata accepted, in bytes: 64 KiB.
///
/// The Equinix Metal API specification (`DeviceCreateInput.userdata`) and documentation give
/// no limit. 64 KiB is the limit of OpenStack Nova (65535 bytes) and of the other
/// EC2-style metadata services whose conventions the Metal metadata service follows; userdata
/// above it is unlikely to be accepted and is a sign that something (binaries, manifests)
/// belongs elsewhere. The limit is a parameter of [`check_userdata_size`] for callers who
/// learn better.
pub const METAL_USERDATA_LIMIT: usize = 64 * 1024;

/// Fails with [`Error::UserdataTooLarge`] (size and limit) when `userdata` is larger than
/// `limit` bytes. Userdata is never truncated.
pub fn check_userdata_size(userdata: &str, limit: usize) -> Result<()> {
    if userdata.len() > limit {
        return Err(Error::UserdataTooLarge {
            size: userdata.len(),
            limit,
        });
    }
    Ok(())
}

/// The content of a file written by cloud-init. `Debug` shows only the size.
#[derive(Clone, PartialEq, Eq)]
pub enum FileContent {
    /// UTF-8 text, written as a YAML string (a literal block when it has several lines).
    Text(String),
    /// Arbitrary bytes, written base64-encoded with `encoding: b64`.
    Binary(Vec<u8>),
}

/// One `write_files` item.
///
/// `Debug` shows the path, owner, mode and content size but never the content, which may be a
/// private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WireWriteFile", try_from = "WireWriteFile")]
pub struct WriteFile {
    /// Absolute path on the node.
    pub path: String,
    /// The content.
    pub content: FileContent,
    /// `user:group`, e.g. `root:root`.
    pub owner: String,
    /// Octal mode as a string, e.g. `0644` (a string so that YAML 1.1 cannot read it as a
    /// number).
    pub permissions: String,
}

impl fmt::Debug for FileContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(t) => write!(f, "Text(<{} bytes>)", t.len()),
            Self::Binary(b) => write!(f, "Binary(<{} bytes>)", b.len()),
        }
    }
}

impl fmt::Debug for WriteFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, len) = match &self.content {
            FileContent::Text(t) => ("text", t.len()),
            FileContent::Binary(b) => ("binary", b.len()),
        };
        f.debug_struct("WriteFile")
            .field("path", &self.path)
            .field("owner", &self.owner)
            .field("permissions", &self.permissions)
            .field("content", &format_args!("<{len} bytes of {kind}>"))
            .finish()
    }
}

impl WriteFile {
    /// A text file owned by `root:root` with mode `permissions`.
    #[must_use]
    pub fn text(path: impl Into<String>, permissions: &str, content: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Text(content.into()),
            owner: "root:root".to_owned(),
            permissions: permissions.to_owned(),
        }
    }

    /// A binary file owned by `root:root` with mode `permissions` (written with `encoding: b64`).
    #[must_use]
    pub fn binary(path: impl Into<String>, permissions: &str, content: Vec<u8>) -> Self {
        Self {
            path: path.into(),
            content: FileContent::Binary(content),
            owner: "root:root".to_owned(),
            permissions: permissions.to_owned(),
        }
    }

    /// The mode as a number (`0644` → `0o644`), after validation.
    pub fn mode(&self) -> Result<u32> {
        let digits = self
            .permissions
            .strip_prefix("0o")
            .unwrap_or(&self.permissions);
        let valid =
            (3..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
        if !valid {
            return Err(Error::InvalidInput {
                field: "write_files.permissions",
                reason: format!(
                    "`{}` of `{}` is not an octal mode such as `0644`",
                    self.permissions, self.path
                ),
            });
        }
        u32::from_str_radix(digits, 8).map_err(|_| Error::InvalidInput {
            field: "write_files.permissions",
            reason: format!("`{}` is not an octal mode", self.permissions),
        })
    }

    /// The content as bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        match &self.content {
            FileContent::Text(t) => t.as_bytes(),
            FileContent::Binary(b) => b,
        }
    }

    /// Checks the path (absolute, no `..`, no control characters), owner and mode.
    pub fn validate(&self) -> Result<()> {
        let path_ok = self.path.starts_with('/')
            && !self.path.split('/').any(|part| part == "..")
            && !self.path.chars().any(char::is_control);
        if !path_ok {
            return Err(Error::InvalidInput {
                field: "write_files.path",
                reason: format!(
                    "`{}` is not a clean absolute path",
                    self.path.escape_debug()
                ),
            });
        }
        let owner_ok = !self.owner.is_empty()
            && self.owner.split(':').count() <= 2
            && self.owner.split(':').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            });
        if !owner_ok {
            return Err(Error::InvalidInput {
                field: "write_files.owner",
                reason: format!(
                    "`{}` of `{}` is not `user` or `user:group`",
                    self.owner.escape_debug(),
                    self.path
                ),
            });
        }
        self.mode().map(drop)
    }
}

/// The serialised shape of a `write_files` item; field order is the emitted order.
#[derive(Serialize, Deserialize)]
struct WireWriteFile {
    path: String,
    owner: String,
    permissions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    content: String,
}

impl From<WriteFile> for WireWriteFile {
    fn from(file: WriteFile) -> Self {
        let (encoding, content) = match file.content {
            FileContent::Text(text) => (None, text),
            FileContent::Binary(bytes) => (
                Some("b64".to_owned()),
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ),
        };
        Self {
            path: file.path,
            owner: file.owner,
            permissions: file.permissions,
            encoding,
            content,
        }
    }
}

impl TryFrom<WireWriteFile> for WriteFile {
    type Error = String;

    fn try_from(wire: WireWriteFile) -> Result<Self, String> {
        let content = match wire.encoding.as_deref() {
            None | Some("text/plain") => FileContent::Text(wire.content),
            Some("b64" | "base64") => FileContent::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(wire.content.as_bytes())
                    .map_err(|e| format!("content of `{}` is not base64: {e}", wire.path))?,
            ),
            Some(other) => return Err(format!("unsupported encoding `{other}`")),
        };
        Ok(Self {
            path: wire.path,
            content,
            owner: wire.owner,
            permissions: wire.permissions,
        })
    }
}

/// One `runcmd` item: a shell line, or an argument vector that cloud-init quotes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunCmd {
    /// A line of `sh` (may use `&&`, redirections ...).
    Shell(String),
    /// A command and its arguments, run without shell interpretation of the arguments.
    Argv(Vec<String>),
}

impl RunCmd {
    /// An argument vector from string slices.
    #[must_use]
    pub fn argv(args: &[&str]) -> Self {
        Self::Argv(args.iter().map(|&a| a.to_owned()).collect())
    }

    /// The command as one shell line (arguments quoted with [`crate::shell_quote`]).
    #[must_use]
    pub fn to_shell(&self) -> String {
        match self {
            Self::Shell(line) => line.clone(),
            Self::Argv(args) => args
                .iter()
                .map(|a| crate::template::shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// The `runcmd` item that makes a failing command stop the rest of the list.
///
/// cloud-init writes all `runcmd` items into one `sh` script; with `set -e` first, a failure
/// ends the script, so the sentinel (the last item) is only written after a successful run.
#[must_use]
pub fn stop_on_error() -> RunCmd {
    RunCmd::Shell("set -e".to_owned())
}

/// The `runcmd` item that writes [`BOOTSTRAP_SENTINEL`].
#[must_use]
pub fn write_sentinel() -> RunCmd {
    RunCmd::Shell(format!(
        "mkdir -p /run/cluster-api && echo success > {BOOTSTRAP_SENTINEL}"
    ))
}

/// A `#cloud-config` document with the keys this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    /// Packages cloud-init installs before `runcmd` (`packages`), omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Files written before `runcmd` runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_files: Vec<WriteFile>,
    /// Commands run once, in order, late in the first boot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runcmd: Vec<RunCmd>,
}

impl CloudConfig {
    /// Validates the files and serialises the document with its `#cloud-config` header.
    pub fn to_userdata(&self) -> Result<String> {
        for file in &self.write_files {
            file.validate()?;
        }
        let body = crate::yaml::to_string(self, "cloud-config")?;
        Ok(format!("#cloud-config\n{body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_lookalike_strings_are_quoted() {
        let tricky = [
            "yes",
            "no",
            "on",
            "off",
            "0755",
            "1.30",
            "~",
            "null",
            "012",
            "y",
            "n",
            "True",
            "0x1F",
            "1e3",
            "12:30:45",
            "2001-12-14",
            ".inf",
            "1_000",
        ];
        let config = CloudConfig {
            packages: tricky.iter().map(|&s| s.to_owned()).collect(),
            ..CloudConfig::default()
        };
        let yaml = config.to_userdata().unwrap();
        for s in tricky {
            assert!(
                yaml.contains(&format!("- \"{s}\"\n")) || yaml.contains(&format!("- '{s}'\n")),
                "{s} unquoted in\n{yaml}"
            );
        }
    }

    #[test]
    fn modes_are_written_as_quoted_strings() {
        let config = CloudConfig {
            write_files: vec![WriteFile::text("/etc/x", "0755", "x\n")],
            ..CloudConfig::default()
        };
        let yaml = config.to_userdata().unwrap();
        assert_eq!(
            yaml,
            "#cloud-config\nwrite_files:\n- path: /etc/x\n  owner: root:root\n  permissions: \"0755\"\n  content: |\n    x\n"
        );
    }

    #[test]
    fn binary_files_are_base64_with_the_encoding_set() {
        let file = WriteFile::binary("/opt/blob", "0600", vec![0, 159, 146, 150, 255]);
        let config = CloudConfig {
            write_files: vec![file.clone()],
            ..CloudConfig::default()
        };
        let yaml = config.to_userdata().unwrap();
        assert!(
            yaml.contains("  encoding: b64\n  content: AJ+Slv8=\n"),
            "{yaml}"
        );
        let back: CloudConfig =
            serde_saphyr::from_str(yaml.trim_start_matches("#cloud-config\n")).unwrap();
        assert_eq!(back.write_files, vec![file]);
    }

    #[test]
    fn bad_modes_paths_and_owners_are_rejected() {
        for (file, field) in [
            (WriteFile::text("/etc/x", "755x", ""), "permissions"),
            (WriteFile::text("/etc/x", "0855", ""), "permissions"),
            (WriteFile::text("etc/x", "0644", ""), "path"),
            (WriteFile::text("/etc/../x", "0644", ""), "path"),
            (
                WriteFile {
                    owner: "root root".to_owned(),
                    ..WriteFile::text("/x", "0644", "")
                },
                "owner",
            ),
        ] {
            let config = CloudConfig {
                write_files: vec![file],
                ..CloudConfig::default()
            };
            let err = config.to_userdata().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        assert_eq!(WriteFile::text("/x", "0640", "").mode().unwrap(), 0o640);
    }

    #[test]
    fn file_content_is_not_in_debug_output() {
        let file = WriteFile::text(
            "/etc/kubernetes/pki/ca.key",
            "0600",
            "-----BEGIN PRIVATE KEY-----secret",
        );
        let debug = format!("{file:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("ca.key"), "{debug}");
    }

    #[test]
    fn oversized_userdata_is_rejected_with_size_and_limit() {
        assert!(check_userdata_size("abc", 3).is_ok());
        let err = check_userdata_size("abcd", 3).unwrap_err();
        assert!(matches!(err, Error::UserdataTooLarge { size: 4, limit: 3 }));
        assert!(err.to_string().contains("4 bytes") && err.to_string().contains("3 bytes"));
    }

    #[test]
    fn argv_commands_become_quoted_shell_lines() {
        assert_eq!(
            RunCmd::argv(&["echo", "a b", "c"]).to_shell(),
            "echo 'a b' c"
        );
    }
}
