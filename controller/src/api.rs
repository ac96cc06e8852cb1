//! The REST API: routing, and the mapping of errors to statuses.
//!
//! Routes (JSON unless noted):
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/healthz` | `ok` when the store answers |
//! | GET | `/metrics` | Prometheus text |
//! | GET | `/v1/namespaces/{ns}/functions` | list functions |
//! | GET, PUT, DELETE | `/v1/namespaces/{ns}/functions/{name}` | one function ([`FunctionSpec`](flint_api::FunctionSpec) to PUT) |
//! | GET, POST | `/v1/namespaces/{ns}/functions/{name}/versions` | list versions; upload wasm (`application/wasm`) |
//! | GET | `/v1/namespaces/{ns}/functions/{name}/logs?since=N&wait_ms=T` | guest log lines |
//! | any | `/v1/namespaces/{ns}/functions/{name}/invoke[/path]` | call the function through an invoker |
//! | GET | `/v1/namespaces/{ns}/triggers` | list triggers |
//! | GET, PUT, DELETE | `/v1/namespaces/{ns}/triggers/{name}` | one trigger ([`TriggerRequest`](flint_api::TriggerRequest) to PUT) |
//! | GET | `/v1/watch?since=REV&wait_ms=T` | the change feed |
//! | GET | `/v1/blobs/{digest}` | the wasm of a version (`application/wasm`) |
//! | GET | `/v1/invokers` | registered invokers |
//! | GET | `/v1/namespaces/{ns}/triggers/{name}/runs` | a schedule's last and next fire times and recent runs |
//! | PUT | `/v1/invokers/{id}` | an invoker registers |
//! | POST | `/v1/scheduler/lease`, `/v1/scheduler/fires`, `/v1/scheduler/runs` | invokers coordinate schedules |
//! | GET | `/v1/scheduler/cursors` | the last fire time of every schedule |
//! | POST | `/v1/logs` | invokers ship guest logs |
//! | GET | `/v1/usage?from=&to=&namespace=&function=&group_by=&format=` | usage and cost, JSON or CSV |
//! | POST | `/v1/usage/batches` | invokers ship usage ([`UsageBatch`](flint_api::UsageBatch)) |
//! | GET, PUT | `/v1/usage/plan` | the price plan ([`PricePlanSpec`](flint_api::PricePlanSpec) to PUT) |
//! | GET | `/ui`, `/ui/functions/{ns}/{name}` | the usage dashboard (HTML) |

mod feed;
mod functions;
pub mod invoke;
mod scheduler;
mod triggers;
mod usage;

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{InvokerInfo, LogEntry, Name};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use crate::{State, store};

/// Largest JSON body accepted (specs, log batches, registrations).
const MAX_JSON_BYTES: usize = 4 << 20;

/// Answers one request.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> FullResponse {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (route, mut response) = route(&state, request, &segments).await;
    state.metrics.requests.with_label_values(&[route, response.status().as_str()]).inc();
    // After a write, this is the revision that contains it: clients wait
    // for invokers to reach it (see `Client::wait_for_invokers`).
    response
        .headers_mut()
        .insert(flint_api::REVISION_HEADER, http::HeaderValue::from(state.store.revision()));
    response
}

/// Dispatches on the path; returns the route template (a bounded metric
/// label) with the answer.
async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    segments: &[&str],
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match *segments {
        ["healthz"] => ("/healthz", health(state).await),
        ["metrics"] => ("/metrics", server::metrics(&state.registry)),
        ["v1", "namespaces", ns, "functions", ref rest @ ..] => {
            let ns = match parse_name(ns) {
                Ok(ns) => ns,
                Err(response) => return ("/v1/namespaces/{ns}/functions", response),
            };
            functions::route(state, request, ns, rest).await
        }
        ["v1", "namespaces", ns, "triggers", ref rest @ ..] => {
            let ns = match parse_name(ns) {
                Ok(ns) => ns,
                Err(response) => return ("/v1/namespaces/{ns}/triggers", response),
            };
            triggers::route(state, request, ns, rest).await
        }
        ["v1", "scheduler", ref rest @ ..] => scheduler::route(state, request, rest).await,
        ["v1", "watch"] => {
            ("/v1/watch", only(&method, Method::GET, feed::watch(state, &request)).await)
        }
        ["v1", "blobs", digest] => {
            ("/v1/blobs/{digest}", only(&method, Method::GET, feed::blob(state, digest)).await)
        }
        ["v1", "invokers"] => (
            "/v1/invokers",
            only(&method, Method::GET, async {
                server::json(StatusCode::OK, &state.invokers.list())
            })
            .await,
        ),
        ["v1", "invokers", id] => {
            ("/v1/invokers/{id}", only(&method, Method::PUT, register(state, request, id)).await)
        }
        ["v1", "usage", ref rest @ ..] => usage::route(state, request, rest).await,
        ["ui", ref rest @ ..] => crate::ui::route(state, request, rest).await,
        ["v1", "logs"] => {
            ("/v1/logs", only(&method, Method::POST, push_logs(state, request)).await)
        }
        _ => ("other", not_found(&path_of(segments))),
    }
}

fn path_of(segments: &[&str]) -> String {
    format!("/{}", segments.join("/"))
}

/// Runs `handler` if the method is `allowed`, else answers `405`.
pub(crate) async fn only(
    method: &Method,
    allowed: Method,
    handler: impl Future<Output = FullResponse>,
) -> FullResponse {
    if *method == allowed { handler.await } else { method_not_allowed(method, &[allowed]) }
}

/// `405` naming the allowed methods.
pub(crate) fn method_not_allowed(method: &Method, allowed: &[Method]) -> FullResponse {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let mut response = server::error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed here; use {}", list.join(", ")),
    );
    if let Ok(value) = http::HeaderValue::from_str(&list.join(", ")) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

pub(crate) fn not_found(path: &str) -> FullResponse {
    server::error(StatusCode::NOT_FOUND, format!("no such API path: {path}"))
}

/// Parses a name from the path, answering `400` if it is not valid.
pub(crate) fn parse_name(s: &str) -> Result<Name, FullResponse> {
    s.parse()
        .map_err(|e: flint_api::InvalidId| server::error(StatusCode::BAD_REQUEST, e.to_string()))
}

/// Runs a store call on a blocking thread and maps its errors to answers.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &Arc<State>,
    call: impl FnOnce(&State) -> store::Result<T> + Send + 'static,
) -> Result<T, FullResponse> {
    let state = Arc::clone(state);
    let result = tokio::task::spawn_blocking(move || {
        let result = call(&state);
        state.metrics.revision.set(state.store.revision() as i64);
        result
    })
    .await;
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(store_error(&error)),
        Err(join) => {
            tracing::error!(error = %join, "store call panicked");
            Err(server::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

fn store_error(error: &store::Error) -> FullResponse {
    match error {
        store::Error::FunctionNotFound { .. } | store::Error::TriggerNotFound { .. } => {
            server::error(StatusCode::NOT_FOUND, error.to_string())
        }
        store::Error::Conflict(_) => server::error(StatusCode::CONFLICT, error.to_string()),
        store::Error::NotLeader(_) => server::error(StatusCode::FORBIDDEN, error.to_string()),
        _ => {
            tracing::error!(error = %flint_api::ErrorChain(error), "store failed");
            server::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}", flint_api::ErrorChain(error)),
            )
        }
    }
}

async fn health(state: &Arc<State>) -> FullResponse {
    match blocking(state, |s| s.store.functions(&Name::default_namespace())).await {
        Ok(_) => server::with_type(StatusCode::OK, "text/plain", "ok\n".into()),
        Err(response) => response,
    }
}

async fn register(state: &Arc<State>, request: Request<Incoming>, id: &str) -> FullResponse {
    let info: InvokerInfo = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(info) => info,
        Err(response) => return response,
    };
    if info.id != id {
        return server::error(
            StatusCode::BAD_REQUEST,
            format!("invoker id `{}` does not match the path `{id}`", info.id),
        );
    }
    state.invokers.register(info);
    server::no_content()
}

async fn push_logs(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    match server::read_json::<Vec<LogEntry>>(request.into_body(), MAX_JSON_BYTES).await {
        Ok(entries) => {
            state.logs.append(entries);
            server::no_content()
        }
        Err(response) => response,
    }
}
