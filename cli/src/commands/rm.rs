//! `flint rm NAME…`: deletes functions with their versions and triggers.

use clap::Args;
use flint_api::Name;

use super::{ApiResultExt as _, Global, print_line};

/// Options of `flint rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The functions to delete
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<Name>,
}

/// Deletes each function in turn, stopping at the first error.
pub async fn run(args: RmArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    for name in &args.names {
        client.delete_function(&namespace, name).await.api(&client)?;
        print_line(format_args!("deleted {name}"))?;
    }
    Ok(())
}
