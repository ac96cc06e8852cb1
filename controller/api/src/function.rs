//! Functions, their limits and their versions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, FieldError, Name, Timestamp};

/// Limits of one function, with every value resolved. The controller stores
/// them like this, so an invoker never has to guess a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Linear memory one instance may grow to, in MiB.
    pub memory_mb: u32,
    /// Wall-clock time one invocation may take, in milliseconds; past it the
    /// instance is stopped and the caller gets `504`.
    pub timeout_ms: u64,
    /// Instances of the function that may run at once on one invoker.
    pub concurrency: u32,
    /// Invocations that may wait for a free instance on one invoker; past it
    /// callers get `429` with `Retry-After`.
    pub queue: u32,
    /// Time without an invocation after which an invoker unloads the
    /// function (scale to zero), in milliseconds.
    pub idle_timeout_ms: u64,
}

impl Limits {
    /// Default memory per instance: 128 MiB, the smallest AWS Lambda size.
    pub const DEFAULT_MEMORY_MB: u32 = 128;
    /// Default timeout: 30 s, enough for an HTTP API, short enough to notice a hang.
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
    /// Default concurrent instances per invoker.
    pub const DEFAULT_CONCURRENCY: u32 = 100;
    /// Default queue length per invoker.
    pub const DEFAULT_QUEUE: u32 = 100;
    /// Default idle timeout: 60 s. A cold start costs a few milliseconds, so
    /// Flint gives memory back early.
    pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;

    /// The largest memory a function may ask for: 4 GiB, all a 32-bit linear memory can address.
    pub const MAX_MEMORY_MB: u32 = 4096;
    /// The longest timeout: 15 minutes, as on AWS Lambda.
    pub const MAX_TIMEOUT_MS: u64 = 15 * 60 * 1000;
    /// The most instances of one function on one invoker.
    pub const MAX_CONCURRENCY: u32 = 1000;
    /// The longest queue of one function on one invoker.
    pub const MAX_QUEUE: u32 = 10_000;
    /// The shortest idle timeout.
    pub const MIN_IDLE_TIMEOUT_MS: u64 = 100;
    /// The longest idle timeout: one day.
    pub const MAX_IDLE_TIMEOUT_MS: u64 = 24 * 60 * 60 * 1000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: Self::DEFAULT_MEMORY_MB,
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
            concurrency: Self::DEFAULT_CONCURRENCY,
            queue: Self::DEFAULT_QUEUE,
            idle_timeout_ms: Self::DEFAULT_IDLE_TIMEOUT_MS,
        }
    }
}

/// Limits as a user writes them: every field optional, unset fields take the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// See [`Limits::memory_mb`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// See [`Limits::timeout_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// See [`Limits::concurrency`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// See [`Limits::queue`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// See [`Limits::idle_timeout_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

impl LimitsSpec {
    /// Fills unset fields from `defaults` and checks every value's range.
    pub fn resolve(&self, defaults: &Limits) -> Result<Limits, FieldError> {
        fn check<T: PartialOrd + std::fmt::Display>(
            field: &str,
            value: T,
            min: T,
            max: T,
        ) -> Result<T, FieldError> {
            if value < min || value > max {
                return Err(FieldError::new(
                    format!("limits.{field}"),
                    format!("{value} is out of range {min}..={max}"),
                ));
            }
            Ok(value)
        }
        Ok(Limits {
            memory_mb: check(
                "memory_mb",
                self.memory_mb.unwrap_or(defaults.memory_mb),
                1,
                Limits::MAX_MEMORY_MB,
            )?,
            timeout_ms: check(
                "timeout_ms",
                self.timeout_ms.unwrap_or(defaults.timeout_ms),
                1,
                Limits::MAX_TIMEOUT_MS,
            )?,
            concurrency: check(
                "concurrency",
                self.concurrency.unwrap_or(defaults.concurrency),
                1,
                Limits::MAX_CONCURRENCY,
            )?,
            queue: check("queue", self.queue.unwrap_or(defaults.queue), 0, Limits::MAX_QUEUE)?,
            idle_timeout_ms: check(
                "idle_timeout_ms",
                self.idle_timeout_ms.unwrap_or(defaults.idle_timeout_ms),
                Limits::MIN_IDLE_TIMEOUT_MS,
                Limits::MAX_IDLE_TIMEOUT_MS,
            )?,
        })
    }
}

/// The body of `PUT /v1/namespaces/{ns}/functions/{name}`: creates the
/// function or replaces its settings. The code is uploaded separately.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Limits; unset fields take the controller's defaults.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Environment variables the guest sees. The host's own environment is never passed on.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl FunctionSpec {
    /// Checks what [`LimitsSpec::resolve`] does not: environment variable names.
    pub fn validate(&self) -> Result<(), FieldError> {
        for key in self.env.keys() {
            let valid = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(FieldError::new(
                    "env",
                    format!(
                        "`{key}` is not a valid variable name (letters, digits and `_`, not starting with a digit)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A function as the controller stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// The namespace the function lives in.
    pub namespace: Name,
    /// The function's name, unique in its namespace.
    pub name: Name,
    /// The version that runs, `None` until code has been uploaded.
    pub version: Option<Digest>,
    /// Resolved limits.
    pub limits: Limits,
    /// Environment variables the guest sees.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// When the function was created.
    pub created_at: Timestamp,
    /// When its settings or its version last changed.
    pub updated_at: Timestamp,
}

/// One uploaded version of a function. Versions are immutable; the wasm bytes
/// are stored once per digest however many functions use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The SHA-256 of the wasm bytes.
    pub digest: Digest,
    /// Size of the wasm in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_take_defaults_and_are_range_checked() {
        let defaults = Limits::default();
        assert_eq!(LimitsSpec::default().resolve(&defaults).unwrap(), defaults);
        let spec = LimitsSpec { memory_mb: Some(64), queue: Some(0), ..LimitsSpec::default() };
        let limits = spec.resolve(&defaults).unwrap();
        assert_eq!((limits.memory_mb, limits.queue), (64, 0));

        let err = LimitsSpec { memory_mb: Some(0), ..LimitsSpec::default() }
            .resolve(&defaults)
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid `limits.memory_mb`: 0 is out of range 1..=4096");
        let err = LimitsSpec { concurrency: Some(5000), ..LimitsSpec::default() }
            .resolve(&defaults)
            .unwrap_err();
        assert!(err.to_string().contains("limits.concurrency"), "{err}");
    }

    #[test]
    fn unknown_limit_fields_are_refused() {
        let err = serde_json::from_str::<FunctionSpec>(r#"{"limits":{"memory":5}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `memory`"), "{err}");
    }

    #[test]
    fn env_names_are_checked() {
        let mut spec = FunctionSpec::default();
        spec.env.insert("GOOD_NAME1".into(), "x".into());
        spec.validate().unwrap();
        spec.env.insert("1BAD".into(), "x".into());
        assert!(spec.validate().unwrap_err().to_string().contains("`1BAD`"));
    }
}
