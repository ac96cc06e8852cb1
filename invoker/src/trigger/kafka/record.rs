//! One Kafka record through a function: the CloudEvent request, the retries,
//! and the reply or dead-letter record, all before the offset may be
//! committed.

use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::Timestamp;
use http_body_util::{BodyExt, Full, Limited};
use rdkafka::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use super::Trigger;
use crate::access::Quota;
use crate::invoke::{Failure, TriggerKind, invoke};

/// The CloudEvent type of a consumed record.
pub const EVENT_TYPE: &str = "flint.kafka.record";
/// The CloudEvent type of a reply record.
pub const REPLY_TYPE: &str = "flint.kafka.reply";
/// How long to wait before asking a busy function again (its queue was full).
const BUSY_WAIT: Duration = Duration::from_millis(20);
/// Shortest wait after the namespace's rate limit refused a record.
const RATE_WAIT_FLOOR: Duration = Duration::from_millis(1);
/// Header names Flint sets itself: record headers by these names are not passed on.
const RESERVED: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"];

/// How a record ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The function answered 2xx (and any reply was produced).
    Succeeded,
    /// Every attempt failed and the record went to the dead-letter topic.
    DeadLettered,
    /// Shutdown or a lost partition interrupted it: not done, not committed.
    Abandoned,
}

/// Runs `record` through the trigger's function until it is handled:
/// retries failures with backoff, then dead-letters it (or, without a
/// dead-letter topic, keeps retrying at the longest backoff). A full
/// function queue is waited out without using an attempt. `stop` ends only
/// the waits between attempts: an attempt or a produce under way finishes.
pub async fn handle(trigger: &Trigger, record: &OwnedMessage, stop: &CancellationToken) -> Handled {
    let metrics = &trigger.metrics;
    let started = Instant::now();
    let mut attempt = 1u32;
    loop {
        // Not interrupted by `stop`: a drain lets the attempt (bounded by
        // the function's timeout) and its reply finish, so what the function
        // did is committed rather than done again by the partition's next owner.
        let outcome = deliver(trigger, record, attempt).await;
        let error = match outcome {
            Ok(reply) => {
                if let Some(body) = reply
                    && let Some(topic) = &trigger.spec.reply_topic
                {
                    if !produce_until_acked(trigger, stop, || {
                        reply_record(trigger, record, topic, &body)
                    })
                    .await
                    {
                        return Handled::Abandoned;
                    }
                    metrics.replies.inc();
                }
                metrics.succeeded.inc();
                metrics.latency.observe(started.elapsed().as_secs_f64());
                return Handled::Succeeded;
            }
            // Backpressure, not failure: the function is busy.
            Err(Failure::Rejected(_)) => {
                tokio::select! {
                    () = stop.cancelled() => return Handled::Abandoned,
                    () = tokio::time::sleep(BUSY_WAIT) => continue,
                }
            }
            // The namespace's rate, like a busy function, is backpressure:
            // the consumer slows to the rate instead of spending attempts
            // and dead-lettering records. `wait` is exact (the next token),
            // with a floor so partitions racing for one bucket do not spin.
            // A spent budget is a failure.
            Err(Failure::Quota(Quota::Rate { wait, .. })) => {
                tokio::select! {
                    () = stop.cancelled() => return Handled::Abandoned,
                    () = tokio::time::sleep(wait.max(RATE_WAIT_FLOOR)) => continue,
                }
            }
            Err(failure) => failure,
        };
        let retry = &trigger.spec.retry;
        if attempt >= retry.attempts
            && let Some(topic) = &trigger.spec.dead_letter_topic
        {
            let dead = || dead_letter_record(trigger, record, topic, attempt, &error);
            if !produce_until_acked(trigger, stop, dead).await {
                return Handled::Abandoned;
            }
            metrics.dead_lettered.inc();
            metrics.latency.observe(started.elapsed().as_secs_f64());
            return Handled::DeadLettered;
        }
        // Without a dead-letter topic the record is never dropped: past the
        // last attempt it keeps being retried at the longest backoff.
        attempt += 1;
        metrics.retried.inc();
        let wait = retry.backoff(attempt.min(retry.attempts.max(2)).max(2));
        tokio::select! {
            () = stop.cancelled() => return Handled::Abandoned,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One attempt. `Ok(Some(body))`: 2xx with a body to reply with.
async fn deliver(
    trigger: &Trigger,
    record: &OwnedMessage,
    attempt: u32,
) -> Result<Option<Bytes>, Failure> {
    let Some(function) = trigger.runtime.registry.function(&trigger.namespace, &trigger.function)
    else {
        return Err(Failure::NotReady(format!(
            "function `{}` has no code on this invoker",
            trigger.function
        )));
    };
    let request = request(trigger, record, attempt).map_err(Failure::BadRequest)?;
    let response = invoke(&trigger.runtime, &function, TriggerKind::Kafka, request).await?;
    let status = response.status();
    let limit = trigger.runtime.config.max_body_bytes;
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !status.is_success() {
        return Err(Failure::ErrorCode(format!("the function answered {status}")));
    }
    Ok((!body.is_empty()).then_some(body))
}

/// The `POST` carrying the record as a CloudEvent in binary mode.
pub fn request(
    trigger: &Trigger,
    record: &OwnedMessage,
    attempt: u32,
) -> Result<http::Request<Full<Bytes>>, String> {
    let mut request = http::Request::post(trigger.spec.path.as_str())
        .header(http::header::HOST, "localhost")
        .header("ce-specversion", "1.0")
        .header("ce-type", EVENT_TYPE)
        .header("ce-source", source(trigger, record.topic()))
        .header("ce-id", event_id(record))
        .header("ce-subject", format!("{}/{}", record.partition(), record.offset()))
        .header(super::ATTEMPT_HEADER, attempt);
    if let Some(time) = record_time(record) {
        request = request.header("ce-time", time.to_string());
    }
    if let Some(key) = record.key() {
        request = request.header("ce-partitionkey", percent_encode(key));
    }
    if let Some(headers) = record.headers() {
        for header in headers.iter() {
            let name = header.key.to_ascii_lowercase();
            let taken = RESERVED.contains(&name.as_str())
                || name.starts_with("ce-") && name != "ce-flinttrace";
            if taken || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                continue;
            }
            request = request.header(name, percent_encode(header.value.unwrap_or_default()));
        }
    }
    let body = Bytes::copy_from_slice(record.payload().unwrap_or_default());
    request.body(Full::new(body)).map_err(|e| e.to_string())
}

/// `kafka://BROKER/TOPIC`: the cluster (its first bootstrap server) and topic.
pub fn source(trigger: &Trigger, topic: &str) -> String {
    let broker = trigger.spec.bootstrap_servers.split(',').next().unwrap_or_default().trim();
    format!("kafka://{broker}/{topic}")
}

/// Unique per topic, partition and offset.
pub fn event_id(record: &OwnedMessage) -> String {
    format!("{}-{}-{}", record.topic(), record.partition(), record.offset())
}

fn record_time(record: &OwnedMessage) -> Option<Timestamp> {
    record.timestamp().to_millis().and_then(|ms| Timestamp::from_millisecond(ms).ok())
}

/// Bytes as a header value: printable ASCII as is, everything else (and
/// `%`) as `%XX`, as the CloudEvents HTTP binding does.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A record ready to produce.
pub struct Outgoing {
    topic: String,
    key: Option<Vec<u8>>,
    value: Bytes,
    headers: OwnedHeaders,
}

fn reply_record(trigger: &Trigger, record: &OwnedMessage, topic: &str, body: &Bytes) -> Outgoing {
    let source = format!("/namespaces/{}/functions/{}", trigger.namespace, trigger.function);
    let headers = OwnedHeaders::new()
        .insert(text_header("ce_specversion", "1.0"))
        .insert(text_header("ce_type", REPLY_TYPE))
        .insert(text_header("ce_source", &source))
        .insert(text_header("ce_id", &event_id(record)))
        .insert(text_header("ce_time", &Timestamp::now().to_string()));
    Outgoing {
        topic: topic.to_owned(),
        key: record.key().map(<[u8]>::to_vec),
        value: body.clone(),
        headers,
    }
}

fn dead_letter_record(
    trigger: &Trigger,
    record: &OwnedMessage,
    topic: &str,
    attempts: u32,
    error: &Failure,
) -> Outgoing {
    let mut headers = record.headers().cloned().unwrap_or_else(OwnedHeaders::new);
    let function = format!("{}/{}", trigger.namespace, trigger.function);
    let reason = error_text(trigger, error);
    for (name, value) in [
        ("flint.function", function.as_str()),
        ("flint.trigger", trigger.name.as_str()),
        ("flint.attempts", &attempts.to_string()),
        ("flint.error", &reason),
        ("flint.original.topic", record.topic()),
        ("flint.original.partition", &record.partition().to_string()),
        ("flint.original.offset", &record.offset().to_string()),
    ] {
        headers = headers.insert(text_header(name, value));
    }
    Outgoing {
        topic: topic.to_owned(),
        key: record.key().map(<[u8]>::to_vec),
        value: Bytes::copy_from_slice(record.payload().unwrap_or_default()),
        headers,
    }
}

/// The last error, as the dead-letter headers carry it: the status and the message.
fn error_text(trigger: &Trigger, failure: &Failure) -> String {
    match trigger.runtime.registry.function(&trigger.namespace, &trigger.function) {
        Some(function) => format!("{} {}", failure.status().as_u16(), failure.message(&function)),
        None => format!("{} {failure:?}", failure.status().as_u16()),
    }
}

fn text_header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header { key, value: Some(value) }
}

/// Produces a record and waits for the broker's acknowledgement, retrying
/// while the broker is unavailable. `false`: stopped while waiting to retry.
async fn produce_until_acked(
    trigger: &Trigger,
    stop: &CancellationToken,
    make: impl Fn() -> Outgoing,
) -> bool {
    let mut wait = Duration::from_millis(100);
    loop {
        let outgoing = make();
        let mut record = FutureRecord::to(&outgoing.topic)
            .payload(outgoing.value.as_ref())
            .headers(outgoing.headers);
        if let Some(key) = &outgoing.key {
            record = record.key(key.as_slice());
        }
        // Once sent, the record may land: wait for the answer even when
        // stopping, so a reply that was written is also committed.
        match trigger.producer.send(record, Duration::from_secs(30)).await {
            Ok(_) => return true,
            Err((error, _)) => {
                tracing::warn!(trigger = %trigger.name, topic = %outgoing.topic, %error, "cannot produce; retrying");
                tokio::select! {
                    () = stop.cancelled() => return false,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The producer for a trigger's replies and dead letters: every produce
/// waits for all in-sync replicas (`acks=all`) before the offset moves, and
/// the producer is idempotent, so librdkafka's own retries of a send (after
/// a timeout, say) never write a reply twice.
pub fn producer(
    bootstrap: &str,
    properties: &std::collections::BTreeMap<String, String>,
) -> rdkafka::error::KafkaResult<FutureProducer> {
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1");
    for (key, value) in properties {
        // Consumer-only properties make a producer warn; pass the shared ones.
        if !key.starts_with("session.")
            && !key.starts_with("heartbeat.")
            && !key.starts_with("max.poll")
        {
            config.set(key, value);
        }
    }
    config.create()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_percent_encoded() {
        assert_eq!(percent_encode(b"user-7"), "user-7");
        assert_eq!(percent_encode(b"a b%c\n\xff"), "a b%25c%0A%FF");
    }
}
