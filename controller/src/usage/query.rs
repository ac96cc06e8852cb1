//! Reading the ledger: a period, filters and a grouping in; summed figures,
//! costs and the free tier out. The API (`GET /v1/usage`) and the dashboard
//! (`/ui`) both read through [`Ledger::query`].
//!
//! A period is covered by the coarsest records that fit: whole days from the
//! day tree, the hours at its edges from the hour tree, the minutes at
//! theirs from the minute tree. A month for a hundred functions is then a
//! few thousand records, not four million.

use std::collections::{BTreeMap, HashMap};

use flint_api::{FreeTier, Name, PricePlan, UsageSums};

use super::codec::{self, Key, Minutes, range_start};
use super::ledger::{Ledger, Plans, RESOLUTIONS};
use super::{HOUR, MINUTE, month_start};
use crate::store::Result;

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Start, seconds since the epoch, a whole minute.
    pub from: u64,
    /// End (exclusive), seconds since the epoch, a whole minute.
    pub to: u64,
    /// Only this namespace.
    pub namespace: Option<Name>,
    /// Only this function.
    pub function: Option<Name>,
    /// One group per function.
    pub by_function: bool,
    /// One group per trigger kind.
    pub by_trigger: bool,
    /// One group per time bucket of this many seconds (a multiple of 60),
    /// aligned to the epoch.
    pub step: Option<u64>,
    /// Only these namespaces (a token's scope); `None`: all.
    pub visible: Option<Vec<Name>>,
}

impl Query {
    /// Whether records of namespace `ns` (its bytes) are read.
    fn reads(&self, ns: &[u8]) -> bool {
        self.namespace.as_ref().is_none_or(|n| n.as_str().as_bytes() == ns)
            && self
                .visible
                .as_ref()
                .is_none_or(|list| list.iter().any(|n| n.as_str().as_bytes() == ns))
    }
}

/// Summed figures, with the billed quantities per price plan for pricing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acc {
    /// The sums.
    pub sums: UsageSums,
    /// `(plan, billed requests, MiB × billed µs)`.
    pub per_plan: Vec<(u64, u64, u64)>,
}

impl Acc {
    fn add(&mut self, plan: u64, sums: &UsageSums) {
        self.sums.merge(sums);
        self.add_plan(plan, sums.counts.ran(), sums.mb_billed_us);
    }

    fn add_plan(&mut self, plan: u64, requests: u64, mb_billed_us: u64) {
        match self.per_plan.iter_mut().find(|(p, _, _)| *p == plan) {
            // Records stop at u64::MAX (a batch may carry any counts), and
            // so do their sums.
            Some(entry) => {
                entry.1 = entry.1.saturating_add(requests);
                entry.2 = entry.2.saturating_add(mb_billed_us);
            }
            None => self.per_plan.push((plan, requests, mb_billed_us)),
        }
    }

    /// Adds another accumulator.
    pub fn merge(&mut self, other: &Self) {
        self.sums.merge(&other.sums);
        for (plan, requests, mb_billed_us) in &other.per_plan {
            self.add_plan(*plan, *requests, *mb_billed_us);
        }
    }

    /// `(request cost, compute cost)` under the plans the usage was recorded with.
    pub fn cost(&self, plans: &HashMap<u64, PricePlan>) -> (f64, f64) {
        self.per_plan.iter().fold((0.0, 0.0), |(r, c), (plan, requests, mb_billed_us)| match plans
            .get(plan)
        {
            Some(plan) => (r + plan.request_cost(*requests), c + plan.compute_cost(*mb_billed_us)),
            None => (r, c),
        })
    }
}

/// One group of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Start of its time bucket, with a step.
    pub start: Option<u64>,
    /// Its namespace and function, when grouping by function.
    pub function: Option<(Name, Name)>,
    /// Its trigger kind, when grouping by trigger.
    pub trigger: Option<String>,
    /// Its figures.
    pub acc: Acc,
}

/// The answer.
#[derive(Clone)]
pub struct Answer {
    /// The groups, by time, then namespace and function.
    pub groups: Vec<Group>,
    /// Everything that matched.
    pub totals: Acc,
    /// Free tier used per namespace (empty when the query names a function).
    pub free_tier: Vec<FreeTier>,
    /// The price plans.
    pub plans: Plans,
}

type GroupKey = (u64, Vec<u8>);

/// Billed `(requests, MiB × µs)` by `(bucket, plan, namespace)`, in that order.
type ByNamespace = BTreeMap<(u64, u64, Vec<u8>), (u64, u64)>;

impl Ledger {
    /// Reads the ledger.
    pub fn query(&self, query: &Query) -> Result<Answer> {
        let plans = self.plans();
        let level = max_level(query.step);
        let mut index: HashMap<GroupKey, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut totals = Acc::default();
        let function = query.function.as_ref().map(|n| n.as_str().as_bytes());
        self.scan(query.from, query.to, level, |key, sums| {
            if !query.reads(key.namespace) || function.is_some_and(|f| f != key.function) {
                return Ok(());
            }
            let start = query.step.map(|step| key.bucket / step * step);
            let mut name = Vec::new();
            if query.by_function {
                name.reserve(key.namespace.len() + key.function.len() + 1);
                name.extend_from_slice(key.namespace);
                name.push(0);
                name.extend_from_slice(key.function);
            }
            if query.by_trigger {
                name.push(0);
                name.extend_from_slice(key.trigger);
            }
            let group_key = (start.unwrap_or(0), name);
            let slot = match index.get(&group_key) {
                Some(slot) => *slot,
                None => {
                    let function = if query.by_function { Some(names(&key)?) } else { None };
                    let trigger =
                        query.by_trigger.then(|| String::from_utf8_lossy(key.trigger).into_owned());
                    groups.push(Group { start, function, trigger, acc: Acc::default() });
                    index.insert(group_key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[slot].acc.add(key.plan, sums);
            totals.add(key.plan, sums);
            Ok(())
        })?;
        groups.sort_by(|a, b| {
            (a.start, &a.function, &a.trigger).cmp(&(b.start, &b.function, &b.trigger))
        });
        let mut free_tier = if query.function.is_none() {
            self.free_tier(query.from, query.to, query.namespace.as_ref(), &plans)?
        } else {
            Vec::new()
        };
        free_tier.retain(|f| query.reads(f.namespace.as_str().as_bytes()));
        Ok(Answer { groups, totals, free_tier, plans })
    }

    /// Calls `visit` with every record of `[from, to)` (whole minutes), read
    /// from the coarsest levels up to `level` that fit.
    fn scan(
        &self,
        from: u64,
        to: u64,
        level: usize,
        mut visit: impl FnMut(Key<'_>, &UsageSums) -> Result<()>,
    ) -> Result<()> {
        let mut ranges = Vec::new();
        cover(from, to, level, &mut ranges);
        for (level, start, end) in ranges {
            if level == 0 {
                // Minute records hold whole hours: read the hours that
                // overlap, keep the minutes inside.
                let range = range_start(0, start / HOUR * HOUR)..range_start(0, end);
                for item in self.tree.range(range) {
                    let (key, value) = item?;
                    let key = Key::decode(&key)?;
                    for (offset, sums) in Minutes::decode(&value)?.0 {
                        let minute = key.bucket + u64::from(offset) * MINUTE;
                        if (start..end).contains(&minute) {
                            visit(Key { bucket: minute, ..key }, &sums)?;
                        }
                    }
                }
                continue;
            }
            let range = range_start(level as u8, start)..range_start(level as u8, end);
            for item in self.tree.range(range) {
                let (key, value) = item?;
                visit(Key::decode(&key)?, &codec::decode(&value)?)?;
            }
        }
        Ok(())
    }

    /// The free tier each namespace used in `[from, to)`. Free allowances
    /// are per namespace and calendar month (UTC) and are used up in time
    /// order, so usage from the start of each month counts; the allowance is
    /// the plan's that the usage was recorded under.
    fn free_tier(
        &self,
        from: u64,
        to: u64,
        namespace: Option<&Name>,
        plans: &Plans,
    ) -> Result<Vec<FreeTier>> {
        let any_free = plans
            .by_id
            .values()
            .any(|p| p.free_requests_per_month > 0 || p.free_gb_seconds_per_month > 0.0);
        if !any_free || from >= to {
            return Ok(Vec::new());
        }
        let mut used: BTreeMap<Vec<u8>, FreeTier> = BTreeMap::new();
        let mut month = month_start(from);
        while month < to {
            let next = month_start(month + 32 * super::DAY);
            let before = self.by_namespace(month, from.max(month), namespace)?;
            let during = self.by_namespace(from.max(month), to.min(next), namespace)?;
            // Allowance used so far this month, per namespace.
            let mut consumed: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
            for (in_period, records) in [(false, before), (true, during)] {
                for ((_, plan_id, ns), (requests, mb_billed_us)) in records {
                    let Some(plan) = plans.by_id.get(&plan_id) else { continue };
                    let (used_requests, used_mb_us) = consumed.entry(ns.clone()).or_default();
                    let free_requests =
                        plan.free_requests_per_month.saturating_sub(*used_requests).min(requests);
                    let allowance_mb_us = (plan.free_gb_seconds_per_month
                        * (flint_api::MIB_PER_GB * flint_api::MICROS_PER_SECOND) as f64)
                        as u64;
                    let free_mb_us = allowance_mb_us.saturating_sub(*used_mb_us).min(mb_billed_us);
                    *used_requests = used_requests.saturating_add(requests);
                    *used_mb_us = used_mb_us.saturating_add(mb_billed_us);
                    if in_period && (free_requests > 0 || free_mb_us > 0) {
                        let Ok(name) = String::from_utf8(ns).map(Name::try_from) else { continue };
                        let Ok(name) = name else { continue };
                        let entry =
                            used.entry(name.as_str().as_bytes().to_vec()).or_insert_with(|| {
                                FreeTier {
                                    namespace: name.clone(),
                                    requests: 0,
                                    gb_seconds: 0.0,
                                    credit: 0.0,
                                }
                            });
                        entry.requests = entry.requests.saturating_add(free_requests);
                        entry.gb_seconds += flint_api::gb_seconds(free_mb_us);
                        entry.credit += plan.cost(free_requests, free_mb_us);
                    }
                }
            }
            month = next;
        }
        Ok(used.into_values().collect())
    }

    /// Billed quantities in `[from, to)` by (bucket, plan, namespace), in that order.
    fn by_namespace(&self, from: u64, to: u64, namespace: Option<&Name>) -> Result<ByNamespace> {
        let mut out = ByNamespace::new();
        if from >= to {
            return Ok(out);
        }
        let namespace = namespace.map(|n| n.as_str().as_bytes());
        self.scan(from, to, RESOLUTIONS.len() - 1, |key, sums| {
            if namespace.is_some_and(|ns| ns != key.namespace) {
                return Ok(());
            }
            let entry = out.entry((key.bucket, key.plan, key.namespace.to_vec())).or_default();
            entry.0 = entry.0.saturating_add(sums.counts.ran());
            entry.1 = entry.1.saturating_add(sums.mb_billed_us);
            Ok(())
        })?;
        Ok(out)
    }
}

fn names(key: &Key<'_>) -> Result<(Name, Name)> {
    let name = |bytes: &[u8]| {
        std::str::from_utf8(bytes).ok().and_then(|s| s.parse::<Name>().ok()).ok_or_else(|| {
            crate::store::Error::Corrupt(<serde_json::Error as serde::de::Error>::custom(
                "a usage key holds an invalid name",
            ))
        })
    };
    Ok((name(key.namespace)?, name(key.function)?))
}

/// The coarsest tree whose buckets fit in a step: the largest resolution
/// dividing it.
fn max_level(step: Option<u64>) -> usize {
    match step {
        None => RESOLUTIONS.len() - 1,
        Some(step) => RESOLUTIONS.iter().rposition(|r| step % r == 0).unwrap_or(0),
    }
}

/// Splits `[from, to)` (whole minutes) into `(level, start, end)` ranges, in
/// time order, using the coarsest level up to `level` that fits each part.
fn cover(from: u64, to: u64, level: usize, out: &mut Vec<(usize, u64, u64)>) {
    if from >= to {
        return;
    }
    if level == 0 {
        out.push((0, from, to));
        return;
    }
    let r = RESOLUTIONS[level];
    let (first, last) = (from.div_ceil(r) * r, to / r * r);
    if first >= last {
        cover(from, to, level - 1, out);
        return;
    }
    cover(from, first, level - 1, out);
    out.push((level, first, last));
    cover(last, to, level - 1, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_covered_by_the_coarsest_records() {
        let mut out = Vec::new();
        // 23:30 on day 0 to 02:05 on day 2.
        let from = 23 * 3600 + 30 * 60;
        let to = 2 * 86_400 + 2 * 3600 + 5 * 60;
        cover(from, to, 2, &mut out);
        assert_eq!(
            out,
            vec![
                (0, from, 86_400),
                (2, 86_400, 2 * 86_400),
                (1, 2 * 86_400, 2 * 86_400 + 7200),
                (0, 2 * 86_400 + 7200, to),
            ]
        );
        assert_eq!(max_level(Some(60)), 0);
        assert_eq!(max_level(Some(7200)), 1);
        assert_eq!(max_level(Some(86_400 * 2)), 2);
        assert_eq!(max_level(None), 2);
    }
}
