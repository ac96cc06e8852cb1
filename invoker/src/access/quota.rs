//! A namespace's gate on this invoker: shut while its monthly budget is spent
//! (the controller says so in the feed), and a token bucket for its request
//! rate.
//!
//! The rate is enforced per invoker, as `Quotas::rate` documents: a bucket
//! holds one second's worth of requests (at least one) and refills at the
//! rate, so `200/s` allows a burst of 200 and then 200 a second; `6000/m`
//! a burst of 100. Sharing the count across invokers would cost a round trip
//! per request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use flint_api::{Name, NamespaceState, Rate};
use http::StatusCode;

use super::{BUDGET, RATE_LIMITED};

/// Longest wait a refusal names: a rate below one request an hour cannot
/// be written, but a hand-made [`Rate`] could ask for one.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Why a namespace's invocation may not start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quota {
    /// Its monthly budget is spent (`402`).
    Budget {
        /// The namespace.
        namespace: Name,
        /// The controller's explanation: the budget and how to raise it.
        reason: String,
    },
    /// It is over its request rate on this invoker (`429`).
    Rate {
        /// The namespace.
        namespace: Name,
        /// Its rate.
        rate: Rate,
        /// Until the next request would be let through.
        wait: Duration,
    },
}

impl Quota {
    /// The status a client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Budget { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::Rate { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `invoker_rejected_total` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Budget { .. } => BUDGET,
            Self::Rate { .. } => RATE_LIMITED,
        }
    }

    /// Whole seconds for `Retry-After` (at least 1); none for a spent
    /// budget, which lasts until an admin or the next month lifts it.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Self::Budget { .. } => None,
            Self::Rate { wait, .. } => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Some(u32::try_from(seconds).unwrap_or(u32::MAX).max(1))
            }
        }
    }

    /// One line for the client.
    pub fn message(&self) -> String {
        match self {
            Self::Budget { namespace, reason } if reason.trim().is_empty() => {
                format!("namespace `{namespace}` has spent its monthly budget")
            }
            Self::Budget { reason, .. } => reason.trim().replace('\n', " "),
            Self::Rate { namespace, rate, .. } => format!(
                "namespace `{namespace}` is over its rate limit of {rate} on this invoker; \
                 retry in {} s",
                self.retry_after().unwrap_or(1)
            ),
        }
    }
}

/// What limits one namespace.
#[derive(Debug)]
pub struct Gate {
    blocked: Option<String>,
    bucket: Option<Arc<Bucket>>,
}

impl Gate {
    /// The gate for `state`; `None` when it limits nothing. `old` is the
    /// namespace's gate until now: its bucket is kept if the rate is the
    /// same, so an update of the budget does not refill it.
    pub fn new(old: Option<&Gate>, state: &NamespaceState) -> Option<Self> {
        if state.blocked.is_none() && state.rate.is_none() {
            return None;
        }
        let bucket = state.rate.map(|rate| match old.and_then(|gate| gate.bucket.as_ref()) {
            Some(bucket) if bucket.rate == rate => Arc::clone(bucket),
            _ => Arc::new(Bucket::new(rate, Instant::now())),
        });
        Some(Self { blocked: state.blocked.clone(), bucket })
    }

    /// Lets one invocation of `ns` through at `now`, or says why not. A
    /// blocked namespace does not use up its rate.
    pub fn admit(&self, ns: &Name, now: Instant) -> Result<(), Quota> {
        if let Some(reason) = &self.blocked {
            return Err(Quota::Budget { namespace: ns.clone(), reason: reason.clone() });
        }
        if let Some(bucket) = &self.bucket {
            bucket.take(now).map_err(|wait| Quota::Rate {
                namespace: ns.clone(),
                rate: bucket.rate,
                wait,
            })?;
        }
        Ok(())
    }
}

/// A token bucket: `burst` tokens at most, refilled at `per_second`.
#[derive(Debug)]
pub struct Bucket {
    rate: Rate,
    per_second: f64,
    burst: f64,
    level: Mutex<Level>,
}

#[derive(Debug)]
struct Level {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket for `rate`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        // `Rate`s from the wire allow 1/60 to 2^32 requests a second; keep a
        // hand-made one (0/s) from dividing by zero.
        let per_second = rate.per_second().clamp(1.0 / MAX_WAIT.as_secs_f64(), f64::from(u32::MAX));
        let burst = per_second.max(1.0);
        Self { rate, per_second, burst, level: Mutex::new(Level { tokens: burst, at: now }) }
    }

    /// Takes one token at `now`, or says how long until one is there.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut level = self.level.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(level.at).as_secs_f64();
        level.tokens = (level.tokens + elapsed * self.per_second).min(self.burst);
        level.at = level.at.max(now);
        if level.tokens >= 1.0 {
            level.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - level.tokens) / self.per_second;
        Err(Duration::try_from_secs_f64(wait).unwrap_or(MAX_WAIT).min(MAX_WAIT))
    }
}
