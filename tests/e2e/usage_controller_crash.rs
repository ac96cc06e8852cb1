//! With the controller and the invoker as separate processes, `kill -9` of
//! the controller while traffic runs loses and doubles nothing: the invoker
//! keeps serving, keeps its usage in the spool, and ships it once the
//! controller is back; batches the controller applied before it died but
//! never acknowledged are recognised when they come again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flint_api::UsageQuery;
use flint_tests::{Controller, Invoker, guest, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_controller_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut controller = Controller::start(dir.path());
    let invoker = Invoker::start(&controller, "invoker", dir.path());
    let wasm = guest("hello-http");
    let deploy =
        controller.cli(&["deploy", "hello", "--wasm", wasm.to_str().unwrap(), "--route", "/hello"]);
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    let url = format!("{}/hello", invoker.http);
    http::wait_for(&url, 200).await;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(Mutex::new(1u64));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop, answered) = (url.clone(), Arc::clone(&stop), Arc::clone(&answered));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let response = http::get(&url).await;
                    assert_eq!(response.status, 200, "the invoker serves without the controller");
                    *answered.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| controller.kill9());
    // Traffic goes on while the controller is away; usage waits in the spool.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tokio::task::block_in_place(|| controller.restart());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let answered = *answered.lock().unwrap();

    let client = controller.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    let in_ledger = loop {
        let total = client.usage(&UsageQuery::default()).await.expect("usage").totals.invocations;
        if total >= answered {
            // Give a repeat the chance to be counted twice, if it were.
            tokio::time::sleep(Duration::from_millis(500)).await;
            break client.usage(&UsageQuery::default()).await.unwrap().totals.invocations;
        }
        assert!(Instant::now() < deadline, "the ledger has {total} of {answered}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("answered {answered}, in the ledger {in_ledger}");
    assert_eq!(in_ledger, answered, "exactly once");
}
