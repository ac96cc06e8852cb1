//! `echo`: the request back as JSON, written by hand to keep the guest small.

use std::fmt::Write as _;

use flint_sdk::{Request, Response};

/// `{"method":..,"path":..,"query":..,"headers":{..},"body":..}`; a header
/// sent more than once appears once per value, in order.
pub(crate) fn echo(req: &Request) -> Response {
    let mut json = String::from("{\"method\":");
    string(&mut json, req.method());
    json.push_str(",\"path\":");
    string(&mut json, req.path());
    json.push_str(",\"query\":");
    string(&mut json, req.query());
    json.push_str(",\"headers\":{");
    for (i, (name, value)) in req.headers().iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        string(&mut json, name);
        json.push(':');
        string(&mut json, value);
    }
    json.push_str("},\"body\":");
    string(&mut json, &String::from_utf8_lossy(req.body()));
    json.push('}');
    Response::json(200, json)
}

/// Appends `text` as a JSON string literal.
fn string(json: &mut String, text: &str) {
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            // JSON forbids raw control characters (RFC 8259 §7).
            c if c < ' ' => {
                let _ = write!(json, "\\u{:04x}", u32::from(c));
            }
            c => json.push(c),
        }
    }
    json.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut json = String::new();
        string(&mut json, "a\"b\\c\nd\u{1}é");
        assert_eq!(json, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn echoes_request() {
        let headers = vec![("x-a".to_owned(), "1".to_owned())];
        let res = echo(&Request::new("PUT", "/tb/echo?q=1", headers, "hi\n"));
        let want = r#"{"method":"PUT","path":"/tb/echo","query":"q=1","headers":{"x-a":"1"},"body":"hi\n"}"#;
        assert_eq!(std::str::from_utf8(res.body()).unwrap(), want);
        assert_eq!(res.header("content-type"), Some("application/json"));
    }
}
