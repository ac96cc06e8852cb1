//! Kafka triggers: every invoker runs a consumer per Kafka trigger in the
//! trigger's consumer group, so the group spreads partitions across
//! invokers. Each record becomes a CloudEvent `POST` to the function.
//!
//! Delivery is at least once with ordered commits: an offset is committed
//! only after its record was handled — the function answered 2xx and any
//! reply was acknowledged, or every attempt failed and the dead-letter
//! record was acknowledged — and only over a contiguous prefix of handled
//! offsets. Shutdown and rebalances drain records in flight and commit
//! before letting partitions go. `kill -9` loses nothing but re-delivers
//! what was handled after the last commit (at most ~100 ms of work).
//!
//! This is the only module that uses `rdkafka`.

mod consumer;
mod partition;
mod record;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flint_api::{KafkaTrigger, Name, Timestamp, TriggerHealth, TriggerSpec};
use prometheus::{Histogram, IntCounter, IntGauge};
use rdkafka::producer::FutureProducer;
use tokio_util::sync::CancellationToken;

use crate::Runtime;

/// The CloudEvent extension attribute carrying the attempt number.
pub use super::schedule::ATTEMPT_HEADER;

type Key = (Name, Name);

/// One running Kafka trigger, shared by its consumer thread and workers.
pub struct Trigger {
    runtime: Arc<Runtime>,
    namespace: Name,
    name: Name,
    function: Name,
    spec: KafkaTrigger,
    producer: FutureProducer,
    metrics: Metrics,
}

/// The trigger's metric handles.
struct Metrics {
    consumed: IntCounter,
    succeeded: IntCounter,
    retried: IntCounter,
    dead_lettered: IntCounter,
    replies: IntCounter,
    latency: Histogram,
    runtime: Arc<Runtime>,
    labels: [String; 2],
}

impl Metrics {
    fn new(runtime: &Arc<Runtime>, ns: &Name, trigger: &Name) -> Self {
        let k = &runtime.metrics.kafka;
        let labels = [ns.as_str(), trigger.as_str()];
        Self {
            consumed: k.consumed.with_label_values(&labels),
            succeeded: k.succeeded.with_label_values(&labels),
            retried: k.retried.with_label_values(&labels),
            dead_lettered: k.dead_lettered.with_label_values(&labels),
            replies: k.replies.with_label_values(&labels),
            latency: k.latency.with_label_values(&labels),
            runtime: Arc::clone(runtime),
            labels: [ns.to_string(), trigger.to_string()],
        }
    }

    fn lag(&self, topic: &str, partition: i32) -> IntGauge {
        let partition = partition.to_string();
        self.runtime.metrics.kafka.lag.with_label_values(&[
            &self.labels[0],
            &self.labels[1],
            topic,
            &partition,
        ])
    }
}

impl Trigger {
    /// Records the trigger's health: `None` when all is well, else why not.
    fn set_health(&self, problem: Option<String>) {
        let health = TriggerHealth {
            namespace: self.namespace.clone(),
            trigger: self.name.clone(),
            healthy: problem.is_none(),
            reason: problem,
            since: Timestamp::now(),
        };
        let mut all = self.runtime.trigger_health.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (self.namespace.clone(), self.name.clone());
        let changed = all
            .get(&key)
            .is_none_or(|old| old.healthy != health.healthy || old.reason != health.reason);
        if changed {
            if let Some(reason) = &health.reason {
                tracing::warn!(trigger = %self.name, reason, "kafka trigger unhealthy");
            }
            all.insert(key, health);
            drop(all);
            // Report it now, not at the next heartbeat.
            self.runtime.applied.notify_one();
        }
    }
}

/// Runs the consumers of the registry's Kafka triggers until `shutdown`,
/// then stops them, draining and committing.
pub async fn run(runtime: Arc<Runtime>, shutdown: CancellationToken) {
    let mut running: HashMap<Key, (TriggerSpec, Name, consumer::Handle)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
            () = runtime.registry.triggers_changed.notified() => {}
        }
        let wanted: HashMap<Key, flint_api::Trigger> = runtime
            .registry
            .triggers()
            .into_iter()
            .filter(|t| matches!(t.spec, TriggerSpec::Kafka(_)))
            .map(|t| ((t.namespace.clone(), t.name.clone()), t))
            .collect();
        let stale: Vec<Key> = running
            .iter()
            .filter(|(key, (spec, function, _))| {
                wanted.get(*key).is_none_or(|t| &t.spec != spec || &t.function != function)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some((_, _, handle)) = running.remove(&key) {
                let _ = tokio::task::spawn_blocking(move || handle.stop()).await;
            }
            runtime.trigger_health.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        }
        for (key, trigger) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let TriggerSpec::Kafka(spec) = &trigger.spec else { continue };
            match start(&runtime, &trigger, spec) {
                Ok(handle) => {
                    running.insert(key, (trigger.spec.clone(), trigger.function.clone(), handle));
                }
                Err(error) => {
                    tracing::warn!(trigger = %trigger.name, %error, "cannot start the kafka consumer")
                }
            }
        }
    }
    let handles: Vec<consumer::Handle> =
        running.into_values().map(|(_, _, handle)| handle).collect();
    let _ = tokio::task::spawn_blocking(move || {
        for handle in handles {
            handle.stop();
        }
    })
    .await;
}

fn start(
    runtime: &Arc<Runtime>,
    trigger: &flint_api::Trigger,
    spec: &KafkaTrigger,
) -> Result<consumer::Handle, String> {
    let producer =
        record::producer(&spec.bootstrap_servers, &spec.properties).map_err(|e| e.to_string())?;
    let shared = Arc::new(Trigger {
        runtime: Arc::clone(runtime),
        namespace: trigger.namespace.clone(),
        name: trigger.name.clone(),
        function: trigger.function.clone(),
        spec: spec.clone(),
        producer,
        metrics: Metrics::new(runtime, &trigger.namespace, &trigger.name),
    });
    tracing::info!(trigger = %trigger.name, topics = ?spec.topics, group = %spec.group_id(&trigger.namespace, &trigger.name), "starting kafka consumer");
    consumer::start(shared, tokio::runtime::Handle::current()).map_err(|e| e.to_string())
}

/// Keeps the trigger-health map type in one place.
pub type Health = Mutex<HashMap<Key, TriggerHealth>>;
