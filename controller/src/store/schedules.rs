//! The store's part in running schedules exactly once: the scheduler lease,
//! a cursor per schedule trigger (the newest fire time recorded), and each
//! trigger's recent runs.
//!
//! The invoker holding the lease records every fire time here before running
//! it ([`Store::record_fire`]); a record is accepted only with the current
//! lease epoch and only for a time after the cursor, so no time is recorded
//! twice, even across a change of leader.

use flint_api::scheduler::{Cursor, Fire, Lease, LeaseRequest, Run, RunOutcome, ScheduleStatus};
use flint_api::{Name, Timestamp, TriggerSpec};
use jiff::SignedDuration;

use super::{Error, Result, Store, TreeId, Write, decode, get, key2, prefix2, put};

const LEASE_KEY: &[u8] = b"scheduler_lease";
/// Runs kept per trigger.
pub const RUNS_KEPT: usize = 100;
/// How far ahead of the controller's clock a recorded fire time may be
/// (clock skew between an invoker and the controller).
const MAX_FIRE_AHEAD: SignedDuration = SignedDuration::from_secs(60);
/// Upcoming fire times shown in a schedule's status.
const UPCOMING: usize = 5;

#[derive(serde::Serialize, serde::Deserialize)]
struct CursorRecord {
    last_scheduled: Timestamp,
}

impl Store {
    /// A cursor starting now, to write with a new or changed schedule trigger.
    pub(super) fn new_cursor(&self, ns: &Name, name: &Name) -> Result<Write> {
        put(TreeId::Cursors, key2(ns, name), &CursorRecord { last_scheduled: Timestamp::now() })
    }

    /// Takes, renews or releases the lease. It goes to the asker if nobody
    /// holds it, the asker holds it, or it expired; the epoch grows when it
    /// changes hands.
    pub fn scheduler_lease(&self, request: &LeaseRequest) -> Result<Lease> {
        let _writer = self.lock();
        let now = Timestamp::now();
        let current: Option<Lease> = get(&self.meta, LEASE_KEY)?;
        let current = current.unwrap_or(Lease { holder: None, epoch: 0, expires_at: now });
        let mine = current.holder.as_deref() == Some(request.invoker.as_str());
        let free = current.holder.is_none() || current.expires_at <= now;
        let next = if request.release {
            if !mine {
                return Ok(current);
            }
            Lease { holder: None, epoch: current.epoch, expires_at: now }
        } else if mine || free {
            let ttl = SignedDuration::from_millis(request.ttl_ms.min(60_000) as i64);
            let epoch = if mine { current.epoch } else { current.epoch + 1 };
            Lease {
                holder: Some(request.invoker.clone()),
                epoch,
                expires_at: now.saturating_add(ttl).unwrap_or(now),
            }
        } else {
            return Ok(current);
        };
        let writes = vec![put(TreeId::Meta, LEASE_KEY.to_vec(), &next)?];
        self.commit(writes, Vec::new())?;
        Ok(next)
    }

    /// Records that the leader fires `fire.scheduled`, and the times it
    /// decided were missed. Refused with a conflict for a stale epoch, a
    /// trigger that is not a schedule, or a time not after the cursor.
    pub fn record_fire(&self, fire: &Fire) -> Result<()> {
        let _writer = self.lock();
        let lease: Option<Lease> = get(&self.meta, LEASE_KEY)?;
        let Some(invoker) = lease.filter(|l| l.epoch == fire.epoch).and_then(|l| l.holder) else {
            return Err(Error::NotLeader(format!(
                "epoch {} is not the current scheduler lease (another invoker leads now)",
                fire.epoch
            )));
        };
        // The leader records a time when it is due: one far ahead would move
        // the cursor past every time until then and stop the schedule.
        let now = Timestamp::now();
        if fire.scheduled > now.saturating_add(MAX_FIRE_AHEAD).unwrap_or(now) {
            return Err(Error::Conflict(format!(
                "fire time {} is more than {}s ahead of the controller's clock",
                fire.scheduled,
                MAX_FIRE_AHEAD.as_secs()
            )));
        }
        let trigger = self.trigger(&fire.namespace, &fire.trigger)?;
        if !matches!(trigger.spec, TriggerSpec::Schedule(_)) {
            return Err(Error::Conflict(format!("trigger `{}` is not a schedule", fire.trigger)));
        }
        let key = key2(&fire.namespace, &fire.trigger);
        let cursor: Option<CursorRecord> = get(&self.cursors, &key)?;
        if let Some(cursor) = cursor
            && fire.scheduled <= cursor.last_scheduled
        {
            return Err(Error::Conflict(format!(
                "{} is not after the last recorded fire time {}",
                fire.scheduled, cursor.last_scheduled
            )));
        }
        let writes =
            vec![put(TreeId::Cursors, key, &CursorRecord { last_scheduled: fire.scheduled })?];
        self.commit(writes, Vec::new())?;
        let missed = fire.missed.iter().map(|&scheduled| Run {
            scheduled,
            started: None,
            lag_ms: 0,
            duration_ms: 0,
            outcome: RunOutcome::Missed,
            attempt: 0,
            status: None,
            error: None,
            invoker: invoker.clone(),
        });
        self.add_runs(&fire.namespace, &fire.trigger, missed)
    }

    /// Every schedule trigger's cursor.
    pub fn cursors(&self) -> Result<Vec<Cursor>> {
        let mut cursors = Vec::new();
        for item in self.cursors.iter() {
            let (key, value) = item?;
            let record: CursorRecord = decode(&value)?;
            let key = String::from_utf8_lossy(&key);
            let Some((ns, trigger)) = key.split_once('/') else { continue };
            let (Ok(namespace), Ok(trigger)) = (ns.parse(), trigger.parse()) else { continue };
            cursors.push(Cursor { namespace, trigger, last_scheduled: record.last_scheduled });
        }
        Ok(cursors)
    }

    /// Stores run attempts, keeping the newest `RUNS_KEPT` per trigger.
    /// Runs of a trigger that no longer exists are dropped.
    pub fn add_runs(
        &self,
        ns: &Name,
        trigger: &Name,
        runs: impl IntoIterator<Item = Run>,
    ) -> Result<()> {
        if self.cursors.get(key2(ns, trigger))?.is_none() {
            return Ok(());
        }
        for run in runs {
            let key = run_key(ns, trigger, &run);
            self.runs.insert(key, serde_json::to_vec(&run).map_err(Error::Corrupt)?)?;
        }
        let keys: Vec<sled::IVec> = self
            .runs
            .scan_prefix(prefix2(ns, trigger))
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        for key in keys.iter().take(keys.len().saturating_sub(RUNS_KEPT)) {
            self.runs.remove(key)?;
        }
        Ok(())
    }

    /// A schedule trigger's cursor, next fire times and newest runs.
    pub fn schedule_status(&self, ns: &Name, name: &Name) -> Result<ScheduleStatus> {
        let trigger = self.trigger(ns, name)?;
        let TriggerSpec::Schedule(spec) = &trigger.spec else {
            return Err(Error::Conflict(format!("trigger `{name}` is not a schedule")));
        };
        let cursor: Option<CursorRecord> = get(&self.cursors, &key2(ns, name))?;
        let last_scheduled = cursor.map_or(trigger.created_at, |c| c.last_scheduled);
        let now = Timestamp::now();
        let next = spec
            .validate()
            .map(|s| s.upcoming(now.max(last_scheduled), UPCOMING))
            .unwrap_or_default();
        let mut runs = Vec::new();
        for item in self.runs.scan_prefix(prefix2(ns, name)).values().rev() {
            runs.push(decode(&item?)?);
        }
        Ok(ScheduleStatus { last_scheduled, next, runs })
    }

    /// Removes a trigger's runs (it was deleted).
    pub(super) fn forget_runs(&self, ns: &Name, trigger: &Name) -> Result<()> {
        for key in self.runs.scan_prefix(prefix2(ns, trigger)).keys() {
            self.runs.remove(key?)?;
        }
        Ok(())
    }
}

/// Runs sort by scheduled time, then attempt.
fn run_key(ns: &Name, trigger: &Name, run: &Run) -> Vec<u8> {
    let nanos = run.scheduled.as_nanosecond().max(0);
    format!("{ns}/{trigger}/{nanos:030}/{:05}", run.attempt).into_bytes()
}
