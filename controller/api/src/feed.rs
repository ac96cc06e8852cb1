//! The change feed the invokers follow: `GET /v1/watch?since=REV`.
//!
//! Every change to functions and triggers gets the next store revision. A
//! watcher sends the last revision it has applied and gets the changes after
//! it, or waits (long poll) until there are some. A watcher that is new
//! (`since=0`) or too far behind gets a full snapshot instead.

use serde::{Deserialize, Serialize};

use crate::{Function, Name, NamespaceState, TokenGrant, Trigger};

/// The answer to a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The revision the watcher has once it has applied this answer.
    pub revision: u64,
    /// When set, the whole state: the watcher replaces what it knows with it,
    /// then applies `changes` (which is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Changes after the watcher's revision, oldest first.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// Every function, trigger, token grant and namespace state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// All functions.
    pub functions: Vec<Function>,
    /// All triggers.
    pub triggers: Vec<Trigger>,
    /// What invokers need to check tokens on routes with `auth = "token"`.
    #[serde(default)]
    pub tokens: Vec<TokenGrant>,
    /// Namespaces with a rate limit or a spent budget.
    #[serde(default)]
    pub namespaces: Vec<NamespaceState>,
}

/// One change, carrying the whole new object so applying it needs no other lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A function was created or changed.
    FunctionPut {
        /// Its new state.
        function: Function,
    },
    /// A function was deleted (its triggers are deleted with it, each with its own change).
    FunctionDeleted {
        /// Its namespace.
        namespace: Name,
        /// Its name.
        name: Name,
    },
    /// A trigger was created or changed.
    TriggerPut {
        /// Its new state.
        trigger: Trigger,
    },
    /// A trigger was deleted.
    TriggerDeleted {
        /// Its namespace.
        namespace: Name,
        /// Its name.
        name: Name,
    },
    /// A token was created.
    TokenPut {
        /// How to check it.
        grant: TokenGrant,
    },
    /// A token was revoked.
    TokenDeleted {
        /// Its id.
        id: String,
    },
    /// A namespace's rate limit or budget state changed.
    NamespacePut {
        /// Its new state.
        state: NamespaceState,
    },
}
