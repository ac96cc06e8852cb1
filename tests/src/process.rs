//! One `flint up` process under test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flint_api::{Client, NewToken, Role, Timestamp};

use crate::auth::{ADMIN_TOKEN_FILE, CLUSTER_TOKEN_FILE, make_token, read_token};
use crate::flint_bin;

/// How long `flint up` may take to print its listening lines.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The CLI's configuration of a test's `flint up` (`FLINT_CONFIG`), in its
/// temp folder: `flint up` saves the admin token there and `flint` verbs
/// read it, as they would from `~/.config/flint/config.toml`.
pub const CLI_CONFIG: &str = "cli-config.toml";
/// Environment a test process must not inherit from whoever runs the
/// suite: credentials and the CLI's configuration.
const CREDENTIAL_ENV: [&str; 5] = [
    "FLINT_TOKEN",
    "FLINT_CONFIG",
    "FLINT_CLUSTER_TOKEN",
    "FLINT_CLUSTER_TOKEN_FILE",
    "FLINT_NAMESPACE",
];

/// A running `flint up` on `127.0.0.1` with port 0 everywhere, and its data
/// folder. Killed when dropped.
pub struct Flint {
    child: Option<Child>,
    data: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// The API, e.g. `http://127.0.0.1:40123`.
    pub api: String,
    /// The HTTP ingress.
    pub http: String,
    /// The invoker's admin endpoints.
    pub admin: String,
}

impl Flint {
    /// Starts Flint with a fresh data folder.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut flint = Self::start_in(temp.path());
        flint._temp = Some(temp);
        flint
    }

    /// Starts Flint with a fresh data folder and extra `flint up` flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut flint = Self::start_in_with(temp.path(), extra);
        flint._temp = Some(temp);
        flint
    }

    /// Starts Flint on an existing data folder (to test restarts).
    pub fn start_in(data: &Path) -> Self {
        Self::start_in_with(data, &[])
    }

    /// Starts Flint on an existing data folder with extra `flint up` flags.
    pub fn start_in_with(data: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<String> = [
            "up",
            "--data",
            &data.join("flint").to_string_lossy(),
            "--api-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ]
        .map(str::to_owned)
        .into();
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let config = data.join(CLI_CONFIG);
        let env = [("FLINT_CONFIG", config.to_string_lossy().into_owned())];
        let (child, addrs) = spawn(&flint_bin(), &args, &env, data, "", &["api", "http", "admin"]);
        let [api, http, admin] = addrs.try_into().expect("three addresses");
        let flint =
            Self { child: Some(child), data: data.to_owned(), _temp: None, api, http, admin };
        // `flint up` writes the admin token, then saves it in the CLI's
        // configuration; CLI verbs of the test need both.
        read_token(&flint.secrets().join(ADMIN_TOKEN_FILE));
        wait_for_file(&config);
        flint
    }

    /// The folder `flint up` keeps its store and credentials in (`--data`).
    pub fn secrets(&self) -> PathBuf {
        self.data.join("flint")
    }

    /// The admin token `flint up` wrote on first start.
    pub fn admin_token(&self) -> String {
        read_token(&self.secrets().join(ADMIN_TOKEN_FILE))
    }

    /// The cluster credential the controller generated for its invoker.
    pub fn cluster_token(&self) -> String {
        read_token(&self.secrets().join(CLUSTER_TOKEN_FILE))
    }

    /// The CLI configuration file `flint up` saved the admin token in.
    pub fn cli_config(&self) -> PathBuf {
        self.data.join(CLI_CONFIG)
    }

    /// The data folder (pass it to [`Flint::start_in`] to restart on it).
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.data.join("stderr.log")).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A client for the API with the admin token.
    pub fn client(&self) -> Client {
        self.client_as(Some(&self.admin_token()))
    }

    /// A client for the API with `token`, or none.
    pub fn client_as(&self, token: Option<&str>) -> Client {
        Client::new(&self.api).expect("valid API URL").with_token(token.map(str::to_owned))
    }

    /// A client for the API with the cluster credential (the change feed,
    /// blobs, usage batches: what invokers call).
    pub fn cluster_client(&self) -> Client {
        self.client_as(Some(&self.cluster_token()))
    }

    /// A new token of `role` for `namespaces` (`["*"]` for all), made with
    /// the admin token.
    pub async fn token(&self, name: &str, role: Role, namespaces: &[&str]) -> String {
        make_token(&self.client(), name, role, namespaces, None).await.token
    }

    /// A new token that stops working at `expires_at`.
    pub async fn token_expiring(
        &self,
        name: &str,
        role: Role,
        namespaces: &[&str],
        expires_at: Timestamp,
    ) -> NewToken {
        make_token(&self.client(), name, role, namespaces, Some(expires_at)).await
    }

    /// Runs the `flint` CLI against this Flint as its user would after
    /// `flint up`: the token comes from the CLI configuration `flint up`
    /// wrote, none is passed.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_in(None, args)
    }

    /// Runs the `flint` CLI against this Flint in a working directory.
    pub fn cli_in(&self, dir: Option<&Path>, args: &[&str]) -> Output {
        self.cli_with(dir, &[], args)
    }

    /// Runs the `flint` CLI with extra environment (e.g. `FLINT_TOKEN`).
    pub fn cli_with(&self, dir: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut command = Command::new(flint_bin());
        for name in CREDENTIAL_ENV {
            command.env_remove(name);
        }
        command
            .args(args)
            .env("FLINT_URL", &self.api)
            .env("FLINT_CONFIG", self.cli_config())
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command.output().expect("flint runs")
    }

    /// Deploys `wasm` as `name` on `route` with the CLI, with extra flags;
    /// panics with the CLI's output if that fails.
    pub fn deploy(&self, name: &str, wasm: &Path, route: &str, flags: &[&str]) {
        let wasm = wasm.to_str().expect("utf-8 path");
        let mut args = vec!["deploy", name, "--wasm", wasm, "--route", route];
        args.extend_from_slice(flags);
        let output = self.cli(&args);
        assert!(
            output.status.success(),
            "flint deploy {name} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub fn kill9(&mut self) {
        kill(self.child.take());
    }

    /// Sends SIGTERM and waits up to 10 s for a clean exit (then kills).
    /// Returns whether it exited by itself.
    pub fn stop(&mut self) -> bool {
        self.child.take().is_none_or(terminate)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The text of the controller's `/metrics` (on the API port, so it
    /// takes the admin token).
    pub async fn controller_metrics(&self) -> String {
        let auth = crate::auth::bearer(&self.admin_token());
        let url = format!("{}/metrics", self.api);
        let response = crate::http::send(
            crate::http::Method::GET,
            &url,
            &[("authorization", &auth)],
            Default::default(),
        )
        .await;
        assert_eq!(response.status, 200, "controller metrics: {}", response.text());
        response.text()
    }

    /// The text of the invoker's `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = crate::http::get(&format!("{}/metrics", self.admin)).await;
        assert_eq!(response.status, 200, "metrics: {}", response.text());
        response.text()
    }

    /// The value of one series in the invoker's `/metrics`: the metric's
    /// name and some of its labels, in any order.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        find_series(&self.metrics().await, name, labels)
    }
}

/// Finds a series in Prometheus text by name and (a subset of) its labels.
pub fn find_series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    matching_series(text, name, labels).next()
}

/// The sum of every series of `name` that has `labels` (0 when none has).
pub fn sum_series(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    matching_series(text, name, labels).sum()
}

fn matching_series<'a>(
    text: &'a str,
    name: &'a str,
    labels: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = f64> + 'a {
    text.lines().filter(|line| !line.starts_with('#')).filter_map(move |line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let all = labels
            .iter()
            .all(|(k, v)| series_labels.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
        (series_name == name && all).then(|| value.parse().ok()).flatten()
    })
}

impl Drop for Flint {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits up to 10 s for `path` to exist (a file another process writes
/// after it listens); returns whether it does.
fn wait_for_file(path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Starts `bin` with `args` and `env` (and none of the suite's own
/// credentials), stdout and stderr going to files in `dir` (named after
/// `tag`), and waits for one `NAME listening on ADDR` line per name in
/// `listeners`; returns the child and the addresses in that order.
pub(crate) fn spawn(
    bin: &Path,
    args: &[String],
    env: &[(&str, String)],
    dir: &Path,
    tag: &str,
    listeners: &[&str],
) -> (Child, Vec<String>) {
    let stdout_path = dir.join(format!("{tag}stdout.log"));
    let stderr_path = dir.join(format!("{tag}stderr.log"));
    let stdout = File::create(&stdout_path).expect("stdout file");
    let stderr = File::options().create(true).append(true).open(&stderr_path).expect("stderr file");
    let mut command = Command::new(bin);
    for name in CREDENTIAL_ENV {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn,flint_invoker=info,flint_controller=info")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", bin.display()));
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let found: Vec<String> = listeners
            .iter()
            .filter_map(|name| {
                let prefix = format!("{name} listening on ");
                out.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(str::to_owned)
            })
            .collect();
        if found.len() == listeners.len() {
            return (child, found);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} exited with {status} before listening:\n{}", bin.display(), stderr());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{} did not listen within {START_TIMEOUT:?}:\n{}", bin.display(), stderr());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGKILL to `child`, if there is one, and waits for it to be gone.
pub(crate) fn kill(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends SIGTERM and waits up to 10 s for a clean exit (then kills).
/// Returns whether it exited by itself.
pub(crate) fn terminate(mut child: Child) -> bool {
    signal_term(child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn signal_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}
