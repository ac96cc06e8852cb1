//! The store's part in trust: API tokens (only their secrets' hashes),
//! namespaces' quotas and budget state, and the audit log.
//!
//! Token and namespace writes go through the change feed, so invokers learn
//! of a new token (for routes with `auth = "token"`), a revoked one, a rate
//! limit or a spent budget like any other change. The audit log does not:
//! it is the controller's own record, appended without a flush (sled writes
//! it within its flush interval) so a mutating call pays no second fsync.

use flint_api::{
    AuditEntry, Change, Name, NamespaceState, Quotas, Timestamp, TokenGrant, TokenInfo,
};
use serde::{Deserialize, Serialize};

use super::{Error, Result, Store, TreeId, decode, get, put};

/// Audit entries kept; the oldest go first.
pub const AUDIT_KEPT: u64 = 100_000;
/// Most tokens in one installation, so the in-memory cache stays small.
pub const MAX_TOKENS: usize = 10_000;

/// A token as stored: what the API shows, and its secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// What the API shows.
    pub info: TokenInfo,
    /// SHA-256 of the secret, hex.
    pub hash: String,
}

impl TokenRecord {
    /// What invokers get in the feed.
    pub fn grant(&self) -> TokenGrant {
        TokenGrant {
            id: self.info.id.clone(),
            hash: self.hash.clone(),
            role: self.info.role,
            namespaces: self.info.namespaces.clone(),
            expires_at: self.info.expires_at,
        }
    }
}

/// A namespace's settings as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceRecord {
    /// Set by admins.
    #[serde(default)]
    pub quotas: Quotas,
    /// Why invocations are refused with `402`, while they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

impl NamespaceRecord {
    /// What invokers get in the feed.
    pub fn state(&self, name: &Name) -> NamespaceState {
        NamespaceState { name: name.clone(), rate: self.quotas.rate, blocked: self.blocked.clone() }
    }

    /// Whether invokers need to hear of it at all.
    pub fn matters_to_invokers(&self) -> bool {
        self.quotas.rate.is_some() || self.blocked.is_some()
    }
}

impl Store {
    // ---- tokens ----------------------------------------------------------

    /// Every token.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.tokens.iter().map(|item| decode(&item?.1)).collect()
    }

    /// Stores a new token; its name must be free.
    pub fn add_token(&self, record: &TokenRecord) -> Result<()> {
        let _writer = self.lock();
        let tokens = self.tokens()?;
        if tokens.iter().any(|t| t.info.name == record.info.name) {
            return Err(Error::Conflict(format!(
                "a token named `{}` exists: revoke it first or choose another name",
                record.info.name
            )));
        }
        if tokens.len() >= MAX_TOKENS {
            return Err(Error::Conflict(format!(
                "there are {MAX_TOKENS} tokens already: revoke some first"
            )));
        }
        let writes = vec![put(TreeId::Tokens, record.info.id.clone().into_bytes(), record)?];
        self.commit(writes, vec![Change::TokenPut { grant: record.grant() }])
    }

    /// Revokes the token named `name`; returns it.
    pub fn revoke_token(&self, name: &Name) -> Result<TokenRecord> {
        let _writer = self.lock();
        let record = self
            .tokens()?
            .into_iter()
            .find(|t| &t.info.name == name)
            .ok_or_else(|| Error::TokenNotFound(name.clone()))?;
        let id = record.info.id.clone();
        let writes = vec![super::Write::Remove { tree: TreeId::Tokens, key: id.clone().into() }];
        self.commit(writes, vec![Change::TokenDeleted { id }])?;
        Ok(record)
    }

    /// Records when a token was last used (no feed change: invokers do not
    /// need it). A token revoked meanwhile stays revoked.
    pub fn touch_token(&self, id: &str, at: Timestamp) -> Result<()> {
        let _writer = self.lock();
        let Some(mut record) = get::<TokenRecord>(&self.tokens, id.as_bytes())? else {
            return Ok(());
        };
        record.info.last_used_at = Some(at);
        self.tokens.insert(id.as_bytes(), serde_json::to_vec(&record).map_err(Error::Corrupt)?)?;
        Ok(())
    }

    // ---- namespaces ------------------------------------------------------

    /// A namespace's settings (defaults when none were set).
    pub fn namespace(&self, ns: &Name) -> Result<NamespaceRecord> {
        Ok(get(&self.namespaces, ns.as_str().as_bytes())?.unwrap_or_default())
    }

    /// Every namespace with settings.
    pub fn namespace_records(&self) -> Result<Vec<(Name, NamespaceRecord)>> {
        self.namespaces
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let name = String::from_utf8_lossy(&key).parse::<Name>().map_err(|e| {
                    Error::Corrupt(serde::de::Error::custom(format!("namespace key: {e}")))
                })?;
                Ok((name, decode(&value)?))
            })
            .collect()
    }

    /// Every namespace that has a function or settings, by name.
    pub fn namespace_names(&self) -> Result<Vec<Name>> {
        let mut names: Vec<Name> = self.namespace_records()?.into_iter().map(|(n, _)| n).collect();
        for item in self.functions.iter().keys() {
            let key = item?;
            let key = String::from_utf8_lossy(&key);
            if let Some(ns) = key.split('/').next().and_then(|ns| ns.parse::<Name>().ok()) {
                names.push(ns);
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Replaces a namespace's quotas, keeping its budget state; `blocked`
    /// is what the caller computed from the new budget.
    pub fn put_quotas(
        &self,
        ns: &Name,
        quotas: Quotas,
        blocked: Option<String>,
    ) -> Result<NamespaceRecord> {
        let _writer = self.lock();
        let record = NamespaceRecord { quotas, blocked };
        self.write_namespace(ns, &record)?;
        Ok(record)
    }

    /// Sets or clears the budget block; writes only if it changed. Returns
    /// whether it did.
    pub fn set_blocked(&self, ns: &Name, blocked: Option<String>) -> Result<bool> {
        let _writer = self.lock();
        let mut record = self.namespace(ns)?;
        if record.blocked == blocked {
            return Ok(false);
        }
        record.blocked = blocked;
        self.write_namespace(ns, &record)?;
        Ok(true)
    }

    fn write_namespace(&self, ns: &Name, record: &NamespaceRecord) -> Result<()> {
        let writes = vec![put(TreeId::Namespaces, ns.as_str().as_bytes().to_vec(), record)?];
        self.commit(writes, vec![Change::NamespacePut { state: record.state(ns) }])
    }

    // ---- audit -----------------------------------------------------------

    /// Appends an entry, giving it the next sequence number.
    pub fn append_audit(&self, mut entry: AuditEntry) -> Result<()> {
        let seq = self.db.generate_id()?;
        entry.seq = seq;
        self.audit
            .insert(seq.to_be_bytes(), serde_json::to_vec(&entry).map_err(Error::Corrupt)?)?;
        if seq % 1000 == 0 && seq > AUDIT_KEPT {
            let below = (seq - AUDIT_KEPT).to_be_bytes();
            let mut batch = sled::Batch::default();
            for key in self.audit.range(..below).keys() {
                batch.remove(key?);
            }
            self.audit.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Entries at or after `since`, oldest first, at most `limit`.
    pub fn audit(&self, since: Option<Timestamp>, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for item in self.audit.iter().values() {
            let entry: AuditEntry = decode(&item?)?;
            if since.is_none_or(|since| entry.time >= since) {
                out.push(entry);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// What the feed's snapshot carries of tokens and namespaces.
    pub(super) fn tenant_snapshot(&self) -> Result<(Vec<TokenGrant>, Vec<NamespaceState>)> {
        let grants = self.tokens()?.iter().map(TokenRecord::grant).collect();
        let states = self
            .namespace_records()?
            .into_iter()
            .filter(|(_, record)| record.matters_to_invokers())
            .map(|(name, record)| record.state(&name))
            .collect();
        Ok((grants, states))
    }
}
