//! `kill -9` and a restart on the same data folder lose nothing and recompile nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use flint_tests::{Flint, guest, http};

fn artifacts(data: &Path) -> BTreeMap<String, SystemTime> {
    std::fs::read_dir(data.join("flint/artifacts"))
        .expect("artifact cache exists")
        .map(|entry| {
            let entry = entry.expect("entry");
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata().and_then(|m| m.modified()).expect("mtime"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keeps_every_function_callable() {
    let mut flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    flint.deploy("tb", &guest("testbed"), "/tb", &["--memory-mb", "32"]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    let compiled = artifacts(flint.data());
    assert_eq!(compiled.len(), 2, "{compiled:?}");

    flint.kill9();
    let restarted = Flint::start_in(flint.data());

    let hello = http::wait_for(&format!("{}/hello?name=again", restarted.http), 200).await;
    assert_eq!(hello.text(), "Hello, again!\n");
    http::wait_for(&format!("{}/tb/echo", restarted.http), 200).await;
    // The limits came back too.
    let oom = http::get(&format!("{}/tb/alloc?mb=64", restarted.http)).await;
    assert_eq!(oom.status, 500, "{}", oom.text());

    // Nothing was compiled again: the same artifacts, untouched.
    assert_eq!(artifacts(restarted.data()), compiled);
    let compiles = restarted.metric("flint_invoker_compile_duration_seconds_count", &[]).await;
    assert_eq!(compiles, Some(0.0));
    let out = String::from_utf8_lossy(&restarted.cli(&["ls"]).stdout).into_owned();
    assert!(out.contains("hello") && out.contains("tb"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight() {
    let mut flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    let url = format!("{}/tb/sleep?ms=1000", flint.http);
    let call = tokio::spawn(async move { http::get(&url).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(tokio::task::block_in_place(|| flint.stop()), "flint exits by itself on SIGTERM");
    let response = call.await.expect("task");
    assert_eq!((response.status, response.text().as_str()), (200, "slept 1000 ms"));
}
