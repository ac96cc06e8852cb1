//! `flint invokers`: the invokers registered with the controller, and
//! whether each is healthy (reported within the last 15 s).

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Lists the invokers.
pub async fn run(global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let invokers = client.list_invokers().await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &invokers);
    }
    let mut table =
        Table::new(&["ID", "STATE", "HTTP", "ADMIN", "VERSION", "REVISION", "LAST SEEN"]);
    for invoker in &invokers {
        let unhealthy = invoker.info.triggers.iter().filter(|t| !t.healthy).count();
        let state = match (invoker.healthy, unhealthy) {
            (false, _) => "unreachable".to_owned(),
            (true, 0) => "ready".to_owned(),
            (true, n) => format!("ready, {n} trigger(s) failing"),
        };
        table.row(vec![
            invoker.info.id.clone(),
            state,
            invoker.info.http_url.clone(),
            invoker.info.admin_url.clone(),
            invoker.info.version.clone(),
            invoker.info.revision.to_string(),
            output::ago(invoker.last_seen),
        ]);
    }
    table.print()
}
