//! The loss bound: after `kill -9` while traffic runs, a restart ships what
//! was spooled, and the ledger holds every call answered more than two
//! flush intervals before the kill, and never more calls than were sent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flint_api::UsageQuery;
use flint_tests::{Flint, guest, http};

/// The flush interval the test runs with (the default).
const INTERVAL: Duration = Duration::from_millis(100);
const CLIENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_traffic_loses_at_most_the_last_flush_interval() {
    let mut flint = Flint::start_with(&["--usage-flush-interval", "100ms"]);
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    let url = format!("{}/hello", flint.http);
    http::wait_for(&url, 200).await;
    let client = flint.client();
    // The warm-up call is in the ledger before traffic starts.
    crate::usage::wait_for_usage(&flint, &UsageQuery::default(), |r| r.totals.invocations == 1)
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let answered: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, stop, sent, answered) =
                (url.clone(), Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&answered));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let response =
                        http::try_send(http::Method::GET, &url, &[], Default::default()).await;
                    match response {
                        Ok(r) if r.status == 200 => answered.lock().unwrap().push(Instant::now()),
                        Ok(r) => panic!("unexpected answer {}: {}", r.status, r.text()),
                        // The process is gone.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| flint.kill9());
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    let sent = sent.load(Ordering::Relaxed) + 1;
    let answered = answered.lock().unwrap().clone();
    let safe = answered.iter().filter(|t| **t + 2 * INTERVAL < killed_at).count() as u64 + 1;
    let total_answered = answered.len() as u64 + 1;
    assert!(total_answered > 100, "too little traffic to mean anything: {total_answered}");
    drop(client);

    // Restart on the same data: the invoker ships what the spool kept.
    let restarted = Flint::start_in_with(flint.data(), &["--usage-flush-interval", "100ms"]);
    let client = restarted.client();
    let spool = flint.data().join("flint/usage");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = (u64::MAX, Instant::now());
    let in_ledger = loop {
        let report = client.usage(&UsageQuery::default()).await.expect("usage");
        let pending = std::fs::read_dir(&spool)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("batch-"))
                    .count()
            })
            .unwrap_or(0);
        let total = report.totals.invocations;
        if total != last.0 {
            last = (total, Instant::now());
        } else if pending == 0 && last.1.elapsed() > Duration::from_millis(500) {
            break total;
        }
        assert!(Instant::now() < deadline, "the spool did not drain: {pending} batches left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "sent {sent}, answered {total_answered}, answered more than {:?} before the kill {safe}, in the ledger {in_ledger}",
        2 * INTERVAL
    );
    assert!(in_ledger >= safe, "lost calls answered before the bound: {in_ledger} < {safe}");
    assert!(in_ledger <= sent, "counted calls never sent: {in_ledger} > {sent}");
    // Calls in flight at the kill may have run without their answer arriving,
    // at most one per client.
    assert!(in_ledger <= total_answered + CLIENTS as u64, "{in_ledger} > {total_answered}");
}
