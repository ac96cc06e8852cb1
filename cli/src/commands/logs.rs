//! `flint logs NAME`: what a function wrote to stdout and stderr, and with
//! `--follow` what it writes next, by long-polling the API.
//!
//! A function's output is not trusted with the reader's terminal: control
//! characters other than tabs are printed escaped (`\u{1b}`), see
//! [`output::escape_text`]. `-o json` keeps the lines exactly as stored.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flint_api::{LogLine, Name, Stream};

use super::{ApiResultExt as _, Global};
use crate::output::{self, Output};

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
    let text = render(lines, format, timestamps)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("writing to stdout")
}

fn render(lines: &[LogLine], format: Output, timestamps: bool) -> anyhow::Result<String> {
    let mut text = String::new();
    for line in lines {
        match format {
            Output::Table if timestamps => {
                let stream = match line.stream {
                    Stream::Stdout => "stdout",
                    Stream::Stderr => "stderr",
                };
                let escaped = output::escape_text(&line.line);
                text.push_str(&format!("{} {stream} {escaped}\n", line.time));
            }
            Output::Table => {
                text.push_str(&output::escape_text(&line.line));
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
    Ok(text)
}

#[cfg(test)]
mod tests {
    use flint_api::Timestamp;

    use super::*;

    #[test]
    fn control_characters_in_lines_are_escaped_for_the_terminal() {
        let line = |seq, text: &str| LogLine {
            seq,
            time: Timestamp::UNIX_EPOCH,
            stream: Stream::Stdout,
            line: text.into(),
        };
        let lines = [line(1, "\x1b]0;owned\x07\x1b[2Jcleared"), line(2, "a\tb")];
        assert_eq!(
            render(&lines, Output::Table, false).unwrap(),
            "\\u{1b}]0;owned\\u{7}\\u{1b}[2Jcleared\na\tb\n"
        );
        let text = render(&lines, Output::Table, true).unwrap();
        assert!(text.starts_with("1970-01-01T00:00:00Z stdout \\u{1b}]0;owned"), "{text}");
        // JSON escapes by its own rules and keeps the line as stored.
        let json = render(&lines, Output::Json, false).unwrap();
        assert!(json.contains(r#""line":"\u001b]0;owned"#), "{json}");
    }
}
