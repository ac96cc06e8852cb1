//! The Flint controller: the source of truth of a Flint installation.
//!
//! It stores functions, their immutable versions (wasm, content-addressed by
//! SHA-256) and their triggers in sled ([`store`]), validates every upload
//! with the invokers' own engine settings (`flint-engine`) before storing
//! anything, and serves the REST API under `/v1` ([`api`]): CRUD for
//! functions and triggers, the change feed invokers follow
//! (`GET /v1/watch`), invoker registration, guest logs, and invocation
//! through a healthy invoker, and the usage ledger ([`usage`]): invokers'
//! usage batches, price plans and cost reports. `/healthz`, `/metrics` and
//! the usage dashboard `/ui` ([`ui`]) sit beside it.
//!
//! It never runs guest code: that is `flint-invoker`'s job, and the two only
//! talk over this API. The wire types are in `flint-api`.
//!
//! # Layout
//!
//! - [`Config`]: settings with their defaults.
//! - [`State`]: everything a request needs; [`run`] serves it.
//! - [`store::Store`]: sled trees and the revisioned feed.
//! - [`logs::Logs`], [`invokers::Invokers`]: in-memory logs and the invoker registry.
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod auth;
pub mod budget;
pub mod invokers;
pub mod logs;
pub mod metrics;
pub mod store;
pub mod ui;
pub mod usage;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flint_api::Limits;
use flint_engine::Host;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wasmtime::component::Linker;

/// Controller settings.
#[derive(Clone)]
pub struct Config {
    /// Directory of the sled store.
    pub store_dir: PathBuf,
    /// Limits of functions that do not set their own.
    pub default_limits: Limits,
    /// Largest wasm upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Largest request or response body passed through `…/invoke`, in bytes.
    pub max_invoke_body_bytes: usize,
    /// Price plan fields to set at start; `None` keeps the stored plan (a
    /// new store starts with the defaults of [`flint_api::PricePlan`]).
    pub price_plan: Option<flint_api::PricePlanSpec>,
    /// Where the first admin token (`admin.token`) and a generated cluster
    /// credential (`cluster.token`) are written, mode 0600.
    pub secrets_dir: PathBuf,
    /// The invokers' cluster credential; `None`: the one kept in
    /// `secrets_dir/cluster.token`, generated on first start.
    pub cluster_token: Option<String>,
    /// Serve `/metrics` without a token (for a scraper on a private network).
    pub metrics_open: bool,
    /// How often namespaces' budgets are checked against the ledger even
    /// when no usage arrives (the month can turn, a plan can change).
    pub budget_interval: std::time::Duration,
    /// Serve the API over TLS with these settings; `None`: plain HTTP.
    pub tls: Option<flint_api::tls::Acceptor>,
}

// By hand, so the cluster credential never reaches a log. The destructuring
// makes a new field a compile error here rather than a silent omission.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            store_dir,
            default_limits,
            max_upload_bytes,
            max_invoke_body_bytes,
            price_plan,
            secrets_dir,
            cluster_token,
            metrics_open,
            budget_interval,
            tls,
        } = self;
        f.debug_struct("Config")
            .field("store_dir", store_dir)
            .field("default_limits", default_limits)
            .field("max_upload_bytes", max_upload_bytes)
            .field("max_invoke_body_bytes", max_invoke_body_bytes)
            .field("price_plan", price_plan)
            .field("secrets_dir", secrets_dir)
            .field("cluster_token", &cluster_token.as_ref().map(|_| "<redacted>"))
            .field("metrics_open", metrics_open)
            .field("budget_interval", budget_interval)
            .field("tls", &tls.is_some())
            .finish()
    }
}

impl Config {
    /// Default upload limit: 64 MiB; a Rust hello world is about 100 KiB,
    /// an interpreter-based component (Python, JavaScript) tens of MiB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 << 20;
    /// Default limit for bodies passed through `…/invoke`: 16 MiB.
    pub const DEFAULT_MAX_INVOKE_BODY_BYTES: usize = 16 << 20;

    /// Settings with every default, storing in `store_dir` and keeping
    /// credentials in its parent folder.
    pub fn new(store_dir: PathBuf) -> Self {
        let secrets_dir = store_dir.parent().map_or_else(|| PathBuf::from("."), Path::to_owned);
        Self {
            secrets_dir,
            cluster_token: None,
            metrics_open: false,
            budget_interval: std::time::Duration::from_secs(30),
            tls: None,
            store_dir,
            default_limits: Limits::default(),
            max_upload_bytes: Self::DEFAULT_MAX_UPLOAD_BYTES,
            max_invoke_body_bytes: Self::DEFAULT_MAX_INVOKE_BODY_BYTES,
            price_plan: None,
        }
    }
}

/// Errors starting the controller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store cannot be opened.
    #[error("cannot open the store in {dir}")]
    Store {
        /// The directory.
        dir: String,
        /// Why.
        #[source]
        source: store::Error,
    },
    /// The metrics cannot be registered.
    #[error("cannot register the controller's metrics")]
    Metrics(#[from] prometheus::Error),
    /// The credentials cannot be set up.
    #[error("cannot set up the API credentials")]
    Auth(#[from] auth::Error),
}

/// Everything a request handler needs.
pub struct State {
    /// Settings.
    pub config: Config,
    /// The durable state.
    pub store: store::Store,
    /// Links uploads against what invokers provide.
    pub linker: Linker<Host>,
    /// Guest logs.
    pub logs: logs::Logs,
    /// Registered invokers.
    pub invokers: invokers::Invokers,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// The registry `/metrics` serves.
    pub registry: prometheus::Registry,
    /// Uploads compile on a blocking thread; one at a time keeps a burst of
    /// deploys from starving the rest of the process.
    pub validations: tokio::sync::Semaphore,
    /// Forwards `…/invoke` requests to invokers.
    pub http: api::invoke::HttpClient,
    /// Cancelled when shutdown starts, so long polls answer at once instead
    /// of holding the graceful shutdown for their whole wait.
    pub stopping: CancellationToken,
    /// The usage ledger and the price plans.
    pub ledger: usage::Ledger,
    /// Metrics of the ledger.
    pub usage_metrics: usage::Metrics,
    /// API tokens and the cluster credential.
    pub tokens: auth::Tokens,
    /// The cluster credential (`flint up` hands it to its invoker).
    cluster_token: String,
    /// Where the first admin token was written.
    admin_token_file: PathBuf,
    /// Namespaces' budgets against the ledger.
    pub budgets: budget::Budgets,
}

impl State {
    /// Opens the store and builds the state. `linker` comes from
    /// `flint_engine::linker`; `registry` receives the controller's metrics
    /// and is what `/metrics` serves.
    pub fn open(
        config: Config,
        linker: Linker<Host>,
        registry: prometheus::Registry,
    ) -> Result<Self, Error> {
        let store = store::Store::open(&config.store_dir).map_err(|source| Error::Store {
            dir: config.store_dir.display().to_string(),
            source,
        })?;
        Self::with_store(config, store, linker, registry)
    }

    /// Builds the state around an opened store (tests use a temporary one).
    pub fn with_store(
        config: Config,
        store: store::Store,
        linker: Linker<Host>,
        registry: prometheus::Registry,
    ) -> Result<Self, Error> {
        let metrics = metrics::Metrics::register(&registry)?;
        metrics.revision.set(store.revision() as i64);
        let ledger =
            usage::Ledger::open(store.db(), config.price_plan.as_ref()).map_err(|source| {
                Error::Store { dir: config.store_dir.display().to_string(), source }
            })?;
        let usage_metrics = usage::Metrics::register(&registry)?;
        let cluster_token = auth::cluster_token(config.cluster_token.clone(), &config.secrets_dir)?;
        let tokens = auth::Tokens::load(&store, &cluster_token)?;
        let admin_token_file = config.secrets_dir.join(auth::ADMIN_TOKEN_FILE);
        if let Some(path) = auth::bootstrap(&store, &tokens, &config.secrets_dir)? {
            eprintln!("admin token written to {}", path.display());
        }
        let budgets = budget::Budgets::register(&registry)?;
        Ok(Self {
            tokens,
            cluster_token,
            admin_token_file,
            budgets,
            config,
            store,
            linker,
            logs: logs::Logs::default(),
            invokers: invokers::Invokers::default(),
            metrics,
            registry,
            validations: tokio::sync::Semaphore::new(1),
            http: api::invoke::client(),
            stopping: CancellationToken::new(),
            ledger,
            usage_metrics,
        })
    }
}

impl State {
    /// The invokers' cluster credential.
    pub fn cluster_token(&self) -> &str {
        &self.cluster_token
    }

    /// Where the first admin token was written (it may since be gone).
    pub fn admin_token_file(&self) -> &Path {
        &self.admin_token_file
    }
}

/// Serves the API on `listener` until `shutdown` is cancelled, then lets
/// requests in flight finish.
pub async fn run(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    tokio::spawn(budget::run(Arc::clone(&state), shutdown.clone()));
    let stopping = state.stopping.clone();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        signal.cancelled().await;
        stopping.cancel();
    });

    let tls = state.config.tls.clone();
    let service = hyper::service::service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, std::convert::Infallible>(api::handle(state, request).await) }
    });
    flint_api::server::serve_with(listener, service, shutdown, tls).await;
}
