//! `flint-controller`: the controller alone, for installations where
//! invokers run as separate processes (see `flint up` for one machine).
//!
//! Prints `api listening on http://ADDR` once it accepts requests; stops on
//! SIGTERM or ctrl-c, letting requests in flight finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use flint_api::server::Usage;
use tokio_util::sync::CancellationToken;

// The same allocator as `flint up`: measured faster for the many small,
// short-lived allocations of an invocation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line and environment of the controller.
#[derive(Debug, Parser)]
#[command(
    name = "flint-controller",
    version,
    about = "Flint's controller: store, REST API and change feed"
)]
struct Args {
    /// Address the API listens on; port 0 picks a free port
    #[arg(long, env = "FLINT_LISTEN", default_value = "127.0.0.1:7070", value_name = "ADDR")]
    listen: SocketAddr,
    /// Folder of the store; created if missing
    #[arg(long, env = "FLINT_DATA", default_value = "./.flint-controller", value_name = "DIR")]
    data: PathBuf,
    /// Largest wasm upload accepted, in bytes
    #[arg(long, env = "FLINT_MAX_UPLOAD_BYTES", default_value_t = flint_controller::Config::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: usize,
    /// Memory of functions that set none, in MiB
    #[arg(long, env = "FLINT_DEFAULT_MEMORY_MB", default_value_t = flint_api::Limits::DEFAULT_MEMORY_MB)]
    default_memory_mb: u32,
    /// Timeout of functions that set none, in milliseconds
    #[arg(long, env = "FLINT_DEFAULT_TIMEOUT_MS", default_value_t = flint_api::Limits::DEFAULT_TIMEOUT_MS)]
    default_timeout_ms: u64,
    /// Concurrent instances per invoker of functions that set none
    #[arg(long, env = "FLINT_DEFAULT_CONCURRENCY", default_value_t = flint_api::Limits::DEFAULT_CONCURRENCY)]
    default_concurrency: u32,
    /// Queue length per invoker of functions that set none
    #[arg(long, env = "FLINT_DEFAULT_QUEUE", default_value_t = flint_api::Limits::DEFAULT_QUEUE)]
    default_queue: u32,
    /// Idle timeout of functions that set none, in milliseconds
    #[arg(long, env = "FLINT_DEFAULT_IDLE_TIMEOUT_MS", default_value_t = flint_api::Limits::DEFAULT_IDLE_TIMEOUT_MS)]
    default_idle_timeout_ms: u64,
    /// How long requests in flight may finish after SIGTERM
    #[arg(long, env = "FLINT_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// File holding the invokers' cluster credential (at least 32 printable
    /// characters); default: DATA/cluster.token, generated on first start
    #[arg(long, env = "FLINT_CLUSTER_TOKEN_FILE", value_name = "FILE")]
    cluster_token_file: Option<PathBuf>,
    /// The invokers' cluster credential itself (instead of a file)
    #[arg(
        long,
        env = "FLINT_CLUSTER_TOKEN",
        hide_env_values = true,
        conflicts_with = "cluster_token_file",
        value_name = "TOKEN"
    )]
    cluster_token: Option<String>,
    /// Serve the API over TLS with this certificate chain (PEM); needs --tls-key
    #[arg(long, env = "FLINT_TLS_CERT", requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, env = "FLINT_TLS_KEY", requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Serve /metrics without a token (default: admin token or cluster credential)
    #[arg(long, env = "FLINT_METRICS_OPEN")]
    metrics_open: bool,
    #[command(flatten)]
    plan: flint_controller::usage::flags::PlanFlags,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    flint_api::server::run_binary(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    flint_api::server::init_logging();
    let mut config = flint_controller::Config::new(args.data.join("store"));
    config.max_upload_bytes = args.max_upload_bytes;
    // Checked like a function's own limits, before any port is bound.
    let defaults = flint_api::LimitsSpec {
        memory_mb: Some(args.default_memory_mb),
        timeout_ms: Some(args.default_timeout_ms),
        concurrency: Some(args.default_concurrency),
        queue: Some(args.default_queue),
        idle_timeout_ms: Some(args.default_idle_timeout_ms),
    };
    config.default_limits = defaults
        .resolve(&flint_api::Limits::default())
        .map_err(|e| Usage(format!("invalid default limits: {e}")))?;
    config.price_plan = args.plan.spec();
    config.secrets_dir = args.data.clone();
    config.metrics_open = args.metrics_open;
    config.tls = flint_api::server::tls_flags(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    config.cluster_token = match (args.cluster_token, &args.cluster_token_file) {
        (Some(token), _) => Some(token),
        (None, Some(file)) => Some(std::fs::read_to_string(file).map_err(|e| {
            Usage(format!("cannot read --cluster-token-file {}: {e}", file.display()))
        })?),
        (None, None) => None,
    };

    // Validation needs the engine's settings, not its instance pool: keep the pool tiny.
    let settings = flint_engine::Settings { max_instances: 1, ..flint_engine::Settings::default() };
    let engine = flint_engine::engine(&settings)?;
    let linker = flint_engine::linker(&engine)?;
    let registry = prometheus::Registry::new_custom(Some("flint".into()), None)?;
    let state = match flint_controller::State::open(config, linker, registry) {
        Err(flint_controller::Error::Auth(flint_controller::auth::Error::WeakClusterToken)) => {
            return Err(Usage(
                flint_controller::auth::Error::WeakClusterToken.to_string()
                    + " (--cluster-token-file or FLINT_CLUSTER_TOKEN)",
            )
            .into());
        }
        state => state?,
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    println!("api listening on {scheme}://{}", listener.local_addr()?);

    let shutdown = CancellationToken::new();
    let server =
        tokio::spawn(flint_controller::run(listener, Arc::new(state), shutdown.child_token()));
    flint_api::server::shutdown_signal().await;
    shutdown.cancel();
    if tokio::time::timeout(args.grace, server).await.is_err() {
        tracing::warn!(grace = ?args.grace, "grace period over, exiting");
    }
    Ok(())
}
