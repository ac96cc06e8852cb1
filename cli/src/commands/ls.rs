//! `flint ls`: the functions of a namespace, one per line. Routes that ask
//! callers for a token read `/hello (token)`; in `-o json` they are also
//! listed in `token_routes`.

use std::collections::BTreeMap;

use clap::Args;
use flint_api::{Digest, Function, HttpTrigger, Limits, Name, RouteAuth, Timestamp, Trigger};
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
    /// The routes among `routes` whose callers must present a token.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    token_routes: Vec<String>,
    #[serde(skip)]
    labels: Vec<String>,
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
    let rows: Vec<Row<'_>> =
        functions.iter().map(|f| row(f, routes.get(&f.name).map_or(&[], Vec::as_slice))).collect();

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
            output::joined(&row.labels),
            output::mebibytes(row.limits.memory_mb),
            output::millis(row.limits.timeout_ms),
            output::ago(row.updated_at),
        ]);
    }
    table.print()
}

fn row<'a>(function: &'a Function, routes: &[&HttpTrigger]) -> Row<'a> {
    Row {
        name: &function.name,
        namespace: &function.namespace,
        version: function.version.as_ref(),
        routes: routes.iter().map(|http| output::route(http)).collect(),
        token_routes: routes
            .iter()
            .filter(|http| http.auth == RouteAuth::Token)
            .map(|http| output::route(http))
            .collect(),
        labels: routes.iter().map(|http| output::route_label(http)).collect(),
        limits: &function.limits,
        created_at: function.created_at,
        updated_at: function.updated_at,
    }
}

/// Each function's routes, in trigger-name order.
fn routes_by_function(triggers: &[Trigger]) -> BTreeMap<&Name, Vec<&HttpTrigger>> {
    let mut routes: BTreeMap<&Name, Vec<&HttpTrigger>> = BTreeMap::new();
    for trigger in triggers {
        routes.entry(&trigger.function).or_default().extend(output::http_triggers([&trigger.spec]));
    }
    routes
}

#[cfg(test)]
mod tests {
    use flint_api::TriggerSpec;

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
            spec: TriggerSpec::Http(HttpTrigger::new("/hello")),
            created_at: Timestamp::UNIX_EPOCH,
        };
        let mut token = trigger.clone();
        token.name = "hello-http-2".parse().unwrap();
        token.spec =
            TriggerSpec::Http(HttpTrigger { auth: RouteAuth::Token, ..HttpTrigger::new("/admin") });
        let triggers = [trigger, token];
        let routes = routes_by_function(&triggers);
        let row = row(&function, &routes[&function.name]);
        assert_eq!(row.labels, ["/hello", "/admin (token)"]);
        let json = serde_json::to_value(row).unwrap();
        assert_eq!(json["name"], "hello");
        assert_eq!(json["namespace"], "default");
        assert_eq!(json["version"], serde_json::Value::Null);
        assert_eq!(json["routes"], serde_json::json!(["/hello", "/admin"]));
        assert_eq!(json["token_routes"], serde_json::json!(["/admin"]));
        assert!(json.get("labels").is_none());
        assert_eq!(json["limits"]["memory_mb"], 128);
        assert_eq!(json["updated_at"], "1970-01-01T00:00:00Z");
        assert!(json.get("env").is_none(), "ls never shows environment values");
    }
}
