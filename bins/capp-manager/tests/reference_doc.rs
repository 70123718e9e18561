//! `docs/reference.md` against the code it describes: the test fails when the reference
//! misses a CRD field path, a manager flag, a condition or event reason or a metric the code
//! defines, and when it documents one that no longer exists.
//!
//! Sources of truth:
//! - CRD fields: the schemas of `capp_api::crds()` and `capp_api::bootstrap::crds()`;
//! - flags: the real `capp-manager --help` (and `--help` of each subcommand it lists);
//! - metrics: the exposition of `capp_reconcile::metrics::Metrics` with every family fed;
//! - reasons and events: the string constants and literals of their declaring modules
//!   (`capp_api::conditions`, `capp_api::bootstrap` and the non-test sources of
//!   capp-reconcile), read as source text, since Rust cannot enumerate constants;
//! - environment variables: the `env::var("...")` reads and `*_ENV` constants of the
//!   capp-manager and capp-reconcile sources.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use capp_packet::{CallStats, StatusClass};
use capp_reconcile::metrics::Metrics;
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn reference() -> String {
    let path = workspace_root().join("docs/reference.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One table row of the reference, with the headings it sits under.
#[derive(Debug)]
struct Row {
    h2: String,
    h3: String,
    cells: Vec<String>,
}

/// A heading's text without `#`, backticks and surrounding blanks.
fn heading_text(line: &str) -> String {
    line.trim_start_matches('#')
        .replace('`', "")
        .trim()
        .to_owned()
}

/// Every table row (header and separator rows excluded) with its `##` and `###` headings.
fn rows(doc: &str) -> Vec<Row> {
    let (mut h2, mut h3) = (String::new(), String::new());
    let mut out = Vec::new();
    let mut in_code = false;
    let mut header_next = true;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(rest) = line.strip_prefix("## ") {
            h2 = heading_text(rest);
            h3.clear();
        } else if let Some(rest) = line.strip_prefix("### ") {
            h3 = heading_text(rest);
        }
        if !line.starts_with('|') {
            header_next = true;
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        let separator = cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')));
        if header_next || separator {
            header_next = false;
            continue;
        }
        out.push(Row {
            h2: h2.clone(),
            h3: h3.clone(),
            cells,
        });
    }
    out
}

/// The backticked spans of a cell.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CRD fields

/// Every property path under a schema: `a.b`, array items as `a[]`, map values as `a.*`.
/// Item and value schemas of scalars (`tags[]`, `labels.*`) are described by their parent's
/// row, so only paths that are not such a leaf-of-a-collection are kept.
fn schema_paths(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if !prefix.is_empty() && !prefix.ends_with("[]") && !prefix.ends_with(".*") {
        out.insert(prefix.to_owned());
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            schema_paths(sub, &path, out);
        }
    }
    if let Some(items) = schema.get("items") {
        schema_paths(items, &format!("{prefix}[]"), out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        schema_paths(values, &format!("{prefix}.*"), out);
    }
}

/// Field paths per kind (every served version), without the `apiVersion`, `kind` and
/// `metadata` every object has.
fn crd_paths() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for crd in capp_api::crds()
        .into_iter()
        .chain(capp_api::bootstrap::crds())
    {
        let kind = crd.spec.names.kind.clone();
        let json = serde_json::to_value(&crd).unwrap();
        let mut paths = BTreeSet::new();
        for version in json["spec"]["versions"].as_array().unwrap() {
            let root = &version["schema"]["openAPIV3Schema"];
            assert!(root.is_object(), "{kind}: a version without a schema");
            schema_paths(root, "", &mut paths);
        }
        paths.retain(|p| {
            let top = p.split(['.', '[']).next().unwrap_or_default();
            !matches!(top, "apiVersion" | "kind" | "metadata")
        });
        out.insert(kind, paths);
    }
    out
}

/// The kind whose `spec` a template kind embeds under `spec.template.spec`.
fn templated_kind(kind: &str) -> Option<&str> {
    kind.strip_suffix("Template")
}

#[test]
fn every_crd_field_is_documented_and_every_documented_field_exists() {
    let doc = reference();
    let rows = rows(&doc);
    let kinds = crd_paths();
    assert_eq!(kinds.len(), 6, "expected six kinds: {:?}", kinds.keys());
    let mut problems = Vec::new();
    for (kind, paths) in &kinds {
        let documented: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.h2 == "CRD fields" && r.h3 == *kind)
            .filter_map(|r| code_spans(&r.cells[0]).into_iter().next())
            .collect();
        if documented.is_empty() {
            problems.push(format!(
                "{kind}: no `### {kind}` table under `## CRD fields`"
            ));
            continue;
        }
        // A template documents `spec.template.spec` once and points at its kind's `spec`:
        // hold the two subtrees equal so that pointer stays true.
        let mut required = paths.clone();
        if let Some(base) = templated_kind(kind) {
            let embedded: BTreeSet<String> = paths
                .iter()
                .filter_map(|p| p.strip_prefix("spec.template.spec."))
                .map(|p| format!("spec.{p}"))
                .collect();
            let base_spec: BTreeSet<String> = kinds[base]
                .iter()
                .filter(|p| p.starts_with("spec."))
                .cloned()
                .collect();
            if embedded != base_spec {
                problems.push(format!(
                    "{kind}: spec.template.spec differs from {base} spec in {:?}; \
                     document the template's fields in its own table",
                    embedded
                        .symmetric_difference(&base_spec)
                        .collect::<Vec<_>>(),
                ));
            }
            required.retain(|p| !p.starts_with("spec.template.spec."));
        }
        for path in &required {
            if !documented.contains(path) {
                problems.push(format!(
                    "{kind}: field `{path}` is not in docs/reference.md (### {kind})"
                ));
            }
        }
        for path in &documented {
            if !required.contains(path) {
                problems.push(format!(
                    "{kind}: docs/reference.md documents `{path}`, which the CRD does not have"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Flags

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "capp-manager {args:?} --help failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of a `--help` section (`Options:`, `Commands:`) up to the next section.
fn help_section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|l| l.trim() != title)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// The flags clap lists (`--name`, `-v`), without `--help` and `--version`.
fn flags_of(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help_section(help, "Options:") {
        let line = line.trim();
        if !line.starts_with('-') {
            continue;
        }
        for token in line.split([',', ' ']).filter(|t| t.starts_with('-')) {
            let name = token
                .split(['=', '<', '.', '['])
                .next()
                .unwrap_or_default()
                .to_owned();
            if !matches!(name.as_str(), "-h" | "--help" | "-V" | "--version" | "") {
                flags.insert(name);
            }
        }
    }
    flags
}

/// The subcommands clap lists, without `help`.
fn subcommands_of(help: &str) -> Vec<String> {
    help_section(help, "Commands:")
        .into_iter()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_help_parser_finds_the_flags_capp_manager_is_known_to_have() {
    let flags = flags_of(&help(&[]));
    for flag in ["--kubeconfig", "--metal-api-key-in-userdata", "-v"] {
        assert!(flags.contains(flag), "{flag} not found in {flags:?}");
    }
    assert!(
        !flags.contains("--time-scale"),
        "hidden flags are not listed"
    );
}

#[test]
fn every_manager_flag_is_documented_and_every_documented_flag_exists() {
    let doc = reference();
    let rows = rows(&doc);
    let top = help(&[]);
    let mut commands = BTreeMap::new();
    commands.insert("capp-manager".to_owned(), flags_of(&top));
    for sub in subcommands_of(&top) {
        commands.insert(format!("capp-manager {sub}"), flags_of(&help(&[&sub])));
    }
    let mut problems = Vec::new();
    let documented_commands: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.h2 == "Command line" && r.h3.starts_with("capp-manager"))
        .map(|r| r.h3.as_str())
        .collect();
    for command in &documented_commands {
        if !commands.contains_key(*command) {
            problems.push(format!(
                "docs/reference.md documents `{command}`, which the binary does not have"
            ));
        }
    }
    for (command, flags) in &commands {
        let documented: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.h2 == "Command line" && r.h3 == *command)
            .filter_map(|r| code_spans(&r.cells[0]).into_iter().next())
            .filter(|f| f.starts_with('-'))
            .collect();
        for flag in flags {
            if !documented.contains(flag) {
                problems.push(format!(
                    "`{command} {flag}` is not in docs/reference.md (### `{command}` under ## Command line)"
                ));
            }
        }
        for flag in &documented {
            if !flags.contains(flag) {
                problems.push(format!(
                    "docs/reference.md documents `{command} {flag}`, which `{command} --help` does not list"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// Metric families of a fed `Metrics`: sample name as a user queries it -> label names.
fn metric_families() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = Metrics::default();
    metrics.reconciled("packetmachine", 0.01);
    metrics.failed("packetmachine", "RateLimited");
    metrics.set_stats_source(Arc::new(|| CallStats {
        attempts: BTreeMap::from([(("createDevice", StatusClass::Success), 1)]),
        throttled: 1,
        ..CallStats::default()
    }));
    metrics.set_device_source(Arc::new(|| vec![("active".to_owned(), 1)]));
    metrics.conversion_review(capp_reconcile::metrics::ConversionResult::Success);
    let text = metrics.render();
    let mut families = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
        let sample = match kind {
            "counter" => format!("{name}_total"),
            _ => name.to_owned(),
        };
        let labels: BTreeSet<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with(['{', ' ', '_']))
            })
            .filter_map(|l| l.split_once('{').and_then(|(_, r)| r.split_once('}')))
            .flat_map(|(labels, _)| labels.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
            .filter(|k| k != "le")
            .collect();
        families.insert(sample, labels);
    }
    families
}

#[test]
fn every_metric_is_documented_with_its_labels_and_every_documented_metric_exists() {
    let doc = reference();
    let rows = rows(&doc);
    let families = metric_families();
    assert!(
        families.len() >= 7,
        "the metrics exposition lost families: {families:?}"
    );
    let documented: BTreeMap<String, &Row> = rows
        .iter()
        .filter(|r| r.h2 == "Metrics")
        .filter_map(|r| Some((code_spans(&r.cells[0]).into_iter().next()?, r)))
        .collect();
    let mut problems = Vec::new();
    for (name, labels) in &families {
        let Some(row) = documented.get(name) else {
            problems.push(format!(
                "metric `{name}` is not in docs/reference.md (## Metrics)"
            ));
            continue;
        };
        let listed: BTreeSet<String> = row.cells.iter().flat_map(|c| code_spans(c)).collect();
        for label in labels {
            if !listed.contains(label) {
                problems.push(format!(
                    "metric `{name}`: label `{label}` is not in its docs/reference.md row"
                ));
            }
        }
    }
    for name in documented.keys() {
        if !families.contains_key(name) {
            problems.push(format!(
                "docs/reference.md documents metric `{name}`, which the manager does not export"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Conditions, reasons and events

/// CamelCase string literals of non-test Rust source: comments dropped, and the source cut
/// at its inline test module (`#[cfg(test)]` followed by `mod name {`).
fn camel_case_literals(source: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = source.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| {
            w[0].trim() == "#[cfg(test)]"
                && w[1].trim_start().starts_with("mod ")
                && w[1].trim_end().ends_with('{')
        })
        .unwrap_or(lines.len());
    let mut out = BTreeSet::new();
    for line in &lines[..end] {
        let line = line.split("//").next().unwrap_or_default();
        for (i, piece) in line.split('"').enumerate() {
            let camel = piece.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && piece.chars().all(|c| c.is_ascii_alphanumeric());
            if i % 2 == 1 && camel {
                out.insert(piece.to_owned());
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// CamelCase literals of the reconcile sources and the capp-api reason modules that are not
/// reasons: kind names, event actions, `Debug` names, log lines, kubeadm kinds.
const NOT_REASONS: &[&str] = &[
    "Account",
    "Accounts",
    "Age",
    "Bootstrap",
    "BootstrapContext",
    "Cluster",
    "Context",
    "Create",
    "InitConfiguration",
    "JoinConfiguration",
    "Machine",
    "Metrics",
    "PacketCluster",
    "PacketKubeadmConfig",
    "PacketKubeadmConfigStatus",
    "PacketKubeadmConfigTemplate",
    "PacketMachine",
    "Reconcile",
    "Secret",
    "Stopped",
];

/// Every condition type, condition reason, failure reason and event reason the provider
/// can write.
fn reasons_in_code() -> BTreeSet<String> {
    let root = workspace_root();
    let mut files = vec![
        root.join("crates/capp-api/src/conditions.rs"),
        root.join("crates/capp-api/src/bootstrap.rs"),
    ];
    rust_files(&root.join("crates/capp-reconcile/src"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        names.extend(camel_case_literals(
            &std::fs::read_to_string(&file).unwrap(),
        ));
    }
    names.retain(|n| !NOT_REASONS.contains(&n.as_str()));
    names
}

#[test]
fn the_reason_scanner_sees_constants_literals_and_error_reasons() {
    let names = reasons_in_code();
    for known in [
        "InstanceReady",
        "DataSecretAvailable",
        "ControlPlaneEndpointSet",
        "RateLimited",
        "WaitingForCreateSlot",
        "NotPaused",
        "CreateError",
    ] {
        assert!(names.contains(known), "{known} not found in {names:?}");
    }
    assert!(!names.contains("PacketMachine"));
}

#[test]
fn every_reason_and_event_is_documented_and_every_documented_one_exists() {
    let doc = reference();
    let rows = rows(&doc);
    let code = reasons_in_code();
    // Cluster API's own condition types and reasons (the Ready summary, Paused) are ours to
    // document where the controllers set them.
    let capi = camel_case_literals(
        &std::fs::read_to_string(workspace_root().join("crates/capi-types/src/conditions.rs"))
            .unwrap(),
    );
    let documented: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.h2 == "Conditions and reasons" || r.h2 == "Events")
        .flat_map(|r| {
            r.cells
                .iter()
                .take(3)
                .flat_map(|c| code_spans(c))
                .collect::<Vec<_>>()
        })
        .filter(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && s.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .collect();
    let mut problems = Vec::new();
    for name in &code {
        if !documented.contains(name) {
            problems.push(format!(
                "`{name}` (a condition, reason or event the code writes) is not in docs/reference.md \
                 (## Conditions and reasons or ## Events); if it is not a reason, add it to NOT_REASONS"
            ));
        }
    }
    for name in &documented {
        if !code.contains(name)
            && !capi.contains(name)
            && !matches!(
                name.as_str(),
                "True" | "False" | "Unknown" | "Info" | "Warning" | "Error" | "Normal"
            )
        {
            problems.push(format!(
                "docs/reference.md documents `{name}`, which no declaring module defines"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Environment variables

/// Variables the manager's own code reads: `env::var("NAME")` and `const X_ENV: &str =
/// "NAME"` in the non-test sources of capp-manager and capp-reconcile.
fn env_vars_in_code() -> BTreeSet<String> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("bins/capp-manager/src"), &mut files);
    rust_files(&root.join("crates/capp-reconcile/src"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for line in source.lines() {
            let line = line.split("//").next().unwrap_or_default();
            let quoted = line.split('"').nth(1).unwrap_or_default();
            let is_name = !quoted.is_empty()
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            let reads = line.contains("env::var(\"")
                || (line.contains("const ") && line.contains("_ENV: &str = \""));
            if is_name && reads {
                names.insert(quoted.to_owned());
            }
        }
    }
    names
}

/// Variables read by libraries on the manager's behalf (kube's `Config::infer`,
/// tracing-subscriber's `EnvFilter::try_from_default_env`), documented with the rest.
const LIBRARY_ENV_VARS: &[&str] = &["KUBECONFIG", "RUST_LOG"];

#[test]
fn every_environment_variable_the_manager_reads_is_documented() {
    let doc = reference();
    let rows = rows(&doc);
    let code = env_vars_in_code();
    assert!(
        code.contains("PACKET_API_KEY") && code.contains("POD_NAMESPACE"),
        "the scanner lost the known variables: {code:?}"
    );
    let documented: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.h2 == "Command line" && r.h3 == "Environment variables")
        .filter(|r| r.cells.get(1).is_some_and(|c| c.contains("`capp-manager`")))
        .flat_map(|r| code_spans(&r.cells[0]))
        .collect();
    let mut problems = Vec::new();
    for name in &code {
        if !documented.contains(name) {
            problems.push(format!(
                "`{name}` (read by capp-manager) is not in docs/reference.md (### Environment variables)"
            ));
        }
    }
    for name in &documented {
        if !code.contains(name) && !LIBRARY_ENV_VARS.contains(&name.as_str()) {
            problems.push(format!(
                "docs/reference.md documents `{name}`, which capp-manager does not read"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
