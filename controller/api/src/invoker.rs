//! What invokers report to the controller: who they are, and the guest logs.

use serde::{Deserialize, Serialize};

use crate::{Name, Timestamp};

/// An invoker, as it registers itself (`PUT /v1/invokers/{id}`) every few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvokerInfo {
    /// Unique per invoker process.
    pub id: String,
    /// Where its HTTP ingress listens.
    pub http_url: String,
    /// Where its admin endpoints listen (`/healthz`, `/metrics`, `/v1/invoke/…`).
    pub admin_url: String,
    /// The Flint version it runs.
    pub version: String,
    /// The last change-feed revision it applied.
    pub revision: u64,
    /// When it started.
    pub started_at: Timestamp,
    /// How the triggers it runs are doing (Kafka consumers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerHealth>,
}

/// Whether a trigger works on an invoker: a Kafka trigger whose brokers are
/// unreachable or whose topic does not exist is unhealthy, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerHealth {
    /// The trigger's namespace.
    pub namespace: Name,
    /// The trigger.
    pub trigger: Name,
    /// Whether it works.
    pub healthy: bool,
    /// Why not, if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when it is in this state.
    pub since: Timestamp,
}

/// `GET …/triggers/{name}/status`: a trigger's health on each invoker running it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerStatus {
    /// The invoker.
    pub invoker: String,
    /// Its report.
    #[serde(flatten)]
    pub health: TriggerHealth,
}

/// An invoker as the controller lists it (`GET /v1/invokers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvokerStatus {
    /// What the invoker reported.
    #[serde(flatten)]
    pub info: InvokerInfo,
    /// When it last reported.
    pub last_seen: Timestamp,
    /// Whether it reported recently enough to receive invocations.
    pub healthy: bool,
}

/// Which output stream of the guest a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line a guest wrote, as an invoker ships it (`POST /v1/logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The function's namespace.
    pub namespace: Name,
    /// The function.
    pub function: Name,
    /// When the invocation that wrote it ended.
    pub time: Timestamp,
    /// Which stream.
    pub stream: Stream,
    /// The text, without the line break; invalid UTF-8 is replaced.
    pub line: String,
}

/// One stored log line of a function (`GET …/functions/{name}/logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Position in the function's log; increases by one per line.
    pub seq: u64,
    /// When it was written.
    pub time: Timestamp,
    /// Which stream.
    pub stream: Stream,
    /// The text.
    pub line: String,
}

/// A page of a function's log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    /// Pass as `since` to get the lines after this page.
    pub next: u64,
    /// The lines, oldest first.
    pub lines: Vec<LogLine>,
}
