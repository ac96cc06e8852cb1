//! Cron expressions and time zones: `flint_api::schedule::Schedule`.
//!
//! Input: the time zone on the first line, an instant on the second (RFC
//! 3339 or seconds since the epoch; 2025-01-01 otherwise), the expression
//! after that.
//!
//! Properties: the next fire time is after the instant asked about, and is
//! the next one from every instant before it (no fire time is skipped or
//! invented when asking from later); `between` and `upcoming` list the same
//! strictly increasing times inside their bounds; an interval fires on its
//! multiples; catch-up runs and misses are due times, none run twice.
#![no_main]

use flint_api::schedule::{CatchUp, MAX_DUE, Schedule};
use flint_api::{MissedPolicy, Timestamp};
use flint_fuzz::{parse_instant, split_line};
use jiff::SignedDuration;
use libfuzzer_sys::fuzz_target;

/// How many fire times `between` and `upcoming` are asked for: enough to
/// cross a few days and a DST change, few enough for thousands of runs a
/// second.
const LIMIT: usize = 16;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (timezone, rest) = split_line(text);
    let (instant, expression) = split_line(rest);
    let t = parse_instant(instant).unwrap_or(Timestamp::constant(1_735_689_600, 0));
    let Ok(schedule) = Schedule::parse(expression, timezone) else { return };
    let _ = format!("{schedule:?}");

    let Some(next) = schedule.next_after(t) else {
        assert!(schedule.upcoming(t, 1).is_empty());
        return;
    };
    assert!(next > t, "next_after({t}) = {next} is not after it");
    if expression.trim().starts_with("@every") {
        assert_eq!(next.subsec_nanosecond(), 0);
    }
    // Asking from anywhere in [t, next) gives the same answer.
    let span = next.duration_since(t);
    for earlier in [span / 2, span - SignedDuration::from_nanos(1), span / 1000] {
        if let Ok(from) = next.checked_sub(earlier)
            && from >= t
            && from < next
        {
            assert_eq!(schedule.next_after(from), Some(next), "from {from} (asked from {t})");
        }
    }

    let until = next.checked_add(SignedDuration::from_hours(24 * 3)).unwrap_or(Timestamp::MAX);
    let between = schedule.between(t, until, LIMIT);
    assert_eq!(between.first(), Some(&next));
    assert!(between.len() <= LIMIT);
    assert!(between.windows(2).all(|w| w[0] < w[1]), "not increasing: {between:?}");
    assert!(between.iter().all(|at| *at > t && *at <= until));
    let upcoming = schedule.upcoming(t, between.len());
    assert_eq!(upcoming, between);

    // Catch-up after being away for up to an hour after the next fire time.
    let now = next.checked_add(SignedDuration::from_secs(span.as_secs().clamp(0, 3600))).ok();
    if let Some(now) = now {
        for (policy, max) in
            [(MissedPolicy::Skip, 0), (MissedPolicy::Once, 5), (MissedPolicy::All, 3)]
        {
            let CatchUp { run, missed } = schedule.catch_up(t, now, policy, max);
            let mut all: Vec<Timestamp> = run.iter().chain(&missed).copied().collect();
            all.sort();
            assert!(all.windows(2).all(|w| w[0] < w[1]), "a time twice: {run:?} {missed:?}");
            assert!(all.len() <= MAX_DUE);
            assert!(all.iter().all(|at| *at > t && *at <= now));
            assert!(run.len() <= max as usize + 1);
        }
    }
});
