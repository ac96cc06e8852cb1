//! Schedule arithmetic, with explicit instants as the clock.

use jiff::Timestamp;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn next(expr: &str, tz: &str, after: &str) -> String {
    Schedule::parse(expr, tz)
        .unwrap()
        .next_after(ts(after))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn upcoming(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    Schedule::parse(expr, tz)
        .unwrap()
        .upcoming(ts(after), n)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn five_and_six_fields() {
    assert_eq!(
        upcoming("*/15 * * * *", "UTC", "2026-01-01T10:07:00Z", 2),
        ["2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z"]
    );
    assert_eq!(
        upcoming("*/10 * * * * *", "UTC", "2026-01-01T10:00:05Z", 2),
        ["2026-01-01T10:00:10Z", "2026-01-01T10:00:20Z"]
    );
    assert_eq!(next("* * * * * *", "UTC", "2026-01-01T10:00:05.5Z"), "2026-01-01T10:00:06Z");
    // Strictly after: a fire time itself is not returned again.
    assert_eq!(next("0 12 * * *", "UTC", "2026-01-01T12:00:00Z"), "2026-01-02T12:00:00Z");
    // Ranges, steps from a start, lists, names.
    assert_eq!(
        upcoming("0 9-17/4 * * MON-FRI", "UTC", "2026-01-02T10:00:00Z", 3),
        [
            "2026-01-02T13:00:00Z", // Friday
            "2026-01-02T17:00:00Z",
            "2026-01-05T09:00:00Z", // Monday
        ]
    );
    assert_eq!(next("30 5/20 * JAN,jul *", "UTC", "2026-02-01T00:00:00Z"), "2026-07-01T05:30:00Z");
    // Sunday is 0 or 7.
    assert_eq!(next("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_set() {
    // Friday the 13th style lines fire on every 13th and every Friday.
    assert_eq!(
        upcoming("0 0 13 * FRI", "UTC", "2026-02-01T00:00:00Z", 3),
        ["2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z",]
    );
    assert_eq!(next("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
    assert_eq!(next("0 0 31 2 *", "UTC", "2026-03-01T00:00:00Z"), "", "February 31st never comes");
}

#[test]
fn shorthands() {
    assert_eq!(next("@hourly", "UTC", "2026-01-01T10:07:00Z"), "2026-01-01T11:00:00Z");
    assert_eq!(next("@daily", "UTC", "2026-01-01T10:07:00Z"), "2026-01-02T00:00:00Z");
    assert_eq!(next("@weekly", "UTC", "2026-01-01T10:07:00Z"), "2026-01-04T00:00:00Z");
    assert_eq!(next("@monthly", "UTC", "2026-01-01T10:07:00Z"), "2026-02-01T00:00:00Z");
    assert_eq!(next("@yearly", "UTC", "2026-01-01T10:07:00Z"), "2027-01-01T00:00:00Z");
    // Intervals count from the Unix epoch, whatever the zone.
    assert_eq!(
        upcoming("@every 90s", "Asia/Tokyo", "2026-01-01T00:00:00Z", 2),
        ["2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"]
    );
    assert_eq!(next("@every 1h 30m", "UTC", "2026-01-01T00:00:00Z"), "2026-01-01T01:30:00Z");
    assert_eq!(next("@every 1s", "UTC", "2026-01-01T00:00:00.2Z"), "2026-01-01T00:00:01Z");
    // Found by tests/fuzz (schedule): before 1970, a fraction of a second
    // was rounded up, so the fire time at the next whole second was skipped.
    assert_eq!(next("@every 30m", "UTC", "1969-12-31T23:29:59.5Z"), "1969-12-31T23:30:00Z");
    assert_eq!(next("@every 1s", "UTC", "1969-12-31T23:59:59.2Z"), "1970-01-01T00:00:00Z");
    assert_eq!(next("@every 1s", "UTC", "1969-12-31T23:59:59Z"), "1970-01-01T00:00:00Z");
}

#[test]
fn other_time_zones() {
    // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert_eq!(next("0 9 * * *", "Europe/Berlin", "2026-01-10T12:00:00Z"), "2026-01-11T08:00:00Z");
    assert_eq!(next("0 9 * * *", "Europe/Berlin", "2026-07-10T12:00:00Z"), "2026-07-11T07:00:00Z");
    assert_eq!(
        next("0 9 * * *", "America/New_York", "2026-01-10T12:00:00Z"),
        "2026-01-10T14:00:00Z"
    );
}

#[test]
fn spring_forward_fires_a_skipped_time_once_at_the_jump() {
    // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    let berlin = "Europe/Berlin";
    assert_eq!(
        upcoming("30 2 * * *", berlin, "2026-03-28T12:00:00Z", 2),
        [
            "2026-03-29T01:00:00Z", // 02:30 does not exist: fires at 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST the next day
        ]
    );
    // Several skipped times fire once, merged with a real 03:00.
    assert_eq!(
        upcoming("0,30 2,3 * * *", berlin, "2026-03-29T00:00:00Z", 3),
        ["2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z",]
    );
    // With `*` hours, the schedule just continues after the jump.
    assert_eq!(
        upcoming("*/30 * * * *", berlin, "2026-03-29T00:15:00Z", 3),
        [
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-29T01:30:00Z",
        ]
    );
}

#[test]
fn fall_back_fires_a_repeated_time_once() {
    // Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    let berlin = "Europe/Berlin";
    assert_eq!(
        upcoming("30 2 * * *", berlin, "2026-10-24T12:00:00Z", 2),
        [
            "2026-10-25T00:30:00Z", // 02:30 CEST, the first occurrence only
            "2026-10-26T01:30:00Z", // 02:30 CET the next day
        ]
    );
    // With `*` hours, both occurrences: no hole in real time.
    assert_eq!(
        upcoming("*/30 * * * *", berlin, "2026-10-25T00:00:00Z", 4),
        [
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ]
    );
}

#[test]
fn bad_expressions_say_what_is_wrong() {
    let err = |expr: &str, tz: &str| Schedule::parse(expr, tz).unwrap_err().to_string();
    assert!(err("* * *", "UTC").contains("has 3 fields"));
    assert!(err("61 * * * *", "UTC").contains("minute field `61`: 61 is out of range 0-59"));
    assert!(err("*/0 * * * *", "UTC").contains("a step must be at least 1"));
    assert!(err("5-1 * * * *", "UTC").contains("range `5-1` goes backwards"));
    assert!(err("0 0 * FOO *", "UTC").contains("`FOO` is not a number"));
    assert!(err("@fortnightly", "UTC").contains("not a known shorthand"));
    assert!(err("@every -5s", "UTC").contains("the interval must be positive"));
    assert!(err("@every 1.5s", "UTC").contains("whole seconds"));
    assert!(err("@every soon", "UTC").contains("expected a duration"));
    assert!(err("@daily", "Mars/Olympus").contains("`Mars/Olympus` is not an IANA time zone"));
}

#[test]
fn missed_run_policies_after_an_outage() {
    let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
    let last = ts("2026-01-01T00:00:00Z");
    // Resumed 5.3 s later: :01 to :04 were missed, :05 is on time.
    let now = ts("2026-01-01T00:00:05.3Z");
    let times =
        |v: &[Timestamp]| v.iter().map(|t| t.strftime("%S").to_string()).collect::<Vec<_>>();

    let skip = every_second.catch_up(last, now, MissedPolicy::Skip, 10);
    assert_eq!(
        (times(&skip.run), times(&skip.missed)),
        (vec!["05".into()], vec!["01".into(), "02".into(), "03".into(), "04".into()])
    );
    let once = every_second.catch_up(last, now, MissedPolicy::Once, 10);
    assert_eq!(
        (times(&once.run), times(&once.missed)),
        (vec!["04".into(), "05".into()], vec!["01".into(), "02".into(), "03".into()])
    );
    let all = every_second.catch_up(last, now, MissedPolicy::All, 3);
    assert_eq!(
        (times(&all.run), times(&all.missed)),
        (vec!["02".into(), "03".into(), "04".into(), "05".into()], vec!["01".into()])
    );

    // A daily schedule resumed hours after its time: nothing is on time.
    let daily = Schedule::parse("0 6 * * *", "UTC").unwrap();
    let once = daily.catch_up(
        ts("2026-01-01T07:00:00Z"),
        ts("2026-01-03T09:00:00Z"),
        MissedPolicy::Once,
        10,
    );
    assert_eq!(once.run, [ts("2026-01-03T06:00:00Z")]);
    assert_eq!(once.missed, [ts("2026-01-02T06:00:00Z")]);
    // Nothing due: nothing to do.
    assert_eq!(
        daily.catch_up(
            ts("2026-01-03T07:00:00Z"),
            ts("2026-01-03T09:00:00Z"),
            MissedPolicy::All,
            10
        ),
        CatchUp::default()
    );
}
