//! Triggers: what starts a function. This crate knows the HTTP kind; the
//! schedule and Kafka kinds join [`TriggerSpec`] as they are built.

use serde::{Deserialize, Serialize};

use crate::{FieldError, Name, Timestamp};

/// Methods an HTTP trigger may name.
pub const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// An HTTP route to a function: requests whose path starts with `route` (on a
/// `/` boundary) and, if set, whose `Host` is `host`, reach the function. The
/// longest matching route wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// Path prefix, e.g. `/hello`. `/` matches every path.
    pub route: String,
    /// Host name to match (without port); `None` matches any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Methods to accept, upper case; empty accepts every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

impl HttpTrigger {
    /// Checks the route, host and methods, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), FieldError> {
        let route = &self.route;
        if !route.starts_with('/') {
            return Err(FieldError::new("http.route", format!("`{route}` must start with `/`")));
        }
        if route.len() > 1 && route.ends_with('/') {
            return Err(FieldError::new("http.route", format!("`{route}` must not end with `/`")));
        }
        let segments_ok = route.split('/').skip(1).all(|segment| {
            (route == "/" || !segment.is_empty())
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_graphic() && !b"?#%\\".contains(&b))
        });
        if !segments_ok {
            return Err(FieldError::new(
                "http.route",
                format!(
                    "`{route}` must be a plain path: no empty, `.` or `..` segments, no `?`, `#`, `%` or spaces"
                ),
            ));
        }
        if let Some(host) = &self.host {
            let valid = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                });
            if !valid {
                return Err(FieldError::new(
                    "http.host",
                    format!("`{host}` is not a lowercase host name (no port, no scheme)"),
                ));
            }
        }
        for method in &self.methods {
            if !HTTP_METHODS.contains(&method.as_str()) {
                return Err(FieldError::new(
                    "http.methods",
                    format!("`{method}` is not one of {}", HTTP_METHODS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Whether `path` falls under this route: equal to it, or continuing it after a `/`.
    pub fn matches_path(&self, path: &str) -> bool {
        self.route == "/"
            || path
                .strip_prefix(self.route.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// What kind of event starts the function, and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TriggerSpec {
    /// An HTTP route.
    Http(HttpTrigger),
}

impl TriggerSpec {
    /// The kind as a short lowercase word: `http`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
        }
    }

    /// Checks the kind-specific settings.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Self::Http(http) => http.validate(),
        }
    }
}

/// The body of `PUT /v1/namespaces/{ns}/triggers/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// The function the trigger starts; it must exist in the same namespace.
    pub function: Name,
    /// The kind and its settings.
    pub spec: TriggerSpec,
}

/// A trigger as the controller stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The namespace of the trigger and of its function.
    pub namespace: Name,
    /// The trigger's name, unique in its namespace.
    pub name: Name,
    /// The function it starts.
    pub function: Name,
    /// The kind and its settings.
    pub spec: TriggerSpec,
    /// When it was created.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(route: &str) -> HttpTrigger {
        HttpTrigger { route: route.into(), host: None, methods: vec![] }
    }

    #[test]
    fn routes_are_validated() {
        for good in ["/", "/hello", "/api/v1", "/a-b_c.d"] {
            http(good).validate().unwrap();
        }
        for bad in ["", "hello", "/hello/", "/a//b", "/a/../b", "/a?b", "/a b", "/%2e"] {
            let err = http(bad).validate().unwrap_err();
            assert_eq!(err.field, "http.route", "{bad}");
        }
        let mut t = http("/x");
        t.host = Some("Example.com".into());
        assert_eq!(t.validate().unwrap_err().field, "http.host");
        t.host = Some("api.example.com".into());
        t.methods = vec!["FETCH".into()];
        assert!(t.validate().unwrap_err().to_string().contains("`FETCH`"));
    }

    #[test]
    fn prefix_matching_stops_at_segment_boundaries() {
        let t = http("/hello");
        assert!(t.matches_path("/hello"));
        assert!(t.matches_path("/hello/world"));
        assert!(!t.matches_path("/helloworld"));
        assert!(!t.matches_path("/"));
        assert!(http("/").matches_path("/anything"));
    }

    #[test]
    fn trigger_request_json() {
        let json = r#"{"function":"hello","spec":{"http":{"route":"/hello","methods":["GET"]}}}"#;
        let req: TriggerRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.spec.kind(), "http");
        let err = serde_json::from_str::<TriggerRequest>(
            r#"{"function":"hello","spec":{"http":{"route":"/x","path":"/y"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `path`"), "{err}");
    }
}
