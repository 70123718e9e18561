//! Small shapes shared by many resources: links and pagination metadata.

use serde::{Deserialize, Serialize};

use super::de::null_default;

/// A link to another resource, as the API returns for objects that were not `include`d.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Href {
    /// Relative URL of the resource, e.g. `/metal/v1/devices/<uuid>`.
    #[serde(deserialize_with = "null_default")]
    pub href: String,
}

/// A reference to another resource that may come back either as a bare `{href}` or expanded.
///
/// Only the identifying fields are kept; the id is derived from the href when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRef {
    /// UUID of the resource, when the server expanded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Relative URL of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

impl ResourceRef {
    /// The resource's id: the `id` field when present, else the last segment of `href`.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        if let Some(id) = self.id.as_deref().filter(|id| !id.is_empty()) {
            return Some(id);
        }
        self.href
            .as_deref()
            .and_then(|href| href.trim_end_matches('/').rsplit('/').next())
            .filter(|id| !id.is_empty())
    }
}

/// Pagination metadata of a list response (`components/schemas/Meta.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    /// Link to the first page.
    pub first: Option<Href>,
    /// Link to the previous page; `None` on the first page.
    pub previous: Option<Href>,
    /// Link to this page.
    #[serde(rename = "self")]
    pub this: Option<Href>,
    /// Link to the next page; `None` on the last page.
    pub next: Option<Href>,
    /// Link to the last page.
    pub last: Option<Href>,
    /// Number of items across all pages.
    pub total: Option<u64>,
    /// Number of this page, from 1.
    pub current_page: Option<u64>,
    /// Number of the last page.
    pub last_page: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_without_id_takes_it_from_the_href() {
        let r: ResourceRef =
            serde_json::from_str(r#"{"href":"/metal/v1/projects/5f2f3a5e"}"#).unwrap();
        assert_eq!(r.id(), Some("5f2f3a5e"));
    }

    #[test]
    fn meta_with_null_links_decodes() {
        let m: Meta = serde_json::from_str(
            r#"{"first":{"href":"/p?page=1"},"previous":null,"next":null,"total":2}"#,
        )
        .unwrap();
        assert_eq!(m.next, None);
        assert_eq!(m.total, Some(2));
    }
}
