//! The invokers' cluster credential, with the controller and the invokers
//! as separate processes: an invoker with a wrong one cannot follow the
//! feed, fetch blobs, post usage, register or take the scheduler lease, and
//! a usage batch forged without it changes no figure in the ledger.

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::{FunctionSpec, GroupBy, HttpTrigger, Role, UsageBatch, UsageQuery, UsageReport};
use flint_tests::{Controller, Invoker, flint_bin, guest, http};

use crate::{deploy_api, eventually, name, output_text};

/// A usage batch for `default/hello` claiming a million calls, as JSON.
pub fn forged_batch(invoker: &str, seq: u64, digest: &str) -> String {
    let id = UsageBatch::make_id(invoker, 7, seq);
    let minute = flint_api::Timestamp::now().as_second() / 60;
    let calls = 1_000_000u64;
    format!(
        r#"{{"id":"{id}","invoker":"{invoker}","boot":7,"seq":{seq},"aggregates":[{{"namespace":"default","function":"hello","version":"{digest}","trigger":"http","minute":{minute},"plan":1,"sums":{{"counts":{{"ok":{calls},"error":0}},"wall_us":{calls},"billed_us":{billed},"mb_billed_us":{mb},"instantiate_us":0,"cold_starts":0,"cold_start_us":0,"peak_memory_bytes":1048576,"memory_mb":128,"granularity_us":1000,"histogram":[[0,{calls}]]}}}}]}}"#,
        billed = calls * 1000,
        mb = calls * 1000 * 128,
    )
}

/// The ledger's figures that a forged batch would move.
fn figures(report: &UsageReport) -> String {
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|r| format!("{:?}/{:?}: {:?}", r.namespace, r.function, r.figures))
        .collect();
    format!("{:?} {} | {}", report.totals, report.net_cost, rows.join("; "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoker_with_a_wrong_cluster_credential_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(dir.path());
    let good = Invoker::start(&controller, "good", dir.path());
    let wrong = "w".repeat(48);
    let wrong_file = dir.path().join("wrong-cluster.token");
    std::fs::write(&wrong_file, format!("{wrong}\n")).unwrap();
    let bad = Invoker::start_with_token_file(&controller.api, &wrong_file, "bad", dir.path());

    let admin = controller.client();
    let hello = guest("hello-http");
    let spec = FunctionSpec::default();
    deploy_api(&admin, "default", "hello", &hello, &spec, Some(HttpTrigger::new("/hello"))).await;
    let ok = http::wait_for(&format!("{}/hello", good.http), 200).await;
    assert_eq!(ok.text(), "Hello, world!\n");
    let digest = admin
        .get_function(&name("default"), &name("hello"))
        .await
        .unwrap()
        .version
        .expect("a version")
        .to_string();

    // The wrong invoker never learns the function, never gets ready and
    // never registers, however long the good one has served it.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(2) {
        let response =
            http::try_send(http::Method::GET, &format!("{}/hello", bad.http), &[], Bytes::new())
                .await;
        assert!(
            response.as_ref().is_ok_and(|r| r.status != 200),
            "the invoker without the credential serves the function: {response:?}\n{}",
            bad.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = http::get(&format!("{}/readyz", bad.admin)).await;
    assert_ne!(ready.status, 200, "{}", ready.text());
    let ids: Vec<String> =
        admin.list_invokers().await.unwrap().into_iter().map(|i| i.info.id).collect();
    assert_eq!(ids, ["good"], "only the good invoker registered");

    // Its calls, made by hand with its wrong credential, and with none: 401.
    // With a user token, even an admin's: 403 (these are the invokers' own).
    let deployer = controller.token("deployer", Role::Deployer, &["*"]).await;
    let admin_token = controller.admin_token();
    let cases: [(http::Method, String, String); 7] = [
        (http::Method::GET, "/v1/watch?since=0&wait_ms=0".into(), String::new()),
        (http::Method::GET, format!("/v1/blobs/{digest}"), String::new()),
        (http::Method::POST, "/v1/usage/batches".into(), forged_batch("bad", 1, &digest)),
        (
            http::Method::POST,
            "/v1/scheduler/lease".into(),
            r#"{"invoker":"bad","ttl_ms":600000}"#.into(),
        ),
        (
            http::Method::PUT,
            "/v1/invokers/bad".into(),
            format!(
                r#"{{"id":"bad","http_url":"{}","admin_url":"{}","version":"0","revision":0,"started_at":"2030-01-01T00:00:00Z"}}"#,
                bad.http, bad.admin
            ),
        ),
        (http::Method::POST, "/v1/logs".into(), "[]".into()),
        (http::Method::GET, "/v1/scheduler/cursors".into(), String::new()),
    ];
    // The ledger at rest: the calls above have arrived, and no more come.
    let query = UsageQuery { group_by: vec![GroupBy::Function], ..UsageQuery::default() };
    eventually("the warm-up calls in the ledger", Duration::from_secs(20), || async {
        (admin.usage(&query).await.ok()?.totals.invocations >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = admin.usage(&query).await.unwrap();
    for (method, path, body) in &cases {
        let url = format!("{}{path}", controller.api);
        for (who, token, expected) in [
            ("none", None, 401),
            ("the wrong credential", Some(wrong.as_str()), 401),
            ("an admin token", Some(admin_token.as_str()), 403),
            ("a deployer token", Some(deployer.as_str()), 403),
        ] {
            let response = http::send_json_as(method.clone(), &url, token, body).await;
            assert_eq!(
                response.status,
                expected,
                "{method} {path} with {who}: {}",
                response.text()
            );
            assert!(!response.text().contains(&wrong), "the credential is echoed");
        }
    }
    // No figure moved, and the bad invoker holds no lease.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = admin.usage(&query).await.unwrap();
    assert_eq!(figures(&after), figures(&before), "a forged batch moved the ledger");
    let probe = http::send_json_as(
        http::Method::POST,
        &format!("{}/v1/scheduler/lease", controller.api),
        Some(&controller.cluster_token()),
        r#"{"invoker":"probe","ttl_ms":1000,"release":true}"#,
    )
    .await;
    assert_eq!(probe.status, 200, "{}", probe.text());
    let lease: flint_api::scheduler::Lease = serde_json::from_slice(&probe.body).unwrap();
    assert_ne!(lease.holder.as_deref(), Some("bad"));

    // The same batch with the credential is applied: what kept it out was
    // the credential, nothing else.
    let url = format!("{}/v1/usage/batches", controller.api);
    let response = http::send_json_as(
        http::Method::POST,
        &url,
        Some(&controller.cluster_token()),
        &forged_batch("bad", 1, &digest),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let before = before.totals.invocations;
    eventually("the authorised batch in the ledger", Duration::from_secs(10), || async {
        let now = admin.usage(&query).await.ok()?.totals.invocations;
        (now >= before + 1_000_000).then_some(())
    })
    .await;
    drop((good, bad));
}

#[test]
fn an_invoker_without_a_cluster_credential_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(flint_bin().with_file_name("flint-invoker"))
        .args(["--controller", "http://127.0.0.1:1", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .env_remove("FLINT_CLUSTER_TOKEN")
        .env_remove("FLINT_CLUSTER_TOKEN_FILE")
        .current_dir(dir.path())
        .output()
        .expect("runs");
    let (_, err) = output_text(&output);
    assert_eq!(output.status.code(), Some(64), "{err}");
    assert!(
        err.contains("--cluster-token-file") && err.contains("FLINT_CLUSTER_TOKEN"),
        "the error names both ways to give it: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
