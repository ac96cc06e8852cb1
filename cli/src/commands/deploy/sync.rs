//! Makes a function's triggers exactly those it declares: puts the declared
//! ones that differ from what the controller has, deletes the others.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context as _;
use flint_api::{Client, HttpTrigger, Name, Trigger, TriggerRequest, TriggerSpec};

use super::Plan;
use crate::commands::ApiResultExt as _;
use crate::output;

/// What to send, in order.
#[derive(Debug, Default, PartialEq)]
struct Changes {
    /// Stale triggers on a host and route that a declared one takes over:
    /// deleted before the puts, or the controller could refuse the route as taken.
    delete_first: Vec<Name>,
    /// Declared triggers that are missing or differ.
    put: Vec<(Name, TriggerRequest)>,
    /// The other stale triggers, deleted last so a route never goes missing
    /// while its replacement is on the way.
    delete_last: Vec<Name>,
}

/// Syncs the triggers of the plans that declare them. Returns every planned
/// function's HTTP routes after the sync.
pub async fn triggers(
    client: &Client,
    namespace: &Name,
    plans: &[Plan],
) -> anyhow::Result<BTreeMap<Name, Vec<HttpTrigger>>> {
    let existing = client.list_triggers(namespace).await.api(client)?;
    let changes = diff(&existing, plans);
    for name in &changes.delete_first {
        delete(client, namespace, name).await?;
    }
    for (name, request) in &changes.put {
        let what = match &request.spec {
            TriggerSpec::Http(http) => format!("route `{}`", output::route(http)),
            other => format!("{} trigger", other.kind()),
        };
        client.put_trigger(namespace, name, request).await.api(client).with_context(|| {
            format!("cannot create trigger `{name}` ({what}) of `{}`", request.function)
        })?;
    }
    for name in &changes.delete_last {
        delete(client, namespace, name).await?;
    }

    let mut routes = BTreeMap::new();
    for plan in plans {
        let specs: Vec<&TriggerSpec> = match &plan.triggers {
            Some(declared) => declared.iter().map(|(_, spec)| spec).collect(),
            None => existing.iter().filter(|t| t.function == plan.name).map(|t| &t.spec).collect(),
        };
        let http = specs
            .into_iter()
            .filter_map(|spec| match spec {
                TriggerSpec::Http(http) => Some(http.clone()),
                _ => None,
            })
            .collect();
        routes.insert(plan.name.clone(), http);
    }
    Ok(routes)
}

async fn delete(client: &Client, namespace: &Name, name: &Name) -> anyhow::Result<()> {
    match client.delete_trigger(namespace, name).await {
        // Deleted meanwhile: what we wanted.
        Err(err) if err.status() == Some(http::StatusCode::NOT_FOUND) => Ok(()),
        result => {
            result.api(client).with_context(|| format!("cannot delete the old trigger `{name}`"))
        }
    }
}

/// Works out the changes from the controller's triggers and the plans.
fn diff(existing: &[Trigger], plans: &[Plan]) -> Changes {
    let managed: HashSet<&Name> =
        plans.iter().filter(|p| p.triggers.is_some()).map(|p| &p.name).collect();
    let mut declared_names = HashSet::new();
    let mut declared_routes = HashSet::new();
    let mut changes = Changes::default();
    for plan in plans {
        for (name, spec) in plan.triggers.iter().flatten() {
            declared_names.insert(name);
            if let TriggerSpec::Http(http) = spec {
                declared_routes.insert((&http.host, &http.route));
            }
            let unchanged = existing
                .iter()
                .any(|t| &t.name == name && t.function == plan.name && &t.spec == spec);
            if !unchanged {
                let request = TriggerRequest { function: plan.name.clone(), spec: spec.clone() };
                changes.put.push((name.clone(), request));
            }
        }
    }
    for trigger in existing {
        if !managed.contains(&trigger.function) || declared_names.contains(&trigger.name) {
            continue;
        }
        // `--route` speaks for the function's routes only, not its schedules.
        let plan = plans.iter().find(|p| p.name == trigger.function);
        if plan.and_then(|p| p.kind).is_some_and(|kind| kind != trigger.spec.kind()) {
            continue;
        }
        let takes_route = matches!(&trigger.spec, TriggerSpec::Http(http)
            if declared_routes.contains(&(&http.host, &http.route)));
        if takes_route {
            changes.delete_first.push(trigger.name.clone());
        } else {
            changes.delete_last.push(trigger.name.clone());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use flint_api::{Digest, FunctionSpec, Timestamp};

    use super::*;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn http(route: &str) -> TriggerSpec {
        TriggerSpec::Http(HttpTrigger::new(route))
    }

    fn trigger(trigger: &str, function: &str, route: &str) -> Trigger {
        Trigger {
            namespace: Name::default_namespace(),
            name: name(trigger),
            function: name(function),
            spec: http(route),
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn plan(function: &str, triggers: Option<Vec<(&str, &str)>>) -> Plan {
        Plan {
            name: name(function),
            wasm: Bytes::new(),
            digest: Digest::from_sha256(&[0; 32]),
            spec: FunctionSpec::default(),
            triggers: triggers.map(|t| t.into_iter().map(|(n, r)| (name(n), http(r))).collect()),
            kind: None,
        }
    }

    #[test]
    fn declared_triggers_are_put_only_when_they_differ() {
        let existing = [trigger("a-http", "a", "/a")];
        let changes = diff(&existing, &[plan("a", Some(vec![("a-http", "/a")]))]);
        assert_eq!(changes, Changes::default());

        let moved = diff(&existing, &[plan("a", Some(vec![("a-http", "/b")]))]);
        assert_eq!(moved.put.len(), 1);
        assert_eq!(moved.put[0].0, name("a-http"));
        assert!(moved.delete_first.is_empty() && moved.delete_last.is_empty());
    }

    #[test]
    fn undeclared_triggers_of_deployed_functions_are_deleted() {
        let existing = [
            trigger("a-http-1", "a", "/a"),
            trigger("a-http-2", "a", "/old"),
            trigger("b-http", "b", "/b"),
            trigger("c-http", "c", "/c"),
        ];
        let plans = [plan("a", Some(vec![("a-http", "/a")])), plan("b", None)];
        let changes = diff(&existing, &plans);
        // `/a` moves from a-http-1 to a-http: the old one goes first.
        assert_eq!(changes.delete_first, vec![name("a-http-1")]);
        assert_eq!(
            changes.put.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            vec![name("a-http")]
        );
        // b declares nothing (no --route) and c is not deployed: both keep theirs.
        assert_eq!(changes.delete_last, vec![name("a-http-2")]);
    }

    #[test]
    fn a_trigger_of_another_function_is_taken_over_by_name() {
        let existing = [trigger("a-http", "z", "/a")];
        let changes = diff(&existing, &[plan("a", Some(vec![("a-http", "/a")]))]);
        assert_eq!(changes.put.len(), 1);
        assert_eq!(changes.put[0].1.function, name("a"));
    }
}
