//! Schedule triggers: fire each scheduled time exactly once across all
//! invokers.
//!
//! Every invoker runs [`run`], which keeps asking the controller for the
//! scheduler lease. The invoker holding it leads: it runs one loop per
//! schedule trigger that sleeps until the next fire time, records that time
//! in the controller's store (accepted only with the lease's current epoch
//! and only for a time after the trigger's last one) and then calls the
//! function with a CloudEvent, retrying failures with backoff. A new leader
//! starts each loop from the trigger's recorded cursor and applies the
//! trigger's missed-run policy to what passed in between.
//!
//! If the controller cannot be reached, the leader keeps firing (nobody can
//! take the lease from it meanwhile) and records the fire times when the
//! controller is back. Failure modes are spelled out in the README.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::schedule::Schedule;
use flint_api::scheduler::{Cursor, Fire, LeaseRequest, Run, RunOutcome, RunReport};
use flint_api::{ErrorChain, Name, ScheduleTrigger, Timestamp, Trigger, TriggerSpec};
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Runtime;
use crate::invoke::{TriggerKind, invoke};

/// How long the lease lasts without renewal. A leader that dies is replaced
/// after at most this long.
const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often the lease is renewed (and triggers reconciled).
const LEASE_EVERY: Duration = Duration::from_secs(1);
/// The CloudEvent type of a schedule firing.
pub const EVENT_TYPE: &str = "flint.schedule.tick";
/// The CloudEvent extension attribute carrying the attempt number (1 = first).
pub const ATTEMPT_HEADER: &str = "ce-flintattempt";

type Key = (Name, Name);

/// One schedule loop while this invoker leads.
struct Loop {
    spec: ScheduleTrigger,
    function: Name,
    stop: CancellationToken,
}

/// What a loop needs.
struct Ctx {
    runtime: Arc<Runtime>,
    epoch: u64,
    invoker: String,
    namespace: Name,
    trigger: Name,
    function: Name,
    spec: ScheduleTrigger,
    schedule: Schedule,
    reports: mpsc::Sender<RunReport>,
    pending: mpsc::UnboundedSender<Fire>,
    runs: TaskTracker,
}

/// Takes part in scheduling until `shutdown`; then stops firing, lets runs
/// in flight finish and gives the lease up.
pub async fn run(runtime: Arc<Runtime>, invoker: String, shutdown: CancellationToken) {
    let (reports, report_rx) = mpsc::channel(10_000);
    let reporter = tokio::spawn(report_runs(runtime.clone(), report_rx));
    let (pending, mut pending_rx) = mpsc::unbounded_channel::<Fire>();
    let runs = TaskTracker::new();
    let mut leading: Option<(u64, HashMap<Key, Loop>)> = None;
    let mut unsent: Vec<Fire> = Vec::new();
    let mut tick = tokio::time::interval(LEASE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            () = runtime.registry.triggers_changed.notified() => {}
        }
        let request = LeaseRequest {
            invoker: invoker.clone(),
            ttl_ms: LEASE_TTL.as_millis() as u64,
            release: false,
        };
        match runtime.client.scheduler_lease(&request).await {
            Ok(lease) if lease.holder.as_deref() == Some(invoker.as_str()) => {
                if leading.as_ref().is_none_or(|(epoch, _)| *epoch != lease.epoch) {
                    stop_all(leading.take());
                    tracing::info!(epoch = lease.epoch, "leading the scheduler");
                    leading = Some((lease.epoch, HashMap::new()));
                }
                // Fire times recorded while the controller was away.
                while let Ok(fire) = pending_rx.try_recv() {
                    unsent.push(fire);
                }
                send_pending(&runtime, &mut unsent).await;
            }
            Ok(lease) => {
                if leading.is_some() {
                    tracing::info!(holder = ?lease.holder, "no longer leading the scheduler");
                }
                stop_all(leading.take());
                unsent.clear();
            }
            Err(error) => {
                // Keep leading: nobody can take the lease while the controller is away.
                tracing::debug!(error = %ErrorChain(&error), "cannot renew the scheduler lease");
            }
        }
        if let Some((epoch, loops)) = leading.as_mut() {
            let ctx = |trigger: &Trigger, spec: &ScheduleTrigger, schedule: Schedule| Ctx {
                runtime: runtime.clone(),
                epoch: *epoch,
                invoker: invoker.clone(),
                namespace: trigger.namespace.clone(),
                trigger: trigger.name.clone(),
                function: trigger.function.clone(),
                spec: spec.clone(),
                schedule,
                reports: reports.clone(),
                pending: pending.clone(),
                runs: runs.clone(),
            };
            reconcile(&runtime, loops, ctx).await;
        }
    }
    if let Some((_, loops)) = leading.take() {
        for (_, l) in loops {
            l.stop.cancel();
        }
        runs.close();
        runs.wait().await;
        let release = LeaseRequest { invoker, ttl_ms: 0, release: true };
        if let Err(error) = runtime.client.scheduler_lease(&release).await {
            tracing::debug!(error = %ErrorChain(&error), "cannot release the scheduler lease");
        }
    }
    drop(reports);
    let _ = reporter.await;
}

fn stop_all(leading: Option<(u64, HashMap<Key, Loop>)>) {
    for (_, l) in leading.into_iter().flat_map(|(_, loops)| loops) {
        l.stop.cancel();
    }
}

/// Starts loops for new or changed schedule triggers and stops the rest.
async fn reconcile(
    runtime: &Arc<Runtime>,
    loops: &mut HashMap<Key, Loop>,
    ctx: impl Fn(&Trigger, &ScheduleTrigger, Schedule) -> Ctx,
) {
    let wanted: HashMap<Key, Trigger> = runtime
        .registry
        .triggers()
        .into_iter()
        .filter(|t| matches!(t.spec, TriggerSpec::Schedule(_)))
        .map(|t| ((t.namespace.clone(), t.name.clone()), t))
        .collect();
    loops.retain(|key, l| {
        let keep = wanted.get(key).is_some_and(|t| {
            t.spec == TriggerSpec::Schedule(l.spec.clone()) && t.function == l.function
        });
        if !keep {
            l.stop.cancel();
        }
        keep
    });
    let new: Vec<&Trigger> =
        wanted.iter().filter(|(key, _)| !loops.contains_key(*key)).map(|(_, t)| t).collect();
    if new.is_empty() {
        return;
    }
    // Where each starts: the controller's cursor; without it (controller
    // away), now.
    let cursors: HashMap<Key, Timestamp> = match runtime.client.schedule_cursors().await {
        Ok(cursors) => cursors
            .into_iter()
            .map(|c: Cursor| ((c.namespace, c.trigger), c.last_scheduled))
            .collect(),
        Err(_) => HashMap::new(),
    };
    for trigger in new {
        let TriggerSpec::Schedule(spec) = &trigger.spec else { continue };
        let Ok(schedule) = spec.validate() else { continue };
        let key = (trigger.namespace.clone(), trigger.name.clone());
        let start = cursors.get(&key).copied().unwrap_or_else(Timestamp::now);
        let stop = CancellationToken::new();
        let ctx = Arc::new(ctx(trigger, spec, schedule));
        tokio::spawn(fire_loop(ctx, start, stop.clone()));
        loops.insert(key, Loop { spec: spec.clone(), function: trigger.function.clone(), stop });
    }
}

/// Fires one trigger from `last` on until `stop`.
async fn fire_loop(ctx: Arc<Ctx>, mut last: Timestamp, stop: CancellationToken) {
    let catch_up =
        ctx.schedule.catch_up(last, Timestamp::now(), ctx.spec.missed, ctx.spec.max_catch_up);
    let mut missed = catch_up.missed;
    if !missed.is_empty() {
        ctx.runtime
            .metrics
            .schedule_missed
            .with_label_values(&[ctx.namespace.as_str(), ctx.trigger.as_str()])
            .inc_by(missed.len() as u64);
    }
    if catch_up.run.is_empty()
        && let Some(&newest) = missed.last()
    {
        // Nothing to run, but the missed times are settled: record them.
        if record(&ctx, newest, std::mem::take(&mut missed)).await == Recorded::Stop {
            return;
        }
        last = newest;
    }
    for scheduled in catch_up.run {
        if stop.is_cancelled() || !fire(&ctx, scheduled, std::mem::take(&mut missed)).await {
            return;
        }
        last = scheduled;
    }
    loop {
        let Some(next) = ctx.schedule.next_after(last) else { return };
        let wait =
            Duration::try_from(next.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if !fire(&ctx, next, Vec::new()).await {
            return;
        }
        last = next;
    }
}

/// Records `scheduled` and starts its run. Returns `false` when this loop
/// must stop (another invoker leads).
async fn fire(ctx: &Arc<Ctx>, scheduled: Timestamp, missed: Vec<Timestamp>) -> bool {
    match record(ctx, scheduled, missed).await {
        Recorded::Run => {
            let ctx = Arc::clone(ctx);
            ctx.runs.clone().spawn(async move { run_with_retries(&ctx, scheduled).await });
            true
        }
        Recorded::Skip => true,
        Recorded::Stop => false,
    }
}

/// What recording a fire time says to do.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    /// Run it.
    Run,
    /// It was recorded before (by a former leader): do not run it again.
    Skip,
    /// Another invoker leads now: stop this loop.
    Stop,
}

/// Records a fire time in the controller. An unreachable controller gets the
/// record later, and the time runs now.
async fn record(ctx: &Ctx, scheduled: Timestamp, missed: Vec<Timestamp>) -> Recorded {
    let fire = Fire {
        epoch: ctx.epoch,
        namespace: ctx.namespace.clone(),
        trigger: ctx.trigger.clone(),
        scheduled,
        missed,
    };
    match ctx.runtime.client.record_fire(&fire).await {
        Ok(()) => Recorded::Run,
        Err(error) if error.status() == Some(StatusCode::FORBIDDEN) => {
            tracing::info!(trigger = %ctx.trigger, "lost the scheduler lease");
            Recorded::Stop
        }
        Err(error) if error.status() == Some(StatusCode::CONFLICT) => {
            tracing::debug!(trigger = %ctx.trigger, %scheduled, %error, "already fired");
            Recorded::Skip
        }
        Err(error) => {
            tracing::warn!(trigger = %ctx.trigger, error = %ErrorChain(&error), "controller unreachable; firing anyway");
            let _ = ctx.pending.send(fire);
            Recorded::Run
        }
    }
}

/// Sends fire records kept while the controller was away, oldest first.
async fn send_pending(runtime: &Runtime, unsent: &mut Vec<Fire>) {
    while let Some(fire) = unsent.first() {
        match runtime.client.record_fire(fire).await {
            Ok(()) => {}
            Err(error) if error.status().is_some() => {} // refused: superseded, drop it
            Err(_) => return,
        }
        unsent.remove(0);
    }
}

/// Runs one fire time, retrying failures with the trigger's backoff.
async fn run_with_retries(ctx: &Ctx, scheduled: Timestamp) {
    let labels = [ctx.namespace.as_str(), ctx.trigger.as_str()];
    let metrics = &ctx.runtime.metrics;
    for attempt in 1..=ctx.spec.retry.attempts {
        if attempt > 1 {
            metrics.schedule_retries.with_label_values(&labels).inc();
            tokio::time::sleep(ctx.spec.retry.backoff(attempt)).await;
        }
        let run = deliver(ctx, scheduled, attempt).await;
        if attempt == 1 {
            metrics
                .schedule_lag_seconds
                .with_label_values(&labels)
                .observe(run.lag_ms.max(0) as f64 / 1000.0);
        }
        let ok = run.outcome == RunOutcome::Ok;
        let outcome = if ok { "ok" } else { "failed" };
        metrics.schedule_runs.with_label_values(&[labels[0], labels[1], outcome]).inc();
        let report =
            RunReport { namespace: ctx.namespace.clone(), trigger: ctx.trigger.clone(), run };
        let _ = ctx.reports.try_send(report);
        if ok {
            return;
        }
    }
}

/// One attempt: a `POST` with the CloudEvent in binary mode.
async fn deliver(ctx: &Ctx, scheduled: Timestamp, attempt: u32) -> Run {
    let started = Timestamp::now();
    let clock = Instant::now();
    let mut run = Run {
        scheduled,
        started: Some(started),
        lag_ms: started.duration_since(scheduled).as_millis() as i64,
        duration_ms: 0,
        outcome: RunOutcome::Failed,
        attempt,
        status: None,
        error: None,
        invoker: ctx.invoker.clone(),
    };
    let Some(function) = ctx.runtime.registry.function(&ctx.namespace, &ctx.function) else {
        run.error = Some(format!("function `{}` has no code on this invoker", ctx.function));
        return run;
    };
    let mut request = http::Request::post(ctx.spec.path.as_str())
        .header(http::header::HOST, "localhost")
        .header("ce-specversion", "1.0")
        .header("ce-type", EVENT_TYPE)
        .header("ce-source", format!("/namespaces/{}/triggers/{}", ctx.namespace, ctx.trigger))
        .header("ce-id", scheduled.to_string())
        .header("ce-time", scheduled.to_string())
        .header("ce-subject", ctx.function.as_str())
        .header(ATTEMPT_HEADER, attempt);
    if let Some(content_type) = &ctx.spec.content_type {
        request = request.header(http::header::CONTENT_TYPE, content_type.as_str());
    }
    let body = Bytes::from(ctx.spec.payload.clone().unwrap_or_default());
    let request = match request.body(Full::new(body)) {
        Ok(request) => request,
        Err(e) => {
            run.error = Some(format!("cannot build the request: {e}"));
            return run;
        }
    };
    match invoke(&ctx.runtime, &function, TriggerKind::Schedule, request).await {
        Ok(response) => {
            let status = response.status();
            // Read the body so the guest finishes; its content is not kept.
            let _ = response.into_body().collect().await;
            run.status = Some(status.as_u16());
            if status.is_success() {
                run.outcome = RunOutcome::Ok;
            } else {
                run.error = Some(format!("the function answered {status}"));
            }
        }
        Err(failure) => {
            run.status = Some(failure.status().as_u16());
            run.error = Some(failure.message(&function));
        }
    }
    run.duration_ms = clock.elapsed().as_millis() as u64;
    run
}

/// Ships run reports to the controller in batches, until every sender is gone.
async fn report_runs(runtime: Arc<Runtime>, mut rx: mpsc::Receiver<RunReport>) {
    let mut batch = Vec::new();
    while let Some(report) = rx.recv().await {
        batch.push(report);
        while let Ok(report) = rx.try_recv() {
            batch.push(report);
        }
        // History is best effort: retry a little, then let it go.
        for _ in 0..3 {
            match runtime.client.report_runs(&batch).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::debug!(error = %ErrorChain(&error), "cannot report schedule runs");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        batch.clear();
    }
}
