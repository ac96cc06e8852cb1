//! Namespaces are the boundary: with a token of namespace team-b, nothing
//! of team-a shows in ls, describe, logs, usage (JSON and CSV), the
//! dashboard, the namespace list or the invoker list, through the API or
//! the CLI.

use std::time::Duration;

use flint_api::{FunctionSpec, GroupBy, HttpTrigger, Role, UsageQuery};
use flint_tests::{Flint, guest, http};

use crate::{deploy_api, eventually, name, output_text};

/// Strings that only team-a's things carry.
const SECRETS: [&str; 3] = ["team-a", "alpha-secret-fn", "ALPHA_ONLY"];

fn assert_no_leak(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows `{secret}` to team-b:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_one_namespace_is_visible_with_a_token_of_another() {
    let flint = Flint::start();
    let admin = flint.client();
    let hello = guest("hello-http");
    let testbed = guest("testbed");
    let env = FunctionSpec {
        env: [("SECRET".to_owned(), "ALPHA_ONLY".to_owned())].into(),
        ..FunctionSpec::default()
    };
    deploy_api(
        &admin,
        "team-a",
        "alpha-secret-fn",
        &testbed,
        &env,
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
    // Usage and logs in both namespaces.
    http::wait_for(&format!("{}/alpha/echo", flint.http), 200).await;
    http::wait_for(&format!("{}/bravo", flint.http), 200).await;
    assert_eq!(http::get(&format!("{}/alpha/log?lines=2", flint.http)).await.status, 200);
    let by_ns = UsageQuery { group_by: vec![GroupBy::Function], ..UsageQuery::default() };
    eventually("usage of both namespaces", Duration::from_secs(20), || async {
        let report = admin.usage(&by_ns).await.ok()?;
        (report.rows.len() == 2).then_some(())
    })
    .await;

    let viewer_b = flint.token("viewer-b", Role::Viewer, &["team-b"]).await;
    let deployer_b = flint.token("deployer-b", Role::Deployer, &["team-b"]).await;
    for token in [&viewer_b, &deployer_b] {
        let b = flint.client_as(Some(token));
        let (team_a, alpha) = (name("team-a"), name("alpha-secret-fn"));
        // ls, describe, logs, versions, triggers of team-a: refused.
        let refused = [
            b.list_functions(&team_a).await.err(),
            b.get_function(&team_a, &alpha).await.err(),
            b.logs(&team_a, &alpha, 0, Duration::ZERO).await.err(),
            b.list_versions(&team_a, &alpha).await.err(),
            b.list_triggers(&team_a).await.err(),
            b.get_namespace(&team_a).await.err(),
        ];
        for (i, err) in refused.into_iter().enumerate() {
            let err = err.unwrap_or_else(|| panic!("call {i} on team-a answered team-b"));
            assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "call {i}: {err}");
            assert!(!err.to_string().contains("ALPHA_ONLY"), "{err}");
        }
        // Its own namespace lists only its own.
        let own = b.list_functions(&name("team-b")).await.expect("own functions");
        assert_eq!(own.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["bravo-fn"]);

        // Usage, JSON: only team-b's rows and totals.
        let query = UsageQuery { group_by: vec![GroupBy::Function], ..UsageQuery::default() };
        let report = b.usage(&query).await.expect("usage");
        assert!(!report.rows.is_empty(), "team-b sees its own usage");
        assert_no_leak("usage JSON", &serde_json::to_string(&report).unwrap());
        let all = admin.usage(&query).await.unwrap();
        let b_only: u64 = all
            .rows
            .iter()
            .filter(|r| r.namespace.as_ref().is_some_and(|ns| ns.as_str() == "team-b"))
            .map(|r| r.figures.invocations)
            .sum();
        assert_eq!(report.totals.invocations, b_only, "totals are team-b's only");
        // Asking for team-a by name: refused, or nothing.
        let asked = UsageQuery { namespace: Some(team_a.clone()), ..query.clone() };
        match b.usage(&asked).await {
            Ok(report) => {
                assert_eq!(report.totals.invocations, 0);
                assert_no_leak("usage?namespace=team-a", &serde_json::to_string(&report).unwrap());
            }
            Err(err) => assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}"),
        }
        // Usage, CSV.
        let csv = b.usage_csv(&query).await.expect("csv");
        assert!(csv.contains("bravo-fn"), "{csv}");
        assert_no_leak("usage CSV", &csv);
        // The dashboard.
        let page = http::get_as(&format!("{}/ui", flint.api), token).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.text().contains("bravo-fn"), "the dashboard shows team-b's own");
        assert_no_leak("the dashboard", &page.text());
        let page =
            http::get_as(&format!("{}/ui/functions/team-a/alpha-secret-fn", flint.api), token)
                .await;
        assert_eq!(page.status, 403, "{}", page.text());
        // The refusal may repeat the namespace and name the caller asked for;
        // nothing of the function itself.
        assert!(!page.text().contains("ALPHA_ONLY"), "{}", page.text());
        // Namespaces and invokers.
        let namespaces = b.list_namespaces().await.expect("namespaces");
        assert_eq!(namespaces.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["team-b"]);
        let invokers = b.list_invokers().await.expect("invokers");
        assert_no_leak("the invoker list", &serde_json::to_string(&invokers).unwrap());
        // Audit: admins only.
        assert_eq!(b.audit(None).await.unwrap_err().status().map(|s| s.as_u16()), Some(403));
    }
    // The admin sees both.
    let namespaces = admin.list_namespaces().await.expect("namespaces");
    let names: Vec<&str> = namespaces.iter().map(|n| n.name.as_str()).collect();
    assert!(names.contains(&"team-a") && names.contains(&"team-b"), "{names:?}");

    // The CLI with team-b's token: `ls`, `describe`, `logs`, `usage`.
    let env = [("FLINT_TOKEN", deployer_b.as_str())];
    let output = flint.cli_with(None, &env, &["ls", "-n", "team-b"]);
    let (out, err) = output_text(&output);
    assert!(output.status.success() && out.contains("bravo-fn"), "{out}{err}");
    assert_no_leak("flint ls -n team-b", &out);
    for args in [
        &["ls", "-n", "team-a"][..],
        &["describe", "alpha-secret-fn", "-n", "team-a"],
        &["logs", "alpha-secret-fn", "-n", "team-a"],
    ] {
        let output = flint.cli_with(None, &env, args);
        let (out, err) = output_text(&output);
        assert!(!output.status.success(), "{args:?} answered: {out}");
        assert!(err.contains("403") && err.lines().count() == 1, "{args:?}: {err}");
        assert!(!out.contains("ALPHA_ONLY") && !err.contains("ALPHA_ONLY"), "{out}{err}");
    }
    let output =
        flint.cli_with(None, &env, &["usage", "-n", "team-b", "--by", "function", "-o", "csv"]);
    let (out, err) = output_text(&output);
    assert!(output.status.success(), "{err}");
    assert_no_leak("flint usage", &out);
}
