//! `/v1/usage…`: the usage report (JSON or CSV), the batches invokers ship,
//! and the price plan.

use std::sync::Arc;
use std::time::Instant;

use flint_api::server::{self, FullResponse};
use flint_api::{BatchAck, CSV_CONTENT_TYPE, PricePlanSpec, Timestamp, UsageBatch};
use http::{Method, Request, StatusCode, header};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed, not_found, only};
use crate::State;
use crate::auth::Caller;
use crate::usage::{self, Params};

/// Largest usage batch accepted. An invoker's batch holds one aggregate per
/// function, trigger kind and minute of its flush interval (a few hundred
/// bytes each), so this leaves room for a backlog after an outage.
const MAX_BATCH_BYTES: usize = 64 << 20;

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &[&str],
    caller: &Caller,
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match rest {
        [] => ("/v1/usage", only(&method, Method::GET, report(state, &request, caller)).await),
        ["batches"] => {
            ("/v1/usage/batches", only(&method, Method::POST, batch(state, request)).await)
        }
        ["plan"] => {
            let response = match method {
                Method::GET => server::json(StatusCode::OK, &state.ledger.plan()),
                Method::PUT => set_plan(state, request).await,
                _ => method_not_allowed(&method, &[Method::GET, Method::PUT]),
            };
            ("/v1/usage/plan", response)
        }
        _ => ("other", not_found(request.uri().path())),
    }
}

/// Whether the client asked for CSV: `format=csv`, or `Accept: text/csv`.
fn wants_csv(request: &Request<Incoming>) -> bool {
    let query = request.uri().query();
    match usage::param(query, "format").as_deref() {
        Some("csv") => true,
        Some(_) => false,
        None => request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    }
}

async fn report(state: &Arc<State>, request: &Request<Incoming>, caller: &Caller) -> FullResponse {
    let mut params = match Params::parse(request.uri().query(), Timestamp::now()) {
        Ok(params) => params,
        Err(e) => return server::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Err(response) = restrict(&mut params.query, caller) {
        return response;
    }
    if let Some(format) = usage::param(request.uri().query(), "format")
        && format != "csv"
        && format != "json"
    {
        return server::error(
            StatusCode::BAD_REQUEST,
            format!("invalid `format`: `{format}` is not json or csv"),
        );
    }
    let csv = wants_csv(request);
    let started = Instant::now();
    let query = params.query.clone();
    let answer = match blocking(state, move |s| s.ledger.query(&query)).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    let report = usage::report(&params, &answer);
    state.usage_metrics.query_seconds.observe(started.elapsed().as_secs_f64());
    if csv {
        server::with_type(StatusCode::OK, CSV_CONTENT_TYPE, report.to_csv().into())
    } else {
        server::json(StatusCode::OK, &report)
    }
}

/// Limits a ledger query to the caller's namespaces: asking for another
/// namespace by name is refused, and a query of all namespaces reads only
/// the caller's.
pub(crate) fn restrict(query: &mut usage::Query, caller: &Caller) -> Result<(), FullResponse> {
    match caller.scope() {
        Some(flint_api::Scope::All) => Ok(()),
        Some(flint_api::Scope::Only(list)) => {
            if let Some(ns) = &query.namespace
                && !list.contains(ns)
            {
                return Err(server::error(
                    StatusCode::FORBIDDEN,
                    format!(
                        "this token may not read namespace `{ns}`; it may read: {}",
                        caller.scope().map(ToString::to_string).unwrap_or_default()
                    ),
                ));
            }
            query.visible = Some(list.iter().cloned().collect());
            Ok(())
        }
        None => Err(server::error(StatusCode::UNAUTHORIZED, "this needs an API token")),
    }
}

async fn batch(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let invalid = |response| {
        state.usage_metrics.batches.with_label_values(&["invalid"]).inc();
        response
    };
    let batch: UsageBatch = match server::read_json(request.into_body(), MAX_BATCH_BYTES).await {
        Ok(batch) => batch,
        Err(response) => return invalid(response),
    };
    if let Some(bad) = batch.aggregates.iter().find(|a| !valid_trigger(&a.trigger)) {
        return invalid(server::error(
            StatusCode::BAD_REQUEST,
            format!("invalid trigger kind `{}`", bad.trigger),
        ));
    }
    if batch.invoker.is_empty() || batch.invoker.contains('\0') {
        return invalid(server::error(StatusCode::BAD_REQUEST, "invalid invoker id"));
    }
    let started = Instant::now();
    let id = batch.id.clone();
    let applied = match blocking(state, move |s| s.ledger.apply(&batch)).await {
        Ok(applied) => applied,
        Err(response) => {
            state.usage_metrics.batches.with_label_values(&["failed"]).inc();
            return response;
        }
    };
    state.usage_metrics.apply_seconds.observe(started.elapsed().as_secs_f64());
    if applied {
        state.budgets.usage_arrived();
    }
    let result = if applied { "applied" } else { "duplicate" };
    state.usage_metrics.batches.with_label_values(&[result]).inc();
    if !applied {
        tracing::info!(batch = %id, "usage batch seen before; acknowledged without applying");
    }
    server::json(StatusCode::OK, &BatchAck { id, applied, plan: state.ledger.plan() })
}

/// Trigger kinds are label values and key parts: short lowercase words.
fn valid_trigger(trigger: &str) -> bool {
    (1..=32).contains(&trigger.len())
        && trigger.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

async fn set_plan(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let spec: PricePlanSpec = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(spec) => spec,
        Err(response) => return response,
    };
    if let Err(e) = spec.apply(&state.ledger.plan()) {
        return server::error(StatusCode::BAD_REQUEST, e.to_string());
    }
    match blocking(state, move |s| s.ledger.set_plan(&spec)).await {
        Ok(plan) => server::json(StatusCode::OK, &plan),
        Err(response) => response,
    }
}
