//! What both servers (controller and invoker) need to speak this API: one
//! accept loop with graceful shutdown, JSON and error answers, bounded body
//! reads. Behind the `server` feature so the CLI does not compile it.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ErrorBody;

/// The response type of handlers that answer with a whole body.
pub type FullResponse = Response<Full<Bytes>>;

/// A slow client gets this long to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client gets this long to send a whole request body (a 64 MiB upload
/// needs 1.1 MB/s), so a trickling client cannot hold a connection forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A client gets this long to finish a TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` until `shutdown` is cancelled, then waits
/// for requests in flight to finish.
pub async fn serve<S, B>(listener: TcpListener, service: S, shutdown: CancellationToken)
where
    S: Service<http::Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(listener, service, shutdown, None).await;
}

/// [`serve`], with TLS when `tls` is given (the handshake runs in the
/// connection's task, so a slow one holds up nobody else).
pub async fn serve_with<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: CancellationToken,
    tls: Option<crate::tls::Acceptor>,
) where
    S: Service<http::Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors, usually: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Responses are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        let Some(tls) = &tls else {
            let conn =
                graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
            tokio::spawn(async move {
                if let Err(error) = conn.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            });
            continue;
        };
        let (acceptor, service, watcher) = (tls.0.clone(), service.clone(), graceful.watcher());
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let conn = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
            if let Err(error) = conn.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
}

/// Exit code of a bad configuration (`EX_USAGE`, as linkerd2-proxy uses).
const EX_USAGE: u8 = 64;

/// Marks an error as a configuration mistake: [`run_binary`] exits with 64
/// (`EX_USAGE`) on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A server binary's `main`: runs `run` on a multi-threaded runtime and
/// turns its result into the exit code, printing an error as one line with
/// its causes (exit 64 for a [`Usage`] error, 1 for any other).
pub fn run_binary(run: impl Future<Output = anyhow::Result<()>>) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let usage = error.downcast_ref::<Usage>().is_some();
            std::process::ExitCode::from(if usage { EX_USAGE } else { 1 })
        }
    }
}

/// The TLS settings of a `--tls-cert`/`--tls-key` pair: `None` when
/// neither is given, a [`Usage`] error naming the flags when only one is or
/// the files do not hold a matching certificate and key.
pub fn tls_flags(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<Option<crate::tls::Acceptor>, Usage> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => crate::tls::Acceptor::from_pem(cert, key)
            .map(Some)
            .map_err(|e| Usage(format!("--tls-cert/--tls-key: {}", crate::ErrorChain(&e)))),
        _ => Err(Usage("--tls-cert and --tls-key go together".into())),
    }
}

/// Logs to stderr, in color only on a terminal. `RUST_LOG` overrides the
/// default: Flint's crates at info, the rest at warn.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,flint_controller=info,flint_invoker=info")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on SIGTERM (how Kubernetes asks a pod to stop) or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> FullResponse {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, "application/json", body.into()),
        Err(e) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the answer: {e}"))
        }
    }
}

/// An error answer: `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> FullResponse {
    let body = ErrorBody { error: message.into() };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    with_type(status, "application/json", bytes.into())
}

/// The metrics in `registry`, in the Prometheus text format.
pub fn metrics(registry: &prometheus::Registry) -> FullResponse {
    use prometheus::Encoder;
    let mut out = Vec::new();
    match prometheus::TextEncoder::new().encode(&registry.gather(), &mut out) {
        Ok(()) => with_type(StatusCode::OK, "text/plain; version=0.0.4", out.into()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {e}")),
    }
}

/// An empty `204 No Content`.
pub fn no_content() -> FullResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A body with a content type.
pub fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> FullResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Reads a whole request body of at most `limit` bytes. Too large gives a
/// ready `413` answer; a broken connection a `400`.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, FullResponse> {
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large(limit));
    }
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect());
    match read.await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Ok(Err(e)) => {
            Err(error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}")))
        }
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {}s", BODY_READ_TIMEOUT.as_secs()),
        )),
    }
}

fn too_large(limit: usize) -> FullResponse {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than the limit of {}",
            crate::human_bytes(limit as u64)
        ),
    )
}

/// Reads a whole request body of at most `limit` bytes and parses it as
/// JSON: [`read_body`], then [`parse_json`], with their answers on failure.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    body: Incoming,
    limit: usize,
) -> Result<T, FullResponse> {
    let bytes = read_body(body, limit).await?;
    parse_json(&bytes)
}

/// Parses a JSON request body, answering `400` with serde's message and the
/// path of the field it is about (`spec.schedule.missed: unknown variant …`)
/// when it does not fit `T`.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, FullResponse> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message =
            if path == "." { e.inner().to_string() } else { format!("`{path}`: {}", e.inner()) };
        error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {message}"))
    })
}

/// Reads `key` from a query string (`a=1&b=2`), without percent-decoding:
/// the API's own parameters are plain numbers and words.
pub fn query_param<'q>(query: Option<&'q str>, key: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(query_param(Some("since=4&wait_ms=100"), "wait_ms"), Some("100"));
        assert_eq!(query_param(Some("since"), "since"), Some(""));
        assert_eq!(query_param(None, "since"), None);
        assert_eq!(query_param(Some("a=1"), "b"), None);
    }
}
