//! Tokens, login, namespaces and the audit log, against the fake controller.

use std::io::Write as _;
use std::process::Stdio;

use flint_api::{AuditEntry, Role, Scope, Timestamp};

use crate::fake::FakeApi;
use crate::{component, fails, ok, stderr, stdout, write};

const ADMIN: &str =
    "flint_00000000000000aa_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn token_create_prints_the_token_once_on_its_own_line() {
    let api = FakeApi::start();
    let args = [
        "--token",
        ADMIN,
        "token",
        "create",
        "ci",
        "--role",
        "deployer",
        "-n",
        "team-b",
        "-n",
        "team-a",
        "--expires",
        "30d",
    ];
    let out = api.flint(&args);
    let token = format!("flint_{:016x}_{}", 1, "5e".repeat(32));
    assert_eq!(ok(&out), format!("{token}\n"), "only the token on stdout");
    let details = stderr(&out);
    assert!(
        details.contains(
            "created token ci (id 0000000000000001): role deployer, namespaces team-a,team-b"
        ),
        "{details}"
    );
    assert!(details.contains("shown only this once") && !details.contains(&token), "{details}");
    {
        let state = api.state();
        let spec = &state.token_specs[0];
        assert_eq!(
            (spec.role, spec.namespaces.to_string()),
            (Role::Deployer, "team-a,team-b".into())
        );
        let in_30_days = Timestamp::now().as_second() + 30 * 86_400;
        let expires = spec.expires_at.unwrap().as_second();
        assert!((in_30_days - 60..=in_30_days).contains(&expires), "{expires}");
        assert_eq!(state.authorization.as_deref(), Some(format!("Bearer {ADMIN}").as_str()));
    }

    // -A is every namespace; without -n or -A, `default`.
    ok(&api.flint(&["--token", ADMIN, "token", "create", "ops", "--role", "admin", "-A"]));
    ok(&api.flint(&["--token", ADMIN, "token", "create", "view", "--role", "viewer"]));
    {
        let state = api.state();
        assert_eq!(state.token_specs[1].namespaces, Scope::All);
        assert_eq!(state.token_specs[2].namespaces.to_string(), "default");
    }
    // -o json is for scripts that want the details too.
    let out =
        api.flint(&["--token", ADMIN, "-o", "json", "token", "create", "j", "--role", "invoker"]);
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert!(json["token"].as_str().unwrap().starts_with("flint_"));
    assert_eq!(json["info"]["role"], "invoker");

    let table = ok(&api.flint(&["--token", ADMIN, "token", "ls"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "NAME", "ROLE", "NAMESPACES", "EXPIRES", "LAST", "USED"]
    );
    assert!(lines[1].starts_with("0000000000000001  ci    deployer  team-a,team-b  20"), "{table}");
    assert!(lines[1].ends_with("never"), "{table}");
    assert!(!table.contains("5e5e"), "no secrets in the list: {table}");

    assert_eq!(ok(&api.flint(&["--token", ADMIN, "token", "revoke", "ci"])), "revoked ci\n");
    assert!(api.state().tokens.iter().all(|t| t.name.as_str() != "ci"));
    let err = fails(&api.flint(&["--token", ADMIN, "token", "revoke", "ci"]));
    assert!(err.contains("token `ci` not found"), "{err}");
}

#[test]
fn login_checks_the_token_and_stores_it_for_the_url() {
    let api = FakeApi::start();
    api.require_token(ADMIN);

    // A refused token is not stored.
    let out = api.flint(&["login", "--token", "flint_wrong"]);
    let err = fails(&out);
    assert!(err.contains("the token was not accepted: unknown token (HTTP 401"), "{err}");
    assert!(!err.contains("hint:"), "a token was given: {err}");
    assert!(!api.config_file().exists());

    let out = api.flint(&["login", "--token", ADMIN]);
    assert_eq!(ok(&out), format!("logged in to {} as admin (role admin, namespaces *)\n", api.url));
    assert!(stderr(&out).contains(&format!("token saved in {}", api.config_file().display())));
    assert!(!stdout(&out).contains(ADMIN) && !stderr(&out).contains(ADMIN));
    let text = std::fs::read_to_string(api.config_file()).unwrap();
    assert!(text.contains(&format!("[servers.\"{}\"]\ntoken = \"{ADMIN}\"", api.url)), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(api.config_file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Later commands find it by URL, with or without a trailing slash.
    assert_eq!(ok(&api.flint(&["ls", "-o", "json"])), "[]\n");
    assert_eq!(api.state().authorization.as_deref(), Some(format!("Bearer {ADMIN}").as_str()));
    let out = crate::fake::flint(std::path::Path::new("."))
        .env("FLINT_CONFIG", api.config_file())
        .args(["--url", &format!("{}/", api.url), "whoami"])
        .output()
        .unwrap();
    let said = ok(&out);
    assert!(said.contains("name:        admin") && said.contains("role:        admin"), "{said}");
    assert!(said.contains(&format!("token from:  {}", api.config_file().display())), "{said}");
    // --token still wins over the stored one.
    let err = fails(&api.flint(&["--token", "flint_other", "ls"]));
    assert!(err.contains("unknown token"), "{err}");
}

#[test]
fn login_reads_the_token_from_stdin_with_a_dash() {
    let api = FakeApi::start();
    api.require_token(ADMIN);
    let mut child = api
        .command(std::path::Path::new("."))
        .args(["login", "--token", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{ADMIN}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(ok(&out).starts_with("logged in to"));
    assert!(std::fs::read_to_string(api.config_file()).unwrap().contains(ADMIN));

    let err = fails(&api.flint(&["login"]));
    assert!(err.contains("flint login needs a token"), "{err}");
}

#[test]
fn a_401_without_any_token_hints_at_login_and_flint_up() {
    let api = FakeApi::start();
    api.require_token(ADMIN);
    let err = fails(&api.flint(&["ls"]));
    let url = &api.url;
    assert_eq!(
        err,
        format!(
            "error: missing token: send Authorization: Bearer TOKEN (HTTP 401 Unauthorized)\n\
             hint: no token for {url}: run `flint login --url {url} --token TOKEN`, \
             or start Flint with `flint up`, which stores its admin token\n"
        )
    );
    // A token for another spelling of the host is named as the likely cause.
    let other = url.replace("127.0.0.1", "localhost");
    write(
        api.config_file().parent().unwrap(),
        "config.toml",
        format!("[servers.\"{other}\"]\ntoken = \"{ADMIN}\"\n"),
    );
    let err = fails(&api.flint(&["ls"]));
    assert!(err.trim_end().ends_with(&format!("has tokens for {other})")), "{err}");

    // With a token, the API's own message says what is wrong; no hint.
    let err = fails(&api.flint(&["--token", "flint_nope", "ls"]));
    assert_eq!(err, "error: unknown token (HTTP 401 Unauthorized)\n");
    // A broken config file is named rather than taken for "no token".
    write(api.config_file().parent().unwrap(), "config.toml", "servers = 3\n");
    let err = fails(&api.flint(&["ls"]));
    assert!(err.starts_with(&format!("error: {}:1:11: ", api.config_file().display())), "{err}");
}

#[test]
fn namespaces_show_use_and_take_quotas() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    ok(&api.flint_in(
        tmp.path(),
        &["deploy", "f", "--wasm", "f.wasm", "-n", "team-a", "--memory-mb", "64"],
    ));

    let args = [
        "ns",
        "set",
        "team-a",
        "--max-functions",
        "5",
        "--rate",
        "200/s",
        "--monthly-budget",
        "25",
        "--reserve-prefix",
        "/team-a",
    ];
    let said = ok(&api.flint(&args));
    assert!(
        said.contains("Functions:   1 of 5\n") && said.contains("Memory:      64 MiB (no limit)\n"),
        "{said}"
    );
    assert!(said.contains("Month cost:  1.25 (5.0% of the budget)\n"), "{said}");
    assert!(said.contains("Reserved:    /team-a\n"), "{said}");
    // Only what the flags name changes.
    ok(&api.flint(&["namespace", "set", "team-a", "--clear-rate", "--budget-action", "alert"]));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&api.flint(&["namespace", "get", "team-a", "-o", "json"])))
            .unwrap();
    assert_eq!(json["quotas"]["max_functions"], 5);
    assert_eq!(json["quotas"]["monthly_budget"], 25.0);
    assert_eq!(json["quotas"]["budget_action"], "alert");
    assert!(json["quotas"].get("rate").is_none(), "{json}");
    // `get` without NS is -n's namespace.
    assert!(ok(&api.flint(&["ns", "get", "-n", "team-a"])).starts_with("Name:        team-a\n"));

    let table = ok(&api.flint(&["namespace", "ls"]));
    assert_eq!(
        table.lines().nth(1).unwrap(),
        "team-a  1/5        64 MiB  -     1.25        25.00 (5.0%)  ok"
    );
    let err = fails(&api.flint(&["ns", "set", "team-a"]));
    assert!(err.contains("nothing to change"), "{err}");
}

#[test]
fn audit_lists_calls_since_a_time() {
    let api = FakeApi::start();
    let entry = |seq: u64, time: &str| AuditEntry {
        seq,
        time: time.parse().unwrap(),
        token_id: "0000000000000001".into(),
        token_name: "ci".into(),
        method: "DELETE".into(),
        path: "/v1/namespaces/team-a/functions/f".into(),
        namespace: Some("team-a".parse().unwrap()),
        status: 204,
    };
    api.state().audit = vec![entry(1, "2020-01-01T00:00:00Z"), entry(2, "2030-01-01T00:00:00Z")];
    let table = ok(&api.flint(&["audit"]));
    assert_eq!(table.lines().count(), 3, "{table}");
    assert_eq!(
        table.lines().nth(1).unwrap(),
        "2020-01-01T00:00:00Z  ci     DELETE  /v1/namespaces/team-a/functions/f  team-a     204"
    );
    let table = ok(&api.flint(&["audit", "--since", "24h"]));
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(api.take_requests().last().unwrap().starts_with("GET /v1/audit?since=20"));
    let json = ok(&api.flint(&["audit", "--since", "2029-12-31T00:00:00Z", "-o", "json"]));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&json).unwrap()[0]["seq"], 2);
}

#[test]
fn token_routes_are_marked_where_routes_are_shown() {
    let api = FakeApi::start();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "f.wasm", component("f"));
    let args = ["deploy", "f", "--wasm", "f.wasm", "--route", "/f", "--route-auth", "token"];
    let said = ok(&api.flint_in(tmp.path(), &args));
    assert!(said.contains("routes: /f (token)"), "{said}");
    let table = ok(&api.flint(&["ls"]));
    assert!(table.lines().nth(1).unwrap().contains(" /f (token) "), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&api.flint(&["ls", "-o", "json"]))).unwrap();
    assert_eq!(
        (json[0]["routes"][0].as_str(), json[0]["token_routes"][0].as_str()),
        (Some("/f"), Some("/f"))
    );
    let text = ok(&api.flint(&["describe", "f"]));
    assert!(text.contains("/f (token)"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&api.flint(&["describe", "f", "-o", "json"]))).unwrap();
    assert_eq!(json["triggers"][0]["spec"]["http"]["auth"], "token");
}

#[test]
fn flint_up_stores_its_admin_token_so_the_next_command_needs_none() {
    use std::io::BufRead as _;

    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("home/flint/config.toml");
    let mut up = crate::fake::flint(tmp.path())
        .env("FLINT_CONFIG", &config)
        .args(["up", "--data", "data", "--api-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it however the test ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = up.stdout.take().unwrap();
    let _up = Kill(up);
    let mut url = None;
    let mut saved = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("api listening on ") {
            url = Some(rest.to_owned());
        }
        if line.starts_with("admin token saved in ") {
            saved = Some(line);
            break;
        }
    }
    let url = url.expect("an api line");
    let saved = saved.expect("an admin token line");
    assert_eq!(
        saved,
        format!("admin token saved in {} for {url} (also in data/admin.token)", config.display())
    );
    let token = std::fs::read_to_string(tmp.path().join("data/admin.token")).unwrap();
    assert!(std::fs::read_to_string(&config).unwrap().contains(token.trim()));

    let flint = |args: &[&str]| {
        crate::fake::flint(tmp.path())
            .env("FLINT_CONFIG", &config)
            .arg("--url")
            .arg(&url)
            .args(args)
            .output()
            .unwrap()
    };
    let said = ok(&flint(&["whoami"]));
    assert!(said.contains("role:        admin") && said.contains("namespaces:  *"), "{said}");
    assert_eq!(ok(&flint(&["ls", "-o", "json"])), "[]\n");
}
