use flint_api::{
    Digest, DurationHistogram, OutcomeCounts, PricePlanSpec, UsageAggregate, UsageBatch, UsageSums,
};

use super::*;

fn ledger(spec: Option<&PricePlanSpec>) -> (sled::Db, Ledger) {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let ledger = Ledger::open(&db, spec).unwrap();
    (db, ledger)
}

fn aggregate(function: &str, minute: u64, ok: u64, wall_ms: u64) -> UsageAggregate {
    let mut histogram = DurationHistogram::default();
    histogram.add_to(DurationHistogram::bucket(wall_ms * 1000), ok);
    UsageAggregate {
        namespace: Name::default_namespace(),
        function: function.parse().unwrap(),
        version: Digest::from_sha256(&[7; 32]),
        trigger: "http".into(),
        minute,
        plan: 1,
        sums: UsageSums {
            counts: OutcomeCounts { ok, ..OutcomeCounts::default() },
            wall_us: ok * wall_ms * 1000,
            billed_us: ok * wall_ms * 1000,
            mb_billed_us: 128 * ok * wall_ms * 1000,
            instantiate_us: ok * 10,
            cold_starts: 1,
            cold_start_us: 1500,
            peak_memory_bytes: 1 << 20,
            memory_mb: 128,
            granularity_us: 1000,
            histogram,
        },
    }
}

fn batch(boot: u64, seq: u64, aggregates: Vec<UsageAggregate>) -> UsageBatch {
    UsageBatch {
        id: UsageBatch::make_id("i", boot, seq),
        invoker: "i".into(),
        boot,
        seq,
        aggregates,
    }
}

fn all(from: u64, to: u64, by_function: bool, step: Option<u64>) -> Query {
    Query {
        from,
        to,
        namespace: None,
        function: None,
        by_function,
        by_trigger: false,
        step,
        visible: None,
    }
}

#[test]
fn batches_apply_once_and_roll_up() {
    let (_db, ledger) = ledger(None);
    // Minute 1 of day 1, and minute 0 of day 2.
    let (m1, m2) = (DAY / 60 + 1, 2 * DAY / 60);
    let first = batch(9, 1, vec![aggregate("a", m1, 10, 2), aggregate("b", m1, 5, 1)]);
    assert!(ledger.apply(&first).unwrap());
    assert!(!ledger.apply(&first).unwrap(), "a repeat is not applied");
    assert!(ledger.apply(&batch(9, 2, vec![aggregate("a", m2, 1, 3)])).unwrap());
    assert!(!ledger.apply(&batch(9, 1, vec![aggregate("a", m2, 1, 3)])).unwrap());
    // Another boot of the same invoker has its own sequence.
    assert!(ledger.apply(&batch(10, 1, vec![aggregate("a", m1, 1, 2)])).unwrap());

    // Any cover of the period gives the same totals.
    for (from, to) in [(0, 3 * DAY), (DAY + 60, 2 * DAY + 60), (DAY / 2, DAY * 5 / 2)] {
        let answer = ledger.query(&all(from, to, false, None)).unwrap();
        let counts = answer.totals.sums.counts;
        assert_eq!(counts.ok, 17, "{from}..{to}");
        assert_eq!(answer.totals.sums.mb_billed_us, 128 * (11 * 2000 + 5 * 1000 + 3000));
    }
    // Excluding minute m1 by one minute leaves day 2's call.
    let answer = ledger.query(&all(DAY + 120, 3 * DAY, false, None)).unwrap();
    assert_eq!(answer.totals.sums.counts.ok, 1);

    let answer = ledger.query(&all(0, 3 * DAY, true, Some(DAY))).unwrap();
    let groups: Vec<(Option<u64>, String, u64)> = answer
        .groups
        .iter()
        .map(|g| (g.start, g.function.clone().unwrap().1.to_string(), g.acc.sums.counts.ok))
        .collect();
    assert_eq!(
        groups,
        vec![
            (Some(DAY), "a".into(), 11),
            (Some(DAY), "b".into(), 5),
            (Some(2 * DAY), "a".into(), 1)
        ]
    );
    let p50 = answer.groups[0].acc.sums.histogram.quantile_us(0.5).unwrap();
    assert!((1700.0..2400.0).contains(&p50), "{p50}");
}

#[test]
fn costs_keep_the_plan_they_were_recorded_under() {
    let spec = PricePlanSpec {
        per_gb_second: Some(1.0),
        per_million_requests: Some(1_000_000.0),
        ..PricePlanSpec::default()
    };
    let (_db, ledger) = ledger(Some(&spec));
    assert_eq!(ledger.plan().id, 1);
    ledger.apply(&batch(1, 1, vec![aggregate("a", 1, 2, 1000)])).unwrap();
    let doubled = PricePlanSpec {
        per_gb_second: Some(2.0),
        per_million_requests: Some(2_000_000.0),
        ..PricePlanSpec::default()
    };
    let plan = ledger.set_plan(&doubled).unwrap();
    assert_eq!(plan.id, 2);
    assert_eq!(ledger.set_plan(&doubled).unwrap().id, 2, "no change, no new plan");
    let mut later = aggregate("a", 2, 1, 1000);
    later.plan = 2;
    ledger.apply(&batch(1, 2, vec![later])).unwrap();

    let answer = ledger.query(&all(0, DAY, false, None)).unwrap();
    let (requests, compute) = answer.totals.cost(&answer.plans.by_id);
    // 2 requests at 1 each and 1 at 2; 0.125 GB × 1 s each, at 1 then 2.
    assert!((requests - 4.0).abs() < 1e-9, "{requests}");
    assert!((compute - (2.0 * 0.125 + 0.125 * 2.0)).abs() < 1e-9, "{compute}");
}

#[test]
fn the_free_tier_is_used_up_in_time_order_per_month() {
    let spec = PricePlanSpec {
        per_million_requests: Some(1_000_000.0),
        per_gb_second: Some(0.0),
        free_requests_per_month: Some(10),
        ..PricePlanSpec::default()
    };
    let (_db, ledger) = ledger(Some(&spec));
    // 2026-03-01 00:00 UTC, and a day later.
    let march = 1_772_323_200u64;
    assert_eq!(month_start(march + 5 * DAY + 7), march);
    assert_eq!(month_start(march - 1), march - 28 * DAY);
    let minute = march / 60;
    ledger.apply(&batch(1, 1, vec![aggregate("a", minute, 6, 1)])).unwrap();
    ledger.apply(&batch(1, 2, vec![aggregate("a", minute + 1440, 6, 1)])).unwrap();
    // The last day of February is another month: no free tier used there.
    ledger.apply(&batch(1, 3, vec![aggregate("a", minute - 1, 3, 1)])).unwrap();

    let whole = ledger.query(&all(march - DAY, march + 2 * DAY, false, None)).unwrap();
    assert_eq!(whole.free_tier.len(), 1);
    // February: 3 free of its own 10; March: 10 free of 12.
    assert_eq!(whole.free_tier[0].requests, 13);
    // The second day alone: 4 free requests were left after the first day's 6.
    let second = ledger.query(&all(march + DAY, march + 2 * DAY, false, None)).unwrap();
    assert_eq!(second.free_tier[0].requests, 4);
    assert!((second.free_tier[0].credit - 4.0).abs() < 1e-9);
    // A query for one function gets no free tier: it is the namespace's.
    let mut one = all(march, march + 2 * DAY, false, None);
    one.function = Some("a".parse().unwrap());
    assert!(ledger.query(&one).unwrap().free_tier.is_empty());
}

#[test]
fn sums_past_the_largest_count_stop_there() {
    // Found by tests/fuzz (usage_batch): a batch may carry any counts; the
    // ledger's records stop at u64::MAX, and so must the sums over several
    // records in a report and in the free tier (they panicked in debug
    // builds and wrapped in release ones).
    let spec = PricePlanSpec {
        free_requests_per_month: Some(u64::MAX),
        free_gb_seconds_per_month: Some(1e300),
        ..PricePlanSpec::default()
    };
    let (_db, ledger) = ledger(Some(&spec));
    let huge = |function| {
        let mut aggregate = aggregate(function, 1, 1, 1);
        aggregate.sums.counts.ok = u64::MAX;
        aggregate.sums.counts.error = u64::MAX;
        aggregate.sums.mb_billed_us = u64::MAX;
        aggregate
    };
    ledger.apply(&batch(1, 1, vec![huge("a"), huge("b")])).unwrap();
    let answer = ledger.query(&all(0, DAY, false, None)).unwrap();
    assert_eq!(answer.totals.sums.counts.ok, u64::MAX);
    assert_eq!(answer.totals.per_plan, vec![(1, u64::MAX, u64::MAX)]);
    assert_eq!(answer.free_tier[0].requests, u64::MAX);
}

#[test]
fn params_parse_and_widen_to_whole_minutes() {
    let now: Timestamp = "2026-03-01T10:00:30Z".parse().unwrap();
    let params = Params::parse(Some("group_by=function,hour&namespace=default"), now).unwrap();
    assert_eq!(params.query.to - params.query.from, DAY);
    assert!(params.query.by_function);
    assert_eq!(params.query.step, Some(HOUR));
    let params =
        Params::parse(Some("from=2026-03-01T09%3A00%3A10Z&to=2026-03-01T09:10:00Z"), now).unwrap();
    assert_eq!(params.query.to - params.query.from, 600);
    for bad in ["group_by=week", "group_by=hour,day", "from=yesterday", "namespace=Bad"] {
        assert!(Params::parse(Some(bad), now).is_err(), "{bad}");
    }
    let err = Params::parse(Some("from=2020-01-01T00:00:00Z&group_by=minute"), now).unwrap_err();
    assert!(err.to_string().contains("rows"), "{err}");
}
