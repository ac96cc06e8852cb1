//! The CLI verbs against a real Flint, and the README's quickstart.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flint_tests::{Flint, flint_bin, guest, http, repo_root};
use serde_json::Value;

use crate::output_text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_logs_invoke_and_rm() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &["--timeout", "5s"]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;

    let (out, err) = output_text(&flint.cli(&["describe", "tb"]));
    assert!(out.contains("tb") && out.contains("/tb") && out.contains("5s"), "{out}{err}");
    let json: Value =
        serde_json::from_slice(&flint.cli(&["describe", "tb", "-o", "json"]).stdout).expect("JSON");
    assert_eq!(json["name"], "tb", "{json}");

    // A non-2xx answer is printed and makes the CLI fail.
    let output = flint.cli(&["invoke", "tb", "--path", "/status?code=503"]);
    let (out, err) = output_text(&output);
    assert!(!output.status.success());
    assert_eq!(out, "status 503");
    assert!(err.contains("503"), "{err}");

    // What a guest prints reaches `flint logs`.
    assert_eq!(http::get(&format!("{}/tb/log?lines=2", flint.http)).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (out, _) = output_text(&flint.cli(&["logs", "tb"]));
        if out.contains("log line 0\nlog line 1\nstderr line") {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (out, err) = output_text(&flint.cli(&["rm", "tb"]));
    assert!(out.contains("deleted tb"), "{out}{err}");
    http::wait_for(&format!("{}/tb/echo", flint.http), 404).await;
    let output = flint.cli(&["describe", "tb"]);
    assert!(!output.status.success());
    assert!(output_text(&output).1.contains("function `tb` does not exist"));
}

#[test]
fn an_unreachable_controller_is_one_clear_line() {
    let output = Command::new(flint_bin())
        .args(["ls", "--url", "http://127.0.0.1:1"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let (_, err) = output_text(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("cannot reach the Flint API at http://127.0.0.1:1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_build_deploy_a_scaffolded_function() {
    let flint = Flint::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let output = flint.cli_in(Some(dir.path()), &["new", "demo"]);
    assert!(output.status.success(), "{:?}", output_text(&output));
    let project = dir.path().join("demo");
    let output = flint.cli_in(Some(&project), &["deploy"]);
    let (out, err) = output_text(&output);
    assert!(output.status.success(), "{out}{err}");
    assert!(err.contains("building demo"), "progress is shown: {err}");
    let response = http::wait_for(&format!("{}/demo?name=you", flint.http), 200).await;
    assert_eq!(response.text(), "Hello from demo, you!\n");
}

/// The README's first quickstart command, with ports chosen by the system.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flint_up_deploys_the_bundled_examples() {
    guest("hello-http");
    let data = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(flint_bin())
        .args(["up", "--api-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--deploy"])
        .arg(repo_root().join("examples"))
        .arg("--data")
        .arg(data.path())
        // `flint up` saves its admin token in the CLI's configuration: keep
        // it in the test's folder, not the home of whoever runs the suite.
        .env("FLINT_CONFIG", data.path().join("cli-config.toml"))
        .env_remove("FLINT_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flint up starts");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8");
            let done = line.trim_start().starts_with("curl ");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(Duration::from_secs(120), lines).await;
    let lines = match lines {
        Ok(lines) => lines.expect("task"),
        Err(_) => {
            let _ = child.kill();
            panic!("flint up --deploy examples did not print a curl hint within 120 s");
        }
    };
    let text = lines.join("\n");
    let curl = lines
        .last()
        .expect("a curl line")
        .trim()
        .strip_prefix("curl ")
        .expect("curl hint")
        .to_owned();
    let response = http::try_send(http::Method::GET, &curl, &[], Default::default()).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("http listening on http://127.0.0.1:") && text.contains("deployed hello"),
        "{text}"
    );
    let response = response.expect("the hint's URL answers");
    assert_eq!((response.status, response.text().as_str()), (200, "Hello, world!\n"), "{text}");
}

#[test]
fn the_separate_binaries_refuse_bad_configuration_with_exit_code_64() {
    let bin = |name: &str| flint_bin().with_file_name(name);
    let data = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            bin("flint-controller"),
            vec!["--default-memory-mb", "0", "--listen", "127.0.0.1:0"],
            "invalid default limits",
        ),
        (
            bin("flint-invoker"),
            vec!["--controller", "ftp://example", "--listen", "127.0.0.1:0"],
            "use http:// or https://",
        ),
        (
            bin("flint-invoker"),
            vec!["--max-instances", "0", "--listen", "127.0.0.1:0"],
            "--max-instances must be at least 1",
        ),
        (
            bin("flint-controller"),
            vec!["--cluster-token", "too-short", "--listen", "127.0.0.1:0"],
            "at least 32",
        ),
    ];
    // A cluster credential, so the invoker gets as far as the flag under test.
    let credential = ("FLINT_CLUSTER_TOKEN", "c".repeat(48));
    for (bin, args, expected) in cases {
        let mut child = Command::new(&bin)
            .args(&args)
            .env_remove("FLINT_CLUSTER_TOKEN_FILE")
            .env(credential.0, &credential.1)
            .current_dir(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        // A binary that accepts the configuration would serve forever.
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} {args:?} did not exit: it accepted the configuration", bin.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("output");
        let (_, err) = output_text(&output);
        assert_eq!(output.status.code(), Some(64), "{} {args:?}: {err}", bin.display());
        assert!(
            err.starts_with("error: ") && err.contains(expected) && err.lines().count() == 1,
            "{err}"
        );
    }
}

/// After `flint up`, `flint` verbs work with no token handled by the user:
/// `flint up` wrote the admin token (0600) and saved it in the CLI's config
/// (0600) for its API URL. Without that config the CLI says how to log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flint_verbs_work_after_flint_up_without_handling_a_token() {
    use std::os::unix::fs::PermissionsExt as _;

    let flint = Flint::start();
    let token_file = flint.secrets().join(flint_tests::auth::ADMIN_TOKEN_FILE);
    let token = flint.admin_token();
    assert!(flint_api::auth::parse_token(&token).is_some(), "a flint_ token: {token}");
    let config = std::fs::read_to_string(flint.cli_config()).expect("flint up saved the config");
    assert!(config.contains(&format!("[servers.\"{}\"]", flint.api)), "{config}");
    assert!(config.contains(&token), "{config}");
    for file in [&token_file, &flint.cli_config()] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let stdout = std::fs::read_to_string(flint.data().join("stdout.log")).unwrap();
    assert!(
        stdout.contains(&token_file.display().to_string()),
        "flint up says where the admin token is:\n{stdout}"
    );
    assert!(!stdout.contains(&token), "flint up does not print the token itself");

    // The quickstart's verbs, with no FLINT_TOKEN and no --token.
    let output = flint.cli(&["ls"]);
    assert!(output.status.success(), "{:?}", output_text(&output));
    flint.deploy("hello", &guest("hello-http"), "/hello", &[]);
    http::wait_for(&format!("{}/hello", flint.http), 200).await;
    let (out, err) = output_text(&flint.cli(&["whoami"]));
    assert!(out.contains("admin"), "{out}{err}");

    // Tokens for others: printed once, listed without the secret, revoked.
    let output = flint.cli(&["token", "create", "ci", "--role", "deployer", "-n", "team-a"]);
    let (created, err) = output_text(&output);
    assert!(output.status.success(), "{err}");
    let ci = created.trim().to_owned();
    assert!(flint_api::auth::parse_token(&ci).is_some(), "stdout is the token alone: {created}");
    let (listed, _) = output_text(&flint.cli(&["token", "ls"]));
    assert!(listed.contains("ci") && !listed.contains(&ci), "{listed}");
    let env = [("FLINT_TOKEN", ci.as_str())];
    let output = flint.cli_with(None, &env, &["ls", "-n", "team-a"]);
    assert!(output.status.success(), "{:?}", output_text(&output));
    let output = flint.cli_with(None, &env, &["ls"]);
    assert!(!output.status.success(), "team-a's deployer lists `default`");
    assert!(flint.cli(&["token", "revoke", "ci"]).status.success());
    let output = flint.cli_with(None, &env, &["ls", "-n", "team-a"]);
    let (_, err) = output_text(&output);
    assert!(!output.status.success() && err.contains("401"), "{err}");
    assert!(!err.contains(&ci), "the revoked token is echoed: {err}");

    // Another machine (an empty config): a clear line, then `flint login`.
    let elsewhere = tempfile::tempdir().unwrap();
    let empty = elsewhere.path().join("config.toml");
    let empty = empty.to_str().unwrap();
    let output = flint.cli_with(None, &[("FLINT_CONFIG", empty)], &["ls"]);
    let (_, err) = output_text(&output);
    assert!(!output.status.success(), "{err}");
    assert!(err.contains("flint login") && err.lines().count() <= 2, "{err}");
    let output = flint.cli_with(
        None,
        &[("FLINT_CONFIG", empty)],
        &["login", "--url", &flint.api, "--token", &token],
    );
    assert!(output.status.success(), "{:?}", output_text(&output));
    let output = flint.cli_with(None, &[("FLINT_CONFIG", empty)], &["ls"]);
    let (out, err) = output_text(&output);
    assert!(output.status.success() && out.contains("hello"), "{out}{err}");
}
