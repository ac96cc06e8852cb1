//! The usage dashboard.
use std::sync::Arc;

use flint_api::server::FullResponse;
use http::Request;
use hyper::body::Incoming;

use crate::State;

/// Answers `/ui…`.
pub async fn route(
    _state: &Arc<State>,
    request: Request<Incoming>,
    _rest: &[&str],
) -> (&'static str, FullResponse) {
    ("/ui", crate::api::not_found(request.uri().path()))
}
