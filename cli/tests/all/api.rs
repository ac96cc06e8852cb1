//! The verbs that talk to the API, against the fake controller.

use flint_api::{Digest, Stream, TriggerSpec};
use sha2::{Digest as _, Sha256};

use crate::fake::FakeApi;
use crate::{build_command, component, fails, ok, stdout, write};

fn digest(wasm: &[u8]) -> Digest {
    Digest::from_sha256(&Sha256::digest(wasm).into())
}

const MANIFEST: &str = r#"
[[function]]
name = "hello"
source = "hello.wasm"
build = '''BUILD_HELLO'''
env = { GREETING = "hi" }
limits = { memory_mb = 64, timeout_ms = 5000 }

[[function.http]]
route = "/hello"

[[function.http]]
route = "/hi"
host = "example.com"

[[function]]
name = "bye"
source = "bye.wasm"
"#;

#[test]
fn deploy_a_manifest_then_redeploy_it() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "flint.toml",
        MANIFEST.replace("BUILD_HELLO", &build_command("v1", "hello.wasm")),
    );
    write(tmp.path(), "bye.wasm", component("bye"));

    let out = api.flint_in(tmp.path(), &["deploy"]);
    let said = ok(&out);
    let hello = digest(&component("v1"));
    assert!(said.contains(&format!("deployed hello  {} (uploaded 10 B)", hello.short())), "{said}");
    assert!(said.contains("routes: /hello, example.com/hi"), "{said}");
    assert!(said.contains("deployed bye") && said.contains("routes: -"), "{said}");
    // No invoker yet: the hint says so.
    assert!(
        said.contains("flint invoke hello") && said.contains("no invoker is running yet"),
        "{said}"
    );
    {
        let state = api.state();
        let function = &state.functions[&("default".into(), "hello".into())];
        assert_eq!(function.version.as_ref(), Some(&hello));
        assert_eq!((function.limits.memory_mb, function.limits.timeout_ms), (64, 5000));
        assert_eq!(function.env["GREETING"], "hi");
        let triggers: Vec<&str> = state.triggers.values().map(|t| t.name.as_str()).collect();
        assert_eq!(triggers, ["hello-http-1", "hello-http-2"]);
    }
    api.take_requests();

    // Same code, one route less: no upload; `/hello` moves from `hello-http-1`
    // to `hello-http`, so the old trigger goes first; `hello-http-2` goes last.
    api.add_invoker("127.0.0.1:8080");
    let manifest = MANIFEST.replace("BUILD_HELLO", &build_command("v1", "hello.wasm"));
    let manifest =
        manifest.replace("[[function.http]]\nroute = \"/hi\"\nhost = \"example.com\"\n", "");
    write(tmp.path(), "flint.toml", &manifest);
    let out = api.flint_in(tmp.path(), &["deploy"]);
    let said = ok(&out);
    assert!(said.contains(&format!("deployed hello  {} (unchanged)", hello.short())), "{said}");
    assert!(said.contains("curl http://127.0.0.1:8080/hello"), "{said}");
    assert!(said.contains("flint invoke bye"), "{said}");
    let requests = api.take_requests();
    assert!(!requests.iter().any(|r| r.ends_with("/versions")), "{requests:?}");
    let triggers: Vec<&str> =
        requests.iter().map(String::as_str).filter(|r| r.contains("/triggers/")).collect();
    assert_eq!(
        triggers,
        [
            "DELETE /v1/namespaces/default/triggers/hello-http-1",
            "PUT /v1/namespaces/default/triggers/hello-http",
            "DELETE /v1/namespaces/default/triggers/hello-http-2",
        ]
    );

    // Nothing changed: nothing but the functions' settings is sent.
    let out = api.flint_in(tmp.path(), &["deploy", "--no-build"]);
    ok(&out);
    let requests = api.take_requests();
    let changes: Vec<&String> = requests
        .iter()
        .filter(|r| {
            !r.starts_with("GET ") && !r.starts_with("PUT /v1/namespaces/default/functions/")
        })
        .collect();
    assert!(changes.is_empty(), "{changes:?}");

    // New code is uploaded.
    write(tmp.path(), "flint.toml", manifest.replace("\\000v1'", "\\000v2'"));
    let out = api.flint_in(tmp.path(), &["deploy"]);
    let said = ok(&out);
    assert!(
        said.contains(&format!(
            "deployed hello  {} (uploaded 10 B)",
            digest(&component("v2")).short()
        )),
        "{said}"
    );
}

#[test]
fn namespaces_come_from_the_flag_then_the_manifest() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "app/flint.toml",
        "namespace = \"team\"\n[[function]]\nname = \"f\"\nsource = \"f.wasm\"\n",
    );
    write(tmp.path(), "app/f.wasm", component("f"));
    ok(&api.flint_in(tmp.path(), &["deploy", "-f", "app"]));
    assert!(api.state().functions.contains_key(&("team".into(), "f".into())));
    ok(&api.flint_in(tmp.path(), &["deploy", "-f", "app/flint.toml", "-n", "other"]));
    assert!(api.state().functions.contains_key(&("other".into(), "f".into())));
    let said = ok(&api.flint_in(tmp.path(), &["ls", "-n", "team"]));
    assert!(said.starts_with("NAME  VERSION"), "{said}");
}

#[test]
fn deploy_one_file_with_flags() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    let args = [
        "deploy",
        "f",
        "--wasm",
        "f.wasm",
        "--route",
        "/f",
        "--method",
        "POST",
        "--timeout",
        "5s",
        "--idle-timeout",
        "2m",
        "--memory-mb",
        "32",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
    ];
    let said = ok(&api.flint_in(tmp.path(), &args));
    assert!(said.contains("deployed f") && said.contains("routes: /f"), "{said}");
    {
        let state = api.state();
        let function = &state.functions[&("default".into(), "f".into())];
        assert_eq!(
            (
                function.limits.timeout_ms,
                function.limits.idle_timeout_ms,
                function.limits.memory_mb
            ),
            (5000, 120_000, 32)
        );
        assert_eq!(function.env["B"], "x=y");
        let trigger = &state.triggers[&("default".into(), "f-http".into())];
        let TriggerSpec::Http(http) = &trigger.spec else { panic!() };
        assert_eq!(http.methods, ["POST"]);
    }
    // Without --route, the triggers stay.
    api.take_requests();
    ok(&api.flint_in(tmp.path(), &["deploy", "f", "--wasm", "f.wasm"]));
    assert!(api.state().triggers.contains_key(&("default".into(), "f-http".into())));
    assert!(!api.take_requests().iter().any(|r| r.contains("/triggers/")));

    // A core module is refused before anything is sent.
    write(tmp.path(), "core.wasm", b"\0asm\x01\0\0\0");
    let err = fails(&api.flint_in(tmp.path(), &["deploy", "g", "--wasm", "core.wasm"]));
    assert!(err.contains("core.wasm is a core wasm module, not a component"), "{err}");
    assert!(api.take_requests().is_empty());
}

#[test]
fn ls_describe_rm() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    ok(&api.flint_in(
        tmp.path(),
        &[
            "--token",
            "s3cret",
            "deploy",
            "f",
            "--wasm",
            "f.wasm",
            "--route",
            "/f",
            "--env",
            "KEY=hidden",
        ],
    ));
    assert_eq!(api.state().authorization.as_deref(), Some("Bearer s3cret"));

    let table = ok(&api.flint(&["ls"]));
    let short = digest(&component("f"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "NAME  VERSION       ROUTES  MEMORY   TIMEOUT  UPDATED");
    assert!(
        lines[1].starts_with(&format!("f     {}  /f      128 MiB  30s      ", short.short())),
        "{table}"
    );
    ok(&api.flint(&["list"]));

    let json: serde_json::Value =
        serde_json::from_str(&ok(&api.flint(&["ls", "-o", "json"]))).unwrap();
    assert_eq!(json[0]["name"], "f");
    assert_eq!(json[0]["namespace"], "default");
    assert_eq!(json[0]["version"], short.as_str());
    assert_eq!(json[0]["routes"], serde_json::json!(["/f"]));
    assert_eq!(json[0]["limits"]["timeout_ms"], 30_000);
    assert!(json[0]["updated_at"].is_string());
    let yaml: serde_json::Value =
        serde_yaml::from_str(&ok(&api.flint(&["ls", "-o", "yaml"]))).unwrap();
    assert_eq!(yaml, json);

    let text = ok(&api.flint(&["describe", "f"]));
    assert!(text.contains("Env:         KEY (values hidden"), "{text}");
    assert!(!text.contains("hidden\n") && text.contains("f-http"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&api.flint(&["describe", "f", "-o", "json"]))).unwrap();
    assert_eq!(json["versions"][0]["digest"], short.as_str());
    assert_eq!(json["env"], serde_json::json!(["KEY"]));

    let err = fails(&api.flint(&["describe", "nope"]));
    assert_eq!(
        err,
        "error: function `nope` not found in namespace `default` (HTTP 404 Not Found)\n"
    );

    assert_eq!(ok(&api.flint(&["rm", "f"])), "deleted f\n");
    assert!(fails(&api.flint(&["delete", "f"])).contains("function `f` not found"));
    let out = api.flint(&["ls"]);
    assert_eq!(ok(&out), "");
    assert_eq!(crate::stderr(&out), "no functions in namespace `default`\n");
    assert_eq!(ok(&api.flint(&["ls", "-o", "json"])), "[]\n");
}

#[test]
fn invoke_prints_the_answer_as_it_is() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    ok(&api.flint_in(tmp.path(), &["deploy", "f", "--wasm", "f.wasm"]));

    assert_eq!(ok(&api.flint(&["invoke", "f"])), "GET / x-test= body=");
    let said = ok(&api.flint(&["invoke", "f", "-d", "hi", "-H", "X-Test: 1", "--path", "/a?b=c"]));
    assert_eq!(said, "POST /a?b=c x-test=1 body=hi");
    assert_eq!(ok(&api.flint(&["invoke", "f", "-X", "put"])), "PUT / x-test= body=");
    let said = ok(&api.flint(&["invoke", "f", "-i"]));
    assert!(
        said.starts_with("HTTP/1.1 200 OK\n")
            && said.contains("x-fake: yes\n")
            && said.ends_with("\n\nGET / x-test= body="),
        "{said}"
    );

    let out = api.flint(&["invoke", "f", "--path", "/status/500"]);
    assert_eq!(stdout(&out), "GET /status/500 x-test= body=");
    assert_eq!(fails(&out), "error: f answered 500 Internal Server Error\n");
    // The function's own 404 is its answer; an unknown function is the API's.
    let out = api.flint(&["invoke", "f", "--path", "/status/404"]);
    assert_eq!(fails(&out), "error: f answered 404 Not Found\n");
    let out = api.flint(&["invoke", "nope"]);
    assert_eq!(
        fails(&out),
        "error: function `nope` not found in namespace `default` (HTTP 404 Not Found)\n"
    );
    assert_eq!(stdout(&out), "");

    // A body on stdin.
    let mut child = crate::fake::flint(std::path::Path::new("."))
        .args(["--url", &api.url, "invoke", "f"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"from stdin").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(ok(&out), "POST / x-test= body=from stdin");
}

#[test]
fn logs() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    ok(&api.flint_in(tmp.path(), &["deploy", "f", "--wasm", "f.wasm"]));
    api.add_log(Stream::Stdout, "one");
    api.add_log(Stream::Stderr, "two");
    assert_eq!(ok(&api.flint(&["logs", "f"])), "one\ntwo\n");
    assert_eq!(
        ok(&api.flint(&["logs", "f", "--timestamps"])),
        "1970-01-01T00:00:00Z stdout one\n1970-01-01T00:00:00Z stderr two\n"
    );
    let json = ok(&api.flint(&["logs", "f", "-o", "json"]));
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!((first["seq"].as_u64(), first["stream"].as_str()), (Some(1), Some("stdout")));
    assert!(fails(&api.flint(&["logs", "nope"])).contains("function `nope` not found"));
}
