//! The outgoing response, as plain data.

use crate::request::header;

const CONTENT_TYPE: &str = "content-type";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const APPLICATION_JSON: &str = "application/json";

/// An HTTP response, written whole after the handler returns.
///
/// The status must be one the host accepts (100 to 999; use 100 to 599);
/// otherwise the client gets a 500 and the function's stderr says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status).with_header(CONTENT_TYPE, TEXT_PLAIN).with_body(body.into())
    }

    /// An `application/json` response from JSON the caller already wrote.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::json_bytes(status, body.into())
    }

    /// An `application/json` response from JSON bytes the caller already wrote.
    pub fn json_bytes(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status).with_header(CONTENT_TYPE, APPLICATION_JSON).with_body(body)
    }

    /// Sets header `name`, replacing any value it had (in any case), so
    /// `Response::text(..).with_header("content-type", "text/html")` has one
    /// content type.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of header `name`, whatever the case of either.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every header, in the order they were set.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_content_type() {
        let text = Response::text(200, "hi");
        assert_eq!(text.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert_eq!((text.status(), text.body()), (200, &b"hi"[..]));

        let json = Response::json(201, "{}");
        assert_eq!(json.header("content-type"), Some("application/json"));
        assert_eq!(Response::json_bytes(201, b"{}".to_vec()), json);

        let empty = Response::new(204);
        assert!(empty.headers().is_empty() && empty.body().is_empty());
    }

    #[test]
    fn with_header_replaces_any_case() {
        let res = Response::text(200, "<p>")
            .with_header("Content-Type", "text/html")
            .with_header("x-a", "1");
        let want = [("Content-Type", "text/html"), ("x-a", "1")];
        assert_eq!(res.headers(), want.map(|(n, v)| (n.to_owned(), v.to_owned())));
    }
}
