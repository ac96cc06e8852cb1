//! Running one invocation: admission, scale from zero, a fresh instance in a
//! fresh store, the call, and what happened.
//!
//! Every trigger (HTTP ingress, the admin `invoke` endpoint, schedules,
//! Kafka) calls [`invoke`] with an HTTP request; it answers with the guest's
//! response or a [`Failure`] that says, in a few words, what went wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_engine::{Host, HostOptions, LogPipe};
use http::StatusCode;
use hyper::body::Body;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::Runtime;
use crate::access::Quota;
use crate::function::{Function, Rejected};
use crate::metering::{self, Record};

/// What started an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// An HTTP request to the ingress.
    Http = 0,
    /// A schedule.
    Schedule = 1,
    /// A Kafka record.
    Kafka = 2,
    /// A call by name through the API (`flint invoke`, the admin `invoke`
    /// endpoint): metered apart from the ingress, since it is the operator
    /// calling, not traffic.
    Invoke = 3,
}

impl TriggerKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Http, Self::Schedule, Self::Kafka, Self::Invoke];

    /// The kind as a label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Schedule => "schedule",
            Self::Kafka => "kafka",
            Self::Invoke => "invoke",
        }
    }
}

/// How an invocation that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handler returned.
    Ok = 0,
    /// It trapped, panicked, exited non-zero or sent no response.
    Error = 1,
    /// It ran past its timeout and was stopped.
    Timeout = 2,
    /// It tried to grow its memory past its limit.
    OutOfMemory = 3,
}

impl Outcome {
    /// Every outcome of an invocation that ran.
    pub const RAN: [Self; 4] = [Self::Ok, Self::Error, Self::Timeout, Self::OutOfMemory];

    /// The outcome as a label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::OutOfMemory => "out_of_memory",
        }
    }
}

/// Why an invocation produced no response from the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Turned away before running: this invoker or the function is busy.
    Rejected(Rejected),
    /// Turned away before running: the namespace's budget is spent or it
    /// is over its rate.
    Quota(Quota),
    /// The function's code could not be loaded.
    NotReady(String),
    /// The request could not be handed to the guest.
    BadRequest(String),
    /// The guest trapped (a Rust panic ends in a trap).
    Trap(String),
    /// The guest called `exit` with a non-zero code.
    Exit(i32),
    /// The guest ran past its timeout.
    Timeout(Duration),
    /// The guest tried to grow its memory past its limit.
    OutOfMemory(u32),
    /// The handler returned without setting a response.
    NoResponse,
    /// The guest answered with a `wasi:http` error code instead of a response.
    ErrorCode(String),
}

impl Failure {
    /// The status a client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Rejected(Rejected::QueueFull) => StatusCode::TOO_MANY_REQUESTS,
            Self::Quota(quota) => quota.status(),
            Self::Rejected(_) | Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::NoResponse | Self::ErrorCode(_) => StatusCode::BAD_GATEWAY,
            Self::Trap(_) | Self::Exit(_) | Self::OutOfMemory(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Seconds a client should wait before retrying, for refusals that pass.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Self::Quota(quota) => quota.retry_after(),
            _ => matches!(self, Self::Rejected(_) | Self::NotReady(_)).then_some(1),
        }
    }

    /// One line for the client, naming the function.
    pub fn message(&self, function: &Function) -> String {
        let name = &function.name;
        match self {
            Self::Rejected(Rejected::QueueFull) => format!(
                "function `{name}` is busy: {} instances running and its queue of {} is full",
                function.deployment.limits.concurrency, function.deployment.limits.queue
            ),
            Self::Rejected(Rejected::QueueTimeout) => {
                format!("function `{name}` is busy: no instance became free within its timeout")
            }
            Self::Rejected(Rejected::AtCapacity) => {
                "this invoker is running as many instances as it can".into()
            }
            Self::Quota(quota) => quota.message(),
            Self::NotReady(reason) => format!("function `{name}` cannot be loaded: {reason}"),
            Self::BadRequest(reason) => format!("bad request: {reason}"),
            Self::Trap(reason) => format!("function `{name}` failed: {reason}"),
            Self::Exit(code) => format!("function `{name}` exited with code {code}"),
            Self::Timeout(limit) => {
                format!("function `{name}` ran longer than its timeout of {limit:?}")
            }
            Self::OutOfMemory(mb) => {
                format!("function `{name}` exceeded its memory limit of {mb} MiB")
            }
            Self::NoResponse => format!("function `{name}` returned without sending a response"),
            Self::ErrorCode(code) => format!("function `{name}` answered with an error: {code}"),
        }
    }
}

/// Runs `function` on `request`: refuses it if its namespace's budget is
/// spent or it is over its rate, waits for a free instance slot (or is
/// refused), loads the function if it is scaled to zero, and runs the
/// handler in a fresh instance. Returns as soon as the guest has set its
/// response; the body streams while the guest keeps running, and the
/// instance slot is held until it returns.
///
/// Dropping the returned future before the response is ready (the client
/// went away) stops the guest.
pub async fn invoke<B>(
    runtime: &Arc<Runtime>,
    function: &Arc<Function>,
    trigger: TriggerKind,
    request: hyper::Request<B>,
) -> Result<hyper::Response<HyperOutgoingBody>, Failure>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    // Before queueing: a blocked or throttled namespace holds no slot.
    if let Err(quota) = runtime.registry.access.admit(&function.namespace) {
        function.metrics.rejected(quota.reason());
        runtime.meter.rejected(function, trigger);
        return Err(Failure::Quota(quota));
    }
    let admission = function.admit(&runtime.instances).await.map_err(|rejected| {
        function.metrics.rejected(rejected.as_str());
        runtime.meter.rejected(function, trigger);
        Failure::Rejected(rejected)
    })?;
    let loading = Instant::now();
    let (pre, cold) =
        function.instance_pre(async || runtime.load(function).await).await.inspect_err(|_| {
            function.metrics.rejected("not_ready");
            runtime.meter.rejected(function, trigger);
        })?;
    let cold_start_us = cold.then(|| loading.elapsed().as_micros() as u64);

    let limits = &function.deployment.limits;
    let timeout = Duration::from_millis(limits.timeout_ms);
    let stdout = LogPipe::new(runtime.config.log_capture_bytes);
    let stderr = LogPipe::new(runtime.config.log_capture_bytes);
    let mut store = Store::new(
        pre.engine(),
        Host::new(HostOptions {
            memory_limit: limits.memory_mb as usize * 1024 * 1024,
            env: &function.deployment.env,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        }),
    );
    store.limiter(|host| host.limiter_mut());
    // Every epoch tick the guest yields to other tasks, so a busy guest does
    // not hold a worker thread; past its deadline it is interrupted.
    let started = Instant::now();
    let start_us = if runtime.meter.enabled() { metering::now_us() } else { 0 };
    let deadline = started + timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });

    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .map_err(|e| Failure::BadRequest(format!("{e:#}")))?;
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(|e| Failure::BadRequest(format!("{e:#}")))?;

    let runtime2 = Arc::clone(runtime);
    let function2 = Arc::clone(function);
    let mut guest = Box::pin(async move {
        let _admission = admission;
        let mut instantiated = Duration::ZERO;
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            instantiated = started.elapsed();
            runtime2.metrics.instantiation_seconds.observe(instantiated.as_secs_f64());
            proxy.wasi_http_incoming_handler().call_handle(&mut store, request, out).await
        };
        let result = tokio::time::timeout(timeout, run).await;
        let wall = started.elapsed();
        let (outcome, failure) = classify(&store, &function2, timeout, result);
        function2.metrics.duration(trigger, outcome).observe(wall.as_secs_f64());
        runtime2.meter.record(
            &function2,
            &Record {
                trigger,
                start_us,
                wall_us: wall.as_micros() as u64,
                instantiate_us: instantiated.as_micros() as u64,
                cold_start_us,
                peak_memory_bytes: store.data().limiter().peak() as u64,
                outcome,
            },
        );
        drop(store);
        runtime2.logs.capture(&function2, &stdout, &stderr, failure.as_ref());
        failure
    });

    // Run the guest in this task. A small response is usually complete
    // before the guest returns, which saves a task and a wake-up per
    // request; a guest still streaming its body when the response is ready
    // continues on a task of its own.
    let mut receiver = receiver;
    tokio::select! {
        failure = &mut guest => match receiver.try_recv() {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(Failure::ErrorCode(format!("{code:?}"))),
            Err(_) => Err(failure.unwrap_or(Failure::NoResponse)),
        },
        response = &mut receiver => match response {
            Ok(Ok(response)) => {
                tokio::spawn(guest);
                Ok(response)
            }
            Ok(Err(code)) => {
                tokio::spawn(guest);
                Err(Failure::ErrorCode(format!("{code:?}")))
            }
            // The guest dropped the response without setting it: it failed
            // or returned early, and its result says which.
            Err(_) => Err(guest.await.unwrap_or(Failure::NoResponse)),
        },
    }
}

/// Turns how the call ended into an outcome and, for failures, what to tell the client.
fn classify(
    store: &Store<Host>,
    function: &Function,
    timeout: Duration,
    result: Result<wasmtime::Result<()>, tokio::time::error::Elapsed>,
) -> (Outcome, Option<Failure>) {
    let error = match result {
        Ok(Ok(())) => return (Outcome::Ok, None),
        Err(_elapsed) => return (Outcome::Timeout, Some(Failure::Timeout(timeout))),
        Ok(Err(error)) => error,
    };
    if store.data().limiter().exceeded() {
        return (
            Outcome::OutOfMemory,
            Some(Failure::OutOfMemory(function.deployment.limits.memory_mb)),
        );
    }
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return (Outcome::Timeout, Some(Failure::Timeout(timeout)));
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return if exit.0 == 0 {
            (Outcome::Ok, None)
        } else {
            (Outcome::Error, Some(Failure::Exit(exit.0)))
        };
    }
    let reason = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}").lines().next().unwrap_or("unknown error").to_owned(),
    };
    (Outcome::Error, Some(Failure::Trap(reason)))
}
