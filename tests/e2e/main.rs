//! End-to-end tests: each starts the real `flint up` on `127.0.0.1` with
//! port 0, deploys components built from source in this run, and drives it
//! over HTTP and the CLI. See `flint_tests` for the harness.

mod audit;
mod auth;
mod budgets;
mod cli;
mod cluster;
mod cluster_credential;
mod dashboard;
mod http_functions;
mod invoker_identity;
mod isolation;
mod kafka;
mod limits;
mod openapi;
mod prometheus;
mod restart;
mod route_auth;
mod schedules;
mod tls;
mod uploads;
mod usage;
mod usage_controller_crash;
mod usage_crash;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::{Client, FunctionSpec, HttpTrigger, Name, TriggerRequest, TriggerSpec};
use flint_tests::Flint;

/// A name from a literal.
pub fn name(s: &str) -> Name {
    s.parse().unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

/// Creates `function` in namespace `ns` from `wasm` through the API, with
/// an HTTP trigger `<function>-http` if `route` is given; panics with the
/// API's answer on a refusal.
pub async fn deploy_api(
    client: &Client,
    ns: &str,
    function: &str,
    wasm: &Path,
    spec: &FunctionSpec,
    route: Option<HttpTrigger>,
) {
    let (ns, function_name) = (name(ns), name(function));
    client
        .put_function(&ns, &function_name, spec)
        .await
        .unwrap_or_else(|e| panic!("put {ns}/{function}: {e}"));
    let wasm = Bytes::from(std::fs::read(wasm).expect("wasm"));
    client
        .upload_version(&ns, &function_name, wasm)
        .await
        .unwrap_or_else(|e| panic!("upload {ns}/{function}: {e}"));
    if let Some(route) = route {
        let request =
            TriggerRequest { function: function_name.clone(), spec: TriggerSpec::Http(route) };
        client
            .put_trigger(&ns, &name(&format!("{function}-http")), &request)
            .await
            .unwrap_or_else(|e| panic!("trigger of {ns}/{function}: {e}"));
    }
}

/// Polls `check` every 50 ms until it returns `Some`; panics with `what`
/// after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the invoker's metric until it has `value`; panics after 10 s.
pub async fn wait_for_metric(flint: &Flint, name: &str, labels: &[(&str, &str)], value: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = flint.metric(name, labels).await;
        if current == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} is {current:?}, expected {value} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The text of a CLI run's stdout and stderr.
pub fn output_text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
