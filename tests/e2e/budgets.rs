//! Quotas and spend caps per namespace: a monthly budget enforced with 402
//! (or only reported, with `budget_action = alert`), function count and
//! configured memory checked at deploy, a request rate answered with 429.

use std::time::{Duration, Instant};

use flint_api::{
    BudgetAction, FunctionSpec, HttpTrigger, LimitsSpec, Quotas, Rate, Role, UsageQuery,
};
use flint_tests::{Flint, find_series, guest, http};

use crate::{deploy_api, eventually, name, output_text};

/// Calls `url` every 50 ms until it answers `status`; returns how many
/// answered 200 before, and that answer. Panics after `max_calls` calls or
/// `limit`.
async fn call_until(
    url: &str,
    status: u16,
    max_calls: u32,
    limit: Duration,
) -> (u32, http::Response) {
    let started = Instant::now();
    for ok in 0..max_calls {
        let response = http::get(url).await;
        if response.status == status {
            return (ok, response);
        }
        assert_eq!(response.status, 200, "{url}: {}", response.text());
        assert!(started.elapsed() < limit, "{url} did not answer {status} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not answer {status} within {max_calls} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_blocks_its_namespace_only_until_it_is_raised() {
    // Every call costs exactly 1 (no compute price, no free tier).
    let flint = Flint::start_with(&[
        "--price-per-million-requests",
        "1000000",
        "--price-gb-second",
        "0",
        "--free-requests",
        "0",
    ]);
    let admin = flint.client();
    let hello = guest("hello-http");
    let spec = FunctionSpec::default();
    for (ns, function) in [("team-a", "spender"), ("team-b", "neighbour"), ("team-c", "alerted")] {
        let route = HttpTrigger::new(format!("/{function}"));
        deploy_api(&admin, ns, function, &hello, &spec, Some(route)).await;
    }
    let spender = format!("{}/spender", flint.http);
    let neighbour = format!("{}/neighbour", flint.http);
    let alerted = format!("{}/alerted", flint.http);
    for url in [&spender, &neighbour, &alerted] {
        http::wait_for(url, 200).await;
    }
    let budget = 5.0;
    let block = Quotas { monthly_budget: Some(budget), ..Quotas::default() };
    let namespace = admin.put_namespace(&name("team-a"), &block).await.expect("set the budget");
    assert_eq!(namespace.quotas.monthly_budget, Some(budget));
    let alert = Quotas {
        monthly_budget: Some(2.0),
        budget_action: BudgetAction::Alert,
        ..Quotas::default()
    };
    admin.put_namespace(&name("team-c"), &alert).await.expect("set the alert budget");

    // Team-a calls until it is refused: not before it has spent the budget.
    let (answered, refusal) = call_until(&spender, 402, 400, Duration::from_secs(60)).await;
    let text = refusal.text();
    assert!(text.contains("budget"), "the 402 names the budget: {text}");
    let query = UsageQuery { namespace: Some(name("team-a")), ..UsageQuery::default() };
    let cost = admin.usage(&query).await.unwrap().totals.cost;
    eprintln!("team-a: {} calls answered before the 402, ledger cost {cost}", answered + 1);
    assert!(cost >= budget, "refused at a cost of {cost}, below the budget of {budget}");
    assert!(answered + 1 >= budget as u32, "refused after {answered} calls");
    let state = admin.get_namespace(&name("team-a")).await.unwrap();
    assert!(state.blocked && state.month_cost >= budget, "{state:?}");
    // The dashboard shows the budget used, to those who may see team-a only.
    let page = http::get_as(&format!("{}/ui", flint.api), &flint.admin_token()).await;
    let text = page.text();
    assert!(text.contains("id=\"budgets\"") && text.contains("team-a"), "{text}");
    let viewer_b = flint.token("viewer-b", Role::Viewer, &["team-b"]).await;
    let page = http::get_as(&format!("{}/ui", flint.api), &viewer_b).await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("team-a"), "team-a's budget shown to team-b: {}", page.text());
    // It stays refused, and the refusals are not billed.
    for _ in 0..5 {
        assert_eq!(http::get(&spender).await.status, 402);
    }
    // The other namespaces keep running; team-c, past its budget with the
    // alert action, too, and the controller says so in a metric.
    for _ in 0..5 {
        assert_eq!(http::get(&neighbour).await.status, 200);
        assert_eq!(http::get(&alerted).await.status, 200);
    }
    let labels = [("namespace", "team-c")];
    eventually("team-c's budget alert", Duration::from_secs(20), || async {
        http::get(&alerted).await;
        let metrics = flint.controller_metrics().await;
        (find_series(&metrics, "flint_controller_namespace_budget_exceeded", &labels) == Some(1.0))
            .then_some(())
    })
    .await;
    assert_eq!(http::get(&alerted).await.status, 200, "alert only alerts");
    let cost_blocked = admin.usage(&query).await.unwrap().totals.cost;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(admin.usage(&query).await.unwrap().totals.cost, cost_blocked, "402s are not billed");

    // A higher budget restores service.
    let raised = Quotas { monthly_budget: Some(1000.0), ..Quotas::default() };
    admin.put_namespace(&name("team-a"), &raised).await.expect("raise the budget");
    http::wait_for(&spender, 200).await;
    assert!(!admin.get_namespace(&name("team-a")).await.unwrap().blocked);
    // So does removing it.
    admin.put_namespace(&name("team-a"), &block).await.unwrap();
    call_until(&spender, 402, 100, Duration::from_secs(20)).await;
    admin.put_namespace(&name("team-a"), &Quotas::default()).await.unwrap();
    http::wait_for(&spender, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_count_and_memory_quotas_are_checked_at_deploy() {
    let flint = Flint::start();
    let admin = flint.client();
    let quotas = Quotas { max_functions: Some(2), max_memory_mb: Some(200), ..Quotas::default() };
    admin.put_namespace(&name("team-q"), &quotas).await.expect("quotas");
    let deployer = flint.token("deployer-q", Role::Deployer, &["team-q"]).await;
    let q = flint.client_as(Some(&deployer));
    let ns = name("team-q");
    let memory = |mb| FunctionSpec {
        limits: LimitsSpec { memory_mb: Some(mb), ..LimitsSpec::default() },
        ..FunctionSpec::default()
    };
    q.put_function(&ns, &name("f1"), &memory(128)).await.expect("f1 fits");
    let feed = flint.cluster_client();
    let before = feed.watch(0, Duration::ZERO).await.unwrap();

    let err = q.put_function(&ns, &name("f2"), &memory(128)).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}");
    let message = err.to_string();
    assert!(
        (message.contains("max_memory_mb") || message.contains("max-memory-mb"))
            && message.contains("200"),
        "the refusal names the memory quota: {message}"
    );
    assert_eq!(feed.watch(0, Duration::ZERO).await.unwrap(), before, "nothing was stored");

    q.put_function(&ns, &name("f2"), &memory(64)).await.expect("f2 fits");
    let before = feed.watch(0, Duration::ZERO).await.unwrap();
    let err = q.put_function(&ns, &name("f3"), &memory(1)).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}");
    let message = err.to_string();
    assert!(
        (message.contains("max_functions") || message.contains("max-functions"))
            && message.contains('2'),
        "the refusal names the function quota: {message}"
    );
    // Growing an existing function past the memory quota is refused too.
    let err = q.put_function(&ns, &name("f1"), &memory(256)).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}");
    assert_eq!(feed.watch(0, Duration::ZERO).await.unwrap(), before, "nothing was stored");
    let names: Vec<String> =
        q.list_functions(&ns).await.unwrap().into_iter().map(|f| f.name.to_string()).collect();
    assert_eq!(names, ["f1", "f2"]);
    let state = admin.get_namespace(&ns).await.unwrap();
    assert_eq!((state.functions, state.memory_mb), (2, 192), "{state:?}");
    // Replacing a function within the quota still works.
    q.put_function(&ns, &name("f1"), &memory(128)).await.expect("same size");

    // The CLI shows the refusal as one line.
    let wasm = guest("hello-http");
    let token = [("FLINT_TOKEN", deployer.as_str())];
    let output = flint.cli_with(
        None,
        &token,
        &["deploy", "f3", "--wasm", wasm.to_str().unwrap(), "-n", "team-q"],
    );
    let (out, err) = output_text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(err.contains("max") && err.lines().count() == 1, "{err}");
    // Other namespaces have no such quota.
    admin.put_function(&name("team-free"), &name("f3"), &memory(1024)).await.expect("no quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_past_its_rate_gets_429_with_retry_after() {
    let flint = Flint::start();
    let admin = flint.client();
    let rate: Rate = "5/s".parse().unwrap();
    let quotas = Quotas { rate: Some(rate), ..Quotas::default() };
    admin.put_namespace(&name("team-r"), &quotas).await.expect("rate");
    let hello = guest("hello-http");
    let spec = FunctionSpec::default();
    deploy_api(&admin, "team-r", "limited", &hello, &spec, Some(HttpTrigger::new("/limited")))
        .await;
    deploy_api(&admin, "team-s", "free", &hello, &spec, Some(HttpTrigger::new("/free"))).await;
    let limited = format!("{}/limited", flint.http);
    let free = format!("{}/free", flint.http);
    http::wait_for(&limited, 200).await;
    http::wait_for(&free, 200).await;

    // Bursts of 40: past 5 a second, some are refused with Retry-After.
    let burst = |url: String| async move {
        let calls: Vec<_> = (0..40)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { http::get(&url).await })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.expect("task"));
        }
        answers
    };
    let refused = eventually("a 429 past the rate", Duration::from_secs(20), || async {
        let answers = burst(limited.clone()).await;
        for answer in &answers {
            assert!(matches!(answer.status, 200 | 429), "{} {}", answer.status, answer.text());
        }
        let refused: Vec<http::Response> =
            answers.into_iter().filter(|a| a.status == 429).collect();
        (!refused.is_empty()).then_some(refused)
    })
    .await;
    assert!(refused.len() >= 20, "{} of 40 refused at 5/s", refused.len());
    for answer in &refused {
        let retry = answer.header("retry-after").expect("Retry-After");
        assert!(retry.parse::<u32>().is_ok_and(|s| s >= 1), "Retry-After: {retry}");
    }
    // The neighbour has no rate: all 40 answer.
    let answers = burst(free.clone()).await;
    assert!(answers.iter().all(|a| a.status == 200), "the neighbour was limited");
    // After the wait it asks for, team-r is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(http::get(&limited).await.status, 200);
}
