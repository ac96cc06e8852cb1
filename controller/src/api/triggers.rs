//! `/v1/namespaces/{ns}/triggers/…`.

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{Name, TriggerRequest};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed, not_found, only, parse_name};
use crate::State;

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    rest: &[&str],
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match rest {
        [] => ("/v1/namespaces/{ns}/triggers", only(&method, Method::GET, list(state, ns)).await),
        [name] => {
            let name = match parse_name(name) {
                Ok(name) => name,
                Err(response) => return ("/v1/namespaces/{ns}/triggers/{name}", response),
            };
            let response = match method {
                Method::GET => get(state, ns, name).await,
                Method::PUT => put(state, request, ns, name).await,
                Method::DELETE => delete(state, ns, name).await,
                _ => method_not_allowed(&method, &[Method::GET, Method::PUT, Method::DELETE]),
            };
            ("/v1/namespaces/{ns}/triggers/{name}", response)
        }
        [name, "status"] => {
            let name = match parse_name(name) {
                Ok(name) => name,
                Err(response) => return ("/v1/namespaces/{ns}/triggers/{name}/status", response),
            };
            let status = async {
                match blocking(state, {
                    let (ns, name) = (ns.clone(), name.clone());
                    move |s| s.store.trigger(&ns, &name)
                })
                .await
                {
                    Ok(_) => {
                        server::json(StatusCode::OK, &state.invokers.trigger_status(&ns, &name))
                    }
                    Err(response) => response,
                }
            };
            ("/v1/namespaces/{ns}/triggers/{name}/status", only(&method, Method::GET, status).await)
        }
        [name, "runs"] => {
            let name = match parse_name(name) {
                Ok(name) => name,
                Err(response) => return ("/v1/namespaces/{ns}/triggers/{name}/runs", response),
            };
            let status = async {
                match blocking(state, move |s| s.store.schedule_status(&ns, &name)).await {
                    Ok(status) => server::json(StatusCode::OK, &status),
                    Err(response) => response,
                }
            };
            let response = only(&method, Method::GET, status).await;
            ("/v1/namespaces/{ns}/triggers/{name}/runs", response)
        }
        _ => ("other", not_found(request.uri().path())),
    }
}

async fn list(state: &Arc<State>, ns: Name) -> FullResponse {
    match blocking(state, move |s| s.store.triggers(&ns)).await {
        Ok(triggers) => server::json(StatusCode::OK, &triggers),
        Err(response) => response,
    }
}

async fn get(state: &Arc<State>, ns: Name, name: Name) -> FullResponse {
    match blocking(state, move |s| s.store.trigger(&ns, &name)).await {
        Ok(trigger) => server::json(StatusCode::OK, &trigger),
        Err(response) => response,
    }
}

async fn put(state: &Arc<State>, request: Request<Incoming>, ns: Name, name: Name) -> FullResponse {
    let trigger: TriggerRequest = match server::read_json(request.into_body(), MAX_JSON_BYTES).await
    {
        Ok(trigger) => trigger,
        Err(response) => return response,
    };
    if let Err(e) = trigger.spec.validate() {
        return server::error(StatusCode::BAD_REQUEST, e.to_string());
    }
    match blocking(state, move |s| s.store.put_trigger(&ns, &name, trigger)).await {
        Ok((trigger, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            server::json(status, &trigger)
        }
        Err(response) => response,
    }
}

async fn delete(state: &Arc<State>, ns: Name, name: Name) -> FullResponse {
    match blocking(state, move |s| s.store.delete_trigger(&ns, &name)).await {
        Ok(()) => server::no_content(),
        Err(response) => response,
    }
}
