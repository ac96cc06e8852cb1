//! `flint token create|ls|revoke`: API tokens, for admins.
//!
//! `create` prints the new token alone on stdout, so
//! `TOKEN=$(flint token create ci --role deployer -n team-a)` captures it,
//! and its details on stderr. The controller keeps only a hash of the
//! secret: the token is shown this once and cannot be listed again.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use flint_api::{Name, NewToken, Role, Scope, Timestamp, TokenInfo, TokenSpec};

use super::{ApiResultExt as _, Global, print_line};
use crate::output::{self, Output, Table};

/// The `flint token` verbs.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, once, on stdout
    Create(CreateArgs),
    /// List the tokens (never their secrets)
    #[command(visible_alias = "list")]
    Ls,
    /// Revoke a token by name: it stops working at once, on every invoker too
    #[command(visible_alias = "rm")]
    Revoke(RevokeArgs),
}

/// Options of `flint token create`.
#[derive(Debug, Args)]
#[command(after_help = "\
Roles: admin (everything), deployer (functions, triggers, logs, usage of its namespaces),
viewer (read only), invoker (only call functions). Namespaces are the -n flags (repeat -n
for several), else `default`; -A gives every namespace, present and future.

The token is printed alone on stdout, the details on stderr:
  TOKEN=$(flint token create ci-team-a --role deployer -n team-a --expires 90d)")]
pub struct CreateArgs {
    /// A unique name for the token, e.g. ci-team-a
    #[arg(value_name = "NAME")]
    pub name: Name,

    /// What the token may do: admin, deployer, viewer or invoker
    #[arg(long, value_name = "ROLE")]
    pub role: Role,

    /// Every namespace, present and future, instead of the -n ones
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// When the token stops working, from now: 30d, 12h, 1y [default: never]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub expires: Option<Duration>,
}

/// Options of `flint token revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token's name
    #[arg(value_name = "NAME")]
    pub name: Name,
}

/// Runs one `flint token` verb.
pub async fn run(command: TokenCommand, global: &Global) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => create(args, global).await,
        TokenCommand::Ls => list(global).await,
        TokenCommand::Revoke(args) => {
            let client = global.client()?;
            client.revoke_token(&args.name).await.api(&client)?;
            print_line(format_args!("revoked {}", args.name))
        }
    }
}

async fn create(args: CreateArgs, global: &Global) -> anyhow::Result<()> {
    let spec = spec(&args, global, Timestamp::now())?;
    let client = global.client()?;
    let created = client.create_token(&spec).await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &created);
    }
    // Details first: once stdout is read, a script may stop listening.
    eprintln!("{}", details(&created));
    print_line(&created.token)
}

/// The request for `args`: `-A`, else the `-n` namespaces, else `default`.
fn spec(args: &CreateArgs, global: &Global, now: Timestamp) -> anyhow::Result<TokenSpec> {
    let namespaces = if args.all_namespaces {
        Scope::All
    } else if global.namespaces.is_empty() {
        Scope::Only(BTreeSet::from([Name::default_namespace()]))
    } else {
        Scope::Only(global.namespaces.iter().cloned().collect())
    };
    let expires_at = match args.expires {
        Some(expires) => {
            let expires =
                jiff::SignedDuration::try_from(expires).context("--expires is too long")?;
            Some(now.checked_add(expires).context("--expires is too far in the future")?)
        }
        None => None,
    };
    let spec = TokenSpec { name: args.name.clone(), role: args.role, namespaces, expires_at };
    spec.validate(now)?;
    Ok(spec)
}

/// What stderr says about a new token (never the token itself).
fn details(created: &NewToken) -> String {
    let info = &created.info;
    format!(
        "created token {} (id {}): role {}, namespaces {}, expires {}\n\
         it is shown only this once; the controller keeps only its hash",
        info.name,
        info.id,
        info.role,
        info.namespaces,
        info.expires_at.map_or_else(|| "never".to_owned(), |t| t.to_string())
    )
}

async fn list(global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let tokens = client.list_tokens().await.api(&client)?;
    if global.output != Output::Table {
        return output::print_structured(global.output, &tokens);
    }
    if tokens.is_empty() {
        eprintln!("no tokens");
        return Ok(());
    }
    table(&tokens, Timestamp::now()).print()
}

fn table(tokens: &[TokenInfo], now: Timestamp) -> Table {
    let mut table = Table::new(&["ID", "NAME", "ROLE", "NAMESPACES", "EXPIRES", "LAST USED"]);
    for token in tokens {
        let expires = match token.expires_at {
            None => "never".to_owned(),
            Some(at) if at <= now => format!("{at} (expired)"),
            Some(at) => at.to_string(),
        };
        table.row(vec![
            token.id.clone(),
            token.name.to_string(),
            token.role.to_string(),
            token.namespaces.to_string(),
            expires,
            token.last_used_at.map_or_else(|| "never".to_owned(), output::ago),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::Cli;
    use crate::commands::Command;

    fn create_args(argv: &[&str]) -> (CreateArgs, Global) {
        let cli = Cli::try_parse_from(["flint", "token", "create"].iter().chain(argv)).unwrap();
        match cli.command {
            Command::Token(TokenCommand::Create(args)) => (args, cli.global),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn namespaces_come_from_the_n_flags_or_all() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let (args, global) = create_args(&["ci", "--role", "deployer", "-n", "b", "-n", "a"]);
        let spec = spec(&args, &global, now).unwrap();
        assert_eq!(spec.role, Role::Deployer);
        assert_eq!(spec.namespaces.to_string(), "a,b");
        assert_eq!(spec.expires_at, None);

        let (args, global) = create_args(&["ci", "--role", "viewer"]);
        assert_eq!(spec_of(&args, &global, now).namespaces.to_string(), "default");
        let (args, global) = create_args(&["ci", "--role", "admin", "-A", "--expires", "30d"]);
        let spec = spec_of(&args, &global, now);
        assert_eq!(spec.namespaces, Scope::All);
        assert_eq!(spec.expires_at, Some("2026-03-31T00:00:00Z".parse().unwrap()));
    }

    fn spec_of(args: &CreateArgs, global: &Global, now: Timestamp) -> TokenSpec {
        spec(args, global, now).unwrap()
    }

    #[test]
    fn bad_roles_and_durations_are_usage_errors() {
        use clap::error::ErrorKind;
        let parse = |argv: &[&str]| {
            Cli::try_parse_from(["flint", "token", "create"].iter().chain(argv)).unwrap_err()
        };
        let err = parse(&["ci", "--role", "cluster"]);
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("use one of admin, deployer, viewer, invoker"), "{err}");
        assert_eq!(
            parse(&["ci", "--role", "admin", "--expires", "soon"]).kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(parse(&["ci"]).kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn the_list_shows_expiry_and_last_use() {
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let token = |name: &str, expires_at: Option<&str>| TokenInfo {
            id: "0123456789abcdef".into(),
            name: name.parse().unwrap(),
            role: Role::Invoker,
            namespaces: Scope::All,
            expires_at: expires_at.map(|t| t.parse().unwrap()),
            created_at: Timestamp::UNIX_EPOCH,
            created_by: "bootstrap".into(),
            last_used_at: None,
        };
        let text =
            table(&[token("a", None), token("b", Some("2026-02-01T00:00:00Z"))], now).render(0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ID                NAME  ROLE     NAMESPACES  EXPIRES                         LAST USED"
        );
        assert_eq!(
            lines[1],
            "0123456789abcdef  a     invoker  *           never                           never"
        );
        assert!(lines[2].contains("2026-02-01T00:00:00Z (expired)"), "{text}");
    }
}
