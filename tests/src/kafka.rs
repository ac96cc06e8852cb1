//! Kafka for the tests: the broker `tests/run` started (its address in
//! `FLINT_TEST_KAFKA`), topics, producing, reading whole topics back, and
//! committed offsets.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Environment variable with the test broker's bootstrap address.
pub const ENV_BOOTSTRAP: &str = "FLINT_TEST_KAFKA";

/// The test broker's address. `tests/run` starts one; to run Kafka tests
/// alone: `export FLINT_TEST_KAFKA=$(tests/kafka/up.sh)`.
pub fn bootstrap() -> String {
    std::env::var(ENV_BOOTSTRAP).unwrap_or_else(|_| {
        panic!("no Kafka broker for the tests: run them with tests/run, or `export {ENV_BOOTSTRAP}=$(tests/kafka/up.sh)`")
    })
}

/// A topic name no other test uses.
pub fn unique_topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Creates a topic with `partitions` partitions.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin.create_topics([&new], &AdminOptions::new()).await.expect("create topics");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("cannot create {topic}: {error:?}"));
    }
}

/// A producer that waits for every record to be acknowledged.
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Produces `(key, value)` records in order and waits for all acknowledgements.
pub async fn produce(producer: &FutureProducer, topic: &str, records: &[(String, String)]) {
    let mut deliveries = Vec::with_capacity(records.len());
    for (key, value) in records {
        // Enqueue without waiting, so records go out in batches.
        loop {
            match producer.send_result(FutureRecord::to(topic).key(key).payload(value)) {
                Ok(delivery) => {
                    deliveries.push(delivery);
                    break;
                }
                Err((error, _)) => {
                    assert!(
                        matches!(
                            error,
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull
                            )
                        ),
                        "produce failed: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery not cancelled")
            .unwrap_or_else(|(e, _)| panic!("produce failed: {e}"));
    }
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Key, as text.
    pub key: String,
    /// Value, as text.
    pub value: String,
    /// Headers, as text.
    pub headers: HashMap<String, String>,
    /// The record's timestamp (create time), in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// Reads `topic` from the start until at least `count` records arrived
/// (and a moment of quiet after, to see duplicates), or `limit` passed.
pub fn read_topic(bootstrap: &str, topic: &str, count: usize, limit: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_topic("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    // Assigned, not subscribed: no group to join, every partition from the start.
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");

    let deadline = Instant::now() + limit;
    let mut records = Vec::new();
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        if records.len() >= count && quiet_since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                quiet_since = Instant::now();
                let text =
                    |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
                let headers = message
                    .headers()
                    .map(|h| h.iter().map(|h| (h.key.to_owned(), text(h.value))).collect())
                    .unwrap_or_default();
                records.push(Record {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: text(message.key()),
                    value: text(message.payload()),
                    headers,
                    timestamp_ms: message.timestamp().to_millis(),
                });
            }
            Some(Err(error)) => eprintln!("reading {topic}: {error}"),
            None => {}
        }
    }
    records
}

/// The group's committed offset and the end offset of each partition of
/// `topic`. The end is one past the last record read back: Tansu's
/// `ListOffsets` answers are not reliable enough to use here.
pub fn committed_and_end(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    records: usize,
) -> Vec<(i64, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed =
        consumer.committed_offsets(list, Duration::from_secs(10)).expect("committed offsets");
    let mut ends = vec![0; partitions as usize];
    for record in read_topic(bootstrap, topic, records, Duration::from_secs(60)) {
        let end = &mut ends[record.partition as usize];
        *end = (*end).max(record.offset + 1);
    }
    (0..partitions)
        .map(|p| {
            let committed = match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                _ => -1,
            };
            (committed, ends[p as usize])
        })
        .collect()
}

/// Starts a second broker on `port` with the repository's script (for the
/// test of a broker that appears late). Returns its bootstrap address.
pub fn start_broker(port: u16, run_dir: &Path) -> String {
    let script = crate::repo_root().join("tests/kafka/up.sh");
    let output = Command::new(script)
        .env("KAFKA_PORT", port.to_string())
        .env("KAFKA_RUN_DIR", run_dir)
        .output()
        .expect("tests/kafka/up.sh runs");
    assert!(
        output.status.success(),
        "broker did not start: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Stops a broker [`start_broker`] started.
pub fn stop_broker(port: u16, run_dir: &Path) {
    let script = crate::repo_root().join("tests/kafka/down.sh");
    let _ = Command::new(script)
        .env("KAFKA_PORT", port.to_string())
        .env("KAFKA_RUN_DIR", run_dir)
        .status();
}
