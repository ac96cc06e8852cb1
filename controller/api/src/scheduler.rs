//! How invokers run schedules exactly once: one of them leads (a lease held
//! in the controller's store, with a fencing epoch), records each fire time
//! before running it, and reports the runs.

use serde::{Deserialize, Serialize};

use crate::{Name, Timestamp};

/// `POST /v1/scheduler/lease`: take, renew or release the scheduler lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// The invoker asking.
    pub invoker: String,
    /// How long the lease lasts without renewal, in milliseconds.
    pub ttl_ms: u64,
    /// Give the lease up (on shutdown) instead of taking it.
    #[serde(default)]
    pub release: bool,
}

/// The scheduler lease as it stands after a [`LeaseRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The invoker that leads, if any.
    pub holder: Option<String>,
    /// Increases each time the lease changes hands; fire records carry it,
    /// so a former leader's records are refused.
    pub epoch: u64,
    /// When the lease ends unless renewed.
    pub expires_at: Timestamp,
}

/// `POST /v1/scheduler/fires`: the leader records a fire time before running
/// it. Refused (`403`) when `epoch` is not the current lease's, (`409`) when the time is
/// not after the trigger's last recorded one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fire {
    /// The leader's lease epoch.
    pub epoch: u64,
    /// The trigger's namespace.
    pub namespace: Name,
    /// The trigger.
    pub trigger: Name,
    /// The scheduled time being fired.
    pub scheduled: Timestamp,
    /// Times that passed without a run and will not get one (missed-run policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed: Vec<Timestamp>,
}

/// Where a schedule trigger stands: `GET /v1/scheduler/cursors` lists them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The trigger's namespace.
    pub namespace: Name,
    /// The trigger.
    pub trigger: Name,
    /// The newest fire time recorded (or when the trigger was last changed,
    /// if it never fired): the next run is after it.
    pub last_scheduled: Timestamp,
}

/// How one run attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The function answered 2xx.
    Ok,
    /// It answered something else, trapped or timed out.
    Failed,
    /// The time passed while nothing could run it, and the policy skipped it.
    Missed,
}

/// One run attempt (or one missed time) of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The scheduled time.
    pub scheduled: Timestamp,
    /// When the attempt started; `None` for a missed time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    /// `started - scheduled`, in milliseconds.
    #[serde(default)]
    pub lag_ms: i64,
    /// How long the function ran, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: RunOutcome,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The function's status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The invoker that ran it.
    #[serde(default)]
    pub invoker: String,
}

/// `POST /v1/scheduler/runs` carries a list of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// The trigger's namespace.
    pub namespace: Name,
    /// The trigger.
    pub trigger: Name,
    /// The run.
    pub run: Run,
}

/// `GET /v1/namespaces/{ns}/triggers/{name}/runs`: a schedule's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    /// The newest fire time recorded.
    pub last_scheduled: Timestamp,
    /// The next fire times.
    pub next: Vec<Timestamp>,
    /// The newest runs, newest first.
    pub runs: Vec<Run>,
}
