//! Composition with a bootstrap payload written by any CAPI bootstrap provider.
//!
//! CAPI bootstrap providers (CABPK and others) store the node's payload in the bootstrap
//! Secret (`value`, with `format` `cloud-config` or `ignition`). The infrastructure provider
//! may need to add Equinix Metal specifics before handing it to the device: files, commands
//! that resolve the provider ID and node IP from the Metal metadata service, extra packages.
//! [`compose`] adds a [`PacketAdditions`] without breaking the original:
//!
//! **cloud-config** — the original text is kept byte for byte; only new text is inserted:
//! - additional files are appended to `write_files`, after the original ones;
//! - additional commands are inserted at the *start* of `runcmd`, so they run before the
//!   provider's `kubeadm` command (CABPK's last command also writes the CAPI sentinel);
//! - additional packages are appended to `packages` (those already listed are skipped);
//! - block lists (`- item` lines, at any indentation) get new `- item` lines; flow lists
//!   (`runcmd: ['kubeadm init ...']`) get new items inside the brackets, written as JSON
//!   (valid YAML flow nodes with every string double-quoted);
//! - a missing key is added at the end of the document;
//! - the header (`## template: jinja` and `#cloud-config`) is preserved; with a Jinja header,
//!   additions containing `{{`, `{%` or `{#` are refused because cloud-init would render them.
//!
//! The result is parsed again and checked: every original key keeps its value and every
//! original list item keeps its content and order. Layouts that cannot be extended by
//! inserting text (a scalar `runcmd: echo`, a quoted or indented top-level key) are refused
//! with an error rather than rewritten.
//!
//! **ignition** (spec 2.x or 3.x, version preserved) — files are added to `storage.files`
//! (`data:` URLs, base64), commands go into a script file run by an added oneshot systemd
//! unit ([`ADDITIONS_UNIT`]) ordered before and required by `kubeadm.service`; packages are
//! refused (Ignition cannot install packages). The JSON is re-serialised compactly; object
//! key order may change, content does not.
//!
//! Files or units that already exist in the original are never overwritten
//! ([`Error::CompositionConflict`]). The size limit is checked on the result.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::cloudinit::{RunCmd, WriteFile, check_userdata_size};
use crate::error::{Error, Result};
use crate::userdata::{METAL_IDENTITY_SCRIPT, METAL_IDENTITY_SCRIPT_PATH};

/// Name of the systemd unit added to Ignition payloads to run the additional commands.
pub const ADDITIONS_UNIT: &str = "capp-packet-additions.service";
/// Path of the script holding the additional commands in Ignition payloads.
pub const ADDITIONS_SCRIPT_PATH: &str = "/opt/capp/bin/packet-additions.sh";

/// The format of a bootstrap payload (the bootstrap Secret's `format` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BootstrapFormat {
    /// `cloud-config` (also assumed when `format` is missing or empty, as CAPD does).
    CloudConfig,
    /// `ignition` (JSON, Flatcar and Fedora CoreOS).
    Ignition,
}

impl BootstrapFormat {
    /// Interprets the bootstrap Secret's `format` value.
    pub fn from_secret_format(format: Option<&str>) -> Result<Self> {
        match format.map(str::trim) {
            None | Some("" | "cloud-config") => Ok(Self::CloudConfig),
            Some("ignition") => Ok(Self::Ignition),
            Some(other) => Err(Error::InvalidInput {
                field: "format",
                reason: format!("`{other}` is not `cloud-config` or `ignition`"),
            }),
        }
    }

    /// The CAPI spelling.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CloudConfig => "cloud-config",
            Self::Ignition => "ignition",
        }
    }
}

/// What the Packet provider adds to a foreign bootstrap payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketAdditions {
    /// Files to add.
    pub files: Vec<WriteFile>,
    /// Commands to run before the payload's own commands.
    pub commands: Vec<RunCmd>,
    /// Packages to install (cloud-config only; must be empty for Ignition).
    pub packages: Vec<String>,
}

impl PacketAdditions {
    /// The standard addition: the metadata identity script, run with `--kubelet-extra-args`
    /// so that the kubelet gets `--provider-id=equinixmetal://<uuid>` and `--node-ip` from
    /// `/etc/default/kubelet` even when the payload's kubeadm configuration does not set them.
    /// For cloud-config `curl` and `jq` are added to `packages`; Ignition images (Flatcar)
    /// ship both.
    #[must_use]
    pub fn metal_kubelet_identity(format: BootstrapFormat) -> Self {
        Self {
            files: vec![WriteFile::text(
                METAL_IDENTITY_SCRIPT_PATH,
                "0700",
                METAL_IDENTITY_SCRIPT,
            )],
            commands: vec![RunCmd::argv(&[
                METAL_IDENTITY_SCRIPT_PATH,
                "--kubelet-extra-args",
            ])],
            packages: match format {
                BootstrapFormat::CloudConfig => vec!["curl".to_owned(), "jq".to_owned()],
                BootstrapFormat::Ignition => Vec::new(),
            },
        }
    }

    /// Whether there is nothing to add.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.commands.is_empty() && self.packages.is_empty()
    }
}

/// Adds `additions` to `payload` (see the module documentation) and checks the result
/// against `size_limit` bytes.
pub fn compose(
    payload: &str,
    format: BootstrapFormat,
    additions: &PacketAdditions,
    size_limit: usize,
) -> Result<String> {
    for file in &additions.files {
        file.validate()?;
    }
    let composed = match format {
        BootstrapFormat::CloudConfig => compose_cloud_config(payload, additions)?,
        BootstrapFormat::Ignition => compose_ignition(payload, additions)?,
    };
    check_userdata_size(&composed, size_limit)?;
    Ok(composed)
}

fn cc_error(reason: impl Into<String>) -> Error {
    Error::InvalidBootstrapPayload {
        format: "cloud-config",
        reason: reason.into(),
    }
}

/// How new items are placed relative to the existing ones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Before,
    After,
}

fn compose_cloud_config(payload: &str, additions: &PacketAdditions) -> Result<String> {
    let lines: Vec<&str> = payload.split_inclusive('\n').collect();
    let first = lines.first().map_or("", |l| l.trim_end());
    let (jinja, body_start) = if first == "## template: jinja" {
        (true, 1)
    } else {
        (false, 0)
    };
    if lines.get(body_start).map(|l| l.trim_end()) != Some("#cloud-config") {
        return Err(cc_error(
            "it does not start with `#cloud-config` (optionally after `## template: jinja`)",
        ));
    }
    let body: String = lines[body_start + 1..].concat();
    let original = parse_body(&body)?;

    if jinja {
        let texts = additions
            .files
            .iter()
            .map(|f| String::from_utf8_lossy(f.bytes()).into_owned())
            .chain(additions.commands.iter().map(RunCmd::to_shell))
            .chain(additions.packages.iter().cloned());
        for text in texts {
            if ["{{", "{%", "{#"].iter().any(|d| text.contains(d)) {
                return Err(cc_error(
                    "the payload is a Jinja template and an addition contains Jinja delimiters",
                ));
            }
        }
    }

    let existing_paths: BTreeSet<&str> = original
        .get("write_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("path").and_then(Value::as_str))
        .collect();
    for file in &additions.files {
        if existing_paths.contains(file.path.as_str()) {
            return Err(Error::CompositionConflict {
                format: "cloud-config",
                what: "file",
                name: file.path.clone(),
            });
        }
    }
    let listed: BTreeSet<&str> = original
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let packages: Vec<&String> = additions
        .packages
        .iter()
        .filter(|p| !listed.contains(p.as_str()))
        .collect();

    let mut text = body;
    let mut expected = original.clone();
    let edits: [(&str, Option<Items>, Place); 3] = [
        ("write_files", Items::of(&additions.files)?, Place::After),
        ("packages", Items::of(&packages)?, Place::After),
        ("runcmd", Items::of(&additions.commands)?, Place::Before),
    ];
    for (key, items, place) in edits {
        let Some(items) = items else { continue };
        text = insert_items(&text, key, &items, place, original.contains_key(key))?;
        let ours: Vec<Value> = serde_saphyr::from_str(&items.block)
            .map_err(|_| cc_error("generated items do not parse back"))?;
        let entry = expected.entry(key.to_owned()).or_insert(Value::Null);
        let mut existing = match entry.take() {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => return Err(cc_error(format!("`{key}` is not a list"))),
        };
        let merged = match place {
            Place::After => {
                existing.extend(ours);
                existing
            }
            Place::Before => ours.into_iter().chain(existing).collect(),
        };
        *entry = Value::Array(merged);
    }

    // The self-check: the merged document must read as the original plus our items.
    let merged = parse_body(&text)?;
    if merged != expected {
        return Err(cc_error(
            "inserting the additions would change the original document; its layout is not supported",
        ));
    }
    let mut header = lines[..=body_start].concat();
    if !header.ends_with('\n') {
        header.push('\n');
    }
    Ok(header + &text)
}

fn parse_body(body: &str) -> Result<serde_json::Map<String, Value>> {
    if body.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_saphyr::from_str::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(serde_json::Map::new()),
        Ok(_) => Err(cc_error("the document is not a mapping")),
        Err(_) => Err(cc_error("the document is not valid YAML")),
    }
}

/// The items to add to one list, in the two forms the original list may be written in.
struct Items {
    /// A YAML block sequence at column 0 (`- item` lines).
    block: String,
    /// Each item as a JSON value, which is also a YAML flow node with every string
    /// double-quoted (so YAML 1.1 readers cannot take `yes` or `0755` for something else).
    flow: Vec<String>,
}

impl Items {
    /// The items in both forms, or `None` when there are none.
    fn of<T: serde::Serialize>(items: &[T]) -> Result<Option<Self>> {
        if items.is_empty() {
            return Ok(None);
        }
        let block = crate::yaml::to_string(&items, "cloud-config additions")?;
        let flow = items
            .iter()
            .map(|item| {
                serde_json::to_string(item)
                    .map_err(|_| cc_error("an addition cannot be written as a flow node"))
            })
            .collect::<Result<_>>()?;
        Ok(Some(Self { block, flow }))
    }
}

/// A column-0 line that starts a new top-level key (not a comment, not a sequence item).
fn is_top_level(line: &str) -> bool {
    let first = line.chars().next();
    match first {
        None | Some(' ' | '\t' | '#' | '\n' | '\r') => false,
        Some('-') => {
            let rest = &line[1..];
            !(rest.is_empty() || rest.starts_with([' ', '\n', '\r', '\t']))
        }
        Some(_) => true,
    }
}

/// How a top-level key line is written.
enum KeyForm {
    /// `key:` with the list on the following lines (block sequence, or nothing).
    Block,
    /// `key: [` ... a flow sequence starting on the key line.
    Flow,
}

/// Whether `line` is the top-level key `key:` and how its value is written; a scalar or a
/// flow mapping cannot be extended.
fn key_form(line: &str, key: &str) -> Result<Option<KeyForm>> {
    let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
        return Ok(None);
    };
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(Some(KeyForm::Block))
    } else if rest.starts_with('[') {
        Ok(Some(KeyForm::Flow))
    } else {
        Err(cc_error(format!(
            "`{key}` is not written as a list (found `{key}: {rest}`); only block lists (`- item`) and flow lists (`[..]`) can be extended"
        )))
    }
}

/// Scans the flow sequence whose `[` is at byte `open` of `text` and returns the byte offset
/// of its closing `]`, whether it is empty, and whether its last item ends with a comma.
///
/// Quoted scalars (`'..'` with `''`, `".."` with backslash escapes), nested flow collections
/// and comments are skipped. A quote only opens a quoted scalar at the start of a node, so
/// the apostrophe of a plain scalar such as `echo it's` does not. Anything this scanner gets
/// wrong is caught by the self-check of [`compose_cloud_config`].
fn flow_sequence_end(text: &str, open: usize) -> Option<(usize, bool, bool)> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut last = b'[';
    let mut previous = b' ';
    let mut i = open;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == b']').then_some((i, last == b'[', last == b','));
                }
            }
            b'#' if previous.is_ascii_whitespace() => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                previous = b'\n';
                continue;
            }
            b'\'' | b'"' if matches!(last, b'[' | b'{' | b',' | b':') => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'\\' if c == b'"' => i += 2,
                        b'\'' if c == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
                        q if q == c => break,
                        _ => i += 1,
                    }
                }
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            last = c;
        }
        previous = c;
        i += 1;
    }
    None
}

/// Adds the items to the flow sequence of `key` that starts on line `key_line`, keeping every
/// original byte: before the first item (`Place::Before`) or after the last one.
fn insert_flow(
    lines: &[String],
    key_line: usize,
    key: &str,
    items: &Items,
    place: Place,
) -> Result<String> {
    let text = lines.concat();
    let line_start: usize = lines[..key_line].iter().map(String::len).sum();
    let value_start = line_start + key.len() + 1;
    let open = text[value_start..]
        .find('[')
        .map(|n| value_start + n)
        .ok_or_else(|| cc_error(format!("`{key}` has no `[`")))?;
    let (close, empty, trailing_comma) = flow_sequence_end(&text, open).ok_or_else(|| {
        cc_error(format!(
            "the flow list of `{key}` is not closed by a matching `]`"
        ))
    })?;
    let joined = items.flow.join(", ");
    let (at, insert) = match (place, empty, trailing_comma) {
        (_, true, _) => (open + 1, joined),
        (Place::Before, false, _) => (open + 1, format!("{joined}, ")),
        (Place::After, false, true) => (close, format!(" {joined}")),
        (Place::After, false, false) => (close, format!(", {joined}")),
    };
    Ok(format!("{}{insert}{}", &text[..at], &text[at..]))
}

fn insert_items(
    text: &str,
    key: &str,
    items: &Items,
    place: Place,
    exists: bool,
) -> Result<String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    let mut found = None;
    for (index, line) in lines.iter().enumerate() {
        if let Some(form) = key_form(line, key)? {
            if found.is_some() {
                return Err(cc_error(format!("`{key}` appears more than once")));
            }
            found = Some((index, form));
        }
    }
    let Some((key_line, form)) = found else {
        if exists {
            return Err(cc_error(format!(
                "`{key}` is present but not as an unquoted key at column 0; that layout is not supported"
            )));
        }
        lines.push(format!("{key}:\n"));
        lines.push(items.block.clone());
        return Ok(lines.concat());
    };
    if let KeyForm::Flow = form {
        return insert_flow(&lines, key_line, key, items, place);
    }
    let end = lines[key_line + 1..]
        .iter()
        .position(|l| is_top_level(l))
        .map_or(lines.len(), |p| key_line + 1 + p);
    let block = &lines[key_line + 1..end];
    let first_item = block.iter().find(|l| {
        let t = l.trim_start();
        !t.is_empty() && !t.starts_with('#')
    });
    let indent = match first_item {
        None => 0,
        Some(line) => {
            let trimmed = line.trim_start_matches(' ');
            if !(trimmed.starts_with("- ") || trimmed.trim_end() == "-") {
                return Err(cc_error(format!("`{key}` is not a block list")));
            }
            line.len() - trimmed.len()
        }
    };
    let pad = " ".repeat(indent);
    let indented: String = items
        .block
        .split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.to_owned()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect();
    let at = match place {
        Place::Before => key_line + 1,
        Place::After => {
            // After the last item line of the block, before trailing blank lines and comments.
            let mut at = end;
            while at > key_line + 1 {
                let t = lines[at - 1].trim();
                if t.is_empty() || t.starts_with('#') && lines[at - 1].starts_with('#') {
                    at -= 1;
                } else {
                    break;
                }
            }
            at
        }
    };
    lines.insert(at, indented);
    Ok(lines.concat())
}

fn ign_error(reason: impl Into<String>) -> Error {
    Error::InvalidBootstrapPayload {
        format: "ignition",
        reason: reason.into(),
    }
}

fn compose_ignition(payload: &str, additions: &PacketAdditions) -> Result<String> {
    if !additions.packages.is_empty() {
        return Err(Error::InvalidInput {
            field: "additions.packages",
            reason:
                "Ignition cannot install packages; leave `packages` empty for ignition payloads"
                    .to_owned(),
        });
    }
    let mut doc: Value = serde_json::from_str(payload).map_err(|_| ign_error("it is not JSON"))?;
    let version = doc
        .pointer("/ignition/version")
        .and_then(Value::as_str)
        .ok_or_else(|| ign_error("`ignition.version` is missing"))?
        .to_owned();
    let major = match version.split('.').next() {
        Some("2") => 2,
        Some("3") => 3,
        _ => {
            return Err(ign_error(format!(
                "spec version `{version}` is not 2.x or 3.x"
            )));
        }
    };
    let root = doc
        .as_object_mut()
        .ok_or_else(|| ign_error("it is not a JSON object"))?;

    let mut files = additions.files.clone();
    let unit = (!additions.commands.is_empty()).then(|| {
        let mut script = String::from("#!/bin/bash\n# Written by capp-bootstrap: Equinix Metal node additions.\nset -euo pipefail\n");
        for command in &additions.commands {
            script.push_str(&command.to_shell());
            script.push('\n');
        }
        files.push(WriteFile::text(ADDITIONS_SCRIPT_PATH, "0700", script));
        format!(
            "[Unit]\nDescription=capp Equinix Metal node additions\nWants=network-online.target\nAfter=network-online.target\nBefore=kubeadm.service kubelet.service\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart={ADDITIONS_SCRIPT_PATH}\n\n[Install]\nWantedBy=multi-user.target\nRequiredBy=kubeadm.service\n"
        )
    });

    let storage = object_at(root, "storage")?;
    let list = array_at(storage, "files")?;
    for file in &files {
        if list
            .iter()
            .any(|f| f.get("path").and_then(Value::as_str) == Some(&file.path))
        {
            return Err(Error::CompositionConflict {
                format: "ignition",
                what: "file",
                name: file.path.clone(),
            });
        }
        let (user, group) = file
            .owner
            .split_once(':')
            .unwrap_or((&file.owner, &file.owner));
        let mut entry = json!({
            "path": file.path,
            "mode": file.mode()?,
            "contents": {
                "source": format!("data:;base64,{}", base64::engine::general_purpose::STANDARD.encode(file.bytes())),
            },
            "user": {"name": user},
            "group": {"name": group},
        });
        if major == 2
            && let Some(map) = entry.as_object_mut()
        {
            map.insert("filesystem".to_owned(), json!("root"));
        }
        list.push(entry);
    }
    if let Some(contents) = unit {
        let systemd = object_at(root, "systemd")?;
        let units = array_at(systemd, "units")?;
        if units
            .iter()
            .any(|u| u.get("name").and_then(Value::as_str) == Some(ADDITIONS_UNIT))
        {
            return Err(Error::CompositionConflict {
                format: "ignition",
                what: "systemd unit",
                name: ADDITIONS_UNIT.to_owned(),
            });
        }
        units.push(json!({"name": ADDITIONS_UNIT, "enabled": true, "contents": contents}));
    }
    serde_json::to_string(&doc).map_err(|_| ign_error("it cannot be serialised again"))
}

fn object_at<'a>(
    parent: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Result<&'a mut serde_json::Map<String, Value>> {
    parent
        .entry(key.to_owned())
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| ign_error(format!("`{key}` is not an object")))
}

fn array_at<'a>(
    parent: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Result<&'a mut Vec<Value>> {
    parent
        .entry(key.to_owned())
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(|| ign_error(format!("`{key}` is not a list")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> PacketAdditions {
        PacketAdditions {
            commands: vec![RunCmd::argv(&["echo", "capp"])],
            ..PacketAdditions::default()
        }
    }

    #[test]
    fn a_bare_header_without_newline_gets_a_runcmd_on_its_own_line() {
        let out = compose("#cloud-config", BootstrapFormat::CloudConfig, &echo(), 1024).unwrap();
        assert_eq!(out, "#cloud-config\nruncmd:\n- - echo\n  - capp\n");
    }

    #[test]
    fn crlf_payloads_keep_their_lines() {
        let payload = "#cloud-config\r\nruncmd:\r\n- echo a\r\n";
        let out = compose(payload, BootstrapFormat::CloudConfig, &echo(), 1024).unwrap();
        assert_eq!(
            out,
            "#cloud-config\r\nruncmd:\r\n- - echo\n  - capp\n- echo a\r\n"
        );
    }

    #[test]
    fn an_empty_runcmd_key_is_filled() {
        let payload = "#cloud-config\nruncmd:\nhostname: x\n";
        let out = compose(payload, BootstrapFormat::CloudConfig, &echo(), 1024).unwrap();
        assert_eq!(
            out,
            "#cloud-config\nruncmd:\n- - echo\n  - capp\nhostname: x\n"
        );
    }

    #[test]
    fn a_scalar_runcmd_is_refused() {
        let payload = "#cloud-config\nruncmd: echo a\n";
        let err = compose(payload, BootstrapFormat::CloudConfig, &echo(), 1024).unwrap_err();
        assert!(err.to_string().contains("block list"), "{err}");
    }

    #[test]
    fn a_quoted_runcmd_key_is_refused_rather_than_duplicated() {
        let payload = "#cloud-config\n\"runcmd\":\n- echo a\n";
        let err = compose(payload, BootstrapFormat::CloudConfig, &echo(), 1024).unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[test]
    fn packages_already_listed_are_not_added_twice() {
        let payload = "#cloud-config\npackages:\n- jq\n";
        let extra = PacketAdditions {
            packages: vec!["jq".to_owned(), "curl".to_owned()],
            ..PacketAdditions::default()
        };
        let out = compose(payload, BootstrapFormat::CloudConfig, &extra, 1024).unwrap();
        assert_eq!(out, "#cloud-config\npackages:\n- jq\n- curl\n");
    }

    #[test]
    fn nothing_to_add_leaves_the_payload_byte_for_byte() {
        let payload =
            "## template: jinja\n#cloud-config\nruncmd:\n  - \"echo {{ v1.instance_id }}\"\n";
        let out = compose(
            payload,
            BootstrapFormat::CloudConfig,
            &PacketAdditions::default(),
            1024,
        )
        .unwrap();
        assert_eq!(out, payload);
    }
}
