//! The API's OpenAPI document (`GET /v1/openapi.json`, written by hand in
//! `controller/src/api/openapi.json`) as a contract the tests hold real
//! answers to.
//!
//! [`Document::check_response`] finds the operation by method and path
//! template, the response by status (exact, then `2XX`-style, then
//! `default`) and the media type by the answer's `Content-Type`, and
//! validates a JSON body against its schema; [`Document::check_request`]
//! does the same for a request body. The validator knows the subset of JSON
//! Schema 2020-12 the document uses: `$ref`, `type` (a name or a list, so
//! `["string", "null"]`), `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `propertyNames`, `items`, `prefixItems`,
//! `minItems`, `maxItems`, `uniqueItems`, `minimum`, `maximum`, `minLength`,
//! `maxLength`, `oneOf`, `anyOf`, `allOf`, `format: date-time`, and the
//! document's `pattern`s (each checked by hand: there is no regex engine
//! here). Any other keyword, format or pattern panics, so the document
//! cannot use something the tests would silently skip. A schemathesis run
//! in CI checks the same document with a complete validator.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{Map, Number, Value};

/// Keywords that only annotate: they never make a value invalid.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "summary",
    "example",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
    "contentMediaType",
];

/// Formats that say how big a number is (its bounds are spelt out with
/// `minimum`/`maximum`) or that a string is bytes: nothing to check.
const SIZE_FORMATS: &[&str] = &["uint32", "uint64", "int64", "binary"];

/// The OpenAPI document, and which operations had an answer checked.
pub struct Document {
    root: Value,
    checked: Mutex<BTreeSet<String>>,
}

impl Document {
    /// A document from its JSON.
    pub fn new(root: Value) -> Self {
        assert_eq!(root["openapi"], "3.1.0", "not an OpenAPI 3.1 document");
        Self { root, checked: Mutex::default() }
    }

    /// The document as the controller compiles it in (its source file).
    pub fn from_source() -> Self {
        let path = crate::repo_root().join("controller/src/api/openapi.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self::new(serde_json::from_str(&text).expect("openapi.json is JSON"))
    }

    /// The whole document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// `#/components/schemas/{name}`.
    pub fn schema(&self, name: &str) -> &Value {
        self.root
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("the document has no schema `{name}`"))
    }

    /// Every operation, as `METHOD /path/{template}`.
    pub fn operations(&self) -> BTreeSet<String> {
        let paths = self.root["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("a path item").keys();
                methods.filter(|m| *m != "parameters").map(move |m| operation_key(m, path))
            })
            .collect()
    }

    /// Operations no answer of which with a 2xx status was checked yet.
    pub fn unchecked(&self) -> Vec<String> {
        let checked = self.checked.lock().expect("not poisoned");
        self.operations().into_iter().filter(|op| !checked.contains(op)).collect()
    }

    /// The operation; panics naming it if the document does not have it.
    pub fn operation(&self, method: &str, template: &str) -> &Value {
        let item = self.root["paths"]
            .get(template)
            .unwrap_or_else(|| panic!("the document has no path `{template}`"));
        let operation = item.get(method.to_ascii_lowercase());
        operation.unwrap_or_else(|| panic!("the document has no operation {method} {template}"))
    }

    /// Checks a request body against the operation's `requestBody`.
    pub fn check_request(
        &self,
        method: &str,
        template: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let operation = self.operation(method, template);
        let Some(content) = operation.pointer("/requestBody/content") else {
            return Err(vec![format!("{method} {template} takes no body")]);
        };
        let content = self.deref(content);
        let Some(media) = media_type(content, content_type) else {
            return Err(vec![format!("{method} {template} does not take `{content_type}`")]);
        };
        self.validate(&media["schema"], body)
    }

    /// Checks an answer: its status is documented for the operation, its
    /// content type is one the response lists, and a JSON body fits the
    /// schema. A checked 2xx answer marks the operation as covered.
    pub fn check_response(
        &self,
        method: &str,
        template: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let operation = self.operation(method, template);
        let label = format!("{method} {template} answered {status}");
        let responses = operation["responses"].as_object().expect("responses");
        let range = format!("{}XX", status / 100);
        let Some(response) = [status.to_string(), range, "default".into()]
            .iter()
            .find_map(|key| responses.get(key.as_str()))
        else {
            return Err(vec![format!("{label}, a status the document does not list")]);
        };
        let response = self.deref(response);
        match (response.get("content"), content_type) {
            (None, _) if body.is_empty() => {}
            (None, _) => return Err(vec![format!("{label} with a body; the document says none")]),
            (Some(_), None) => {
                return Err(vec![format!("{label} without a content type")]);
            }
            (Some(content), Some(content_type)) => {
                let Some(media) = media_type(content, content_type) else {
                    return Err(vec![format!(
                        "{label} with `{content_type}`, a content type the document does not list"
                    )]);
                };
                if essence(content_type) == "application/json" {
                    let value: Value = serde_json::from_slice(body)
                        .map_err(|e| vec![format!("{label} with a body that is not JSON: {e}")])?;
                    self.validate(&media["schema"], &value)
                        .map_err(|errors| prefixed(&label, errors))?;
                } else {
                    let value = Value::String(String::from_utf8_lossy(body).into_owned());
                    let schema = &media["schema"];
                    if schema.get("type") == Some(&Value::from("string")) {
                        self.validate(schema, &value).map_err(|errors| prefixed(&label, errors))?;
                    }
                }
            }
        }
        if (200..300).contains(&status) {
            self.checked.lock().expect("not poisoned").insert(operation_key(method, template));
        }
        Ok(())
    }

    /// Validates `value` against `schema` (a schema of this document).
    pub fn validate(&self, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Follows `$ref`s of responses and parameters (not of schemas).
    fn deref<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.deref(self.resolve(reference)),
            None => value,
        }
    }

    fn resolve(&self, reference: &str) -> &Value {
        reference
            .strip_prefix('#')
            .and_then(|pointer| self.root.pointer(pointer))
            .unwrap_or_else(|| panic!("`{reference}` does not resolve"))
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let map = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{at}: nothing is allowed here")),
            Value::Object(map) => map,
            _ => panic!("{at}: a schema must be an object or a boolean: {schema}"),
        };
        for (keyword, argument) in map {
            match keyword.as_str() {
                "$ref" => {
                    let reference = argument.as_str().expect("a $ref is a string");
                    self.check(self.resolve(reference), value, at, errors);
                }
                "type" => {
                    let types: Vec<&str> = match argument {
                        Value::String(one) => vec![one],
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                        _ => panic!("{at}: bad `type`"),
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        errors.push(format!(
                            "{at}: expected {}, got {}",
                            types.join(" or "),
                            brief(value)
                        ));
                    }
                }
                "enum" => {
                    if !argument.as_array().expect("enum is a list").contains(value) {
                        errors.push(format!("{at}: {} is not one of {argument}", brief(value)));
                    }
                }
                "const" => {
                    if argument != value {
                        errors.push(format!("{at}: {} is not {argument}", brief(value)));
                    }
                }
                "required" => {
                    if let Value::Object(object) = value {
                        for name in argument.as_array().expect("required is a list") {
                            let name = name.as_str().expect("a property name");
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: required property `{name}` is missing"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let Value::Object(object) = value {
                        for (name, schema) in argument.as_object().expect("properties") {
                            if let Some(field) = object.get(name) {
                                self.check(schema, field, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Value::Object(object) = value {
                        let known = map.get("properties").and_then(Value::as_object);
                        for (name, field) in object {
                            if known.is_some_and(|k| k.contains_key(name)) {
                                continue;
                            }
                            if argument == &Value::Bool(false) {
                                errors.push(format!(
                                    "{at}: property `{name}` is not in the document"
                                ));
                            } else {
                                self.check(argument, field, &format!("{at}.{name}"), errors);
                            }
                        }
                    }
                }
                "propertyNames" => {
                    if let Value::Object(object) = value {
                        for name in object.keys() {
                            let key = Value::String(name.clone());
                            self.check(argument, &key, &format!("{at} key `{name}`"), errors);
                        }
                    }
                }
                "items" | "prefixItems" | "minItems" | "maxItems" | "uniqueItems" => {
                    if let Value::Array(items) = value {
                        check_array(self, keyword, argument, map, items, at, errors);
                    }
                }
                "minimum" | "maximum" => {
                    if let (Value::Number(n), Value::Number(bound)) = (value, argument) {
                        let order = compare(n, bound);
                        let bad = if keyword == "minimum" {
                            order == Ordering::Less
                        } else {
                            order == Ordering::Greater
                        };
                        if bad {
                            errors.push(format!("{at}: {n} is outside its {keyword} {bound}"));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let Value::String(s) = value {
                        let length = s.chars().count() as u64;
                        let bound = argument.as_u64().expect("a length");
                        let bad =
                            if keyword == "minLength" { length < bound } else { length > bound };
                        if bad {
                            errors.push(format!(
                                "{at}: {length} characters is outside its {keyword} {bound}"
                            ));
                        }
                    }
                }
                "pattern" => {
                    if let Value::String(s) = value {
                        let pattern = argument.as_str().expect("a pattern");
                        if !matches_pattern(pattern, s) {
                            errors
                                .push(format!("{at}: {} does not match `{pattern}`", brief(value)));
                        }
                    }
                }
                "format" => {
                    let format = argument.as_str().expect("a format");
                    if format == "date-time" {
                        if let Value::String(s) = value
                            && s.parse::<flint_api::Timestamp>().is_err()
                        {
                            errors.push(format!("{at}: `{s}` is not an RFC 3339 time"));
                        }
                    } else {
                        assert!(SIZE_FORMATS.contains(&format), "{at}: unknown format `{format}`");
                    }
                }
                "oneOf" | "anyOf" | "allOf" => {
                    let branches = argument.as_array().expect("a list of schemas");
                    let results: Vec<Vec<String>> = branches
                        .iter()
                        .map(|branch| {
                            let mut branch_errors = Vec::new();
                            self.check(branch, value, at, &mut branch_errors);
                            branch_errors
                        })
                        .collect();
                    let passed = results.iter().filter(|e| e.is_empty()).count();
                    let ok = match keyword.as_str() {
                        "oneOf" => passed == 1,
                        "anyOf" => passed >= 1,
                        _ => passed == branches.len(),
                    };
                    if !ok {
                        let why: Vec<String> = results.into_iter().flatten().collect();
                        errors.push(format!(
                            "{at}: {passed} of {} branches of `{keyword}` match: {}",
                            branches.len(),
                            why.join("; ")
                        ));
                    }
                }
                other if ANNOTATIONS.contains(&other) => {}
                other => panic!(
                    "{at}: the tests' validator does not know the keyword `{other}` (tests/src/openapi.rs)"
                ),
            }
        }
    }
}

fn check_array(
    document: &Document,
    keyword: &str,
    argument: &Value,
    schema: &Map<String, Value>,
    items: &[Value],
    at: &str,
    errors: &mut Vec<String>,
) {
    match keyword {
        "prefixItems" => {
            let prefix = argument.as_array().expect("prefixItems is a list");
            for (i, (schema, item)) in prefix.iter().zip(items).enumerate() {
                document.check(schema, item, &format!("{at}[{i}]"), errors);
            }
        }
        "items" => {
            let skip = schema.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
            for (i, item) in items.iter().enumerate().skip(skip) {
                document.check(argument, item, &format!("{at}[{i}]"), errors);
            }
        }
        "minItems" | "maxItems" => {
            let bound = argument.as_u64().expect("a count") as usize;
            let bad = if keyword == "minItems" { items.len() < bound } else { items.len() > bound };
            if bad {
                errors
                    .push(format!("{at}: {} items is outside its {keyword} {bound}", items.len()));
            }
        }
        _ => {
            if argument == &Value::Bool(true) {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errors.push(format!("{at}[{i}]: a repeated item"));
                    }
                }
            }
        }
    }
}

/// `GET /v1/whoami`: how [`Document::operations`] names an operation.
fn operation_key(method: &str, template: &str) -> String {
    format!("{} {template}", method.to_ascii_uppercase())
}

/// The media type of `content` that a `Content-Type` falls under: exact,
/// then `type/*`, then `*/*`.
fn media_type<'a>(content: &'a Value, content_type: &str) -> Option<&'a Value> {
    let essence = essence(content_type);
    let family = format!("{}/*", essence.split('/').next().unwrap_or_default());
    [essence.as_str(), family.as_str(), "*/*"].into_iter().find_map(|key| content.get(key))
}

/// `text/csv; charset=utf-8` → `text/csv`.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn prefixed(label: &str, errors: Vec<String>) -> Vec<String> {
    errors.into_iter().map(|e| format!("{label}: {e}")).collect()
}

fn has_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("null" | "boolean" | "string" | "array" | "object" | "number" | "integer", _) => false,
        _ => panic!("unknown type `{name}`"),
    }
}

/// Orders two JSON numbers exactly when both are integers (u64 and i64
/// alike), else as floats.
fn compare(a: &Number, b: &Number) -> Ordering {
    let int = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (int(a), int(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => {
            let (a, b) = (a.as_f64().unwrap_or(f64::NAN), b.as_f64().unwrap_or(f64::NAN));
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
    }
}

/// Whether `s` matches one of the document's patterns, each written out
/// by hand. A new pattern in the document needs a line here.
fn matches_pattern(pattern: &str, s: &str) -> bool {
    let all = |s: &str, ok: fn(u8) -> bool| s.bytes().all(ok);
    let hex =
        |s: &str, len: usize| s.len() == len && all(s, |b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match pattern {
        // Names: a lowercase letter first, not `-` last.
        "^[a-z]([a-z0-9-]*[a-z0-9])?$" => {
            s.starts_with(|c: char| c.is_ascii_lowercase())
                && !s.ends_with('-')
                && all(s, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }
        "^sha256:[0-9a-f]{64}$" => s.strip_prefix("sha256:").is_some_and(|h| hex(h, 64)),
        "^[0-9a-f]{16}$" => hex(s, 16),
        "^flint_[0-9a-f]{16}_[0-9a-f]{64}$" => s
            .strip_prefix("flint_")
            .and_then(|rest| rest.split_once('_'))
            .is_some_and(|(id, secret)| hex(id, 16) && hex(secret, 64)),
        // A rate: a count that is not all zeros.
        "^[0-9]*[1-9][0-9]*/(s|m)$" => s.split_once('/').is_some_and(|(count, unit)| {
            all(count, |b| b.is_ascii_digit())
                && count.bytes().any(|b| b != b'0')
                && (unit == "s" || unit == "m")
        }),
        "^/" => s.starts_with('/'),
        "^http://" => s.starts_with("http://"),
        "^https?://" => s.starts_with("http://") || s.starts_with("https://"),
        "^[A-Za-z0-9._-]+$" => {
            !s.is_empty() && all(s, |b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        }
        "^[A-Za-z_][A-Za-z0-9_]*$" => {
            !s.is_empty()
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && all(s, |b| b.is_ascii_alphanumeric() || b == b'_')
        }
        "^[a-z0-9_]{1,32}$" => {
            (1..=32).contains(&s.len())
                && all(s, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }
        "^[A-Za-z0-9]{1,8}$" => (1..=8).contains(&s.len()) && all(s, |b| b.is_ascii_alphanumeric()),
        other => panic!(
            "the tests' validator does not know the pattern `{other}` (tests/src/openapi.rs)"
        ),
    }
}

/// A value for an error message, cut short.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Document {
        Document::from_source()
    }

    #[test]
    fn a_renamed_or_missing_field_fails() {
        let doc = document();
        let function = json!({
            "namespace": "default", "name": "hello", "version": null,
            "limits": {"memory_mb": 128, "timeout_ms": 30000, "concurrency": 100, "queue": 100, "idle_timeout_ms": 60000},
            "env": {"A": "b"},
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00.5Z"
        });
        doc.validate(doc.schema("Function"), &function).expect("valid");
        let mut renamed = function.clone();
        let limits = renamed.as_object_mut().expect("object").remove("limits").expect("limits");
        renamed["limit"] = limits;
        let errors = doc.validate(doc.schema("Function"), &renamed).unwrap_err();
        assert!(errors.iter().any(|e| e.contains("`limits` is missing")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("`limit` is not in the document")), "{errors:?}");
    }

    #[test]
    fn types_enums_ranges_and_unions() {
        let doc = document();
        let scope = doc.schema("Scope");
        doc.validate(scope, &json!("*")).expect("all");
        doc.validate(scope, &json!(["team-a"])).expect("a list");
        assert!(doc.validate(scope, &json!("team-a")).is_err());
        assert!(doc.validate(scope, &json!(["Team"])).is_err());
        assert!(doc.validate(scope, &json!([])).is_err());
        assert!(doc.validate(doc.schema("Rate"), &json!("200/s")).is_ok());
        assert!(doc.validate(doc.schema("Rate"), &json!("200/h")).is_err());
        assert!(doc.validate(doc.schema("Rate"), &json!("00/s")).is_err());
        assert!(doc.validate(doc.schema("Role"), &json!("root")).is_err());
        let limits = json!({"memory_mb": 0, "timeout_ms": 1, "concurrency": 1, "queue": 0, "idle_timeout_ms": 100});
        assert!(doc.validate(doc.schema("Limits"), &limits).is_err());
        assert!(doc.validate(doc.schema("Timestamp"), &json!("yesterday")).is_err());
        let histogram = doc.schema("DurationHistogram");
        doc.validate(histogram, &json!([[3, 18446744073709551615_u64]])).expect("u64 counts");
        assert!(doc.validate(histogram, &json!([[256, 1]])).is_err());
        assert!(doc.validate(histogram, &json!([[1, 1, 1]])).is_err());
        let change = doc.schema("Change");
        doc.validate(change, &json!({"type": "token_deleted", "id": "x"})).expect("a change");
        assert!(doc.validate(change, &json!({"type": "token_gone", "id": "x"})).is_err());
    }
}
