//! `flint namespace ls|get|set` (alias `ns`): namespaces as tenants, with
//! their quotas (functions, memory, request rate), monthly budget and
//! reserved routes, and how much of each they use.
//!
//! `set` changes only what its flags name: it reads the namespace's quotas
//! (`GET /v1/namespaces/{ns}`), changes those fields and writes them all
//! back (`PUT`), so `--rate 200/s` does not reset the budget. Setting
//! quotas needs an admin token; reading them, a viewer's.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use flint_api::{BudgetAction, Name, Namespace, Quotas, Rate, Reservation};

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// The `flint namespace` verbs.
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// List the namespaces your token may see, with their use and quotas
    #[command(visible_alias = "list")]
    Ls,
    /// Show one namespace: quotas, functions, memory, month cost, budget used
    Get(GetArgs),
    /// Change a namespace's quotas, budget or reserved routes (admins)
    Set(SetArgs),
}

/// Options of `flint namespace get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The namespace [default: -n, else default]
    #[arg(value_name = "NS")]
    pub namespace: Option<Name>,
}

/// Options of `flint namespace set`: each flag changes one quota; the
/// others keep their values.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  flint ns set team-a --max-functions 20 --max-memory-mb 4096 --rate 200/s
  flint ns set team-a --monthly-budget 25.00 --budget-action block
  flint ns set team-a --reserve-host team-a.example.com
  flint ns set team-a --reserve-prefix /team-a --reserve-prefix /api/team-a
A spent budget with action block makes new invocations answer 402 until the month ends
(UTC) or the budget is raised; alert only reports it.")]
pub struct SetArgs {
    /// The namespace
    #[arg(value_name = "NS")]
    pub namespace: Name,

    /// Most functions
    #[arg(long, value_name = "N", conflicts_with = "clear_max_functions")]
    pub max_functions: Option<u32>,

    /// Most memory across the functions' limits, in MiB
    #[arg(long, value_name = "N", conflicts_with = "clear_max_memory")]
    pub max_memory_mb: Option<u64>,

    /// Most invocations on each invoker: 200/s, 6000/m
    #[arg(long, value_name = "RATE", conflicts_with = "clear_rate")]
    pub rate: Option<Rate>,

    /// Most cost per calendar month (UTC), in the price plan's currency: 25.00
    #[arg(long, value_name = "AMOUNT", conflicts_with = "clear_budget")]
    pub monthly_budget: Option<f64>,

    /// What a spent budget does: block (new invocations get 402) or alert
    #[arg(long, value_name = "ACTION", value_parser = parse_budget_action)]
    pub budget_action: Option<BudgetAction>,

    /// Reserve a path prefix for this namespace (on --reserve-host, else any host); repeat for more
    #[arg(long = "reserve-prefix", value_name = "PREFIX")]
    pub reserve_prefixes: Vec<String>,

    /// Reserve a host: all of it, or the --reserve-prefix paths on it
    #[arg(long, value_name = "HOST")]
    pub reserve_host: Option<String>,

    /// Remove the function limit
    #[arg(long)]
    pub clear_max_functions: bool,

    /// Remove the memory limit
    #[arg(long)]
    pub clear_max_memory: bool,

    /// Remove the rate limit
    #[arg(long)]
    pub clear_rate: bool,

    /// Remove the monthly budget (and unblock the namespace)
    #[arg(long)]
    pub clear_budget: bool,

    /// Remove every reservation (before adding the --reserve-* ones)
    #[arg(long)]
    pub clear_reserved: bool,
}

fn parse_budget_action(s: &str) -> Result<BudgetAction, String> {
    match s {
        "block" => Ok(BudgetAction::Block),
        "alert" => Ok(BudgetAction::Alert),
        _ => Err(format!("`{s}` is not a budget action: use block or alert")),
    }
}

/// Runs one `flint namespace` verb.
pub async fn run(command: NamespaceCommand, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    match command {
        NamespaceCommand::Ls => {
            let namespaces = client.list_namespaces().await.api(&client)?;
            if global.output != Output::Table {
                return output::print_structured(global.output, &namespaces);
            }
            list(&namespaces).print()
        }
        NamespaceCommand::Get(args) => {
            let ns = args.namespace.unwrap_or_else(|| global.namespace());
            let namespace = client.get_namespace(&ns).await.api(&client)?;
            print(&namespace, global.output)
        }
        NamespaceCommand::Set(args) => {
            let current = client.get_namespace(&args.namespace).await.api(&client)?;
            let quotas = change(current.quotas, &args)?;
            let namespace = client
                .put_namespace(&args.namespace, &quotas)
                .await
                .api(&client)
                .with_context(|| format!("cannot set the quotas of `{}`", args.namespace))?;
            print(&namespace, global.output)
        }
    }
}

/// `quotas` with what `args` changes, checked.
fn change(mut quotas: Quotas, args: &SetArgs) -> anyhow::Result<Quotas> {
    let reserves = !args.reserve_prefixes.is_empty() || args.reserve_host.is_some();
    let changes = args.max_functions.is_some()
        || args.max_memory_mb.is_some()
        || args.rate.is_some()
        || args.monthly_budget.is_some()
        || args.budget_action.is_some()
        || reserves
        || args.clear_max_functions
        || args.clear_max_memory
        || args.clear_rate
        || args.clear_budget
        || args.clear_reserved;
    if !changes {
        anyhow::bail!("nothing to change: see `flint namespace set --help` for the quota flags");
    }
    set(&mut quotas.max_functions, args.max_functions, args.clear_max_functions);
    set(&mut quotas.max_memory_mb, args.max_memory_mb, args.clear_max_memory);
    set(&mut quotas.rate, args.rate, args.clear_rate);
    set(&mut quotas.monthly_budget, args.monthly_budget, args.clear_budget);
    if let Some(action) = args.budget_action {
        quotas.budget_action = action;
    }
    if args.clear_reserved {
        quotas.reserved.clear();
    }
    let new: Vec<Reservation> = if args.reserve_prefixes.is_empty() {
        args.reserve_host
            .iter()
            .map(|host| Reservation { host: Some(host.clone()), prefix: "/".into() })
            .collect()
    } else {
        args.reserve_prefixes
            .iter()
            .map(|prefix| Reservation { host: args.reserve_host.clone(), prefix: prefix.clone() })
            .collect()
    };
    for reservation in new {
        if !quotas.reserved.contains(&reservation) {
            quotas.reserved.push(reservation);
        }
    }
    quotas.validate()?;
    Ok(quotas)
}

fn print(namespace: &Namespace, format: Output) -> anyhow::Result<()> {
    if format != Output::Table {
        return output::print_structured(format, namespace);
    }
    std::io::stdout().write_all(describe(namespace).as_bytes()).context("writing to stdout")
}

/// One namespace for people.
fn describe(ns: &Namespace) -> String {
    let q = &ns.quotas;
    let mut text = String::new();
    let of =
        |max: Option<String>| max.map_or_else(|| " (no limit)".to_owned(), |m| format!(" of {m}"));
    let _ = writeln!(text, "Name:        {}", ns.name);
    let _ = writeln!(
        text,
        "Functions:   {}{}",
        ns.functions,
        of(q.max_functions.map(|m| m.to_string()))
    );
    let _ = writeln!(
        text,
        "Memory:      {} MiB{}",
        ns.memory_mb,
        of(q.max_memory_mb.map(|m| format!("{m} MiB")))
    );
    let rate = q.rate.map_or_else(|| "no limit".to_owned(), |r| format!("{r} per invoker"));
    let _ = writeln!(text, "Rate:        {rate}");
    match q.monthly_budget {
        Some(budget) => {
            let _ = writeln!(
                text,
                "Budget:      {} a month, {} when spent",
                money(budget),
                action(q.budget_action)
            );
            let _ = writeln!(
                text,
                "Month cost:  {} ({} of the budget)",
                money(ns.month_cost),
                used(ns.month_cost, budget)
            );
        }
        None => {
            let _ = writeln!(text, "Budget:      none");
            let _ = writeln!(text, "Month cost:  {}", money(ns.month_cost));
        }
    }
    let blocked = if ns.blocked {
        "yes: new invocations get 402 until the month ends or the budget is raised"
    } else {
        "no"
    };
    let _ = writeln!(text, "Blocked:     {blocked}");
    let reserved: Vec<String> = q.reserved.iter().map(|r| output::route(&r.as_route())).collect();
    let _ = writeln!(text, "Reserved:    {}", output::escape(&output::joined(&reserved)));
    text
}

/// The namespaces as a table.
fn list(namespaces: &[Namespace]) -> Table {
    let mut table =
        Table::new(&["NAME", "FUNCTIONS", "MEMORY", "RATE", "MONTH COST", "BUDGET", "STATUS"]);
    for ns in namespaces {
        let q = &ns.quotas;
        let with_max = |used: String, max: Option<String>| match max {
            Some(max) => format!("{used}/{max}"),
            None => used,
        };
        let status = match (ns.blocked, q.monthly_budget) {
            (true, _) => "blocked",
            (false, Some(budget)) if ns.month_cost >= budget => "over budget",
            _ => "ok",
        };
        table.row(vec![
            ns.name.to_string(),
            with_max(ns.functions.to_string(), q.max_functions.map(|m| m.to_string())),
            with_max(ns.memory_mb.to_string(), q.max_memory_mb.map(|m| m.to_string())) + " MiB",
            q.rate.map_or_else(|| "-".to_owned(), |r| r.to_string()),
            money(ns.month_cost),
            q.monthly_budget.map_or_else(
                || "-".to_owned(),
                |b| format!("{} ({})", money(b), used(ns.month_cost, b)),
            ),
            status.to_owned(),
        ]);
    }
    table
}

fn action(action: BudgetAction) -> &'static str {
    match action {
        BudgetAction::Block => "block",
        BudgetAction::Alert => "alert",
    }
}

/// Sets `value` to `new` if given, or clears it.
fn set<T>(value: &mut Option<T>, new: Option<T>, clear: bool) {
    if clear {
        *value = None;
    } else if new.is_some() {
        *value = new;
    }
}

/// How much of `budget` `cost` is: `4.9%`.
fn used(cost: f64, budget: f64) -> String {
    if budget > 0.0 {
        format!("{:.1}%", cost / budget * 100.0)
    } else if cost > 0.0 {
        "all".to_owned()
    } else {
        "0%".to_owned()
    }
}

/// An amount: cents for budgets and most costs, more digits for the tiny
/// costs of a few invocations (which would otherwise read 0.00).
fn money(amount: f64) -> String {
    if amount == 0.0 || amount >= 0.01 { format!("{amount:.2}") } else { format!("{amount:.6}") }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::Cli;
    use crate::commands::Command;

    fn set_args(argv: &[&str]) -> SetArgs {
        let cli = Cli::try_parse_from(["flint", "namespace", "set", "team-a"].iter().chain(argv));
        match cli.unwrap().command {
            Command::Namespace(NamespaceCommand::Set(args)) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    fn current() -> Quotas {
        Quotas {
            max_functions: Some(10),
            rate: Some("100/s".parse().unwrap()),
            monthly_budget: Some(5.0),
            reserved: vec![Reservation { host: None, prefix: "/old".into() }],
            ..Quotas::default()
        }
    }

    #[test]
    fn only_the_flags_given_change() {
        let quotas =
            change(current(), &set_args(&["--rate", "200/s", "--max-memory-mb", "2048"])).unwrap();
        assert_eq!(quotas.rate.unwrap().to_string(), "200/s");
        assert_eq!(quotas.max_memory_mb, Some(2048));
        assert_eq!((quotas.max_functions, quotas.monthly_budget), (Some(10), Some(5.0)));
        assert_eq!(quotas.reserved.len(), 1);

        let args = set_args(&["--clear-budget", "--clear-rate", "--budget-action", "alert"]);
        let quotas = change(current(), &args).unwrap();
        assert_eq!((quotas.monthly_budget, quotas.rate), (None, None));
        assert_eq!(quotas.budget_action, BudgetAction::Alert);
    }

    #[test]
    fn reservations_are_added_once_or_cleared_first() {
        let args = set_args(&[
            "--reserve-prefix",
            "/a",
            "--reserve-prefix",
            "/old",
            "--reserve-host",
            "x.example",
        ]);
        let quotas = change(current(), &args).unwrap();
        let routes: Vec<String> =
            quotas.reserved.iter().map(|r| output::route(&r.as_route())).collect();
        assert_eq!(routes, ["/old", "x.example/a", "x.example/old"]);

        let quotas = change(current(), &set_args(&["--reserve-host", "x.example"])).unwrap();
        assert_eq!(
            quotas.reserved[1],
            Reservation { host: Some("x.example".into()), prefix: "/".into() }
        );
        let quotas = change(quotas.clone(), &set_args(&["--reserve-host", "x.example"])).unwrap();
        assert_eq!(quotas.reserved.len(), 2, "the same reservation is not added twice");

        let quotas =
            change(current(), &set_args(&["--clear-reserved", "--reserve-prefix", "/b"])).unwrap();
        assert_eq!(quotas.reserved, [Reservation { host: None, prefix: "/b".into() }]);
    }

    #[test]
    fn bad_values_are_refused() {
        let err = change(current(), &set_args(&[])).unwrap_err().to_string();
        assert!(err.starts_with("nothing to change"), "{err}");
        let err = change(current(), &set_args(&["--monthly-budget=-1"])).unwrap_err().to_string();
        assert!(err.contains("monthly_budget"), "{err}");
        let err =
            change(current(), &set_args(&["--reserve-prefix", "nope"])).unwrap_err().to_string();
        assert!(err.contains("reserved.prefix"), "{err}");
        let parse = |argv: &[&str]| {
            Cli::try_parse_from(["flint", "ns", "set", "team-a"].iter().chain(argv))
                .unwrap_err()
                .kind()
        };
        use clap::error::ErrorKind;
        assert_eq!(parse(&["--rate", "fast"]), ErrorKind::ValueValidation);
        assert_eq!(parse(&["--budget-action", "pause"]), ErrorKind::ValueValidation);
        assert_eq!(parse(&["--rate", "1/s", "--clear-rate"]), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn figures_read_well() {
        let ns = Namespace {
            name: "team-a".parse().unwrap(),
            quotas: current(),
            functions: 3,
            memory_mb: 384,
            month_cost: 1.25,
            blocked: false,
        };
        let text = describe(&ns);
        assert!(text.contains("Functions:   3 of 10\n"), "{text}");
        assert!(text.contains("Memory:      384 MiB (no limit)\n"), "{text}");
        assert!(text.contains("Rate:        100/s per invoker\n"), "{text}");
        assert!(text.contains("Budget:      5.00 a month, block when spent\n"), "{text}");
        assert!(text.contains("Month cost:  1.25 (25.0% of the budget)\n"), "{text}");
        assert!(
            text.contains("Blocked:     no\n") && text.contains("Reserved:    /old\n"),
            "{text}"
        );
        let table = list(&[Namespace { blocked: true, ..ns }]).render(0);
        assert_eq!(
            table.lines().nth(1).unwrap(),
            "team-a  3/10       384 MiB  100/s  1.25        5.00 (25.0%)  blocked"
        );
        assert_eq!(money(0.000_42), "0.000420");
    }
}
