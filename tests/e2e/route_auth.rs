//! Routes across namespaces: one namespace cannot take another's traffic
//! (nested prefix, same path with a Host, a reserved prefix), and a route
//! with `auth = "token"` refuses callers without a token of its namespace
//! before any instance exists, without billing them.

use std::time::Duration;

use flint_api::{
    FunctionSpec, GroupBy, HttpTrigger, Quotas, Reservation, Role, RouteAuth, TriggerRequest,
    TriggerSpec, UsageQuery,
};
use flint_tests::auth::bearer;
use flint_tests::{Flint, guest, http, sum_series};

use crate::{deploy_api, eventually, name};

fn route(function: &str, route: &str, host: Option<&str>) -> TriggerRequest {
    TriggerRequest {
        function: name(function),
        spec: TriggerSpec::Http(HttpTrigger {
            host: host.map(str::to_owned),
            ..HttpTrigger::new(route)
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_cannot_take_another_namespaces_routes() {
    let flint = Flint::start();
    let admin = flint.client();
    let testbed = guest("testbed");
    let spec = FunctionSpec::default();
    deploy_api(
        &admin,
        "team-a",
        "hello",
        &guest("hello-http"),
        &spec,
        Some(HttpTrigger::new("/hello")),
    )
    .await;
    deploy_api(&admin, "team-b", "thief", &testbed, &spec, None).await;
    http::wait_for(&format!("{}/hello/admin", flint.http), 200).await;
    let b = flint.client_as(Some(&flint.token("deployer-b", Role::Deployer, &["team-b"]).await));
    let before = flint.cluster_client().watch(0, Duration::ZERO).await.unwrap();
    let team_b = name("team-b");
    let attempts = [
        ("a nested prefix", route("thief", "/hello/admin", None)),
        ("the same path with a Host", route("thief", "/hello", Some("127.0.0.1"))),
        ("a parent prefix", route("thief", "/", None)),
    ];
    for (what, request) in &attempts {
        let err = b.put_trigger(&team_b, &name("steal"), request).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{what}: {err}");
        assert!(
            !err.to_string().contains("team-a"),
            "{what}: the owner is named to a non-admin: {err}"
        );
        // An admin doing the same learns whose route it is.
        let err = admin.put_trigger(&team_b, &name("steal"), request).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{what} as admin: {err}");
        assert!(err.to_string().contains("team-a"), "{what}: the admin is told the owner: {err}");
    }
    assert_eq!(
        flint.cluster_client().watch(0, Duration::ZERO).await.unwrap(),
        before,
        "a refused route changed the store"
    );
    // Team-a's function still answers every path under its route, with or
    // without the Host.
    let response = http::get(&format!("{}/hello/admin?name=owner", flint.http)).await;
    assert_eq!(response.text(), "Hello, owner!\n");
    let host = [("host", "127.0.0.1")];
    let response = http::send(
        http::Method::GET,
        &format!("{}/hello?name=host", flint.http),
        &host,
        Default::default(),
    )
    .await;
    assert_eq!(response.text(), "Hello, host!\n");
    // Inside one namespace nesting is allowed, and team-b may use other paths.
    let nested = route("hello", "/hello/admin", None);
    admin.put_trigger(&name("team-a"), &name("admin-page"), &nested).await.expect("same namespace");
    b.put_trigger(&team_b, &name("own"), &route("thief", "/thief", None)).await.expect("own path");
    http::wait_for(&format!("{}/thief/echo", flint.http), 200).await;

    // Reserved prefixes: an admin keeps /reserved for team-a before anyone routes it.
    let quotas = Quotas {
        reserved: vec![Reservation { host: None, prefix: "/reserved".into() }],
        ..Quotas::default()
    };
    admin.put_namespace(&name("team-a"), &quotas).await.expect("reserve");
    let err = b
        .put_trigger(&team_b, &name("squat"), &route("thief", "/reserved/x", None))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}");
    assert!(!err.to_string().contains("team-a"), "{err}");
    admin
        .put_trigger(&name("team-a"), &name("reserved"), &route("hello", "/reserved/x", None))
        .await
        .expect("the namespace that holds the reservation uses it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_with_token_auth_refuses_callers_before_instantiation_and_bills_none() {
    let flint = Flint::start();
    let admin = flint.client();
    let invoker_a = flint.token("caller-a", Role::Invoker, &["team-a"]).await;
    let invoker_b = flint.token("caller-b", Role::Invoker, &["team-b"]).await;
    let guarded = HttpTrigger { auth: RouteAuth::Token, ..HttpTrigger::new("/guarded") };
    deploy_api(
        &admin,
        "team-a",
        "guarded",
        &guest("hello-http"),
        &FunctionSpec::default(),
        Some(guarded),
    )
    .await;
    let url = format!("{}/guarded", flint.http);
    // The route is live once an anonymous call is refused rather than not found.
    eventually("the guarded route is live", Duration::from_secs(30), || async {
        let response = http::get(&url).await;
        (response.status != 404).then_some(())
    })
    .await;

    let labels = [("namespace", "team-a"), ("function", "guarded")];
    let rejected_before =
        sum_series(&flint.metrics().await, "flint_invoker_rejected_total", &labels);
    let wrong_b = bearer(&invoker_b);
    let malformed = bearer("flint_nope");
    /// What is sent, the headers, the status expected.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: [Case; 4] = [
        ("no token", vec![], 401),
        ("a malformed token", vec![("authorization", malformed.as_str())], 401),
        ("a token of another namespace", vec![("authorization", wrong_b.as_str())], 403),
        ("another namespace's token in the header", vec![("flint-token", invoker_b.as_str())], 403),
    ];
    let mut refused = 0.0;
    for (what, headers, expected) in &cases {
        for _ in 0..3 {
            let response = http::send(http::Method::GET, &url, headers, Default::default()).await;
            assert_eq!(response.status, *expected, "{what}: {}", response.text());
            assert!(!response.text().contains(&invoker_b), "the token is echoed");
            refused += 1.0;
        }
    }
    // Nothing was instantiated for them.
    let metrics = flint.metrics().await;
    assert_eq!(
        sum_series(&metrics, "flint_invoker_cold_start_duration_seconds_count", &labels),
        0.0,
        "an instance was created for a refused call"
    );
    let rejected = sum_series(&metrics, "flint_invoker_rejected_total", &labels) - rejected_before;
    assert_eq!(rejected, refused, "every refused call is counted as rejected");

    // With an invoker token of the namespace, by either header: 200.
    let right = bearer(&invoker_a);
    for headers in [[("authorization", right.as_str())], [("flint-token", invoker_a.as_str())]] {
        let response =
            http::send(http::Method::GET, &format!("{url}?name=a"), &headers, Default::default())
                .await;
        assert_eq!((response.status, response.text().as_str()), (200, "Hello, a!\n"));
    }
    // The ledger bills the two that ran, and none of the refused ones.
    let query = UsageQuery {
        namespace: Some(name("team-a")),
        group_by: vec![GroupBy::Function],
        ..UsageQuery::default()
    };
    let report = eventually("the two calls in the ledger", Duration::from_secs(20), || async {
        let report = admin.usage(&query).await.ok()?;
        (report.totals.invocations >= 2).then_some(report)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report_after = admin.usage(&query).await.unwrap();
    assert_eq!(report_after.totals.invocations, 2, "{:#?}", report.totals);
    assert_eq!(report_after.totals.counts.ok, 2, "{:#?}", report_after.totals);
    // A route without auth in the same namespace needs nothing.
    let open = TriggerRequest {
        function: name("guarded"),
        spec: TriggerSpec::Http(HttpTrigger::new("/open")),
    };
    admin.put_trigger(&name("team-a"), &name("open"), &open).await.expect("open");
    http::wait_for(&format!("{}/open", flint.http), 200).await;
}
