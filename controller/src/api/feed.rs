//! `/v1/watch` (the change feed) and `/v1/blobs/{digest}`.

use std::sync::Arc;
use std::time::Duration;

use flint_api::server::{self, FullResponse};
use flint_api::{Digest, WASM_CONTENT_TYPE, Watch};
use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::blocking;
use crate::State;

/// Longest a watch may wait for a change.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Answers with the changes after `since`, a snapshot if the watcher must
/// start over, or, after `wait_ms` without changes, an empty list.
pub(super) async fn watch(state: &Arc<State>, request: &Request<Incoming>) -> FullResponse {
    let query = request.uri().query();
    let since = match server::query_param(query, "since").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(since)) => since,
        Some(Err(_)) => {
            return server::error(
                StatusCode::BAD_REQUEST,
                "invalid `since`: expected a revision number",
            );
        }
    };
    let wait = server::query_param(query, "wait_ms")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
        .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut revisions = state.store.subscribe();
    loop {
        revisions.borrow_and_update();
        let changes = match blocking(state, move |s| s.store.changes_since(since)).await {
            Ok(changes) => changes,
            Err(response) => return response,
        };
        match changes {
            None => {
                return match blocking(state, |s| s.store.snapshot()).await {
                    Ok((revision, snapshot)) => server::json(
                        StatusCode::OK,
                        &Watch { revision, snapshot: Some(snapshot), changes: vec![] },
                    ),
                    Err(response) => response,
                };
            }
            Some((revision, changes)) if !changes.is_empty() => {
                return server::json(StatusCode::OK, &Watch { revision, snapshot: None, changes });
            }
            Some(_) => {}
        }
        let changed = tokio::select! {
            () = state.stopping.cancelled() => false,
            changed = tokio::time::timeout_at(deadline, revisions.changed()) => matches!(changed, Ok(Ok(()))),
        };
        if !changed {
            return server::json(
                StatusCode::OK,
                &Watch { revision: since, snapshot: None, changes: vec![] },
            );
        }
    }
}

pub(super) async fn blob(state: &Arc<State>, digest: &str) -> FullResponse {
    // Clients that percent-encode path parameters (OpenAPI tooling does)
    // send the digest's `:` as `%3A`; nothing else in a digest is encoded.
    let digest = digest.replacen("%3A", ":", 1).replacen("%3a", ":", 1);
    let digest: Digest = match digest.parse() {
        Ok(digest) => digest,
        Err(e) => return server::error(StatusCode::BAD_REQUEST, format!("{e}")),
    };
    let shown = digest.clone();
    match blocking(state, move |s| s.store.blob(&digest)).await {
        Ok(Some(bytes)) => {
            // The blob as sled holds it, shared, not copied per request.
            server::with_type(StatusCode::OK, WASM_CONTENT_TYPE, bytes::Bytes::from_owner(bytes))
        }
        Ok(None) => {
            server::error(StatusCode::NOT_FOUND, format!("no version has digest `{shown}`"))
        }
        Err(response) => response,
    }
}
