//! A controller and invokers as separate processes (`flint-controller`,
//! `flint-invoker`), as they run on Kubernetes.

use std::path::{Path, PathBuf};
use std::process::Child;

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

    fn start_on(dir: &Path, listen: &str) -> Self {
        let args = ["--listen", listen, "--data", &dir.join("controller").to_string_lossy()]
            .map(str::to_owned);
        let (child, addrs) = spawn(&bin("flint-controller"), &args, dir, "controller-", &["api"]);
        let api = addrs.into_iter().next().expect("one address");
        let listen = api.trim_start_matches("http://").to_owned();
        Self { child: Some(child), dir: dir.to_owned(), listen, api }
    }

    /// A client for its API.
    pub fn client(&self) -> flint_api::Client {
        flint_api::Client::new(&self.api).expect("valid API URL")
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
    /// Its id.
    pub id: String,
    /// Its HTTP ingress.
    pub http: String,
    /// Its admin endpoints.
    pub admin: String,
}

impl Invoker {
    /// Starts an invoker named `id` following the controller at `api`, its
    /// cache in `dir/<id>`.
    pub fn start(api: &str, id: &str, dir: &Path) -> Self {
        let cache = dir.join(id);
        let args = [
            "--controller",
            api,
            "--id",
            id,
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--cache",
            &cache.to_string_lossy(),
        ]
        .map(str::to_owned);
        let (child, addrs) =
            spawn(&bin("flint-invoker"), &args, dir, &format!("{id}-"), &["http", "admin"]);
        let [http, admin] = addrs.try_into().expect("two addresses");
        Self { child: Some(child), id: id.to_owned(), http, admin }
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
