//! With the controller and the invoker as separate processes, `kill -9` of
//! the controller while traffic runs loses and doubles nothing: the invoker
//! keeps serving, keeps its usage in the spool, and ships it once the
//! controller is back; batches the controller applied before it died but
//! never acknowledged are recognised when they come again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flint_api::UsageQuery;
use flint_tests::{flint_bin, guest, http};

/// A server binary next to `flint`, with its "NAME listening on" lines.
struct Server {
    child: Child,
    lines: Vec<(String, String)>,
}

impl Server {
    fn start(binary: &str, args: &[&str], log: &Path) -> Self {
        let bin = flint_bin().with_file_name(binary);
        assert!(bin.exists(), "{} is missing: cargo build --bins", bin.display());
        let stdout = log.with_extension("out");
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::options().create(true).append(true).open(log).unwrap())
            .spawn()
            .expect("server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&stdout).unwrap_or_default();
            let lines: Vec<(String, String)> = text
                .lines()
                .filter_map(|l| l.split_once(" listening on "))
                .map(|(name, url)| (name.to_owned(), url.to_owned()))
                .collect();
            let wanted = if binary == "flint-invoker" { 2 } else { 1 };
            if lines.len() >= wanted {
                return Self { child, lines };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{binary} exited with {status}: {}", std::fs::read_to_string(log).unwrap());
            }
            assert!(Instant::now() < deadline, "{binary} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self, name: &str) -> String {
        self.lines.iter().find(|(n, _)| n == name).map(|(_, u)| u.clone()).expect("listener")
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_controller_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("controller");
    let data_arg = data.to_str().unwrap().to_owned();
    let log = dir.path().join("controller.log");
    let mut controller =
        Server::start("flint-controller", &["--listen", "127.0.0.1:0", "--data", &data_arg], &log);
    let api = controller.url("api");
    let cache = dir.path().join("invoker");
    let invoker = Server::start(
        "flint-invoker",
        &[
            "--controller",
            &api,
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--cache",
            cache.to_str().unwrap(),
        ],
        &dir.path().join("invoker.log"),
    );
    let deploy = Command::new(flint_bin())
        .args(["deploy", "hello", "--wasm"])
        .arg(guest("hello-http"))
        .args(["--route", "/hello"])
        .env("FLINT_URL", &api)
        .output()
        .unwrap();
    assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
    let url = format!("{}/hello", invoker.url("http"));
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
    let port = api.rsplit(':').next().unwrap().to_owned();
    let listen = format!("127.0.0.1:{port}");
    let controller =
        Server::start("flint-controller", &["--listen", &listen, "--data", &data_arg], &log);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let answered = *answered.lock().unwrap();

    let client = flint_api::Client::new(&controller.url("api")).unwrap();
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
