//! `/v1/namespaces/{ns}/triggers/…`.

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{Name, TriggerRequest};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed, not_found, only, parse_name};
use crate::auth::Caller;
use crate::{State, store};

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    rest: &[&str],
    caller: &Caller,
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
                Method::PUT => put(state, request, ns, name, caller.is_admin()).await,
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

/// `admin`: whether a clash with another namespace's route may name it.
async fn put(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
    name: Name,
    admin: bool,
) -> FullResponse {
    let trigger: TriggerRequest = match server::read_json(request.into_body(), MAX_JSON_BYTES).await
    {
        Ok(trigger) => trigger,
        Err(response) => return response,
    };
    if let Err(e) = trigger.spec.validate() {
        return server::error(StatusCode::BAD_REQUEST, e.to_string());
    }
    // A consumer group is a namespace's own: with another's, a trigger
    // would take its records.
    if let flint_api::TriggerSpec::Kafka(kafka) = &trigger.spec
        && let Some(group) = &kafka.group
        && !group.starts_with(&format!("{ns}."))
        && !group.starts_with(&format!("flint.{ns}."))
    {
        return server::error(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid `kafka.group`: `{group}` must start with `{ns}.` or `flint.{ns}.` (the namespace's own groups)"
            ),
        );
    }
    let stored = blocking(state, move |s| {
        s.store.put_trigger(&ns, &name, trigger).map_err(|e| match e {
            store::Error::RouteTaken { .. } if admin => store::Error::Conflict(e.to_string()),
            e => e,
        })
    });
    match stored.await {
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
