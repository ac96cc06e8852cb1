//! `scheduled-report`: a function a schedule trigger starts. At every firing
//! Flint sends a CloudEvent (`ce-type: flint.schedule.tick`, `ce-time` = the
//! scheduled time, body = the trigger's payload); the function writes one
//! summary line to stdout, which `flint logs scheduled-report` shows.
//!
//! The same scheduled time always carries the same `ce-id`, so a function
//! that must not act twice can remember the ids it has seen.

use flint_sdk::{CloudEvent, Request, Response};

fn handle(req: Request) -> Response {
    let Some(event) = req.event() else {
        return Response::text(400, "expected a CloudEvent from a schedule trigger\n");
    };
    println!("{}", summary(&event));
    Response::text(200, "report written\n")
}

/// One line: what was scheduled when, and the payload's title.
fn summary(event: &CloudEvent) -> String {
    let title = event.text().ok().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("report");
    let attempt = event.extension("flintattempt").unwrap_or("1");
    format!(
        "{title} for {} (from {}, attempt {attempt})",
        event.time().unwrap_or(event.id()),
        event.source()
    )
}

flint_sdk::http_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_the_event() {
        let headers = [
            ("ce-specversion", "1.0"),
            ("ce-id", "2026-11-27T10:00:00Z"),
            ("ce-source", "/namespaces/default/triggers/report"),
            ("ce-type", "flint.schedule.tick"),
            ("ce-time", "2026-11-27T10:00:00Z"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let event = Request::new("POST", "/", headers, "usage summary").event().unwrap();
        assert_eq!(
            summary(&event),
            "usage summary for 2026-11-27T10:00:00Z (from /namespaces/default/triggers/report, attempt 1)"
        );
        assert_eq!(handle(Request::new("POST", "/", vec![], "")).status(), 400);
    }
}
