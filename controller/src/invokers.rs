//! The invokers that have registered, and which of them are healthy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use flint_api::{InvokerInfo, InvokerStatus, Timestamp};

/// An invoker that has not reported for this long gets no invocations.
/// Invokers report every few seconds (see `flint-invoker`).
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(15);
/// An invoker silent for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Most invokers remembered at once: registrations are in memory, so their
/// number is bounded even if a cluster credential leaks.
pub const MAX_INVOKERS: usize = 1000;

/// Registered invokers, in memory: they re-register within seconds after a
/// controller restart.
#[derive(Default)]
pub struct Invokers {
    known: Mutex<HashMap<String, Seen>>,
    next: AtomicUsize,
}

struct Seen {
    info: InvokerInfo,
    at: Instant,
    time: Timestamp,
}

impl Invokers {
    /// Records a registration; refuses a new invoker past [`MAX_INVOKERS`].
    pub fn register(&self, info: InvokerInfo) -> Result<(), String> {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|_, seen| seen.at.elapsed() < FORGET_AFTER);
        if known.len() >= MAX_INVOKERS && !known.contains_key(&info.id) {
            return Err(format!("{MAX_INVOKERS} invokers are registered already"));
        }
        known.insert(info.id.clone(), Seen { info, at: Instant::now(), time: Timestamp::now() });
        Ok(())
    }

    /// Every known invoker, by id.
    pub fn list(&self) -> Vec<InvokerStatus> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<InvokerStatus> = known
            .values()
            .map(|seen| InvokerStatus {
                info: seen.info.clone(),
                last_seen: seen.time,
                healthy: seen.at.elapsed() < HEALTHY_WITHIN,
            })
            .collect();
        list.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        list
    }

    /// What the healthy invokers last reported about one trigger.
    pub fn trigger_status(
        &self,
        ns: &flint_api::Name,
        trigger: &flint_api::Name,
    ) -> Vec<flint_api::TriggerStatus> {
        self.list()
            .into_iter()
            .filter(|status| status.healthy)
            .flat_map(|status| {
                let invoker = status.info.id;
                status
                    .info
                    .triggers
                    .into_iter()
                    .filter(|h| &h.namespace == ns && &h.trigger == trigger)
                    .map(move |health| flint_api::TriggerStatus {
                        invoker: invoker.clone(),
                        health,
                    })
            })
            .collect()
    }

    /// A healthy invoker, round robin.
    pub fn pick(&self) -> Option<InvokerInfo> {
        let healthy: Vec<InvokerInfo> = self
            .list()
            .into_iter()
            .filter(|status| status.healthy)
            .map(|status| status.info)
            .collect();
        if healthy.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % healthy.len();
        healthy.into_iter().nth(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> InvokerInfo {
        InvokerInfo {
            id: id.into(),
            http_url: "http://127.0.0.1:1".into(),
            admin_url: "http://127.0.0.1:2".into(),
            version: "0".into(),
            revision: 0,
            started_at: Timestamp::UNIX_EPOCH,
            triggers: Vec::new(),
        }
    }

    #[test]
    fn round_robin_over_healthy_invokers() {
        let invokers = Invokers::default();
        assert!(invokers.pick().is_none());
        invokers.register(info("a")).unwrap();
        invokers.register(info("b")).unwrap();
        let picks: Vec<String> = (0..4).map(|_| invokers.pick().unwrap().id).collect();
        assert_eq!(picks.iter().filter(|id| *id == "a").count(), 2);
        assert_eq!(invokers.list().len(), 2);
    }
}
