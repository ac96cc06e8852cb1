//! The usage ledger in sled: applying invokers' batches exactly once, and
//! the price plans.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use flint_api::{PricePlan, PricePlanSpec, Timestamp, UsageBatch, UsageSums};

use super::codec::{self, Key, Minutes, version_prefix};
use super::{DAY, HOUR, MINUTE};

use crate::store::{Error, Result};

/// The ledger. One per controller, on the store's sled database.
pub struct Ledger {
    pub(super) db: sled::Db,
    /// Records per minute (an hour of them per record), hour and day (key
    /// levels 0, 1, 2): every batch
    /// updates all three, so a report over a month reads days, not 43,200
    /// minutes per function. Beside them, under [`SEEN`], the highest batch
    /// `seq` applied per invoker boot. One tree, so a batch is one atomic
    /// `sled::Batch` (several times faster than a multi-tree transaction).
    pub(super) tree: sled::Tree,
    /// Price plans by id (u64 BE), JSON; the last one is in force.
    plans: sled::Tree,
    writer: Mutex<()>,
    cache: RwLock<Plans>,
}

/// The plans, cached: they change rarely and every report prices with them.
#[derive(Debug, Default, Clone)]
pub struct Plans {
    /// Every plan by id.
    pub by_id: HashMap<u64, PricePlan>,
    /// The plan in force.
    pub current: PricePlan,
}

/// The key prefix of the high-water marks: `SEEN · invoker · 0 · boot`.
const SEEN: u8 = 0xff;

/// The resolutions of the ledger's levels, finest first.
pub(super) const RESOLUTIONS: [u64; 3] = [MINUTE, HOUR, DAY];

impl Ledger {
    /// Opens the ledger's trees in `db`. A store without a plan gets one
    /// from `spec` over the defaults; otherwise a non-empty `spec` that
    /// changes the plan in force stores a new plan.
    pub fn open(db: &sled::Db, spec: Option<&PricePlanSpec>) -> Result<Self> {
        let ledger = Self {
            tree: db.open_tree("usage_ledger")?,
            plans: db.open_tree("usage_plans")?,
            db: db.clone(),
            writer: Mutex::new(()),
            cache: RwLock::default(),
        };
        let mut plans = Plans::default();
        for item in ledger.plans.iter() {
            let (_, value) = item?;
            let plan: PricePlan = serde_json::from_slice(&value).map_err(Error::Corrupt)?;
            plans.current = plan.clone();
            plans.by_id.insert(plan.id, plan);
        }
        *ledger.cache.write().unwrap_or_else(PoisonError::into_inner) = plans;
        let empty = PricePlanSpec::default();
        let spec = spec.unwrap_or(&empty);
        if ledger.plans.is_empty() || !spec.is_empty() {
            ledger.set_plan(spec)?;
        }
        Ok(ledger)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every plan, and the one in force.
    pub fn plans(&self) -> Plans {
        self.cache.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The plan in force.
    pub fn plan(&self) -> PricePlan {
        self.cache.read().unwrap_or_else(PoisonError::into_inner).current.clone()
    }

    /// Applies `spec` to the plan in force. Stores a new plan (the next id)
    /// if anything changes; returns the plan in force afterwards.
    pub fn set_plan(&self, spec: &PricePlanSpec) -> Result<PricePlan> {
        let _writer = self.lock();
        let current = self.plan();
        let next = spec.apply(&current).map_err(|e| Error::Conflict(e.to_string()))?;
        if current.id != 0 && next == current {
            return Ok(current);
        }
        let next = PricePlan { id: current.id + 1, created_at: Timestamp::now(), ..next };
        let value = serde_json::to_vec(&next).map_err(Error::Corrupt)?;
        self.plans.insert(next.id.to_be_bytes(), value)?;
        self.db.flush()?;
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.by_id.insert(next.id, next.clone());
        cache.current = next.clone();
        if current.id == 0 {
            tracing::debug!(plan = next.id, "price plan created");
        } else {
            tracing::info!(plan = next.id, granularity_us = next.granularity_us, "price plan set");
        }
        Ok(next)
    }

    /// Applies a batch atomically and flushes it to disk. Returns false,
    /// changing nothing, if this boot's batch `seq` or a later one was
    /// applied before (a repeat after a lost acknowledgement).
    ///
    /// The writer lock makes the reads and the batch one step: nothing else
    /// writes the ledger's tree.
    pub fn apply(&self, batch: &UsageBatch) -> Result<bool> {
        let _writer = self.lock();
        let mut seen_key = vec![SEEN];
        seen_key.extend_from_slice(batch.invoker.as_bytes());
        seen_key.push(0);
        seen_key.extend_from_slice(&batch.boot.to_be_bytes());
        if let Some(last) = self.tree.get(&seen_key)?
            && decode_u64(&last) >= batch.seq
        {
            return Ok(false);
        }
        let plans = self.plans();
        // Merge the batch in memory first: one read and one write per key.
        let mut minutes: HashMap<Vec<u8>, Minutes> = HashMap::new();
        let mut rollups: HashMap<Vec<u8>, UsageSums> = HashMap::new();
        for aggregate in &batch.aggregates {
            let plan = if plans.by_id.contains_key(&aggregate.plan) {
                aggregate.plan
            } else {
                plans.current.id
            };
            let start = aggregate.minute.saturating_mul(MINUTE);
            let hour = start / HOUR * HOUR;
            for (level, resolution) in RESOLUTIONS.into_iter().enumerate() {
                let key = Key {
                    level: level as u8,
                    // Minute-level records hold an hour of minutes.
                    bucket: start / resolution.max(HOUR) * resolution.max(HOUR),
                    namespace: aggregate.namespace.as_str().as_bytes(),
                    function: aggregate.function.as_str().as_bytes(),
                    trigger: aggregate.trigger.as_bytes(),
                    plan,
                    version: version_prefix(&aggregate.version),
                }
                .encode();
                if level == 0 {
                    let offset = ((start - hour) / MINUTE) as u8;
                    minutes.entry(key).or_default().add(offset, &aggregate.sums);
                } else {
                    rollups.entry(key).or_default().merge(&aggregate.sums);
                }
            }
        }
        let mut writes = sled::Batch::default();
        for (key, mut delta) in minutes {
            if let Some(old) = self.tree.get(&key)? {
                let mut old = Minutes::decode(&old)?;
                old.merge(&delta);
                delta = old;
            }
            writes.insert(key, delta.encode());
        }
        for (key, mut delta) in rollups {
            if let Some(old) = self.tree.get(&key)? {
                delta.merge(&codec::decode(&old)?);
            }
            writes.insert(key, codec::encode(&delta));
        }
        writes.insert(seen_key, &batch.seq.to_be_bytes());
        self.tree.apply_batch(writes)?;
        self.db.flush()?;
        Ok(true)
    }
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
