//! The audit log: every mutating call, with the token that made it, its
//! method, path, namespace and answer; readable by admins only, kept across
//! a restart.

use flint_api::{AuditEntry, FunctionSpec, Quotas, Role, Timestamp};
use flint_tests::{Flint, http};

use crate::{name, output_text};

fn find<'a>(
    entries: &'a [AuditEntry],
    token: &str,
    method: &str,
    path: &str,
) -> Option<&'a AuditEntry> {
    entries.iter().find(|e| e.token_name == token && e.method == method && e.path == path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_calls_are_audited_for_admins() {
    let mut flint = Flint::start();
    let admin = flint.client();
    let started = Timestamp::now();
    let deployer_token = flint.token("ci-deployer", Role::Deployer, &["team-a"]).await;
    let viewer_token = flint.token("ci-viewer", Role::Viewer, &["team-a"]).await;
    let deployer = flint.client_as(Some(&deployer_token));
    let viewer = flint.client_as(Some(&viewer_token));
    let ns = name("team-a");

    deployer.put_function(&ns, &name("audited"), &FunctionSpec::default()).await.expect("put");
    deployer.list_functions(&ns).await.expect("a read");
    deployer.delete_function(&ns, &name("audited")).await.expect("delete");
    let missing = deployer.delete_function(&ns, &name("ghost")).await.unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    let refused = viewer.put_function(&ns, &name("nope"), &FunctionSpec::default()).await;
    assert_eq!(refused.unwrap_err().status().map(|s| s.as_u16()), Some(403));
    admin
        .put_namespace(&ns, &Quotas { max_functions: Some(10), ..Quotas::default() })
        .await
        .expect("quotas");

    let entries = admin.audit(None).await.expect("audit");
    let path = "/v1/namespaces/team-a/functions/audited";
    let put = find(&entries, "ci-deployer", "PUT", path).unwrap_or_else(|| panic!("{entries:#?}"));
    assert_eq!(put.namespace.as_ref(), Some(&ns), "{put:?}");
    assert!((200..300).contains(&put.status), "{put:?}");
    assert!(put.time >= started && !put.token_id.is_empty(), "{put:?}");
    assert!(deployer_token.contains(&put.token_id), "the token's id, not another");
    let delete = find(&entries, "ci-deployer", "DELETE", path).expect("the delete");
    assert!((200..300).contains(&delete.status), "{delete:?}");
    assert!(delete.seq > put.seq, "in order");
    // A call that failed is there with its answer.
    let ghost = find(&entries, "ci-deployer", "DELETE", "/v1/namespaces/team-a/functions/ghost");
    assert_eq!(ghost.map(|e| e.status), Some(404), "{entries:#?}");
    // The admin's own changes, the token it made included.
    assert!(
        entries.iter().any(|e| e.method == "PUT" && e.path == "/v1/namespaces/team-a"),
        "{entries:#?}"
    );
    assert!(entries.iter().any(|e| e.method == "POST" && e.path == "/v1/tokens"), "{entries:#?}");
    // Reads are not mutations; secrets are never logged.
    assert!(entries.iter().all(|e| e.method != "GET"), "{entries:#?}");
    let json = serde_json::to_string(&entries).unwrap();
    for token in [&deployer_token, &viewer_token] {
        assert!(!json.contains(token.rsplit('_').next().unwrap()), "a secret in the audit log");
    }
    // `since` keeps the later ones only.
    let later = admin.audit(Some(delete.time)).await.expect("since");
    assert!(!later.is_empty() && later.iter().all(|e| e.time >= delete.time), "{later:#?}");

    // Admins only.
    for (who, client, status) in [
        ("viewer", &viewer, 403),
        ("deployer", &deployer, 403),
        ("nobody", &flint.client_as(None), 401),
    ] {
        let err = client.audit(None).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{who}: {err}");
    }
    let response = http::get(&format!("{}/v1/audit", flint.api)).await;
    assert_eq!(response.status, 401);

    // `flint audit` prints it, and it survives a restart.
    let (out, err) = output_text(&flint.cli(&["audit"]));
    assert!(out.contains("ci-deployer") && out.contains(path), "{out}{err}");
    assert!(tokio::task::block_in_place(|| flint.stop()), "flint stops on SIGTERM");
    let restarted = Flint::start_in(flint.data());
    let kept = restarted.client().audit(None).await.expect("audit after restart");
    assert!(find(&kept, "ci-deployer", "PUT", path).is_some(), "{kept:#?}");
}
