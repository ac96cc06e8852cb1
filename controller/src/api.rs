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
//! | GET | `/v1/namespaces/{ns}/triggers/{name}/status` | a trigger's health on each invoker |
//! | PUT | `/v1/invokers/{id}` | an invoker registers |
//! | POST | `/v1/scheduler/lease`, `/v1/scheduler/fires`, `/v1/scheduler/runs` | invokers coordinate schedules |
//! | GET | `/v1/scheduler/cursors` | the last fire time of every schedule |
//! | POST | `/v1/logs` | invokers ship guest logs |
//! | GET | `/v1/usage?from=&to=&namespace=&function=&group_by=&format=` | usage and cost, JSON or CSV |
//! | POST | `/v1/usage/batches` | invokers ship usage ([`UsageBatch`](flint_api::UsageBatch)) |
//! | GET, PUT | `/v1/usage/plan` | the price plan ([`PricePlanSpec`](flint_api::PricePlanSpec) to PUT) |
//! | GET | `/ui`, `/ui/functions/{ns}/{name}` | the usage dashboard (HTML) |
//! | GET | `/v1/whoami` | the caller's token: name, role, namespaces |
//! | GET, POST | `/v1/tokens` | list tokens; make one ([`TokenSpec`](flint_api::TokenSpec)) |
//! | DELETE | `/v1/tokens/{name}` | revoke a token |
//! | GET | `/v1/namespaces` | the namespaces the caller sees, with quotas and cost |
//! | GET, PUT | `/v1/namespaces/{ns}` | one namespace ([`Quotas`](flint_api::Quotas) to PUT) |
//! | GET | `/v1/audit?since=T` | mutating calls: who, what, where, result |
//! | GET | `/v1/openapi.json` | the OpenAPI 3.1 description of `/v1` (open, no token) |
//!
//! Before any of these runs, [`handle`] checks the caller against what the
//! route needs ([`auth::access`](crate::auth::access)): `401` without a
//! valid credential, `403` when the token's role or namespaces do not allow
//! the call. Every mutating call of a user token is then appended to the
//! audit log.

mod admin;
mod feed;
mod functions;
pub mod invoke;
mod namespaces;
mod openapi;
mod scheduler;
mod triggers;
mod usage;

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{InvokerInfo, LogEntry, Name};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use crate::auth::access::{self, Need};
use crate::auth::{Caller, Refused};
use crate::{State, store};

/// Largest JSON body accepted (specs, log batches, registrations).
const MAX_JSON_BYTES: usize = 4 << 20;

/// Answers one request: authenticates the caller, checks what the route
/// needs, routes, and records mutating calls in the audit log.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> FullResponse {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method().clone();
    let need = access::need(&method, &segments, state.config.metrics_open);
    let ui = segments.first() == Some(&"ui");
    // Open routes (health probes) answer whatever credential comes along.
    let caller =
        if need == Need::Open { Ok(Caller::Anonymous) } else { authenticate(&state, &request, ui) };
    let (route, mut response) = match caller {
        Err(refused) => ("auth", refusal(ui, StatusCode::UNAUTHORIZED, &refused.to_string())),
        Ok(caller) => {
            let answer = match access::check(&caller, &need) {
                Err((status, message)) => ("auth", refusal(ui, status, &message)),
                Ok(()) if ui => crate::ui::route(&state, request, &segments[1..], &caller).await,
                Ok(()) => route(&state, request, &segments, &caller).await,
            };
            // Calls that change something; `…/invoke` runs a function but
            // changes nothing stored (and may come at a high rate).
            let invoke = segments.get(5) == Some(&"invoke");
            if let Caller::User(_) = caller
                && method != Method::GET
                && method != Method::HEAD
                && !ui
                && !invoke
            {
                audit(&state, &caller, &method, &path, &segments, &need, answer.1.status());
            }
            answer
        }
    };
    state.metrics.requests.with_label_values(&[route, response.status().as_str()]).inc();
    // After a write, this is the revision that contains it: clients wait
    // for invokers to reach it (see `Client::wait_for_invokers`).
    response
        .headers_mut()
        .insert(flint_api::REVISION_HEADER, http::HeaderValue::from(state.store.revision()));
    response
}

/// The caller of `request`: a token in a header, or on the dashboard its
/// session cookie. Records when a token was last used, at most once a minute.
fn authenticate(
    state: &Arc<State>,
    request: &Request<Incoming>,
    ui: bool,
) -> Result<Caller, Refused> {
    let headers = request.headers();
    let presented = flint_api::auth::token_from_headers(headers)
        .or_else(|| if ui { flint_api::auth::session_cookie(headers) } else { None });
    let (caller, touch) = state.tokens.authenticate(presented, flint_api::Timestamp::now())?;
    if let Some(id) = touch {
        let state = Arc::clone(state);
        tokio::task::spawn_blocking(move || {
            if let Err(error) = state.store.touch_token(&id, flint_api::Timestamp::now()) {
                tracing::warn!(error = %flint_api::ErrorChain(&error), "cannot record a token's use");
            }
        });
    }
    Ok(caller)
}

/// A `401`/`403`: JSON for the API, the sign-in page for the dashboard.
/// The request's body was not read, so the connection cannot carry another
/// request: say so, or a client reusing it fails its next request.
fn refusal(ui: bool, status: StatusCode, message: &str) -> FullResponse {
    let mut response =
        if ui { crate::ui::sign_in_page(status, message) } else { server::error(status, message) };
    response
        .headers_mut()
        .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}

/// Appends a mutating call to the audit log, off the async threads.
fn audit(
    state: &Arc<State>,
    caller: &Caller,
    method: &Method,
    path: &str,
    segments: &[&str],
    need: &Need,
    status: StatusCode,
) {
    let (id, name) = caller.who();
    let namespace = need.namespace().cloned().or_else(|| match segments {
        ["v1", "namespaces", ns, ..] => ns.parse().ok(),
        _ => None,
    });
    let entry = flint_api::AuditEntry {
        seq: 0,
        time: flint_api::Timestamp::now(),
        token_id: id.to_owned(),
        token_name: name.to_owned(),
        method: method.to_string(),
        path: path.chars().take(MAX_AUDIT_PATH).collect(),
        namespace,
        status: status.as_u16(),
    };
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        if let Err(error) = state.store.append_audit(entry) {
            tracing::warn!(error = %flint_api::ErrorChain(&error), "cannot append to the audit log");
        }
    });
}

/// Longest path kept in an audit entry.
const MAX_AUDIT_PATH: usize = 512;

/// Dispatches on the path; returns the route template (a bounded metric
/// label) with the answer. The caller has been checked against the route.
async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    segments: &[&str],
    caller: &Caller,
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match *segments {
        ["healthz"] | ["readyz"] => ("/healthz", health(state).await),
        ["metrics"] => ("/metrics", server::metrics(&state.registry)),
        ["v1", "openapi.json"] => {
            ("/v1/openapi.json", only(&method, Method::GET, async { openapi::document() }).await)
        }
        ["v1", "whoami"] => (
            "/v1/whoami",
            only(&method, Method::GET, async {
                match caller.whoami() {
                    Some(me) => server::json(StatusCode::OK, &me),
                    None => server::error(StatusCode::UNAUTHORIZED, Refused::Missing.to_string()),
                }
            })
            .await,
        ),
        ["v1", "tokens", ref rest @ ..] => admin::tokens(state, request, rest, caller).await,
        ["v1", "audit"] => {
            ("/v1/audit", only(&method, Method::GET, admin::audit(state, &request)).await)
        }
        ["v1", "namespaces"] => {
            ("/v1/namespaces", only(&method, Method::GET, namespaces::list(state, caller)).await)
        }
        ["v1", "namespaces", ns] => {
            let ns = match parse_name(ns) {
                Ok(ns) => ns,
                Err(response) => return ("/v1/namespaces/{ns}", response),
            };
            ("/v1/namespaces/{ns}", namespaces::route(state, request, ns).await)
        }
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
            triggers::route(state, request, ns, rest, caller).await
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
                let mut list = state.invokers.list();
                // Trigger health names triggers: only the caller's namespaces'.
                for invoker in &mut list {
                    invoker.info.triggers.retain(|t| caller.sees(&t.namespace));
                }
                server::json(StatusCode::OK, &list)
            })
            .await,
        ),
        ["v1", "invokers", id] => {
            ("/v1/invokers/{id}", only(&method, Method::PUT, register(state, request, id)).await)
        }
        ["v1", "usage", ref rest @ ..] => usage::route(state, request, rest, caller).await,
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
        store::Error::TokenNotFound(_) => server::error(StatusCode::NOT_FOUND, error.to_string()),
        store::Error::Conflict(_) => server::error(StatusCode::CONFLICT, error.to_string()),
        store::Error::Quota(_) => server::error(StatusCode::FORBIDDEN, error.to_string()),
        // Admins get the owner's namespace from `triggers::put`; others
        // must not learn what other namespaces exist.
        store::Error::RouteTaken { route, theirs, how, .. } => server::error(
            StatusCode::CONFLICT,
            format!("route `{route}` overlaps `{theirs}`, which another namespace {how}"),
        ),
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

/// Largest invoker registration: its trigger health list grows with the
/// Kafka triggers it runs (a few hundred bytes each).
const MAX_REGISTRATION_BYTES: usize = 1 << 20;
/// Longest invoker id and URL.
const MAX_INVOKER_FIELD: usize = 256;

async fn register(state: &Arc<State>, request: Request<Incoming>, id: &str) -> FullResponse {
    let info: InvokerInfo =
        match server::read_json(request.into_body(), MAX_REGISTRATION_BYTES).await {
            Ok(info) => info,
            Err(response) => return response,
        };
    if info.id != id {
        return server::error(
            StatusCode::BAD_REQUEST,
            format!("invoker id `{}` does not match the path `{id}`", info.id),
        );
    }
    // The controller forwards `flint invoke` to the admin URL: plain HTTP
    // inside the cluster. The ingress may be served over TLS.
    let urls_ok = info.admin_url.starts_with("http://")
        && (info.http_url.starts_with("http://") || info.http_url.starts_with("https://"))
        && info.admin_url.len() <= MAX_INVOKER_FIELD
        && info.http_url.len() <= MAX_INVOKER_FIELD;
    if id.is_empty() || id.len() > MAX_INVOKER_FIELD || !urls_ok {
        return server::error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid registration: the id and URLs (http://) must be 1 to {MAX_INVOKER_FIELD} characters"
            ),
        );
    }
    match state.invokers.register(info) {
        Ok(()) => server::no_content(),
        Err(message) => server::error(StatusCode::SERVICE_UNAVAILABLE, message),
    }
}

async fn push_logs(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let entries =
        match server::read_json::<Vec<LogEntry>>(request.into_body(), MAX_JSON_BYTES).await {
            Ok(entries) => entries,
            Err(response) => return response,
        };
    // Logs are kept in memory per function: only for functions that exist,
    // so made-up names cannot grow the map.
    let kept = blocking(state, move |s| {
        let mut known = std::collections::HashMap::new();
        let mut kept = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = (entry.namespace.clone(), entry.function.clone());
            let exists = match known.get(&key) {
                Some(exists) => *exists,
                None => {
                    let exists = s.store.function(&key.0, &key.1).is_ok();
                    known.insert(key, exists);
                    exists
                }
            };
            if exists {
                kept.push(entry);
            }
        }
        Ok(kept)
    })
    .await;
    match kept {
        Ok(entries) => {
            state.logs.append(entries);
            server::no_content()
        }
        Err(response) => response,
    }
}
