//! Validated identifiers: [`Name`] for namespaces, functions and triggers, and
//! [`Digest`] for the content address of a version.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest [`Name`]: a DNS label, so a name can become part of a host name,
/// a Kafka consumer group or a Kubernetes object name unchanged.
pub const MAX_NAME_LEN: usize = 63;

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The name of a namespace, a function or a trigger: 1 to 63 lowercase ASCII
/// letters, digits and `-`, starting with a letter and not ending with `-`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a valid [`Name`] or [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidId {
    /// The string is not a valid name.
    #[error(
        "invalid name `{0}`: use 1 to 63 lowercase letters, digits and `-`, starting with a letter and not ending with `-`"
    )]
    Name(String),
    /// The string is not a valid digest.
    #[error("invalid digest `{0}`: expected `sha256:` followed by 64 lowercase hex digits")]
    Digest(String),
}

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The default namespace, `default`.
    pub fn default_namespace() -> Self {
        Self(DEFAULT_NAMESPACE.to_owned())
    }

    fn is_valid(s: &str) -> bool {
        let bytes = s.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_NAME_LEN
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }
}

impl TryFrom<String> for Name {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if Self::is_valid(&s) { Ok(Self(s)) } else { Err(InvalidId::Name(s)) }
    }
}

impl FromStr for Name {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The content address of a version: `sha256:` and the 64 lowercase hex digits
/// of the SHA-256 of the wasm bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

const DIGEST_PREFIX: &str = "sha256:";

impl Digest {
    /// Builds the digest from the 32 bytes of a SHA-256 hash.
    pub fn from_sha256(hash: &[u8; 32]) -> Self {
        use fmt::Write;
        let mut s = String::with_capacity(DIGEST_PREFIX.len() + 64);
        s.push_str(DIGEST_PREFIX);
        for byte in hash {
            let _ = write!(s, "{byte:02x}");
        }
        Self(s)
    }

    /// The digest as a string, `sha256:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits without the `sha256:` prefix: safe to use in a file name.
    pub fn hex(&self) -> &str {
        &self.0[DIGEST_PREFIX.len()..]
    }

    /// The first 12 hex digits, for tables meant for people.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let valid = s.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid { Ok(Self(s)) } else { Err(InvalidId::Digest(s)) }
    }
}

impl FromStr for Digest {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> Self {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "hello-http", "f1", "a-b-c", &"x".repeat(63)] {
            assert!(good.parse::<Name>().is_ok(), "{good}");
        }
        for bad in ["", "Hello", "1abc", "-a", "a-", "a_b", "a.b", "é", &"x".repeat(64)] {
            let err = bad.parse::<Name>().unwrap_err();
            assert!(err.to_string().contains("invalid name"), "{bad}: {err}");
        }
    }

    #[test]
    fn name_is_checked_when_deserialized() {
        assert!(serde_json::from_str::<Name>("\"ok\"").is_ok());
        let err = serde_json::from_str::<Name>("\"Not-Ok\"").unwrap_err();
        assert!(err.to_string().contains("invalid name `Not-Ok`"), "{err}");
    }

    #[test]
    fn digests() {
        let digest = Digest::from_sha256(&[0xab; 32]);
        assert_eq!(digest.as_str(), format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(digest.short(), "abababababab");
        assert_eq!(digest.as_str().parse::<Digest>().unwrap(), digest);
        for bad in ["", "sha256:", "sha256:AB", "md5:00", &format!("sha256:{}", "A".repeat(64))] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }
}
