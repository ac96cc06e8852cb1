//! The store data of one invocation: what the guest can reach.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::LogPipe;

/// Tables a guest may grow to, in elements. Rust guests use a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// How to set up one invocation's [`Host`].
#[derive(Debug, Clone)]
pub struct HostOptions<'a> {
    /// The most linear memory, in bytes, all memories of the instance together may use.
    pub memory_limit: usize,
    /// Environment variables the guest sees (the function's own, never the host's).
    pub env: &'a [(String, String)],
    /// Where the guest's stdout goes.
    pub stdout: LogPipe,
    /// Where the guest's stderr goes.
    pub stderr: LogPipe,
}

/// Store data of one invocation.
///
/// The guest gets WASI with no ambient authority: no preopened directories
/// (so `wasi:filesystem` finds nothing to open), no host environment, no
/// sockets (TCP, UDP and name lookup are all denied) and no outgoing HTTP
/// (`wasi:http/outgoing-handler` answers `HTTP-request-denied`).
pub struct Host {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutgoingHttp,
    limiter: MemoryLimiter,
}

impl Host {
    /// Builds the store data for one invocation.
    pub fn new(options: HostOptions<'_>) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.envs(options.env)
            .stdout(options.stdout)
            .stderr(options.stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        Self {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: DenyOutgoingHttp,
            limiter: MemoryLimiter::new(options.memory_limit),
        }
    }

    /// The memory limiter; install it with `store.limiter(|host| host.limiter_mut())`.
    pub fn limiter_mut(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    /// The memory limiter, to read the peak and whether the limit was hit.
    pub fn limiter(&self) -> &MemoryLimiter {
        &self.limiter
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// `wasi:http` hooks that refuse every outgoing request.
struct DenyOutgoingHttp;

impl WasiHttpHooks for DenyOutgoingHttp {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Limits the linear memory of one instance and records how much it used.
///
/// A growth past the limit fails (the guest sees `memory.grow` return -1,
/// and a Rust guest then aborts); [`MemoryLimiter::exceeded`] tells the
/// invoker that this, and not a bug, stopped the guest.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    limit: usize,
    used: usize,
    exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes in all memories together.
    pub fn new(limit: usize) -> Self {
        Self { limit, used: 0, exceeded: false }
    }

    /// Bytes of linear memory the instance has, all memories together. Memories
    /// only grow, so this is also the peak.
    pub fn peak(&self) -> usize {
        self.used
    }

    /// Whether the guest tried to grow past the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.used.saturating_add(desired.saturating_sub(current));
        if after > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.used = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_all_memories_and_refuses_past_the_limit() {
        let mut limiter = MemoryLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 4 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 4 << 20, None).unwrap());
        assert_eq!(limiter.peak(), 8 << 20);
        assert!(!limiter.memory_growing(4 << 20, 8 << 20, None).unwrap());
        assert!(limiter.exceeded());
        assert_eq!(limiter.peak(), 8 << 20);
    }
}
