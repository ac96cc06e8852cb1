//! `…/functions/{name}/invoke[/path]`: calls a function through a healthy
//! invoker's admin listener, so `flint invoke` works for any function, with or
//! without an HTTP route.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flint_api::Name;
use flint_api::server::{self, FullResponse};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::blocking;
use crate::State;

/// The client used to reach invokers.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Builds the client used to reach invokers.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build_http()
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[header::HeaderName] = &[
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TE,
    header::TRAILER,
    header::PROXY_AUTHORIZATION,
    header::AUTHORIZATION,
];

pub(super) async fn forward(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    name: Name,
) -> FullResponse {
    let (ns2, name2) = (ns.clone(), name.clone());
    let function = match blocking(state, move |s| s.store.function(&ns2, &name2)).await {
        Ok(function) => function,
        Err(response) => return response,
    };
    if function.version.is_none() {
        return server::error(
            StatusCode::CONFLICT,
            format!("function `{name}` has no code yet: deploy a version first"),
        );
    }
    let Some(invoker) = state.invokers.pick() else {
        return server::error(StatusCode::SERVICE_UNAVAILABLE, "no healthy invoker is registered");
    };

    let (parts, body) = request.into_parts();
    let prefix = format!("/v1/namespaces/{ns}/functions/{name}/invoke");
    let rest = parts.uri.path().strip_prefix(prefix.as_str()).unwrap_or("");
    let rest = if rest.is_empty() { "/" } else { rest };
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let uri = format!("{}/v1/invoke/{ns}/{name}{rest}{query}", invoker.admin_url);

    let limit = state.config.max_invoke_body_bytes;
    let body = match server::read_body(body, limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut forwarded = Request::builder().method(parts.method).uri(&uri);
    if let Some(headers) = forwarded.headers_mut() {
        // The caller's token stays here; the invoker's admin listener takes
        // the cluster credential.
        *headers = without_hop_headers(parts.headers);
        headers.remove(flint_api::auth::TOKEN_HEADER);
        if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {}", state.cluster_token()))
        {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    let forwarded = match forwarded.body(Full::new(body)) {
        Ok(request) => request,
        Err(e) => {
            return server::error(
                StatusCode::BAD_REQUEST,
                format!("cannot forward the request: {e}"),
            );
        }
    };
    // The invoker enforces the function's timeout; this only guards against
    // an invoker that stopped answering.
    let timeout = Duration::from_millis(function.limits.timeout_ms) + Duration::from_secs(30);
    let response = match tokio::time::timeout(timeout, state.http.request(forwarded)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            return server::error(
                StatusCode::BAD_GATEWAY,
                format!("invoker {} did not answer: {e}", invoker.id),
            );
        }
        Err(_) => {
            return server::error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("invoker {} did not answer in time", invoker.id),
            );
        }
    };
    let (parts, body) = response.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return server::error(
                StatusCode::BAD_GATEWAY,
                format!("cannot read the function's answer: {e}"),
            );
        }
    };
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = parts.status;
    *response.headers_mut() = without_hop_headers(parts.headers);
    response
}

fn without_hop_headers(mut headers: HeaderMap) -> HeaderMap {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::CONTENT_LENGTH);
    headers
}
