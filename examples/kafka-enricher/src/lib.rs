//! `kafka-enricher`: a function a Kafka trigger starts. Each record arrives
//! as a CloudEvent (`ce-type: flint.kafka.record`, `ce-partitionkey` = the
//! record key, body = the value); the function adds fields to the JSON
//! object and answers it, and the trigger's `reply_topic` receives the
//! answer, keyed like the input. No Kafka client library is involved.
//!
//! A value that is not a JSON object is answered with 422: the trigger
//! retries it and then sends it to its dead-letter topic.

use flint_sdk::{CloudEvent, Request, Response};
use serde_json::{Map, Value, json};

fn handle(req: Request) -> Response {
    let Some(event) = req.event() else {
        return Response::text(400, "expected a CloudEvent from a Kafka trigger\n");
    };
    match enrich(&event) {
        Ok(record) => Response::json(200, record.to_string()),
        Err(why) => Response::text(422, format!("{why}\n")),
    }
}

/// The record with an `enriched` object (where it came from) and, when it
/// has a numeric `price` and `quantity`, their `total`.
fn enrich(event: &CloudEvent) -> Result<Value, String> {
    let mut record: Map<String, Value> = match serde_json::from_slice(event.data()) {
        Ok(Value::Object(record)) => record,
        Ok(_) => return Err("the record is JSON but not an object".into()),
        Err(e) => return Err(format!("the record is not JSON: {e}")),
    };
    if let (Some(price), Some(quantity)) = (
        record.get("price").and_then(Value::as_f64),
        record.get("quantity").and_then(Value::as_f64),
    ) {
        record.insert("total".into(), json!(price * quantity));
    }
    record.insert(
        "enriched".into(),
        json!({
            "id": event.id(),
            "source": event.source(),
            "key": event.partition_key(),
            "time": event.time(),
        }),
    );
    Ok(Value::Object(record))
}

flint_sdk::http_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(value: &str) -> CloudEvent {
        let headers = [
            ("ce-specversion", "1.0"),
            ("ce-id", "orders-0-7"),
            ("ce-source", "kafka://127.0.0.1:19092/orders"),
            ("ce-type", "flint.kafka.record"),
            ("ce-partitionkey", "customer-3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        Request::new("POST", "/", headers, value).event().unwrap()
    }

    #[test]
    fn adds_the_total_and_where_the_record_came_from() {
        let record = enrich(&event(r#"{"item":"tea","price":2.5,"quantity":4}"#)).unwrap();
        assert_eq!(record["total"], json!(10.0));
        assert_eq!(record["enriched"]["key"], json!("customer-3"));
        assert_eq!(record["enriched"]["id"], json!("orders-0-7"));
        assert_eq!(record["item"], json!("tea"));
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        assert!(enrich(&event("[1, 2]")).unwrap_err().contains("not an object"));
        assert!(enrich(&event("nope")).unwrap_err().contains("not JSON"));
    }
}
