//! CloudEvents 1.0 in HTTP binary content mode: attributes in headers, data
//! in the body.

use crate::query::{Plus, percent_decode};
use crate::request::header;

/// Prefix of the headers that carry event attributes.
const PREFIX: &str = "ce-";
const SPECVERSION: &str = "ce-specversion";
const ID: &str = "ce-id";
const SOURCE: &str = "ce-source";
const TYPE: &str = "ce-type";
const TIME: &str = "ce-time";
const SUBJECT: &str = "ce-subject";
const PARTITIONKEY: &str = "ce-partitionkey";
/// The attributes with their own accessor; other `ce-*` headers are extensions.
const KNOWN: [&str; 7] = [SPECVERSION, ID, SOURCE, TYPE, TIME, SUBJECT, PARTITIONKEY];
/// Binary mode carries `datacontenttype` in the ordinary header.
const CONTENT_TYPE: &str = "content-type";

/// A CloudEvent 1.0 received in HTTP binary content mode, as Flint's schedule
/// and Kafka triggers deliver them. Get one with
/// [`Request::event`](crate::Request::event).
///
/// Attribute values are percent-decoded, as the HTTP binding asks senders to
/// encode them. Times stay strings (RFC 3339); the SDK does not parse them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEvent {
    specversion: String,
    id: String,
    source: String,
    ty: String,
    time: Option<String>,
    subject: Option<String>,
    partition_key: Option<String>,
    data_content_type: Option<String>,
    extensions: Vec<(String, String)>,
    data: Vec<u8>,
}

impl CloudEvent {
    /// Reads the event from request headers and body; `None` if a required
    /// attribute is missing or empty.
    pub(crate) fn from_parts(headers: &[(String, String)], body: &[u8]) -> Option<Self> {
        let required = |name| attribute(headers, name).filter(|value| !value.is_empty());
        let extensions = headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                if KNOWN.contains(&name.as_str()) {
                    return None;
                }
                let extension = name.strip_prefix(PREFIX)?;
                Some((extension.to_owned(), percent_decode(value, Plus::Literal)))
            })
            .collect();
        Some(Self {
            specversion: required(SPECVERSION)?,
            id: required(ID)?,
            source: required(SOURCE)?,
            ty: required(TYPE)?,
            time: attribute(headers, TIME),
            subject: attribute(headers, SUBJECT),
            partition_key: attribute(headers, PARTITIONKEY),
            data_content_type: header(headers, CONTENT_TYPE).map(str::to_owned),
            extensions,
            data: body.to_vec(),
        })
    }

    /// The `specversion` attribute, `1.0` for the events Flint sends.
    pub fn specversion(&self) -> &str {
        &self.specversion
    }

    /// The `id` attribute: unique for each event from one source.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `source` attribute: what produced the event, a URI reference.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `type` attribute, e.g. `com.example.order.created`.
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The `time` attribute, an RFC 3339 timestamp, if sent.
    pub fn time(&self) -> Option<&str> {
        self.time.as_deref()
    }

    /// The `subject` attribute, if sent.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The `partitionkey` extension, if sent; Flint puts the Kafka record
    /// key there.
    pub fn partition_key(&self) -> Option<&str> {
        self.partition_key.as_deref()
    }

    /// The `datacontenttype` attribute (the request's `content-type`), if sent.
    pub fn data_content_type(&self) -> Option<&str> {
        self.data_content_type.as_deref()
    }

    /// The first value of extension attribute `name` (without `ce-`),
    /// whatever its case.
    pub fn extension(&self, name: &str) -> Option<&str> {
        header(&self.extensions, name)
    }

    /// Every other `ce-*` header, named without the prefix and in lower
    /// case, in the order received.
    pub fn extensions(&self) -> &[(String, String)] {
        &self.extensions
    }

    /// The event data: the request body.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The event data as UTF-8 text.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.data)
    }
}

/// The percent-decoded value of the first header called `name`.
fn attribute(headers: &[(String, String)], name: &str) -> Option<String> {
    header(headers, name).map(|value| percent_decode(value, Plus::Literal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    const REQUIRED: [(&str, &str); 4] = [
        ("ce-specversion", "1.0"),
        ("Ce-Id", "42"),
        ("ce-source", "/flint/schedule/nightly"),
        ("ce-type", "dev.flint.schedule"),
    ];

    #[test]
    fn parses_binary_mode_event() {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("ce-time", "2025-01-02T03:04:05Z"),
            ("ce-subject", "caf%C3%A9+bar"),
            ("ce-partitionkey", "user-7"),
            ("content-type", "application/json"),
            ("CE-TraceParent", "00-abc-01"),
            ("x-other", "ignored"),
        ]);
        let event = CloudEvent::from_parts(&headers(&pairs), b"{\"a\":1}").unwrap();
        assert_eq!(event.specversion(), "1.0");
        assert_eq!(event.id(), "42");
        assert_eq!(event.source(), "/flint/schedule/nightly");
        assert_eq!(event.ty(), "dev.flint.schedule");
        assert_eq!(event.time(), Some("2025-01-02T03:04:05Z"));
        assert_eq!(event.subject(), Some("café+bar"));
        assert_eq!(event.partition_key(), Some("user-7"));
        assert_eq!(event.data_content_type(), Some("application/json"));
        assert_eq!(event.extensions(), [("traceparent".to_owned(), "00-abc-01".to_owned())]);
        assert_eq!(event.extension("TraceParent"), Some("00-abc-01"));
        assert_eq!(event.text(), Ok("{\"a\":1}"));
    }

    #[test]
    fn optional_attributes_may_be_missing() {
        let event = CloudEvent::from_parts(&headers(&REQUIRED), b"").unwrap();
        assert_eq!((event.time(), event.subject(), event.partition_key()), (None, None, None));
        assert_eq!(event.data_content_type(), None);
        assert!(event.extensions().is_empty());
        assert!(event.data().is_empty());
    }

    #[test]
    fn required_attributes_must_be_present_and_non_empty() {
        for (skip, (name, _)) in REQUIRED.iter().enumerate() {
            let mut pairs = REQUIRED.to_vec();
            pairs.remove(skip);
            assert_eq!(CloudEvent::from_parts(&headers(&pairs), b""), None, "without {name}");
            pairs.insert(skip, (name, ""));
            assert_eq!(CloudEvent::from_parts(&headers(&pairs), b""), None, "empty {name}");
        }
    }
}
