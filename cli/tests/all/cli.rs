//! Verbs and mistakes that need no controller.

use std::path::Path;

use crate::fake::flint;
use crate::{build_command, fails, ok, stderr, write};

#[test]
fn help_and_usage_errors() {
    let tmp = Path::new(".");
    let out = flint(tmp).arg("--help").output().unwrap();
    let help = ok(&out);
    let verbs = ["up", "new", "build", "deploy", "invoke", "ls", "describe", "rm", "logs", "login"];
    for verb in verbs.into_iter().chain(["whoami", "token", "namespace", "audit"]) {
        assert!(help.contains(&format!("  {verb} ")), "{verb} missing from:\n{help}");
        let out = flint(tmp).args([verb, "--help"]).output().unwrap();
        ok(&out);
    }
    // clap's usage errors exit with 2.
    let out = flint(tmp).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = flint(tmp).args(["ls", "-n", "Not_Valid"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid name `Not_Valid`"), "{}", stderr(&out));
    let out = flint(tmp).args(["ls", "-o", "xml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_controller_is_one_clear_line() {
    // Nothing listens on port 1 of the loopback address.
    let out = flint(Path::new(".")).args(["--url", "http://127.0.0.1:1", "ls"]).output().unwrap();
    let err = fails(&out);
    assert_eq!(
        err,
        "error: cannot reach the Flint API at http://127.0.0.1:1: connection refused\n"
    );
    let out = flint(Path::new(".")).env("FLINT_URL", "ftp://x").arg("ls").output().unwrap();
    assert!(fails(&out).starts_with("error: invalid API URL `ftp://x`"));
}

#[test]
fn up_names_the_listener_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = flint(data.path())
        .args(["up", "--data", "data", "--listen", "127.0.0.1:0", "--api-listen", &addr])
        .output()
        .unwrap();
    let err = fails(&out);
    // The store opens first, and on its first start writes an admin token.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with(&format!("error: cannot listen on {addr} (--api-listen): ")),
        "{err}"
    );
}

#[test]
fn new_scaffolds_a_function() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("sdk");
    write(&sdk, "Cargo.toml", "[package]\nname = \"flint-sdk\"\n");
    let out = flint(tmp.path()).args(["new", "my-fn", "--sdk-path", "sdk"]).output().unwrap();
    let said = ok(&out);
    assert!(said.contains("created function `my-fn` in my-fn"), "{said}");

    let dir = tmp.path().join("my-fn");
    let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk = sdk.canonicalize().unwrap();
    assert!(cargo.contains(&format!("flint-sdk = {{ path = \"{}\" }}", sdk.display())), "{cargo}");
    assert!(
        cargo.contains("\n[workspace]\n") && cargo.contains("crate-type = [\"cdylib\"]"),
        "{cargo}"
    );
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("Hello from my-fn, {name}!")
            && lib.contains("flint_sdk::http_handler!(handle);"),
        "{lib}"
    );
    let manifest = std::fs::read_to_string(dir.join("flint.toml")).unwrap();
    assert!(
        manifest.contains("route = \"/my-fn\"") && manifest.contains("release/my_fn.wasm"),
        "{manifest}"
    );
    assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), "target/\n");

    // Again: the folder is in use now.
    let out = flint(tmp.path()).args(["new", "my-fn", "--sdk-path", "sdk"]).output().unwrap();
    assert!(fails(&out).contains("already exists and is not empty"));
    // A name cargo cannot build, an SDK that is not there.
    let out = flint(tmp.path()).args(["new", "fn", "--sdk-path", "sdk"]).output().unwrap();
    assert!(fails(&out).contains("Rust keyword"));
    let out = flint(tmp.path()).args(["new", "other", "--sdk-path", "nowhere"]).output().unwrap();
    assert!(fails(&out).contains("no flint-sdk crate at nowhere"));
    let out = flint(tmp.path()).args(["new", "Other"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn new_finds_the_sdk_of_this_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flint(tmp.path()).args(["new", "hello", "--dir", "fns/hello"]).output().unwrap();
    ok(&out);
    let cargo = std::fs::read_to_string(tmp.path().join("fns/hello/Cargo.toml")).unwrap();
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk").canonicalize().unwrap();
    assert!(cargo.contains(&sdk.display().to_string()), "{cargo}");
}

#[test]
fn build_runs_each_command_and_checks_its_output() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"
[[function]]
name = "one"
source = "out/one.wasm"
build = '''mkdir -p out && {}'''

[[function]]
name = "two"
source = "two.wasm"
build = "echo building two"
"#,
        build_command("one", "out/one.wasm")
    );
    write(tmp.path(), "flint.toml", manifest);
    let out = flint(tmp.path()).arg("build").output().unwrap();
    // `two` builds nothing, so its source is missing.
    let err = fails(&out);
    assert!(err.contains("[1/2] building one: mkdir -p out"), "{err}");
    assert!(err.contains("built one: out/one.wasm (11 B)"), "{err}");
    assert!(err.contains("[2/2] building two: echo building two\nbuilding two\n"), "{err}");
    assert!(
        err.ends_with("error: `two`: two.wasm does not exist after its build; check `source` in the manifest\n"),
        "{err}"
    );
    // The build's own output went to stderr, keeping stdout clean.
    assert_eq!(crate::stdout(&out), "");

    write(
        tmp.path(),
        "fail.toml",
        "[[function]]\nname = \"f\"\nsource = \"f.wasm\"\nbuild = \"exit 3\"\n",
    );
    let out = flint(tmp.path()).args(["build", "-f", "fail.toml"]).output().unwrap();
    assert!(fails(&out).ends_with("error: building `f` failed: `exit 3` exited with status 3\n"));
}

#[test]
fn a_bad_manifest_fails_before_anything_is_sent() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "flint.toml",
        "[[function]]\nname = \"f\"\nsource = \"f.wasm\"\nlimits = { timeout_ms = 0 }\n",
    );
    // The URL is unreachable: the manifest error must come first.
    let out = flint(tmp.path()).args(["--url", "http://127.0.0.1:1", "deploy"]).output().unwrap();
    assert_eq!(
        fails(&out),
        "error: flint.toml:4:10: function `f`: invalid `limits.timeout_ms`: 0 is out of range 1..=900000\n"
    );
    let out = flint(tmp.path()).args(["deploy", "f", "--wasm", "missing.wasm"]).output().unwrap();
    assert!(fails(&out).starts_with("error: cannot read missing.wasm: "), "{}", stderr(&out));
}
