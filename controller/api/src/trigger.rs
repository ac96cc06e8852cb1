//! Triggers: what starts a function: an HTTP route, a schedule or Kafka records.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::schedule::Schedule;
use crate::{FieldError, Name, Timestamp};

/// Methods an HTTP trigger may name.
pub const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// An HTTP route to a function: requests whose path starts with `route` (on a
/// `/` boundary) and, if set, whose `Host` is `host`, reach the function. The
/// longest matching route wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    /// Path prefix, e.g. `/hello`. `/` matches every path.
    pub route: String,
    /// Host name to match (without port); `None` matches any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Methods to accept, upper case; empty accepts every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Whether callers must present a token (`auth = "token"`).
    #[serde(default, skip_serializing_if = "RouteAuth::is_none")]
    pub auth: RouteAuth,
}

/// Who may call an HTTP route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteAuth {
    /// Anyone who can reach the ingress (the default, as for a public webhook).
    #[default]
    None,
    /// Callers present a token of role `invoker` or better for the
    /// function's namespace (`Authorization: Bearer …` or `flint-token: …`);
    /// others get `401`/`403` before any instance is created.
    Token,
}

impl RouteAuth {
    /// Whether no token is asked for.
    pub fn is_none(&self) -> bool {
        *self == RouteAuth::None
    }
}

impl HttpTrigger {
    /// A route to `route` on any host, for every method, without auth.
    pub fn new(route: impl Into<String>) -> Self {
        Self { route: route.into(), host: None, methods: vec![], auth: RouteAuth::None }
    }

    /// Whether some request could match both routes: their hosts can be
    /// the same (equal, or either matches any host) and one path prefix
    /// contains the other. Routes of different namespaces must not overlap,
    /// or one could take the other's traffic.
    pub fn overlaps(&self, other: &HttpTrigger) -> bool {
        let hosts_meet = match (&self.host, &other.host) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        hosts_meet && (self.matches_path(&other.route) || other.matches_path(&self.route))
    }

    /// Checks the route, host and methods, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), FieldError> {
        let route = &self.route;
        if !route.starts_with('/') {
            return Err(FieldError::new("http.route", format!("`{route}` must start with `/`")));
        }
        if route.len() > 1 && route.ends_with('/') {
            return Err(FieldError::new("http.route", format!("`{route}` must not end with `/`")));
        }
        let segments_ok = route.split('/').skip(1).all(|segment| {
            (route == "/" || !segment.is_empty())
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_graphic() && !b"?#%\\".contains(&b))
        });
        if !segments_ok {
            return Err(FieldError::new(
                "http.route",
                format!(
                    "`{route}` must be a plain path: no empty, `.` or `..` segments, no `?`, `#`, `%` or spaces"
                ),
            ));
        }
        if let Some(host) = &self.host {
            let valid = !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                });
            if !valid {
                return Err(FieldError::new(
                    "http.host",
                    format!("`{host}` is not a lowercase host name (no port, no scheme)"),
                ));
            }
        }
        for method in &self.methods {
            if !HTTP_METHODS.contains(&method.as_str()) {
                return Err(FieldError::new(
                    "http.methods",
                    format!("`{method}` is not one of {}", HTTP_METHODS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Whether `path` falls under this route: equal to it, or continuing it after a `/`.
    pub fn matches_path(&self, path: &str) -> bool {
        self.route == "/"
            || path
                .strip_prefix(self.route.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// What kind of event starts the function, and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TriggerSpec {
    /// An HTTP route.
    Http(HttpTrigger),
    /// A schedule.
    Schedule(ScheduleTrigger),
    /// Records on Kafka topics.
    Kafka(KafkaTrigger),
}

impl TriggerSpec {
    /// The kind as a short lowercase word: `http`, `schedule`, `kafka`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Schedule(_) => "schedule",
            Self::Kafka(_) => "kafka",
        }
    }

    /// Checks the kind-specific settings.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Self::Http(http) => http.validate(),
            Self::Schedule(schedule) => schedule.validate().map(drop),
            Self::Kafka(kafka) => kafka.validate(),
        }
    }
}

/// A schedule: the function is called with a CloudEvent at every fire time,
/// exactly once across all invokers (see the README for the guarantee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTrigger {
    /// A cron expression (5 fields, or 6 with seconds first), `@hourly`,
    /// `@daily`, `@weekly`, `@monthly`, `@yearly` or `@every <duration>`.
    /// See [`crate::schedule`].
    pub cron: String,
    /// IANA time zone the expression is read in.
    #[serde(default = "utc")]
    pub timezone: String,
    /// Request body sent at every firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Content type of the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Path the function sees (default `/`).
    #[serde(default = "root")]
    pub path: String,
    /// What to do with fire times that passed while no invoker could run them.
    #[serde(default)]
    pub missed: MissedPolicy,
    /// With `missed = "all"`, the most catch-up runs (the newest are kept).
    #[serde(default = "default_max_catch_up")]
    pub max_catch_up: u32,
    /// Retries of a failed run.
    #[serde(default)]
    pub retry: RetryPolicy,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn root() -> String {
    "/".to_owned()
}

fn default_max_catch_up() -> u32 {
    ScheduleTrigger::DEFAULT_MAX_CATCH_UP
}

impl ScheduleTrigger {
    /// Default bound of catch-up runs for `missed = "all"`.
    pub const DEFAULT_MAX_CATCH_UP: u32 = 10;
    /// The largest bound.
    pub const MAX_CATCH_UP: u32 = 1000;

    /// Checks every field and returns the parsed schedule.
    pub fn validate(&self) -> Result<Schedule, FieldError> {
        if self.timezone.trim().is_empty() {
            return Err(FieldError::new("schedule.timezone", "must not be empty"));
        }
        if TimeZone::get(&self.timezone).is_err() {
            return Err(FieldError::new(
                "schedule.timezone",
                format!(
                    "`{}` is not an IANA time zone (e.g. `UTC`, `Europe/Berlin`)",
                    self.timezone
                ),
            ));
        }
        let schedule = Schedule::parse(&self.cron, &self.timezone)
            .map_err(|e| FieldError::new("schedule.cron", e.to_string()))?;
        // `0 0 30 2 *` parses but never fires: say so instead of storing a
        // schedule that silently does nothing.
        if schedule.next_after(Timestamp::now()).is_none() {
            return Err(FieldError::new(
                "schedule.cron",
                format!("`{}` never fires (no time matches it in the next eight years)", self.cron),
            ));
        }
        if !self.path.starts_with('/') || self.path.contains(char::is_whitespace) {
            return Err(FieldError::new(
                "schedule.path",
                format!("`{}` must start with `/` and have no spaces", self.path),
            ));
        }
        if self.max_catch_up > Self::MAX_CATCH_UP {
            return Err(FieldError::new(
                "schedule.max_catch_up",
                format!("{} is out of range 0..={}", self.max_catch_up, Self::MAX_CATCH_UP),
            ));
        }
        self.retry.validate("schedule.retry")?;
        Ok(schedule)
    }
}

/// What to do with fire times that passed while no invoker could run them
/// (every invoker down, or the controller down when no invoker led).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissedPolicy {
    /// Run none of them (the default): a schedule is about the present.
    #[default]
    Skip,
    /// Run one catch-up run, for the newest.
    Once,
    /// Run each of them, up to `max_catch_up` (the newest).
    All,
}

/// How a failed run (non-2xx, trap, timeout) is retried: `attempts` in all,
/// waiting `initial_backoff_ms`, then that times `multiplier` each time, at
/// most `max_backoff_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub attempts: u32,
    /// Wait before the first retry, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Factor applied to the wait before each further retry.
    pub multiplier: f64,
    /// Longest wait, in milliseconds.
    pub max_backoff_ms: u64,
}

// Multipliers are validated finite, so equality is total in practice.
impl Eq for RetryPolicy {}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, initial_backoff_ms: 1000, multiplier: 2.0, max_backoff_ms: 60_000 }
    }
}

impl RetryPolicy {
    /// Checks the ranges; `field` names the policy in errors.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        if !(1..=100).contains(&self.attempts) {
            return Err(FieldError::new(
                format!("{field}.attempts"),
                format!("{} is out of range 1..=100", self.attempts),
            ));
        }
        if !self.multiplier.is_finite() || !(1.0..=10.0).contains(&self.multiplier) {
            return Err(FieldError::new(
                format!("{field}.multiplier"),
                format!("{} is out of range 1..=10", self.multiplier),
            ));
        }
        if self.max_backoff_ms < self.initial_backoff_ms || self.max_backoff_ms > 3_600_000 {
            return Err(FieldError::new(
                format!("{field}.max_backoff_ms"),
                format!(
                    "{} must be at least initial_backoff_ms ({}) and at most 3600000",
                    self.max_backoff_ms, self.initial_backoff_ms
                ),
            ));
        }
        Ok(())
    }

    /// The wait before attempt `attempt` (2 is the first retry).
    pub fn backoff(&self, attempt: u32) -> std::time::Duration {
        let exponent = attempt.saturating_sub(2) as i32;
        let ms = self.initial_backoff_ms as f64 * self.multiplier.powi(exponent);
        std::time::Duration::from_millis(ms.min(self.max_backoff_ms as f64) as u64)
    }
}

/// The body of `PUT /v1/namespaces/{ns}/triggers/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// The function the trigger starts; it must exist in the same namespace.
    pub function: Name,
    /// The kind and its settings.
    pub spec: TriggerSpec,
}

/// A trigger as the controller stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The namespace of the trigger and of its function.
    pub namespace: Name,
    /// The trigger's name, unique in its namespace.
    pub name: Name,
    /// The function it starts.
    pub function: Name,
    /// The kind and its settings.
    pub spec: TriggerSpec,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Records on one or more Kafka topics: each record is a `POST` with a
/// CloudEvent to the function, in order per partition, committed only after
/// it was handled (see the README for the guarantees).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTrigger {
    /// Comma-separated `host:port` list of brokers.
    pub bootstrap_servers: String,
    /// The topics to consume.
    pub topics: Vec<String>,
    /// The consumer group; default `flint.NAMESPACE.TRIGGER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where a new group starts reading.
    #[serde(default)]
    pub start: StartPosition,
    /// Records of one partition handled at once; 1 (the default) keeps
    /// strict order. Offsets are still committed in order.
    #[serde(default = "one")]
    pub in_flight_per_partition: u32,
    /// Retries of a failed record before it goes to the dead-letter topic.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Where records go after the last failed attempt. Without one, the
    /// partition keeps retrying the record (at the longest backoff) and
    /// never drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,
    /// Where a 2xx answer with a body is produced, keyed like the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_topic: Option<String>,
    /// Path the function sees (default `/`).
    #[serde(default = "root")]
    pub path: String,
    /// librdkafka client properties passed through (security, timeouts);
    /// the ones Flint sets itself are refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

/// Where a new consumer group starts reading a topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartPosition {
    /// The oldest record still kept.
    Earliest,
    /// Only records produced from now on (the default).
    #[default]
    Latest,
}

/// Client properties Flint sets itself, so a trigger may not.
pub const KAFKA_RESERVED_PROPERTIES: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "enable.partition.eof",
];

/// The client properties a trigger may set: how to reach and authenticate
/// to its brokers, and the consumer's timing. Everything else is refused:
/// librdkafka also takes properties that load code (`plugin.library.paths`),
/// read local files (`ssl.key.location`), or size its memory and logging,
/// none of which a tenant may choose for the invoker process.
pub const KAFKA_USER_PROPERTIES: &[&str] = &[
    "client.id",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.pem",
    "ssl.certificate.pem",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "isolation.level",
    "partition.assignment.strategy",
    "compression.type",
    "socket.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
];

impl KafkaTrigger {
    /// The most records of one partition in flight.
    pub const MAX_IN_FLIGHT: u32 = 1000;

    /// The consumer group.
    pub fn group_id(&self, namespace: &Name, trigger: &Name) -> String {
        self.group.clone().unwrap_or_else(|| format!("flint.{namespace}.{trigger}"))
    }

    /// Checks every field, naming the one that is wrong.
    pub fn validate(&self) -> Result<(), FieldError> {
        let servers: Vec<&str> = self.bootstrap_servers.split(',').map(str::trim).collect();
        for server in &servers {
            let valid = server.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty()
                    && !host.contains(char::is_whitespace)
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !valid {
                return Err(FieldError::new(
                    "kafka.bootstrap_servers",
                    format!("`{server}` is not `host:port` (a comma-separated list is allowed)"),
                ));
            }
        }
        if self.topics.is_empty() {
            return Err(FieldError::new("kafka.topics", "name at least one topic"));
        }
        for topic in self.topics.iter().chain(&self.dead_letter_topic).chain(&self.reply_topic) {
            if !valid_topic(topic) {
                return Err(FieldError::new(
                    "kafka.topics",
                    format!("`{topic}` is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"),
                ));
            }
        }
        if let Some(dlq) = &self.dead_letter_topic
            && self.topics.contains(dlq)
        {
            return Err(FieldError::new(
                "kafka.dead_letter_topic",
                format!("`{dlq}` is also a consumed topic"),
            ));
        }
        if let Some(reply) = &self.reply_topic
            && self.topics.contains(reply)
        {
            return Err(FieldError::new(
                "kafka.reply_topic",
                format!("`{reply}` is also a consumed topic: a loop"),
            ));
        }
        if let Some(group) = &self.group
            && !valid_topic(group)
        {
            return Err(FieldError::new(
                "kafka.group",
                format!("`{group}` is not a valid group id"),
            ));
        }
        if !(1..=Self::MAX_IN_FLIGHT).contains(&self.in_flight_per_partition) {
            return Err(FieldError::new(
                "kafka.in_flight_per_partition",
                format!(
                    "{} is out of range 1..={}",
                    self.in_flight_per_partition,
                    Self::MAX_IN_FLIGHT
                ),
            ));
        }
        if !self.path.starts_with('/') || self.path.contains(char::is_whitespace) {
            return Err(FieldError::new(
                "kafka.path",
                format!("`{}` must start with `/` and have no spaces", self.path),
            ));
        }
        if let Some(key) =
            self.properties.keys().find(|k| KAFKA_RESERVED_PROPERTIES.contains(&k.as_str()))
        {
            return Err(FieldError::new("kafka.properties", format!("`{key}` is set by Flint")));
        }
        if let Some(key) =
            self.properties.keys().find(|k| !KAFKA_USER_PROPERTIES.contains(&k.as_str()))
        {
            return Err(FieldError::new(
                "kafka.properties",
                format!(
                    "`{key}` is not a property a trigger may set; these are: {}",
                    KAFKA_USER_PROPERTIES.join(", ")
                ),
            ));
        }
        if let Some((key, _)) = self.properties.iter().find(|(k, v)| k.len() + v.len() > 16 << 10) {
            return Err(FieldError::new(
                "kafka.properties",
                format!("`{key}` is longer than 16 KiB"),
            ));
        }
        self.retry.validate("kafka.retry")
    }
}

fn valid_topic(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(route: &str) -> HttpTrigger {
        HttpTrigger::new(route)
    }

    #[test]
    fn only_allowed_kafka_properties_are_taken() {
        let trigger = |key: &str| -> KafkaTrigger {
            serde_json::from_value(serde_json::json!({
                "bootstrap_servers": "127.0.0.1:9092",
                "topics": ["t"],
                "properties": { key: "x" },
            }))
            .expect("kafka trigger")
        };
        for refused in
            ["plugin.library.paths", "ssl.key.location", "debug", "queued.max.messages.kbytes"]
        {
            let err = trigger(refused).validate().unwrap_err();
            assert!(
                err.to_string().contains("not a property a trigger may set"),
                "{refused}: {err}"
            );
        }
        assert!(trigger("group.id").validate().unwrap_err().to_string().contains("set by Flint"));
        trigger("session.timeout.ms").validate().expect("allowed");
        trigger("sasl.password").validate().expect("allowed");
    }

    #[test]
    fn schedules_that_never_fire_are_refused() {
        let schedule = |cron: &str| -> ScheduleTrigger {
            serde_json::from_value(serde_json::json!({ "cron": cron })).expect("schedule")
        };
        let err = schedule("0 0 30 2 *").validate().unwrap_err();
        assert!(err.to_string().contains("never fires"), "{err}");
        schedule("0 0 29 2 *").validate().expect("leap days come");
    }

    #[test]
    fn overlapping_routes() {
        let host = |route: &str, host: &str| HttpTrigger { host: Some(host.into()), ..http(route) };
        assert!(http("/hello").overlaps(&http("/hello/admin")));
        assert!(http("/hello/admin").overlaps(&http("/hello")));
        assert!(http("/").overlaps(&http("/x")));
        assert!(http("/hello").overlaps(&host("/hello", "127.0.0.1")));
        assert!(!http("/hello").overlaps(&http("/hello-world")));
        assert!(!host("/a", "one.example").overlaps(&host("/a", "two.example")));
    }

    #[test]
    fn routes_are_validated() {
        for good in ["/", "/hello", "/api/v1", "/a-b_c.d"] {
            http(good).validate().unwrap();
        }
        for bad in ["", "hello", "/hello/", "/a//b", "/a/../b", "/a?b", "/a b", "/%2e"] {
            let err = http(bad).validate().unwrap_err();
            assert_eq!(err.field, "http.route", "{bad}");
        }
        let mut t = http("/x");
        t.host = Some("Example.com".into());
        assert_eq!(t.validate().unwrap_err().field, "http.host");
        t.host = Some("api.example.com".into());
        t.methods = vec!["FETCH".into()];
        assert!(t.validate().unwrap_err().to_string().contains("`FETCH`"));
    }

    #[test]
    fn prefix_matching_stops_at_segment_boundaries() {
        let t = http("/hello");
        assert!(t.matches_path("/hello"));
        assert!(t.matches_path("/hello/world"));
        assert!(!t.matches_path("/helloworld"));
        assert!(!t.matches_path("/"));
        assert!(http("/").matches_path("/anything"));
    }

    #[test]
    fn kafka_triggers_are_validated() {
        let json = r#"{"bootstrap_servers":"127.0.0.1:9092","topics":["orders"]}"#;
        let good: KafkaTrigger = serde_json::from_str(json).unwrap();
        good.validate().unwrap();
        assert_eq!(good.in_flight_per_partition, 1);
        assert_eq!(good.start, StartPosition::Latest);
        assert_eq!(
            good.group_id(&Name::default_namespace(), &"t".parse().unwrap()),
            "flint.default.t"
        );
        let field = |k: KafkaTrigger| k.validate().unwrap_err().field;
        assert_eq!(
            field(KafkaTrigger { bootstrap_servers: "nohost".into(), ..good.clone() }),
            "kafka.bootstrap_servers"
        );
        assert_eq!(field(KafkaTrigger { topics: vec![], ..good.clone() }), "kafka.topics");
        assert_eq!(
            field(KafkaTrigger { topics: vec!["bad topic".into()], ..good.clone() }),
            "kafka.topics"
        );
        assert_eq!(
            field(KafkaTrigger { reply_topic: Some("orders".into()), ..good.clone() }),
            "kafka.reply_topic"
        );
        assert_eq!(
            field(KafkaTrigger { in_flight_per_partition: 0, ..good.clone() }),
            "kafka.in_flight_per_partition"
        );
        let mut properties = BTreeMap::new();
        properties.insert("group.id".to_owned(), "x".to_owned());
        assert_eq!(field(KafkaTrigger { properties, ..good }), "kafka.properties");
    }

    #[test]
    fn trigger_request_json() {
        let json = r#"{"function":"hello","spec":{"http":{"route":"/hello","methods":["GET"]}}}"#;
        let req: TriggerRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.spec.kind(), "http");
        let err = serde_json::from_str::<TriggerRequest>(
            r#"{"function":"hello","spec":{"http":{"route":"/x","path":"/y"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `path`"), "{err}");
    }
}
