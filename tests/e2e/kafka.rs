//! Kafka triggers against a real Kafka-protocol broker (Tansu, started by
//! `tests/run`): order, replies, dead letters, `kill -9`, a late broker.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use flint_api::{KafkaTrigger, Name, RetryPolicy, StartPosition, TriggerRequest, TriggerSpec};
use flint_tests::kafka::{self, Record};
use flint_tests::{Flint, guest, http};

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// A trigger on `topic` (from the earliest record) with short group timings,
/// as the broker's documentation asks for tests.
fn trigger(bootstrap: &str, topic: &str) -> KafkaTrigger {
    KafkaTrigger {
        bootstrap_servers: bootstrap.into(),
        topics: vec![topic.into()],
        group: None,
        start: StartPosition::Earliest,
        in_flight_per_partition: 1,
        retry: RetryPolicy {
            attempts: 3,
            initial_backoff_ms: 50,
            multiplier: 2.0,
            max_backoff_ms: 500,
        },
        dead_letter_topic: None,
        reply_topic: None,
        path: "/body".into(),
        properties: [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    }
}

async fn add(flint: &Flint, trigger_name: &str, function: &str, spec: KafkaTrigger) {
    let request = TriggerRequest { function: name(function), spec: TriggerSpec::Kafka(spec) };
    flint
        .client()
        .put_trigger(&Name::default_namespace(), &name(trigger_name), &request)
        .await
        .expect("trigger added");
}

/// Deploys the testbed as `tb` and waits until it answers.
async fn testbed(flint: &Flint) {
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
}

/// `count` records over `keys` keys; each value is `key:n` with n counting up per key.
fn keyed_records(count: usize, keys: usize) -> Vec<(String, String)> {
    let mut next: HashMap<usize, usize> = HashMap::new();
    (0..count)
        .map(|i| {
            let key = i % keys;
            let n = next.entry(key).or_default();
            *n += 1;
            (format!("key-{key}"), format!("key-{key}:{n}"))
        })
        .collect()
}

/// Checks that for each key the values arrive with n increasing.
fn assert_per_key_order(records: &[Record]) {
    let mut by_partition: BTreeMap<i32, Vec<&Record>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let mut last: HashMap<&str, usize> = HashMap::new();
    for records in by_partition.values_mut() {
        records.sort_by_key(|r| r.offset);
        for r in records.iter() {
            let n: usize = r.value.rsplit(':').next().and_then(|n| n.parse().ok()).expect("key:n");
            let previous = last.insert(&r.key, n).unwrap_or(0);
            assert!(n > previous, "{} came after {}:{previous}", r.value, r.key);
        }
    }
}

async fn wait_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    records: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
        let offsets = tokio::task::spawn_blocking(move || {
            kafka::committed_and_end(&bootstrap, &group, &topic, partitions, records)
        })
        .await
        .unwrap();
        if offsets.iter().all(|(committed, end)| committed == end) {
            return;
        }
        assert!(Instant::now() < deadline, "committed vs end offsets: {offsets:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_in_order_with_replies_and_commits() {
    let bootstrap = kafka::bootstrap();
    let (input, replies) = (kafka::unique_topic("orders"), kafka::unique_topic("replies"));
    kafka::create_topic(&bootstrap, &input, 4).await;
    kafka::create_topic(&bootstrap, &replies, 4).await;
    let flint = Flint::start();
    testbed(&flint).await;
    add(
        &flint,
        "orders",
        "tb",
        KafkaTrigger { reply_topic: Some(replies.clone()), ..trigger(&bootstrap, &input) },
    )
    .await;

    let records = keyed_records(10_000, 100);
    kafka::produce(&kafka::producer(&bootstrap), &input, &records).await;

    let got = tokio::task::spawn_blocking({
        let (bootstrap, replies) = (bootstrap.clone(), replies.clone());
        move || kafka::read_topic(&bootstrap, &replies, 10_000, Duration::from_secs(240))
    })
    .await
    .unwrap();
    let values: HashSet<&str> = got.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(values.len(), 10_000, "every record was processed (got {} replies)", got.len());
    if got.len() != 10_000 {
        let mut seen = HashMap::new();
        for r in &got {
            seen.entry(r.value.as_str()).or_insert_with(Vec::new).push((r.partition, r.offset));
        }
        let repeats: Vec<_> = seen.iter().filter(|(_, at)| at.len() > 1).collect();
        eprintln!("repeated replies (value: partition, offset): {repeats:?}");
        eprintln!("flint's log:\n{}", flint.stderr());
    }
    assert_eq!(got.len(), 10_000, "no duplicates in normal operation");
    // Replies are keyed like their input and carry CloudEvent headers.
    assert!(
        got.iter().all(|r| r.value.starts_with(&format!("{}:", r.key))),
        "replies keyed like the input"
    );
    let first = &got[0];
    assert_eq!(
        first.headers.get("ce_type").map(String::as_str),
        Some("flint.kafka.reply"),
        "{:?}",
        first.headers
    );
    assert_eq!(
        first.headers.get("ce_source").map(String::as_str),
        Some("/namespaces/default/functions/tb")
    );
    assert_per_key_order(&got);
    wait_committed(&bootstrap, "flint.default.orders", &input, 4, 10_000).await;
    let succeeded =
        flint.metric("flint_invoker_kafka_records_succeeded_total", &[("trigger", "orders")]).await;
    assert_eq!(succeeded, Some(10_000.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_keep_failing_go_to_the_dead_letter_topic() {
    let bootstrap = kafka::bootstrap();
    let (input, replies, dead) =
        (kafka::unique_topic("in"), kafka::unique_topic("out"), kafka::unique_topic("dlq"));
    for topic in [&input, &replies, &dead] {
        kafka::create_topic(&bootstrap, topic, 2).await;
    }
    let flint = Flint::start();
    testbed(&flint).await;
    let spec = KafkaTrigger {
        reply_topic: Some(replies.clone()),
        dead_letter_topic: Some(dead.clone()),
        path: "/body?fail_if=POISON".into(),
        ..trigger(&bootstrap, &input)
    };
    add(&flint, "picky", "tb", spec).await;

    let records: Vec<(String, String)> = (0..100)
        .map(|i| {
            (
                format!("k{}", i % 7),
                if i % 10 == 3 { format!("POISON {i}") } else { format!("ok {i}") },
            )
        })
        .collect();
    kafka::produce(&kafka::producer(&bootstrap), &input, &records).await;

    let dead_letters = kafka::read_topic(&bootstrap, &dead, 10, Duration::from_secs(60));
    assert_eq!(dead_letters.len(), 10, "{dead_letters:#?}");
    for record in &dead_letters {
        assert!(record.value.starts_with("POISON"), "{record:?}");
        let h = &record.headers;
        assert_eq!(h.get("flint.attempts").map(String::as_str), Some("3"), "{h:?}");
        assert_eq!(h.get("flint.function").map(String::as_str), Some("default/tb"));
        assert_eq!(h.get("flint.original.topic"), Some(&input));
        assert!(h.get("flint.error").is_some_and(|e| e.contains("500")), "{h:?}");
        assert!(
            h.contains_key("flint.original.partition") && h.contains_key("flint.original.offset"),
            "{h:?}"
        );
        assert!(record.key.starts_with('k'), "the key is kept");
    }
    // Everything else flowed: the partitions were not stuck behind the poison.
    let good = kafka::read_topic(&bootstrap, &replies, 90, Duration::from_secs(60));
    assert_eq!(good.len(), 90);
    wait_committed(&bootstrap, "flint.default.picky", &input, 2, 100).await;

    let retried =
        flint.metric("flint_invoker_kafka_records_retried_total", &[("trigger", "picky")]).await;
    assert_eq!(retried, Some(20.0), "two retries per poisoned record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_consuming_loses_no_record() {
    let bootstrap = kafka::bootstrap();
    let (input, replies) = (kafka::unique_topic("burst"), kafka::unique_topic("burst-out"));
    kafka::create_topic(&bootstrap, &input, 4).await;
    kafka::create_topic(&bootstrap, &replies, 4).await;
    let mut flint = Flint::start();
    testbed(&flint).await;
    add(
        &flint,
        "burst",
        "tb",
        KafkaTrigger { reply_topic: Some(replies.clone()), ..trigger(&bootstrap, &input) },
    )
    .await;

    let records = keyed_records(5000, 50);
    kafka::produce(&kafka::producer(&bootstrap), &input, &records).await;
    // Kill it in the middle of the work.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = flint
            .metric("flint_invoker_kafka_records_succeeded_total", &[("trigger", "burst")])
            .await
            .unwrap_or(0.0);
        if done >= 1000.0 {
            break;
        }
        assert!(Instant::now() < deadline, "processing did not start ({done} done)");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flint.kill9();
    let restarted = Flint::start_in(flint.data());

    let got = tokio::task::spawn_blocking({
        let (bootstrap, replies) = (bootstrap.clone(), replies.clone());
        // A crashed member's partitions move after the broker's session
        // timeout (about 30 s with Tansu), hence the long limit.
        move || kafka::read_topic(&bootstrap, &replies, 5000, Duration::from_secs(240))
    })
    .await
    .unwrap();
    let distinct: HashSet<&str> = got.iter().map(|r| r.value.as_str()).collect();
    let duplicates = got.len() - distinct.len();
    eprintln!(
        "kill -9: {} replies for 5000 records, {} distinct, {duplicates} duplicates",
        got.len(),
        distinct.len()
    );
    assert_eq!(distinct.len(), 5000, "no record is missing");
    drop(restarted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_an_error_state_until_it_starts() {
    // A broker of our own on a port nobody listens on yet.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let bootstrap = format!("127.0.0.1:{port}");
    let flint = Flint::start();
    testbed(&flint).await;
    add(&flint, "late", "tb", trigger(&bootstrap, "late-topic")).await;

    let health = |flint: &Flint| {
        let client = flint.client();
        async move {
            client.trigger_status(&Name::default_namespace(), &name("late")).await.expect("status")
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        let status = health(&flint).await;
        if let Some(s) = status.iter().find(|s| !s.health.healthy) {
            break s.health.reason.clone().unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "no error state: {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        reason.contains(&bootstrap) || reason.contains("onnect") || reason.contains("down"),
        "{reason}"
    );
    let (out, _) = crate::output_text(&flint.cli(&["describe", "tb"]));
    assert!(out.contains("state on local: error"), "{out}");

    let run_dir = tempfile::tempdir().unwrap();
    let started = kafka::start_broker(port, run_dir.path());
    assert_eq!(started, bootstrap);
    kafka::create_topic(&bootstrap, "late-topic", 1).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = health(&flint).await;
        if !status.is_empty() && status.iter().all(|s| s.health.healthy) {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {status:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // And records flow.
    kafka::produce(&kafka::producer(&bootstrap), "late-topic", &[("k".into(), "hello".into())])
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while flint.metric("flint_invoker_kafka_records_succeeded_total", &[("trigger", "late")]).await
        != Some(1.0)
    {
        assert!(Instant::now() < deadline, "the record was not processed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    kafka::stop_broker(port, run_dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_kafka_triggers_are_refused() {
    let flint = Flint::start();
    testbed(&flint).await;
    let client = flint.client();
    let feed = flint.cluster_client();
    let before = feed.watch(0, Duration::ZERO).await.unwrap();
    let good = trigger("127.0.0.1:9092", "t");
    let cases = [
        (
            KafkaTrigger { bootstrap_servers: "localhost".into(), ..good.clone() },
            "invalid `kafka.bootstrap_servers`",
        ),
        (
            KafkaTrigger { topics: vec![], ..good.clone() },
            "invalid `kafka.topics`: name at least one topic",
        ),
        (
            KafkaTrigger { topics: vec!["no spaces".into()], ..good.clone() },
            "invalid `kafka.topics`",
        ),
        (
            KafkaTrigger { reply_topic: Some("t".into()), ..good.clone() },
            "invalid `kafka.reply_topic`",
        ),
        (
            KafkaTrigger { in_flight_per_partition: 0, ..good.clone() },
            "invalid `kafka.in_flight_per_partition`",
        ),
        (
            KafkaTrigger {
                properties: [("group.id".to_owned(), "x".to_owned())].into(),
                ..good.clone()
            },
            "invalid `kafka.properties`: `group.id` is set by Flint",
        ),
        // Security review row 1: librdkafka would load this library.
        (
            KafkaTrigger {
                properties: [("plugin.library.paths".to_owned(), "/tmp/x.so".to_owned())].into(),
                ..good.clone()
            },
            "invalid `kafka.properties`: `plugin.library.paths` is not a property a trigger may set",
        ),
    ];
    for (spec, expected) in cases {
        let request = TriggerRequest { function: name("tb"), spec: TriggerSpec::Kafka(spec) };
        let err = client
            .put_trigger(&Name::default_namespace(), &name("bad"), &request)
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
        assert!(err.to_string().contains(expected), "{err}\nexpected: {expected}");
    }
    let url = format!("{}/v1/namespaces/default/triggers/bad", flint.api);
    let body = r#"{"function":"tb","spec":{"kafka":{"bootstrap_servers":"h:1","topics":["t"],"start":"middle"}}}"#;
    let response =
        http::send_json_as(http::Method::PUT, &url, Some(&flint.admin_token()), body).await;
    assert_eq!(response.status, 400);
    assert!(
        response.text().contains("`spec.kafka.start`: unknown variant `middle`"),
        "{}",
        response.text()
    );
    assert_eq!(feed.watch(0, Duration::ZERO).await.unwrap(), before, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enricher_example_enriches_and_replies() {
    let bootstrap = kafka::bootstrap();
    let (orders, enriched) =
        (kafka::unique_topic("orders"), kafka::unique_topic("orders-enriched"));
    kafka::create_topic(&bootstrap, &orders, 1).await;
    kafka::create_topic(&bootstrap, &enriched, 1).await;
    let flint = Flint::start();
    let wasm = guest("kafka-enricher");
    let output = flint.cli(&["deploy", "enricher", "--wasm", wasm.to_str().unwrap()]);
    assert!(output.status.success(), "{:?}", crate::output_text(&output));
    let spec = KafkaTrigger {
        reply_topic: Some(enriched.clone()),
        path: "/".into(),
        ..trigger(&bootstrap, &orders)
    };
    add(&flint, "orders", "enricher", spec).await;

    let order = r#"{"item":"tea","price":2.5,"quantity":4}"#;
    kafka::produce(&kafka::producer(&bootstrap), &orders, &[("customer-3".into(), order.into())])
        .await;
    let replies = kafka::read_topic(&bootstrap, &enriched, 1, Duration::from_secs(60));
    assert_eq!(replies.len(), 1);
    let reply: serde_json::Value = serde_json::from_str(&replies[0].value).expect("JSON reply");
    assert_eq!(reply["total"], serde_json::json!(10.0));
    assert_eq!(reply["enriched"]["key"], "customer-3");
    assert_eq!(replies[0].key, "customer-3", "keyed like the input");
}
