//! Metering and billing: what invokers ship (`POST /v1/usage/batches`), the
//! price plan (`/v1/usage/plan`) and the usage report (`GET /v1/usage`).
//!
//! An invoker aggregates its invocations per function, version, trigger kind
//! and minute into [`UsageAggregate`]s and ships them in [`UsageBatch`]es
//! with idempotent ids; the controller answers each with a [`BatchAck`]
//! carrying the current [`PricePlan`], whose billing granularity the invoker
//! rounds each invocation's duration to.
//!
//! [`codec`] is the binary form of the controller's ledger records.

pub mod codec;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Digest, FieldError, Name, Timestamp};

/// Microseconds in one second.
pub const MICROS_PER_SECOND: u64 = 1_000_000;
/// MiB in one billed GB: like the cloud providers, a "GB" of configured
/// memory is 1024 MiB (128 MiB is 0.125 GB).
pub const MIB_PER_GB: u64 = 1024;

/// Gigabyte-seconds from a sum of configured MiB × billed microseconds.
pub fn gb_seconds(mb_billed_us: u64) -> f64 {
    mb_billed_us as f64 / (MIB_PER_GB * MICROS_PER_SECOND) as f64
}

/// A duration rounded up to the billing granularity (both in µs).
pub fn billed_us(wall_us: u64, granularity_us: u64) -> u64 {
    let g = granularity_us.max(1);
    wall_us.div_ceil(g).saturating_mul(g)
}

/// Invocations by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// The handler returned.
    #[serde(default)]
    pub ok: u64,
    /// It trapped, panicked, exited non-zero or sent no response.
    #[serde(default)]
    pub error: u64,
    /// It ran past its timeout.
    #[serde(default)]
    pub timeout: u64,
    /// It tried to grow its memory past its limit.
    #[serde(default)]
    pub out_of_memory: u64,
    /// It was turned away before running (queue full, no capacity, not loadable).
    /// Rejected invocations are counted but not billed.
    #[serde(default)]
    pub rejected: u64,
}

impl OutcomeCounts {
    /// Invocations that ran (everything but rejections): the billed requests.
    /// Stops at `u64::MAX`, like the counts themselves (a batch can carry
    /// any numbers).
    pub fn ran(&self) -> u64 {
        self.ok.saturating_add(self.failed())
    }

    /// Invocations that ran and failed; stops at `u64::MAX`.
    pub fn failed(&self) -> u64 {
        self.error.saturating_add(self.timeout).saturating_add(self.out_of_memory)
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Self) {
        self.ok = self.ok.saturating_add(other.ok);
        self.error = self.error.saturating_add(other.error);
        self.timeout = self.timeout.saturating_add(other.timeout);
        self.out_of_memory = self.out_of_memory.saturating_add(other.out_of_memory);
        self.rejected = self.rejected.saturating_add(other.rejected);
    }
}

/// A histogram of guest wall times with fixed log-scale buckets: bucket `i`
/// holds durations in `[2^(i/4), 2^((i+1)/4))` µs (bucket 0 also holds 0),
/// so quantiles are within 19 % of the truth from 1 µs to over an hour.
/// Stored sparse: `[[bucket, count], …]`, buckets ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationHistogram(pub Vec<(u8, u64)>);

impl DurationHistogram {
    /// Buckets per doubling of the duration.
    pub const PER_DOUBLING: u32 = 4;
    /// The number of buckets; the last one also holds everything longer.
    pub const BUCKETS: u8 = 160;

    /// The bucket a duration in µs falls in. Integer math only: it runs once
    /// per invocation.
    pub fn bucket(us: u64) -> u8 {
        if us < 2 {
            return 0;
        }
        let log2 = 63 - us.leading_zeros();
        // The 20 bits below the leading one, against 2^(k/4) - 1 in 2^-20ths
        // (rounded up, so a value is never put above its true bucket).
        let frac = if log2 >= 20 { us >> (log2 - 20) } else { us << (20 - log2) } & 0xF_FFFF;
        let quarter = match frac {
            f if f < 198_399 => 0,
            f if f < 434_335 => 1,
            f if f < 714_912 => 2,
            _ => 3,
        };
        (log2 * Self::PER_DOUBLING + quarter).min(u32::from(Self::BUCKETS) - 1) as u8
    }

    /// The lower bound of a bucket in µs.
    pub fn lower_us(bucket: u8) -> f64 {
        if bucket == 0 { 0.0 } else { 2f64.powf(f64::from(bucket) / f64::from(Self::PER_DOUBLING)) }
    }

    /// The upper bound of a bucket in µs.
    pub fn upper_us(bucket: u8) -> f64 {
        2f64.powf((f64::from(bucket) + 1.0) / f64::from(Self::PER_DOUBLING))
    }

    /// Adds `count` observations to a bucket. A bucket past the last (from
    /// a batch that was not made by [`Self::bucket`]) counts in the last;
    /// counts stop at `u64::MAX` instead of wrapping.
    pub fn add_to(&mut self, bucket: u8, count: u64) {
        let bucket = bucket.min(Self::BUCKETS - 1);
        match self.0.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(i) => self.0[i].1 = self.0[i].1.saturating_add(count),
            Err(i) => self.0.insert(i, (bucket, count)),
        }
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &Self) {
        for (bucket, count) in &other.0 {
            self.add_to(*bucket, *count);
        }
    }

    /// Observations in all buckets.
    pub fn count(&self) -> u64 {
        self.0.iter().fold(0u64, |sum, (_, c)| sum.saturating_add(*c))
    }

    /// The `q`-quantile (0 to 1) in µs, interpolated geometrically inside
    /// its bucket; `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (bucket, count) in &self.0 {
            let before = seen as f64;
            seen = seen.saturating_add(*count);
            if seen as f64 >= rank {
                // At most 1: near u64::MAX, `seen` and the total round to
                // different floats, and the rank may pass the bucket's end.
                let within = ((rank - before) / *count as f64).clamp(0.0, 1.0);
                let (lo, hi) = (Self::lower_us(*bucket).max(1.0), Self::upper_us(*bucket));
                return Some(lo * (hi / lo).powf(within));
            }
        }
        self.0.last().map(|(b, _)| Self::upper_us(*b))
    }
}

/// What a set of invocations adds up to: sums, and the maxima of memory and
/// granularity. Two records of the same function, trigger kind, time bucket
/// and plan [`merge`](UsageSums::merge) into one; the invoker's per-minute
/// aggregates, the batches it ships and the controller's ledger records
/// all carry these figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSums {
    /// Invocations by outcome.
    pub counts: OutcomeCounts,
    /// Sum of guest wall times (instantiation included), in µs.
    pub wall_us: u64,
    /// Sum of billed durations: each wall time rounded up to the granularity, in µs.
    pub billed_us: u64,
    /// Sum of configured MiB × billed µs: GB-seconds × 1024 × 10⁶.
    pub mb_billed_us: u64,
    /// Sum of instantiation times, in µs.
    pub instantiate_us: u64,
    /// Invocations that had to load the function first (scale from zero).
    pub cold_starts: u64,
    /// Sum of the load times of those, in µs (not billed).
    pub cold_start_us: u64,
    /// The largest linear memory one instance reached, in bytes.
    pub peak_memory_bytes: u64,
    /// The configured memory of the function, in MiB (the largest, if it changed).
    pub memory_mb: u64,
    /// The billing granularity the durations were rounded to, in µs (the
    /// largest, if records of several plans were merged).
    pub granularity_us: u64,
    /// Guest wall times of the invocations that ran.
    #[serde(default)]
    pub histogram: DurationHistogram,
}

impl UsageSums {
    /// Adds `other`: sums add up, maxima take the larger.
    pub fn merge(&mut self, other: &Self) {
        self.counts.add(&other.counts);
        self.wall_us = self.wall_us.saturating_add(other.wall_us);
        self.billed_us = self.billed_us.saturating_add(other.billed_us);
        self.mb_billed_us = self.mb_billed_us.saturating_add(other.mb_billed_us);
        self.instantiate_us = self.instantiate_us.saturating_add(other.instantiate_us);
        self.cold_starts = self.cold_starts.saturating_add(other.cold_starts);
        self.cold_start_us = self.cold_start_us.saturating_add(other.cold_start_us);
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.memory_mb = self.memory_mb.max(other.memory_mb);
        self.granularity_us = self.granularity_us.max(other.granularity_us);
        self.histogram.merge(&other.histogram);
    }
}

/// Usage of one function version, from one trigger kind, in one minute, on
/// one invoker, under one price plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageAggregate {
    /// The function's namespace.
    pub namespace: Name,
    /// The function.
    pub function: Name,
    /// The version that ran.
    pub version: Digest,
    /// What started the invocations: `http`, `invoke` (by name through the
    /// API), `schedule`, `kafka`.
    pub trigger: String,
    /// The minute the invocations started in, in minutes since the Unix epoch (UTC).
    pub minute: u64,
    /// The price plan whose granularity the durations were rounded to; 0 if
    /// the invoker did not know one yet (the controller prices such usage
    /// with the plan current when it arrives).
    pub plan: u64,
    /// What the invocations add up to.
    pub sums: UsageSums,
}

/// A batch of aggregates from one invoker (`POST /v1/usage/batches`).
///
/// `(invoker, boot, seq)` identifies it: an invoker ships the batches of one
/// boot strictly in `seq` order, one at a time, so the controller keeps
/// only the highest `seq` it applied per boot and acknowledges a repeat
/// without applying it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBatch {
    /// `<invoker>-<boot>-<seq>`, for logs.
    pub id: String,
    /// The invoker's id.
    pub invoker: String,
    /// Random per invoker process start.
    pub boot: u64,
    /// 1, 2, 3… within the boot.
    pub seq: u64,
    /// The usage.
    pub aggregates: Vec<UsageAggregate>,
}

impl UsageBatch {
    /// The id of a batch.
    pub fn make_id(invoker: &str, boot: u64, seq: u64) -> String {
        format!("{invoker}-{boot:016x}-{seq}")
    }
}

/// The controller's answer to a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchAck {
    /// The batch's id.
    pub id: String,
    /// False when the batch had been applied before (a repeat after a lost ack).
    pub applied: bool,
    /// The price plan in force, for the invoker's next aggregates.
    pub plan: PricePlan,
}

/// A price plan. Plans are immutable once stored: a change stores a new plan
/// with the next id, and usage keeps the plan it was recorded under, so a
/// change never rewrites the cost of the past.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricePlan {
    /// 1, 2, 3… in the order the plans were set.
    pub id: u64,
    /// The currency of the prices, e.g. `USD` (informational).
    pub currency: String,
    /// Price of one GB-second: configured memory in GB × billed seconds.
    pub per_gb_second: f64,
    /// Price of one million invocations that ran.
    pub per_million_requests: f64,
    /// Each invocation's duration is rounded up to a multiple of this, in µs.
    pub granularity_us: u64,
    /// Invocations free each calendar month (UTC) per namespace.
    pub free_requests_per_month: u64,
    /// GB-seconds free each calendar month (UTC) per namespace.
    pub free_gb_seconds_per_month: f64,
    /// When the plan was set.
    pub created_at: Timestamp,
}

impl PricePlan {
    /// Default price per GB-second: AWS Lambda's (x86, first tier) in USD.
    pub const DEFAULT_PER_GB_SECOND: f64 = 0.000_016_666_7;
    /// Default price per million requests: AWS Lambda's, in USD.
    pub const DEFAULT_PER_MILLION_REQUESTS: f64 = 0.20;
    /// Default granularity: 1 ms, as on AWS Lambda.
    pub const DEFAULT_GRANULARITY_US: u64 = 1000;
    /// Default currency.
    pub const DEFAULT_CURRENCY: &str = "USD";

    /// The cost of `requests` billed invocations and `mb_billed_us`
    /// (configured MiB × billed µs) under this plan.
    pub fn cost(&self, requests: u64, mb_billed_us: u64) -> f64 {
        self.request_cost(requests) + self.compute_cost(mb_billed_us)
    }

    /// The per-request part of [`PricePlan::cost`].
    pub fn request_cost(&self, requests: u64) -> f64 {
        requests as f64 * self.per_million_requests / 1e6
    }

    /// The duration part of [`PricePlan::cost`].
    pub fn compute_cost(&self, mb_billed_us: u64) -> f64 {
        gb_seconds(mb_billed_us) * self.per_gb_second
    }
}

/// A price plan as an operator writes it (`PUT /v1/usage/plan`, or the
/// controller's flags): unset fields keep their current value (on a new
/// store: the defaults, in the style of AWS Lambda, with no free tier).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricePlanSpec {
    /// See [`PricePlan::currency`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// See [`PricePlan::per_gb_second`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_gb_second: Option<f64>,
    /// See [`PricePlan::per_million_requests`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_million_requests: Option<f64>,
    /// See [`PricePlan::granularity_us`]: 1 µs to 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity_us: Option<u64>,
    /// See [`PricePlan::free_requests_per_month`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_requests_per_month: Option<u64>,
    /// See [`PricePlan::free_gb_seconds_per_month`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_gb_seconds_per_month: Option<f64>,
}

impl PricePlanSpec {
    /// The longest granularity: one minute.
    pub const MAX_GRANULARITY_US: u64 = 60 * MICROS_PER_SECOND;

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `base` with this spec's fields applied and checked; the result has
    /// `id` and `created_at` of `base`.
    pub fn apply(&self, base: &PricePlan) -> Result<PricePlan, FieldError> {
        let price = |field: &str, value: Option<f64>, current: f64| {
            let value = value.unwrap_or(current);
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err(FieldError::new(field, format!("{value} is not a price (a number ≥ 0)")))
            }
        };
        let granularity_us = self.granularity_us.unwrap_or(base.granularity_us);
        if !(1..=Self::MAX_GRANULARITY_US).contains(&granularity_us) {
            return Err(FieldError::new(
                "granularity_us",
                format!("{granularity_us} is out of range 1..={}", Self::MAX_GRANULARITY_US),
            ));
        }
        let currency = self.currency.clone().unwrap_or_else(|| base.currency.clone());
        if currency.is_empty()
            || currency.len() > 8
            || !currency.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                "currency",
                format!("`{currency}` is not a currency code"),
            ));
        }
        Ok(PricePlan {
            id: base.id,
            currency,
            per_gb_second: price("per_gb_second", self.per_gb_second, base.per_gb_second)?,
            per_million_requests: price(
                "per_million_requests",
                self.per_million_requests,
                base.per_million_requests,
            )?,
            granularity_us,
            free_requests_per_month: self
                .free_requests_per_month
                .unwrap_or(base.free_requests_per_month),
            free_gb_seconds_per_month: price(
                "free_gb_seconds_per_month",
                self.free_gb_seconds_per_month,
                base.free_gb_seconds_per_month,
            )?,
            created_at: base.created_at,
        })
    }
}

impl Default for PricePlan {
    fn default() -> Self {
        Self {
            id: 0,
            currency: Self::DEFAULT_CURRENCY.to_owned(),
            per_gb_second: Self::DEFAULT_PER_GB_SECOND,
            per_million_requests: Self::DEFAULT_PER_MILLION_REQUESTS,
            granularity_us: Self::DEFAULT_GRANULARITY_US,
            free_requests_per_month: 0,
            free_gb_seconds_per_month: 0.0,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }
}

/// How `GET /v1/usage` groups its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One row per function.
    #[default]
    Function,
    /// One row per minute.
    Minute,
    /// One row per hour.
    Hour,
    /// One row per day (UTC).
    Day,
    /// One row per trigger kind.
    Trigger,
}

impl GroupBy {
    /// Every value, as the API spells it.
    pub const ALL: [Self; 5] = [Self::Function, Self::Minute, Self::Hour, Self::Day, Self::Trigger];

    /// The value as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Trigger => "trigger",
        }
    }

    /// The length of a time bucket in seconds, for the time groupings.
    pub fn seconds(self) -> Option<u64> {
        match self {
            Self::Function | Self::Trigger => None,
            Self::Minute => Some(60),
            Self::Hour => Some(3600),
            Self::Day => Some(86_400),
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for GroupBy {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| {
            FieldError::new(
                "group_by",
                format!("`{s}` is not one of minute, hour, day, function, trigger"),
            )
        })
    }
}

/// The parameters of `GET /v1/usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Start of the period (inclusive), rounded down to the minute; default `to` − 24 h.
    pub from: Option<Timestamp>,
    /// End of the period (exclusive), rounded down to the minute; default now.
    pub to: Option<Timestamp>,
    /// Only this namespace.
    pub namespace: Option<Name>,
    /// Only this function (needs `namespace`, else any namespace's function of that name).
    pub function: Option<Name>,
    /// How rows are grouped; several (`function,trigger,hour`) give one row
    /// per function, trigger kind and hour.
    pub group_by: Vec<GroupBy>,
}

impl UsageQuery {
    /// The query string, without the `?`.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(from) = self.from {
            parts.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            parts.push(format!("to={to}"));
        }
        if let Some(ns) = &self.namespace {
            parts.push(format!("namespace={ns}"));
        }
        if let Some(function) = &self.function {
            parts.push(format!("function={function}"));
        }
        if !self.group_by.is_empty() {
            let groups: Vec<&str> = self.group_by.iter().map(|g| g.as_str()).collect();
            parts.push(format!("group_by={}", groups.join(",")));
        }
        parts.join("&")
    }
}

/// Usage figures of one row (or of the whole report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageFigures {
    /// Invocations that ran (the billed requests).
    pub invocations: u64,
    /// Invocations by outcome, rejections included.
    pub counts: OutcomeCounts,
    /// Sum of guest wall times, in µs.
    pub wall_us: u64,
    /// Sum of billed durations, in µs.
    pub billed_us: u64,
    /// Configured memory × billed duration.
    pub gb_seconds: f64,
    /// Invocations that started from zero.
    pub cold_starts: u64,
    /// Median guest wall time in ms, if anything ran.
    pub p50_ms: Option<f64>,
    /// 99th percentile of the guest wall time in ms, if anything ran.
    pub p99_ms: Option<f64>,
    /// The largest linear memory one instance reached, in bytes.
    pub peak_memory_bytes: u64,
    /// The per-request part of the cost.
    pub request_cost: f64,
    /// The GB-second part of the cost.
    pub compute_cost: f64,
    /// `request_cost + compute_cost`, before any free tier.
    pub cost: f64,
}

impl UsageFigures {
    /// Failed invocations (error, timeout, out of memory) over those that ran; 0 when none ran.
    pub fn error_share(&self) -> f64 {
        share(self.counts.failed(), self.invocations)
    }

    /// Cold starts over invocations that ran; 0 when none ran.
    pub fn cold_start_share(&self) -> f64 {
        share(self.cold_starts, self.invocations)
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// One row of a usage report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// Start of the row's time bucket (time groupings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// The namespace (function grouping only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Name>,
    /// The function (function grouping only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Name>,
    /// The trigger kind (trigger grouping only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// The figures.
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// The free tier used by one namespace in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreeTier {
    /// The namespace.
    pub namespace: Name,
    /// Free invocations used in the period.
    pub requests: u64,
    /// Free GB-seconds used in the period.
    pub gb_seconds: f64,
    /// What they would have cost.
    pub credit: f64,
}

/// The answer of `GET /v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// Start of the period (inclusive, whole minute).
    pub from: Timestamp,
    /// End of the period (exclusive, whole minute).
    pub to: Timestamp,
    /// The grouping of `rows`.
    pub group_by: Vec<GroupBy>,
    /// The rows: by time, then namespace and function.
    pub rows: Vec<UsageRow>,
    /// Everything in the period that matched.
    pub totals: UsageFigures,
    /// Free tier used per namespace. Applied to namespaces, so empty when the
    /// query names a function: per-function costs are before the free tier.
    pub free_tier: Vec<FreeTier>,
    /// `totals.cost` minus the free-tier credits.
    pub net_cost: f64,
    /// The currency of the costs.
    pub currency: String,
    /// The price plans the usage was priced with.
    pub plans: Vec<PricePlan>,
}

/// The columns of the CSV form of a report, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "start",
    "namespace",
    "function",
    "trigger",
    "invocations",
    "ok",
    "error",
    "timeout",
    "out_of_memory",
    "rejected",
    "wall_us",
    "billed_us",
    "gb_seconds",
    "cold_starts",
    "p50_ms",
    "p99_ms",
    "peak_memory_bytes",
    "request_cost",
    "compute_cost",
    "cost",
];

/// The content type of CSV answers.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

impl UsageReport {
    /// The rows as CSV ([`CSV_COLUMNS`], a header line first); empty cells for
    /// what a row does not have. Floats are written with full precision, so
    /// the CSV and the JSON carry the same numbers.
    pub fn to_csv(&self) -> String {
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        for row in &self.rows {
            let f = &row.figures;
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            let cells = [
                row.start.map(|t| t.to_string()).unwrap_or_default(),
                row.namespace.as_ref().map(ToString::to_string).unwrap_or_default(),
                row.function.as_ref().map(ToString::to_string).unwrap_or_default(),
                row.trigger.clone().unwrap_or_default(),
                f.invocations.to_string(),
                f.counts.ok.to_string(),
                f.counts.error.to_string(),
                f.counts.timeout.to_string(),
                f.counts.out_of_memory.to_string(),
                f.counts.rejected.to_string(),
                f.wall_us.to_string(),
                f.billed_us.to_string(),
                f.gb_seconds.to_string(),
                f.cold_starts.to_string(),
                opt(f.p50_ms),
                opt(f.p99_ms),
                f.peak_memory_bytes.to_string(),
                f.request_cost.to_string(),
                f.compute_cost.to_string(),
                f.cost.to_string(),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_granularity() {
        assert_eq!(billed_us(1, 1000), 1000);
        assert_eq!(billed_us(1000, 1000), 1000);
        assert_eq!(billed_us(1001, 1000), 2000);
        assert_eq!(billed_us(0, 1000), 0);
        assert_eq!(billed_us(1234, 1), 1234);
        assert!((gb_seconds(128 * 1_000_000) - 0.125).abs() < 1e-12);
    }

    #[test]
    fn counts_of_a_hostile_batch_stop_at_the_maximum() {
        // Found by tests/fuzz (usage_batch): `ran` overflowed on counts a
        // batch may carry, a panic in debug builds and a wrap in release.
        let counts = OutcomeCounts {
            ok: u64::MAX,
            error: u64::MAX,
            timeout: 1,
            out_of_memory: u64::MAX,
            rejected: u64::MAX,
        };
        assert_eq!((counts.ran(), counts.failed()), (u64::MAX, u64::MAX));
        let counts = OutcomeCounts { ok: 1, error: 2, timeout: 3, out_of_memory: 4, rejected: 5 };
        assert_eq!((counts.ran(), counts.failed()), (10, 9));
    }

    #[test]
    fn quantiles_of_huge_counts_stay_in_their_bucket() {
        // Found by tests/fuzz (usage_batch): the total (2^64 - 4e8) and the
        // count before the last bucket round to floats 2048 apart, and the
        // top quantile came out as 2^551 µs instead of at most 2^40.
        let mut h = DurationHistogram::default();
        h.add_to(127, u64::MAX - 400_000_000);
        h.add_to(159, 1);
        let top = h.quantile_us(1.0).unwrap();
        assert!(top <= DurationHistogram::upper_us(159), "{top}");
        assert!(top >= DurationHistogram::lower_us(127), "{top}");
    }

    #[test]
    fn histogram_buckets_are_monotonic_and_quantiles_close() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = DurationHistogram::bucket(us);
            assert!(b >= last, "{us}");
            last = b;
            if us > 0 {
                assert!(DurationHistogram::lower_us(b) <= us as f64 + 1e-9, "{us} in {b}");
                assert!(DurationHistogram::upper_us(b) > us as f64, "{us} in {b}");
            }
        }
        assert_eq!(DurationHistogram::bucket(u64::MAX), DurationHistogram::BUCKETS - 1);
        let mut h = DurationHistogram::default();
        for us in 1..=1000u64 {
            h.add_to(DurationHistogram::bucket(us * 100), 1);
        }
        let p50 = h.quantile_us(0.5).unwrap();
        let p99 = h.quantile_us(0.99).unwrap();
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.19, "{p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.19, "{p99}");
        assert_eq!(DurationHistogram::default().quantile_us(0.5), None);
    }

    #[test]
    fn plan_specs_override_and_are_checked() {
        let base = PricePlan::default();
        let plan =
            PricePlanSpec { granularity_us: Some(1), ..Default::default() }.apply(&base).unwrap();
        assert_eq!((plan.granularity_us, plan.per_gb_second), (1, base.per_gb_second));
        let err = PricePlanSpec { granularity_us: Some(0), ..Default::default() }
            .apply(&base)
            .unwrap_err();
        assert!(err.to_string().contains("granularity_us"), "{err}");
        let err = PricePlanSpec { per_gb_second: Some(-1.0), ..Default::default() }
            .apply(&base)
            .unwrap_err();
        assert!(err.to_string().contains("per_gb_second"), "{err}");
        let cost = base.cost(1_000_000, 1024 * 1_000_000);
        assert!((cost - (0.2 + PricePlan::DEFAULT_PER_GB_SECOND)).abs() < 1e-12);
    }
}
