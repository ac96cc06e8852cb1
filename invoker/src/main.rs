//! `flint-invoker`: one invoker, following a controller at `--controller`
//! (see `flint up` for one machine). Run as many as the load needs.
//!
//! Prints `http listening on http://ADDR` and `admin listening on
//! http://ADDR` once it accepts requests; stops on SIGTERM or ctrl-c,
//! finishing invocations in flight and shipping the last logs.
//!
//! The cluster credential (the controller's `cluster.token`) comes from
//! `--cluster-token-file` or `FLINT_CLUSTER_TOKEN`; without one it exits
//! with 64 before binding anything.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use flint_api::server::Usage;
use tokio_util::sync::CancellationToken;

// The same allocator as `flint up`: measured faster for the many small,
// short-lived allocations of an invocation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line and environment of an invoker.
#[derive(Debug, Parser)]
#[command(name = "flint-invoker", version, about = "Flint's invoker: runs functions")]
struct Args {
    /// The controller's API
    #[arg(
        long,
        env = "FLINT_CONTROLLER_URL",
        default_value = "http://127.0.0.1:7070",
        value_name = "URL"
    )]
    controller: String,
    /// File holding the cluster credential shared with the controller
    /// (its DATA/cluster.token); or set FLINT_CLUSTER_TOKEN to the credential itself
    #[arg(long, env = ENV_CLUSTER_TOKEN_FILE, value_name = "PATH")]
    cluster_token_file: Option<PathBuf>,
    /// Address of the HTTP ingress (function routes); port 0 picks a free port
    #[arg(long, env = "FLINT_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Address of the admin endpoints (health, readiness, metrics, invoke)
    #[arg(long, env = "FLINT_ADMIN_LISTEN", default_value = "127.0.0.1:9090", value_name = "ADDR")]
    admin_listen: SocketAddr,
    /// Folder of the compiled-artifact cache; created if missing
    #[arg(long, env = "FLINT_CACHE", default_value = "./.flint-invoker", value_name = "DIR")]
    cache: PathBuf,
    /// Serve the HTTP ingress over TLS with this certificate chain (PEM); needs --tls-key
    #[arg(long, env = "FLINT_TLS_CERT", requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file for an https:// --controller
    #[arg(long, env = "FLINT_CONTROLLER_CA", value_name = "FILE")]
    controller_ca: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, env = "FLINT_TLS_KEY", requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Host put in the URLs this invoker registers (e.g. the pod IP); default: the listen address
    #[arg(long, env = "FLINT_ADVERTISE_HOST", value_name = "HOST")]
    advertise_host: Option<String>,
    /// This invoker's id; default: host name and process id
    #[arg(long, env = "FLINT_INVOKER_ID", value_name = "ID")]
    id: Option<String>,
    /// Instances that may run at once in this process, across all functions
    #[arg(long, env = "FLINT_MAX_INSTANCES", default_value_t = flint_engine::Settings::DEFAULT_MAX_INSTANCES)]
    max_instances: u32,
    /// Do not meter invocations (no usage ledger, no billing)
    #[arg(long, env = "FLINT_NO_METERING")]
    no_metering: bool,
    /// Folder where usage waits until the controller has it; default: CACHE/usage
    #[arg(long, env = "FLINT_USAGE_DIR", value_name = "DIR")]
    usage_dir: Option<PathBuf>,
    /// How often usage is written to disk: the most a kill -9 can lose
    #[arg(long, env = "FLINT_USAGE_FLUSH_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration, value_name = "DURATION")]
    usage_flush_interval: Duration,
    /// How long invocations in flight may finish after SIGTERM
    #[arg(long, env = "FLINT_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
}

/// Environment variable naming the cluster credential's file.
const ENV_CLUSTER_TOKEN_FILE: &str = "FLINT_CLUSTER_TOKEN_FILE";
/// Environment variable holding the cluster credential itself. Read
/// directly, not as a flag, so it never shows in `ps` or in `--help`.
const ENV_CLUSTER_TOKEN: &str = "FLINT_CLUSTER_TOKEN";

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    flint_api::server::run_binary(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    flint_api::server::init_logging();
    if args.max_instances == 0 {
        return Err(Usage("--max-instances must be at least 1".into()).into());
    }
    if let Err(error) = flint_api::Client::with_ca(&args.controller, args.controller_ca.as_deref())
    {
        return Err(Usage(format!("--controller: {error}")).into());
    }
    let mut config = flint_invoker::Config::new(args.controller, args.cache);
    config.cluster_token =
        cluster_token(args.cluster_token_file.as_deref(), |key| std::env::var(key).ok())?;
    if let Err(error) = config.validate() {
        return Err(Usage(format!("{error} (--cluster-token-file or {ENV_CLUSTER_TOKEN})")).into());
    }
    let settings = flint_engine::Settings {
        max_instances: args.max_instances,

        ..flint_engine::Settings::default()
    };
    let engine = flint_engine::engine(&settings)?;
    let linker = flint_engine::linker(&engine)?;
    let registry = prometheus::Registry::new_custom(Some("flint".into()), None)?;
    config.advertise_host = args.advertise_host;
    config.id = args.id;
    config.metering = !args.no_metering;
    if let Some(dir) = args.usage_dir {
        config.usage_dir = dir;
    }
    config.usage_flush_interval = args.usage_flush_interval;
    config.controller_ca = args.controller_ca;
    config.tls = flint_api::server::tls_flags(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let invoker = flint_invoker::Invoker::new(config, linker, &settings, registry)?;

    let http = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let admin = tokio::net::TcpListener::bind(args.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {} (--admin-listen)", args.admin_listen))?;
    println!("http listening on {scheme}://{}", http.local_addr()?);
    println!("admin listening on http://{}", admin.local_addr()?);

    let shutdown = CancellationToken::new();
    let running = tokio::spawn(invoker.run(http, admin, shutdown.child_token()));
    flint_api::server::shutdown_signal().await;
    shutdown.cancel();
    match tokio::time::timeout(args.grace, running).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => anyhow::bail!("the invoker failed: {join}"),
        Err(_) => tracing::warn!(grace = ?args.grace, "grace period over, exiting"),
    }
    Ok(())
}

/// The cluster credential, trimmed: from `file` if given, else from
/// `FLINT_CLUSTER_TOKEN` (through `env`, so tests pass a map).
fn cluster_token(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, Usage> {
    let from_env = env(ENV_CLUSTER_TOKEN);
    let (token, source) = match (file, from_env) {
        (Some(_), Some(_)) => {
            return Err(Usage(format!(
                "give the cluster credential once: --cluster-token-file or {ENV_CLUSTER_TOKEN}, not both"
            )));
        }
        (Some(file), None) => {
            let token = std::fs::read_to_string(file).map_err(|e| {
                Usage(format!("cannot read --cluster-token-file {}: {e}", file.display()))
            })?;
            (token, format!("--cluster-token-file {}", file.display()))
        }
        (None, Some(token)) => (token, ENV_CLUSTER_TOKEN.to_owned()),
        (None, None) => {
            return Err(Usage(format!(
                "no cluster credential: pass --cluster-token-file PATH ({ENV_CLUSTER_TOKEN_FILE}) \
                 or set {ENV_CLUSTER_TOKEN}; the controller keeps it in its data folder as cluster.token"
            )));
        }
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Usage(format!("the cluster credential from {source} is empty")));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn cluster_token_from_file_or_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.token");
        std::fs::write(&file, "  secret-from-file\n").unwrap();
        assert_eq!(cluster_token(Some(&file), env(&[])).unwrap(), "secret-from-file");
        assert_eq!(
            cluster_token(None, env(&[(ENV_CLUSTER_TOKEN, " from-env\n")])).unwrap(),
            "from-env"
        );
    }

    #[test]
    fn cluster_token_missing_empty_or_twice_is_a_usage_error() {
        let none = cluster_token(None, env(&[])).unwrap_err().0;
        assert!(
            none.contains("--cluster-token-file") && none.contains(ENV_CLUSTER_TOKEN),
            "{none}"
        );
        let empty = cluster_token(None, env(&[(ENV_CLUSTER_TOKEN, " \n")])).unwrap_err().0;
        assert!(empty.contains("empty"), "{empty}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.token");
        std::fs::write(&file, "\n").unwrap();
        assert!(cluster_token(Some(&file), env(&[])).unwrap_err().0.contains("empty"));
        let both = cluster_token(Some(&file), env(&[(ENV_CLUSTER_TOKEN, "x")])).unwrap_err().0;
        assert!(both.contains("not both"), "{both}");
        let missing = cluster_token(Some(&dir.path().join("nope")), env(&[])).unwrap_err().0;
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
