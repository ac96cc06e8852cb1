//! Metering: every invocation leaves a record, summed per function,
//! version, trigger kind and minute, spooled to disk and shipped to the
//! controller's usage ledger.
//!
//! - [`Meter::record`] runs once per invocation, on the request path: it
//!   adds the record to one of a few sharded maps (each worker thread keeps
//!   to its own shard, so the lock is never contended) and allocates only
//!   when a function first runs in a minute.
//! - Every flush interval (100 ms by default) a thread of its own swaps
//!   the maps out and writes them to the spool as one batch file
//!   ([`spool`]); a task ships spooled batches to the controller in order
//!   and deletes each file once the controller has acknowledged it
//!   ([`ship`]). On start, whatever an earlier run left in the spool is
//!   shipped first.
//! - The controller applies a batch once, by its id, so a batch shipped
//!   twice (the ack was lost, or the invoker died before deleting its file)
//!   counts once.
//!
//! The loss bound: usage is on disk within one flush interval of the
//! invocation's end. `kill -9` of the invoker loses at most the invocations
//! that ended in the last interval before it (and a machine crash, what the
//! page cache had not written). Writing every record to disk before
//! answering would cost an fsync per request.
//!
//! Rounding to the billing granularity happens here, per invocation, with
//! the price plan the controller last sent (in every batch acknowledgement,
//! and fetched every few seconds); each aggregate carries the plan id it was
//! rounded under.

pub mod ship;
pub mod spool;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use flint_api::{DurationHistogram, PricePlan, UsageAggregate, UsageSums};
use prometheus::{CounterVec, IntCounter, IntGauge, Opts, Registry};

use crate::function::Function;
use crate::invoke::{Outcome, TriggerKind};

/// Shards of the aggregation maps: more than the worker threads of a
/// machine Flint runs on, so threads rarely share one.
const SHARDS: usize = 16;

/// What one invocation that ran leaves behind.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// What started it.
    pub trigger: TriggerKind,
    /// When it started, µs since the Unix epoch.
    pub start_us: u64,
    /// Guest wall time, instantiation included, µs.
    pub wall_us: u64,
    /// Instantiation time, µs.
    pub instantiate_us: u64,
    /// Load time if this invocation loaded the function (a cold start), µs.
    pub cold_start_us: Option<u64>,
    /// Peak linear memory, bytes.
    pub peak_memory_bytes: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// The invoker's meter. Cheap to call; does nothing when metering is off.
pub struct Meter {
    enabled: bool,
    shards: Box<[Mutex<Shard>]>,
    /// The plan invocations are rounded with: its id and granularity.
    plan_id: AtomicU64,
    granularity_us: AtomicU64,
    /// Set once the controller has sent a plan (else a remembered or default one is used).
    plan_known: AtomicBool,
    byte_seconds: CounterVec,
    /// Batches in the spool, not yet acknowledged by the controller.
    pub spool_pending: IntGauge,
    /// Failed writes to the spool.
    pub spool_errors: IntCounter,
    /// Failed attempts to ship a batch.
    pub ship_failures: IntCounter,
}

/// A map key: the function (by address; the entry holds the `Arc`, so the
/// address cannot be reused while the entry exists), the trigger kind, the
/// minute and the plan.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    function: usize,
    trigger: u8,
    minute: u64,
    plan: u64,
}

struct Entry {
    function: Arc<Function>,
    trigger: TriggerKind,
    sums: UsageSums,
}

type Shard = HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>;

impl Meter {
    /// A meter; `enabled: false` makes every call a no-op.
    pub fn new(enabled: bool, registry: &Registry) -> prometheus::Result<Self> {
        let byte_seconds = CounterVec::new(
            Opts::new(
                "invoker_billable_memory_byte_seconds_total",
                "Configured memory × billed duration of invocations, as metered for billing \
                 (GB-seconds × 2^30; Prometheus wants base units).",
            ),
            &["namespace", "function"],
        )?;
        let spool_pending = IntGauge::new(
            "invoker_usage_spool_batches",
            "Usage batches on disk that the controller has not acknowledged yet.",
        )?;
        let spool_errors = IntCounter::new(
            "invoker_usage_spool_errors_total",
            "Failed writes of usage batches to the spool (retried with the next flush).",
        )?;
        let ship_failures = IntCounter::new(
            "invoker_usage_ship_failures_total",
            "Failed attempts to ship a usage batch to the controller (retried).",
        )?;
        registry.register(Box::new(byte_seconds.clone()))?;
        registry.register(Box::new(spool_pending.clone()))?;
        registry.register(Box::new(spool_errors.clone()))?;
        registry.register(Box::new(ship_failures.clone()))?;
        let default = PricePlan::default();
        Ok(Self {
            enabled,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            plan_id: AtomicU64::new(default.id),
            granularity_us: AtomicU64::new(default.granularity_us),
            plan_known: AtomicBool::new(false),
            byte_seconds,
            spool_pending,
            spool_errors,
            ship_failures,
        })
    }

    /// Whether metering is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Uses `plan` for the invocations from now on.
    pub fn set_plan(&self, plan: &PricePlan) {
        self.granularity_us.store(plan.granularity_us.max(1), Ordering::Relaxed);
        self.plan_id.store(plan.id, Ordering::Relaxed);
        self.plan_known.store(true, Ordering::Relaxed);
    }

    /// The plan id and granularity in use.
    pub fn plan(&self) -> (u64, u64) {
        (self.plan_id.load(Ordering::Relaxed), self.granularity_us.load(Ordering::Relaxed))
    }

    /// Whether the controller has sent a plan since this invoker started.
    pub fn plan_known(&self) -> bool {
        self.plan_known.load(Ordering::Relaxed)
    }

    /// Records an invocation that ran.
    pub fn record(&self, function: &Arc<Function>, record: &Record) {
        if !self.enabled {
            return;
        }
        self.with_entry(function, record.trigger, record.start_us, |sums| {
            match record.outcome {
                Outcome::Ok => sums.counts.ok += 1,
                Outcome::Error => sums.counts.error += 1,
                Outcome::Timeout => sums.counts.timeout += 1,
                Outcome::OutOfMemory => sums.counts.out_of_memory += 1,
            }
            let billed = flint_api::billed_us(record.wall_us, sums.granularity_us);
            sums.wall_us += record.wall_us;
            sums.billed_us += billed;
            sums.mb_billed_us += sums.memory_mb.saturating_mul(billed);
            sums.instantiate_us += record.instantiate_us;
            if let Some(us) = record.cold_start_us {
                sums.cold_starts += 1;
                sums.cold_start_us += us;
            }
            sums.peak_memory_bytes = sums.peak_memory_bytes.max(record.peak_memory_bytes);
            sums.histogram.add_to(DurationHistogram::bucket(record.wall_us), 1);
        });
    }

    /// Records an invocation turned away before it ran (not billed).
    pub fn rejected(&self, function: &Arc<Function>, trigger: TriggerKind) {
        if !self.enabled {
            return;
        }
        self.with_entry(function, trigger, now_us(), |sums| sums.counts.rejected += 1);
    }

    fn with_entry(
        &self,
        function: &Arc<Function>,
        trigger: TriggerKind,
        start_us: u64,
        update: impl FnOnce(&mut UsageSums),
    ) {
        let (plan, granularity_us) = self.plan();
        let key = Key {
            function: Arc::as_ptr(function) as usize,
            trigger: trigger as u8,
            minute: start_us / 60_000_000,
            plan,
        };
        let mut shard = self.shards[shard_index()].lock().unwrap_or_else(PoisonError::into_inner);
        let entry = shard.entry(key).or_insert_with(|| Entry {
            function: Arc::clone(function),
            trigger,
            sums: UsageSums {
                memory_mb: u64::from(function.deployment.limits.memory_mb),
                granularity_us,
                ..UsageSums::default()
            },
        });
        update(&mut entry.sums);
    }

    /// Takes everything recorded so far, as aggregates (one per function
    /// version, trigger kind, minute and plan), and counts the billable
    /// memory-seconds in Prometheus.
    pub fn take(&self) -> Vec<UsageAggregate> {
        let mut merged: HashMap<Key, Entry, BuildHasherDefault<KeyHasher>> = HashMap::default();
        for shard in self.shards.iter() {
            let taken = std::mem::take(&mut *shard.lock().unwrap_or_else(PoisonError::into_inner));
            for (key, entry) in taken {
                match merged.get_mut(&key) {
                    Some(into) => into.sums.merge(&entry.sums),
                    None => {
                        merged.insert(key, entry);
                    }
                }
            }
        }
        merged
            .into_iter()
            .map(|(key, entry)| {
                let function = &entry.function;
                if entry.sums.mb_billed_us > 0 {
                    // MiB × µs to byte-seconds.
                    let byte_seconds = entry.sums.mb_billed_us as f64 * (1u64 << 20) as f64 / 1e6;
                    self.byte_seconds
                        .with_label_values(&[function.namespace.as_str(), function.name.as_str()])
                        .inc_by(byte_seconds);
                }
                UsageAggregate {
                    namespace: function.namespace.clone(),
                    function: function.name.clone(),
                    version: function.deployment.digest.clone(),
                    trigger: entry.trigger.as_str().to_owned(),
                    minute: key.minute,
                    plan: key.plan,
                    sums: entry.sums,
                }
            })
            .collect()
    }
}

/// The shard of the calling thread: threads are given shards round robin
/// on first use.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// A hasher for [`Key`]s: four integers, hashed with a multiply-rotate
/// (FxHash's), several times faster than SipHash. Keys come from this
/// process, not from clients, so there is nothing to flood.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use flint_api::{Digest, Limits, Name};

    use super::*;
    use crate::function::Deployment;
    use crate::metrics::Metrics;

    fn function(name: &str, memory_mb: u32) -> Arc<Function> {
        let metrics = Metrics::register(&Registry::new()).unwrap();
        let (ns, name) = (Name::default_namespace(), name.parse::<Name>().unwrap());
        let deployment = Deployment {
            digest: Digest::from_sha256(&[3; 32]),
            limits: Limits { memory_mb, ..Limits::default() },
            env: vec![],
        };
        Arc::new(Function::new(ns.clone(), name.clone(), deployment, metrics.function(&ns, &name)))
    }

    fn record(start_us: u64, wall_us: u64, outcome: Outcome) -> Record {
        Record {
            trigger: TriggerKind::Http,
            start_us,
            wall_us,
            instantiate_us: 5,
            cold_start_us: None,
            peak_memory_bytes: wall_us,
            outcome,
        }
    }

    #[test]
    fn records_sum_per_function_minute_and_plan_across_threads() {
        let registry = Registry::new();
        let meter = Arc::new(Meter::new(true, &registry).unwrap());
        meter.set_plan(&PricePlan { id: 4, granularity_us: 1000, ..PricePlan::default() });
        let f = function("f", 256);
        let minute = 60_000_000 * 29_000_000;
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (meter, f) = (Arc::clone(&meter), Arc::clone(&f));
                std::thread::spawn(move || {
                    meter.record(&f, &record(minute + i, 1500, Outcome::Ok));
                    meter.record(&f, &record(minute + 60_000_000, 10, Outcome::Error));
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        meter.rejected(&f, TriggerKind::Invoke);

        let mut aggregates = meter.take();
        aggregates.sort_by_key(|a| (a.minute, a.trigger.clone()));
        assert_eq!(aggregates.len(), 3, "{aggregates:#?}");
        let first = &aggregates[0];
        assert_eq!((first.sums.counts.ok, first.plan, first.sums.granularity_us), (4, 4, 1000));
        // 1.5 ms rounds up to 2 ms; 256 MiB.
        assert_eq!((first.sums.wall_us, first.sums.billed_us), (6000, 8000));
        assert_eq!(first.sums.mb_billed_us, 256 * 8000);
        assert_eq!(first.sums.peak_memory_bytes, 1500);
        assert_eq!(first.sums.histogram.count(), 4);
        assert_eq!(aggregates[1].sums.counts.error, 4);
        assert_eq!(aggregates[1].sums.billed_us, 4000);
        assert!(aggregates.iter().any(|a| a.trigger == "invoke" && a.sums.counts.rejected == 1));
        assert!(meter.take().is_empty(), "taken once");

        let off = Meter::new(false, &Registry::new()).unwrap();
        off.record(&f, &record(minute, 1, Outcome::Ok));
        assert!(off.take().is_empty());
    }
}
