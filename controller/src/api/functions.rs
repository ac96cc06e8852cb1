//! `/v1/namespaces/{ns}/functions/…`: functions, versions, logs, invoke.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flint_api::server::{self, FullResponse};
use flint_api::{Digest, FunctionSpec, Name, WASM_CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use sha2::{Digest as _, Sha256};

use super::{MAX_JSON_BYTES, blocking, invoke, method_not_allowed, not_found, only, parse_name};
use crate::State;

/// Longest a `…/logs` long poll may wait.
const MAX_LOG_WAIT: Duration = Duration::from_secs(60);

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    rest: &[&str],
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    let Some((name, rest)) = rest.split_first() else {
        return (
            "/v1/namespaces/{ns}/functions",
            only(&method, Method::GET, list(state, ns)).await,
        );
    };
    let name = match parse_name(name) {
        Ok(name) => name,
        Err(response) => return ("/v1/namespaces/{ns}/functions/{name}", response),
    };
    match rest {
        [] => {
            let response = match method {
                Method::GET => get(state, ns, name).await,
                Method::PUT => put(state, request, ns, name).await,
                Method::DELETE => delete(state, ns, name).await,
                _ => method_not_allowed(&method, &[Method::GET, Method::PUT, Method::DELETE]),
            };
            ("/v1/namespaces/{ns}/functions/{name}", response)
        }
        ["versions"] => {
            let response = match method {
                Method::GET => versions(state, ns, name).await,
                Method::POST => upload(state, request, ns, name).await,
                _ => method_not_allowed(&method, &[Method::GET, Method::POST]),
            };
            ("/v1/namespaces/{ns}/functions/{name}/versions", response)
        }
        ["logs"] => (
            "/v1/namespaces/{ns}/functions/{name}/logs",
            only(&method, Method::GET, logs(state, &request, ns, name)).await,
        ),
        ["invoke", ..] => (
            "/v1/namespaces/{ns}/functions/{name}/invoke",
            invoke::forward(state, request, ns, name).await,
        ),
        _ => ("other", not_found(request.uri().path())),
    }
}

async fn list(state: &Arc<State>, ns: Name) -> FullResponse {
    match blocking(state, move |s| s.store.functions(&ns)).await {
        Ok(functions) => server::json(StatusCode::OK, &functions),
        Err(response) => response,
    }
}

async fn get(state: &Arc<State>, ns: Name, name: Name) -> FullResponse {
    match blocking(state, move |s| s.store.function(&ns, &name)).await {
        Ok(function) => server::json(StatusCode::OK, &function),
        Err(response) => response,
    }
}

async fn put(state: &Arc<State>, request: Request<Incoming>, ns: Name, name: Name) -> FullResponse {
    let body = match server::read_body(request.into_body(), MAX_JSON_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    // An empty body means "all defaults".
    let spec: FunctionSpec = if body.is_empty() {
        FunctionSpec::default()
    } else {
        match server::parse_json(&body) {
            Ok(spec) => spec,
            Err(response) => return response,
        }
    };
    let limits =
        match spec.validate().and_then(|()| spec.limits.resolve(&state.config.default_limits)) {
            Ok(limits) => limits,
            Err(e) => return server::error(StatusCode::BAD_REQUEST, e.to_string()),
        };
    match blocking(state, move |s| s.store.put_function(&ns, &name, limits, spec.env)).await {
        Ok((function, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            server::json(status, &function)
        }
        Err(response) => response,
    }
}

async fn delete(state: &Arc<State>, ns: Name, name: Name) -> FullResponse {
    let (ns2, name2) = (ns.clone(), name.clone());
    match blocking(state, move |s| s.store.delete_function(&ns2, &name2)).await {
        Ok(()) => {
            state.logs.remove(&ns, &name);
            server::no_content()
        }
        Err(response) => response,
    }
}

async fn versions(state: &Arc<State>, ns: Name, name: Name) -> FullResponse {
    match blocking(state, move |s| s.store.versions(&ns, &name)).await {
        Ok(versions) => server::json(StatusCode::OK, &versions),
        Err(response) => response,
    }
}

/// Validates the upload with the invokers' engine settings, then stores it.
/// Nothing is written unless the wasm is a component Flint can run.
async fn upload(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    name: Name,
) -> FullResponse {
    let content_type =
        request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if let Some(content_type) = content_type
        && content_type != WASM_CONTENT_TYPE
        && content_type != "application/octet-stream"
    {
        return server::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("upload the wasm as `{WASM_CONTENT_TYPE}`, not `{content_type}`"),
        );
    }
    // Check the function first: a typo in the name should not cost a compile.
    let (ns2, name2) = (ns.clone(), name.clone());
    if let Err(response) = blocking(state, move |s| s.store.function(&ns2, &name2)).await {
        return response;
    }
    let wasm = match server::read_body(request.into_body(), state.config.max_upload_bytes).await {
        Ok(wasm) => wasm,
        Err(response) => {
            state.metrics.uploads.with_label_values(&["too_large"]).inc();
            return response;
        }
    };

    // Versions are content-addressed: bytes already stored were validated
    // when they first arrived, and compiling them again would only cost time.
    let digest = Digest::from_sha256(&Sha256::digest(&wasm).into());
    let known = {
        let digest = digest.clone();
        blocking(state, move |s| s.store.blob(&digest).map(|blob| blob.is_some())).await
    };
    match known {
        Ok(true) => {}
        Ok(false) => {
            if let Err(response) = validate(state, wasm.clone()).await {
                return response;
            }
        }
        Err(response) => return response,
    }

    match blocking(state, move |s| s.store.add_version(&ns, &name, &digest, &wasm)).await {
        Ok(function) => {
            state.metrics.uploads.with_label_values(&["accepted"]).inc();
            server::json(StatusCode::CREATED, &function)
        }
        Err(response) => response,
    }
}

/// Compiles and link-checks an upload, one at a time; `Err` is the answer.
async fn validate(state: &Arc<State>, wasm: bytes::Bytes) -> Result<(), FullResponse> {
    let Ok(_permit) = state.validations.acquire().await else {
        return Err(server::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller is shutting down",
        ));
    };
    let started = Instant::now();
    let validation = {
        let state = Arc::clone(state);
        tokio::task::spawn_blocking(move || flint_engine::validate(&state.linker, &wasm).map(drop))
            .await
    };
    state.metrics.validation_seconds.observe(started.elapsed().as_secs_f64());
    match validation {
        Ok(Ok(())) => Ok(()),
        Ok(Err(invalid)) => {
            state.metrics.uploads.with_label_values(&["invalid"]).inc();
            Err(server::error(StatusCode::BAD_REQUEST, invalid.to_string()))
        }
        Err(join) => {
            tracing::error!(error = %join, "validation panicked");
            Err(server::error(StatusCode::INTERNAL_SERVER_ERROR, "validation failed unexpectedly"))
        }
    }
}

/// A page of log lines; with `wait_ms`, waits for new lines when there are none.
async fn logs(
    state: &Arc<State>,
    request: &Request<Incoming>,
    ns: Name,
    name: Name,
) -> FullResponse {
    let query = request.uri().query();
    let since = server::query_param(query, "since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let wait = server::query_param(query, "wait_ms")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
        .min(MAX_LOG_WAIT);
    let (ns2, name2) = (ns.clone(), name.clone());
    if let Err(response) = blocking(state, move |s| s.store.function(&ns2, &name2)).await {
        return response;
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut appended = state.logs.subscribe();
    loop {
        appended.borrow_and_update();
        let page = state.logs.page(&ns, &name, since);
        if !page.lines.is_empty() {
            return server::json(StatusCode::OK, &page);
        }
        let more = tokio::select! {
            () = state.stopping.cancelled() => false,
            changed = tokio::time::timeout_at(deadline, appended.changed()) => matches!(changed, Ok(Ok(()))),
        };
        if !more {
            return server::json(StatusCode::OK, &page);
        }
    }
}
