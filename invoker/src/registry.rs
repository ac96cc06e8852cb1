//! What this invoker knows: the functions and triggers from the change feed,
//! the routing table derived from them, and the token grants and namespace
//! states ([`Access`]).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use flint_api::{Change, Digest, Function as ApiFunction, Name, Trigger, TriggerSpec, Watch};

use crate::access::Access;
use crate::function::{Deployment, Function};
use crate::metrics::Metrics;
use crate::routes::Routes;

type Key = (Name, Name);

/// Functions by namespace, then name: looked up on every request without
/// building a key.
type ByNamespace<T> = HashMap<Name, HashMap<Name, T>>;

/// The registry.
pub struct Registry {
    functions: RwLock<ByNamespace<Arc<Function>>>,
    /// Functions known without code (no version yet): they exist, so a
    /// route to them answers 503, not 404.
    pending: RwLock<HashMap<Key, ApiFunction>>,
    triggers: RwLock<HashMap<Key, Trigger>>,
    routes: RwLock<Arc<Routes>>,
    /// Token grants (route auth) and namespace gates (budget, rate).
    pub access: Access,
    metrics: Metrics,
    /// Signalled when triggers change, for the trigger runners.
    pub triggers_changed: tokio::sync::Notify,
}

impl Registry {
    /// An empty registry.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            functions: RwLock::default(),
            pending: RwLock::default(),
            triggers: RwLock::default(),
            routes: RwLock::default(),
            access: Access::default(),
            metrics,
            triggers_changed: tokio::sync::Notify::new(),
        }
    }

    /// A deployed function with code.
    pub fn function(&self, ns: &Name, name: &Name) -> Option<Arc<Function>> {
        read(&self.functions).get(ns)?.get(name).cloned()
    }

    /// Whether a function exists but has no code yet.
    pub fn is_pending(&self, ns: &Name, name: &Name) -> bool {
        read(&self.pending).contains_key(&(ns.clone(), name.clone()))
    }

    /// Every function with code.
    pub fn functions(&self) -> Vec<Arc<Function>> {
        read(&self.functions).values().flat_map(HashMap::values).cloned().collect()
    }

    /// Every trigger.
    pub fn triggers(&self) -> Vec<Trigger> {
        read(&self.triggers).values().cloned().collect()
    }

    /// The current routing table.
    pub fn routes(&self) -> Arc<Routes> {
        Arc::clone(&read(&self.routes))
    }

    /// Applies an answer of the change feed. Returns the digests that
    /// appeared, so their artifacts can be prepared.
    pub fn apply(&self, watch: Watch) -> Vec<Digest> {
        let mut digests = Vec::new();
        let mut triggers_changed = false;
        if let Some(snapshot) = watch.snapshot {
            let wanted: HashMap<Key, ApiFunction> = snapshot
                .functions
                .into_iter()
                .map(|f| ((f.namespace.clone(), f.name.clone()), f))
                .collect();
            let mut known: Vec<Key> = read(&self.pending).keys().cloned().collect();
            for (ns, functions) in read(&self.functions).iter() {
                known.extend(functions.keys().map(|name| (ns.clone(), name.clone())));
            }
            let gone: Vec<Key> =
                known.into_iter().filter(|key| !wanted.contains_key(key)).collect();
            for (ns, name) in gone {
                self.remove_function(&ns, &name);
            }
            for function in wanted.into_values() {
                digests.extend(self.put_function(function));
            }
            *write(&self.triggers) = snapshot
                .triggers
                .into_iter()
                .map(|t| ((t.namespace.clone(), t.name.clone()), t))
                .collect();
            triggers_changed = true;
            self.access.replace(snapshot.tokens, snapshot.namespaces);
        }
        for change in watch.changes {
            match change {
                Change::FunctionPut { function } => digests.extend(self.put_function(function)),
                Change::FunctionDeleted { namespace, name } => {
                    self.remove_function(&namespace, &name)
                }
                Change::TriggerPut { trigger } => {
                    write(&self.triggers)
                        .insert((trigger.namespace.clone(), trigger.name.clone()), trigger);
                    triggers_changed = true;
                }
                Change::TriggerDeleted { namespace, name } => {
                    write(&self.triggers).remove(&(namespace, name));
                    triggers_changed = true;
                }
                Change::TokenPut { grant } => self.access.put_grant(grant),
                Change::TokenDeleted { id } => self.access.delete_grant(&id),
                Change::NamespacePut { state } => self.access.put_namespace(state),
                other => {
                    tracing::warn!(change = ?other, "unknown change kind; upgrade this invoker")
                }
            }
        }
        if triggers_changed {
            self.rebuild_routes();
            self.triggers_changed.notify_waiters();
        }
        digests
    }

    fn put_function(&self, function: ApiFunction) -> Option<Digest> {
        let key = (function.namespace.clone(), function.name.clone());
        let Some(digest) = function.version.clone() else {
            if let Some(functions) = write(&self.functions).get_mut(&key.0) {
                functions.remove(&key.1);
            }
            write(&self.pending).insert(key, function);
            return None;
        };
        write(&self.pending).remove(&key);
        let deployment = Deployment {
            digest: digest.clone(),
            limits: function.limits,
            env: function.env.into_iter().collect(),
        };
        let mut functions = write(&self.functions);
        let functions = functions.entry(key.0.clone()).or_default();
        let metrics = self.metrics.function(&key.0, &key.1);
        let next = match functions.get(&key.1) {
            Some(current) if current.deployment == deployment => return None,
            Some(current) => current.with_deployment(deployment, metrics),
            None => Function::new(key.0.clone(), key.1.clone(), deployment, metrics),
        };
        functions.insert(key.1, Arc::new(next));
        Some(digest)
    }

    fn remove_function(&self, ns: &Name, name: &Name) {
        let key = (ns.clone(), name.clone());
        write(&self.pending).remove(&key);
        let removed =
            write(&self.functions).get_mut(ns).and_then(|functions| functions.remove(name));
        if removed.is_some() {
            self.metrics.remove_function(ns, name);
        }
    }

    fn rebuild_routes(&self) {
        let routes = Routes::new(read(&self.triggers).values().filter_map(|t| match &t.spec {
            TriggerSpec::Http(http) => {
                Some((t.namespace.clone(), t.function.clone(), http.clone()))
            }
            _ => None,
        }));
        *write(&self.routes) = Arc::new(routes);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
