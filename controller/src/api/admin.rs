//! `/v1/tokens…` and `/v1/audit`: what only admins may do (`auth::access`
//! has checked the role before these run).

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{NewToken, Timestamp, TokenSpec};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed, not_found, parse_name};
use crate::State;
use crate::auth::{self, Caller};

/// Most audit entries one answer holds.
const MAX_AUDIT_ENTRIES: usize = 10_000;

pub(super) async fn tokens(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &[&str],
    caller: &Caller,
) -> (&'static str, FullResponse) {
    let method = request.method().clone();
    match rest {
        [] => {
            let response = match method {
                Method::GET => server::json(StatusCode::OK, &state.tokens.list()),
                Method::POST => create(state, request, caller).await,
                _ => method_not_allowed(&method, &[Method::GET, Method::POST]),
            };
            ("/v1/tokens", response)
        }
        [name] => {
            let response = match (method, parse_name(name)) {
                (_, Err(response)) => response,
                (Method::DELETE, Ok(name)) => {
                    match blocking(state, move |s| {
                        s.store.revoke_token(&name)?;
                        s.tokens.reload(&s.store)
                    })
                    .await
                    {
                        Ok(()) => server::no_content(),
                        Err(response) => response,
                    }
                }
                (method, Ok(_)) => method_not_allowed(&method, &[Method::DELETE]),
            };
            ("/v1/tokens/{name}", response)
        }
        _ => ("other", not_found(request.uri().path())),
    }
}

async fn create(state: &Arc<State>, request: Request<Incoming>, caller: &Caller) -> FullResponse {
    let spec: TokenSpec = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(spec) => spec,
        Err(response) => return response,
    };
    if let Err(e) = spec.validate(Timestamp::now()) {
        return server::error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let (_, created_by) = caller.who();
    let (token, record) =
        match auth::mint(spec.name, spec.role, spec.namespaces, spec.expires_at, created_by) {
            Ok(minted) => minted,
            Err(e) => {
                tracing::error!(error = %flint_api::ErrorChain(&e), "cannot make a token");
                return server::error(StatusCode::INTERNAL_SERVER_ERROR, "cannot make a token");
            }
        };
    let info = record.info.clone();
    match blocking(state, move |s| {
        s.store.add_token(&record)?;
        s.tokens.reload(&s.store)
    })
    .await
    {
        Ok(()) => server::json(StatusCode::CREATED, &NewToken { token, info }),
        Err(response) => response,
    }
}

pub(super) async fn audit(state: &Arc<State>, request: &Request<Incoming>) -> FullResponse {
    let since = match crate::usage::param(request.uri().query(), "since") {
        None => None,
        Some(since) => match since.parse::<Timestamp>() {
            Ok(since) => Some(since),
            Err(e) => {
                return server::error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid `since`: `{since}` is not an RFC 3339 time: {e}"),
                );
            }
        },
    };
    match blocking(state, move |s| s.store.audit(since, MAX_AUDIT_ENTRIES)).await {
        Ok(entries) => server::json(StatusCode::OK, &entries),
        Err(response) => response,
    }
}
