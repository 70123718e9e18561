//! The per-environment temporary directory: removed on success, kept when a test panics.

use std::path::{Path, PathBuf};

use rand::Rng as _;

use crate::{Error, Result};

/// A fresh directory under the system temp dir.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub(crate) fn create(prefix: &str) -> Result<Self> {
        let suffix: u64 = rand::rng().random();
        let path = std::env::temp_dir().join(format!("{prefix}-{suffix:016x}"));
        std::fs::create_dir_all(&path).map_err(|source| io(&path, source))?;
        Ok(Self { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in the directory (mode 0600) and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| io(parent, source))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| io(&path, source))?;
        file.write_all(contents.as_bytes())
            .map_err(|source| io(&path, source))?;
        Ok(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "capp-envtest: keeping {} (process logs) because the test failed",
                self.path.display()
            );
        } else {
            // Best effort: a leftover temp dir is harmless.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source,
    }
}
