//! A typed client for the controller's REST API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::scheduler::{Cursor, Fire, Lease, LeaseRequest, RunReport, ScheduleStatus};
use crate::{
    AuditEntry, BatchAck, Digest, ErrorBody, Function, FunctionSpec, InvokerInfo, InvokerStatus,
    LogEntry, LogPage, Name, Namespace, NewToken, PricePlan, PricePlanSpec, Quotas,
    REVISION_HEADER, Timestamp, TokenInfo, TokenSpec, Trigger, TriggerRequest, TriggerStatus,
    UsageBatch, UsageQuery, UsageReport, Version, WASM_CONTENT_TYPE, Watch, Whoami,
};

/// How long one API call may take before the client gives up. Long polls add
/// their own wait on top.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors from [`Client`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL cannot be used.
    #[error("invalid API URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The controller could not be reached.
    #[error("cannot reach the Flint API at {url}")]
    Connect {
        /// The URL that was called.
        url: String,
        /// The transport error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The controller did not answer in time.
    #[error("the Flint API at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL that was called.
        url: String,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The response body could not be read.
    #[error("reading the response from {url} failed")]
    Body {
        /// The URL that was called.
        url: String,
        /// The transport error.
        #[source]
        source: hyper::Error,
    },
    /// The controller refused the request; `message` is its explanation.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The controller's explanation.
        message: String,
    },
    /// The answer was not what this client expected.
    #[error("unexpected answer from {url}")]
    Decode {
        /// The URL that was called.
        url: String,
        /// Why it could not be decoded.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// The HTTP status, if the controller answered with an error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result of a [`Client`] call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A function's answer to [`Client::invoke`].
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// The status the function (or the invoker, if it failed) answered with.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole response body.
    pub body: Bytes,
}

/// A client for one controller. Cheap to clone; clones share connections
/// and the last revision seen.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    revision: Arc<AtomicU64>,
}

impl Client {
    /// A client for the API at `base_url`, e.g. `http://127.0.0.1:7070`
    /// (or `https://…`, trusting the web's root CAs).
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_ca(base_url, None)
    }

    /// [`Client::new`], also trusting the CA certificates (PEM) in `ca`
    /// for `https://` URLs (a private or self-signed CA).
    pub fn with_ca(base_url: &str, ca: Option<&std::path::Path>) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(invalid("use http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(invalid("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("no query or fragment allowed"));
        }
        let base = url.as_str().trim_end_matches('/').to_owned();
        let tls = crate::tls::client_config(ca).map_err(|e| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason: crate::ErrorChain(&e).to_string(),
        })?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { base, token: None, http, revision: Arc::default() })
    }

    /// Sends `token` as a bearer token with every request.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one request and returns the raw response, whatever its status.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<(String, http::Response<Bytes>)> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder().method(method).uri(&url);
        if let Some(h) = request.headers_mut() {
            *h = headers;
            if let Some(token) = &self.token
                && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
            {
                h.insert(header::AUTHORIZATION, value);
            }
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| Error::InvalidUrl { url: url.clone(), reason: e.to_string() })?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|source| Error::Connect { url: url.clone(), source })?;
            let (parts, body) = response.into_parts();
            if let Some(revision) =
                parts.headers.get(REVISION_HEADER).and_then(|v| v.to_str().ok()?.parse().ok())
            {
                self.revision.fetch_max(revision, Ordering::Relaxed);
            }
            let body = body
                .collect()
                .await
                .map_err(|source| Error::Body { url: url.clone(), source })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(response) => Ok((url, response?)),
            Err(_elapsed) => Err(Error::Timeout { url, timeout }),
        }
    }

    /// Sends a request and decodes a JSON answer, turning error statuses into [`Error::Api`].
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&'static str>,
        body: Bytes,
        timeout: Duration,
    ) -> Result<T> {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let (url, response) = self.send(method, path, headers, body, timeout).await?;
        let status = response.status();
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(response.body())
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(response.body()).trim().to_owned());
            return Err(Error::Api { status, message });
        }
        let body = response.body();
        // `()` answers have an empty body (204); decode them from `null`.
        let body: &[u8] = if body.is_empty() { b"null" } else { body };
        serde_json::from_slice(body).map_err(|source| Error::Decode { url, source })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None, Bytes::new(), REQUEST_TIMEOUT).await
    }

    async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.json(Method::PUT, path, body).await
    }

    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = serde_json::to_vec(body)
            .map_err(|source| Error::Decode { url: path.to_owned(), source })?;
        self.call(method, path, Some("application/json"), body.into(), REQUEST_TIMEOUT).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::DELETE, path, None, Bytes::new(), REQUEST_TIMEOUT).await
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<()> {
        let (_, response) = self
            .send(Method::GET, "/healthz", HeaderMap::new(), Bytes::new(), REQUEST_TIMEOUT)
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Error::Api {
                status: response.status(),
                message: String::from_utf8_lossy(response.body()).into_owned(),
            })
        }
    }

    /// Creates a function or replaces its settings.
    pub async fn put_function(
        &self,
        ns: &Name,
        name: &Name,
        spec: &FunctionSpec,
    ) -> Result<Function> {
        self.put(&format!("/v1/namespaces/{ns}/functions/{name}"), spec).await
    }

    /// One function.
    pub async fn get_function(&self, ns: &Name, name: &Name) -> Result<Function> {
        self.get(&format!("/v1/namespaces/{ns}/functions/{name}")).await
    }

    /// All functions of a namespace, by name.
    pub async fn list_functions(&self, ns: &Name) -> Result<Vec<Function>> {
        self.get(&format!("/v1/namespaces/{ns}/functions")).await
    }

    /// Deletes a function, its versions and its triggers.
    pub async fn delete_function(&self, ns: &Name, name: &Name) -> Result<()> {
        self.delete(&format!("/v1/namespaces/{ns}/functions/{name}")).await
    }

    /// Uploads wasm as a new version and makes it the one that runs.
    pub async fn upload_version(&self, ns: &Name, name: &Name, wasm: Bytes) -> Result<Function> {
        let path = format!("/v1/namespaces/{ns}/functions/{name}/versions");
        self.call(Method::POST, &path, Some(WASM_CONTENT_TYPE), wasm, REQUEST_TIMEOUT).await
    }

    /// The versions of a function, oldest first.
    pub async fn list_versions(&self, ns: &Name, name: &Name) -> Result<Vec<Version>> {
        self.get(&format!("/v1/namespaces/{ns}/functions/{name}/versions")).await
    }

    /// Creates or replaces a trigger.
    pub async fn put_trigger(
        &self,
        ns: &Name,
        name: &Name,
        trigger: &TriggerRequest,
    ) -> Result<Trigger> {
        self.put(&format!("/v1/namespaces/{ns}/triggers/{name}"), trigger).await
    }

    /// All triggers of a namespace, by name.
    pub async fn list_triggers(&self, ns: &Name) -> Result<Vec<Trigger>> {
        self.get(&format!("/v1/namespaces/{ns}/triggers")).await
    }

    /// Deletes a trigger.
    pub async fn delete_trigger(&self, ns: &Name, name: &Name) -> Result<()> {
        self.delete(&format!("/v1/namespaces/{ns}/triggers/{name}")).await
    }

    /// Waits up to `wait` for changes after revision `since`.
    pub async fn watch(&self, since: u64, wait: Duration) -> Result<Watch> {
        let path = format!("/v1/watch?since={since}&wait_ms={}", wait.as_millis());
        self.call(Method::GET, &path, None, Bytes::new(), REQUEST_TIMEOUT + wait).await
    }

    /// The wasm bytes of a version.
    pub async fn blob(&self, digest: &Digest) -> Result<Bytes> {
        let path = format!("/v1/blobs/{digest}");
        let (_, response) =
            self.send(Method::GET, &path, HeaderMap::new(), Bytes::new(), REQUEST_TIMEOUT).await?;
        if response.status().is_success() {
            Ok(response.into_body())
        } else {
            Err(Error::Api {
                status: response.status(),
                message: String::from_utf8_lossy(response.body()).into_owned(),
            })
        }
    }

    /// Invokes a function through the controller, which forwards the request
    /// to a healthy invoker. `path` (starting with `/`, may carry a query) is
    /// the path the function sees. Any status the function answers is `Ok`.
    pub async fn invoke(
        &self,
        ns: &Name,
        name: &Name,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<InvokeResponse> {
        let path = format!("/v1/namespaces/{ns}/functions/{name}/invoke{path}");
        let (_, response) = self.send(method, &path, headers, body, REQUEST_TIMEOUT * 16).await?;
        let (parts, body) = response.into_parts();
        Ok(InvokeResponse { status: parts.status, headers: parts.headers, body })
    }

    /// Log lines of a function after `since`, waiting up to `wait` for new ones.
    pub async fn logs(
        &self,
        ns: &Name,
        name: &Name,
        since: u64,
        wait: Duration,
    ) -> Result<LogPage> {
        let path = format!(
            "/v1/namespaces/{ns}/functions/{name}/logs?since={since}&wait_ms={}",
            wait.as_millis()
        );
        self.call(Method::GET, &path, None, Bytes::new(), REQUEST_TIMEOUT + wait).await
    }

    /// Ships guest log lines (invokers do this).
    pub async fn push_logs(&self, entries: &[LogEntry]) -> Result<()> {
        self.json(Method::POST, "/v1/logs", &entries).await
    }

    /// Registers an invoker or renews its registration (invokers do this).
    pub async fn register_invoker(&self, info: &InvokerInfo) -> Result<()> {
        self.put(&format!("/v1/invokers/{}", info.id), info).await
    }

    /// The invokers that have registered.
    pub async fn list_invokers(&self) -> Result<Vec<InvokerStatus>> {
        self.get("/v1/invokers").await
    }

    /// Usage and cost for a period (`GET /v1/usage`).
    pub async fn usage(&self, query: &UsageQuery) -> Result<UsageReport> {
        self.get(&format!("/v1/usage?{}", query.to_query_string())).await
    }

    /// The same report as CSV (`GET /v1/usage?format=csv`).
    pub async fn usage_csv(&self, query: &UsageQuery) -> Result<String> {
        let path = format!("/v1/usage?{}&format=csv", query.to_query_string());
        let (_, response) =
            self.send(Method::GET, &path, HeaderMap::new(), Bytes::new(), REQUEST_TIMEOUT).await?;
        if !response.status().is_success() {
            let message = serde_json::from_slice::<ErrorBody>(response.body())
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(response.body()).trim().to_owned());
            return Err(Error::Api { status: response.status(), message });
        }
        Ok(String::from_utf8_lossy(response.body()).into_owned())
    }

    /// Ships a batch of usage (invokers do this); the answer carries the price plan.
    pub async fn ship_usage(&self, batch: &UsageBatch) -> Result<BatchAck> {
        self.json(Method::POST, "/v1/usage/batches", batch).await
    }

    /// The price plan in force.
    pub async fn price_plan(&self) -> Result<PricePlan> {
        self.get("/v1/usage/plan").await
    }

    /// Changes the price plan; usage recorded before keeps its old prices.
    pub async fn set_price_plan(&self, spec: &PricePlanSpec) -> Result<PricePlan> {
        self.put("/v1/usage/plan", spec).await
    }

    /// Takes, renews or releases the scheduler lease (invokers do this).
    pub async fn scheduler_lease(&self, request: &LeaseRequest) -> Result<Lease> {
        self.json(Method::POST, "/v1/scheduler/lease", request).await
    }

    /// Records a fire time before running it (the scheduling invoker does this).
    pub async fn record_fire(&self, fire: &Fire) -> Result<()> {
        self.json(Method::POST, "/v1/scheduler/fires", fire).await
    }

    /// Where every schedule trigger stands.
    pub async fn schedule_cursors(&self) -> Result<Vec<Cursor>> {
        self.get("/v1/scheduler/cursors").await
    }

    /// Reports run attempts (the scheduling invoker does this).
    pub async fn report_runs(&self, runs: &[RunReport]) -> Result<()> {
        self.json(Method::POST, "/v1/scheduler/runs", &runs).await
    }

    /// A schedule trigger's last fire time, next fire times and recent runs.
    pub async fn schedule_status(&self, ns: &Name, trigger: &Name) -> Result<ScheduleStatus> {
        self.get(&format!("/v1/namespaces/{ns}/triggers/{trigger}/runs")).await
    }

    /// A trigger's health on each healthy invoker that reports it.
    pub async fn trigger_status(&self, ns: &Name, trigger: &Name) -> Result<Vec<TriggerStatus>> {
        self.get(&format!("/v1/namespaces/{ns}/triggers/{trigger}/status")).await
    }

    /// The caller as the controller sees it (`GET /v1/whoami`).
    pub async fn whoami(&self) -> Result<Whoami> {
        self.get("/v1/whoami").await
    }

    /// Makes a token (admins); the answer holds it, shown this once.
    pub async fn create_token(&self, spec: &TokenSpec) -> Result<NewToken> {
        self.json(Method::POST, "/v1/tokens", spec).await
    }

    /// Every token, without secrets (admins).
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        self.get("/v1/tokens").await
    }

    /// Revokes a token by name (admins).
    pub async fn revoke_token(&self, name: &Name) -> Result<()> {
        self.delete(&format!("/v1/tokens/{name}")).await
    }

    /// The namespaces the caller may see, with their quotas and figures.
    pub async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
        self.get("/v1/namespaces").await
    }

    /// One namespace, with its quotas and figures.
    pub async fn get_namespace(&self, ns: &Name) -> Result<Namespace> {
        self.get(&format!("/v1/namespaces/{ns}")).await
    }

    /// Sets a namespace's quotas (admins).
    pub async fn put_namespace(&self, ns: &Name, quotas: &Quotas) -> Result<Namespace> {
        self.put(&format!("/v1/namespaces/{ns}"), quotas).await
    }

    /// The audit log from `since` (admins), oldest first.
    pub async fn audit(&self, since: Option<Timestamp>) -> Result<Vec<AuditEntry>> {
        match since {
            Some(since) => self.get(&format!("/v1/audit?since={since}")).await,
            None => self.get("/v1/audit").await,
        }
    }

    /// The highest store revision the controller reported to this client:
    /// after a write, the revision that contains it.
    pub fn last_revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Waits until every healthy invoker has applied the changes this client
    /// made, so they can be called. Returns the invokers still behind after
    /// `timeout` (empty when all caught up, or when none is registered).
    pub async fn wait_for_invokers(&self, timeout: Duration) -> Result<Vec<InvokerStatus>> {
        let revision = self.last_revision();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let behind: Vec<InvokerStatus> = self
                .list_invokers()
                .await?
                .into_iter()
                .filter(|i| i.healthy && i.info.revision < revision)
                .collect();
            if behind.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(behind);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            Client::new("http://127.0.0.1:7070/").unwrap().base_url(),
            "http://127.0.0.1:7070"
        );
        assert!(Client::new("https://flint.example").is_ok());
        for bad in ["127.0.0.1:7070", "ftp://x", "http://x/?a=b", "nonsense"] {
            let err = Client::new(bad).err().expect(bad).to_string();
            assert!(err.starts_with("invalid API URL"), "{err}");
        }
    }
}
