//! Helpers for Flint's end-to-end tests: start the real `flint` binary on
//! loopback with port 0, find its addresses from its "listening on" lines,
//! build the guest components from source, and talk HTTP to it.
//!
//! The tests themselves are in `e2e/`. They need the `flint` binary, which
//! `cargo test --workspace` (or `cargo nextest run --workspace`) builds
//! because the CLI crate has integration tests; set `FLINT_BIN` to use
//! another. Guests are built here, on first use, with cargo.
//!
//! # Layout
//!
//! - [`Flint`]: one `flint up` process with its own data folder; its
//!   clients and CLI runs carry the admin token `flint up` wrote.
//! - [`Controller`], [`Invoker`]: the two halves as separate processes; an
//!   invoker gets its controller's cluster credential.
//! - [`auth`]: token files, tokens of a role, the `Authorization` header.
//! - [`guest`]: the path of a guest component, built if needed.
//! - [`http`]: a small HTTP client returning whole responses.
//! - [`openapi`]: the API's OpenAPI document as a contract: answers and
//!   request bodies validated against its schemas.
//! - [`chromium`]: headless Chromium, for the DOM and screenshots of a page;
//!   [`proxy`] adds the token a page needs on the way.

pub mod auth;
pub mod chromium;
mod cluster;
pub mod http;
pub mod kafka;
pub mod openapi;
mod process;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub use cluster::{Controller, Invoker};
pub use process::{CLI_CONFIG, Flint, find_series, sum_series};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// The `flint` binary under test: `$FLINT_BIN`, else the one cargo built
/// next to this test executable (`target/<profile>/flint`).
pub fn flint_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FLINT_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    // Tests run from target/<profile>/deps/, binaries from target/<profile>/.
    let mut dir = exe.parent().expect("executables live in a folder");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps/ has a parent");
    }
    let bin = dir.join("flint");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p flint` (or run the whole suite)",
        bin.display()
    );
    bin
}

/// A guest component of the tests (`tests/guests`) or of the examples
/// (`examples`), by crate name: `testbed`, `hello-http`. Builds the
/// workspace it belongs to for `wasm32-wasip2` once per test process; cargo
/// makes concurrent builds from other test processes wait for each other.
pub fn guest(name: &str) -> PathBuf {
    static TESTS: OnceLock<()> = OnceLock::new();
    static EXAMPLES: OnceLock<()> = OnceLock::new();
    let (workspace, once) = match name {
        "testbed" => ("tests/guests", &TESTS),
        _ => ("examples", &EXAMPLES),
    };
    let dir = repo_root().join(workspace);
    once.get_or_init(|| build_guests(&dir));
    let wasm =
        dir.join("target/wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

fn build_guests(dir: &Path) {
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
            "target",
        ])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the guests in {} failed", dir.display());
}

/// A core wasm module (not a component), for upload tests.
pub fn core_module() -> Vec<u8> {
    wat::parse_str("(module (func (export \"f\")))").expect("valid wat")
}

/// A valid component that exports nothing, so no HTTP handler.
pub fn component_without_handler() -> Vec<u8> {
    wat::parse_str("(component)").expect("valid wat")
}

/// A component that imports an interface Flint does not provide (and
/// exports an instance under the handler's name, so that is not what fails).
pub fn component_with_unknown_import() -> Vec<u8> {
    wat::parse_str(
        r#"(component
            (import "wasi:keyvalue/store@0.2.0-draft" (instance $store (export "get" (func))))
            (instance $handler)
            (export "wasi:http/incoming-handler@0.2.0" (instance $handler)))"#,
    )
    .expect("valid wat")
}

/// A component whose `wasi:http/incoming-handler` export has no `handle`.
pub fn component_with_empty_handler() -> Vec<u8> {
    wat::parse_str(
        r#"(component
            (instance $handler)
            (export "wasi:http/incoming-handler@0.2.0" (instance $handler)))"#,
    )
    .expect("valid wat")
}
