//! The Kafka path: records/s through `hello-http` (consume, invoke,
//! commit), and end-to-end latency at a fixed rate below the maximum.

use std::time::{Duration, Instant};

use flint_api::{KafkaTrigger, Name, RetryPolicy, StartPosition, TriggerRequest, TriggerSpec};
use flint_tests::{Flint, kafka};

/// Records for the throughput run.
const RECORDS: usize = 50_000;
const PARTITIONS: i32 = 4;

fn trigger(bootstrap: &str, topic: &str, in_flight: u32, reply: Option<String>) -> TriggerSpec {
    TriggerSpec::Kafka(KafkaTrigger {
        bootstrap_servers: bootstrap.into(),
        topics: vec![topic.into()],
        group: None,
        start: StartPosition::Earliest,
        in_flight_per_partition: in_flight,
        retry: RetryPolicy::default(),
        dead_letter_topic: None,
        reply_topic: reply,
        path: "/".into(),
        properties: [("session.timeout.ms", "6000")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    })
}

async fn succeeded(flint: &Flint, trigger: &str) -> f64 {
    flint
        .metric("flint_invoker_kafka_records_succeeded_total", &[("trigger", trigger)])
        .await
        .unwrap_or(0.0)
}

/// The Kafka section: throughput beside the HTTP rate of the same function
/// (measured here unless the HTTP section ran) and a bare consumer, then
/// end-to-end latency at half the throughput.
pub async fn section(
    flint: &Flint,
    bootstrap: &str,
    flint_url: &str,
    http_rate: Option<f64>,
    seconds: u64,
) {
    println!(
        "\n# Kafka path: {RECORDS} records over {PARTITIONS} partitions through hello-http (consume, invoke, commit)"
    );
    // Flint's CPU time per HTTP request, from one more wrk run.
    crate::wrk(flint_url, 2);
    let cpu_before = crate::cpu_time(flint.pid());
    let run = crate::wrk(flint_url, seconds);
    let cpu_per_request =
        (crate::cpu_time(flint.pid()) - cpu_before).div_f64(run.rps * seconds as f64);
    let http_rate = match http_rate {
        Some(rate) => rate,
        None => {
            let mut runs: Vec<_> =
                (1..crate::ROUNDS).map(|_| crate::wrk(flint_url, seconds)).collect();
            runs.push(run);
            let rate = crate::median(&runs).rps;
            println!(
                "HTTP through flint (wrk, {} connections): {rate:.0} requests/s",
                crate::CONNECTIONS
            );
            rate
        }
    };
    let one = throughput(flint, bootstrap, 1).await;
    let many = throughput(flint, bootstrap, 64).await;
    println!(
        "in flight per partition 1: {:.0} records/s; 64: {:.0} records/s",
        one.rate, many.rate
    );
    println!(
        "a bare consumer reading the same records (no function): {:.0} records/s",
        one.bare.max(many.bare)
    );
    println!("ratio Kafka (64 in flight) / HTTP (flint): {:.3}", many.rate / http_rate);
    println!(
        "flint's CPU time per record (64 in flight): {:.0} µs; per HTTP request: {:.0} µs",
        crate::micros(many.cpu_per_record),
        crate::micros(cpu_per_request)
    );
    let many = many.rate;
    let rate = ((many * 0.5) as u32).clamp(100, 5000);
    let (p50, p99, n) = latency(flint, bootstrap, rate, 10).await;
    println!(
        "end-to-end latency at {rate} records/s (produce → reply produced, {n} records): p50 {}  p99 {}",
        crate::ms(p50),
        crate::ms(p99)
    );
}

/// What one throughput run measured.
struct Throughput {
    /// Records/s through Flint.
    rate: f64,
    /// Flint's CPU time (all threads) per record.
    cpu_per_record: Duration,
    /// Records/s of a bare consumer reading the same records.
    bare: f64,
}

/// Records/s of the Kafka path with `in_flight` records per partition, and
/// of a bare consumer reading the same records (the broker's ceiling).
async fn throughput(flint: &Flint, bootstrap: &str, in_flight: u32) -> Throughput {
    let topic = kafka::unique_topic("bench");
    kafka::create_topic(bootstrap, &topic, PARTITIONS).await;
    let records: Vec<(String, String)> =
        (0..RECORDS).map(|i| (format!("k{}", i % 1000), format!("r{i}"))).collect();
    kafka::produce(&kafka::producer(bootstrap), &topic, &records).await;
    let bare = tokio::task::spawn_blocking({
        let (bootstrap, topic) = (bootstrap.to_owned(), topic.clone());
        move || bare_consumer(&bootstrap, &topic)
    })
    .await
    .expect("bare consumer");
    // The records wait in the topic; the clock starts when the trigger exists.
    let name = format!("bench-{in_flight}");
    let request = TriggerRequest {
        function: "hello".parse().unwrap(),
        spec: trigger(bootstrap, &topic, in_flight, None),
    };
    let started = Instant::now();
    flint
        .client()
        .put_trigger(&Name::default_namespace(), &name.parse().unwrap(), &request)
        .await
        .expect("trigger");
    // Joining the group takes a moment: time from the first record handled.
    let mut first: Option<(Instant, f64, Duration)> = None;
    let deadline = started + Duration::from_secs(600);
    loop {
        let done = succeeded(flint, &name).await;
        if first.is_none() && done > 0.0 {
            first = Some((Instant::now(), done, crate::cpu_time(flint.pid())));
        }
        if done >= RECORDS as f64 || Instant::now() > deadline {
            let (at, done_then, cpu_then) = first.unwrap_or((started, 0.0, Duration::ZERO));
            let elapsed = at.elapsed().max(Duration::from_millis(1));
            let records = done - done_then;
            let cpu = crate::cpu_time(flint.pid()).saturating_sub(cpu_then);
            remove(flint, &name).await;
            return Throughput {
                rate: records / elapsed.as_secs_f64(),
                cpu_per_record: cpu.div_f64(records.max(1.0)),
                bare,
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Records/s of a plain consumer reading every partition of `topic` from the
/// start (assigned, no group), timed from its first record to its last.
fn bare_consumer(bootstrap: &str, topic: &str) -> f64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", kafka::unique_topic("bare"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment.add_partition_offset(topic, partition, Offset::Beginning).expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut first, mut count) = (None, 0usize);
    while count < RECORDS && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            first.get_or_insert_with(Instant::now);
            // Owned, as Flint's consumer keeps each record.
            std::hint::black_box(message.detach());
            count += 1;
        }
    }
    let elapsed = first.map_or(Duration::ZERO, |f| f.elapsed()).max(Duration::from_millis(1));
    count as f64 / elapsed.as_secs_f64()
}

/// End-to-end latency (record produced → reply produced) at `rate` records/s
/// for `seconds`: p50 and p99.
async fn latency(
    flint: &Flint,
    bootstrap: &str,
    rate: u32,
    seconds: u64,
) -> (Duration, Duration, usize) {
    let (topic, replies) = (kafka::unique_topic("lat"), kafka::unique_topic("lat-out"));
    kafka::create_topic(bootstrap, &topic, PARTITIONS).await;
    kafka::create_topic(bootstrap, &replies, PARTITIONS).await;
    let request = TriggerRequest {
        function: "hello".parse().unwrap(),
        spec: trigger(bootstrap, &topic, 16, Some(replies.clone())),
    };
    flint
        .client()
        .put_trigger(&Name::default_namespace(), &"latency".parse().unwrap(), &request)
        .await
        .expect("trigger");
    // Wait until the consumer runs, with one record.
    let producer = kafka::producer(bootstrap);
    kafka::produce(&producer, &topic, &[("warm".into(), "warm".into())]).await;
    while succeeded(flint, "latency").await < 1.0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = rate as usize * seconds as usize;
    let tick = Duration::from_secs(1) / rate;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + tick * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let (key, value) = (format!("k{}", i % 1000), now_micros().to_string());
        // Enqueued at once; the acknowledgements are awaited at the end.
        match producer
            .send_result(rdkafka::producer::FutureRecord::to(&topic).key(&key).payload(&value))
        {
            Ok(delivery) => deliveries.push(delivery),
            Err((error, _)) => eprintln!("produce: {error}"),
        }
    }
    for delivery in deliveries {
        let _ = delivery.await;
    }
    let bootstrap = bootstrap.to_owned();
    let got = tokio::task::spawn_blocking(move || {
        kafka::read_topic(&bootstrap, &replies, total + 1, Duration::from_secs(120))
    })
    .await
    .expect("read replies");
    // The reply body is `Hello, <sent micros>!`; its timestamp is when Flint produced it.
    let mut latencies: Vec<Duration> = got
        .iter()
        .filter_map(|r| {
            let sent: u64 = r.value.strip_prefix("Hello, ")?.strip_suffix("!\n")?.parse().ok()?;
            let replied = u64::try_from(r.timestamp_ms?).ok()? * 1000;
            Some(Duration::from_micros(replied.saturating_sub(sent)))
        })
        .collect();
    latencies.sort();
    let n = latencies.len();
    if n == 0 {
        return (Duration::ZERO, Duration::ZERO, 0);
    }
    remove(flint, "latency").await;
    (latencies[n / 2], latencies[(n * 99 / 100).min(n - 1)], n)
}

/// Deletes a benchmark trigger, so its consumer stops.
async fn remove(flint: &Flint, trigger: &str) {
    let _ =
        flint.client().delete_trigger(&Name::default_namespace(), &trigger.parse().unwrap()).await;
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
