//! `flint whoami`: the token the other verbs would send, as the controller
//! sees it (`GET /v1/whoami`), and where the token came from.

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Prints the caller's name, role and namespaces.
pub async fn run(global: &Global) -> anyhow::Result<()> {
    let token = global.resolve_token()?;
    let client = global.client()?;
    let whoami = client.whoami().await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &whoami);
    }
    let mut table = Table::plain();
    table.row(vec!["name:".into(), whoami.name.clone()]);
    table.row(vec!["role:".into(), whoami.role.to_string()]);
    table.row(vec!["namespaces:".into(), whoami.namespaces.to_string()]);
    table.row(vec!["token id:".into(), whoami.id.clone()]);
    table.row(vec!["server:".into(), client.base_url().to_owned()]);
    if let Some(token) = token {
        table.row(vec!["token from:".into(), token.source.to_string()]);
    }
    table.print()
}
