//! A controller and invokers as separate processes (`flint-controller`,
//! `flint-invoker`), as they run on Kubernetes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use flint_api::{Client, Role};

use crate::auth::{ADMIN_TOKEN_FILE, CLUSTER_TOKEN_FILE, make_token, read_token};
use crate::process::{kill, spawn, terminate};

/// The binaries live beside `flint`.
fn bin(name: &str) -> PathBuf {
    let bin = crate::flint_bin().with_file_name(name);
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --workspace --bins`",
        bin.display()
    );
    bin
}

/// A `flint-controller` process. Killed when dropped.
pub struct Controller {
    child: Option<Child>,
    dir: PathBuf,
    listen: String,
    /// Its API, e.g. `http://127.0.0.1:40123`.
    pub api: String,
}

impl Controller {
    /// Starts a controller with its store in `dir`, on a free port.
    pub fn start(dir: &Path) -> Self {
        Self::start_on(dir, "127.0.0.1:0")
    }

    /// Starts a controller with more flags (e.g. `--tls-cert`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        Self::start_on_with(dir, "127.0.0.1:0", extra)
    }

    fn start_on(dir: &Path, listen: &str) -> Self {
        Self::start_on_with(dir, listen, &[])
    }

    fn start_on_with(dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let mut args: Vec<String> =
            ["--listen", listen, "--data", &dir.join("controller").to_string_lossy()]
                .map(str::to_owned)
                .to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let (child, addrs) =
            spawn(&bin("flint-controller"), &args, &[], dir, "controller-", &["api"]);
        let api = addrs.into_iter().next().expect("one address");
        let listen = api.split_once("://").map_or(api.as_str(), |(_, rest)| rest).to_owned();
        Self { child: Some(child), dir: dir.to_owned(), listen, api }
    }

    /// Its `--data` folder: the store, and the token files it writes.
    pub fn data(&self) -> PathBuf {
        self.dir.join("controller")
    }

    /// The admin token it wrote on first start.
    pub fn admin_token(&self) -> String {
        read_token(&self.data().join(ADMIN_TOKEN_FILE))
    }

    /// The file holding the cluster credential it generated (given to its
    /// invokers with `--cluster-token-file`).
    pub fn cluster_token_file(&self) -> PathBuf {
        let file = self.data().join(CLUSTER_TOKEN_FILE);
        read_token(&file);
        file
    }

    /// The cluster credential.
    pub fn cluster_token(&self) -> String {
        read_token(&self.cluster_token_file())
    }

    /// A client for its API with the admin token.
    pub fn client(&self) -> Client {
        self.client_as(Some(&self.admin_token()))
    }

    /// A client for its API with `token`, or none.
    pub fn client_as(&self, token: Option<&str>) -> Client {
        Client::new(&self.api).expect("valid API URL").with_token(token.map(str::to_owned))
    }

    /// A new token of `role` for `namespaces` (`["*"]` for all).
    pub async fn token(&self, name: &str, role: Role, namespaces: &[&str]) -> String {
        make_token(&self.client(), name, role, namespaces, None).await.token
    }

    /// Runs the `flint` CLI against it with the admin token in `FLINT_TOKEN`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(crate::flint_bin())
            .args(args)
            .env("FLINT_URL", &self.api)
            .env("FLINT_TOKEN", self.admin_token())
            // No configuration file: the token comes from the environment only.
            .env("FLINT_CONFIG", self.dir.join("no-cli-config.toml"))
            .env_remove("FLINT_NAMESPACE")
            .stdin(Stdio::null())
            .output()
            .expect("flint runs")
    }

    /// Stops it with SIGTERM (returns whether it exited by itself).
    pub fn stop(&mut self) -> bool {
        self.child.take().is_none_or(terminate)
    }

    /// Kills it with SIGKILL.
    pub fn kill9(&mut self) {
        kill(self.child.take());
    }

    /// Starts it again on the same store and the same address, so invokers
    /// find it again (stopping it with SIGTERM first if it runs).
    pub fn restart(&mut self) {
        self.stop();
        let restarted = Self::start_on(&self.dir, &self.listen.clone());
        *self = restarted;
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A `flint-invoker` process. Killed when dropped.
pub struct Invoker {
    child: Option<Child>,
    stderr: PathBuf,
    /// Its id.
    pub id: String,
    /// Its HTTP ingress.
    pub http: String,
    /// Its admin endpoints.
    pub admin: String,
}

impl Invoker {
    /// Starts an invoker named `id` following `controller` with its cluster
    /// credential, its cache in `dir/<id>`.
    pub fn start(controller: &Controller, id: &str, dir: &Path) -> Self {
        Self::start_with_token_file(&controller.api, &controller.cluster_token_file(), id, dir)
    }

    /// Starts an invoker following the controller at `api` with the cluster
    /// credential in `token_file` (`--cluster-token-file`), which may be wrong.
    pub fn start_with_token_file(api: &str, token_file: &Path, id: &str, dir: &Path) -> Self {
        Self::start_with_args(api, token_file, id, dir, &[])
    }

    /// [`Invoker::start_with_token_file`] with more flags (e.g. `--tls-cert`).
    pub fn start_with_args(
        api: &str,
        token_file: &Path,
        id: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Self {
        let cache = dir.join(id);
        let mut args: Vec<String> = [
            "--controller",
            api,
            "--cluster-token-file",
            &token_file.to_string_lossy(),
            "--id",
            id,
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--cache",
            &cache.to_string_lossy(),
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let (child, addrs) =
            spawn(&bin("flint-invoker"), &args, &[], dir, &format!("{id}-"), &["http", "admin"]);
        let [http, admin] = addrs.try_into().expect("two addresses");
        let stderr = dir.join(format!("{id}-stderr.log"));
        Self { child: Some(child), stderr, id: id.to_owned(), http, admin }
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops it with SIGTERM (returns whether it exited by itself).
    pub fn stop(&mut self) -> bool {
        self.child.take().is_none_or(terminate)
    }

    /// Kills it with SIGKILL.
    pub fn kill9(&mut self) {
        kill(self.child.take());
    }
}

impl Drop for Invoker {
    fn drop(&mut self) {
        self.kill9();
    }
}
