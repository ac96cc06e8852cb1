//! `flint logs NAME`: what a function wrote to stdout and stderr, and with
//! `--follow` what it writes next, by long-polling the API.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flint_api::{LogLine, Name, Stream};

use super::{ApiResultExt as _, Global};
use crate::output::Output;

/// How long one long poll waits for new lines. The client adds its own
/// timeout on top, so this only bounds how often an idle follow asks.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);

/// Options of `flint logs`.
#[derive(Debug, Args)]
#[command(after_help = "With -o json, prints one JSON object per line (seq, time, stream, line).")]
pub struct LogsArgs {
    /// The function
    #[arg(value_name = "NAME")]
    pub name: Name,

    /// Keep printing new lines until interrupted
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Print each line as `TIME STREAM text`
    #[arg(long)]
    pub timestamps: bool,
}

/// Prints the log, then follows it if asked.
pub async fn run(args: LogsArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let follow = async {
        let mut since = 0;
        loop {
            let wait = if args.follow { FOLLOW_WAIT } else { Duration::ZERO };
            let page = client.logs(&namespace, &args.name, since, wait).await.api(&client)?;
            print(&page.lines, global.output, args.timestamps)?;
            let done = page.next == since || page.lines.is_empty();
            since = page.next;
            if done && !args.follow {
                return Ok(());
            }
        }
    };
    tokio::select! {
        result = follow => result,
        // ctrl-c ends a follow; that is how it is meant to stop.
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn print(lines: &[LogLine], format: Output, timestamps: bool) -> anyhow::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for line in lines {
        match format {
            Output::Table if timestamps => {
                let stream = match line.stream {
                    Stream::Stdout => "stdout",
                    Stream::Stderr => "stderr",
                };
                text.push_str(&format!("{} {stream} {}\n", line.time, line.line));
            }
            Output::Table => {
                text.push_str(&line.line);
                text.push('\n');
            }
            Output::Json | Output::Csv => {
                text.push_str(&serde_json::to_string(line).context("encoding JSON")?);
                text.push('\n');
            }
            // A list item per line: the concatenation stays one YAML list.
            Output::Yaml => {
                text.push_str(&serde_yaml::to_string(&[line]).context("encoding YAML")?)
            }
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("writing to stdout")
}
