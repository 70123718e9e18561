//! Access to the shared reference data (`/work/shared`) for tests: skip loudly when it is
//! missing, fail when `CI=true`.

use std::path::PathBuf;

/// The `shared/specs/<sub>` directory, or `None` (after a loud message) when it is missing
/// outside CI. Panics when it is missing and `CI=true`.
pub(crate) fn specs_dir(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs"
    ))
    .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let message = format!("shared reference data not found at {}", dir.display());
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message} (required when CI=true)"
    );
    eprintln!("SKIPPED: {message}; this test needs ../shared next to the repository");
    None
}
