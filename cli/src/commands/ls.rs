//! `flint ls`: the functions of a namespace, one per line.

use std::collections::BTreeMap;

use clap::Args;
use flint_api::{Digest, Function, Limits, Name, Timestamp, Trigger};
use serde::Serialize;

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Options of `flint ls`.
#[derive(Debug, Args)]
pub struct LsArgs {}

/// One function as `-o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    name: &'a Name,
    namespace: &'a Name,
    /// The full digest of the version that runs, or null.
    version: Option<&'a Digest>,
    routes: Vec<String>,
    limits: &'a Limits,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// Lists the functions with their routes.
pub async fn run(_args: LsArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let functions = client.list_functions(&namespace).await.api(&client)?;
    let triggers = client.list_triggers(&namespace).await.api(&client)?;
    let routes = routes_by_function(&triggers);
    let no_routes = Vec::new();
    let rows: Vec<Row<'_>> = functions
        .iter()
        .map(|f| row(f, routes.get(&f.name).unwrap_or(&no_routes).clone()))
        .collect();

    if global.output != Output::Table {
        return output::print_structured(global.output, &rows);
    }
    if rows.is_empty() {
        eprintln!("no functions in namespace `{namespace}`");
        return Ok(());
    }
    let mut table = Table::new(&["NAME", "VERSION", "ROUTES", "MEMORY", "TIMEOUT", "UPDATED"]);
    for row in &rows {
        table.row(vec![
            row.name.to_string(),
            row.version.map_or_else(|| "-".to_owned(), |d| d.short().to_owned()),
            output::joined(&row.routes),
            output::mebibytes(row.limits.memory_mb),
            output::millis(row.limits.timeout_ms),
            output::ago(row.updated_at),
        ]);
    }
    table.print()
}

fn row(function: &Function, routes: Vec<String>) -> Row<'_> {
    Row {
        name: &function.name,
        namespace: &function.namespace,
        version: function.version.as_ref(),
        routes,
        limits: &function.limits,
        created_at: function.created_at,
        updated_at: function.updated_at,
    }
}

/// Each function's routes, in trigger-name order.
fn routes_by_function(triggers: &[Trigger]) -> BTreeMap<Name, Vec<String>> {
    let mut routes: BTreeMap<Name, Vec<String>> = BTreeMap::new();
    for trigger in triggers {
        routes.entry(trigger.function.clone()).or_default().extend(output::routes([&trigger.spec]));
    }
    routes
}

#[cfg(test)]
mod tests {
    use flint_api::{HttpTrigger, TriggerSpec};

    use super::*;

    #[test]
    fn json_rows_have_the_documented_fields() {
        let function = Function {
            namespace: Name::default_namespace(),
            name: "hello".parse().unwrap(),
            version: None,
            limits: Limits::default(),
            env: BTreeMap::from([("SECRET".into(), "x".into())]),
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        };
        let trigger = Trigger {
            namespace: Name::default_namespace(),
            name: "hello-http".parse().unwrap(),
            function: function.name.clone(),
            spec: TriggerSpec::Http(HttpTrigger {
                route: "/hello".into(),
                host: None,
                methods: vec![],
            }),
            created_at: Timestamp::UNIX_EPOCH,
        };
        let routes = routes_by_function(&[trigger]);
        let json = serde_json::to_value(row(&function, routes[&function.name].clone())).unwrap();
        assert_eq!(json["name"], "hello");
        assert_eq!(json["namespace"], "default");
        assert_eq!(json["version"], serde_json::Value::Null);
        assert_eq!(json["routes"], serde_json::json!(["/hello"]));
        assert_eq!(json["limits"]["memory_mb"], 128);
        assert_eq!(json["updated_at"], "1970-01-01T00:00:00Z");
        assert!(json.get("env").is_none(), "ls never shows environment values");
    }
}
