//! Who is calling: API tokens and the cluster credential.
//!
//! [`Tokens`] keeps every token record in memory (a few hundred bytes each,
//! at most `store::tenants::MAX_TOKENS`), so checking a request costs one
//! hash of its secret and a map lookup, not a store read. Writes go to the
//! store first and then [`Tokens::reload`] refreshes the cache.
//!
//! What each route needs, and the check itself, are in [`access`]: one
//! table for the whole API, applied before any handler runs.

pub mod access;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use flint_api::auth::{self, Presented};
use flint_api::{Name, Role, Scope, Timestamp, TokenInfo, Whoami};

use crate::store::tenants::TokenRecord;
use crate::store::{self, Store};

/// The name of the admin token made on first start.
pub const BOOTSTRAP_NAME: &str = "admin";
/// File (in the secrets folder) the first admin token is written to.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// File (in the secrets folder) the generated cluster credential is kept in.
pub const CLUSTER_TOKEN_FILE: &str = "cluster.token";
/// Shortest cluster credential accepted: 32 bytes of printable ASCII.
pub const MIN_CLUSTER_TOKEN_LEN: usize = 32;
/// `last_used_at` is written back at most this often per token, so a busy
/// token does not cost a store write per request.
const TOUCH_EVERY_SECS: i64 = 60;

/// Errors setting up the credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A credential file cannot be read or written.
    #[error("cannot {action} {path}")]
    File {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cluster credential given is unusable.
    #[error(
        "the cluster credential must be at least {MIN_CLUSTER_TOKEN_LEN} printable ASCII characters"
    )]
    WeakClusterToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// No randomness from the OS.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

/// A caller whose credential checked out.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credential (health probes).
    Anonymous,
    /// An invoker, with the cluster credential.
    Cluster,
    /// A user token.
    User(Arc<TokenRecord>),
}

impl Caller {
    /// The namespaces it may see: all for the cluster and `*` tokens.
    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Caller::Anonymous => None,
            Caller::Cluster => Some(&Scope::All),
            Caller::User(token) => Some(&token.info.namespaces),
        }
    }

    /// Whether it may see namespace `ns`.
    pub fn sees(&self, ns: &Name) -> bool {
        self.scope().is_some_and(|scope| scope.contains(ns))
    }

    /// Whether it is an admin token.
    pub fn is_admin(&self) -> bool {
        matches!(self, Caller::User(token) if token.info.role == Role::Admin)
    }

    /// Its role, if it has one.
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::Cluster => Some(Role::Cluster),
            Caller::User(token) => Some(token.info.role),
        }
    }

    /// `(id, name)` for the audit log and messages.
    pub fn who(&self) -> (&str, &str) {
        match self {
            Caller::Anonymous => ("-", "anonymous"),
            Caller::Cluster => ("cluster", "cluster"),
            Caller::User(token) => (&token.info.id, token.info.name.as_str()),
        }
    }

    /// The answer to `GET /v1/whoami`.
    pub fn whoami(&self) -> Option<Whoami> {
        let (id, name) = self.who();
        Some(Whoami {
            id: id.to_owned(),
            name: name.to_owned(),
            role: self.role()?,
            namespaces: self.scope()?.clone(),
        })
    }
}

/// Why a credential was refused (answered `401`). The texts name what is
/// wrong and never contain the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// Nothing was presented where something is needed.
    #[error(
        "this needs an API token: send `Authorization: Bearer <token>` (the CLI sends the one `flint login` or `flint up` stored)"
    )]
    Missing,
    /// Not the shape of a Flint token nor the cluster credential.
    #[error("the token presented is not a Flint token (expected `flint_<id>_<secret>`)")]
    Malformed,
    /// No such token, or a wrong secret.
    #[error("the token presented is unknown or revoked")]
    Unknown,
    /// Past its expiry.
    #[error("token `{name}` expired at {at}")]
    Expired {
        /// Its name.
        name: String,
        /// When.
        at: Timestamp,
    },
}

struct Entry {
    record: Arc<TokenRecord>,
    /// Unix seconds of the last use seen, and of the last one written back.
    used: AtomicI64,
    written: AtomicI64,
}

/// Every token, in memory, and the cluster credential's hash.
pub struct Tokens {
    by_id: RwLock<HashMap<String, Arc<Entry>>>,
    cluster_hash: String,
}

impl Tokens {
    /// Loads the tokens from `store`; `cluster` is the cluster credential.
    pub fn load(store: &Store, cluster: &str) -> Result<Self, Error> {
        let tokens = Self { by_id: RwLock::default(), cluster_hash: auth::hash_secret(cluster) };
        tokens.reload(store)?;
        Ok(tokens)
    }

    /// Re-reads every token after a write.
    pub fn reload(&self, store: &Store) -> Result<(), store::Error> {
        let previous = self.by_id.read().unwrap_or_else(PoisonError::into_inner).clone();
        let mut by_id = HashMap::new();
        for record in store.tokens()? {
            let used = record.info.last_used_at.map_or(0, |t| t.as_second());
            let seen =
                previous.get(&record.info.id).map_or(used, |e| e.used.load(Ordering::Relaxed));
            by_id.insert(
                record.info.id.clone(),
                Arc::new(Entry {
                    record: Arc::new(record),
                    used: AtomicI64::new(seen.max(used)),
                    written: AtomicI64::new(used),
                }),
            );
        }
        *self.by_id.write().unwrap_or_else(PoisonError::into_inner) = by_id;
        Ok(())
    }

    /// Checks the credential `presented` (`None`: nothing was sent).
    /// Returns the caller and, when its `last_used_at` is due to be written
    /// back, the token id to write it for.
    pub fn authenticate(
        &self,
        presented: Option<&str>,
        now: Timestamp,
    ) -> Result<(Caller, Option<String>), Refused> {
        let Some(presented) = presented.filter(|p| !p.is_empty()) else {
            return Ok((Caller::Anonymous, None));
        };
        let Some(Presented { id, secret }) = auth::parse_token(presented) else {
            // Not a user token: the cluster credential, or nothing we know.
            if auth::constant_time_eq(
                auth::hash_secret(presented).as_bytes(),
                self.cluster_hash.as_bytes(),
            ) {
                return Ok((Caller::Cluster, None));
            }
            return Err(if presented.starts_with(auth::TOKEN_PREFIX) {
                Refused::Malformed
            } else {
                Refused::Unknown
            });
        };
        let entry = self.by_id.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned();
        let Some(entry) = entry else { return Err(Refused::Unknown) };
        let record = &entry.record;
        if !auth::constant_time_eq(auth::hash_secret(secret).as_bytes(), record.hash.as_bytes()) {
            return Err(Refused::Unknown);
        }
        if let Some(at) = record.info.expires_at
            && at <= now
        {
            return Err(Refused::Expired { name: record.info.name.to_string(), at });
        }
        let second = now.as_second();
        entry.used.fetch_max(second, Ordering::Relaxed);
        let due = second - entry.written.load(Ordering::Relaxed) >= TOUCH_EVERY_SECS;
        let touch = (due && entry.written.swap(second, Ordering::Relaxed) != second)
            .then(|| record.info.id.clone());
        Ok((Caller::User(Arc::clone(record)), touch))
    }

    /// Every token as the API shows it, with the last use seen in memory.
    pub fn list(&self) -> Vec<TokenInfo> {
        let by_id = self.by_id.read().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<TokenInfo> = by_id
            .values()
            .map(|entry| {
                let mut info = entry.record.info.clone();
                let used = entry.used.load(Ordering::Relaxed);
                if used > 0 {
                    info.last_used_at = Timestamp::from_second(used).ok();
                }
                info
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Whether an admin token exists.
    pub fn has_admin(&self) -> bool {
        let by_id = self.by_id.read().unwrap_or_else(PoisonError::into_inner);
        by_id.values().any(|e| e.record.info.role == Role::Admin)
    }
}

/// A new random token for `spec`-like fields; returns the whole token (shown
/// once) and the record to store.
pub fn mint(
    name: Name,
    role: Role,
    namespaces: Scope,
    expires_at: Option<Timestamp>,
    created_by: &str,
) -> Result<(String, TokenRecord), Error> {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| Error::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| Error::Random(e.to_string()))?;
    let token = auth::format_token(&id, &secret);
    let secret_hex = auth::to_hex(&secret);
    let record = TokenRecord {
        info: TokenInfo {
            id: auth::to_hex(&id),
            name,
            role,
            namespaces,
            expires_at,
            created_at: Timestamp::now(),
            created_by: created_by.to_owned(),
            last_used_at: None,
        },
        hash: auth::hash_secret(&secret_hex),
    };
    Ok((token, record))
}

/// The first start of a store: makes an admin token and writes it to
/// `dir/admin.token` (mode 0600). Does nothing when an admin token exists.
/// Returns the file written, if one was.
pub fn bootstrap(store: &Store, tokens: &Tokens, dir: &Path) -> Result<Option<PathBuf>, Error> {
    if tokens.has_admin() {
        return Ok(None);
    }
    // A non-admin token may have taken the name: then add the time to it.
    let taken = tokens.list().iter().any(|t| t.name.as_str() == BOOTSTRAP_NAME);
    let name = if taken {
        format!("{BOOTSTRAP_NAME}-{}", Timestamp::now().as_second())
    } else {
        BOOTSTRAP_NAME.to_owned()
    };
    let name: Name =
        name.parse().map_err(|e: flint_api::InvalidId| Error::Random(e.to_string()))?;
    let (token, record) = mint(name, Role::Admin, Scope::All, None, "bootstrap")?;
    let path = dir.join(ADMIN_TOKEN_FILE);
    write_secret(&path, &token)?;
    store.add_token(&record)?;
    tokens.reload(store)?;
    Ok(Some(path))
}

/// The cluster credential: `given`, else the one kept in `dir/cluster.token`,
/// else a new one written there.
pub fn cluster_token(given: Option<String>, dir: &Path) -> Result<String, Error> {
    let check = |token: String| {
        let token = token.trim().to_owned();
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if token.len() >= MIN_CLUSTER_TOKEN_LEN && printable {
            Ok(token)
        } else {
            Err(Error::WeakClusterToken)
        }
    };
    if let Some(given) = given {
        return check(given);
    }
    let path = dir.join(CLUSTER_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(token) => return check(token),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::File { action: "read", path, source }),
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    let token = auth::to_hex(&bytes);
    write_secret(&path, &token)?;
    Ok(token)
}

/// Writes `secret` and a newline to a new file only its owner can read.
fn write_secret(path: &Path, secret: &str) -> Result<(), Error> {
    let fail = |source| Error::File { action: "write", path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    // An existing file keeps its mode on open: set it again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    writeln!(file, "{secret}").map_err(fail)?;
    file.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests;
