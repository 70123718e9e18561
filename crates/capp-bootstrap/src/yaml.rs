//! The one place YAML is serialised, so every document uses the same options.

use serde::Serialize;

use crate::error::{Error, Result};

/// Serialises `value` with serde-saphyr's YAML 1.1-safe quoting (the default: `yes`, `0755`,
/// `1.30` ... are quoted), literal blocks for multi-line strings, and no folding of long
/// single-line strings: a folded `>` scalar reads back the same, but a shell command split
/// over two lines is needlessly hard to review in a golden file.
pub(crate) fn to_string<T: Serialize>(value: &T, what: &'static str) -> Result<String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(value, options)
        .map_err(|source| Error::Serialize { what, source })
}
