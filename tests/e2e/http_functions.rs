//! Deploy with the CLI, call over HTTP, scale from and to zero, routing.

use flint_tests::{Flint, guest, http};
use serde_json::Value;

use crate::{output_text, wait_for_metric};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_with_the_cli_and_call_over_http() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);

    // The first call after the deploy creates the instance from zero.
    let response = http::wait_for(&format!("{}/hello", flint.http), 200).await;
    assert_eq!(response.text(), "Hello, world!\n");
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    let response = http::get(&format!("{}/hello/sub/path?name=Flint", flint.http)).await;
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, Flint!\n"));
    let response = http::post(&format!("{}/hello", flint.http), "body").await;
    assert_eq!(response.text(), "Hello, body!\n");

    // Paths outside the route, or prefixes that do not end on a `/`, are not routed.
    let response = http::get(&format!("{}/helloworld", flint.http)).await;
    assert_eq!(response.status, 404);
    assert!(
        response.text().contains("no function is routed at /helloworld"),
        "{}",
        response.text()
    );

    // `flint invoke` goes through the controller to the invoker.
    let (out, err) = output_text(&flint.cli(&["invoke", "hello", "-d", "cli"]));
    assert_eq!(out, "Hello, cli!\n", "{err}");

    // `flint ls -o json` lists it with its version and routes.
    let output = flint.cli(&["ls", "-o", "json"]);
    let list: Value = serde_json::from_slice(&output.stdout).expect("ls -o json prints JSON");
    let hello = &list.as_array().expect("an array")[0];
    assert_eq!(hello["name"], "hello");
    assert!(hello["version"].as_str().is_some_and(|v| v.starts_with("sha256:")), "{hello}");
    assert_eq!(hello["routes"], serde_json::json!(["/hello"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_call_after_scale_to_zero_loads_again() {
    let flint = Flint::start();
    flint.deploy("hello", &guest("hello-http"), "/hello", &["--idle-timeout", "300ms"]);
    let url = format!("{}/hello", flint.http);
    let labels = [("namespace", "default"), ("function", "hello")];

    http::wait_for(&url, 200).await;
    wait_for_metric(&flint, "flint_invoker_function_loaded", &labels, 1.0).await;
    // Idle past its timeout, the function is unloaded...
    wait_for_metric(&flint, "flint_invoker_function_loaded", &labels, 0.0).await;
    // ...and the next call loads it again.
    let response = http::get(&url).await;
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, world!\n"));
    let cold_starts =
        flint.metric("flint_invoker_cold_start_duration_seconds_count", &labels).await;
    assert_eq!(cold_starts, Some(2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_host_prefix_and_method() {
    let flint = Flint::start();
    let wasm = guest("testbed");
    flint.deploy("any", &wasm, "/api", &[]);
    flint.deploy("hosted", &wasm, "/api/users", &["--host", "example.com", "--method", "GET"]);
    let url = format!("{}/api/users/echo", flint.http);
    http::wait_for(&url, 200).await;

    let echo = |response: http::Response| -> Value {
        serde_json::from_slice(&response.body).expect("echo JSON")
    };
    // Without the host, the general route answers; the guest sees the full path.
    let body = echo(http::get(&url).await);
    assert_eq!(body["path"], "/api/users/echo");
    // With the host, the more specific route; methods are checked.
    let host = [("host", "example.com")];
    let response = http::send(http::Method::GET, &url, &host, Default::default()).await;
    assert_eq!(response.status, 200);
    let response = http::send(http::Method::POST, &url, &host, Default::default()).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET"));
    // Both are the testbed: tell them apart by the function's logs.
    let (out, _) = output_text(&flint.cli(&["ls"]));
    assert!(out.contains("hosted") && out.contains("/api/users"), "{out}");
    // Security review row 23: a path a normalising proxy would route
    // elsewhere (`/other/../api/users`) is refused, not guessed at.
    for dotted in ["/x/../api/users/echo", "/api/./users/echo", "/api/%2e%2e/api/users/echo"] {
        let response = http::get(&format!("{}{dotted}", flint.http)).await;
        assert_eq!(response.status, 400, "{dotted}: {}", response.text());
        assert!(response.text().contains("segments"), "{}", response.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_get_no_ambient_authority() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &["--env", "GREETING=hi"]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;

    // No preopened directories, no sockets, no outgoing HTTP.
    let fs = http::get(&format!("{}/tb/fs", flint.http)).await;
    assert_eq!(fs.status, 200, "{}", fs.text());
    assert!(fs.text().starts_with("denied:"), "{}", fs.text());
    let net = http::get(&format!("{}/tb/net", flint.http)).await;
    assert_eq!(net.status, 200, "{}", net.text());
    assert!(net.text().contains("HttpRequestDenied"), "{}", net.text());
    // Only the function's own environment, never the host's.
    let env = http::get(&format!("{}/tb/env?name=GREETING", flint.http)).await;
    assert_eq!(env.text(), "hi");
    for host_variable in ["PATH", "HOME"] {
        let env = http::get(&format!("{}/tb/env?name={host_variable}", flint.http)).await;
        assert_eq!((env.status, env.text().as_str()), (404, "unset"), "{host_variable}");
    }
}
