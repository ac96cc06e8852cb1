//! The usage ledger and billing.
//!
//! Invokers aggregate their invocations per function, version, trigger kind
//! and minute, spool the aggregates to disk and ship them in batches
//! (`POST /v1/usage/batches`). [`Ledger::apply`] applies a batch exactly
//! once: the batch and the invoker boot's high-water mark are written in one
//! sled transaction and flushed before the acknowledgement, and a batch at or
//! below the mark is acknowledged without being applied. Each batch updates
//! the minute, hour and day records of what it touches, so reports over long
//! periods read few records ([`query`]).
//!
//! Prices come from the [`PricePlan`] the usage was
//! recorded under: plans are immutable and numbered, a change stores a new
//! one, and every record keeps its plan's id, so a change never rewrites the
//! cost of the past.
//!
//! Every call here blocks (sled): call it from `spawn_blocking`.

pub mod codec;
pub mod flags;
pub mod ledger;
pub mod query;

use std::collections::HashMap;

use flint_api::{
    FieldError, GroupBy, Name, PricePlan, Timestamp, UsageFigures, UsageReport, UsageRow,
};
pub use ledger::Ledger;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
pub use query::{Acc, Answer, Group, Query};

/// Seconds in a minute, an hour and a day: the ledger's resolutions.
pub const MINUTE: u64 = 60;
/// See [`MINUTE`].
pub const HOUR: u64 = 3600;
/// See [`MINUTE`].
pub const DAY: u64 = 86_400;
/// The default period of a report: the last 24 hours.
pub const DEFAULT_PERIOD: u64 = DAY;
/// The most rows one report may have; past it, ask for a coarser grouping.
pub const MAX_ROWS: u64 = 100_000;

/// Metrics of the ledger.
#[derive(Clone)]
pub struct Metrics {
    /// Batches received, by result (`applied`, `duplicate`, `invalid`, `failed`).
    pub batches: IntCounterVec,
    /// Time to apply one batch, flush included.
    pub apply_seconds: Histogram,
    /// Time to answer one report (API or dashboard).
    pub query_seconds: Histogram,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let batches = IntCounterVec::new(
            Opts::new("controller_usage_batches_total", "Usage batches received, by result."),
            &["result"],
        )?;
        let buckets = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
        let apply_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "controller_usage_batch_apply_duration_seconds",
                "Time to apply one usage batch to the ledger, flush included.",
            )
            .buckets(buckets.clone()),
        )?;
        let query_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "controller_usage_query_duration_seconds",
                "Time to compute one usage report.",
            )
            .buckets(buckets),
        )?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(apply_seconds.clone()))?;
        registry.register(Box::new(query_seconds.clone()))?;
        Ok(Self { batches, apply_seconds, query_seconds })
    }
}

/// The first second of the calendar month (UTC) that `second` falls in.
pub fn month_start(second: u64) -> u64 {
    let days = second / DAY;
    // Civil-from-days (Howard Hinnant's algorithm), then back to the 1st.
    let z = days as i64 + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day_of_month = doy - (153 * mp + 2) / 5; // 0-based
    (days - day_of_month as u64) * DAY
}

/// A report's parameters as the API and the dashboard take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// What to read.
    pub query: Query,
    /// How the rows are grouped.
    pub group_by: Vec<GroupBy>,
}

impl Params {
    /// Parses `from`, `to`, `namespace`, `function` and `group_by` from a
    /// query string (percent-decoded). `from` and `to` are RFC 3339 times;
    /// the period is widened to whole minutes. `now` is the default end.
    pub fn parse(query: Option<&str>, now: Timestamp) -> Result<Self, FieldError> {
        let param = |key: &str| param(query, key);
        let time = |key: &str| -> Result<Option<u64>, FieldError> {
            let Some(value) = param(key) else { return Ok(None) };
            let time: Timestamp = value.parse().map_err(|e| {
                FieldError::new(key, format!("`{value}` is not an RFC 3339 time: {e}"))
            })?;
            u64::try_from(time.as_second())
                .map(Some)
                .map_err(|_| FieldError::new(key, format!("`{value}` is before 1970")))
        };
        let now = u64::try_from(now.as_second()).unwrap_or(0);
        // By default up to the end of the current minute: `now` is in whole
        // seconds, and rounding it up would leave out the minute that has
        // just begun (usage of its first second) at :00.
        let to = match time("to")? {
            Some(to) => to.div_ceil(MINUTE) * MINUTE,
            None => (now / MINUTE + 1) * MINUTE,
        };
        let from = time("from")?.unwrap_or(to.saturating_sub(DEFAULT_PERIOD)) / MINUTE * MINUTE;
        if from >= to {
            return Err(FieldError::new("from", "must be before `to`"));
        }
        let name = |key: &str| -> Result<Option<Name>, FieldError> {
            param(key)
                .map(|v| v.parse::<Name>().map_err(|e| FieldError::new(key, e.to_string())))
                .transpose()
        };
        let mut group_by: Vec<GroupBy> = Vec::new();
        if let Some(groups) = param("group_by").or_else(|| Some(GroupBy::default().to_string())) {
            for group in groups.split(',').filter(|g| !g.is_empty()) {
                let group: GroupBy = group.parse()?;
                if !group_by.contains(&group) {
                    group_by.push(group);
                }
            }
        }
        let steps: Vec<u64> = group_by.iter().filter_map(|g| g.seconds()).collect();
        if steps.len() > 1 {
            return Err(FieldError::new("group_by", "at most one of minute, hour and day"));
        }
        let step = steps.first().copied();
        if let Some(step) = step
            && (to - from) / step > MAX_ROWS
        {
            return Err(FieldError::new(
                "group_by",
                format!("more than {MAX_ROWS} rows: choose a shorter period or a coarser grouping"),
            ));
        }
        let query = Query {
            from,
            to,
            namespace: name("namespace")?,
            function: name("function")?,
            by_function: group_by.contains(&GroupBy::Function),
            by_trigger: group_by.contains(&GroupBy::Trigger),
            step,
            visible: None,
        };
        Ok(Self { query, group_by })
    }
}

/// A percent-decoded query parameter (`+` is a space).
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    flint_api::server::query_param(query, key).map(percent_decode)
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The figures of an accumulator, priced with `plans`.
pub fn figures(acc: &Acc, plans: &HashMap<u64, PricePlan>) -> UsageFigures {
    let f = &acc.sums;
    let (request_cost, compute_cost) = acc.cost(plans);
    UsageFigures {
        invocations: f.counts.ran(),
        counts: f.counts,
        wall_us: f.wall_us,
        billed_us: f.billed_us,
        gb_seconds: flint_api::gb_seconds(f.mb_billed_us),
        cold_starts: f.cold_starts,
        p50_ms: f.histogram.quantile_us(0.5).map(|us| us / 1000.0),
        p99_ms: f.histogram.quantile_us(0.99).map(|us| us / 1000.0),
        peak_memory_bytes: f.peak_memory_bytes,
        request_cost,
        compute_cost,
        cost: request_cost + compute_cost,
    }
}

/// The API's report of an answer.
pub fn report(params: &Params, answer: &Answer) -> UsageReport {
    let plans = &answer.plans.by_id;
    let rows = answer
        .groups
        .iter()
        .map(|group| UsageRow {
            start: group.start.and_then(|s| Timestamp::from_second(s as i64).ok()),
            namespace: group.function.as_ref().map(|(ns, _)| ns.clone()),
            function: group.function.as_ref().map(|(_, f)| f.clone()),
            trigger: group.trigger.clone(),
            figures: figures(&group.acc, plans),
        })
        .collect();
    let totals = figures(&answer.totals, plans);
    let credit = answer.free_tier.iter().fold(0.0, |sum, f| sum + f.credit);
    let mut used: Vec<PricePlan> =
        answer.totals.per_plan.iter().filter_map(|(id, _, _)| plans.get(id).cloned()).collect();
    used.sort_by_key(|p| p.id);
    let at = |s: u64| Timestamp::from_second(s as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    UsageReport {
        from: at(params.query.from),
        to: at(params.query.to),
        group_by: params.group_by.clone(),
        rows,
        net_cost: (totals.cost - credit).max(0.0),
        totals,
        free_tier: answer.free_tier.clone(),
        currency: answer.plans.current.currency.clone(),
        plans: used,
    }
}

#[cfg(test)]
mod tests;
