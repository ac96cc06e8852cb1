//! The verbs of `flint`, one module each, and what they share: the global
//! options, the API client and the translation of client errors.

pub mod audit;
pub mod build;
pub mod deploy;
pub mod describe;
pub mod invoke;
pub mod invokers;
pub mod login;
pub mod logs;
pub mod ls;
pub mod namespace;
pub mod new;
pub mod rm;
pub mod schedule;
pub mod token;
pub mod up;
pub mod usage;
pub mod whoami;

use std::error::Error as _;
use std::ffi::OsString;
use std::io;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use flint_api::{Client, Name};

use crate::config::{self, Token};
use crate::output::Output;

/// The controller's URL (`--url`).
pub const ENV_URL: &str = "FLINT_URL";
/// The namespace (`-n`).
pub const ENV_NAMESPACE: &str = "FLINT_NAMESPACE";
/// Extra CA certificates for an `https://` API (`--ca-cert`).
pub const ENV_CA_CERT: &str = "FLINT_CA_CERT";
/// The API token (`--token`).
pub const ENV_TOKEN: &str = "FLINT_TOKEN";
/// Where `flint up` keeps its data (`--data`).
pub const ENV_DATA: &str = "FLINT_DATA";
/// The `flint-sdk` that `flint new` points a function at (`--sdk-path`).
pub const ENV_SDK_PATH: &str = "FLINT_SDK_PATH";

/// Where `flint up` serves the API by default, so the two defaults agree.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7070";

/// Options every verb takes, before or after the verb.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// URL of the Flint API (the controller)
    #[arg(long, global = true, env = ENV_URL, default_value = DEFAULT_URL, value_name = "URL")]
    pub url: String,

    /// Namespace to work in; overrides the manifest's `namespace` [default: default].
    /// `token create` takes several; other verbs use the last
    #[arg(
        short = 'n',
        long = "namespace",
        global = true,
        env = ENV_NAMESPACE,
        value_name = "NS",
        action = clap::ArgAction::Append
    )]
    pub namespaces: Vec<Name>,

    /// Output format: table, json or yaml (csv: `usage` only)
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        hide_possible_values = true,
        default_value_t = Output::Table,
        value_name = "FORMAT"
    )]
    pub output: Output,

    /// API token, sent as `Authorization: Bearer TOKEN` [default: the config file's for --url]
    #[arg(long, global = true, env = ENV_TOKEN, hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Also trust the CA certificates in this PEM file for an https:// --url
    #[arg(long, global = true, env = ENV_CA_CERT, value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
}

impl Global {
    /// A client for `--url`, carrying the token [`Global::resolve_token`] finds.
    pub fn client(&self) -> anyhow::Result<Client> {
        let client = Client::with_ca(&self.url, self.ca_cert.as_deref())?;
        let token = self.resolve_token()?;
        Ok(client.with_token(token.map(|t| t.secret)))
    }

    /// `--token`/`FLINT_TOKEN`, else the config file's token for `--url`.
    pub fn resolve_token(&self) -> anyhow::Result<Option<Token>> {
        config::resolve(self.token.as_deref(), &self.url, &process_env)
    }

    /// `-n` (the last one given), else `default`. Verbs that read a manifest
    /// put its namespace between the two.
    pub fn namespace(&self) -> Name {
        self.namespace_flag().cloned().unwrap_or_else(Name::default_namespace)
    }

    /// The last `-n`, if any.
    pub fn namespace_flag(&self) -> Option<&Name> {
        self.namespaces.last()
    }
}

/// The process environment, for the functions that take a lookup.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Flint on this machine: the API and an invoker in one process
    Up(up::UpArgs),
    /// Create a new Rust function in a new folder
    New(new::NewArgs),
    /// Build the functions of a manifest (flint.toml)
    Build(build::BuildArgs),
    /// Build and deploy the functions of a manifest, or one wasm file
    Deploy(deploy::DeployArgs),
    /// Call a function and print its answer
    Invoke(invoke::InvokeArgs),
    /// List the functions of a namespace
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Show a function: limits, environment, versions and triggers
    Describe(describe::DescribeArgs),
    /// Add, list and remove schedules of deployed functions
    Schedule(schedule::ScheduleArgs),
    /// List the invokers registered with the controller and their state
    Invokers,
    /// Delete functions, with their versions and triggers
    #[command(visible_alias = "delete")]
    Rm(rm::RmArgs),
    /// Print what a function wrote to stdout and stderr
    Logs(logs::LogsArgs),
    /// Show invocations, GB-seconds and cost for a period
    Usage(usage::UsageArgs),
    /// Check a token and store it for --url in the config file
    Login(login::LoginArgs),
    /// Show who the token is: name, role and namespaces
    Whoami,
    /// Create, list and revoke API tokens (admins)
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Show namespaces and set their quotas, budgets and reserved routes
    #[command(subcommand, visible_alias = "ns")]
    Namespace(namespace::NamespaceCommand),
    /// Show who changed what: the API's log of mutating calls (admins)
    Audit(audit::AuditArgs),
}

/// Runs one verb.
pub async fn run(command: Command, global: &Global) -> anyhow::Result<()> {
    if global.output == Output::Csv && !matches!(command, Command::Usage(_)) {
        anyhow::bail!("`-o csv` is only available for `flint usage`");
    }
    match command {
        Command::Up(args) => up::run(args, global).await,
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args).await,
        Command::Deploy(args) => deploy::run(args, global).await,
        Command::Invoke(args) => invoke::run(args, global).await,
        Command::Ls(args) => ls::run(args, global).await,
        Command::Describe(args) => describe::run(args, global).await,
        Command::Schedule(args) => schedule::run(args, global).await,
        Command::Invokers => invokers::run(global).await,
        Command::Rm(args) => rm::run(args, global).await,
        Command::Logs(args) => logs::run(args, global).await,
        Command::Usage(args) => usage::run(args, global).await,
        Command::Login(args) => login::run(args, global).await,
        Command::Whoami => whoami::run(global).await,
        Command::Token(command) => token::run(command, global).await,
        Command::Namespace(command) => namespace::run(command, global).await,
        Command::Audit(args) => audit::run(args, global).await,
    }
}

/// What to tell someone whose call was refused with 401 without sending any
/// token: how to get one into the config file. `None` for other errors, or
/// when a token was sent (the API's message then says what is wrong with it).
pub fn unauthorized_hint(err: &anyhow::Error, global: &Global) -> Option<String> {
    let unauthorized = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<flint_api::Error>())
        .any(|api| api.status() == Some(http::StatusCode::UNAUTHORIZED));
    // A config file that cannot be read sent no token either.
    if !unauthorized || global.resolve_token().ok().flatten().is_some() {
        return None;
    }
    let url = config::normalize_url(&global.url);
    let mut hint = format!(
        "no token for {url}: run `flint login --url {url} --token TOKEN`, \
         or start Flint with `flint up`, which stores its admin token"
    );
    // A token stored for `localhost` does not serve `127.0.0.1`: say which
    // URLs have one, since that mix-up is the likely cause.
    if let Ok(path) = config::path(&process_env)
        && let Ok(config) = config::Config::load(&path)
        && !config.urls().is_empty()
    {
        hint.push_str(&format!(
            " ({} has tokens for {})",
            path.display(),
            config.urls().join(", ")
        ));
    }
    Some(hint)
}

/// Turns a client error into an error for people. The API's own answers
/// (`function `x` not found (HTTP 404 Not Found)`) are kept as they are; a
/// failed connection is cut down to its cause, e.g.
/// `cannot reach the Flint API at http://127.0.0.1:7070: connection refused`,
/// instead of hyper's three-level chain.
pub fn api_error(client: &Client, err: flint_api::Error) -> anyhow::Error {
    if !matches!(err, flint_api::Error::Connect { .. }) {
        return err.into();
    }
    let mut cause = err.source();
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return anyhow::anyhow!(
                "cannot reach the Flint API at {}: {}",
                client.base_url(),
                describe_io(io)
            );
        }
        cause = current.source();
    }
    err.into()
}

/// The kind of common connection failures in words (`connection refused`),
/// else the OS message (which names DNS failures, for one).
fn describe_io(err: &io::Error) -> String {
    use io::ErrorKind::*;
    match err.kind() {
        kind @ (ConnectionRefused | ConnectionReset | ConnectionAborted | TimedOut
        | HostUnreachable | NetworkUnreachable | AddrNotAvailable | PermissionDenied) => {
            kind.to_string()
        }
        _ => err.to_string(),
    }
}

/// Adds [`api_error`] to client results: `client.list_functions(&ns).await.api(&client)?`.
pub trait ApiResultExt<T> {
    /// See [`api_error`].
    fn api(self, client: &Client) -> anyhow::Result<T>;
}

impl<T> ApiResultExt<T> for Result<T, flint_api::Error> {
    fn api(self, client: &Client) -> anyhow::Result<T> {
        self.map_err(|err| api_error(client, err))
    }
}

/// Writes `text` and a line break to stdout, reporting a closed pipe as an error
/// (`println!` would panic).
pub fn print_line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    use io::Write as _;
    writeln!(io::stdout(), "{text}").context("writing to stdout")
}
