//! A clusterctl local repository written by the real `capp-components repository`, in a
//! scratch directory removed on drop.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// The repository directory (the `--out` of `capp-components repository`).
pub(crate) struct Repo(pub(crate) PathBuf);

impl Repo {
    /// Writes the repository of `version`; `label` keeps parallel tests apart.
    pub(crate) fn write(label: &str, version: &str) -> Repo {
        let dir = std::env::temp_dir().join(format!(
            "capp-components-{label}-{}-{version}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_capp-components"))
            .args([
                "repository",
                "--out",
                dir.to_str().unwrap(),
                "--version",
                version,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Repo(dir)
    }

    /// Every file, as a path relative to the repository directory.
    pub(crate) fn files(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut stack = vec![self.0.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&self.0).unwrap();
                    found.insert(rel.to_str().unwrap().to_owned());
                }
            }
        }
        found
    }

    /// The text of the file at `rel`.
    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap()
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
