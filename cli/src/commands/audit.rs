//! `flint audit [--since 1h|TIME]`: the controller's log of mutating API
//! calls (who deployed, deleted, created tokens or changed quotas, and what
//! the answer was), oldest first. Admins only.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flint_api::{AuditEntry, Timestamp};

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output, Table};

/// Options of `flint audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only calls from this long ago (1h, 7d) or since this RFC 3339 time [default: all kept]
    #[arg(long, value_name = "DURATION|TIME", value_parser = parse_since)]
    pub since: Option<Since>,
}

/// Where `--since` starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// This time.
    At(Timestamp),
}

impl Since {
    /// The time it names, counted back from `now`.
    fn at(self, now: Timestamp) -> anyhow::Result<Timestamp> {
        match self {
            Since::At(at) => Ok(at),
            Since::Ago(ago) => {
                let ago = jiff::SignedDuration::try_from(ago).context("--since is too long")?;
                now.checked_sub(ago).context("--since reaches before the epoch")
            }
        }
    }
}

/// A duration (`1h`) or an RFC 3339 time (`2026-03-01T00:00:00Z`).
fn parse_since(s: &str) -> Result<Since, String> {
    if let Ok(at) = s.parse::<Timestamp>() {
        return Ok(Since::At(at));
    }
    humantime::parse_duration(s).map(Since::Ago).map_err(|_| {
        format!("`{s}` is neither a duration (1h, 7d) nor an RFC 3339 time (2026-03-01T00:00:00Z)")
    })
}

/// Prints the audit log.
pub async fn run(args: AuditArgs, global: &Global) -> anyhow::Result<()> {
    let since = args.since.map(|s| s.at(Timestamp::now())).transpose()?;
    let client = global.client()?;
    let entries = client.audit(since).await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &entries);
    }
    if entries.is_empty() {
        eprintln!("no audited calls{}", since.map(|t| format!(" since {t}")).unwrap_or_default());
        return Ok(());
    }
    table(&entries).print()
}

fn table(entries: &[AuditEntry]) -> Table {
    let mut table = Table::new(&["TIME", "TOKEN", "METHOD", "PATH", "NAMESPACE", "STATUS"]);
    for entry in entries {
        // Table cells are escaped: a path is whatever the caller sent.
        table.row(vec![
            entry.time.to_string(),
            entry.token_name.clone(),
            entry.method.clone(),
            entry.path.clone(),
            entry.namespace.as_ref().map_or_else(|| "-".to_owned(), ToString::to_string),
            entry.status.to_string(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_or_a_time() {
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let at = |s: &str| parse_since(s).unwrap().at(now).unwrap().to_string();
        assert_eq!(at("1h"), "2026-03-01T09:00:00Z");
        assert_eq!(at("2d"), "2026-02-27T10:00:00Z");
        assert_eq!(at("2026-02-01T00:00:00Z"), "2026-02-01T00:00:00Z");
        assert!(parse_since("yesterday").unwrap_err().contains("neither a duration"));
    }

    #[test]
    fn entries_are_one_line_each_with_escaped_paths() {
        let entry = AuditEntry {
            seq: 1,
            time: "2026-03-01T10:00:00Z".parse().unwrap(),
            token_id: "0123456789abcdef".into(),
            token_name: "ci".into(),
            method: "PUT".into(),
            path: "/v1/namespaces/team-a/functions/f\x1b[2J".into(),
            namespace: Some("team-a".parse().unwrap()),
            status: 200,
        };
        let text = table(&[entry]).render(0);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "2026-03-01T10:00:00Z  ci     PUT     /v1/namespaces/team-a/functions/f\\u{1b}[2J  team-a     200"
        );
    }
}
