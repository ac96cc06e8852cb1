//! One controller and two invokers as separate processes, as on Kubernetes:
//! deploys reach both, the data plane keeps working without the control
//! plane, and a Kafka consumer group spreads and moves partitions.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::{
    FunctionSpec, HttpTrigger, KafkaTrigger, Name, RetryPolicy, StartPosition, TriggerRequest,
    TriggerSpec, UsageQuery,
};
use flint_tests::kafka;
use flint_tests::{Controller, Invoker, guest, http};

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// Creates `function` from `wasm` with an HTTP route (or none), through the API.
async fn deploy(
    client: &flint_api::Client,
    function: &str,
    wasm: &std::path::Path,
    route: Option<&str>,
) {
    let ns = Name::default_namespace();
    client.put_function(&ns, &name(function), &FunctionSpec::default()).await.unwrap();
    client
        .upload_version(&ns, &name(function), Bytes::from(std::fs::read(wasm).unwrap()))
        .await
        .unwrap();
    if let Some(route) = route {
        let spec = TriggerSpec::Http(HttpTrigger::new(route));
        let request = TriggerRequest { function: name(function), spec };
        client.put_trigger(&ns, &name(&format!("{function}-http")), &request).await.unwrap();
    }
}

/// Polls both invokers until `url_path` answers 200 on each; returns how long that took.
async fn callable_on(invokers: &[&Invoker], url_path: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    for invoker in invokers {
        let url = format!("{}{url_path}", invoker.http);
        loop {
            let ok = http::try_send(http::Method::GET, &url, &[], Bytes::new())
                .await
                .is_ok_and(|r| r.status == 200);
            if ok {
                break;
            }
            assert!(started.elapsed() < limit, "{url} not callable within {limit:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_reach_every_invoker_and_invokers_outlive_the_controller() {
    let dir = tempfile::tempdir().unwrap();
    let mut controller = Controller::start(dir.path());
    let a = Invoker::start(&controller, "invoker-a", dir.path());
    let b = Invoker::start(&controller, "invoker-b", dir.path());
    let client = controller.client();
    // Both register, and `flint invokers` shows them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.list_invokers().await.unwrap().iter().filter(|i| i.healthy).count() < 2 {
        assert!(Instant::now() < deadline, "the invokers did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A function deployed after the invokers started is callable on both.
    deploy(&client, "hello", &guest("hello-http"), Some("/hello")).await;
    let took = callable_on(&[&a, &b], "/hello", Duration::from_secs(10)).await;
    eprintln!("deploy to callable on both invokers: {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // Without the controller, both keep serving what they know.
    assert!(tokio::task::block_in_place(|| controller.stop()), "the controller stops on SIGTERM");
    for invoker in [&a, &b] {
        for _ in 0..20 {
            let response = http::get(&format!("{}/hello?name=alone", invoker.http)).await;
            assert_eq!(response.text(), "Hello, alone!\n", "{}", invoker.id);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The controller comes back on the same store and address; a new
    // deploy propagates to both once they have reconnected.
    tokio::task::block_in_place(|| controller.restart());
    let client = controller.client();
    deploy(&client, "late", &guest("testbed"), Some("/late")).await;
    let took = callable_on(&[&a, &b], "/late/echo", Duration::from_secs(20)).await;
    eprintln!("deploy after the controller's restart, callable on both: {took:?}");
    assert_eq!(http::get(&format!("{}/hello", a.http)).await.status, 200);

    // Usage spooled while the controller was down arrives once: hello
    // answered one call per invoker when it became callable, 20 per invoker
    // without the controller, and the last one.
    let answered = 2 + 40 + 1;
    let query = UsageQuery {
        namespace: Some(Name::default_namespace()),
        function: Some(name("hello")),
        ..UsageQuery::default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let total = client.usage(&query).await.unwrap().totals.invocations;
        if total >= answered {
            break;
        }
        assert!(Instant::now() < deadline, "the ledger has {total} of {answered} calls");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for a batch sent twice to be counted twice, if it were.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.usage(&query).await.unwrap().totals.invocations, answered, "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_spreads_partitions_and_moves_them_when_an_invoker_stops() {
    let bootstrap = kafka::bootstrap();
    let (input, replies) = (kafka::unique_topic("group"), kafka::unique_topic("group-out"));
    kafka::create_topic(&bootstrap, &input, 4).await;
    kafka::create_topic(&bootstrap, &replies, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(dir.path());
    let mut a = Invoker::start(&controller, "invoker-a", dir.path());
    let b = Invoker::start(&controller, "invoker-b", dir.path());
    let client = controller.client();
    deploy(&client, "tb", &guest("testbed"), None).await;
    let spec = TriggerSpec::Kafka(KafkaTrigger {
        bootstrap_servers: bootstrap.clone(),
        topics: vec![input.clone()],
        group: None,
        start: StartPosition::Earliest,
        in_flight_per_partition: 1,
        retry: RetryPolicy::default(),
        dead_letter_topic: None,
        reply_topic: Some(replies.clone()),
        path: "/body".into(),
        properties: [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    });
    let request = TriggerRequest { function: name("tb"), spec };
    client.put_trigger(&Name::default_namespace(), &name("group"), &request).await.unwrap();

    let first: Vec<(String, String)> =
        (0..2000).map(|i| (format!("k{}", i % 40), format!("first-{i}"))).collect();
    let producer = kafka::producer(&bootstrap);
    kafka::produce(&producer, &input, &first).await;
    let got = tokio::task::spawn_blocking({
        let (bootstrap, replies) = (bootstrap.clone(), replies.clone());
        move || kafka::read_topic(&bootstrap, &replies, 2000, Duration::from_secs(180))
    })
    .await
    .unwrap();
    let distinct: HashSet<&str> = got.iter().map(|r| r.value.as_str()).collect();
    eprintln!("normal operation: {} replies, {} distinct", got.len(), distinct.len());
    assert_eq!(distinct.len(), 2000, "every record processed");
    assert_eq!(got.len(), 2000, "each exactly once in normal operation");

    // One invoker stops (SIGTERM: it drains, commits and leaves the group);
    // the other takes its partitions over.
    assert!(tokio::task::block_in_place(|| a.stop()), "invoker-a stops on SIGTERM");
    let second: Vec<(String, String)> =
        (0..2000).map(|i| (format!("k{}", i % 40), format!("second-{i}"))).collect();
    kafka::produce(&producer, &input, &second).await;
    let got = tokio::task::spawn_blocking({
        let (bootstrap, replies) = (bootstrap.clone(), replies.clone());
        move || kafka::read_topic(&bootstrap, &replies, 4000, Duration::from_secs(180))
    })
    .await
    .unwrap();
    let distinct: HashSet<&str> = got.iter().map(|r| r.value.as_str()).collect();
    eprintln!("after invoker-a stopped: {} replies, {} distinct", got.len(), distinct.len());
    assert_eq!(distinct.len(), 4000, "no record lost when partitions moved");
    drop(b);
}
