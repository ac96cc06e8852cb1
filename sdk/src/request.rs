//! The incoming request, as plain data.

use std::str::Utf8Error;

use crate::CloudEvent;
use crate::query;

/// An HTTP request, read whole before the handler runs.
///
/// The path is what the client sent, including the route prefix the function
/// is mounted under: a function mounted at `/api` that is called as
/// `/api/users?id=7` sees the path `/api/users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// Builds a request; the SDK does this for each invocation, and tests of
    /// a handler can do it on the host.
    ///
    /// `path_with_query` is split at the first `?`. Header names keep the
    /// case they are given in; lookups ignore it.
    pub fn new(
        method: impl Into<String>,
        path_with_query: impl Into<String>,
        headers: Vec<(String, String)>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        let mut path = path_with_query.into();
        let query = match path.find('?') {
            Some(at) => {
                let query = path[at + 1..].to_owned();
                path.truncate(at);
                query
            }
            None => String::new(),
        };
        Self { method: method.into(), path, query, headers, body: body.into() }
    }

    /// The method in upper case as sent, e.g. `GET` or `POST`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query string, still percent-encoded.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string after `?`, still percent-encoded; empty if there
    /// is none.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of query parameter `name`, percent-decoded with `+`
    /// read as a space. A parameter given without `=` has the value `""`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query::pairs(&self.query).find(|(key, _)| key == name).map(|(_, value)| value)
    }

    /// Every query parameter, decoded as by [`query_param`](Self::query_param),
    /// in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        query::pairs(&self.query).collect()
    }

    /// The first value of header `name`, whatever the case of either.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every header in the order received; a repeated header appears once
    /// per value. Values that are not UTF-8 were decoded lossily.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The whole body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.body)
    }

    /// The CloudEvent this request carries in HTTP binary content mode, or
    /// `None` if one of `ce-specversion`, `ce-id`, `ce-source` or `ce-type`
    /// is missing or empty. The event's data is a copy of the body.
    pub fn event(&self) -> Option<CloudEvent> {
        CloudEvent::from_parts(&self.headers, &self.body)
    }
}

/// Case-insensitive lookup of the first header called `name`.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path_with_query: &str) -> Request {
        let headers = vec![
            ("Content-Type".to_owned(), "text/plain".to_owned()),
            ("x-tag".to_owned(), "one".to_owned()),
            ("X-Tag".to_owned(), "two".to_owned()),
        ];
        Request::new("POST", path_with_query, headers, "body")
    }

    #[test]
    fn splits_path_and_query() {
        let req = request("/tb/echo?name=J%C3%BCrgen+M&x");
        assert_eq!(req.path(), "/tb/echo");
        assert_eq!(req.query(), "name=J%C3%BCrgen+M&x");
        assert_eq!(req.query_param("name").as_deref(), Some("Jürgen M"));
        assert_eq!(req.query_param("x").as_deref(), Some(""));
        assert_eq!(req.query_param("missing"), None);

        let bare = request("/tb/echo");
        assert_eq!((bare.path(), bare.query()), ("/tb/echo", ""));
        assert_eq!(bare.query_params(), []);
    }

    #[test]
    fn looks_up_headers_ignoring_case() {
        let req = request("/");
        assert_eq!(req.header("content-type"), Some("text/plain"));
        assert_eq!(req.header("X-TAG"), Some("one"));
        assert_eq!(req.header("accept"), None);
        assert_eq!(req.headers().len(), 3);
    }

    #[test]
    fn reads_body_as_text() {
        let req = request("/");
        assert_eq!(req.text(), Ok("body"));
        let binary = Request::new("POST", "/", Vec::new(), vec![0xff]);
        assert!(binary.text().is_err());
        assert_eq!(binary.body(), [0xff]);
    }
}
