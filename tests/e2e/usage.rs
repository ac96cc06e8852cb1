//! Metering and billing: what the ledger holds after known calls, priced by
//! the plan with its rounding and free tier; JSON and CSV agree.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flint_api::{GroupBy, PricePlanSpec, UsageQuery, UsageReport};
use flint_tests::{Flint, guest, http};

/// Polls the usage report until `done` holds for it; panics after 20 s.
pub async fn wait_for_usage(
    flint: &Flint,
    query: &UsageQuery,
    done: impl Fn(&UsageReport) -> bool,
) -> UsageReport {
    let client = flint.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let report = client.usage(query).await.expect("usage report");
        if done(&report) {
            return report;
        }
        assert!(Instant::now() < deadline, "the ledger did not get there: {:#?}", report.totals);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_counts_every_call_and_prices_it_by_the_plan() {
    // A 1 s granularity bills every call here as exactly one second, so the
    // test knows each call's GB-seconds without knowing its duration.
    let flint = Flint::start_with(&[
        "--billing-granularity",
        "1s",
        "--price-gb-second",
        "2",
        "--price-per-million-requests",
        "1000000",
        "--free-requests",
        "5",
        "--currency",
        "EUR",
    ]);
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    flint.deploy("tb", &guest("testbed"), "/tb", &["--memory-mb", "64"]);
    flint.deploy("big", &guest("testbed"), "/big", &["--memory-mb", "256"]);
    for path in ["/hello", "/tb/echo", "/big/echo"] {
        http::wait_for(&format!("{}{path}", flint.http), 200).await;
    }
    // (function, trigger) → (ok, error); the warm-up calls above count too.
    let mut expected: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for key in [("hello", "http"), ("tb", "http"), ("big", "http")] {
        expected.insert(key, (1, 0));
    }
    for _ in 0..20 {
        assert_eq!(http::get(&format!("{}/hello", flint.http)).await.status, 200);
    }
    expected.get_mut(&("hello", "http")).unwrap().0 += 20;
    for i in 0..8 {
        let response = http::get(&format!("{}/tb/sleep?ms={}", flint.http, i * 3)).await;
        assert_eq!(response.status, 200);
    }
    expected.get_mut(&("tb", "http")).unwrap().0 += 8;
    assert_eq!(http::get(&format!("{}/tb/panic", flint.http)).await.status, 500);
    expected.get_mut(&("tb", "http")).unwrap().1 += 1;
    for _ in 0..4 {
        assert_eq!(http::get(&format!("{}/big/alloc?mb=16", flint.http)).await.status, 200);
    }
    expected.get_mut(&("big", "http")).unwrap().0 += 4;
    // The second trigger kind: by name through the API (`flint invoke`).
    for (name, n) in [("hello", 3), ("tb", 2), ("big", 1)] {
        for _ in 0..n {
            let output = flint.cli(&["invoke", name, "--path", "/echo"]);
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        }
        expected.insert((name, "invoke"), (n, 0));
    }
    // The third trigger kind: a schedule on `big`, every second, for a few
    // runs. The test does not decide how many: after the schedule is gone it
    // takes the count from the invoker's Prometheus histogram, a path apart
    // from the ledger's.
    let output = flint.cli(&["schedule", "add", "big", "--cron", "@every 1s", "--path", "/echo"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let client = flint.client();
    let trigger: flint_api::Name = "big-schedule".parse().unwrap();
    let ns = flint_api::Name::default_namespace();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.schedule_status(&ns, &trigger).await.map_or(0, |s| s.runs.len()) < 2 {
        assert!(Instant::now() < deadline, "the schedule did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = flint.cli(&["schedule", "rm", "big-schedule"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // A run already started finishes; then the count stops moving.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let labels = [("function", "big"), ("trigger", "schedule"), ("outcome", "ok")];
    let count = "flint_invoker_invocation_duration_seconds_count";
    let scheduled = flint.metric(count, &labels).await.expect("scheduled runs") as u64;
    assert!(scheduled >= 2, "{scheduled}");
    expected.insert(("big", "schedule"), (scheduled, 0));
    let memory = |f: &str| match f {
        "hello" => 128.0,
        "tb" => 64.0,
        _ => 256.0,
    };
    let calls: u64 = expected.values().map(|(ok, err)| ok + err).sum();
    let gb_seconds: f64 =
        expected.iter().map(|((f, _), (ok, err))| (ok + err) as f64 * memory(f) / 1024.0).sum();

    let query =
        UsageQuery { group_by: vec![GroupBy::Function, GroupBy::Trigger], ..UsageQuery::default() };
    let report = wait_for_usage(&flint, &query, |r| r.totals.invocations >= calls).await;
    let totals = &report.totals;
    assert_eq!(totals.invocations, calls, "{totals:#?}");
    assert_eq!((totals.counts.ok, totals.counts.error), (calls - 1, 1));
    assert!(close(totals.gb_seconds, gb_seconds), "{} != {gb_seconds}", totals.gb_seconds);
    assert_eq!(totals.billed_us, calls * 1_000_000);
    assert!(totals.wall_us > 0 && totals.wall_us < totals.billed_us);
    assert_eq!(totals.cold_starts, 3, "each function loaded once");
    // Row by row: function and trigger kind.
    let rows: BTreeMap<(String, String), (u64, u64, f64)> = report
        .rows
        .iter()
        .map(|r| {
            let key = (r.function.clone().unwrap().to_string(), r.trigger.clone().unwrap());
            (key, (r.figures.counts.ok, r.figures.counts.error, r.figures.gb_seconds))
        })
        .collect();
    let want: BTreeMap<(String, String), (u64, u64, f64)> = expected
        .iter()
        .map(|((f, t), (ok, err))| {
            ((f.to_string(), t.to_string()), (*ok, *err, (ok + err) as f64 * memory(f) / 1024.0))
        })
        .collect();
    assert_eq!(rows.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (key, (ok, err, gbs)) in &want {
        let got = rows[key];
        assert_eq!((got.0, got.1), (*ok, *err), "{key:?}");
        assert!(close(got.2, *gbs), "{key:?}: {} != {gbs}", got.2);
    }
    // The memory the big function touched is in the ledger.
    let big = report.rows.iter().find(|r| r.function.as_ref().unwrap().as_str() == "big").unwrap();
    assert!(big.figures.peak_memory_bytes >= 16 << 20, "{}", big.figures.peak_memory_bytes);

    // Cost: 1 per call, 2 per GB-second; the first 5 calls of the month are free.
    assert_eq!(report.currency, "EUR");
    assert!(close(totals.request_cost, calls as f64), "{}", totals.request_cost);
    assert!(close(totals.compute_cost, 2.0 * gb_seconds), "{}", totals.compute_cost);
    assert_eq!(report.free_tier.len(), 1);
    let free = &report.free_tier[0];
    // Unless this month began during the test, all 5 free calls are in the period.
    assert_eq!(free.requests, 5);
    assert!(close(report.net_cost, totals.cost - free.credit));
    assert!(close(free.credit, 5.0), "{}", free.credit);

    // CSV carries the same rows and numbers as JSON.
    let csv = flint.client().usage_csv(&query).await.expect("csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, flint_api::CSV_COLUMNS);
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let csv_rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(csv_rows.len(), report.rows.len());
    for (cells, row) in csv_rows.iter().zip(&report.rows) {
        assert_eq!(cells[col("function")], row.function.as_ref().unwrap().as_str());
        assert_eq!(cells[col("trigger")], row.trigger.as_deref().unwrap());
        assert_eq!(cells[col("invocations")].parse::<u64>().unwrap(), row.figures.invocations);
        assert_eq!(cells[col("billed_us")].parse::<u64>().unwrap(), row.figures.billed_us);
        for (name, value) in [
            ("gb_seconds", row.figures.gb_seconds),
            ("cost", row.figures.cost),
            ("compute_cost", row.figures.compute_cost),
        ] {
            assert_eq!(cells[col(name)].parse::<f64>().unwrap(), value, "{name}");
        }
    }
    // `flint usage -o csv` prints the same CSV; `-o json` the same report.
    let output = flint.cli(&["usage", "--by", "function", "-o", "csv"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        4,
        "header and 3 functions"
    );
    let output = flint.cli(&["usage", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["totals"]["invocations"], calls);
    let table = String::from_utf8_lossy(&flint.cli(&["usage"]).stdout).into_owned();
    assert!(table.contains("hello") && table.contains("TOTAL"), "{table}");

    // The invoker's Prometheus counter agrees.
    let name = "flint_invoker_billable_memory_byte_seconds_total";
    let labels = [("namespace", "default"), ("function", "big")];
    let big = flint.metric(name, &labels).await.expect("the counter is there");
    let big_calls: u64 =
        expected.iter().filter(|((f, _), _)| *f == "big").map(|(_, (ok, err))| ok + err).sum();
    assert!(close(big / f64::from(1u32 << 30), big_calls as f64 * 256.0 / 1024.0), "{big}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_prices_new_usage_and_keeps_the_old_prices() {
    let flint =
        Flint::start_with(&["--price-per-million-requests", "1000000", "--price-gb-second", "0"]);
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    let url = format!("{}/hello", flint.http);
    http::wait_for(&url, 200).await;
    for _ in 0..9 {
        http::get(&url).await;
    }
    let query = UsageQuery::default();
    let before = wait_for_usage(&flint, &query, |r| r.totals.invocations == 10).await;
    assert!(close(before.totals.cost, 10.0), "{}", before.totals.cost);
    assert_eq!(before.plans.len(), 1);

    // A new plan: 2 per call, and every microsecond billed.
    let client = flint.client();
    let spec = PricePlanSpec {
        per_million_requests: Some(2_000_000.0),
        granularity_us: Some(1),
        ..PricePlanSpec::default()
    };
    let plan = client.set_price_plan(&spec).await.expect("set plan");
    assert_eq!((plan.id, plan.granularity_us), (2, 1));
    assert_eq!(client.price_plan().await.unwrap().id, 2);
    let bad = PricePlanSpec { granularity_us: Some(0), ..PricePlanSpec::default() };
    let err = client.set_price_plan(&bad).await.unwrap_err();
    assert!(err.to_string().contains("granularity_us"), "{err}");
    // The invoker learns the plan with its next acknowledgement: call until
    // usage arrives under plan 2.
    let mut calls = 10;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        http::get(&url).await;
        calls += 1;
        let report = client.usage(&query).await.unwrap();
        if report.plans.iter().any(|p| p.id == 2) {
            break;
        }
        assert!(Instant::now() < deadline, "the invoker never used plan 2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = wait_for_usage(&flint, &query, |r| r.totals.invocations == calls).await;
    let on_new_plan = (after.totals.cost - 10.0 - (calls - 10) as f64) as u64;
    // Calls under plan 1 cost 1, under plan 2 cost 2: the first ten keep
    // their price, and at least one call is on the new plan.
    assert!(close(after.totals.request_cost, after.totals.cost));
    assert!(on_new_plan >= 1 && on_new_plan < calls - 10 + 1, "{}", after.totals.cost);
    assert_eq!(after.plans.iter().map(|p| p.id).collect::<Vec<_>>(), vec![1, 2]);
    // With 1 µs granularity the new calls are billed exactly what they ran.
    let new = client
        .usage(&UsageQuery { group_by: vec![GroupBy::Minute], ..UsageQuery::default() })
        .await
        .unwrap();
    assert!(new.totals.billed_us >= new.totals.wall_us);
}
