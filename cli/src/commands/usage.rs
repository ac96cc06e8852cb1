//! `flint usage [NAME]`: invocations, GB-seconds and cost for a period,
//! per function or over time, from the controller's usage ledger.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flint_api::{GroupBy, Name, Timestamp, UsageFigures, UsageQuery, UsageReport};

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Options of `flint usage`.
#[derive(Debug, Args)]
#[command(after_help = "\
Periods are widened to whole minutes (UTC). Costs are priced with the plan each \
invocation was recorded under; the free tier applies per namespace and month, so \
it is shown only without NAME. -o csv prints the API's CSV.")]
pub struct UsageArgs {
    /// Only this function (of the namespace -n)
    #[arg(value_name = "NAME")]
    pub name: Option<Name>,

    /// The period up to now, e.g. 1h, 24h, 7d [default: 24h]
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION", conflicts_with_all = ["from", "to"])]
    pub since: Option<Duration>,

    /// Start of the period, RFC 3339 (2026-03-01T00:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub from: Option<Timestamp>,

    /// End of the period, RFC 3339 [default: now]
    #[arg(long, value_name = "TIME")]
    pub to: Option<Timestamp>,

    /// Rows per function, trigger, minute, hour or day [default: function; hour with NAME]
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    pub by: Option<GroupBy>,

    /// Every namespace, not just -n's
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

fn parse_group(s: &str) -> Result<GroupBy, String> {
    s.parse().map_err(|e: flint_api::FieldError| e.message)
}

/// Prints the report.
pub async fn run(args: UsageArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let query = query(&args, global, Timestamp::now())?;
    if global.output == Output::Csv {
        let csv = client.usage_csv(&query).await.api(&client)?;
        return std::io::stdout().write_all(csv.as_bytes()).context("writing to stdout");
    }
    let report = client.usage(&query).await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &report);
    }
    std::io::stdout().write_all(table(&report).as_bytes()).context("writing to stdout")
}

fn query(args: &UsageArgs, global: &Global, now: Timestamp) -> anyhow::Result<UsageQuery> {
    let from = match (args.since, args.from) {
        (Some(since), _) => {
            let since = jiff::SignedDuration::try_from(since).context("--since is too long")?;
            Some(now.checked_sub(since).context("--since reaches before the epoch")?)
        }
        (None, from) => from,
    };
    let by = args.by.unwrap_or(if args.name.is_some() { GroupBy::Hour } else { GroupBy::Function });
    Ok(UsageQuery {
        from,
        to: args.to,
        namespace: (!args.all_namespaces).then(|| global.namespace()),
        function: args.name.clone(),
        group_by: vec![by],
    })
}

fn table(report: &UsageReport) -> String {
    let by_time = report.group_by.iter().any(|g| g.seconds().is_some());
    let first = if by_time {
        "START"
    } else if report.group_by.contains(&GroupBy::Trigger) {
        "TRIGGER"
    } else {
        "FUNCTION"
    };
    let mut table = Table::new(&[
        first,
        "INVOCATIONS",
        "ERRORS",
        "REJECTED",
        "COLD",
        "P50",
        "P99",
        "GB-S",
        "COST",
    ]);
    let currency = &report.currency;
    let cells = |label: String, f: &UsageFigures| {
        vec![
            label,
            f.invocations.to_string(),
            f.counts.failed().to_string(),
            f.counts.rejected.to_string(),
            f.cold_starts.to_string(),
            f.p50_ms.map_or_else(|| "-".to_owned(), millis),
            f.p99_ms.map_or_else(|| "-".to_owned(), millis),
            format!("{:.3}", f.gb_seconds),
            money(f.cost, currency),
        ]
    };
    for row in &report.rows {
        let label = match (row.start, &row.namespace, &row.function, &row.trigger) {
            (Some(start), ..) => start.to_string(),
            (None, _, _, Some(trigger)) => trigger.clone(),
            (None, Some(ns), Some(f), _) if ns.as_str() != flint_api::DEFAULT_NAMESPACE => {
                format!("{ns}/{f}")
            }
            (None, _, Some(f), _) => f.to_string(),
            _ => "-".to_owned(),
        };
        table.row(cells(label, &row.figures));
    }
    table.row(cells("TOTAL".to_owned(), &report.totals));
    let mut text = table.render(0);
    text.push_str(&format!("\nperiod {} to {}\n", report.from, report.to));
    for free in &report.free_tier {
        text.push_str(&format!(
            "free tier of `{}`: {} invocations, {:.3} GB-s, -{}\n",
            free.namespace,
            free.requests,
            free.gb_seconds,
            money(free.credit, currency)
        ));
    }
    text.push_str(&format!("cost after free tier: {}\n", money(report.net_cost, currency)));
    for plan in &report.plans {
        text.push_str(&format!(
            "plan {}: {} {currency}/GB-s, {} {currency}/million requests, durations rounded up to {}\n",
            plan.id,
            plan.per_gb_second,
            plan.per_million_requests,
            humantime::format_duration(Duration::from_micros(plan.granularity_us))
        ));
    }
    text
}

fn millis(ms: f64) -> String {
    if ms < 1.0 { format!("{:.0}µs", ms * 1000.0) } else { format!("{ms:.1}ms") }
}

/// Money with enough digits to show per-invocation prices.
fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.6} {currency}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> Global {
        Global {
            url: "http://127.0.0.1:1".into(),
            namespaces: Vec::new(),
            output: Output::Table,
            token: None,
            ca_cert: None,
        }
    }

    #[test]
    fn since_becomes_from_and_name_groups_by_hour() {
        let args = UsageArgs {
            name: Some("hello".parse().unwrap()),
            since: Some(Duration::from_secs(3600)),
            from: None,
            to: None,
            by: None,
            all_namespaces: false,
        };
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let query = query(&args, &global(), now).unwrap();
        assert_eq!(
            query.to_query_string(),
            "from=2026-03-01T09:00:00Z&namespace=default&function=hello&group_by=hour"
        );
    }
}
