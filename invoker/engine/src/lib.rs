//! Flint's one wasmtime configuration, shared by the invoker (which runs
//! functions) and the controller (which validates uploads).
//!
//! Precompiled artifacts only load into an engine with identical settings, and
//! an upload is only worth accepting if it will link on an invoker, so the
//! engine [`Config`], the [`Linker`] (what a guest may
//! import) and the store data [`Host`] live here, once.
//!
//! # Layout
//!
//! - [`engine`] builds the [`Engine`]: pooling allocator, epoch interruption.
//! - [`linker`] links WASI 0.2 (`wasi:cli`, `wasi:clocks`, `wasi:filesystem`,
//!   `wasi:io`, `wasi:random`, `wasi:sockets`) and `wasi:http`.
//! - [`Host`] is the per-invocation store data: no preopened directories, no
//!   host environment, no network, captured stdout/stderr ([`LogPipe`]) and a
//!   memory limit that records the peak ([`MemoryLimiter`]).
//! - [`validate`] checks an upload; [`precompile`] and [`load`] make and read
//!   the artifacts the invoker caches on disk.
//!
//! Running invocations, queues and timeouts are the invoker's business.
#![deny(missing_docs)]

mod host;
mod log_pipe;
mod validate;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::time::Duration;

pub use host::{Host, HostOptions, MemoryLimiter};
pub use log_pipe::LogPipe;
pub use validate::{Invalid, validate};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
pub use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How often the epoch ticker advances the engine's epoch. Timeouts are
/// checked, and long-running guests yield to other tasks, once per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Memory and table bytes per pool slot that are reset in place (only the
/// dirty pages, see [`engine`]) instead of being given back to the kernel.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The export every Flint function has (any `0.2.x` version).
pub const HANDLER_EXPORT: &str = "wasi:http/incoming-handler@0.2";

/// Sizes of the engine's instance pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Component instances that may exist at once in the process, across
    /// all functions. Each needs a pool slot; a full pool refuses new
    /// invocations until one ends.
    pub max_instances: u32,
    /// The largest linear memory one instance may grow to, in MiB; a
    /// function's own limit can only be lower.
    pub max_memory_mb: u32,
}

impl Settings {
    /// Default pool size: 1,000 instances. Slots cost address space, not
    /// memory, until they are used.
    pub const DEFAULT_MAX_INSTANCES: u32 = 1000;
    /// Default maximum memory per instance: 4 GiB, all a 32-bit memory can address.
    pub const DEFAULT_MAX_MEMORY_MB: u32 = 4096;
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_instances: Self::DEFAULT_MAX_INSTANCES,
            max_memory_mb: Self::DEFAULT_MAX_MEMORY_MB,
        }
    }
}

/// Errors building the engine or handling artifacts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine could not be created with these settings.
    #[error("cannot create the wasmtime engine")]
    Engine(#[source] wasmtime::Error),
    /// The linker could not be built.
    #[error("cannot link WASI into the engine")]
    Link(#[source] wasmtime::Error),
    /// Compilation failed.
    #[error("cannot compile the component")]
    Compile(#[source] wasmtime::Error),
    /// A cached artifact could not be loaded (wrong engine, truncated file).
    #[error("cannot load the compiled artifact {path}")]
    Load {
        /// The artifact's path.
        path: String,
        /// Why.
        #[source]
        source: wasmtime::Error,
    },
    /// The component does not have the `wasi:http/proxy` shape after all.
    #[error("the component cannot be prepared as a `wasi:http/proxy` function")]
    Prepare(#[source] wasmtime::Error),
}

/// Result of this crate's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds the engine. Call once per process.
pub fn engine(settings: &Settings) -> Result<Engine> {
    let instances = settings.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances);
    // A Rust `wasm32-wasip2` component instantiates a handful of core modules
    // (the program, the WASI adapter, shims); 8 per component leaves room for
    // other toolchains.
    pool.total_core_instances(instances.saturating_mul(8));
    pool.max_core_instances_per_component(32);
    // The program's memory and the adapter's: two per component.
    pool.total_memories(instances.saturating_mul(2));
    pool.max_memories_per_component(4);
    pool.total_tables(instances.saturating_mul(4));
    pool.max_tables_per_component(8);
    pool.total_stacks(instances);
    pool.max_memory_size(settings.max_memory_mb as usize * 1024 * 1024);
    // When a slot is reused, wasmtime resets its memory. With PAGEMAP_SCAN
    // (Linux 6.7+) it finds the pages the last instance dirtied and `memset`s
    // only those, keeping them resident (no `madvise`, no page faults on
    // the next instance); a small guest dirties a few dozen pages of its
    // 1 MiB+ memory. Without the ioctl, `memset`ting the whole range costs
    // more than it saves, so keep-resident is only used with it.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes);
        pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES);
        pool.table_keep_resident(KEEP_RESIDENT_BYTES);
    }

    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(Error::Engine)
}

/// Builds the linker with every interface a Flint guest may import. Build
/// once per engine and share it.
pub fn linker(engine: &Engine) -> Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(Error::Link)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(Error::Link)?;
    Ok(linker)
}

/// Compiles wasm to an artifact for [`load`]. Slow (tens to hundreds of
/// milliseconds): never call it on a request path.
pub fn precompile(engine: &Engine, wasm: &[u8]) -> Result<Vec<u8>> {
    engine.precompile_component(wasm).map_err(Error::Compile)
}

/// A short hex string that changes whenever artifacts made by one engine
/// cannot be loaded by another (wasmtime version, settings, CPU features).
/// Part of every artifact's cache key.
pub fn compatibility_hash(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Loads an artifact written from [`precompile`]'s output and prepares it
/// for fast instantiation.
///
/// Only pass files this process's cache wrote: see the safety note inside.
pub fn load(linker: &Linker<Host>, path: &Path) -> Result<ProxyPre<Host>> {
    let engine = linker.engine();
    #[expect(unsafe_code, reason = "deserializing precompiled machine code is unsafe by nature")]
    // SAFETY: the file was written by `precompile` into Flint's own cache
    // directory, named by the wasm digest and `compatibility_hash`, and
    // wasmtime checks its header against this engine before using it.
    let component = unsafe { Component::deserialize_file(engine, path) }
        .map_err(|source| Error::Load { path: path.display().to_string(), source })?;
    prepare(linker, &component)
}

/// Resolves a component's imports and checks its export: the `InstancePre`
/// from which every invocation is instantiated.
pub fn prepare(linker: &Linker<Host>, component: &Component) -> Result<ProxyPre<Host>> {
    let pre = linker.instantiate_pre(component).map_err(Error::Prepare)?;
    ProxyPre::new(pre).map_err(Error::Prepare)
}
