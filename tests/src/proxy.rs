//! A forwarding proxy on `127.0.0.1` that adds headers to every request,
//! so headless Chromium (which sends no header of our choosing) can load
//! pages that take a token, e.g. the dashboard with `Authorization: Bearer`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running proxy; stops when dropped.
pub struct HeaderProxy {
    /// Its base URL, e.g. `http://127.0.0.1:40123`: use it in place of the upstream's.
    pub url: String,
    shutdown: CancellationToken,
}

impl HeaderProxy {
    /// Forwards to `upstream` (a base URL), adding `headers` to each request.
    pub async fn start(upstream: &str, headers: Vec<(String, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let headers = Arc::new(headers);
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let (upstream, headers) = (Arc::clone(&upstream), Arc::clone(&headers));
            async move { Ok::<_, Infallible>(forward(&upstream, &headers, request).await) }
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(flint_api::server::serve(listener, service, shutdown.child_token()));
        Self { url, shutdown }
    }
}

impl Drop for HeaderProxy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn forward(
    upstream: &str,
    extra: &[(String, String)],
    request: http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{upstream}{target}");
    let mut headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != http::header::HOST)
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    match crate::http::try_send(parts.method, &url, &headers, body).await {
        Ok(answer) => {
            let mut response = http::Response::new(Full::new(answer.body));
            *response.status_mut() =
                http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
            *response.headers_mut() = answer.headers;
            // The body is whole now: its length goes in `content-length`.
            response.headers_mut().remove(http::header::TRANSFER_ENCODING);
            response
        }
        Err(error) => {
            let mut response = http::Response::new(Full::new(Bytes::from(error)));
            *response.status_mut() = http::StatusCode::BAD_GATEWAY;
            response
        }
    }
}
