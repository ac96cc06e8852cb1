//! The HTTP ingress: routes requests by host and path prefix to functions,
//! and the admin endpoint `POST /v1/invoke/{ns}/{name}/…` the controller
//! forwards `flint invoke` to.
//!
//! A route with `auth = "token"` takes a token before anything else happens
//! ([`crate::access`]); the admin `invoke` takes the cluster credential.
//! Neither credential, nor the dashboard's session cookie, reaches a guest.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use flint_api::auth::TOKEN_HEADER;
use flint_api::{Name, RouteAuth};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::Runtime;
use crate::access::{self, Denied};
use crate::function::Function;
use crate::invoke::{Failure, TriggerKind, invoke};
use crate::routes::Match;

/// Answers one ingress request.
pub async fn ingress(
    runtime: Arc<Runtime>,
    mut request: Request<Incoming>,
) -> Response<HyperOutgoingBody> {
    // A proxy in front that normalises `/a/../b` to `/b` would route the
    // request elsewhere than Flint does: refuse such paths outright.
    if has_dot_segment(request.uri().path()) {
        return text(
            StatusCode::BAD_REQUEST,
            "the request path has `.` or `..` segments (plain or percent-encoded); send the normalised path\n".into(),
        );
    }
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let routes = runtime.registry.routes();
    let found = routes.find(host, request.uri().path(), request.method());
    match found {
        Match::Function { namespace, function, auth } => {
            // Before the function is even looked up: a refused caller
            // learns nothing about it and costs no instance.
            if auth == RouteAuth::Token {
                match runtime.registry.access.authorize(request.headers(), namespace) {
                    Ok(carrier) => access::strip_token(request.headers_mut(), carrier),
                    Err(denied) => {
                        runtime.metrics.rejected(namespace, function, denied.reason());
                        return denied_response(&denied);
                    }
                }
            }
            access::strip_session_cookie(request.headers_mut());
            let target = runtime
                .registry
                .function(namespace, function)
                .ok_or_else(|| (namespace.clone(), function.clone()));
            call(&runtime, target, TriggerKind::Http, request).await
        }
        Match::MethodNotAllowed(methods) => {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "method {} is not allowed here; use {}",
                    request.method(),
                    methods.join(", ")
                ),
            );
            if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        Match::NotFound => {
            runtime.metrics.unrouted.inc();
            text(
                StatusCode::NOT_FOUND,
                format!("no function is routed at {}", request.uri().path()),
            )
        }
    }
}

/// `/v1/invoke/{ns}/{name}[/path]` on the admin listener: calls a function by
/// name, for the caller with the cluster credential; the guest sees `/path`
/// (or `/`) and the query.
pub async fn invoke_by_name(
    runtime: &Arc<Runtime>,
    mut request: Request<Incoming>,
    ns: &str,
    name: &str,
) -> Response<HyperOutgoingBody> {
    // Only the controller may call functions by name here: it forwards
    // `flint invoke` after checking the user's token.
    if !access::cluster_bearer_ok(request.headers(), &runtime.config.cluster_token) {
        return cluster_unauthorized(request.headers());
    }
    let (Ok(ns), Ok(name)) = (ns.parse::<Name>(), name.parse::<Name>()) else {
        return text(StatusCode::BAD_REQUEST, "invalid namespace or function name".into());
    };
    // The cluster credential and any Flint token are for Flint, not for
    // the guest.
    let headers = request.headers_mut();
    headers.remove(header::AUTHORIZATION);
    headers.remove(TOKEN_HEADER);
    access::strip_session_cookie(headers);
    let prefix = format!("/v1/invoke/{ns}/{name}");
    let rest = request.uri().path().strip_prefix(prefix.as_str()).unwrap_or("");
    let rest = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    match path_and_query.parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return text(StatusCode::BAD_REQUEST, "invalid path".into()),
    }
    let target = runtime.registry.function(&ns, &name).ok_or((ns, name));
    call(runtime, target, TriggerKind::Invoke, request).await
}

/// Calls the function, or explains why there is none (`Err` names it).
async fn call(
    runtime: &Arc<Runtime>,
    target: Result<Arc<Function>, (Name, Name)>,
    trigger: TriggerKind,
    mut request: Request<Incoming>,
) -> Response<HyperOutgoingBody> {
    let function = match target {
        Ok(function) => function,
        Err((ns, name)) if runtime.registry.is_pending(&ns, &name) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("function `{name}` has no code yet: deploy a version"),
            );
        }
        Err((ns, name)) => {
            return text(
                StatusCode::NOT_FOUND,
                format!("function `{name}` does not exist in namespace `{ns}`"),
            );
        }
    };
    let limit = runtime.config.max_body_bytes;
    if request.body().size_hint().lower() > limit as u64 {
        return text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        );
    }
    // wasi:http needs an authority; HTTP/1.0 clients may not send one.
    if !request.headers().contains_key(header::HOST) {
        request.headers_mut().insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    let request = request.map(|body| LimitedBody { body, remaining: limit });
    match invoke(runtime, &function, trigger, request).await {
        Ok(response) => response,
        Err(failure) => failure_response(&function, &failure),
    }
}

/// The answer a client gets when an invocation failed.
pub fn failure_response(function: &Function, failure: &Failure) -> Response<HyperOutgoingBody> {
    let mut response = text(failure.status(), failure.message(function));
    if let Some(seconds) = failure.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The answer to a caller whose token does not open a route.
fn denied_response(denied: &Denied) -> Response<HyperOutgoingBody> {
    let mut response = text(denied.status(), denied.to_string());
    if denied.status() == StatusCode::UNAUTHORIZED {
        // RFC 9110: a 401 names the scheme it wants.
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A plain-text answer from the invoker itself.
pub fn text(status: StatusCode, message: String) -> Response<HyperOutgoingBody> {
    let body =
        Full::new(Bytes::from(message + "\n")).map_err(|never| match never {}).boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Answers the admin listener: health, readiness, metrics, invoke.
pub async fn admin(
    runtime: Arc<Runtime>,
    request: Request<Incoming>,
) -> Response<HyperOutgoingBody> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["healthz"]) => text(StatusCode::OK, "ok".into()),
        (&Method::GET, ["readyz"]) => {
            if runtime.synced.load(std::sync::atomic::Ordering::Acquire) {
                text(StatusCode::OK, "ready".into())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "not synced with the controller yet".into())
            }
        }
        (&Method::GET, ["metrics"]) => flint_api::server::metrics(&runtime.prometheus)
            .map(|b| b.map_err(|never| match never {}).boxed_unsync()),
        (_, ["v1", "invoke", ns, name, ..]) => {
            let (ns, name) = (ns.to_string(), name.to_string());
            invoke_by_name(&runtime, request, &ns, &name).await
        }
        _ => text(StatusCode::NOT_FOUND, format!("no such path: {path}")),
    }
}

/// `401` for an admin `invoke` without the cluster credential: one line of
/// JSON, like the controller's errors.
fn cluster_unauthorized(headers: &http::HeaderMap) -> Response<HyperOutgoingBody> {
    let message = if access::bearer(headers).is_some() {
        "the cluster credential is wrong"
    } else {
        "`/v1/invoke` needs the cluster credential: send `Authorization: Bearer <cluster token>`"
    };
    let mut response = flint_api::server::error(StatusCode::UNAUTHORIZED, message)
        .map(|b| b.map_err(|never| match never {}).boxed_unsync());
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A request body cut off at a size limit, with the error `wasi:http` expects.
struct LimitedBody {
    body: Incoming,
    remaining: usize,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if data.len() > self.remaining {
                        return Poll::Ready(Some(Err(
                            wasmtime_wasi_http::Error::HttpRequestBodySize(None),
                        )));
                    }
                    self.remaining -= data.len();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether `path` has a `.` or `..` segment, also percent-encoded (`%2e`).
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests;
