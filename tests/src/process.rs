//! One `flint up` process under test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::flint_bin;

/// How long `flint up` may take to print its listening lines.
const START_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub fn start_with(args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut flint = Self::start_in_with(temp.path(), args);
        flint._temp = Some(temp);
        flint
    }

    /// Starts Flint on an existing data folder (to test restarts).
    pub fn start_in(data: &Path) -> Self {
        Self::start_in_with(data, &[])
    }

    /// Starts Flint on an existing data folder with extra `flint up` flags.
    pub fn start_in_with(data: &Path, args: &[&str]) -> Self {
        let stdout_path = data.join("stdout.log");
        let stderr_path = data.join("stderr.log");
        let stdout = File::create(&stdout_path).expect("stdout file");
        let stderr =
            File::options().create(true).append(true).open(&stderr_path).expect("stderr file");
        let child = Command::new(flint_bin())
            .args(["up", "--data"])
            .arg(data.join("flint"))
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("RUST_LOG", "warn,flint_invoker=info,flint_controller=info")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("flint starts");
        let mut flint = Self {
            child: Some(child),
            data: data.to_owned(),
            _temp: None,
            api: String::new(),
            http: String::new(),
            admin: String::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            let find =
                |prefix: &str| out.lines().find_map(|l| l.strip_prefix(prefix)).map(str::to_owned);
            if let (Some(api), Some(http), Some(admin)) =
                (find("api listening on "), find("http listening on "), find("admin listening on "))
            {
                (flint.api, flint.http, flint.admin) = (api, http, admin);
                break;
            }
            if let Some(Ok(Some(status))) = flint.child.as_mut().map(Child::try_wait) {
                panic!("flint up exited with {status} before listening:\n{}", flint.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "flint up did not listen within {START_TIMEOUT:?}:\n{}",
                flint.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        flint
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

    /// A client for the API.
    pub fn client(&self) -> flint_api::Client {
        flint_api::Client::new(&self.api).expect("valid API URL")
    }

    /// Runs the `flint` CLI against this Flint, in `dir` if given.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_in(None, args)
    }

    /// Runs the `flint` CLI against this Flint in a working directory.
    pub fn cli_in(&self, dir: Option<&Path>, args: &[&str]) -> Output {
        let mut command = Command::new(flint_bin());
        command
            .args(args)
            .env("FLINT_URL", &self.api)
            .env_remove("FLINT_NAMESPACE")
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to 10 s for a clean exit (then kills).
    /// Returns whether it exited by itself.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
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

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
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
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
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

fn signal_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}
