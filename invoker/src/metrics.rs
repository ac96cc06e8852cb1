//! The invoker's Prometheus metrics.
//!
//! Per-function handles are resolved once when a function is deployed
//! ([`Metrics::function`]), so the request path updates metrics without a
//! label lookup; they are removed when the function goes away, which keeps
//! the label sets bounded by what is deployed.

use std::sync::{Arc, OnceLock};

use flint_api::Name;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::{Outcome, TriggerKind};

/// Buckets from 50 µs to 30 s: most Flint invocations take well under a millisecond.
const DURATION_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

/// Invoker metrics: registered once, cloned into the runtime.
#[derive(Clone)]
pub struct Metrics {
    duration: HistogramVec,
    cold_starts: HistogramVec,
    rejected: IntCounterVec,
    running: IntGaugeVec,
    queued: IntGaugeVec,
    loaded: IntGaugeVec,
    /// Time from the start of instantiation to a ready instance.
    pub instantiation_seconds: Histogram,
    /// Time to compile one version into an artifact.
    pub compile_seconds: Histogram,
    /// Log lines dropped because the shipping queue was full.
    pub logs_dropped: IntCounter,
    /// Requests the ingress could not route.
    pub unrouted: IntCounter,
    /// Schedule runs, by namespace, trigger and outcome (`ok`, `failed`): each attempt counts.
    pub schedule_runs: IntCounterVec,
    /// Seconds between a schedule's fire time and the start of its run.
    pub schedule_lag_seconds: HistogramVec,
    /// Fire times that passed without a run (missed-run policy).
    pub schedule_missed: IntCounterVec,
    /// Retries of failed schedule runs.
    pub schedule_retries: IntCounterVec,
    /// Kafka trigger metrics.
    pub kafka: KafkaMetrics,
}

/// Kafka trigger metrics, by namespace and trigger.
#[derive(Clone)]
pub struct KafkaMetrics {
    /// Records taken from the partition queues.
    pub consumed: IntCounterVec,
    /// Records the function answered 2xx.
    pub succeeded: IntCounterVec,
    /// Retries of failed records.
    pub retried: IntCounterVec,
    /// Records produced to the dead-letter topic.
    pub dead_lettered: IntCounterVec,
    /// Replies produced.
    pub replies: IntCounterVec,
    /// From taking a record to its commit becoming possible.
    pub latency: HistogramVec,
    /// Consumer lag per topic and partition, as librdkafka reports it.
    pub lag: IntGaugeVec,
}

impl KafkaMetrics {
    fn register(registry: &Registry) -> prometheus::Result<Self> {
        let labels = &["namespace", "trigger"];
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "invoker_kafka_processing_seconds",
                "Time from taking a record to having handled it.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            labels,
        )?;
        let lag = IntGaugeVec::new(
            Opts::new("invoker_kafka_consumer_lag", "Records behind the end of the partition."),
            &["namespace", "trigger", "topic", "partition"],
        )?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(Self {
            consumed: counter(
                "invoker_kafka_records_consumed_total",
                "Kafka records taken for processing.",
            )?,
            succeeded: counter(
                "invoker_kafka_records_succeeded_total",
                "Kafka records the function answered 2xx.",
            )?,
            retried: counter(
                "invoker_kafka_records_retried_total",
                "Retries of failed Kafka records.",
            )?,
            dead_lettered: counter(
                "invoker_kafka_records_dead_lettered_total",
                "Kafka records sent to the dead-letter topic.",
            )?,
            replies: counter("invoker_kafka_replies_total", "Replies produced to reply topics.")?,
            latency,
            lag,
        })
    }
}

/// The handles of one function, each created on first use so an idle
/// function adds no series.
#[derive(Clone)]
pub struct FunctionMetrics {
    metrics: Metrics,
    labels: [String; 2],
    duration: Arc<[[OnceLock<Histogram>; 4]; 4]>,
    gauges: Arc<[OnceLock<IntGauge>; 3]>,
    cold_start: Arc<OnceLock<Histogram>>,
}

impl FunctionMetrics {
    /// The duration histogram of a trigger kind and an outcome.
    pub fn duration(&self, trigger: TriggerKind, outcome: Outcome) -> &Histogram {
        self.duration[trigger as usize][outcome as usize].get_or_init(|| {
            self.metrics.duration.with_label_values(&[
                &self.labels[0],
                &self.labels[1],
                trigger.as_str(),
                outcome.as_str(),
            ])
        })
    }

    /// Cold-start (load) durations.
    pub fn cold_start(&self) -> &Histogram {
        self.cold_start.get_or_init(|| self.metrics.cold_starts.with_label_values(&self.labels))
    }

    /// Instances running.
    pub fn running(&self) -> &IntGauge {
        self.gauges[0].get_or_init(|| self.metrics.running.with_label_values(&self.labels))
    }

    /// Invocations waiting in the queue.
    pub fn queued(&self) -> &IntGauge {
        self.gauges[1].get_or_init(|| self.metrics.queued.with_label_values(&self.labels))
    }

    /// 1 while the code is loaded, 0 when scaled to zero.
    pub fn loaded(&self) -> &IntGauge {
        self.gauges[2].get_or_init(|| self.metrics.loaded.with_label_values(&self.labels))
    }

    /// Counts a rejection.
    pub fn rejected(&self, reason: &str) {
        self.metrics.rejected.with_label_values(&[&self.labels[0], &self.labels[1], reason]).inc();
    }
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "invoker_invocation_duration_seconds",
                "Guest wall time of invocations that ran, by function, trigger and outcome.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["namespace", "function", "trigger", "outcome"],
        )?;
        let cold_starts = HistogramVec::new(
            HistogramOpts::new(
                "invoker_cold_start_duration_seconds",
                "Time to load a function scaled to zero (artifact from disk to InstancePre).",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["namespace", "function"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new("invoker_rejected_total", "Invocations refused before running, by reason."),
            &["namespace", "function", "reason"],
        )?;
        let running = IntGaugeVec::new(
            Opts::new("invoker_instances_running", "Instances running now."),
            &["namespace", "function"],
        )?;
        let queued = IntGaugeVec::new(
            Opts::new("invoker_queue_depth", "Invocations waiting for a free instance."),
            &["namespace", "function"],
        )?;
        let loaded = IntGaugeVec::new(
            Opts::new(
                "invoker_function_loaded",
                "1 while a function's code is loaded, 0 when scaled to zero.",
            ),
            &["namespace", "function"],
        )?;
        let instantiation_seconds = Histogram::with_opts(
            HistogramOpts::new("invoker_instantiation_seconds", "Time to create one instance.")
                .buckets(DURATION_BUCKETS.to_vec()),
        )?;
        let compile_seconds = Histogram::with_opts(
            HistogramOpts::new("invoker_compile_duration_seconds", "Time to compile one version.")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let logs_dropped = IntCounter::new(
            "invoker_log_lines_dropped_total",
            "Guest log lines dropped because shipping to the controller fell behind.",
        )?;
        let unrouted =
            IntCounter::new("invoker_http_unrouted_total", "HTTP requests that matched no route.")?;
        let schedule_runs = IntCounterVec::new(
            Opts::new("invoker_schedule_runs_total", "Schedule run attempts by outcome."),
            &["namespace", "trigger", "outcome"],
        )?;
        let schedule_lag_seconds = HistogramVec::new(
            HistogramOpts::new(
                "invoker_schedule_lag_seconds",
                "Time from a schedule's fire time to the start of its run.",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0]),
            &["namespace", "trigger"],
        )?;
        let schedule_missed = IntCounterVec::new(
            Opts::new(
                "invoker_schedule_missed_total",
                "Schedule fire times that passed without a run.",
            ),
            &["namespace", "trigger"],
        )?;
        let schedule_retries = IntCounterVec::new(
            Opts::new("invoker_schedule_retries_total", "Retries of failed schedule runs."),
            &["namespace", "trigger"],
        )?;
        for metric in [&schedule_runs, &schedule_missed, &schedule_retries] {
            registry.register(Box::new(metric.clone()))?;
        }
        registry.register(Box::new(schedule_lag_seconds.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(cold_starts.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(running.clone()))?;
        registry.register(Box::new(queued.clone()))?;
        registry.register(Box::new(loaded.clone()))?;
        registry.register(Box::new(instantiation_seconds.clone()))?;
        registry.register(Box::new(compile_seconds.clone()))?;
        registry.register(Box::new(logs_dropped.clone()))?;
        registry.register(Box::new(unrouted.clone()))?;
        Ok(Self {
            duration,
            cold_starts,
            rejected,
            running,
            queued,
            loaded,
            instantiation_seconds,
            compile_seconds,
            logs_dropped,
            unrouted,
            schedule_runs,
            schedule_lag_seconds,
            schedule_missed,
            schedule_retries,
            kafka: KafkaMetrics::register(registry)?,
        })
    }

    /// Counts a rejection of a function that may have no handles (its
    /// route exists, its code may not yet). `reason` is one of a fixed set.
    pub fn rejected(&self, ns: &Name, name: &Name, reason: &str) {
        self.rejected.with_label_values(&[ns.as_str(), name.as_str(), reason]).inc();
    }

    /// The handles of one function.
    pub fn function(&self, ns: &Name, name: &Name) -> FunctionMetrics {
        FunctionMetrics {
            metrics: self.clone(),
            labels: [ns.to_string(), name.to_string()],
            duration: Arc::default(),
            gauges: Arc::default(),
            cold_start: Arc::default(),
        }
    }

    /// Removes every series of a function that was deleted.
    pub fn remove_function(&self, ns: &Name, name: &Name) {
        let (ns, name) = (ns.as_str(), name.as_str());
        for trigger in TriggerKind::ALL {
            for outcome in Outcome::RAN {
                let _ = self.duration.remove_label_values(&[
                    ns,
                    name,
                    trigger.as_str(),
                    outcome.as_str(),
                ]);
            }
        }
        for vec in [&self.running, &self.queued, &self.loaded] {
            let _ = vec.remove_label_values(&[ns, name]);
        }
        let _ = self.cold_starts.remove_label_values(&[ns, name]);
        let reasons = ["queue_full", "queue_timeout", "at_capacity", "not_ready"];
        for reason in reasons.into_iter().chain(crate::access::REASONS) {
            let _ = self.rejected.remove_label_values(&[ns, name, reason]);
        }
    }
}
