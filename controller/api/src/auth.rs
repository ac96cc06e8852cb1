//! Who may do what: API tokens, their roles and namespaces, and how a token
//! is checked.
//!
//! A token is `flint_<id>_<secret>`: `id` is 16 hex digits that name the
//! token in the store, `secret` 64 hex digits (256 random bits). The
//! controller stores only the SHA-256 of the secret ([`TokenGrant::hash`]);
//! a presented token is found by its id and its secret's hash compared in
//! constant time ([`TokenGrant::verify`]). The invokers get the same grants
//! through the change feed, so a route with `auth = "token"` is checked
//! without a call to the controller.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{FieldError, Name, Timestamp};

/// The prefix of every Flint token, so a leaked one is recognisable (secret
/// scanners match on it).
pub const TOKEN_PREFIX: &str = "flint_";
/// Hex digits of a token's id.
pub const TOKEN_ID_LEN: usize = 16;
/// Hex digits of a token's secret: 256 bits.
pub const TOKEN_SECRET_LEN: usize = 64;
/// Header that may carry a token instead of `Authorization: Bearer`, for
/// clients whose own `Authorization` goes to the function.
pub const TOKEN_HEADER: &str = "flint-token";
/// The dashboard's session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "flint_token";
/// Longest token name.
pub const MAX_TOKEN_NAME_LEN: usize = 63;
/// Most namespaces one token may name.
pub const MAX_TOKEN_NAMESPACES: usize = 256;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// Only call functions of its namespaces by name.
    Invoker,
    /// Read-only: list, describe, logs, usage, dashboard of its namespaces.
    Viewer,
    /// Functions, triggers, schedules, logs and usage of its namespaces.
    Deployer,
    /// Everything: tokens, price plans, namespaces' quotas, every namespace.
    Admin,
    /// Invokers' credential: the change feed, blobs, usage batches, logs,
    /// registration and the scheduler lease; nothing a user may do. Never
    /// given by `POST /v1/tokens`.
    Cluster,
}

impl Role {
    /// The roles `flint token create --role` accepts.
    pub const USER_ROLES: [Role; 4] = [Role::Admin, Role::Deployer, Role::Viewer, Role::Invoker];

    /// Its name on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Invoker => "invoker",
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
            Role::Cluster => "cluster",
        }
    }

    /// Whether this role may do what `needed` may (for user roles, each
    /// includes the ones below it: admin > deployer > viewer > invoker; a
    /// viewer may not invoke, an invoker may not read).
    pub fn allows(self, needed: Role) -> bool {
        match (self, needed) {
            (Role::Cluster, needed) => needed == Role::Cluster,
            (_, Role::Cluster) => false,
            (Role::Admin, _) => true,
            (Role::Deployer, needed) => needed != Role::Admin,
            (Role::Viewer, needed) => needed == Role::Viewer,
            (Role::Invoker, needed) => needed == Role::Invoker,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::USER_ROLES.into_iter().find(|role| role.as_str() == s).ok_or_else(|| {
            format!("unknown role `{s}`: use one of admin, deployer, viewer, invoker")
        })
    }
}

/// The namespaces a token may touch: all of them (`"*"` on the wire), or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace, present and future.
    All,
    /// These namespaces.
    Only(BTreeSet<Name>),
}

impl Scope {
    /// Whether `ns` is inside.
    pub fn contains(&self, ns: &Name) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(list) => list.contains(ns),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("*"),
            Scope::Only(list) => {
                let names: Vec<&str> = list.iter().map(Name::as_str).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Scope::All => serializer.serialize_str("*"),
            Scope::Only(list) => list.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Star(String),
            List(BTreeSet<Name>),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Star(s) if s == "*" => Ok(Scope::All),
            Wire::Star(s) => Err(serde::de::Error::custom(format!(
                "namespaces must be \"*\" or a list of names, not `{s}`"
            ))),
            Wire::List(list) => Ok(Scope::Only(list)),
        }
    }
}

/// `POST /v1/tokens`: a new token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Unique name, e.g. `ci-team-a` (same rules as a function name).
    pub name: Name,
    /// What it may do.
    pub role: Role,
    /// Where.
    pub namespaces: Scope,
    /// When it stops working; `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl TokenSpec {
    /// Checks what the store would not: the role is a user role, the scope
    /// is not empty and not too long, the expiry is in the future.
    pub fn validate(&self, now: Timestamp) -> Result<(), FieldError> {
        if self.role == Role::Cluster {
            return Err(FieldError::new(
                "role",
                "the cluster role is not given to tokens; use admin, deployer, viewer or invoker",
            ));
        }
        if let Scope::Only(list) = &self.namespaces {
            if list.is_empty() {
                return Err(FieldError::new("namespaces", "name at least one namespace, or \"*\""));
            }
            if list.len() > MAX_TOKEN_NAMESPACES {
                return Err(FieldError::new(
                    "namespaces",
                    format!("at most {MAX_TOKEN_NAMESPACES} namespaces per token"),
                ));
            }
        }
        if let Some(expires_at) = self.expires_at
            && expires_at <= now
        {
            return Err(FieldError::new("expires_at", format!("{expires_at} is in the past")));
        }
        Ok(())
    }
}

/// A token as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its id (16 hex digits), the part of the token before the secret.
    pub id: String,
    /// Its name.
    pub name: Name,
    /// What it may do.
    pub role: Role,
    /// Where.
    pub namespaces: Scope,
    /// When it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was made.
    pub created_at: Timestamp,
    /// The name of the token that made it (`bootstrap` for the first admin).
    pub created_by: String,
    /// When it was last used (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
}

/// The answer to `POST /v1/tokens`: the token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// The whole token, `flint_<id>_<secret>`.
    pub token: String,
    /// What was stored.
    pub info: TokenInfo,
}

/// `GET /v1/whoami`: the caller, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The token's id (`cluster` for the cluster credential).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its namespaces.
    pub namespaces: Scope,
}

/// What the invokers know of a token (in the change feed): enough to check
/// it, not enough to forge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGrant {
    /// Its id.
    pub id: String,
    /// SHA-256 of its secret, hex.
    pub hash: String,
    /// What it may do.
    pub role: Role,
    /// Where.
    pub namespaces: Scope,
    /// When it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl TokenGrant {
    /// Whether `secret` is this token's secret, compared in constant time.
    pub fn verify(&self, secret: &str) -> bool {
        constant_time_eq(hash_secret(secret).as_bytes(), self.hash.as_bytes())
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A presented token, split into its id and secret (not yet checked).
#[derive(Clone, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The id part.
    pub id: &'a str,
    /// The secret part.
    pub secret: &'a str,
}

impl fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret, not even in a debug log.
        write!(f, "Presented({})", self.id)
    }
}

/// Splits `flint_<id>_<secret>`; `None` if it does not have that shape.
pub fn parse_token(token: &str) -> Option<Presented<'_>> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, TOKEN_ID_LEN) && hex(secret, TOKEN_SECRET_LEN)).then_some(Presented { id, secret })
}

/// Builds a token from random bytes: 8 for the id, 32 for the secret.
pub fn format_token(id: &[u8; 8], secret: &[u8; 32]) -> String {
    format!("{TOKEN_PREFIX}{}_{}", to_hex(id), to_hex(secret))
}

/// The stored form of a secret: SHA-256, lowercase hex.
pub fn hash_secret(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The token a request carries: `Authorization: Bearer T`, else the
/// [`TOKEN_HEADER`] header.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<&str> {
    if let Some(bearer) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    {
        return Some(bearer.trim());
    }
    headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The dashboard's [`SESSION_COOKIE`], if the request carries it. Only the
/// dashboard reads it: the API takes tokens in headers, which a browser
/// never adds by itself (no cross-site request forgery).
pub fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(
        |cookies| {
            cookies.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name == SESSION_COOKIE).then_some(value)
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_verify() {
        let token = format_token(&[1; 8], &[2; 32]);
        let presented = parse_token(&token).expect("well formed");
        assert_eq!(presented.id, "0101010101010101");
        let grant = TokenGrant {
            id: presented.id.into(),
            hash: hash_secret(presented.secret),
            role: Role::Invoker,
            namespaces: Scope::All,
            expires_at: None,
        };
        assert!(grant.verify(presented.secret));
        assert!(!grant.verify(&"3".repeat(64)));
        assert!(!format!("{presented:?}").contains(presented.secret));
    }

    #[test]
    fn malformed_tokens_are_not_parsed() {
        for bad in [
            "",
            "flint_",
            "flint_abc_def",
            &format!("flint_{}_{}", "g".repeat(16), "0".repeat(64)),
            &format!("flint_{}_{}", "0".repeat(16), "0".repeat(63)),
            &format!("flint_{}{}", "0".repeat(16), "0".repeat(64)),
            &format!("other_{}_{}", "0".repeat(16), "0".repeat(64)),
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn roles_include_the_ones_below() {
        use Role::*;
        assert!(Admin.allows(Deployer) && Admin.allows(Viewer) && Admin.allows(Invoker));
        assert!(Deployer.allows(Viewer) && Deployer.allows(Invoker) && !Deployer.allows(Admin));
        assert!(!Viewer.allows(Invoker) && !Viewer.allows(Deployer));
        assert!(!Invoker.allows(Viewer));
        assert!(!Admin.allows(Cluster) && Cluster.allows(Cluster) && !Cluster.allows(Viewer));
    }

    #[test]
    fn scopes_on_the_wire() {
        let all: Scope = serde_json::from_str("\"*\"").expect("star");
        assert_eq!(all, Scope::All);
        let some: Scope = serde_json::from_str("[\"team-a\"]").expect("list");
        assert!(some.contains(&"team-a".parse().expect("name")));
        assert!(!some.contains(&"team-b".parse().expect("name")));
        assert!(serde_json::from_str::<Scope>("\"team-a\"").is_err());
        assert!(serde_json::from_str::<Scope>("[\"Bad Name\"]").is_err());
        assert_eq!(serde_json::to_string(&all).expect("json"), "\"*\"");
    }

    #[test]
    fn headers_carry_tokens() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, "a=b; flint_token=xyz".parse().expect("value"));
        assert_eq!(session_cookie(&headers), Some("xyz"));
        assert_eq!(token_from_headers(&headers), None, "the API does not read the cookie");
        headers.insert(TOKEN_HEADER, "abc".parse().expect("value"));
        assert_eq!(token_from_headers(&headers), Some("abc"));
        headers.insert(http::header::AUTHORIZATION, "Bearer tok".parse().expect("value"));
        assert_eq!(token_from_headers(&headers), Some("tok"));
    }
}
