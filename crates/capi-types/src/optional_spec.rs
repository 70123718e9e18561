//! Kinds whose `spec` may be missing, as the API server allows.
//!
//! No Cluster API CRD marks the root `spec` as required: a `KubeadmConfig` created as
//! `{apiVersion, kind, metadata}` is accepted and stored without a `spec`, and Go reads it as
//! the zero value. kube-derive's kinds, however, have a non-optional `spec` field, so such an
//! object would fail to parse, and the generated schema lists `spec` as required, which is
//! stricter than upstream.
//!
//! [`optional_spec!`](crate::optional_spec!) fixes both for a kind derived with
//! `#[derive(CustomResource)]`:
//!
//! - a missing or `null` `spec` reads as `Spec::default()` (the Go zero value);
//! - the root schema has `spec` and `status` properties but no `required` list.
//!
//! It needs three attributes on the spec struct: `#[kube(schema = "manual")]` (the macro
//! writes the root schema), `#[serde(remote = "Self")]` (serde then generates inherent
//! `serialize`/`deserialize` functions, which the macro wraps) and
//! `#[schemars(rename = "<SpecType>")]` (keeps the schema name, which `remote` would
//! otherwise change). The spec type must implement `Default`.
//!
//! ```
//! use kube::CustomResource;
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// A widget.
//! #[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
//! #[kube(group = "example.com", version = "v1", kind = "Widget", namespaced)]
//! #[kube(schema = "manual", status = "WidgetStatus")]
//! #[serde(remote = "Self", rename_all = "camelCase")]
//! #[schemars(rename = "WidgetSpec")]
//! pub struct WidgetSpec {
//!     /// How many.
//!     pub size: i32,
//! }
//!
//! /// What the widget looks like now.
//! #[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
//! pub struct WidgetStatus {
//!     /// Whether it is ready.
//!     pub ready: bool,
//! }
//!
//! capi_types::optional_spec!(Widget, WidgetSpec, status = WidgetStatus, description = "A widget.");
//!
//! let widget: Widget = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}
//! }))?;
//! assert_eq!(widget.spec.size, 0);
//!
//! use kube::CustomResourceExt;
//! let crd = Widget::crd();
//! let root = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
//! assert_eq!(root.required, None);
//! # Ok::<(), serde_json::Error>(())
//! ```

/// Re-exports for [`optional_spec!`](crate::optional_spec!), so that crates using it need no
/// particular versions of these crates in scope.
#[doc(hidden)]
pub mod __private {
    pub use schemars;
    pub use serde;
    pub use serde_json;
}

/// Makes a kube-derive kind's `spec` optional on the wire and in its schema; see the
/// [module documentation](mod@crate::optional_spec) for the attributes the spec struct needs.
///
/// `optional_spec!(Kind, KindSpec, description = "...")` for kinds without status,
/// `optional_spec!(Kind, KindSpec, status = KindStatus, description = "...")` for kinds with
/// one. The description becomes the root schema's `description` (use the kind's `doc`).
#[macro_export]
macro_rules! optional_spec {
    ($kind:ident, $spec:ident, status = $status:ty, description = $description:expr $(,)?) => {
        $crate::optional_spec!(@spec $spec);
        $crate::optional_spec!(@root $kind, $description, {
            "spec": $spec,
            "status": ::core::option::Option<$status>,
        });
    };
    ($kind:ident, $spec:ident, description = $description:expr $(,)?) => {
        $crate::optional_spec!(@spec $spec);
        $crate::optional_spec!(@root $kind, $description, { "spec": $spec, });
    };
    (@spec $spec:ident) => {
        impl $crate::optional_spec::__private::serde::Serialize for $spec {
            fn serialize<S>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error>
            where
                S: $crate::optional_spec::__private::serde::Serializer,
            {
                // The inherent function serde generates for `#[serde(remote = "Self")]`.
                $spec::serialize(self, serializer)
            }
        }

        impl<'de> $crate::optional_spec::__private::serde::Deserialize<'de> for $spec {
            fn deserialize<D>(deserializer: D) -> ::core::result::Result<Self, D::Error>
            where
                D: $crate::optional_spec::__private::serde::Deserializer<'de>,
            {
                struct Present($spec);
                impl<'de> $crate::optional_spec::__private::serde::Deserialize<'de> for Present {
                    fn deserialize<D>(deserializer: D) -> ::core::result::Result<Self, D::Error>
                    where
                        D: $crate::optional_spec::__private::serde::Deserializer<'de>,
                    {
                        $spec::deserialize(deserializer).map(Present)
                    }
                }
                // A missing field reaches here as `deserialize_option` → `visit_none` (serde's
                // missing-field handling), as does an explicit `null`: both are the zero value.
                let present = <::core::option::Option<Present> as $crate::optional_spec::__private::serde::Deserialize<'de>>::deserialize(deserializer)?;
                ::core::result::Result::Ok(present.map_or_else(<$spec as ::core::default::Default>::default, |p| p.0))
            }
        }
    };
    (@root $kind:ident, $description:expr, { $($name:literal : $ty:ty),* $(,)? }) => {
        impl $crate::optional_spec::__private::schemars::JsonSchema for $kind {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::stringify!($kind))
            }

            fn schema_id() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::concat!(
                    ::core::module_path!(),
                    "::",
                    ::core::stringify!($kind)
                ))
            }

            fn json_schema(
                generator: &mut $crate::optional_spec::__private::schemars::SchemaGenerator,
            ) -> $crate::optional_spec::__private::schemars::Schema {
                let mut properties = $crate::optional_spec::__private::serde_json::Map::new();
                $(
                    properties.insert(
                        ::std::borrow::ToOwned::to_owned($name),
                        generator.subschema_for::<$ty>().to_value(),
                    );
                )*
                let mut schema = $crate::optional_spec::__private::serde_json::Map::new();
                schema.insert("type".into(), "object".into());
                schema.insert("description".into(), ($description).into());
                schema.insert(
                    "properties".into(),
                    $crate::optional_spec::__private::serde_json::Value::Object(properties),
                );
                $crate::optional_spec::__private::schemars::Schema::from(schema)
            }
        }
    };
}
