//! What `-o` chooses between: aligned tables for people, JSON and YAML for
//! scripts, and the small formatting helpers the tables share.
//!
//! Text for people never carries raw control characters from what the API
//! stored (log lines, environment values, error details): a function could
//! otherwise write `\x1b]…` escape sequences that retitle, recolour or
//! rewrite the terminal of whoever reads its logs. [`escape`] writes them as
//! Rust escapes (`\u{1b}`), and [`Table`] escapes every cell. JSON and YAML
//! escape them by their own rules.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context as _;
use flint_api::{HttpTrigger, RouteAuth, Timestamp, TriggerSpec};
use serde::Serialize;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for people
    Table,
    /// JSON
    Json,
    /// YAML
    Yaml,
    /// CSV (`flint usage` only)
    Csv,
}

/// Prints `value` as pretty YAML for [`Output::Yaml`], else as pretty JSON
/// (tables are each verb's own business).
pub fn print_structured<T: Serialize>(format: Output, value: &T) -> anyhow::Result<()> {
    let text = match format {
        Output::Yaml => serde_yaml::to_string(value).context("encoding YAML")?,
        Output::Json | Output::Table | Output::Csv => {
            serde_json::to_string_pretty(value).context("encoding JSON")? + "\n"
        }
    };
    io::stdout().write_all(text.as_bytes()).context("writing to stdout")
}

/// A table: a header row and rows of cells, printed in columns two spaces
/// apart, like `kubectl get`.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self { rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()] }
    }

    /// A table without a header row.
    pub fn plain() -> Self {
        Self { rows: Vec::new() }
    }

    /// Adds a row; it should have as many cells as there are headers.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, every line indented by `indent` spaces. Cells are
    /// [`escape`]d: a tab or line break in one would break the columns, and
    /// other control characters the terminal.
    pub fn render(&self, indent: usize) -> String {
        let rows: Vec<Vec<Cow<'_, str>>> =
            self.rows.iter().map(|row| row.iter().map(|cell| escape(cell)).collect()).collect();
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)
            })
            .collect();
        let mut text = String::new();
        for row in &rows {
            let mut line = " ".repeat(indent);
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Prints the table to stdout.
    pub fn print(&self) -> anyhow::Result<()> {
        io::stdout().write_all(self.render(0).as_bytes()).context("writing to stdout")
    }
}

/// A route as people read it: `/hello`, or `example.com/hello` with a host.
pub fn route(http: &HttpTrigger) -> String {
    match &http.host {
        Some(host) => format!("{host}{}", http.route),
        None => http.route.clone(),
    }
}

/// A route with who may call it, for tables: `/hello`, or `/hello (token)`
/// when callers must present a token.
pub fn route_label(http: &HttpTrigger) -> String {
    match http.auth {
        RouteAuth::Token => format!("{} (token)", route(http)),
        _ => route(http),
    }
}

/// The HTTP triggers among `specs`. Other trigger kinds have no route.
pub fn http_triggers<'a>(
    specs: impl IntoIterator<Item = &'a TriggerSpec>,
) -> impl Iterator<Item = &'a HttpTrigger> {
    specs.into_iter().filter_map(|spec| match spec {
        TriggerSpec::Http(http) => Some(http),
        _ => None,
    })
}

/// `text` with each control character (and each Unicode bidirectional
/// override, which can reorder what a terminal shows) written as a Rust
/// escape: `\u{1b}`, `\n`, `\t`. Borrowed when there is none, which is
/// almost always.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_unless(text, |_| false)
}

/// [`escape`], but keeping line breaks and tabs: for multi-line text such as
/// error chains and log lines, where they are the text's own layout.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape_unless(text, |c| c == '\n' || c == '\t')
}

fn escape_unless(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() || is_bidi_control(c)) && !keep(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// The bidirectional formatting characters (the "Trojan Source" set,
/// CVE-2021-42574): they make a terminal show text in another order than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A list of strings joined with `, `, or `-` when it is empty.
pub fn joined(items: &[String]) -> String {
    if items.is_empty() { "-".to_owned() } else { items.join(", ") }
}

/// A memory limit: `128 MiB`, `4096 MiB`.
pub fn mebibytes(mb: u32) -> String {
    format!("{mb} MiB")
}

/// Milliseconds as people write durations: `30s`, `1m`, `1m 30s`, `250ms`.
pub fn millis(ms: u64) -> String {
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// How long ago `time` was, in one coarse unit: `12s ago`, `5m ago`, `3d ago`.
pub fn ago(time: Timestamp) -> String {
    let seconds = Timestamp::now().as_second().saturating_sub(time.as_second()).max(0);
    let (value, unit) = match seconds {
        s if s < 60 => (s, "s"),
        s if s < 3600 => (s / 60, "m"),
        s if s < 86_400 => (s / 3600, "h"),
        s => (s / 86_400, "d"),
    };
    format!("{value}{unit} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_leave_the_last_column_unpadded() {
        let mut table = Table::new(&["NAME", "VERSION", "ROUTES"]);
        table.row(vec!["hello".into(), "abc".into(), "/hello".into()]);
        table.row(vec!["a".into(), "-".into(), "-".into()]);
        assert_eq!(
            table.render(0),
            "NAME   VERSION  ROUTES\nhello  abc      /hello\na      -        -\n"
        );
    }

    #[test]
    fn durations_and_routes_read_well() {
        assert_eq!(millis(30_000), "30s");
        assert_eq!(millis(90_000), "1m 30s");
        assert_eq!(millis(250), "250ms");
        let mut http = HttpTrigger::new("/x");
        assert_eq!(route(&http), "/x");
        http.host = Some("example.com".into());
        assert_eq!(route(&http), "example.com/x");
        assert_eq!(route_label(&http), "example.com/x");
        http.auth = RouteAuth::Token;
        assert_eq!(route_label(&http), "example.com/x (token)");
        assert_eq!(joined(&[]), "-");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape("plain text, ünïcode"), Cow::Borrowed(_)));
        assert_eq!(escape("\x1b]0;pwned\x07red"), "\\u{1b}]0;pwned\\u{7}red");
        assert_eq!(escape("a\tb\nc\rd"), "a\\tb\\nc\\rd");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_text("one\ttwo\nthree\x1b[2J"), "one\ttwo\nthree\\u{1b}[2J");

        // Every cell of a table, and the columns line up after escaping.
        let mut table = Table::new(&["NAME", "DETAIL"]);
        table.row(vec!["a\x1b".into(), "x\ny".into()]);
        table.row(vec!["bbbbbbb".into(), "-".into()]);
        assert_eq!(table.render(0), "NAME     DETAIL\na\\u{1b}  x\\ny\nbbbbbbb  -\n");
    }
}
