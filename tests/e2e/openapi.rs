//! The OpenAPI description of `/v1` (`GET /v1/openapi.json`) against real
//! answers: every documented operation is called on a live `flint up` with
//! the token it needs, each answer's status, content type and JSON body
//! are checked against the document, and every request body sent is
//! checked against its request schema first. The fixtures set every
//! optional field the server can be made to write (expiry, last use,
//! quotas with reservations, every trigger kind, an unhealthy Kafka
//! consumer, failed and missed runs, a free tier), and the change feed is
//! read until it has shown every kind of change. A renamed or new field in
//! a wire type fails here (each object schema lists its properties and
//! allows no others); so does an operation no answer of which was checked.
//! `wire_types` checks each wire type, with every optional field set,
//! against its schema without a server.

mod wire_types;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use flint_api::scheduler::{Fire, LeaseRequest, Run, RunOutcome, RunReport};
use flint_api::{
    BudgetAction, DurationHistogram, FunctionSpec, HttpTrigger, InvokerInfo, KafkaTrigger,
    LimitsSpec, LogEntry, MissedPolicy, OutcomeCounts, PricePlanSpec, Quotas, Reservation,
    RetryPolicy, Role, RouteAuth, ScheduleTrigger, StartPosition, Stream, Timestamp, TokenSpec,
    TriggerHealth, TriggerRequest, TriggerSpec, UsageAggregate, UsageBatch, UsageSums,
};
use flint_tests::auth::{bearer, scope};
use flint_tests::http::{self, Method, Response};
use flint_tests::openapi::Document;
use flint_tests::{Flint, guest};
use serde_json::Value;

use crate::{eventually, name};

/// A request body.
enum Body {
    None,
    /// JSON built from a wire type: checked against the request schema.
    Json(Value),
    /// Bytes sent as they are, with a content type (uploads, bad input).
    Raw(&'static str, Bytes),
}

/// A live `flint up` and the document it serves.
struct Contract {
    flint: Flint,
    doc: Document,
    admin: String,
    cluster: String,
}

impl Contract {
    /// Calls `method` on `template` with its `{…}` filled from `args` in
    /// order, `query` appended, as `token`; checks the answer against the
    /// document (panicking with every violation) and returns it.
    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        template: &str,
        args: &[&str],
        query: &str,
        body: Body,
    ) -> Response {
        let mut path = String::new();
        let mut args = args.iter();
        for segment in template.split('/').skip(1) {
            path.push('/');
            if segment.starts_with('{') {
                path.push_str(args.next().unwrap_or_else(|| panic!("{template}: too few args")));
            } else {
                path.push_str(segment);
            }
        }
        assert!(args.next().is_none(), "{template}: too many args");
        let url = format!("{}{path}{query}", self.flint.api);
        let auth = token.map(bearer);
        let mut headers = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let bytes = match body {
            Body::None => Bytes::new(),
            Body::Json(value) => {
                if let Err(errors) =
                    self.doc.check_request(method.as_str(), template, "application/json", &value)
                {
                    panic!(
                        "the request to {method} {template} does not fit the document:\n{}\n{value}",
                        errors.join("\n")
                    );
                }
                headers.push(("content-type", "application/json"));
                Bytes::from(value.to_string())
            }
            Body::Raw(content_type, bytes) => {
                headers.push(("content-type", content_type));
                bytes
            }
        };
        let response = http::send(method.clone(), &url, &headers, bytes).await;
        let content_type = response.header("content-type");
        let checked = self.doc.check_response(
            method.as_str(),
            template,
            response.status,
            content_type,
            &response.body,
        );
        if let Err(errors) = checked {
            panic!(
                "{method} {path}{query} does not answer as the document says:\n{}\nbody: {}",
                errors.join("\n"),
                response.text()
            );
        }
        response
    }

    /// [`Contract::call`] as the admin, expecting `status`; the body as JSON
    /// (`null` when empty or not JSON).
    async fn admin(
        &self,
        method: Method,
        template: &str,
        args: &[&str],
        query: &str,
        body: Body,
        status: u16,
    ) -> Value {
        let token = self.admin.clone();
        self.call_as(&token, method, template, args, query, body, status).await
    }

    /// [`Contract::admin`] with the cluster credential.
    async fn cluster(
        &self,
        method: Method,
        template: &str,
        args: &[&str],
        query: &str,
        body: Body,
        status: u16,
    ) -> Value {
        let token = self.cluster.clone();
        self.call_as(&token, method, template, args, query, body, status).await
    }

    /// [`Contract::call`] with `token`, expecting `status`; the body as JSON
    /// (`null` when empty or not JSON).
    #[expect(clippy::too_many_arguments, reason = "the call's parts, as `call` takes them")]
    async fn call_as(
        &self,
        token: &str,
        method: Method,
        template: &str,
        args: &[&str],
        query: &str,
        body: Body,
        status: u16,
    ) -> Value {
        let response = self.call(Some(token), method.clone(), template, args, query, body).await;
        expect(&response, status, &method, template);
        serde_json::from_slice(&response.body).unwrap_or(Value::Null)
    }
}

fn expect(response: &Response, status: u16, method: &Method, template: &str) {
    assert_eq!(response.status, status, "{method} {template}: {}", response.text());
}

fn to_json<T: serde::Serialize>(value: &T) -> Body {
    Body::Json(serde_json::to_value(value).expect("wire types serialize"))
}

const FUNCTIONS: &str = "/v1/namespaces/{ns}/functions";
const FUNCTION: &str = "/v1/namespaces/{ns}/functions/{name}";
const VERSIONS: &str = "/v1/namespaces/{ns}/functions/{name}/versions";
const LOGS: &str = "/v1/namespaces/{ns}/functions/{name}/logs";
const INVOKE: &str = "/v1/namespaces/{ns}/functions/{name}/invoke";
const INVOKE_PATH: &str = "/v1/namespaces/{ns}/functions/{name}/invoke/{path}";
const TRIGGERS: &str = "/v1/namespaces/{ns}/triggers";
const TRIGGER: &str = "/v1/namespaces/{ns}/triggers/{name}";
const NAMESPACE: &str = "/v1/namespaces/{ns}";
const WATCH: &str = "/v1/watch";

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_document_says() {
    let flint = Flint::start();
    // Open: no token, and a token that is not one, both get the document,
    // and it is the one in the source tree.
    let url = format!("{}/v1/openapi.json", flint.api);
    let served = http::get(&url).await;
    assert_eq!(served.status, 200, "{}", served.text());
    let bogus = http::get_as(&url, "not-a-token").await;
    assert_eq!(bogus.status, 200, "{}", bogus.text());
    let root: Value = serde_json::from_slice(&served.body).expect("JSON");
    assert_eq!(&root, Document::from_source().root(), "the served document is the source file");

    let (admin, cluster) = (flint.admin_token(), flint.cluster_token());
    let c = Contract { flint, doc: Document::new(root), admin, cluster };
    let get = Method::GET;
    c.call(None, get.clone(), "/v1/openapi.json", &[], "", Body::None).await;

    // The feed from the start (a snapshot): its revision, to read every
    // change after it at the end.
    let start = c.cluster(get.clone(), WATCH, &[], "?since=0", Body::None, 200).await;
    let since = start["revision"].as_u64().expect("revision").to_string();

    tenants(&c).await;
    let digest = functions(&c).await;
    triggers(&c).await;
    usage(&c).await;
    errors(&c).await;
    cluster_calls(&c, &digest).await;

    // The feed again: a snapshot with everything, then every change since
    // the start, deletions included.
    let all = c.cluster(get.clone(), WATCH, &[], "?since=0", Body::None, 200).await;
    for list in ["functions", "triggers", "tokens", "namespaces"] {
        assert!(all["snapshot"][list].as_array().is_some_and(|l| !l.is_empty()), "{list}: {all}");
    }
    deletions(&c).await;
    let changes = c.cluster(get, WATCH, &[], &format!("?since={since}"), Body::None, 200).await;
    let kinds: BTreeSet<&str> = changes["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|change| change["type"].as_str())
        .collect();
    let every = [
        "function_put",
        "function_deleted",
        "trigger_put",
        "trigger_deleted",
        "token_put",
        "token_deleted",
        "namespace_put",
    ];
    assert_eq!(kinds, BTreeSet::from(every), "{changes}");

    // Last: an invoker registering (after the calls the controller forwards,
    // which could go to it).
    let info = InvokerInfo {
        id: "openapi-test".into(),
        http_url: "http://127.0.0.1:1".into(),
        admin_url: "http://127.0.0.1:2".into(),
        version: "0.0.0-test".into(),
        revision: 1,
        started_at: Timestamp::now(),
        triggers: vec![TriggerHealth {
            namespace: name("default"),
            trigger: name("orders"),
            healthy: false,
            reason: Some("no broker".into()),
            since: Timestamp::now(),
        }],
    };
    c.cluster(Method::PUT, "/v1/invokers/{id}", &["openapi-test"], "", to_json(&info), 204).await;

    let unchecked = c.doc.unchecked();
    assert!(unchecked.is_empty(), "operations without a checked 2xx answer: {unchecked:#?}");
}

/// Price plan, namespaces, tokens and the audit log.
async fn tenants(c: &Contract) {
    let get = Method::GET;
    c.admin(get.clone(), "/v1/whoami", &[], "", Body::None, 200).await;
    c.cluster(get.clone(), "/v1/whoami", &[], "", Body::None, 200).await;
    c.admin(get.clone(), "/v1/usage/plan", &[], "", Body::None, 200).await;
    // A free tier first, so the usage report has one to show.
    let plan = PricePlanSpec {
        currency: Some("EUR".into()),
        per_gb_second: Some(0.00002),
        per_million_requests: Some(0.25),
        granularity_us: Some(100),
        free_requests_per_month: Some(1000),
        free_gb_seconds_per_month: Some(10.0),
    };
    c.admin(Method::PUT, "/v1/usage/plan", &[], "", to_json(&plan), 200).await;

    let quotas = Quotas {
        max_functions: Some(10),
        max_memory_mb: Some(4096),
        rate: Some("1000/s".parse().expect("rate")),
        monthly_budget: Some(100.0),
        budget_action: BudgetAction::Alert,
        reserved: vec![Reservation {
            host: Some("team-a.example".into()),
            prefix: "/team-a".into(),
        }],
    };
    c.admin(Method::PUT, NAMESPACE, &["team-a"], "", to_json(&quotas), 200).await;
    c.admin(get.clone(), "/v1/namespaces", &[], "", Body::None, 200).await;
    c.admin(get.clone(), NAMESPACE, &["team-a"], "", Body::None, 200).await;

    let spec = TokenSpec {
        name: name("viewer-a"),
        role: Role::Viewer,
        namespaces: scope(&["team-a", "team-b"]),
        expires_at: Some(
            Timestamp::now().saturating_add(Duration::from_secs(86_400)).expect("time"),
        ),
    };
    let made = c.admin(Method::POST, "/v1/tokens", &[], "", to_json(&spec), 201).await;
    let viewer = made["token"].as_str().expect("token").to_owned();
    // Used once, so the list shows when (written in the background).
    let response = c.call(Some(&viewer), get.clone(), NAMESPACE, &["team-a"], "", Body::None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    eventually("the viewer token's last use", Duration::from_secs(10), || async move {
        let list = c.admin(Method::GET, "/v1/tokens", &[], "", Body::None, 200).await;
        let used = list
            .as_array()?
            .iter()
            .any(|t| t["name"] == "viewer-a" && t["last_used_at"].is_string());
        used.then_some(())
    })
    .await;
    // Forbidden for a viewer, and the same name twice.
    let spec = FunctionSpec::default();
    let refused =
        c.call(Some(&viewer), Method::PUT, FUNCTION, &["team-a", "f"], "", to_json(&spec)).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let again = TokenSpec {
        name: name("viewer-a"),
        role: Role::Viewer,
        namespaces: scope(&["*"]),
        expires_at: None,
    };
    c.admin(Method::POST, "/v1/tokens", &[], "", to_json(&again), 409).await;

    let audit = c.admin(get.clone(), "/v1/audit", &[], "", Body::None, 200).await;
    assert!(
        audit.as_array().is_some_and(|a| a.iter().any(|e| e["namespace"] == "team-a")),
        "{audit}"
    );
    c.admin(get.clone(), "/v1/audit", &[], "?since=2020-01-01T00:00:00Z", Body::None, 200).await;
    c.admin(get, "/v1/audit", &[], "?since=yesterday", Body::None, 400).await;
}

/// A function with code, its versions, calls by every method, its logs;
/// returns the digest of its version.
async fn functions(c: &Contract) -> String {
    let get = Method::GET;
    let spec = FunctionSpec {
        limits: LimitsSpec {
            memory_mb: Some(64),
            timeout_ms: Some(10_000),
            concurrency: Some(4),
            queue: Some(8),
            idle_timeout_ms: Some(60_000),
        },
        env: [("GREETING".to_owned(), "hi".to_owned())].into(),
    };
    c.admin(Method::PUT, FUNCTION, &["default", "tb"], "", to_json(&spec), 201).await;
    let function =
        c.admin(Method::PUT, FUNCTION, &["default", "tb"], "", to_json(&spec), 200).await;
    assert!(function["version"].is_null(), "{function}");
    let wasm = Bytes::from(std::fs::read(guest("testbed")).expect("testbed wasm"));
    let body = Body::Raw(flint_api::WASM_CONTENT_TYPE, wasm);
    let function = c.admin(Method::POST, VERSIONS, &["default", "tb"], "", body, 201).await;
    let digest = function["version"].as_str().expect("a version").to_owned();
    c.admin(get.clone(), VERSIONS, &["default", "tb"], "", Body::None, 200).await;
    c.admin(get.clone(), FUNCTIONS, &["default"], "", Body::None, 200).await;
    c.admin(get.clone(), FUNCTION, &["default", "tb"], "", Body::None, 200).await;

    let admin = c.admin.clone();
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        for (template, args) in
            [(INVOKE, &["default", "tb"][..]), (INVOKE_PATH, &["default", "tb", "echo"])]
        {
            let body = if method == Method::GET || method == Method::DELETE {
                Body::None
            } else {
                Body::Raw("text/plain", Bytes::from_static(b"hello"))
            };
            let answer = c.call(Some(&admin), method.clone(), template, args, "", body).await;
            assert_eq!(answer.status, 200, "{method} {template}: {}", answer.text());
        }
    }
    let logged = c
        .call(
            Some(&admin),
            Method::POST,
            INVOKE_PATH,
            &["default", "tb", "log"],
            "?lines=2",
            Body::None,
        )
        .await;
    assert_eq!(logged.status, 200, "{}", logged.text());
    eventually("log lines", Duration::from_secs(30), || async move {
        let page = c
            .admin(Method::GET, LOGS, &["default", "tb"], "?since=0&wait_ms=500", Body::None, 200)
            .await;
        page["lines"].as_array().is_some_and(|l| !l.is_empty()).then_some(())
    })
    .await;
    digest
}

/// One trigger of each kind; a schedule's runs; an unhealthy Kafka consumer.
async fn triggers(c: &Contract) {
    let get = Method::GET;
    let retry =
        RetryPolicy { attempts: 2, initial_backoff_ms: 100, multiplier: 1.5, max_backoff_ms: 1000 };
    let http_trigger = TriggerSpec::Http(HttpTrigger {
        route: "/tb".into(),
        host: Some("tb.example".into()),
        methods: vec!["GET".into(), "POST".into()],
        auth: RouteAuth::Token,
    });
    let tick = TriggerSpec::Schedule(ScheduleTrigger {
        cron: "@every 1s".into(),
        timezone: "Europe/Berlin".into(),
        payload: Some("tick".into()),
        content_type: Some("text/plain".into()),
        path: "/event".into(),
        missed: MissedPolicy::Once,
        max_catch_up: 3,
        retry: retry.clone(),
    });
    let nightly = TriggerSpec::Schedule(ScheduleTrigger {
        cron: "0 3 * * *".into(),
        timezone: "UTC".into(),
        payload: None,
        content_type: None,
        path: "/".into(),
        missed: MissedPolicy::Skip,
        max_catch_up: 10,
        retry: RetryPolicy::default(),
    });
    // Nothing listens on port 1 of the loopback: the consumer reports why.
    let orders = TriggerSpec::Kafka(KafkaTrigger {
        bootstrap_servers: "127.0.0.1:1".into(),
        topics: vec!["orders".into()],
        group: Some("default.orders".into()),
        start: StartPosition::Earliest,
        in_flight_per_partition: 2,
        retry,
        dead_letter_topic: Some("orders-dlq".into()),
        reply_topic: Some("orders-replies".into()),
        path: "/event".into(),
        properties: [("client.id".to_owned(), "openapi-test".to_owned())].into(),
    });
    for (trigger, spec) in
        [("tb-http", http_trigger), ("tick", tick), ("nightly", nightly), ("orders", orders)]
    {
        let request = TriggerRequest { function: name("tb"), spec };
        c.admin(Method::PUT, TRIGGER, &["default", trigger], "", to_json(&request), 201).await;
    }
    let request =
        TriggerRequest { function: name("tb"), spec: TriggerSpec::Http(HttpTrigger::new("/tb")) };
    c.admin(Method::PUT, TRIGGER, &["default", "tb-http"], "", to_json(&request), 200).await;
    c.admin(get.clone(), TRIGGERS, &["default"], "", Body::None, 200).await;
    c.admin(get.clone(), TRIGGER, &["default", "tick"], "", Body::None, 200).await;

    let runs = "/v1/namespaces/{ns}/triggers/{name}/runs";
    eventually("runs of the schedule", Duration::from_secs(30), || async move {
        let status = c.admin(Method::GET, runs, &["default", "tick"], "", Body::None, 200).await;
        status["runs"].as_array().is_some_and(|r| !r.is_empty()).then_some(())
    })
    .await;
    c.admin(get.clone(), runs, &["default", "tb-http"], "", Body::None, 409).await;

    let status = "/v1/namespaces/{ns}/triggers/{name}/status";
    eventually("the Kafka consumer's error", Duration::from_secs(30), || async move {
        let list = c.admin(Method::GET, status, &["default", "orders"], "", Body::None, 200).await;
        list.as_array()?
            .iter()
            .any(|s| s["healthy"] == false && s["reason"].is_string())
            .then_some(())
    })
    .await;
    let invokers = c.admin(get, "/v1/invokers", &[], "", Body::None, 200).await;
    assert!(
        invokers.as_array().is_some_and(|l| l.iter().any(|i| i["triggers"].is_array())),
        "{invokers}"
    );
}

/// The usage report in JSON (grouped several ways) and CSV.
async fn usage(c: &Contract) {
    let get = Method::GET;
    eventually("usage rows", Duration::from_secs(30), || async move {
        let report = c.admin(Method::GET, "/v1/usage", &[], "", Body::None, 200).await;
        let ran = report["rows"].as_array().is_some_and(|r| !r.is_empty());
        let free = report["free_tier"].as_array().is_some_and(|f| !f.is_empty());
        (ran && free).then_some(())
    })
    .await;
    for query in [
        "?group_by=function,trigger,hour",
        "?group_by=minute&namespace=default&function=tb",
        "?group_by=day,trigger",
    ] {
        let report = c.admin(get.clone(), "/v1/usage", &[], query, Body::None, 200).await;
        assert!(report["rows"].as_array().is_some_and(|r| !r.is_empty()), "{query}: {report}");
    }
    let admin = c.admin.clone();
    let csv = c.call(Some(&admin), get.clone(), "/v1/usage", &[], "?format=csv", Body::None).await;
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_eq!(csv.text().lines().next(), Some(flint_api::CSV_COLUMNS.join(",").as_str()));
    c.admin(get, "/v1/usage", &[], "?group_by=week", Body::None, 400).await;
}

/// Error answers the document lists: each is `{"error": …}`.
async fn errors(c: &Contract) {
    let get = Method::GET;
    let none = c.call(None, get.clone(), "/v1/tokens", &[], "", Body::None).await;
    assert_eq!(none.status, 401, "{}", none.text());
    c.admin(get.clone(), FUNCTIONS, &["Not-A-Name"], "", Body::None, 400).await;
    c.admin(get.clone(), FUNCTION, &["default", "nope"], "", Body::None, 404).await;
    let text = Body::Raw("text/plain", Bytes::from_static(b"not wasm"));
    c.admin(Method::POST, VERSIONS, &["default", "tb"], "", text, 415).await;
    let junk = Body::Raw("application/json", Bytes::from_static(b"{\"limits\": 5}"));
    c.admin(Method::PUT, FUNCTION, &["default", "tb"], "", junk, 400).await;
    let missing = TriggerRequest {
        function: name("nope"),
        spec: TriggerSpec::Http(HttpTrigger::new("/nope")),
    };
    c.admin(Method::PUT, TRIGGER, &["default", "nope"], "", to_json(&missing), 404).await;
    c.admin(get, WATCH, &[], "", Body::None, 403).await;
}

/// What invokers call with the cluster credential.
async fn cluster_calls(c: &Contract, digest: &str) {
    let get = Method::GET;
    let blob = c
        .call(Some(&c.cluster), get.clone(), "/v1/blobs/{digest}", &[digest], "", Body::None)
        .await;
    assert_eq!(blob.status, 200, "{}", blob.text());
    assert_eq!(blob.body.len(), std::fs::read(guest("testbed")).expect("wasm").len());
    // The digest as OpenAPI clients send a path parameter: `:` encoded.
    let encoded = digest.replace(':', "%3A");
    let again = c
        .call(Some(&c.cluster), get.clone(), "/v1/blobs/{digest}", &[&encoded], "", Body::None)
        .await;
    assert_eq!(
        (again.status, again.body.len()),
        (200, blob.body.len()),
        "{encoded}: {}",
        again.text()
    );
    c.cluster(get.clone(), "/v1/scheduler/cursors", &[], "", Body::None, 200).await;
    c.cluster(get.clone(), "/v1/usage/plan", &[], "", Body::None, 200).await;

    // A fire and runs of the nightly schedule, with the lease's epoch (the
    // local invoker leads; the answer says so).
    let ask = LeaseRequest { invoker: "openapi-test".into(), ttl_ms: 1000, release: false };
    let lease = c.cluster(Method::POST, "/v1/scheduler/lease", &[], "", to_json(&ask), 200).await;
    let now = Timestamp::now();
    let hour_ago = now.checked_sub(Duration::from_secs(3600)).expect("time");
    let fire = Fire {
        epoch: lease["epoch"].as_u64().expect("epoch"),
        namespace: name("default"),
        trigger: name("nightly"),
        scheduled: now,
        missed: vec![hour_ago],
    };
    c.cluster(Method::POST, "/v1/scheduler/fires", &[], "", to_json(&fire), 204).await;
    let stale = Fire { epoch: fire.epoch + 1000, ..fire };
    c.cluster(Method::POST, "/v1/scheduler/fires", &[], "", to_json(&stale), 403).await;
    let run = Run {
        scheduled: now,
        started: Some(now),
        lag_ms: 5,
        duration_ms: 7,
        outcome: RunOutcome::Failed,
        attempt: 1,
        status: Some(500),
        error: Some("boom".into()),
        invoker: "openapi-test".into(),
    };
    let reports = vec![RunReport { namespace: name("default"), trigger: name("nightly"), run }];
    c.cluster(Method::POST, "/v1/scheduler/runs", &[], "", to_json(&reports), 204).await;
    let runs = "/v1/namespaces/{ns}/triggers/{name}/runs";
    let status = c.admin(get.clone(), runs, &["default", "nightly"], "", Body::None, 200).await;
    let outcomes: BTreeSet<&str> = status["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, BTreeSet::from(["failed", "missed"]), "{status}");

    let line = LogEntry {
        namespace: name("default"),
        function: name("tb"),
        time: now,
        stream: Stream::Stderr,
        line: "shipped by the contract test".into(),
    };
    c.cluster(Method::POST, "/v1/logs", &[], "", to_json(&vec![line]), 204).await;

    let mut histogram = DurationHistogram::default();
    histogram.add_to(DurationHistogram::bucket(1500), 2);
    let batch = UsageBatch {
        id: UsageBatch::make_id("openapi-test", 7, 1),
        invoker: "openapi-test".into(),
        boot: 7,
        seq: 1,
        aggregates: vec![UsageAggregate {
            namespace: name("default"),
            function: name("tb"),
            version: digest.parse().expect("digest"),
            trigger: "http".into(),
            minute: u64::try_from(now.as_second() / 60).expect("after 1970"),
            plan: 0,
            sums: UsageSums {
                counts: OutcomeCounts { ok: 1, error: 1, ..OutcomeCounts::default() },
                wall_us: 3000,
                billed_us: 3000,
                mb_billed_us: 64 * 3000,
                instantiate_us: 40,
                cold_starts: 1,
                cold_start_us: 900,
                peak_memory_bytes: 1 << 20,
                memory_mb: 64,
                granularity_us: 100,
                histogram,
            },
        }],
    };
    let ack = c.cluster(Method::POST, "/v1/usage/batches", &[], "", to_json(&batch), 200).await;
    assert_eq!(ack["applied"], true, "{ack}");
    let ack = c.cluster(Method::POST, "/v1/usage/batches", &[], "", to_json(&batch), 200).await;
    assert_eq!(ack["applied"], false, "{ack}");
    // The namespace's rate again, so the feed has a namespace change.
    let quotas = Quotas { rate: Some("50/m".parse().expect("rate")), ..Quotas::default() };
    c.admin(Method::PUT, NAMESPACE, &["default"], "", to_json(&quotas), 200).await;
}

/// Deletes a trigger, a token and the function (with its other triggers).
async fn deletions(c: &Contract) {
    c.admin(Method::DELETE, TRIGGER, &["default", "tb-http"], "", Body::None, 204).await;
    c.admin(Method::DELETE, "/v1/tokens/{name}", &["viewer-a"], "", Body::None, 204).await;
    c.admin(Method::DELETE, "/v1/tokens/{name}", &["viewer-a"], "", Body::None, 404).await;
    c.admin(Method::DELETE, FUNCTION, &["default", "tb"], "", Body::None, 204).await;
    c.admin(Method::DELETE, FUNCTION, &["default", "tb"], "", Body::None, 404).await;
}
