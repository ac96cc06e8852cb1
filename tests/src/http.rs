//! A small HTTP/1.1 client for tests: whole responses, one connection pool
//! per process.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
pub use http::Method;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// No test request may take longer than this; a hang fails the test.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn client() -> &'static Client<HttpConnector, Full<Bytes>> {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build(connector)
    })
}

/// `GET url`.
pub async fn get(url: &str) -> Response {
    send(Method::GET, url, &[], Bytes::new()).await
}

/// `POST url` with a body.
pub async fn post(url: &str, body: impl Into<Bytes>) -> Response {
    send(Method::POST, url, &[], body.into()).await
}

/// Any request; panics if it fails or takes longer than [`REQUEST_TIMEOUT`].
pub async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Bytes) -> Response {
    try_send(method, url, headers, body).await.unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Any request; an error instead of a panic when it fails.
pub async fn try_send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Response, String> {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client().request(request).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
}

/// `GET url` until it answers `status` (a deploy takes a moment to reach
/// the invoker); panics after 30 s with the last answer.
pub async fn wait_for(url: &str, status: u16) -> Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = try_send(Method::GET, url, &[], Bytes::new()).await;
        match response {
            Ok(response) if response.status == status => return response,
            other if tokio::time::Instant::now() >= deadline => {
                panic!("{url} did not answer {status} within 30 s; last: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// `GET url` with `Authorization: Bearer token`.
pub async fn get_as(url: &str, token: &str) -> Response {
    let auth = crate::auth::bearer(token);
    send(Method::GET, url, &[("authorization", &auth)], Bytes::new()).await
}

/// Any request with `Authorization: Bearer token` (when given) and a JSON body.
pub async fn send_json_as(method: Method, url: &str, token: Option<&str>, body: &str) -> Response {
    let auth = token.map(crate::auth::bearer);
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    send(method, url, &headers, Bytes::from(body.to_owned())).await
}
