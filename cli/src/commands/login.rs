//! `flint login --url URL --token TOKEN`: checks a token against the API
//! (`GET /v1/whoami`) and stores it in the config file for that URL, so
//! later commands against `--url` need no `--token`.
//!
//! `--token -` reads the token from stdin, which keeps it out of the shell
//! history and `ps`. The token is never printed; what is printed is who it
//! is (name, role, namespaces) and where it was stored.

use std::io::{IsTerminal as _, Read as _};

use anyhow::Context as _;
use clap::Args;
use flint_api::Client;

use super::{ApiResultExt as _, Global, process_env};
use crate::config::{self, Config};
use crate::output::{self, Output};

/// Options of `flint login` (the token and the URL are the global `--token`
/// and `--url`).
#[derive(Debug, Args)]
#[command(after_help = "\
The token is the global --token (or FLINT_TOKEN); `--token -` reads it from stdin:
  flint login --url http://flint.example:7070 --token - < token.txt
It is stored in $FLINT_CONFIG, else $XDG_CONFIG_HOME/flint/config.toml, else
~/.config/flint/config.toml (mode 0600), under the URL.")]
pub struct LoginArgs {}

/// Checks the token, stores it and says who it is.
pub async fn run(_args: LoginArgs, global: &Global) -> anyhow::Result<()> {
    let token = match global.token.as_deref() {
        Some("-") => read_stdin()?,
        Some(token) if !token.trim().is_empty() => token.trim().to_owned(),
        _ => anyhow::bail!(
            "flint login needs a token: --token TOKEN, or --token - to read it from stdin"
        ),
    };
    let client =
        Client::with_ca(&global.url, global.ca_cert.as_deref())?.with_token(Some(token.clone()));
    let whoami = client.whoami().await.api(&client).context("the token was not accepted")?;

    let path = config::path(&process_env)?;
    let mut config = Config::load(&path)?;
    config.set_token(client.base_url(), &token);
    config.save()?;

    if global.output != Output::Table {
        return output::print_structured(global.output, &whoami);
    }
    eprintln!("token saved in {} for {}", config.path().display(), client.base_url());
    super::print_line(format_args!(
        "logged in to {} as {} (role {}, namespaces {})",
        client.base_url(),
        output::escape(&whoami.name),
        whoami.role,
        whoami.namespaces
    ))
}

/// The token from stdin: its first line, trimmed. A terminal is refused:
/// it would echo the token as it is typed.
fn read_stdin() -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(
            "--token - reads the token from stdin, which is a terminal: pipe it in (`flint login --token - < file`)"
        );
    }
    let mut text = String::new();
    stdin.read_to_string(&mut text).context("reading the token from stdin")?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        anyhow::bail!("no token on stdin");
    }
    Ok(token)
}
