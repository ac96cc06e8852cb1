//! CloudEvents in the SDK: `flint_sdk::Request::event` (HTTP binary content
//! mode) and the query-string decoding next to it. The SDK's parsing is
//! plain Rust and builds on the host; only its `wasi:http` glue needs wasm.
//!
//! Input: a request as text: `METHOD /path?query` on the first line, then
//! `name: value` header lines up to an empty line, then the body.
//!
//! Properties: an event is read exactly when `ce-specversion`, `ce-id`,
//! `ce-source` and `ce-type` are present and not empty; its data is the
//! body and its content type the `content-type` header; values without
//! escapes come back unchanged; extensions are the other `ce-*` headers,
//! named in lower case without the prefix.
#![no_main]

use flint_sdk::Request;
use libfuzzer_sys::fuzz_target;

/// The attributes with their own accessor.
const KNOWN: [&str; 7] = ["specversion", "id", "source", "type", "time", "subject", "partitionkey"];

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            (name.to_owned(), value.trim_start().to_owned())
        })
        .collect();
    let request = Request::new(method, target, headers.clone(), body);

    // Query strings: every non-empty `&`-separated pair, decoded.
    let pairs = request.query().split('&').filter(|p| !p.is_empty()).count();
    assert_eq!(request.query_params().len(), pairs);
    for (name, value) in request.query_params() {
        assert!(request.query_param(&name).is_some(), "{name}={value}");
    }
    assert!(!request.path().contains('?'));

    let raw = |name: &str| {
        headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    };
    let required = ["ce-specversion", "ce-id", "ce-source", "ce-type"];
    let expected = required.iter().all(|name| raw(name).is_some_and(|v| !v.is_empty()));
    let Some(event) = request.event() else {
        assert!(!expected, "no event from {headers:?}");
        return;
    };
    assert!(expected, "an event without its required attributes: {event:?}");
    for (name, value) in
        required.iter().zip([event.specversion(), event.id(), event.source(), event.ty()])
    {
        assert!(!value.is_empty());
        let sent = raw(name).unwrap_or_default();
        if !sent.contains('%') {
            assert_eq!(value, sent, "{name}");
        }
    }
    for (name, value) in [("ce-time", event.time()), ("ce-subject", event.subject())] {
        assert_eq!(value.is_some(), raw(name).is_some(), "{name}");
    }
    assert_eq!(event.partition_key().is_some(), raw("ce-partitionkey").is_some());
    assert_eq!(event.data_content_type(), raw("content-type"));
    assert_eq!(event.data(), body);
    assert_eq!(event.text().is_ok(), std::str::from_utf8(body).is_ok());

    let extensions = headers
        .iter()
        .filter(|(key, _)| {
            key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ce-"))
                && !KNOWN.iter().any(|k| key[3..].eq_ignore_ascii_case(k))
        })
        .count();
    assert_eq!(event.extensions().len(), extensions);
    for (name, _) in event.extensions() {
        assert_eq!(*name, name.to_ascii_lowercase());
        assert!(!KNOWN.contains(&name.as_str()), "`{name}` is not an extension");
        assert!(event.extension(name).is_some());
    }
});
