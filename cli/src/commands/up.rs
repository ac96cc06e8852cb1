//! `flint up`: the controller and an invoker in this process, on an embedded
//! store, and optionally a manifest deployed once they run.
//!
//! `--deploy DIR` is meant to call [`super::deploy::deploy_manifest`] and
//! [`super::deploy::print_call_hints`] once the API answers.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{ENV_DATA, Global};

/// Options of `flint up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Folder for the store and the compiled artifacts; created if missing
    #[arg(long, env = ENV_DATA, default_value = "./.flint", value_name = "DIR")]
    pub data: PathBuf,

    /// Address the API listens on (what --url points at)
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub api_listen: SocketAddr,

    /// Address the functions' HTTP routes listen on
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Once running, build and deploy the manifest in DIR (or the manifest file DIR)
    #[arg(long, value_name = "DIR")]
    pub deploy: Option<PathBuf>,
}

/// Runs Flint until ctrl-c or SIGTERM.
#[expect(unused_variables, reason = "the body comes with the controller and invoker wiring")]
pub async fn run(args: UpArgs, global: &Global) -> anyhow::Result<()> {
    anyhow::bail!("flint up is not wired yet")
}
