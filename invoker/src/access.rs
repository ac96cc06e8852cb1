//! Who may call what on this invoker, and whether a namespace may run now.
//!
//! The controller sends, through the change feed, a [`TokenGrant`] for every
//! token (its id, the SHA-256 of its secret, role, namespaces, expiry) and a
//! [`NamespaceState`] for every namespace with a rate limit or a spent
//! budget. [`Access`] keeps both, so neither check needs a call to the
//! controller:
//!
//! - [`Access::authorize`]: routes with `auth = "token"` take a token of role
//!   `invoker` or better for the function's namespace. One SHA-256 of the
//!   64-hex secret and a read lock: about a microsecond.
//! - [`Access::admit`]: every invocation, from any trigger, is refused while
//!   its namespace's budget is spent (`402`) or past its rate (`429`), by a
//!   token bucket per namespace on this invoker ([`quota`]).
//!
//! Refusals happen before an instance is created; none is billed.
//!
//! The cluster credential, which guards the admin listener, is checked with
//! [`cluster_bearer_ok`]. Credentials never reach a guest: the helpers at the
//! end remove them from the request.

pub mod quota;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use flint_api::auth::{SESSION_COOKIE, TOKEN_HEADER, constant_time_eq, parse_token};
use flint_api::{Name, NamespaceState, Role, Timestamp, TokenGrant};
use http::{HeaderMap, HeaderValue, header};

pub use quota::{Gate, Quota};

/// `invoker_rejected_total` reason: no token, or one that is malformed,
/// unknown, revoked or expired (`401`).
pub const UNAUTHORIZED: &str = "unauthorized";
/// `invoker_rejected_total` reason: a valid token without the role or the
/// namespace (`403`).
pub const FORBIDDEN: &str = "forbidden";
/// `invoker_rejected_total` reason: the namespace spent its budget (`402`).
pub const BUDGET: &str = "budget";
/// `invoker_rejected_total` reason: the namespace is over its rate (`429`).
pub const RATE_LIMITED: &str = "rate_limited";
/// Every reason this module adds to `invoker_rejected_total`.
pub const REASONS: [&str; 4] = [UNAUTHORIZED, FORBIDDEN, BUDGET, RATE_LIMITED];

/// Token grants and namespace gates, as the change feed last said.
#[derive(Default)]
pub struct Access {
    grants: RwLock<HashMap<String, TokenGrant>>,
    gates: RwLock<HashMap<Name, Arc<Gate>>>,
}

/// Where the presented token was, so it can be removed before the guest
/// sees the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The `flint-token` header.
    Header,
    /// `Authorization: Bearer`.
    Bearer,
}

/// Why a token does not open a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token was presented.
    Missing,
    /// It is not `flint_<16 hex>_<64 hex>`.
    Malformed,
    /// No such token, a wrong secret, or revoked: the same answer for all
    /// three, so the reply says nothing about which ids exist.
    Unknown,
    /// It expired.
    Expired(Timestamp),
    /// Its role may not invoke.
    Role(Role),
    /// It does not cover the function's namespace.
    Namespace(Name),
}

impl Denied {
    /// `401` when the caller is not known, `403` when it is but may not.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Role(_) | Self::Namespace(_) => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// The `invoker_rejected_total` reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Role(_) | Self::Namespace(_) => FORBIDDEN,
            _ => UNAUTHORIZED,
        }
    }
}

impl fmt::Display for Denied {
    // One line naming what is missing; never the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(
                f,
                "this route needs a token: send `Authorization: Bearer <token>` or a \
                 `{TOKEN_HEADER}` header with a token of role invoker or better"
            ),
            Self::Malformed => f.write_str(
                "the token is malformed: a Flint token looks like `flint_<16 hex>_<64 hex>`",
            ),
            Self::Unknown => f.write_str("the token is unknown or revoked"),
            Self::Expired(at) => write!(f, "the token expired at {at}"),
            Self::Role(role) => write!(
                f,
                "a token of role {role} may not invoke functions: use one of role invoker, \
                 deployer or admin"
            ),
            Self::Namespace(ns) => write!(f, "the token does not grant namespace `{ns}`"),
        }
    }
}

impl Access {
    /// Replaces everything with a snapshot of the feed. Rate-limit buckets
    /// of namespaces whose rate did not change keep their tokens, so a
    /// re-snapshot does not hand out a fresh burst.
    pub fn replace(&self, grants: Vec<TokenGrant>, namespaces: Vec<NamespaceState>) {
        *write(&self.grants) = grants.into_iter().map(|g| (g.id.clone(), g)).collect();
        let mut gates = write(&self.gates);
        let old = std::mem::take(&mut *gates);
        for state in namespaces {
            let gate = Gate::new(old.get(&state.name).map(Arc::as_ref), &state);
            if let Some(gate) = gate {
                gates.insert(state.name, Arc::new(gate));
            }
        }
    }

    /// A token was created (or changed).
    pub fn put_grant(&self, grant: TokenGrant) {
        write(&self.grants).insert(grant.id.clone(), grant);
    }

    /// A token was revoked.
    pub fn delete_grant(&self, id: &str) {
        write(&self.grants).remove(id);
    }

    /// A namespace's rate or budget state changed.
    pub fn put_namespace(&self, state: NamespaceState) {
        let mut gates = write(&self.gates);
        match Gate::new(gates.get(&state.name).map(Arc::as_ref), &state) {
            Some(gate) => gates.insert(state.name, Arc::new(gate)),
            None => gates.remove(&state.name),
        };
    }

    /// Checks the token a request to a route with `auth = "token"` carries
    /// against the function's namespace `ns`; says where it was.
    pub fn authorize(&self, headers: &HeaderMap, ns: &Name) -> Result<Carrier, Denied> {
        let (token, carrier) = presented(headers).ok_or(Denied::Missing)?;
        self.check(token, ns, Timestamp::now())?;
        Ok(carrier)
    }

    /// Whether `token` may invoke functions of `ns` at `now`. The secret is
    /// verified before anything else about the grant is told.
    pub fn check(&self, token: &str, ns: &Name, now: Timestamp) -> Result<(), Denied> {
        let presented = parse_token(token).ok_or(Denied::Malformed)?;
        let grants = read(&self.grants);
        let grant = grants.get(presented.id).ok_or(Denied::Unknown)?;
        if !grant.verify(presented.secret) {
            return Err(Denied::Unknown);
        }
        if grant.expired(now) {
            return Err(Denied::Expired(grant.expires_at.unwrap_or(now)));
        }
        if !grant.role.allows(Role::Invoker) {
            return Err(Denied::Role(grant.role));
        }
        if !grant.namespaces.contains(ns) {
            return Err(Denied::Namespace(ns.clone()));
        }
        Ok(())
    }

    /// Whether an invocation of a function of `ns` may start now: `Err`
    /// while the namespace's budget is spent or it is over its rate.
    pub fn admit(&self, ns: &Name) -> Result<(), Quota> {
        let gates = read(&self.gates);
        // Most namespaces have no gate: one lookup (none at all when no
        // namespace has one).
        if gates.is_empty() {
            return Ok(());
        }
        match gates.get(ns) {
            Some(gate) => gate.admit(ns, std::time::Instant::now()),
            None => Ok(()),
        }
    }
}

/// The token a request to a route with `auth = "token"` presents: the
/// `flint-token` header if there is one (it exists for callers whose own
/// `Authorization` is meant for the function), else `Authorization: Bearer`.
/// The dashboard's cookie is not accepted here: a browser would send it to
/// any function on the same host, and a function must not be called with an
/// ambient credential the caller did not mean to give it.
pub fn presented(headers: &HeaderMap) -> Option<(&str, Carrier)> {
    if let Some(value) = headers.get(TOKEN_HEADER) {
        // Not visible ASCII: still a presented token, just a malformed one.
        return Some((value.to_str().map_or("", str::trim), Carrier::Header));
    }
    bearer(headers).map(|token| (token, Carrier::Bearer))
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether `headers` carry `Authorization: Bearer <cluster_token>`. An
/// empty `cluster_token` opens nothing.
pub fn cluster_bearer_ok(headers: &HeaderMap, cluster_token: &str) -> bool {
    !cluster_token.is_empty()
        && bearer(headers)
            .is_some_and(|token| constant_time_eq(token.as_bytes(), cluster_token.as_bytes()))
}

/// Removes the token found by [`Access::authorize`] from the request.
pub fn strip_token(headers: &mut HeaderMap, carrier: Carrier) {
    match carrier {
        Carrier::Header => headers.remove(TOKEN_HEADER),
        Carrier::Bearer => headers.remove(header::AUTHORIZATION),
    };
}

/// Removes the dashboard's session cookie. Browsers send cookies by host,
/// whatever the port, so one logged in to the dashboard at `127.0.0.1:7070`
/// would hand its token to every function served at `127.0.0.1:8080`.
/// Costs one header lookup when there is no cookie.
pub fn strip_session_cookie(headers: &mut HeaderMap) {
    let carries = |v: &HeaderValue| {
        v.as_bytes().windows(SESSION_COOKIE.len()).any(|w| w == SESSION_COOKIE.as_bytes())
    };
    if !headers.get_all(header::COOKIE).iter().any(carries) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| {
            // A cookie header that is not text and names the session cookie
            // is dropped whole: it cannot be split safely.
            let text = value.to_str().ok()?;
            let pairs: Vec<&str> = text
                .split(';')
                .map(str::trim)
                .filter(|pair| {
                    !pair.is_empty()
                        && pair
                            .split_once('=')
                            .is_none_or(|(name, _)| name.trim() != SESSION_COOKIE)
                })
                .collect();
            if pairs.is_empty() {
                return None;
            }
            HeaderValue::from_str(&pairs.join("; ")).ok()
        })
        .collect();
    headers.remove(header::COOKIE);
    for value in kept {
        headers.append(header::COOKIE, value);
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
