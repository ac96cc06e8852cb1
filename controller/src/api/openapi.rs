//! `GET /v1/openapi.json`: the OpenAPI 3.1 description of `/v1`.
//!
//! The document is written by hand next to this file (`openapi.json`) from
//! the wire types in `flint-api`, and compiled in. It is open, as API
//! descriptions usually are: it says what exists, not what anyone has. The
//! end-to-end tests (`tests/e2e/openapi.rs`) validate real answers of every
//! operation against it, and CI runs schemathesis against a live `flint up`
//! with it (`tests/openapi/schemathesis.sh`).

use flint_api::server::{self, FullResponse};
use http::StatusCode;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The answer to `GET /v1/openapi.json`.
pub(super) fn document() -> FullResponse {
    server::with_type(
        StatusCode::OK,
        "application/json",
        bytes::Bytes::from_static(DOCUMENT.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::DOCUMENT;

    /// Follows a local `$ref` (`#/components/...`).
    fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
        root.pointer(reference.strip_prefix('#')?)
    }

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    out.push(reference);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let root: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(root["openapi"], "3.1.0");
        let mut found = Vec::new();
        refs(&root, &mut found);
        assert!(found.len() > 100, "{} references", found.len());
        for reference in found {
            assert!(resolve(&root, reference).is_some(), "`{reference}` does not resolve");
        }
    }

    #[test]
    fn every_operation_has_an_id_and_answers() {
        let root: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        let mut ids = std::collections::BTreeSet::new();
        let paths = root["paths"].as_object().expect("paths");
        for (path, item) in paths {
            assert!(path.starts_with("/v1/"), "{path} is not under /v1");
            for (method, operation) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                let id =
                    operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}"));
                assert!(ids.insert(id.to_owned()), "operationId `{id}` is used twice");
                assert!(
                    operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
            }
        }
    }
}
