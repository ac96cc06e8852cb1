//! Following the controller: the change feed, registration, and the reaper
//! that scales idle functions to zero.
//!
//! When the controller is away the invoker keeps serving what it knows and
//! retries with backoff; the feed resumes from the last applied revision.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use flint_api::{ErrorChain, InvokerInfo};
use tokio_util::sync::CancellationToken;

use crate::Runtime;

/// How long one watch waits for a change.
const WATCH_WAIT: Duration = Duration::from_secs(30);
/// Backoff after a failed watch: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// How often the invoker re-registers (the controller drops it after 15 s).
pub const HEARTBEAT: Duration = Duration::from_secs(3);
/// How often idle functions are looked for.
const REAP_EVERY: Duration = Duration::from_millis(250);

/// Applies the change feed to the registry until `shutdown`.
pub async fn follow(runtime: Arc<Runtime>, shutdown: CancellationToken) {
    let mut backoff = BACKOFF.0;
    loop {
        let since = runtime.revision.load(Ordering::Acquire);
        // The first watch answers at once, so the invoker is ready (synced)
        // even when the store is empty and nothing changes.
        let wait = if runtime.synced.load(Ordering::Acquire) { WATCH_WAIT } else { Duration::ZERO };
        let watch = tokio::select! {
            () = shutdown.cancelled() => return,
            watch = runtime.client.watch(since, wait) => watch,
        };

        match watch {
            Ok(watch) => {
                backoff = BACKOFF.0;
                let revision = watch.revision;
                let was_snapshot = watch.snapshot.is_some();
                for digest in runtime.registry.apply(watch) {
                    runtime.artifacts.prefetch(digest);
                }
                if was_snapshot || revision != since {
                    tracing::debug!(revision, snapshot = was_snapshot, "applied changes");
                }
                runtime.revision.store(revision, Ordering::Release);
                runtime.synced.store(true, Ordering::Release);
                if revision != since {
                    // Tell the controller now, not at the next heartbeat:
                    // `flint deploy` waits for this.
                    runtime.applied.notify_one();
                }
            }
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), retry_in = ?backoff, "cannot follow the controller");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// Registers with the controller every [`HEARTBEAT`], and whenever the feed
/// brought changes, until `shutdown`.
pub async fn heartbeat(runtime: Arc<Runtime>, info: InvokerInfo, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            () = runtime.applied.notified() => {}
        }
        let triggers = runtime
            .trigger_health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let info = InvokerInfo {
            revision: runtime.revision.load(Ordering::Acquire),
            triggers,
            ..info.clone()
        };
        if let Err(error) = runtime.client.register_invoker(&info).await {
            tracing::debug!(error = %ErrorChain(&error), "cannot register with the controller");
        }
    }
}

/// Unloads functions idle past their idle timeout until `shutdown`.
pub async fn reap(runtime: Arc<Runtime>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for function in runtime.registry.functions() {
            if function.unload_if_idle() {
                tracing::debug!(namespace = %function.namespace, function = %function.name, "scaled to zero");
            }
        }
    }
}
