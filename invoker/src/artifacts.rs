//! The on-disk cache of compiled artifacts.
//!
//! An artifact is named by the wasm digest and the engine's compatibility
//! hash, so an upgraded invoker never loads an artifact it cannot run, and a
//! restarted one reuses every artifact it has. Versions are compiled when
//! they appear in the change feed ([`Artifacts::prefetch`]), not when they
//! are first called: a request only ever waits for a compile that is
//! already running (or, if the cache lost a file, for a new one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use flint_api::{Client, Digest, ErrorChain};
use prometheus::Histogram;
use sha2::{Digest as _, Sha256};
use tokio::sync::{OnceCell, Semaphore};
use wasmtime::Engine;

/// Errors making an artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The wasm could not be fetched from the controller.
    #[error("cannot fetch {digest} from the controller")]
    Fetch {
        /// The version.
        digest: Digest,
        /// Why.
        #[source]
        source: flint_api::Error,
    },
    /// The controller sent bytes with another digest.
    #[error("the controller sent wasm whose digest is not {0}")]
    DigestMismatch(Digest),
    /// Compilation failed.
    #[error("cannot compile {digest}")]
    Compile {
        /// The version.
        digest: Digest,
        /// Why.
        #[source]
        source: flint_engine::Error,
    },
    /// The cache directory could not be written.
    #[error("cannot write the artifact {path}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("the compile task failed: {0}")]
    Task(String),
}

type Shared = Arc<OnceCell<Result<PathBuf, String>>>;

/// The artifact cache.
pub struct Artifacts {
    dir: PathBuf,
    engine: Engine,
    engine_hash: String,
    client: Client,
    in_flight: Mutex<HashMap<Digest, Shared>>,
    /// Compiling uses every core (wasmtime compiles functions in parallel):
    /// one compile at a time leaves room for requests.
    compile_slots: Semaphore,
    compile_seconds: Histogram,
}

impl Artifacts {
    /// A cache in `dir` (created if missing) for artifacts of `engine`,
    /// fetching wasm from `client`.
    pub fn new(
        dir: &Path,
        engine: Engine,
        client: Client,
        compile_seconds: Histogram,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // Leftovers of writes interrupted by a crash.
        for entry in std::fs::read_dir(dir)?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".partial") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let engine_hash = flint_engine::compatibility_hash(&engine);
        Ok(Self {
            dir: dir.to_owned(),
            engine,
            engine_hash,
            client,
            in_flight: Mutex::default(),
            compile_slots: Semaphore::new(1),
            compile_seconds,
        })
    }

    /// Where the artifact of `digest` lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", digest.hex(), self.engine_hash))
    }

    /// Compiles `digest` in the background unless it is cached.
    pub fn prefetch(self: &Arc<Self>, digest: Digest) {
        if self.path(&digest).exists() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = this.ensure(&digest).await {
                tracing::warn!(%digest, %error, "cannot prepare an artifact; will retry on first call");
            }
        });
    }

    /// The path of the artifact of `digest`, compiling it first if needed.
    /// Concurrent callers for one digest share one compile.
    pub async fn ensure(&self, digest: &Digest) -> Result<PathBuf, Error> {
        let path = self.path(digest);
        if path.exists() {
            return Ok(path);
        }
        let cell = Arc::clone(
            self.in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(digest.clone())
                .or_default(),
        );
        let result = cell
            .get_or_init(|| async {
                self.compile(digest, &path).await.map_err(|e| ErrorChain(&e).to_string())
            })
            .await
            .clone();
        // Done either way: the file exists now, or the next caller retries.
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if in_flight.get(digest).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            in_flight.remove(digest);
        }
        result.map_err(Error::Task)
    }

    /// Removes an artifact that failed to load, so the next call rebuilds it.
    pub fn discard(&self, digest: &Digest) {
        let _ = std::fs::remove_file(self.path(digest));
    }

    async fn compile(&self, digest: &Digest, path: &Path) -> Result<PathBuf, Error> {
        let wasm = self
            .client
            .blob(digest)
            .await
            .map_err(|source| Error::Fetch { digest: digest.clone(), source })?;
        if Digest::from_sha256(&Sha256::digest(&wasm).into()) != *digest {
            return Err(Error::DigestMismatch(digest.clone()));
        }
        let _slot = self.compile_slots.acquire().await.map_err(|e| Error::Task(e.to_string()))?;
        let started = Instant::now();
        let engine = self.engine.clone();
        let artifact =
            tokio::task::spawn_blocking(move || flint_engine::precompile(&engine, &wasm))
                .await
                .map_err(|e| Error::Task(e.to_string()))?
                .map_err(|source| Error::Compile { digest: digest.clone(), source })?;
        self.compile_seconds.observe(started.elapsed().as_secs_f64());
        tracing::info!(%digest, elapsed = ?started.elapsed(), "compiled");
        // Write aside and rename, so a crash never leaves a truncated artifact
        // under the real name.
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        let write = async {
            tokio::fs::write(&partial, &artifact).await?;
            tokio::fs::rename(&partial, path).await
        };
        write.await.map_err(|source| Error::Write { path: path.display().to_string(), source })?;
        Ok(path.to_owned())
    }
}
