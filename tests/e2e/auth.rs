//! Who may call what. Every endpoint of the API (the table in
//! `controller/src/api.rs` and the token, namespace and audit endpoints),
//! the dashboard and the invoker's admin `/v1/invoke` against each kind of
//! caller: none, a malformed token, an unknown one, each role, a token of
//! another namespace, an expired one, a revoked one, the cluster credential.
//! Refusals are `401`/`403` with a one-line JSON reason that never echoes
//! the token, and a refused call changes nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use flint_api::{
    FunctionSpec, HttpTrigger, Role, ScheduleTrigger, Scope, Timestamp, TriggerRequest, TriggerSpec,
};
use flint_tests::auth::bearer;
use flint_tests::{Flint, guest, http};
use serde_json::Value;

use crate::{deploy_api, eventually, name};

/// What an endpoint asks of its caller.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Nothing: health.
    Open,
    /// Any valid token, the cluster credential included.
    AnyToken,
    /// A user role, for namespace team-a when the flag is set.
    Role(Role, bool),
    /// The cluster credential only.
    Cluster,
    /// An admin token or the cluster credential (`/metrics` on the API port).
    AdminOrCluster,
}

/// Who calls.
#[derive(Debug, Clone)]
enum Who {
    /// No token at all.
    Anonymous,
    /// A token the controller must not accept: malformed, unknown, expired, revoked.
    Invalid,
    /// A valid user token.
    User(Role, Scope),
    /// The cluster credential.
    Cluster,
}

struct Caller {
    name: &'static str,
    token: Option<String>,
    who: Who,
}

/// Where an endpoint is served.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Base {
    Api,
    /// The invoker's admin listener.
    InvokerAdmin,
}

enum Body {
    Empty,
    Json(String),
    Wasm(Bytes),
    Text(&'static str),
}

struct Endpoint {
    method: http::Method,
    base: Base,
    /// `{caller}` is replaced with the caller's name.
    path: String,
    body: Body,
    need: Need,
    /// The call may be refused for its content once admitted (a fire time
    /// without the lease): only "neither 401 nor 403" is asserted then.
    only_auth: bool,
}

fn endpoint(method: http::Method, path: impl Into<String>, body: Body, need: Need) -> Endpoint {
    Endpoint { method, base: Base::Api, path: path.into(), body, need, only_auth: false }
}

/// Whether `who` may call an endpoint needing `need`: `Some(true)` allowed,
/// `Some(false)` forbidden (403), `None` unauthenticated (401).
fn admits(need: Need, who: &Who) -> Option<bool> {
    let team_a = name("team-a");
    match (need, who) {
        (Need::Open, _) => Some(true),
        (_, Who::Anonymous | Who::Invalid) => None,
        (Need::AnyToken, _) => Some(true),
        (Need::Cluster | Need::AdminOrCluster, Who::Cluster) => Some(true),
        (_, Who::Cluster) => Some(false),
        (Need::Cluster, Who::User(..)) => Some(false),
        (Need::AdminOrCluster, Who::User(role, _)) => Some(*role == Role::Admin),
        (Need::Role(needed, in_a), Who::User(role, scope)) => {
            Some(role.allows(needed) && (!in_a || scope.contains(&team_a)))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_each_caller_as_its_role_allows() {
    let flint = Flint::start();
    let admin = flint.client();
    // First, so it has expired by the time the matrix runs.
    let expired =
        flint.token_expiring("expired", Role::Deployer, &["team-a"], in_seconds(3)).await.token;
    let works = flint.client_as(Some(&expired)).whoami().await;
    assert!(works.is_ok(), "a token works until it expires: {works:?}");

    let hello = guest("hello-http");
    deploy_api(
        &admin,
        "team-a",
        "alpha-fn",
        &hello,
        &FunctionSpec::default(),
        Some(HttpTrigger::new("/alpha")),
    )
    .await;
    deploy_api(
        &admin,
        "team-b",
        "bravo-fn",
        &hello,
        &FunctionSpec::default(),
        Some(HttpTrigger::new("/bravo")),
    )
    .await;
    let nightly = ScheduleTrigger {
        cron: "0 0 3 * * *".into(),
        timezone: "UTC".into(),
        payload: None,
        content_type: None,
        path: "/".into(),
        missed: Default::default(),
        max_catch_up: 10,
        retry: Default::default(),
    };
    let request =
        TriggerRequest { function: name("alpha-fn"), spec: TriggerSpec::Schedule(nightly) };
    admin.put_trigger(&name("team-a"), &name("nightly"), &request).await.expect("schedule");

    let mut callers = vec![
        Caller { name: "none", token: None, who: Who::Anonymous },
        Caller { name: "malformed", token: Some("not-a-flint-token".into()), who: Who::Invalid },
        Caller {
            name: "unknown",
            token: Some(format!("flint_{}_{}", "0123456789abcdef", "ab".repeat(32))),
            who: Who::Invalid,
        },
        Caller { name: "expired", token: Some(expired), who: Who::Invalid },
        Caller {
            name: "admin",
            token: Some(flint.admin_token()),
            who: Who::User(Role::Admin, Scope::All),
        },
        Caller { name: "cluster", token: Some(flint.cluster_token()), who: Who::Cluster },
    ];
    for (caller, role, ns) in [
        ("viewer", Role::Viewer, "team-a"),
        ("invoker", Role::Invoker, "team-a"),
        ("deployer", Role::Deployer, "team-a"),
        ("other-ns", Role::Deployer, "team-b"),
    ] {
        let token = flint.token(caller, role, &[ns]).await;
        callers.push(Caller {
            name: caller,
            token: Some(token),
            who: Who::User(role, flint_tests::auth::scope(&[ns])),
        });
    }
    let revoked = flint.token("revoked", Role::Deployer, &["team-a"]).await;
    assert!(flint.client_as(Some(&revoked)).whoami().await.is_ok());
    admin.revoke_token(&name("revoked")).await.expect("revoke");
    callers.push(Caller { name: "revoked", token: Some(revoked), who: Who::Invalid });

    // What each caller may try to delete, and must leave alone when refused.
    for caller in &callers {
        let victim = name(&format!("victim-{}", caller.name));
        admin
            .put_function(&name("team-a"), &victim, &FunctionSpec::default())
            .await
            .expect("victim function");
        let route = TriggerRequest {
            function: name("alpha-fn"),
            spec: TriggerSpec::Http(HttpTrigger::new(format!("/victim-{}", caller.name))),
        };
        admin.put_trigger(&name("team-a"), &victim, &route).await.expect("victim trigger");
        flint.token(victim.as_str(), Role::Invoker, &["team-a"]).await;
    }

    // Something in the logs and the ledger, and the expired token past its time.
    http::wait_for(&format!("{}/alpha", flint.http), 200).await;
    http::wait_for(&format!("{}/bravo", flint.http), 200).await;
    let expired_client = flint.client_as(callers[3].token.as_deref());
    eventually("the expired token to be refused", Duration::from_secs(15), || async {
        let answer = expired_client.whoami().await;
        answer.err().filter(|e| e.status().map(|s| s.as_u16()) == Some(401))
    })
    .await;

    let alpha = admin.get_function(&name("team-a"), &name("alpha-fn")).await.expect("alpha");
    let digest = alpha.version.expect("alpha has a version");
    let invoker = admin.list_invokers().await.expect("invokers").into_iter().next().expect("one");
    let invoker_json = serde_json::to_string(&invoker.info).expect("json");
    let wasm = Bytes::from(std::fs::read(&hello).expect("wasm"));
    let trigger_json = r#"{"function":"alpha-fn","spec":{"http":{"route":"/alpha"}}}"#;
    let lease = http::send_json_as(
        http::Method::POST,
        &format!("{}/v1/scheduler/lease", flint.api),
        Some(&flint.cluster_token()),
        r#"{"invoker":"matrix-probe","ttl_ms":1000,"release":true}"#,
    )
    .await;
    let epoch = serde_json::from_slice::<flint_api::scheduler::Lease>(&lease.body)
        .unwrap_or_else(|e| panic!("lease: {e}: {}", lease.text()))
        .epoch;

    use http::Method as M;
    let fa = "/v1/namespaces/team-a/functions/alpha-fn";
    let mut endpoints = vec![
        endpoint(M::GET, "/healthz", Body::Empty, Need::Open),
        endpoint(M::GET, "/readyz", Body::Empty, Need::Open),
        endpoint(M::GET, "/metrics", Body::Empty, Need::AdminOrCluster),
        endpoint(M::GET, "/v1/whoami", Body::Empty, Need::AnyToken),
        endpoint(
            M::GET,
            "/v1/namespaces/team-a/functions",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(M::GET, fa, Body::Empty, Need::Role(Role::Viewer, true)),
        endpoint(M::PUT, fa, Body::Json("{}".into()), Need::Role(Role::Deployer, true)),
        endpoint(
            M::DELETE,
            "/v1/namespaces/team-a/functions/victim-{caller}",
            Body::Empty,
            Need::Role(Role::Deployer, true),
        ),
        endpoint(M::GET, format!("{fa}/versions"), Body::Empty, Need::Role(Role::Viewer, true)),
        endpoint(
            M::POST,
            format!("{fa}/versions"),
            Body::Wasm(wasm),
            Need::Role(Role::Deployer, true),
        ),
        endpoint(
            M::GET,
            format!("{fa}/logs?since=0&wait_ms=0"),
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(
            M::POST,
            format!("{fa}/invoke"),
            Body::Text("matrix"),
            Need::Role(Role::Invoker, true),
        ),
        endpoint(
            M::GET,
            "/v1/namespaces/team-a/triggers",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(
            M::GET,
            "/v1/namespaces/team-a/triggers/alpha-fn-http",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(
            M::PUT,
            "/v1/namespaces/team-a/triggers/alpha-fn-http",
            Body::Json(trigger_json.into()),
            Need::Role(Role::Deployer, true),
        ),
        endpoint(
            M::DELETE,
            "/v1/namespaces/team-a/triggers/victim-{caller}",
            Body::Empty,
            Need::Role(Role::Deployer, true),
        ),
        endpoint(
            M::GET,
            "/v1/namespaces/team-a/triggers/nightly/runs",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(
            M::GET,
            "/v1/namespaces/team-a/triggers/alpha-fn-http/status",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
        endpoint(M::GET, "/v1/namespaces", Body::Empty, Need::AnyToken),
        endpoint(M::GET, "/v1/namespaces/team-a", Body::Empty, Need::Role(Role::Viewer, true)),
        endpoint(
            M::PUT,
            "/v1/namespaces/team-a",
            Body::Json("{}".into()),
            Need::Role(Role::Admin, false),
        ),
        endpoint(M::GET, "/v1/watch?since=0&wait_ms=0", Body::Empty, Need::Cluster),
        endpoint(M::GET, format!("/v1/blobs/{digest}"), Body::Empty, Need::Cluster),
        endpoint(M::GET, "/v1/invokers", Body::Empty, Need::AnyToken),
        endpoint(
            M::PUT,
            format!("/v1/invokers/{}", invoker.info.id),
            Body::Json(invoker_json),
            Need::Cluster,
        ),
        endpoint(
            M::POST,
            "/v1/scheduler/lease",
            Body::Json(r#"{"invoker":"matrix-{caller}","ttl_ms":1000,"release":true}"#.into()),
            Need::Cluster,
        ),
        Endpoint {
            only_auth: true,
            ..endpoint(
                M::POST,
                "/v1/scheduler/fires",
                // The current epoch, and a trigger that is no schedule: a
                // caller let through gets 409 and nothing is recorded.
                Body::Json(format!(
                    r#"{{"epoch":{epoch},"namespace":"team-a","trigger":"alpha-fn-http","scheduled":"2001-01-01T03:00:00Z","missed":[]}}"#
                )),
                Need::Cluster,
            )
        },
        endpoint(M::POST, "/v1/scheduler/runs", Body::Json("[]".into()), Need::Cluster),
        endpoint(M::GET, "/v1/scheduler/cursors", Body::Empty, Need::Cluster),
        endpoint(M::POST, "/v1/logs", Body::Json("[]".into()), Need::Cluster),
        endpoint(M::GET, "/v1/usage", Body::Empty, Need::Role(Role::Viewer, false)),
        endpoint(M::GET, "/v1/usage?format=csv", Body::Empty, Need::Role(Role::Viewer, false)),
        // Invokers read the plan to meter with its granularity; no secret in it.
        endpoint(M::GET, "/v1/usage/plan", Body::Empty, Need::AnyToken),
        endpoint(
            M::PUT,
            "/v1/usage/plan",
            Body::Json(r#"{"currency":"USD"}"#.into()),
            Need::Role(Role::Admin, false),
        ),
        endpoint(
            M::POST,
            "/v1/usage/batches",
            Body::Json(format!(
                r#"{{"id":"{}","invoker":"matrix-{{caller}}","boot":1,"seq":1,"aggregates":[]}}"#,
                flint_api::UsageBatch::make_id("matrix-{caller}", 1, 1)
            )),
            Need::Cluster,
        ),
        endpoint(
            M::POST,
            "/v1/tokens",
            Body::Json(
                r#"{"name":"made-by-{caller}","role":"viewer","namespaces":["team-a"]}"#.into(),
            ),
            Need::Role(Role::Admin, false),
        ),
        endpoint(M::GET, "/v1/tokens", Body::Empty, Need::Role(Role::Admin, false)),
        endpoint(
            M::DELETE,
            "/v1/tokens/victim-{caller}",
            Body::Empty,
            Need::Role(Role::Admin, false),
        ),
        endpoint(M::GET, "/v1/audit", Body::Empty, Need::Role(Role::Admin, false)),
        endpoint(M::GET, "/ui", Body::Empty, Need::Role(Role::Viewer, false)),
        endpoint(
            M::GET,
            "/ui/functions/team-a/alpha-fn",
            Body::Empty,
            Need::Role(Role::Viewer, true),
        ),
    ];
    endpoints.push(Endpoint {
        base: Base::InvokerAdmin,
        ..endpoint(M::POST, "/v1/invoke/team-a/alpha-fn", Body::Text("admin"), Need::Cluster)
    });

    let mut failures = Vec::new();
    let mut refusals = 0;
    let mut retried = 0;
    for e in &endpoints {
        for caller in &callers {
            let path = e.path.replace("{caller}", caller.name);
            let base = match e.base {
                Base::Api => &flint.api,
                Base::InvokerAdmin => &flint.admin,
            };
            let url = format!("{base}{path}");
            let auth = caller.token.as_deref().map(bearer);
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(auth) = &auth {
                headers.push(("authorization", auth));
            }
            let body = match &e.body {
                Body::Empty => Bytes::new(),
                Body::Json(json) => {
                    headers.push(("content-type", "application/json"));
                    Bytes::from(json.replace("{caller}", caller.name))
                }
                Body::Wasm(wasm) => {
                    headers.push(("content-type", "application/wasm"));
                    wasm.clone()
                }
                Body::Text(text) => {
                    headers.push(("content-type", "text/plain"));
                    Bytes::from_static(text.as_bytes())
                }
            };
            let what = format!("{} {path} as {}", e.method, caller.name);
            // A refusal may close the connection without reading the
            // request's body; a pooled connection found closed is retried
            // once on a new one.
            let mut answer = http::try_send(e.method.clone(), &url, &headers, body.clone()).await;
            if answer.is_err() {
                retried += 1;
                answer = http::try_send(e.method.clone(), &url, &headers, body).await;
            }
            let response = match answer {
                Ok(response) => response,
                Err(error) => {
                    failures.push(format!("{what}: no answer: {error}"));
                    continue;
                }
            };
            let status = response.status;
            let expected = admits(e.need, &caller.who);
            let ok = match expected {
                Some(true) if e.only_auth => status != 401 && status != 403,
                Some(true) => (200..300).contains(&status),
                // The invoker's admin listener knows no user roles: a user
                // token there is as good as none.
                Some(false) if e.base == Base::InvokerAdmin => status == 401 || status == 403,
                Some(false) => status == 403,
                None => status == 401,
            };
            if !ok {
                failures.push(format!(
                    "{what}: expected {}, got {status}: {}",
                    match expected {
                        Some(true) => "2xx",
                        Some(false) => "403",
                        None => "401",
                    },
                    one_line(&response.text())
                ));
                continue;
            }
            if status == 401 || status == 403 {
                refusals += 1;
                if let Err(problem) = check_refusal(&response, caller.token.as_deref(), &path) {
                    failures.push(format!("{what}: {problem}"));
                }
            }
        }
    }
    eprintln!(
        "{} endpoints x {} callers, {refusals} refusals checked, {retried} calls retried",
        endpoints.len(),
        callers.len()
    );
    assert!(
        failures.is_empty(),
        "{} of the matrix failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // A refused call changed nothing: the victims of refused callers are all
    // there, those of allowed callers are gone.
    let functions: BTreeSet<String> = admin
        .list_functions(&name("team-a"))
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name.to_string())
        .collect();
    let triggers: BTreeSet<String> = admin
        .list_triggers(&name("team-a"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let tokens: BTreeSet<String> =
        admin.list_tokens().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    for caller in &callers {
        let victim = format!("victim-{}", caller.name);
        let deployer = admits(Need::Role(Role::Deployer, true), &caller.who) == Some(true);
        let admin_role = admits(Need::Role(Role::Admin, false), &caller.who) == Some(true);
        assert_eq!(functions.contains(&victim), !deployer, "function {victim}");
        assert_eq!(triggers.contains(&victim), !deployer, "trigger {victim}");
        assert_eq!(tokens.contains(&victim), !admin_role, "token {victim}");
        assert_eq!(
            tokens.contains(&format!("made-by-{}", caller.name)),
            admin_role,
            "token made-by-{}",
            caller.name
        );
    }
    // Neither a refused invoker registration nor a refused lease moved anything.
    let invokers = admin.list_invokers().await.unwrap();
    assert!(
        invokers.iter().all(|i| i.info.admin_url == invoker.info.admin_url || !i.healthy),
        "{invokers:#?}"
    );
}

/// Checks a `401`/`403` answer: one line of JSON with an `error` that says
/// what is missing, and nothing of the token.
fn check_refusal(response: &http::Response, token: Option<&str>, path: &str) -> Result<(), String> {
    let text = response.text();
    if let Some(token) = token {
        let secret = token.rsplit('_').next().unwrap_or(token);
        if text.contains(token) || (secret.len() >= 16 && text.contains(secret)) {
            return Err(format!("the answer echoes the token: {text}"));
        }
        if response.headers.iter().any(|(_, v)| v.to_str().is_ok_and(|v| v.contains(secret))) {
            return Err("a header echoes the token".into());
        }
    }
    // The dashboard may answer a browser with its token form instead.
    if path.starts_with("/ui") {
        return Ok(());
    }
    if text.trim_end().contains('\n') {
        return Err(format!("the reason is more than one line: {text:?}"));
    }
    let json: Value =
        serde_json::from_str(&text).map_err(|_| format!("the reason is not JSON: {text}"))?;
    let Some(error) = json["error"].as_str() else {
        return Err(format!("no `error` string: {text}"));
    };
    if response.status == 401 && !error.contains("token") && !error.contains("credential") {
        return Err(format!("a 401 that does not name the token: {error}"));
    }
    if error.is_empty() {
        return Err("an empty reason".into());
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    let line: String = text.chars().take(200).collect();
    line.replace('\n', " ")
}

/// `now` plus `seconds`.
pub fn in_seconds(seconds: i64) -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second() + seconds).expect("a valid time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_travel_in_the_header_or_the_cookie_and_whoami_describes_them() {
    let flint = Flint::start();
    let token = flint.token("ci-team-a", Role::Deployer, &["team-a"]).await;
    let url = format!("{}/v1/whoami", flint.api);
    for (header, value) in
        [("authorization", bearer(&token)), (flint_api::auth::TOKEN_HEADER, token.clone())]
    {
        let response = http::send(http::Method::GET, &url, &[(header, &value)], Bytes::new()).await;
        assert_eq!(response.status, 200, "{header}: {}", response.text());
        let whoami: flint_api::Whoami = serde_json::from_slice(&response.body).expect("whoami");
        assert_eq!((whoami.name.as_str(), whoami.role), ("ci-team-a", Role::Deployer));
        assert_eq!(whoami.namespaces, flint_tests::auth::scope(&["team-a"]));
    }
    // The dashboard's sign-in form takes it once and trades it for a cookie
    // (HttpOnly, SameSite=Strict) that opens the dashboard from then on.
    let viewer = flint.token("viewer-a", Role::Viewer, &["team-a"]).await;
    let signed_in = http::send(
        http::Method::POST,
        &format!("{}/ui/login", flint.api),
        &[("content-type", "application/x-www-form-urlencoded")],
        Bytes::from(format!("token={viewer}")),
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    let set_cookie = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", flint_api::auth::SESSION_COOKIE)))
        .unwrap_or_else(|| panic!("no session cookie: {:?}", signed_in.headers))
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    if let Some(location) = signed_in.header("location") {
        assert!(!location.contains(&viewer), "the redirect keeps the token in the URL");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let page = http::send(
        http::Method::GET,
        &format!("{}/ui", flint.api),
        &[("cookie", &cookie)],
        Bytes::new(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(!page.text().contains(&viewer), "the page shows the token");
    let anonymous = http::get(&format!("{}/ui", flint.api)).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert!(anonymous.text().contains("/ui/login"), "the sign-in form: {}", anonymous.text());
    // An invoker token may not open the dashboard.
    let invoker = flint.token("invoker-a", Role::Invoker, &["team-a"]).await;
    let refused = http::send(
        http::Method::POST,
        &format!("{}/ui/login", flint.api),
        &[("content-type", "application/x-www-form-urlencoded")],
        Bytes::from(format!("token={invoker}")),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.headers.get("set-cookie").is_none());
    assert!(!refused.text().contains(&invoker), "the form echoes the token");
    // The list shows it without its secret, with who made it.
    let tokens = flint.client().list_tokens().await.expect("tokens");
    let listed = tokens.iter().find(|t| t.name.as_str() == "ci-team-a").expect("listed");
    assert!(token.contains(&listed.id), "the id is the token's first part");
    let json = serde_json::to_string(&tokens).unwrap();
    assert!(!json.contains(token.rsplit('_').next().unwrap()), "no secret in the list");
    // A cluster role cannot be given to a token, and names are unique.
    let admin = flint.client();
    let spec = flint_api::TokenSpec {
        name: name("sneaky"),
        role: Role::Cluster,
        namespaces: Scope::All,
        expires_at: None,
    };
    let err = admin.create_token(&spec).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    let spec = flint_api::TokenSpec { name: name("ci-team-a"), role: Role::Viewer, ..spec };
    let err = admin.create_token(&spec).await.unwrap_err();
    assert!(matches!(err.status().map(|s| s.as_u16()), Some(400 | 409)), "{err}");
    // Past tokens cannot be made.
    let spec =
        flint_api::TokenSpec { name: name("late"), expires_at: Some(in_seconds(-60)), ..spec };
    let err = admin.create_token(&spec).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
}
