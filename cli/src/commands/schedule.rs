//! `flint schedule add|ls|rm`: schedules on deployed functions, without a
//! manifest. (A manifest's `[[function.schedule]]` does the same on deploy,
//! and a deploy from a manifest removes schedules it does not declare.)

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use flint_api::scheduler::{RunOutcome, ScheduleStatus};
use flint_api::{
    MissedPolicy, Name, RetryPolicy, ScheduleTrigger, Trigger, TriggerRequest, TriggerSpec,
};
use serde::Serialize;

use super::{ApiResultExt as _, Global};
use crate::manifest::trigger_names;
use crate::output::{self, Output, Table};

/// Options of `flint schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Add a schedule to a deployed function, or replace one of the same name
    Add(AddArgs),
    /// List schedules with their next fire time and last run
    #[command(visible_alias = "list")]
    Ls {
        /// Only the schedules of this function
        #[arg(value_name = "FUNCTION")]
        function: Option<Name>,
    },
    /// Remove a schedule
    #[command(visible_alias = "delete")]
    Rm {
        /// The schedule (trigger) name, as `flint schedule ls` shows it
        #[arg(value_name = "NAME")]
        name: Name,
    },
}

/// Options of `flint schedule add`.
#[derive(Debug, Args)]
struct AddArgs {
    /// The function to call
    #[arg(value_name = "FUNCTION")]
    function: Name,
    /// When: 5 or 6 cron fields, @hourly, @daily, @weekly, @monthly, @yearly or "@every 30s"
    #[arg(long, value_name = "EXPR")]
    cron: String,
    /// IANA time zone the cron expression is read in
    #[arg(long, visible_alias = "tz", default_value = "UTC", value_name = "ZONE")]
    timezone: String,
    /// Name of the schedule [default: FUNCTION-schedule]
    #[arg(long, value_name = "NAME")]
    name: Option<Name>,
    /// Body sent at every firing
    #[arg(long, value_name = "TEXT")]
    payload: Option<String>,
    /// Content type of the payload
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    /// Path the function sees
    #[arg(long, default_value = "/", value_name = "PATH")]
    path: String,
    /// What to do with fire times missed while nothing could run them
    #[arg(long, value_enum, default_value = "skip")]
    missed: Missed,
    /// With --missed all, the most catch-up runs
    #[arg(long, default_value_t = ScheduleTrigger::DEFAULT_MAX_CATCH_UP, value_name = "N")]
    max_catch_up: u32,
    /// Attempts per fire time, the first included
    #[arg(long, default_value_t = RetryPolicy::default().attempts, value_name = "N")]
    attempts: u32,
    /// Wait before the first retry; doubles each time
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    backoff: Duration,
    /// Longest wait between retries
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    max_backoff: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Missed {
    Skip,
    Once,
    All,
}

/// A schedule as `flint schedule ls -o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct Listed {
    name: Name,
    function: Name,
    schedule: ScheduleTrigger,
    status: ScheduleStatus,
}

/// Runs the subcommand.
pub async fn run(args: ScheduleArgs, global: &Global) -> anyhow::Result<()> {
    match args.command {
        ScheduleCommand::Add(add) => run_add(add, global).await,
        ScheduleCommand::Ls { function } => run_ls(function, global).await,
        ScheduleCommand::Rm { name } => run_rm(name, global).await,
    }
}

async fn run_add(args: AddArgs, global: &Global) -> anyhow::Result<()> {
    let spec = ScheduleTrigger {
        cron: args.cron,
        timezone: args.timezone,
        payload: args.payload,
        content_type: args.content_type,
        path: args.path,
        missed: match args.missed {
            Missed::Skip => MissedPolicy::Skip,
            Missed::Once => MissedPolicy::Once,
            Missed::All => MissedPolicy::All,
        },
        max_catch_up: args.max_catch_up,
        retry: RetryPolicy {
            attempts: args.attempts,
            initial_backoff_ms: args.backoff.as_millis() as u64,
            max_backoff_ms: args.max_backoff.as_millis() as u64,
            ..RetryPolicy::default()
        },
    };
    // Checked here first, so a typo never reaches the controller.
    spec.validate()?;
    let name = match args.name {
        Some(name) => name,
        None => trigger_names(&args.function, "schedule", 1)?.remove(0),
    };
    let client = global.client()?;
    let namespace = global.namespace();
    let request =
        TriggerRequest { function: args.function.clone(), spec: TriggerSpec::Schedule(spec) };
    client
        .put_trigger(&namespace, &name, &request)
        .await
        .api(&client)
        .with_context(|| format!("cannot add schedule `{name}` to `{}`", args.function))?;
    let status = client.schedule_status(&namespace, &name).await.api(&client)?;
    let next = status.next.first().map_or("never".to_owned(), ToString::to_string);
    println!("added schedule {name} on {}; next run at {next}", args.function);
    Ok(())
}

async fn run_ls(function: Option<Name>, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let triggers: Vec<Trigger> = client.list_triggers(&namespace).await.api(&client)?;
    let mut listed = Vec::new();
    for trigger in triggers {
        let TriggerSpec::Schedule(schedule) = trigger.spec else { continue };
        if function.as_ref().is_some_and(|f| *f != trigger.function) {
            continue;
        }
        let status = client.schedule_status(&namespace, &trigger.name).await.api(&client)?;
        listed.push(Listed { name: trigger.name, function: trigger.function, schedule, status });
    }
    if global.output != Output::Table {
        return output::print_structured(global.output, &listed);
    }
    let mut table = Table::new(&["NAME", "FUNCTION", "CRON", "TIMEZONE", "NEXT", "LAST RUN"]);
    for l in &listed {
        let last = l.status.runs.first().map_or("-".to_owned(), |run| {
            let outcome = match run.outcome {
                RunOutcome::Ok => "ok",
                RunOutcome::Failed => "failed",
                RunOutcome::Missed => "missed",
            };
            format!("{} {outcome}", output::ago(run.scheduled))
        });
        table.row(vec![
            l.name.to_string(),
            l.function.to_string(),
            l.schedule.cron.clone(),
            l.schedule.timezone.clone(),
            l.status.next.first().map_or("never".into(), ToString::to_string),
            last,
        ]);
    }
    table.print()
}

async fn run_rm(name: Name, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let trigger =
        client.list_triggers(&namespace).await.api(&client)?.into_iter().find(|t| t.name == name);
    match trigger {
        Some(t) if matches!(t.spec, TriggerSpec::Schedule(_)) => {}
        Some(t) => anyhow::bail!("trigger `{name}` is a {} trigger, not a schedule", t.spec.kind()),
        None => anyhow::bail!("schedule `{name}` does not exist in namespace `{namespace}`"),
    }
    client.delete_trigger(&namespace, &name).await.api(&client)?;
    println!("removed schedule {name}");
    Ok(())
}
