//! Each wire type of `flint-api`, with every optional field set, serialized
//! and checked against its schema in the OpenAPI document: the document's
//! field names, optional fields and enums are serde's. Fields a live server
//! rarely writes (a failed run's error, a blocked namespace's reason, a
//! reservation's host) are covered here even when the live test does not
//! get them.

use std::collections::BTreeSet;

use flint_api::scheduler::{
    Cursor, Fire, Lease, LeaseRequest, Run, RunOutcome, RunReport, ScheduleStatus,
};
use flint_api::{
    AuditEntry, BatchAck, BudgetAction, Change, Digest, DurationHistogram, ErrorBody, FreeTier,
    Function, FunctionSpec, GroupBy, HttpTrigger, InvokerInfo, InvokerStatus, KafkaTrigger, Limits,
    LimitsSpec, LogEntry, LogLine, LogPage, MissedPolicy, Namespace, NamespaceState, NewToken,
    OutcomeCounts, PricePlan, PricePlanSpec, Quotas, Reservation, RetryPolicy, Role, RouteAuth,
    ScheduleTrigger, Scope, Snapshot, StartPosition, Stream, Timestamp, TokenGrant, TokenInfo,
    TokenSpec, Trigger, TriggerHealth, TriggerRequest, TriggerSpec, TriggerStatus, UsageAggregate,
    UsageBatch, UsageFigures, UsageReport, UsageRow, UsageSums, Version, Watch, Whoami,
};
use flint_tests::openapi::Document;
use serde::Serialize;

use crate::name;

/// Checks `value` against `#/components/schemas/{schema}`; returns the
/// schema's name so the test can tell which ones it covered.
fn check<T: Serialize>(doc: &Document, schema: &'static str, value: &T) -> &'static str {
    let json = serde_json::to_value(value).expect("serializes");
    if let Err(errors) = doc.validate(doc.schema(schema), &json) {
        panic!("{schema} does not fit the document:\n{}\n{json:#}", errors.join("\n"));
    }
    schema
}

fn time(s: &str) -> Timestamp {
    s.parse().expect("RFC 3339")
}

fn digest() -> Digest {
    Digest::from_sha256(&[0xab; 32])
}

fn function() -> Function {
    Function {
        namespace: name("team-a"),
        name: name("hello"),
        version: Some(digest()),
        limits: Limits::default(),
        env: [("GREETING".to_owned(), "hi".to_owned())].into(),
        created_at: time("2025-01-01T00:00:00Z"),
        updated_at: time("2025-01-02T03:04:05.123456789Z"),
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy { attempts: 5, initial_backoff_ms: 10, multiplier: 2.5, max_backoff_ms: 5000 }
}

fn specs() -> [TriggerSpec; 3] {
    [
        TriggerSpec::Http(HttpTrigger {
            route: "/hello".into(),
            host: Some("api.example.com".into()),
            methods: vec!["GET".into(), "OPTIONS".into()],
            auth: RouteAuth::Token,
        }),
        TriggerSpec::Schedule(ScheduleTrigger {
            cron: "*/5 * * * *".into(),
            timezone: "Europe/Berlin".into(),
            payload: Some("{}".into()),
            content_type: Some("application/json".into()),
            path: "/tick".into(),
            missed: MissedPolicy::All,
            max_catch_up: 20,
            retry: retry(),
        }),
        TriggerSpec::Kafka(KafkaTrigger {
            bootstrap_servers: "127.0.0.1:9092,127.0.0.1:9093".into(),
            topics: vec!["orders".into(), "refunds".into()],
            group: Some("team-a.orders".into()),
            start: StartPosition::Earliest,
            in_flight_per_partition: 8,
            retry: retry(),
            dead_letter_topic: Some("orders-dlq".into()),
            reply_topic: Some("orders-out".into()),
            path: "/orders".into(),
            properties: [("session.timeout.ms".to_owned(), "10000".to_owned())].into(),
        }),
    ]
}

fn health() -> TriggerHealth {
    TriggerHealth {
        namespace: name("team-a"),
        trigger: name("orders"),
        healthy: false,
        reason: Some("all brokers down".into()),
        since: time("2025-01-01T00:00:00Z"),
    }
}

fn invoker() -> InvokerInfo {
    InvokerInfo {
        id: "inv-1".into(),
        http_url: "https://127.0.0.1:8443".into(),
        admin_url: "http://127.0.0.1:9000".into(),
        version: "0.1.0".into(),
        revision: 42,
        started_at: time("2025-01-01T00:00:00Z"),
        triggers: vec![health()],
    }
}

fn grant() -> TokenGrant {
    TokenGrant {
        id: "0123456789abcdef".into(),
        hash: "ab".repeat(32),
        role: Role::Deployer,
        namespaces: Scope::Only([name("team-a"), name("team-b")].into()),
        expires_at: Some(time("2030-01-01T00:00:00Z")),
    }
}

fn namespace_state() -> NamespaceState {
    NamespaceState {
        name: name("team-a"),
        rate: Some("200/s".parse().expect("rate")),
        blocked: Some("the monthly budget of 5 EUR is spent".into()),
    }
}

fn run() -> Run {
    Run {
        scheduled: time("2025-01-01T00:00:00Z"),
        started: Some(time("2025-01-01T00:00:00.004Z")),
        lag_ms: -3,
        duration_ms: 12,
        outcome: RunOutcome::Failed,
        attempt: 2,
        status: Some(503),
        error: Some("trap".into()),
        invoker: "inv-1".into(),
    }
}

fn plan() -> PricePlan {
    PricePlan { id: 3, created_at: time("2025-01-01T00:00:00Z"), ..PricePlan::default() }
}

fn figures() -> UsageFigures {
    UsageFigures {
        invocations: 10,
        counts: OutcomeCounts { ok: 6, error: 1, timeout: 1, out_of_memory: 2, rejected: 3 },
        wall_us: 1000,
        billed_us: 10_000,
        gb_seconds: 0.00125,
        cold_starts: 1,
        p50_ms: Some(0.1),
        p99_ms: None,
        peak_memory_bytes: 1 << 20,
        request_cost: 0.000002,
        compute_cost: 0.00000002,
        cost: 0.00000202,
    }
}

#[test]
fn every_wire_type_fits_its_schema() {
    let doc = Document::from_source();
    let mut covered = BTreeSet::new();
    let mut add = |schema| covered.insert(schema);

    let function = function();
    add(check(&doc, "Function", &function));
    add(check(
        &doc,
        "Function",
        &Function { version: None, env: Default::default(), ..function.clone() },
    ));
    add(check(&doc, "Limits", &Limits::default()));
    add(check(&doc, "Env", &function.env));
    let limits = LimitsSpec {
        memory_mb: Some(256),
        timeout_ms: Some(1000),
        concurrency: Some(2),
        queue: Some(0),
        idle_timeout_ms: Some(100),
    };
    add(check(&doc, "LimitsSpec", &limits));
    add(check(&doc, "FunctionSpec", &FunctionSpec { limits, env: function.env.clone() }));
    add(check(&doc, "FunctionSpec", &FunctionSpec::default()));
    add(check(
        &doc,
        "Version",
        &Version { digest: digest(), size: 1234, created_at: function.created_at },
    ));

    let spec = TokenSpec {
        name: name("ci"),
        role: Role::Deployer,
        namespaces: Scope::Only([name("team-a")].into()),
        expires_at: Some(time("2030-01-01T00:00:00Z")),
    };
    add(check(&doc, "TokenSpec", &spec));
    add(check(&doc, "TokenSpec", &TokenSpec { namespaces: Scope::All, expires_at: None, ..spec }));
    let info = TokenInfo {
        id: "0123456789abcdef".into(),
        name: name("ci"),
        role: Role::Invoker,
        namespaces: Scope::All,
        expires_at: Some(time("2030-01-01T00:00:00Z")),
        created_at: time("2025-01-01T00:00:00Z"),
        created_by: "admin".into(),
        last_used_at: Some(time("2025-01-03T00:00:00Z")),
    };
    add(check(&doc, "TokenInfo", &info));
    let token = flint_api::auth::format_token(&[1; 8], &[2; 32]);
    add(check(&doc, "NewToken", &NewToken { token, info }));
    let whoami = Whoami {
        id: "cluster".into(),
        name: "cluster".into(),
        role: Role::Cluster,
        namespaces: Scope::All,
    };
    add(check(&doc, "Whoami", &whoami));
    add(check(&doc, "TokenGrant", &grant()));
    add(check(&doc, "Scope", &Scope::All));

    let quotas = Quotas {
        max_functions: Some(50),
        max_memory_mb: Some(4096),
        rate: Some("6000/m".parse().expect("rate")),
        monthly_budget: Some(25.0),
        budget_action: BudgetAction::Alert,
        reserved: vec![
            Reservation { host: Some("a.example".into()), prefix: "/a".into() },
            Reservation { host: None, prefix: "/".into() },
        ],
    };
    add(check(&doc, "Reservation", &quotas.reserved[0]));
    add(check(&doc, "Quotas", &quotas));
    add(check(&doc, "Quotas", &Quotas::default()));
    let namespace = Namespace {
        name: name("team-a"),
        quotas,
        functions: 3,
        memory_mb: 384,
        month_cost: 1.5,
        blocked: true,
    };
    add(check(&doc, "Namespace", &namespace));
    add(check(&doc, "NamespaceState", &namespace_state()));
    let audit = AuditEntry {
        seq: 7,
        time: time("2025-01-01T00:00:00Z"),
        token_id: "0123456789abcdef".into(),
        token_name: "ci".into(),
        method: "PUT".into(),
        path: "/v1/namespaces/team-a/functions/hello".into(),
        namespace: Some(name("team-a")),
        status: 201,
    };
    add(check(&doc, "AuditEntry", &audit));
    add(check(&doc, "AuditEntry", &AuditEntry { namespace: None, ..audit }));

    for spec in specs() {
        match &spec {
            TriggerSpec::Http(http) => add(check(&doc, "HttpTrigger", http)),
            TriggerSpec::Schedule(schedule) => add(check(&doc, "ScheduleTrigger", schedule)),
            TriggerSpec::Kafka(kafka) => add(check(&doc, "KafkaTrigger", kafka)),
            other => panic!("a trigger kind the test does not know: {other:?}"),
        };
        add(check(&doc, "TriggerSpec", &spec));
        add(check(
            &doc,
            "TriggerRequest",
            &TriggerRequest { function: name("hello"), spec: spec.clone() },
        ));
        let trigger = Trigger {
            namespace: name("team-a"),
            name: name("t"),
            function: name("hello"),
            spec,
            created_at: time("2025-01-01T00:00:00Z"),
        };
        add(check(&doc, "Trigger", &trigger));
        add(check(&doc, "Change", &Change::TriggerPut { trigger }));
    }
    add(check(&doc, "HttpTrigger", &HttpTrigger::new("/")));
    add(check(&doc, "RetryPolicy", &retry()));
    add(check(&doc, "TriggerHealth", &health()));
    add(check(&doc, "TriggerStatus", &TriggerStatus { invoker: "inv-1".into(), health: health() }));
    add(check(&doc, "InvokerInfo", &invoker()));
    let status =
        InvokerStatus { info: invoker(), last_seen: time("2025-01-01T00:00:01Z"), healthy: true };
    add(check(&doc, "InvokerStatus", &status));

    let snapshot = Snapshot {
        functions: vec![function.clone()],
        triggers: vec![],
        tokens: vec![grant()],
        namespaces: vec![namespace_state()],
    };
    add(check(&doc, "Snapshot", &snapshot));
    let changes = vec![
        Change::FunctionPut { function },
        Change::FunctionDeleted { namespace: name("team-a"), name: name("hello") },
        Change::TriggerDeleted { namespace: name("team-a"), name: name("t") },
        Change::TokenPut { grant: grant() },
        Change::TokenDeleted { id: "0123456789abcdef".into() },
        Change::NamespacePut { state: namespace_state() },
    ];
    add(check(&doc, "Watch", &Watch { revision: 9, snapshot: Some(snapshot), changes: vec![] }));
    add(check(&doc, "Watch", &Watch { revision: 10, snapshot: None, changes }));

    add(check(
        &doc,
        "LeaseRequest",
        &LeaseRequest { invoker: "inv-1".into(), ttl_ms: 10_000, release: true },
    ));
    let lease =
        Lease { holder: Some("inv-1".into()), epoch: 4, expires_at: time("2025-01-01T00:00:10Z") };
    add(check(&doc, "Lease", &lease));
    add(check(&doc, "Lease", &Lease { holder: None, ..lease }));
    let fire = Fire {
        epoch: 4,
        namespace: name("team-a"),
        trigger: name("t"),
        scheduled: time("2025-01-01T00:05:00Z"),
        missed: vec![time("2025-01-01T00:00:00Z")],
    };
    add(check(&doc, "Fire", &fire));
    let cursor =
        Cursor { namespace: name("team-a"), trigger: name("t"), last_scheduled: fire.scheduled };
    add(check(&doc, "Cursor", &cursor));
    add(check(&doc, "Run", &run()));
    let missed = Run {
        started: None,
        status: None,
        error: None,
        outcome: RunOutcome::Missed,
        attempt: 0,
        ..run()
    };
    add(check(&doc, "Run", &missed));
    add(check(
        &doc,
        "RunReport",
        &RunReport { namespace: name("team-a"), trigger: name("t"), run: run() },
    ));
    let schedule = ScheduleStatus {
        last_scheduled: fire.scheduled,
        next: vec![fire.scheduled],
        runs: vec![run(), missed],
    };
    add(check(&doc, "ScheduleStatus", &schedule));

    let mut histogram = DurationHistogram::default();
    histogram.add_to(0, 1);
    histogram.add_to(DurationHistogram::BUCKETS - 1, u64::MAX);
    let sums = UsageSums {
        counts: OutcomeCounts { ok: 1, error: 2, timeout: 3, out_of_memory: 4, rejected: 5 },
        wall_us: 1,
        billed_us: 2,
        mb_billed_us: 3,
        instantiate_us: 4,
        cold_starts: 5,
        cold_start_us: 6,
        peak_memory_bytes: 7,
        memory_mb: 8,
        granularity_us: 9,
        histogram,
    };
    add(check(&doc, "UsageSums", &sums));
    let aggregate = UsageAggregate {
        namespace: name("team-a"),
        function: name("hello"),
        version: digest(),
        trigger: "kafka".into(),
        minute: 29_000_000,
        plan: 3,
        sums,
    };
    add(check(&doc, "UsageAggregate", &aggregate));
    let batch = UsageBatch {
        id: UsageBatch::make_id("inv-1", 1, 2),
        invoker: "inv-1".into(),
        boot: 1,
        seq: 2,
        aggregates: vec![aggregate],
    };
    add(check(&doc, "UsageBatch", &batch));
    add(check(&doc, "BatchAck", &BatchAck { id: batch.id, applied: true, plan: plan() }));
    add(check(&doc, "PricePlan", &plan()));
    let plan_spec = PricePlanSpec {
        currency: Some("EUR".into()),
        per_gb_second: Some(0.00001),
        per_million_requests: Some(0.1),
        granularity_us: Some(1),
        free_requests_per_month: Some(1_000_000),
        free_gb_seconds_per_month: Some(400_000.0),
    };
    add(check(&doc, "PricePlanSpec", &plan_spec));
    add(check(&doc, "PricePlanSpec", &PricePlanSpec::default()));
    let row = UsageRow {
        start: Some(time("2025-01-01T00:00:00Z")),
        namespace: Some(name("team-a")),
        function: Some(name("hello")),
        trigger: Some("http".into()),
        figures: figures(),
    };
    let report = UsageReport {
        from: time("2025-01-01T00:00:00Z"),
        to: time("2025-01-02T00:00:00Z"),
        group_by: GroupBy::ALL.to_vec(),
        rows: vec![row, UsageRow::default()],
        totals: figures(),
        free_tier: vec![FreeTier {
            namespace: name("team-a"),
            requests: 10,
            gb_seconds: 0.5,
            credit: 0.01,
        }],
        net_cost: 0.0,
        currency: "USD".into(),
        plans: vec![plan()],
    };
    add(check(&doc, "UsageReport", &report));
    add(check(&doc, "UsageRow", &report.rows[0]));
    add(check(&doc, "UsageFigures", &report.totals));
    add(check(&doc, "FreeTier", &report.free_tier[0]));
    add(check(&doc, "OutcomeCounts", &OutcomeCounts::default()));

    let entry = LogEntry {
        namespace: name("team-a"),
        function: name("hello"),
        time: time("2025-01-01T00:00:00Z"),
        stream: Stream::Stdout,
        line: "hello".into(),
    };
    add(check(&doc, "LogEntry", &entry));
    let line = LogLine { seq: 1, time: entry.time, stream: Stream::Stderr, line: "oops".into() };
    add(check(&doc, "LogLine", &line));
    add(check(&doc, "LogPage", &LogPage { next: 2, lines: vec![line] }));
    add(check(&doc, "Error", &ErrorBody { error: "no such function".into() }));

    // Every object schema of the document is some wire type's.
    let schemas = doc.root()["components"]["schemas"].as_object().expect("schemas");
    let objects: BTreeSet<&str> = schemas
        .iter()
        .filter(|(_, s)| s["type"] == "object" || s.get("oneOf").is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    let missing: Vec<&&str> = objects.iter().filter(|name| !covered.contains(**name)).collect();
    assert!(missing.is_empty(), "object schemas no wire type was checked against: {missing:?}");
}
