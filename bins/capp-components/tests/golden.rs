//! Every printed artifact matches its golden file byte for byte (`UPDATE_GOLDEN=1`
//! regenerates them); output is deterministic; the repository holds the same bytes; bad
//! arguments fail with a message naming the argument and the fix.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::{run, stdout};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `rendered` with `tests/golden/<name>`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, rendered: &str) {
    let path = golden_path(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        golden == rendered,
        "{} drifted from the generator; review the diff and run with UPDATE_GOLDEN=1",
        path.display()
    );
}

#[test]
fn provider_components_match_the_golden_file() {
    check_golden("infrastructure-components.yaml", &stdout(&[]));
}

#[test]
fn crds_match_the_golden_file() {
    check_golden("crds.yaml", &stdout(&["crds"]));
}

#[test]
fn metadata_matches_the_golden_file() {
    check_golden("metadata.yaml", &stdout(&["metadata"]));
}

#[test]
fn no_arguments_print_the_same_as_the_components_subcommand_every_time() {
    let first = stdout(&[]);
    assert_eq!(first, stdout(&["components"]));
    assert_eq!(first, stdout(&[]), "output is not deterministic");
}

#[test]
fn the_crds_subcommand_prints_exactly_the_crds_of_the_components() {
    let crds = stdout(&["crds"]);
    assert!(stdout(&[]).contains(&crds));
    assert_eq!(crds.matches("kind: CustomResourceDefinition").count(), 4);
}

#[test]
fn the_repository_holds_the_printed_components_and_metadata() {
    let dir = std::env::temp_dir().join(format!("capp-components-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    stdout(&["repository", "--out", dir.to_str().unwrap()]);
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let release = dir.join("infrastructure-packet").join(&version);
    assert_eq!(
        std::fs::read_to_string(release.join("infrastructure-components.yaml")).unwrap(),
        stdout(&[])
    );
    assert_eq!(
        std::fs::read_to_string(release.join("metadata.yaml")).unwrap(),
        stdout(&["metadata"])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn version_and_image_flags_change_only_the_image_and_the_series() {
    let custom = stdout(&[
        "components",
        "--version",
        "v0.4.2",
        "--image",
        "example.org/capp:dev",
    ]);
    let default = stdout(&[]);
    assert!(custom.contains("image: example.org/capp:dev"));
    let differing: Vec<_> = custom
        .lines()
        .zip(default.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    let metadata = stdout(&["metadata", "--version", "v0.4.2"]);
    assert!(metadata.contains("minor: 4"), "{metadata}");
}

#[test]
fn bad_arguments_fail_with_a_message_naming_the_fix() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["metadata", "--version", "1.0"],
            "write it as vMAJOR.MINOR.PATCH",
        ),
        (&["repository"], "--out"),
        (&["components", "--image", "a b"], "invalid --image"),
        (&["template-of-nothing"], "unrecognized subcommand"),
    ];
    for (args, expected) in cases {
        let out = run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn help_documents_every_subcommand() {
    let help = stdout(&["--help"]);
    for sub in ["components", "crds", "metadata", "repository"] {
        assert!(help.contains(sub), "--help lacks {sub}:\n{help}");
    }
    assert!(stdout(&["repository", "--help"]).contains("clusterctl.yaml"));
}
