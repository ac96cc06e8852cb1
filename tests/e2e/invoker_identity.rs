//! Regression tests for the security review's invoker-identity findings
//! (issue 10, rows 2, 6, 7, 8, 18, 19 and 25), which the cluster credential and
//! the tokens close. Each test names its row.

use std::time::Duration;

use bytes::Bytes;
use flint_api::scheduler::RunOutcome;
use flint_api::{FunctionSpec, PricePlanSpec, Role, UsageQuery};
use flint_tests::auth::bearer;
use flint_tests::{Flint, guest, http};

use crate::cluster_credential::forged_batch;
use crate::{deploy_api, eventually, name, output_text};

/// Statuses of a call made with no token, an admin token and a deployer
/// token (of every namespace): an invokers-only endpoint refuses all three.
async fn refused_to_users(
    flint: &Flint,
    deployer: &str,
    method: http::Method,
    url: &str,
    body: &str,
) -> Vec<(&'static str, u16, String)> {
    let admin = flint.admin_token();
    let mut answers = Vec::new();
    for (who, token) in
        [("none", None), ("admin", Some(admin.as_str())), ("deployer", Some(deployer))]
    {
        let auth = token.map(bearer);
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        let body = Bytes::from(body.to_owned());
        // A refusal may close the connection without reading the body: a
        // pooled connection found closed is retried once on a new one.
        let mut answer = http::try_send(method.clone(), url, &headers, body.clone()).await;
        if answer.is_err() {
            answer = http::try_send(method.clone(), url, &headers, body).await;
        }
        match answer {
            Ok(response) => answers.push((who, response.status, response.text())),
            Err(error) => answers.push((who, 0, error)),
        }
    }
    answers
}

fn assert_refused(what: &str, answers: &[(&str, u16, String)]) {
    for (who, status, text) in answers {
        let expected = if *who == "none" { 401 } else { 403 };
        assert_eq!(*status, expected, "{what} as {who}: {text}");
    }
}

/// Row 2: nobody but an invoker registers an invoker, so nobody points the
/// controller's `flint invoke` at a URL of their choosing, nor replaces
/// `flint up`'s own invoker (`local`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_2_invokers_cannot_be_registered_without_the_credential() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    let before = flint.client().list_invokers().await.unwrap();
    let local = before.iter().find(|i| i.info.id == "local").expect("flint up's invoker");
    let deployer = flint.token("deployer", Role::Deployer, &["*"]).await;
    let evil = format!(
        r#"{{"id":"local","http_url":"http://127.0.0.1:1","admin_url":"http://127.0.0.1:1","version":"0","revision":{},"started_at":"2030-01-01T00:00:00Z"}}"#,
        local.info.revision + 1000
    );
    for id in ["local", "evil"] {
        let url = format!("{}/v1/invokers/{id}", flint.api);
        let answers = refused_to_users(&flint, &deployer, http::Method::PUT, &url, &evil).await;
        assert_refused(&format!("PUT /v1/invokers/{id}"), &answers);
    }
    let after = flint.client().list_invokers().await.unwrap();
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].info.admin_url, local.info.admin_url);
    let (out, err) = output_text(&flint.cli(&["invoke", "hello", "-d", "still"]));
    assert_eq!(out, "Hello, still!\n", "{err}");
}

/// Row 6: a function's environment (a secret, until secrets exist) is not
/// served to anonymous callers, to other namespaces, or through the change
/// feed to anyone but invokers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_6_function_env_is_not_served_without_a_right_to_it() {
    let flint = Flint::start();
    let admin = flint.client();
    let spec = FunctionSpec {
        env: [("API_KEY".to_owned(), "s3cr3t-value".to_owned())].into(),
        ..FunctionSpec::default()
    };
    deploy_api(&admin, "team-a", "keeper", &guest("testbed"), &spec, None).await;
    let other_ns = flint.token("team-b-viewer", Role::Viewer, &["team-b"]).await;
    let invoker = flint.token("team-a-invoker", Role::Invoker, &["team-a"]).await;
    let urls = [
        format!("{}/v1/namespaces/team-a/functions/keeper", flint.api),
        format!("{}/v1/namespaces/team-a/functions", flint.api),
        format!("{}/v1/watch?since=0&wait_ms=0", flint.api),
    ];
    for url in &urls {
        for (who, token) in
            [("none", None), ("team-b", Some(&other_ns)), ("invoker", Some(&invoker))]
        {
            let response = match token {
                Some(token) => http::get_as(url, token).await,
                None => http::get(url).await,
            };
            assert!(matches!(response.status, 401 | 403), "{url} as {who}: {}", response.text());
            assert!(!response.text().contains("s3cr3t-value"), "{url} as {who}");
        }
    }
    // The feed is the invokers' alone: even an admin cannot read it.
    let feed = http::get_as(&urls[2], &flint.admin_token()).await;
    assert_eq!(feed.status, 403, "{}", feed.text());
    assert!(!feed.text().contains("s3cr3t-value"));
    // Its own namespace's viewers may read it (the function's owners).
    let viewer = flint.token("team-a-viewer", Role::Viewer, &["team-a"]).await;
    assert_eq!(http::get_as(&urls[0], &viewer).await.status, 200);
}

/// Row 7: the scheduler lease cannot be taken by naming a holder, a forged
/// fire time far ahead cannot stop a schedule, and no run can be forged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_7_the_scheduler_lease_fires_and_runs_are_the_invokers_alone() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    let output = flint.cli(&["schedule", "add", "tb", "--cron", "@every 1s", "--path", "/echo"]);
    assert!(output.status.success(), "{:?}", output_text(&output));
    let client = flint.client();
    let (ns, trigger) = (name("default"), name("tb-schedule"));
    eventually("the schedule runs", Duration::from_secs(30), || async {
        let status = client.schedule_status(&ns, &trigger).await.ok()?;
        status.runs.iter().any(|r| r.outcome == RunOutcome::Ok).then_some(())
    })
    .await;

    let api = &flint.api;
    let deployer = flint.token("deployer", Role::Deployer, &["*"]).await;
    let lease = r#"{"invoker":"thief","ttl_ms":3600000}"#;
    let fire = r#"{"epoch":999999,"namespace":"default","trigger":"tb-schedule","scheduled":"2999-01-01T00:00:00Z","missed":[]}"#;
    let run = r#"[{"namespace":"default","trigger":"tb-schedule","run":{"scheduled":"2999-01-01T00:00:00Z","lag_ms":0,"duration_ms":1,"outcome":"ok","attempt":1,"invoker":"forger"}}]"#;
    for (path, body) in
        [("/v1/scheduler/lease", lease), ("/v1/scheduler/fires", fire), ("/v1/scheduler/runs", run)]
    {
        let url = format!("{api}{path}");
        let answers = refused_to_users(&flint, &deployer, http::Method::POST, &url, body).await;
        assert_refused(path, &answers);
    }
    // The schedule goes on firing, run by flint up's own invoker.
    let last = client.schedule_status(&ns, &trigger).await.unwrap().last_scheduled;
    let status = eventually("the schedule fires on", Duration::from_secs(10), || async {
        let status = client.schedule_status(&ns, &trigger).await.ok()?;
        (status.last_scheduled > last).then_some(status)
    })
    .await;
    assert!(status.runs.iter().all(|r| r.invoker != "forger" && r.invoker != "thief"));
}

/// Row 8: nobody but an invoker posts usage, nobody but an admin changes
/// the price plan; with the credential, counts do not wrap and histogram
/// buckets are range-checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_8_usage_and_prices_cannot_be_forged() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    let admin = flint.client();
    let query = UsageQuery::default();
    eventually("the warm-up call in the ledger", Duration::from_secs(20), || async {
        (admin.usage(&query).await.ok()?.totals.invocations >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = admin.usage(&query).await.unwrap().totals;
    let digest = admin
        .get_function(&name("default"), &name("hello"))
        .await
        .unwrap()
        .version
        .unwrap()
        .to_string();
    let url = format!("{}/v1/usage/batches", flint.api);
    let deployer = flint.token("deployer", Role::Deployer, &["*"]).await;
    let answers = refused_to_users(
        &flint,
        &deployer,
        http::Method::POST,
        &url,
        &forged_batch("forger", 1, &digest),
    )
    .await;
    assert_refused("POST /v1/usage/batches", &answers);
    // The plan: only admins change it.
    let plan = admin.price_plan().await.unwrap();
    let spec = PricePlanSpec { per_million_requests: Some(0.0), ..PricePlanSpec::default() };
    let err = flint.client_as(Some(&deployer)).set_price_plan(&spec).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}");
    let err = flint.client_as(None).set_price_plan(&spec).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401), "{err}");
    assert_eq!(admin.price_plan().await.unwrap(), plan, "the plan did not change");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(admin.usage(&query).await.unwrap().totals, before, "the ledger did not move");

    // With the credential: a bucket index out of range is refused, and
    // counts near the top of u64 do not wrap around to small numbers.
    let cluster = flint.cluster_token();
    let out_of_range = forged_batch("range", 1, &digest).replace("[[0,", "[[100000,");
    let response =
        http::send_json_as(http::Method::POST, &url, Some(&cluster), &out_of_range).await;
    assert_eq!(response.status, 400, "a bucket index out of range: {}", response.text());
    let huge = |seq| {
        forged_batch("huge", seq, &digest)
            .replace(r#""ok":1000000"#, &format!(r#""ok":{}"#, u64::MAX - 10))
    };
    let mut seen = before.counts.ok;
    for seq in 1..=2 {
        let response =
            http::send_json_as(http::Method::POST, &url, Some(&cluster), &huge(seq)).await;
        assert!(
            response.status == 200 || response.status == 400,
            "huge counts: {} {}",
            response.status,
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = admin.usage(&query).await.expect("the report still answers").totals.counts.ok;
        assert!(now >= seen, "the ok count wrapped: {seen} before batch {seq}, {now} after");
        seen = now;
    }
}

/// Row 18: guest logs and invoker registrations come from invokers only,
/// so nobody fills the controller's memory with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_18_logs_and_registrations_take_the_credential() {
    let flint = Flint::start();
    let deployer = flint.token("deployer", Role::Deployer, &["*"]).await;
    let line = "x".repeat(100);
    let logs: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"namespace":"default","function":"ghost-{i}","time":"2030-01-01T00:00:00Z","stream":"stdout","line":"{line}"}}"#
            )
        })
        .collect();
    let logs = format!("[{}]", logs.join(","));
    let answers = refused_to_users(
        &flint,
        &deployer,
        http::Method::POST,
        &format!("{}/v1/logs", flint.api),
        &logs,
    )
    .await;
    assert_refused("POST /v1/logs", &answers);
    let huge = format!(
        r#"{{"id":"big","http_url":"http://127.0.0.1:1","admin_url":"http://127.0.0.1:1","version":"{}","revision":0,"started_at":"2030-01-01T00:00:00Z"}}"#,
        "v".repeat(1 << 20)
    );
    // Refused before its body is read: the answer is 401/403, or, when the
    // client is still sending the megabyte, a connection closed under it.
    let url = format!("{}/v1/invokers/big", flint.api);
    let admin = flint.admin_token();
    for (who, token) in
        [("none", None), ("admin", Some(admin.as_str())), ("deployer", Some(&deployer))]
    {
        let auth = token.map(bearer);
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        let answer =
            http::try_send(http::Method::PUT, &url, &headers, Bytes::from(huge.clone())).await;
        if let Ok(answer) = answer {
            assert!(matches!(answer.status, 401 | 403), "as {who}: {}", answer.text());
        }
    }
    assert_eq!(flint.client().list_invokers().await.unwrap().len(), 1);
}

/// Row 25: the invoker's admin `/v1/invoke` runs a function only for the
/// controller (the cluster credential); `flint invoke` still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_25_the_invokers_admin_invoke_takes_the_credential() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    let url = format!("{}/v1/invoke/default/hello", flint.admin);
    let response = http::post(&url, "anyone").await;
    assert_eq!(response.status, 401, "{}", response.text());
    let admin = bearer(&flint.admin_token());
    let response =
        http::send(http::Method::POST, &url, &[("authorization", &admin)], Bytes::from("admin"))
            .await;
    assert!(matches!(response.status, 401 | 403), "a user token: {}", response.text());
    let cluster = bearer(&flint.cluster_token());
    let response =
        http::send(http::Method::POST, &url, &[("authorization", &cluster)], Bytes::from("ctl"))
            .await;
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, ctl!\n"));
    let (out, err) = output_text(&flint.cli(&["invoke", "hello", "-d", "cli"]));
    assert_eq!(out, "Hello, cli!\n", "{err}");
    // Health, readiness and metrics stay open on the admin listener.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(http::get(&format!("{}{path}", flint.admin)).await.status, 200, "{path}");
    }
}

/// Row 19: a Kafka trigger cannot name another namespace's consumer group
/// (it would take that namespace's records); its own groups are fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_19_a_kafka_trigger_keeps_to_its_namespaces_consumer_groups() {
    let flint = Flint::start();
    let admin = flint.client();
    deploy_api(&admin, "team-b", "reader", &guest("testbed"), &FunctionSpec::default(), None).await;
    let deployer = flint.token("team-b-deployer", Role::Deployer, &["team-b"]).await;
    let url = format!("{}/v1/namespaces/team-b/triggers/orders", flint.api);
    let trigger = |group: &str| {
        format!(
            r#"{{"function":"reader","spec":{{"kafka":{{"bootstrap_servers":"127.0.0.1:9","topics":["orders"],"group":"{group}"}}}}}}"#
        )
    };
    for stolen in ["flint.team-a.orders", "team-a.orders", "orders"] {
        let response =
            http::send_json_as(http::Method::PUT, &url, Some(&deployer), &trigger(stolen)).await;
        assert_eq!(response.status, 400, "group `{stolen}`: {}", response.text());
        assert!(response.text().contains("kafka.group"), "{}", response.text());
    }
    assert!(admin.list_triggers(&name("team-b")).await.unwrap().is_empty(), "nothing stored");
    for own in ["flint.team-b.orders", "team-b.orders"] {
        let response =
            http::send_json_as(http::Method::PUT, &url, Some(&deployer), &trigger(own)).await;
        assert!(matches!(response.status, 200 | 201), "group `{own}`: {}", response.text());
    }
}
