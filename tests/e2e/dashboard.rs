//! The dashboard: loaded in headless Chromium it shows what the API says,
//! and a month of minute data for a hundred functions renders in well under
//! a second.

use std::time::{Duration, Instant};

use flint_api::{Digest, DurationHistogram, Name, Timestamp, UsageBatch, UsageQuery};
use flint_tests::proxy::HeaderProxy;
use flint_tests::{Flint, chromium, guest, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser_shows_the_apis_totals() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    flint.deploy("tb", &guest("testbed"), "/tb", &["--memory-mb", "64"]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    for i in 0..40 {
        http::get(&format!("{}/hello", flint.http)).await;
        http::get(&format!("{}/tb/sleep?ms={}", flint.http, i % 5)).await;
    }
    http::get(&format!("{}/tb/panic", flint.http)).await;
    let calls = 2 + 80 + 1;
    let query =
        UsageQuery { from: Some(minute(-3600)), to: Some(minute(120)), ..UsageQuery::default() };
    let report = crate::usage::wait_for_usage(&flint, &query, |r| r.totals.invocations == calls)
        .await
        .totals;

    // The browser cannot send a token: a proxy in front of the API adds it.
    let proxy = HeaderProxy::start(&flint.api, vec![admin_header(&flint)]).await;
    let url = format!("{}/ui?from={}&to={}", proxy.url, query.from.unwrap(), query.to.unwrap());
    let dom = tokio::task::block_in_place(|| chromium::dump_dom(&url));
    let value = |id: &str| {
        chromium::data_value(&dom, id).unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"))
    };
    assert_eq!(value("total-invocations"), report.invocations.to_string());
    assert_eq!(value("total-gb-seconds"), report.gb_seconds.to_string());
    assert_eq!(value("total-cost"), report.cost.to_string());
    assert_eq!(value("total-error-share"), report.error_share().to_string());
    assert_eq!(value("total-cold-start-share"), report.cold_start_share().to_string());
    assert_eq!(value("total-p99"), report.p99_ms.unwrap().to_string());
    assert!(dom.contains("<svg"), "charts are there");
    assert!(dom.contains("/ui/functions/default/hello"), "functions link to their page");

    let function_url = format!(
        "{}/ui/functions/default/tb?from={}&to={}",
        proxy.url,
        query.from.unwrap(),
        query.to.unwrap()
    );
    let tb = flint
        .client()
        .usage(&UsageQuery { function: Some("tb".parse().unwrap()), ..query.clone() })
        .await
        .unwrap()
        .totals;
    let dom = tokio::task::block_in_place(|| chromium::dump_dom(&function_url));
    assert_eq!(chromium::data_value(&dom, "total-invocations"), Some(tb.invocations.to_string()));
    assert_eq!(chromium::data_value(&dom, "total-cost"), Some(tb.cost.to_string()));

    let dir = chromium::artifacts_dir();
    tokio::task::block_in_place(|| {
        chromium::screenshot(&url, &dir.join("dashboard.png"), 1280, 1800);
        chromium::screenshot(&function_url, &dir.join("dashboard-function.png"), 1280, 1100);
    });
}

/// `Authorization` with the admin token, for [`HeaderProxy`].
fn admin_header(flint: &Flint) -> (String, String) {
    ("authorization".into(), flint_tests::auth::bearer(&flint.admin_token()))
}

/// The start of the current minute, moved by `offset` seconds.
fn minute(offset: i64) -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second() / 60 * 60 + offset).unwrap()
}

/// Functions, days and aggregates per batch of the generated month.
const FUNCTIONS: u64 = 100;
/// `FLINT_TEST_USAGE_DAYS` makes the month shorter for quick local runs.
fn days() -> u64 {
    std::env::var("FLINT_TEST_USAGE_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(30)
}
const MINUTES_PER_BATCH: u64 = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_minute_data_for_100_functions_renders_in_well_under_a_second() {
    let flint = Flint::start();
    let now_minute = Timestamp::now().as_second() as u64 / 60;
    let first = now_minute - days() * 1440 + 1;
    let digest = Digest::from_sha256(&[1; 32]);
    let names: Vec<Name> = (0..FUNCTIONS).map(|i| format!("fn-{i:03}").parse().unwrap()).collect();
    // Two shippers, each its own invoker boot (a boot's batches go in order).
    // The JSON is written by hand: serde in this unoptimised test binary
    // would take longer than the controller takes to apply it.
    let started = Instant::now();
    let blocks: Vec<u64> = (first..=now_minute).step_by(MINUTES_PER_BATCH as usize).collect();
    let url = format!("{}/v1/usage/batches", flint.api);
    // Usage batches are the invokers' to post: they take the cluster credential.
    let cluster = flint_tests::auth::bearer(&flint.cluster_token());
    let shippers: Vec<_> = [0u64, 1]
        .into_iter()
        .map(|boot| {
            let (names, digest, url) = (names.clone(), digest.clone(), url.clone());
            let cluster = cluster.clone();
            let stderr = flint.data().join("stderr.log");
            let mine: Vec<u64> = blocks.iter().copied().skip(boot as usize).step_by(2).collect();
            tokio::spawn(async move {
                let mut calls = 0;
                for (seq, start) in mine.into_iter().enumerate() {
                    let seq = seq as u64 + 1;
                    let id = UsageBatch::make_id("generator", boot, seq);
                    let mut body = format!(
                        r#"{{"id":"{id}","invoker":"generator","boot":{boot},"seq":{seq},"aggregates":["#
                    );
                    for minute in start..(start + MINUTES_PER_BATCH).min(now_minute + 1) {
                        for (i, name) in names.iter().enumerate() {
                            if body.ends_with('}') {
                                body.push(',');
                            }
                            calls += aggregate_json(&mut body, name, &digest, minute, i as u64);
                        }
                    }
                    body.push_str("]}");
                    let headers = [("authorization", cluster.as_str())];
                    let response =
                        http::try_send(http::Method::POST, &url, &headers, body.into()).await;
                    let response = response.unwrap_or_else(|e| {
                        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                        panic!("{e}\nflint's stderr:\n{log}")
                    });
                    assert_eq!(response.status, 200, "{}", response.text());
                    assert!(response.text().contains(r#""applied":true"#));
                }
                calls
            })
        })
        .collect();
    let mut calls = 0;
    for shipper in shippers {
        calls += shipper.await.expect("shipper");
    }
    let records = FUNCTIONS * (now_minute + 1 - first);
    eprintln!(
        "ingested {records} minute records ({calls} invocations) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let client = flint.client();
    let month = UsageQuery {
        from: Some(Timestamp::from_second(first as i64 * 60).unwrap()),
        ..UsageQuery::default()
    };
    let started = Instant::now();
    let report = client.usage(&month).await.expect("report");
    let api = started.elapsed();
    assert_eq!(report.totals.invocations, calls);
    assert_eq!(report.rows.len(), FUNCTIONS as usize);

    let url = format!("{}/ui?period=30d", flint.api);
    let token = flint.admin_token();
    let mut renders = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let page = http::get_as(&url, &token).await;
        renders.push(started.elapsed());
        assert_eq!(page.status, 200);
        assert!(page.text().contains("fn-099"), "every function is listed");
    }
    renders.sort();
    let function_url = format!("{}/ui/functions/default/fn-042?period=30d", flint.api);
    let started = Instant::now();
    assert_eq!(http::get_as(&function_url, &token).await.status, 200);
    let function_page = started.elapsed();
    eprintln!(
        "{} days × {FUNCTIONS} functions: API report {api:?}; dashboard median {:?}, max {:?}; function page {function_page:?}",
        days(),
        renders[2],
        renders[4]
    );
    assert!(renders[2] < Duration::from_millis(1000), "the dashboard took {:?}", renders[2]);
    assert!(function_page < Duration::from_millis(1000), "{function_page:?}");

    let shot = chromium::artifacts_dir().join("dashboard-month.png");
    let proxy = HeaderProxy::start(&flint.api, vec![admin_header(&flint)]).await;
    let url = format!("{}/ui?period=30d", proxy.url);
    tokio::task::block_in_place(|| chromium::screenshot(&url, &shot, 1280, 2400));
}

/// Appends one aggregate as JSON; returns the invocations that ran in it.
fn aggregate_json(out: &mut String, name: &Name, digest: &Digest, minute: u64, i: u64) -> u64 {
    use std::fmt::Write as _;
    let ok = 1 + (minute + i) % 7;
    let error = u64::from(minute.is_multiple_of(97));
    let wall_us = 200 + (i * 37 + minute) % 5000;
    let billed = flint_api::billed_us(wall_us, 1000);
    let _ = write!(
        out,
        r#"{{"namespace":"default","function":"{name}","version":"{digest}","trigger":"http","minute":{minute},"plan":1,"sums":{{"counts":{{"ok":{ok},"error":{error}}},"wall_us":{wall},"billed_us":{billed},"mb_billed_us":{mb},"instantiate_us":{inst},"cold_starts":{cold},"cold_start_us":0,"peak_memory_bytes":1048576,"memory_mb":128,"granularity_us":1000,"histogram":[[{bucket},{n}]]}}}}"#,
        wall = wall_us * (ok + error),
        billed = billed * (ok + error),
        mb = 128 * billed * (ok + error),
        inst = 8 * ok,
        cold = u64::from(minute.is_multiple_of(60)),
        bucket = DurationHistogram::bucket(wall_us),
        n = ok + error,
    );
    ok + error
}
