//! A clusterctl local repository (`file://` provider URL):
//!
//! ```text
//! DIR/clusterctl.yaml
//! DIR/infrastructure-packet/<version>/infrastructure-components.yaml
//! DIR/infrastructure-packet/<version>/metadata.yaml
//! DIR/infrastructure-packet/<version>/cluster-template[-FLAVOR].yaml   (every flavor)
//! ```
//!
//! so that `clusterctl init --config DIR/clusterctl.yaml --infrastructure packet` installs it.
//! clusterctl requires the URL path to be absolute and its directory to be named after the
//! provider's `ManifestLabel` (`cmd/clusterctl/client/repository/repository_local.go`).

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::templates::FLAVORS;
use crate::{
    COMPONENTS_FILE, Error, METADATA_FILE, PROVIDER_LABEL, PROVIDER_NAME, Release, Result,
};

/// The clusterctl configuration file written next to the repository.
pub const CONFIG_FILE: &str = "clusterctl.yaml";

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

/// The `clusterctl.yaml` pointing clusterctl at `components` (an absolute path).
pub fn config(components: &Path) -> Result<String> {
    crate::to_yaml(&[json!({
        "providers": [{
            "name": PROVIDER_NAME,
            "type": "InfrastructureProvider",
            "url": format!("file://{}", components.display()),
        }],
    })])
}

/// Writes the repository for `release` under `out` (created if missing) and returns the
/// files written: components, metadata, the cluster templates in [`FLAVORS`] order, then
/// `clusterctl.yaml`.
pub fn write(out: &Path, release: &Release) -> Result<Vec<PathBuf>> {
    let version_dir = out.join(PROVIDER_LABEL).join(release.version.to_string());
    std::fs::create_dir_all(&version_dir).map_err(|source| Error::Write {
        path: version_dir.display().to_string(),
        source,
    })?;
    let version_dir = std::fs::canonicalize(&version_dir).map_err(|source| Error::Write {
        path: version_dir.display().to_string(),
        source,
    })?;
    let components = version_dir.join(COMPONENTS_FILE);
    let metadata = version_dir.join(METADATA_FILE);
    write_file(
        &components,
        &crate::to_yaml(&crate::components::components(release)?)?,
    )?;
    write_file(
        &metadata,
        &crate::to_yaml(&[crate::metadata::metadata(release.version)])?,
    )?;
    let mut written = vec![components.clone(), metadata];
    for flavor in FLAVORS {
        let path = version_dir.join(flavor.file_name());
        write_file(&path, &crate::templates::render(flavor)?)?;
        written.push(path);
    }
    let config_path = out.join(CONFIG_FILE);
    write_file(&config_path, &config(&components)?)?;
    written.push(config_path);
    Ok(written)
}
