//! The conversion webhook's logic: a `ConversionReview` (`apiextensions.k8s.io/v1`) in, a
//! `ConversionReview` out, as a pure function over JSON bytes. Serving it over HTTPS (the
//! manager's `/convert` endpoint) is the caller's business.
//!
//! ```
//! let request = serde_json::json!({
//!     "apiVersion": "apiextensions.k8s.io/v1",
//!     "kind": "ConversionReview",
//!     "request": {
//!         "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
//!         "desiredAPIVersion": "infrastructure.cluster.x-k8s.io/v1beta2",
//!         "objects": [{
//!             "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
//!             "kind": "PacketMachine",
//!             "metadata": {"name": "m0", "namespace": "default"},
//!             "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86"},
//!             "status": {"ready": true}
//!         }]
//!     }
//! });
//! let answer: serde_json::Value =
//!     serde_json::from_slice(&capp_api::conversion::review::review(request.to_string().as_bytes()))?;
//! let response = &answer["response"];
//! assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
//! assert_eq!(response["result"]["status"], "Success");
//! let machine = &response["convertedObjects"][0];
//! assert_eq!(machine["apiVersion"], "infrastructure.cluster.x-k8s.io/v1beta2");
//! assert_eq!(machine["status"]["initialization"]["provisioned"], true);
//! # Ok::<(), serde_json::Error>(())
//! ```

use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Error, v1beta2};

/// Answers one `ConversionReview` request body: every object converted to
/// `request.desiredAPIVersion`, in order, with `response.uid` the request's `uid`.
///
/// Never panics. When the body is not a `ConversionReview` with a request, or any object
/// cannot be converted (unknown kind or version, a field of the wrong type, a broken
/// [`super::DATA_ANNOTATION`]), the answer is a `Failure` result whose message names the
/// object and the problem, and no object is converted (the API server then fails the
/// client's request with that message).
#[must_use]
pub fn review(body: &[u8]) -> Vec<u8> {
    let response = match serde_json::from_slice::<ConversionReview>(body)
        .map_err(|e| format!("the request body is not a ConversionReview: {e}"))
        .and_then(|review| {
            ConversionRequest::try_from(review)
                .map_err(|_| "the ConversionReview has no request".to_owned())
        }) {
        Err(message) => {
            let mut response = ConversionResponse::invalid(Status::failure(&message, "BadRequest"));
            // Echo the uid when there is one, so the API server reports this message rather
            // than a uid mismatch.
            response.uid = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.pointer("/request/uid")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            response
        }
        Ok(request) => {
            let desired = request.desired_api_version.clone();
            let converted: Result<Vec<Value>, String> = request
                .objects
                .iter()
                .map(|object| convert_object(object, &desired).map_err(|e| e.to_string()))
                .collect();
            let response = ConversionResponse::for_request(request);
            match converted {
                Ok(objects) => response.success(objects),
                Err(message) => response.failure(Status::failure(&message, "ConversionFailed")),
            }
        }
    };
    // A ConversionReview of strings and JSON values always serialises.
    serde_json::to_vec(&response.into_review()).unwrap_or_default()
}

/// Converts one object (JSON, as the API server sends it) to `desired_api_version`
/// (`infrastructure.cluster.x-k8s.io/v1beta1` or `/v1beta2`). An object already in that
/// version is returned unchanged. The object's `metadata` is kept as sent, except
/// [`super::DATA_ANNOTATION`], which conversion sets or removes.
///
/// # Errors
///
/// [`Error::Conversion`] for an object that is not one of the four kinds in one of the two
/// versions, that does not parse as its kind, or whose conversion fails.
pub fn convert_object(object: &Value, desired_api_version: &str) -> Result<Value, Error> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let failed = |problem: String| Error::Conversion {
        kind: if kind.is_empty() {
            "object".to_owned()
        } else {
            kind.to_owned()
        },
        name: name.to_owned(),
        problem,
    };
    let from = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if from == desired_api_version {
        return Ok(object.clone());
    }
    let up = match (from, desired_api_version) {
        (crate::API_VERSION, v1beta2::API_VERSION) => true,
        (v1beta2::API_VERSION, crate::API_VERSION) => false,
        _ => {
            return Err(failed(format!(
                "cannot convert apiVersion {from:?} to {desired_api_version:?}: this webhook \
                 converts between {} and {}",
                crate::API_VERSION,
                v1beta2::API_VERSION
            )));
        }
    };
    let mut converted = match (kind, up) {
        ("PacketCluster", true) => via::<crate::PacketCluster, v1beta2::PacketCluster>(object),
        ("PacketCluster", false) => via::<v1beta2::PacketCluster, crate::PacketCluster>(object),
        ("PacketMachine", true) => via::<crate::PacketMachine, v1beta2::PacketMachine>(object),
        ("PacketMachine", false) => via::<v1beta2::PacketMachine, crate::PacketMachine>(object),
        ("PacketMachineTemplate", true) => {
            via::<crate::PacketMachineTemplate, v1beta2::PacketMachineTemplate>(object)
        }
        ("PacketMachineTemplate", false) => {
            via::<v1beta2::PacketMachineTemplate, crate::PacketMachineTemplate>(object)
        }
        ("PacketClusterTemplate", true) => {
            via::<crate::PacketClusterTemplate, v1beta2::PacketClusterTemplate>(object)
        }
        ("PacketClusterTemplate", false) => {
            via::<v1beta2::PacketClusterTemplate, crate::PacketClusterTemplate>(object)
        }
        _ => Err(format!(
            "kind {kind:?} is not converted by this webhook (PacketCluster, PacketMachine, \
             PacketMachineTemplate, PacketClusterTemplate)"
        )),
    }
    .map_err(&failed)?;
    keep_metadata(object, &mut converted);
    Ok(converted)
}

/// Parses `object` as `Source`, converts it, and encodes the result.
fn via<Source, Target>(object: &Value) -> Result<Value, String>
where
    Source: DeserializeOwned + super::Project<Target> + kube::Resource + Clone + Serialize,
    Target: super::Project<Source> + kube::Resource + Serialize + DeserializeOwned,
    Source::DynamicType: Default,
{
    let source: Source =
        serde_json::from_value(object.clone()).map_err(|e| format!("does not parse: {e}"))?;
    let target: Target = super::convert(&source).map_err(|e| match e {
        Error::Conversion { problem, .. } => problem,
        other => other.to_string(),
    })?;
    serde_json::to_value(&target).map_err(|e| format!("cannot encode the result: {e}"))
}

/// Puts the sent `metadata` back on the converted object (the API server refuses a
/// conversion that changes metadata other than labels and annotations, and a typed round trip
/// could re-spell timestamps), with the converted object's annotations.
fn keep_metadata(original: &Value, converted: &mut Value) {
    let Some(mut metadata) = original.get("metadata").cloned() else {
        return;
    };
    let annotations = converted
        .pointer("/metadata/annotations")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(meta) = metadata.as_object_mut() {
        match annotations {
            Some(annotations) => {
                meta.insert("annotations".to_owned(), annotations);
            }
            None => {
                meta.remove("annotations");
            }
        }
    }
    if let Some(object) = converted.as_object_mut() {
        object.insert("metadata".to_owned(), metadata);
    }
}
