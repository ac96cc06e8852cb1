//! The Flint invoker: the data plane that runs functions.
//!
//! It follows the controller's change feed ([`feed`]), keeps compiled
//! artifacts on local disk ([`artifacts`]), and runs every invocation in a
//! fresh wasmtime instance created from a cached `InstancePre` ([`invoke`]).
//! Functions load on their first call and unload when idle ([`function`]).
//! Triggers start invocations: the HTTP ingress routes requests by host and
//! path prefix ([`trigger::http`]). Guest stdout/stderr are shipped to the
//! controller ([`logs`]); metrics are in [`metrics`]. Every invocation is
//! metered, spooled to disk and shipped to the controller's usage ledger
//! ([`metering`]). Route auth and namespace budgets and rates are checked
//! before anything runs ([`access`]).
//!
//! The engine settings, the linker and the per-invocation host state come
//! from `flint-engine`, shared with the controller's upload validation. The
//! invoker never writes to the controller's store: it reads the feed and
//! reports (registration, logs). Every call to the controller carries the
//! cluster credential ([`Config::cluster_token`]).
//!
//! # Layout
//!
//! - [`Config`]: settings with their defaults; [`Invoker`]: start and run.
//! - [`Runtime`]: what every request needs (registry, artifacts, metrics).
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod access;
pub mod artifacts;
pub mod feed;
pub mod function;
pub mod invoke;
pub mod logs;
pub mod metering;
pub mod metrics;
pub mod registry;
pub mod routes;
pub mod trigger;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use flint_api::{Client, InvokerInfo, Timestamp};
use flint_engine::{Host, ProxyPre};
pub use invoke::{Failure, Outcome, TriggerKind};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmtime::component::Linker;

/// Invoker settings.
#[derive(Clone)]
pub struct Config {
    /// The controller's API, e.g. `http://127.0.0.1:7070`.
    pub controller_url: String,
    /// The cluster credential, shared with the controller: sent as
    /// `Authorization: Bearer` on every call to the controller (feed,
    /// blobs, usage, logs, registration, scheduler), and required on the
    /// admin listener's `/v1/invoke`. At least
    /// [`MIN_CLUSTER_TOKEN_LEN`](Config::MIN_CLUSTER_TOKEN_LEN) printable
    /// ASCII characters; no default ([`Invoker::new`] refuses an empty one).
    pub cluster_token: String,
    /// Where compiled artifacts are cached.
    pub cache_dir: PathBuf,
    /// Largest request body passed to a function, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of stdout (and as many of stderr) kept per invocation for the logs.
    pub log_capture_bytes: usize,
    /// Host name or IP put in the URLs this invoker registers with; `None`
    /// uses the address each listener is bound to.
    pub advertise_host: Option<String>,
    /// This invoker's id; `None` makes one from the host name and process id.
    pub id: Option<String>,
    /// Whether invocations are metered for billing (the usage ledger and
    /// `flint_invoker_billable_memory_byte_seconds_total`). Off, nothing is recorded.
    pub metering: bool,
    /// Where usage waits on disk until the controller has it.
    pub usage_dir: PathBuf,
    /// How often usage is written to `usage_dir`: a `kill -9` loses at most
    /// the invocations that ended within the last interval.
    pub usage_flush_interval: Duration,
    /// Serve the HTTP ingress over TLS with these settings; `None`: plain
    /// HTTP. The admin listener stays plain (it is for the cluster only).
    pub tls: Option<flint_api::tls::Acceptor>,
    /// CA certificates (PEM) to trust for an `https://` controller besides
    /// the web's roots.
    pub controller_ca: Option<PathBuf>,
}

impl Config {
    /// Default request body limit: 16 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;
    /// Default log capture per stream and invocation: 64 KiB.
    pub const DEFAULT_LOG_CAPTURE_BYTES: usize = 64 << 10;
    /// Default usage flush interval: 100 ms, ten small file writes a second
    /// while functions run, and the most a `kill -9` can lose.
    pub const DEFAULT_USAGE_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
    /// Shortest cluster credential, as the controller requires.
    pub const MIN_CLUSTER_TOKEN_LEN: usize = 32;

    /// Settings with every default, and no cluster credential: set
    /// [`cluster_token`](Config::cluster_token) before [`Invoker::new`].
    pub fn new(controller_url: String, cache_dir: PathBuf) -> Self {
        Self {
            controller_url,
            cluster_token: String::new(),
            usage_dir: cache_dir.join("usage"),
            cache_dir,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            log_capture_bytes: Self::DEFAULT_LOG_CAPTURE_BYTES,
            advertise_host: None,
            id: None,
            metering: true,
            usage_flush_interval: Self::DEFAULT_USAGE_FLUSH_INTERVAL,
            tls: None,
            controller_ca: None,
        }
    }

    /// Checks what has no usable default: the cluster credential.
    pub fn validate(&self) -> Result<(), Error> {
        let token = &self.cluster_token;
        if token.is_empty() {
            return Err(Error::ClusterToken("no cluster credential was given"));
        }
        if token.len() < Self::MIN_CLUSTER_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::ClusterToken(
                "the cluster credential must be at least 32 printable ASCII characters",
            ));
        }
        Ok(())
    }
}

// By hand, so the cluster credential never reaches a log. The destructuring
// makes a new field a compile error here rather than a silent omission.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            controller_url,
            cluster_token: _,
            cache_dir,
            max_body_bytes,
            log_capture_bytes,
            advertise_host,
            id,
            metering,
            usage_dir,
            usage_flush_interval,
            tls,
            controller_ca,
        } = self;
        f.debug_struct("Config")
            .field("controller_url", controller_url)
            .field("cluster_token", &"<redacted>")
            .field("cache_dir", cache_dir)
            .field("max_body_bytes", max_body_bytes)
            .field("log_capture_bytes", log_capture_bytes)
            .field("advertise_host", advertise_host)
            .field("id", id)
            .field("metering", metering)
            .field("usage_dir", usage_dir)
            .field("usage_flush_interval", usage_flush_interval)
            .field("tls", &tls.is_some())
            .field("controller_ca", controller_ca)
            .finish()
    }
}

/// Errors starting the invoker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The controller URL is not usable.
    #[error("invalid controller URL")]
    ControllerUrl(#[source] flint_api::Error),
    /// The cluster credential is missing or unusable.
    #[error("{0}")]
    ClusterToken(&'static str),
    /// The artifact cache cannot be created.
    #[error("cannot use the artifact cache {dir}")]
    Cache {
        /// The directory.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The metrics cannot be registered.
    #[error("cannot register the invoker's metrics")]
    Metrics(#[from] prometheus::Error),
    /// A listener has no local address.
    #[error("cannot read a listener's address")]
    Listener(#[source] std::io::Error),
}

/// What every invocation needs.
pub struct Runtime {
    /// Settings.
    pub config: Config,
    /// The linker (and through it, the engine).
    pub linker: Linker<Host>,
    /// The controller.
    pub client: Client,
    /// Functions and routes.
    pub registry: registry::Registry,
    /// Compiled artifacts.
    pub artifacts: Arc<artifacts::Artifacts>,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// The registry `/metrics` serves.
    pub prometheus: prometheus::Registry,
    /// Instance slots of the whole process (the engine's pool size).
    pub instances: Arc<Semaphore>,
    /// Guest logs on their way to the controller.
    pub logs: logs::LogSender,
    /// Usage on its way to the controller.
    pub meter: metering::Meter,
    /// The last change-feed revision applied.
    pub revision: AtomicU64,
    /// Whether the feed has been applied at least once (readiness).
    pub synced: AtomicBool,
    /// Signalled when the feed brought changes (or a trigger's health
    /// changed), so the invoker reports at once.
    pub applied: tokio::sync::Notify,
    /// How its Kafka triggers are doing, reported with each registration.
    pub trigger_health: trigger::kafka::Health,
}

impl Runtime {
    /// Loads a function's artifact and prepares it. If the cached artifact
    /// cannot be loaded it is rebuilt once.
    pub async fn load(
        self: &Arc<Self>,
        function: &function::Function,
    ) -> Result<ProxyPre<Host>, Failure> {
        let started = std::time::Instant::now();
        let digest = &function.deployment.digest;
        let not_ready = |e: &(dyn std::error::Error + 'static)| {
            Failure::NotReady(flint_api::ErrorChain(e).to_string())
        };
        let mut rebuilt = false;
        loop {
            let path = self.artifacts.ensure(digest).await.map_err(|e| not_ready(&e))?;
            let runtime = Arc::clone(self);
            let loaded =
                tokio::task::spawn_blocking(move || flint_engine::load(&runtime.linker, &path))
                    .await
                    .map_err(|e| Failure::NotReady(e.to_string()))?;
            match loaded {
                Ok(pre) => {
                    function.metrics.cold_start().observe(started.elapsed().as_secs_f64());
                    return Ok(pre);
                }
                Err(error) if !rebuilt => {
                    tracing::warn!(%digest, error = %flint_api::ErrorChain(&error), "discarding an unloadable artifact");
                    self.artifacts.discard(digest);
                    rebuilt = true;
                }
                Err(error) => return Err(not_ready(&error)),
            }
        }
    }
}

/// An invoker, ready to [`run`](Invoker::run).
pub struct Invoker {
    runtime: Arc<Runtime>,
    log_receiver: logs::LogReceiver,
}

impl Invoker {
    /// Builds the invoker. `linker` comes from `flint_engine::linker` (its
    /// engine must be built with `settings`); `registry` receives the
    /// invoker's metrics and is what the admin `/metrics` serves.
    pub fn new(
        config: Config,
        linker: Linker<Host>,
        settings: &flint_engine::Settings,
        registry: prometheus::Registry,
    ) -> Result<Self, Error> {
        config.validate()?;
        let client = Client::with_ca(&config.controller_url, config.controller_ca.as_deref())
            .map_err(Error::ControllerUrl)?
            .with_token(Some(config.cluster_token.clone()));
        let metrics = metrics::Metrics::register(&registry)?;
        let artifacts = artifacts::Artifacts::new(
            &config.cache_dir,
            linker.engine().clone(),
            client.clone(),
            metrics.compile_seconds.clone(),
        )
        .map_err(|source| Error::Cache { dir: config.cache_dir.display().to_string(), source })?;
        let (logs, log_receiver) = logs::channel(metrics.logs_dropped.clone());
        let meter = metering::Meter::new(config.metering, &registry)?;
        let runtime = Runtime {
            config,
            linker,
            client,
            registry: registry::Registry::new(metrics.clone()),
            artifacts: Arc::new(artifacts),
            metrics,
            prometheus: registry,
            instances: Arc::new(Semaphore::new(settings.max_instances as usize)),
            logs,
            meter,
            revision: AtomicU64::new(0),
            synced: AtomicBool::new(false),
            applied: tokio::sync::Notify::new(),
            trigger_health: Default::default(),
        };
        Ok(Self { runtime: Arc::new(runtime), log_receiver })
    }

    /// The runtime, for tests and for `flint up`.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Serves the HTTP ingress on `http` and the admin endpoints on `admin`,
    /// follows the controller, until `shutdown` is cancelled; then stops
    /// accepting, lets invocations in flight finish and ships the last logs.
    pub async fn run(
        self,
        http: TcpListener,
        admin: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), Error> {
        let runtime = self.runtime;
        let info = registration(&runtime.config, &http, &admin)?;
        tracing::info!(id = %info.id, http = %info.http_url, admin = %info.admin_url, "invoker starting");
        let _ticker = EpochTicker::start(runtime.linker.engine().clone());

        let metering = metering::ship::start(&runtime, info.id.clone());
        let tasks = TaskTracker::new();
        let stop_servers = shutdown.child_token();
        let stop_background = CancellationToken::new();
        tasks.spawn(feed::follow(Arc::clone(&runtime), stop_background.clone()));
        tasks.spawn(trigger::schedule::run(
            Arc::clone(&runtime),
            info.id.clone(),
            stop_background.clone(),
        ));
        tasks.spawn(trigger::kafka::run(Arc::clone(&runtime), stop_background.clone()));
        tasks.spawn(feed::heartbeat(Arc::clone(&runtime), info, stop_background.clone()));

        tasks.spawn(feed::reap(Arc::clone(&runtime), stop_background.clone()));
        let shipper = tokio::spawn(logs::ship(
            self.log_receiver,
            runtime.client.clone(),
            stop_background.clone(),
        ));

        let ingress = {
            let runtime = Arc::clone(&runtime);
            hyper::service::service_fn(move |request| {
                let runtime = Arc::clone(&runtime);
                async move {
                    Ok::<_, std::convert::Infallible>(
                        trigger::http::ingress(runtime, request).await,
                    )
                }
            })
        };
        let admin_service = {
            let runtime = Arc::clone(&runtime);
            hyper::service::service_fn(move |request| {
                let runtime = Arc::clone(&runtime);
                async move {
                    Ok::<_, std::convert::Infallible>(trigger::http::admin(runtime, request).await)
                }
            })
        };
        let servers = TaskTracker::new();
        let tls = runtime.config.tls.clone();
        servers.spawn(flint_api::server::serve_with(http, ingress, stop_servers.clone(), tls));
        servers.spawn(flint_api::server::serve(admin, admin_service, stop_servers));
        servers.close();
        servers.wait().await;

        // Servers have drained their requests; stop the rest and flush logs
        // and usage.
        if let Some(metering) = metering {
            metering.stop().await;
        }
        stop_background.cancel();
        tasks.close();
        tasks.wait().await;
        let _ = shipper.await;
        Ok(())
    }
}

/// What this invoker tells the controller about itself.
fn registration(
    config: &Config,
    http: &TcpListener,
    admin: &TcpListener,
) -> Result<InvokerInfo, Error> {
    let http_addr = http.local_addr().map_err(Error::Listener)?;
    let admin_addr = admin.local_addr().map_err(Error::Listener)?;
    let url = |scheme: &str, addr: std::net::SocketAddr| match &config.advertise_host {
        // An IPv6 literal needs brackets in a URL.
        Some(host) if host.contains(':') && !host.starts_with('[') => {
            format!("{scheme}://[{host}]:{}", addr.port())
        }
        Some(host) => format!("{scheme}://{host}:{}", addr.port()),
        None => format!("{scheme}://{addr}"),
    };
    let ingress_scheme = if config.tls.is_some() { "https" } else { "http" };

    let id = config.id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let host = host.trim();
        format!("{}-{}", if host.is_empty() { "invoker" } else { host }, std::process::id())
    });
    Ok(InvokerInfo {
        id,
        http_url: url(ingress_scheme, http_addr),
        admin_url: url("http", admin_addr),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        revision: 0,
        started_at: Timestamp::now(),
        triggers: Vec::new(),
    })
}

/// Advances the engine's epoch every [`flint_engine::EPOCH_TICK`] on a
/// thread of its own; stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("flint-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(flint_engine::EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long `run` gives invocations in flight after shutdown starts, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
