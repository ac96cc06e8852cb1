//! `flint up`: the controller and an invoker in this process, sharing one
//! wasmtime engine and one metrics registry, on an embedded store; and, with
//! `--deploy DIR`, a manifest built and deployed once they run.
//!
//! The two talk over loopback HTTP exactly as they do when run apart, so
//! this is the same code path a cluster runs: the invoker authenticates
//! with the controller's cluster token, and the API wants user tokens.
//!
//! The controller keeps its credentials in `--data` (`admin.token`, written
//! on the first start, and `cluster.token`). `flint up` copies the admin
//! token into the CLI's config file for the API's URL, so `flint ls` and
//! friends work right away without `--token`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ENV_DATA, Global, deploy, process_env};
use crate::config::{self, Config};

/// Options of `flint up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Folder for the store and the compiled artifacts; created if missing
    #[arg(long, env = ENV_DATA, default_value = "./.flint", value_name = "DIR")]
    pub data: PathBuf,

    /// Address the API listens on (what --url points at); port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub api_listen: SocketAddr,

    /// Address the functions' HTTP routes listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Address of the invoker's admin endpoints (health, metrics, invoke); port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub admin_listen: SocketAddr,

    /// Once running, build and deploy the manifest in DIR (or the manifest file DIR)
    #[arg(long, value_name = "DIR")]
    pub deploy: Option<PathBuf>,

    /// How long requests in flight may take to finish after ctrl-c or SIGTERM
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub grace: Duration,

    /// Do not meter invocations (no usage ledger, no billing)
    #[arg(long)]
    pub no_metering: bool,

    /// How often the invoker writes usage to disk: the most a kill -9 can lose
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub usage_flush_interval: Duration,

    #[command(flatten)]
    pub plan: flint_controller::usage::flags::PlanFlags,
}

/// Runs Flint until ctrl-c or SIGTERM.
pub async fn run(args: UpArgs, global: &Global) -> anyhow::Result<()> {
    flint_api::server::init_logging();
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create the data folder {}", args.data.display()))?;

    // One engine: the controller validates uploads with exactly the settings
    // the invoker runs them with, and the process reserves one instance pool.
    let settings = flint_engine::Settings::default();
    let engine = flint_engine::engine(&settings)?;
    let linker = flint_engine::linker(&engine)?;
    let registry = prometheus::Registry::new_custom(Some("flint".into()), None)?;

    let mut controller_config = flint_controller::Config::new(args.data.join("store"));
    controller_config.price_plan = args.plan.spec();
    // The credentials sit next to the store; the cluster token is generated
    // there on the first start (None: neither a flag nor FLINT_CLUSTER_TOKEN).
    controller_config.secrets_dir = args.data.clone();
    controller_config.cluster_token = None;
    let controller =
        flint_controller::State::open(controller_config, linker.clone(), registry.clone())?;
    let admin_token = read_admin_token(controller.admin_token_file())?;

    let api = bind(args.api_listen, "--api-listen").await?;
    let http = bind(args.listen, "--listen").await?;
    let admin = bind(args.admin_listen, "--admin-listen").await?;
    let api_addr = api.local_addr()?;
    let mut invoker_config =
        flint_invoker::Config::new(format!("http://{api_addr}"), args.data.join("artifacts"));
    invoker_config.id = Some("local".into());
    invoker_config.metering = !args.no_metering;
    invoker_config.usage_dir = args.data.join("usage");
    invoker_config.usage_flush_interval = args.usage_flush_interval;
    invoker_config.cluster_token = controller.cluster_token().to_owned();
    let invoker = flint_invoker::Invoker::new(invoker_config, linker, &settings, registry)?;

    println!("api listening on http://{api_addr}");
    println!("http listening on http://{}", http.local_addr()?);
    println!("admin listening on http://{}", admin.local_addr()?);
    let url = format!("http://{api_addr}");
    if let Some(token) = &admin_token {
        match save_admin_token(&url, token) {
            Ok(path) => println!(
                "admin token saved in {} for {url} (also in {})",
                path.display(),
                controller.admin_token_file().display()
            ),
            // Not fatal: the token is still in the data folder.
            Err(error) => eprintln!(
                "warning: cannot save the admin token in flint's config: {error:#}; it is in {}",
                controller.admin_token_file().display()
            ),
        }
    }

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(flint_controller::run(api, Arc::new(controller), shutdown.child_token()));
    tasks.spawn(invoker.run(http, admin, shutdown.child_token()));
    tasks.close();

    if let Some(dir) = args.deploy {
        // The admin token first: a FLINT_TOKEN meant for another server
        // would not be accepted here.
        let token = admin_token.or_else(|| global.token.clone());
        let global = Global { url, token, ..global.clone() };
        tokio::spawn(async move {
            if let Err(error) = deploy_on_start(&global, &dir).await {
                eprintln!("error: deploying {} failed: {error:#}", dir.display());
            }
        });
    }

    flint_api::server::shutdown_signal().await;
    eprintln!("shutting down; waiting up to {:?} for requests in flight", args.grace);
    shutdown.cancel();
    if tokio::time::timeout(args.grace, tasks.wait()).await.is_err() {
        eprintln!("grace period over; exiting");
    }
    Ok(())
}

/// The admin token the controller wrote on its first start, if the file is
/// still there (an operator may have moved it somewhere safer).
fn read_admin_token(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Stores `token` for `url` in the CLI's config file; returns the file's path.
fn save_admin_token(url: &str, token: &str) -> anyhow::Result<PathBuf> {
    let path = config::path(&process_env)?;
    let mut config = Config::load(&path)?;
    if config.token(url) != Some(token) {
        config.set_token(url, token);
        config.save()?;
    }
    Ok(path)
}

async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} ({flag})"))
}

/// Builds and deploys `dir`'s manifest, then prints how to call what it deployed.
async fn deploy_on_start(global: &Global, dir: &Path) -> anyhow::Result<()> {
    let client = global.client()?;
    // The invoker registers within a moment of starting; wait for it so the
    // hints can name its address.
    for _ in 0..50 {
        if client.list_invokers().await.is_ok_and(|list| list.iter().any(|i| i.healthy)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut out = std::io::stdout();
    let summary =
        deploy::deploy_manifest(&client, global.namespace_flag(), dir, true, &mut out).await?;
    deploy::print_call_hints(&client, &summary, &mut out).await
}
