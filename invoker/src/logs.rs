//! Guest stdout/stderr: split into lines after each invocation and shipped
//! to the controller in batches, where `flint logs` reads them.

use std::time::Duration;

use flint_api::{Client, ErrorChain, LogEntry, Stream, Timestamp};
use flint_engine::LogPipe;
use prometheus::IntCounter;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::function::Function;
use crate::invoke::Failure;

/// Lines waiting to be shipped; past this, new lines are dropped (and counted).
const QUEUE_LINES: usize = 10_000;
/// Lines per batch sent to the controller.
const BATCH_LINES: usize = 1000;
/// How long lines may wait before a batch is sent.
const BATCH_DELAY: Duration = Duration::from_millis(200);

/// The sending side, used by invocations.
#[derive(Clone)]
pub struct LogSender {
    tx: mpsc::Sender<LogEntry>,
    dropped: IntCounter,
}

/// The receiving side, consumed by [`ship`].
pub struct LogReceiver(mpsc::Receiver<LogEntry>);

/// A connected sender and receiver.
pub fn channel(dropped: IntCounter) -> (LogSender, LogReceiver) {
    let (tx, rx) = mpsc::channel(QUEUE_LINES);
    (LogSender { tx, dropped }, LogReceiver(rx))
}

impl LogSender {
    /// Queues what an invocation wrote, plus a line saying how it failed.
    pub fn capture(
        &self,
        function: &Function,
        stdout: &LogPipe,
        stderr: &LogPipe,
        failure: Option<&Failure>,
    ) {
        let (out, out_dropped) = stdout.take();
        let (err, err_dropped) = stderr.take();
        if out.is_empty() && err.is_empty() && failure.is_none() {
            return;
        }
        let time = Timestamp::now();
        let entry = |stream, line: String| LogEntry {
            namespace: function.namespace.clone(),
            function: function.name.clone(),
            time,
            stream,
            line,
        };
        let mut lines = Vec::new();
        for (bytes, dropped, stream) in
            [(out, out_dropped, Stream::Stdout), (err, err_dropped, Stream::Stderr)]
        {
            for line in String::from_utf8_lossy(&bytes).lines() {
                lines.push(entry(stream, line.to_owned()));
            }
            if dropped > 0 {
                lines.push(entry(
                    stream,
                    format!("[flint: {dropped} more bytes of output were dropped]"),
                ));
            }
        }
        if let Some(failure) = failure {
            lines.push(entry(Stream::Stderr, format!("[flint: {}]", failure.message(function))));
        }
        for line in lines {
            if self.tx.try_send(line).is_err() {
                self.dropped.inc();
            }
        }
    }
}

/// Ships queued lines to the controller until `shutdown`, then sends what is left.
pub async fn ship(mut rx: LogReceiver, client: Client, shutdown: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH_LINES);
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => None,
            line = rx.0.recv() => line,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_DELAY;
        while batch.len() < BATCH_LINES {
            match tokio::time::timeout_at(deadline, rx.0.recv()).await {
                Ok(Some(line)) => batch.push(line),
                _ => break,
            }
        }
        send(&client, &mut batch).await;
    }
    while let Ok(line) = rx.0.try_recv() {
        batch.push(line);
    }
    send(&client, &mut batch).await;
}

async fn send(client: &Client, batch: &mut Vec<LogEntry>) {
    if batch.is_empty() {
        return;
    }
    // Logs are best effort: one retry, then the batch is dropped rather than
    // holding memory while the controller is away.
    for attempt in 0..2 {
        match client.push_logs(batch).await {
            Ok(()) => break,
            Err(error) if attempt == 0 => {
                tracing::debug!(error = %ErrorChain(&error), "shipping logs failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => {
                tracing::warn!(error = %ErrorChain(&error), lines = batch.len(), "dropping guest logs")
            }
        }
    }
    batch.clear();
}
