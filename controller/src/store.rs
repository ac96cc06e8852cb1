//! The controller's durable state in sled: functions, versions, wasm blobs,
//! triggers and the change feed.
//!
//! Writers are serialised by one mutex: control-plane writes are rare, and
//! with one writer the revision counter, the existence checks and the feed
//! are trivially consistent. Each write is one sled transaction across the
//! trees it touches, flushed to disk before the call returns, so a caller that
//! saw success keeps its change across a `kill -9`.
//!
//! Every call here blocks (sled, fsync): call it from `spawn_blocking`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use flint_api::{
    Change, Digest, Function, HttpTrigger, Limits, Name, Snapshot, Timestamp, Trigger,
    TriggerRequest, TriggerSpec, Version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional as _;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use tokio::sync::watch;

/// Changes kept in the feed. A watcher further behind gets a snapshot.
const FEED_RETAINED: u64 = 10_000;
/// How much read cache sled may use. Its default (1 GiB) is far more than a
/// control plane needs.
const CACHE_BYTES: u64 = 64 << 20;
const REVISION_KEY: &[u8] = b"revision";

/// Errors from the store. The `*NotFound` and `Conflict` kinds are the
/// caller's mistakes; the others are the store's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such function.
    #[error("function `{name}` does not exist in namespace `{namespace}`")]
    FunctionNotFound {
        /// Its namespace.
        namespace: Name,
        /// Its name.
        name: Name,
    },
    /// No such trigger.
    #[error("trigger `{name}` does not exist in namespace `{namespace}`")]
    TriggerNotFound {
        /// Its namespace.
        namespace: Name,
        /// Its name.
        name: Name,
    },
    /// No such token.
    #[error("no token is named `{0}`")]
    TokenNotFound(Name),
    /// The request clashes with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// An HTTP route overlaps one that another namespace serves or reserved.
    /// Its message names the other namespace only for admins (see `api`).
    #[error("route `{route}` overlaps `{theirs}`, which namespace `{owner}` {how}")]
    RouteTaken {
        /// The route asked for, as people read it.
        route: String,
        /// The route or reservation it overlaps.
        theirs: String,
        /// The namespace that has it.
        owner: Name,
        /// `serves` or `reserved`.
        how: &'static str,
    },
    /// A namespace's quota would be exceeded.
    #[error("{0}")]
    Quota(String),
    /// The asker is not (or no longer) the scheduler lease's holder.
    #[error("{0}")]
    NotLeader(String),
    /// sled failed.
    #[error("the store failed")]
    Sled(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("a stored record is corrupt")]
    Corrupt(#[source] serde_json::Error),
}

/// Result of store calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The store. One per controller process.
pub struct Store {
    db: sled::Db,
    functions: sled::Tree,
    versions: sled::Tree,
    blobs: sled::Tree,
    blob_refs: sled::Tree,
    triggers: sled::Tree,
    /// Per schedule trigger, its [`flint_api::scheduler::Cursor`].
    cursors: sled::Tree,
    /// Per schedule trigger, its recent runs (see `schedules`).
    runs: sled::Tree,
    changes: sled::Tree,
    meta: sled::Tree,
    /// Tokens by id (see `tenants`).
    tokens: sled::Tree,
    /// Namespace settings by name.
    namespaces: sled::Tree,
    /// The audit log by sequence number.
    audit: sled::Tree,
    writer: Mutex<()>,
    revision: watch::Sender<u64>,
}

/// One record to write in a transaction.
enum Write {
    Put { tree: TreeId, key: Vec<u8>, value: Vec<u8> },
    Remove { tree: TreeId, key: Vec<u8> },
}

/// The trees a transaction writes, in the order of `Store::trees`.
#[derive(Clone, Copy)]
enum TreeId {
    Functions,
    Versions,
    Blobs,
    BlobRefs,
    Triggers,
    Cursors,
    Changes,
    Meta,
    Tokens,
    Namespaces,
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES).open()?;
        Self::from_db(db)
    }

    /// A store in a temporary directory, removed when dropped (tests).
    pub fn temporary() -> Result<Self> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        let meta = db.open_tree("meta")?;
        let revision = meta.get(REVISION_KEY)?.map(|v| decode_u64(&v)).unwrap_or(0);
        Ok(Self {
            functions: db.open_tree("functions")?,
            versions: db.open_tree("versions")?,
            blobs: db.open_tree("blobs")?,
            blob_refs: db.open_tree("blob_refs")?,
            triggers: db.open_tree("triggers")?,
            cursors: db.open_tree("schedule_cursors")?,
            runs: db.open_tree("schedule_runs")?,
            changes: db.open_tree("changes")?,
            tokens: db.open_tree("tokens")?,
            namespaces: db.open_tree("namespaces")?,
            audit: db.open_tree("audit")?,
            meta,
            db,
            writer: Mutex::new(()),
            revision: watch::channel(revision).0,
        })
    }

    /// The sled database, for the usage ledger's trees.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// The revision of the last committed change.
    pub fn revision(&self) -> u64 {
        *self.revision.borrow()
    }

    /// A receiver that sees every new revision.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- functions -------------------------------------------------------

    /// One function.
    pub fn function(&self, ns: &Name, name: &Name) -> Result<Function> {
        get(&self.functions, &key2(ns, name))?
            .ok_or_else(|| Error::FunctionNotFound { namespace: ns.clone(), name: name.clone() })
    }

    /// The functions of a namespace, by name.
    pub fn functions(&self, ns: &Name) -> Result<Vec<Function>> {
        scan(&self.functions, &prefix1(ns))
    }

    /// Creates a function or replaces its limits and environment. Returns it
    /// and whether it was created.
    pub fn put_function(
        &self,
        ns: &Name,
        name: &Name,
        limits: Limits,
        env: std::collections::BTreeMap<String, String>,
    ) -> Result<(Function, bool)> {
        let _writer = self.lock();
        let now = Timestamp::now();
        let existing: Option<Function> = get(&self.functions, &key2(ns, name))?;
        self.check_quotas(ns, existing.as_ref(), &limits)?;
        let created = existing.is_none();
        let function = match existing {
            Some(f) => Function { limits, env, updated_at: now, ..f },
            None => Function {
                namespace: ns.clone(),
                name: name.clone(),
                version: None,
                limits,
                env,
                created_at: now,
                updated_at: now,
            },
        };
        let writes = vec![put(TreeId::Functions, key2(ns, name), &function)?];
        self.commit(writes, vec![Change::FunctionPut { function: function.clone() }])?;
        Ok((function, created))
    }

    /// Stores `wasm` as a version of a function (once per digest) and makes it
    /// the version that runs. The caller has validated the wasm.
    pub fn add_version(
        &self,
        ns: &Name,
        name: &Name,
        digest: &Digest,
        wasm: &[u8],
    ) -> Result<Function> {
        let _writer = self.lock();
        let mut function = self.function(ns, name)?;
        let now = Timestamp::now();
        let version_key = key3(ns, name, digest.as_str());
        let mut writes = Vec::new();
        if self.versions.get(&version_key)?.is_none() {
            let version =
                Version { digest: digest.clone(), size: wasm.len() as u64, created_at: now };
            writes.push(put(TreeId::Versions, version_key, &version)?);
            let refs = self.blob_refs.get(digest.as_str())?.map(|v| decode_u64(&v)).unwrap_or(0);
            if refs == 0 {
                writes.push(Write::Put {
                    tree: TreeId::Blobs,
                    key: digest.as_str().into(),
                    value: wasm.to_vec(),
                });
            }
            writes.push(Write::Put {
                tree: TreeId::BlobRefs,
                key: digest.as_str().into(),
                value: (refs + 1).to_be_bytes().to_vec(),
            });
        }
        function.version = Some(digest.clone());
        function.updated_at = now;
        writes.push(put(TreeId::Functions, key2(ns, name), &function)?);
        self.commit(writes, vec![Change::FunctionPut { function: function.clone() }])?;
        Ok(function)
    }

    /// The versions of a function, oldest first.
    pub fn versions(&self, ns: &Name, name: &Name) -> Result<Vec<Version>> {
        self.function(ns, name)?;
        let mut versions: Vec<Version> = scan(&self.versions, &prefix2(ns, name))?;
        versions.sort_by_key(|v| v.created_at);
        Ok(versions)
    }

    /// The wasm bytes of a digest.
    pub fn blob(&self, digest: &Digest) -> Result<Option<sled::IVec>> {
        Ok(self.blobs.get(digest.as_str())?)
    }

    /// Deletes a function with its triggers and versions; blobs no other
    /// version uses go too.
    pub fn delete_function(&self, ns: &Name, name: &Name) -> Result<()> {
        let _writer = self.lock();
        self.function(ns, name)?;
        let mut writes = Vec::new();
        let mut changes = Vec::new();
        for trigger in scan::<Trigger>(&self.triggers, &prefix1(ns))? {
            if &trigger.function == name {
                writes.push(Write::Remove { tree: TreeId::Triggers, key: key2(ns, &trigger.name) });
                writes.push(Write::Remove { tree: TreeId::Cursors, key: key2(ns, &trigger.name) });
                self.forget_runs(ns, &trigger.name)?;
                changes.push(Change::TriggerDeleted { namespace: ns.clone(), name: trigger.name });
            }
        }
        for version in scan::<Version>(&self.versions, &prefix2(ns, name))? {
            let digest = version.digest.as_str();
            writes.push(Write::Remove { tree: TreeId::Versions, key: key3(ns, name, digest) });
            let refs = self.blob_refs.get(digest)?.map(|v| decode_u64(&v)).unwrap_or(1);
            if refs <= 1 {
                writes.push(Write::Remove { tree: TreeId::Blobs, key: digest.into() });
                writes.push(Write::Remove { tree: TreeId::BlobRefs, key: digest.into() });
            } else {
                writes.push(Write::Put {
                    tree: TreeId::BlobRefs,
                    key: digest.into(),
                    value: (refs - 1).to_be_bytes().to_vec(),
                });
            }
        }
        writes.push(Write::Remove { tree: TreeId::Functions, key: key2(ns, name) });
        changes.push(Change::FunctionDeleted { namespace: ns.clone(), name: name.clone() });
        self.commit(writes, changes)
    }

    // ---- triggers --------------------------------------------------------

    /// One trigger.
    pub fn trigger(&self, ns: &Name, name: &Name) -> Result<Trigger> {
        get(&self.triggers, &key2(ns, name))?
            .ok_or_else(|| Error::TriggerNotFound { namespace: ns.clone(), name: name.clone() })
    }

    /// The triggers of a namespace, by name.
    pub fn triggers(&self, ns: &Name) -> Result<Vec<Trigger>> {
        scan(&self.triggers, &prefix1(ns))
    }

    /// Creates or replaces a trigger. The caller has validated the spec; this
    /// checks that the function exists and that no other trigger has the same
    /// HTTP route. Returns it and whether it was created.
    pub fn put_trigger(
        &self,
        ns: &Name,
        name: &Name,
        request: TriggerRequest,
    ) -> Result<(Trigger, bool)> {
        let _writer = self.lock();
        self.function(ns, &request.function)?;
        if let TriggerSpec::Http(http) = &request.spec {
            self.check_route_is_free(ns, name, http)?;
        }
        let existing: Option<Trigger> = get(&self.triggers, &key2(ns, name))?;
        let created = existing.is_none();
        let same_spec = existing.as_ref().is_some_and(|t| t.spec == request.spec);
        let trigger = Trigger {
            namespace: ns.clone(),
            name: name.clone(),
            function: request.function,
            spec: request.spec,
            created_at: existing.map_or_else(Timestamp::now, |t| t.created_at),
        };
        let mut writes = vec![put(TreeId::Triggers, key2(ns, name), &trigger)?];
        match &trigger.spec {
            // A new or changed schedule starts now: times before are not missed.
            TriggerSpec::Schedule(_) if !same_spec => writes.push(self.new_cursor(ns, name)?),
            TriggerSpec::Schedule(_) => {}
            _ => writes.push(Write::Remove { tree: TreeId::Cursors, key: key2(ns, name) }),
        }
        self.commit(writes, vec![Change::TriggerPut { trigger: trigger.clone() }])?;
        Ok((trigger, created))
    }

    /// Routes are global (one ingress serves every namespace): within a
    /// namespace two triggers must not claim the same host and path, and
    /// across namespaces a route must not even overlap another's (a nested
    /// prefix or a host-specific copy would take its traffic), nor fall in
    /// a prefix reserved for another namespace.
    fn check_route_is_free(&self, ns: &Name, name: &Name, http: &HttpTrigger) -> Result<()> {
        for item in self.triggers.iter() {
            let (_, value) = item?;
            let other: Trigger = decode(&value)?;
            if &other.namespace == ns && &other.name == name {
                continue;
            }
            let TriggerSpec::Http(theirs) = &other.spec else { continue };
            if &other.namespace == ns {
                if theirs.route == http.route && theirs.host == http.host {
                    return Err(Error::Conflict(format!(
                        "route `{}` is already used by trigger `{}`",
                        route_text(http),
                        other.name
                    )));
                }
            } else if theirs.overlaps(http) {
                return Err(Error::RouteTaken {
                    route: route_text(http),
                    theirs: route_text(theirs),
                    owner: other.namespace,
                    how: "serves",
                });
            }
        }
        for (owner, record) in self.namespace_records()? {
            if &owner == ns {
                continue;
            }
            if let Some(reserved) =
                record.quotas.reserved.iter().map(|r| r.as_route()).find(|r| r.overlaps(http))
            {
                return Err(Error::RouteTaken {
                    route: route_text(http),
                    theirs: route_text(&reserved),
                    owner,
                    how: "reserved",
                });
            }
        }
        Ok(())
    }

    /// Refuses a function that would take its namespace past `max_functions`
    /// or `max_memory_mb`.
    fn check_quotas(&self, ns: &Name, existing: Option<&Function>, limits: &Limits) -> Result<()> {
        let quotas = self.namespace(ns)?.quotas;
        if quotas.max_functions.is_none() && quotas.max_memory_mb.is_none() {
            return Ok(());
        }
        let functions: Vec<Function> = scan(&self.functions, &prefix1(ns))?;
        if existing.is_none()
            && let Some(max) = quotas.max_functions
            && functions.len() as u64 >= u64::from(max)
        {
            return Err(Error::Quota(format!(
                "namespace `{ns}` has {} functions, its quota `max_functions` is {max}",
                functions.len()
            )));
        }
        if let Some(max) = quotas.max_memory_mb {
            let others: u64 = functions
                .iter()
                .filter(|f| existing.is_none_or(|e| e.name != f.name))
                .map(|f| u64::from(f.limits.memory_mb))
                .sum();
            let total = others + u64::from(limits.memory_mb);
            if total > max {
                return Err(Error::Quota(format!(
                    "namespace `{ns}` would configure {total} MiB across its functions, its quota `max_memory_mb` is {max}"
                )));
            }
        }
        Ok(())
    }

    /// Deletes a trigger.
    pub fn delete_trigger(&self, ns: &Name, name: &Name) -> Result<()> {
        let _writer = self.lock();
        self.trigger(ns, name)?;
        let writes = vec![
            Write::Remove { tree: TreeId::Triggers, key: key2(ns, name) },
            Write::Remove { tree: TreeId::Cursors, key: key2(ns, name) },
        ];
        self.forget_runs(ns, name)?;
        self.commit(
            writes,
            vec![Change::TriggerDeleted { namespace: ns.clone(), name: name.clone() }],
        )
    }

    // ---- the feed --------------------------------------------------------

    /// Changes after revision `since`, with the revision they lead to; `None`
    /// when the watcher must start over from a [`Store::snapshot`] (it is new,
    /// too far behind, or ahead of this store).
    pub fn changes_since(&self, since: u64) -> Result<Option<(u64, Vec<Change>)>> {
        let current = self.revision();
        if since > current {
            return Ok(None);
        }
        // Nothing new, including for a new watcher of an empty store: it
        // waits like everyone else instead of spinning on snapshots.
        if since == current {
            return Ok(Some((current, Vec::new())));
        }
        if since == 0 {
            return Ok(None);
        }

        let first = match self.changes.first()? {
            Some((key, _)) => decode_u64(&key),
            None => return Ok(None),
        };
        if first > since + 1 {
            return Ok(None);
        }
        let mut revision = since;
        let mut changes = Vec::new();
        for item in self.changes.range((since + 1).to_be_bytes()..).take(1000) {
            let (key, value) = item?;
            revision = decode_u64(&key);
            changes.push(decode(&value)?);
        }
        Ok(Some((revision, changes)))
    }

    /// Every function and trigger, and the revision they are at.
    pub fn snapshot(&self) -> Result<(u64, Snapshot)> {
        let _writer = self.lock();
        let functions = scan(&self.functions, b"")?;
        let triggers = scan(&self.triggers, b"")?;
        let (tokens, namespaces) = self.tenant_snapshot()?;
        Ok((self.revision(), Snapshot { functions, triggers, tokens, namespaces }))
    }

    /// Writes `writes` and appends `changes` to the feed in one transaction,
    /// flushes, and wakes watchers. Call with the writer lock held.
    fn commit(&self, writes: Vec<Write>, changes: Vec<Change>) -> Result<()> {
        let first = self.revision() + 1;
        let last = first + changes.len() as u64 - 1;
        let mut feed = Vec::with_capacity(changes.len());
        for (revision, change) in (first..).zip(&changes) {
            feed.push((
                revision.to_be_bytes(),
                serde_json::to_vec(change).map_err(Error::Corrupt)?,
            ));
        }
        let trees = [
            &self.functions,
            &self.versions,
            &self.blobs,
            &self.blob_refs,
            &self.triggers,
            &self.cursors,
            &self.changes,
            &self.meta,
            &self.tokens,
            &self.namespaces,
        ];
        trees[..]
            .transaction(|views| {
                for write in &writes {
                    match write {
                        Write::Put { tree, key, value } => {
                            views[*tree as usize].insert(key.as_slice(), value.as_slice())?
                        }
                        Write::Remove { tree, key } => {
                            views[*tree as usize].remove(key.as_slice())?
                        }
                    };
                }
                let changes = &views[TreeId::Changes as usize];
                for (revision, change) in &feed {
                    changes.insert(revision, change.as_slice())?;
                }
                if !feed.is_empty() {
                    views[TreeId::Meta as usize].insert(REVISION_KEY, &last.to_be_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<Error>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => Error::Sled(e),
            })?;
        self.db.flush()?;
        if last >= FEED_RETAINED && last % 1000 < changes.len() as u64 {
            self.trim_feed(last - FEED_RETAINED)?;
        }
        if !changes.is_empty() {
            self.revision.send_replace(last);
        }
        Ok(())
    }

    fn trim_feed(&self, below: u64) -> Result<()> {
        let mut batch = sled::Batch::default();
        for item in self.changes.range(..below.to_be_bytes()) {
            batch.remove(item?.0);
        }
        Ok(self.changes.apply_batch(batch)?)
    }
}

/// `host/route` or `route`, as people read it.
fn route_text(http: &HttpTrigger) -> String {
    match &http.host {
        Some(host) => format!("{host}{}", http.route),
        None => http.route.clone(),
    }
}

fn key2(ns: &Name, name: &Name) -> Vec<u8> {
    format!("{ns}/{name}").into_bytes()
}

fn key3(ns: &Name, name: &Name, digest: &str) -> Vec<u8> {
    format!("{ns}/{name}/{digest}").into_bytes()
}

fn prefix1(ns: &Name) -> Vec<u8> {
    format!("{ns}/").into_bytes()
}

fn prefix2(ns: &Name, name: &Name) -> Vec<u8> {
    format!("{ns}/{name}/").into_bytes()
}

fn put<T: Serialize>(tree: TreeId, key: Vec<u8>, value: &T) -> Result<Write> {
    Ok(Write::Put { tree, key, value: serde_json::to_vec(value).map_err(Error::Corrupt)? })
}

fn get<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>> {
    tree.get(key)?.map(|v| decode(&v)).transpose()
}

fn scan<T: DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>> {
    tree.scan_prefix(prefix).map(|item| decode(&item?.1)).collect()
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(Error::Corrupt)
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

mod schedules;
pub mod tenants;
#[cfg(test)]
mod tests;
