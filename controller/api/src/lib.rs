//! Wire types of the Flint REST API, shared by the controller, the invoker and
//! the `flint` CLI, and [`Client`], a typed client for the API.
//!
//! This crate has no server, no wasmtime and no store in it, so the CLI can
//! depend on it alone. The controller serves these types (`flint-controller`),
//! the invoker follows the [`Watch`] feed and reports with [`InvokerInfo`] and
//! [`LogEntry`] (`flint-invoker`).
//!
//! # Layout
//!
//! - [`Name`], [`Digest`]: validated identifiers; a bad one is refused while
//!   deserializing.
//! - [`Function`], [`FunctionSpec`], [`Limits`], [`Version`]: functions.
//! - [`Trigger`], [`TriggerRequest`], [`TriggerSpec`]: what starts them.
//! - [`schedule`]: cron and interval arithmetic in time zones;
//!   [`scheduler`]: how invokers coordinate to fire each time exactly once.
//! - [`Watch`], [`Change`], [`Snapshot`]: the change feed.
//! - [`UsageBatch`], [`PricePlan`], [`UsageReport`]: metering and billing;
//!   [`codec`]: the binary form of the controller's usage ledger records.
//! - [`auth`]: tokens, [`Role`]s and [`Scope`]s, and how a token is checked.
//! - [`Quotas`], [`Namespace`], [`AuditEntry`]: namespaces as tenants.
//! - [`Client`]: the REST client.
//!
//! Types people write (`*Spec`, [`TriggerRequest`]) refuse unknown fields;
//! types the servers write do not, so a newer controller can add fields.
#![deny(missing_docs)]

pub mod auth;
mod client;
mod feed;
mod function;
mod invoker;
mod name;
mod namespace;
pub mod schedule;
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;
pub mod tls;
mod trigger;
mod usage;

use std::fmt;

pub use auth::{NewToken, Role, Scope, TokenGrant, TokenInfo, TokenSpec, Whoami};
pub use client::{Client, Error, InvokeResponse};
pub use feed::{Change, Snapshot, Watch};
pub use function::{Function, FunctionSpec, Limits, LimitsSpec, Version};
pub use invoker::{
    InvokerInfo, InvokerStatus, LogEntry, LogLine, LogPage, Stream, TriggerHealth, TriggerStatus,
};
/// Points in time on the wire: RFC 3339 strings in UTC.
pub use jiff::Timestamp;
pub use name::{DEFAULT_NAMESPACE, Digest, InvalidId, MAX_NAME_LEN, Name};
pub use namespace::{
    AuditEntry, BudgetAction, MAX_RESERVATIONS, Namespace, NamespaceState, Quotas, Rate,
    Reservation,
};
use serde::{Deserialize, Serialize};
pub use trigger::{
    HTTP_METHODS, HttpTrigger, KAFKA_RESERVED_PROPERTIES, KAFKA_USER_PROPERTIES, KafkaTrigger,
    MissedPolicy, RetryPolicy, RouteAuth, ScheduleTrigger, StartPosition, Trigger, TriggerRequest,
    TriggerSpec,
};
pub use usage::codec;
pub use usage::{
    BatchAck, CSV_COLUMNS, CSV_CONTENT_TYPE, DurationHistogram, FreeTier, GroupBy, MIB_PER_GB,
    MICROS_PER_SECOND, OutcomeCounts, PricePlan, PricePlanSpec, UsageAggregate, UsageBatch,
    UsageFigures, UsageQuery, UsageReport, UsageRow, UsageSums, billed_us, gb_seconds,
};

/// Response header carrying the controller's store revision after the request.
pub const REVISION_HEADER: &str = "flint-revision";

/// The content type of a wasm upload.
pub const WASM_CONTENT_TYPE: &str = "application/wasm";

/// The JSON body of every error answer: `{"error": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One line saying what is wrong.
    pub error: String,
}

/// A field of a request that holds a wrong value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct FieldError {
    /// The field's path, e.g. `limits.memory_mb` or `http.route`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Displays an error with its chain of causes on one line: `a: b: c`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Formats a byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn human_bytes(bytes: u64) -> impl fmt::Display {
    struct Human(u64);
    impl fmt::Display for Human {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
            if self.0 < 1024 {
                return write!(f, "{} B", self.0);
            }
            let mut value = self.0 as f64 / 1024.0;
            let mut unit = 0;
            while value >= 1024.0 && unit < UNITS.len() - 1 {
                value /= 1024.0;
                unit += 1;
            }
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
    Human(bytes)
}
