//! `flint`, the command line of Flint: scaffold, build and deploy functions,
//! call them, read their logs, and run Flint on one machine with `flint up`.
//!
//! Everything but `flint up` talks to a controller over its REST API through
//! [`flint_api::Client`]; the wire types and their validation live in
//! `flint-api`, so this crate only parses arguments, reads the manifest and
//! prints. `flint up` runs the controller and an invoker in this process.
//!
//! # Layout
//!
//! - `commands`: the global options (`Global`, which also finds the API
//!   token) and one module per verb in `commands/<verb>.rs`.
//!   `commands::deploy::deploy_manifest` is the deploy logic that
//!   `flint up --deploy` reuses.
//! - `config`: the CLI's config file, where `flint login` and `flint up`
//!   store a token per server URL.
//! - `manifest`: the `flint.toml` format (`Manifest`), parsed and checked
//!   before anything is built or sent.
//! - `output`: tables, JSON and YAML for `-o`, and the escaping of control
//!   characters in what the API stored.
//!
//! Errors are `anyhow` errors with context; `main` prints the chain once as
//! `error: …` on stderr (with a `hint: …` line when a call failed for want
//! of a token) and exits with 1. Usage errors exit with 2 (clap).

mod commands;
mod config;
mod manifest;
mod output;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::{Command, Global};

// mimalloc instead of glibc's malloc: an invocation makes many small,
// short-lived allocations across two threads, where it measured faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line: global options and one verb.
#[derive(Debug, Parser)]
#[command(
    name = "flint",
    version,
    about = "Deploy and run WebAssembly functions on Flint",
    long_about = "Deploy and run WebAssembly functions (wasi:http/proxy components) on Flint.\n\n\
        Start with `flint new hello`, then `cd hello && flint deploy` and `flint invoke hello`.\n\
        `flint up` runs a whole Flint (controller and invoker) on this machine.",
    max_term_width = 100
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    // Exits with 2 on a usage error and 0 after --help or --version.
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(commands::run(cli.command, &cli.global));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Like ripgrep: `flint logs | head` closing the pipe is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // The chain can hold text the API echoed back from what someone
            // stored: no raw control characters on the terminal.
            eprintln!("error: {}", output::escape_text(&format!("{err:#}")));
            if let Some(hint) = commands::unauthorized_hint(&err, &cli.global) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Whether the error comes from writing to a closed stdout.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
