//! The consumer of one trigger, on a thread of its own: it polls librdkafka,
//! hands records to partition workers, pauses and resumes partitions, and
//! commits offsets.
//!
//! A thread, not a task: rebalance callbacks run inside `poll`, and on a
//! revocation this thread waits there until the revoked partitions' workers
//! have drained and their offsets are committed, before librdkafka hands the
//! partitions to another member. Blocking a dedicated thread is safe; the
//! workers run on the tokio runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, Statistics, TopicPartitionList};

use super::Trigger;
use super::partition::{self, Partition};

/// How often finished offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// How often the topics' existence is checked (and an error state cleared).
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How long a revocation or shutdown waits for a partition's records in flight.
const DRAIN: Duration = Duration::from_secs(30);

type Partitions = Arc<Mutex<HashMap<(String, i32), Arc<Partition>>>>;

/// librdkafka's callbacks for one trigger.
struct Context {
    trigger: Arc<Trigger>,
    runtime: tokio::runtime::Handle,
    partitions: Partitions,
    resume: mpsc::Sender<(String, i32)>,
}

impl ClientContext for Context {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        use rdkafka::config::RDKafkaLogLevel as Level;
        match level {
            Level::Emerg | Level::Alert | Level::Critical | Level::Error => {
                tracing::warn!(trigger = %self.trigger.name, fac, "librdkafka: {message}");
            }
            _ => tracing::debug!(trigger = %self.trigger.name, fac, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(trigger = %self.trigger.name, %error, reason, "kafka client error");
        self.trigger.set_health(Some(format!("{error}: {reason}")));
    }

    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (id, partition) in &stats.partitions {
                // -1: unknown (not assigned here); the internal partition is -1 too.
                if *id >= 0 && partition.consumer_lag >= 0 {
                    self.trigger.metrics.lag(topic, *id).set(partition.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let keys: Vec<(String, i32)> =
                list.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect();
            let revoked: Vec<Arc<Partition>> = {
                let mut partitions = self.partitions.lock().unwrap_or_else(PoisonError::into_inner);
                keys.iter().filter_map(|key| partitions.remove(key)).collect()
            };
            drain_and_commit(consumer, &revoked);
            tracing::info!(trigger = %self.trigger.name, partitions = revoked.len(), "partitions revoked after draining");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let in_flight = self.trigger.spec.in_flight_per_partition as usize;
            let mut partitions = self.partitions.lock().unwrap_or_else(PoisonError::into_inner);
            for element in list.elements() {
                let key = (element.topic().to_owned(), element.partition());
                if partitions.contains_key(&key) {
                    continue;
                }
                let partition = Arc::new(Partition::new(&key.0, key.1, in_flight));
                self.runtime.spawn(partition::work(
                    Arc::clone(&self.trigger),
                    Arc::clone(&partition),
                    self.resume.clone(),
                ));
                partitions.insert(key, partition);
            }
            tracing::info!(trigger = %self.trigger.name, partitions = list.count(), "partitions assigned");
        }
    }
}

/// Stops the partitions' workers after their records in flight and commits
/// what they finished, synchronously.
fn drain_and_commit(consumer: &BaseConsumer<Context>, partitions: &[Arc<Partition>]) {
    for partition in partitions {
        partition.shut();
    }
    for partition in partitions {
        if !partition.wait_finished(DRAIN) {
            tracing::warn!(topic = %partition.topic, partition = partition.partition, "records still in flight after the drain limit");
        }
    }
    commit(consumer, partitions, CommitMode::Sync);
}

fn commit(consumer: &BaseConsumer<Context>, partitions: &[Arc<Partition>], mode: CommitMode) {
    let mut list = TopicPartitionList::new();
    for partition in partitions {
        if let Some(next) = partition.take_commit() {
            let _ = list.add_partition_offset(
                &partition.topic,
                partition.partition,
                Offset::Offset(next),
            );
        }
    }
    if list.count() == 0 {
        return;
    }
    if let Err(error) = consumer.commit(&list, mode) {
        tracing::warn!(%error, "commit failed; the records will be delivered again");
    }
}

/// A running consumer thread; [`Handle::stop`] drains and joins it.
pub struct Handle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// Stops consuming, lets records in flight finish, commits, leaves the group.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the consumer thread of `trigger`.
pub fn start(trigger: Arc<Trigger>, runtime: tokio::runtime::Handle) -> std::io::Result<Handle> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name(format!("kafka-{}", trigger.name))
        .spawn(move || consume(trigger, runtime, &flag))?;
    Ok(Handle { stop, thread: Some(thread) })
}

fn config(trigger: &Trigger) -> ClientConfig {
    let spec = &trigger.spec;
    let mut config = ClientConfig::new();
    // librdkafka waits up to 500 ms for a fetch to fill; brokers that hold a
    // fetch for the whole wait (Tansu does) then add that to every record's
    // latency. The trigger's properties may set it otherwise.
    config.set("fetch.wait.max.ms", "100");
    for (key, value) in &spec.properties {
        config.set(key, value);
    }
    config
        .set("bootstrap.servers", &spec.bootstrap_servers)
        .set("group.id", spec.group_id(&trigger.namespace, &trigger.name))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set(
            "auto.offset.reset",
            match spec.start {
                flint_api::StartPosition::Earliest => "earliest",
                flint_api::StartPosition::Latest => "latest",
            },
        )
        .set("statistics.interval.ms", "5000");
    config
}

fn consume(trigger: Arc<Trigger>, runtime: tokio::runtime::Handle, stop: &AtomicBool) {
    let partitions: Partitions = Arc::default();
    let (resume_tx, resume_rx) = mpsc::channel();
    let context = Context {
        trigger: Arc::clone(&trigger),
        runtime,
        partitions: Arc::clone(&partitions),
        resume: resume_tx,
    };
    let consumer: BaseConsumer<Context> = match config(&trigger).create_with_context(context) {
        Ok(consumer) => consumer,
        Err(error) => {
            trigger.set_health(Some(format!("cannot create the consumer: {error}")));
            return;
        }
    };
    let topics: Vec<&str> = trigger.spec.topics.iter().map(String::as_str).collect();
    if let Err(error) = consumer.subscribe(&topics) {
        trigger.set_health(Some(format!("cannot subscribe: {error}")));
        return;
    }
    let mut last_commit = Instant::now();
    let mut last_check: Option<Instant> = None;
    while !stop.load(Ordering::Acquire) {
        if last_check.is_none_or(|t| t.elapsed() >= CHECK_EVERY) {
            check_topics(&consumer, &trigger);
            last_check = Some(Instant::now());
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let key = (message.topic().to_owned(), message.partition());
                let partition =
                    partitions.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
                match partition {
                    Some(partition) => {
                        if partition.push(message.detach())
                            && !partition.paused.swap(true, Ordering::AcqRel)
                        {
                            set_paused(&consumer, &partition, true);
                        }
                    }
                    // Not (or no longer) ours: it will be fetched again by its owner.
                    None => {
                        tracing::debug!(topic = %key.0, partition = key.1, "record of an unassigned partition")
                    }
                }
            }
            Some(Err(error)) => {
                tracing::debug!(trigger = %trigger.name, %error, "poll error");
                trigger.set_health(Some(error.to_string()));
            }
            None => {}
        }
        while let Ok((topic, id)) = resume_rx.try_recv() {
            if let Some(partition) =
                partitions.lock().unwrap_or_else(PoisonError::into_inner).get(&(topic, id))
            {
                set_paused(&consumer, partition, false);
            }
        }
        if last_commit.elapsed() >= COMMIT_EVERY {
            let all: Vec<Arc<Partition>> = partitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect();
            commit(&consumer, &all, CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    // Shutdown: finish what is in flight, commit it, then leave the group.
    let all: Vec<Arc<Partition>> =
        partitions.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, p)| p).collect();
    drain_and_commit(&consumer, &all);
    consumer.unsubscribe();
}

fn set_paused(consumer: &BaseConsumer<Context>, partition: &Partition, pause: bool) {
    let mut list = TopicPartitionList::new();
    list.add_partition(&partition.topic, partition.partition);
    let result = if pause { consumer.pause(&list) } else { consumer.resume(&list) };
    if let Err(error) = result {
        tracing::warn!(topic = %partition.topic, partition = partition.partition, %error, pause, "cannot pause or resume");
    }
}

/// Marks the trigger healthy if the brokers answer and every topic exists,
/// else records why not.
fn check_topics(consumer: &BaseConsumer<Context>, trigger: &Trigger) {
    let problem = match consumer.fetch_metadata(None, Duration::from_secs(2)) {
        Err(error) => {
            Some(format!("brokers {} unreachable: {error}", trigger.spec.bootstrap_servers))
        }
        Ok(metadata) => trigger.spec.topics.iter().find_map(|topic| {
            let found = metadata.topics().iter().find(|t| t.name() == topic);
            match found {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => None,
                _ => Some(format!(
                    "topic `{topic}` does not exist on {}",
                    trigger.spec.bootstrap_servers
                )),
            }
        }),
    };
    trigger.set_health(problem);
}
