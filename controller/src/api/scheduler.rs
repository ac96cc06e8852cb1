//! `/v1/scheduler/…`: how invokers agree on who fires schedules, record each
//! fire time, and report runs. See `store::schedules`.

use std::sync::Arc;

use flint_api::scheduler::{Fire, LeaseRequest, RunReport};
use flint_api::server::{self, FullResponse};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed, not_found};
use crate::State;

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &[&str],
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match (rest, &method) {
        (["lease"], &Method::POST) => ("/v1/scheduler/lease", lease(state, request).await),
        (["fires"], &Method::POST) => ("/v1/scheduler/fires", fire(state, request).await),
        (["runs"], &Method::POST) => ("/v1/scheduler/runs", runs(state, request).await),
        (["cursors"], &Method::GET) => {
            let response = match blocking(state, |s| s.store.cursors()).await {
                Ok(cursors) => server::json(StatusCode::OK, &cursors),
                Err(response) => response,
            };
            ("/v1/scheduler/cursors", response)
        }
        (["lease" | "fires" | "runs"], _) => {
            ("/v1/scheduler", method_not_allowed(&method, &[Method::POST]))
        }
        (["cursors"], _) => ("/v1/scheduler", method_not_allowed(&method, &[Method::GET])),
        _ => ("other", not_found(request.uri().path())),
    }
}

async fn lease(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let request: LeaseRequest = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match blocking(state, move |s| s.store.scheduler_lease(&request)).await {
        Ok(lease) => server::json(StatusCode::OK, &lease),
        Err(response) => response,
    }
}

async fn fire(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let fire: Fire = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(fire) => fire,
        Err(response) => return response,
    };
    match blocking(state, move |s| s.store.record_fire(&fire)).await {
        Ok(()) => server::no_content(),
        Err(response) => response,
    }
}

async fn runs(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let reports: Vec<RunReport> = match server::read_json(request.into_body(), MAX_JSON_BYTES).await
    {
        Ok(reports) => reports,
        Err(response) => return response,
    };
    let stored = blocking(state, move |s| {
        for report in reports {
            s.store.add_runs(&report.namespace, &report.trigger, [report.run])?;
        }
        Ok(())
    })
    .await;
    match stored {
        Ok(()) => server::no_content(),
        Err(response) => response,
    }
}
