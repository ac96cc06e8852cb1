//! The two background halves of metering: a thread that flushes the
//! aggregates to the spool every interval, and a task that ships spooled
//! batches to the controller and deletes them once acknowledged.
//!
//! The flusher is an OS thread rather than a task so that a runtime
//! saturated by requests cannot delay it: the loss bound depends on it
//! running on time.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use flint_api::{ErrorChain, UsageAggregate, UsageBatch};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::spool::Spool;
use crate::Runtime;

/// How often the price plan is fetched when no acknowledgement brought it.
const PLAN_REFRESH: Duration = Duration::from_secs(5);
/// Backoff after a failed shipment: doubles from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// How long shipping may go on after shutdown starts; what is left stays
/// in the spool and is shipped by the next start.
const FINAL_SHIP: Duration = Duration::from_secs(2);

/// Running metering: stop it after the servers have drained.
pub struct Metering {
    stop_flusher: mpsc::Sender<()>,
    flusher: Option<std::thread::JoinHandle<()>>,
    stop_shipper: CancellationToken,
    shipper: tokio::task::JoinHandle<()>,
}

/// Starts flushing and shipping, for an invoker with this id. `None` when
/// metering is off or the spool cannot be opened (then usage is only in
/// Prometheus, and the error is logged).
pub fn start(runtime: &Arc<Runtime>, invoker: String) -> Option<Metering> {
    if !runtime.meter.enabled() {
        return None;
    }
    let spool = match Spool::open(&runtime.config.usage_dir) {
        Ok(spool) => spool,
        Err(error) => {
            tracing::error!(dir = %runtime.config.usage_dir.display(), %error, "cannot open the usage spool; usage is not shipped");
            return None;
        }
    };
    if let Some(plan) = spool.load_plan() {
        runtime.meter.set_plan(&plan);
    }
    let notify = Arc::new(Notify::new());
    let (stop_flusher, stopped) = mpsc::channel();
    let flusher = {
        let runtime = Arc::clone(runtime);
        let spool = spool.clone();
        let notify = Arc::clone(&notify);
        let interval = runtime.config.usage_flush_interval;
        std::thread::Builder::new()
            .name("flint-usage-flush".into())
            .spawn(move || flush(&runtime, &spool, &notify, &invoker, interval, &stopped))
            .map_err(|error| tracing::error!(%error, "cannot start the usage flusher"))
            .ok()?
    };
    let stop_shipper = CancellationToken::new();
    let shipper = tokio::spawn(ship(Arc::clone(runtime), spool, notify, stop_shipper.clone()));
    Some(Metering { stop_flusher, flusher: Some(flusher), stop_shipper, shipper })
}

impl Metering {
    /// Flushes what is left to the spool, ships what it can within a few
    /// seconds, and stops.
    pub async fn stop(mut self) {
        let _ = self.stop_flusher.send(());
        if let Some(flusher) = self.flusher.take() {
            let _ = tokio::task::spawn_blocking(move || flusher.join()).await;
        }
        self.stop_shipper.cancel();
        let _ = self.shipper.await;
    }
}

fn flush(
    runtime: &Runtime,
    spool: &Spool,
    notify: &Notify,
    invoker: &str,
    interval: Duration,
    stop: &mpsc::Receiver<()>,
) {
    let boot = boot_id();
    let mut seq = 0;
    let mut unsaved: Vec<UsageAggregate> = Vec::new();
    let mut next = Instant::now() + interval;
    loop {
        let stopping = match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now + interval;
        }
        unsaved.extend(runtime.meter.take());
        if !unsaved.is_empty() {
            seq += 1;
            let batch = UsageBatch {
                id: UsageBatch::make_id(invoker, boot, seq),
                invoker: invoker.to_owned(),
                boot,
                seq,
                aggregates: std::mem::take(&mut unsaved),
            };
            match spool.write(&batch) {
                Ok(_) => notify.notify_one(),
                Err(error) => {
                    // Kept in memory and written with the next batch.
                    tracing::warn!(dir = %spool.dir().display(), %error, "cannot spool usage; retrying");
                    runtime.meter.spool_errors.inc();
                    unsaved = batch.aggregates;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

async fn ship(runtime: Arc<Runtime>, spool: Spool, notify: Arc<Notify>, stop: CancellationToken) {
    let mut plan_at = None::<Instant>;
    let mut backoff = BACKOFF.0;
    loop {
        // Whatever is in flight is abandoned at shutdown (a controller that
        // is shutting down too may accept a connection and never answer);
        // the final round below has its own deadline.
        let round = async {
            if plan_at.is_none_or(|at| at.elapsed() >= PLAN_REFRESH) {
                match runtime.client.price_plan().await {
                    Ok(plan) => {
                        use_plan(&runtime, &spool, &plan);
                        plan_at = Some(Instant::now());
                    }
                    Err(error) => {
                        tracing::debug!(error = %ErrorChain(&error), "cannot fetch the price plan")
                    }
                }
            }
            ship_pending(&runtime, &spool, &mut plan_at).await
        };
        let shipped = tokio::select! {
            () = stop.cancelled() => break,
            shipped = round => shipped,
        };
        let wait = if shipped {
            backoff = BACKOFF.0;
            PLAN_REFRESH
        } else {
            let wait = backoff;
            backoff = (backoff * 2).min(BACKOFF.1);
            wait
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = notify.notified(), if shipped => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    // The flusher has written its last batch: ship what we can.
    let _ = tokio::time::timeout(FINAL_SHIP, ship_pending(&runtime, &spool, &mut plan_at)).await;
}

/// Ships every spooled batch in order; stops at the first failure. Returns
/// whether all were shipped.
async fn ship_pending(runtime: &Runtime, spool: &Spool, plan_at: &mut Option<Instant>) -> bool {
    let pending = match spool.pending() {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(dir = %spool.dir().display(), %error, "cannot list the usage spool");
            return false;
        }
    };
    runtime.meter.spool_pending.set(pending.len() as i64);
    for (i, path) in pending.iter().enumerate() {
        let batch = match Spool::read(path) {
            Ok(batch) => batch,
            Err(error) => {
                // Only a damaged disk makes a renamed file unreadable; keep it
                // aside for a person rather than retrying it forever.
                tracing::error!(file = %path.display(), %error, "unreadable usage batch; moving it aside");
                let _ = std::fs::rename(path, path.with_extension("damaged"));
                continue;
            }
        };
        match runtime.client.ship_usage(&batch).await {
            Ok(ack) => {
                use_plan(runtime, spool, &ack.plan);
                *plan_at = Some(Instant::now());
                if let Err(error) = Spool::remove(path) {
                    tracing::warn!(file = %path.display(), %error, "cannot delete a shipped usage batch");
                }
                runtime.meter.spool_pending.set((pending.len() - i - 1) as i64);
            }
            Err(error) => {
                runtime.meter.ship_failures.inc();
                tracing::debug!(batch = %batch.id, error = %ErrorChain(&error), "cannot ship usage; retrying");
                return false;
            }
        }
    }
    true
}

fn use_plan(runtime: &Runtime, spool: &Spool, plan: &flint_api::PricePlan) {
    if runtime.meter.plan() != (plan.id, plan.granularity_us) || !runtime.meter.plan_known() {
        runtime.meter.set_plan(plan);
        if let Err(error) = spool.save_plan(plan) {
            tracing::debug!(%error, "cannot remember the price plan");
        }
    }
}

/// A random id for this run of the invoker: batch ids must never repeat
/// across restarts, and sequence numbers start again at 1.
fn boot_id() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
