//! `/metrics` of the controller and the invoker pass `promtool check
//! metrics`, and every query of the Grafana dashboard is valid PromQL
//! (`promtool check rules`) over metrics that exist.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use flint_api::UsageQuery;
use flint_tests::{Flint, guest, http, repo_root};

/// The Grafana dashboard the Helm chart ships.
const DASHBOARD: &str = "charts/flint/dashboards/flint.json";

fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!("promtool is missing: install Debian's prometheus (apt-get install prometheus), or run tests/run as root")
    })
}

fn check_metrics(name: &str, text: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed on the {name}'s /metrics:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_and_the_dashboard_queries_parse() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    flint.deploy("tb", &guest("testbed"), "/tb", &["--concurrency", "1", "--queue", "1"]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    // Some of everything: ok, an error, a call that queues, a rejection, an invoke.
    http::get(&format!("{}/tb/panic", flint.http)).await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let url = format!("{}/tb/sleep?ms=500", flint.http);
        slow.push(tokio::spawn(async move { http::get(&url).await }));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(http::get(&format!("{}/tb/echo", flint.http)).await.status, 429);
    for call in slow {
        assert_eq!(call.await.unwrap().status, 200);
    }
    assert!(flint.cli(&["invoke", "hello"]).status.success());
    crate::usage::wait_for_usage(&flint, &UsageQuery::default(), |r| {
        r.totals.invocations == 6 && r.totals.counts.rejected == 1
    })
    .await;

    // The controller's /metrics shares the API port, so it takes a token.
    let controller = flint.controller_metrics().await;
    let invoker = flint.metrics().await;
    check_metrics("controller", &controller);
    check_metrics("invoker", &invoker);
    // What the issue asks for is there.
    for name in [
        "flint_invoker_invocation_duration_seconds_bucket",
        "flint_invoker_cold_start_duration_seconds_count",
        "flint_invoker_instances_running",
        "flint_invoker_queue_depth",
        "flint_invoker_rejected_total",
        "flint_invoker_billable_memory_byte_seconds_total",
        "flint_controller_usage_batches_total",
    ] {
        assert!(invoker.contains(name), "{name} is missing");
    }
    assert!(invoker.contains("le=\"0.00005\""), "sub-millisecond buckets");
    assert!(invoker.contains("trigger=\"invoke\""));

    // Every dashboard query as a recording rule, for promtool to parse.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join(DASHBOARD)).unwrap())
            .expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 15, "{} queries", exprs.len());
    let mut rules = String::from("groups:\n  - name: grafana-dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: flint:dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let output = Command::new(promtool()).args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "promtool check rules failed:\n{}{}\n{rules}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // And they only name metrics Flint exports.
    let exported: BTreeSet<&str> = controller
        .lines()
        .chain(invoker.lines())
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for expr in &exprs {
        for name in metric_names(expr) {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| exported.contains(b)))
                .unwrap_or(&name);
            assert!(
                exported.contains(base),
                "the dashboard queries {name}, which Flint does not export"
            );
        }
    }
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("flint_") {
        let name: String =
            rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}
