//! Write Flint functions in Rust.
//!
//! A Flint function is a WASI 0.2 component of the `wasi:http/proxy` world: it
//! exports `wasi:http/incoming-handler`. This crate turns that interface into
//! one plain function from a [`Request`] to a [`Response`]:
//!
//! ```no_run
//! use flint_sdk::{Request, Response};
//!
//! fn handle(req: Request) -> Response {
//!     let name = req.query_param("name").unwrap_or("world".into());
//!     Response::text(200, format!("Hello, {name}!\n"))
//! }
//!
//! flint_sdk::http_handler!(handle);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` from a crate
//! with `crate-type = ["cdylib"]`; the `.wasm` file is the component to deploy.
//!
//! # Layout
//!
//! - [`Request`]: method, path, query, headers and the whole body, read
//!   before the handler runs.
//! - [`Response`]: status, headers and body, written after the handler returns.
//! - [`CloudEvent`]: a typed view of a request that carries a CloudEvent 1.0
//!   in HTTP binary content mode ([`Request::event`]), which is how Flint
//!   delivers feed and schedule triggers.
//! - [`http_handler!`] exports the handler; [`wasip2`] is re-exported so a
//!   function needs no direct dependency on the bindings, and can still reach
//!   any other WASI interface through them.
//!
//! # What it leaves to others
//!
//! The host decides everything about the environment: limits, timeouts,
//! environment variables, and what a function may reach (Flint grants no
//! filesystem and no network). Streaming bodies are not supported: the request
//! body is read whole and the response body written whole, which suits
//! functions with small payloads. Everything but the `wasi:http` glue is plain
//! Rust, so a handler can be unit-tested on the host with [`Request::new`].
#![deny(missing_docs)]

mod event;
mod query;
mod request;
mod response;
mod serve;

pub use event::CloudEvent;
pub use request::Request;
pub use response::Response;
/// The WASI 0.2 bindings the SDK is built on, for interfaces it does not wrap.
pub use wasip2;

/// Not public API: what [`http_handler!`] expands to needs these paths.
#[doc(hidden)]
pub mod __private {
    pub use crate::serve::serve;
    pub use wasip2::exports::http::incoming_handler::Guest;
    pub use wasip2::http::types::{IncomingRequest, ResponseOutparam};
}

/// Exports `handler`, a `fn(Request) -> Response`, as the component's
/// `wasi:http/incoming-handler`.
///
/// Use it once per component, at the top level of the crate.
#[macro_export]
macro_rules! http_handler {
    ($handler:path) => {
        // A block keeps the helper type out of the author's namespace.
        const _: () = {
            struct FlintHttpHandler;

            impl $crate::__private::Guest for FlintHttpHandler {
                fn handle(
                    request: $crate::__private::IncomingRequest,
                    response_out: $crate::__private::ResponseOutparam,
                ) {
                    $crate::__private::serve(request, response_out, $handler);
                }
            }

    $crate::wasip2::http::proxy::export!(FlintHttpHandler with_types_in $crate::wasip2);
        };
    };
}
