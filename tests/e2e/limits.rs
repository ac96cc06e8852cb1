//! Limits: concurrency and queue, timeouts, memory, traps. A misbehaving
//! function fails alone.

use std::time::{Duration, Instant};

use flint_tests::{Flint, guest, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_queue_callers_are_refused_quickly() {
    let flint = Flint::start();
    flint.deploy(
        "slow",
        &guest("testbed"),
        "/slow",
        &["--concurrency", "4", "--queue", "16", "--timeout", "20s"],
    );
    http::wait_for(&format!("{}/slow/echo", flint.http), 200).await;

    let url = format!("{}/slow/sleep?ms=400", flint.http);
    let started = Instant::now();
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let response =
                    http::try_send(http::Method::GET, &url, &[], Default::default()).await;
                (response, started.elapsed())
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for call in calls {
        let (response, elapsed) = call.await.expect("task");
        let response = response.expect("every call gets an answer");
        match response.status {
            200 => ok += 1,
            429 | 503 => {
                refused += 1;
                assert_eq!(response.header("retry-after"), Some("1"));
                assert!(
                    response.text().contains("busy")
                        || response.text().contains("as many instances")
                );
                // Refusals are quick: no waiting behind the slow calls.
                assert!(elapsed < Duration::from_secs(5), "a refusal took {elapsed:?}");
            }
            other => panic!("unexpected status {other}: {}", response.text()),
        }
    }
    assert_eq!(ok + refused, 200);
    assert!(ok >= 4, "at least the first 4 ran, got {ok}");
    assert!(refused >= 100, "most were refused, got {refused}");
    // 4 at a time, 16 waiting: the accepted ones finish in a few rounds.
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    // The process and the function are fine afterwards.
    assert_eq!(http::get(&format!("{}/slow/echo", flint.http)).await.status, 200);
    assert_eq!(http::get(&format!("{}/healthz", flint.api)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_loops_forever_is_stopped_and_others_keep_answering() {
    let flint = Flint::start();
    flint.deploy("spin", &guest("testbed"), "/spin", &["--timeout", "1s"]);
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    let hello = format!("{}/hello", flint.http);
    http::wait_for(&hello, 200).await;
    http::wait_for(&format!("{}/spin/echo", flint.http), 200).await;

    // Normal latency first, for comparison.
    let quiet = median_latency(&hello, 20).await;

    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{}/spin/spin", flint.http);
            tokio::spawn(async move {
                let started = Instant::now();
                (http::get(&url).await, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let busy = median_latency(&hello, 20).await;
    for spinner in spinners {
        let (response, elapsed) = spinner.await.expect("task");
        assert_eq!(response.status, 504, "{}", response.text());
        assert!(
            response.text().contains("ran longer than its timeout of 1s"),
            "{}",
            response.text()
        );
        assert!(elapsed < Duration::from_secs(5), "stopped after {elapsed:?}");
    }
    // Spinning guests yield every epoch tick (10 ms), so other functions
    // are delayed by ticks, not by the spinners' whole timeout.
    assert!(
        busy < quiet + Duration::from_millis(250),
        "hello took {busy:?} while others spun ({quiet:?} before)"
    );
    let stats = flint
        .metric(
            "flint_invoker_invocation_duration_seconds_count",
            &[("function", "spin"), ("outcome", "timeout")],
        )
        .await;
    assert_eq!(stats, Some(4.0));
}

async fn median_latency(url: &str, n: usize) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = http::get(url).await;
        samples.push(started.elapsed());
        assert_eq!(response.status, 200);
    }
    samples.sort();
    samples[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limits_traps_and_exits_fail_alone() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &["--memory-mb", "32"]);
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    let hello = format!("{}/hello", flint.http);
    http::wait_for(&hello, 200).await;
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;

    let oom = http::get(&format!("{}/tb/alloc?mb=64", flint.http)).await;
    assert_eq!(oom.status, 500);
    assert!(oom.text().contains("exceeded its memory limit of 32 MiB"), "{}", oom.text());
    let fits = http::get(&format!("{}/tb/alloc?mb=8", flint.http)).await;
    assert_eq!((fits.status, fits.text().as_str()), (200, "allocated 8 MiB"));

    let panic = http::get(&format!("{}/tb/panic", flint.http)).await;
    assert_eq!(panic.status, 500);
    assert!(panic.text().contains("function `tb` failed"), "{}", panic.text());

    let exit = http::get(&format!("{}/tb/exit?code=3", flint.http)).await;
    assert_eq!(exit.status, 500);
    assert!(exit.text().contains("exited with code"), "{}", exit.text());

    // Each failure was one invocation; the function and its neighbour still work.
    assert_eq!(http::get(&format!("{}/tb/echo", flint.http)).await.status, 200);
    assert_eq!(http::get(&hello).await.text(), "Hello, world!\n");
    let labels = |outcome| [("function", "tb"), ("trigger", "http"), ("outcome", outcome)];
    let count = "flint_invoker_invocation_duration_seconds_count";
    assert_eq!(flint.metric(count, &labels("out_of_memory")).await, Some(1.0));
    assert_eq!(flint.metric(count, &labels("error")).await, Some(2.0));

    // What the guest wrote, and why it failed, are in its logs.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = String::from_utf8_lossy(&flint.cli(&["logs", "tb"]).stdout).into_owned();
        if logs.contains("testbed panic requested") && logs.contains("exceeded its memory limit") {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {logs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
