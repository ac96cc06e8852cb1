//! When a schedule trigger fires: cron expressions and intervals, evaluated
//! in an IANA time zone.
//!
//! # Syntax
//!
//! - Cron with 5 fields (`minute hour day-of-month month day-of-week`) or 6
//!   (seconds first). Each field takes `*`, a value, a range `a-b`, a step
//!   `*/s`, `a-b/s` or `a/s`, and comma-separated lists of those; months and
//!   days of the week also take names (`JAN`, `MON`); Sunday is 0 or 7. As in
//!   Vixie cron, when both day fields are restricted a day matching either
//!   one matches.
//! - `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`: the usual cron
//!   lines (`@weekly` is Sunday midnight).
//! - `@every <duration>` (`@every 30s`, `@every 1h 30m`): whole seconds, at
//!   every multiple of the interval since the Unix epoch, the same instants
//!   in every time zone.
//!
//! # Daylight-saving time
//!
//! Cron expressions are evaluated on the zone's wall clock. When the clock
//! jumps:
//!
//! - **Skipped hour** (spring forward): a time that does not exist that day
//!   fires once, at the instant the clock jumps (02:30 in Europe/Berlin on
//!   the last Sunday of March fires at 03:00 CEST), merged with any firing
//!   already due then. Nothing vanishes silently. Expressions whose hour
//!   field is `*` simply continue after the jump: they run every hour anyway.
//! - **Repeated hour** (fall back): a time that occurs twice fires once, at
//!   its first occurrence. Expressions whose hour field is `*` follow real
//!   time through both occurrences, so an every-5-minutes schedule has no
//!   hour-long hole.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::MissedPolicy;

/// A parsed schedule in its time zone.
#[derive(Clone)]
pub struct Schedule {
    kind: Kind,
    tz: TimeZone,
}

#[derive(Clone, Debug)]
enum Kind {
    Cron(Cron),
    Every(i64),
}

/// A cron expression as bit sets of the values each field matches.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
    hours_restricted: bool,
}

/// Why an expression or a time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

/// How far ahead [`Schedule::next_after`] looks before giving up: cron
/// lines like `0 0 31 2 *` never match, and `29 2` matches every 4 years.
const SEARCH_DAYS: i32 = 366 * 8 + 2;
const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses `expression` for the IANA `timezone` (e.g. `Europe/Berlin`, `UTC`).
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, Invalid> {
        let tz = TimeZone::get(timezone).map_err(|_| {
            Invalid(format!("`{timezone}` is not an IANA time zone (e.g. `UTC`, `Europe/Berlin`)"))
        })?;
        let expression = expression.trim();
        let kind = match expression.strip_prefix("@every") {
            Some(interval) => Kind::Every(parse_interval(interval.trim())?),
            None => Kind::Cron(Cron::parse(expression)?),
        };
        Ok(Self { kind, tz })
    }

    /// The first fire time strictly after `t`; `None` if there is none in
    /// the next eight years.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(seconds) => {
                // Whole seconds rounded down: `as_second` rounds towards
                // zero, up for a fraction before 1970.
                let floor = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
                let next = (floor.div_euclid(*seconds) + 1).checked_mul(*seconds)?;
                Timestamp::from_second(next).ok()
            }
            Kind::Cron(cron) => self.next_cron(cron, t),
        }
    }

    /// The fire times in `(after, until]`, oldest first, at most `limit`
    /// (the oldest ones are kept).
    pub fn between(&self, after: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut times = Vec::new();
        let mut t = after;
        while times.len() < limit {
            match self.next_after(t) {
                Some(next) if next <= until => {
                    times.push(next);
                    t = next;
                }
                _ => break,
            }
        }
        times
    }

    /// The next `n` fire times after `t`.
    pub fn upcoming(&self, t: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut times = Vec::with_capacity(n);
        let mut t = t;
        while times.len() < n {
            let Some(next) = self.next_after(t) else { break };
            times.push(next);
            t = next;
        }
        times
    }

    /// Walks the time line segment by segment (a segment has one UTC
    /// offset): within a segment wall-clock time grows with real time, so
    /// the first matching wall-clock time is the first fire time, unless it
    /// is the repeat of a folded hour; at a gap, times inside it fire at the
    /// jump.
    fn next_cron(&self, cron: &Cron, t: Timestamp) -> Option<Timestamp> {
        let mut from = t;
        let mut inclusive = false;
        for _ in 0..SEARCH_SEGMENTS {
            let offset = self.tz.to_offset(from);
            let transition = self.tz.following(from).next();
            let end = transition.as_ref().map(|tr| tr.timestamp());
            // In a segment that starts at a fall-back, wall-clock times before
            // the old offset's time of the transition are the second occurrence.
            let repeated_until = self.fold_before(from).map(|(start, old)| old.to_datetime(start));
            let mut after = offset.to_datetime(from);
            if inclusive {
                after = after.checked_sub(SignedDuration::from_nanos(1)).ok()?;
            }
            loop {
                let civil = cron.next_civil(after)?;
                let instant = offset.to_timestamp(civil).ok()?;
                if end.is_some_and(|end| instant >= end) {
                    break;
                }
                if cron.hours_restricted && repeated_until.is_some_and(|until| civil < until) {
                    after = civil;
                    continue;
                }
                return Some(instant);
            }
            let end = end?;
            let new_offset = transition.as_ref()?.offset();
            if cron.hours_restricted && new_offset > offset {
                // Spring forward: wall-clock times in [old(end), new(end)) do not exist.
                let gap_start =
                    offset.to_datetime(end).checked_sub(SignedDuration::from_nanos(1)).ok()?;
                if cron.next_civil(gap_start).is_some_and(|c| c < new_offset.to_datetime(end)) {
                    return Some(end);
                }
            }
            from = end;
            inclusive = true;
        }
        None
    }

    /// If the segment containing `t` began with the clock going back: when
    /// it began and the offset before.
    fn fold_before(&self, t: Timestamp) -> Option<(Timestamp, Offset)> {
        let previous =
            self.tz.preceding(t.checked_add(SignedDuration::from_nanos(1)).ok()?).next()?;
        let start = previous.timestamp();
        let before = self.tz.to_offset(start.checked_sub(SignedDuration::from_nanos(1)).ok()?);
        (before > previous.offset()).then_some((start, before))
    }
}

/// Segments (DST periods) walked before giving up: two a year for eight years.
const SEARCH_SEGMENTS: usize = 40;

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("kind", &self.kind)
            .field("tz", &self.tz.iana_name())
            .finish()
    }
}

fn parse_interval(text: &str) -> Result<i64, Invalid> {
    let duration = SignedDuration::from_str(text).map_err(|_| {
        Invalid(format!("`@every {text}`: expected a duration like `30s`, `5m` or `1h 30m`"))
    })?;
    if duration <= SignedDuration::ZERO {
        return Err(Invalid(format!("`@every {text}`: the interval must be positive")));
    }
    if duration.subsec_nanos() != 0 {
        return Err(Invalid(format!("`@every {text}`: the interval must be whole seconds")));
    }
    Ok(duration.as_secs())
}

impl Cron {
    fn parse(expression: &str) -> Result<Self, Invalid> {
        let line = match expression.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(Invalid(format!(
                    "`{expression}` is not a known shorthand (@yearly, @monthly, @weekly, @daily, @hourly, @every <duration>)"
                )));
            }
            _ => expression.to_owned(),
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(Invalid(format!(
                    "`{expression}` has {n} fields; a cron expression has 5 (minute hour day month weekday) or 6 (with seconds first)"
                )));
            }
        };
        let field = |text: &str, name: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(text, min, max, names)
                .map_err(|why| Invalid(format!("`{expression}`: {name} field `{text}`: {why}")))
        };
        let mut weekdays = field(rest[4], "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Self {
            seconds: field(seconds, "seconds", 0, 59, &[])?,
            minutes: field(rest[0], "minute", 0, 59, &[])?,
            hours: field(rest[1], "hour", 0, 23, &[])? as u32,
            days: field(rest[2], "day-of-month", 1, 31, &[])? as u32,
            months: field(rest[3], "month", 1, 12, &MONTHS)? as u16,
            weekdays: weekdays as u8,
            days_restricted: !is_star(rest[2]),
            weekdays_restricted: !is_star(rest[4]),
            hours_restricted: !is_star(rest[1]),
        })
    }

    /// The first wall-clock time strictly after `after` that matches.
    fn next_civil(&self, after: DateTime) -> Option<DateTime> {
        let mut date = after.date();
        let mut from = Some(after.time());
        for _ in 0..SEARCH_DAYS {
            if self.matches_date(date)
                && let Some(time) = self.next_time(from)
            {
                return Some(date.to_datetime(time));
            }
            date = date.tomorrow().ok()?;
            from = None;
        }
        None
    }

    fn matches_date(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }

    /// The first matching time of day strictly after `after` (or from
    /// midnight when `None`).
    fn next_time(&self, after: Option<Time>) -> Option<Time> {
        let (h0, m0, s0) = after.map_or((0, 0, -1), |t| (t.hour(), t.minute(), t.second()));
        for h in h0..24 {
            if self.hours & (1u32 << h) == 0 {
                continue;
            }
            let m_start = if h == h0 { m0 } else { 0 };
            for m in m_start..60 {
                if self.minutes & (1u64 << m) == 0 {
                    continue;
                }
                let s_start = if h == h0 && m == m0 { s0 + 1 } else { 0 };
                if let Some(s) = (s_start.max(0)..60).find(|s| self.seconds & (1u64 << s) != 0) {
                    return Time::new(h, m, s, 0).ok();
                }
            }
        }
        None
    }
}

fn is_star(field: &str) -> bool {
    field == "*" || field == "?"
}

/// Parses one cron field into a bit set of the values it matches.
fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            // Month names count from 1 (JAN), weekday names from 0 (SUN).
            let first = if names.len() == MONTHS.len() { 1 } else { 0 };
            return Ok(i as u32 + first);
        }
        let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
        if n < min || n > max {
            return Err(format!("{n} is out of range {min}-{max}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().map_err(|_| format!("step `{step}` is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if is_star(range) {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range `{range}` goes backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `a/s` means from a to the end, stepping by s.
            (a, if part.contains('/') { max } else { a })
        };
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    if bits == 0 {
        return Err("matches nothing".into());
    }
    Ok(bits)
}

/// A scheduled time is on time, not missed, if it is at most this old when
/// scheduling resumes.
pub const ON_TIME: SignedDuration = SignedDuration::from_secs(1);
/// The most due times looked at when scheduling resumes; older ones are
/// neither run nor listed.
pub const MAX_DUE: usize = 10_000;

/// What to do when scheduling resumes after no invoker ran the schedule
/// (all were down, or the controller was).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatchUp {
    /// Times to run now, oldest first.
    pub run: Vec<Timestamp>,
    /// Times that passed without a run and will not get one.
    pub missed: Vec<Timestamp>,
}

impl Schedule {
    /// Applies a missed-run policy to the fire times in `(last, now]`: the
    /// newest is run if it is on time ([`ON_TIME`]); the others are missed,
    /// and `skip` runs none of them, `once` runs the newest, `all` runs the
    /// newest `max_catch_up`.
    pub fn catch_up(
        &self,
        last: Timestamp,
        now: Timestamp,
        policy: MissedPolicy,
        max_catch_up: u32,
    ) -> CatchUp {
        let mut missed = self.between(last, now, MAX_DUE);
        let on_time = missed.pop_if(|t| now.duration_since(*t) <= ON_TIME);
        let catch_up = match policy {
            MissedPolicy::Skip => 0,
            MissedPolicy::Once => 1.min(missed.len()),
            MissedPolicy::All => (max_catch_up as usize).min(missed.len()),
        };
        let mut run = missed.split_off(missed.len() - catch_up);
        run.extend(on_time);
        CatchUp { run, missed }
    }
}

#[cfg(test)]
mod tests;
