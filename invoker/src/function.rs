//! One deployed function on this invoker: its settings, its admission
//! control (concurrency and queue), and whether its code is loaded.
//!
//! **Scale from zero**: a function starts unloaded; the first invocation
//! loads the precompiled artifact from disk and builds the `InstancePre`
//! ([`Function::instance_pre`]). **Scale to zero**: the reaper unloads a
//! function that ran nothing for its idle timeout ([`Function::unload_if_idle`]).
//! Either way every invocation gets a fresh instance.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use flint_api::{Digest, Limits, Name};
use flint_engine::{Host, ProxyPre};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::FunctionMetrics;

/// Why an invocation was turned away before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The function's queue is full.
    QueueFull,
    /// It waited in the queue for its whole timeout.
    QueueTimeout,
    /// Every pool slot of the process is in use.
    AtCapacity,
}

impl Rejected {
    /// A short label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::QueueTimeout => "queue_timeout",
            Self::AtCapacity => "at_capacity",
        }
    }
}

/// A function's code as deployed: what decides whether a loaded
/// `InstancePre` can be kept when the function changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The version that runs.
    pub digest: Digest,
    /// Its limits.
    pub limits: Limits,
    /// Its environment, as the guest sees it.
    pub env: Vec<(String, String)>,
}

/// A function as this invoker runs it.
pub struct Function {
    /// Its namespace.
    pub namespace: Name,
    /// Its name.
    pub name: Name,
    /// What runs.
    pub deployment: Deployment,
    /// Metric handles, resolved once.
    pub metrics: FunctionMetrics,
    loaded: RwLock<Option<ProxyPre<Host>>>,
    loading: tokio::sync::Mutex<()>,
    permits: Arc<Semaphore>,
    queued: AtomicU32,
    running: AtomicU32,
    /// Milliseconds since `epoch` of the last invocation's end.
    last_used_ms: AtomicU64,
    epoch: Instant,
}

/// Holds one of the function's concurrency slots; dropping it frees the slot.
pub struct Admission {
    function: Arc<Function>,
    _permit: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let f = &self.function;
        f.running.fetch_sub(1, Ordering::Relaxed);
        f.metrics.running().dec();
        f.touch();
    }
}

impl Function {
    /// A function that is not loaded yet.
    pub fn new(
        namespace: Name,
        name: Name,
        deployment: Deployment,
        metrics: FunctionMetrics,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(deployment.limits.concurrency as usize));
        Self {
            namespace,
            name,
            deployment,
            metrics,
            loaded: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            permits,
            queued: AtomicU32::new(0),
            running: AtomicU32::new(0),
            last_used_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The same function with new settings, keeping the loaded code if the
    /// version did not change (so a limits change is not a cold start).
    pub fn with_deployment(&self, deployment: Deployment, metrics: FunctionMetrics) -> Self {
        let next = Self::new(self.namespace.clone(), self.name.clone(), deployment, metrics);
        if next.deployment.digest == self.deployment.digest {
            *next.loaded.write().unwrap_or_else(PoisonError::into_inner) = self.loaded_pre();
        }
        next
    }

    /// Takes a concurrency slot: at once if one is free, else after waiting
    /// in the queue; refuses at once if the queue is full. `global` is the
    /// process-wide pool of instance slots.
    pub async fn admit(self: &Arc<Self>, global: &Arc<Semaphore>) -> Result<Admission, Rejected> {
        let Ok(global) = Arc::clone(global).try_acquire_owned() else {
            return Err(Rejected::AtCapacity);
        };
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let queue = self.deployment.limits.queue;
                if self.queued.fetch_add(1, Ordering::Relaxed) >= queue {
                    self.queued.fetch_sub(1, Ordering::Relaxed);
                    return Err(Rejected::QueueFull);
                }
                self.metrics.queued().inc();
                let wait = Duration::from_millis(self.deployment.limits.timeout_ms);
                let acquired =
                    tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned()).await;
                self.queued.fetch_sub(1, Ordering::Relaxed);
                self.metrics.queued().dec();
                match acquired {
                    Ok(Ok(permit)) => permit,
                    // The semaphore is never closed; a timeout is the only way here.
                    _ => return Err(Rejected::QueueTimeout),
                }
            }
        };
        self.running.fetch_add(1, Ordering::Relaxed);
        self.metrics.running().inc();
        Ok(Admission { function: Arc::clone(self), _permit: permit, _global: global })
    }

    /// The loaded `InstancePre`, if the function is loaded.
    pub fn loaded_pre(&self) -> Option<ProxyPre<Host>> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The `InstancePre` to instantiate from, loading it first if the function
    /// is scaled to zero. `load` runs at most once at a time per function;
    /// concurrent first calls wait for it. Returns whether this call loaded it.
    pub async fn instance_pre<E>(
        &self,
        load: impl AsyncFnOnce() -> Result<ProxyPre<Host>, E>,
    ) -> Result<(ProxyPre<Host>, bool), E> {
        if let Some(pre) = self.loaded_pre() {
            return Ok((pre, false));
        }
        let _loading = self.loading.lock().await;
        if let Some(pre) = self.loaded_pre() {
            return Ok((pre, false));
        }
        let pre = load().await?;
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Some(pre.clone());
        self.metrics.loaded().set(1);
        Ok((pre, true))
    }

    /// Unloads the function if nothing ran for its idle timeout. Returns
    /// whether it did.
    pub fn unload_if_idle(&self) -> bool {
        let idle = Duration::from_millis(self.deployment.limits.idle_timeout_ms);
        if self.running.load(Ordering::Relaxed) > 0 || self.queued.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let last = Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed));
        if self.epoch.elapsed().saturating_sub(last) < idle {
            return false;
        }
        let mut loaded = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        if loaded.take().is_some() {
            self.metrics.loaded().set(0);
            return true;
        }
        false
    }

    /// Whether the code is loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    fn touch(&self) {
        self.last_used_ms.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}
