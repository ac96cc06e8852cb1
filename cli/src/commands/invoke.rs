//! `flint invoke NAME`: calls a function through the API and prints its
//! answer as it is, byte for byte.

use std::io::{IsTerminal as _, Read as _, Write as _};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use flint_api::Name;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{ApiResultExt as _, Global};

/// Options of `flint invoke`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without -d, a body is read from stdin when stdin is not a terminal: `echo hi | flint invoke f`.\n\
A status other than 2xx makes flint exit with 1, after printing the body.")]
pub struct InvokeArgs {
    /// The function to call
    #[arg(value_name = "NAME")]
    pub name: Name,

    /// The request body; @FILE reads it from FILE, @- from stdin
    #[arg(short = 'd', long, value_name = "DATA")]
    pub data: Option<String>,

    /// A request header; repeat for more
    #[arg(short = 'H', long = "header", value_name = "'KEY: VALUE'", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,

    /// The method [default: POST with a body, else GET]
    #[arg(short = 'X', long, value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// The path (and query) the function sees
    #[arg(long, default_value = "/", value_name = "/PATH?QUERY", value_parser = parse_path)]
    pub path: String,

    /// Print the status and the response headers before the body
    #[arg(short = 'i', long)]
    pub include: bool,
}

/// Calls the function and prints its answer.
pub async fn run(args: InvokeArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let namespace = global.namespace();
    let body = body(args.data.as_deref()).await?;
    let method = args.method.unwrap_or(if body.is_empty() { Method::GET } else { Method::POST });
    let mut headers = HeaderMap::new();
    for (name, value) in args.headers {
        headers.append(name, value);
    }
    let name = &args.name;
    let response =
        client.invoke(&namespace, name, method, &args.path, headers, body).await.api(&client)?;

    // An unknown function is the API's 404, not the function's: say it like other verbs do.
    if response.status == http::StatusCode::NOT_FOUND
        && let Err(err) = client.get_function(&namespace, name).await
        && err.status() == Some(http::StatusCode::NOT_FOUND)
    {
        return Err(err.into());
    }

    let mut out = std::io::stdout().lock();
    if args.include {
        let mut head = format!("HTTP/1.1 {}\n", response.status);
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        head.push('\n');
        out.write_all(head.as_bytes()).context("writing to stdout")?;
    }
    out.write_all(&response.body).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    if !response.status.is_success() {
        anyhow::bail!("{name} answered {}", response.status);
    }
    Ok(())
}

/// The body from `-d`, `-d @FILE`, `-d @-`, or stdin when it is not a terminal.
async fn body(data: Option<&str>) -> anyhow::Result<Bytes> {
    match data {
        Some("@-") => read_stdin().await,
        Some(data) => match data.strip_prefix('@') {
            Some(file) => {
                let body =
                    tokio::fs::read(file).await.with_context(|| format!("cannot read {file}"))?;
                Ok(body.into())
            }
            None => Ok(Bytes::copy_from_slice(data.as_bytes())),
        },
        None if !std::io::stdin().is_terminal() => read_stdin().await,
        None => Ok(Bytes::new()),
    }
}

async fn read_stdin() -> anyhow::Result<Bytes> {
    let read = tokio::task::spawn_blocking(|| {
        let mut body = Vec::new();
        std::io::stdin().read_to_end(&mut body).map(|_| body)
    });
    let body = read.await.context("reading stdin")?.context("reading stdin")?;
    Ok(body.into())
}

/// Parses `-H 'Key: value'`.
fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s.split_once(':').ok_or_else(|| format!("`{s}` is not 'KEY: VALUE'"))?;
    let name = HeaderName::try_from(name.trim())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|_| format!("the value of `{name}` holds characters a header cannot"))?;
    Ok((name, value))
}

/// Parses `-X`, upper-casing it: `post` is `POST`.
fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{s}` is not an HTTP method"))
}

/// Checks `--path`: it starts with `/` and is a valid request target.
fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` must start with `/`"));
    }
    s.parse::<http::uri::PathAndQuery>()
        .map_err(|_| format!("`{s}` is not a valid path and query"))?;
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_methods_and_paths() {
        let (name, value) = parse_header("Content-Type:  application/json ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("content-type", "application/json"));
        assert!(parse_header("nocolon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert_eq!(parse_method("PURGE").unwrap().as_str(), "PURGE");
        assert!(parse_method("a b").is_err());
        assert_eq!(parse_path("/a/b?x=1").unwrap(), "/a/b?x=1");
        assert!(parse_path("a").is_err());
        assert!(parse_path("/a b").is_err());
    }

    #[tokio::test]
    async fn bodies() {
        assert_eq!(body(Some("hi")).await.unwrap(), "hi");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(body(Some(&format!("@{}", file.display()))).await.unwrap(), "{}");
        assert!(body(Some("@/does/not/exist")).await.is_err());
    }
}
