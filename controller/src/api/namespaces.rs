//! `/v1/namespaces` and `/v1/namespaces/{ns}`: namespaces as tenants, with
//! their quotas, how much of them they use, and their cost this month.

use std::sync::Arc;

use flint_api::server::{self, FullResponse};
use flint_api::{Name, Namespace, Quotas, Timestamp};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::{MAX_JSON_BYTES, blocking, method_not_allowed};
use crate::auth::Caller;
use crate::{State, budget, store};

/// The namespaces `caller` sees.
pub(super) async fn list(state: &Arc<State>, caller: &Caller) -> FullResponse {
    let caller = caller.clone();
    match blocking(state, move |s| {
        let now = Timestamp::now();
        s.store
            .namespace_names()?
            .into_iter()
            .filter(|ns| caller.sees(ns))
            .map(|ns| describe(s, &ns, now))
            .collect::<store::Result<Vec<Namespace>>>()
    })
    .await
    {
        Ok(list) => server::json(StatusCode::OK, &list),
        Err(response) => response,
    }
}

pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    ns: Name,
) -> FullResponse {
    match *request.method() {
        Method::GET => match blocking(state, move |s| describe(s, &ns, Timestamp::now())).await {
            Ok(namespace) => server::json(StatusCode::OK, &namespace),
            Err(response) => response,
        },
        Method::PUT => put(state, request, ns).await,
        ref method => method_not_allowed(method, &[Method::GET, Method::PUT]),
    }
}

/// Sets the quotas, and the budget block they imply at once, so raising a
/// budget restores service without waiting for the next check.
async fn put(state: &Arc<State>, request: Request<Incoming>, ns: Name) -> FullResponse {
    let quotas: Quotas = match server::read_json(request.into_body(), MAX_JSON_BYTES).await {
        Ok(quotas) => quotas,
        Err(response) => return response,
    };
    if let Err(e) = quotas.validate() {
        return server::error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let answer = blocking(state, move |s| {
        let now = Timestamp::now();
        let cost = budget::month_cost(s, &ns, now)?;
        let block = budget::block_for(&ns, &quotas, cost);
        s.store.put_quotas(&ns, quotas, block)?;
        describe(s, &ns, now)
    })
    .await;
    state.budgets.usage_arrived();
    match answer {
        Ok(namespace) => server::json(StatusCode::OK, &namespace),
        Err(response) => response,
    }
}

/// A namespace with its figures.
fn describe(state: &State, ns: &Name, now: Timestamp) -> store::Result<Namespace> {
    let record = state.store.namespace(ns)?;
    let functions = state.store.functions(ns)?;
    Ok(Namespace {
        name: ns.clone(),
        functions: functions.len() as u32,
        memory_mb: functions.iter().map(|f| u64::from(f.limits.memory_mb)).sum(),
        month_cost: budget::month_cost(state, ns, now)?,
        blocked: record.blocked.is_some(),
        quotas: record.quotas,
    })
}
