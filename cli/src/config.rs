//! The CLI's own config file: the API tokens `flint login` and `flint up`
//! store, one per server URL, so later commands need no `--token`.
//!
//! ```toml
//! [servers."http://127.0.0.1:7070"]
//! token = "flint_…"
//! ```
//!
//! It lives at `$FLINT_CONFIG`, else `$XDG_CONFIG_HOME/flint/config.toml`,
//! else `$HOME/.config/flint/config.toml` ([`path`]). It holds secrets, so
//! [`Config::save`] writes it with mode 0600 (and creates missing folders
//! with 0700), through a temporary file renamed over the old one so a
//! crash never leaves half a file.
//!
//! Keys this version does not know are kept as they are when the file is
//! rewritten (a newer `flint` may have added them); comments are not. Keys
//! it knows with the wrong type are refused, naming the file and line.
//!
//! A token is found by [`resolve`]: `--token` (or `FLINT_TOKEN`) first, else
//! the entry for the `--url`, compared after [`normalize_url`] so
//! `http://127.0.0.1:7070/` and `http://127.0.0.1:7070` are one server.
//! Everything that reads the environment takes it as a lookup function, so
//! tests pass a map and never change the process's environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

#[cfg(test)]
mod tests;

/// The config file's path, overriding the default.
pub const ENV_CONFIG: &str = "FLINT_CONFIG";
/// The XDG base directory for config files.
pub const ENV_XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// The home folder, for `~/.config` when `XDG_CONFIG_HOME` is not set.
pub const ENV_HOME: &str = "HOME";

/// The table holding one table per server URL.
const SERVERS: &str = "servers";
/// A server's token.
const TOKEN: &str = "token";
/// The first lines of every file `flint` writes.
const HEADER: &str = "# flint's config: API tokens by server URL (written by `flint login` and `flint up`).\n\
# The tokens are secrets: keep this file private (mode 0600).\n\n";

/// The config file's path: `$FLINT_CONFIG`, else
/// `$XDG_CONFIG_HOME/flint/config.toml`, else `$HOME/.config/flint/config.toml`.
/// Empty variables count as unset, and a relative `XDG_CONFIG_HOME` is
/// ignored, as the XDG base directory spec asks.
pub fn path(env: &dyn Fn(&str) -> Option<OsString>) -> anyhow::Result<PathBuf> {
    let var = |name: &str| env(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    if let Some(path) = var(ENV_CONFIG) {
        return Ok(path);
    }
    if let Some(xdg) = var(ENV_XDG_CONFIG_HOME).filter(|dir| dir.is_absolute()) {
        return Ok(xdg.join("flint").join("config.toml"));
    }
    if let Some(home) = var(ENV_HOME) {
        return Ok(home.join(".config").join("flint").join("config.toml"));
    }
    anyhow::bail!(
        "cannot tell where flint's config file is: set {ENV_CONFIG}, {ENV_XDG_CONFIG_HOME} or {ENV_HOME}"
    )
}

/// A server URL as the config file keys it: parsed like `flint_api::Client`
/// parses it (scheme and host lower case, default port dropped) and without
/// a trailing `/`. Text that is not a URL is only trimmed.
pub fn normalize_url(url: &str) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed) => parsed.as_str().trim_end_matches('/').to_owned(),
        Err(_) => url.trim_end_matches('/').to_owned(),
    }
}

/// Where a token came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--token` or `FLINT_TOKEN` (clap does not tell which).
    Flag,
    /// The config file at this path.
    Config(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("--token or FLINT_TOKEN"),
            Source::Config(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A token and where it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The token itself.
    pub secret: String,
    /// Where it came from.
    pub source: Source,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret, not even in a debug print.
        write!(f, "Token(from {})", self.source)
    }
}

/// The token for `url`: `flag` (`--token`/`FLINT_TOKEN`) if given, else the
/// config file's entry for `url`. `None` when neither has one, including
/// when there is no config file or no way to locate it; a config file that
/// exists but cannot be read or parsed is an error.
pub fn resolve(
    flag: Option<&str>,
    url: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> anyhow::Result<Option<Token>> {
    if let Some(flag) = flag.filter(|t| !t.is_empty()) {
        return Ok(Some(Token { secret: flag.to_owned(), source: Source::Flag }));
    }
    // No HOME and no FLINT_CONFIG: there can be no stored token either.
    let Ok(path) = path(env) else { return Ok(None) };
    let config = Config::load(&path)?;
    Ok(config
        .token(url)
        .map(|secret| Token { secret: secret.to_owned(), source: Source::Config(path) }))
}

/// What this version reads of the file; used to check types with line numbers.
#[derive(Deserialize)]
#[expect(
    dead_code,
    reason = "deserialised only to check the types; values are read from the table"
)]
struct Known {
    #[serde(default)]
    servers: BTreeMap<String, KnownServer>,
}

#[derive(Deserialize)]
#[expect(
    dead_code,
    reason = "deserialised only to check the types; values are read from the table"
)]
struct KnownServer {
    #[serde(default)]
    token: Option<String>,
}

/// The config file, loaded: the whole document, so unknown keys survive a save.
#[derive(Clone)]
pub struct Config {
    path: PathBuf,
    doc: toml::Table,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The document holds tokens: show only which servers it has.
        let servers: Vec<&String> = self.servers().map(|s| s.keys().collect()).unwrap_or_default();
        f.debug_struct("Config").field("path", &self.path).field("servers", &servers).finish()
    }
}

impl Config {
    /// Reads the file at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { path: path.to_owned(), doc: toml::Table::new() });
            }
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is where it came from (and where it is saved).
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let one_line = |err: toml::de::Error| {
            let message =
                err.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>();
            let message = message.join(": ");
            match err.span() {
                Some(span) => {
                    let (line, column) = crate::manifest::line_column(text, span.start);
                    anyhow::anyhow!("{}:{line}:{column}: {message}", path.display())
                }
                None => anyhow::anyhow!("{}: {message}", path.display()),
            }
        };
        // Twice: once typed, for errors with a position; once as a table, to keep it all.
        toml::from_str::<Known>(text).map_err(one_line)?;
        let doc = text.parse::<toml::Table>().map_err(one_line)?;
        Ok(Self { path: path.to_owned(), doc })
    }

    /// Where it is read from and saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn servers(&self) -> Option<&toml::Table> {
        self.doc.get(SERVERS).and_then(toml::Value::as_table)
    }

    /// The server URLs that have a token, as written in the file.
    pub fn urls(&self) -> Vec<&str> {
        let Some(servers) = self.servers() else { return Vec::new() };
        servers
            .iter()
            .filter(|(_, server)| server.get(TOKEN).and_then(toml::Value::as_str).is_some())
            .map(|(url, _)| url.as_str())
            .collect()
    }

    /// The token stored for `url` (compared after [`normalize_url`]); an
    /// empty one counts as none.
    pub fn token(&self, url: &str) -> Option<&str> {
        let url = normalize_url(url);
        let servers = self.servers()?;
        // An exact key first, so a file with two spellings of one URL
        // answers with the one `flint` itself wrote.
        let exact = servers.get(&url).into_iter();
        let others = servers.iter().filter(|(key, _)| normalize_url(key) == url).map(|(_, v)| v);
        exact
            .chain(others)
            .filter_map(|server| server.get(TOKEN).and_then(toml::Value::as_str))
            .find(|token| !token.is_empty())
    }

    /// Stores `token` for `url`, under the normalised URL; other spellings
    /// of the same URL are removed so they cannot shadow it. Other keys of
    /// that server's table are kept.
    pub fn set_token(&mut self, url: &str, token: &str) {
        let url = normalize_url(url);
        // `parse` refused a `servers` that is not a table; a new config has none.
        let servers = self.doc.entry(SERVERS).or_insert_with(|| toml::Table::new().into());
        let Some(servers) = servers.as_table_mut() else { return };
        let mut server = toml::Table::new();
        let spellings: Vec<String> =
            servers.keys().filter(|key| normalize_url(key) == url).cloned().collect();
        for key in spellings {
            if let Some(toml::Value::Table(old)) = servers.remove(&key) {
                server.extend(old);
            }
        }
        server.insert(TOKEN.to_owned(), toml::Value::String(token.to_owned()));
        servers.insert(url, toml::Value::Table(server));
    }

    /// The file's text as [`Config::save`] writes it.
    pub fn to_text(&self) -> anyhow::Result<String> {
        let body = toml::to_string(&self.doc).context("encoding the config file")?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Writes the file with mode 0600, creating its folder (mode 0700) if
    /// missing. A temporary file in the same folder is renamed over the old
    /// one, so readers see the old file or the new one, never a mix.
    pub fn save(&self) -> anyhow::Result<()> {
        let text = self.to_text()?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        create_private_dir(dir)?;
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or("config.toml");
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_private(&temporary, text.as_bytes())
            .and_then(|()| std::fs::rename(&temporary, &self.path));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(err).with_context(|| format!("cannot write {}", self.path.display()));
        }
        Ok(())
    }
}

/// Creates `dir` and its missing parents with mode 0700: the folder of a
/// secrets file should not let others list it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes a new file that only its owner may read (0600 from the start, so
/// the secret is never readable by others, not even briefly).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
