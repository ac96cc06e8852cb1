//! `flint describe NAME`: one function with its limits, environment,
//! versions and triggers.
//!
//! Environment values can be secrets, so only the names are shown unless
//! `--show-env` asks for the values too. Routes that ask callers for a
//! token read `/hello (token)`.
//!
//! Strings someone stored (environment, Kafka settings, error details) may
//! hold control characters; the table output escapes them
//! ([`output::escape`]) so they cannot drive the reader's terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use flint_api::scheduler::{RunOutcome, ScheduleStatus};
use flint_api::{
    Digest, Function, KafkaTrigger, Limits, MissedPolicy, Name, ScheduleTrigger, Timestamp,
    Trigger, TriggerSpec, TriggerStatus, Version, human_bytes,
};
use serde::Serialize;

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Options of `flint describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The function
    #[arg(value_name = "NAME")]
    pub name: Name,

    /// Show the environment's values, not only its names
    #[arg(long)]
    pub show_env: bool,
}

/// The function as `-o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct Description {
    name: Name,
    namespace: Name,
    version: Option<Digest>,
    limits: Limits,
    /// The variable names, or with `--show-env` the names and values.
    env: Env,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Newest first.
    versions: Vec<Version>,
    triggers: Vec<TriggerRow>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Env {
    Names(Vec<String>),
    Values(BTreeMap<String, String>),
}

#[derive(Debug, Serialize)]
struct TriggerRow {
    name: Name,
    spec: TriggerSpec,
    created_at: Timestamp,
    /// For schedules: last and next fire times and recent runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleStatus>,
    /// For Kafka consumers: their health on each invoker.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Vec<TriggerStatus>>,
}

/// Runs shown per schedule in the table output.
const RUNS_SHOWN: usize = 10;

/// Prints the function.
pub async fn run(args: DescribeArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let function = client.get_function(&namespace, &args.name).await.api(&client)?;
    let mut versions = client.list_versions(&namespace, &args.name).await.api(&client)?;
    let triggers = client.list_triggers(&namespace).await.api(&client)?;
    versions.reverse();
    let mut description = describe(function, versions, triggers, args.show_env);
    for row in &mut description.triggers {
        match row.spec {
            TriggerSpec::Schedule(_) => {
                row.schedule =
                    Some(client.schedule_status(&namespace, &row.name).await.api(&client)?);
            }
            TriggerSpec::Kafka(_) => {
                row.status = Some(client.trigger_status(&namespace, &row.name).await.api(&client)?);
            }
            _ => {}
        }
    }
    if global.output != Output::Table {
        return output::print_structured(global.output, &description);
    }
    std::io::stdout().write_all(render(&description).as_bytes()).context("writing to stdout")
}

fn describe(
    function: Function,
    versions: Vec<Version>,
    triggers: Vec<Trigger>,
    show_env: bool,
) -> Description {
    let env = if show_env {
        Env::Values(function.env)
    } else {
        Env::Names(function.env.into_keys().collect())
    };
    let triggers = triggers
        .into_iter()
        .filter(|t| t.function == function.name)
        .map(|t| TriggerRow {
            name: t.name,
            spec: t.spec,
            created_at: t.created_at,
            schedule: None,
            status: None,
        })
        .collect();
    Description {
        name: function.name,
        namespace: function.namespace,
        version: function.version,
        limits: function.limits,
        env,
        created_at: function.created_at,
        updated_at: function.updated_at,
        versions,
        triggers,
    }
}

/// The description for people.
fn render(d: &Description) -> String {
    let mut text = String::new();
    let when =
        |t: Timestamp| format!("{} ({})", t.strftime("%Y-%m-%d %H:%M:%S UTC"), output::ago(t));
    let limits = &d.limits;
    let _ = writeln!(text, "Name:        {}", d.name);
    let _ = writeln!(text, "Namespace:   {}", d.namespace);
    let _ = writeln!(
        text,
        "Version:     {}",
        d.version.as_ref().map_or("- (no code uploaded)", |v| v.as_str())
    );
    let _ = writeln!(text, "Created:     {}", when(d.created_at));
    let _ = writeln!(text, "Updated:     {}", when(d.updated_at));
    let _ = writeln!(text, "Limits:");
    let _ = writeln!(text, "  memory:        {}", output::mebibytes(limits.memory_mb));
    let _ = writeln!(text, "  timeout:       {}", output::millis(limits.timeout_ms));
    let _ = writeln!(text, "  concurrency:   {}", limits.concurrency);
    let _ = writeln!(text, "  queue:         {}", limits.queue);
    let _ = writeln!(text, "  idle timeout:  {}", output::millis(limits.idle_timeout_ms));
    match &d.env {
        Env::Names(names) if names.is_empty() => text.push_str("Env:         -\n"),
        Env::Names(names) => {
            let _ = writeln!(
                text,
                "Env:         {} (values hidden; --show-env shows them)",
                output::escape(&names.join(", "))
            );
        }
        Env::Values(values) if values.is_empty() => text.push_str("Env:         -\n"),
        Env::Values(values) => {
            text.push_str("Env:\n");
            for (key, value) in values {
                let _ = writeln!(text, "  {}={}", output::escape(key), output::escape(value));
            }
        }
    }

    text.push_str("Versions (newest first):\n");
    if d.versions.is_empty() {
        text.push_str("  -\n");
    } else {
        let mut table = Table::new(&["", "DIGEST", "SIZE", "CREATED"]);
        for v in &d.versions {
            let current = if d.version.as_ref() == Some(&v.digest) { "*" } else { "" };
            table.row(vec![
                current.into(),
                v.digest.to_string(),
                human_bytes(v.size).to_string(),
                when(v.created_at),
            ]);
        }
        text.push_str(&table.render(2));
    }

    text.push_str("Triggers:\n");
    if d.triggers.is_empty() {
        text.push_str("  -\n");
    } else {
        let mut table = Table::new(&["NAME", "KIND", "ROUTE", "METHODS"]);
        for t in &d.triggers {
            let (route, methods) = match &t.spec {
                TriggerSpec::Http(http) => {
                    let methods = if http.methods.is_empty() {
                        "all".into()
                    } else {
                        http.methods.join(", ")
                    };
                    (output::route_label(http), methods)
                }
                TriggerSpec::Schedule(schedule) => {
                    (format!("{} ({})", schedule.cron, schedule.timezone), "-".into())
                }
                _ => ("-".into(), "-".into()),
            };
            table.row(vec![t.name.to_string(), t.spec.kind().into(), route, methods]);
        }
        text.push_str(&table.render(2));
    }
    for t in &d.triggers {
        if let (TriggerSpec::Schedule(spec), Some(status)) = (&t.spec, &t.schedule) {
            render_schedule(&mut text, &t.name, spec, status);
        }
        if let (TriggerSpec::Kafka(spec), Some(status)) = (&t.spec, &t.status) {
            render_kafka(&mut text, &t.name, spec, status);
        }
    }
    text
}

/// A Kafka consumer's settings and its state on each invoker.
fn render_kafka(text: &mut String, name: &Name, spec: &KafkaTrigger, status: &[TriggerStatus]) {
    let group = spec.group.as_deref().unwrap_or("(derived)");
    let _ = writeln!(
        text,
        "Kafka {name}: topics {} on {}, group {}, reply {}, dead letters {}",
        output::escape(&spec.topics.join(", ")),
        output::escape(&spec.bootstrap_servers),
        output::escape(group),
        output::escape(spec.reply_topic.as_deref().unwrap_or("-")),
        output::escape(spec.dead_letter_topic.as_deref().unwrap_or("-")),
    );
    if status.is_empty() {
        text.push_str("  state: no invoker reports it yet\n");
    }
    for s in status {
        let state = if s.health.healthy {
            "ok".to_owned()
        } else {
            format!("error: {}", output::escape(s.health.reason.as_deref().unwrap_or("unknown")))
        };
        let invoker = output::escape(&s.invoker);
        let _ = writeln!(text, "  state on {invoker}: {state} (since {})", s.health.since);
    }
}

/// A schedule's policy, next fire times and newest runs.
fn render_schedule(
    text: &mut String,
    name: &Name,
    spec: &ScheduleTrigger,
    status: &ScheduleStatus,
) {
    let missed = match spec.missed {
        MissedPolicy::Skip => "skip".to_owned(),
        MissedPolicy::Once => "once".to_owned(),
        MissedPolicy::All => format!("all (up to {})", spec.max_catch_up),
    };
    let _ = writeln!(
        text,
        "Schedule {name}: {} in {}, missed runs: {missed}, attempts: {}",
        spec.cron, spec.timezone, spec.retry.attempts
    );
    let next: Vec<String> = status.next.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        text,
        "  next: {}",
        if next.is_empty() { "never".into() } else { next.join(", ") }
    );
    if status.runs.is_empty() {
        text.push_str("  runs: none yet\n");
        return;
    }
    let mut table =
        Table::new(&["SCHEDULED", "STARTED", "LAG", "DURATION", "OUTCOME", "ATTEMPT", "DETAIL"]);
    for run in status.runs.iter().take(RUNS_SHOWN) {
        let outcome = match run.outcome {
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Missed => "missed",
        };
        table.row(vec![
            run.scheduled.to_string(),
            run.started.map_or("-".into(), |t| t.to_string()),
            if run.started.is_some() { format!("{} ms", run.lag_ms) } else { "-".into() },
            if run.started.is_some() { format!("{} ms", run.duration_ms) } else { "-".into() },
            outcome.into(),
            if run.attempt == 0 { "-".into() } else { run.attempt.to_string() },
            run.error.clone().unwrap_or_default(),
        ]);
    }
    text.push_str(&table.render(2));
}

#[cfg(test)]
mod tests {
    use flint_api::HttpTrigger;

    use super::*;

    fn function() -> Function {
        Function {
            namespace: Name::default_namespace(),
            name: "hello".parse().unwrap(),
            version: Some(Digest::from_sha256(&[0xab; 32])),
            limits: Limits::default(),
            env: BTreeMap::from([("TOKEN".into(), "secret".into())]),
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn trigger(name: &str, function: &str) -> Trigger {
        Trigger {
            namespace: Name::default_namespace(),
            name: name.parse().unwrap(),
            function: function.parse().unwrap(),
            spec: TriggerSpec::Http(HttpTrigger::new("/hello")),
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn env_values_stay_hidden_unless_asked_for() {
        let version = Version {
            digest: Digest::from_sha256(&[0xab; 32]),
            size: 2048,
            created_at: Timestamp::UNIX_EPOCH,
        };
        let triggers = vec![trigger("hello-http", "hello"), trigger("other-http", "other")];
        let d = describe(function(), vec![version], triggers.clone(), false);
        let text = render(&d);
        assert!(text.contains("TOKEN (values hidden"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("hello-http") && !text.contains("other-http"), "{text}");
        assert!(text.contains("*  sha256:abab"), "{text}");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["env"], serde_json::json!(["TOKEN"]));
        assert_eq!(json["triggers"][0]["spec"]["http"]["route"], "/hello");

        let d = describe(function(), vec![], triggers, true);
        assert!(render(&d).contains("TOKEN=secret"));
        assert_eq!(serde_json::to_value(&d).unwrap()["env"]["TOKEN"], "secret");
    }

    #[test]
    fn token_routes_are_marked_and_stored_escapes_are_not_printed_raw() {
        let mut function = function();
        function.env = BTreeMap::from([("EVIL".into(), "\x1b]0;owned\x07".into())]);
        let mut trigger = trigger("hello-http", "hello");
        if let TriggerSpec::Http(http) = &mut trigger.spec {
            http.auth = flint_api::RouteAuth::Token;
        }
        let text = render(&describe(function, vec![], vec![trigger], true));
        assert!(text.contains("  EVIL=\\u{1b}]0;owned\\u{7}\n"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        assert!(text.contains("hello-http  http  /hello (token)  all"), "{text}");
    }
}
